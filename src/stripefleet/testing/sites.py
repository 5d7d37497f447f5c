"""The in-memory site settings API that each fake site of a FaultFleet serves.

Implements the site settings API (README, "A site") closely enough for the
engine, the dashboard and the CLI to be tested against it: ``PUT
/api/export/settings/{setting}``, ``PUT /api/export/settings`` (several settings at
once), ``GET /api/export/settings``, ``GET /api/stripe-pk``, ``GET /api/health``, ``GET
/api/health/stripe`` and the functional check ``POST /api/test-stripe``, with the same
JSON shapes and error codes as a real site. The functional check answers from the
stored keys, without Stripe: the account is the fleet's ``accounts[secret_key]`` (else
one derived from the key's fingerprint), ``livemode`` the key's mode, and a key listed
in the fleet's ``key_errors`` answers that error (a wrong or expired key).
"""

from __future__ import annotations

import hmac
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from stripefleet.common.keys import (
    MASTER_API_KEY,
    PUBLISHABLE_KEY,
    SECRET_KEY,
    SETTINGS,
    WEBHOOK_SECRET,
    InvalidValue,
    fingerprint,
    key_mode,
    mask,
    normalize_value,
)
from stripefleet.testing.behaviours import STRIPE_FAILURES, Behaviour

MAX_BODY = 4096  # bytes (a site: 413 payload_too_large over 4 KiB)
#: An ``Idempotency-Key`` a site accepts: 1 to 255 printable ASCII characters.
IDEMPOTENCY_KEY = re.compile(r"[!-~]{1,255}")


@dataclass
class Stored:
    """One stored setting of a fake site; ``change_key``: the ``Idempotency-Key`` of
    the PUT that stored it, replayed as that PUT's answer (as a real site does)."""

    value: str
    version: int
    updated_at: str
    previous_fingerprint: str | None = None
    change_key: str | None = None


@dataclass
class LoggedRequest:
    """One request a fake site received.

    Attributes:
        method: ``PUT``, ``GET``, ...
        path: the request path.
        at: ``time.monotonic()`` when it arrived, seconds.
        status: the status answered (0 when the connection was hung or reset).
        api_key_fingerprint: fingerprint of the ``X-API-Key`` sent, or None.
        idempotency_key: the ``Idempotency-Key`` sent, or None.
    """

    method: str
    path: str
    at: float
    status: int = 0
    api_key_fingerprint: str | None = None
    idempotency_key: str | None = None


@dataclass
class FakeSite:
    """One site of the fleet: its URL, behaviour, accepted API key and stored settings."""

    index: int
    url: str
    port: int
    behaviour: Behaviour
    api_key: str
    settings: dict[str, Stored] = field(default_factory=dict)
    failures_left: int = 0
    log: list[LoggedRequest] = field(default_factory=list)
    #: secret key -> ``acct_...`` (shared by the fleet's sites).
    accounts: dict[str, str] = field(default_factory=dict)
    #: secret key -> the error code its functional check answers (shared by the fleet).
    key_errors: dict[str, str] = field(default_factory=dict)
    #: the account and time of the last successful functional check.
    checked_account: str | None = None
    checked_at: str | None = None
    last_webhook_verified_at: str | None = None

    def account_for(self, secret_key: str) -> str:
        """The account of ``secret_key``: the fleet's mapping, else ``acct_`` and 16
        characters of its fingerprint."""
        return self.accounts.get(secret_key) or f"acct_{fingerprint(secret_key)}"

    def reset_failures(self) -> None:
        """Re-arm ``flaky`` / ``rate_limited`` for a new run."""
        self.failures_left = self.behaviour.failures

    def set(self, setting: str, value: str, change_key: str | None = None) -> Stored:
        """Store ``value`` (version + 1, updated now, UTC)."""
        old = self.settings.get(setting)
        stored = Stored(value, (old.version if old else 0) + 1, _now(),
                        fingerprint(old.value) if old else None, change_key)
        self.settings[setting] = stored
        return stored


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def error(status: int, code: str, message: str,
          headers: dict[str, str] | None = None) -> web.Response:
    """The sites' error body: ``{"success": false, "error": code, "message": ...}``."""
    return web.json_response({"success": False, "error": code, "message": message},
                             status=status, headers=headers)


