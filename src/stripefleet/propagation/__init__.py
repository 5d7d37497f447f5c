"""The propagation engine: push a setting to a fleet of sites, verify it, read it back.

Public API (README, "As a library"): :func:`propagate`, :func:`propagate_values`,
:func:`verify`, :func:`read_settings`, the values of :mod:`.types`, and the callback
types. Tests turn
backoff sleeps off with :func:`stripefleet.propagation.retry.testing`.
Importing this package imports neither Flask nor the CLI.
"""

from stripefleet.propagation.engine import (
    ResultCallback,
    SnapshotCallback,
    propagate,
    propagate_values,
    read_settings,
    verify,
)
from stripefleet.propagation.types import (
    ENGINE_DEFAULTS,
    EngineDefaults,
    PushOptions,
    Recap,
    SharedSlots,
    SiteSnapshot,
    Target,
    TargetResult,
    TargetState,
)

__all__ = [
    "ENGINE_DEFAULTS",
    "EngineDefaults",
    "PushOptions",
    "Recap",
    "ResultCallback",
    "SharedSlots",
    "SiteSnapshot",
    "SnapshotCallback",
    "Target",
    "TargetResult",
    "TargetState",
    "propagate",
    "propagate_values",
    "read_settings",
    "verify",
]
