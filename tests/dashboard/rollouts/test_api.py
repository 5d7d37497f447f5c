"""``stripefleet/dashboard/rollouts/api.py`` (and its services) against a FaultFleet,
with Huey in immediate mode: create, dry run, start, retry failed, roll back, refusals."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

import pytest
from flask import Flask

from stripefleet.dashboard.extensions import db
from stripefleet.testing.fleet import DEFAULT_SECRET_KEY, FaultFleet
from tests.dashboard.conftest import PK, Account, add_user, import_sites
from tests.dashboard.rollouts.conftest import Emulator, new_keys

SK = "stripe_secret_key"
#: A rollout's options for the tests of the engine's outcomes: every site in one batch,
#: no threshold, no pause, no automatic rollback (the safe rollouts' tests set them).
ALL_AT_ONCE = {"retries": 1, "batches": ["100%"], "max_fail_percentage": 100,
               "pause_for_approval": False, "rollback_on_halt": False}


def secret_key(emulator: Emulator, fleet: FaultFleet) -> str:
    """A new secret key of the emulator (the preflight accepts it), on the account of
    the key the fleet's sites hold (a rotation within one account)."""
    keys = new_keys(emulator)
    fleet.accounts[keys.secret_key] = keys.account
    fleet.accounts[DEFAULT_SECRET_KEY] = keys.account
    return keys.secret_key


@pytest.fixture
def world(make_app: Any, emulator: Emulator) -> Any:
    """Factory: (app, owner, operator, fleet) for a FaultFleet of ``behaviours``; the
    preflight asks the emulator."""
    fleets: list[FaultFleet] = []

    def build(behaviours: list[str]) -> tuple[Flask, Account, Account, FaultFleet]:
        fleet = FaultFleet(behaviours).start()
        fleets.append(fleet)
        app = make_app(TEMPLATE_MASTER_API_KEY=fleet.api_key, STRIPE_API_BASE=emulator.url)
        owner, operator = add_user(app, "owner"), add_user(app, "operator")
        import_sites(app.test_client(), owner, fleet.urls)
        return app, owner, operator, fleet

    yield build
    for fleet in fleets:
        fleet.stop()


def push(app: Flask, who: Account, value: str, setting: str = PK, **extra: Any) -> Any:
    """POST /api/rollouts and return the JSON answer (asserting 202)."""
    body = {"setting": setting, "value": value, "options": ALL_AT_ONCE, **extra}
    resp = app.test_client().post("/api/rollouts", json=body, headers=who.headers)
    assert resp.status_code == 202, resp.json
    return resp.json


def get(app: Flask, who: Account, rollout_id: int) -> Any:
    return app.test_client().get(f"/api/rollouts/{rollout_id}", headers=who.headers).json


def test_push_records_each_target_and_the_recap(world: Any) -> None:
    """Each site ends in the right state, once; the recap counts them; values reach the
    healthy sites."""
    app, _, operator, fleet = world(["ok", "ok", "unauthorized", "refuse"])
    answer = push(app, operator, "pk_test_Push1")
    rollout = get(app, operator, answer["rollout"]["id"])
    states = {t["url"]: t["state"] for t in rollout["targets"]}
    assert [states[u] for u in fleet.urls] == ["changed", "changed", "failed", "unreachable"]
    assert rollout["rollout"]["state"] == "partially_failed"
    recap = rollout["rollout"]["recap"]
    assert (recap["changed"], recap["failed"], recap["unreachable"]) == (2, 1, 1)
    assert [fleet.puts(u) for u in fleet.urls[:2]] == [1, 1]
    assert fleet.value(fleet.urls[0], PK) == "pk_test_Push1"


def test_second_push_of_same_value_is_ok(world: Any) -> None:
    """Pushing the value a site already holds leaves it ``ok`` (nothing changed)."""
    app, _, operator, fleet = world(["ok"])
    push(app, operator, "pk_test_Same1")
    again = push(app, operator, "pk_test_Same1")
    assert get(app, operator, again["rollout"]["id"])["targets"][0]["state"] == "ok"


