"""JSON API of rollouts: create / dry run, get with targets (live progress), start a
dry run's push, retry failed, roll back, approve the next batch, halt.

A view that creates, approves or halts a rollout commits it (``tasks.launch``), then
queues what follows (its current batch's chunks, a halt's rollback). A refused preflight
answers 400 with its code and ``refusals`` (README, "The dashboard").
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify, request
from sqlalchemy import func, select

from stripefleet.common.web import ApiError
from stripefleet.dashboard.auth.security import acting_user, require_role
from stripefleet.dashboard.extensions import db
from stripefleet.dashboard.http import json_body, ok
from stripefleet.dashboard.rollouts import services
from stripefleet.dashboard.rollouts.models import Rollout, RolloutTarget
from stripefleet.dashboard.rollouts.tasks import launch

bp = Blueprint("rollouts_api", __name__, url_prefix="/api/rollouts")


def rollout_payload(rollout: Rollout, *, with_targets: bool = True, state: str | None = None,
                    limit: int | None = None, offset: int = 0) -> dict[str, Any]:
    """``{"rollout": ..., "progress": {state: n}, "targets": [...]}`` (no secret).

    ``state``, ``limit`` and ``offset`` page the targets of a large rollout.
    """
    db.session.refresh(rollout)
    data = rollout.as_dict()
    data["batches"] = batch_rows(rollout)
    payload: dict[str, Any] = {"rollout": data, "progress": services.progress(rollout)}
    if with_targets:
        query = select(RolloutTarget).where(RolloutTarget.rollout_id == rollout.id) \
            .order_by(RolloutTarget.id).offset(offset)
        if state:
            query = query.where(RolloutTarget.state == state)
        if limit is not None:
            query = query.limit(limit)
        payload["targets"] = [t.as_dict() for t in db.session.scalars(query)]
    return payload


def batch_rows(rollout: Rollout) -> list[dict[str, Any]]:
    """``[{"index", "size", "state": pending|running|done, "counts": {state: n}}]``:
    each planned batch and its targets' live counts."""
    counts: dict[int, dict[str, int]] = {}
    for batch, state, count in db.session.execute(
            select(RolloutTarget.batch, RolloutTarget.state, func.count())
            .where(RolloutTarget.rollout_id == rollout.id)
            .group_by(RolloutTarget.batch, RolloutTarget.state)):
        counts.setdefault(batch, {})[state] = count
    rows = []
    current = rollout.current_batch
    for index, size in enumerate(rollout.batch_sizes or []):
        mine = counts.get(index, {})
        if current is not None and index == current and rollout.state == "running":
            state = "running"
        elif mine.get("pending"):
            state = "pending"
        else:
            state = "done"
        rows.append({"index": index, "size": size, "state": state, "counts": mine})
    return rows


def _refused(exc: services.PreflightRefusedError) -> Any:
    """400 with the first refusal's code and every refusal (nothing was created)."""
    return jsonify(exc.as_dict()), exc.status


def _started(rollout: Rollout) -> Any:
    """202 with the rollout just launched and its progress."""
    return ok(202, **rollout_payload(rollout, with_targets=False))


@bp.get("")
@require_role("viewer")
def list_rollouts() -> Any:
    """History as JSON; query ``setting``, ``state``, ``kind``."""
    rows = services.list_rollouts(setting=request.args.get("setting") or None,
                                  state=request.args.get("state") or None,
                                  kind=request.args.get("kind") or None)
    return ok(rollouts=[r.as_dict() for r in rows])


@bp.post("")
@require_role("operator")
def create() -> Any:
    """Body ``{"setting", "value", "targets"?, "options"?, "dry_run"?}`` -> 202.

    ``setting`` ``key_pair``: ``value`` is ``{"stripe_publishable_key",
    "stripe_secret_key", "stripe_webhook_secret"?}``. ``targets``: ``{"all": true}``
    (default), ``{"tag": "prod"}`` or ``{"site_ids": [...]}``; ``options``: concurrency,
    rate (req/s per site), timeout (s), retries, batches, max_fail_percentage,
    pause_for_approval, rollback_on_halt, functional_verify, allow_mode_mismatch,
    allow_account_change (``services.parse_options``). 400 with Stripe's code when the
    secret key is refused, 400 with ``refusals`` when sites are; 403 below the
    setting's role; 409 ``rollout_in_progress``; 503 ``stripe_unreachable``.
    """
    data = json_body()
    try:
        return _started(launch(lambda: services.create_rollout(
            acting_user(), setting=str(data.get("setting", "")), value=data.get("value"),
            targets=data.get("targets"), options=data.get("options"),
            dry_run=bool(data.get("dry_run")),
            chunk_size=current_app.config["CHUNK_SIZE"])))
    except services.PreflightRefusedError as exc:
        return _refused(exc)


@bp.get("/<int:rollout_id>")
@require_role("viewer")
def get(rollout_id: int) -> Any:
    """The rollout, its live progress (counts per state) and its targets; query
    ``state`` (targets in that state), ``limit`` and ``offset`` (paging)."""
    try:
        limit = int(request.args["limit"]) if request.args.get("limit") else None
        offset = int(request.args.get("offset") or 0)
    except ValueError:
        raise ApiError("invalid_query", "limit and offset are whole numbers.") from None
    return ok(**rollout_payload(services.get_rollout(rollout_id),
                                state=request.args.get("state") or None,
                                limit=limit, offset=max(offset, 0)))


@bp.post("/<int:rollout_id>/start")
@require_role("operator")
def start(rollout_id: int) -> Any:
    """Start the push a finished dry run previewed -> 202 with the new rollout (the
    preflight runs again: 400 with ``refusals``)."""
    try:
        return _started(launch(lambda: services.start_from_dry_run(
            acting_user(), rollout_id, chunk_size=current_app.config["CHUNK_SIZE"])))
    except services.PreflightRefusedError as exc:
        return _refused(exc)


@bp.post("/<int:rollout_id>/retry")
@require_role("operator")
def retry(rollout_id: int) -> Any:
    """Retry the failed, unreachable and skipped targets -> 202 with the new rollout."""
    return _started(launch(lambda: services.retry_failed(
        acting_user(), rollout_id, chunk_size=current_app.config["CHUNK_SIZE"])))


@bp.post("/<int:rollout_id>/rollback")
@require_role("owner")
def rollback(rollout_id: int) -> Any:
    """Push back the values this rollout replaced -> 202 with the rollback rollout."""
    return _started(launch(lambda: services.roll_back(
        acting_user(), rollout_id, chunk_size=current_app.config["CHUNK_SIZE"])))


@bp.post("/<int:rollout_id>/halt")
@require_role("operator")
def halt(rollout_id: int) -> Any:
    """Stop a rollout (running or awaiting approval): pending targets become skipped,
    the setting's lock is freed; with ``rollback_on_halt`` its rollback is queued
    (``rollback_rollout_id``)."""
    rollout = launch(lambda: services.halt(acting_user(), rollout_id,
                                           chunk_size=current_app.config["CHUNK_SIZE"]))
    return ok(**rollout_payload(rollout, with_targets=False))


@bp.post("/<int:rollout_id>/approve")
@require_role("operator")
def approve(rollout_id: int) -> Any:
    """Continue a rollout ``awaiting_approval`` (the owner for secret keys and key
    pairs): its next batch is queued -> 202. 409 ``not_awaiting_approval``."""
    return _started(launch(lambda: services.approve(acting_user(), rollout_id)))
