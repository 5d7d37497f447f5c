"""Read and change the site's settings (``admin_settings``); services only flush.

Rules: values are trimmed and validated with the key formats (README, "Pushing keys
to the fleet": "Values"; ``common.keys.normalize_value``); secrets are encrypted at rest
with the app's MultiFernet ring and never leave this module in clear except through
:func:`get_value`, for the code that must use them (the Stripe client, the webhook
verifier, the API-key check). Each change is stored in ``setting_changes`` and logged
with fingerprints only.
"""

from __future__ import annotations

import datetime as dt
import hmac
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError

from stripefleet.common.crypto import DecryptionError, SecretBox
from stripefleet.common.db import iso_utc, utcnow
from stripefleet.common.keys import (
    MASTER_API_KEY,
    PUBLISHABLE_KEY,
    SECRET_KEY,
    SETTINGS,
    WEBHOOK_SECRET,
    fingerprint,
    is_secret,
    key_mode,
    mask,
    normalize_value,
)
from stripefleet.site.extensions import db
from stripefleet.site.settings.models import AdminSetting, SettingChange, StripeCheck

log = logging.getLogger(__name__)

SECRET_BOX_EXTENSION = "stripefleet.secret_box"


class UnknownSetting(KeyError):
    """The name is not a setting the site knows (answered 404 ``unknown_setting``)."""


@dataclass(frozen=True)
class SettingState:
    """What may be shown of a setting: never a secret's value.

    ``updated_at`` is UTC; ``version`` is 0 when the setting was never set; ``value``
    is the value itself for a public setting (the publishable key, which backups
    restore), always None for a secret.
    """

    name: str
    configured: bool
    fingerprint: str | None
    masked: str | None
    updated_at: dt.datetime | None
    version: int
    value: str | None = None

    def to_json(self) -> dict[str, Any]:
        """``{"configured", "fingerprint", "masked", "updated_at" (ISO 8601 UTC), "version"}``
        plus ``"value"`` for the publishable key."""
        body: dict[str, Any] = {
            "configured": self.configured,
            "fingerprint": self.fingerprint,
            "masked": self.masked,
            "updated_at": iso_utc(self.updated_at),
            "version": self.version,
        }
        if not is_secret(self.name):
            body["value"] = self.value
        return body


@dataclass(frozen=True)
class PutResult:
    """The outcome of :func:`put_value`.

    ``changed`` is False when the setting already held the value (but True again for
    a retry carrying the idempotency key of the change that set it: :func:`put_value`);
    ``previous_fingerprint`` is the fingerprint before this call, or before that change
    for such a retry (None when the setting was never set).
    """

    setting: str
    changed: bool
    fingerprint: str
    previous_fingerprint: str | None
    version: int
    updated_at: dt.datetime

    def to_json(self) -> dict[str, Any]:
        """The PUT endpoint's body, without ``success``."""
        return {
            "setting": self.setting,
            "changed": self.changed,
            "fingerprint": self.fingerprint,
            "previous_fingerprint": self.previous_fingerprint,
            "version": self.version,
            "updated_at": iso_utc(self.updated_at),
        }


def secret_box() -> SecretBox:
    """The current app's encryption (set up by ``create_app``)."""
    box: SecretBox = current_app.extensions[SECRET_BOX_EXTENSION]
    return box


def _check_name(name: str) -> None:
    if name not in SETTINGS:
        raise UnknownSetting(name)


def _row(name: str) -> AdminSetting | None:
    # populate_existing: put_value writes with Core statements, which an object
    # already in the session's identity map would not see.
    return db.session.get(AdminSetting, name, populate_existing=True)


def get_value(name: str) -> str | None:
    """The setting's value in clear, or None when it was never set.

    Raises:
        UnknownSetting: ``name`` is not a setting.
        stripefleet.common.crypto.DecryptionError: the ring lacks the key the value
            was encrypted with.
    """
    _check_name(name)
    row = _row(name)
    if row is None:
        return None
    return secret_box().decrypt(row.value) if is_secret(name) else row.value


def get_state(name: str) -> SettingState:
    """What may be shown of one setting (masked, fingerprint); see :class:`SettingState`."""
    _check_name(name)
    row = _row(name)
    if row is None:
        return SettingState(name, False, None, None, None, 0)
    value = get_value(name) or ""
    return SettingState(name, True, row.fingerprint, mask(value), row.updated_at, row.version,
                        None if is_secret(name) else value)


def list_states(names: tuple[str, ...] = tuple(SETTINGS)) -> dict[str, SettingState]:
    """:func:`get_state` of each of ``names`` (default: every setting, the fleet's API
    key included)."""
    return {name: get_state(name) for name in names}


