"""The running emulator: its settings, store, clock, keys, and the one way to emit events.

Resource modules receive an :class:`Emulator` and an :class:`ApiRequest`; they change
``emulator.state`` and call :meth:`Emulator.emit` for each event, which records the
event and hands it to the webhook deliverer (off the request path).
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from stripefleet.stripe_emulator.clock import Clock
from stripefleet.stripe_emulator.config import API_VERSION, EmulatorConfig
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

    def emit(self, event_type: str, obj: Obj, request: ApiRequest | None = None,
             previous_attributes: dict[str, Any] | None = None) -> Obj:
        """Record an event about ``obj`` and queue its delivery to matching endpoints.

        Args:
            event_type: Stripe's event type (``checkout.session.completed``, ...).
            obj: the object as it is now (copied into ``data.object``).
            request: the API request that caused it, or None (pay page, expiry sweep).
            previous_attributes: changed fields' old values, for ``*.updated`` events.

        Returns:
            The ``event`` object (Stripe's shape, https://docs.stripe.com/api/events/object).
        """
        endpoints = self.matching_endpoints(event_type)
        data: dict[str, Any] = {"object": copy.deepcopy(obj)}
        if previous_attributes:
            data["previous_attributes"] = previous_attributes
        event: Obj = {
            "id": new_id("evt_"),
            "object": "event",
            "api_version": API_VERSION,
            "created": self.now(),
            "data": data,
            "livemode": bool(obj.get("livemode", False)),
            "pending_webhooks": len(endpoints),
            "request": {
                "id": request.request_id if request and request.key else None,
                "idempotency_key": request.idempotency_key if request and request.key else None,
            },
            "type": event_type,
        }
        self.state.events[event["id"]] = event
        self.state.pending[event["id"]] = [e["id"] for e in endpoints]
        self.dirty = True
        log.info("event %s %s for %d endpoint(s)", event["id"], event_type, len(endpoints))
        if endpoints and self.enqueue is not None:
            self.enqueue(event, endpoints, False)
        return event

    def matching_endpoints(self, event_type: str) -> list[Obj]:
        """Enabled webhook endpoints whose ``enabled_events`` hold the type or ``*``."""
        return [
            endpoint for endpoint in self.state.webhook_endpoints.values()
            if endpoint["status"] == "enabled"
            and ("*" in endpoint["enabled_events"] or event_type in endpoint["enabled_events"])
        ]

