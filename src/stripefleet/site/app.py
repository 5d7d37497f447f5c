"""The site's app factory: ``create_app(config=None)``.

A part of the site is a package with ``init_app(app)`` (registering its blueprints;
its models are imported with it). ``create_app`` imports each one and calls it, domains
first (``settings``, ``accounts``, ``shop``, ``checkout``, ``webhooks``, ``launch``,
``stripe_check``),
then the pages above them (``storefront``, ``admin``); the floors are in
``docs/architecture.md``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from stripefleet.common.crypto import SecretBox, load_or_create_ring
from stripefleet.common.db import engine_options, tune_engine
from stripefleet.common.files import private_sqlite
from stripefleet.site import (
    accounts,
    admin,
    checkout,
    health,
    launch,
    settings,
    shop,
    storefront,
    stripe_check,
    webhooks,
)
from stripefleet.site.config import load_config
from stripefleet.site.db import MIGRATIONS_DIR
from stripefleet.site.errors import register_error_handlers
from stripefleet.site.extensions import babel, db, limiter, migrate
from stripefleet.site.settings.services import SECRET_BOX_EXTENSION

#: Largest request body for any endpoint, in bytes; a view may lower it.
MAX_CONTENT_LENGTH = 1024 * 1024

#: The language of the pages when the request asks for none we have (``translations/``).
DEFAULT_LOCALE = "fr"


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
    options = load_config(config)
    instance_dir = options["INSTANCE_DIR"]
    instance_dir.mkdir(mode=0o700, parents=True, exist_ok=True)  # holds the key file
    # Customers' personal data: the SQLite file and its -wal/-shm readable by the owner
    # only (0600), whether new or left by an older version.
    private_sqlite(options["SQLALCHEMY_DATABASE_URI"])

    app = Flask("stripefleet.site", instance_path=str(instance_dir))
    app.config.update(options)
    app.config.update(
        DEBUG=options["SITE_DEBUG"],
        MAX_CONTENT_LENGTH=MAX_CONTENT_LENGTH,
        SQLALCHEMY_ENGINE_OPTIONS=engine_options(options["SQLALCHEMY_DATABASE_URI"]),
        RATELIMIT_STORAGE_URI=options["SITE_RATELIMIT_STORAGE_URI"],
        # "10 failures in a minute" means any 60 s, not a clock minute.
        RATELIMIT_STRATEGY="moving-window",
        RATELIMIT_HEADERS_ENABLED=False,
    )
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT_LOCALE)
    if options["SITE_TRUSTED_PROXIES"]:
        n = options["SITE_TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)  # type: ignore[method-assign]

    ring = load_or_create_ring(instance_dir, options["STRIPEFLEET_ENCRYPTION_KEY"])
    app.extensions[SECRET_BOX_EXTENSION] = SecretBox(ring)

    db.init_app(app)
    with app.app_context():
        tune_engine(db.engine)
    migrate.init_app(app, db, directory=str(MIGRATIONS_DIR))
    limiter.init_app(app)
    babel.init_app(app)
    register_error_handlers(app)

    app.register_blueprint(health.bp)
    settings.init_app(app)
    accounts.init_app(app)
    shop.init_app(app)
    checkout.init_app(app)
    webhooks.init_app(app)
    launch.init_app(app)
    stripe_check.init_app(app)
    storefront.init_app(app)
    admin.init_app(app)
    return app
