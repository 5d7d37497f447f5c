"""The site's app factory (STYLE.md rule 2): ``create_app(config=None)``.

A domain of the site is a package with ``init_app(app)`` (registering its blueprints
and importing its models) listed in ``DOMAINS``; issue 4's shop, accounts and webhooks
join the list the same way.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from stripefleet.common.crypto import SecretBox, load_or_create_ring
from stripefleet.common.db import engine_options, tune_engine
from stripefleet.site import health
from stripefleet.site.config import load_config
from stripefleet.site.db import MIGRATIONS_DIR
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
        SQLALCHEMY_ENGINE_OPTIONS=engine_options(settings["SQLALCHEMY_DATABASE_URI"]),
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
        tune_engine(db.engine)
    migrate.init_app(app, db, directory=str(MIGRATIONS_DIR))
    limiter.init_app(app)
    register_error_handlers(app)

    app.register_blueprint(health.bp)
    for module_name in DOMAINS:
        importlib.import_module(module_name).init_app(app)
    return app
