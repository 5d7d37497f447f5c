"""``GET /api/health``: 200 with a working database, 503 when the database is down.

The "down" database is real PostgreSQL reached through a TCP relay the test closes.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator

import pytest

from stripefleet.common.processes import free_port
from tests.site.conftest import RunningSite, StartSite


class TcpRelay:
    """Relays 127.0.0.1:``port`` to 127.0.0.1:``target``; :meth:`close` cuts everything."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.port = free_port()
        self._server = socket.create_server(("127.0.0.1", self.port))
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            if self._closed:
                client.close()
                return
            upstream = socket.create_connection(("127.0.0.1", self.target))
            with self._lock:
                self._sockets += [client, upstream]
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                dst.sendall(data)
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        """Stop listening and reset every relayed connection."""
        self._closed = True
        with contextlib.suppress(OSError):
            self._server.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        self._server.close()
        with self._lock:
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()


@pytest.fixture
def relay() -> Iterator[TcpRelay]:
    """A relay to the local PostgreSQL, closed at teardown."""
    r = TcpRelay(5432)
    yield r
    r.close()


def test_health_answers_ok_with_the_database(site: RunningSite) -> None:
    """A site with a working database answers 200 and says so."""
    resp = site.get("/api/health")
    assert resp.status_code == 200
    assert resp.json() == {"success": True, "status": "ok", "database": "ok"}


@pytest.mark.postgres
def test_health_is_503_when_the_database_is_down(
    launch_site: StartSite, postgres_url: str, relay: TcpRelay
) -> None:
    """When the database stops answering, /api/health is 503 ``database_unavailable``."""
    site = launch_site(db_url=postgres_url.replace(":5432/", f":{relay.port}/"))
    assert site.get("/api/health").status_code == 200
    relay.close()
    resp = site.get("/api/health")
    assert resp.status_code == 503
    assert resp.json()["error"] == "database_unavailable"
    assert resp.json()["success"] is False