def put_value(name: str, raw: str, *, actor: str, client: str | None = None,
              idempotency_key: str | None = None) -> PutResult:
    """Set a setting, atomically; record and log the change. Flushes, never commits.

    Args:
        name: one of ``common.keys.SETTINGS``.
        raw: the value as received (trimmed here, then validated against its format).
        actor: who asks, for the record: ``api:<API key fingerprint>``, ``cli:<user>``.
        client: the caller's address, for the record.
        idempotency_key: the request's ``Idempotency-Key`` (at most 255 characters; the
            API checks its format), None (or empty) when it sent none.

    Returns:
        A :class:`PutResult`; ``changed`` is False (and nothing is written) when the
        setting already holds this value, except for a replay (below).

    Idempotency (as Stripe's idempotency keys): a change stores the request's key in
    the row's ``change_key`` (NULL without one). A PUT of the value the setting already
    holds whose non-empty key equals ``change_key`` is a retry of the request that made
    that value (its answer was lost to a timeout or a reset connection): it is answered
    as that request was, ``changed`` True with the row's ``previous_fingerprint``,
    ``version`` and ``updated_at``, and nothing is written or recorded again. So the
    fleet's recap says ``changed``, not "already had it", for a site its run changed,
    and a rollback does not skip it. Another key, or none, gets the usual unchanged
    answer.

    Raises:
        UnknownSetting: ``name`` is not a setting.
        stripefleet.common.keys.InvalidValue: the value does not match its format
            (its ``code`` is the API's error code); the message holds no value.

    The change is one conditional ``UPDATE ... RETURNING`` (or an ``INSERT`` for a first
    write), so concurrent writers never lose a version or record a wrong previous
    fingerprint.
    """
    _check_name(name)
    value = normalize_value(name, raw)
    new_fp = fingerprint(value)
    stored = secret_box().encrypt(value) if is_secret(name) else value
    change_key = idempotency_key or None
    table = AdminSetting.__table__
    for _attempt in range(5):
        now = utcnow()
        updated = db.session.execute(
            sa.update(table)
            .where(table.c.key == name, table.c.fingerprint != new_fp)
            .values(previous_value=table.c.value, previous_fingerprint=table.c.fingerprint,
                    value=stored, fingerprint=new_fp, version=table.c.version + 1,
                    updated_at=now, change_key=change_key)
            .returning(table.c.version, table.c.previous_fingerprint)
        ).one_or_none()
        if updated is not None:
            result = PutResult(name, True, new_fp, updated.previous_fingerprint,
                               updated.version, now)
            break
        current = db.session.execute(
            sa.select(table.c.fingerprint, table.c.version, table.c.updated_at,
                      table.c.previous_fingerprint, table.c.change_key)
            .where(table.c.key == name)
        ).one_or_none()
        if current is not None and current.fingerprint != new_fp:
            continue  # another writer created or changed it since our UPDATE: again
        if current is not None and change_key is not None and current.change_key == change_key:
            log.info("setting %s: retry of the change to version %s (idempotency key %s) "
                     "by %s; answered as changed, nothing written", name, current.version,
                     change_key, actor)
            return PutResult(name, True, new_fp, current.previous_fingerprint,
                             current.version, _aware(current.updated_at))
        if current is not None:
            log.info("setting %s unchanged (fingerprint %s, version %s) by %s",
                     name, new_fp, current.version, actor)
            return PutResult(name, False, new_fp, new_fp, current.version,
                             _aware(current.updated_at))
        try:
            with db.session.begin_nested():
                db.session.execute(sa.insert(table).values(
                    key=name, value=stored, fingerprint=new_fp, version=1, updated_at=now,
                    change_key=change_key))
        except IntegrityError:
            continue  # another writer created it first: update it instead
        result = PutResult(name, True, new_fp, None, 1, now)
        break
    else:  # pragma: no cover - needs five writers racing on one key
        raise RuntimeError(f"setting {name} kept changing under this write; try again")
    _record_change(result, actor=actor, client=client)
    return result


class InvalidSettings(ValueError):
    """A set of values :func:`put_values` refuses as a whole (400 ``invalid_settings``):
    empty, or the fleet's API key together with other settings. ``setting`` names the
    offending setting, when one does."""

    def __init__(self, message: str, setting: str | None = None) -> None:
        super().__init__(message)
        self.setting = setting


