"""The fleet registry: add, edit, disable, import sites; pick targets; what each site
holds (observed, pushed) and drift. Services flush; the caller commits.

Sites-file format (the CLI's, README "Pushing keys to the fleet"): one base URL a line,
blank lines and ``#`` comments ignored, duplicates once. The dashboard also reads
optional ``key=value`` words after the URL: ``name=...``, ``env=test|prod``, ``tags=a,b``.
"""

from __future__ import annotations

import re
from typing import Any

from flask import current_app
from sqlalchemy import select

from stripefleet.common.db import utcnow
from stripefleet.common.keys import (
    MASTER_API_KEY,
    PUBLISHABLE_KEY,
    SETTINGS,
    InvalidValue,
    fingerprint,
    is_secret,
    mask,
    normalize_value,
)
from stripefleet.common.web import ApiError, Conflict, NotFound
from stripefleet.dashboard.extensions import db, get_box
from stripefleet.dashboard.sites.models import ENVIRONMENTS, PeriodicRun, PushedValue, Site

_TAG = re.compile(r"[A-Za-z0-9_.\-]{1,40}")


def normalize_url(raw: str) -> str:
    """A site's base URL without trailing slash.

    Raises:
        ApiError: ``invalid_url`` when it is not ``http(s)://host[...]``.
    """
    url = (raw or "").strip().rstrip("/")
    if not re.fullmatch(r"https?://[^\s/?#]+(/[^\s?#]*)?", url):
        raise ApiError("invalid_url", "A site URL looks like https://shop.example.fr.")
    return url


def _tags(raw: Any) -> list[str]:
    if raw is None:
        return []
    items = raw.split(",") if isinstance(raw, str) else list(raw)
    tags = []
    for item in items:
        tag = str(item).strip()
        if not tag:
            continue
        if not _TAG.fullmatch(tag):
            raise ApiError("invalid_tag", "Tags are letters, digits, '_', '-' or '.'.")
        if tag not in tags:
            tags.append(tag)
    return tags


def _environment(raw: Any) -> str:
    env = str(raw or "test").strip().lower()
    if env not in ENVIRONMENTS:
        raise ApiError("invalid_environment", "The environment is test or prod.")
    return env


def _set_api_key(site: Site, api_key: str | None) -> None:
    if api_key is None:
        return
    if api_key == "":
        site.api_key_enc = None
        site.api_key_fingerprint = None
        return
    try:
        value = normalize_value(MASTER_API_KEY, api_key)
    except InvalidValue as exc:
        raise ApiError(exc.code, str(exc)) from None
    site.api_key_enc = get_box().encrypt(value)
    site.api_key_fingerprint = fingerprint(value)


def get_site(site_id: int) -> Site:
    """The site, or NotFound ``site_not_found``."""
    site = db.session.get(Site, site_id)
    if site is None:
        raise NotFound("site_not_found", f"There is no site #{site_id}.")
    return site


def list_sites(*, enabled_only: bool = False) -> list[Site]:
    """Every site, by name."""
    query = select(Site).order_by(Site.name, Site.id)
    if enabled_only:
        query = query.where(Site.enabled.is_(True))
    return list(db.session.scalars(query))


def create_site(url: str, *, name: str | None = None, environment: str | None = None,
                tags: Any = None, api_key: str | None = None, enabled: bool = True) -> Site:
    """Register a site (flushes).

    Raises:
        ApiError: ``invalid_url``, ``invalid_tag``, ``invalid_environment``,
            ``invalid_api_key_format``.
        Conflict: ``site_exists`` (same URL).
    """
    url = normalize_url(url)
    if db.session.scalar(select(Site).where(Site.url == url)):
        raise Conflict("site_exists", f"{url} is already in the fleet.")
    site = Site(url=url, name=(name or "").strip()[:200] or url.split("//", 1)[1],
                environment=_environment(environment), tags=_tags(tags), enabled=enabled)
    _set_api_key(site, api_key)
    db.session.add(site)
    db.session.flush()
    return site


def update_site(site: Site, changes: dict[str, Any]) -> Site:
    """Apply ``changes`` (name, environment, tags, enabled, api_key: "" = fleet key).

    Raises:
        ApiError: as :func:`create_site`, or ``unknown_field``.
    """
    allowed = {"name", "environment", "tags", "enabled", "api_key", "url"}
    unknown = set(changes) - allowed
    if unknown:
        raise ApiError("unknown_field", f"Unknown field(s): {', '.join(sorted(unknown))}.")
    if "url" in changes:
        url = normalize_url(changes["url"])
        other = db.session.scalar(select(Site).where(Site.url == url))
        if other is not None and other.id != site.id:
            raise Conflict("site_exists", f"{url} is already in the fleet.")
        site.url = url
    if "name" in changes and str(changes["name"] or "").strip():
        site.name = str(changes["name"]).strip()[:200]
    if "environment" in changes:
        site.environment = _environment(changes["environment"])
    if "tags" in changes:
        site.tags = _tags(changes["tags"])
    if "enabled" in changes:
        site.enabled = bool(changes["enabled"])
    _set_api_key(site, changes.get("api_key"))
    db.session.flush()
    return site


