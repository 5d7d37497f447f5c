"""``POST /api/webhook/stripe/`` (the shop's Stripe configuration notes) and its alias
``/api/webhooks/stripe`` (the webhook and stock notes): Stripe's signed events.

Answers (README, "Selling"): 200 ``{"success": true, "received": true, "status":
"processed" | "ignored" | "duplicate", "event_id"}``; 400 ``invalid_signature``
(missing, forged, stale or dated in the future: nothing stored); 400 ``malformed_event``
(signed, but not of the shape an event has: kept as ``malformed`` when it has an id);
503 ``webhook_not_configured``; 500
``webhook_processing_failed`` (the error is kept on the inbox row; Stripe delivers
again).

The view parses and verifies the request and answers; ``services.receive`` stores and
applies the event and commits: the one exception to "the view commits", because the
usual paid completion runs as an autocommit statement of its own (``fast``).
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, jsonify, request

from stripefleet.common.web import ApiError
from stripefleet.site.extensions import limiter
from stripefleet.site.webhooks import services

log = logging.getLogger(__name__)
bp = Blueprint("webhooks_api", __name__)

#: Largest event body accepted, in bytes (Stripe's events are a few KiB).
MAX_EVENT_BYTES = 256 * 1024


@limiter.request_filter
def _not_rate_limited() -> bool:
    """Stripe delivers from a few addresses: a signature, not a rate, gates its events.
    (A request filter, not ``@limiter.exempt``, which still resolves every limit.)"""
    return request.endpoint == "webhooks_api.stripe_webhook"


@bp.post("/api/webhook/stripe/", strict_slashes=False)
@bp.post("/api/webhooks/stripe", strict_slashes=False)
def stripe_webhook() -> Response:
    """Verify, store and apply one event; see the module doc for the answers."""
    if request.content_length is not None and request.content_length > MAX_EVENT_BYTES:
        raise ApiError("payload_too_large", "The event body is too large.", status=413)
    payload = request.get_data(cache=False)
    try:
        event = services.verify(payload, request.headers.get("Stripe-Signature"))
    except services.NotConfigured:
        raise ApiError("webhook_not_configured",
                       "This site has no webhook signing secret yet; the fleet must push "
                       "stripe_webhook_secret.", status=503) from None
    except services.BadSignature as exc:
        log.warning("webhook refused from %s: %s", request.remote_addr, exc)
        raise ApiError("invalid_signature", str(exc)) from None
    except services.MalformedEvent as exc:
        raise ApiError("malformed_event", f"The signed body is not a usable event: {exc}"[:300]
                       ) from None
    try:
        receipt = services.receive(event, payload.decode("utf-8", errors="replace"))
    except services.MalformedEvent as exc:
        raise ApiError("malformed_event", f"The event is malformed: {exc}"[:300]) from None
    except services.ProcessingFailed:
        raise ApiError("webhook_processing_failed",
                       "The event could not be processed; Stripe will retry.",
                       status=500) from None
    return jsonify(success=True, received=True, status=receipt.status,
                   event_id=receipt.event_id)
