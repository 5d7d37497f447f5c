"""The embeddable propagation blueprint: push a publishable key to every site from another
Flask app (README, "The embeddable propagation blueprint in another Flask app").

    from stripefleet.embed.stripe_propagate import bp as stripe_propagate_bp
    app.register_blueprint(stripe_propagate_bp)
    app.config["TEMPLATE_MASTER_API_KEY"] = "..."              # from your secret store
    app.config["TEMPLATE_SITES_LIST"] = ["https://site1...", "https://site2..."]  # or "a,b"

Routes:

- ``POST /admin/stripe/propagate``, body ``{"publishable_key": "pk_test_..."}``: answers
  202 ``{"success": true, "rollout_id": "<hex>"}`` at once, and a background thread
  pushes the key to every site of ``TEMPLATE_SITES_LIST`` through the propagation
  engine (``stripefleet.propagation.propagate``: retries, throttling, read-back
  verification). 400 ``missing_value`` or ``invalid_publishable_key_format`` (nothing
  is sent), 403 ``forbidden``, 500 ``not_configured`` / ``invalid_sites_list``.
- ``GET /admin/stripe/propagate/<rollout_id>``: the run's state (``running``,
  ``succeeded``, ``partially_failed``, ``failed``), per-site results and recap, kept in
  memory (the last 100 runs of this process).
- ``GET /admin/stripe/snippet``: the HTML snippet, a button that asks for the key and
  calls the endpoint (:data:`SNIPPET_TEMPLATE`, to paste in an admin page).

Who may call the two propagation routes: the host's ``STRIPE_PROPAGATE_AUTHORIZE``
callable when set; otherwise a request with ``X-API-Key: <TEMPLATE_MASTER_API_KEY>``, or
a user logged in with the host's Flask-Login whose ``role`` is operator, owner or admin
(or whose ``is_admin`` is true). Anything else is 403. ``STRIPE_PROPAGATE_OPTIONS`` (a
dict: ``timeout``, ``concurrency``, ``rate``, ``retries``, ``backoff_base``) tunes the
engine.

This module imports nothing of the dashboard, which has its own
``/admin/stripe/propagate`` (a real rollout, with the same request and answer); the
dashboard only reuses the snippet's template (:data:`TEMPLATES_DIR`).
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
from flask_login import current_user

from stripefleet.common.keys import PUBLISHABLE_KEY, InvalidValue, fingerprint, normalize_value
from stripefleet.common.web import error_response
from stripefleet.embed.settings import parse_sites_list
from stripefleet.propagation import PushOptions, Target, TargetResult
from stripefleet.propagation import propagate as push_to_sites

#: The folder of the snippet's template.
TEMPLATES_DIR = Path(__file__).parent / "templates"
#: The snippet's template name (a Jinja ``include`` of the dashboard's "New rollout" page).
SNIPPET_TEMPLATE = "stripe_button_snippet.html"
SNIPPET_PATH = TEMPLATES_DIR / SNIPPET_TEMPLATE

#: Roles of a Flask-Login user allowed to propagate (when no hook and no API key).
ADMIN_ROLES = ("operator", "owner", "admin")
_KEEP_RUNS = 100

bp = Blueprint("stripe_propagate", __name__)

#: Only the snippet's template folder, for an app that includes the snippet in its own
#: pages without registering :data:`bp` (the dashboard).
snippet_templates = Blueprint("stripe_propagate_snippet", __name__,
                              template_folder="templates")

_RUNS: OrderedDict[str, dict[str, Any]] = OrderedDict()
_RUNS_LOCK = threading.Lock()


def snippet_html() -> str:
    """The snippet's HTML (button and script)."""
    return SNIPPET_PATH.read_text(encoding="utf-8")


