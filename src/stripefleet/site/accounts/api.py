"""``POST /api/auth/register`` and ``POST /api/auth/login`` (README, "Selling": "API").

Both answer ``{"success": true, "token": "...", "customer": {"id", "email"}}``; send the
token as ``Authorization: Bearer <token>``.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from stripefleet.common.web import ApiError, json_body
from stripefleet.site.accounts import services
from stripefleet.site.accounts.models import Customer
from stripefleet.site.extensions import limiter, transactional

bp = Blueprint("accounts_api", __name__)


def _answer(customer: Customer, token: str) -> Response:
    return jsonify(success=True, token=token,
                   customer={"id": customer.id, "email": customer.email})


@bp.post("/api/auth/register")
@limiter.limit("30 per minute")
@transactional
def register() -> tuple[Response, int]:
    """Create an account: 201 with a token.

    :raise 400: ``invalid_email``, ``invalid_password`` (8+ characters).
    :raise 409: ``email_taken``.
    """
    body = json_body()
    try:
        customer = services.register(body.get("email"), body.get("password"))
    except services.AccountError as exc:
        raise ApiError(exc.code, exc.message,
                       409 if exc.code == "email_taken" else 400) from None
    token = services.issue_token(customer)
    return _answer(customer, token), 201


@bp.post("/api/auth/login")
@limiter.limit("10 per minute")
@transactional
def login() -> Response:
    """Log in: 200 with a new token.

    :raise 401: ``invalid_credentials``. :raise 429: more than 10 attempts a minute.
    """
    body = json_body()
    try:
        customer = services.authenticate(body.get("email"), body.get("password"))
    except services.AccountError as exc:
        raise ApiError(exc.code, exc.message, status=401) from None
    token = services.issue_token(customer)
    return _answer(customer, token)
