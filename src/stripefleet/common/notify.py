"""Notifications through Apprise (https://github.com/caronc/apprise/wiki): one short
message to every configured URL (``mailto://``, ``slack://``, ``json://``, ...) when a
rollout does not end as planned (README, "Pushing keys to the fleet": Notifications;
the troubleshooting guide asks to notice failures).

A notification never stops the caller: :func:`notify` never raises and returns the URLs
it could not reach. Callers never put a secret in a title or a body (masked values and
fingerprints only); URLs, which often hold a token, are logged only in Apprise's
privacy form (``slack://T...2/A...D/T...Q``).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from urllib.parse import urlsplit

import apprise

log = logging.getLogger("stripefleet.notify")


@contextmanager
def _quiet_deprecations() -> Iterator[None]:
    """Apprise loads its plugins on first use; one of them imports the standard
    library's deprecated ``imghdr`` (a DeprecationWarning, an error under ``-W error``):
    a dependency's deprecation never makes a notification fail."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        yield


def redact_url(url: str) -> str:
    """``url`` without its credentials: Apprise's privacy form, or only the scheme when
    Apprise cannot read it (``slack://...``)."""
    try:
        with _quiet_deprecations():
            plugin = apprise.Apprise.instantiate(url, suppress_exceptions=True)
    except Exception:  # a plugin's own parsing bug: show nothing of the URL
        plugin = None
    if plugin:
        return str(plugin.url(privacy=True)).split("?", 1)[0]  # type: ignore[no-untyped-call]
    scheme = urlsplit(url).scheme
    return f"{scheme}://..." if scheme else "(unreadable URL)"


class _Redact(logging.Filter):
    """Rewrites Apprise's own log records that would quote a raw URL."""

    def __init__(self, urls: Sequence[str]) -> None:
        super().__init__()
        self.urls = [(u, redact_url(u)) for u in urls if u]

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if any(raw in text for raw, _ in self.urls):
            for raw, safe in self.urls:
                text = text.replace(raw, safe)
            record.msg, record.args = text, None
        return True


def notify(urls: Sequence[str], title: str, body: str) -> list[str]:
    """Send ``title`` and ``body`` to every Apprise URL of ``urls``, one at a time.

    Args:
        urls: Apprise URLs (``json://127.0.0.1:8080/hook``, ``mailto://...``); blank
            ones are ignored.
        title: a short title (never a secret).
        body: the message (never a secret: masked values and fingerprints only).

    Returns:
        The URLs that failed (not understood by Apprise, or the send failed); each is
        logged at WARNING without its credentials. Never raises.
    """
    failed: list[str] = []
    wanted = [u.strip() for u in urls if u and u.strip()]
    if not wanted:
        return failed
    quiet = _Redact(wanted)
    apprise_log = logging.getLogger("apprise")
    apprise_log.addFilter(quiet)
    try:
        for url in wanted:
            try:
                with _quiet_deprecations():
                    sender = apprise.Apprise()
                    sent = bool(sender.add(url)) and bool(sender.notify(title=title, body=body))
            except Exception as exc:  # a plugin's bug never reaches the caller
                log.warning("notification to %s raised %s", redact_url(url),
                            type(exc).__name__)
                sent = False
            else:
                if not sent:
                    log.warning("notification to %s failed", redact_url(url))
            if not sent:
                failed.append(url)
    finally:
        apprise_log.removeFilter(quiet)
    return failed


__all__ = ["notify", "redact_url"]
