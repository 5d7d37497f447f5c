"""The FaultFleet: each fake site serves the settings API, or fails as its behaviour says."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from stripefleet.common.keys import fingerprint
from stripefleet.testing import Behaviour, FaultFleet

PK = "pk_test_fleet123"
PUT_PATH = "/api/export/settings/stripe_publishable_key"


@pytest.fixture
def fleet() -> Iterator[FaultFleet]:
    kinds = ["ok", "flaky:2:500", "rate_limited:1:7", "refuse", "reset", "html", "bad_json",
             "liar", "unauthorized", "hang", "incomplete"]
    with FaultFleet(kinds) as running:
        yield running


def put(fleet: FaultFleet, url: str, value: str = PK, timeout: float = 2.0) -> requests.Response:
    return requests.put(url + PUT_PATH, json={"value": value},
                        headers={"X-API-Key": fleet.api_key}, timeout=timeout)


def test_ok_site_stores_and_exports(fleet: FaultFleet) -> None:
    """An ok site answers the PUT contract and exports the fingerprint it stored."""
    url = fleet.urls[0]
    first, second = put(fleet, url).json(), put(fleet, url).json()
    assert first["changed"] is True and first["previous_fingerprint"] is None
    assert second["changed"] is False and second["previous_fingerprint"] == fingerprint(PK)
    exported = requests.get(url + "/api/export/settings",
                            headers={"X-API-Key": fleet.api_key}, timeout=2).json()
    entry = exported["settings"]["stripe_publishable_key"]
    assert entry["fingerprint"] == fingerprint(PK) and entry["value"] == PK
    assert exported["settings"]["stripe_secret_key"]["configured"] is True  # the default
    assert fleet.puts(url) == 2


@pytest.mark.parametrize(("headers", "body", "status", "code"), [
    ({}, {"value": PK}, 401, "invalid_api_key"),
    ({"X-API-Key": "fleet-test-api-key-0123456789"}, {"value": "pk_bad"}, 400,
     "invalid_publishable_key_format"),
    ({"X-API-Key": "fleet-test-api-key-0123456789"}, {}, 400, "missing_value"),
])
def test_ok_site_errors(fleet: FaultFleet, headers: dict[str, str], body: dict[str, str],
                        status: int, code: str) -> None:
    """An ok site answers the contract's error codes."""
    resp = requests.put(fleet.urls[0] + PUT_PATH, json=body, headers=headers, timeout=2)
    assert (resp.status_code, resp.json()["error"]) == (status, code)


def test_flaky_then_ok(fleet: FaultFleet) -> None:
    """A flaky site answers its failures' status, then behaves."""
    statuses = [put(fleet, fleet.urls[1]).status_code for _ in range(3)]
    assert statuses == [500, 500, 200]


def test_rate_limited_sends_retry_after(fleet: FaultFleet) -> None:
    """A rate-limited site answers 429 with its Retry-After, then behaves."""
    first = put(fleet, fleet.urls[2])
    assert first.status_code == 429 and first.headers["Retry-After"] == "7"
    assert put(fleet, fleet.urls[2]).status_code == 200


def test_refuse(fleet: FaultFleet) -> None:
    """Nothing accepts connections on a refusing site's port."""
    with pytest.raises(requests.ConnectionError):
        put(fleet, fleet.urls[3])


def test_reset(fleet: FaultFleet) -> None:
    """A resetting site drops the connection without an answer."""
    with pytest.raises(requests.ConnectionError):
        put(fleet, fleet.urls[4])


@pytest.mark.parametrize(("index", "check"), [
    (5, lambda r: r.headers["Content-Type"].startswith("text/html")),
    (6, lambda r: r.text.startswith('{"success": true, "changed": ') and not r.text.endswith("}")),
    (10, lambda r: r.json() == {"success": True}),
])
def test_malformed_answers(fleet: FaultFleet, index: int, check: object) -> None:
    """html, bad_json and incomplete sites answer 200 with an unusable body."""
    resp = put(fleet, fleet.urls[index])
    assert resp.status_code == 200 and callable(check) and check(resp)


def test_liar_stores_nothing(fleet: FaultFleet) -> None:
    """A liar answers 200 changed to a PUT and stores nothing."""
    assert put(fleet, fleet.urls[7]).json()["changed"] is True
    assert fleet.value(fleet.urls[7], "stripe_publishable_key") is None


def test_unauthorized(fleet: FaultFleet) -> None:
    """An unauthorized site refuses even the right key."""
    assert put(fleet, fleet.urls[8]).json()["error"] == "invalid_api_key"


def test_hang(fleet: FaultFleet) -> None:
    """A hanging site never answers within the client's timeout."""
    with pytest.raises(requests.Timeout):
        put(fleet, fleet.urls[9], timeout=0.3)


def test_master_key_rotation_switches_accepted_key() -> None:
    """After a PUT of template_master_api_key, only the new key is accepted."""
    new_key = "rotated-key-abcdefghijklmnop"
    with FaultFleet(["ok"]) as fleet:
        url = fleet.urls[0]
        resp = requests.put(url + "/api/export/settings/template_master_api_key",
                            json={"value": new_key}, headers={"X-API-Key": fleet.api_key},
                            timeout=2)
        assert resp.status_code == 200
        assert put(fleet, url).status_code == 401
        resp = requests.put(url + PUT_PATH, json={"value": PK}, headers={"X-API-Key": new_key},
                            timeout=2)
        assert resp.status_code == 200


