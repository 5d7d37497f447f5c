"""The settings API over HTTP, against real site processes (SQLite and PostgreSQL).

Source of each rule: README, "A site" (the contract of the original propagation script
and of the troubleshooting guide).
"""

from __future__ import annotations

import pytest
import requests
import sqlalchemy as sa

from stripefleet.common.keys import fingerprint
from tests.site.conftest import API_KEY, RunningSite

PK = "pk_test_51HxAbCdEfGhIjKlMnOpQrStUvWxYz0123456789"
SK = "sk_test_51HxSeCrEtKeYsEcReTkEy0123456789abcdwxyz"
SK2 = "sk_test_51HxAnOtHeRsEcReTkEy0123456789abcdwxyz"
WH = "whsec_WeBhOoKsIgNiNgSeCrEt0123456789wxyz"
VALID = {"stripe_publishable_key": PK, "stripe_secret_key": SK, "stripe_webhook_secret": WH}


@pytest.mark.parametrize("setting", sorted(VALID))
def test_put_sets_a_value_and_answers_its_fingerprint(site: RunningSite, setting: str) -> None:
    """A first PUT answers 200, changed, the value's fingerprint and no previous one."""
    resp = site.put(setting, VALID[setting])
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["success"] is True
    assert body["setting"] == setting
    assert body["changed"] is True
    assert body["fingerprint"] == fingerprint(VALID[setting])
    assert body["previous_fingerprint"] is None


def test_put_of_the_same_value_is_unchanged(site: RunningSite) -> None:
    """Putting the value a setting already holds answers changed false, same fingerprints."""
    site.set("stripe_secret_key", SK)
    body = site.put("stripe_secret_key", SK).json()
    assert body["changed"] is False
    assert body["fingerprint"] == body["previous_fingerprint"] == fingerprint(SK)
    assert body["version"] == 1


def test_put_of_a_new_value_gives_the_previous_fingerprint(site: RunningSite) -> None:
    """A change answers the fingerprint the setting had before it, and bumps the version."""
    site.set("stripe_publishable_key", PK)
    body = site.put("stripe_publishable_key", "pk_live_Other123").json()
    assert body["changed"] is True
    assert body["previous_fingerprint"] == fingerprint(PK)
    assert body["fingerprint"] == fingerprint("pk_live_Other123")
    assert body["version"] == 2


def test_values_are_trimmed_before_validation(site: RunningSite) -> None:
    """Surrounding white space is removed (README, "A site"), and the trimmed value is stored."""
    body = site.put("stripe_publishable_key", f"  {PK}\n\t").json()
    assert body["fingerprint"] == fingerprint(PK)
    assert site.get("/api/stripe-pk").json()["publishable_key"] == PK


@pytest.mark.parametrize(
    ("setting", "value", "code"),
    [
        ("stripe_publishable_key", "pk_test_abc def", "invalid_publishable_key_format"),
        ("stripe_publishable_key", SK, "invalid_publishable_key_format"),
        ("stripe_publishable_key", "pk_test_51Hxxxx...", "invalid_publishable_key_format"),
        ("stripe_publishable_key", "pk_prod_abc", "invalid_publishable_key_format"),
        ("stripe_secret_key", PK, "invalid_secret_format"),
        ("stripe_secret_key", "sk_test_", "invalid_secret_format"),
        ("stripe_secret_key", "sk_test_abc-def", "invalid_secret_format"),
        ("stripe_secret_key", 12345, "invalid_secret_format"),
        ("stripe_webhook_secret", "whsec_abc def", "invalid_webhook_secret_format"),
        ("stripe_webhook_secret", "sk_test_abc", "invalid_webhook_secret_format"),
    ],
)
def test_malformed_values_are_refused_with_the_setting_code(
    shared_site: RunningSite, setting: str, value: object, code: str
) -> None:
    """A value failing its key format is 400 with the setting's code; nothing stored."""
    resp = shared_site.put(setting, value)
    assert resp.status_code == 400
    assert resp.json() == {"success": False, "error": code, "message": resp.json()["message"]}
    if len(str(value)) > 8:  # the message may name a prefix, never the value
        assert str(value) not in resp.json()["message"]
    states = shared_site.get("/api/export/settings", api_key=API_KEY).json()["settings"]
    assert states[setting]["configured"] is False


@pytest.mark.parametrize("api_key", [None, "", "wrong-key-wrong-key-wrong", API_KEY + "x"])
def test_a_missing_or_wrong_api_key_is_401(shared_site: RunningSite, api_key: str | None) -> None:
    """Without the fleet's API key a PUT is 401 ``invalid_api_key`` and changes nothing."""
    resp = shared_site.put("stripe_publishable_key", PK, api_key=api_key)
    assert resp.status_code == 401
    assert resp.json()["error"] == "invalid_api_key"
    assert resp.json()["success"] is False
    assert shared_site.get("/api/stripe-pk").status_code == 404


