"""Idempotent requests (https://docs.stripe.com/api/idempotent_requests).

A POST with an ``Idempotency-Key`` header stores its response for 24 hours (emulator
clock), per secret key. The same key with the same parameters and path answers the
stored response again (with ``Idempotent-Replayed: true``); with other parameters or
another path, a 400 ``idempotency_error``. As at Stripe, only requests that began
executing are stored: a response refused by validation (400) or authentication is not,
so the key can be used again with corrected parameters.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from stripefleet.stripe_emulator.errors import StripeError
from stripefleet.stripe_emulator.forms import flatten
from stripefleet.stripe_emulator.state import EmulatorState, Obj

TTL = 24 * 60 * 60


def fingerprint_request(method: str, path: str, params: dict[str, Any]) -> str:
    """SHA-256 of the method, path and parameters in a canonical order."""
    canonical = json.dumps([method, path, flatten(params)], separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _slot(secret_key: str, idempotency_key: str) -> str:
    return hashlib.sha256(f"{secret_key}:{idempotency_key}".encode()).hexdigest()


def lookup(state: EmulatorState, secret_key: str, idempotency_key: str, fingerprint: str,
           now: int) -> Obj | None:
    """The stored response for this key, if any and still fresh.

    Returns:
        ``{"status": int, "body": dict, "request_id": str, ...}`` or None.

    Raises:
        StripeError: 400 ``idempotency_error`` when the key was used with other
            parameters (Stripe's message).
    """
    slot = _slot(secret_key, idempotency_key)
    record = state.idempotency.get(slot)
    if record is None:
        return None
    if record["created"] + TTL <= now:
        del state.idempotency[slot]
        return None
    if record["fingerprint"] != fingerprint:
        raise StripeError(
            "Keys for idempotent requests can only be used with the same parameters they "
            f"were first used with. Try using a key other than '{idempotency_key}' if you "
            "meant to execute a different request.",
            type="idempotency_error")
    return record


def store(state: EmulatorState, secret_key: str, idempotency_key: str, fingerprint: str,
          now: int, status: int, body: Obj, request_id: str) -> None:
    """Keep a response for replay; expired records are dropped on the way."""
    for slot in [s for s, r in state.idempotency.items() if r["created"] + TTL <= now]:
        del state.idempotency[slot]
    state.idempotency[_slot(secret_key, idempotency_key)] = {
        "fingerprint": fingerprint, "created": now, "status": status, "body": body,
        "request_id": request_id,
    }
