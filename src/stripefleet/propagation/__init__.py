"""The propagation engine: push a setting to a fleet of sites, verify it, read it back.

Public API (README, "As a library"): :func:`propagate`, :func:`propagate_values`,
:func:`propagate_pair`, :func:`propagate_pair_values`, :func:`check_functional`,
:func:`verify`, :func:`read_settings`, :func:`read_stripe_health`, the values of
:mod:`.types`, and the callback types; the preflight checks in :mod:`.preflight`, the
batches of a rollout in :mod:`.batches`. Tests turn
backoff sleeps off with :func:`stripefleet.propagation.retry.testing`.
Importing this package imports neither Flask nor the CLI.
"""

from stripefleet.propagation.engine import (
    HealthCallback,
    ResultCallback,
    SnapshotCallback,
    check_functional,
    propagate,
    propagate_pair,
    propagate_pair_values,
    propagate_values,
    read_settings,
    read_stripe_health,
    verify,
)
from stripefleet.propagation.types import (
    ENGINE_DEFAULTS,
    FUNCTIONAL_NO_SECRET_KEY,
    FUNCTIONAL_UNAVAILABLE,
    KEY_PAIR,
    EngineDefaults,
    PushOptions,
    Recap,
    SharedSlots,
    SiteSnapshot,
    StripeHealth,
    Target,
    TargetResult,
    TargetState,
)

__all__ = [
    "ENGINE_DEFAULTS",
    "FUNCTIONAL_NO_SECRET_KEY",
    "FUNCTIONAL_UNAVAILABLE",
    "KEY_PAIR",
    "EngineDefaults",
    "HealthCallback",
    "PushOptions",
    "Recap",
    "ResultCallback",
    "SharedSlots",
    "SiteSnapshot",
    "SnapshotCallback",
    "StripeHealth",
    "Target",
    "TargetResult",
    "TargetState",
    "check_functional",
    "propagate",
    "propagate_pair",
    "propagate_pair_values",
    "propagate_values",
    "read_settings",
    "read_stripe_health",
    "verify",
]
