"""Customer accounts: register, log in, bearer tokens, owners (README, "Selling").

Passwords are hashed with argon2id (argon2-cffi's ``PasswordHasher`` defaults, RFC 9106
"low memory" profile); a token is 32 random bytes (URL-safe), kept only as its SHA-256.
Services only flush; the caller commits (a view through ``extensions.transactional``,
a command in the command).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import logging
import re
import secrets

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.exc import IntegrityError

from stripefleet.common.db import utcnow
from stripefleet.site.accounts.models import ApiToken, Customer
from stripefleet.site.extensions import db

log = logging.getLogger(__name__)

#: An e-mail address: no space, no control character, no lone surrogate (which the
#: database's text and the UTF-8 codec refuse).
_ADDR = "[^@\\s\x00-\x1f\x7f\ud800-\udfff]"
EMAIL = re.compile(f"{_ADDR}{{1,64}}@{_ADDR}+\\.{_ADDR}{{2,}}")
MIN_PASSWORD = 8
MAX_PASSWORD = 1024
TOKEN_LIFETIME = dt.timedelta(days=30)
_hasher = PasswordHasher()


@functools.cache
def dummy_hash() -> str:
    """A hash to verify against when the e-mail is unknown, so both cases take as long.

    Made once per process, by ``accounts.init_app``: an argon2 hash costs about 0.25 s of
    CPU (``python -X importtime``), which at import time every ``--help`` paid.
    """
    return _hasher.hash("not-a-password-of-anyone")


class AccountError(ValueError):
    """A refused account operation; ``code`` is the API's error code, ``field`` the field."""

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field


def normalize_email(raw: object) -> str:
    """The e-mail address trimmed and lower-cased.

    Raises:
        AccountError: ``invalid_email``.
    """
    if not isinstance(raw, str) or len(raw) > 254 or not EMAIL.fullmatch(raw.strip()):
        raise AccountError("invalid_email", "Give a valid e-mail address.", "email")
    return raw.strip().lower()


def _check_password(raw: object) -> str:
    if not isinstance(raw, str) or not MIN_PASSWORD <= len(raw) <= MAX_PASSWORD:
        raise AccountError("invalid_password",
                           f"The password must have {MIN_PASSWORD} to {MAX_PASSWORD} "
                           "characters.", "password")
    return raw


def register(email: object, password: object, *, is_owner: bool = False) -> Customer:
    """Create a customer account; flushes.

    Raises:
        AccountError: ``invalid_email``, ``invalid_password``, ``email_taken``.
    """
    address = normalize_email(email)
    customer = Customer(email=address, password_hash=_hasher.hash(_check_password(password)),
                        is_owner=is_owner, created_at=utcnow())
    try:
        with db.session.begin_nested():
            db.session.add(customer)
    except IntegrityError:
        raise AccountError("email_taken", "An account with this e-mail already exists; "
                           "log in instead.", "email") from None
    log.info("customer %s registered%s", customer.id, " (owner)" if is_owner else "")
    return customer


def authenticate(email: object, password: object) -> Customer:
    """The customer with this e-mail and password (rehashing an outdated hash).

    Raises:
        AccountError: ``invalid_credentials`` (same answer for an unknown e-mail).
    """
    try:
        address = normalize_email(email)
    except AccountError:
        address = ""
    customer: Customer | None = db.session.scalar(
        sa.select(Customer).where(Customer.email == address))
    given = password if isinstance(password, str) else ""
    try:
        _hasher.verify(customer.password_hash if customer else dummy_hash(), given)
    except (VerificationError, InvalidHashError):
        customer = None
    if customer is None:
        raise AccountError("invalid_credentials", "Wrong e-mail address or password.")
    if _hasher.check_needs_rehash(customer.password_hash):
        customer.password_hash = _hasher.hash(given)
    return customer


def issue_token(customer: Customer) -> str:
    """A new bearer token for ``customer`` (valid 30 days); only its hash is stored."""
    token = secrets.token_urlsafe(32)
    db.session.add(ApiToken(token_hash=_digest(token), customer_id=customer.id,
                            created_at=utcnow(), expires_at=utcnow() + TOKEN_LIFETIME))
    db.session.flush()
    return token


def customer_for_token(token: str) -> Customer | None:
    """The customer of an unexpired bearer token, else None."""
    row = db.session.scalar(sa.select(ApiToken).where(ApiToken.token_hash == _digest(token)))
    if row is None or row.expires_at <= utcnow():
        return None
    customer: Customer | None = db.session.get(Customer, row.customer_id)
    return customer


def set_owner(email: object, password: object) -> tuple[Customer, bool]:
    """Create an owner account, or make an existing account an owner with this password.

    Returns:
        ``(customer, created)``.

    Raises:
        AccountError: ``invalid_email``, ``invalid_password``.
    """
    address = normalize_email(email)
    customer = db.session.scalar(sa.select(Customer).where(Customer.email == address))
    if customer is None:
        return register(address, password, is_owner=True), True
    customer.password_hash = _hasher.hash(_check_password(password))
    customer.is_owner = True
    db.session.flush()
    return customer, False


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
