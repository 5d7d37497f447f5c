"""The accounts domain: customers, owners, bearer tokens, the pages' login session.

``init_app`` sets the session cookie's signing key (``SITE_SECRET_KEY``, else a key
generated once into ``<instance>/session.key``, mode 0600, shared by every worker of the
instance), Flask-Login and Flask-WTF's CSRF tokens (checked by the pages' views).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from flask import Flask

from stripefleet.site.accounts import api, edge, models, services
from stripefleet.site.extensions import csrf, db, login_manager

SESSION_KEY_FILE = "session.key"


def _session_key(instance_dir: Path) -> str:
    path = instance_dir / SESSION_KEY_FILE
    if not path.exists():
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another worker wrote it first
        else:
            with os.fdopen(fd, "w", encoding="ascii") as handle:
                handle.write(secrets.token_urlsafe(48))
    return path.read_text(encoding="ascii").strip()


def init_app(app: Flask) -> None:
    """Register the accounts API; set up the session key, Flask-Login and CSRF."""
    app.secret_key = app.config["SITE_SECRET_KEY"] or _session_key(app.config["INSTANCE_DIR"])
    app.config.setdefault("WTF_CSRF_CHECK_DEFAULT", False)
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)
    app.config.setdefault("SESSION_COOKIE_SAMESITE", "Lax")
    app.config.setdefault("SESSION_COOKIE_HTTPONLY", True)
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "pages.login"

    def _load(customer_id: str) -> models.Customer | None:
        if not customer_id.isdigit():
            return None
        customer: models.Customer | None = db.session.get(models.Customer, int(customer_id))
        return customer

    login_manager.user_loader(_load)
    services.dummy_hash()  # now, not during the first login with an unknown e-mail

    edge.init_app(app)
    app.register_blueprint(api.bp)
