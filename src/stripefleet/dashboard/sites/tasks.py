"""Huey tasks of the fleet: the periodic verification (health, drift, functional check).

``verify_fleet`` reads every enabled site's settings through the engine
(``stripefleet.propagation.read_settings``) and stores health, what each site holds
(fingerprints, masks) and drift (a value that differs from the one the dashboard last
pushed); then it runs the functional check (``propagation.check_functional``: each
site's ``POST /api/test-stripe``, the troubleshooting guide's "not only saved but also
functional") and stores the account, mode and outcome per site; a failing check is
drift. Drift or a failing check is notified (``DASHBOARD_NOTIFY_URLS``). It runs every
``VERIFY_INTERVAL_MINUTES`` (default 15) and on demand ("verify now"). A task is an
entry point: it commits, after each site.

The periodic run happens once per period whatever the number of workers: each worker's
scheduler fires it, and only the one that claims the period in the database
(``services.claim_period``, a unique row) runs it.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from flask import Flask, current_app
from huey import Huey, crontab
from sqlalchemy.exc import IntegrityError

from stripefleet.common.db import utcnow
from stripefleet.common.web import ApiError
from stripefleet.dashboard.extensions import db
from stripefleet.dashboard.sites import notices, services
from stripefleet.propagation import (
    PushOptions,
    SiteSnapshot,
    Target,
    TargetResult,
    TargetState,
    check_functional,
    read_settings,
)

#: Retries of a verification's read (fewer than a push's: the next verification reads again).
VERIFY_RETRIES = 1
#: The periodic verification's name in ``periodic_runs``.
PERIODIC_NAME = "verify_fleet"


def _schedule(minutes: int) -> Any:
    if minutes < 60:
        return crontab(minute=f"*/{minutes}")
    return crontab(minute="0", hour=f"*/{max(minutes // 60, 1)}")


def period_of(now: datetime, minutes: int) -> str:
    """The period ``now`` falls in, for a task every ``minutes``: its start, to the
    minute (``2026-11-30T10:15``), the same in every worker."""
    start = now.replace(second=0, microsecond=0)
    if minutes < 60:
        start = start.replace(minute=start.minute - start.minute % minutes)
    else:
        hours = max(minutes // 60, 1)
        start = start.replace(minute=0, hour=start.hour - start.hour % hours)
    return start.strftime("%Y-%m-%dT%H:%M")


def verify_fleet() -> int:
    """Read every enabled site once, then check each one's key works; store health,
    observed settings, drift and the functional check; notify drift and failures.

    Returns the number of sites read. Commits after each site.
    """
    by_url = {}
    targets = []
    for site in services.list_sites(enabled_only=True):
        try:
            key = services.api_key_for(site)
        except ApiError:
            services.record_snapshot(site, False, "missing_api_key", {}, {})
            continue
        by_url[site.url] = site.id
        targets.append(Target(url=site.url, api_key=key, name=site.name))
    db.session.commit()

    def on_snapshot(snap: SiteSnapshot) -> None:
        site_id = by_url.get(snap.url)
        site = services.get_site(site_id) if site_id else None
        if site is None:
            return
        services.record_snapshot(site, snap.ok, snap.error, snap.settings,
                                 services.last_pushed_fingerprints(site.id))
        db.session.commit()

    def on_result(result: TargetResult) -> None:
        site_id = by_url.get(result.url)
        if site_id is None:
            return
        outcome = result.functional or (
            "ok" if result.state is TargetState.OK else result.error or "failed")
        services.record_functional(site_id, outcome, account_id=result.account_id,
                                   livemode=result.livemode)
        db.session.commit()

    options = PushOptions(retries=VERIFY_RETRIES,
                          backoff_base=current_app.config["ENGINE_BACKOFF"])
    if targets:
        asyncio.run(read_settings(targets, options=options, on_snapshot=on_snapshot))
        asyncio.run(check_functional(targets, options=options, on_result=on_result))
        _announce(list(by_url.values()))
    return len(targets)


def _announce(site_ids: list[int]) -> None:
    """Notify the sites with drift or a failing functional check (names, settings and
    codes only). Commits (a failed delivery's audit row)."""
    lines = []
    for site_id in site_ids:
        site = services.get_site(site_id)
        problems = [name for name in (site.drift or []) if name != services.FUNCTIONAL_DRIFT]
        if problems:
            lines.append(f"- {site.name} ({site.url}): drift in {', '.join(problems)}")
        if site.functional_state == "failed":
            lines.append(f"- {site.name} ({site.url}): functional check failed "
                         f"({site.functional_error})")
    if not lines:
        return
    notices.send(f"Fleet verification: {len(lines)} problem(s)", "\n".join(lines),
                 path="/sites", subject="fleet")
    db.session.commit()


def verify_fleet_once_per_period(now: datetime | None = None) -> bool:
    """The periodic verification: run :func:`verify_fleet` when this worker claims the
    current period (``services.claim_period``); returns True when it ran here."""
    minutes = int(current_app.config["VERIFY_INTERVAL_MINUTES"])
    try:
        services.claim_period(PERIODIC_NAME, period_of(now or utcnow(), minutes))
        db.session.commit()  # the claim is visible to the other workers from here
    except IntegrityError:
        db.session.rollback()
        return False
    verify_fleet()
    return True


def register_site_tasks(huey: Huey, app: Flask) -> dict[str, Any]:
    """Register the fleet tasks on ``huey``, bound to ``app``; returns them by name."""

    @huey.task(name="verify_fleet")  # type: ignore[untyped-decorator]
    def verify_fleet_task() -> None:
        with app.app_context():
            try:
                verify_fleet()
            finally:
                db.session.remove()

    @huey.periodic_task(_schedule(int(app.config["VERIFY_INTERVAL_MINUTES"])),
                        name="verify_fleet_periodic")  # type: ignore[untyped-decorator]
    def verify_fleet_periodic() -> None:
        with app.app_context():
            try:
                verify_fleet_once_per_period()
            finally:
                db.session.remove()

    return {"verify_fleet": verify_fleet_task}
