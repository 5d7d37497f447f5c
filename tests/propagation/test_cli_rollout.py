"""``stripefleet push`` as a safe rollout, end to end against the fault fleet (and the
emulator for the secret key's preflight): batches and threshold, rollback on halt,
preflight refusals, key pairs, the functional check, notifications."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from stripefleet.cli import main
from stripefleet.testing.fleet import FaultFleet
from tests.propagation.conftest import Emulator, MakeFleet, NotifyReceiver

PK_OLD, PK_NEW = "pk_test_rolloutOld0123", "pk_test_rolloutNew0123"
PK_LIVE = "pk_live_rolloutLive0123"
FAST = ["--timeout", "0.5", "--retries", "0", "--rate", "0"]


def write_sites(tmp_path: Path, fleet: FaultFleet, tags: dict[int, str] | None = None) -> str:
    path = tmp_path / "sites.txt"
    path.write_text("".join(f"{url} {(tags or {}).get(i, '')}\n"
                            for i, url in enumerate(fleet.urls)))
    return str(path)


def push(tmp_path: Path, *args: str, env: dict[str, str] | None = None,
         api_key: str = "fleet-test-api-key-0123456789") -> Result:
    base: dict[str, str | None] = {
        "TEMPLATE_MASTER_API_KEY": api_key, "STRIPEFLEET_HOME": str(tmp_path / "home"),
        "STRIPE_PUBLISHABLE_KEY": None, "STRIPE_SECRET_KEY": None,
        "STRIPE_WEBHOOK_SECRET": None, "STRIPE_API_BASE": None,
        "STRIPE_PREVIOUS_SECRET_KEY": None, "STRIPE_PREVIOUS_PUBLISHABLE_KEY": None,
        "STRIPEFLEET_NOTIFY_URLS": None}
    return CliRunner().invoke(main, ["push", *args, *FAST], env={**base, **(env or {})})


def objects(result: Result) -> list[dict[str, Any]]:
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def per_site(result: Result) -> dict[str, list[dict[str, Any]]]:
    """url -> the JSON lines of that site, in order."""
    out: dict[str, list[dict[str, Any]]] = {}
    for obj in objects(result):
        if "url" in obj and "state" in obj:
            out.setdefault(obj["url"], []).append(obj)
    return out


def secret_setup(fleet: FaultFleet, emulator: Emulator) -> tuple[str, str]:
    """Every site holds an old secret key of one emulator account; a new key of the same
    account is made. Returns (old, new)."""
    old = emulator.keys(fleet, account="new")
    new = emulator.keys(fleet, account=old["account"])
    for url in fleet.urls:
        fleet.set_value(url, "stripe_secret_key", old["secret_key"])
    return old["secret_key"], new["secret_key"]


def test_threshold_halts_at_the_right_batch(make_fleet: MakeFleet, tmp_path: Path) -> None:
    """Batches 2,3,5: a failure in the second batch (1 of 3 > 10%) halts the rollout; the
    third batch's five sites are skipped (halted_by_threshold), never touched."""
    fleet = make_fleet(["ok", "ok", "ok", "unauthorized", "ok"] + ["ok"] * 5)
    result = push(tmp_path, "stripe_publishable_key", "--sites-file",
                  write_sites(tmp_path, fleet), "--value", PK_NEW, "--batches", "2,3,100%",
                  "--json")
    assert result.exit_code == 1, result.output
    final = objects(result)[-1]
    assert final["recap"] | {} == {"ok": 0, "changed": 4, "would_change": 0, "failed": 1,
                                   "unreachable": 0, "skipped": 5, "rolled_back": 0}
    assert [(b["size"], b["state"]) for b in final["batches"]] == [
        (2, "done"), (3, "done"), (5, "skipped")]
    assert final["halt_reason"].startswith("batch 2 of 3: 1 of 3")
    sites = per_site(result)
    assert sorted(sites) == sorted(fleet.urls) and all(len(v) == 1 for v in sites.values())
    for url in fleet.urls[5:]:
        assert sites[url][0]["error"] == "halted_by_threshold" and fleet.puts(url) == 0


