"""The checkout domain: orders, order lines, stock reservations, the Stripe client
wrapper, ``POST /api/checkout/`` and ``GET /api/orders/session/<id>/`` (issue 4).

Public surface for the webhooks: ``services.move_status``, ``services.expire_order``,
``services.fail_order``, ``reservations.convert``/``release``, ``stripe_gateway``.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the checkout API (models are imported with it)."""
    from stripefleet.site.checkout import api, models  # noqa: F401

    app.register_blueprint(api.bp)
