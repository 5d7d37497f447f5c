"""Safe rollouts (README, "The dashboard"): canary batches with a failure threshold, the
pause for approval after the first batch, the automatic rollback on halt, key pairs and
the preflight, against a FaultFleet (Huey in immediate mode) and the Stripe emulator."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from stripefleet.dashboard.audit.models import AuditEvent
from stripefleet.dashboard.extensions import db
from stripefleet.dashboard.rollouts.models import Rollout
from stripefleet.dashboard.sites.models import Site
from stripefleet.testing.fleet import DEFAULT_SECRET_KEY, FaultFleet
from tests.dashboard.conftest import PK, Account, add_user, import_sites
from tests.dashboard.rollouts.conftest import Emulator, Keys, expire_key, new_keys

SK = "stripe_secret_key"
PAIR = "key_pair"


@pytest.fixture
def world(make_app: Any, emulator: Emulator) -> Any:
    """Factory: (app, owner, operator, fleet, urls in rollout order) for a FaultFleet of
    ``sites`` healthy sites; the preflight asks the emulator."""
    fleets: list[FaultFleet] = []

    def build(sites: int, **config: Any) -> tuple[Flask, Account, Account, FaultFleet,
                                                  list[str]]:
        fleet = FaultFleet(sites=sites).start()
        fleets.append(fleet)
        app = make_app(TEMPLATE_MASTER_API_KEY=fleet.api_key, STRIPE_API_BASE=emulator.url,
                       **config)
        owner, operator = add_user(app, "owner"), add_user(app, "operator")
        import_sites(app.test_client(), owner, fleet.urls)
        # The fleet's order in a rollout: sites by name (host:port), as list_sites.
        order = sorted(fleet.urls, key=lambda u: u.split("//", 1)[1])
        return app, owner, operator, fleet, order

    yield build
    for fleet in fleets:
        fleet.stop()


def create(app: Flask, who: Account, setting: str, value: Any, **options: Any) -> Any:
    """POST /api/rollouts; the response."""
    return app.test_client().post("/api/rollouts", json={
        "setting": setting, "value": value, "options": {"retries": 0, **options}},
        headers=who.headers)


def start(app: Flask, who: Account, setting: str, value: Any, **options: Any) -> int:
    """POST /api/rollouts (asserting 202); the rollout id."""
    resp = create(app, who, setting, value, **options)
    assert resp.status_code == 202, resp.json
    return int(resp.json["rollout"]["id"])


def get(app: Flask, who: Account, rollout_id: int) -> Any:
    return app.test_client().get(f"/api/rollouts/{rollout_id}", headers=who.headers).json


def on_account(emulator: Emulator, fleet: FaultFleet, **params: str) -> Keys:
    """New emulator keys; the fleet's sites (holding the fleet's default key) are on
    their account, and the functional check answers it for the new key too."""
    keys = new_keys(emulator, **params)
    fleet.accounts[keys.secret_key] = keys.account
    fleet.accounts[DEFAULT_SECRET_KEY] = keys.account
    return keys


def rollouts_count(app: Flask) -> int:
    with app.app_context():
        return int(db.session.scalar(select(func.count()).select_from(Rollout)) or 0)


def test_threshold_halts_after_the_first_batch(world: Any) -> None:
    """The canary (batch 1 of 1 site) fails beyond the publishable key's 10%: the
    rollout halts with its reason, the other sites are skipped with
    ``halted_by_threshold`` and receive no PUT."""
    app, _, operator, fleet, order = world(4)
    fleet.set_behaviour(order[0], "unauthorized")
    rollout_id = start(app, operator, PK, "pk_test_Canary1")
    answer = get(app, operator, rollout_id)
    rollout = answer["rollout"]
    assert rollout["state"] == "halted"
    assert rollout["halt_reason"] == "threshold exceeded in batch 1: 1 of 1 failed (max 10%)"
    states = {t["url"]: (t["state"], t["error"]) for t in answer["targets"]}
    assert states[order[0]] == ("failed", "invalid_api_key")
    assert [states[u] for u in order[1:]] == [("skipped", "halted_by_threshold")] * 3
    assert [fleet.puts(u) for u in order[1:]] == [0, 0, 0]
    assert [b["size"] for b in rollout["batches"]] == [1, 1, 2]


def test_threshold_halts_at_the_batch_that_exceeds_it(world: Any) -> None:
    """Batches [1, 1, rest] with max 0%: the first passes, the second fails, the third
    is never pushed; the counts are per batch."""
    app, _, operator, fleet, order = world(4)
    fleet.set_behaviour(order[1], "unauthorized")
    rollout_id = start(app, operator, PK, "pk_test_Second1", batches=[1, 1, "100%"],
                       max_fail_percentage=0)
    rollout = get(app, operator, rollout_id)["rollout"]
    assert rollout["state"] == "halted"
    assert rollout["halt_reason"] == "threshold exceeded in batch 2: 1 of 1 failed (max 0%)"
    assert [b["counts"] for b in rollout["batches"]] == [
        {"changed": 1}, {"failed": 1}, {"skipped": 2}]
    assert fleet.puts(order[0]) == 1
    assert [fleet.puts(u) for u in order[2:]] == [0, 0]


def test_below_the_threshold_the_rollout_goes_on(world: Any) -> None:
    """One failure in a batch of 4 with max 30% does not halt: every batch runs and the
    rollout ends ``partially_failed``."""
    app, _, operator, fleet, order = world(5)
    fleet.set_behaviour(order[3], "unauthorized")
    rollout_id = start(app, operator, PK, "pk_test_Below1", batches=[1, "100%"],
                       max_fail_percentage=30)
    rollout = get(app, operator, rollout_id)["rollout"]
    assert rollout["state"] == "partially_failed" and rollout["halt_reason"] is None
    assert rollout["recap"]["changed"] == 4 and rollout["recap"]["failed"] == 1


def test_every_target_once_in_the_recap(world: Any) -> None:
    """Whatever the batches and the halt, the recap and the target list count each site
    exactly once."""
    app, _, operator, fleet, order = world(6)
    fleet.set_behaviour(order[2], "unauthorized")
    rollout_id = start(app, operator, PK, "pk_test_Once1", batches=[2, 2, 2],
                       max_fail_percentage=0)
    answer = get(app, operator, rollout_id)
    assert sorted(t["url"] for t in answer["targets"]) == sorted(fleet.urls)
    assert sum(answer["rollout"]["recap"].values()) == 6
    assert sum(sum(b["counts"].values()) for b in answer["rollout"]["batches"]) == 6
    assert answer["rollout"]["recap"]["skipped"] == 2


def test_pause_for_approval_then_approve_continues(world: Any) -> None:
    """With ``pause_for_approval`` the rollout waits after its first batch, with no other
    site pushed; ``approve`` (an operator, for the publishable key) pushes the rest."""
    app, _, operator, fleet, order = world(3)
    rollout_id = start(app, operator, PK, "pk_test_Pause1", pause_for_approval=True)
    waiting = get(app, operator, rollout_id)["rollout"]
    assert waiting["state"] == "awaiting_approval" and waiting["current_batch"] == 1
    assert [fleet.puts(u) for u in order] == [1, 0, 0]
    resp = app.test_client().post(f"/api/rollouts/{rollout_id}/approve",
                                  headers=operator.headers)
    assert resp.status_code == 202, resp.json
    done = get(app, operator, rollout_id)["rollout"]
    assert done["state"] == "succeeded" and done["recap"]["changed"] == 3
    assert [fleet.puts(u) for u in order] == [1, 1, 1]
    with app.app_context():
        actions = list(db.session.scalars(select(AuditEvent.action)))
    assert "rollout.approve" in actions and "rollout.awaiting_approval" in actions


def test_approve_refuses_a_rollout_not_waiting(world: Any) -> None:
    """Approving a finished rollout is 409 ``not_awaiting_approval``."""
    app, _, operator, _, _ = world(1)
    rollout_id = start(app, operator, PK, "pk_test_NoWait1")
    resp = app.test_client().post(f"/api/rollouts/{rollout_id}/approve",
                                  headers=operator.headers)
    assert resp.status_code == 409 and resp.json["error"] == "not_awaiting_approval"


def test_secret_key_needs_the_owner_to_approve(world: Any, emulator: Emulator) -> None:
    """A secret key rollout pauses after its canary by default; an operator may not
    approve it (403), the owner may."""
    app, owner, operator, fleet, _ = world(2)
    keys = on_account(emulator, fleet)
    rollout_id = start(app, owner, SK, keys.secret_key)
    assert get(app, owner, rollout_id)["rollout"]["state"] == "awaiting_approval"
    denied = app.test_client().post(f"/api/rollouts/{rollout_id}/approve",
                                    headers=operator.headers)
    assert denied.status_code == 403
    approved = app.test_client().post(f"/api/rollouts/{rollout_id}/approve",
                                      headers=owner.headers)
    assert approved.status_code == 202
    assert get(app, owner, rollout_id)["rollout"]["state"] == "succeeded"


def test_halt_while_awaiting_approval_rolls_the_canary_back(world: Any) -> None:
    """Halting a rollout that waits for approval, with ``rollback_on_halt``, restores the
    canary's previous value at once: the rollback rollout is created and run, the
    canary's target ends ``rolled_back`` and the others were never pushed."""
    app, owner, _, fleet, order = world(3)
    for url in order:
        fleet.set_value(url, PK, "pk_test_Before1")
    rollout_id = start(app, owner, PK, "pk_test_Canary2", pause_for_approval=True,
                       rollback_on_halt=True)
    resp = app.test_client().post(f"/api/rollouts/{rollout_id}/halt", headers=owner.headers)
    assert resp.status_code == 200, resp.json
    answer = get(app, owner, rollout_id)
    rollback_id = answer["rollout"]["rollback_rollout_id"]
    assert rollback_id is not None
    assert get(app, owner, rollback_id)["rollout"]["state"] == "succeeded"
    assert answer["rollout"]["state"] == "rolled_back"
    states = {t["url"]: (t["state"], t["error"]) for t in answer["targets"]}
    assert states[order[0]] == ("rolled_back", None)
    assert [states[u] for u in order[1:]] == [("skipped", "halted")] * 2
    assert [fleet.value(u, PK) for u in order] == ["pk_test_Before1"] * 3
    assert [fleet.puts(u) for u in order] == [2, 0, 0]