@bp.post("/admin/stripe/propagate")
def propagate() -> Any:
    """Start pushing ``publishable_key`` to every site; 202 ``{"success", "rollout_id"}``."""
    if not _authorized():
        return error_response(403, "forbidden", "Only an authorized admin may propagate keys.")
    data = request.get_json(silent=True)
    raw = data.get("publishable_key") if isinstance(data, dict) else None
    if not isinstance(raw, str) or not raw.strip():
        return error_response(400, "missing_value",
                              "Send {\"publishable_key\": \"pk_test_...\"}.")
    try:
        key = normalize_value(PUBLISHABLE_KEY, raw)
    except InvalidValue as exc:
        return error_response(400, exc.code, str(exc))
    try:
        urls = parse_sites_list(current_app.config.get("TEMPLATE_SITES_LIST"))
    except ValueError as exc:
        return error_response(500, "invalid_sites_list", f"TEMPLATE_SITES_LIST {exc}")
    api_key = current_app.config.get("TEMPLATE_MASTER_API_KEY")
    if not urls or not api_key:
        return error_response(500, "not_configured", "Set TEMPLATE_MASTER_API_KEY and "
                              "TEMPLATE_SITES_LIST in the app's config.")
    rollout_id = uuid.uuid4().hex
    run: dict[str, Any] = {"rollout_id": rollout_id, "state": "running",
                           "setting": PUBLISHABLE_KEY, "value_fingerprint": fingerprint(key),
                           "total": len(urls), "targets": [], "recap": None}
    with _RUNS_LOCK:
        _RUNS[rollout_id] = run
        while len(_RUNS) > _KEEP_RUNS:
            _RUNS.popitem(last=False)
    options = _push_options(current_app.config.get("STRIPE_PROPAGATE_OPTIONS") or {})
    targets = [Target(url=url, api_key=str(api_key)) for url in urls]
    thread = threading.Thread(target=_run, name=f"propagate-{rollout_id[:8]}",
                              args=(run, targets, key, options), daemon=True)
    thread.start()
    return jsonify(success=True, rollout_id=rollout_id), 202


@bp.get("/admin/stripe/propagate/<rollout_id>")
def status(rollout_id: str) -> Any:
    """A run's state, recap and per-site results."""
    if not _authorized():
        return error_response(403, "forbidden", "Only an authorized admin may see propagations.")
    with _RUNS_LOCK:
        run = _RUNS.get(rollout_id)
        snapshot = dict(run, targets=list(run["targets"])) if run else None
    if snapshot is None:
        return error_response(404, "rollout_not_found", "There is no such rollout.")
    return jsonify(success=True, rollout=snapshot)


@bp.get("/admin/stripe/snippet")
def snippet() -> Response:
    """The HTML snippet (button and script), to paste in an admin page."""
    return Response(snippet_html(), mimetype="text/html")


def _push_options(options: dict[str, Any]) -> PushOptions:
    """The engine's options from ``STRIPE_PROPAGATE_OPTIONS`` (seconds, requests per second)."""
    return PushOptions(timeout=float(options.get("timeout", 8.0)),
                       concurrency=int(options.get("concurrency", 10)),
                       rate=float(options.get("rate", 5.0)),
                       retries=int(options.get("retries", 3)),
                       backoff_base=float(options.get("backoff_base", 0.5)))


def _run(run: dict[str, Any], targets: list[Target], key: str, options: PushOptions) -> None:
    """Push in this thread; record each site's result and the recap in ``run``."""

    def on_result(result: TargetResult) -> None:
        with _RUNS_LOCK:
            run["targets"].append(result.as_dict())

    try:
        recap = asyncio.run(push_to_sites(targets, PUBLISHABLE_KEY, key, options=options,
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


def _authorized() -> bool:
    """The host's hook, else the fleet's API key, else a Flask-Login admin user."""
    hook = current_app.config.get("STRIPE_PROPAGATE_AUTHORIZE")
    if callable(hook):
        return bool(hook())
    expected = current_app.config.get("TEMPLATE_MASTER_API_KEY")
    given = request.headers.get("X-API-Key")
    if expected and given and hmac.compare_digest(str(given).encode(), str(expected).encode()):
        return True
    if hasattr(current_app, "login_manager") and current_user.is_authenticated:
        role = getattr(current_user, "role", None)
        if role is not None:
            return role in ADMIN_ROLES
        return bool(getattr(current_user, "is_admin", False))
    return False
