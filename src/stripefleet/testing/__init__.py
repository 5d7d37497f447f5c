"""Test helpers other parts share: :class:`FaultFleet`, a fault-injecting fake fleet.

Nothing here is used in production; it lives in the package so that every part's tests
(and the benchmark, as ``python -m stripefleet.testing.fleet``) can import it:
``from stripefleet.testing.fleet import FaultFleet`` (or ``from stripefleet.testing
import FaultFleet``; names load lazily, so that ``python -m stripefleet.testing.fleet``
runs cleanly).
"""

from __future__ import annotations

import importlib
from typing import Any

_NAMES = {
    "FaultFleet": "stripefleet.testing.fleet",
    "DEFAULT_API_KEY": "stripefleet.testing.fleet",
    "Behaviour": "stripefleet.testing.behaviours",
    "KINDS": "stripefleet.testing.behaviours",
    "FakeSite": "stripefleet.testing.sites",
    "LoggedRequest": "stripefleet.testing.sites",
}

__all__ = sorted(_NAMES)


def __getattr__(name: str) -> Any:
    if name in _NAMES:
        return getattr(importlib.import_module(_NAMES[name]), name)
    raise AttributeError(f"module 'stripefleet.testing' has no attribute {name!r}")