@pytest.mark.parametrize("name", ["stripe_other_key", "STRIPE_SECRET_KEY", "x" * 300])
def test_an_unknown_setting_is_404(shared_site: RunningSite, name: str) -> None:
    """Only the four settings can be PUT; anything else is 404 ``unknown_setting``."""
    resp = shared_site.put(name, "whatever")
    assert resp.status_code == 404
    assert resp.json()["error"] == "unknown_setting"


def test_a_body_over_4_kib_is_413(shared_site: RunningSite) -> None:
    """A body over 4 KiB is refused with 413 before it is parsed."""
    resp = shared_site.put("stripe_publishable_key", "pk_test_" + "a" * 5000)
    assert resp.status_code == 413
    assert resp.json()["error"] == "payload_too_large"


def test_a_chunked_body_over_4_kib_is_413(shared_site: RunningSite) -> None:
    """Without a Content-Length (chunked), reading stops at 4 KiB with the same 413."""
    body = ('{"value": "pk_test_' + "a" * 5000 + '"}').encode()
    resp = requests.put(f"{shared_site.url}/api/export/settings/stripe_publishable_key",
                        data=iter([body[:2000], body[2000:]]),
                        headers={"X-API-Key": API_KEY, "Content-Type": "application/json"},
                        timeout=10)
    assert resp.request.headers.get("Transfer-Encoding") == "chunked"
    assert resp.status_code == 413
    assert resp.json()["error"] == "payload_too_large"


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
def test_a_body_that_is_not_json_is_415(shared_site: RunningSite, content_type: str | None) -> None:
    """Only a JSON content type is accepted (415 otherwise), even with a JSON-looking body."""
    headers = {"X-API-Key": API_KEY}
    if content_type:
        headers["Content-Type"] = content_type
    resp = requests.put(f"{shared_site.url}/api/export/settings/stripe_publishable_key",
                        data=f'{{"value": "{PK}"}}'.encode(), headers=headers, timeout=10)
    assert resp.status_code == 415
    assert resp.json()["error"] == "unsupported_media_type"


@pytest.mark.parametrize("body", [b'{"value": "pk_test_abc"', b"not json", b"[1, 2]", b'"pk"',
                                  b"\xff\xfe"])
def test_a_body_that_is_not_a_json_object_is_invalid_json(
    shared_site: RunningSite, body: bytes
) -> None:
    """Malformed JSON, or JSON that is not an object, is 400 ``invalid_json``."""
    resp = requests.put(f"{shared_site.url}/api/export/settings/stripe_publishable_key", data=body,
                        headers={"X-API-Key": API_KEY, "Content-Type": "application/json"},
                        timeout=10)
    assert resp.status_code == 400
    assert resp.json()["error"] == "invalid_json"


@pytest.mark.parametrize("body", [{}, {"value": None}, {"value": "   "}, {"val": PK}])
def test_a_body_without_a_value_is_missing_value(shared_site: RunningSite, body: dict) -> None:
    """A JSON object without a (non-blank) ``value`` is 400 ``missing_value``."""
    resp = requests.put(f"{shared_site.url}/api/export/settings/stripe_publishable_key", json=body,
                        headers={"X-API-Key": API_KEY}, timeout=10)
    assert resp.status_code == 400
    assert resp.json()["error"] == "missing_value"


def test_ten_failed_api_keys_in_a_minute_lock_the_client_out(site: RunningSite) -> None:
    """After 10 failed API-key attempts, even the right key gets 429 with Retry-After."""
    for _ in range(10):
        resp = site.put("stripe_publishable_key", PK, api_key="bad-key-bad-key-bad")
        assert resp.status_code == 401
    resp = site.put("stripe_publishable_key", PK)
    assert resp.status_code == 429
    assert resp.json()["error"] == "too_many_attempts"
    assert 1 <= int(resp.headers["Retry-After"]) <= 60


def test_successful_api_key_attempts_are_not_counted(site: RunningSite) -> None:
    """Only failures count towards the lock-out: 15 good requests and 9 bad ones pass."""
    for _ in range(15):
        assert site.get("/api/export/settings", api_key=API_KEY).status_code == 200
    for _ in range(9):
        assert site.get("/api/export/settings", api_key="bad-key-bad-key-bad").status_code == 401
    assert site.put("stripe_publishable_key", PK).status_code == 200


