"""``stripefleet push | verify | backup | rollback | history`` through click's CliRunner."""

from __future__ import annotations

import json
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from stripefleet.cli import main
from stripefleet.testing.fleet import FaultFleet
from tests.propagation.conftest import Emulator, MakeFleet

PK = "pk_test_cli0123456789"
SK = "sk_test_cliSecret0123456789"
WH = "whsec_cliWebhook0123456789"
FAST = ["--timeout", "0.3", "--retries", "1", "--rate", "0"]

Invoke = Callable[..., Result]


def write_sites(tmp_path: Path, urls: list[str], extra: str = "") -> Path:
    path = tmp_path / "sites.txt"
    path.write_text("# the fleet\n\n" + "\n".join(urls) + "\n" + extra)
    return path


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def invoke(home: Path) -> Invoke:
    """Run the CLI in-process with a clean environment (API key of the default fleet)."""

    def run(*args: str, env: dict[str, str | None] | None = None, input: str | None = None,
            api_key: str | None = "fleet-test-api-key-0123456789") -> Result:
        base: dict[str, str | None] = {
            "TEMPLATE_MASTER_API_KEY": api_key, "STRIPEFLEET_HOME": str(home),
            "STRIPE_PUBLISHABLE_KEY": None, "STRIPE_SECRET_KEY": None,
            "STRIPE_WEBHOOK_SECRET": None}
        return CliRunner().invoke(main, list(args), env={**base, **(env or {})}, input=input)

    return run


def lines(result: Result) -> list[str]:
    return [line for line in result.stdout.splitlines() if line.strip()]


def site_lines(result: Result) -> list[str]:
    """The output's lines of one site (not batches, notes or the recap)."""
    return [line for line in lines(result) if line.startswith("http")]


def test_push_changes_every_site(make_fleet: MakeFleet, invoke: Invoke, tmp_path: Path,
                                 home: Path) -> None:
    """A push prints a line per site and the recap, exits 0 and records the run."""
    fleet = make_fleet(["ok", "ok", "ok"])
    sites = write_sites(tmp_path, fleet.urls)
    result = invoke("push", "stripe_publishable_key", "--sites-file", str(sites), "--value", PK)
    assert result.exit_code == 0, result.output
    out = lines(result)
    assert out[-1] == "ok=0 changed=3 failed=0 unreachable=0 skipped=0"
    assert sorted(line.split()[0] for line in site_lines(result)) == sorted(fleet.urls)
    assert all(fleet.value(u, "stripe_publishable_key") == PK for u in fleet.urls)
    record = json.loads((home / "history.jsonl").read_text())
    assert record["command"] == "push" and record["recap"]["changed"] == 3


def test_failures_exit_1_and_every_site_once(make_fleet: MakeFleet, invoke: Invoke,
                                              tmp_path: Path) -> None:
    """Any failed or unreachable site makes the exit code 1; each site is listed once."""
    fleet = make_fleet(["ok", "unauthorized", "refuse", "liar", "html"])
    sites = write_sites(tmp_path, fleet.urls)
    result = invoke("push", "stripe_publishable_key", "--sites-file", str(sites), "--value", PK,
                    "--batches", "100%", *FAST)
    assert result.exit_code == 1
    out = lines(result)
    assert sorted(line.split()[0] for line in site_lines(result)) == sorted(fleet.urls)
    assert out[-1] == "ok=0 changed=1 failed=3 unreachable=1 skipped=0"


@pytest.mark.parametrize(("args", "env", "stdin", "message"), [
    (["stripe_secret_key", "--value", SK], {}, None, "never on the command line"),
    (["stripe_publishable_key", "--value", "pk_test_has space"], {}, None,
     "invalid_publishable_key_format"),
    (["stripe_secret_key"], {"STRIPE_SECRET_KEY": "sk_nope_1"}, None, "invalid_secret_format"),
    (["stripe_webhook_secret"], {}, None, "No value for stripe_webhook_secret"),
    (["stripe_publishable_key", "--value", PK, "--value-stdin"], {}, PK + "\n", "not both"),
    (["stripe_secret_key", "--value-stdin"], {}, "\n", "empty line"),
    (["stripe_publishable_key", "--value", PK, "--concurrency", "0"], {}, None, "concurrency"),
    (["not_a_setting", "--value", PK], {}, None, "not_a_setting"),
])
def test_usage_errors_exit_2_before_any_request(
        make_fleet: MakeFleet, invoke: Invoke, tmp_path: Path, args: list[str],
        env: dict[str, str | None], stdin: str | None, message: str) -> None:
    """Bad usage or an invalid value exits 2 with a clear message and sends nothing."""
    fleet = make_fleet(["ok"])
    sites = write_sites(tmp_path, fleet.urls)
    result = invoke("push", *args, "--sites-file", str(sites), env=env, input=stdin)
    assert result.exit_code == 2
    assert message in result.stderr
    assert fleet.total_requests() == 0


