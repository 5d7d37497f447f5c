"""The emulator's API keys and the keys file.

At start the emulator loads the keys file (JSON, mode 0600); when it holds no key
pair, one test-mode pair is created and written (README, section 'The Stripe emulator',
"Keys"). The control API adds pairs and expires secret keys; each change is written back
at once.

File shape::

    {"keys": [{"secret_key": "sk_test_...", "publishable_key": "pk_test_...",
               "created": 1700000000, "expired": false}]}
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from stripefleet.common.keys import key_mode
from stripefleet.stripe_emulator.fileio import read_json, write_json_atomic
from stripefleet.stripe_emulator.ids import random_token

#: The keys file's name when no ``--keys-file`` is given (in the state file's folder,
#: or the working directory).
DEFAULT_KEYS_FILE = "stripe-emulator-keys.json"


@dataclass
class KeyPair:
    """A secret key and its publishable key.

    Attributes:
        secret_key: ``sk_test_...`` (or ``sk_live_...`` if a keys file holds one).
        publishable_key: ``pk_test_...``.
        created: Unix seconds.
        expired: True once expired through the control API: the secret key then
            answers 401 ``api_key_expired``.
    """

    secret_key: str
    publishable_key: str
    created: int
    expired: bool = False

    @property
    def livemode(self) -> bool:
        """True for live-mode keys."""
        return key_mode(self.secret_key) == "live"


class KeyStore:
    """The key pairs, backed by the keys file.

    Args:
        path: the keys file.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.pairs: list[KeyPair] = []

    def load_or_create(self, now: int) -> bool:
        """Load the keys file; create one test-mode pair when it holds none.

        Returns:
            True when a new pair was created (and written).

        Raises:
            ValueError: the file exists but is not a keys file (message names it).
        """
        if self.path.exists():
            data = read_json(self.path)
            try:
                self.pairs = [KeyPair(**item) for item in data["keys"]]
            except (KeyError, TypeError) as exc:
                raise ValueError(
                    f"{self.path} is not a keys file (expected {{\"keys\": [...]}})") from exc
        if self.pairs:
            return False
        self.create(now)
        return True

    def create(self, now: int) -> KeyPair:
        """Create, store and write a new test-mode key pair."""
        suffix = random_token(32)
        pair = KeyPair(f"sk_test_{suffix}", f"pk_test_{random_token(32)}", now)
        self.pairs.append(pair)
        self.save()
        return pair

    def save(self) -> None:
        """Write the keys file atomically with mode 0600."""
        write_json_atomic(self.path, {"keys": [asdict(p) for p in self.pairs]})

    def find(self, key: str) -> tuple[KeyPair, str] | None:
        """The pair holding ``key`` and which kind it is (``"secret"``/``"publishable"``)."""
        for pair in self.pairs:
            if pair.secret_key == key:
                return pair, "secret"
            if pair.publishable_key == key:
                return pair, "publishable"
        return None

    def expire(self, secret_key: str) -> KeyPair | None:
        """Mark ``secret_key`` expired and write the file; None when unknown."""
        found = self.find(secret_key)
        if found is None or found[1] != "secret":
            return None
        found[0].expired = True
        self.save()
        return found[0]
