"""Encryption at rest with ``cryptography``'s MultiFernet.

A key ring is one or more Fernet keys, comma-separated; the first encrypts, every key
decrypts, so a key is rotated by putting a new one first (cryptography's MultiFernet
documentation). The ring comes from ``STRIPEFLEET_ENCRYPTION_KEY`` (read by each app's
config module) or is generated once into the instance folder, mode 0600.
"""

from __future__ import annotations

from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from stripefleet.common.files import read_or_create_private

KEY_FILE_NAME = "encryption.key"


class DecryptionError(Exception):
    """A stored value could not be decrypted with any key of the ring.

    The message never contains the ciphertext or the plaintext.
    """


class SecretBox:
    """Encrypts and decrypts short strings (Stripe keys, API keys).

    Args:
        ring: Fernet keys (URL-safe base64, 32 bytes), comma-separated; the first
            encrypts.

    Raises:
        ValueError: the ring is empty or a key is malformed (the message names the
            position, not the key).
    """

    def __init__(self, ring: str) -> None:
        keys = [part.strip() for part in ring.split(",") if part.strip()]
        if not keys:
            raise ValueError("the encryption key ring is empty")
        fernets = []
        for index, key in enumerate(keys):
            try:
                fernets.append(Fernet(key.encode("ascii")))
            except (ValueError, UnicodeEncodeError) as exc:
                raise ValueError(
                    f"encryption key #{index + 1} is not a valid Fernet key "
                    "(32 url-safe base64-encoded bytes; make one with "
                    "`python -c 'from cryptography.fernet import Fernet; "
                    "print(Fernet.generate_key().decode())'`)"
                ) from exc
        self._fernet = MultiFernet(fernets)

    def encrypt(self, plaintext: str) -> str:
        """Encrypt ``plaintext``; returns a Fernet token (ASCII, starts with ``gAAAA``)."""
        return self._fernet.encrypt(plaintext.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str) -> str:
        """Decrypt a token made by any key of the ring.

        Raises:
            DecryptionError: no key of the ring decrypts it.
        """
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeError):
            raise DecryptionError(
                "a stored secret could not be decrypted: the encryption key ring "
                "does not hold the key it was encrypted with"
            ) from None

    def rotate(self, token: str) -> str:
        """Re-encrypt ``token`` with the ring's first key."""
        return self._fernet.rotate(token.encode("ascii")).decode("ascii")


def load_or_create_ring(instance_dir: Path, configured: str | None) -> str:
    """The key ring to use: ``configured`` when given, else the instance folder's file.

    When neither exists, a new Fernet key is generated and written to
    ``instance_dir/encryption.key`` with mode 0600 (``common.files``: never
    world-readable, never seen half-written, one winner when processes race).

    Args:
        instance_dir: the app's instance folder (created if missing).
        configured: the ring from the environment, or None.

    Returns:
        The ring, as a comma-separated string.
    """
    if configured:
        return configured
    return read_or_create_private(instance_dir / KEY_FILE_NAME,
                                  lambda: Fernet.generate_key().decode("ascii"))
