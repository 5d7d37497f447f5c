"""What the commands print for one target."""

from __future__ import annotations

from stripefleet.propagation.output import result_line
from stripefleet.propagation.types import TargetResult, TargetState


def test_line_has_url_state_status_attempts_ms_error() -> None:
    """A line shows URL, state, HTTP status, attempts, milliseconds and the error code."""
    result = TargetResult(url="https://a.example", setting="stripe_secret_key",
                          state=TargetState.FAILED, http_status=401, attempts=1,
                          latency_ms=12, error="invalid_api_key")
    assert result_line(result).split() == ["https://a.example", "failed", "401", "1x", "12",
                                           "ms", "invalid_api_key"]


def test_dry_run_line_shows_masked_before_and_after() -> None:
    """A would-change line shows the masked value before and after, never the value."""
    result = TargetResult(url="https://a.example", setting="stripe_secret_key",
                          state=TargetState.WOULD_CHANGE, http_status=200, attempts=1,
                          masked_before="sk_test_...aaaa", masked_after="sk_test_...bbbb")
    line = result_line(result)
    assert "would change" in line and "sk_test_...aaaa -> sk_test_...bbbb" in line


def test_no_answer_shows_dash() -> None:
    """Without an HTTP answer the status column is a dash."""
    result = TargetResult(url="https://a.example", setting="stripe_publishable_key",
                          state=TargetState.UNREACHABLE, attempts=4, error="timeout")
    assert result_line(result).split()[2] == "-"