def test_threshold_halt_rolls_back_what_it_changed(world: Any) -> None:
    """A halt by the threshold with ``rollback_on_halt`` rolls back the targets the
    rollout changed in earlier batches; a site whose previous value is unknown is named
    in the rollback's recap (``no_previous_value``), never blanked."""
    app, _, operator, fleet, order = world(4)
    fleet.set_value(order[0], PK, "pk_test_Prev0")  # order[1] had no key before
    fleet.set_behaviour(order[2], "unauthorized")
    rollout_id = start(app, operator, PK, "pk_test_Bad1", batches=[2, 1, "100%"],
                       max_fail_percentage=0, rollback_on_halt=True)
    answer = get(app, operator, rollout_id)
    assert answer["rollout"]["halt_reason"].startswith("threshold exceeded in batch 2")
    back = get(app, operator, answer["rollout"]["rollback_rollout_id"])
    states = {t["url"]: (t["state"], t["error"]) for t in back["targets"]}
    assert states == {order[0]: ("rolled_back", None), order[1]: ("skipped", "no_previous_value")}
    assert fleet.value(order[0], PK) == "pk_test_Prev0"
    assert fleet.value(order[1], PK) == "pk_test_Bad1"
    parent = {t["url"]: t["state"] for t in answer["targets"]}
    assert parent[order[0]] == "rolled_back" and parent[order[1]] == "changed"
    assert sum(answer["rollout"]["recap"].values()) == 4


