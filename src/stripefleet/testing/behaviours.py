"""What one fake site of a :class:`~stripefleet.testing.fleet.FaultFleet` does wrong.

A behaviour is a kind plus a few knobs. Written as a string on the command line and in
tests: ``ok``, ``flaky`` (2 x 503 then ok), ``flaky:3``, ``flaky:3:500``,
``rate_limited`` (1 x 429 ``Retry-After: 1`` then ok), ``rate_limited:2:5``,
``hang``, ``refuse``, ``reset``, ``html``, ``bad_json``, ``incomplete``, ``liar``,
``unauthorized``, ``slow:200`` (200 ms per request), and the functional check's
failures: ``stripe_auth_failed``, ``api_key_expired``, ``stripe_unreachable`` (its
``POST /api/test-stripe`` answers so, whatever key it holds), ``old_site`` (a site from
before the functional check: 404 to ``POST /api/test-stripe`` and to ``PUT
/api/export/settings``, no ``account_id`` in ``GET /api/health/stripe``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

#: Every kind a fake site can have (README, "As a library": FaultFleet).
KINDS: Final = (
    "ok",            # the site settings API, in memory
    "flaky",         # ``failures`` x ``status`` (500/502/503/504), then ok
    "rate_limited",  # ``failures`` x 429 with ``Retry-After: retry_after``, then ok
    "hang",          # never answers (until the client gives up)
    "refuse",        # nothing listens: connection refused
    "reset",         # accepts, reads the request, resets the connection (RST)
    "html",          # 200 text/html to everything
    "bad_json",      # 200 application/json that is not JSON
    "incomplete",    # 200 {"success": true} without the promised fields
    "liar",          # 200 to a PUT, stores nothing
    "unauthorized",  # 401 invalid_api_key to everything
    "slow",          # ok, after ``latency_ms`` per request
    "lost",          # ``failures`` x: applies a PUT, then resets the connection (the
                     # answer is lost), then ok
    "stripe_auth_failed",  # POST /api/test-stripe: 502 stripe_auth_failed
    "api_key_expired",     # POST /api/test-stripe: 502 api_key_expired
    "stripe_unreachable",  # POST /api/test-stripe: 503 stripe_unreachable, Retry-After 1
    "old_site",      # no POST /api/test-stripe, no PUT /api/export/settings (404)
)

#: The kinds whose only fault is the answer to ``POST /api/test-stripe``.
STRIPE_FAILURES: Final = ("stripe_auth_failed", "api_key_expired", "stripe_unreachable")


@dataclass(frozen=True)
class Behaviour:
    """One fake site's behaviour.

    Attributes:
        kind: one of :data:`KINDS`.
        failures: ``flaky`` / ``rate_limited``: how many bad answers before it behaves.
        status: ``flaky``: the status of its bad answers.
        retry_after: ``rate_limited``: the ``Retry-After`` header sent (seconds, text).
        latency_ms: added to every request, milliseconds; None: the fleet's default.
    """

    kind: str = "ok"
    failures: int = 2
    status: int = 503
    retry_after: str = "1"
    latency_ms: float | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown behaviour {self.kind!r}; one of {', '.join(KINDS)}")

    @classmethod
    def parse(cls, text: str | Behaviour) -> Behaviour:
        """``"flaky:3:500"`` -> ``Behaviour("flaky", failures=3, status=500)``.

        Forms: ``KIND``, ``flaky[:FAILURES[:STATUS]]``,
        ``rate_limited[:FAILURES[:RETRY_AFTER]]``, ``slow[:MS]``.

        Raises:
            ValueError: an unknown kind or a malformed number.
        """
        if isinstance(text, Behaviour):
            return text
        kind, *args = text.strip().split(":")
        if kind == "flaky":
            return cls(kind, failures=int(args[0]) if args else 2,
                       status=int(args[1]) if len(args) > 1 else 503)
        if kind == "rate_limited":
            return cls(kind, failures=int(args[0]) if args else 1,
                       retry_after=args[1] if len(args) > 1 else "1")
        if kind == "lost":
            return cls(kind, failures=int(args[0]) if args else 1)
        if kind == "slow":
            return cls(kind, latency_ms=float(args[0]) if args else 200.0)
        if args:
            raise ValueError(f"behaviour {kind!r} takes no arguments")
        return cls(kind)
