"""History: every rollout as an export row (CSV or JSON; fingerprints only)."""

from __future__ import annotations

from stripefleet.dashboard.rollouts.models import Rollout
from stripefleet.dashboard.rollouts.services import list_rollouts

EXPORT_FIELDS = ("id", "kind", "setting", "value_fingerprint", "value_masked", "state",
                 "created_by", "created_at", "started_at", "finished_at", "total",
                 "parent_id", "recap")


def rows(*, setting: str | None = None, state: str | None = None,
         limit: int = 10000) -> list[dict[str, object]]:
    """Rollouts newest first as export rows; ``recap`` as ``ok=.. changed=..``."""
    result = []
    for rollout in list_rollouts(setting=setting, state=state, limit=limit):
        row = rollout.as_dict()
        row["recap"] = recap_line(rollout)
        result.append(row)
    return result


def recap_line(rollout: Rollout) -> str:
    """``ok=1 changed=2 failed=0 ...`` (only non-zero counts), "" before the end."""
    if not rollout.recap:
        return ""
    return " ".join(f"{k}={v}" for k, v in rollout.recap.items() if v)
