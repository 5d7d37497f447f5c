"""The site's configuration: the one place where the site reads ``os.environ``.

Order (STYLE.md, rule 6): defaults, then a ``.env`` file in the working directory
(python-dotenv; it never overrides the environment), then the environment, then the
``overrides`` given to :func:`load_config` (the CLI's options, a test's config). The
result is a plain dict that becomes ``app.config``; it is read-only after start-up.

Every option is declared once in ``OPTIONS``; a domain that needs a new one adds an
``Option`` line there (and a row in the README's configuration table). An environment
variable named ``SITE_...`` that is not declared, or a value that does not parse, stops
the site at start-up with a :class:`ConfigError` naming the variable (never its value).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dotenv import dotenv_values

from stripefleet.common.keys import MASTER_API_KEY, SETTINGS


class ConfigError(Exception):
    """A configuration value is unknown or malformed; the message says which and how to fix."""


@dataclass(frozen=True)
class Option:
    """One configuration option.

    Attributes:
        name: the environment variable, also the ``app.config`` key.
        parse: turns the raw string into the value; raises ValueError with a message
            that does not echo a secret.
        default: the value when the variable is absent (None: unset).
        help: one line for the README's configuration table.
    """

    name: str
    parse: Callable[[str], Any]
    default: Any
    help: str


def _text(raw: str) -> str:
    return raw.strip()


def _api_key(raw: str) -> str:
    value = raw.strip()
    if not SETTINGS[MASTER_API_KEY].pattern.fullmatch(value):
        raise ValueError("must be 16 to 256 characters among letters, digits and _-.~+/=")
    return value


def _non_negative_int(raw: str) -> int:
    try:
        value = int(raw.strip())
    except ValueError:
        raise ValueError("must be a whole number") from None
    if value < 0:
        raise ValueError("must be 0 or more")
    return value


def _bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError("must be 1/true/yes/on or 0/false/no/off")


def _database_url(raw: str) -> str:
    """Accept ``postgres://`` and ``postgresql://`` and select the psycopg 3 driver."""
    value = raw.strip()
    value = re.sub(r"^postgres(ql)?://", "postgresql+psycopg://", value)
    if not re.match(r"^(sqlite|postgresql\+psycopg)://", value):
        raise ValueError("must be a sqlite:/// or postgresql:// URL")
    return value


def _reservation_minutes(raw: str) -> int:
    """Minutes a Checkout Session (and its stock reservation) lives: Stripe accepts 30-1440."""
    value = _non_negative_int(raw)
    if not 30 <= value <= 1440:
        raise ValueError("must be between 30 and 1440 (Stripe's expires_at bounds)")
    return value


def _http_url(raw: str) -> str:
    value = raw.strip().rstrip("/")
    if not re.fullmatch(r"https?://[^\s/]+(/\S*)?", value):
        raise ValueError("must be an http:// or https:// URL")
    return value


def _launch_plans(raw: str) -> dict[str, int]:
    """``standard:4900,premium:9900`` -> ``{"standard": 4900, "premium": 9900}`` (cents)."""
    plans: dict[str, int] = {}
    for part in raw.split(","):
        name, _, amount = part.strip().partition(":")
        if not re.fullmatch(r"[a-z][a-z0-9_-]{0,31}", name) or not amount.strip().isdigit():
            raise ValueError("must be name:amount pairs in cents, e.g. standard:4900,premium:9900")
        plans[name] = int(amount)
    return plans


