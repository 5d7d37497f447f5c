"""The running emulator: its settings, store, clock, keys, and the one way to emit events.

Resource modules receive an :class:`Emulator` and an :class:`ApiRequest`; they change
``emulator.state`` and call :meth:`Emulator.emit` for each event, which records the
event and hands it to the webhook deliverer (off the request path).

Every object belongs to the account of the key that made it (a PaymentIntent, Charge or
event to the account of the session or object it is about) and to that key's mode, as
at Stripe: a key sees only its own account's objects of its own mode; another's answer
Stripe's 404 ``resource_missing`` (:meth:`Emulator.lookup`), and events go only to that
account's webhook endpoints of that mode (README, section 'The Stripe emulator',
"Accounts").
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from stripefleet.stripe_emulator.clock import Clock
from stripefleet.stripe_emulator.config import API_VERSION, EmulatorConfig
from stripefleet.stripe_emulator.errors import StripeError, resource_missing
from stripefleet.stripe_emulator.forms import Params
from stripefleet.stripe_emulator.ids import new_id
from stripefleet.stripe_emulator.keystore import KeyPair, KeyStore
from stripefleet.stripe_emulator.state import EmulatorState, Obj, StateFile

log = logging.getLogger(__name__)


@dataclass
class ApiRequest:
    """One authenticated API request, as the resource functions see it.

    Attributes:
        params: the decoded parameters (query string for GET/DELETE, form body for POST).
        match: the path's variables (``{"id": "cs_test_..."}``).
        key: the key pair whose secret key authenticated the request (None on the
            control API and the pay page).
        request_id: ``req_...``, also the ``Request-Id`` response header.
        idempotency_key: the ``Idempotency-Key`` header, or None.
        base_url: ``http://host:port`` the request came to (for pay page URLs).
    """

    params: Params
    match: dict[str, str] = field(default_factory=dict)
    key: KeyPair | None = None
    request_id: str = field(default_factory=lambda: new_id("req_", 14))
    idempotency_key: str | None = None
    base_url: str = ""

    @property
    def livemode(self) -> bool:
        """True when a live-mode key made the request."""
        return bool(self.key and self.key.livemode)

    @property
    def account(self) -> str:
        """The ``acct_...`` id of the key's account ("" without a key)."""
        return self.key.account if self.key else ""


#: What the webhook deliverer offers the emulator: ``enqueue(event, endpoints, resend)``.
Enqueue = Callable[[Obj, list[Obj], bool], None]