def test_unknown_secret_key_creates_nothing(world: Any) -> None:
    """A secret key Stripe does not know is 400 ``stripe_auth_failed``, and nothing is
    created nor sent to any site."""
    app, owner, _, fleet, _ = world(2)
    bogus = create(app, owner, SK, "sk_test_NotAKeyOfThisStripe0123456789")
    assert (bogus.status_code, bogus.json["error"]) == (400, "stripe_auth_failed")
    assert rollouts_count(app) == 0 and fleet.total_requests() == 0
    assert "NotAKeyOfThisStripe" not in bogus.get_data(as_text=True)


def test_expired_secret_key_creates_nothing(world: Any, emulator: Emulator) -> None:
    """An expired secret key is 400 ``api_key_expired``; nothing is created."""
    app, owner, _, fleet, _ = world(2)
    keys = new_keys(emulator)
    expire_key(emulator, keys.secret_key)
    expired = create(app, owner, SK, keys.secret_key)
    assert (expired.status_code, expired.json["error"]) == (400, "api_key_expired")
    assert rollouts_count(app) == 0 and fleet.total_requests() == 0
    assert keys.secret_key not in expired.get_data(as_text=True)


def test_live_key_to_test_sites_is_refused_with_refusals(world: Any,
                                                         emulator: Emulator) -> None:
    """A live key to ``env=test`` sites is 400 ``mode_mismatch`` listing each refused
    site; nothing is created."""
    app, owner, _, fleet, order = world(2)
    live = new_keys(emulator, mode="live")
    resp = create(app, owner, PK, live.publishable_key)
    assert resp.status_code == 400 and resp.json["error"] == "mode_mismatch"
    assert sorted(r["url"] for r in resp.json["refusals"]) == sorted(order)
    assert {r["code"] for r in resp.json["refusals"]} == {"mode_mismatch"}
    assert rollouts_count(app) == 0 and fleet.total_requests() == 0


