"""The checkout domain: orders, order lines, stock reservations, the payment rule, the
Stripe client wrapper, ``POST /api/checkout/`` and ``GET /api/orders/session/<id>/``
(README, "Selling").

Public surface for the webhooks: ``payment`` (paying an order, once),
``services.move_status``, ``services.expire_order``, ``services.fail_order``,
``reservations.release``, ``session_owners``, ``stripe_gateway``; for the cart page:
``flow.run_checkout``.
"""

from __future__ import annotations

from flask import Flask

from stripefleet.site.checkout import api, models  # noqa: F401  (the orders' tables)


def init_app(app: Flask) -> None:
    """Register the checkout API."""
    app.register_blueprint(api.bp)
