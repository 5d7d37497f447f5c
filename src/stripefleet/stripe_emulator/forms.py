"""Stripe's form encoding: nested brackets in, dicts and lists out; typed parameter reads.

The SDK sends ``line_items[0][price_data][unit_amount]=2000&metadata[order_id]=42``
(``stripe/_encode.py``, ``_api_encode``): bracketed keys nest, numeric segments are list
indexes, ``expand[]`` appends. :func:`decode` turns those pairs into plain dicts and
lists; :class:`Params` reads them with Stripe's 400 errors (``parameter_missing``,
``parameter_invalid_integer``, ``parameter_unknown``, ``parameter_invalid_empty``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from stripefleet.stripe_emulator.errors import (
    StripeError,
    invalid_integer,
    parameter_missing,
    parameter_unknown,
)

_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
_SEGMENT = re.compile(r"\[([^\[\]]*)\]")
_INT = re.compile(r"^-?\d+$")


def decode(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Decode form pairs into nested dicts and lists.

    Args:
        pairs: ``(key, value)`` in request order, as from ``parse_qsl`` or aiohttp's
            ``MultiDict``; values stay strings.

    Returns:
        ``{"line_items": [{"price_data": {"unit_amount": "2000"}}], ...}``: a dict
        whose keys are all indexes becomes a list in index order.

    Raises:
        StripeError: 400 for a malformed key (``a[b``) or a key used both as a value
            and as a container (``a=1&a[b]=2``).
    """
    root: dict[str, Any] = {}
    for key, value in pairs:
        match = _KEY.match(key)
        if not match:
            raise StripeError(f"Invalid parameter name: {key}", param=key)
        path = [match.group(1), *_SEGMENT.findall(match.group(2))]
        node = root
        for depth, segment in enumerate(path):
            if segment == "":  # ``expand[]``: append
                segment = str(len(node))
            last = depth == len(path) - 1
            if last:
                if isinstance(node.get(segment), dict):
                    raise StripeError(f"Invalid value for {key}: it is also a hash.", param=key)
                node[segment] = value
            else:
                child = node.setdefault(segment, {})
                if not isinstance(child, dict):
                    raise StripeError(f"Invalid hash for {key}.", param=key)
                node = child
    result: dict[str, Any] = _listify(root)
    return result


