"""Imports every domain's models, so that SQLAlchemy and Alembic see all tables."""

from stripefleet.dashboard.audit.models import AuditEvent
from stripefleet.dashboard.auth.models import ApiToken, User
from stripefleet.dashboard.rollouts.models import Rollout, RolloutTarget
from stripefleet.dashboard.sites.models import PushedValue, Site

__all__ = ["ApiToken", "AuditEvent", "PushedValue", "Rollout", "RolloutTarget", "Site", "User"]
