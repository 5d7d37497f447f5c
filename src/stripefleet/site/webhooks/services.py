"""Verify, store and process Stripe events exactly once (README, "Selling": Webhooks).

Verification: the SDK's ``stripe.WebhookSignature.verify_header`` on the raw body with
each of the site's webhook signing secrets (the current one, and the previous one for a
day after a rotation), tolerance 300 s. That is the check ``stripe.Webhook.
construct_event`` makes (same HMAC-SHA256 over ``t.payload``, same constant-time
comparison, same tolerance); construct_event then also builds a ``stripe.Event`` object
tree, 170 us of the 180 us it takes per event, which the site would throw away: it
works on the plain JSON. ``tests/site/webhooks/test_verification.py`` holds
:func:`verifies` to construct_event's verdicts. The secrets are cached per process for
30 s and re-read whenever they fail, so a rotation is seen from its first event.

Storage: the event is kept by id in the inbox in the same transaction as its effects.
:func:`receive` takes a verified event to one of two paths and owns the delivery's
transaction (the one place here that commits, because of the first path's autocommit):

- the usual paid completion, ``fast.try_paid_fast`` on PostgreSQL: one statement that
  is its own transaction;
- every other event, and a delivery seen before, :func:`record_and_process`, which
  inserts the inbox row in a savepoint first: a second delivery of the same id hits the
  unique constraint (PostgreSQL makes a concurrent duplicate wait for the first to
  commit) and changes nothing, unless the first processing failed, in which case it is
  processed again; its effects and the row are committed by :func:`receive`.

A processing that fails is rolled back and kept on the inbox row (:func:`record_failure`,
committed) and :func:`receive` raises :class:`ProcessingFailed`: the view answers 500
and Stripe delivers the event again.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError
from stripe import SignatureVerificationError, WebhookSignature

from stripefleet.common.db import utcnow
from stripefleet.site.checkout.reservations import rowcount
from stripefleet.site.extensions import db
from stripefleet.site.settings.services import webhook_secrets
from stripefleet.site.webhooks import fast, handlers, shape
from stripefleet.site.webhooks.models import FAILED, MALFORMED, WebhookEvent

log = logging.getLogger(__name__)
TOLERANCE = 300  # seconds (Stripe's default tolerance)
_CACHE_EXTENSION = "stripefleet.webhook_secrets"
_events = WebhookEvent.__table__


class NotConfigured(Exception):
    """The site has no webhook signing secret yet."""


class BadSignature(Exception):
    """Missing, forged or stale ``Stripe-Signature``, or a body that is not an event."""


class MalformedEvent(Exception):
    """A signed body that is not an event of the expected shape (400
    ``malformed_event``); kept in the inbox as ``malformed`` when it has an id."""


class ProcessingFailed(Exception):
    """Applying the event failed; the error is kept on its inbox row (``failed``) and
    Stripe must deliver it again (500)."""


@dataclass(frozen=True)
class Receipt:
    """The outcome of one delivery: ``status`` (``processed``, ``ignored``,
    ``duplicate``), ``note``, the event id and type."""

    event_id: str
    type: str
    status: str
    note: str


class _SecretCache:
    """The webhook signing secrets of this process, read from the database at most every
    ``TTL`` seconds, and again at once whenever they fail to verify an event (so a pushed
    secret is used from its first event on: a miss costs one read, a hit none)."""

    TTL = 30.0

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._secrets: list[str] = []
        self._read_at = -self.TTL

    def get(self, *, fresh: bool = False) -> list[str]:
        """The secrets, current first (see ``settings.services.webhook_secrets``)."""
        with self._lock:
            if fresh or time.monotonic() - self._read_at >= self.TTL:
                self._secrets = webhook_secrets()
                self._read_at = time.monotonic()
            return list(self._secrets)


def _secret_cache() -> _SecretCache:
    cache = current_app.extensions.get(_CACHE_EXTENSION)
    if cache is None:
        cache = current_app.extensions.setdefault(_CACHE_EXTENSION, _SecretCache())
    return cache  # type: ignore[no-any-return]


def verifies(payload: str, signature: str, secret: str) -> bool:
    """Whether ``signature`` (a ``Stripe-Signature`` header) signs ``payload`` with
    ``secret`` within ``TOLERANCE`` seconds: the SDK's
    ``stripe.WebhookSignature.verify_header``, the check inside ``construct_event``."""
    try:
        # Imported by name: ``stripe.X`` goes through the SDK's lazy module __getattr__
        # (an import_module call) on every access.
        WebhookSignature.verify_header(payload, signature, secret, tolerance=TOLERANCE)
    except SignatureVerificationError:
        return False
    return True


def _first_verified(text: str, signature: str, secrets: list[str]) -> bool:
    return any(verifies(text, signature, secret) for secret in secrets)


def verify(payload: bytes, signature: str | None) -> dict[str, Any]:
    """The event of a signed delivery, as a dict.

    Raises:
        NotConfigured: no webhook signing secret is set.
        BadSignature: no secret verifies it within 300 s (either side of now).
        MalformedEvent: signed, but not JSON, not an object, or without a usable id
            (nothing stored).
    """
    cache = _secret_cache()
    secrets = cache.get()
    if not secrets:
        secrets = cache.get(fresh=True)
        if not secrets:
            raise NotConfigured("no webhook signing secret is configured")
    if not signature:
        raise BadSignature("missing Stripe-Signature header")
    text = payload.decode("utf-8", errors="replace")
    verified = _first_verified(text, signature, secrets)
    if not verified:  # perhaps a secret pushed since the cache was filled
        latest = cache.get(fresh=True)
        verified = latest != secrets and _first_verified(text, signature, latest)
    if not verified:
        raise BadSignature("no webhook signing secret of this site verifies the signature "
                           "(forged, or older than 300 s)")
    if signed_at(signature) > time.time() + TOLERANCE:
        raise BadSignature("the signature is dated more than 300 s in the future")
    try:
        event = json.loads(text)
    except (ValueError, RecursionError):
        raise MalformedEvent("the signed body is not JSON") from None
    if shape.usable_id(event) is None:
        raise MalformedEvent("the signed body is not an event with an id")
    return event  # type: ignore[no-any-return]


def signed_at(signature: str) -> int:
    """The ``t=`` timestamp of a verified ``Stripe-Signature`` header (Unix seconds).

    ``verify_header`` refuses a timestamp older than the tolerance but not one in the
    future; the site bounds both sides the same (300 s), so that a signature made with
    a clock far ahead cannot be replayed for longer.
    """
    for part in signature.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t":
            return int(value)  # verified: verify_header parsed it already
    return 0


def receive(event: dict[str, Any], payload: str) -> Receipt:
    """Store and apply a verified event, once, and commit: the delivery's one unit of
    work (see the module doc for its two paths).

    Args:
        event: the event as verified by :func:`verify`.
        payload: the request's body as text, kept on the inbox row.

    Raises:
        MalformedEvent: the event's shape is not what its handler reads
            (``shape.problem``) or holds text the database refuses; kept in the inbox
            as ``malformed`` (committed), nothing applied.
        ProcessingFailed: the event could not be applied; nothing of it was kept but
            the error on its inbox row (committed).
    """
    try:
        text = shape.text_problem(event, payload)
        done = None if text else fast.try_paid_fast(event, payload)  # commits itself
        if done is None:
            wrong = text or shape.problem(event)
            if wrong:
                raise MalformedEvent(wrong)
            receipt = record_and_process(event, payload)
            db.session.commit()
        else:
            # Nothing on the session: a commit would only cost CPU on the hot path.
            receipt = Receipt(event["id"], event["type"], *done)
    except MalformedEvent as exc:
        db.session.rollback()
        record_malformed(event, payload, str(exc))
        db.session.commit()
        raise
    except (KeyError, TypeError, AttributeError) as exc:  # a shape shape.problem missed
        db.session.rollback()
        log.exception("event %s (%s) is malformed", event.get("id"), event.get("type"))
        record_malformed(event, payload, f"{type(exc).__name__}: {exc}")
        db.session.commit()
        raise MalformedEvent(str(exc)) from exc
    except Exception as exc:
        db.session.rollback()
        log.exception("event %s (%s) failed", event.get("id"), event.get("type"))
        record_failure(event, payload, f"{type(exc).__name__}: {exc}")
        db.session.commit()
        raise ProcessingFailed(str(exc)) from exc
    return receipt


def record_and_process(event: dict[str, Any], payload: str) -> Receipt:
    """Store the event in the inbox and apply it, unless already done (flushes).

    Raises:
        Exception: whatever the handler raised; :func:`receive` rolls back and keeps
            the error with :func:`record_failure`.
    """
    event_id, kind = event["id"], str(event.get("type", ""))[:100]
    row = WebhookEvent(event_id=event_id[:255], type=kind, status="processing", attempts=1,
                       livemode=bool(event.get("livemode")), received_at=utcnow(),
                       payload=payload)
    try:
        with db.session.begin_nested():
            db.session.add(row)
    except IntegrityError:
        existing = db.session.scalar(sa.select(WebhookEvent)
                                     .where(WebhookEvent.event_id == event_id))
        claimed = existing is not None and existing.status == FAILED and rowcount(
            db.session.execute(
                sa.update(_events).where(_events.c.id == existing.id,
                                         _events.c.status == FAILED)
                .values(status="processing", attempts=_events.c.attempts + 1))) == 1
        if not claimed or existing is None:
            log.info("event %s (%s) delivered again: nothing to do", event_id, kind)
            return Receipt(event_id, kind, "duplicate", "already received")
        db.session.refresh(existing)
        row = existing
    status, note, order_id = handlers.handle(event)
    row.status, row.note, row.order_id = status, note[:500], order_id
    row.error, row.processed_at = None, utcnow()
    db.session.flush()
    log.info("event %s (%s) %s: %s", event_id, kind, status, note)
    return Receipt(event_id, kind, status, note)


def record_malformed(event: dict[str, Any], payload: str, reason: str) -> None:
    """Keep a malformed event in the inbox (status ``malformed``, the reason as its
    error), unless its id is already there; flushes. Its text is kept as received but
    for characters the database refuses (``shape.FORBIDDEN``, replaced)."""
    kind = event.get("type")
    row = WebhookEvent(event_id=event["id"], status=MALFORMED, attempts=1,
                       type=shape.FORBIDDEN.sub("?", kind)[:100] if isinstance(kind, str)
                       else "", livemode=event.get("livemode") is True,
                       received_at=utcnow(), processed_at=utcnow(), error=reason[:4000],
                       note="malformed event", payload=shape.FORBIDDEN.sub("?", payload))
    try:
        with db.session.begin_nested():
            db.session.add(row)
    except IntegrityError:
        pass  # seen before: keep the first record
    log.warning("event %s refused as malformed: %s", event["id"], reason)


def record_failure(event: dict[str, Any], payload: str, error: str) -> None:
    """Keep a failed processing on the inbox row (status ``failed``); flushes."""
    event_id = event["id"][:255]
    row = db.session.scalar(sa.select(WebhookEvent).where(WebhookEvent.event_id == event_id))
    if row is None:
        row = WebhookEvent(event_id=event_id, type=str(event.get("type", ""))[:100],
                           attempts=1, livemode=bool(event.get("livemode")),
                           received_at=utcnow(), payload=payload, status=FAILED)
        db.session.add(row)
    elif row.status != FAILED:
        return  # processed meanwhile by another delivery
    else:
        row.attempts += 1  # the claim's increment was rolled back with the failure
    row.status, row.error, row.processed_at = FAILED, error[:4000], utcnow()
    db.session.flush()


def list_events(*, limit: int = 100) -> list[WebhookEvent]:
    """The most recent inbox rows, newest first (the admin area)."""
    return list(db.session.scalars(
        sa.select(WebhookEvent).order_by(WebhookEvent.id.desc()).limit(limit)))
