"""SaaS launch requests (the troubleshooting guide's ``POST /saas_launch_site``): a
Checkout Session per request, paid by webhook. Services only flush; the caller commits.
"""

from __future__ import annotations

import logging
import re
import secrets
from typing import Any

import sqlalchemy as sa
from flask import current_app

from stripefleet.common.db import iso_utc, utcnow
from stripefleet.site.accounts.services import AccountError, normalize_email
from stripefleet.site.checkout.services import session_end
from stripefleet.site.extensions import db
from stripefleet.site.launch.models import LaunchRequest

log = logging.getLogger(__name__)
DOMAIN = re.compile(r"(?=.{4,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")
CURRENCY = "eur"


class LaunchInvalid(ValueError):
    """A field of the launch request is wrong (400 with ``code`` and ``field``)."""

    def __init__(self, code: str, field: str, message: str) -> None:
        super().__init__(message)
        self.code, self.field, self.message = code, field, message


def open_request(body: dict[str, Any]) -> LaunchRequest:
    """Check ``{domain, email, type}`` and store a pending request (flushes).

    ``type`` defaults to ``standard``; plans and prices come from ``SITE_LAUNCH_PLANS``.

    Raises:
        LaunchInvalid: ``invalid_domain``, ``invalid_email``, ``invalid_type``.
    """
    domain = body.get("domain")
    if not isinstance(domain, str) or not DOMAIN.fullmatch(domain.strip().lower()):
        raise LaunchInvalid("invalid_domain", "domain", "Give a domain name such as "
                            "shop.example.fr.")
    try:
        email = normalize_email(body.get("email"))
    except AccountError as exc:
        raise LaunchInvalid("invalid_email", "email", exc.message) from None
    plans: dict[str, int] = current_app.config["SITE_LAUNCH_PLANS"]
    plan = body.get("type") or "standard"
    if plan not in plans:
        raise LaunchInvalid("invalid_type", "type", f"type must be one of {', '.join(plans)}.")
    row = LaunchRequest(reference=secrets.token_hex(16), domain=domain.strip().lower(),
                        email=email, plan=plan, amount=plans[plan], currency=CURRENCY,
                        status="pending", created_at=utcnow())
    db.session.add(row)
    db.session.flush()
    return row


def session_params(row: LaunchRequest, *, success_url: str, cancel_url: str) -> dict[str, Any]:
    """The Checkout Session parameters of a launch request (``metadata[kind]=launch``)."""
    minutes = int(current_app.config["SITE_RESERVATION_MINUTES"])
    return {
        "mode": "payment", "success_url": success_url, "cancel_url": cancel_url,
        "line_items": [{"quantity": 1, "price_data": {
            "currency": row.currency, "unit_amount": row.amount,
            "product_data": {"name": f"Lancement du site {row.domain} ({row.plan})"}}}],
        "client_reference_id": row.reference, "customer_email": row.email,
        "metadata": {"kind": "launch", "launch_ref": row.reference,
                     "site": current_app.config["SITE_NAME"]},
        "expires_at": int(session_end(minutes).timestamp()),
    }


def owns_session(session_id: str) -> bool:
    """True when the Checkout Session is a launch request's."""
    return session_id != "" and db.session.scalar(
        sa.select(LaunchRequest.id).where(LaunchRequest.stripe_session_id == session_id)
    ) is not None


def status_of_session(session_id: str) -> str | None:
    """The status of the launch request behind a Checkout Session, or None."""
    status: str | None = db.session.scalar(
        sa.select(LaunchRequest.status).where(LaunchRequest.stripe_session_id == session_id))
    return status


def handle_session_event(kind: str, session: dict[str, Any]) -> tuple[str, str, int | None]:
    """``completed`` (paid, right amount) -> ``paid``; ``expired`` -> ``expired``; once."""
    row = db.session.scalar(sa.select(LaunchRequest)
                            .where(LaunchRequest.stripe_session_id == session["id"]))
    assert row is not None
    table = LaunchRequest.__table__
    if kind == "checkout.session.completed" and session.get("payment_status") == "paid":
        if session.get("amount_total") != row.amount:
            return "processed", "launch payment amount mismatch: left pending", None
        db.session.execute(sa.update(table).where(table.c.id == row.id,
                                                  table.c.status == "pending")
                           .values(status="paid", paid_at=utcnow()))
        return "processed", f"launch request {row.id} paid", None
    if kind == "checkout.session.expired":
        db.session.execute(sa.update(table).where(table.c.id == row.id,
                                                  table.c.status == "pending")
                           .values(status="expired"))
        return "processed", f"launch request {row.id} expired", None
    return "ignored", f"{kind} needs nothing for a launch request", None


def list_requests(status: str | None = "paid") -> list[dict[str, Any]]:
    """Launch requests (paid ones by default), newest first, as JSON objects."""
    query = sa.select(LaunchRequest).order_by(LaunchRequest.id.desc())
    if status:
        query = query.where(LaunchRequest.status == status)
    return [{"id": r.id, "reference": r.reference, "domain": r.domain, "email": r.email,
             "type": r.plan, "amount": r.amount, "currency": r.currency, "status": r.status,
             "session_id": r.stripe_session_id, "created_at": iso_utc(r.created_at),
             "paid_at": iso_utc(r.paid_at)} for r in db.session.scalars(query)]
