"""The catalogue: list, find, import and edit products (README, "Selling": "Catalogue").

Services only flush; the caller commits (a view through ``extensions.transactional``, a
command in the command). Stock counters (``reserved``, ``sold``) are never written here:
only ``checkout.reservations`` moves them, atomically.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from stripefleet.common.db import utcnow
from stripefleet.site.extensions import db
from stripefleet.site.shop.models import EQUIPMENT, PRODUCT, PRODUCT_TYPES, Product

log = logging.getLogger(__name__)

SLUG = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?")
CURRENCY = re.compile(r"[a-z]{3}")
IMAGE_URL = re.compile(r"(https?://\S+|/\S*)")
MAX_AMOUNT = 99_999_999  # Stripe's largest amount: 8 digits in the smallest unit
EDITABLE = ("name", "description", "image_url", "type", "price", "currency", "stock", "active")


class ProductError(ValueError):
    """A product row is invalid; ``field`` names the fault (``[3].price``)."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name
        self.message = message


@dataclass
class ImportReport:
    """What an import did: slugs created, changed and left unchanged."""

    created: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


def product_json(product: Product) -> dict[str, Any]:
    """The API's shape of a product (``GET /api/products``).

    ``price`` is in cents (for equipment: per unit and per day, also given as
    ``daily_rate``); ``available`` is None when the stock is unlimited; ``inStock`` is
    the flag of the webhook and stock notes; ``soldOut`` is True once every unit is sold
    ("Vendu").
    """
    data: dict[str, Any] = {
        "id": product.id, "slug": product.slug, "name": product.name,
        "description": product.description, "image_url": product.image_url,
        "type": product.type, "price": product.price, "currency": product.currency,
        "stock": product.stock, "available": product.available,
        "inStock": product.in_stock, "soldOut": product.sold_out, "active": product.active,
    }
    if product.type == EQUIPMENT:
        data["daily_rate"] = product.price
    return data


def list_products(*, include_inactive: bool = False) -> list[Product]:
    """Products by name (active ones only unless ``include_inactive``)."""
    query = sa.select(Product).order_by(Product.name, Product.id)
    if not include_inactive:
        query = query.where(Product.active.is_(True))
    return list(db.session.scalars(query))


def find_product(key: int | str, *, active_only: bool = True) -> Product | None:
    """A product by id (an int, or digits) or slug; None when absent (or inactive), and
    for a key that cannot be one (over 64 characters, a control character: text the
    database would refuse)."""
    if isinstance(key, str) and (len(key) > 64 or not key.isprintable()):
        return None
    if isinstance(key, int) or (isinstance(key, str) and key.isascii() and key.isdigit()):
        if not 0 < int(key) < 2**31:  # ids are 32-bit integers
            return None
        product = db.session.get(Product, int(key))
    else:
        product = db.session.scalar(sa.select(Product).where(Product.slug == key))
    if product is None or (active_only and not product.active):
        return None
    return product