def test_threshold_reached_is_not_exceeded(make_fleet: MakeFleet, tmp_path: Path) -> None:
    """1 failure in a batch of 2 with --max-fail-percentage 50 does not halt: every
    batch runs."""
    fleet = make_fleet(["ok", "unauthorized", "ok", "ok"])
    result = push(tmp_path, "stripe_publishable_key", "--sites-file",
                  write_sites(tmp_path, fleet), "--value", PK_NEW, "--batches", "2",
                  "--max-fail-percentage", "50")
    assert result.exit_code == 1
    assert "halted" not in result.stdout
    assert result.stdout.splitlines()[-1] == "ok=0 changed=3 failed=1 unreachable=0 skipped=0"


def test_text_output_shows_batches(make_fleet: MakeFleet, tmp_path: Path) -> None:
    """The default batches for 3 sites are 1, 1, 1; each ends with its recap line."""
    fleet = make_fleet(["ok", "ok", "ok"])
    result = push(tmp_path, "stripe_publishable_key", "--sites-file",
                  write_sites(tmp_path, fleet), "--value", PK_NEW)
    assert result.exit_code == 0
    batch_lines = [line for line in result.stdout.splitlines() if line.startswith("batch")]
    assert [line.split(":")[0] for line in batch_lines] == [
        "batch 1/3 (1 site, done)", "batch 2/3 (1 site, done)", "batch 3/3 (1 site, done)"]


def test_rollback_on_halt_restores_the_secret_key(make_fleet: MakeFleet, tmp_path: Path,
                                                  emulator: Emulator) -> None:
    """A new secret key failing its functional check on the first site halts the
    rollout; with STRIPE_PREVIOUS_SECRET_KEY the site gets its old key back (rolled
    back), the others are never touched."""
    fleet = make_fleet(["ok"] * 4)
    old, new = secret_setup(fleet, emulator)
    fleet.fail_key(new, "api_key_expired")
    result = push(tmp_path, "stripe_secret_key", "--sites-file", write_sites(tmp_path, fleet),
                  "--json", env={"STRIPE_SECRET_KEY": new, "STRIPE_API_BASE": emulator.url,
                                 "STRIPE_PREVIOUS_SECRET_KEY": old})
    assert result.exit_code == 1, result.output
    final = objects(result)[-1]
    assert final["recap"]["rolled_back"] == 1 and final["recap"]["skipped"] == 3
    assert final["rollback"]["recap"]["rolled_back"] == 1
    first = fleet.urls[0]
    assert [o["state"] for o in per_site(result)[first]] == ["failed", "rolled_back"]
    assert all(fleet.value(u, "stripe_secret_key") == old for u in fleet.urls)
    assert all(fleet.puts(u) == 0 for u in fleet.urls[1:])
    assert new not in result.stdout and old not in result.stdout


def test_rollback_without_the_previous_secret(make_fleet: MakeFleet, tmp_path: Path,
                                              emulator: Emulator) -> None:
    """Without STRIPE_PREVIOUS_SECRET_KEY the changed site is left as is and named."""
    fleet = make_fleet(["ok", "ok"])
    _, new = secret_setup(fleet, emulator)
    fleet.fail_key(new)
    result = push(tmp_path, "stripe_secret_key", "--sites-file", write_sites(tmp_path, fleet),
                  env={"STRIPE_SECRET_KEY": new, "STRIPE_API_BASE": emulator.url})
    assert result.exit_code == 1
    assert f"cannot roll back {fleet.urls[0]}: " in result.stdout
    assert "STRIPE_PREVIOUS_SECRET_KEY" in result.stdout
    assert fleet.value(fleet.urls[0], "stripe_secret_key") == new
    assert result.stdout.splitlines()[-1] == "ok=0 changed=0 failed=1 unreachable=0 skipped=1"


def test_rollback_of_a_publishable_key_from_the_backup(make_fleet: MakeFleet,
                                                       tmp_path: Path) -> None:
    """--rollback-on-halt for a publishable key: the value read before the push goes
    back. (A live key beside test secret keys, let through the preflight, fails the
    functional check.)"""
    fleet = make_fleet(["ok", "ok", "ok"])
    for url in fleet.urls:
        fleet.set_value(url, "stripe_publishable_key", PK_OLD)
    result = push(tmp_path, "stripe_publishable_key", "--sites-file",
                  write_sites(tmp_path, fleet), "--value", PK_LIVE, "--allow-mode-mismatch",
                  "--rollback-on-halt", "--json")
    assert result.exit_code == 1
    assert all(fleet.value(u, "stripe_publishable_key") == PK_OLD for u in fleet.urls)
    final = objects(result)[-1]
    assert (final["recap"]["rolled_back"], final["recap"]["skipped"]) == (1, 2)
    first = per_site(result)[fleet.urls[0]]
    assert (first[0]["error"], first[1]["state"]) == ("mode_mismatch", "rolled_back")


