"""The dashboard's configuration: defaults, then the environment, then test overrides.

The one place of the dashboard that reads ``os.environ`` (STYLE.md rule 6). Read once at
start-up by :func:`load_config`; an unknown ``DASHBOARD_*`` variable or a malformed value
fails at once with :class:`ConfigError`, naming the variable (never its value).

Variables (README, section "Configuration"):

- ``DATABASE_URL``: SQLAlchemy URL; default a SQLite file ``dashboard.db`` in the
  instance folder. ``postgres://`` and ``postgresql://`` are mapped to psycopg 3.
- ``REDIS_URL``: when set, the job queue is Huey on Redis (many workers, many machines);
  otherwise Huey on a SQLite file ``huey.db`` in the instance folder.
- ``TEMPLATE_MASTER_API_KEY``: the fleet's API key, sent as ``X-API-Key`` to sites that
  have no key of their own (seed 000_).
- ``TEMPLATE_SITES_LIST``: site base URLs, comma or newline separated, registered at
  start-up (seed 001_).
- ``STRIPEFLEET_ENCRYPTION_KEY``: the Fernet key ring for values at rest; default a
  generated file in the instance folder (``common.crypto.load_or_create_ring``).
- ``DASHBOARD_SECRET_KEY``: Flask's session key; default generated into the instance
  folder (``secret_key``, mode 0600).
- ``DASHBOARD_VERIFY_INTERVAL_MINUTES`` (15): period of the fleet verification task.
- ``DASHBOARD_CHUNK_SIZE`` (200): targets per Huey task of a rollout.
- ``DASHBOARD_LEASE_SECONDS`` (30): how long a worker's claim on targets lasts without
  a heartbeat; after it, another worker resumes them.
- ``DASHBOARD_LOCKOUT_ATTEMPTS`` (5) and ``DASHBOARD_LOCKOUT_MINUTES`` (15): failed
  logins before a lockout, and its length.
- ``DASHBOARD_SECURE_COOKIES``: ``Secure`` flag on the session cookie; default true,
  except when ``serve``/``web`` listen on a loopback address over plain HTTP.
- ``DASHBOARD_ENGINE_BACKOFF`` (0.5): first retry backoff of the engine, seconds; 0 is
  the testing switch (no backoff sleeps).
- ``DASHBOARD_TRUSTED_PROXIES`` (0): reverse proxies in front of the web app whose
  ``X-Forwarded-For/-Proto/-Host`` are trusted (werkzeug's ProxyFix), so that the audit
  log records the client's address.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from stripefleet.common.crypto import load_or_create_ring
from stripefleet.common.files import read_or_create_private

SECRET_KEY_FILE = "secret_key"


class ConfigError(RuntimeError):
    """A configuration variable is unknown or malformed; the message names it."""


def _int(name: str, raw: str, minimum: int) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number (got a non-number)") from None
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}")
    return value


def _float(name: str, raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number") from None
    if value < 0:
        raise ConfigError(f"{name} must not be negative")
    return value


def _bool(name: str, raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be true or false")


#: DASHBOARD_* variable -> (config key, parser, default). Anything else DASHBOARD_* fails.
_DASHBOARD_VARS: dict[str, tuple[str, Any, Any]] = {
    "DASHBOARD_SECRET_KEY": ("SECRET_KEY", lambda n, r: r, None),
    "DASHBOARD_VERIFY_INTERVAL_MINUTES": ("VERIFY_INTERVAL_MINUTES",
                                          lambda n, r: _int(n, r, 1), 15),
    "DASHBOARD_CHUNK_SIZE": ("CHUNK_SIZE", lambda n, r: _int(n, r, 1), 200),
    "DASHBOARD_LEASE_SECONDS": ("LEASE_SECONDS", lambda n, r: _int(n, r, 1), 30),
    "DASHBOARD_LOCKOUT_ATTEMPTS": ("LOCKOUT_ATTEMPTS", lambda n, r: _int(n, r, 1), 5),
    "DASHBOARD_LOCKOUT_MINUTES": ("LOCKOUT_MINUTES", lambda n, r: _int(n, r, 1), 15),
    "DASHBOARD_SECURE_COOKIES": ("SESSION_COOKIE_SECURE", _bool, None),
    "DASHBOARD_ENGINE_BACKOFF": ("ENGINE_BACKOFF", _float, 0.5),
    "DASHBOARD_INSTANCE_DIR": ("INSTANCE_DIR", lambda n, r: r, None),
    "DASHBOARD_TRUSTED_PROXIES": ("TRUSTED_PROXIES", lambda n, r: _int(n, r, 0), 0),
}


def parse_sites_list(raw: str | list[str] | tuple[str, ...] | None) -> list[str]:
    """Site base URLs from ``TEMPLATE_SITES_LIST``: comma or newline separated, or a list.

    Blank entries and surrounding white space are dropped; trailing slashes removed.

    Raises:
        ConfigError: an entry is not an ``http://`` or ``https://`` URL.
    """
    if raw is None:
        return []
    parts = raw if isinstance(raw, list | tuple) else raw.replace("\n", ",").split(",")
    urls = []
    for part in parts:
        url = str(part).strip().rstrip("/")
        if not url:
            continue
        if not url.startswith(("http://", "https://")):
            raise ConfigError(
                "TEMPLATE_SITES_LIST holds an entry that is not an http(s) URL: "
                f"{url[:60]!r}"
            )
        urls.append(url)
    return urls


def normalize_database_url(url: str) -> str:
    """Map ``postgres://``/``postgresql://`` to SQLAlchemy's psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def _secret_key(instance_dir: Path) -> str:
    return read_or_create_private(instance_dir / SECRET_KEY_FILE,
                                  lambda: secrets.token_urlsafe(48))


