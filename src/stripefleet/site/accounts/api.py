"""``POST /api/auth/register`` and ``POST /api/auth/login`` (README, "Selling": "API").

Both answer ``{"success": true, "token": "...", "customer": {"id", "email"}}``; send the
token as ``Authorization: Bearer <token>``.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify
from pydantic import BaseModel, ConfigDict, Field, StrictStr

from stripefleet.common.web import ApiError
from stripefleet.site.accounts import edge, services
from stripefleet.site.accounts.models import Customer
from stripefleet.site.extensions import limiter, transactional

bp = Blueprint("accounts_api", __name__)


class Credentials(BaseModel):
    """The body of register and login: ``{email, password}`` (strings; their rules are
    the services': ``invalid_email``, ``invalid_password``, ``invalid_credentials``)."""

    model_config = ConfigDict(extra="ignore", strict=True)
    email: StrictStr | None = Field(default=None, max_length=254)
    password: StrictStr | None = Field(default=None, max_length=services.MAX_PASSWORD)


#: The error code of each field of :class:`Credentials` at the edge.
CODES = {"email": "invalid_email", "password": "invalid_password"}


def _answer(customer: Customer, token: str) -> Response:
    return jsonify(success=True, token=token,
                   customer={"id": customer.id, "email": customer.email})


@bp.post("/api/auth/register")
@limiter.limit("30 per minute")
@transactional
def register() -> tuple[Response, int]:
    """Create an account: 201 with a token.

    :raise 400: ``invalid_email``, ``invalid_password`` (8+ characters), and the edge's
        codes (``accounts.edge``: ``invalid_json``, ``json_too_deep``).
    :raise 409: ``email_taken``.
    """
    body = edge.parse(Credentials, CODES)
    try:
        customer = services.register(body.email, body.password)
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

    :raise 400: the edge's codes (``accounts.edge``: ``invalid_email`` for an e-mail that
        is not a string or holds a control character, ``json_too_deep``, ...).
    :raise 401: ``invalid_credentials``. :raise 429: more than 10 attempts a minute.
    """
    body = edge.parse(Credentials, CODES)
    try:
        customer = services.authenticate(body.email, body.password)
    except services.AccountError as exc:
        raise ApiError(exc.code, exc.message, status=401) from None
    token = services.issue_token(customer)
    return _answer(customer, token)
