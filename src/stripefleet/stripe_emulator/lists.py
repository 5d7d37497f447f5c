"""Stripe's list objects and cursor pagination (https://docs.stripe.com/api/pagination).

A list answers ``{"object": "list", "data": [...], "has_more": bool, "url": path}``,
newest first; ``limit`` is 1..100 (default 10); ``starting_after`` (an id) gives the
page after that object, ``ending_before`` the page before it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from stripefleet.stripe_emulator.errors import StripeError, resource_missing
from stripefleet.stripe_emulator.forms import Params
from stripefleet.stripe_emulator.state import Obj

PAGINATION_PARAMS = ("limit", "starting_after", "ending_before", "expand")


def list_object(data: list[Obj], url: str, has_more: bool = False) -> Obj:
    """A Stripe list object."""
    return {"object": "list", "data": data, "has_more": has_more, "url": url}


def paginate(objects: Iterable[Obj], params: Params, url: str, object_name: str,
             render: Callable[[Obj], Obj] = lambda o: o, newest_first: bool = True) -> Obj:
    """One page of ``objects`` (given oldest first, as the store keeps them).

    Args:
        objects: every object that passed the caller's filters, in creation order.
        params: the request's parameters (``limit``, ``starting_after``, ``ending_before``).
        url: the list's path (``/v1/checkout/sessions``).
        object_name: for the 404 on an unknown cursor (``checkout.session``).
        render: turns a stored object into what the API shows.
        newest_first: Stripe's order for most lists; line items keep their own order.

    Raises:
        StripeError: 400 ``parameter_invalid_integer`` (limit outside 1..100), 400 when
            both cursors are given, 404 ``resource_missing`` for an unknown cursor.
    """
    limit = params.integer("limit", minimum=1, maximum=100) or 10
    after = params.string("starting_after")
    before = params.string("ending_before")
    if after and before:
        raise StripeError("You may only specify one of these parameters: ending_before, "
                          "starting_after.", code="parameters_exclusive", param="ending_before")
    items = list(objects)
    if newest_first:
        items.reverse()
    ids = [o["id"] for o in items]
    if after is not None:
        if after not in ids:
            raise resource_missing(object_name, after, "starting_after")
        start = ids.index(after) + 1
        page = items[start:start + limit]
        has_more = start + limit < len(items)
    elif before is not None:
        if before not in ids:
            raise resource_missing(object_name, before, "ending_before")
        end = ids.index(before)
        page = items[max(0, end - limit):end]
        has_more = end - limit > 0
    else:
        page = items[:limit]
        has_more = limit < len(items)
    return list_object([render(o) for o in page], url, has_more)


def expand_paths(params: Params) -> list[str]:
    """The ``expand[]`` paths of a request (``["payment_intent", "line_items"]``)."""
    value = params.data.get("expand")
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise StripeError("Invalid array: expand", param="expand")
    return list(value)


def expand(obj: Obj, paths: list[str], resolvers: dict[str, Callable[[Any], Any]]) -> Obj:
    """A copy of ``obj`` with the fields named in ``paths`` replaced by their objects.

    Args:
        obj: the object as rendered.
        paths: requested expansions; only top-level fields are supported.
        resolvers: field name -> function from the stored value (an id, or the object
            itself) to the expanded value.

    Raises:
        StripeError: 400 for a field that cannot be expanded (Stripe's wording).
    """
    out = dict(obj)
    for path in paths:
        field = path.split(".")[0]
        if field not in resolvers:
            raise StripeError(f"This property cannot be expanded ({path}).", param="expand")
        out[field] = resolvers[field](out.get(field))
    return out
