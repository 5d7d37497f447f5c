"""The engine against the FaultFleet: each behaviour ends in the right target state."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterator

import pytest

from stripefleet.common.keys import InvalidValue, fingerprint
from stripefleet.propagation import (
    PushOptions,
    Target,
    TargetResult,
    TargetState,
    propagate,
    propagate_values,
)
from tests.propagation.conftest import FAST, MakeFleet, targets

PK = "pk_test_engine123abc"
SK = "sk_test_engine123abc"


async def push_one(make_fleet: MakeFleet, kind: str, options: PushOptions = FAST,
                   setting: str = "stripe_publishable_key", value: str = PK
                   ) -> tuple[TargetResult, int]:
    fleet = make_fleet([kind])
    results: list[TargetResult] = []
    await propagate(targets(fleet), setting, value, options=options, on_result=results.append)
    assert len(results) == 1
    return results[0], fleet.puts(fleet.urls[0])


@pytest.mark.parametrize(("kind", "state", "error", "attempts"), [
    ("ok", "changed", None, 1),
    ("slow:50", "changed", None, 1),
    ("flaky:2", "changed", None, 3),
    ("flaky:3", "unreachable", "server_error", 3),
    ("rate_limited:1", "changed", None, 2),
    ("hang", "unreachable", "timeout", 3),
    ("refuse", "unreachable", "connection_refused", 3),
    ("reset", "unreachable", "connection_reset", 3),
    ("html", "failed", "bad_response", 1),
    ("bad_json", "failed", "bad_response", 1),
    ("incomplete", "failed", "bad_response", 1),
    ("liar", "failed", "verification_failed", 1),
    ("unauthorized", "failed", "invalid_api_key", 1),
])
async def test_behaviour_ends_in_state(make_fleet: MakeFleet, kind: str, state: str,
                                       error: str | None, attempts: int) -> None:
    """Each fault ends in its state and error code, after the right number of attempts."""
    options = dataclasses.replace(FAST, timeout=0.3)
    result, _ = await push_one(make_fleet, kind, options)
    assert (result.state.value, result.error, result.attempts) == (state, error, attempts)
    assert result.verified is (state == "changed")


async def test_already_set_is_ok(make_fleet: MakeFleet) -> None:
    """A site that already holds the value is ok, with its fingerprint before."""
    fleet = make_fleet(["ok"])
    fleet.set_value(fleet.urls[0], "stripe_publishable_key", PK)
    results: list[TargetResult] = []
    await propagate(targets(fleet), "stripe_publishable_key", PK, options=FAST,
                    on_result=results.append)
    assert results[0].state is TargetState.OK
    assert results[0].fingerprint_before == fingerprint(PK) and results[0].verified


async def test_changed_records_previous_fingerprint(make_fleet: MakeFleet) -> None:
    """A change records the fingerprint the site had before, and verifies the new one."""
    fleet = make_fleet(["ok"])
    fleet.set_value(fleet.urls[0], "stripe_publishable_key", "pk_test_old1")
    results: list[TargetResult] = []
    await propagate(targets(fleet), "stripe_publishable_key", PK, options=FAST,
                    on_result=results.append)
    assert results[0].fingerprint_before == fingerprint("pk_test_old1")
    assert results[0].fingerprint_after == fingerprint(PK)
    assert fleet.value(fleet.urls[0], "stripe_publishable_key") == PK


async def test_every_site_in_recap_exactly_once(make_fleet: MakeFleet) -> None:
    """Every target yields exactly one result, whatever happened to it."""
    kinds = ["ok", "flaky:1", "flaky:9", "rate_limited", "hang", "refuse", "reset", "html",
             "bad_json", "incomplete", "liar", "unauthorized", "slow:20"] * 2
    fleet = make_fleet(kinds)
    results: list[TargetResult] = []
    recap = await propagate(targets(fleet), "stripe_publishable_key", PK,
                            options=dataclasses.replace(FAST, timeout=0.3),
                            on_result=results.append)
    assert sorted(r.url for r in results) == sorted(fleet.urls)
    assert recap.total == len(kinds)
    assert recap.counts["changed"] == 8 and recap.counts["unreachable"] == 8
    assert recap.counts["failed"] == 10


@pytest.mark.parametrize("status", [400, 401, 403, 404])
async def test_definitive_errors_not_retried(make_fleet: MakeFleet, status: int) -> None:
    """400/401/403/404 fail at once: one PUT, no retry."""
    result, puts = await push_one(make_fleet, f"flaky:5:{status}")
    assert (result.state, result.http_status, result.attempts, puts) == (
        TargetState.FAILED, status, 1, 1)


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
async def test_transient_statuses_retried(make_fleet: MakeFleet, status: int) -> None:
    """429 and 5xx are retried, and the retry succeeds."""
    result, puts = await push_one(make_fleet, f"flaky:1:{status}")
    assert (result.state, result.attempts, puts) == (TargetState.CHANGED, 2, 2)


async def test_retries_bounded(make_fleet: MakeFleet) -> None:
    """A target is tried 1 + retries times at most."""
    result, puts = await push_one(make_fleet, "flaky:9", dataclasses.replace(FAST, retries=4))
    assert (result.state, result.attempts, puts) == (TargetState.UNREACHABLE, 5, 5)


@pytest.mark.parametrize(("header", "cap", "expected"), [("7", 60.0, 7.0), ("120", 60.0, 60.0)])
async def test_retry_after_honoured_up_to_cap(make_fleet: MakeFleet, backoff_delays: list[float],
                                              header: str, cap: float, expected: float) -> None:
    """The wait before a retry after 429 is the site's Retry-After, capped."""
    options = dataclasses.replace(FAST, retry_after_cap=cap)
    result, _ = await push_one(make_fleet, f"rate_limited:1:{header}", options)
    assert result.state is TargetState.CHANGED
    assert backoff_delays == [expected]