def test_stripe_pk_is_404_not_configured_before_any_push(shared_site: RunningSite) -> None:
    """``GET /api/stripe-pk`` before a publishable key is set: 404 ``not_configured``."""
    resp = shared_site.get("/api/stripe-pk")
    assert resp.status_code == 404
    assert resp.json()["error"] == "not_configured"


def test_stripe_pk_answers_the_publishable_key_in_the_scripts_shape(site: RunningSite) -> None:
    """The original propagation script's shape: ``{"success": true, "publishable_key":
    "pk_..."}`` after a push."""
    site.set("stripe_publishable_key", PK)
    resp = site.get("/api/stripe-pk")
    assert resp.status_code == 200
    assert resp.json() == {"success": True, "publishable_key": PK}


@pytest.mark.parametrize(
    ("values", "environment"),
    [
        ({}, None),
        ({"stripe_publishable_key": "pk_live_A1"}, "live"),
        ({"stripe_publishable_key": "pk_test_A1", "stripe_secret_key": "sk_test_B2"}, "test"),
        ({"stripe_publishable_key": "pk_live_A1", "stripe_secret_key": "sk_test_B2"}, "mixed"),
    ],
)
def test_health_stripe_reports_what_is_configured_and_the_mode(
    site: RunningSite, values: dict[str, str], environment: str | None
) -> None:
    """``/api/health/stripe`` says which settings are set and test/live/mixed/null;
    before any ``POST /api/test-stripe``, the check's fields are null."""
    for setting, value in values.items():
        assert site.put(setting, value).status_code == 200
    assert site.get("/api/health/stripe").json() == {
        "success": True,
        "secret_key_configured": "stripe_secret_key" in values,
        "publishable_key_configured": "stripe_publishable_key" in values,
        "webhook_secret_configured": False,
        "environment": environment,
        "account_id": None,
        "livemode": None,
        "checked_at": None,
        "check_outcome": None,
    }


def test_export_settings_needs_the_api_key(shared_site: RunningSite) -> None:
    """``GET /api/export/settings`` without ``X-API-Key`` is 401."""
    assert shared_site.get("/api/export/settings").status_code == 401
    assert shared_site.get("/api/export/settings/stripe_secret_key").status_code == 401


def test_export_settings_describes_each_setting_without_its_value(site: RunningSite) -> None:
    """Each setting: configured, fingerprint, masked, updated_at (UTC ISO 8601), version."""
    live = "sk_" + "live_NewKey0000wxyz"  # made up; split so scanners see no live key
    site.set("stripe_secret_key", SK)
    site.set("stripe_secret_key", live)
    settings = site.get("/api/export/settings", api_key=API_KEY).json()["settings"]
    assert set(settings) == {*VALID, "template_master_api_key"}
    secret = settings["stripe_secret_key"]
    assert secret["configured"] is True
    assert secret["fingerprint"] == fingerprint(live)
    assert secret["masked"] == "sk_live_...wxyz"
    assert secret["version"] == 2
    assert secret["updated_at"].endswith("Z")
    assert "value" not in secret
    assert settings["stripe_webhook_secret"] == {
        "configured": False, "fingerprint": None, "masked": None, "updated_at": None,
        "version": 0,
    }


def test_export_settings_shows_the_publishable_key_itself(site: RunningSite) -> None:
    """The publishable key is public: its entry carries ``value`` (backups restore it)."""
    site.set("stripe_publishable_key", PK)
    settings = site.get("/api/export/settings", api_key=API_KEY).json()["settings"]
    assert settings["stripe_publishable_key"]["value"] == PK
    assert settings["stripe_publishable_key"]["masked"] == "pk_test_...6789"


def test_export_of_one_setting_matches_the_list(site: RunningSite) -> None:
    """``GET /api/export/settings/<name>`` gives that setting's entry of the list."""
    site.set("stripe_webhook_secret", WH)
    one = site.get("/api/export/settings/stripe_webhook_secret", api_key=API_KEY).json()
    listed = site.get("/api/export/settings", api_key=API_KEY).json()["settings"]
    assert one.pop("setting") == "stripe_webhook_secret"
    assert one.pop("success") is True
    assert one == listed["stripe_webhook_secret"]


def test_unknown_api_paths_answer_json_errors(shared_site: RunningSite) -> None:
    """Every error under /api/ has the error body shape, even Flask's own 404 and 405."""
    for method, path, status in [("GET", "/api/nope", 404),
                                 ("POST", "/api/stripe-pk", 405)]:
        resp = requests.request(method, f"{shared_site.url}{path}", timeout=10)
        assert resp.status_code == status
        assert resp.json()["success"] is False
        assert set(resp.json()) == {"success", "error", "message"}


