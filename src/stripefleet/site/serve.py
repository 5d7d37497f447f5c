"""Serve a site app: waitress (one process, threads) or gunicorn (N worker processes).

waitress is the default: it runs anywhere, on SQLite or PostgreSQL. gunicorn with
several workers is for PostgreSQL deployments (README, "A site"); each worker builds
its own app from the same overrides, and the failed API-key counter is shared between
them only with ``SITE_RATELIMIT_STORAGE_URI=redis://...``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gunicorn.app.base import BaseApplication

from stripefleet.common.processes import check_port_free
from stripefleet.common.serving import WaitressServer as _Bound
from stripefleet.site.app import create_app


class WaitressServer(_Bound):
    """The site's waitress server (``common.serving.WaitressServer``): binding and
    serving are two steps so that ``stripefleet site serve`` says "serving on ..." only
    once the port is its own (README, "A site"); idle connections time out after 30 s.

    Raises:
        PortInUse: another socket holds the port.
        OSError: any other reason the address cannot be bound (an unknown host too).
    """

    def __init__(self, app: Any, *, host: str, port: int, threads: int) -> None:
        super().__init__(app, host=host, port=port, threads=threads,
                         ident="stripefleet-site", channel_timeout=30)


class SiteApplication(BaseApplication):  # type: ignore[misc]
    """gunicorn's custom application: its options, and a site app built in each worker.

    The recipe of gunicorn's "Custom Application" documentation
    (https://docs.gunicorn.org/en/stable/custom.html).
    """

    def __init__(self, overrides: Mapping[str, Any], options: Mapping[str, Any]) -> None:
        self.overrides = dict(overrides)
        self.options = dict(options)
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        return create_app(self.overrides)


def run_gunicorn(overrides: Mapping[str, Any], *, host: str, port: int, workers: int,
                 threads: int) -> None:
    """Serve with gunicorn, ``workers`` processes of ``threads`` threads (blocks).

    Args:
        overrides: the ``create_app`` overrides each worker builds its app with.

    Raises:
        PortInUse: another socket holds the port (checked before gunicorn starts, which
            would otherwise retry for 5 s and exit with its own log lines).
    """
    check_port_free(host, port)
    options = {
        "bind": f"{host}:{port}",
        "workers": workers,
        "threads": threads,
        "worker_class": "gthread" if threads > 1 else "sync",
        "timeout": 60,
        "graceful_timeout": 10,
        "accesslog": None,
        "proc_name": "stripefleet-site",
    }
    SiteApplication(overrides, options).run()
