"""``PUT /api/export/settings``: several settings (a key pair) in one all-or-nothing
write, against real site processes (SQLite and PostgreSQL).

Source of each rule: README, "A site".
"""

from __future__ import annotations

from typing import Any

import pytest
import requests
import sqlalchemy as sa

from stripefleet.common.keys import fingerprint
from tests.site.conftest import API_KEY, RunningSite

PK = "pk_test_51HxPaIrPuBlIsHaBlE0123456789abcdwxyz"
SK = "sk_test_51HxPaIrSeCrEtKeY0123456789abcdwxyz"
SK2 = "sk_test_51HxPaIrSeCoNdKeY0123456789abcdwxyz"
WH = "whsec_PaIrWeBhOoKsEcReT0123456789wxyz"
PAIR = {"stripe_publishable_key": PK, "stripe_secret_key": SK, "stripe_webhook_secret": WH}


def _put(site: RunningSite, body: Any, *, key: str | None = None,
         api_key: str | None = API_KEY) -> requests.Response:
    headers = {"X-API-Key": api_key} if api_key else {}
    if key is not None:
        headers["Idempotency-Key"] = key
    return requests.put(f"{site.url}/api/export/settings", json=body, headers=headers,
                        timeout=10)


def _changes(site: RunningSite) -> list[tuple[str, int]]:
    """``setting_changes`` rows as (setting, version), oldest first."""
    engine = sa.create_engine(site.database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT key, version FROM setting_changes ORDER BY id"))
            return [(str(r[0]), int(r[1])) for r in rows]
    finally:
        engine.dispose()


def _states(site: RunningSite) -> dict[str, Any]:
    resp = site.get("/api/export/settings", api_key=API_KEY)
    assert resp.status_code == 200, resp.text
    return dict(resp.json()["settings"])


def test_a_valid_pair_changes_each_setting(site: RunningSite) -> None:
    """All valid: 200, each setting changed with its fingerprint, version 1, and the
    values read back."""
    resp = _put(site, {"settings": PAIR})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["success"] is True and list(body["settings"]) == list(PAIR)
    for name, value in PAIR.items():
        entry = body["settings"][name]
        assert (entry["changed"], entry["fingerprint"], entry["previous_fingerprint"],
                entry["version"]) == (True, fingerprint(value), None, 1)
        assert entry["updated_at"].endswith("Z")
    states = _states(site)
    assert {n: states[n]["fingerprint"] for n in PAIR} == {
        n: fingerprint(v) for n, v in PAIR.items()}
    assert site.get("/api/stripe-pk").json()["publishable_key"] == PK


def test_each_changed_setting_gets_a_change_row(site: RunningSite) -> None:
    """One ``setting_changes`` row per setting the pair changed, none for one it
    already held."""
    site.set("stripe_publishable_key", PK)
    body = _put(site, {"settings": {"stripe_publishable_key": PK,
                                    "stripe_secret_key": SK}}).json()
    assert body["settings"]["stripe_publishable_key"]["changed"] is False
    assert body["settings"]["stripe_secret_key"]["changed"] is True
    assert _changes(site) == [("stripe_publishable_key", 1), ("stripe_secret_key", 1)]


@pytest.mark.parametrize(("bad", "code"), [
    ("stripe_secret_key", "invalid_secret_format"),
    ("stripe_webhook_secret", "invalid_webhook_secret_format"),
])
def test_one_invalid_value_writes_nothing(site: RunningSite, bad: str, code: str) -> None:
    """One value failing its format refuses the whole set: 400 with that setting's code
    and name; the others, valid, are not written either (read back) nor recorded."""
    site.set("stripe_secret_key", SK2)
    values = {**PAIR, bad: "pk_test_notTheRightKind"}
    resp = _put(site, {"settings": values})
    assert resp.status_code == 400, resp.text
    assert resp.json() == {"success": False, "error": code, "setting": bad,
                           "message": resp.json()["message"]}
    states = _states(site)
    assert states["stripe_publishable_key"]["configured"] is False
    assert states["stripe_secret_key"]["fingerprint"] == fingerprint(SK2)
    assert states["stripe_webhook_secret"]["configured"] is False
    assert _changes(site) == [("stripe_secret_key", 1)]


def test_a_retry_with_the_idempotency_key_answers_the_same(site: RunningSite) -> None:
    """A pair that landed, sent again with its ``Idempotency-Key`` (its answer lost),
    answers exactly as the first time; nothing is recorded twice."""
    site.set("stripe_secret_key", SK2)
    first = _put(site, {"settings": PAIR}, key="pair-rollout-7-site-1")
    assert first.status_code == 200, first.text
    again = _put(site, {"settings": PAIR}, key="pair-rollout-7-site-1")
    assert again.status_code == 200, again.text
    assert again.json() == first.json()
    assert again.json()["settings"]["stripe_secret_key"]["previous_fingerprint"] == \
        fingerprint(SK2)
    assert len(_changes(site)) == 4  # the set, then the pair's three


def test_a_resend_without_the_key_is_unchanged(site: RunningSite) -> None:
    """The same pair sent again without the key is answered ``changed`` false for each."""
    _put(site, {"settings": PAIR}, key="pair-first")
    body = _put(site, {"settings": PAIR}).json()
    assert [e["changed"] for e in body["settings"].values()] == [False, False, False]


def test_no_secret_in_the_answer(site: RunningSite) -> None:
    """The answer holds fingerprints, never the secret values."""
    text = _put(site, {"settings": PAIR}).text
    assert SK not in text and WH not in text


def test_the_fleet_api_key_alone_is_accepted(site: RunningSite) -> None:
    """``template_master_api_key`` may be pushed alone: from then on only it works."""
    new_key = "rotated-fleet-key-0123456789"
    resp = _put(site, {"settings": {"template_master_api_key": new_key}})
    assert resp.status_code == 200, resp.text
    assert _put(site, {"settings": {"stripe_secret_key": SK}},
                api_key=new_key).status_code == 200


@pytest.mark.parametrize("body", [
    {}, {"settings": {}}, {"settings": None}, {"settings": ["stripe_secret_key", SK]},
    {"settings": "stripe_secret_key"}, {"settings": {"stripe_secret_key": 12345}},
    {"settings": {"stripe_secret_key": SK, "stripe_publishable_key": None}},
], ids=["missing", "empty", "null", "list", "string", "number", "null-value"])
def test_a_malformed_settings_object_is_invalid_settings(shared_site: RunningSite,
                                                         body: Any) -> None:
    """``settings`` missing, empty, not an object, or holding a non-string: 400
    ``invalid_settings``."""
    resp = _put(shared_site, body)
    assert resp.status_code == 400, resp.text
    assert resp.json()["error"] == "invalid_settings"
    assert _states(shared_site)["stripe_secret_key"]["configured"] is False


def test_an_unknown_setting_refuses_all(shared_site: RunningSite) -> None:
    """An unknown name is 400 ``unknown_setting`` naming it (not a 404); nothing written."""
    resp = _put(shared_site, {"settings": {"stripe_secret_key": SK, "stripe_color": "red"}})
    assert resp.status_code == 400, resp.text
    assert (resp.json()["error"], resp.json()["setting"]) == ("unknown_setting", "stripe_color")
    assert _states(shared_site)["stripe_secret_key"]["configured"] is False


def test_the_fleet_api_key_with_others_is_refused(shared_site: RunningSite) -> None:
    """``template_master_api_key`` together with other settings: 400
    ``invalid_settings``; nothing written."""
    resp = _put(shared_site, {"settings": {"stripe_secret_key": SK,
                                           "template_master_api_key": "x" * 20}})
    assert resp.status_code == 400, resp.text
    assert (resp.json()["error"], resp.json()["setting"]) == (
        "invalid_settings", "template_master_api_key")
    assert _states(shared_site)["stripe_secret_key"]["configured"] is False


def test_without_the_api_key_it_is_401(shared_site: RunningSite) -> None:
    """The endpoint needs ``X-API-Key``, as the one-setting PUT."""
    resp = _put(shared_site, {"settings": PAIR}, api_key=None)
    assert (resp.status_code, resp.json()["error"]) == (401, "invalid_api_key")


def test_a_malformed_idempotency_key_is_400(shared_site: RunningSite) -> None:
    """An ``Idempotency-Key`` with a space is 400 ``invalid_idempotency_key``."""
    resp = _put(shared_site, {"settings": PAIR}, key="pair 1")
    assert (resp.status_code, resp.json()["error"]) == (400, "invalid_idempotency_key")
