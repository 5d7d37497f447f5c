"""JSON API of the fleet: list, create, update, disable, import, verify now.

A view that writes is ``transactional`` (its one commit point); "verify now" commits
its audit row before it queues the verification.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from stripefleet.common.web import ApiError
from stripefleet.dashboard.audit import services as audit
from stripefleet.dashboard.auth.security import require_role
from stripefleet.dashboard.extensions import transactional
from stripefleet.dashboard.http import json_body, ok
from stripefleet.dashboard.queue import task
from stripefleet.dashboard.sites import services

bp = Blueprint("sites_api", __name__, url_prefix="/api/sites")


@bp.get("")
@require_role("viewer")
def list_sites() -> Any:
    """``{"sites": [site, ...]}``; API keys only as fingerprints."""
    return ok(sites=[s.as_dict() for s in services.list_sites()])


@bp.post("")
@require_role("owner")
@transactional
def create_site() -> Any:
    """Body ``{"url", "name"?, "environment"?, "tags"?, "api_key"?}`` -> 201 ``{"site"}``."""
    data = json_body()
    site = services.create_site(str(data.get("url", "")), name=data.get("name"),
                                environment=data.get("environment"), tags=data.get("tags"),
                                api_key=data.get("api_key") or None)
    audit.record("site.create", subject=site.url,
                 details={"api_key_fingerprint": site.api_key_fingerprint})
    return ok(201, site=site.as_dict())


@bp.get("/<int:site_id>")
@require_role("viewer")
def get_site(site_id: int) -> Any:
    """``{"site": ...}`` or 404 ``site_not_found``."""
    return ok(site=services.get_site(site_id).as_dict())


@bp.patch("/<int:site_id>")
@require_role("owner")
@transactional
def update_site(site_id: int) -> Any:
    """Body: any of ``url, name, environment, tags, enabled, api_key`` ("" = fleet key)."""
    site = services.update_site(services.get_site(site_id), json_body())
    audit.record("site.update", subject=site.url,
                 details={"api_key_fingerprint": site.api_key_fingerprint,
                          "enabled": site.enabled})
    return ok(site=site.as_dict())


@bp.post("/<int:site_id>/disable")
@require_role("owner")
@transactional
def disable_site(site_id: int) -> Any:
    """Disable a site: rollouts no longer target it."""
    site = services.update_site(services.get_site(site_id), {"enabled": False})
    audit.record("site.disable", subject=site.url)
    return ok(site=site.as_dict())


@bp.post("/import")
@require_role("owner")
@transactional
def import_sites() -> Any:
    """Body ``{"text": "<sites file>"}`` -> ``{"added": [urls], "existing": [urls]}``."""
    text = json_body().get("text")
    if not isinstance(text, str):
        raise ApiError("missing_text", "Send the sites file's content as \"text\".")
    result = services.import_sites(services.parse_sites_file(text))
    audit.record("site.import", details={"added": len(result["added"]),
                                         "existing": len(result["existing"])})
    return ok(added=result["added"], existing=result["existing"])


@bp.post("/verify")
@require_role("operator")
def verify_now() -> Any:
    """Queue a verification of every enabled site (health and drift) -> 202."""
    _audit_verify()
    task("verify_fleet")()
    return ok(202, queued=True)


@transactional
def _audit_verify() -> None:
    """The audit row of "verify now", committed before the task is queued."""
    audit.record("site.verify")
