"""The catalogue's table: ``products`` (README, "Selling": "Catalogue").

Stock is three counters on the product row: ``stock`` (None: unlimited), ``reserved``
(held by pending orders) and ``sold``. What can still be bought is
``stock - reserved - sold``; every change to ``reserved``/``sold`` is one conditional
``UPDATE`` (``checkout.reservations``), and a CHECK constraint refuses any row that
would reserve or sell more than the stock, whatever the code does.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from stripefleet.common.db import UTCDateTime, utcnow
from stripefleet.site.extensions import db

#: Product types: sold with a stock count, or rented per day.
PRODUCT = "product"
EQUIPMENT = "equipment"
PRODUCT_TYPES = (PRODUCT, EQUIPMENT)


class Product(db.Model):  # type: ignore[name-defined,misc]
    """A sellable or rentable item.

    Columns:
        slug: unique, ``[a-z0-9-]``, the import's key and the page's URL.
        type: ``product`` (sold; a unique artwork has stock 1) or ``equipment``
            (rented per day; ``stock`` is the number of units).
        price: in the smallest currency unit (cents); for equipment, the daily rate.
        currency: ISO 4217, lower case (``eur``).
        stock: units in total, None for unlimited.
        reserved: units held by pending orders (released when their session expires).
        sold: units sold (products only; rented equipment comes back).
        active: False hides it from the catalogue and refuses it at checkout.
    """

    __tablename__ = "products"
    __table_args__ = (
        sa.CheckConstraint("reserved >= 0 AND sold >= 0", name="ck_products_counters"),
        sa.CheckConstraint("stock IS NULL OR reserved + sold <= stock",
                           name="ck_products_no_oversell"),
        sa.CheckConstraint("price >= 0", name="ck_products_price"),
    )

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    slug: Mapped[str] = mapped_column(sa.String(64), nullable=False, unique=True)
    name: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    description: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")
    image_url: Mapped[str | None] = mapped_column(sa.String(500), nullable=True)
    type: Mapped[str] = mapped_column(sa.String(16), nullable=False, default=PRODUCT)
    price: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    currency: Mapped[str] = mapped_column(sa.String(3), nullable=False, default="eur")
    stock: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    reserved: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    sold: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    active: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)

    @property
    def available(self) -> int | None:
        """Units that can be bought now (never below 0); None when unlimited."""
        if self.stock is None:
            return None
        return max(0, self.stock - self.reserved - self.sold)

    @property
    def in_stock(self) -> bool:
        """``inStock`` of the webhook and stock notes: at least one unit can be bought now."""
        return self.available is None or self.available > 0

    @property
    def sold_out(self) -> bool:
        """Every unit is sold (a sold artwork: the pages show "Vendu")."""
        return self.stock is not None and self.sold >= self.stock
