"""Setting names, Stripe key formats, fingerprints and masks.

The one source of truth for what a valid value looks like, shared by the site (which
validates what it receives), the engine and CLI (which validate before sending) and
the dashboard. The key formats are the troubleshooting guide's ("Key Format and
Validation": ``^pk_(test|live)_[A-Za-z0-9]+$``, ``^sk_(test|live)_[A-Za-z0-9]+$``); the
webhook signing secret's (``whsec_...``) is the one the shop's Stripe configuration notes
and Stripe's documentation give (https://docs.stripe.com/webhooks). README, section
'Pushing keys to the fleet' ("Values"), lists them.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Final

PUBLISHABLE_KEY: Final = "stripe_publishable_key"
SECRET_KEY: Final = "stripe_secret_key"
WEBHOOK_SECRET: Final = "stripe_webhook_secret"
MASTER_API_KEY: Final = "template_master_api_key"


@dataclass(frozen=True)
class SettingSpec:
    """What one setting accepts.

    Attributes:
        name: the setting's name, as in the site's URL and the ``admin_settings`` table.
        pattern: the full-match regular expression a (trimmed) value must satisfy.
        error_code: the stable error code the site answers when the value does not match.
        secret: True when the value must never be shown in clear (encrypted at rest,
            masked in output, never accepted on a command line).
        label: a human name for messages.
    """

    name: str
    pattern: re.Pattern[str]
    error_code: str
    secret: bool
    label: str


SETTINGS: Final[dict[str, SettingSpec]] = {
    PUBLISHABLE_KEY: SettingSpec(
        PUBLISHABLE_KEY,
        re.compile(r"pk_(test|live)_[A-Za-z0-9]+"),
        "invalid_publishable_key_format",
        False,
        "publishable key",
    ),
    SECRET_KEY: SettingSpec(
        SECRET_KEY,
        re.compile(r"sk_(test|live)_[A-Za-z0-9]+"),
        "invalid_secret_format",
        True,
        "secret key",
    ),
    WEBHOOK_SECRET: SettingSpec(
        WEBHOOK_SECRET,
        re.compile(r"whsec_[A-Za-z0-9]+"),
        "invalid_webhook_secret_format",
        True,
        "webhook signing secret",
    ),
    MASTER_API_KEY: SettingSpec(
        MASTER_API_KEY,
        # The fleet's API key: printable ASCII without spaces, 16 to 256 characters.
        re.compile(r"[A-Za-z0-9_\-.~+/=]{16,256}"),
        "invalid_api_key_format",
        True,
        "fleet API key",
    ),
}

#: The settings an operator pushes with ``stripefleet push`` (README, section 'Pushing
#: keys to the fleet').
STRIPE_SETTINGS: Final = (PUBLISHABLE_KEY, SECRET_KEY, WEBHOOK_SECRET)


class InvalidValue(ValueError):
    """A value does not match its setting's format.

    Attributes:
        code: the stable error code (``invalid_secret_format``, ...).
        setting: the setting's name.
    The message never contains the value itself.
    """

    def __init__(self, setting: str, code: str, message: str) -> None:
        super().__init__(message)
        self.setting = setting
        self.code = code


def normalize_value(setting: str, raw: str) -> str:
    """Trim and validate a value for ``setting``.

    Args:
        setting: one of ``SETTINGS``.
        raw: the value as received; surrounding white space is removed (the
            troubleshooting guide: "Ensure no whitespace or invisible characters").

    Returns:
        The trimmed value.

    Raises:
        KeyError: ``setting`` is not a known setting.
        InvalidValue: the trimmed value does not fully match the setting's pattern
            (inner white space or any other character included).
    """
    spec = SETTINGS[setting]
    value = raw.strip()
    if not spec.pattern.fullmatch(value):
        raise InvalidValue(setting, spec.error_code, _format_message(spec))
    return value


def _format_message(spec: SettingSpec) -> str:
    expected = {
        PUBLISHABLE_KEY: "pk_test_ or pk_live_ followed by letters and digits",
        SECRET_KEY: "sk_test_ or sk_live_ followed by letters and digits",
        WEBHOOK_SECRET: "whsec_ followed by letters and digits",
        MASTER_API_KEY: "16 to 256 characters among letters, digits and _-.~+/=",
    }[spec.name]
    return f"The {spec.label} is not in the expected format: {expected}."


def fingerprint(value: str) -> str:
    """The first 16 hex characters of the SHA-256 of ``value`` (UTF-8).

    Safe to show and to store: it identifies a value without revealing it (README,
    section 'A site': ``GET /api/export/settings``).
    """
    return hashlib.sha256(value.encode("utf-8")).hexdigest()[:16]


def mask(value: str) -> str:
    """Show a value without revealing it: its prefix and last four characters.

    ``sk_test_abcdefwxyz`` -> ``sk_test_...wxyz``; ``whsec_abcdwxyz`` -> ``whsec_...wxyz``;
    a value of 8 characters or fewer, or one without a Stripe prefix, keeps only its
    last four (``...wxyz``) or nothing (``...``).
    """
    match = re.match(r"^((?:pk|sk|rk)_(?:test|live)_|whsec_)", value)
    prefix = match.group(1) if match else ""
    rest = value[len(prefix):]
    tail = rest[-4:] if len(rest) > 8 else ""
    return f"{prefix}...{tail}"


def key_mode(value: str | None) -> str | None:
    """``test`` or ``live`` for a Stripe API key, None for anything else."""
    if not value:
        return None
    match = re.match(r"^(?:pk|sk|rk)_(test|live)_", value)
    return match.group(1) if match else None


def is_secret(setting: str) -> bool:
    """True when ``setting`` holds a secret (never shown, never on a command line)."""
    return SETTINGS[setting].secret
