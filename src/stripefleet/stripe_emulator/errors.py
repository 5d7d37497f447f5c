"""Stripe's error bodies and HTTP statuses.

Stripe answers every error with ``{"error": {"type", "code", "message", "param", ...}}``
(https://docs.stripe.com/api/errors). The SDK picks its exception from the status:
400/404 -> ``InvalidRequestError`` (or ``IdempotencyError`` when the type is
``idempotency_error``), 401 -> ``AuthenticationError``, 402 -> ``CardError``,
403 -> ``PermissionError``, 429 -> ``RateLimitError``, other -> ``APIError``
(``stripe/_api_requestor.py``, ``specific_v1_api_error``).
"""

from __future__ import annotations

from typing import Any

#: Stripe's list of error codes; an error with a code links to its entry as ``doc_url``
#: (``https://docs.stripe.com/error-codes/resource-missing``).
DOC_URL = "https://docs.stripe.com/error-codes"


def doc_url(code: str) -> str:
    """The ``doc_url`` of an error code, as Stripe's error bodies carry it."""
    return f"{DOC_URL}/{code.replace('_', '-')}"


class StripeError(Exception):
    """An API error the emulator answers with Stripe's body.

    Args:
        message: a sentence a person can act on (never a secret in clear).
        status: HTTP status (400, 401, 402, 403, 404, ...).
        type: ``invalid_request_error``, ``card_error``, ``idempotency_error``, ``api_error``.
        code: Stripe's error code (``parameter_missing``, ``resource_missing``, ...) or None.
        param: the parameter at fault, in bracket form (``line_items[0][quantity]``), or None.
        extra: more fields for the body (``decline_code``, ``payment_intent``, ...).
    """

    def __init__(
        self,
        message: str,
        *,
        status: int = 400,
        type: str = "invalid_request_error",  # noqa: A002 (Stripe's field name)
        code: str | None = None,
        param: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.type = type
        self.code = code
        self.param = param
        self.extra = extra or {}

    def body(self, request_id: str | None = None, livemode: bool = False) -> dict[str, Any]:
        """The JSON body: ``{"error": {...}}`` with only the fields that are set, as
        Stripe sends them (https://docs.stripe.com/api/errors); ``request_log_url``
        points at the request's log in the dashboard of the key's mode."""
        error: dict[str, Any] = {"type": self.type, "message": self.message}
        if self.code:
            error["code"] = self.code
            error["doc_url"] = doc_url(self.code)
        if self.param:
            error["param"] = self.param
        if request_id:
            mode = "" if livemode else "test/"
            error["request_log_url"] = f"https://dashboard.stripe.com/{mode}logs/{request_id}"
        error.update(self.extra)
        return {"error": error}


def parameter_missing(param: str, message: str | None = None) -> StripeError:
    """400 ``parameter_missing`` for ``param``."""
    return StripeError(message or f"Missing required param: {param}.",
                       code="parameter_missing", param=param)


def parameter_unknown(param: str) -> StripeError:
    """400 ``parameter_unknown``: Stripe refuses parameters it does not know."""
    return StripeError(f"Received unknown parameter: {param}", code="parameter_unknown",
                       param=param)


def invalid_integer(param: str) -> StripeError:
    """400 ``parameter_invalid_integer``."""
    return StripeError(f"Invalid integer: {param}", code="parameter_invalid_integer",
                       param=param)


def invalid_param(param: str, message: str, code: str | None = None) -> StripeError:
    """400 for a parameter with a value Stripe does not accept."""
    return StripeError(message, code=code, param=param)


def resource_missing(object_name: str, object_id: str, param: str = "id") -> StripeError:
    """404 ``resource_missing``: ``No such checkout.session: 'cs_test_...'``."""
    return StripeError(f"No such {object_name}: '{object_id}'", status=404,
                       code="resource_missing", param=param)


def unrecognized_url(method: str, path: str) -> StripeError:
    """404 for a path the emulator does not serve (Stripe's wording)."""
    return StripeError(
        f"Unrecognized request URL ({method}: {path}). Please see https://docs.stripe.com/ "
        "or the README's emulator section for the endpoints this emulator serves.",
        status=404,
    )
