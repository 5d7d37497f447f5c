"""Stripe's field list of every object the emulator answers, read from the ``stripe`` SDK.

The SDK's resource classes are generated from Stripe's OpenAPI spec for the API version
the SDK sends (``stripe.api_version``); their annotated attributes are the fields of each
object in that version, with their types (``Optional[...]`` for those that can be null).
This module reads them (from the SDK's source, without importing anything but the
package's location) and writes ``stripe_fields.json`` beside it, which
``test_fields.py`` compares every answer of the emulator with.

What the SDK cannot say, this module adds by hand, each with Stripe's reason:

- ``conditional``: fields Stripe sends only in some answers (an includable field such as
  a Checkout Session's ``line_items``, returned only with ``expand[]``; ``deleted`` only on
  a deleted object; a webhook endpoint's ``secret`` only in the create answer; Connect
  fields of an event or a balance). They are absent otherwise.
- ``nested``: the hashes whose own fields are checked too (structs Stripe always sends
  whole, such as a Charge's ``outcome``); maps such as ``metadata``, ``capabilities`` or
  ``payment_method_options`` hold only what is set and are not checked field by field.
- the list object's ``object`` (the SDK sets it at run time) and the error hash, whose
  fields Stripe sends only when set (https://docs.stripe.com/api/errors).

Regenerate after upgrading the SDK::

    .venv/bin/python -m tests.stripe_emulator.stripe_fields
"""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import stripe

JSON_PATH = Path(__file__).with_name("stripe_fields.json")
SDK_DIR = Path(stripe.__file__).parent

#: object name -> (SDK module path, class, Stripe's reference URL).
OBJECTS: dict[str, tuple[str, str, str]] = {
    "account": ("_account.py", "Account", "https://docs.stripe.com/api/accounts/object"),
    "balance": ("_balance.py", "Balance", "https://docs.stripe.com/api/balance/balance_object"),
    "charge": ("_charge.py", "Charge", "https://docs.stripe.com/api/charges/object"),
    "checkout.session": ("checkout/_session.py", "Session",
                         "https://docs.stripe.com/api/checkout/sessions/object"),
    "event": ("_event.py", "Event", "https://docs.stripe.com/api/events/object"),
    "item": ("_line_item.py", "LineItem",
             "https://docs.stripe.com/api/checkout/sessions/line_items"),
    "payment_intent": ("_payment_intent.py", "PaymentIntent",
                       "https://docs.stripe.com/api/payment_intents/object"),
    "price": ("_price.py", "Price", "https://docs.stripe.com/api/prices/object"),
    "refund": ("_refund.py", "Refund", "https://docs.stripe.com/api/refunds/object"),
    "webhook_endpoint": ("_webhook_endpoint.py", "WebhookEndpoint",
                         "https://docs.stripe.com/api/webhook_endpoints/object"),
    "list": ("_list_object.py", "ListObject", "https://docs.stripe.com/api/pagination"),
    "error": ("_error_object.py", "ErrorObject", "https://docs.stripe.com/api/errors"),
}

_DELETED = "only on a deleted object (the answer of DELETE)"
_INCLUDABLE = "includable: returned only when named in expand[]"

#: Fields Stripe sends only in some answers, by object (see the module's docstring).
CONDITIONAL: dict[str, dict[str, str]] = {
    "account": {
        "deleted": _DELETED,
        "company": "only for business_type company (and accounts a platform controls)",
        "individual": "only for business_type individual (and accounts a platform controls)",
    },
    "balance": {
        "connect_reserved": "Connect platforms only",
        "instant_available": "accounts with Instant Payouts only",
        "issuing": "Issuing users only",
        "refund_and_dispute_prefunding": "accounts with refund and dispute prefunding only",
    },
    "charge": {"refunds": _INCLUDABLE + " (since API version 2022-11-15)"},
    "checkout.session": {"line_items": _INCLUDABLE},
    "event": {
        "account": "Connect events only (the connected account that originates the event)",
        "context": "events about an organization's other accounts only",
    },
    "item": {"discounts": _INCLUDABLE, "taxes": _INCLUDABLE},
    "price": {"deleted": _DELETED, "currency_options": _INCLUDABLE, "tiers": _INCLUDABLE},
    "webhook_endpoint": {"deleted": _DELETED, "secret": "only in the create answer"},
}

#: Hashes checked field by field: dotted paths from the object (``[]``: each element).
NESTED: dict[str, list[str]] = {
    "account": ["business_profile", "settings.dashboard", "tos_acceptance", "requirements",
                "future_requirements"],
    "balance": ["available[]", "pending[]"],
    "charge": ["billing_details", "outcome", "payment_method_details.card", "fraud_details"],
    "checkout.session": ["automatic_tax", "custom_text", "customer_details",
                         "phone_number_collection", "tax_id_collection", "total_details",
                         "adaptive_pricing"],
    "event": ["data", "request"],
    "payment_intent": [],
    "refund": [],
    "item": [],
    "price": [],
    "webhook_endpoint": [],
}

#: Nested fields Stripe sends only in some answers, by object then path.
NESTED_CONDITIONAL: dict[str, dict[str, dict[str, str]]] = {
    "checkout.session": {"total_details": {"breakdown": _INCLUDABLE}},
    "event": {"data": {"previous_attributes": "only on events about a change "
                                              "(charge.refunded, *.updated)"}},
}


def _class_defs(path: str) -> dict[str, ast.ClassDef]:
    """Every class of an SDK module by qualified name (``Charge.Outcome``)."""
    tree = ast.parse((SDK_DIR / path).read_text(encoding="utf-8"))
    found: dict[str, ast.ClassDef] = {}

    def walk(nodes: list[ast.stmt], prefix: str) -> None:
        for node in nodes:
            if isinstance(node, ast.ClassDef):
                name = f"{prefix}{node.name}"
                found[name] = node
                walk(node.body, f"{name}.")

    walk(tree.body, "")
    return found


