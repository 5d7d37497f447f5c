"""Events: ``GET /v1/events`` and ``GET /v1/events/{id}`` (https://docs.stripe.com/api/events).

Events are made by :meth:`Emulator.emit`; an event belongs to the account and mode of the
object it is about and only that account's keys of that mode see it (README, section
'The Stripe emulator', "Accounts"). The list is newest first and filters on
``type`` (exact, or a ``prefix.*`` wildcard), ``types[]`` and ``delivery_success``
(true: every endpoint acknowledged it, ``pending_webhooks == 0``; false: some have not).
"""

from __future__ import annotations

import copy

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
        if emu.visible(e, req)
        and (wanted is None or _type_matches(wanted, e["type"]))
        and (types is None or any(_type_matches(str(t), e["type"]) for t in types))
        and (success is None or (e["pending_webhooks"] == 0) == success)
    ]
    return paginate(events, p, "/v1/events", "event", copy.deepcopy)


def retrieve_event(emu: Emulator, req: ApiRequest) -> Obj:
    """``GET /v1/events/{id}``.

    Raises:
        StripeError: 404 ``resource_missing`` (also for another account's).
    """
    req.params.allow({"expand"})
    return copy.deepcopy(emu.lookup(emu.state.events, req.match["id"], req, "event"))
