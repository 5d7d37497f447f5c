"""Request helpers shared by the shop's JSON endpoints (accounts, checkout, launch)."""

from __future__ import annotations

import json
from typing import Any

from flask import request

from stripefleet.site.errors import ApiError

#: Largest JSON body of a shop endpoint, in bytes.
MAX_JSON_BYTES = 64 * 1024


def json_body(max_bytes: int = MAX_JSON_BYTES) -> dict[str, Any]:
    """The request's JSON object.

    :raise 413: ``payload_too_large``. :raise 415: ``unsupported_media_type``.
    :raise 400: ``invalid_json`` (not JSON, or not an object).
    """
    if request.content_length is not None and request.content_length > max_bytes:
        raise ApiError(413, "payload_too_large", f"The body is over {max_bytes} bytes.")
    if not request.is_json:
        raise ApiError(415, "unsupported_media_type",
                       "Send the body as JSON with Content-Type: application/json.")
    try:
        body = json.loads(request.get_data(cache=True)[: max_bytes + 1].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ApiError(400, "invalid_json", "The body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_json", "The body must be a JSON object.")
    return body