def test_secret_key_of_another_account_is_refused(world: Any, emulator: Emulator) -> None:
    """A secret key of another account than the one a site's last functional check
    found is 400 ``account_mismatch``; the owner may override it
    (``allow_account_change``, audited), an operator may not ask to."""
    app, owner, operator, fleet, order = world(1)
    with app.app_context():
        site = db.session.scalar(select(Site))
        site.stripe_account_id = "acct_TheShopsOwnAccount"
        db.session.commit()
    other = new_keys(emulator, account="new")
    fleet.accounts[other.secret_key] = other.account
    refused = create(app, owner, SK, other.secret_key)
    assert refused.status_code == 400 and refused.json["error"] == "account_mismatch"
    assert refused.json["refusals"][0]["url"] == order[0]
    assert rollouts_count(app) == 0
    denied = create(app, operator, PK, "pk_test_X1", allow_account_change=True)
    assert denied.status_code == 403
    allowed = start(app, owner, SK, other.secret_key, allow_account_change=True)
    rollout = get(app, owner, allowed)["rollout"]
    assert rollout["preflight"] == {"account_id": other.account, "livemode": False}
    assert rollout["state"] == "succeeded"
    with app.app_context():
        overrides = list(db.session.scalars(select(AuditEvent.details).where(
            AuditEvent.action == "rollout.preflight_override")))
    assert overrides == [{"options": ["allow_account_change"], "setting": SK}]


def test_dry_run_records_each_refusal_without_pushing(world: Any, emulator: Emulator) -> None:
    """A dry run of a live key runs the whole preflight and records each refused site
    (``failed`` with the refusal's code); no site receives a PUT."""
    app, owner, _, fleet, order = world(2)
    client = app.test_client()
    sites = client.get("/api/sites", headers=owner.headers).json["sites"]
    prod = next(s["id"] for s in sites if s["url"] == order[1])
    client.patch(f"/api/sites/{prod}", json={"environment": "prod"}, headers=owner.headers)
    live = new_keys(emulator, mode="live")
    resp = client.post("/api/rollouts", json={"setting": PK, "value": live.publishable_key,
                                              "dry_run": True}, headers=owner.headers)
    assert resp.status_code == 202, resp.json
    answer = get(app, owner, resp.json["rollout"]["id"])
    states = {t["url"]: (t["state"], t["error"]) for t in answer["targets"]}
    assert states[order[0]] == ("failed", "mode_mismatch")
    assert states[order[1]] == ("would_change", None)
    assert sum(fleet.puts(u) for u in order) == 0