async def test_backoff_grows_and_is_capped(make_fleet: MakeFleet,
                                           backoff_delays: list[float]) -> None:
    """Without Retry-After, retry n waits at most min(cap, base * 2**(n-1))."""
    options = dataclasses.replace(FAST, retries=4, backoff_base=1.0, backoff_max=3.0)
    await push_one(make_fleet, "flaky:4", options)
    assert len(backoff_delays) == 4
    assert all(0 <= d <= bound for d, bound in zip(backoff_delays, [1, 2, 3, 3], strict=True))


async def test_concurrency_bound_never_exceeded(make_fleet: MakeFleet) -> None:
    """No more than ``concurrency`` requests are ever in flight across the fleet."""
    fleet = make_fleet(["slow:30"] * 24)
    await propagate(targets(fleet), "stripe_publishable_key", PK,
                    options=dataclasses.replace(FAST, concurrency=4))
    assert fleet.max_in_flight == 4


async def test_per_site_rate_honoured(make_fleet: MakeFleet) -> None:
    """At rate 8/s, no 9 requests to one site start within one second."""
    fleet = make_fleet(["flaky:9"])
    options = dataclasses.replace(FAST, rate=8, retries=9, backoff_base=0)
    await propagate(targets(fleet), "stripe_publishable_key", PK, options=options)
    times = [r.at for r in fleet.requests(fleet.urls[0])]
    assert len(times) == 12  # 10 PUTs, 1 read-back, 1 functional check
    # Arrival times at the site: allow 0.1 s of scheduling jitter (unlimited, the 12
    # requests would arrive within a few milliseconds: backoff is off).
    assert min(b - a for a, b in zip(times, times[8:], strict=False)) >= 0.9


async def test_dry_run_sends_no_put(make_fleet: MakeFleet) -> None:
    """A dry run only reads: ok where the value is there, would_change (masked) elsewhere."""
    fleet = make_fleet(["ok", "ok"])
    fleet.set_value(fleet.urls[0], "stripe_secret_key", SK)
    fleet.set_value(fleet.urls[1], "stripe_secret_key", "sk_test_oldvalue99")
    results: list[TargetResult] = []
    await propagate(targets(fleet), "stripe_secret_key", SK,
                    options=dataclasses.replace(FAST, dry_run=True), on_result=results.append)
    by_url = {r.url: r for r in results}
    assert by_url[fleet.urls[0]].state is TargetState.OK
    changing = by_url[fleet.urls[1]]
    assert changing.state is TargetState.WOULD_CHANGE
    assert (changing.masked_before, changing.masked_after) == ("sk_test_...ue99", "sk_test_...3abc")
    assert sum(fleet.puts(u) for u in fleet.urls) == 0


async def test_secret_refused_over_plain_http(make_fleet: MakeFleet) -> None:
    """A secret is never sent over http:// to a non-loopback host: skipped, no request."""
    results: list[TargetResult] = []
    recap = await propagate([Target("http://shop.example.invalid", "k" * 20)],
                            "stripe_secret_key", SK, options=FAST, on_result=results.append)
    assert recap.counts["skipped"] == 1
    assert (results[0].error, results[0].attempts) == ("insecure_transport", 0)


async def test_allow_insecure_http_attempts(make_fleet: MakeFleet) -> None:
    """With allow_insecure_http, the secret is attempted over http://."""
    options = dataclasses.replace(FAST, allow_insecure_http=True, retries=0, timeout=0.3)
    results: list[TargetResult] = []
    await propagate([Target("http://shop.example.invalid", "k" * 20)], "stripe_secret_key", SK,
                    options=options, on_result=results.append)
    assert results[0].error != "insecure_transport" and results[0].attempts == 1


async def test_master_key_verified_with_new_key(make_fleet: MakeFleet) -> None:
    """After pushing template_master_api_key, the read-back uses the new key."""
    new_key = "new-fleet-key-0123456789abcdef"
    result, _ = await push_one(make_fleet, "ok", setting="template_master_api_key",
                               value=new_key)
    assert result.state is TargetState.CHANGED and result.verified


