"""Webhook endpoints: create, retrieve, update, list, delete
(https://docs.stripe.com/api/webhook_endpoints).

The signing secret (``whsec_...``) is answered only by the create call, as at Stripe.
``enabled_events`` holds event types or ``*`` (every event).
"""

from __future__ import annotations

import re

from stripefleet.stripe_emulator.errors import StripeError, resource_missing
from stripefleet.stripe_emulator.forms import Params
from stripefleet.stripe_emulator.ids import new_id, random_token
from stripefleet.stripe_emulator.lists import PAGINATION_PARAMS, paginate
from stripefleet.stripe_emulator.runtime import ApiRequest, Emulator
from stripefleet.stripe_emulator.state import Obj

_URL = re.compile(r"^https?://[^\s/]+\S*$")
_EVENT_TYPE = re.compile(r"^(\*|[a-z0-9_]+(\.[a-z0-9_]+)+)$")


def _render(endpoint: Obj, *, with_secret: bool = False) -> Obj:
    out = dict(endpoint)
    if not with_secret:
        out.pop("secret", None)
    out["enabled_events"] = list(endpoint["enabled_events"])
    return out


def _url(p: Params, required: bool) -> str | None:
    url = p.string("url", required=required, max_length=5000)
    if url is not None and not _URL.match(url):
        raise StripeError(f"Invalid URL: {url}. URLs must begin with http:// or https://.",
                          code="url_invalid", param="url")
    return url


def _events(p: Params, required: bool) -> list[str] | None:
    events = p.array("enabled_events", required=required)
    if events is None:
        return None
    for i, value in enumerate(events):
        if not isinstance(value, str) or not _EVENT_TYPE.match(value):
            raise StripeError(f"Invalid enabled_events[{i}]: must be an event type such as "
                              "checkout.session.completed, or *.",
                              param=f"enabled_events[{i}]")
    return list(events)


def _get(emu: Emulator, endpoint_id: str) -> Obj:
    endpoint = emu.state.webhook_endpoints.get(endpoint_id)
    if endpoint is None:
        raise resource_missing("webhook_endpoint", endpoint_id)
    return endpoint


def create_endpoint(emu: Emulator, req: ApiRequest) -> Obj:
    """``POST /v1/webhook_endpoints``: answers the endpoint with its ``secret``.

    Raises:
        StripeError: 400 ``parameter_missing`` (url, enabled_events), ``url_invalid``.
    """
    p = req.params
    p.allow({"url", "enabled_events", "description", "metadata", "api_version", "connect",
             "expand"})
    url = _url(p, required=True)
    events = _events(p, required=True)
    endpoint: Obj = {
        "id": new_id("we_"),
        "object": "webhook_endpoint",
        "api_version": p.string("api_version"),
        "application": None,
        "created": emu.now(),
        "description": p.string("description"),
        "enabled_events": events,
        "livemode": req.livemode,
        "metadata": p.metadata() or {},
        "secret": f"whsec_{random_token(32)}",
        "status": "enabled",
        "url": url,
    }
    emu.state.webhook_endpoints[endpoint["id"]] = endpoint
    emu.dirty = True
    return _render(endpoint, with_secret=True)


def retrieve_endpoint(emu: Emulator, req: ApiRequest) -> Obj:
    """``GET /v1/webhook_endpoints/{id}`` (no ``secret``)."""
    req.params.allow({"expand"})
    return _render(_get(emu, req.match["id"]))


def update_endpoint(emu: Emulator, req: ApiRequest) -> Obj:
    """``POST /v1/webhook_endpoints/{id}``: url, enabled_events, description, metadata,
    ``disabled`` (true -> status ``disabled``: no deliveries)."""
    p = req.params
    p.allow({"url", "enabled_events", "description", "metadata", "disabled", "expand"})
    endpoint = _get(emu, req.match["id"])
    url, events = _url(p, required=False), _events(p, required=False)
    disabled = p.boolean("disabled")
    metadata = p.metadata()
    if url is not None:
        endpoint["url"] = url
    if events is not None:
        endpoint["enabled_events"] = events
    if p.has("description"):
        endpoint["description"] = p.data["description"] or None
    if metadata is not None:
        endpoint["metadata"] = {**endpoint["metadata"], **metadata} if metadata else {}
    if disabled is not None:
        endpoint["status"] = "disabled" if disabled else "enabled"
    emu.dirty = True
    return _render(endpoint)


def delete_endpoint(emu: Emulator, req: ApiRequest) -> Obj:
    """``DELETE /v1/webhook_endpoints/{id}``: ``{"id", "object", "deleted": true}``."""
    endpoint = _get(emu, req.match["id"])
    del emu.state.webhook_endpoints[endpoint["id"]]
    emu.dirty = True
    return {"id": endpoint["id"], "object": "webhook_endpoint", "deleted": True}


def list_endpoints(emu: Emulator, req: ApiRequest) -> Obj:
    """``GET /v1/webhook_endpoints``: newest first."""
    req.params.allow(PAGINATION_PARAMS)
    return paginate(emu.state.webhook_endpoints.values(), req.params,
                    "/v1/webhook_endpoints", "webhook_endpoint", _render)
