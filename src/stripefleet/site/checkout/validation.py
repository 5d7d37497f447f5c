"""The checkout body of the shop's Stripe configuration notes, declared as pydantic
models and checked at the edge (``accounts.edge``; README, "Selling": Checkout).

Body: ``items`` [{``id``, ``type`` (``product``|``equipment``), ``quantity``, ``days``}],
``customer_info`` {firstName, lastName, email, phone, address, city, postalCode,
country}, ``success_url``, ``cancel_url``. Every error names its field
(``items[0].quantity``) so the client can point at it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictStr, ValidationInfo, field_validator

from stripefleet.site.shop.models import EQUIPMENT, PRODUCT_TYPES

MAX_ITEMS = 50
MAX_QUANTITY = 1000
MAX_DAYS = 365
URL = re.compile(r"^https?://[^\s/]+\S*$")
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


class ItemBody(BaseModel):
    """One item of the body: ``id`` (the product's id or slug), ``type``, ``quantity``,
    ``days`` (equipment: 1 to ``MAX_DAYS``; a product: 1 or left out)."""

    model_config = ConfigDict(extra="ignore", strict=True)
    id: Any = Field(default=None, validate_default=True)
    type: Any = Field(default=None, validate_default=True)
    quantity: Any = Field(default=None, validate_default=True)
    days: Any = Field(default=None, validate_default=True)

    @field_validator("id")
    @classmethod
    def _id(cls, value: Any) -> str:
        if isinstance(value, bool) or not isinstance(value, int | str) or \
                str(value).strip() == "" or len(str(value)) > 64:
            raise ValueError("must be the product's id or slug")
        return str(value).strip()

    @field_validator("type")
    @classmethod
    def _type(cls, value: Any) -> str:
        if not isinstance(value, str) or value not in PRODUCT_TYPES:
            raise ValueError(f"must be one of {', '.join(PRODUCT_TYPES)}")
        return value

    @field_validator("quantity")
    @classmethod
    def _quantity(cls, value: Any) -> int:
        return _whole(value, 1, MAX_QUANTITY)

    @field_validator("days")
    @classmethod
    def _days(cls, value: Any, info: ValidationInfo) -> int:
        if info.data.get("type") == EQUIPMENT:
            return _whole(value, 1, MAX_DAYS)
        if value is None:
            return 1
        if isinstance(value, bool) or value != 1:
            raise ValueError("must be 1 or left out for a product")
        return 1


class CustomerInfoBody(BaseModel):
    """``customer_info``: optional texts of at most 200 characters; other keys ignored."""

    model_config = ConfigDict(extra="ignore", strict=True)
    firstName: StrictStr | None = Field(default=None, max_length=200)  # noqa: N815
    lastName: StrictStr | None = Field(default=None, max_length=200)  # noqa: N815
    email: StrictStr | None = Field(default=None, max_length=200)
    phone: StrictStr | None = Field(default=None, max_length=200)
    address: StrictStr | None = Field(default=None, max_length=200)
    city: StrictStr | None = Field(default=None, max_length=200)
    postalCode: StrictStr | None = Field(default=None, max_length=200)  # noqa: N815
    country: StrictStr | None = Field(default=None, max_length=200)


class CheckoutBody(BaseModel):
    """The checkout body (see the module doc); amounts are never read from it."""

    model_config = ConfigDict(extra="ignore", strict=True)
    items: list[ItemBody] = Field(min_length=1, max_length=MAX_ITEMS)
    customer_info: CustomerInfoBody = Field(default_factory=CustomerInfoBody)
    success_url: StrictStr | None = Field(default=None, max_length=2000, pattern=URL.pattern)
    cancel_url: StrictStr | None = Field(default=None, max_length=2000, pattern=URL.pattern)

    def request(self) -> CheckoutRequest:
        """The checked request (texts of ``customer_info`` trimmed, absent ones left
        out)."""
        info = {name: value.strip() for name, value in self.customer_info.model_dump().items()
                if value is not None}
        return CheckoutRequest([ItemRequest(i.id, i.type, i.quantity, i.days)
                                for i in self.items], info, self.success_url, self.cancel_url)


def _whole(value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"must be a whole number from {low} to {high}")
    return value
