"""``common.crypto``: the MultiFernet key ring that encrypts secrets at rest."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from stripefleet.common.crypto import DecryptionError, SecretBox, load_or_create_ring


def test_round_trip_and_no_plaintext_in_token() -> None:
    """A value encrypts to a token that does not contain it, and decrypts back."""
    box = SecretBox(Fernet.generate_key().decode())
    token = box.encrypt("sk_test_secretValue123")
    assert "sk_test_secretValue123" not in token
    assert box.decrypt(token) == "sk_test_secretValue123"


def test_rotation_first_key_encrypts_every_key_decrypts() -> None:
    """With a new key put first, old tokens still decrypt, and rotate() moves them to
    the new key (cryptography's MultiFernet)."""
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    token = SecretBox(old).encrypt("whsec_abc")
    ring = SecretBox(f"{new},{old}")
    assert ring.decrypt(token) == "whsec_abc"
    assert SecretBox(new).decrypt(ring.rotate(token)) == "whsec_abc"


def test_wrong_ring_raises_without_leaking() -> None:
    """A token from another ring raises DecryptionError whose message holds neither the
    token nor the value."""
    token = SecretBox(Fernet.generate_key().decode()).encrypt("sk_test_leakMe")
    with pytest.raises(DecryptionError) as caught:
        SecretBox(Fernet.generate_key().decode()).decrypt(token)
    assert token not in str(caught.value) and "leakMe" not in str(caught.value)


@pytest.mark.parametrize("ring", ["", " , ", "not-a-key", "abc,def"])
def test_malformed_ring_is_refused(ring: str) -> None:
    """An empty ring or a malformed key fails at once, naming the position only."""
    with pytest.raises(ValueError) as caught:
        SecretBox(ring)
    if ring.strip(" ,"):
        assert "#1" in str(caught.value)


def test_ring_generated_once_into_instance_folder(tmp_path: Path) -> None:
    """Without a configured ring, one key is generated into encryption.key (0600) and
    the same ring comes back on the next start; a configured ring wins."""
    first = load_or_create_ring(tmp_path, None)
    assert load_or_create_ring(tmp_path, None) == first
    assert stat.S_IMODE((tmp_path / "encryption.key").stat().st_mode) == 0o600
    SecretBox(first)  # a valid ring
    assert load_or_create_ring(tmp_path, "configured") == "configured"
