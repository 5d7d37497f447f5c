"""Serving a WSGI app with waitress, its socket bound before anything is announced.

Both apps' ``serve`` commands (``stripefleet site serve``, ``stripefleet dashboard
serve``/``web``) bind first and serve second, so that "serving on ..." is printed, and
a worker started, only once the port is theirs; a port in use is one sentence
(``processes.bind_error``), never a traceback.
"""

from __future__ import annotations

import errno
from typing import Any

from waitress import create_server

from stripefleet.common.processes import bind_error


class WaitressServer:
    """A waitress server whose socket is bound: :meth:`run` serves until interrupted.

    Args:
        app: the WSGI app.
        host, port: where to listen.
        threads: waitress's worker threads.
        options: more of waitress's settings (``ident``, ``channel_timeout``, ...:
            https://docs.pylonsproject.org/projects/waitress/en/stable/arguments.html).

    Raises:
        PortInUse: another socket holds the port.
        OSError: any other reason the address cannot be bound (an unknown host too).
    """

    def __init__(self, app: Any, *, host: str, port: int, threads: int,
                 **options: Any) -> None:
        try:
            self.server = create_server(app, host=host, port=port, threads=threads,
                                        **options)
        except OSError as exc:
            raise bind_error(exc, host, port) from None
        except ValueError:  # waitress: "Invalid host/port specified." (no such address)
            raise OSError(errno.EADDRNOTAVAIL, f"cannot listen on {host}:{port}: the host "
                          "cannot be resolved to an address") from None

    def run(self) -> None:
        """Serve until interrupted (blocks); the socket is closed on the way out."""
        try:
            self.server.run()
        finally:
            self.server.close()