def _authorized(site: FakeSite, request: web.Request) -> bool:
    sent = request.headers.get("X-API-Key", "")
    stored = site.settings.get(MASTER_API_KEY)
    accepted = stored.value if stored else site.api_key
    return hmac.compare_digest(sent.encode(), accepted.encode())


def export_entry(site: FakeSite, setting: str) -> dict[str, Any]:
    """One ``GET /api/export/settings`` entry (never a secret in clear)."""
    stored = site.settings.get(setting)
    entry: dict[str, Any] = {
        "configured": stored is not None,
        "fingerprint": fingerprint(stored.value) if stored else None,
        "masked": mask(stored.value) if stored else None,
        "updated_at": stored.updated_at if stored else None,
        "version": stored.version if stored else 0,
    }
    if setting == PUBLISHABLE_KEY:
        entry["value"] = stored.value if stored else None
    return entry


async def settings_api(site: FakeSite, request: web.Request, *, liar: bool) -> web.Response:
    """Answer one request as a healthy site would (``liar``: PUTs store nothing)."""
    path = request.path.rstrip("/")
    old_site = site.behaviour.kind == "old_site"
    if path == "/api/health" and request.method == "GET":
        return web.json_response({"success": True, "status": "ok", "database": "ok"})
    if path == "/api/health/stripe" and request.method == "GET":
        return web.json_response(_stripe_health(site, old_site=old_site))
    if path == "/api/test-stripe" and request.method == "POST" and not old_site:
        return _test_stripe(site, request)
    if path == "/api/export/settings" and request.method == "PUT" and not old_site:
        return await _put_many(site, request, liar=liar)
    if path == "/api/stripe-pk" and request.method == "GET":
        stored = site.settings.get(PUBLISHABLE_KEY)
        if stored is None:
            return error(404, "not_configured", "No publishable key is configured.")
        return web.json_response({"success": True, "publishable_key": stored.value})
    if path == "/api/export/settings" and request.method == "GET":
        if not _authorized(site, request):
            return error(401, "invalid_api_key", "Missing or wrong X-API-Key.")
        return web.json_response(
            {"success": True, "settings": {name: export_entry(site, name) for name in SETTINGS}})
    prefix = "/api/export/settings/"
    if path.startswith(prefix) and request.method == "PUT":
        return await _put(site, request, path[len(prefix):], liar=liar)
    return error(404, "not_found", f"No route for {request.method} {request.path}.")


async def _put(site: FakeSite, request: web.Request, setting: str, *,
               liar: bool) -> web.Response:
    if not _authorized(site, request):
        return error(401, "invalid_api_key", "Missing or wrong X-API-Key.")
    if setting not in SETTINGS:
        return error(404, "unknown_setting", f"Unknown setting {setting!r}.")
    if request.content_type != "application/json":
        return error(415, "unsupported_media_type", "Send Content-Type: application/json.")
    data = await _json_body(request)
    if isinstance(data, web.Response):
        return data
    raw = data.get("value") if isinstance(data, dict) else None
    if not isinstance(raw, str) or not raw.strip():
        return error(400, "missing_value", "The body needs a \"value\" string.")
    try:
        value = normalize_value(setting, raw)
    except InvalidValue as exc:
        return error(400, exc.code, str(exc))
    key = request.headers.get("Idempotency-Key")
    if key is not None and not IDEMPOTENCY_KEY.fullmatch(key):
        return error(400, "invalid_idempotency_key",
                     "Idempotency-Key must be 1 to 255 printable ASCII characters.")
    old = site.settings.get(setting)
    previous = fingerprint(old.value) if old else None
    if old is not None and old.value == value:
        stored, changed = old, bool(key) and key == old.change_key  # a replay
        if changed:
            previous = old.previous_fingerprint
    elif liar:
        stored, changed = Stored(value, (old.version if old else 0) + 1, _now()), True
    else:
        stored, changed = site.set(setting, value, key), True
    return web.json_response({
        "success": True, "setting": setting, "changed": changed,
        "fingerprint": fingerprint(value), "previous_fingerprint": previous,
        "version": stored.version, "updated_at": stored.updated_at,
    })