def test_dry_run_sends_no_put_and_start_pushes(world: Any) -> None:
    """A dry run shows ``would_change``/``ok`` without any PUT; starting it pushes the
    same value to the same sites."""
    app, _, operator, fleet = world(["ok", "ok"])
    fleet.set_value(fleet.urls[1], PK, "pk_test_Dry1")
    dry = push(app, operator, "pk_test_Dry1", dry_run=True)["rollout"]
    targets = {t["url"]: t for t in get(app, operator, dry["id"])["targets"]}
    assert [targets[u]["state"] for u in fleet.urls] == ["would_change", "ok"]
    assert sum(fleet.puts(u) for u in fleet.urls) == 0
    resp = app.test_client().post(f"/api/rollouts/{dry['id']}/start", headers=operator.headers)
    assert resp.status_code == 202
    started = get(app, operator, resp.json["rollout"]["id"])
    assert started["rollout"]["kind"] == "push"
    assert sorted(t["state"] for t in started["targets"]) == ["changed", "ok"]


def test_one_rollout_per_setting(make_app: Any, emulator: Emulator) -> None:
    """While a push of a setting is unfinished a second one is 409
    ``rollout_in_progress``; a dry run or another setting is still accepted."""
    with FaultFleet(sites=1) as fleet:
        app = make_app(TEMPLATE_MASTER_API_KEY=fleet.api_key, HUEY_IMMEDIATE=False,
                       STRIPE_API_BASE=emulator.url)
        owner = add_user(app, "owner")
        client = app.test_client()
        import_sites(client, owner, fleet.urls)
        first = client.post("/api/rollouts", json={"setting": PK, "value": "pk_test_A1"},
                            headers=owner.headers)
        assert first.status_code == 202  # queued, no worker: stays pending
        second = client.post("/api/rollouts", json={"setting": PK, "value": "pk_test_B1"},
                             headers=owner.headers)
        assert second.status_code == 409
        assert second.json["error"] == "rollout_in_progress"
        assert f"#{first.json['rollout']['id']}" in second.json["message"]
        dry = client.post("/api/rollouts", json={"setting": PK, "value": "pk_test_B1",
                                                 "dry_run": True}, headers=owner.headers)
        assert dry.status_code == 202
        other = client.post("/api/rollouts",
                            json={"setting": SK, "value": new_keys(emulator).secret_key},
                            headers=owner.headers)
        assert other.status_code == 202
        halted = client.post(f"/api/rollouts/{first.json['rollout']['id']}/halt",
                             headers=owner.headers)
        assert halted.json["rollout"]["state"] == "halted"
        third = client.post("/api/rollouts", json={"setting": PK, "value": "pk_test_B1"},
                            headers=owner.headers)
        assert third.status_code == 202


def test_retry_failed_targets_only(world: Any) -> None:
    """"Retry failed" pushes again to the failed sites only, as a new rollout."""
    app, _, operator, fleet = world(["ok", "unauthorized"])
    first = push(app, operator, "pk_test_Retry1")["rollout"]
    fleet.set_behaviour(fleet.urls[1], "ok")
    resp = app.test_client().post(f"/api/rollouts/{first['id']}/retry", headers=operator.headers)
    assert resp.status_code == 202
    retried = get(app, operator, resp.json["rollout"]["id"])
    assert retried["rollout"]["kind"] == "retry" and retried["rollout"]["parent_id"] == first["id"]
    assert [(t["url"], t["state"]) for t in retried["targets"]] == [(fleet.urls[1], "changed")]
    assert fleet.puts(fleet.urls[0]) == 1
    nothing = app.test_client().post(f"/api/rollouts/{retried['rollout']['id']}/retry",
                                     headers=operator.headers)
    assert nothing.status_code == 409 and nothing.json["error"] == "nothing_to_retry"


def test_roll_back_restores_previous_publishable_keys(world: Any) -> None:
    """Rolling back a push puts back, per site, the key each had before (from the
    backup read before the push); a site that had none is skipped, not blanked."""
    app, owner, _, fleet = world(["ok", "ok", "ok"])
    fleet.set_value(fleet.urls[0], PK, "pk_test_OldA")
    fleet.set_value(fleet.urls[1], PK, "pk_test_OldB")
    pushed = push(app, owner, "pk_test_New1")["rollout"]
    resp = app.test_client().post(f"/api/rollouts/{pushed['id']}/rollback", headers=owner.headers)
    assert resp.status_code == 202
    back = get(app, owner, resp.json["rollout"]["id"])
    states = {t["url"]: (t["state"], t["error"]) for t in back["targets"]}
    assert states[fleet.urls[0]] == ("rolled_back", None)
    assert states[fleet.urls[2]] == ("skipped", "no_previous_value")
    assert [fleet.value(u, PK) for u in fleet.urls] == ["pk_test_OldA", "pk_test_OldB",
                                                        "pk_test_New1"]
    assert get(app, owner, pushed["id"])["rollout"]["state"] == "rolled_back"
    again = app.test_client().post(f"/api/rollouts/{pushed['id']}/rollback",
                                   headers=owner.headers)
    assert again.status_code == 409 and again.json["error"] == "already_rolled_back"


