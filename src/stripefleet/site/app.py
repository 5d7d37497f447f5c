"""The site's app factory (STYLE.md rule 2): ``create_app(config=None)``.

A domain of the site is a package with ``init_app(app)`` (registering its blueprints
and importing its models) listed in ``DOMAINS``; issue 4's shop, accounts and webhooks
join the list the same way.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from stripefleet.common.crypto import SecretBox, load_or_create_ring
from stripefleet.site import health
from stripefleet.site.config import load_config
from stripefleet.site.db import MIGRATIONS_DIR, ping_when_idle
from stripefleet.site.errors import register_error_handlers
from stripefleet.site.extensions import db, limiter, migrate
from stripefleet.site.settings.services import SECRET_BOX_EXTENSION

#: The site's domains, in registration order; each module has ``init_app(app)``.
DOMAINS: tuple[str, ...] = ("stripefleet.site.settings", "stripefleet.site.accounts",
                            "stripefleet.site.shop", "stripefleet.site.checkout",
                            "stripefleet.site.webhooks", "stripefleet.site.launch")

#: Largest request body for any endpoint, in bytes; a view may lower it.
MAX_CONTENT_LENGTH = 1024 * 1024


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build a site app.

    Args:
        config: overrides over the environment (see ``config.load_config``), e.g.
            ``{"SITE_INSTANCE_DIR": "...", "DATABASE_URL": "..."}``.

    Returns:
        The Flask app; its database is NOT migrated here (``db.upgrade_database``).

    Raises:
        stripefleet.site.config.ConfigError: a setting is unknown or malformed.
        ValueError: ``STRIPEFLEET_ENCRYPTION_KEY`` is not a Fernet key ring.
    """
    settings = load_config(config)
    instance_dir = settings["INSTANCE_DIR"]
    instance_dir.mkdir(mode=0o700, parents=True, exist_ok=True)  # holds the key file

    app = Flask("stripefleet.site", instance_path=str(instance_dir))
    app.config.update(settings)
    app.config.update(
        DEBUG=settings["SITE_DEBUG"],
        MAX_CONTENT_LENGTH=MAX_CONTENT_LENGTH,
        SQLALCHEMY_ENGINE_OPTIONS=_engine_options(settings["SQLALCHEMY_DATABASE_URI"]),
        RATELIMIT_STORAGE_URI=settings["SITE_RATELIMIT_STORAGE_URI"],
        # "10 failures in a minute" means any 60 s, not a clock minute.
        RATELIMIT_STRATEGY="moving-window",
        RATELIMIT_HEADERS_ENABLED=False,
    )
    if settings["SITE_TRUSTED_PROXIES"]:
        n = settings["SITE_TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)  # type: ignore[method-assign]

    ring = load_or_create_ring(instance_dir, settings["STRIPEFLEET_ENCRYPTION_KEY"])
    app.extensions[SECRET_BOX_EXTENSION] = SecretBox(ring)

    db.init_app(app)
    with app.app_context():
        if settings["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
            _tune_sqlite(db.engine)
        else:
            ping_when_idle(db.engine)
    migrate.init_app(app, db, directory=str(MIGRATIONS_DIR))
    limiter.init_app(app)
    register_error_handlers(app)

    app.register_blueprint(health.bp)
    for module_name in DOMAINS:
        importlib.import_module(module_name).init_app(app)
    return app


def _engine_options(url: str) -> dict[str, Any]:
    # No pool_pre_ping: PostgreSQL connections are pinged after an idle spell instead
    # (db.ping_when_idle); SQLite's never go stale.
    options: dict[str, Any] = {"hide_parameters": True}
    if url.startswith("postgresql"):
        options["connect_args"] = {"connect_timeout": 5}
        # At least one pooled connection per serving thread (waitress and gunicorn's
        # gthread default to 8): the default pool of 5 opened and closed the extra
        # connections on every request under load (seen in the webhook benchmark).
        options["pool_size"] = 10
        options["max_overflow"] = 20
    else:
        # pysqlite's own transaction handling is switched off (see _tune_sqlite).
        options["connect_args"] = {"check_same_thread": False, "timeout": 30}
    return options


def _tune_sqlite(engine: sa.Engine) -> None:
    """WAL, a busy timeout, and ``BEGIN IMMEDIATE`` transactions for SQLite.

    Taking the write lock when a transaction begins means a read-then-write never
    fails halfway with "database is locked" (SQLAlchemy's documented pysqlite recipe,
    "Serializable isolation / Savepoints / Transactional DDL").
    """

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
