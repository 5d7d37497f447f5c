"""The owner's admin area: products (add, edit, deactivate), orders, webhook events.

Only for a logged-in owner (``stripefleet site create-owner``); anyone else gets 404, so
the area does not reveal itself. Forms are CSRF-protected; a form that writes commits
once, through ``@transactional``.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from stripefleet.site.accounts.auth import page_customer
from stripefleet.site.checkout.models import Order
from stripefleet.site.extensions import csrf, db, transactional
from stripefleet.site.shop import services
from stripefleet.site.webhooks.services import list_events

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.before_request
def _owner_only() -> None:
    customer = page_customer()
    if customer is None or not customer.is_owner:
        abort(404)
    if request.method == "POST":
        csrf.protect()


def _form_row() -> dict[str, Any]:
    form = request.form
    row: dict[str, Any] = {"slug": form.get("slug", "").strip(),
                           "name": form.get("name", ""), "type": form.get("type", "product"),
                           "currency": form.get("currency", "eur").strip() or "eur",
                           "description": form.get("description", ""),
                           "image_url": form.get("image_url", "").strip() or None,
                           "active": form.get("active") == "on"}
    for name in ("price", "stock"):
        raw = form.get(name, "").strip()
        row[name] = int(raw) if raw.lstrip("-").isdigit() else (None if raw == "" else raw)
    if row["type"] == "product" and row["price"] is None:
        row["price"] = "?"
    return row


@bp.get("/")
def products() -> str:
    """Every product (active or not), with an edit form each and an add form."""
    return render_template("admin/products.html",
                           products=services.list_products(include_inactive=True))


@bp.post("/produits")
@transactional
def save_product() -> Response:
    """Create or update a product by slug (a refused row writes nothing)."""
    try:
        services.upsert_product(services.validate_row(_form_row()))
    except services.ProductError as exc:
        flash(_("Not saved: %(field)s %(message)s", field=exc.field, message=exc.message))
    else:
        flash(_("Product saved."))
    return redirect(url_for("admin.products"), 303)


@bp.post("/produits/<int:product_id>/desactiver")
@transactional
def deactivate(product_id: int) -> Response:
    """Hide a product from the catalogue (its orders stay)."""
    if services.deactivate_product(product_id) is None:
        abort(404)
    flash(_("Product deactivated."))
    return redirect(url_for("admin.products"), 303)


@bp.get("/commandes")
def orders() -> str:
    """The 200 most recent orders."""
    rows = db.session.scalars(sa.select(Order).order_by(Order.id.desc()).limit(200)).all()
    return render_template("admin/orders.html", orders=rows)


@bp.get("/evenements")
def events() -> str:
    """The 200 most recent webhook events of the inbox."""
    return render_template("admin/events.html", events=list_events(limit=200))
