"""The troubleshooting guide's and the original propagation script's own scripts and
commands work against a real site, unmodified but for the site URL (README, "A site").
The scripts are verbatim copies in ``guide_scripts/``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import need
from tests.site.conftest import API_KEY, RunningSite

SCRIPTS = Path(__file__).resolve().parent / "guide_scripts"
GUIDE_SITE_URLS = ("https://site1.example.fr", "https://site2.example.fr")
LOOP_SITE_URLS = ("https://site1.preview.artworksdigital.fr",
                "https://site2.preview.artworksdigital.fr")
PK = "pk_test_51HguideScriptKey0123456789"


@pytest.fixture
def guide_site(launch_site: Callable[..., RunningSite], tmp_path: Path) -> RunningSite:
    """A site on SQLite with the guide's API key (``template-master-key-2025``); the
    guide's scripts need bash, curl and jq."""
    for tool in ("bash", "curl", "jq"):
        if shutil.which(tool) is None:
            need(tool, "the guide's scripts use it (apt-get install -y curl jq)")
    return launch_site(db_url=f"sqlite:///{tmp_path / 'guide.db'}")


def _sites_file(tmp_path: Path, *urls: str) -> Path:
    path = tmp_path / "sites.txt"
    path.write_text("# the fleet\n\n" + "\n".join(urls) + "\n")
    return path


def _run(argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=60)


def test_verify_propagation_sh_fails_on_a_site_without_a_key(
    guide_site: RunningSite, tmp_path: Path
) -> None:
    """The guide's verify_propagation.sh: HTTP 404 before a push, exit 1."""
    proc = _run(["bash", str(SCRIPTS / "verify_propagation.sh"),
                 str(_sites_file(tmp_path, guide_site.url))], tmp_path)
    assert proc.returncode == 1
    assert "Failed (HTTP 404)" in proc.stdout
    assert "Failed: 1" in proc.stdout


def test_verify_propagation_sh_passes_after_a_push(guide_site: RunningSite, tmp_path: Path) -> None:
    """The guide's verify_propagation.sh finds the key (its grep needs compact JSON)."""
    guide_site.set("stripe_publishable_key", PK)
    proc = _run(["bash", str(SCRIPTS / "verify_propagation.sh"),
                 str(_sites_file(tmp_path, guide_site.url))], tmp_path)
    assert proc.returncode == 0, proc.stdout
    assert f"OK ({PK[:15]}...)" in proc.stdout
    assert "Success: 1" in proc.stdout


def test_backup_current_keys_sh_saves_each_sites_publishable_key(
    guide_site: RunningSite, tmp_path: Path
) -> None:
    """The guide's backup_current_keys.sh writes ``{site: pk}`` JSON (it needs jq)."""
    guide_site.set("stripe_publishable_key", PK)
    proc = _run(["bash", str(SCRIPTS / "backup_current_keys.sh"),
                 str(_sites_file(tmp_path, guide_site.url))], tmp_path)
    assert proc.returncode == 0, proc.stderr
    [backup] = tmp_path.glob("keys_backup_*.json")
    assert json.loads(backup.read_text()) == {guide_site.url: PK}


def test_guide_integration_script_passes(guide_site: RunningSite, tmp_path: Path) -> None:
    """The guide's "Automated Testing" script passes for a site holding a key."""
    guide_site.set("stripe_publishable_key", PK)
    script = (SCRIPTS / "guide_integration.py").read_text()
    for url in GUIDE_SITE_URLS:
        script = script.replace(url, guide_site.url)
    (tmp_path / "integration.py").write_text(script)
    proc = _run([sys.executable, "integration.py"], tmp_path)
    assert proc.returncode == 0, proc.stdout
    assert "Passed: 2/2" in proc.stdout


