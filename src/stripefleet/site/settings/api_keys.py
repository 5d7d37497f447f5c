"""``X-API-Key`` authentication for the site's machine endpoints, with a lock-out.

Use ``@require_api_key`` on any view the fleet calls (the settings API, the launch
requests' export). A caller that fails 10 times within a minute is answered 429
``too_many_attempts`` with ``Retry-After`` until the window ends, even with the right
key (README, "A site"; counted by Flask-Limiter's storage, per client address).

A failure is recorded and the limit checked in one step (the storage's ``hit``, whose
answer says whether the failure still fitted in the window), so that concurrent
requests cannot share a slot: of 11 wrong keys sent at once, 10 are answered 401 and
the 11th 429. With several worker processes the storage must be shared
(``SITE_RATELIMIT_STORAGE_URI=redis://...``; ``site serve --workers N`` refuses
``memory://``, see :func:`shared_storage_problem`).
"""

from __future__ import annotations

import functools
import logging
import math
import time
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from flask import g, request
from flask_limiter.util import get_remote_address
from limits import parse

from stripefleet.common.web import ApiError
from stripefleet.site.extensions import limiter
from stripefleet.site.settings.services import match_api_key

log = logging.getLogger(__name__)

#: Failed API-key attempts allowed per client (README, "A site").
FAILED_ATTEMPTS_LIMIT = parse("10 per minute")
_NAMESPACE = "api-key-failures"

#: ``SITE_RATELIMIT_STORAGE_URI`` schemes that each process keeps for itself.
_PER_PROCESS_STORAGES = ("memory://",)

P = ParamSpec("P")


def shared_storage_problem(storage_uri: str, workers: int) -> str | None:
    """Why ``storage_uri`` cannot count failed API keys for ``workers`` processes, or None.

    Flask-Limiter's ``memory://`` storage lives in each process: with 4 gunicorn workers
    a client could try 4 x 10 keys a minute. Above one worker the counter must be shared
    (README, "A site": ``SITE_RATELIMIT_STORAGE_URI=redis://...``).
    """
    if workers > 1 and storage_uri.strip().lower().startswith(_PER_PROCESS_STORAGES):
        return (f"--workers {workers} needs a shared counter of failed API keys, but "
                f"SITE_RATELIMIT_STORAGE_URI is {storage_uri}, which each worker process "
                "keeps for itself (a client could try 10 keys a minute per worker). Set "
                "SITE_RATELIMIT_STORAGE_URI=redis://HOST:6379/0 (or another shared "
                "Flask-Limiter storage), or serve with --workers 1")
    return None


def _locked_out(client: str) -> None:
    """Raise the 429 of a locked-out client, with the seconds left in ``Retry-After``."""
    reset_at = limiter.limiter.get_window_stats(
        FAILED_ATTEMPTS_LIMIT, _NAMESPACE, client).reset_time
    retry_after = max(1, math.ceil(reset_at - time.time()))
    log.warning("locked out %s on %s %s for %s s after too many failed API keys",
                client, request.method, request.path, retry_after)
    raise ApiError("too_many_attempts",
                   f"Too many failed API-key attempts from {client}; try again in "
                   f"{retry_after} s.", status=429, headers={"Retry-After": str(retry_after)})
R = TypeVar("R")


def require_api_key(view: Callable[P, R]) -> Callable[P, R]:
    """Let the request through only with an accepted ``X-API-Key``.

    Sets ``g.api_key_fingerprint`` (the key's fingerprint, for the records).

    :raise 401: ``invalid_api_key``, missing or wrong key (counted as a failure).
    :raise 429: ``too_many_attempts`` after 10 failures in a minute from this client.
    """

    @functools.wraps(view)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        client = get_remote_address()
        if limiter.enabled and not limiter.limiter.test(FAILED_ATTEMPTS_LIMIT, _NAMESPACE, client):
            _locked_out(client)
        header = request.headers.get("X-API-Key")
        actor = match_api_key(header)
        if actor is None:
            # One step: record the failure and learn whether it fitted in the window.
            if limiter.enabled and not limiter.limiter.hit(FAILED_ATTEMPTS_LIMIT,
                                                           _NAMESPACE, client):
                _locked_out(client)
            log.warning("rejected %s API key from %s on %s %s",
                        "a missing" if not header else "an invalid", client,
                        request.method, request.path)
            raise ApiError("invalid_api_key",
                           "Missing or invalid X-API-Key header: send the fleet's "
                           "TEMPLATE_MASTER_API_KEY.", status=401)
        g.api_key_fingerprint = actor
        return view(*args, **kwargs)

    return wrapper
