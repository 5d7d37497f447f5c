"""The dashboard's configuration: its declared options, read by ``common.config``.

Order: defaults, then a ``.env`` file in the working directory (it never overrides the
environment), then the environment, then the ``overrides`` given to :func:`load_config`
(the CLI's and the tests' ``create_app(config)``). The result is a plain dict that
becomes ``app.config``.

Every variable is declared once in :data:`OPTIONS` (README, section "Configuration"),
with the ``app.config`` key it sets (``DASHBOARD_CHUNK_SIZE`` -> ``CHUNK_SIZE``). An
environment variable named ``DASHBOARD_...`` that is not declared, an override key that
is neither an option nor in :data:`PASS_THROUGH`, or a value that does not parse stops
the start with a :class:`ConfigError` naming the variable (never a secret's value).

Derived at load, in the instance folder when not given: the SQLite database
``dashboard.db``, the session key ``secret_key`` and the encryption key ring
``encryption.key`` (both generated once, mode 0600).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
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
    non_negative_float,
    non_negative_int,
    option_table,
    positive_int,
    text,
)
from stripefleet.common.crypto import load_or_create_ring
from stripefleet.common.db import engine_options
from stripefleet.common.files import read_or_create_private
from stripefleet.embed.settings import parse_sites_list as _sites_list

__all__ = ["OPTIONS", "PASS_THROUGH", "ConfigError", "config_table", "load_config",
           "parse_notify_urls", "parse_sites_list"]


def parse_notify_urls(raw: str | Iterable[str] | None) -> tuple[str, ...]:
    """Apprise URLs from ``DASHBOARD_NOTIFY_URLS``: comma separated, or a list.

    Blank entries dropped. Each must look like ``scheme://...`` (Apprise's form:
    https://github.com/caronc/apprise/wiki).

    Raises:
        ValueError: an entry without a scheme (the message never echoes it: the URLs
            carry tokens).
    """
    if raw is None:
        return ()
    items = raw.split(",") if isinstance(raw, str) else list(raw)
    urls = tuple(item.strip() for item in items if item and item.strip())
    for number, url in enumerate(urls, start=1):
        scheme, sep, rest = url.partition("://")
        if not sep or not scheme.isidentifier() or not rest:
            raise ValueError(f"entry {number} is not an Apprise URL (scheme://...)")
    return urls


SECRET_KEY_FILE = "secret_key"
DEFAULT_INSTANCE_DIR = Path("instance") / "dashboard"

OPTIONS: tuple[Option, ...] = (
    Option("DASHBOARD_INSTANCE_DIR", text, None,
           "default of every `dashboard` command's `--instance-dir` (./instance/dashboard)",
           key="INSTANCE_DIR"),
    Option("DATABASE_URL", database_url, None,
           "the dashboard's database; default SQLite `dashboard.db` in the instance folder; "
           "`postgresql://...` uses psycopg 3", key="SQLALCHEMY_DATABASE_URI", secret=True),
    Option("REDIS_URL", text, None,
           "the job queue on Redis, shared by every `dashboard worker`; default Huey on "
           "SQLite `huey.db` in the instance folder", secret=True),
    Option("TEMPLATE_MASTER_API_KEY", api_key, None,
           "the fleet's API key, sent as `X-API-Key` to sites without a key of their own",
           secret=True),
    Option("TEMPLATE_SITES_LIST", _sites_list, None,
           "site base URLs, comma or newline separated, registered at `serve`/`web` start "
           "(the embeddable propagation blueprint's setting)"),
    Option("STRIPEFLEET_ENCRYPTION_KEY", text, None,
           "Fernet key ring for site API keys and pushed values; default generated "
           "`encryption.key` in the instance folder", secret=True),
    Option("DASHBOARD_SECRET_KEY", text, None,
           "Flask's session key; default generated `secret_key` in the instance folder",
           key="SECRET_KEY", secret=True),
    Option("DASHBOARD_VERIFY_INTERVAL_MINUTES", positive_int, 15,
           "period of the fleet verification (health, drift, functional check)",
           key="VERIFY_INTERVAL_MINUTES"),
    Option("DASHBOARD_CHUNK_SIZE", positive_int, 200,
           "targets per Huey task of a rollout", key="CHUNK_SIZE"),
    Option("DASHBOARD_LEASE_SECONDS", positive_int, 30,
           "a worker's hold on its targets without heartbeat; then another worker resumes "
           "them", key="LEASE_SECONDS"),
    Option("DASHBOARD_LOCKOUT_ATTEMPTS", positive_int, 5,
           "consecutive failed logins of an account before it must wait (30 s, doubling "
           "with each further failure); an address may fail twice as many a minute",
           key="LOCKOUT_ATTEMPTS"),
    Option("DASHBOARD_LOCKOUT_MINUTES", positive_int, 15,
           "the longest wait an account's failed logins impose, in minutes",
           key="LOCKOUT_MINUTES"),
    Option("DASHBOARD_SECURE_COOKIES", boolean, None,
           "`Secure` flag of the session cookie; default true (false on loopback HTTP)",
           key="SESSION_COOKIE_SECURE"),
    Option("DASHBOARD_ENGINE_BACKOFF", non_negative_float, 0.5,
           "first retry backoff of the dashboard's pushes, seconds (0: no backoff, tests)",
           key="ENGINE_BACKOFF"),
    Option("DASHBOARD_NOTIFY_URLS", parse_notify_urls, (),
           "Apprise URLs, comma separated (`json://host/path`, `mailto://...`, ...), told "
           "when a rollout halts, waits for approval, ends other than `succeeded` or is "
           "rolled back, and when a verification finds drift or a failing key",
           key="NOTIFY_URLS", secret=True),
    Option("DASHBOARD_URL", http_url, None,
           "the dashboard's public base URL, for links in notifications", key="PUBLIC_URL"),
    Option("STRIPE_API_BASE", http_url, None,
           "Stripe's API base for the preflight's `GET /v1/account` (the emulator's URL); "
           "default Stripe's own"),
    Option("DASHBOARD_TRUSTED_PROXIES", non_negative_int, 0,
           "reverse proxies in front of the dashboard whose `X-Forwarded-*` headers are "
           "trusted (the audit log's client address)", key="TRUSTED_PROXIES"),
)

#: Keys an override may set besides the options: Flask's ``TESTING``, the queue's
#: testing switch ``HUEY_IMMEDIATE`` (tasks run at once, in the caller) and
#: ``LOOPBACK_HTTP`` (set by ``serve``/``web`` on a loopback address: cookies not Secure).
PASS_THROUGH = frozenset({"TESTING", "HUEY_IMMEDIATE", "LOOPBACK_HTTP"})

#: Flask and extension settings the dashboard always uses.
FIXED: dict[str, Any] = {
    "HUEY_IMMEDIATE": False,
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "REMEMBER_COOKIE_HTTPONLY": True,
    "WTF_CSRF_CHECK_DEFAULT": False,  # checked in auth.security for non-token requests
    "WTF_CSRF_TIME_LIMIT": None,
}


def parse_sites_list(raw: str | Iterable[str] | None) -> list[str]:
    """Site base URLs from ``TEMPLATE_SITES_LIST``: comma or newline separated, or a list.

    Blank entries and surrounding white space are dropped; trailing slashes removed.

    Raises:
        ConfigError: an entry is not an ``http://`` or ``https://`` URL.
    """
    try:
        return _sites_list(raw)
    except ValueError as exc:
        raise ConfigError(f"TEMPLATE_SITES_LIST {exc}") from None


def load_config(
    instance_dir: Path | str | None = None,
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    *,
    dotenv_path: Path | None = Path(".env"),
) -> dict[str, Any]:
    """The dashboard's settings as a Flask config mapping.

    Args:
        instance_dir: the instance folder (databases, generated keys); else the
            ``INSTANCE_DIR`` override, ``DASHBOARD_INSTANCE_DIR``, or
            ``./instance/dashboard``.
        overrides: values set last, keyed by option name or ``app.config`` key, or one
            of :data:`PASS_THROUGH`; a string is parsed like the environment's, any
            other value (None: the default) is taken as is.
        environ: the environment to read; ``os.environ`` by default.
        dotenv_path: a ``.env`` file read under the environment when it exists.

    Returns:
        Keys ``INSTANCE_DIR``, ``SQLALCHEMY_DATABASE_URI``, ``SQLALCHEMY_ENGINE_OPTIONS``,
        ``REDIS_URL``, ``TEMPLATE_MASTER_API_KEY``, ``TEMPLATE_SITES_LIST`` (list of
        URLs), ``ENCRYPTION_RING``, ``SECRET_KEY``, the ``DASHBOARD_*`` settings by their
        keys, and Flask's (:data:`FIXED`).

    Raises:
        ConfigError: an unknown ``DASHBOARD_*`` variable or override key, or a malformed
            value.
    """
    config = dict(FIXED)
    config.update(load_options(OPTIONS, prefix="DASHBOARD_", overrides=overrides,
                               pass_through=PASS_THROUGH, environ=environ,
                               dotenv_path=dotenv_path))
    folder = Path(instance_dir or config["INSTANCE_DIR"] or DEFAULT_INSTANCE_DIR)
    folder = folder.expanduser().resolve()
    config["INSTANCE_DIR"] = str(folder)
    url = config["SQLALCHEMY_DATABASE_URI"] or f"sqlite:///{folder / 'dashboard.db'}"
    config["SQLALCHEMY_DATABASE_URI"] = url
    # PostgreSQL connections are pinged after an idle spell (common.db.tune_engine).
    config["SQLALCHEMY_ENGINE_OPTIONS"] = engine_options(url)
    config["TEMPLATE_SITES_LIST"] = parse_sites_list(config["TEMPLATE_SITES_LIST"])
    if config["SESSION_COOKIE_SECURE"] is None:
        # Secure cookies unless the CLI serves plain HTTP on loopback (LOOPBACK_HTTP).
        config["SESSION_COOKIE_SECURE"] = not config.get("LOOPBACK_HTTP", False)
    config["REMEMBER_COOKIE_SECURE"] = config["SESSION_COOKIE_SECURE"]
    if not config["SECRET_KEY"]:
        config["SECRET_KEY"] = read_or_create_private(folder / SECRET_KEY_FILE,
                                                      lambda: secrets.token_urlsafe(48))
    try:
        config["ENCRYPTION_RING"] = load_or_create_ring(
            folder, config.pop("STRIPEFLEET_ENCRYPTION_KEY") or None)
    except OSError as exc:
        raise ConfigError(f"cannot write the instance folder {folder}: {exc}") from None
    return config


def config_table() -> list[tuple[str, str, str]]:
    """``(variable, default, meaning)`` rows for the README's configuration table."""
    return option_table(OPTIONS)
