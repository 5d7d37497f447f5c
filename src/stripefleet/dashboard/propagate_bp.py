"""Seed 001_'s blueprint, kept exactly: ``POST /admin/stripe/propagate``.

Body ``{"publishable_key": "pk_test_..."}``; answers at once 202
``{"success": true, "rollout_id": ...}`` and pushes the key to every enabled site in the
background. 400 for a missing or invalid key (``missing_value``,
``invalid_publishable_key_format``), 403 ``forbidden`` below operator, 409
``rollout_in_progress``.

It runs in two kinds of app:

- **the dashboard** (its ``create_app`` registers it): a real rollout (Huey tasks, rows,
  live progress on ``/rollouts/<id>``, audit), started by an operator or owner (session
  with CSRF, or a bearer token). Targets: every enabled site of the fleet.
- **another Flask app** (seed 001_'s integration steps): ``app.register_blueprint(bp)``
  with ``TEMPLATE_MASTER_API_KEY`` and ``TEMPLATE_SITES_LIST`` (list or comma/newline
  separated string) in its config. The push runs in a background thread through the
  same engine; ``GET /admin/stripe/propagate/<rollout_id>`` answers its progress and
  recap (kept in memory, the last 100 runs). Who may call it (seed 001_: "only
  authorized admins"): the host's ``STRIPE_PROPAGATE_AUTHORIZE`` callable when set;
  otherwise a request with ``X-API-Key: <TEMPLATE_MASTER_API_KEY>``, or a user logged
  in with the host's Flask-Login whose ``role`` is operator/owner/admin (or whose
  ``is_admin`` is true). Anything else is 403.

The seed's HTML snippet (a button that asks for the key and calls this endpoint) is
``templates/stripe_button_snippet.html``, shown on the dashboard's rollout pages and
served at ``GET /admin/stripe/snippet``.
"""

from __future__ import annotations

import asyncio
import hmac
import threading
import uuid
from collections import OrderedDict
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from stripefleet.common.keys import PUBLISHABLE_KEY, InvalidValue, fingerprint, normalize_value
from stripefleet.dashboard.config import ConfigError, parse_sites_list

bp = Blueprint("stripe_propagate", __name__)

SNIPPET_PATH = Path(__file__).parent / "templates" / "stripe_button_snippet.html"
_RUNS: OrderedDict[str, dict[str, Any]] = OrderedDict()
_RUNS_LOCK = threading.Lock()
_KEEP_RUNS = 100


def _error(code: str, message: str, status: int) -> tuple[Response, int]:
    return jsonify(success=False, error=code, message=message), status


def _in_dashboard() -> bool:
    return "stripefleet_tasks" in current_app.extensions


@bp.post("/admin/stripe/propagate")
def propagate() -> Any:
    """Start pushing ``publishable_key`` to every site; 202 ``{"success", "rollout_id"}``."""
    if _in_dashboard():
        return _dashboard_propagate()
    if not _host_authorized():
        return _error("forbidden", "Only an authorized admin may propagate keys.", 403)
    data = request.get_json(silent=True)
    raw = data.get("publishable_key") if isinstance(data, dict) else None
    if not isinstance(raw, str) or not raw.strip():
        return _error("missing_value", "Send {\"publishable_key\": \"pk_test_...\"}.", 400)
    try:
        key = normalize_value(PUBLISHABLE_KEY, raw)
    except InvalidValue as exc:
        return _error(exc.code, str(exc), 400)
    try:
        urls = parse_sites_list(current_app.config.get("TEMPLATE_SITES_LIST"))
    except ConfigError as exc:
        return _error("invalid_sites_list", str(exc), 500)
    api_key = current_app.config.get("TEMPLATE_MASTER_API_KEY")
    if not urls or not api_key:
        return _error("not_configured", "Set TEMPLATE_MASTER_API_KEY and TEMPLATE_SITES_LIST "
                      "in the app's config.", 500)
    rollout_id = uuid.uuid4().hex
    run: dict[str, Any] = {"rollout_id": rollout_id, "state": "running",
                           "setting": PUBLISHABLE_KEY, "value_fingerprint": fingerprint(key),
                           "total": len(urls), "targets": [], "recap": None}
    with _RUNS_LOCK:
        _RUNS[rollout_id] = run
        while len(_RUNS) > _KEEP_RUNS:
            _RUNS.popitem(last=False)
    options = current_app.config.get("STRIPE_PROPAGATE_OPTIONS") or {}
    thread = threading.Thread(target=_run_in_thread, name=f"propagate-{rollout_id[:8]}",
                              args=(run, urls, str(api_key), key, dict(options)), daemon=True)
    thread.start()
    return jsonify(success=True, rollout_id=rollout_id), 202


