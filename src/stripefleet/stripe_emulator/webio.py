"""What every handler shares: the app key of the :class:`Emulator`, JSON answers, and
reading Stripe-encoded parameters from a request."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from stripefleet.stripe_emulator.forms import Params, decode
from stripefleet.stripe_emulator.runtime import Emulator

EMULATOR: web.AppKey[Emulator] = web.AppKey("emulator", Emulator)


def emulator_of(request: web.Request) -> Emulator:
    """The emulator serving ``request``."""
    return request.app[EMULATOR]


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None
                  ) -> web.Response:
    """A JSON response, pretty-printed as Stripe's are."""
    return web.Response(text=json.dumps(body, indent=2), status=status,
                        content_type="application/json", headers=headers)


async def read_params(request: web.Request) -> Params:
    """The decoded parameters: the query string for GET/DELETE, the form body for POST.

    Raises:
        StripeError: 400 for a malformed key (see :func:`forms.decode`).
    """
    if request.method == "POST":
        form = await request.post()
        pairs = [(k, v) for k, v in form.items() if isinstance(v, str)]
    else:
        pairs = list(request.query.items())
    return Params(decode(pairs))
