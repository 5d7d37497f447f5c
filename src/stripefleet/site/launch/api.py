"""``POST /saas_launch_site`` (the troubleshooting guide) and
``GET /api/export/launch-requests``.

Launch: body ``{domain, email, type}`` -> ``{"success": true, "checkout_url",
"session_id"}``; 400 ``invalid_domain``/``invalid_email``/``invalid_type`` with
``field`` (also for a value of the wrong type or with a control character; and the
edge's ``invalid_json``, ``json_too_deep``: ``accounts.edge``); 503
``stripe_not_configured``; 502 ``stripe_*``. The export (``X-API-Key``) lists paid
requests: ``{"success": true, "launch_requests": [...]}`` (``?status=all``
for every request).
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request, url_for
from pydantic import BaseModel, ConfigDict, Field, StrictStr

from stripefleet.common.web import ApiError
from stripefleet.site.accounts import edge
from stripefleet.site.checkout.stripe_gateway import (
    StripeFailure,
    StripeNotConfigured,
    client,
    create_checkout_session,
)
from stripefleet.site.extensions import limiter, transactional
from stripefleet.site.launch import services
from stripefleet.site.settings.api_keys import require_api_key

bp = Blueprint("launch_api", __name__)


class LaunchBody(BaseModel):
    """``{domain, email, type}``: strings (their rules are ``services.open_request``'s)."""

    model_config = ConfigDict(extra="ignore", strict=True)
    domain: StrictStr | None = Field(default=None, max_length=253)
    email: StrictStr | None = Field(default=None, max_length=254)
    type: StrictStr | None = Field(default=None, max_length=64)


#: The error code of each field of :class:`LaunchBody` at the edge.
CODES = {"domain": "invalid_domain", "email": "invalid_email", "type": "invalid_type"}


@bp.post("/saas_launch_site")
@limiter.limit("30 per minute")
@transactional
def launch_site() -> Response | tuple[Response, int]:
    """Open a launch request and its Checkout Session; see the module doc.

    The request and its session id are committed together when the view returns; a
    refusal from Stripe rolls the request back (nothing stored).
    """
    body = edge.parse(LaunchBody, CODES, max_bytes=8 * 1024)
    try:
        client()
        row = services.open_request(body.model_dump())
    except StripeNotConfigured:
        raise ApiError("stripe_not_configured",
                       "This site has no Stripe secret key yet.", status=503) from None
    except services.LaunchInvalid as exc:
        return jsonify(success=False, error=exc.code, field=exc.field,
                       message=exc.message), 400
    success_url = url_for("pages.success", _external=True) + "?session_id={CHECKOUT_SESSION_ID}"
    params = services.session_params(row, success_url=success_url,
                                     cancel_url=url_for("pages.cancel", _external=True))
    try:
        session = create_checkout_session(params, idempotency_key=f"launch-{row.reference}")
    except StripeFailure as exc:
        raise ApiError(exc.code, exc.message, status=502) from None
    row.stripe_session_id = session["id"]
    return jsonify(success=True, checkout_url=session["url"], session_id=session["id"])


@bp.get("/api/export/launch-requests")
@require_api_key
def launch_requests() -> Response:
    """Paid launch requests (``?status=all``: every one), newest first."""
    status = request.args.get("status", "paid")
    rows = services.list_requests(None if status == "all" else status)
    return jsonify(success=True, launch_requests=rows)