def _propagation_loop(site: RunningSite, tmp_path: Path, *, key: str | None) -> list[str]:
    script = (SCRIPTS / "propagation_loop.py").read_text()
    for url in LOOP_SITE_URLS:
        script = script.replace(url, site.url)
    if key is not None:
        script = script.replace("'pk_test_51Hxxxx...'", repr(key))
    (tmp_path / "push.py").write_text(script)
    proc = _run([sys.executable, "push.py"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    return [line for line in proc.stdout.splitlines() if line.strip()]


def test_propagation_loop_pushes_a_key(guide_site: RunningSite, tmp_path: Path) -> None:
    """The original propagation script's loop (its placeholder key filled in): 200
    changed, then unchanged."""
    first, second = _propagation_loop(guide_site, tmp_path, key=PK)
    assert first.startswith(f"{guide_site.url} 200 ")
    assert json.loads(first.split(" ", 2)[2])["changed"] is True
    assert json.loads(second.split(" ", 2)[2])["changed"] is False
    assert guide_site.get("/api/stripe-pk").json()["publishable_key"] == PK


def test_propagation_loop_with_its_placeholder_is_refused(
    guide_site: RunningSite, tmp_path: Path
) -> None:
    """Unmodified, the loop's placeholder ``pk_test_51Hxxxx...`` fails the key format:
    400 ``invalid_publishable_key_format``, and nothing is stored."""
    lines = _propagation_loop(guide_site, tmp_path, key=None)
    assert len(lines) == 2
    for line in lines:
        assert line.startswith(f"{guide_site.url} 400 ")
        assert json.loads(line.split(" ", 2)[2])["error"] == "invalid_publishable_key_format"
    assert guide_site.get("/api/stripe-pk").status_code == 404


# The guide's and the original script's curl commands, with only the site URL (and the
# guide's key placeholder, where the expected answer is success) replaced.
CURL_COMMANDS = [
    # the guide's "Verify API Key", placeholder key kept: its invalid_api_key case
    ('curl -X PUT "{url}/api/export/settings/stripe_publishable_key" \\\n'
     '  -H "Content-Type: application/json" \\\n  -H "X-API-Key: YOUR_MASTER_KEY" \\\n'
     "  -d '{{\"value\":\"pk_test_dummy\"}}' \\\n  -v", 401, "invalid_api_key"),
    # the same with the fleet's key
    ('curl -X PUT "{url}/api/export/settings/stripe_publishable_key" \\\n'
     '  -H "Content-Type: application/json" \\\n  -H "X-API-Key: {key}" \\\n'
     "  -d '{{\"value\":\"pk_test_dummy\"}}' \\\n  -v", 200, None),
    # the guide's "Testing with curl verbose mode"
    ('curl -v -X PUT "{url}/api/export/settings/stripe_secret_key" \\\n'
     '  -H "Content-Type: application/json" \\\n  -H "X-API-Key: {key}" \\\n'
     "  -d '{{\"value\":\"sk_test_dummy\"}}'", 200, None),
    # the original propagation script's curl: its placeholder key fails the format
    ("curl -X PUT {url}/api/export/settings/stripe_publishable_key \\\n"
     '  -H "Content-Type: application/json" \\\n  -H "X-API-Key: template-master-key-2025" \\\n'
     "  -d '{{\"value\":\"pk_test_51Hxxxx...\"}}'", 400, "invalid_publishable_key_format"),
]


@pytest.mark.parametrize(("command", "status", "error"), CURL_COMMANDS)
def test_guide_curl_commands_get_the_promised_answer(
    guide_site: RunningSite, tmp_path: Path, command: str, status: int, error: str | None
) -> None:
    """Each curl command gets the status and error code its document describes."""
    shell = command.format(url=guide_site.url, key=API_KEY) + " -s -w '\\n%{http_code}'"
    proc = _run(["bash", "-c", shell], tmp_path)
    body, code = proc.stdout.rsplit("\n", 1)
    assert int(code) == status, proc.stdout
    assert json.loads(body).get("error") == error
    assert json.loads(body)["success"] is (status == 200)


def test_stripe_pk_curl_shows_the_promised_body(
    guide_site: RunningSite, tmp_path: Path
) -> None:
    """The original propagation script's ``curl -i .../api/stripe-pk``: 200 and
    ``{"success": true, ...}``."""
    guide_site.set("stripe_publishable_key", PK)
    proc = _run(["bash", "-c", f"curl -i {guide_site.url}/api/stripe-pk"], tmp_path)
    head, body = proc.stdout.split("\n\n", 1)  # text mode: CRLF read as LF
    assert head.startswith("HTTP/1.1 200")
    assert "Content-Type: application/json" in head
    assert json.loads(body) == {"success": True, "publishable_key": PK}