OPTIONS: tuple[Option, ...] = (
    Option("SITE_INSTANCE_DIR", _text, "instance",
           "the site's instance folder: SQLite database, generated encryption key"),
    Option("DATABASE_URL", _database_url, None,
           "database URL; default SQLite file `site.db` in the instance folder; "
           "`postgresql://...` selects PostgreSQL (psycopg 3)"),
    Option("TEMPLATE_MASTER_API_KEY", _api_key, None,
           "the fleet's API key the site accepts in `X-API-Key` (seed 002_); else the "
           "`template_master_api_key` row of `admin_settings`"),
    Option("STRIPEFLEET_ENCRYPTION_KEY", _text, None,
           "Fernet key ring (comma-separated, first encrypts) for secrets at rest; else "
           "generated once into `<instance>/encryption.key` (mode 0600)"),
    Option("SITE_RATELIMIT_STORAGE_URI", _text, "memory://",
           "Flask-Limiter storage for the failed API-key counter (`redis://...` to share "
           "it between worker processes)"),
    Option("SITE_TRUSTED_PROXIES", _non_negative_int, 0,
           "number of reverse proxies in front of the site whose X-Forwarded-For/-Proto "
           "are trusted (rate limiting keys on the client address)"),
    Option("SITE_DEBUG", _bool, False, "Flask debug mode (never in production)"),
    Option("STRIPE_API_BASE", _http_url, None,
           "base URL of the Stripe API the SDK calls (the emulator's URL); unset: Stripe's own"),
    Option("SITE_NAME", _text, "site",
           "this site's name in its Checkout Sessions' metadata (`site`), to tell its events "
           "from other sites' on a shared Stripe account"),
    Option("SITE_GUEST_CHECKOUT", _bool, False,
           "1: `POST /api/checkout/` and the cart accept customers without an account"),
    Option("SITE_RESERVATION_MINUTES", _reservation_minutes, 30,
           "life of a Checkout Session and of its stock reservation, 30-1440 minutes"),
    Option("SITE_SECRET_KEY", _text, None,
           "key signing the pages' session cookie; else generated once into "
           "`<instance>/session.key` (mode 0600)"),
    Option("SITE_LAUNCH_PLANS", _launch_plans, {"standard": 4900, "premium": 9900},
           "plans of `POST /saas_launch_site` (seed 002_) with their prices in cents (EUR)"),
)

#: Flask or extension keys a caller may also pass in ``overrides`` (tests).
PASS_THROUGH = frozenset({"TESTING", "SERVER_NAME", "RATELIMIT_ENABLED"})

#: Secret options: never shown, even in an error message.
SECRET_OPTIONS = frozenset({"TEMPLATE_MASTER_API_KEY", "STRIPEFLEET_ENCRYPTION_KEY",
                            "DATABASE_URL", "SITE_SECRET_KEY"})


def load_config(
    overrides: Mapping[str, Any] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    dotenv_path: Path | None = Path(".env"),
) -> dict[str, Any]:
    """The site's configuration as a dict (``app.config`` keys).

    Args:
        overrides: values that win over the environment; keys must be option names
            (or ``PASS_THROUGH``); a raw string is parsed like the environment's, any
            other value (None included) is taken as is.
        environ: the environment (default ``os.environ``).
        dotenv_path: a ``.env`` file read under the environment when it exists.

    Returns:
        Every option's value, plus the derived ``SQLALCHEMY_DATABASE_URI`` and
        ``INSTANCE_DIR`` (an absolute Path).

    Raises:
        ConfigError: an unknown ``SITE_...`` variable or override key, or a value that
            does not parse.
    """
    env: dict[str, str] = {}
    if dotenv_path is not None and dotenv_path.is_file():
        env.update({k: v for k, v in dotenv_values(dotenv_path).items() if v is not None})
    env.update(os.environ if environ is None else environ)

    known = {option.name for option in OPTIONS}
    unknown = sorted(k for k in env if k.startswith("SITE_") and k not in known)
    if unknown:
        raise ConfigError(
            f"unknown setting(s) {', '.join(unknown)}; the site knows "
            f"{', '.join(sorted(k for k in known if k.startswith('SITE_')))}"
        )
    bad_keys = sorted(set(overrides or {}) - known - PASS_THROUGH)
    if bad_keys:
        raise ConfigError(f"unknown configuration key(s) {', '.join(bad_keys)}")

    config: dict[str, Any] = {}
    for option in OPTIONS:
        if overrides and option.name in overrides:
            raw: Any = overrides[option.name]
        elif env.get(option.name, "").strip():
            raw = env[option.name]
        else:
            config[option.name] = option.default
            continue
        config[option.name] = _parse(option, raw) if isinstance(raw, str) else raw
    for key in PASS_THROUGH & set(overrides or {}):
        config[key] = (overrides or {})[key]

    instance_dir = Path(config["SITE_INSTANCE_DIR"]).expanduser().resolve()
    config["INSTANCE_DIR"] = instance_dir
    config["SQLALCHEMY_DATABASE_URI"] = (
        config["DATABASE_URL"] or f"sqlite:///{instance_dir / 'site.db'}"
    )
    return config


def _parse(option: Option, raw: str) -> Any:
    try:
        return option.parse(raw)
    except ValueError as exc:
        shown = "" if option.name in SECRET_OPTIONS else f" (got {raw.strip()[:40]!r})"
        raise ConfigError(f"{option.name} {exc}{shown}") from None


def config_table() -> list[tuple[str, str, str]]:
    """``(variable, default, meaning)`` rows for the README's configuration table."""
    return [(o.name, "" if o.default is None else str(o.default), o.help) for o in OPTIONS]
