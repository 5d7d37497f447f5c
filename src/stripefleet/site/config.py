"""The site's configuration: its declared options, read by ``common.config``.

Order: defaults, then a ``.env`` file in the working directory (it never overrides the
environment), then the environment, then the ``overrides`` given to :func:`load_config`
(the CLI's options, a test's config). The result is a plain dict that becomes
``app.config``; it is read-only after start-up.

Every option is declared once in ``OPTIONS``; a domain that needs a new one adds an
``Option`` line there (and a row in the README's configuration table). An environment
variable named ``SITE_...`` that is not declared, or a value that does not parse, stops
the site at start-up with a :class:`ConfigError` naming the variable (never its value).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from stripefleet.common.config import (
    ConfigError,
    Option,
    api_key,
    boolean,
    database_url,
    http_url,
    load_options,
    non_negative_int,
    option_table,
    text,
)

__all__ = ["OPTIONS", "ConfigError", "Option", "config_table", "load_config"]


def _reservation_minutes(raw: str) -> int:
    """Minutes a Checkout Session (and its stock reservation) lives: Stripe accepts 30-1440."""
    value = non_negative_int(raw)
    if not 30 <= value <= 1440:
        raise ValueError("must be between 30 and 1440 (Stripe's expires_at bounds)")
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
    Option("SITE_INSTANCE_DIR", text, "instance",
           "the site's instance folder: SQLite database, generated encryption key"),
    Option("DATABASE_URL", database_url, None,
           "database URL; default SQLite file `site.db` in the instance folder; "
           "`postgresql://...` selects PostgreSQL (psycopg 3)", secret=True),
    Option("TEMPLATE_MASTER_API_KEY", api_key, None,
           "the fleet's API key the site accepts in `X-API-Key`; else the "
           "`template_master_api_key` row of `admin_settings`", secret=True),
    Option("STRIPEFLEET_ENCRYPTION_KEY", text, None,
           "Fernet key ring (comma-separated, first encrypts) for secrets at rest; else "
           "generated once into `<instance>/encryption.key` (mode 0600)", secret=True),
    Option("SITE_RATELIMIT_STORAGE_URI", text, "memory://",
           "Flask-Limiter storage for the failed API-key counter (`redis://...` to share "
           "it between worker processes)"),
    Option("SITE_TRUSTED_PROXIES", non_negative_int, 0,
           "number of reverse proxies in front of the site whose X-Forwarded-For/-Proto "
           "are trusted (rate limiting keys on the client address)"),
    Option("SITE_DEBUG", boolean, False, "Flask debug mode (never in production)"),
    Option("STRIPE_API_BASE", http_url, None,
           "base URL of the Stripe API the SDK calls (the emulator's URL); unset: Stripe's own"),
    Option("SITE_NAME", text, "site",
           "this site's name in its Checkout Sessions' metadata (`site`), to tell its events "
           "from other sites' on a shared Stripe account"),
    Option("SITE_GUEST_CHECKOUT", boolean, False,
           "1: `POST /api/checkout/` and the cart accept customers without an account"),
    Option("SITE_RESERVATION_MINUTES", _reservation_minutes, 30,
           "life of a Checkout Session and of its stock reservation, 30-1440 minutes"),
    Option("SITE_SECRET_KEY", text, None,
           "key signing the pages' session cookie; else generated once into "
           "`<instance>/session.key` (mode 0600)", secret=True),
    Option("SITE_LAUNCH_PLANS", _launch_plans, {"standard": 4900, "premium": 9900},
           "plans of `POST /saas_launch_site` with their prices in cents (EUR)"),
)

#: Flask or extension keys a caller may also pass in ``overrides`` (tests).
PASS_THROUGH = frozenset({"TESTING", "SERVER_NAME", "RATELIMIT_ENABLED"})


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
    config = load_options(OPTIONS, prefix="SITE_", overrides=overrides,
                          pass_through=PASS_THROUGH, environ=environ, dotenv_path=dotenv_path)
    instance_dir = Path(config["SITE_INSTANCE_DIR"]).expanduser().resolve()
    config["INSTANCE_DIR"] = instance_dir
    config["SQLALCHEMY_DATABASE_URI"] = (
        config["DATABASE_URL"] or f"sqlite:///{instance_dir / 'site.db'}"
    )
    return config


def config_table() -> list[tuple[str, str, str]]:
    """``(variable, default, meaning)`` rows for the README's configuration table."""
    return option_table(OPTIONS)
