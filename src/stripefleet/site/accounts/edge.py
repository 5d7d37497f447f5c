"""The selling endpoints' edge: a JSON body read, bounded and checked against a declared
pydantic model before anything else sees it (README, "Selling": "API";
``docs/architecture.md``, "A request": a bad body is a 400 with a stable code, never a
500).

Here because ``accounts`` is the lowest floor that reads a body; ``checkout`` and
``launch`` use it too. The checks, in order:

1. size and media type (413 ``payload_too_large``, 415 ``unsupported_media_type``), JSON
   and UTF-8 and an object (400 ``invalid_json``);
2. nesting: at most ``MAX_DEPTH`` levels of objects and arrays (400 ``json_too_deep``;
   a body nested beyond the interpreter's recursion limit is refused the same way
   instead of raising ``RecursionError``);
3. strings (object keys included): no control character (C0, DEL) and no lone
   surrogate, which PostgreSQL's text and the UTF-8 codec refuse (400 with the field's
   code and ``field``);
4. the model (pydantic, strict types): the first error, 400 with the field's code and
   ``field`` (``items[0].quantity``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, TypeVar

from flask import Flask, Response, jsonify, request
from pydantic import BaseModel, ValidationError

#: Most levels of nested objects and arrays in a body.
MAX_DEPTH = 16
#: Characters no string of a body may hold: C0 controls, DEL, lone surrogates.
FORBIDDEN = re.compile("[\x00-\x1f\x7f\ud800-\udfff]")
DEFAULT_MAX_BYTES = 64 * 1024

M = TypeVar("M", bound=BaseModel)


class BodyInvalid(ValueError):
    """A refused body: ``code``, ``message``, ``field`` (None for the whole body) and
    the HTTP ``status`` (400, 413 or 415)."""

    def __init__(self, code: str, message: str, field: str | None = None,
                 status: int = 400) -> None:
        super().__init__(message)
        self.code, self.message, self.field, self.status = code, message, field, status


def field_name(loc: tuple[int | str, ...]) -> str:
    """``("items", 0, "quantity")`` -> ``items[0].quantity``."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def check_tree(body: Any) -> None:
    """Check nesting depth and strings of a parsed JSON value, iteratively.

    Raises:
        BodyInvalid: ``json_too_deep`` (no field); ``invalid_characters`` with the
            field of the first string (or key) holding a forbidden character (callers
            map it to the field's own code).
    """
    stack: list[tuple[Any, tuple[int | str, ...]]] = [(body, ())]
    while stack:
        value, loc = stack.pop()
        if isinstance(value, str):
            if FORBIDDEN.search(value):
                raise BodyInvalid("invalid_characters", "must not hold control characters",
                                  field_name(loc) or None)
            continue
        if not isinstance(value, dict | list):
            continue
        if len(loc) >= MAX_DEPTH:
            raise BodyInvalid("json_too_deep",
                              f"The body is nested over {MAX_DEPTH} levels deep.")
        if isinstance(value, dict):
            for key, item in value.items():
                if FORBIDDEN.search(key):
                    raise BodyInvalid("invalid_characters",
                                      "must not hold control characters in a key",
                                      field_name(loc) or None)
                stack.append((item, (*loc, key)))
        else:
            stack.extend((item, (*loc, i)) for i, item in enumerate(value))


def read_json(max_bytes: int = DEFAULT_MAX_BYTES) -> dict[str, Any]:
    """The request's JSON object, read and bounded (steps 1 to 3 of the module doc).

    Raises:
        BodyInvalid: ``payload_too_large`` (413), ``unsupported_media_type`` (415),
            ``invalid_json``, ``json_too_deep``, ``invalid_characters`` (400).
    """
    if request.content_length is not None and request.content_length > max_bytes:
        raise BodyInvalid("payload_too_large", f"The body is over {max_bytes} bytes.",
                          status=413)
    if not request.is_json:
        raise BodyInvalid("unsupported_media_type",
                          "Send the body as JSON with Content-Type: application/json.",
                          status=415)
    raw = request.get_data(cache=True)
    if len(raw) > max_bytes:
        raise BodyInvalid("payload_too_large", f"The body is over {max_bytes} bytes.",
                          status=413)
    try:
        body = json.loads(raw.decode("utf-8"))
    except RecursionError:
        raise BodyInvalid("json_too_deep",
                          f"The body is nested over {MAX_DEPTH} levels deep.") from None
    except (UnicodeDecodeError, ValueError):
        raise BodyInvalid("invalid_json", "The body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise BodyInvalid("invalid_json", "The body must be a JSON object.")
    check_tree(body)
    return body


def parse(model: type[M], codes: Mapping[str, str], *, default_code: str = "invalid_request",
          max_bytes: int = DEFAULT_MAX_BYTES) -> M:
    """The request's body as ``model`` (every step of the module doc).

    Args:
        model: the declared body (strict types; unknown keys ignored).
        codes: the error code of each top-level field (``{"email": "invalid_email"}``);
            ``default_code`` for the others.

    Raises:
        BodyInvalid: as :func:`read_json`; a forbidden character or a model error is
            reported with its field's code and ``field``.
    """
    try:
        body = read_json(max_bytes)
    except BodyInvalid as exc:
        if exc.code != "invalid_characters":
            raise
        raise _for_field(codes, default_code, exc.field, f"{exc.field} {exc.message}.") \
            from None
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        field = field_name(tuple(error["loc"]))
        raise _for_field(codes, default_code, field or None,
                         f"{field or 'body'}: {error['msg']}.") from None


def _for_field(codes: Mapping[str, str], default_code: str, field: str | None,
               message: str) -> BodyInvalid:
    top = re.split(r"[.\[]", field or "", maxsplit=1)[0]
    return BodyInvalid(codes.get(top, default_code), message, field)


def answer(exc: BodyInvalid) -> tuple[Response, int]:
    """``{"success": false, "error", "message"[, "field"]}`` with the status."""
    body: dict[str, Any] = {"success": False, "error": exc.code, "message": exc.message}
    if exc.field is not None:
        body["field"] = exc.field
    return jsonify(body), exc.status


def init_app(app: Flask) -> None:
    """Answer a :class:`BodyInvalid` raised by any view with :func:`answer`."""
    app.register_error_handler(BodyInvalid, answer)
