"""``X-API-Key`` authentication for the site's machine endpoints, with a lock-out.

Use ``@require_api_key`` on any view the fleet calls (the settings API, the launch
requests' export). A caller that fails 10 times within a minute is answered 429
``too_many_attempts`` with ``Retry-After`` until the window ends, even with the right
key (README, "A site"; counted by Flask-Limiter's storage, per client address).
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

P = ParamSpec("P")
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
            reset_at = limiter.limiter.get_window_stats(
                FAILED_ATTEMPTS_LIMIT, _NAMESPACE, client).reset_time
            retry_after = max(1, math.ceil(reset_at - time.time()))
            log.warning("locked out %s on %s %s for %s s after too many failed API keys",
                        client, request.method, request.path, retry_after)
            raise ApiError("too_many_attempts",
                           f"Too many failed API-key attempts from {client}; try again in "
                           f"{retry_after} s.", status=429,
                           headers={"Retry-After": str(retry_after)})
        header = request.headers.get("X-API-Key")
        actor = match_api_key(header)
        if actor is None:
            if limiter.enabled:
                limiter.limiter.hit(FAILED_ATTEMPTS_LIMIT, _NAMESPACE, client)
            log.warning("rejected %s API key from %s on %s %s",
                        "a missing" if not header else "an invalid", client,
                        request.method, request.path)
            raise ApiError("invalid_api_key",
                           "Missing or invalid X-API-Key header: send the fleet's "
                           "TEMPLATE_MASTER_API_KEY.", status=401)
        g.api_key_fingerprint = actor
        return view(*args, **kwargs)

    return wrapper