def _listify(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    converted = {k: _listify(v) for k, v in node.items()}
    if converted and all(_INT.match(k) for k in converted):
        return [converted[k] for k in sorted(converted, key=int)]
    return converted


def flatten(value: Any, prefix: str = "") -> list[tuple[str, str]]:
    """The inverse of :func:`decode`: sorted ``(bracket key, value)`` pairs.

    Used to compare the parameters of two requests with the same idempotency key.
    """
    out: list[tuple[str, str]] = []
    if isinstance(value, dict):
        for k in sorted(value):
            out.extend(flatten(value[k], f"{prefix}[{k}]" if prefix else k))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            out.extend(flatten(item, f"{prefix}[{i}]"))
    else:
        out.append((prefix, str(value)))
    return out


class Params:
    """Typed, Stripe-checked reads of one (sub-)hash of decoded parameters.

    Args:
        data: the decoded hash.
        prefix: its bracket path for error messages (``line_items[0]``), "" at the top.
    """

    def __init__(self, data: Any, prefix: str = "") -> None:
        if not isinstance(data, dict):
            raise StripeError(f"Invalid hash: {prefix or 'parameters'}", param=prefix or None)
        self.data: dict[str, Any] = data
        self.prefix = prefix

    def name(self, key: str) -> str:
        """The full bracket name of ``key`` (``line_items[0][quantity]``)."""
        return f"{self.prefix}[{key}]" if self.prefix else key

    def allow(self, keys: Iterable[str]) -> None:
        """Raise 400 ``parameter_unknown`` for the first key not in ``keys``."""
        allowed = set(keys)
        for key in self.data:
            if key not in allowed:
                raise parameter_unknown(self.name(key))

    def has(self, key: str) -> bool:
        """True when ``key`` was sent."""
        return key in self.data

    def string(self, key: str, *, required: bool = False, max_length: int | None = None,
            choices: Iterable[str] | None = None) -> str | None:
        """A string parameter; None when absent.

        Raises:
            StripeError: 400 ``parameter_missing`` (required and absent),
                ``parameter_invalid_empty`` (sent empty), ``parameter_invalid_string``
                (a hash or list, or longer than ``max_length``), or not in ``choices``.
        """
        if key not in self.data:
            if required:
                raise parameter_missing(self.name(key))
            return None
        value = self.data[key]
        if not isinstance(value, str):
            raise StripeError(f"Invalid string: {self.name(key)}",
                              code="parameter_invalid_string", param=self.name(key))
        if value == "":
            raise StripeError(
                f"You passed an empty string for '{self.name(key)}'. We assume empty values "
                f"are an attempt to unset a parameter; however '{self.name(key)}' cannot be "
                "unset. You should remove it from your request or supply a non-empty value.",
                code="parameter_invalid_empty", param=self.name(key))
        if max_length is not None and len(value) > max_length:
            raise StripeError(
                f"Invalid {self.name(key)}: must be at most {max_length} characters",
                code="parameter_invalid_string", param=self.name(key))
        if choices is not None and value not in set(choices):
            raise StripeError(
                f"Invalid {self.name(key)}: must be one of {', '.join(choices)}",
                param=self.name(key))
        return value

    def integer(self, key: str, *, required: bool = False, minimum: int | None = None,
            maximum: int | None = None) -> int | None:
        """An integer parameter (sent as decimal digits); None when absent.

        Raises:
            StripeError: 400 ``parameter_missing`` or ``parameter_invalid_integer``
                (not an integer, or outside ``minimum``..``maximum``).
        """
        if key not in self.data:
            if required:
                raise parameter_missing(self.name(key))
            return None
        value = self.data[key]
        if not isinstance(value, str) or not _INT.match(value.strip()):
            raise invalid_integer(self.name(key))
        number = int(value)
        if minimum is not None and number < minimum:
            raise StripeError(
                f"Invalid {self.name(key)}: must be greater than or equal to {minimum}",
                code="parameter_invalid_integer", param=self.name(key))
        if maximum is not None and number > maximum:
            raise StripeError(
                f"Invalid {self.name(key)}: must be less than or equal to {maximum}",
                code="parameter_invalid_integer", param=self.name(key))
        return number

    def boolean(self, key: str) -> bool | None:
        """A boolean parameter (``true``/``false``, as the SDK sends them); None when absent."""
        if key not in self.data:
            return None
        value = self.data[key]
        if value not in ("true", "false"):
            raise StripeError(f"Invalid boolean: {value!r}", param=self.name(key))
        return bool(value == "true")

    def sub(self, key: str, *, required: bool = False) -> Params | None:
        """A nested hash as :class:`Params`; None when absent."""
        if key not in self.data:
            if required:
                raise parameter_missing(self.name(key))
            return None
        return Params(self.data[key], self.name(key))

    def array(self, key: str, *, required: bool = False) -> list[Any] | None:
        """A list parameter (``key[0]=...``); None when absent.

        Raises:
            StripeError: 400 ``parameter_missing`` when required and absent or empty;
                400 when the value is not a list.
        """
        if key not in self.data or self.data[key] in ("", []):
            if required:
                raise parameter_missing(self.name(key))
            return None
        value = self.data[key]
        if not isinstance(value, list):
            raise StripeError(f"Invalid array: {self.name(key)}", param=self.name(key))
        return value

    def metadata(self, key: str = "metadata") -> dict[str, str] | None:
        """Stripe metadata: at most 50 keys, keys <= 40 characters, values <= 500.

        Returns:
            The metadata hash, or None when absent; ``metadata=""`` gives ``{}``.
        """
        if key not in self.data:
            return None
        value = self.data[key]
        if value == "":
            return {}
        if not isinstance(value, dict):
            raise StripeError(f"Invalid hash: {self.name(key)}", param=self.name(key))
        if len(value) > 50:
            raise StripeError("Metadata can have at most 50 keys.", param=self.name(key))
        for k, v in value.items():
            if len(k) > 40 or not isinstance(v, str) or len(v) > 500:
                raise StripeError(
                    "Metadata keys must be at most 40 characters and values strings of "
                    "at most 500 characters.", param=f"{self.name(key)}[{k}]")
        return dict(value)
