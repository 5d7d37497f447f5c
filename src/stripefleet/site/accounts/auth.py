"""Who is calling: a bearer token for the JSON API, the session cookie for the pages."""

from __future__ import annotations

from flask import request
from flask_login import current_user

from stripefleet.common.web import ApiError
from stripefleet.site.accounts.models import Customer
from stripefleet.site.accounts.services import customer_for_token


def bearer_customer() -> Customer | None:
    """The customer of the request's ``Authorization: Bearer <token>``, None without one.

    :raise 401: ``invalid_token`` (unknown or expired token, or another scheme).
    """
    header = request.headers.get("Authorization", "")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    customer = customer_for_token(token.strip()) if scheme.lower() == "bearer" else None
    if customer is None:
        raise ApiError("invalid_token", "The bearer token is unknown or expired; log in "
                       "again with POST /api/auth/login.", status=401)
    return customer


def page_customer() -> Customer | None:
    """The customer logged in on the pages (session cookie), else None."""
    if current_user.is_authenticated:
        customer: Customer = current_user._get_current_object()
        return customer
    return None
