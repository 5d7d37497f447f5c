"""The engine's functional check (POST /api/test-stripe) and key-pair pushes, against
the fault fleet."""

from __future__ import annotations

import dataclasses

import pytest

from stripefleet.propagation import (
    PushOptions,
    TargetResult,
    TargetState,
    check_functional,
    propagate,
    propagate_pair,
    propagate_pair_values,
)
from tests.propagation.conftest import FAST, MakeFleet, targets

PK = "pk_test_functional0123"
PK_LIVE = "pk_live_functional0123"
SK = "sk_test_functional0123"
WH = "whsec_functional0123"


async def push(make_fleet: MakeFleet, kind: str = "ok", setting: str = "stripe_publishable_key",
               value: str = PK, options: PushOptions = FAST, **fleet_kwargs: object
               ) -> tuple[TargetResult, list[str]]:
    """Push to one fake site; its result and the methods + paths it received."""
    fleet = make_fleet([kind], **fleet_kwargs)
    results: list[TargetResult] = []
    await propagate(targets(fleet), setting, value, options=options, on_result=results.append)
    [result] = results
    return result, [f"{r.method} {r.path}" for r in fleet.requests(fleet.urls[0])]


async def test_push_ends_with_the_functional_check(make_fleet: MakeFleet) -> None:
    """A publishable key: PUT, read-back, then POST /api/test-stripe; changed, with the
    account and mode the site answered."""
    result, log = await push(make_fleet)
    assert log == ["PUT /api/export/settings/stripe_publishable_key",
                   "GET /api/export/settings", "POST /api/test-stripe"]
    assert (result.state, result.functional, result.livemode) == (TargetState.CHANGED, "ok",
                                                                   False)
    assert result.account_id and result.account_id.startswith("acct_")


async def test_old_site_is_unavailable_not_failed(make_fleet: MakeFleet) -> None:
    """A site answering 404 to the check keeps its state: functional "unavailable"."""
    result, _ = await push(make_fleet, "old_site")
    assert (result.state, result.error, result.functional) == (TargetState.CHANGED, None,
                                                               "unavailable")


@pytest.mark.parametrize(("kind", "code", "status"), [
    ("stripe_auth_failed", "stripe_auth_failed", 502),
    ("api_key_expired", "api_key_expired", 502),
    ("stripe_unreachable", "stripe_unreachable", 503),
])
async def test_failing_check_fails_the_target(make_fleet: MakeFleet, kind: str, code: str,
                                              status: int) -> None:
    """A check the site answers with an error makes the target failed with its code."""
    result, log = await push(make_fleet, kind, setting="stripe_secret_key", value=SK)
    assert (result.state, result.error, result.functional, result.http_status) == (
        TargetState.FAILED, code, code, status)
    assert result.verified  # stored and read back: only the check failed
    assert log.count("POST /api/test-stripe") == 1  # never retried: Stripe did not answer


async def test_no_secret_key_keeps_a_publishable_key(make_fleet: MakeFleet) -> None:
    """A publishable key to a site without a secret key yet: nothing to compare its mode
    with, so the push stands (``functional="no_secret_key"``), as a first set-up needs."""
    result, _ = await push(make_fleet, secret_key=None)
    assert (result.state, result.error, result.functional) == (
        TargetState.CHANGED, None, "no_secret_key")


async def test_mode_mismatch(make_fleet: MakeFleet) -> None:
    """A live publishable key beside a test secret key: mode_mismatch."""
    result, _ = await push(make_fleet, value=PK_LIVE)
    assert (result.state, result.error) == (TargetState.FAILED, "mode_mismatch")


async def test_account_mismatch(make_fleet: MakeFleet) -> None:
    """A site answering another account than the one expected: account_mismatch."""
    options = dataclasses.replace(FAST, expected_account="acct_expected")
    result, _ = await push(make_fleet, setting="stripe_secret_key", value=SK, options=options)
    assert (result.state, result.error) == (TargetState.FAILED, "account_mismatch")


async def test_expected_account_matches(make_fleet: MakeFleet) -> None:
    """The site's answer names the expected account: changed."""
    fleet = make_fleet(["ok"])
    fleet.accounts[SK] = "acct_expected"
    options = dataclasses.replace(FAST, expected_account="acct_expected")
    results: list[TargetResult] = []
    await propagate(targets(fleet), "stripe_secret_key", SK, options=options,
                    on_result=results.append)
    assert [(r.state, r.account_id) for r in results] == [(TargetState.CHANGED, "acct_expected")]


