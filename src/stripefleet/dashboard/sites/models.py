"""Sites of the fleet: base URL, name, tags, API key (encrypted), health and drift, and
the values the dashboard pushed to each (encrypted)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from stripefleet.common.db import NaiveUTCDateTime, utcnow
from stripefleet.dashboard.extensions import db, isoformat

ENVIRONMENTS = ("test", "prod")


class Site(db.Model):  # type: ignore[name-defined,misc]
    """One site of the fleet.

    ``api_key_enc`` is the site's own API key encrypted with the instance's key ring, or
    None to use the fleet's ``TEMPLATE_MASTER_API_KEY``. ``observed`` holds what the last
    verification read, per setting: ``{"fingerprint", "masked", "configured"}`` (and
    ``value`` for the publishable key, which is public). ``drift`` lists the settings
    whose observed fingerprint differs from the one the dashboard last pushed.
    ``stripe_account_id``/``stripe_livemode``/``functional_*``: the last functional check
    (the site's ``POST /api/test-stripe``: its secret key works, and on which account);
    ``functional_state`` is ``ok``, ``failed`` or ``unavailable`` (the site has no such
    endpoint), None before the first check.
    """

    __tablename__ = "sites"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(500), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    environment: Mapped[str] = mapped_column(String(8), default="test")
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    api_key_enc: Mapped[str | None] = mapped_column(Text, default=None)
    api_key_fingerprint: Mapped[str | None] = mapped_column(String(16), default=None)
    enabled: Mapped[bool] = mapped_column(default=True)
    health: Mapped[str] = mapped_column(String(16), default="unknown")
    health_error: Mapped[str | None] = mapped_column(String(64), default=None)
    observed: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    drift: Mapped[list[str]] = mapped_column(JSON, default=list)
    last_verified_at: Mapped[datetime | None] = mapped_column(NaiveUTCDateTime, default=None)
    created_at: Mapped[datetime] = mapped_column(NaiveUTCDateTime, default=utcnow)
    stripe_account_id: Mapped[str | None] = mapped_column(String(64), default=None)
    stripe_livemode: Mapped[bool | None] = mapped_column(default=None)
    functional_state: Mapped[str | None] = mapped_column(String(16), default=None)
    functional_error: Mapped[str | None] = mapped_column(String(64), default=None)
    functional_checked_at: Mapped[datetime | None] = mapped_column(NaiveUTCDateTime,
                                                                   default=None)

    @property
    def all_tags(self) -> list[str]:
        """The environment plus the free tags."""
        return [self.environment, *[t for t in (self.tags or []) if t != self.environment]]

    def as_dict(self) -> dict[str, object]:
        """JSON-ready; the API key only as its fingerprint."""
        return {
            "id": self.id, "url": self.url, "name": self.name,
            "environment": self.environment, "tags": list(self.tags or []),
            "enabled": self.enabled, "own_api_key": self.api_key_enc is not None,
            "api_key_fingerprint": self.api_key_fingerprint,
            "health": self.health, "health_error": self.health_error,
            "observed": self.observed or {}, "drift": list(self.drift or []),
            "last_verified_at": isoformat(self.last_verified_at),
            "stripe_account_id": self.stripe_account_id,
            "stripe_livemode": self.stripe_livemode,
            "functional_state": self.functional_state,
            "functional_error": self.functional_error,
            "functional_checked_at": isoformat(self.functional_checked_at),
        }


class PushedValue(db.Model):  # type: ignore[name-defined,misc]
    """A value the dashboard pushed to a site, which the site then held (encrypted).

    What a site was last given is the site's record: drift compares what a
    verification reads with the last fingerprint pushed, and rolling back a secret
    (secrets never leave a site) restores an earlier value found here by fingerprint.
    Rollouts write it (``services.record_push``); ``rollout_id`` names the rollout that
    pushed it (the ``rollouts`` table, by name only).
    """

    __tablename__ = "pushed_values"
    __table_args__ = (Index("ix_pushed_values_lookup", "site_id", "setting", "fingerprint"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    setting: Mapped[str] = mapped_column(String(64))
    value_enc: Mapped[str] = mapped_column(Text)
    fingerprint: Mapped[str] = mapped_column(String(16))
    rollout_id: Mapped[int] = mapped_column(ForeignKey("rollouts.id"))
    pushed_at: Mapped[datetime] = mapped_column(NaiveUTCDateTime, default=utcnow)


class PeriodicRun(db.Model):  # type: ignore[name-defined,misc]
    """One run of a periodic task for one period: the row is the run's claim.

    Every worker process runs Huey's periodic scheduler; the first to insert
    ``(name, period)`` runs the task for that period, the others find the row taken
    (the unique constraint) and skip it, so that the fleet is verified once per period
    whatever the number of workers (README, "The dashboard").
    """

    __tablename__ = "periodic_runs"
    __table_args__ = (UniqueConstraint("name", "period", name="uq_periodic_runs_period"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    period: Mapped[str] = mapped_column(String(32))
    started_at: Mapped[datetime] = mapped_column(NaiveUTCDateTime, default=utcnow)
