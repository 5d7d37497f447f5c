"""The dashboard's app factory (``create_app``); importing this module does nothing."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask import Flask
from flask_migrate import upgrade
from werkzeug.middleware.proxy_fix import ProxyFix

from stripefleet.common.crypto import SecretBox
from stripefleet.common.db import tune_engine
from stripefleet.common.files import private_folder, private_sqlite
from stripefleet.dashboard import models  # noqa: F401  (every table registered)
from stripefleet.dashboard.audit import services as audit
from stripefleet.dashboard.auth import throttle as login_throttle
from stripefleet.dashboard.auth.security import init_security
from stripefleet.dashboard.config import load_config
from stripefleet.dashboard.errors import register_error_handlers
from stripefleet.dashboard.extensions import csrf, db, login_manager, migrate
from stripefleet.dashboard.queue import init_queue
from stripefleet.dashboard.routes import TASK_REGISTRARS, register_blueprints
from stripefleet.embed.stripe_propagate import snippet_templates

MIGRATIONS_DIR = str(Path(__file__).parent / "migrations")


def create_app(config: dict[str, Any] | None = None, *,
               instance_dir: str | Path | None = None) -> Flask:
    """Build the dashboard app.

    Args:
        config: Flask config overrides applied last (tests: ``HUEY_IMMEDIATE``,
            ``SQLALCHEMY_DATABASE_URI``, ``TEMPLATE_MASTER_API_KEY``, ...).
        instance_dir: the instance folder; ``DASHBOARD_INSTANCE_DIR`` or
            ``./instance/dashboard`` by default (``config["INSTANCE_DIR"]`` also works).

    Raises:
        ConfigError: an unknown or malformed setting (see ``config.py``).

    The schema is not created here: ``ensure_schema`` (Alembic) is called by the CLI
    commands and the tests' fixtures.
    """
    overrides = dict(config or {})
    folder = instance_dir or overrides.get("INSTANCE_DIR")
    settings = load_config(folder, overrides)
    # The instance holds password hashes, the audit log and encrypted values: 0700,
    # its SQLite database 0600 (common.files).
    private_folder(settings["INSTANCE_DIR"])
    private_sqlite(settings["SQLALCHEMY_DATABASE_URI"])
    app = Flask(__name__, instance_path=settings["INSTANCE_DIR"])
    app.config.update(settings)

    hops = int(settings.get("TRUSTED_PROXIES") or 0)
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops,  # type: ignore[method-assign]
                                x_host=hops)
    db.init_app(app)
    with app.app_context():
        # WAL and a busy timeout on this app's engine only (web app and worker share
        # the file); readers do not take the write lock.
        tune_engine(db.engine, immediate=False)
    migrate.init_app(app, db, directory=MIGRATIONS_DIR)
    login_manager.init_app(app)
    csrf.init_app(app)
    app.extensions["stripefleet_box"] = SecretBox(settings["ENCRYPTION_RING"])

    init_security(app)
    login_throttle.init_app(app)
    register_error_handlers(app, audit=audit.record)
    init_queue(app, TASK_REGISTRARS)
    register_blueprints(app)
    # The propagation button's template, included by the "New rollout" page.
    app.register_blueprint(snippet_templates)
    app.add_template_filter(utc_time, "utc")
    return app


def utc_time(value: datetime | str | None, empty: str = "") -> str:
    """A stored UTC time as the pages show it: ``2026-11-21 10:36:34 UTC``.

    Naive datetimes are UTC (the models store UTC); ``empty`` when there is no time.
    """
    if value is None or value == "":
        return empty
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%d %H:%M:%S UTC")


def ensure_schema(app: Flask) -> None:
    """Apply the Alembic migrations (``flask db upgrade``) to the app's database."""
    with app.app_context():
        upgrade(directory=MIGRATIONS_DIR)

