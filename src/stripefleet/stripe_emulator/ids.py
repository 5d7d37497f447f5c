"""Stripe-style object ids: a prefix and random letters and digits (``cs_test_...``, ``pi_...``)."""

from __future__ import annotations

import secrets
import string

_ALPHABET = string.ascii_letters + string.digits


def random_token(length: int = 24) -> str:
    """``length`` random letters and digits from the system's CSPRNG."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def new_id(prefix: str, length: int = 24) -> str:
    """A new id such as ``pi_3Q0aBc...``.

    Args:
        prefix: Stripe's prefix for the object, with its underscore (``"pi_"``,
            ``"cs_test_"``, ``"evt_"``, ``"we_"``, ``"re_"``, ``"ch_"``, ``"req_"``).
        length: how many random characters follow the prefix.
    """
    return prefix + random_token(length)
