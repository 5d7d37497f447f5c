"""Users, passwords (argon2id), the login's throttle (``auth.throttle``) and API tokens.

Passwords are hashed with argon2-cffi's ``PasswordHasher`` (argon2id, its defaults
follow RFC 9106). API tokens are 256-bit random strings shown once; only their SHA-256
is stored (a token is high-entropy, so a fast hash is enough to make a leaked table
useless).

Every function here only flushes; the caller commits (a view's ``@transactional``, a CLI
command). One exception: a token's last use, written in its own short transaction
(:func:`_note_use`).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import re
import secrets
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from sqlalchemy import or_, select, update
from sqlalchemy.orm import joinedload

from stripefleet.common.db import utcnow
from stripefleet.common.web import ApiError, Conflict, NotFound
from stripefleet.dashboard.auth import throttle
from stripefleet.dashboard.auth.models import ROLES, ApiToken, User
from stripefleet.dashboard.extensions import db

TOKEN_PREFIX = "sfd_"
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")
_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the email is unknown, so that timing does not reveal
    accounts; computed at the first failed login rather than at import (an argon2 hash
    costs about 0.1 s and every dashboard command imports this module)."""
    return _hasher.hash("not-a-real-password")


class LoginFailed(ApiError):
    """A refused login: one message for a wrong email, a wrong password and an account
    that waits (401); 429 only for an address over its budget."""

    status = 401


def normalize_email(email: str) -> str:
    """Trim and lower-case; raises ApiError ``invalid_email`` when malformed."""
    value = (email or "").strip().lower()
    if not _EMAIL.fullmatch(value) or len(value) > 254:
        raise ApiError("invalid_email", "Give a valid email address.")
    return value


def create_user(email: str, role: str, password: str) -> User:
    """Create a user (flushes).

    Raises:
        ApiError: ``invalid_email``, ``invalid_role`` (not viewer, operator or
            owner), ``weak_password`` (fewer than 12 characters).
        Conflict: ``user_exists``.
    """
    email = normalize_email(email)
    if role not in ROLES:
        raise ApiError("invalid_role", f"The role must be one of {', '.join(ROLES)}.")
    if len(password or "") < 12:
        raise ApiError("weak_password", "The password needs at least 12 characters.")
    if db.session.scalar(select(User).where(User.email == email)):
        raise Conflict("user_exists", f"A user with the email {email} already exists.")
    user = User(email=email, role=role, password_hash=_hasher.hash(password))
    db.session.add(user)
    db.session.flush()
    return user


def get_user_by_email(email: str) -> User | None:
    """The user with this email (case-insensitive), or None."""
    return db.session.scalar(select(User).where(User.email == email.strip().lower()))


#: The one message of every refused login (wrong email, wrong password, an account that
#: waits): it reveals neither whether the account exists nor whether it waits.
LOGIN_FAILED_MESSAGE = ("Wrong email or password, or too many recent failures: check "
                        "them and try again in a minute.")


def authenticate(email: str, password: str, *, address: str | None = None) -> User:
    """Check a login, throttled per account and per address (auth.throttle; flushes).

    The account's row is claimed with one conditional UPDATE (``... WHERE locked_until
    IS NULL OR locked_until <= now RETURNING failed_logins``) before the password is
    checked: it holds the row until the request commits, so that concurrent attempts on
    one account are checked one at a time, and an account that waits is refused without
    a check. After ``LOCKOUT_ATTEMPTS`` consecutive failures the account waits 30 s,
    doubling with each further failure, at most ``LOCKOUT_MINUTES``
    (``throttle.account_delay``); a success resets it. An unknown, inactive or waiting
    account is answered exactly like a wrong password, after an argon2 verification of
    the same cost (no account enumeration by message, status or timing).

    Args:
        email, password: the form's fields.
        address: the client's address (``request.remote_addr``), throttled across
            accounts; None skips the address throttle (the CLI).

    Raises:
        LoginFailed: 401 ``invalid_credentials`` for every refusal above; 429
            ``too_many_attempts`` with ``Retry-After`` when the address is over its
            budget (whatever the account).
    """
    limiter = throttle.address_throttle() if address else None
    if limiter is not None and address is not None:
        wait = limiter.retry_after(address)
        if wait is not None:
            raise _address_refusal(wait)
    user = get_user_by_email(email or "")
    now = utcnow()
    claimed: int | None = None
    if user is not None and user.active:
        claimed = db.session.execute(
            update(User).where(User.id == user.id,
                               or_(User.locked_until.is_(None), User.locked_until <= now))
            .values(failed_logins=User.failed_logins).returning(User.failed_logins)
            .execution_options(synchronize_session=False)).scalar_one_or_none()
    if user is None or claimed is None:
        with contextlib.suppress(VerificationError):
            _hasher.verify(_dummy_hash(), password or "x")
        _fail_address(limiter, address)
        raise LoginFailed("invalid_credentials", LOGIN_FAILED_MESSAGE)
    try:
        _hasher.verify(user.password_hash, password or "")
    except (VerificationError, InvalidHashError):
        failures = claimed + 1
        delay = throttle.account_delay(failures, attempts=current_app.config["LOCKOUT_ATTEMPTS"],
                                       cap_minutes=current_app.config["LOCKOUT_MINUTES"])
        db.session.execute(update(User).where(User.id == user.id).values(
            failed_logins=failures, locked_until=now + delay if delay else None)
            .execution_options(synchronize_session=False))
        db.session.expire(user, ["failed_logins", "locked_until"])
        _fail_address(limiter, address)
        raise LoginFailed("invalid_credentials", LOGIN_FAILED_MESSAGE) from None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    db.session.flush()
    return user


