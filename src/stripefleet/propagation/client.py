"""The engine's HTTP calls to one site: one attempt, classified; retried when transient.

Every outcome becomes a :class:`Reply` with a stable error code, never an exception:
``timeout``, ``connection_refused``, ``connection_reset``, ``connect_error``,
``dns_error``, ``tls_error``, ``invalid_url``, ``bad_response`` (HTML, bad JSON, a body
that is not an object), or the site's own code (``invalid_api_key``, ...), else
``http_<status>``.
"""

from __future__ import annotations

import errno
import json
import logging
import urllib.request
from collections.abc import Callable, Collection
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

import aiohttp

from stripefleet import __version__
from stripefleet.propagation import retry
from stripefleet.propagation.ratelimit import RateLimiter
from stripefleet.propagation.types import PushOptions

log = logging.getLogger("stripefleet.propagation")

MAX_BODY = 1024 * 1024  # bytes read from an answer at most
USER_AGENT = f"stripefleet/{__version__}"


@dataclass
class Reply:
    """One request's outcome.

    Attributes:
        status: the HTTP status, or None when no answer came.
        body: the JSON object answered, or None.
        error: a stable error code, or None for a well-formed 2xx.
        message: a human sentence about the error (never a secret).
        transient: True when worth retrying (connect errors, timeouts, 429, 5xx).
        retry_after: the site's ``Retry-After``, seconds, when it sent one.
        attempts: requests tried, retries included.
    """

    status: int | None
    body: dict[str, Any] | None = None
    error: str | None = None
    message: str | None = None
    transient: bool = False
    retry_after: float | None = None
    attempts: int = 1

    @property
    def ok(self) -> bool:
        """A 2xx with a JSON object body."""
        return self.error is None


def make_session(options: PushOptions) -> aiohttp.ClientSession:
    """One session for a whole run: pooled connections sized to the concurrency,
    ``HTTP(S)_PROXY`` / ``NO_PROXY`` honoured, TLS always verified.

    ``trust_env`` is on when the environment names a proxy. Without one it is off: with
    it, aiohttp looks up the proxy and ``~/.netrc`` in a worker thread for every request,
    which costs more than the request itself on a 1,000-site fleet (bench/).
    """
    connector = aiohttp.TCPConnector(limit=options.concurrency, ttl_dns_cache=300)
    return aiohttp.ClientSession(
        connector=connector, trust_env=bool(urllib.request.getproxies()),
        headers={"User-Agent": USER_AGENT}, timeout=aiohttp.ClientTimeout(total=options.timeout))


async def send(session: aiohttp.ClientSession, method: str, url: str, *, api_key: str,
               body: dict[str, Any] | None = None, close: bool = False,
               idempotency_key: str | None = None) -> Reply:
    """One request, classified. ``close`` asks the site to close the connection after
    it (the target's last request: idle connections do not pile up on a big fleet).
    ``idempotency_key`` goes in an ``Idempotency-Key`` header."""
    headers = {"X-API-Key": api_key, "Accept": "application/json"}
    if close:
        headers["Connection"] = "close"
    if idempotency_key is not None:
        headers["Idempotency-Key"] = idempotency_key
    try:
        async with session.request(method, url, json=body, headers=headers,
                                   allow_redirects=False) as resp:
            raw = await _read_capped(resp)
            return _classify(resp.status, resp.headers.get("Retry-After"), raw)
    except TimeoutError:
        return Reply(None, error="timeout", message="No answer within the timeout.",
                     transient=True)
    except aiohttp.ClientSSLError as exc:
        return Reply(None, error="tls_error", message=f"TLS failed: {type(exc).__name__}.")
    except aiohttp.ClientConnectorDNSError:
        return Reply(None, error="dns_error", message="The host name does not resolve.",
                     transient=True)
    except aiohttp.ClientConnectorError as exc:
        if exc.os_error.errno == errno.ECONNREFUSED:
            return Reply(None, error="connection_refused", message="Connection refused.",
                         transient=True)
        return Reply(None, error="connect_error", message=f"Could not connect: {exc.strerror}.",
                     transient=True)
    except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError, aiohttp.ClientPayloadError,
            ConnectionResetError):
        return Reply(None, error="connection_reset", message="The connection was reset.",
                     transient=True)
    except aiohttp.InvalidURL:
        return Reply(None, error="invalid_url", message="The site URL is not valid.")
    except aiohttp.ClientResponseError as exc:
        return Reply(exc.status or None, error="bad_response",
                     message="The answer is not valid HTTP.")
    except aiohttp.ClientError as exc:
        return Reply(None, error="connection_error", message=f"{type(exc).__name__}.",
                     transient=True)


async def _read_capped(resp: aiohttp.ClientResponse) -> bytes | None:
    chunks: list[bytes] = []
    size = 0
    while chunk := await resp.content.read(65536):
        size += len(chunk)
        if size > MAX_BODY:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _classify(status: int, retry_after: str | None, raw: bytes | None) -> Reply:
    data: Any = None
    if raw is not None:
        try:
            data = json.loads(raw)
        except ValueError:
            data = None
    obj = data if isinstance(data, dict) else None
    if 200 <= status < 300:
        if obj is None:
            return Reply(status, error="bad_response",
                         message="The site answered 200 but not with a JSON object.")
        return Reply(status, body=obj)
    code = obj.get("error") if obj else None
    message = obj.get("message") if obj else None
    return Reply(
        status, body=obj,
        error=code if isinstance(code, str) and code else f"http_{status}",
        message=message if isinstance(message, str) else f"The site answered HTTP {status}.",
        transient=status in retry.TRANSIENT_STATUSES,
        retry_after=retry.parse_retry_after(retry_after),
    )


async def call(session: aiohttp.ClientSession, limiter: RateLimiter,
               slot: Callable[[], AbstractAsyncContextManager[object]],
               options: PushOptions, rate_key: str, method: str,
               url: str, *, api_key: str, body: dict[str, Any] | None = None,
               close: bool = False, idempotency_key: str | None = None,
               final_errors: Collection[str] = ()) -> Reply:
    """:func:`send` with the run's limits and retries (every attempt carries the same
    ``idempotency_key``, when given). An answer whose error code is in ``final_errors``
    is never retried (the functional check's ``stripe_unreachable``: the site answered,
    Stripe did not, and each attempt spends the site's Stripe rate limit).

    Each attempt waits for the site's rate (``limiter``, keyed by ``rate_key``), then
    for a free request slot (``slot()``: the run's concurrency bound, and the slots it
    shares with other runs, if any). A transient
    failure is retried up to ``options.retries`` times after :func:`retry.retry_delay`.

    Returns:
        The last :class:`Reply`, its ``attempts`` set.
    """
    attempt = 0
    while True:
        attempt += 1
        await limiter.acquire(rate_key)
        async with slot():
            reply = await send(session, method, url, api_key=api_key, body=body, close=close,
                               idempotency_key=idempotency_key)
        reply.attempts = attempt
        if not reply.transient or attempt > options.retries or reply.error in final_errors:
            return reply
        delay = retry.retry_delay(attempt, reply.retry_after, base=options.backoff_base,
                                  cap=options.backoff_max,
                                  retry_after_cap=options.retry_after_cap)
        log.info("%s %s: %s (attempt %d), retrying in %.2f s", method, rate_key,
                 reply.error, attempt, delay)
        await retry.sleep(delay)