def test_roll_back_a_secret_uses_the_values_the_dashboard_pushed(
        world: Any, emulator: Emulator) -> None:
    """Secrets never leave a site, so rolling back a secret push restores the value the
    dashboard itself pushed before (kept encrypted), matched by fingerprint."""
    app, owner, _, fleet = world(["ok", "ok"])
    first = new_keys(emulator)
    fleet.accounts[first.secret_key] = first.account
    later = new_keys(emulator, account=first.account)
    fleet.accounts[later.secret_key] = first.account
    push(app, owner, first.secret_key, setting=SK)
    second = push(app, owner, later.secret_key, setting=SK)["rollout"]
    resp = app.test_client().post(f"/api/rollouts/{second['id']}/rollback", headers=owner.headers)
    back = get(app, owner, resp.json["rollout"]["id"])
    assert [t["state"] for t in back["targets"]] == ["rolled_back", "rolled_back"]
    assert [fleet.value(u, SK) for u in fleet.urls] == [first.secret_key] * 2


def test_secret_values_never_appear_in_clear(world: Any, emulator: Emulator) -> None:
    """A pushed secret is in no API answer, no export, no audit event and no database
    row in clear: only its mask and fingerprint."""
    app, owner, _, fleet = world(["ok"])
    secret = secret_key(emulator, fleet)
    answer = push(app, owner, secret, setting=SK)
    client = app.test_client()
    texts = [json.dumps(answer),
             client.get(f"/api/rollouts/{answer['rollout']['id']}", headers=owner.headers)
             .get_data(as_text=True),
             client.get("/api/history/export?format=json", headers=owner.headers)
             .get_data(as_text=True),
             client.get("/api/audit/export", headers=owner.headers).get_data(as_text=True),
             client.get("/api/sites", headers=owner.headers).get_data(as_text=True)]
    db_path = app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///")
    with sqlite3.connect(db_path) as conn:
        texts.append("\n".join(conn.iterdump()))
    for text in texts:
        assert secret not in text and secret[8:-4] not in text
    assert answer["rollout"]["value_masked"] == f"sk_test_...{secret[-4:]}"
    assert fleet.value(fleet.urls[0], SK) == secret


@pytest.mark.parametrize(("body", "status", "code"), [
    ({"setting": "stripe_colour", "value": "x"}, 400, "unknown_setting"),
    ({"setting": PK}, 400, "missing_value"),
    ({"setting": PK, "value": "pk_test_bad key"}, 400, "invalid_publishable_key_format"),
    ({"setting": PK, "value": "pk_test_A1", "options": {"concurrency": 0}}, 400,
     "invalid_option"),
    ({"setting": PK, "value": "pk_test_A1", "targets": {"tag": "nowhere"}}, 400, "no_targets"),
    ({"setting": PK, "value": "pk_test_A1", "options": {"colour": 1}}, 400, "invalid_option"),
])
def test_create_refuses_bad_input(world: Any, body: dict[str, Any], status: int,
                                  code: str) -> None:
    """Bad input is refused with a stable code, before any request to a site."""
    app, owner, _, fleet = world(["ok"])
    resp = app.test_client().post("/api/rollouts", json=body, headers=owner.headers)
    assert (resp.status_code, resp.json["error"]) == (status, code)
    assert fleet.total_requests() == 0


