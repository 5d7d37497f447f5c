"""A database outage, answered 503 ``database_unavailable`` and logged once per change.

When the database cannot be reached (the server is down, refuses connections, a
connection was cut), every request of the site and of the dashboard is answered 503
with ``Retry-After`` (README, "A site": a dependency outage is a 503, never a 500),
so that a client, a load balancer and Stripe (which retries a webhook delivery that was
not answered 2xx: https://docs.stripe.com/webhooks#retries) come back later. The log
gets one line when the outage starts and one when a statement succeeds again, rather
than a traceback per request. Nothing has to be restarted: SQLAlchemy's pool drops the
dead connections and the next request opens new ones.

Each app's ``errors.py`` registers :func:`register_outage_handler`, which answers the
exceptions of :data:`OUTAGE_EXCEPTIONS` that :func:`is_outage` recognises (others go on
to the app's 500 handling).
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
from collections.abc import Callable
from typing import Any

import psycopg
import sqlalchemy as sa
from flask import Flask, Response, jsonify
from sqlalchemy import exc as sa_exc

#: Seconds a client is asked to wait before retrying (``Retry-After``).
RETRY_AFTER_SECONDS = 10
#: The error code of the JSON answer.
CODE = "database_unavailable"
MESSAGE = ("The database is unreachable for now; nothing was changed. Retry in a few "
           "seconds.")
HTML_PAGE = ("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
             "<title>Temporarily unavailable</title></head><body>"
             "<h1>Temporarily unavailable</h1><p>The service cannot reach its database "
             "right now. Nothing was changed; please try again in a few seconds.</p>"
             "</body></html>")

#: The exception classes whose handler is registered (refined by :func:`is_outage`).
OUTAGE_EXCEPTIONS: tuple[type[Exception], ...] = (
    sa_exc.DBAPIError, sa_exc.TimeoutError, psycopg.OperationalError, psycopg.InterfaceError)

#: SQLite errors that mean the file cannot be used now (not a bug in a statement).
_SQLITE_OUTAGE_WORDS = ("unable to open", "database is locked", "disk i/o", "readonly",
                        "read-only")


def is_outage(exc: BaseException) -> bool:
    """True when ``exc`` says the database cannot be reached or used right now.

    Connection-kind errors: SQLAlchemy's ``OperationalError``/``InterfaceError``
    (PostgreSQL down, connection refused or cut, authentication or ``CONNECT`` refused),
    any ``DBAPIError`` that invalidated its connection, the pool's ``TimeoutError``,
    and psycopg's own ``OperationalError``/``InterfaceError``. For SQLite only the
    file's unavailability counts ("unable to open", "database is locked", disk I/O);
    "no such table" and other statement errors are bugs, not outages.
    """
    if isinstance(exc, sa_exc.TimeoutError):
        return True
    if isinstance(exc, (psycopg.OperationalError, psycopg.InterfaceError)):
        return True
    if not isinstance(exc, sa_exc.DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    if not isinstance(exc, (sa_exc.OperationalError, sa_exc.InterfaceError)):
        return False
    if isinstance(exc.orig, sqlite3.Error):
        text = str(exc.orig).lower()
        return any(word in text for word in _SQLITE_OUTAGE_WORDS)
    return True


class OutageLog:
    """Whether this process last saw the database down, logging each change once.

    Thread-safe. :meth:`down` is called for each outage error; :meth:`up` by an engine
    listener after every successful statement (a boolean test while all is well).
    """

    def __init__(self, log: logging.Logger, name: str) -> None:
        self.log = log
        self.name = name
        self.is_down = False
        self._lock = threading.Lock()
        self._engines: set[int] = set()

    def down(self, exc: BaseException, engine: sa.Engine | None) -> None:
        """Record an outage error; log one warning (no traceback) if it starts one."""
        if engine is not None and id(engine) not in self._engines:
            with self._lock:
                if id(engine) not in self._engines:
                    self._engines.add(id(engine))
                    sa.event.listen(engine, "after_cursor_execute", self._statement_ok)
        with self._lock:
            if self.is_down:
                return
            self.is_down = True
        reason = (str(getattr(exc, "orig", None) or exc).strip().splitlines() or ["?"])[0]
        self.log.warning("%s database outage started: answering 503 %s until it is back "
                         "(%s: %s)", self.name, CODE, type(exc).__name__, reason[:300])

    def up(self) -> None:
        """Record a successful statement; log one line if it ends an outage."""
        if not self.is_down:
            return
        with self._lock:
            if not self.is_down:
                return
            self.is_down = False
        self.log.warning("%s database outage over: the database answers again", self.name)

    def _statement_ok(self, *_args: Any) -> None:
        self.up()


def outage_response(as_json: bool) -> tuple[Response | str, int, dict[str, str]]:
    """The 503 answer: the JSON error shape, or a small HTML page; with ``Retry-After``."""
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
    if as_json:
        return jsonify(success=False, error=CODE, message=MESSAGE), 503, headers
    headers["Content-Type"] = "text/html; charset=utf-8"
    return HTML_PAGE, 503, headers


def register_outage_handler(app: Flask, *, session: Any, engine: Callable[[], sa.Engine],
                            wants_json: Callable[[], bool],
                            otherwise: Callable[[Exception], Any], name: str) -> OutageLog:
    """Answer ``app``'s database outages with 503 ``database_unavailable``.

    Args:
        app: the Flask app.
        session: the app's scoped session, rolled back (errors ignored: the connection
            may be dead) before answering.
        engine: returns the app's engine (in the request's app context), watched for
            the first successful statement after an outage.
        wants_json: True when the request wants the JSON error shape.
        otherwise: answers an exception of :data:`OUTAGE_EXCEPTIONS` that is not an
            outage (a bug: the app's 500).
        name: the app's name in the log lines (``site``, ``dashboard``).

    Returns:
        The app's :class:`OutageLog` (also ``app.extensions["stripefleet_outage"]``).
    """
    state = OutageLog(logging.getLogger(f"stripefleet.{name}"), name)
    app.extensions["stripefleet_outage"] = state

    def _handle(exc: Exception) -> Any:
        if not is_outage(exc):
            return otherwise(exc)
        with contextlib.suppress(Exception):
            session.rollback()
        current: sa.Engine | None = None
        with contextlib.suppress(Exception):
            current = engine()
        state.down(exc, current)
        return outage_response(wants_json())

    for exception in OUTAGE_EXCEPTIONS:
        app.register_error_handler(exception, _handle)

    @app.after_request
    def _retry_after_on_503(response: Response) -> Response:
        # Any 503 (a health check's too) tells the client when to come back.
        if response.status_code == 503 and "Retry-After" not in response.headers:
            response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response

    return state