def put_values(values: Mapping[str, str], *, actor: str, client: str | None = None,
               idempotency_key: str | None = None) -> dict[str, PutResult]:
    """Set several settings together, all or nothing (``PUT /api/export/settings``,
    README "A site"). Flushes, never commits: the caller's transaction holds every write.

    Every value is validated first (in ``values``' order, with :func:`put_value`'s
    rules: trimmed, then its key format), so an invalid one refuses the whole set before
    anything is written; then each is written with :func:`put_value` (its own
    ``setting_changes`` row when it changes, the same ``idempotency_key`` on each, so a
    retry of the set with its key answers each setting as the set did).

    Args:
        values: setting name -> value as received; at least one; the fleet's API key
            (``template_master_api_key``) only alone (it changes who may call).
        actor, client, idempotency_key: as for :func:`put_value`.

    Returns:
        Each setting's :class:`PutResult`, in ``values``' order.

    Raises:
        InvalidSettings: ``values`` is empty, or mixes the fleet's API key with others.
        UnknownSetting: a name is not a setting.
        stripefleet.common.keys.InvalidValue: the first value that fails its format
            (``.setting``, ``.code``); nothing is written.
    """
    if not values:
        raise InvalidSettings("Send at least one setting.")
    if MASTER_API_KEY in values and len(values) > 1:
        raise InvalidSettings("The fleet's API key (template_master_api_key) changes who "
                              "may call this site: send it alone.", MASTER_API_KEY)
    for name, raw in values.items():
        _check_name(name)
        normalize_value(name, raw)  # raises InvalidValue before anything is written
    return {name: put_value(name, raw, actor=actor, client=client,
                            idempotency_key=idempotency_key)
            for name, raw in values.items()}


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _record_change(result: PutResult, *, actor: str, client: str | None) -> None:
    db.session.add(SettingChange(
        changed_at=result.updated_at, key=result.setting, version=result.version,
        actor=actor[:80], client=client, old_fingerprint=result.previous_fingerprint,
        new_fingerprint=result.fingerprint,
    ))
    db.session.flush()
    log.info("setting %s changed to version %s by %s from %s: fingerprint %s -> %s",
             result.setting, result.version, actor, client or "-",
             result.previous_fingerprint or "(unset)", result.fingerprint)


def list_changes(name: str | None = None, *, limit: int = 100) -> list[SettingChange]:
    """The most recent recorded changes, newest first (of one setting, or all)."""
    query = sa.select(SettingChange).order_by(SettingChange.id.desc()).limit(limit)
    if name is not None:
        query = query.where(SettingChange.key == name)
    return list(db.session.scalars(query))


def accepted_api_keys() -> list[str]:
    """The API keys the site accepts in ``X-API-Key`` (README, "A site").

    The ``template_master_api_key`` row of ``admin_settings`` when it is set, so that a
    rotation pushed by the fleet revokes the previous key; otherwise
    ``TEMPLATE_MASTER_API_KEY`` from the configuration; empty when neither is set.
    """
    stored = get_value(MASTER_API_KEY)
    if stored:
        return [stored]
    configured = current_app.config.get("TEMPLATE_MASTER_API_KEY")
    return [str(configured)] if configured else []


def match_api_key(candidate: str | None) -> str | None:
    """The fingerprint of the accepted API key equal to ``candidate``, else None.

    Every accepted key is compared, each in constant time (``hmac.compare_digest``),
    so the answer's timing tells nothing about which key or how much matched.
    """
    if not candidate:
        return None
    given = candidate.encode("utf-8")
    matched: str | None = None
    for key in accepted_api_keys():
        if hmac.compare_digest(given, key.encode("utf-8")):
            matched = key
    return fingerprint(matched) if matched is not None else None


def stripe_environment() -> str | None:
    """``test`` or ``live`` from the configured publishable and secret keys' modes.

    ``mixed`` when both are set and their modes differ; the one mode when only one
    is set; None when neither is (``GET /api/health/stripe``).
    """
    modes = {m for m in (key_mode(get_value(PUBLISHABLE_KEY)), key_mode(get_value(SECRET_KEY)))
             if m is not None}
    if not modes:
        return None
    return "mixed" if len(modes) > 1 else modes.pop()


def webhook_secrets(*, grace: dt.timedelta = dt.timedelta(hours=24)) -> list[str]:
    """The webhook signing secrets to verify an event with, current first.

    The previous secret is included for ``grace`` after a change, so that events
    Stripe signed before a rotation still verify. Empty when none is set.
    """
    row = _row(WEBHOOK_SECRET)
    if row is None:
        return []
    secrets = [secret_box().decrypt(row.value)]
    if row.previous_value and utcnow() - _aware(row.updated_at) <= grace:
        secrets.append(secret_box().decrypt(row.previous_value))
    return secrets


