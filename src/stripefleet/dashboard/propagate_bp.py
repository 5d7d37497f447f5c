"""The dashboard's ``POST /admin/stripe/propagate``: the embeddable propagation
blueprint's contract, answered by a real rollout of every enabled site.

Body ``{"publishable_key": "pk_test_..."}`` -> 202 ``{"success": true, "rollout_id": N}``
(Huey tasks, rows, live progress on ``/rollouts/<id>``, audit), for an operator or owner
(session with CSRF, or a bearer token). ``GET /admin/stripe/propagate/<id>`` answers the
rollout as ``GET /api/rollouts/<id>`` does; ``GET /admin/stripe/snippet`` the button.

The blueprint for another Flask app is ``stripefleet.embed.stripe_propagate``; this
module goes once ``dashboard/rollouts/propagate.py`` serves these routes.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from stripefleet.common.keys import PUBLISHABLE_KEY
from stripefleet.common.web import ApiError, error_response
from stripefleet.dashboard.auth.security import acting_user, check_role
from stripefleet.dashboard.extensions import db
from stripefleet.dashboard.http import ok
from stripefleet.dashboard.rollouts.api import rollout_payload
from stripefleet.dashboard.rollouts.services import create_rollout, get_rollout
from stripefleet.dashboard.rollouts.tasks import enqueue_rollout
from stripefleet.embed.stripe_propagate import snippet_html

bp = Blueprint("stripe_propagate", __name__)


@bp.post("/admin/stripe/propagate")
def propagate() -> Any:
    """Start a rollout of ``publishable_key`` to every enabled site; 202 with its id."""
    check_role("operator")
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ApiError("invalid_json", "Send {\"publishable_key\": \"pk_test_...\"}.")
    rollout = create_rollout(acting_user(), setting=PUBLISHABLE_KEY,
                             value=data.get("publishable_key"), targets={"all": True},
                             chunk_size=current_app.config["CHUNK_SIZE"])
    rollout_id = rollout.id
    db.session.commit()
    enqueue_rollout(rollout)
    return jsonify(success=True, rollout_id=rollout_id), 202


@bp.get("/admin/stripe/propagate/<rollout_id>")
def status(rollout_id: str) -> Any:
    """The rollout, as ``GET /api/rollouts/<id>`` answers it."""
    check_role("viewer")
    if not rollout_id.isdigit():
        return error_response(404, "rollout_not_found", "There is no such rollout.")
    return ok(**rollout_payload(get_rollout(int(rollout_id))))


@bp.get("/admin/stripe/snippet")
def snippet() -> Response:
    """The propagation button's HTML (button and script)."""
    return Response(snippet_html(), mimetype="text/html")
