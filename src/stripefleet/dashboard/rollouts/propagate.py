"""The dashboard's own ``/admin/stripe/propagate``: the embeddable propagation
blueprint's contract, answered with a dashboard rollout (README, "The dashboard": JSON
API).

- ``POST /admin/stripe/propagate`` (operator) with ``{"publishable_key": "pk_..."}``:
  a rollout of the publishable key to every enabled site of the fleet, committed, then
  queued; 202 ``{"success": true, "rollout_id": N}``. 400 ``invalid_json``,
  ``missing_value`` or ``invalid_publishable_key_format``, 401 without a user, 403
  ``forbidden`` below operator, 409 ``rollout_in_progress``.
- ``GET /admin/stripe/propagate/<rollout_id>`` (viewer): the rollout as
  ``GET /api/rollouts/<id>`` answers it; 404 ``rollout_not_found``.
- ``GET /admin/stripe/snippet``: the button that calls the endpoint (the embeddable
  blueprint's snippet, ``stripefleet.embed.stripe_propagate``; also shown on the "New
  rollout" page).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from stripefleet.common.keys import PUBLISHABLE_KEY
from stripefleet.common.web import ApiError, NotFound
from stripefleet.dashboard.auth.security import acting_user, require_role
from stripefleet.dashboard.http import ok
from stripefleet.dashboard.rollouts import services
from stripefleet.dashboard.rollouts.api import rollout_payload
from stripefleet.dashboard.rollouts.tasks import launch
from stripefleet.embed.stripe_propagate import snippet_html

bp = Blueprint("stripe_propagate", __name__)

@bp.post("/admin/stripe/propagate")
@require_role("operator")
def propagate() -> Any:
    """Start a rollout of ``publishable_key`` to every enabled site -> 202
    ``{"success": true, "rollout_id": N}``."""
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ApiError("invalid_json", "Send {\"publishable_key\": \"pk_test_...\"}.")
    rollout = launch(lambda: services.create_rollout(
        acting_user(), setting=PUBLISHABLE_KEY, value=data.get("publishable_key"),
        targets={"all": True}, chunk_size=current_app.config["CHUNK_SIZE"]))
    return jsonify(success=True, rollout_id=rollout.id), 202


@bp.get("/admin/stripe/propagate/<rollout_id>")
@require_role("viewer")
def status(rollout_id: str) -> Any:
    """The rollout, its progress and its targets (as ``GET /api/rollouts/<id>``)."""
    if not rollout_id.isdigit():
        raise NotFound("rollout_not_found", "There is no such rollout.")
    return ok(**rollout_payload(services.get_rollout(int(rollout_id))))


@bp.get("/admin/stripe/snippet")
def snippet() -> Response:
    """The HTML snippet (a button and its script) that calls the endpoint."""
    return Response(snippet_html(), mimetype="text/html")