def default_instance_dir(environ: Mapping[str, str] | None = None) -> Path:
    """``DASHBOARD_INSTANCE_DIR``, else ``./instance/dashboard``."""
    env = os.environ if environ is None else environ
    return Path(env.get("DASHBOARD_INSTANCE_DIR") or Path.cwd() / "instance" / "dashboard")


def load_config(
    instance_dir: Path | str | None = None,
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The dashboard's settings as a Flask config mapping.

    Args:
        instance_dir: the instance folder (databases, generated keys); default
            :func:`default_instance_dir`.
        overrides: Flask config keys set last (tests; ``HUEY_IMMEDIATE`` is the queue's
            testing switch, ``TESTING`` Flask's).
        environ: the environment to read; ``os.environ`` by default.

    Returns:
        Keys ``INSTANCE_DIR``, ``SQLALCHEMY_DATABASE_URI``, ``REDIS_URL``,
        ``TEMPLATE_MASTER_API_KEY``, ``TEMPLATE_SITES_LIST`` (list of URLs),
        ``ENCRYPTION_RING``, ``SECRET_KEY``, the ``DASHBOARD_*`` settings and Flask's.

    Raises:
        ConfigError: an unknown ``DASHBOARD_*`` variable or a malformed value.
    """
    env = dict(os.environ if environ is None else environ)
    overrides = dict(overrides or {})
    folder = Path(instance_dir) if instance_dir else default_instance_dir(env)
    folder = folder.resolve()

    config: dict[str, Any] = {
        "INSTANCE_DIR": str(folder),
        "SQLALCHEMY_DATABASE_URI": normalize_database_url(
            env.get("DATABASE_URL") or f"sqlite:///{folder / 'dashboard.db'}"),
        "REDIS_URL": env.get("REDIS_URL") or None,
        "TEMPLATE_MASTER_API_KEY": env.get("TEMPLATE_MASTER_API_KEY") or None,
        "TEMPLATE_SITES_LIST": parse_sites_list(env.get("TEMPLATE_SITES_LIST")),
        "HUEY_IMMEDIATE": False,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_HTTPONLY": True,
        "WTF_CSRF_CHECK_DEFAULT": False,  # checked in auth.security for non-token requests
        "WTF_CSRF_TIME_LIMIT": None,
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
    }
    for target, _parser, default in _DASHBOARD_VARS.values():
        if default is not None:
            config[target] = default
    unknown = sorted(k for k in env if k.startswith("DASHBOARD_") and k not in _DASHBOARD_VARS)
    if unknown:
        raise ConfigError(
            f"unknown dashboard setting(s): {', '.join(unknown)}; known: "
            f"{', '.join(sorted(_DASHBOARD_VARS))}"
        )
    for key, (target, parser, _default) in _DASHBOARD_VARS.items():
        if key in env and key != "DASHBOARD_INSTANCE_DIR":
            config[target] = parser(key, env[key])

    config.update(overrides)
    if "TEMPLATE_SITES_LIST" in overrides:
        config["TEMPLATE_SITES_LIST"] = parse_sites_list(overrides["TEMPLATE_SITES_LIST"])
    config["SQLALCHEMY_DATABASE_URI"] = normalize_database_url(config["SQLALCHEMY_DATABASE_URI"])
    if config.get("SESSION_COOKIE_SECURE") is None:
        # Secure cookies unless the CLI serves plain HTTP on loopback (LOOPBACK_HTTP).
        config["SESSION_COOKIE_SECURE"] = not config.get("LOOPBACK_HTTP", False)
    config["REMEMBER_COOKIE_SECURE"] = config["SESSION_COOKIE_SECURE"]
    if not config.get("SECRET_KEY"):
        config["SECRET_KEY"] = _secret_key(folder)
    if not config.get("ENCRYPTION_RING"):
        try:
            config["ENCRYPTION_RING"] = load_or_create_ring(
                folder, env.get("STRIPEFLEET_ENCRYPTION_KEY") or None)
        except OSError as exc:
            raise ConfigError(f"cannot write the instance folder {folder}: {exc}") from None
    return config
