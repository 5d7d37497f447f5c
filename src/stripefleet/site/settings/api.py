"""The settings API (README, "A site"): the contract of the original propagation script
and of the troubleshooting guide.

``PUT /api/export/settings/<setting>``, ``PUT /api/export/settings`` (several settings,
all or nothing) and ``GET /api/export/settings[/<setting>]`` need ``X-API-Key``;
``GET /api/stripe-pk`` and ``GET /api/health/stripe`` are public.
No answer ever holds a secret: only fingerprints and masks.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, Response, g, jsonify, request

from stripefleet.common.db import iso_utc
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

#: Largest body of a PUT of several settings, in bytes (the four values at their longest
#: fit in 2 KiB).
MAX_SETTINGS_BODY_BYTES = 8192

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


def _values_from_body() -> dict[str, str]:
    """The ``settings`` object of a ``{"settings": {name: value, ...}}`` JSON body.

    :raise 413: body over 8 KiB. :raise 415: not JSON. :raise 400: ``invalid_json``;
        ``invalid_settings`` (``settings`` missing, empty, or not an object of strings).
    """
    request.max_content_length = MAX_SETTINGS_BODY_BYTES
    example = '{"settings": {"stripe_publishable_key": "pk_...", "stripe_secret_key": "sk_..."}}'
    body = json_body(MAX_SETTINGS_BODY_BYTES, example=example)
    values = body.get("settings")
    if (not isinstance(values, dict) or not values
            or not all(isinstance(v, str) for v in values.values())):
        raise ApiError("invalid_settings",
                       f'"settings" must be a non-empty object of strings: {example}.')
    return values


def _refusal(code: str, message: str, setting: str) -> tuple[Response, int]:
    """A 400 naming the refused setting: ``{"success": false, "error", "message",
    "setting"}`` (returned, not raised: nothing was written, and the answer has a field
    ``ApiError`` does not carry)."""
    return jsonify(success=False, error=code, message=message, setting=setting), 400


@bp.put("/api/export/settings")
@require_api_key
@transactional
def put_settings() -> Response | tuple[Response, int]:
    """Set several settings at once, all or nothing (a key pair: README, "A site").

    Body ``{"settings": {"stripe_publishable_key": "...", "stripe_secret_key": "...",
    "stripe_webhook_secret": "..."}}``: any non-empty set of the pushable settings, the
    fleet's API key only alone. Every value is validated before anything is written
    (``services.put_values``); all are written in this request's one transaction, each
    with its ``setting_changes`` row. An optional ``Idempotency-Key`` works as for one
    setting, for each of them.

    200 ``{"success": true, "settings": {name: {"changed", "fingerprint",
    "previous_fingerprint", "version", "updated_at"}}}``.

    :raise 400: ``invalid_settings`` (``settings`` missing, empty, not an object of
        strings, or the fleet's API key with others); ``unknown_setting`` (with
        ``"setting"``); the first invalid value's own code (``invalid_secret_format``,
        ... with ``"setting"``); ``invalid_json``, ``invalid_idempotency_key``.
        :raise 401, 429: see ``require_api_key``. :raise 413, 415: too large, not JSON.
    """
    idempotency_key = _idempotency_key()
    values = _values_from_body()
    for name in values:
        if name not in PUSHABLE:
            return _refusal("unknown_setting",
                            f"Unknown setting {name[:64]!r}; settings are "
                            f"{', '.join(PUSHABLE)}.", name[:64])
    try:
        results = services.put_values(values, actor=f"api:{g.api_key_fingerprint}",
                                      client=request.remote_addr,
                                      idempotency_key=idempotency_key)
    except services.InvalidSettings as exc:
        if exc.setting is None:
            raise ApiError("invalid_settings", str(exc)) from None
        return _refusal("invalid_settings", str(exc), exc.setting)
    except InvalidValue as exc:
        return _refusal(exc.code, str(exc), exc.setting)
    answer = {}
    for name, result in results.items():
        fields = result.to_json()
        del fields["setting"]
        answer[name] = fields
    return jsonify(success=True, settings=answer)


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
    """Which Stripe settings are configured and in which mode (the troubleshooting guide),
    and what the last functional check found (README, "A site").

    ``environment`` is ``test``, ``live``, ``mixed`` (publishable and secret keys in
    different modes) or null. ``account_id`` (and ``livemode``): the Stripe account the
    last successful ``POST /api/test-stripe`` found for the current secret key, null
    before one (or once the key changed); ``checked_at`` (ISO 8601 UTC) and
    ``check_outcome`` (``ok`` or the error code): the last check, null before one. Read
    from the stored check, never from Stripe.
    """
    states = services.list_states()
    check = services.stripe_check_state()
    return jsonify(
        success=True,
        secret_key_configured=states[SECRET_KEY].configured,
        publishable_key_configured=states[PUBLISHABLE_KEY].configured,
        webhook_secret_configured=states[WEBHOOK_SECRET].configured,
        environment=services.stripe_environment(),
        account_id=check.account_id,
        livemode=check.livemode,
        checked_at=iso_utc(check.checked_at),
        check_outcome=check.outcome,
    )
