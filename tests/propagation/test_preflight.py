"""The preflight: a secret key checked with Stripe (the emulator), and each site's
refusals (mode, account, publishable key against the site's secret key)."""

from __future__ import annotations

from pathlib import Path

import pytest

from stripefleet.common.processes import free_port
from stripefleet.propagation.preflight import (
    PreflightRefused,
    SiteFacts,
    StripeAccount,
    check_secret_key,
    check_sites,
)
from tests.propagation.conftest import Emulator, start_emulator

PK_TEST, PK_LIVE = "pk_test_pre0123456789", "pk_live_pre0123456789"
#: Put together at run time, so that no live-looking key stands in the repository.
SK_TEST, SK_LIVE = "sk_test_pre0123456789", "sk_" + "live_pre0123456789"
ACCOUNT = StripeAccount("acct_new", livemode=False)


def site(environment: str | None = None, account_id: str | None = None,
         secret_key_mode: str | None = None) -> SiteFacts:
    return SiteFacts("https://a.example", "a", environment, account_id, secret_key_mode)


def codes(values: dict[str, str], facts: SiteFacts, **kwargs: object) -> list[str]:
    account = kwargs.pop("account", ACCOUNT if "stripe_secret_key" in values else None)
    return [r.code for r in check_sites(values, [facts], account=account,  # type: ignore[arg-type]
                                        **kwargs)]  # type: ignore[arg-type]


@pytest.mark.parametrize(("values", "environment", "expected"), [
    ({"stripe_secret_key": SK_LIVE}, "test", ["mode_mismatch"]),
    ({"stripe_publishable_key": PK_TEST}, "prod", ["mode_mismatch"]),
    ({"stripe_secret_key": SK_LIVE}, "prod", []),
    ({"stripe_secret_key": SK_TEST}, "test", []),
    ({"stripe_secret_key": SK_LIVE}, None, []),   # no env= tag: no mode check
    ({"stripe_webhook_secret": "whsec_abc"}, "prod", []),  # no mode in a webhook secret
])
def test_mode_mismatch(values: dict[str, str], environment: str | None,
                       expected: list[str]) -> None:
    """A live value to an env=test site, or a test value to an env=prod site, is refused."""
    assert codes(values, site(environment)) == expected


def test_mode_mismatch_overridden() -> None:
    """--allow-mode-mismatch lets a live key go to an env=test site."""
    assert codes({"stripe_secret_key": SK_LIVE}, site("test"), allow_mode_mismatch=True) == []


def test_account_mismatch_and_override() -> None:
    """A secret key of another account than the site's is refused, unless allowed; a
    site with no known account is not checked."""
    values = {"stripe_secret_key": SK_TEST}
    assert codes(values, site(account_id="acct_old")) == ["account_mismatch"]
    assert codes(values, site(account_id="acct_new")) == []
    assert codes(values, site(account_id=None)) == []
    assert codes(values, site(account_id="acct_old"), allow_account_change=True) == []


def test_pair_mode_mismatch_outside_a_pair() -> None:
    """A publishable key alone whose mode differs from the site's secret key is refused;
    in a pair (the secret key pushed with it) it is not; the override lets it through."""
    assert codes({"stripe_publishable_key": PK_LIVE}, site(secret_key_mode="test")) == [
        "pair_mode_mismatch"]
    assert codes({"stripe_publishable_key": PK_TEST}, site(secret_key_mode="test")) == []
    assert codes({"stripe_publishable_key": PK_LIVE}, site(secret_key_mode=None)) == []
    pair = {"stripe_publishable_key": PK_LIVE, "stripe_secret_key": SK_LIVE}
    assert codes(pair, site(secret_key_mode="test")) == []
    assert codes({"stripe_publishable_key": PK_LIVE}, site(secret_key_mode="test"),
                 allow_mode_mismatch=True) == []


def test_refusals_name_the_site_and_mask_values() -> None:
    """Every refusal names its site; its message never holds the value in clear."""
    [refusal] = check_sites({"stripe_secret_key": SK_LIVE}, [site("test")], account=None)
    assert (refusal.url, refusal.name) == ("https://a.example", "a")
    assert SK_LIVE not in refusal.message and "sk_live_...6789" in refusal.message


def test_check_secret_key_answers_the_account(emulator: Emulator) -> None:
    """A working key: its account and mode, from Stripe's GET /v1/account."""
    pair = emulator.keys(account="new")
    account = check_secret_key(pair["secret_key"], api_base=emulator.url)
    assert account == StripeAccount(pair["account"], livemode=False)


def test_check_secret_key_live_mode(emulator: Emulator) -> None:
    """A live key's account is in live mode."""
    pair = emulator.keys(mode="live")
    assert check_secret_key(pair["secret_key"], api_base=emulator.url).livemode is True


def test_bogus_key_refused(emulator: Emulator) -> None:
    """A well-formed key Stripe does not know: stripe_auth_failed, the key masked."""
    bogus = "sk_test_doesNotExist0123456789"
    with pytest.raises(PreflightRefused) as caught:
        check_secret_key(bogus, api_base=emulator.url)
    assert caught.value.code == "stripe_auth_failed"
    assert bogus not in str(caught.value)


def test_expired_key_refused(emulator: Emulator) -> None:
    """A key expired through the control API: api_key_expired."""
    secret = emulator.keys()["secret_key"]
    emulator.control.expire_key(secret)
    with pytest.raises(PreflightRefused) as caught:
        check_secret_key(secret, api_base=emulator.url)
    assert caught.value.code == "api_key_expired"


def test_stripe_down_refused(tmp_path: Path) -> None:
    """No emulator listening: stripe_unreachable."""
    stopped = start_emulator(tmp_path)
    secret = stopped.keys()["secret_key"]
    stopped.process.stop()
    with pytest.raises(PreflightRefused) as caught:
        check_secret_key(secret, api_base=stopped.url, timeout=2)
    assert caught.value.code == "stripe_unreachable"


def test_malformed_key_refused_without_a_request() -> None:
    """A key not in the secret key format: invalid_secret_format (no Stripe call)."""
    with pytest.raises(PreflightRefused) as caught:
        check_secret_key("pk_test_notASecret1", api_base=f"http://127.0.0.1:{free_port()}")
    assert caught.value.code == "invalid_secret_format"
