"""Notifications of the dashboard: a short message to every ``DASHBOARD_NOTIFY_URLS``.

Sent through ``stripefleet.common.notify`` (Apprise) when a rollout halts, waits for
approval, ends other than ``succeeded`` or is rolled back, and when the periodic
verification finds drift or a failing functional check (README, "The dashboard"; the
troubleshooting guide asks to notice failures). The fleet's and the rollouts' callers
both use :func:`send` (rollouts import sites, never the other way).

What a message may hold: site names and URLs, counts, codes, masked values and
fingerprints; never a secret. A notification that cannot be sent is logged and audited
(``notification.failed``, naming the URL's scheme and host only: Apprise URLs carry
tokens); it never fails the work that sent it.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from flask import current_app

from stripefleet.common.notify import notify, redact_url
from stripefleet.dashboard.audit import services as audit

log = logging.getLogger(__name__)


def link(path: str) -> str | None:
    """``DASHBOARD_URL`` + ``path`` (``/rollouts/12``), or None when it is not set."""
    base = current_app.config.get("PUBLIC_URL")
    return f"{str(base).rstrip('/')}{path}" if base else None


def where(url: str) -> str:
    """An Apprise URL as an audit row may show it: its scheme and host only (Apprise's
    privacy form, then without path, port or query: tokens live there too)."""
    parts = urlsplit(redact_url(url))
    try:
        host = parts.hostname
    except ValueError:
        host = None
    return f"{parts.scheme}://{host or '...'}"


def send(title: str, body: str, *, path: str | None = None, subject: str | None = None) -> int:
    """Send ``title``/``body`` to every ``DASHBOARD_NOTIFY_URLS`` (no-op without any).

    Args:
        title: one line; never a secret.
        body: a few lines; never a secret. The link ``DASHBOARD_URL`` + ``path`` is
            appended when both are set.
        path: the dashboard page the message is about (``/rollouts/12``).
        subject: the audit subject of a failure (``rollout:12``, ``fleet``).

    Returns:
        The number of URLs that failed. Each failure is logged and audited
        (``notification.failed``, outcome ``failed``; flushed: the caller commits).
        Never raises.
    """
    urls = list(current_app.config.get("NOTIFY_URLS") or ())
    if not urls:
        return 0
    url = link(path) if path else None
    text = f"{body}\n{url}" if url else body
    try:
        failed = notify(urls, title, text)
    except Exception:  # noqa: BLE001 - a notification never fails the work
        log.exception("notification %r could not be sent", title)
        failed = urls
    for bad in failed:
        shown = where(bad)
        log.warning("notification %r not delivered to %s", title, shown)
        try:
            audit.record("notification.failed", subject=subject, outcome="failed",
                         actor="system", details={"to": shown, "title": title[:200]})
        except Exception:  # noqa: BLE001 - auditing the failure must not fail the work
            log.exception("could not audit a failed notification")
    return len(failed)