def test_behaviour_parse() -> None:
    """Behaviour strings carry their knobs; unknown kinds are refused."""
    assert Behaviour.parse("flaky:3:502") == Behaviour("flaky", failures=3, status=502)
    assert Behaviour.parse("slow:50").latency_ms == 50
    with pytest.raises(ValueError, match="unknown behaviour"):
        Behaviour.parse("teapot")


def test_subprocess_writes_sites_file(tmp_path: Path) -> None:
    """``python -m stripefleet.testing.fleet`` writes its URLs and serves them until
    terminated, then writes its request counts."""
    sites, stats = tmp_path / "sites.txt", tmp_path / "stats.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "stripefleet.testing.fleet", "--sites", "3", "--sites-file",
         str(sites), "--stats-file", str(stats)], stderr=subprocess.PIPE)
    try:
        assert proc.stderr is not None
        lines = [proc.stderr.readline() for _ in range(1)]
        while b"fault fleet ready" not in lines[-1] and lines[-1] and len(lines) < 50:
            lines.append(proc.stderr.readline())  # warnings may come first
        assert b"fault fleet ready" in lines[-1], lines
        urls = sites.read_text().split()
        assert len(urls) == 3
        resp = requests.get(urls[0] + "/api/health", timeout=2)
        assert resp.json()["status"] == "ok"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert '"requests": 1' in stats.read_text()


def test_functional_check_answers_from_the_stored_keys() -> None:
    """POST /api/test-stripe: the secret key's account and mode, the publishable key's
    mode; GET /api/health/stripe then names that account."""
    with FaultFleet(["ok"]) as fleet:
        url = fleet.urls[0]
        fleet.set_value(url, "stripe_publishable_key", "pk_live_mixed1")
        body = requests.post(url + "/api/test-stripe", headers={"X-API-Key": fleet.api_key},
                             timeout=2).json()
        assert (body["livemode"], body["publishable_key_mode"], body["mode_consistent"]) == (
            False, "live", False)
        health = requests.get(url + "/api/health/stripe", timeout=2).json()
        assert health["account_id"] == body["account_id"] and health["checked_at"]
        assert health["environment"] == "mixed"


@pytest.mark.parametrize(("kind", "status", "code"), [
    ("stripe_auth_failed", 502, "stripe_auth_failed"),
    ("api_key_expired", 502, "api_key_expired"),
    ("stripe_unreachable", 503, "stripe_unreachable"),
    ("old_site", 404, "not_found"),
])
def test_functional_check_failures(kind: str, status: int, code: str) -> None:
    """Each failing behaviour answers the functional check with its status and code."""
    with FaultFleet([kind]) as fleet:
        resp = requests.post(fleet.urls[0] + "/api/test-stripe",
                             headers={"X-API-Key": fleet.api_key}, timeout=2)
        assert (resp.status_code, resp.json()["error"]) == (status, code)


def test_bare_site_and_failing_key() -> None:
    """Without a secret key: 409 secret_key_not_configured; a key marked failing answers
    its code on every site."""
    with FaultFleet(["ok", "ok"], secret_key=None) as fleet:
        first, second = fleet.urls
        headers = {"X-API-Key": fleet.api_key}
        resp = requests.post(first + "/api/test-stripe", headers=headers, timeout=2)
        assert (resp.status_code, resp.json()["error"]) == (409, "secret_key_not_configured")
        fleet.set_value(second, "stripe_secret_key", "sk_test_bad1")
        fleet.fail_key("sk_test_bad1", "api_key_expired")
        resp = requests.post(second + "/api/test-stripe", headers=headers, timeout=2)
        assert resp.json()["error"] == "api_key_expired"


def test_bulk_put_validates_as_a_whole() -> None:
    """PUT /api/export/settings stores every value, or none when one is malformed (with
    that setting's code and name)."""
    with FaultFleet(["ok"]) as fleet:
        url, headers = fleet.urls[0], {"X-API-Key": fleet.api_key}
        bad = requests.put(url + "/api/export/settings", headers=headers, timeout=2, json={
            "settings": {"stripe_publishable_key": PK, "stripe_secret_key": "nope"}})
        assert (bad.status_code, bad.json()["error"], bad.json()["setting"]) == (
            400, "invalid_secret_format", "stripe_secret_key")
        assert fleet.value(url, "stripe_publishable_key") is None
        good = requests.put(url + "/api/export/settings", headers=headers, timeout=2, json={
            "settings": {"stripe_publishable_key": PK, "stripe_secret_key": "sk_test_new1"}})
        entries = good.json()["settings"]
        assert entries["stripe_publishable_key"]["changed"] is True
        assert entries["stripe_secret_key"]["previous_fingerprint"] is not None
        assert fleet.value(url, "stripe_secret_key") == "sk_test_new1"
