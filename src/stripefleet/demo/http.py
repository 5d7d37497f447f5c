"""A JSON request over loopback with the standard library (the demo's only HTTP client;
``requests`` is a test dependency, not a runtime one)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any


class DemoHTTPError(RuntimeError):
    """An error answer: ``status`` and the decoded body (``error``, ``message``)."""

    def __init__(self, method: str, url: str, status: int, body: dict[str, Any]) -> None:
        super().__init__(f"{method} {url}: {status} {body.get('error')}: {body.get('message')}")
        self.status = status
        self.body = body


def call(method: str, url: str, body: dict[str, Any] | None = None, *,
         headers: dict[str, str] | None = None, timeout: float = 30.0) -> dict[str, Any]:
    """Send ``body`` as JSON (or nothing), return the decoded JSON answer.

    Raises:
        DemoHTTPError: the answer's status is 400 or more.
        urllib.error.URLError: no answer.
    """
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(  # noqa: S310 (the demo's own loopback URLs)
        url, data=data, method=method,
        headers={"Content-Type": "application/json", "Accept": "application/json",
                 **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:  # noqa: S310
            answer: dict[str, Any] = json.loads(resp.read() or b"{}")
            return answer
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        try:
            decoded = json.loads(raw or b"{}")
        except ValueError:
            decoded = {"error": "bad_response", "message": raw[:200].decode(errors="replace")}
        raise DemoHTTPError(method, url, exc.code, decoded) from None
