"""Pages of the fleet: the list with health and drift, add, import, edit, disable.

Each change runs in one ``transactional`` step (the request's one commit point). A
refused change (``ApiError``) is rolled back by it, then the page shows the message.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for

from stripefleet.common.keys import SETTINGS
from stripefleet.common.web import ApiError
from stripefleet.dashboard.audit import services as audit
from stripefleet.dashboard.auth.security import require_role
from stripefleet.dashboard.extensions import transactional
from stripefleet.dashboard.queue import task
from stripefleet.dashboard.sites import services
from stripefleet.dashboard.sites.models import Site

bp = Blueprint("sites", __name__, url_prefix="/sites")


@bp.get("")
@require_role("viewer")
def fleet() -> Any:
    """Every site: health, environment, keys (masked, fingerprints), Stripe account and
    mode, last functional check (``POST /api/test-stripe``), drift (a failing check is
    drift too)."""
    return render_template("sites/fleet.html", sites=services.list_sites(),
                           settings=list(SETTINGS))


@transactional
def _add(form: dict[str, str]) -> str:
    site = services.create_site(form.get("url", ""), name=form.get("name") or None,
                                environment=form.get("environment") or None,
                                tags=form.get("tags") or None,
                                api_key=form.get("api_key") or None)
    audit.record("site.create", subject=site.url,
                 details={"api_key_fingerprint": site.api_key_fingerprint})
    return site.url


@bp.post("")
@require_role("owner")
def add() -> Any:
    """Add one site from the form."""
    try:
        url = _add(request.form.to_dict())
    except ApiError as exc:
        flash(exc.message, "error")
        return redirect(url_for("sites.fleet"))
    flash(f"{url} added.", "ok")
    return redirect(url_for("sites.fleet"))


@transactional
def _import(text: str) -> dict[str, list[str]]:
    result = services.import_sites(services.parse_sites_file(text))
    audit.record("site.import", details={"added": len(result["added"]),
                                         "existing": len(result["existing"])})
    return result


@bp.post("/import")
@require_role("owner")
def import_file() -> Any:
    """Import a sites file (uploaded, or pasted in the text area)."""
    upload = request.files.get("file")
    text = upload.read().decode("utf-8", "replace") if upload and upload.filename else \
        request.form.get("text", "")
    try:
        result = _import(text)
    except ApiError as exc:
        flash(exc.message, "error")
        return redirect(url_for("sites.fleet"))
    flash(f"{len(result['added'])} site(s) added, {len(result['existing'])} already known.",
          "ok")
    return redirect(url_for("sites.fleet"))


@transactional
def _update(site: Site, changes: dict[str, Any]) -> str:
    services.update_site(site, changes)
    audit.record("site.update", subject=site.url,
                 details={"api_key_fingerprint": site.api_key_fingerprint,
                          "enabled": site.enabled})
    return site.url


@bp.route("/<int:site_id>/edit", methods=["GET", "POST"])
@require_role("owner")
def edit(site_id: int) -> Any:
    """Edit a site's name, environment, tags, API key, enabled flag."""
    site = services.get_site(site_id)
    if request.method == "GET":
        return render_template("sites/edit.html", site=site)
    changes: dict[str, Any] = {
        "name": request.form.get("name", ""), "environment": request.form.get("environment"),
        "tags": request.form.get("tags", ""), "enabled": bool(request.form.get("enabled")),
    }
    if request.form.get("api_key"):
        changes["api_key"] = request.form["api_key"]
    if request.form.get("use_fleet_key"):
        changes["api_key"] = ""
    try:
        url = _update(site, changes)
    except ApiError as exc:
        flash(exc.message, "error")
        return redirect(url_for("sites.edit", site_id=site_id))
    flash(f"{url} saved.", "ok")
    return redirect(url_for("sites.fleet"))


@transactional
def _disable(site_id: int) -> str:
    site = services.update_site(services.get_site(site_id), {"enabled": False})
    audit.record("site.disable", subject=site.url)
    return site.url


@bp.post("/<int:site_id>/disable")
@require_role("owner")
def disable(site_id: int) -> Any:
    """Disable a site."""
    url = _disable(site_id)
    flash(f"{url} disabled.", "ok")
    return redirect(url_for("sites.fleet"))


@transactional
def _audit_verify() -> None:
    audit.record("site.verify")


@bp.post("/verify")
@require_role("operator")
def verify_now() -> Any:
    """Queue a verification of the fleet now (its audit row committed first)."""
    _audit_verify()
    task("verify_fleet")()
    flash("Verification queued; the page shows the results once it ran.", "ok")
    return redirect(url_for("sites.fleet"))