async def test_a_lost_answer_to_a_landed_put_still_reports_changed(
        make_fleet: MakeFleet) -> None:
    """The first PUT lands but its answer is lost (a reset): the retry carries the same
    Idempotency-Key, the site answers it as the first one, and the target is
    ``changed`` with the fingerprint the site had before, not ``ok``."""
    fleet = make_fleet(["lost:1"])
    fleet.set_value(fleet.urls[0], "stripe_publishable_key", "pk_test_before1")
    results: list[TargetResult] = []
    await propagate(targets(fleet), "stripe_publishable_key", PK, options=FAST,
                    on_result=results.append)
    assert results[0].state is TargetState.CHANGED
    assert results[0].fingerprint_before == fingerprint("pk_test_before1")
    puts = fleet.requests(fleet.urls[0], "PUT")
    assert len(puts) == 2 and puts[0].idempotency_key == puts[1].idempotency_key
    assert puts[0].idempotency_key is not None


async def test_a_lost_answer_when_the_value_was_already_set_stays_ok(
        make_fleet: MakeFleet) -> None:
    """The same loss on a site that already held the value: nothing changed, ``ok``."""
    fleet = make_fleet(["lost:1"])
    fleet.set_value(fleet.urls[0], "stripe_publishable_key", PK)
    results: list[TargetResult] = []
    await propagate(targets(fleet), "stripe_publishable_key", PK, options=FAST,
                    on_result=results.append)
    assert results[0].state is TargetState.OK
    assert fleet.puts(fleet.urls[0]) == 2


async def test_a_lost_answer_to_a_landed_rotation_of_the_fleet_key(
        make_fleet: MakeFleet) -> None:
    """A rotation of template_master_api_key whose answer was lost: the site already
    refuses the old key, so the retry's 401 is tried with the new key; ``changed``."""
    new_key = "new-fleet-key-lost-0123456789abc"
    result, puts = await push_one(make_fleet, "lost:1", setting="template_master_api_key",
                                  value=new_key)
    assert (result.state, result.error, result.verified) == (TargetState.CHANGED, None, True)
    assert puts == 3  # lost, refused with the old key, answered with the new one


async def test_targets_consumed_lazily(make_fleet: MakeFleet) -> None:
    """Targets are pulled only as workers free up (memory flat in the number of sites)."""
    fleet = make_fleet(["ok"] * 3)
    pulled = 0
    gaps: list[int] = []

    def lazy() -> Iterator[Target]:
        nonlocal pulled
        for target in itertools.islice(itertools.cycle(targets(fleet)), 30):
            pulled += 1
            yield target

    done = 0

    async def on_result(result: TargetResult) -> None:
        nonlocal done
        done += 1
        gaps.append(pulled - done)

    await propagate(lazy(), "stripe_publishable_key", PK,
                    options=dataclasses.replace(FAST, concurrency=3), on_result=on_result)
    # At most 2 x concurrency targets are in progress (pulled but not finished).
    assert done == 30 and max(gaps) <= 2 * 3 - 1


async def test_invalid_value_raises_before_any_request(make_fleet: MakeFleet) -> None:
    """A malformed value raises InvalidValue with its code; no request is sent."""
    fleet = make_fleet(["ok"])
    with pytest.raises(InvalidValue) as info:
        await propagate(targets(fleet), "stripe_publishable_key", "pk_test_bad value")
    assert info.value.code == "invalid_publishable_key_format"
    assert fleet.total_requests() == 0


async def test_propagate_values_per_target(make_fleet: MakeFleet) -> None:
    """propagate_values pushes each target its own value; a malformed one fails alone."""
    fleet = make_fleet(["ok", "ok"])
    items = [(Target(fleet.urls[0], fleet.api_key), "pk_test_first1"),
             (Target(fleet.urls[1], fleet.api_key), "nope")]
    results: list[TargetResult] = []
    recap = await propagate_values(items, "stripe_publishable_key", options=FAST,
                                   on_result=results.append)
    assert recap.counts["changed"] == 1 and recap.counts["failed"] == 1
    assert fleet.value(fleet.urls[0], "stripe_publishable_key") == "pk_test_first1"
    failed = next(r for r in results if r.state is TargetState.FAILED)
    assert failed.error == "invalid_publishable_key_format" and fleet.puts(fleet.urls[1]) == 0


async def test_http_proxy_honoured(make_fleet: MakeFleet, monkeypatch: pytest.MonkeyPatch) -> None:
    """With HTTP_PROXY set, requests go through the proxy (here a fake site that answers
    the proxied request itself), so a host only the proxy can reach is pushed."""
    fleet = make_fleet(["ok"])
    for name in ("NO_PROXY", "no_proxy", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", fleet.urls[0])
    results: list[TargetResult] = []
    await propagate([Target("http://shop.example.invalid", fleet.api_key)],
                    "stripe_publishable_key", PK, options=FAST, on_result=results.append)
    assert (results[0].state, results[0].verified) == (TargetState.CHANGED, True)
    assert fleet.puts(fleet.urls[0]) == 1
