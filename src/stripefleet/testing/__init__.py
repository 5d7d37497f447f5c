"""Test helpers other parts share: :class:`FaultFleet`, a fault-injecting fake fleet.

Nothing here is used in production; it lives in the package so that every part's tests
(and the benchmark, as ``python -m stripefleet.testing.fleet``) can import it:
``from stripefleet.testing.fleet import FaultFleet`` (or ``from stripefleet.testing
import FaultFleet``; names load lazily, so that ``python -m stripefleet.testing.fleet``
runs cleanly).

Why lazily, not ``from stripefleet.testing.fleet import FaultFleet`` at the top: running
``python -m stripefleet.testing.fleet`` (the benchmark's fleet, and a test) imports this
package first; with the names imported here, ``fleet`` would already be in
``sys.modules`` when runpy runs it again as ``__main__`` (two copies of the module, and
runpy's ``RuntimeWarning: 'stripefleet.testing.fleet' found in sys.modules after import
of package 'stripefleet.testing' ...``, an error under ``-W error``).
"""

from __future__ import annotations

import importlib
from typing import Any

_NAMES = {
    "FaultFleet": "stripefleet.testing.fleet",
    "DEFAULT_API_KEY": "stripefleet.testing.fleet",
    "DEFAULT_SECRET_KEY": "stripefleet.testing.fleet",
    "Behaviour": "stripefleet.testing.behaviours",
    "KINDS": "stripefleet.testing.behaviours",
    "FakeSite": "stripefleet.testing.sites",
    "LoggedRequest": "stripefleet.testing.sites",
}

__all__ = sorted(_NAMES)


def __getattr__(name: str) -> Any:
    if name in _NAMES:
        # lazy: an import at the top would load fleet.py twice under ``python -m`` (above).
        return getattr(importlib.import_module(_NAMES[name]), name)
    raise AttributeError(f"module 'stripefleet.testing' has no attribute {name!r}")