def test_no_rollback_by_default_for_a_publishable_key(make_fleet: MakeFleet,
                                                      tmp_path: Path) -> None:
    """A publishable key's halt leaves the changed site as it is (no rollback)."""
    fleet = make_fleet(["ok", "ok"])
    result = push(tmp_path, "stripe_publishable_key", "--sites-file",
                  write_sites(tmp_path, fleet), "--value", PK_LIVE, "--allow-mode-mismatch")
    assert result.exit_code == 1 and "rollback" not in result.stdout
    assert fleet.value(fleet.urls[0], "stripe_publishable_key") == PK_LIVE


def test_dry_run_prints_each_refusal(make_fleet: MakeFleet, tmp_path: Path) -> None:
    """--dry-run with env=prod sites and a test key: each refusal per site, exit 2, no PUT."""
    fleet = make_fleet(["ok", "ok", "ok"])
    sites = write_sites(tmp_path, fleet, {0: "env=prod", 2: "env=prod"})
    result = push(tmp_path, "stripe_publishable_key", "--sites-file", sites, "--value", PK_NEW,
                  "--dry-run")
    assert result.exit_code == 2
    refused = [line.split()[1:3] for line in result.stdout.splitlines()
               if line.startswith("refused")]
    assert refused == [[fleet.urls[0], "mode_mismatch"], [fleet.urls[2], "mode_mismatch"]]
    assert "would change" in result.stdout
    assert all(fleet.puts(u) == 0 for u in fleet.urls)


def test_refusal_stops_the_push_unless_allowed(make_fleet: MakeFleet, tmp_path: Path) -> None:
    """A refused preflight pushes nothing (exit 2, the override named); with
    --allow-mode-mismatch the push goes on."""
    fleet = make_fleet(["ok", "ok"])
    sites = write_sites(tmp_path, fleet, {1: "env=test"})
    refused = push(tmp_path, "stripe_publishable_key", "--sites-file", sites, "--value",
                   "pk_live_x0123", "--allow-mode-mismatch", "--no-functional-verify")
    assert refused.exit_code == 0  # allowed: pushed, no functional check
    fleet.clear_log()
    again = push(tmp_path, "stripe_publishable_key", "--sites-file", sites, "--value",
                 "pk_live_y0123")
    assert again.exit_code == 2 and "--allow-mode-mismatch" in again.stderr
    assert sum(fleet.puts(u) for u in fleet.urls) == 0


def test_account_change_refused(make_fleet: MakeFleet, tmp_path: Path,
                                emulator: Emulator) -> None:
    """A secret key of another account than a site's last check: account_mismatch,
    unless --allow-account-change."""
    fleet = make_fleet(["ok", "ok"])
    new = emulator.keys(fleet, account="new")["secret_key"]
    fleet.set_checked_account(fleet.urls[1], "acct_someoneElse")
    env = {"STRIPE_SECRET_KEY": new, "STRIPE_API_BASE": emulator.url}
    sites = write_sites(tmp_path, fleet)
    refused = push(tmp_path, "stripe_secret_key", "--sites-file", sites, env=env)
    assert refused.exit_code == 2
    assert f"refused  {fleet.urls[1]}  account_mismatch" in refused.stdout
    assert sum(fleet.puts(u) for u in fleet.urls) == 0
    allowed = push(tmp_path, "stripe_secret_key", "--sites-file", sites,
                   "--allow-account-change", env=env)
    assert allowed.exit_code == 0, allowed.output
    assert all(fleet.value(u, "stripe_secret_key") == new for u in fleet.urls)


def test_expired_key_refused_before_any_site(make_fleet: MakeFleet, tmp_path: Path,
                                            emulator: Emulator) -> None:
    """Stripe says the key expired: exit 2 with Stripe's reason; no site is contacted."""
    fleet = make_fleet(["ok"])
    secret = emulator.keys()["secret_key"]
    emulator.control.expire_key(secret)
    result = push(tmp_path, "stripe_secret_key", "--sites-file", write_sites(tmp_path, fleet),
                  env={"STRIPE_SECRET_KEY": secret, "STRIPE_API_BASE": emulator.url})
    assert result.exit_code == 2 and "preflight refused: api_key_expired" in result.stdout
    assert fleet.total_requests() == 0 and secret not in result.stdout


