"""The settings API (README, "A site"): the contract of the original propagation script
and of the troubleshooting guide.

``PUT /api/export/settings/<setting>`` and ``GET /api/export/settings[/<setting>]``
need ``X-API-Key``; ``GET /api/stripe-pk`` and ``GET /api/health/stripe`` are public.
No answer ever holds a secret: only fingerprints and masks.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, Response, g, jsonify, request

from stripefleet.common.keys import (
    MASTER_API_KEY,
    PUBLISHABLE_KEY,
    SECRET_KEY,
    SETTINGS,
    STRIPE_SETTINGS,
    WEBHOOK_SECRET,
    InvalidValue,
)
from stripefleet.common.web import ApiError, json_body
from stripefleet.site.extensions import transactional
from stripefleet.site.settings import services
from stripefleet.site.settings.api_keys import require_api_key

bp = Blueprint("settings", __name__)

#: The settings the fleet may PUT and read: the three Stripe settings and the fleet's API
#: key, which the dashboard's owners rotate (README, "A site").
PUSHABLE = (*STRIPE_SETTINGS, MASTER_API_KEY)

#: Largest PUT body accepted, in bytes (413 ``payload_too_large`` above 4 KiB).
MAX_BODY_BYTES = 4096

#: An ``Idempotency-Key`` header: 1 to 255 printable ASCII characters, no space.
IDEMPOTENCY_KEY = re.compile(r"[!-~]{1,255}")


def _setting_name(name: str) -> str:
    if name not in PUSHABLE:
        raise ApiError("unknown_setting",
                       f"Unknown setting {name[:64]!r}; settings are {', '.join(PUSHABLE)}.",
                       status=404)
    return name


def _value_from_body() -> Any:
    """The ``value`` of a ``{"value": ...}`` JSON body.

    :raise 413: body over 4 KiB. :raise 415: not JSON. :raise 400: ``invalid_json``,
        ``missing_value``.
    """
    request.max_content_length = MAX_BODY_BYTES
    body = json_body(MAX_BODY_BYTES, example='{"value": "..."}')
    value = body.get("value")
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ApiError("missing_value", 'The body has no "value"; send {"value": "..."}.')
    return value


def _idempotency_key() -> str | None:
    """The optional ``Idempotency-Key`` header (as Stripe's), None when absent.

    :raise 400: ``invalid_idempotency_key`` (present but not 1 to 255 printable ASCII
        characters without spaces).
    """
    key = request.headers.get("Idempotency-Key")
    if key is not None and not IDEMPOTENCY_KEY.fullmatch(key):
        raise ApiError("invalid_idempotency_key",
                       "The Idempotency-Key header must be 1 to 255 printable ASCII "
                       "characters without spaces (a UUID will do); send the same key on "
                       "every attempt of one change, or leave the header out.")
    return key


@bp.put("/api/export/settings/<name>")
@require_api_key
@transactional
def put_setting(name: str) -> Response:
    """Set one setting: 200 ``{"success", "setting", "changed", "fingerprint",
    "previous_fingerprint", "version", "updated_at"}``.

    An optional ``Idempotency-Key`` header makes a retry of a change that landed answer
    as the change did (``services.put_value``).

    :raise 400: ``invalid_publishable_key_format`` / ``invalid_secret_format`` /
        ``invalid_webhook_secret_format`` (the key formats), ``invalid_api_key_format``
        (``template_master_api_key``: from then on, only the new key is accepted),
        ``invalid_json``, ``missing_value``, ``invalid_idempotency_key`` (the header
        is not 1 to 255 printable ASCII characters without spaces). :raise 401, 429:
        see ``require_api_key``.
    :raise 404: ``unknown_setting``. :raise 413, 415: body too large, not JSON.
    """
    setting = _setting_name(name)
    idempotency_key = _idempotency_key()
    value = _value_from_body()
    if not isinstance(value, str):
        spec = SETTINGS[setting]
        raise ApiError(spec.error_code, f"The {spec.label} must be a JSON string.")
    try:
        result = services.put_value(setting, value, actor=f"api:{g.api_key_fingerprint}",
                                    client=request.remote_addr,
                                    idempotency_key=idempotency_key)
    except InvalidValue as exc:
        raise ApiError(exc.code, str(exc)) from None
    return jsonify(success=True, **result.to_json())


@bp.get("/api/export/settings")
@require_api_key
def list_settings() -> Response:
    """Each setting's state: ``{"success", "settings": {name: {"configured",
    "fingerprint", "masked", "updated_at", "version"}}}`` for the four settings; the
    publishable key's entry also has ``value``."""
    states = services.list_states()
    return jsonify(success=True, settings={n: s.to_json() for n, s in states.items()})


@bp.get("/api/export/settings/<name>")
@require_api_key
def get_setting(name: str) -> Response:
    """One setting's state: ``{"success", "setting", "configured", "fingerprint",
    "masked", "updated_at", "version"}``. :raise 404: ``unknown_setting``."""
    state = services.get_state(_setting_name(name))
    return jsonify(success=True, setting=state.name, **state.to_json())


@bp.get("/api/stripe-pk")
def stripe_pk() -> Response:
    """The publishable key: ``{"success": true, "publishable_key": "pk_..."}``.

    :raise 404: ``not_configured``.
    """
    value = services.get_value(PUBLISHABLE_KEY)
    if value is None:
        raise ApiError("not_configured", "No Stripe publishable key is configured yet.", status=404)
    return jsonify(success=True, publishable_key=value)


@bp.get("/api/health/stripe")
def stripe_health() -> Response:
    """Which Stripe settings are configured and in which mode (the troubleshooting guide).

    ``environment`` is ``test``, ``live``, ``mixed`` (publishable and secret keys in
    different modes) or null.
    """
    states = services.list_states()
    return jsonify(
        success=True,
        secret_key_configured=states[SECRET_KEY].configured,
        publishable_key_configured=states[PUBLISHABLE_KEY].configured,
        webhook_secret_configured=states[WEBHOOK_SECRET].configured,
        environment=services.stripe_environment(),
    )
