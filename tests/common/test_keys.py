"""``common.keys``: the seed 002_ formats, fingerprints and masks every part relies on."""

from __future__ import annotations

import hashlib

import pytest

from stripefleet.common.keys import (
    MASTER_API_KEY,
    PUBLISHABLE_KEY,
    SECRET_KEY,
    WEBHOOK_SECRET,
    InvalidValue,
    fingerprint,
    key_mode,
    mask,
    normalize_value,
)


@pytest.mark.parametrize(("setting", "raw", "expected"), [
    (PUBLISHABLE_KEY, "pk_test_51Habc", "pk_test_51Habc"),
    (PUBLISHABLE_KEY, "  pk_live_XYZ123\n", "pk_live_XYZ123"),
    (SECRET_KEY, "\tsk_test_abcDEF09 ", "sk_test_abcDEF09"),
    (WEBHOOK_SECRET, "whsec_abc123", "whsec_abc123"),
    (MASTER_API_KEY, "template-master-key-2025", "template-master-key-2025"),
])
def test_valid_values_are_trimmed(setting: str, raw: str, expected: str) -> None:
    """Surrounding white space is removed before the seed's pattern is applied."""
    assert normalize_value(setting, raw) == expected


@pytest.mark.parametrize(("setting", "raw", "code"), [
    (PUBLISHABLE_KEY, "pk_test_!", "invalid_publishable_key_format"),
    (PUBLISHABLE_KEY, "sk_test_abc", "invalid_publishable_key_format"),
    (PUBLISHABLE_KEY, "pk_test_51Hxxxx...", "invalid_publishable_key_format"),
    (SECRET_KEY, "sk_test_abc def", "invalid_secret_format"),
    (SECRET_KEY, "sk_prod_abc", "invalid_secret_format"),
    (SECRET_KEY, "rk_test_abc", "invalid_secret_format"),
    (WEBHOOK_SECRET, "whsec_ab-c", "invalid_webhook_secret_format"),
    (MASTER_API_KEY, "short", "invalid_api_key_format"),
])
def test_invalid_values_name_the_code_not_the_value(setting: str, raw: str, code: str) -> None:
    """A value off the seed's pattern raises InvalidValue with the stable code, and the
    message does not repeat the value."""
    with pytest.raises(InvalidValue) as caught:
        normalize_value(setting, raw)
    assert caught.value.code == code
    assert raw.strip() not in str(caught.value)


def test_fingerprint_is_16_hex_of_sha256() -> None:
    """The fingerprint is the first 16 hex characters of the value's UTF-8 SHA-256
    (issue 2, GET /api/export/settings)."""
    assert fingerprint("sk_test_abc") == hashlib.sha256(b"sk_test_abc").hexdigest()[:16]
    assert fingerprint("sk_test_abc") != fingerprint("sk_test_abd")


@pytest.mark.parametrize(("value", "masked"), [
    ("sk_test_abcdefghwxyz", "sk_test_...wxyz"),
    ("pk_live_abcdefghwxyz", "pk_live_...wxyz"),
    ("whsec_abcdefghwxyz", "whsec_...wxyz"),
    ("sk_test_short", "sk_test_..."),
    ("template-master-key-2025", "...2025"),
])
def test_mask_keeps_prefix_and_last_four(value: str, masked: str) -> None:
    """A mask shows the Stripe prefix and the last four characters, only when the rest
    is long enough that four characters reveal little."""
    assert mask(value) == masked


@pytest.mark.parametrize(("value", "mode"), [
    ("pk_test_abc", "test"), ("sk_live_abc", "live"), ("whsec_abc", None), (None, None),
])
def test_key_mode(value: str | None, mode: str | None) -> None:
    """test or live from a Stripe API key's prefix; None otherwise."""
    assert key_mode(value) == mode