def _attributes(node: ast.ClassDef) -> dict[str, ast.expr]:
    """A class's annotated attributes (not ``ClassVar``), in source order."""
    out: dict[str, ast.expr] = {}
    for stmt in node.body:
        if (isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name)
                and not ast.unparse(stmt.annotation).startswith("ClassVar")):
            out[stmt.target.id] = stmt.annotation
    return out


def _unquote(node: ast.expr) -> ast.expr:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return ast.parse(node.value, mode="eval").body
    return node


def _subscript(node: ast.expr) -> tuple[str, list[ast.expr]] | None:
    node = _unquote(node)
    if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name):
        inner = node.slice
        args = list(inner.elts) if isinstance(inner, ast.Tuple) else [inner]
        return node.value.id, args
    return None


def type_of(annotation: ast.expr) -> str:
    """Stripe's type of a field from its SDK annotation.

    Returns:
        ``integer``, ``string``, ``boolean``, ``number``, ``array``, ``hash`` or
        ``expandable`` (an id, or the object when expanded), with ``|null`` when the
        SDK types it ``Optional``.
    """
    sub = _subscript(annotation)
    if sub is not None and sub[0] == "Optional":
        return type_of(sub[1][0]) + "|null"
    node = _unquote(annotation)
    if sub is not None:
        name, args = sub
        if name == "List":
            return "array"
        if name == "ExpandableField":
            return "expandable"
        if name == "Literal":
            values = [a.value for a in args if isinstance(a, ast.Constant)]
            return "boolean" if all(isinstance(v, bool) for v in values) else "string"
        if name == "Union":
            kinds = {type_of(a) for a in args}
            return kinds.pop() if len(kinds) == 1 else "hash"
        return "hash"  # ListObject[...], UntypedStripeObject[...], Dict[...]
    if isinstance(node, ast.Name):
        return {"int": "integer", "str": "string", "bool": "boolean", "float": "number",
                "Decimal": "string", "Any": "any"}.get(node.id, "hash")
    return "hash"  # a nested class (``Outcome``) or another resource (``'Price'``)


def _nested_class(annotation: ast.expr) -> str | None:
    """The class name a hash (or array of hashes) field holds, when it is one."""
    sub = _subscript(annotation)
    if sub is not None:
        if sub[0] in ("Optional", "List"):
            return _nested_class(sub[1][0])
        return None
    node = _unquote(annotation)
    return node.id if isinstance(node, ast.Name) else None


def _fields(node: ast.ClassDef) -> dict[str, str]:
    return {name: type_of(ann) for name, ann in sorted(_attributes(node).items())}


def _resolve(classes: dict[str, ast.ClassDef], owner: str, path: str) -> str:
    """The qualified class at ``path`` (``payment_method_details.card``) from ``owner``."""
    current = owner
    for segment in path.replace("[]", "").split("."):
        annotation = _attributes(classes[current])[segment]
        name = _nested_class(annotation)
        if name is None:
            raise ValueError(f"{owner}.{path}: {segment} is not a nested hash")
        scope = current
        while f"{scope}.{name}" not in classes:
            if "." not in scope:
                raise ValueError(f"{owner}.{path}: class {name} not found")
            scope = scope.rsplit(".", 1)[0]
        current = f"{scope}.{name}"
    return current


def generate() -> dict[str, Any]:
    """The field lists, as ``stripe_fields.json`` holds them."""
    objects: dict[str, Any] = {}
    for name, (module, cls, url) in OBJECTS.items():
        classes = _class_defs(module)
        fields = _fields(classes[cls])
        entry: dict[str, Any] = {
            "sdk_class": f"{module}:{cls}",
            "reference": url,
            "fields": fields,
            "conditional": CONDITIONAL.get(name, {}),
            "nested": {},
        }
        if name == "list":
            entry["fields"] = {"object": "string", **fields}
        if name == "error":
            entry["conditional"] = {f: "sent only when set" for f in fields
                                    if f not in ("type", "message")}
        for path in NESTED.get(name, []):
            nested_fields = _fields(classes[_resolve(classes, cls, path)])
            entry["nested"][path] = {
                "fields": nested_fields,
                "conditional": NESTED_CONDITIONAL.get(name, {}).get(path, {}),
            }
        unknown = set(entry["conditional"]) - set(entry["fields"])
        if unknown:
            raise ValueError(f"{name}: conditional fields not in the SDK: {sorted(unknown)}")
        objects[name] = entry
    objects["deleted_webhook_endpoint"] = {
        "sdk_class": "_webhook_endpoint.py:WebhookEndpoint (id, object, deleted)",
        "reference": "https://docs.stripe.com/api/webhook_endpoints/delete",
        "fields": {"deleted": "boolean", "id": "string", "object": "string"},
        "conditional": {},
        "nested": {},
    }
    return {
        "source": {
            "sdk": f"stripe-python {stripe.VERSION}",
            "api_version": stripe.api_version,
            "how": "annotated attributes of the SDK's resource classes (generated from "
                   "Stripe's OpenAPI spec for that API version); regenerate with "
                   "`.venv/bin/python -m tests.stripe_emulator.stripe_fields`",
            "reference": "https://docs.stripe.com/api",
        },
        "objects": objects,
    }


def main() -> None:
    """Write ``stripe_fields.json`` from the installed SDK."""
    JSON_PATH.write_text(json.dumps(generate(), indent=2, sort_keys=False) + "\n",
                         encoding="utf-8")
    print(f"wrote {JSON_PATH}")


if __name__ == "__main__":
    main()
