"""Huey tasks of the fleet: the periodic verification (health and drift).

``verify_fleet`` reads every enabled site's settings through the engine
(``stripefleet.propagation.read_settings``) and stores health, what each site holds
(fingerprints, masks) and drift (a value that differs from the one the dashboard last
pushed). It runs every ``VERIFY_INTERVAL_MINUTES`` (default 15) and on demand ("verify
now"). A task is an entry point: it commits, after each site.
"""

from __future__ import annotations

import asyncio
from typing import Any

from flask import Flask, current_app
from huey import Huey, crontab

from stripefleet.common.web import ApiError
from stripefleet.dashboard.extensions import db
from stripefleet.dashboard.sites import services
from stripefleet.propagation import PushOptions, SiteSnapshot, Target, read_settings

#: Retries of a verification's read (fewer than a push's: the next verification reads again).
VERIFY_RETRIES = 1


def _schedule(minutes: int) -> Any:
    if minutes < 60:
        return crontab(minute=f"*/{minutes}")
    return crontab(minute="0", hour=f"*/{max(minutes // 60, 1)}")


def verify_fleet() -> int:
    """Read every enabled site once; store health, observed settings and drift.

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

    options = PushOptions(retries=VERIFY_RETRIES,
                          backoff_base=current_app.config["ENGINE_BACKOFF"])
    if targets:
        asyncio.run(read_settings(targets, options=options, on_snapshot=on_snapshot))
    return len(targets)


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
        verify_fleet_task.call_local()

    return {"verify_fleet": verify_fleet_task}
