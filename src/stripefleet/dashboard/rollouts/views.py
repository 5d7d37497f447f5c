"""Pages of rollouts: the form (dry run, then start), the live rollout page.

A page that creates a rollout commits it (``tasks.launch``), then queues it; halting
runs as a ``transactional`` step. A refused request (``ApiError``) is rolled back by
that step, then the page shows the message; a refusal of the role (``Forbidden``) goes
on to the app's 403 answer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for

from stripefleet.common.keys import SETTINGS, is_secret
from stripefleet.common.web import ApiError, Forbidden
from stripefleet.dashboard.auth.security import acting_user, require_role
from stripefleet.dashboard.extensions import transactional
from stripefleet.dashboard.rollouts import services
from stripefleet.dashboard.rollouts.models import Rollout
from stripefleet.dashboard.rollouts.tasks import launch
from stripefleet.dashboard.sites.services import list_sites

bp = Blueprint("rollouts", __name__, url_prefix="/rollouts")


def _targets_from_form() -> dict[str, Any]:
    mode = request.form.get("targets", "all")
    if mode == "tag":
        return {"tag": request.form.get("tag", "")}
    if mode == "selection":
        return {"site_ids": request.form.getlist("site_ids")}
    return {"all": True}


def _launch(create: Callable[[], Rollout], back: str) -> Any:
    try:
        rollout = launch(create)
    except Forbidden:
        raise
    except ApiError as exc:
        flash(exc.message, "error")
        return redirect(back)
    return redirect(url_for("rollouts.show", rollout_id=rollout.id))


@bp.get("/new")
@require_role("operator")
def new() -> Any:
    """The rollout form."""
    user = acting_user()
    settings = [s for s in SETTINGS if user.has_role(services.required_role(s))]
    return render_template("rollouts/new.html", settings=settings, secret=is_secret,
                           sites=list_sites(enabled_only=True),
                           limits=services.OPTION_LIMITS)


@bp.post("/new")
@require_role("operator")
def create() -> Any:
    """Dry run (button ``dry_run``) or start a rollout from the form."""
    options = {name: request.form.get(name) for name in services.OPTION_LIMITS}
    return _launch(lambda: services.create_rollout(
        acting_user(), setting=request.form.get("setting", ""),
        value=request.form.get("value", ""), targets=_targets_from_form(),
        options=options, dry_run=request.form.get("action") == "dry_run",
        chunk_size=current_app.config["CHUNK_SIZE"]), url_for("rollouts.new"))


@bp.get("/<int:rollout_id>")
@require_role("viewer")
def show(rollout_id: int) -> Any:
    """The rollout page: live progress (polls the JSON API), recap, actions."""
    rollout = services.get_rollout(rollout_id)
    return render_template("rollouts/show.html", rollout=rollout,
                           progress=services.progress(rollout))


@bp.post("/<int:rollout_id>/start")
@require_role("operator")
def start(rollout_id: int) -> Any:
    """Start the push a dry run previewed."""
    return _launch(lambda: services.start_from_dry_run(
        acting_user(), rollout_id, chunk_size=current_app.config["CHUNK_SIZE"]),
        url_for("rollouts.show", rollout_id=rollout_id))


@bp.post("/<int:rollout_id>/retry")
@require_role("operator")
def retry(rollout_id: int) -> Any:
    """Retry the failed targets."""
    return _launch(lambda: services.retry_failed(
        acting_user(), rollout_id, chunk_size=current_app.config["CHUNK_SIZE"]),
        url_for("rollouts.show", rollout_id=rollout_id))


@bp.post("/<int:rollout_id>/rollback")
@require_role("owner")
def rollback(rollout_id: int) -> Any:
    """Roll back what the rollout changed."""
    return _launch(lambda: services.roll_back(
        acting_user(), rollout_id, chunk_size=current_app.config["CHUNK_SIZE"]),
        url_for("rollouts.show", rollout_id=rollout_id))


@transactional
def _halt(rollout_id: int) -> None:
    services.halt(acting_user(), rollout_id)


@bp.post("/<int:rollout_id>/halt")
@require_role("operator")
def halt(rollout_id: int) -> Any:
    """Halt a running rollout."""
    try:
        _halt(rollout_id)
    except Forbidden:
        raise
    except ApiError as exc:
        flash(exc.message, "error")
    return redirect(url_for("rollouts.show", rollout_id=rollout_id))