def test_functional_check_failure_fails_the_target(world: Any, emulator: Emulator) -> None:
    """A secret key the site saves but cannot use (its functional check answers
    ``api_key_expired``) fails its target, halts the rollout at the canary, and the
    rollback restores the key the dashboard pushed before."""
    app, owner, _, fleet, order = world(2)
    first = on_account(emulator, fleet)
    start(app, owner, SK, first.secret_key, batches=["100%"], pause_for_approval=False)
    second = new_keys(emulator, account=first.account)
    fleet.accounts[second.secret_key] = first.account
    fleet.key_errors[second.secret_key] = "api_key_expired"
    rollout_id = start(app, owner, SK, second.secret_key)
    answer = get(app, owner, rollout_id)
    canary = next(t for t in answer["targets"] if t["url"] == order[0])
    assert (canary["state"], canary["error"]) == ("rolled_back", "api_key_expired")
    assert answer["rollout"]["halt_reason"].startswith("threshold exceeded in batch 1")
    assert [fleet.value(u, SK) for u in order] == [first.secret_key] * 2
    with app.app_context():
        site = db.session.scalar(select(Site).where(Site.url == order[0]))
        assert site.functional_state == "ok"  # the rollback's check: the old key works


def test_key_pair_rollout_and_its_rollback_restore_both_keys(world: Any,
                                                            emulator: Emulator) -> None:
    """A key pair pushes the publishable and the secret key in one request per site; its
    rollback restores both (the publishable key from the backup, the secret key from the
    values the dashboard pushed before)."""
    app, owner, _, fleet, order = world(2)
    old = on_account(emulator, fleet)
    pair_old = {"stripe_publishable_key": old.publishable_key,
                "stripe_secret_key": old.secret_key}
    start(app, owner, PAIR, pair_old, batches=["100%"], pause_for_approval=False)
    new = new_keys(emulator, account=old.account)
    fleet.accounts[new.secret_key] = old.account
    pair_new = {"stripe_publishable_key": new.publishable_key,
                "stripe_secret_key": new.secret_key}
    rollout_id = start(app, owner, PAIR, pair_new, pause_for_approval=False)
    answer = get(app, owner, rollout_id)
    assert answer["rollout"]["state"] == "succeeded"
    assert answer["rollout"]["setting"] == PAIR
    assert [fleet.value(u, SK) for u in order] == [new.secret_key] * 2
    assert [fleet.value(u, PK) for u in order] == [new.publishable_key] * 2
    resp = app.test_client().post(f"/api/rollouts/{rollout_id}/rollback",
                                  headers=owner.headers)
    assert resp.status_code == 202, resp.json
    assert get(app, owner, resp.json["rollout"]["id"])["rollout"]["state"] == "succeeded"
    assert [fleet.value(u, SK) for u in order] == [old.secret_key] * 2
    assert [fleet.value(u, PK) for u in order] == [old.publishable_key] * 2
    text = app.test_client().get(f"/api/rollouts/{rollout_id}",
                                 headers=owner.headers).get_data(as_text=True)
    assert new.secret_key not in text and old.secret_key not in text


@pytest.mark.parametrize(("value", "code"), [
    ({"stripe_publishable_key": "pk_test_OnlyOne1"}, "missing_value"),
    ("pk_test_NotAnObject1", "missing_value"),
    ({"stripe_publishable_key": "pk_live_Mixed1", "stripe_secret_key": "sk_test_Mixed1"},
     "pair_mode_mismatch"),
    ({"stripe_publishable_key": "pk_test_A1", "stripe_secret_key": "sk_test_A1",
      "template_master_api_key": "x" * 32}, "unknown_setting"),
])
def test_key_pair_values_are_validated(world: Any, value: Any, code: str) -> None:
    """A key pair's value is an object holding both keys, of one mode, nothing else."""
    app, owner, _, fleet, _ = world(1)
    resp = create(app, owner, PAIR, value)
    assert (resp.status_code, resp.json["error"]) == (400, code)
    assert fleet.total_requests() == 0


def test_key_pair_needs_an_owner(world: Any, emulator: Emulator) -> None:
    """An operator may not start a key pair rollout (403)."""
    app, _, operator, fleet, _ = world(1)
    keys = on_account(emulator, fleet)
    resp = create(app, operator, PAIR, {"stripe_publishable_key": keys.publishable_key,
                                        "stripe_secret_key": keys.secret_key})
    assert resp.status_code == 403 and rollouts_count(app) == 0