def test_targets_by_tag_and_selection(world: Any) -> None:
    """Targets may be every enabled site, the sites of a tag, or a selection."""
    app, owner, _, fleet = world(["ok", "ok", "ok"])
    client = app.test_client()
    sites = client.get("/api/sites", headers=owner.headers).json["sites"]
    by_url = {s["url"]: s["id"] for s in sites}
    client.patch(f"/api/sites/{by_url[fleet.urls[0]]}", json={"tags": ["eu"]},
                 headers=owner.headers)
    tagged = push(app, owner, "pk_test_Tag1", targets={"tag": "eu"})
    assert tagged["rollout"]["total"] == 1
    chosen = push(app, owner, "pk_test_Sel1",
                  targets={"site_ids": [by_url[fleet.urls[1]], by_url[fleet.urls[2]]]})
    assert chosen["rollout"]["total"] == 2
    assert [fleet.value(u, PK) for u in fleet.urls] == ["pk_test_Tag1", "pk_test_Sel1",
                                                        "pk_test_Sel1"]


def test_history_filters_and_exports(world: Any, emulator: Emulator) -> None:
    """History filters by setting and state, and exports CSV and JSON."""
    app, owner, _, fleet = world(["ok"])
    secret = secret_key(emulator, fleet)
    push(app, owner, "pk_test_H1")
    push(app, owner, secret, setting=SK)
    client = app.test_client()
    only_sk = client.get(f"/api/history?setting={SK}", headers=owner.headers).json["rollouts"]
    assert [r["setting"] for r in only_sk] == [SK]
    csv_text = client.get("/api/history/export?format=csv", headers=owner.headers)
    assert csv_text.mimetype == "text/csv"
    lines = csv_text.get_data(as_text=True).strip().splitlines()
    assert lines[0].startswith("id,kind,setting,value_fingerprint") and len(lines) == 3
    rows = json.loads(client.get("/api/history/export?format=json&state=succeeded",
                                 headers=owner.headers).get_data(as_text=True))
    assert {r["state"] for r in rows} == {"succeeded"} and len(rows) == 2


def test_push_on_each_database(make_app: Any, database_url: str) -> None:
    """A rollout and its rollback work on SQLite and on PostgreSQL alike."""
    with FaultFleet(sites=2) as fleet:
        app = make_app(TEMPLATE_MASTER_API_KEY=fleet.api_key,
                       SQLALCHEMY_DATABASE_URI=database_url)
        owner = add_user(app, "owner")
        import_sites(app.test_client(), owner, fleet.urls)
        push(app, owner, "pk_test_Db1")
        second = push(app, owner, "pk_test_Db2")["rollout"]
        resp = app.test_client().post(f"/api/rollouts/{second['id']}/rollback",
                                      headers=owner.headers)
        assert get(app, owner, resp.json["rollout"]["id"])["rollout"]["state"] == "succeeded"
        assert [fleet.value(u, PK) for u in fleet.urls] == ["pk_test_Db1"] * 2
        with app.app_context():
            db.engine.dispose()


def test_rotating_the_fleet_key_keeps_the_sites_reachable(world: Any) -> None:
    """After an owner pushes a new ``template_master_api_key``, the sites accept only it;
    the dashboard stores it as each site's key (encrypted) and keeps reaching them."""
    app, owner, _, fleet = world(["ok", "ok"])
    new_key = "rotated-fleet-key-0123456789abcdef"
    rotated = push(app, owner, new_key, setting="template_master_api_key")
    assert rotated["rollout"]["recap"]["changed"] == 2
    sites = app.test_client().get("/api/sites", headers=owner.headers).json["sites"]
    assert all(s["own_api_key"] for s in sites)
    after = push(app, owner, "pk_test_AfterRotation1")
    assert after["rollout"]["recap"]["changed"] == 2
    assert new_key not in json.dumps(rotated) + json.dumps(sites)


def test_targets_can_be_paged_and_filtered(world: Any) -> None:
    """GET /api/rollouts/<id> pages the targets (limit, offset) and filters them by
    state, while progress counts every target."""
    app, owner, _, _ = world(["ok", "ok", "unauthorized"])
    rollout_id = push(app, owner, "pk_test_Page1")["rollout"]["id"]
    client = app.test_client()
    page = client.get(f"/api/rollouts/{rollout_id}?limit=1&offset=1", headers=owner.headers).json
    assert len(page["targets"]) == 1 and sum(page["progress"].values()) == 3
    failed = client.get(f"/api/rollouts/{rollout_id}?state=failed", headers=owner.headers).json
    assert [t["error"] for t in failed["targets"]] == ["invalid_api_key"]
    bad = client.get(f"/api/rollouts/{rollout_id}?limit=x", headers=owner.headers)
    assert bad.status_code == 400 and bad.json["error"] == "invalid_query"
