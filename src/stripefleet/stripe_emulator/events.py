"""Events: ``GET /v1/events`` and ``GET /v1/events/{id}`` (https://docs.stripe.com/api/events).

Events are made by :meth:`Emulator.emit`. The list is newest first and filters on
``type`` (exact, or a ``prefix.*`` wildcard), ``types[]`` and ``delivery_success``
(true: every endpoint acknowledged it, ``pending_webhooks == 0``; false: some have not).
"""

from __future__ import annotations

import copy

from stripefleet.stripe_emulator.errors import resource_missing
from stripefleet.stripe_emulator.lists import PAGINATION_PARAMS, paginate
from stripefleet.stripe_emulator.runtime import ApiRequest, Emulator
from stripefleet.stripe_emulator.state import Obj


def _type_matches(pattern: str, event_type: str) -> bool:
    if pattern.endswith(".*"):
        return event_type.startswith(pattern[:-1])
    return pattern == event_type


def list_events(emu: Emulator, req: ApiRequest) -> Obj:
    """``GET /v1/events``."""
    p = req.params
    p.allow({*PAGINATION_PARAMS, "type", "types", "delivery_success", "created"})
    wanted = p.string("type")
    types = p.array("types")
    success = p.boolean("delivery_success")
    events = [
        e for e in emu.state.events.values()
        if (wanted is None or _type_matches(wanted, e["type"]))
        and (types is None or any(_type_matches(str(t), e["type"]) for t in types))
        and (success is None or (e["pending_webhooks"] == 0) == success)
    ]
    return paginate(events, p, "/v1/events", "event", copy.deepcopy)


def retrieve_event(emu: Emulator, req: ApiRequest) -> Obj:
    """``GET /v1/events/{id}``.

    Raises:
        StripeError: 404 ``resource_missing``.
    """
    req.params.allow({"expand"})
    event = emu.state.events.get(req.match["id"])
    if event is None:
        raise resource_missing("event", req.match["id"])
    return copy.deepcopy(event)
