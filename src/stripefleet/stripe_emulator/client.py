"""A tiny client of the emulator's control API, for tests and the demo (stdlib only).

    emu = EmulatorClient("http://127.0.0.1:12111")
    emu.pay(session_id, "4242 4242 4242 4242")   # -> the control API's JSON
    emu.advance_clock(3600)
    emu.deliveries(event_id="evt_...")
    emu.create_keys(account="new", mode="live")  # another account's live key pair
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any


class EmulatorError(RuntimeError):
    """The control API answered an error.

    Attributes:
        status: the HTTP status.
        error: the Stripe-style ``error`` hash (``type``, ``code``, ``message``, ...).
    """

    def __init__(self, status: int, error: dict[str, Any]) -> None:
        super().__init__(f"HTTP {status}: {error.get('code') or error.get('type')}: "
                         f"{error.get('message')}")
        self.status = status
        self.error = error

    @property
    def code(self) -> str | None:
        """The error's ``code`` (``card_declined``, ``incorrect_number``, ...)."""
        return self.error.get("code")


class EmulatorClient:
    """Calls ``/_emulator/...`` on one emulator.

    Args:
        base_url: the emulator's URL (``http://127.0.0.1:12111``).
        timeout: seconds per request.
    """

    def __init__(self, base_url: str, *, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def _call(self, method: str, path: str, params: dict[str, Any] | None = None) -> Any:
        data = None
        url = self.base_url + path
        encoded = urllib.parse.urlencode(
            {k: v for k, v in (params or {}).items() if v is not None})
        if method == "POST":
            data = encoded.encode()
        elif encoded:
            url += "?" + encoded
        request = urllib.request.Request(url, data=data, method=method)  # noqa: S310
        if data is not None:
            request.add_header("Content-Type", "application/x-www-form-urlencoded")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as resp:  # noqa: S310 (http only)
                return json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            body = exc.read()
            try:
                error = json.loads(body)["error"]
            except (ValueError, KeyError, TypeError):
                error = {"type": "api_error", "message": body.decode(errors="replace")}
            raise EmulatorError(exc.code, error) from None

    def health(self) -> dict[str, Any]:
        """``{"ok": true, "api_version", "now"}``."""
        return dict(self._call("GET", "/_emulator/health"))

    def pay(self, session_id: str, card: str = "4242424242424242") -> dict[str, Any]:
        """Pay a Checkout Session as the pay page does.

        Returns:
            ``{"status": "succeeded", "checkout_session", "payment_intent", "redirect_url"}``.

        Raises:
            EmulatorError: 402 for a declined card or a wrong number, 400 for an
                expired or complete session, 404 for an unknown one.
        """
        return dict(self._call("POST", f"/_emulator/checkout/sessions/{session_id}/pay",
                               {"card": card}))

    def advance_clock(self, seconds: int) -> dict[str, Any]:
        """Move the emulator's clock forward: ``{"now", "offset", "expired_sessions"}``."""
        return dict(self._call("POST", "/_emulator/clock/advance", {"seconds": seconds}))

    def clock(self) -> dict[str, Any]:
        """``{"now", "offset"}``."""
        return dict(self._call("GET", "/_emulator/clock"))

    def create_keys(self, account: str | None = None, mode: str | None = None,
                    **details: str) -> dict[str, Any]:
        """A new key pair: ``{"secret_key", "publishable_key", "account", "livemode",
        "created"}``.

        Args:
            account: ``"new"`` (a new account), an ``acct_...`` id, or None (the
                default account).
            mode: ``"test"`` (default) or ``"live"``.
            details: with ``account="new"``: ``name``, ``country``, ``email``,
                ``default_currency``.
        """
        return dict(self._call("POST", "/_emulator/keys",
                               {"account": account, "mode": mode, **details}))

    def expire_key(self, secret_key: str, *, after_requests: int = 0) -> dict[str, Any]:
        """Expire a secret key: it then answers 401 ``api_key_expired``, at once or once
        it has been accepted ``after_requests`` more times."""
        data = {"after_requests": str(after_requests)} if after_requests else None
        return dict(self._call("POST", f"/_emulator/keys/{secret_key}/expire", data))

    def accounts(self) -> list[dict[str, Any]]:
        """Every account (``id``, ``name``, ``country``, ``email``, ``default_currency``,
        ``created``) with its ``keys`` (secret keys masked), oldest first."""
        return list(self._call("GET", "/_emulator/accounts")["data"])

    def deliveries(self, *, event_id: str | None = None, endpoint_id: str | None = None,
                   event_type: str | None = None, account: str | None = None
                   ) -> list[dict[str, Any]]:
        """Delivery attempts, oldest first: ``account``, ``event_id``, ``endpoint_id``,
        ``attempt``, ``status`` (HTTP status or None), ``succeeded``, ``error``,
        ``resend``, ``created``."""
        body = self._call("GET", "/_emulator/deliveries", {
            "event_id": event_id, "endpoint_id": endpoint_id, "event_type": event_type,
            "account": account})
        return list(body["data"])

    def resend(self, event_id: str, webhook_endpoint: str | None = None) -> dict[str, Any]:
        """Deliver an event again: ``{"event_id", "queued"}``."""
        return dict(self._call("POST", f"/_emulator/events/{event_id}/resend",
                               {"webhook_endpoint": webhook_endpoint}))
