"""The emulator's store: every object it holds, in memory, optionally saved to a file.

Objects are kept as the JSON dicts the API answers with (Stripe's shapes), keyed by id
in creation order. With ``--state-file`` the whole store is written atomically (mode
0600, it holds webhook signing secrets) at most every ``save_interval`` seconds (0.2)
after a change, and at shutdown; at start it is read back, so a restart keeps sessions,
events, endpoints, deliveries, idempotency records and the clock's offset. Deliveries
still waiting (a retry, or a first attempt) when the process stopped are queued again
at start (``webhooks.Deliverer``); a process killed with SIGKILL loses the changes of
its last ``save_interval``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from stripefleet.stripe_emulator.fileio import read_json, write_json_atomic
from stripefleet.stripe_emulator.ids import new_id

#: Version of the state file's layout; a file of another version is refused.
STATE_FORMAT = 1

Obj = dict[str, Any]


@dataclass
class EmulatorState:
    """All objects, by kind then id (dicts keep creation order).

    Attributes:
        account_id: the ``acct_...`` id an emulator without accounts in its keys file
            gave its one account; the default account keeps it (``keystore.py``).
        clock_offset: seconds the control API moved the clock forward.
        checkout_sessions, payment_intents, charges, refunds, webhook_endpoints,
        events: Stripe objects by id (endpoints include their ``secret``).
        line_items: a Checkout Session's ``item`` objects, by session id.
        session_pi_data: a session's ``payment_intent_data`` (metadata, description,
            receipt_email), applied to the PaymentIntent created when it is paid.
        pending: by event id, the endpoints that have not yet acknowledged it
            (its ``pending_webhooks`` is the length).
        deliveries: every webhook delivery attempt, oldest first.
        idempotency: stored responses by a hash of the secret key and the
            ``Idempotency-Key``.
        owners: the ``acct_...`` id of the account each object belongs to, by object
            id (an object missing here belongs to the default account).
    """

    account_id: str = field(default_factory=lambda: new_id("acct_", 16))
    clock_offset: int = 0
    checkout_sessions: dict[str, Obj] = field(default_factory=dict)
    line_items: dict[str, list[Obj]] = field(default_factory=dict)
    session_pi_data: dict[str, Obj] = field(default_factory=dict)
    payment_intents: dict[str, Obj] = field(default_factory=dict)
    charges: dict[str, Obj] = field(default_factory=dict)
    refunds: dict[str, Obj] = field(default_factory=dict)
    webhook_endpoints: dict[str, Obj] = field(default_factory=dict)
    events: dict[str, Obj] = field(default_factory=dict)
    pending: dict[str, list[str]] = field(default_factory=dict)
    deliveries: list[Obj] = field(default_factory=list)
    idempotency: dict[str, Obj] = field(default_factory=dict)
    owners: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The whole store as one JSON-ready dict (with ``format``)."""
        data: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self)}
        data["format"] = STATE_FORMAT
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> EmulatorState:
        """Rebuild a store from :meth:`to_json`'s output.

        Raises:
            ValueError: the format is not :data:`STATE_FORMAT`.
        """
        if data.get("format") != STATE_FORMAT:
            raise ValueError(f"unsupported state file format {data.get('format')!r}")
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


class StateFile:
    """Where the store is saved, or nowhere (``path`` None: memory only).

    Args:
        path: the ``--state-file`` path, or None.
    """

    def __init__(self, path: Path | None) -> None:
        self.path = path

    def load(self) -> EmulatorState:
        """The saved store, or an empty one when there is no file yet.

        Raises:
            ValueError: the file is not a state file of this version.
        """
        if self.path is None or not self.path.exists():
            return EmulatorState()
        data = read_json(self.path)
        if not isinstance(data, dict):
            raise ValueError(f"{self.path} is not a stripe emulator state file")
        try:
            return EmulatorState.from_json(data)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{self.path}: {exc}") from exc

    def save(self, state: EmulatorState) -> None:
        """Write the store atomically (0600); nothing in memory-only mode."""
        if self.path is not None:
            write_json_atomic(self.path, state.to_json())