def parse_sites_file(text: str) -> list[dict[str, Any]]:
    """Entries of a sites file: ``[{"url", "name", "environment", "tags"}]``.

    Raises:
        ApiError: ``invalid_sites_file`` naming the line number.
    """
    entries: dict[str, dict[str, Any]] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        words = line.split()
        try:
            url = normalize_url(words[0])
            entry: dict[str, Any] = {"url": url}
            for word in words[1:]:
                key, sep, value = word.partition("=")
                if not sep or key not in ("name", "env", "tags"):
                    raise ApiError("invalid_url", f"unexpected word {word[:40]!r}")
                entry[{"env": "environment"}.get(key, key)] = value
        except ApiError as exc:
            raise ApiError("invalid_sites_file",
                           f"Line {number} of the sites file: {exc.message}") from None
        entries.setdefault(url, entry)
    return list(entries.values())


def import_sites(entries: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Add the sites not yet known; return ``{"added": [urls], "existing": [urls]}``."""
    added, existing = [], []
    known = set(db.session.scalars(select(Site.url)))
    for entry in entries:
        url = normalize_url(entry["url"])
        if url in known:
            existing.append(url)
            continue
        site = Site(url=url, name=(entry.get("name") or "").strip()[:200] or url.split("//", 1)[1],
                    environment=_environment(entry.get("environment")),
                    tags=_tags(entry.get("tags")), enabled=True)
        db.session.add(site)
        known.add(url)
        added.append(url)
    db.session.flush()
    return {"added": added, "existing": existing}


def sync_sites_list() -> dict[str, list[str]]:
    """Register the configured ``TEMPLATE_SITES_LIST`` URLs not yet known (the embeddable
    propagation blueprint's setting, README "Configuration")."""
    urls = current_app.config.get("TEMPLATE_SITES_LIST") or []
    return import_sites([{"url": url} for url in urls])


def api_key_for(site: Site) -> str:
    """The key to send as ``X-API-Key`` to ``site``: its own, else the fleet's.

    Raises:
        ApiError: ``missing_api_key`` when neither exists.
    """
    if site.api_key_enc:
        return get_box().decrypt(site.api_key_enc)
    key = current_app.config.get("TEMPLATE_MASTER_API_KEY")
    if not key:
        raise ApiError("missing_api_key",
                       f"{site.url} has no API key and TEMPLATE_MASTER_API_KEY is not set.")
    return str(key)


def select_sites(selection: dict[str, Any]) -> list[Site]:
    """The enabled sites a rollout targets.

    Args:
        selection: ``{"all": true}``, ``{"tag": "prod"}`` (environment or tag) or
            ``{"site_ids": [1, 2]}``.

    Raises:
        ApiError: ``invalid_targets`` (bad shape) or ``no_targets`` (empty).
    """
    sites = list_sites(enabled_only=True)
    if selection.get("site_ids") is not None:
        try:
            wanted = {int(i) for i in selection["site_ids"]}
        except (TypeError, ValueError):
            raise ApiError("invalid_targets", "site_ids is a list of site ids.") from None
        sites = [s for s in sites if s.id in wanted]
    elif selection.get("tag"):
        tag = str(selection["tag"])
        sites = [s for s in sites if tag in s.all_tags]
    elif not selection.get("all", True):
        raise ApiError("invalid_targets",
                       'Targets are {"all": true}, {"tag": T} or {"site_ids": [...]}.')
    if not sites:
        raise ApiError("no_targets", "No enabled site matches these targets.")
    return sites


def known_setting(setting: str) -> str:
    """``setting`` when it is one of the four, else ApiError ``unknown_setting``."""
    if setting not in SETTINGS:
        raise ApiError("unknown_setting",
                       f"The setting is one of {', '.join(SETTINGS)}.")
    return setting


def note_observed(site_id: int, setting: str, value: str) -> None:
    """Record that ``site_id`` now holds ``value`` for ``setting`` (after a push that
    was verified): the fleet page's observed fingerprint, drift cleared; after a
    rotation of ``template_master_api_key``, the new key becomes the site's own key
    (encrypted), since the site no longer accepts the old one (flushes)."""
    site = db.session.get(Site, site_id)
    if site is None:
        return
    observed = dict(site.observed or {})
    entry: dict[str, Any] = {"configured": True, "fingerprint": fingerprint(value),
                             "masked": mask(value)}
    if not is_secret(setting):
        entry["value"] = value
    observed[setting] = entry
    site.observed = observed
    site.drift = [s for s in (site.drift or []) if s != setting]
    site.health, site.health_error = "ok", None  # it just answered a verified push
    if setting == MASTER_API_KEY:
        # The site now accepts only this key (README, "A site"): reach it with it from now on.
        site.api_key_enc = get_box().encrypt(value)
        site.api_key_fingerprint = fingerprint(value)
    db.session.flush()


def record_snapshot(site: Site, ok: bool, error: str | None,
                    settings: dict[str, dict[str, Any]], last_pushed: dict[str, str]) -> None:
    """Store a verification read of ``site``: health, observed settings (fingerprints,
    masks; the publishable key's value), drift against ``last_pushed`` (setting ->
    fingerprint the dashboard last pushed). Flushes."""
    site.last_verified_at = utcnow()
    if not ok:
        site.health = "down" if error not in ("invalid_api_key",) else "unauthorized"
        site.health_error = error
        db.session.flush()
        return
    site.health = "ok"
    site.health_error = None
    observed: dict[str, Any] = {}
    for name, entry in (settings or {}).items():
        if name not in SETTINGS:
            continue
        kept = {k: entry.get(k) for k in ("configured", "fingerprint", "masked", "updated_at")}
        if name == PUBLISHABLE_KEY and entry.get("value"):
            kept["value"] = entry["value"]
        observed[name] = kept
    site.observed = observed
    site.drift = sorted(name for name, fp in last_pushed.items()
                        if (observed.get(name) or {}).get("fingerprint") != fp)
    if site.functional_state == "failed":
        site.drift.append(FUNCTIONAL_DRIFT)
    db.session.flush()


def record_push(site_id: int, setting: str, value: str, rollout_id: int) -> None:
    """Record that rollout ``rollout_id`` pushed ``value`` to ``site_id`` and the site
    holds it: the value kept encrypted (a later rollback's source), then
    :func:`note_observed`. Flushes."""
    db.session.add(PushedValue(site_id=site_id, setting=setting,
                               value_enc=get_box().encrypt(value),
                               fingerprint=fingerprint(value), rollout_id=rollout_id))
    note_observed(site_id, setting, value)


def pushed_value(site_id: int, setting: str, value_fingerprint: str) -> str | None:
    """The latest value of ``setting`` the dashboard pushed to ``site_id`` whose
    fingerprint is ``value_fingerprint``, in clear; None when there is none."""
    row = db.session.scalar(
        select(PushedValue).where(PushedValue.site_id == site_id,
                                  PushedValue.setting == setting,
                                  PushedValue.fingerprint == value_fingerprint)
        .order_by(PushedValue.id.desc()).limit(1))
    return get_box().decrypt(row.value_enc) if row else None


def last_pushed_fingerprints(site_id: int) -> dict[str, str]:
    """Setting -> fingerprint of the value the dashboard last pushed to ``site_id``."""
    rows = db.session.execute(
        select(PushedValue.setting, PushedValue.fingerprint)
        .where(PushedValue.site_id == site_id).order_by(PushedValue.id)).all()
    return {setting: fp for setting, fp in rows}


#: ``functional`` outcomes of the engine that are not failures.
FUNCTIONAL_OK = ("ok", "unavailable")
#: The drift entry of a site whose functional check failed.
FUNCTIONAL_DRIFT = "functional_check"


def record_functional(site_id: int, functional: str, *, account_id: str | None = None,
                      livemode: bool | None = None) -> None:
    """Store a functional check of ``site_id`` (the site's ``POST /api/test-stripe``, run
    by a rollout's push or the periodic verification): ``functional`` is ``ok``,
    ``unavailable`` (no such endpoint on that site) or the failing code
    (``stripe_auth_failed``, ``api_key_expired``, ``mode_mismatch``...). The account and
    mode are kept when the check answered them; a failing check is drift
    (``functional_check`` in ``Site.drift``). Flushes."""
    site = db.session.get(Site, site_id)
    if site is None:
        return
    site.functional_checked_at = utcnow()
    if functional in FUNCTIONAL_OK:
        site.functional_state, site.functional_error = functional, None
    else:
        site.functional_state, site.functional_error = "failed", functional[:64]
    if account_id is not None:
        site.stripe_account_id = account_id[:64]
    if livemode is not None:
        site.stripe_livemode = livemode
    drift = [s for s in (site.drift or []) if s != FUNCTIONAL_DRIFT]
    if site.functional_state == "failed":
        drift.append(FUNCTIONAL_DRIFT)
    site.drift = drift
    db.session.flush()


def claim_period(name: str, period: str) -> None:
    """Claim the run of periodic task ``name`` for ``period`` (e.g. ``2026-11-30T10:15``)
    (flushes).

    Every worker process runs Huey's periodic scheduler (a consumer started with
    periodic tasks on: ``dashboard worker`` and ``serve``'s worker alike), so with two
    workers a periodic task fires twice. The first to insert ``(name, period)`` into
    ``periodic_runs`` (unique) runs it; the others skip it.

    Raises:
        IntegrityError: another worker claimed that period first (when the caller
            commits, or at this flush).
    """
    db.session.add(PeriodicRun(name=name, period=period))
    db.session.flush()
