"""The emulator's clock: real time plus an offset that the control API moves forward.

Every ``created``, ``expires_at`` and expiry check uses this clock, so a test can make
a Checkout Session expire with ``POST /_emulator/clock/advance`` instead of waiting.
Webhook signatures are the exception: their ``t=`` is real time, because receivers
check it against their own clock (the SDK's ``construct_event`` allows 300 s).
"""

from __future__ import annotations

import time


class Clock:
    """Unix time in seconds, shifted by ``offset`` seconds (never backwards).

    Args:
        offset: seconds added to the real time (restored from the state file).
    """

    def __init__(self, offset: int = 0) -> None:
        self.offset = int(offset)

    def now(self) -> int:
        """The emulator's current Unix time, in whole seconds (UTC)."""
        return int(time.time()) + self.offset

    def advance(self, seconds: int) -> int:
        """Move the clock forward by ``seconds`` (>= 0) and return the new time.

        Raises:
            ValueError: ``seconds`` is negative (the clock never goes back).
        """
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        self.offset += int(seconds)
        return self.now()
