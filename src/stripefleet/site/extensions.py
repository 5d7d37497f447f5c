"""The site's Flask extensions, created unbound and bound by ``create_app``.

Each part of the site imports what it needs from here (``db`` for models and queries,
``limiter`` for ``@limiter.limit``, ``transactional`` for a view's commit point);
nothing here touches an app at import time.
"""

from __future__ import annotations

from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy.orm import DeclarativeBase

from stripefleet.common.web import transactional as _transactional


class Base(DeclarativeBase):
    """Declarative base of every site model (one metadata for Alembic)."""


db = SQLAlchemy(model_class=Base)
migrate = Migrate(compare_type=True, render_as_batch=True)
#: Keys on the client's address (after ProxyFix when SITE_TRUSTED_PROXIES > 0).
limiter = Limiter(key_func=get_remote_address)
#: The pages' customer session; bound by ``stripefleet.site.accounts``.
login_manager = LoginManager()
#: CSRF tokens for the pages' forms; checked only where a page view calls ``csrf.protect()``
#: (``WTF_CSRF_CHECK_DEFAULT`` is off: the JSON API authenticates with headers, not cookies).
csrf = CSRFProtect()
#: The pages' translations (French by default); bound by ``create_app``.
babel = Babel()

#: A view's one commit point: ``@transactional`` commits the session when the view
#: returns and rolls it back when it raises (``common.web.transactional``). Services
#: only flush.
transactional = _transactional(db)