def test_missing_api_key_exits_2(make_fleet: MakeFleet, invoke: Invoke, tmp_path: Path) -> None:
    """Without TEMPLATE_MASTER_API_KEY, nothing is sent and the exit code is 2."""
    fleet = make_fleet(["ok"])
    result = invoke("push", "stripe_publishable_key", "--sites-file",
                    str(write_sites(tmp_path, fleet.urls)), "--value", PK, api_key=None)
    assert result.exit_code == 2 and "TEMPLATE_MASTER_API_KEY" in result.stderr
    assert fleet.total_requests() == 0


def test_malformed_sites_file_names_the_line(make_fleet: MakeFleet, invoke: Invoke,
                                             tmp_path: Path) -> None:
    """A malformed URL in the sites file exits 2 naming its line; nothing is sent."""
    fleet = make_fleet(["ok"])
    sites = write_sites(tmp_path, fleet.urls, extra="ftp://nope.example\n")
    result = invoke("push", "stripe_publishable_key", "--sites-file", str(sites), "--value", PK)
    assert result.exit_code == 2 and "sites.txt:4:" in result.stderr
    assert fleet.total_requests() == 0


def test_duplicates_reported_once_and_pushed_once(make_fleet: MakeFleet, invoke: Invoke,
                                                  tmp_path: Path) -> None:
    """A URL listed twice is warned about once and pushed once."""
    fleet = make_fleet(["ok"])
    url = fleet.urls[0]
    sites = write_sites(tmp_path, [url, url + "/", url.upper().replace("HTTP", "http")])
    result = invoke("push", "stripe_publishable_key", "--sites-file", str(sites), "--value", PK)
    assert result.exit_code == 0
    assert result.stderr.count("listed again") == 2
    assert fleet.puts(url) == 1 and len(lines(result)) == 2


def test_json_lines(make_fleet: MakeFleet, invoke: Invoke, tmp_path: Path) -> None:
    """--json prints one JSON object per site, then the recap object."""
    fleet = make_fleet(["ok", "unauthorized"])
    result = invoke("push", "stripe_publishable_key", "--sites-file",
                    str(write_sites(tmp_path, fleet.urls)), "--value", PK, "--json",
                    "--batches", "100%")
    objects = [json.loads(line) for line in lines(result)]
    assert {o["url"]: o["state"] for o in objects if "state" in o} == {
        fleet.urls[0]: "changed", fleet.urls[1]: "failed"}
    assert objects[-1]["recap"]["failed"] == 1 and objects[-1]["succeeded"] is False


def test_dry_run_sends_no_put_and_records_nothing(make_fleet: MakeFleet, invoke: Invoke,
                                                  tmp_path: Path, home: Path) -> None:
    """A dry run prints ok / would change with masked values, sends no PUT, no history."""
    fleet = make_fleet(["ok", "ok"])
    fleet.set_value(fleet.urls[0], "stripe_publishable_key", PK)
    result = invoke("push", "stripe_publishable_key", "--sites-file",
                    str(write_sites(tmp_path, fleet.urls)), "--value", PK, "--dry-run")
    assert result.exit_code == 0
    by_url = {line.split()[0]: line for line in lines(result)[:-1]}
    assert " ok " in by_url[fleet.urls[0]]
    assert "would change" in by_url[fleet.urls[1]]
    assert "(not set) -> pk_test_...6789" in by_url[fleet.urls[1]]
    assert sum(fleet.puts(u) for u in fleet.urls) == 0
    assert not (home / "history.jsonl").exists()


@pytest.mark.parametrize(("setting", "value", "source"), [
    ("stripe_secret_key", SK, "env"), ("stripe_secret_key", SK, "stdin"),
    ("stripe_webhook_secret", WH, "env"), ("stripe_webhook_secret", WH, "stdin"),
])
def test_secret_never_printed(make_fleet: MakeFleet, invoke: Invoke, tmp_path: Path,
                              home: Path, emulator: Emulator, setting: str, value: str,
                              source: str) -> None:
    """A secret pushed from the environment or stdin never appears in clear in the
    output (text, verbose, JSON, dry run) nor in the history."""
    fleet = make_fleet(["ok", "unauthorized"])
    if setting == "stripe_secret_key":
        value = emulator.keys(fleet)["secret_key"]
    sites = str(write_sites(tmp_path, fleet.urls))
    env_name = "STRIPE_SECRET_KEY" if setting == "stripe_secret_key" else "STRIPE_WEBHOOK_SECRET"
    env = {env_name: value} if source == "env" else {}
    env["STRIPE_API_BASE"] = emulator.url
    extra = ["--value-stdin", "--batches", "100%"] if source == "stdin" else [
        "--batches", "100%"]
    stdin = value + "\n" if source == "stdin" else None
    outputs = []
    for flags in (["-v"], ["--json"], ["--dry-run", "-v"]):
        result = invoke("push", setting, "--sites-file", sites, *extra, *flags, env=env,
                        input=stdin)
        assert result.exit_code == 1
        outputs += [result.stdout, result.stderr]
    assert fleet.value(fleet.urls[0], setting) == value
    history = (home / "history.jsonl").read_text()
    assert all(value not in text for text in [*outputs, history])
    assert all(value[-12:] not in text for text in outputs)