def _stripe_health(site: FakeSite, *, old_site: bool) -> dict[str, Any]:
    """``GET /api/health/stripe`` (public): what is configured, the keys' modes, and the
    account of the last functional check (not on an ``old_site``)."""
    modes = {key_mode(site.settings[name].value) for name in (PUBLISHABLE_KEY, SECRET_KEY)
             if name in site.settings} - {None}
    body: dict[str, Any] = {
        "success": True,
        "secret_key_configured": SECRET_KEY in site.settings,
        "publishable_key_configured": PUBLISHABLE_KEY in site.settings,
        "webhook_secret_configured": WEBHOOK_SECRET in site.settings,
        "environment": ("mixed" if len(modes) > 1 else modes.pop()) if modes else None,
    }
    if not old_site:
        body.update(account_id=site.checked_account, checked_at=site.checked_at)
    return body


def _test_stripe(site: FakeSite, request: web.Request) -> web.Response:
    """``POST /api/test-stripe``: the stored secret key "calls Stripe"."""
    if not _authorized(site, request):
        return error(401, "invalid_api_key", "Missing or wrong X-API-Key.")
    stored = site.settings.get(SECRET_KEY)
    if stored is None:
        return error(409, "secret_key_not_configured", "No Stripe secret key is configured.")
    kind = site.behaviour.kind
    code = kind if kind in STRIPE_FAILURES else site.key_errors.get(stored.value)
    if code == "stripe_unreachable":
        return error(503, code, "Stripe did not answer.", headers={"Retry-After": "1"})
    if code is not None:
        return error(502, code, f"Stripe refused the secret key {mask(stored.value)}.")
    publishable = site.settings.get(PUBLISHABLE_KEY)
    secret_mode = key_mode(stored.value)
    pk_mode = key_mode(publishable.value) if publishable else None
    site.checked_account, site.checked_at = site.account_for(stored.value), _now()
    return web.json_response({
        "success": True, "account_id": site.checked_account,
        "livemode": secret_mode == "live",
        "secret_key_fingerprint": fingerprint(stored.value),
        "publishable_key_mode": pk_mode,
        "mode_consistent": pk_mode is None or pk_mode == secret_mode,
        "last_webhook_verified_at": site.last_webhook_verified_at,
        "checked_at": site.checked_at,
    })


async def _json_body(request: web.Request) -> Any:
    """The request's decoded JSON body, or the error answer (413 over 4 KiB, 400 not
    JSON) to send instead, as a site answers."""
    body = await request.content.read(MAX_BODY + 1)
    if len(body) > MAX_BODY:
        return error(413, "payload_too_large", "The body is over 4 KiB.")
    try:
        return json.loads(body)
    except ValueError:
        return error(400, "invalid_json", "The body is not JSON.")


async def _put_many(site: FakeSite, request: web.Request, *, liar: bool) -> web.Response:
    """``PUT /api/export/settings`` ``{"settings": {name: value, ...}}``: validated as a
    whole (the first invalid value refuses all), stored together."""
    if not _authorized(site, request):
        return error(401, "invalid_api_key", "Missing or wrong X-API-Key.")
    data = await _json_body(request)
    if isinstance(data, web.Response):
        return data
    raw = data.get("settings") if isinstance(data, dict) else None
    if not isinstance(raw, dict) or not raw or not all(
            isinstance(v, str) for v in raw.values()):
        return error(400, "invalid_settings", "\"settings\" must be an object of strings.")
    values: dict[str, str] = {}
    for name, value in raw.items():
        if name not in SETTINGS:
            return error(400, "unknown_setting", f"Unknown setting {name!r}.")
        try:
            values[name] = normalize_value(name, value)
        except InvalidValue as exc:
            return web.json_response({"success": False, "error": exc.code,
                                      "message": str(exc), "setting": name}, status=400)
    if MASTER_API_KEY in values and len(values) > 1:
        return error(400, "invalid_settings",
                     "template_master_api_key is changed alone, not with other settings.")
    key = request.headers.get("Idempotency-Key")
    answer: dict[str, Any] = {}
    for name, value in values.items():
        old = site.settings.get(name)
        previous = fingerprint(old.value) if old else None
        if old is not None and old.value == value:
            stored, changed = old, bool(key) and key == old.change_key
            if changed:
                previous = old.previous_fingerprint
        elif liar:
            stored, changed = Stored(value, (old.version if old else 0) + 1, _now()), True
        else:
            stored, changed = site.set(name, value, key), True
        answer[name] = {"changed": changed, "fingerprint": fingerprint(value),
                        "previous_fingerprint": previous, "version": stored.version,
                        "updated_at": stored.updated_at}
    return web.json_response({"success": True, "settings": answer})