def test_pair_push(make_fleet: MakeFleet, tmp_path: Path, emulator: Emulator) -> None:
    """push --pair: one PUT /api/export/settings a site with both keys, checked."""
    fleet = make_fleet(["ok", "ok"])
    pair = emulator.keys(fleet, account="new")
    result = push(tmp_path, "--pair", "--sites-file", write_sites(tmp_path, fleet), "--json",
                  env={"STRIPE_PUBLISHABLE_KEY": pair["publishable_key"],
                       "STRIPE_SECRET_KEY": pair["secret_key"], "STRIPE_API_BASE": emulator.url})
    assert result.exit_code == 0, result.output
    lines = [o for v in per_site(result).values() for o in v]
    assert {(o["setting"], o["state"], o["functional"]) for o in lines} == {
        ("key_pair", "changed", "ok")}
    for url in fleet.urls:
        assert [r.path for r in fleet.requests(url, "PUT")] == ["/api/export/settings"]
        assert fleet.value(url, "stripe_secret_key") == pair["secret_key"]
    assert pair["secret_key"] not in result.stdout


def test_pair_needs_both_keys(make_fleet: MakeFleet, tmp_path: Path) -> None:
    """push --pair without STRIPE_SECRET_KEY exits 2, nothing sent."""
    fleet = make_fleet(["ok"])
    result = push(tmp_path, "--pair", "--sites-file", write_sites(tmp_path, fleet),
                  env={"STRIPE_PUBLISHABLE_KEY": PK_NEW})
    assert result.exit_code == 2 and "STRIPE_SECRET_KEY" in result.stderr
    assert fleet.total_requests() == 0


def test_functional_check_unavailable_is_shown(make_fleet: MakeFleet, tmp_path: Path) -> None:
    """A site without the functional check is pushed (exit 0) and marked as such."""
    fleet = make_fleet(["old_site"])
    result = push(tmp_path, "stripe_publishable_key", "--sites-file",
                  write_sites(tmp_path, fleet), "--value", PK_NEW)
    assert result.exit_code == 0
    assert "functional_check_unavailable" in result.stdout.splitlines()[0]
    assert "functional_check_unavailable=1" in result.stdout


def test_verify_functional(make_fleet: MakeFleet, tmp_path: Path) -> None:
    """verify --functional prints account, mode and last webhook per site; a failing
    check exits 1; it never PUTs."""
    fleet = make_fleet(["ok", "stripe_auth_failed"])
    runner = CliRunner()
    result = runner.invoke(main, ["verify", "--functional", "--sites-file",
                                  write_sites(tmp_path, fleet), *FAST],
                           env={"TEMPLATE_MASTER_API_KEY": fleet.api_key,
                                "STRIPEFLEET_HOME": str(tmp_path / "home")})
    assert result.exit_code == 1
    by_url = {line.split()[0]: line for line in result.stdout.splitlines()[:-1]}
    assert " test " in by_url[fleet.urls[0]] and "last webhook never" in by_url[fleet.urls[0]]
    assert "acct_" in by_url[fleet.urls[0]]
    assert "stripe_auth_failed" in by_url[fleet.urls[1]]
    assert sum(fleet.puts(u) for u in fleet.urls) == 0


def test_notification_on_halt_holds_no_secret(make_fleet: MakeFleet, tmp_path: Path,
                                              emulator: Emulator,
                                              receiver: NotifyReceiver) -> None:
    """A halted, rolled-back push sends one notification (--notify and
    STRIPEFLEET_NOTIFY_URLS) naming the sites and counts, masked values only."""
    fleet = make_fleet(["ok", "ok"])
    old, new = secret_setup(fleet, emulator)
    fleet.fail_key(new, "stripe_auth_failed")
    result = push(tmp_path, "stripe_secret_key", "--sites-file", write_sites(tmp_path, fleet),
                  "--notify", receiver.url,
                  env={"STRIPE_SECRET_KEY": new, "STRIPE_API_BASE": emulator.url,
                       "STRIPE_PREVIOUS_SECRET_KEY": old,
                       "STRIPEFLEET_NOTIFY_URLS": receiver.url})
    assert result.exit_code == 1
    assert len(receiver.received) == 2  # the flag's URL and the variable's
    message = receiver.received[0]
    assert "halted and rolled back" in message["title"]
    assert fleet.urls[0] in message["message"] and "rolled_back=1" in message["message"]
    assert new not in json.dumps(message) and old not in json.dumps(message)
    assert "sk_test_..." in message["message"]