@pytest.mark.parametrize(("stored", "args", "code"), [
    (PK, ["--value", PK], 0), ("pk_test_other", ["--value", PK], 1), (PK, [], 0), (None, [], 1),
])
def test_verify(make_fleet: MakeFleet, invoke: Invoke, tmp_path: Path, stored: str | None,
                args: list[str], code: int) -> None:
    """verify exits 0 when every site holds the expected value (or, with none expected,
    has the setting), 1 otherwise; it never PUTs."""
    fleet = make_fleet(["ok"])
    if stored:
        fleet.set_value(fleet.urls[0], "stripe_publishable_key", stored)
    result = invoke("verify", "stripe_publishable_key", "--sites-file",
                    str(write_sites(tmp_path, fleet.urls)), *args)
    assert result.exit_code == code
    assert fleet.puts(fleet.urls[0]) == 0


def backup_and_rollback(fleet: FaultFleet, invoke: Invoke, tmp_path: Path) -> tuple[Path, Result]:
    sites = str(write_sites(tmp_path, fleet.urls))
    invoke("push", "stripe_publishable_key", "--sites-file", sites, "--value", PK)
    for url in fleet.urls:
        fleet.set_value(url, "stripe_secret_key", SK)
    backup = tmp_path / "backup.json"
    assert invoke("backup", "--sites-file", sites, "-o", str(backup)).exit_code == 0
    pushed = invoke("push", "stripe_publishable_key", "--sites-file", sites, "--value",
                    "pk_test_newer999")
    assert pushed.exit_code == 0
    return backup, invoke("rollback", str(backup))


def test_backup_file(make_fleet: MakeFleet, invoke: Invoke, tmp_path: Path) -> None:
    """A backup is mode 0600, holds publishable keys in clear and secrets as fingerprints."""
    fleet = make_fleet(["ok", "ok"])
    backup, _ = backup_and_rollback(fleet, invoke, tmp_path)
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600
    doc = json.loads(backup.read_text())
    assert doc["created_at"].endswith("Z")
    settings = doc["sites"][0]["settings"]
    assert settings["stripe_publishable_key"]["value"] == PK
    assert "value" not in settings["stripe_secret_key"] and SK not in backup.read_text()
    assert settings["stripe_secret_key"]["fingerprint"]


def test_rollback_round_trip(make_fleet: MakeFleet, invoke: Invoke, tmp_path: Path,
                             home: Path) -> None:
    """rollback pushes the backed-up publishable keys back and names the secrets it
    cannot restore, with the reason."""
    fleet = make_fleet(["ok", "ok"])
    _, result = backup_and_rollback(fleet, invoke, tmp_path)
    assert result.exit_code == 0, result.output
    assert all(fleet.value(u, "stripe_publishable_key") == PK for u in fleet.urls)
    assert result.stdout.count("cannot restore stripe_secret_key") == 2
    assert "never the secret" in result.stdout
    assert lines(result)[-1].endswith("rolled_back=2")
    records = [json.loads(x) for x in (home / "history.jsonl").read_text().splitlines()]
    assert records[-1]["command"] == "rollback"


def test_rollback_rejects_a_non_backup(invoke: Invoke, tmp_path: Path) -> None:
    """A file that is not a stripefleet backup exits 2."""
    bogus = tmp_path / "bogus.json"
    bogus.write_text('{"https://site": "pk_test_1"}')
    result = invoke("rollback", str(bogus))
    assert result.exit_code == 2 and "not a stripefleet backup" in result.stderr


@pytest.mark.parametrize("fmt", ["table", "csv", "json"])
def test_history_formats(make_fleet: MakeFleet, invoke: Invoke, tmp_path: Path,
                         fmt: str) -> None:
    """history shows every recorded run, in each format."""
    fleet = make_fleet(["ok"])
    sites = str(write_sites(tmp_path, fleet.urls))
    invoke("push", "stripe_publishable_key", "--sites-file", sites, "--value", PK)
    invoke("push", "stripe_publishable_key", "--sites-file", sites, "--value", "pk_test_two2")
    result = invoke("history", "--format", fmt)
    assert result.exit_code == 0
    if fmt == "json":
        runs = json.loads(result.stdout)
        assert [r["recap"]["changed"] for r in runs] == [1, 1]
        assert runs[0]["operator"] and runs[0]["time"].endswith("Z")
    elif fmt == "csv":
        rows = result.stdout.strip().splitlines()
        assert rows[0].startswith("time,operator,command") and len(rows) == 3
    else:
        rows = result.stdout.strip().splitlines()
        assert rows[0].split()[:3] == ["time", "operator", "command"] and len(rows) == 3
