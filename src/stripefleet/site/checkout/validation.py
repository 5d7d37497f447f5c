"""The checkout body of the shop's Stripe configuration notes, checked field by field
(README, "Selling": Checkout).

Body: ``items`` [{``id``, ``type`` (``product``|``equipment``), ``quantity``, ``days``}],
``customer_info`` {firstName, lastName, email, phone, address, city, postalCode,
country}, ``success_url``, ``cancel_url``. Every error names its field
(``items[0].quantity``) so the client can point at it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from stripefleet.site.shop.models import EQUIPMENT, PRODUCT_TYPES

MAX_ITEMS = 50
MAX_QUANTITY = 1000
MAX_DAYS = 365
URL = re.compile(r"https?://[^\s/]+\S*")
INFO_FIELDS = ("firstName", "lastName", "email", "phone", "address", "city", "postalCode",
               "country")


class CheckoutInvalid(ValueError):
    """A field of the checkout body is wrong; answered 400 ``invalid_request``."""

    def __init__(self, field: str, message: str, code: str = "invalid_request") -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
        self.code = code


@dataclass(frozen=True)
class ItemRequest:
    """One requested item: the product's id or slug, its type, units and days."""

    key: str
    type: str
    quantity: int
    days: int


@dataclass(frozen=True)
class CheckoutRequest:
    """A checked checkout body; URLs None when the client left them out."""

    items: list[ItemRequest]
    customer_info: dict[str, str]
    success_url: str | None
    cancel_url: str | None


def _int(value: Any, field: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise CheckoutInvalid(field, f"must be a whole number from {low} to {high}")
    return value


def parse_checkout(body: dict[str, Any]) -> CheckoutRequest:
    """Check the body; amounts are never read from it.

    Raises:
        CheckoutInvalid: the first wrong field. A product's ``days`` may be left out or
            be 1 (the notes' own example sends ``"days": 1``); equipment needs
            ``days`` >= 1.
    """
    items = body.get("items")
    if not isinstance(items, list) or not items:
        raise CheckoutInvalid("items", "must be a non-empty list of items")
    if len(items) > MAX_ITEMS:
        raise CheckoutInvalid("items", f"at most {MAX_ITEMS} items per checkout")
    parsed = []
    for i, item in enumerate(items):
        where = f"items[{i}]"
        if not isinstance(item, dict):
            raise CheckoutInvalid(where, "must be an object {id, type, quantity, days}")
        key = item.get("id")
        if isinstance(key, bool) or not isinstance(key, int | str) or str(key).strip() == "":
            raise CheckoutInvalid(f"{where}.id", "must be the product's id or slug")
        kind = item.get("type")
        if kind not in PRODUCT_TYPES:
            raise CheckoutInvalid(f"{where}.type", f"must be one of {', '.join(PRODUCT_TYPES)}")
        quantity = _int(item.get("quantity"), f"{where}.quantity", 1, MAX_QUANTITY)
        if kind == EQUIPMENT:
            days = _int(item.get("days"), f"{where}.days", 1, MAX_DAYS)
        else:
            days = item.get("days", 1)
            if days is None:
                days = 1
            if isinstance(days, bool) or days != 1:
                raise CheckoutInvalid(f"{where}.days", "must be 1 or left out for a product")
        parsed.append(ItemRequest(str(key).strip(), kind, quantity, days))
    info = body.get("customer_info", {})
    if not isinstance(info, dict):
        raise CheckoutInvalid("customer_info", "must be an object")
    clean: dict[str, str] = {}
    for name in INFO_FIELDS:
        value = info.get(name)
        if value is None:
            continue
        if not isinstance(value, str) or len(value) > 200:
            raise CheckoutInvalid(f"customer_info.{name}", "must be a text of at most 200 "
                                  "characters")
        clean[name] = value.strip()
    urls = {}
    for name in ("success_url", "cancel_url"):
        value = body.get(name)
        if value is not None and (not isinstance(value, str) or len(value) > 2000
                                  or not URL.fullmatch(value)):
            raise CheckoutInvalid(name, "must be an http:// or https:// URL")
        urls[name] = value
    return CheckoutRequest(parsed, clean, urls["success_url"], urls["cancel_url"])