def test_no_notification_when_all_succeed(make_fleet: MakeFleet, tmp_path: Path,
                                          receiver: NotifyReceiver) -> None:
    """A push where every site succeeds notifies nobody."""
    fleet = make_fleet(["ok", "ok"])
    result = push(tmp_path, "stripe_publishable_key", "--sites-file",
                  write_sites(tmp_path, fleet), "--value", PK_NEW, "--notify", receiver.url)
    assert result.exit_code == 0 and receiver.received == []


def test_history_records_batches_and_rollback(make_fleet: MakeFleet, tmp_path: Path) -> None:
    """The history line carries the batches, the halt reason and the threshold."""
    fleet = make_fleet(["unauthorized", "ok"])
    push(tmp_path, "stripe_publishable_key", "--sites-file", write_sites(tmp_path, fleet),
         "--value", PK_NEW)
    record = json.loads((tmp_path / "home" / "history.jsonl").read_text())
    assert [b["state"] for b in record["batches"]] == ["done", "skipped"]
    assert record["halt_reason"] and record["max_fail_percentage"] == 10
    assert record["recap"]["skipped"] == 1 and record["functional_verify"] is True


@pytest.mark.parametrize("spec", ["0", "abc", "1,,2"])
def test_bad_batches_exit_2(make_fleet: MakeFleet, tmp_path: Path, spec: str) -> None:
    """A malformed --batches exits 2 before any request."""
    fleet = make_fleet(["ok"])
    result = push(tmp_path, "stripe_publishable_key", "--sites-file",
                  write_sites(tmp_path, fleet), "--value", PK_NEW, "--batches", spec)
    assert result.exit_code == 2 and "--batches" in result.stderr
    assert fleet.total_requests() == 0


def test_refused_key_in_json(make_fleet: MakeFleet, tmp_path: Path,
                             emulator: Emulator) -> None:
    """With --json, Stripe's refusal is one JSON object with its code."""
    fleet = make_fleet(["ok"])
    result = push(tmp_path, "stripe_secret_key", "--sites-file", write_sites(tmp_path, fleet),
                  "--json", env={"STRIPE_SECRET_KEY": "sk_test_unknownToStripe0123",
                                 "STRIPE_API_BASE": emulator.url})
    assert result.exit_code == 2
    assert objects(result)[0]["preflight_refused"]["code"] == "stripe_auth_failed"


def test_pair_rollback_keeps_the_new_webhook_secret(make_fleet: MakeFleet, tmp_path: Path,
                                                    emulator: Emulator) -> None:
    """A halted pair rollout restores both keys (the publishable key read before the
    push, the secret key from STRIPE_PREVIOUS_SECRET_KEY) and says the webhook secret
    stays the new one."""
    fleet = make_fleet(["ok", "ok"])
    old, _ = secret_setup(fleet, emulator)
    for url in fleet.urls:
        fleet.set_value(url, "stripe_publishable_key", PK_OLD)
    pair = emulator.keys(fleet, account="new")
    fleet.fail_key(pair["secret_key"], "api_key_expired")
    result = push(tmp_path, "--pair", "--sites-file", write_sites(tmp_path, fleet),
                  "--allow-account-change",
                  env={"STRIPE_PUBLISHABLE_KEY": pair["publishable_key"],
                       "STRIPE_SECRET_KEY": pair["secret_key"],
                       "STRIPE_WEBHOOK_SECRET": "whsec_newPairSecret1",
                       "STRIPE_PREVIOUS_SECRET_KEY": old, "STRIPE_API_BASE": emulator.url})
    assert result.exit_code == 1, result.output
    first = fleet.urls[0]
    assert fleet.value(first, "stripe_secret_key") == old
    assert fleet.value(first, "stripe_publishable_key") == PK_OLD
    assert fleet.value(first, "stripe_webhook_secret") == "whsec_newPairSecret1"
    assert "webhook signing secret stays the new one" in result.stdout
    assert result.stdout.splitlines()[-1].endswith("skipped=1 rolled_back=1")