@pytest.mark.parametrize(("options", "fragment"), [
    ({"batches": ["0%"]}, "batches"),
    ({"batches": "one"}, "batches"),
    ({"max_fail_percentage": 101}, "max_fail_percentage"),
    ({"pause_for_approval": "maybe"}, "pause_for_approval"),
])
def test_bad_safety_options_are_refused(world: Any, options: dict[str, Any],
                                        fragment: str) -> None:
    """Malformed safety options are 400 ``invalid_option`` naming the option."""
    app, owner, _, _, _ = world(2)
    resp = create(app, owner, PK, "pk_test_Opt1", **options)
    assert resp.status_code == 400 and resp.json["error"] == "invalid_option"
    assert fragment in resp.json["message"]


def test_defaults_of_a_publishable_key_and_a_secret_key(world: Any,
                                                        emulator: Emulator) -> None:
    """Defaults: the publishable key runs [1, 10%, 100%] with 10% and no pause; a secret
    key 0%, a pause and a rollback on halt; the functional check is on."""
    app, owner, _, fleet, _ = world(3)
    keys = on_account(emulator, fleet)
    pk_id = start(app, owner, PK, "pk_test_Defaults1")
    sk_id = start(app, owner, SK, keys.secret_key)
    pk_options = get(app, owner, pk_id)["rollout"]["options"]
    sk_options = get(app, owner, sk_id)["rollout"]["options"]
    assert (pk_options["batches"], pk_options["max_fail_percentage"],
            pk_options["pause_for_approval"], pk_options["rollback_on_halt"],
            pk_options["functional_verify"]) == ([1, "10%", "100%"], 10.0, False, False, True)
    assert (sk_options["max_fail_percentage"], sk_options["pause_for_approval"],
            sk_options["rollback_on_halt"]) == (0.0, True, True)


def test_key_pair_dry_run_reads_only(world: Any, emulator: Emulator) -> None:
    """A key pair dry run runs the preflight and reads each site: ``would_change``, no
    PUT, no value changed."""
    app, owner, _, fleet, order = world(2)
    keys = on_account(emulator, fleet)
    resp = app.test_client().post("/api/rollouts", json={
        "setting": PAIR, "dry_run": True,
        "value": {"stripe_publishable_key": keys.publishable_key,
                  "stripe_secret_key": keys.secret_key}}, headers=owner.headers)
    assert resp.status_code == 202, resp.json
    answer = get(app, owner, resp.json["rollout"]["id"])
    assert [t["state"] for t in answer["targets"]] == ["would_change"] * 2
    assert sum(fleet.puts(u) for u in order) == 0
    assert [fleet.value(u, SK) for u in order] == [DEFAULT_SECRET_KEY] * 2


def test_batches_and_threshold_on_each_database(make_app: Any, database_url: str) -> None:
    """Batches, the threshold's halt and the counts per batch work on SQLite and on
    PostgreSQL alike."""
    with FaultFleet(sites=3) as fleet:
        app = make_app(TEMPLATE_MASTER_API_KEY=fleet.api_key,
                       SQLALCHEMY_DATABASE_URI=database_url)
        operator = add_user(app, "operator")
        import_sites(app.test_client(), add_user(app, "owner"), fleet.urls)
        order = sorted(fleet.urls, key=lambda u: u.split("//", 1)[1])
        fleet.set_behaviour(order[1], "unauthorized")
        rollout_id = start(app, operator, PK, "pk_test_Dbs1", batches=[1, 1, 1],
                           max_fail_percentage=0)
        rollout = get(app, operator, rollout_id)["rollout"]
        with app.app_context():
            db.engine.dispose()
    assert rollout["halt_reason"] == "threshold exceeded in batch 2: 1 of 1 failed (max 0%)"
    assert [b["counts"] for b in rollout["batches"]] == [
        {"changed": 1}, {"failed": 1}, {"skipped": 1}]
    assert rollout["current_batch"] is None and rollout["state"] == "halted"
