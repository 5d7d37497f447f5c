"""Notifications through Apprise: delivered, failures returned and logged without the
URL's credentials, never an exception."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from stripefleet.common.notify import notify, redact_url
from tests.propagation.conftest import NotifyReceiver


@pytest.fixture
def receiver() -> Iterator[NotifyReceiver]:
    """A local server that records what Apprise's json:// scheme posts."""
    running = NotifyReceiver()
    yield running
    running.close()


def test_delivered_to_a_json_url(receiver: NotifyReceiver) -> None:
    """A json:// URL receives the title and the body; nothing failed."""
    assert notify([receiver.url], "push halted", "2 sites changed") == []
    [message] = receiver.received
    assert (message["title"], message["message"]) == ("push halted", "2 sites changed")


def test_every_url_is_told(receiver: NotifyReceiver) -> None:
    """Each URL of the list gets the message once; blank entries are ignored."""
    assert notify([receiver.url, " ", receiver.url], "t", "b") == []
    assert len(receiver.received) == 2


def test_failures_returned_and_logged_without_credentials(
        receiver: NotifyReceiver, caplog: pytest.LogCaptureFixture) -> None:
    """An unknown scheme and an unreachable server are returned; the log names them
    without their password or token, and the good URL still gets its message."""
    dead = "json://user:hunter2secret@127.0.0.1:9/hook"
    unknown = "nosuchscheme://tokenABC123secret@example.invalid/x"
    with caplog.at_level(logging.DEBUG):
        failed = notify([dead, unknown, receiver.url], "t", "b")
    assert failed == [dead, unknown]
    assert len(receiver.received) == 1
    assert "hunter2secret" not in caplog.text and "tokenABC123secret" not in caplog.text
    assert "notification to" in caplog.text


def test_never_raises_on_garbage() -> None:
    """Nonsense URLs are failures, never an exception."""
    assert notify(["", "::::", "json://"], "t", "b") == ["::::", "json://"]


def test_redacted_url_hides_the_secret() -> None:
    """A URL's password becomes asterisks; an unreadable one keeps only its scheme."""
    assert "pw1234567" not in redact_url("json://user:pw1234567@127.0.0.1:9/x")
    assert redact_url("nosuchscheme://token@host") == "nosuchscheme://..."