async def test_failing_key_fails_everywhere(make_fleet: MakeFleet) -> None:
    """A key Stripe refuses fails its check on every site it reaches."""
    fleet = make_fleet(["ok", "ok"])
    fleet.fail_key(SK, "api_key_expired")
    recap = await propagate(targets(fleet), "stripe_secret_key", SK, options=FAST)
    assert recap.counts["failed"] == 2


@pytest.mark.parametrize(("setting", "value", "options"), [
    ("stripe_webhook_secret", WH, FAST),
    ("stripe_publishable_key", PK, dataclasses.replace(FAST, functional_verify=False)),
    ("stripe_publishable_key", PK, dataclasses.replace(FAST, dry_run=True)),
])
async def test_no_check(make_fleet: MakeFleet, setting: str, value: str,
                        options: PushOptions) -> None:
    """No check for a webhook secret, with functional_verify off, or in a dry run."""
    result, log = await push(make_fleet, setting=setting, value=value, options=options)
    assert "POST /api/test-stripe" not in log and result.functional is None


async def test_check_functional_only_posts(make_fleet: MakeFleet) -> None:
    """check_functional sends one POST a site: ok with the account, failed with the code,
    ok and unavailable on an old site."""
    fleet = make_fleet(["ok", "api_key_expired", "old_site"])
    fleet.site(fleet.urls[0]).last_webhook_verified_at = "2026-11-29T10:00:00Z"
    results: dict[str, TargetResult] = {}
    recap = await check_functional(targets(fleet), options=FAST,
                                   on_result=lambda r: results.__setitem__(r.url, r))
    ok, expired, old = (results[u] for u in fleet.urls)
    assert (ok.state, ok.functional, ok.last_webhook_verified_at) == (
        TargetState.OK, "ok", "2026-11-29T10:00:00Z")
    assert (expired.state, expired.error) == (TargetState.FAILED, "api_key_expired")
    assert (old.state, old.functional) == (TargetState.OK, "unavailable")
    assert recap.counts["ok"] == 2
    assert all(r.method == "POST" for u in fleet.urls for r in fleet.requests(u))


async def test_pair_push_one_request_then_checks(make_fleet: MakeFleet) -> None:
    """A pair: one PUT /api/export/settings with every value, the read-back, the check;
    setting "key_pair", each value stored."""
    fleet = make_fleet(["ok", "ok"])
    values = {"stripe_publishable_key": PK, "stripe_secret_key": SK,
              "stripe_webhook_secret": WH}
    results: list[TargetResult] = []
    recap = await propagate_pair(targets(fleet), values, options=FAST, on_result=results.append)
    assert recap.counts["changed"] == 2
    assert {(r.setting, r.functional, r.verified) for r in results} == {("key_pair", "ok", True)}
    for url in fleet.urls:
        assert [f"{r.method} {r.path}" for r in fleet.requests(url)] == [
            "PUT /api/export/settings", "GET /api/export/settings", "POST /api/test-stripe"]
        assert all(fleet.value(url, name) == value for name, value in values.items())
    assert SK not in repr(results)


async def test_pair_to_an_old_site_fails(make_fleet: MakeFleet) -> None:
    """A site without PUT /api/export/settings answers 404: failed."""
    fleet = make_fleet(["old_site"])
    results: list[TargetResult] = []
    await propagate_pair(targets(fleet), {"stripe_publishable_key": PK, "stripe_secret_key": SK},
                         options=FAST, on_result=results.append)
    assert [(r.state, r.http_status) for r in results] == [(TargetState.FAILED, 404)]


async def test_pair_needs_both_keys() -> None:
    """A pair without its secret key is a ValueError, before any request."""
    with pytest.raises(ValueError, match="secret key"):
        await propagate_pair([], {"stripe_publishable_key": PK})


async def test_pair_values_per_site(make_fleet: MakeFleet) -> None:
    """propagate_pair_values pushes each site its own pair; a malformed pair fails only
    its site, with the format's code."""
    fleet = make_fleet(["ok", "ok"])
    first, second = targets(fleet)
    other = {"stripe_publishable_key": "pk_test_other1", "stripe_secret_key": "sk_test_other1"}
    results: dict[str, TargetResult] = {}
    await propagate_pair_values(
        [(first, other), (second, {"stripe_publishable_key": PK, "stripe_secret_key": "bad"})],
        options=FAST, on_result=lambda r: results.__setitem__(r.url, r))
    assert results[first.url].state is TargetState.CHANGED
    assert fleet.value(first.url, "stripe_secret_key") == "sk_test_other1"
    assert (results[second.url].state, results[second.url].error) == (
        TargetState.FAILED, "invalid_secret_format")
    assert fleet.puts(second.url) == 0