def undecryptable_settings() -> list[str]:
    """The stored secret settings the current key ring cannot decrypt (start-up check)."""
    bad = []
    for row in db.session.scalars(sa.select(AdminSetting).order_by(AdminSetting.key)):
        if row.key not in SETTINGS or not is_secret(row.key):
            continue
        for token in (row.value, row.previous_value):
            if token is None:
                continue
            try:
                secret_box().decrypt(token)
            except DecryptionError:
                bad.append(row.key)
                break
    return bad


def reencrypt_secrets() -> int:
    """Re-encrypt every stored secret with the ring's first key; flushes.

    After a new key is put first in ``STRIPEFLEET_ENCRYPTION_KEY`` (older keys kept
    after it), this lets the old keys be dropped later (MultiFernet.rotate).

    Returns:
        The number of rows re-encrypted.

    Raises:
        stripefleet.common.crypto.DecryptionError: a value no key of the ring decrypts
            (nothing is changed then).
    """
    bad = undecryptable_settings()
    if bad:
        raise DecryptionError(f"the key ring cannot decrypt {', '.join(bad)}; nothing "
                              "was re-encrypted")
    count = 0
    for row in db.session.scalars(sa.select(AdminSetting)):
        if row.key not in SETTINGS or not is_secret(row.key):
            continue
        row.value = secret_box().rotate(row.value)
        if row.previous_value is not None:
            row.previous_value = secret_box().rotate(row.previous_value)
        count += 1
    db.session.flush()
    log.info("re-encrypted %s stored secret(s) with the ring's first key", count)
    return count


#: ``stripe_checks.outcome`` of a check that reached Stripe and was accepted.
CHECK_OK = "ok"
_CHECK_ROW = 1


@dataclass(frozen=True)
class StripeCheckState:
    """What ``GET /api/health/stripe`` shows of the last functional check.

    ``checked_at`` and ``outcome`` (``ok`` or the error code) are the last check's;
    ``account_id`` and ``livemode`` are those the last successful check found for the
    site's current secret key: None before any, and None again once the secret key
    changed (the account belonged to the previous key).
    """

    checked_at: dt.datetime | None
    outcome: str | None
    account_id: str | None
    livemode: bool | None


def record_stripe_check(outcome: str, *, secret_key_fingerprint: str,
                        account_id: str | None = None, livemode: bool | None = None,
                        checked_at: dt.datetime | None = None) -> None:
    """Store a functional check of the secret key (``POST /api/test-stripe``). Flushes.

    Args:
        outcome: ``CHECK_OK`` or the check's error code (``stripe_auth_failed``, ...).
        secret_key_fingerprint: ``common.keys.fingerprint`` of the key checked.
        account_id, livemode: the account Stripe answered for, on success (kept from
            the last success when ``outcome`` is an error).
        checked_at: when (aware UTC); now when None.

    One row (``stripe_checks``, id 1), created on the first check; a check replaces the
    last one (README, "A site": ``GET /api/health/stripe``).
    """
    now = checked_at or utcnow()
    row = db.session.get(StripeCheck, _CHECK_ROW, populate_existing=True)
    if row is None:
        try:
            with db.session.begin_nested():
                row = StripeCheck(id=_CHECK_ROW, checked_at=now, outcome=outcome,
                                  checked_fingerprint=secret_key_fingerprint)
                db.session.add(row)
        except IntegrityError:  # another check created it first
            row = db.session.get(StripeCheck, _CHECK_ROW, populate_existing=True)
            if row is None:  # pragma: no cover - the row is never deleted
                raise RuntimeError("stripe_checks row vanished under this write") from None
    row.checked_at = now
    row.outcome = outcome[:64]
    row.checked_fingerprint = secret_key_fingerprint
    if outcome == CHECK_OK:
        row.account_id = account_id
        row.livemode = livemode
        row.account_fingerprint = secret_key_fingerprint
        row.account_checked_at = now
    db.session.flush()
    log.info("Stripe check of the secret key %s: %s%s", secret_key_fingerprint, outcome,
             f" (account {account_id})" if outcome == CHECK_OK else "")


def stripe_check_state() -> StripeCheckState:
    """The last functional check as :class:`StripeCheckState`; reads fingerprints only
    (no decryption, no Stripe call)."""
    row = db.session.get(StripeCheck, _CHECK_ROW, populate_existing=True)
    if row is None:
        return StripeCheckState(None, None, None, None)
    current = _row(SECRET_KEY)
    same_key = current is not None and current.fingerprint == row.account_fingerprint
    return StripeCheckState(row.checked_at, row.outcome,
                            row.account_id if same_key else None,
                            row.livemode if same_key else None)