@bp.get("/admin/stripe/propagate/<rollout_id>")
def status(rollout_id: str) -> Any:
    """A host app's run: state, recap and per-site results (dashboard: the rollout)."""
    if _in_dashboard():
        from stripefleet.dashboard.auth.security import check_role
        from stripefleet.dashboard.http import ok
        from stripefleet.dashboard.rollouts.api import rollout_payload
        from stripefleet.dashboard.rollouts.services import get_rollout

        check_role("viewer")
        if not rollout_id.isdigit():
            return _error("rollout_not_found", "There is no such rollout.", 404)
        return ok(**rollout_payload(get_rollout(int(rollout_id))))
    if not _host_authorized():
        return _error("forbidden", "Only an authorized admin may see propagations.", 403)
    with _RUNS_LOCK:
        run = _RUNS.get(rollout_id)
        snapshot = dict(run, targets=list(run["targets"])) if run else None
    if snapshot is None:
        return _error("rollout_not_found", "There is no such rollout.", 404)
    return jsonify(success=True, rollout=snapshot)


@bp.get("/admin/stripe/snippet")
def snippet() -> Any:
    """Seed 001_'s HTML snippet (button + script), to paste in an admin page."""
    return Response(SNIPPET_PATH.read_text(encoding="utf-8"), mimetype="text/html")


def _run_in_thread(run: dict[str, Any], urls: list[str], api_key: str, key: str,
                   options: dict[str, Any]) -> None:
    from stripefleet.dashboard.rollouts import engine_adapter as engine

    def on_result(result: engine.TargetResult) -> None:
        with _RUNS_LOCK:
            run["targets"].append(result.as_dict())

    targets = [engine.Target(url=url, api_key=api_key) for url in urls]
    try:
        recap = asyncio.run(engine.push(targets, PUBLISHABLE_KEY, key,
                                        options=engine.make_options(
                                            options, backoff_base=float(
                                                options.get("backoff_base", 0.5))),
                                        on_result=on_result))
    except Exception as exc:  # the thread must record, never die silently
        with _RUNS_LOCK:
            run["state"] = "failed"
            run["error"] = type(exc).__name__
        return
    with _RUNS_LOCK:
        run["recap"] = dict(recap.counts)
        run["state"] = "succeeded" if recap.succeeded else (
            "failed" if not any(recap.counts.get(s) for s in ("ok", "changed"))
            else "partially_failed")


def _host_authorized() -> bool:
    hook = current_app.config.get("STRIPE_PROPAGATE_AUTHORIZE")
    if callable(hook):
        return bool(hook())
    expected = current_app.config.get("TEMPLATE_MASTER_API_KEY")
    given = request.headers.get("X-API-Key")
    if expected and given and hmac.compare_digest(str(given).encode(), str(expected).encode()):
        return True
    if hasattr(current_app, "login_manager"):
        from flask_login import current_user

        if current_user.is_authenticated:
            role = getattr(current_user, "role", None)
            if role is not None:
                return role in ("operator", "owner", "admin")
            return bool(getattr(current_user, "is_admin", False))
    return False


def _dashboard_propagate() -> Any:
    from stripefleet.common.web import ApiError
    from stripefleet.dashboard.auth.security import check_role
    from stripefleet.dashboard.http import acting_user
    from stripefleet.dashboard.rollouts.services import create_rollout
    from stripefleet.dashboard.rollouts.tasks import enqueue_rollout

    check_role("operator")
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ApiError("invalid_json", "Send {\"publishable_key\": \"pk_test_...\"}.")
    rollout = create_rollout(acting_user(), setting=PUBLISHABLE_KEY,
                             value=data.get("publishable_key"), targets={"all": True},
                             chunk_size=current_app.config["CHUNK_SIZE"])
    rollout_id = rollout.id
    from stripefleet.dashboard.extensions import db

    db.session.commit()
    enqueue_rollout(rollout)
    return jsonify(success=True, rollout_id=rollout_id), 202