def test_putting_the_api_key_rotates_it(site: RunningSite) -> None:
    """After a PUT of ``template_master_api_key``, only the new key is accepted
    (README, "A site": a rotation revokes the previous key)."""
    new_key = "rotated-fleet-key-0123456789wxyz"
    resp = site.put("template_master_api_key", new_key)
    assert resp.status_code == 200
    assert resp.json()["changed"] is True
    assert site.put("stripe_publishable_key", PK).status_code == 401
    assert site.put("stripe_publishable_key", PK, api_key=new_key).status_code == 200
    entry = site.get("/api/export/settings/template_master_api_key", api_key=new_key).json()
    assert entry["fingerprint"] == fingerprint(new_key)
    assert entry["masked"] == "...wxyz"
    assert "value" not in entry


@pytest.mark.parametrize("value", ["short", "has spaces in it, sixteen+", "é" * 20])
def test_a_malformed_api_key_is_refused_and_the_old_one_kept(
    shared_site: RunningSite, value: str
) -> None:
    """A new API key outside the format is 400 ``invalid_api_key_format``; the current
    key still works."""
    resp = shared_site.put("template_master_api_key", value)
    assert resp.status_code == 400
    assert resp.json()["error"] == "invalid_api_key_format"
    assert shared_site.get("/api/export/settings", api_key=API_KEY).status_code == 200


def _put_with_key(site: RunningSite, setting: str, value: str,
                  key: str | bytes | None) -> requests.Response:
    """``PUT /api/export/settings/<setting>`` with ``Idempotency-Key: key`` (none if None)."""
    headers: dict[str, str | bytes] = {"X-API-Key": API_KEY}
    if key is not None:
        headers["Idempotency-Key"] = key
    return requests.put(f"{site.url}/api/export/settings/{setting}", json={"value": value},
                        headers=headers, timeout=10)


def _change_count(site: RunningSite) -> int:
    engine = sa.create_engine(site.database_url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(sa.text("SELECT count(*) FROM setting_changes")).scalar_one())
    finally:
        engine.dispose()


@pytest.mark.parametrize("key", ["stripefleet-0f8e4bd1c2a34f6b9d0e1a2b3c4d5e6f",
                                 ("!~" + "".join(map(chr, range(0x21, 0x7F))) * 3)[:255]],
                         ids=["uuid", "255-printable"])
def test_a_retry_with_the_same_idempotency_key_answers_the_first_answer(
    site: RunningSite, key: str
) -> None:
    """A PUT that landed, sent again with its ``Idempotency-Key`` (its answer was lost),
    answers exactly as the first did (changed true, same version and updated_at) and no
    second change is recorded."""
    site.set("stripe_secret_key", SK)
    first = _put_with_key(site, "stripe_secret_key", SK2, key)
    assert first.status_code == 200, first.text
    assert first.json()["changed"] is True
    again = _put_with_key(site, "stripe_secret_key", SK2, key)
    assert again.status_code == 200, again.text
    assert again.json() == first.json()
    assert again.json()["previous_fingerprint"] == fingerprint(SK)
    assert _change_count(site) == 2  # the set and the keyed change, not its retry


@pytest.mark.parametrize("other", ["stripefleet-another-push", None], ids=["other-key", "no-key"])
def test_the_same_value_with_another_key_or_none_is_unchanged(
    site: RunningSite, other: str | None
) -> None:
    """Only the key of the change that set the value replays it; another key, or none,
    gets the usual ``changed`` false."""
    first = _put_with_key(site, "stripe_secret_key", SK, "stripefleet-first-push").json()
    body = _put_with_key(site, "stripe_secret_key", SK, other).json()
    assert body["changed"] is False
    assert body["previous_fingerprint"] == fingerprint(SK)
    assert (body["version"], body["updated_at"]) == (first["version"], first["updated_at"])


@pytest.mark.parametrize("key", ["", "k" * 256, "push 1", "push-é", "push-é".encode()],
                         ids=["empty", "256-chars", "space", "latin-1", "utf-8"])
def test_a_malformed_idempotency_key_is_400_and_changes_nothing(
    shared_site: RunningSite, key: str | bytes
) -> None:
    """An ``Idempotency-Key`` that is not 1 to 255 printable ASCII characters without
    spaces is 400 ``invalid_idempotency_key``, in the API's error shape; nothing stored."""
    resp = _put_with_key(shared_site, "stripe_publishable_key", PK, key)
    assert resp.status_code == 400, resp.text
    body = resp.json()
    assert body == {"success": False, "error": "invalid_idempotency_key",
                    "message": body["message"]}
    assert "Idempotency-Key" in body["message"]
    states = shared_site.get("/api/export/settings", api_key=API_KEY).json()["settings"]
    assert states["stripe_publishable_key"]["configured"] is False
