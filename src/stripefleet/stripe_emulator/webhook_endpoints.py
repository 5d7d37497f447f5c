"""Webhook endpoints: create, retrieve, update, list, delete
(https://docs.stripe.com/api/webhook_endpoints).

The signing secret (``whsec_...``) is answered only by the create call, as at Stripe.
``enabled_events`` holds event types or ``*`` (every event). ``disabled=true`` on
update makes the status ``disabled``: a disabled or deleted endpoint receives nothing,
retries included (``webhooks.py``). An endpoint belongs to the account and mode of the
key that created it: it receives only that account's events of that mode, and only
that account's keys of that mode see it (README, section 'The Stripe emulator').
Update takes Stripe's metadata rules: ``metadata[key]=""`` removes a key,
``metadata=""`` removes them all (https://docs.stripe.com/api/metadata).
"""

from __future__ import annotations

import re

from stripefleet.stripe_emulator.errors import StripeError
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


def _get(emu: Emulator, req: ApiRequest) -> Obj:
    return emu.lookup(emu.state.webhook_endpoints, req.match["id"], req, "webhook_endpoint")


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
    emu.own(endpoint, req.account)
    emu.dirty = True
    return _render(endpoint, with_secret=True)


def retrieve_endpoint(emu: Emulator, req: ApiRequest) -> Obj:
    """``GET /v1/webhook_endpoints/{id}`` (no ``secret``)."""
    req.params.allow({"expand"})
    return _render(_get(emu, req))


def update_endpoint(emu: Emulator, req: ApiRequest) -> Obj:
    """``POST /v1/webhook_endpoints/{id}``: url, enabled_events, description, metadata,
    ``disabled`` (true -> status ``disabled``: no deliveries)."""
    p = req.params
    p.allow({"url", "enabled_events", "description", "metadata", "disabled", "expand"})
    endpoint = _get(emu, req)
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
        merged = {**endpoint["metadata"], **metadata} if metadata else {}
        endpoint["metadata"] = {k: v for k, v in merged.items() if v != ""}
    if disabled is not None:
        endpoint["status"] = "disabled" if disabled else "enabled"
    emu.dirty = True
    return _render(endpoint)


def delete_endpoint(emu: Emulator, req: ApiRequest) -> Obj:
    """``DELETE /v1/webhook_endpoints/{id}``: ``{"id", "object", "deleted": true}``."""
    req.params.allow(set())
    endpoint = _get(emu, req)
    del emu.state.webhook_endpoints[endpoint["id"]]
    emu.dirty = True
    return {"id": endpoint["id"], "object": "webhook_endpoint", "deleted": True}


def list_endpoints(emu: Emulator, req: ApiRequest) -> Obj:
    """``GET /v1/webhook_endpoints``: the account's, newest first."""
    req.params.allow(PAGINATION_PARAMS)
    endpoints = [e for e in emu.state.webhook_endpoints.values() if emu.visible(e, req)]
    return paginate(endpoints, req.params, "/v1/webhook_endpoints", "webhook_endpoint",
                    _render)
