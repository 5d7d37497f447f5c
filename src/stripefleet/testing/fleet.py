"""A fault-injecting fake fleet: one aiohttp server listening on many loopback ports.

Each port is a "site" serving the site settings API in memory (see
:mod:`stripefleet.testing.sites`) with its own :class:`Behaviour`: healthy, flaky (5xx
then ok), rate limited (429 + ``Retry-After``), hanging, refusing or resetting
connections, answering HTML or bad JSON, lying (200 to a PUT, nothing stored),
unauthorized, slow, failing the functional check (``POST /api/test-stripe``), or from
before it (``old_site``). Every site starts with a test-mode secret key
(:data:`DEFAULT_SECRET_KEY`, ``secret_key=None`` for bare sites), as a site that is
already taking payments. Used by the engine's, the CLI's and the dashboard's tests,
and by the benchmark (``python -m stripefleet.testing.fleet``).

In a test::

    with FaultFleet(["ok", "flaky:2", "hang"], api_key=KEY) as fleet:
        fleet.urls            # ["http://127.0.0.1:PORT", ...], in behaviour order
        fleet.puts(url)       # PUTs that site received
        fleet.requests_log    # {url: [LoggedRequest, ...]}
        fleet.max_in_flight   # most requests in progress at once, fleet-wide
        fleet.value(url, "stripe_publishable_key")
        fleet.fail_key(SK, "api_key_expired")   # that key's functional check fails
        fleet.accounts[SK] = "acct_1"           # the account a key belongs to
        fleet.set_checked_account(url, "acct_1")  # GET /api/health/stripe's account_id
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import socket
import ssl
import struct
import sys
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import TracebackType

from aiohttp import web

from stripefleet.common.keys import SECRET_KEY, fingerprint
from stripefleet.testing.behaviours import Behaviour
from stripefleet.testing.sites import FakeSite, LoggedRequest, error, settings_api

DEFAULT_API_KEY = "fleet-test-api-key-0123456789"
#: The secret key every fake site holds when it starts (test mode).
DEFAULT_SECRET_KEY = "sk_test_faultFleetDefault0123456789"


class FaultFleet:
    """Many fake sites on loopback ports, served by one aiohttp server.

    Args:
        behaviours: one entry per site (a :class:`Behaviour` or its string form).
        sites: when ``behaviours`` is empty, this many ``ok`` sites.
        api_key: the ``X-API-Key`` every site accepts (until a PUT of
            ``template_master_api_key`` replaces it on that site).
        latency_ms: added to every request of every site, milliseconds.
        host: the loopback address to listen on.
        ssl_context: serve HTTPS with it (URLs become ``https://``); None: plain HTTP.
        secret_key: the Stripe secret key every site holds at the start; None: none
            (the functional check then answers 409 ``secret_key_not_configured``).

    ``start()`` runs the server on its own event loop in a daemon thread (for
    synchronous and asynchronous tests alike); ``stop()`` ends it. Inside a running
    loop, ``await start_async()`` / ``await stop_async()`` serve on that loop instead.
    """

    def __init__(self, behaviours: Sequence[Behaviour | str] = (), *, sites: int = 0,
                 api_key: str = DEFAULT_API_KEY, latency_ms: float = 0.0,
                 host: str = "127.0.0.1", ssl_context: ssl.SSLContext | None = None,
                 secret_key: str | None = DEFAULT_SECRET_KEY) -> None:
        parsed = [Behaviour.parse(b) for b in behaviours] or [Behaviour()] * sites
        self.api_key = api_key
        #: secret key -> ``acct_...``: the account each key belongs to (else derived).
        self.accounts: dict[str, str] = {}
        #: secret key -> the code its functional check answers (``api_key_expired``...).
        self.key_errors: dict[str, str] = {}
        self.latency_ms = latency_ms
        self.host = host
        self.ssl_context = ssl_context
        scheme = "https" if ssl_context else "http"
        self.sites: list[FakeSite] = []
        self._by_port: dict[int, FakeSite] = {}
        self._by_url: dict[str, FakeSite] = {}
        self._sockets: list[socket.socket] = []
        self._refused: list[socket.socket] = []
        for index, behaviour in enumerate(parsed):
            # No SO_REUSEADDR: with it, Linux may hand the same ephemeral port to another
            # process's socket that is bound but not yet listening (EADDRINUSE later).
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((host, 0))
            port = int(sock.getsockname()[1])
            if behaviour.kind == "refuse":
                self._refused.append(sock)  # bound, never listening: connections refused
            else:
                sock.listen(512)  # claim the port now (served once started)
                self._sockets.append(sock)
            site = FakeSite(index, f"{scheme}://{host}:{port}", port, behaviour, api_key,
                            accounts=self.accounts, key_errors=self.key_errors)
            if secret_key is not None:
                site.set(SECRET_KEY, secret_key)
            site.reset_failures()
            self.sites.append(site)
            self._by_port[port] = site
            self._by_url[site.url] = site
        self.in_flight = 0
        self.max_in_flight = 0
        self._runner: web.AppRunner | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    # -- what tests look at --------------------------------------------------------

    @property
    def urls(self) -> list[str]:
        """The sites' base URLs (``http://127.0.0.1:PORT``), in behaviour order."""
        return [site.url for site in self.sites]

    @property
    def requests_log(self) -> dict[str, list[LoggedRequest]]:
        """Per site URL, the requests it received, in order."""
        return {site.url: site.log for site in self.sites}

    def site(self, url: str) -> FakeSite:
        """The fake site at ``url`` (trailing slash ignored)."""
        return self._by_url[url.rstrip("/")]

    def puts(self, url: str) -> int:
        """How many PUTs the site at ``url`` received."""
        return sum(1 for r in self.site(url).log if r.method == "PUT")

    def requests(self, url: str, method: str | None = None) -> list[LoggedRequest]:
        """The requests the site at ``url`` received (of ``method`` when given)."""
        return [r for r in self.site(url).log if method is None or r.method == method]

    def total_requests(self) -> int:
        """Requests received by the whole fleet."""
        return sum(len(site.log) for site in self.sites)

    def value(self, url: str, setting: str) -> str | None:
        """The value the site at ``url`` stores for ``setting``, or None."""
        stored = self.site(url).settings.get(setting)
        return stored.value if stored else None

    def set_value(self, url: str, setting: str, value: str) -> None:
        """Store ``value`` on the site at ``url`` as if it had been pushed."""
        self.site(url).set(setting, value)

    def fail_key(self, secret_key: str, code: str = "stripe_auth_failed") -> None:
        """Make ``secret_key``'s functional check fail with ``code`` on every site
        (``stripe_auth_failed``, ``api_key_expired``, ``stripe_unreachable``)."""
        self.key_errors[secret_key] = code

    def set_checked_account(self, url: str, account_id: str | None) -> None:
        """Set the account of the site's last functional check (``GET
        /api/health/stripe``'s ``account_id``)."""
        site = self.site(url)
        site.checked_account = account_id
        site.checked_at = _utc_now() if account_id else None

    def set_behaviour(self, url: str, behaviour: Behaviour | str) -> None:
        """Change a site's behaviour (not to or from ``refuse``)."""
        site = self.site(url)
        site.behaviour = Behaviour.parse(behaviour)
        site.reset_failures()

    def clear_log(self) -> None:
        """Forget the logged requests and the in-flight peak; re-arm failures."""
        for site in self.sites:
            site.log.clear()
            site.reset_failures()
        self.max_in_flight = 0

    # -- serving -------------------------------------------------------------------

    async def start_async(self) -> FaultFleet:
        """Start serving on the running event loop."""
        app = web.Application(client_max_size=64 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None,
                                     shutdown_timeout=0.5, handler_cancellation=True)
        await self._runner.setup()
        for sock in self._sockets:
            await web.SockSite(self._runner, sock, backlog=512,
                               ssl_context=self.ssl_context).start()
        return self

    async def stop_async(self) -> None:
        """Stop serving and close every socket."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        for sock in self._sockets + self._refused:
            sock.close()

    def start(self) -> FaultFleet:
        """Serve from a daemon thread with its own event loop; returns once listening."""
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                loop.run_until_complete(self.start_async())
            except BaseException as exc:  # reported to start()'s caller
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self.stop_async())
            loop.close()

        self._thread = threading.Thread(target=run, name="fault-fleet", daemon=True)
        self._thread.start()
        ready.wait(timeout=30)
        if failure:
            raise failure[0]
        return self

    def stop(self) -> None:
        """Stop the thread started by :meth:`start` (idempotent)."""
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=30)
            self._loop = None
            self._thread = None

    def __enter__(self) -> FaultFleet:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # -- one request ---------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        transport = request.transport
        sockname = transport.get_extra_info("sockname") if transport else None
        site = self._by_port.get(int(sockname[1])) if sockname else None
        if site is None:
            return error(404, "unknown_site", "No fake site on this port.")
        key = request.headers.get("X-API-Key")
        entry = LoggedRequest(request.method, request.path, time.monotonic(),
                              api_key_fingerprint=fingerprint(key) if key else None,
                              idempotency_key=request.headers.get("Idempotency-Key"))
        site.log.append(entry)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            response = await self._answer(site, request)
            entry.status = response.status
            return response
        finally:
            self.in_flight -= 1

    async def _answer(self, site: FakeSite, request: web.Request) -> web.StreamResponse:
        behaviour = site.behaviour
        latency = behaviour.latency_ms if behaviour.latency_ms is not None else self.latency_ms
        if latency:
            await asyncio.sleep(latency / 1000)
        kind = behaviour.kind
        if kind == "hang":
            await asyncio.sleep(3600)  # cancelled when the client gives up
        if kind == "reset":
            await request.read()
            await _reset(request)
        if kind == "lost" and request.method == "PUT" and site.failures_left > 0:
            site.failures_left -= 1
            await settings_api(site, request, liar=False)  # applied ...
            await _reset(request)  # ... but the answer never arrives
        if kind == "html":
            return web.Response(text="<html><body><h1>Welcome to nginx!</h1></body></html>",
                                content_type="text/html")
        if kind == "bad_json":
            return web.Response(text='{"success": true, "changed": ',
                                content_type="application/json")
        if kind == "incomplete":
            return web.json_response({"success": True})
        if kind == "unauthorized":
            return error(401, "invalid_api_key", "Missing or wrong X-API-Key.")
        if kind in ("flaky", "rate_limited") and site.failures_left > 0:
            site.failures_left -= 1
            if kind == "rate_limited":
                return error(429, "too_many_attempts", "Slow down.",
                             headers={"Retry-After": behaviour.retry_after})
            return error(behaviour.status, "server_error", "Try again later.")
        return await settings_api(site, request, liar=kind == "liar")


async def _reset(request: web.Request) -> None:
    """Reset the request's connection (RST); never returns: the handler is cancelled
    with the connection."""
    transport = request.transport
    sock = transport.get_extra_info("socket") if transport else None
    if sock is not None:  # SO_LINGER 0: close() sends a RST
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    if transport is not None:
        transport.abort()
    await asyncio.sleep(3600)


def _utc_now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def write_sites_file(path: Path, urls: Iterable[str]) -> None:
    """Write one URL a line to ``path`` atomically (a reader never sees half a file)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("".join(f"{url}\n" for url in urls), encoding="utf-8")
    os.replace(tmp, path)


async def _serve(args: argparse.Namespace) -> None:
    behaviours = [Behaviour.parse(b) for b in args.behaviour] if args.behaviour else []
    fleet = FaultFleet(behaviours, sites=args.sites, api_key=args.api_key,
                       latency_ms=args.latency_ms, host=args.host,
                       secret_key=None if args.no_secret_key else DEFAULT_SECRET_KEY)
    await fleet.start_async()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    if args.sites_file:
        write_sites_file(Path(args.sites_file), fleet.urls)
    else:
        sys.stdout.write("".join(f"{url}\n" for url in fleet.urls))
    print(f"fault fleet ready: {len(fleet.urls)} sites", file=sys.stderr, flush=True)
    sys.stdout.flush()
    await stop.wait()
    stats = {"requests": fleet.total_requests(), "max_in_flight": fleet.max_in_flight,
             "puts": sum(fleet.puts(url) for url in fleet.urls),
             "cpu_s": round(time.process_time(), 3)}
    if args.stats_file:
        Path(args.stats_file).write_text(json.dumps(stats), encoding="utf-8")
    await fleet.stop_async()


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m stripefleet.testing.fleet --sites N --latency-ms 50 --api-key K``.

    Prints the base URLs (one a line) or writes them to ``--sites-file``, prints
    ``fault fleet ready`` on stderr, then serves until SIGINT/SIGTERM; with
    ``--stats-file`` it writes ``{"requests", "max_in_flight", "puts", "cpu_s"}`` (its
    CPU seconds) on the way out.
    """
    parser = argparse.ArgumentParser(prog="python -m stripefleet.testing.fleet",
                                     description=main.__doc__)
    parser.add_argument("--sites", type=int, default=3)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--api-key", default=DEFAULT_API_KEY)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--behaviour", action="append",
                        help="one per site, e.g. ok, flaky:2, hang (repeat; overrides --sites)")
    parser.add_argument("--sites-file", help="write the URLs here instead of stdout")
    parser.add_argument("--no-secret-key", action="store_true",
                        help="start the sites without a Stripe secret key")
    parser.add_argument("--stats-file", help="write request counts here when stopped")
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args))


if __name__ == "__main__":
    main()
