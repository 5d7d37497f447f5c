"""The CLI's configuration: its declared options, read by ``common.config``.

The propagation commands read ``os.environ`` here only, through
:func:`stripefleet.common.config.load_options`: defaults, then a ``.env`` file in the
working directory (it never overrides the environment), then the environment. A value
that does not parse stops the command (exit 2) with a message naming the variable,
never a secret's value. The variables (README, "Configuration"):

| variable | default | meaning |
|---|---|---|
| ``TEMPLATE_MASTER_API_KEY`` | (none) | the fleet's API key, sent as ``X-API-Key`` |
| ``STRIPE_PUBLISHABLE_KEY`` | (none) | value for ``push``/``verify stripe_publishable_key`` |
| ``STRIPE_SECRET_KEY`` | (none) | value for ``stripe_secret_key`` (never on a command line) |
| ``STRIPE_WEBHOOK_SECRET`` | (none) | value for ``stripe_webhook_secret`` |
| ``STRIPEFLEET_HOME`` | ``~/.local/state/stripefleet`` | where ``history.jsonl`` lives |
| ``STRIPE_API_BASE`` | Stripe's | the preflight's Stripe API base (the emulator) |
| ``STRIPE_PREVIOUS_SECRET_KEY`` | (none) | the secret key a rollback on halt restores |
| ``STRIPE_PREVIOUS_PUBLISHABLE_KEY`` | (none) | a pair rollback's publishable key |
| ``STRIPEFLEET_NOTIFY_URLS`` | (none) | Apprise URLs, comma separated |
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from stripefleet.common.config import (
    ConfigError,
    Option,
    http_url,
    load_options,
    option_table,
    text,
)
from stripefleet.common.keys import PUBLISHABLE_KEY, SECRET_KEY, WEBHOOK_SECRET

__all__ = ["API_KEY_ENV", "HOME_ENV", "NOTIFY_ENV", "OPTIONS", "PREVIOUS_ENV",
           "STRIPE_API_BASE_ENV", "VALUE_ENV", "CliConfig", "ConfigError", "config_table",
           "load"]

API_KEY_ENV: Final = "TEMPLATE_MASTER_API_KEY"
HOME_ENV: Final = "STRIPEFLEET_HOME"
DEFAULT_HOME: Final = "~/.local/state/stripefleet"
#: setting -> the environment variable its value may come from.
VALUE_ENV: Final = {
    PUBLISHABLE_KEY: "STRIPE_PUBLISHABLE_KEY",
    SECRET_KEY: "STRIPE_SECRET_KEY",
    WEBHOOK_SECRET: "STRIPE_WEBHOOK_SECRET",
}
STRIPE_API_BASE_ENV: Final = "STRIPE_API_BASE"
NOTIFY_ENV: Final = "STRIPEFLEET_NOTIFY_URLS"
#: setting -> the variable holding the value a rollback on halt restores.
PREVIOUS_ENV: Final = {
    SECRET_KEY: "STRIPE_PREVIOUS_SECRET_KEY",
    PUBLISHABLE_KEY: "STRIPE_PREVIOUS_PUBLISHABLE_KEY",
}


def _url_list(raw: str) -> tuple[str, ...]:
    """Comma-separated URLs, blanks dropped."""
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def _folder(raw: str) -> Path:
    """The state folder, absolute (``~`` expanded); refused when it is not a folder."""
    home = Path(raw.strip()).expanduser().absolute()
    if home.exists() and not home.is_dir():
        raise ValueError("is not a folder; point it at a folder (it will hold history.jsonl)")
    return home


OPTIONS: tuple[Option, ...] = (
    Option(API_KEY_ENV, text, None,
           "the fleet's API key, sent as `X-API-Key`; environment only, never a "
           "command-line option", secret=True),
    Option(VALUE_ENV[PUBLISHABLE_KEY], text, None,
           "value for `push`/`verify stripe_publishable_key` when neither `--value` nor "
           "`--value-stdin` is given"),
    Option(VALUE_ENV[SECRET_KEY], text, None,
           "value for `push`/`verify stripe_secret_key` (or `--value-stdin`; never `--value`)",
           secret=True),
    Option(VALUE_ENV[WEBHOOK_SECRET], text, None,
           "value for `push`/`verify stripe_webhook_secret` (or `--value-stdin`; never "
           "`--value`)", secret=True),
    Option(HOME_ENV, _folder, None,
           f"folder of the CLI's `history.jsonl` (folder 0700, file 0600); `{DEFAULT_HOME}` "
           "when unset"),
    Option(STRIPE_API_BASE_ENV, http_url, None,
           "Stripe's API base URL for the preflight's `GET /v1/account` (the emulator's "
           "URL); Stripe's own when unset"),
    Option(PREVIOUS_ENV[SECRET_KEY], text, None,
           "the secret key a rollback on halt restores (a site never gives its secret back)",
           secret=True),
    Option(PREVIOUS_ENV[PUBLISHABLE_KEY], text, None,
           "the publishable key a key pair's rollback on halt restores where the site's "
           "own previous one is not known"),
    Option(NOTIFY_ENV, _url_list, None,
           "Apprise URLs notified when a push does not fully succeed, halts or rolls back "
           "(comma separated; added to `--notify`)", secret=True),
)


@dataclass(frozen=True)
class CliConfig:
    """What the commands take from the environment. Secrets are excluded from repr.

    Attributes:
        api_key: ``TEMPLATE_MASTER_API_KEY`` trimmed, or None when unset or empty.
        values: setting -> its value from the environment (only those set).
        home: the state folder (``STRIPEFLEET_HOME``), absolute.
        operator: the login name recorded in the history.
        stripe_api_base: ``STRIPE_API_BASE``, or None (Stripe's own).
        previous: setting -> the value a rollback on halt restores (only those set).
        notify_urls: ``STRIPEFLEET_NOTIFY_URLS``' Apprise URLs.
    """

    api_key: str | None = field(repr=False)
    values: Mapping[str, str] = field(repr=False)
    home: Path
    operator: str
    stripe_api_base: str | None = None
    previous: Mapping[str, str] = field(default_factory=dict, repr=False)
    notify_urls: tuple[str, ...] = field(default=(), repr=False)

    @property
    def history_path(self) -> Path:
        """``$STRIPEFLEET_HOME/history.jsonl``."""
        return self.home / "history.jsonl"


def load(environ: Mapping[str, str] | None = None, *,
         dotenv_path: Path | None = Path(".env")) -> CliConfig:
    """Read the configuration (see the module docstring).

    Args:
        environ: the environment (default ``os.environ``).
        dotenv_path: a ``.env`` file read under the environment when it exists.

    Raises:
        ConfigError: a variable that does not parse (``STRIPEFLEET_HOME`` naming
            something that is not a folder).
    """
    # No prefix: the CLI reads the fleet's shared variables and refuses none as unknown.
    config = load_options(OPTIONS, prefix=None, environ=environ, dotenv_path=dotenv_path)
    home = config[HOME_ENV]
    if home is None:
        try:
            home = _folder(DEFAULT_HOME)
        except ValueError as exc:
            raise ConfigError(f"{DEFAULT_HOME} {exc}; or set {HOME_ENV}") from None
    values = {setting: config[name] for setting, name in VALUE_ENV.items() if config[name]}
    try:
        operator = getpass.getuser()
    except (KeyError, OSError):
        operator = f"uid:{os.getuid()}"
    previous = {setting: config[name] for setting, name in PREVIOUS_ENV.items()
                if config[name]}
    return CliConfig(api_key=config[API_KEY_ENV] or None, values=values, home=home,
                     operator=operator, stripe_api_base=config[STRIPE_API_BASE_ENV],
                     previous=previous, notify_urls=config[NOTIFY_ENV] or ())


def config_table() -> list[tuple[str, str, str]]:
    """``(variable, default, meaning)`` rows for the README's configuration table."""
    return option_table(OPTIONS)