def validate_row(row: Any, where: str = "") -> dict[str, Any]:
    """Check one product row of an import (or of the admin form) and normalise it.

    Args:
        row: ``{"slug", "name", "type", "price" | "daily_rate", "currency", "stock",
            "description"?, "image_url"?, "active"?}``; amounts in cents.
        where: prefix of the field names in errors (``[3]``).

    Returns:
        The columns to store.

    Raises:
        ProductError: the first invalid field, named ``<where>.<field>``.
    """
    def fail(name: str, message: str) -> ProductError:
        return ProductError(f"{where}.{name}" if where else name, message)

    if not isinstance(row, dict):
        raise ProductError(where or "row", "must be a JSON object")
    unknown = sorted(set(row) - {"slug", "name", "type", "price", "daily_rate", "currency",
                                 "stock", "description", "image_url", "active", "id"})
    if unknown:
        raise fail(unknown[0], "unknown field")
    slug = row.get("slug")
    if not isinstance(slug, str) or not SLUG.fullmatch(slug):
        raise fail("slug", "must be 1-64 characters among a-z, 0-9 and inner dashes")
    name = row.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        raise fail("name", "must be a non-empty text of at most 200 characters")
    kind = row.get("type", PRODUCT)
    if kind not in PRODUCT_TYPES:
        raise fail("type", f"must be one of {', '.join(PRODUCT_TYPES)}")
    price_field = "daily_rate" if kind == EQUIPMENT and "daily_rate" in row else "price"
    if kind == EQUIPMENT and "daily_rate" not in row and "price" not in row:
        raise fail("daily_rate", "is required for equipment (cents per day)")
    price = row.get(price_field)
    if isinstance(price, bool) or not isinstance(price, int) or not 0 <= price <= MAX_AMOUNT:
        raise fail(price_field, f"must be a whole number of cents from 0 to {MAX_AMOUNT}")
    currency = row.get("currency", "eur")
    if not isinstance(currency, str) or not CURRENCY.fullmatch(currency.lower()):
        raise fail("currency", "must be a 3-letter ISO 4217 code such as eur")
    stock = row.get("stock", 1 if kind == EQUIPMENT else None)
    if stock is not None and (isinstance(stock, bool) or not isinstance(stock, int)
                              or stock < 0):
        raise fail("stock", "must be a whole number >= 0, or null for unlimited")
    description = row.get("description", "")
    if not isinstance(description, str) or len(description) > 10_000:
        raise fail("description", "must be a text of at most 10000 characters")
    image_url = row.get("image_url")
    if image_url is not None and (not isinstance(image_url, str) or len(image_url) > 500
                                  or not IMAGE_URL.fullmatch(image_url)):
        raise fail("image_url", "must be an http(s) URL or a path starting with /")
    active = row.get("active", True)
    if not isinstance(active, bool):
        raise fail("active", "must be true or false")
    return {"slug": slug, "name": name.strip(), "type": kind, "price": price,
            "currency": currency.lower(), "stock": stock, "description": description,
            "image_url": image_url or None, "active": active}


def upsert_product(values: dict[str, Any], where: str = "") -> str:
    """Create or update the product with ``values["slug"]``; flushes.

    Returns:
        ``created``, ``changed`` or ``unchanged``.

    Raises:
        ProductError: ``stock`` below the units already reserved or sold (raised before
            anything is written).
    """
    product = db.session.scalar(sa.select(Product).where(Product.slug == values["slug"]))
    if product is None:
        db.session.add(Product(**values, reserved=0, sold=0, created_at=utcnow(),
                               updated_at=utcnow()))
        db.session.flush()
        return "created"
    changes = {k: v for k, v in values.items() if k in EDITABLE and getattr(product, k) != v}
    if not changes:
        return "unchanged"
    stock = changes.get("stock", product.stock)
    if stock is not None and stock < product.reserved + product.sold:
        raise ProductError(f"{where}.stock" if where else "stock",
                           f"{stock} is below the {product.reserved + product.sold} units "
                           "already reserved or sold")
    for key, value in changes.items():
        setattr(product, key, value)
    product.updated_at = utcnow()
    db.session.flush()
    log.info("product %s changed: %s", product.slug, ", ".join(sorted(changes)))
    return "changed"


def deactivate_product(product_id: int) -> Product | None:
    """Hide a product from the catalogue and from checkout (its orders stay); flushes.

    Returns:
        The product, or None when no product has this id.
    """
    product = db.session.get(Product, product_id)
    if product is None:
        return None
    if product.active:
        product.active = False
        db.session.flush()
        log.info("product %s deactivated", product.slug)
    return product


def import_products(rows: Any) -> ImportReport:
    """Upsert a list of products by slug, all or nothing (flushes; the caller commits).

    Args:
        rows: a JSON list of rows (see :func:`validate_row`), or ``{"products": [...]}``.

    Returns:
        The :class:`ImportReport`.

    Raises:
        ProductError: a bad row, named by index and field (``[2].price``); nothing of
            the file must then be committed (the caller rolls back).
    """
    if isinstance(rows, dict) and "products" in rows:
        rows = rows["products"]
    if not isinstance(rows, list):
        raise ProductError("products", "the file must hold a JSON list of products")
    checked = [validate_row(row, f"[{i}]") for i, row in enumerate(rows)]
    seen: dict[str, int] = {}
    for i, values in enumerate(checked):
        if values["slug"] in seen:
            raise ProductError(f"[{i}].slug",
                               f"{values['slug']!r} is already row {seen[values['slug']]}")
        seen[values["slug"]] = i
    report = ImportReport()
    for i, values in enumerate(checked):
        outcome = upsert_product(values, f"[{i}]")
        getattr(report, outcome).append(values["slug"])
    log.info("catalogue import: %d created, %d changed, %d unchanged",
             len(report.created), len(report.changed), len(report.unchanged))
    return report
