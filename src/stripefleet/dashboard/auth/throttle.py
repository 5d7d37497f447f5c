"""The login's throttle: growing delays per account, a failure budget per address.

OWASP's Authentication Cheat Sheet ("Login Throttling", "Account Lockout":
https://cheatsheetseries.owasp.org/cheatsheets/Authentication_Cheat_Sheet.html) asks
for delays that grow with the failures rather than a hard lock that anyone who knows an
owner's email could trigger, counted per account and per address, and for the same
answer whatever the reason of a refusal.

- Per account (the ``users`` row, shared by every process): the first
  ``DASHBOARD_LOCKOUT_ATTEMPTS`` consecutive failures cost nothing; from then on the
  account waits :func:`account_delay` (30 s, doubling with each further failure, at
  most ``DASHBOARD_LOCKOUT_MINUTES``) before a password is checked again. A success
  resets it. ``auth.services.authenticate`` claims the row with one conditional UPDATE
  before checking, so that concurrent attempts are checked one at a time and never more
  than allowed.
- Per client address (across accounts, unknown ones included): at most
  2 x ``DASHBOARD_LOCKOUT_ATTEMPTS`` failures a minute and 4 x in
  ``DASHBOARD_LOCKOUT_MINUTES`` (moving windows, Flask-Limiter's ``limits``), counted
  in Redis when ``REDIS_URL`` is set (shared by every web process), in the process's
  memory otherwise. Past them the address gets 429 ``too_many_attempts`` with
  ``Retry-After``, whichever account it names.
"""

from __future__ import annotations

import math
import threading
import time
from datetime import timedelta

from flask import Flask, current_app
from limits import RateLimitItem, RateLimitItemPerMinute
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

#: The first wait of an account after ``LOCKOUT_ATTEMPTS`` failures; it doubles.
FIRST_DELAY = timedelta(seconds=30)
_NAMESPACE = "dashboard-login-failures"
_EXTENSION = "stripefleet_login_throttle"


def account_delay(failures: int, *, attempts: int, cap_minutes: int) -> timedelta | None:
    """How long an account waits after ``failures`` consecutive failed logins.

    None below ``attempts`` (``DASHBOARD_LOCKOUT_ATTEMPTS``); then 30 s, 60 s, 120 s...
    at most ``cap_minutes`` (``DASHBOARD_LOCKOUT_MINUTES``).
    """
    if failures < attempts:
        return None
    doublings = min(failures - attempts, 32)
    delay: timedelta = min(FIRST_DELAY * (2 ** doublings), timedelta(minutes=cap_minutes))
    return delay


class AddressThrottle:
    """Failed logins per client address, in two moving windows (see the module)."""

    def __init__(self, storage_uri: str, attempts: int, minutes: int) -> None:
        self.limiter = MovingWindowRateLimiter(storage_from_string(storage_uri))
        self.limits: list[RateLimitItem] = [
            RateLimitItemPerMinute(2 * attempts), RateLimitItemPerMinute(4 * attempts, minutes)]

    def retry_after(self, address: str) -> int | None:
        """Seconds until ``address`` may try again, or None when it may now."""
        waits = [self._wait(item, address) for item in self.limits
                 if not self.limiter.test(item, _NAMESPACE, address)]
        return max(waits) if waits else None

    def fail(self, address: str) -> int | None:
        """Record a failure of ``address`` (atomically with the check, per window).

        Returns:
            None when it still fitted, else the seconds to wait (``Retry-After``).
        """
        waits = [self._wait(item, address) for item in self.limits
                 if not self.limiter.hit(item, _NAMESPACE, address)]
        return max(waits) if waits else None

    def _wait(self, item: RateLimitItem, address: str) -> int:
        reset_at = self.limiter.get_window_stats(item, _NAMESPACE, address).reset_time
        return max(1, math.ceil(reset_at - time.time()))


_lock = threading.Lock()


def init_app(app: Flask) -> None:
    """Give ``app`` its address throttle (Redis at ``REDIS_URL``, else memory)."""
    app.extensions[_EXTENSION] = AddressThrottle(
        app.config.get("REDIS_URL") or "memory://", app.config["LOCKOUT_ATTEMPTS"],
        app.config["LOCKOUT_MINUTES"])


def address_throttle() -> AddressThrottle:
    """The current app's :class:`AddressThrottle` (made on first use if not wired)."""
    throttle: AddressThrottle | None = current_app.extensions.get(_EXTENSION)
    if throttle is None:
        with _lock:
            if _EXTENSION not in current_app.extensions:
                init_app(current_app)
            throttle = current_app.extensions[_EXTENSION]
    return throttle
