"""The CLI's configuration: the one place the propagation commands read ``os.environ``.

| variable | default | meaning |
|---|---|---|
| ``TEMPLATE_MASTER_API_KEY`` | (none) | the fleet's API key, sent as ``X-API-Key`` (seed 002_) |
| ``STRIPE_PUBLISHABLE_KEY`` | (none) | value for ``push``/``verify stripe_publishable_key`` |
| ``STRIPE_SECRET_KEY`` | (none) | value for ``stripe_secret_key`` (never on a command line) |
| ``STRIPE_WEBHOOK_SECRET`` | (none) | value for ``stripe_webhook_secret`` |
| ``STRIPEFLEET_HOME`` | ``~/.local/state/stripefleet`` | where ``history.jsonl`` lives |
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from stripefleet.common.keys import PUBLISHABLE_KEY, SECRET_KEY, WEBHOOK_SECRET

API_KEY_ENV: Final = "TEMPLATE_MASTER_API_KEY"
HOME_ENV: Final = "STRIPEFLEET_HOME"
DEFAULT_HOME: Final = "~/.local/state/stripefleet"
#: setting -> the environment variable its value may come from (issue 2, section 3).
VALUE_ENV: Final = {
    PUBLISHABLE_KEY: "STRIPE_PUBLISHABLE_KEY",
    SECRET_KEY: "STRIPE_SECRET_KEY",
    WEBHOOK_SECRET: "STRIPE_WEBHOOK_SECRET",
}


class ConfigError(ValueError):
    """A malformed environment variable; the message names it and says what to do."""


@dataclass(frozen=True)
class CliConfig:
    """What the commands take from the environment. Secrets are excluded from repr.

    Attributes:
        api_key: ``TEMPLATE_MASTER_API_KEY`` trimmed, or None when unset or empty.
        values: setting -> its value from the environment (only those set).
        home: the state folder (``STRIPEFLEET_HOME``), absolute.
        operator: the login name recorded in the history.
    """

    api_key: str | None = field(repr=False)
    values: Mapping[str, str] = field(repr=False)
    home: Path
    operator: str

    @property
    def history_path(self) -> Path:
        """``$STRIPEFLEET_HOME/history.jsonl``."""
        return self.home / "history.jsonl"


def load(environ: Mapping[str, str] | None = None) -> CliConfig:
    """Read the configuration from ``environ`` (default: ``os.environ``).

    Raises:
        ConfigError: ``STRIPEFLEET_HOME`` names something that is not a folder.
    """
    env = os.environ if environ is None else environ
    home = Path(env.get(HOME_ENV) or DEFAULT_HOME).expanduser().absolute()
    if home.exists() and not home.is_dir():
        raise ConfigError(f"{HOME_ENV}={home} is not a folder; point it at a folder "
                          "(it will hold history.jsonl).")
    api_key = (env.get(API_KEY_ENV) or "").strip() or None
    values = {setting: env[name] for setting, name in VALUE_ENV.items() if env.get(name)}
    try:
        operator = getpass.getuser()
    except (KeyError, OSError):
        operator = f"uid:{os.getuid()}"
    return CliConfig(api_key=api_key, values=values, home=home, operator=operator)