class Emulator:
    """Everything one emulator process holds.

    Args:
        config: its settings.
        state: the store (loaded from the state file, or empty).
        keys: the key pairs (loaded from the keys file).
        state_file: where to save the store (or nowhere).
    """

    def __init__(self, config: EmulatorConfig, state: EmulatorState, keys: KeyStore,
                 state_file: StateFile) -> None:
        self.config = config
        self.state = state
        self.keys = keys
        self.state_file = state_file
        self.clock = Clock(state.clock_offset)
        self.enqueue: Enqueue | None = None
        self.dirty = False

    def now(self) -> int:
        """The emulator clock's Unix time (seconds)."""
        return self.clock.now()

    def save(self) -> None:
        """Save the store now (a no-op in memory-only mode)."""
        self.state.clock_offset = self.clock.offset
        self.state_file.save(self.state)
        self.dirty = False

    def pay_url(self, base_url: str, session_id: str) -> str:
        """The hosted pay page's URL for a Checkout Session."""
        base = (self.config.public_url or base_url).rstrip("/")
        return f"{base}/pay/{session_id}"

    def owner(self, object_id: str) -> str:
        """The ``acct_...`` id of the account an object belongs to (objects of a state
        file written before accounts existed belong to the default account)."""
        return self.state.owners.get(object_id) or self.keys.default_account.id

    def own(self, obj: Obj, account_id: str) -> None:
        """Record that ``obj`` belongs to ``account_id``."""
        self.state.owners[obj["id"]] = account_id

    def livemode_of(self, obj: Obj) -> bool:
        """The mode ``obj`` lives in: its ``livemode``, or its charge's for a refund
        (Stripe's Refund object has no ``livemode`` field)."""
        if "livemode" in obj:
            return bool(obj["livemode"])
        charge = self.state.charges.get(obj.get("charge") or "")
        return bool(charge and charge["livemode"])

    def visible(self, obj: Obj, req: ApiRequest) -> bool:
        """True when the request's key may see ``obj``: same account, same mode."""
        return (self.owner(obj["id"]) == req.account
                and self.livemode_of(obj) == req.livemode)

    def lookup(self, objects: dict[str, Obj], object_id: str, req: ApiRequest,
               object_name: str, param: str = "id") -> Obj:
        """The object with ``object_id`` if the request's key may see it.

        Raises:
            StripeError: 404 ``resource_missing`` for an unknown id, an object of
                another account, or one of the other mode (then with Stripe's hint:
                "a similar object exists in live mode, but a test mode key was used").
        """
        obj = objects.get(object_id)
        if obj is None or self.owner(object_id) != req.account:
            raise resource_missing(object_name, object_id, param)
        if self.livemode_of(obj) != req.livemode:
            exists, used = ("live", "test") if self.livemode_of(obj) else ("test", "live")
            raise StripeError(
                f"No such {object_name}: '{object_id}'; a similar object exists in "
                f"{exists} mode, but a {used} mode key was used to make this request.",
                status=404, code="resource_missing", param=param)
        return obj

    def emit(self, event_type: str, obj: Obj, request: ApiRequest | None = None,
             previous_attributes: dict[str, Any] | None = None) -> Obj:
        """Record an event about ``obj`` and queue its delivery to matching endpoints.

        The event belongs to ``obj``'s account and mode; only that account's endpoints
        of that mode receive it.

        Args:
            event_type: Stripe's event type (``checkout.session.completed``, ...).
            obj: the object as it is now (copied into ``data.object``).
            request: the API request that caused it, or None (pay page, expiry sweep).
            previous_attributes: changed fields' old values, for ``*.updated`` events.

        Returns:
            The ``event`` object (Stripe's shape, https://docs.stripe.com/api/events/object).
        """
        account = self.owner(obj["id"])
        livemode = self.livemode_of(obj)
        endpoints = self.matching_endpoints(event_type, account, livemode)
        data: dict[str, Any] = {"object": copy.deepcopy(obj)}
        if previous_attributes:
            data["previous_attributes"] = previous_attributes
        event: Obj = {
            "id": new_id("evt_"),
            "object": "event",
            "api_version": API_VERSION,
            "created": self.now(),
            "data": data,
            "livemode": livemode,
            "pending_webhooks": len(endpoints),
            "request": {
                "id": request.request_id if request and request.key else None,
                "idempotency_key": request.idempotency_key if request and request.key else None,
            },
            "type": event_type,
        }
        self.state.events[event["id"]] = event
        self.own(event, account)
        self.state.pending[event["id"]] = [e["id"] for e in endpoints]
        self.dirty = True
        log.info("event %s %s for %d endpoint(s)", event["id"], event_type, len(endpoints))
        if endpoints and self.enqueue is not None:
            self.enqueue(event, endpoints, False)
        return event

    def matching_endpoints(self, event_type: str, account: str, livemode: bool
                           ) -> list[Obj]:
        """The account's enabled webhook endpoints of that mode whose ``enabled_events``
        hold the type or ``*``."""
        return [
            endpoint for endpoint in self.state.webhook_endpoints.values()
            if endpoint["status"] == "enabled"
            and bool(endpoint["livemode"]) == livemode
            and self.owner(endpoint["id"]) == account
            and ("*" in endpoint["enabled_events"] or event_type in endpoint["enabled_events"])
        ]

