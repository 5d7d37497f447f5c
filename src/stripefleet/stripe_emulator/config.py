"""The emulator's settings: what the ``stripe-emulator`` command's options set.

The emulator reads no environment variable; every setting is a command-line option
(``stripefleet stripe-emulator --help``) or an argument of :func:`create_app`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

#: The API version the emulator's objects follow: the one stripe-python 16.1 sends
#: (``stripe.api_version``), also written in every event's ``api_version``.
API_VERSION = "2026-10-28.endive"


@dataclass(frozen=True)
class EmulatorConfig:
    """Settings of one emulator process.

    Attributes:
        keys_file: the keys file (JSON, 0600).
        state_file: where the store is saved; None keeps it in memory only.
        public_url: the base of the pay page URLs (``url`` of a Checkout Session);
            None uses the address each API request came to.
        delivery_timeout: seconds a webhook endpoint has to answer one delivery.
        retry_delay: seconds before the first retry of a failed delivery; each next
            retry waits twice as long (Stripe's schedule spans 3 days; this one is
            compressed). 0 retries at once (tests).
        max_attempts: attempts per event and endpoint, the first one included.
        shuffle_deliveries: deliver events out of order (as Stripe may).
        shuffle_window: with shuffling, seconds the deliverer gathers events before
            sending them in a shuffled order.
        expiry_sweep_interval: seconds between checks for Checkout Sessions past
            ``expires_at`` (every API request checks too).
        save_interval: with a state file, seconds between saves of a changed store
            (it is also saved at shutdown).
    """

    keys_file: Path
    state_file: Path | None = None
    public_url: str | None = None
    delivery_timeout: float = 10.0
    retry_delay: float = 1.0
    max_attempts: int = 6
    shuffle_deliveries: bool = False
    shuffle_window: float = 0.5
    expiry_sweep_interval: float = 1.0
    save_interval: float = 0.2