def _address_refusal(wait: int) -> LoginFailed:
    return LoginFailed("too_many_attempts",
                       f"Too many failed logins from your address: try again in {wait} s.",
                       status=429, headers={"Retry-After": str(wait)})


def _fail_address(limiter: throttle.AddressThrottle | None, address: str | None) -> None:
    """Count a failure of ``address``; raise its 429 if it no longer fitted."""
    if limiter is None or address is None:
        return
    wait = limiter.fail(address)
    if wait is not None:
        raise _address_refusal(wait)


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(user: User) -> tuple[ApiToken, str]:
    """A new API token for ``user`` (flushes). Returns the row and the token, shown once."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(user=user, token_hash=_hash_token(token), prefix=token[:10])
    db.session.add(row)
    db.session.flush()
    return row, token


def user_for_token(token: str) -> User | None:
    """The active user behind a bearer token, or None (unknown, revoked, inactive)."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    row = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == _hash_token(token)))
    if row is None or row.revoked_at is not None or not row.user.active:
        return None
    _note_use(row)
    user: User = row.user
    return user


#: How stale a token's ``last_used_at`` may be before a use records it again.
LAST_USED_EVERY = timedelta(minutes=1)


def _note_use(row: ApiToken) -> None:
    """Record when a token was last used, at most every ``LAST_USED_EVERY``.

    The one commit of a service, and on purpose (``docs/architecture.md``, "A request,
    a task, a command": its documented exceptions): the row is updated in a short
    transaction of its own, on its own connection (``db.engine.begin()``, committed
    when the block ends), not in the request's session. It is bookkeeping rather than
    the request's business: a GET, which commits nothing, records it too, and a
    request that fails and rolls back keeps it. It runs while the request is
    authenticated (``auth.security``'s ``before_request``), at most once a minute per
    token, so it costs one UPDATE a minute per active token. The Tokens page shows it,
    so that an owner can tell an idle token from one a script still uses.
    """
    now = utcnow()
    if row.last_used_at is not None and now - row.last_used_at < LAST_USED_EVERY:
        return
    with db.engine.begin() as conn:
        conn.execute(update(ApiToken).where(ApiToken.id == row.id)
                     .values(last_used_at=now))
    row.last_used_at = now  # what this session sees, without a reload


def list_tokens(*, user_id: int | None) -> list[ApiToken]:
    """API tokens, newest first, revoked ones included, each with its user loaded.

    Args:
        user_id: whose tokens; None for every user's. Who may ask for whose is the
            caller's check (a user their own, an owner anyone's).

    Raises:
        NotFound: ``user_not_found`` when ``user_id`` names no user.
    """
    query = select(ApiToken).options(joinedload(ApiToken.user)).order_by(ApiToken.id.desc())
    if user_id is not None:
        if db.session.get(User, user_id) is None:
            raise NotFound("user_not_found", f"There is no user #{user_id}.")
        query = query.where(ApiToken.user_id == user_id)
    return list(db.session.scalars(query))


def revoke_token(actor: User, token_id: int) -> tuple[ApiToken, bool]:
    """Revoke API token ``token_id``: set its ``revoked_at`` to now, UTC (flushes).

    ``actor`` revokes their own tokens; an owner anyone's. From its next request on the
    token is refused (401 ``invalid_token``, see :func:`user_for_token`). Revoking a
    revoked token changes nothing.

    Returns:
        The row, and True when this call revoked it (False: it already was, and its
        ``revoked_at`` is kept).

    Raises:
        NotFound: ``token_not_found`` for an unknown id, and for another user's token
            when ``actor`` is not an owner (the same answer: it does not reveal that the
            token exists).
    """
    row = db.session.get(ApiToken, token_id)
    if row is None or (row.user_id != actor.id and not actor.has_role("owner")):
        raise NotFound("token_not_found", f"There is no token #{token_id}.")
    if row.revoked_at is not None:
        return row, False
    row.revoked_at = utcnow()
    db.session.flush()
    return row, True


def update_user(actor: User, user: User, changes: dict[str, object]) -> User:
    """Change another user's ``role`` and/or ``active`` flag (flushes).

    Raises:
        ApiError: ``invalid_role``, ``unknown_field``.
        Conflict: ``cannot_change_self`` (an owner cannot demote or disable themselves,
            so that the last owner never locks everyone out).
    """
    unknown = set(changes) - {"role", "active"}
    if unknown:
        raise ApiError("unknown_field", f"Unknown field(s): {', '.join(sorted(unknown))}.")
    if user.id == actor.id:
        raise Conflict("cannot_change_self", "Ask another owner to change your own account.")
    if "role" in changes:
        if changes["role"] not in ROLES:
            raise ApiError("invalid_role", f"The role must be one of {', '.join(ROLES)}.")
        user.role = str(changes["role"])
    if "active" in changes:
        user.active = bool(changes["active"])
    db.session.flush()
    return user
