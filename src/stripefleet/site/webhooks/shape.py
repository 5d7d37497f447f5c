"""The shape of a verified event: what the handlers read must be of the type they read
(README, "Selling": Webhooks, 400 ``malformed_event``).

A signed event is Stripe's, but a body of the wrong shape (an object where a string is
expected, no ``data.object.id``, a NUL byte that PostgreSQL's text refuses) must not
become a 500, which Stripe would retry for three days. :func:`problem` names what is
wrong, or None. It runs on the general path only: the fast path
(``webhooks.fast``) checks the few fields it uses itself, and :func:`text_problem`, the
one check both paths need, costs a substring search unless the body escapes a
character (``\\u``), which Stripe's events rarely do.
"""

from __future__ import annotations

import re
from typing import Any

#: Characters no stored text may hold: NUL (PostgreSQL's text refuses it) and lone
#: surrogates (the UTF-8 codec refuses them). JSON can carry them only as ``\u``
#: escapes.
FORBIDDEN = re.compile("[\x00\ud800-\udfff]")
#: A Stripe object id or event id: printable ASCII, no space.
OBJECT_ID = re.compile(r"[!-~]{1,255}")
#: The largest integer a BIGINT column holds.
MAX_INT = 2**63 - 1

_STR, _INT, _BOOL, _DICT = (str,), (int,), (bool,), (dict,)
#: The fields each family of events reads from ``data.object``, and their types (None
#: is always allowed but for ``id``).
FIELDS: dict[str, dict[str, tuple[type, ...]]] = {
    "checkout.session.": {"metadata": _DICT, "payment_intent": _STR, "payment_status": _STR,
                          "amount_total": _INT, "currency": _STR},
    "payment_intent.": {"metadata": _DICT, "amount": _INT, "amount_received": _INT,
                        "currency": _STR, "last_payment_error": _DICT},
    "charge.": {"metadata": _DICT, "payment_intent": _STR, "refunded": _BOOL,
                "amount": _INT, "amount_refunded": _INT, "currency": _STR},
}


def usable_id(event: Any) -> str | None:
    """The event's id when it can key the inbox (a string of printable ASCII, at most
    255 characters), else None."""
    if not isinstance(event, dict):
        return None
    event_id = event.get("id")
    return event_id if isinstance(event_id, str) and OBJECT_ID.fullmatch(event_id) else None


def text_problem(event: dict[str, Any], payload: str) -> str | None:
    """A string of the event (or a key) holding a NUL or a lone surrogate, named; None
    when there is none. Only walks the event when ``payload`` holds a ``\\u`` escape."""
    if "\\u" not in payload:
        return None
    stack: list[Any] = [event]
    while stack:
        value = stack.pop()
        if isinstance(value, str):
            if FORBIDDEN.search(value):
                return "a string holds a NUL or a lone surrogate"
        elif isinstance(value, dict):
            stack.extend(value.keys())
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return None


def problem(event: dict[str, Any]) -> str | None:
    """What is wrong with the shape of a verified event (its id already checked), or
    None: ``type`` a string, ``data.object`` an object, and for the events the site
    handles, ``data.object.id`` an id and each field in ``FIELDS`` of its type (integers
    from 0 to ``MAX_INT``)."""
    kind = event.get("type")
    if not isinstance(kind, str) or len(kind) > 100:
        return "type is not an event type"
    data = event.get("data")
    if not isinstance(data, dict) or not isinstance(data.get("object"), dict):
        return "data.object is not an object"
    obj = data["object"]
    family = next((prefix for prefix in FIELDS if kind.startswith(prefix)), None)
    if family is None:
        return None
    object_id = obj.get("id")
    if not isinstance(object_id, str) or not OBJECT_ID.fullmatch(object_id):
        return "data.object.id is not an id"
    for name, types in FIELDS[family].items():
        value = obj.get(name)
        if value is None:
            continue
        if types is _INT:
            wrong = type(value) is not int or not 0 <= value <= MAX_INT
        elif name == "payment_intent":  # stored: an id
            wrong = not isinstance(value, str) or not OBJECT_ID.fullmatch(value)
        else:
            wrong = not isinstance(value, types)
        if wrong:
            return f"data.object.{name} is not of the expected type"
    metadata = obj.get("metadata") or {}
    if any(not isinstance(v, str) for v in metadata.values()):
        return "data.object.metadata holds a value that is not a string"
    return None
