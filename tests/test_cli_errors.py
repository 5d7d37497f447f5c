"""User errors end in one sentence and an exit code, never a Python traceback.

Each test runs the real ``stripefleet`` command as a subprocess with bad input (a port
already in use, an unwritable backup path, an unreachable service, a file that is not
what it should be) and reads what an operator would see: the exit code, the sentence,
no ``Traceback``, and nothing written or started that should not be. ``--debug`` brings
the traceback back.
"""

from __future__ import annotations

import importlib
import os
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from stripefleet.cli import USER_ERRORS
from stripefleet.common.processes import stripefleet_argv

API_KEY = "fleet-test-api-key-0123456789"
SECRET_KEY = "sk_test_CliErrorsNeverShown00000wxyz"


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port on 127.0.0.1 held by a listening socket (another program's server)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        sock.setblocking(False)
        yield int(sock.getsockname()[1])


@pytest.fixture
def dead_port() -> int:
    """A port on 127.0.0.1 where nothing listens (connections are refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run(cwd: Path, *args: str, env: dict[str, str | None] | None = None,
        stdin: str = "") -> subprocess.CompletedProcess[str]:
    """``stripefleet ARGS`` in ``cwd`` (no stray ``.env``), with ``env`` changes (None
    removes a variable)."""
    environ = {k: v for k, v in os.environ.items()
               if k not in {"DATABASE_URL", "REDIS_URL", "STRIPE_API_BASE",
                            "TEMPLATE_MASTER_API_KEY", "STRIPEFLEET_ENCRYPTION_KEY"}}
    for key, value in (env or {}).items():
        if value is None:
            environ.pop(key, None)
        else:
            environ[key] = value
    return subprocess.run(stripefleet_argv(*args), cwd=cwd, env=environ, input=stdin,
                          capture_output=True, text=True, timeout=120)


def output_of(done: subprocess.CompletedProcess[str]) -> str:
    return done.stdout + done.stderr


# -- a port already in use -----------------------------------------------------------


def test_site_serve_on_a_busy_port_says_so(tmp_path: Path, busy_port: int) -> None:
    """``site serve`` on a port in use: exit 1, "port N is in use" with --port as the way
    out, no traceback, and no "serving on" line (the port was never its own)."""
    done = run(tmp_path, "site", "serve", "--port", str(busy_port), "--instance-dir",
               str(tmp_path / "site"), env={"TEMPLATE_MASTER_API_KEY": API_KEY})
    out = output_of(done)
    assert done.returncode == 1, out
    assert f"port {busy_port} is in use" in out and "--port" in out
    assert "Traceback" not in out
    assert "serving on" not in out


def test_site_serve_with_gunicorn_on_a_busy_port_says_so(tmp_path: Path,
                                                          busy_port: int) -> None:
    """``site serve --workers 2`` (gunicorn) on a port in use: the same sentence and exit
    1, before gunicorn starts or anything says "serving on"."""
    done = run(tmp_path, "site", "serve", "--port", str(busy_port), "--workers", "2",
               "--instance-dir", str(tmp_path / "site"),
               env={"TEMPLATE_MASTER_API_KEY": API_KEY,
                    "SITE_RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379/0"})
    out = output_of(done)
    assert done.returncode == 1, out
    assert f"port {busy_port} is in use" in out
    assert "Traceback" not in out and "serving on" not in out


def test_emulator_on_a_busy_port_writes_no_keys_file(tmp_path: Path, busy_port: int) -> None:
    """``stripe-emulator`` on a port in use: exit 1 with the sentence, no traceback, no
    banner, and no keys file (it binds before it creates keys)."""
    done = run(tmp_path, "stripe-emulator", "--port", str(busy_port))
    out = output_of(done)
    assert done.returncode == 1, out
    assert f"port {busy_port} is in use" in out and "--port" in out
    assert "Traceback" not in out and "Stripe emulator on" not in out
    assert not (tmp_path / "stripe-emulator-keys.json").exists()


def test_dashboard_serve_on_a_busy_port_starts_no_worker(tmp_path: Path,
                                                         busy_port: int) -> None:
    """``dashboard serve`` on a port in use: exit 1 with the sentence, no traceback, and
    neither the "Dashboard on" banner nor a worker (the web app binds first)."""
    done = run(tmp_path, "dashboard", "serve", "--port", str(busy_port), "--instance-dir",
               str(tmp_path / "dash"), env={"TEMPLATE_MASTER_API_KEY": API_KEY})
    out = output_of(done)
    assert done.returncode == 1, out
    assert f"port {busy_port} is in use" in out
    assert "Traceback" not in out
    assert "Dashboard on" not in out and "worker pid" not in out
    assert "Worker ready" not in out


def test_dashboard_web_on_a_busy_port_says_so(tmp_path: Path, busy_port: int) -> None:
    """``dashboard web`` on a port in use: exit 1 with the sentence and no banner."""
    done = run(tmp_path, "dashboard", "web", "--port", str(busy_port), "--instance-dir",
               str(tmp_path / "dash"), env={"TEMPLATE_MASTER_API_KEY": API_KEY})
    out = output_of(done)
    assert done.returncode == 1, out
    assert f"port {busy_port} is in use" in out
    assert "Traceback" not in out and "Dashboard on" not in out


def test_debug_shows_the_traceback(tmp_path: Path, busy_port: int) -> None:
    """``stripefleet --debug``: the same error keeps its Python traceback."""
    done = run(tmp_path, "--debug", "stripe-emulator", "--port", str(busy_port))
    assert done.returncode == 1
    assert "Traceback" in done.stderr and "PortInUse" in done.stderr


# -- backup -o: an unwritable path fails before the fleet is read -------------------


@pytest.fixture
def watched_site(tmp_path: Path) -> Iterator[tuple[Path, socket.socket]]:
    """A sites file whose one site is a listening socket that records connections."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        sock.setblocking(False)
        sites = tmp_path / "sites.txt"
        sites.write_text(f"http://127.0.0.1:{sock.getsockname()[1]}\n")
        yield sites, sock


def _connected(sock: socket.socket) -> bool:
    try:
        conn, _ = sock.accept()
    except BlockingIOError:
        return False
    conn.close()
    return True


@pytest.mark.parametrize(("where", "sentence"), [
    ("missing/backup.json", "does not exist"),
    ("/sys/backup.json", "does not accept new files"),  # read-only, even for root
    ("a-folder", "it is a folder"),
], ids=["missing-folder", "read-only-folder", "a-folder"])
def test_backup_to_an_unwritable_path_fails_before_reading(
        tmp_path: Path, watched_site: tuple[Path, socket.socket], where: str,
        sentence: str) -> None:
    """``backup -o PATH`` with a folder missing, a read-only folder or a folder as the
    path: exit 2 (a usage error), a sentence naming the path, no traceback, and no site
    was contacted."""
    sites, sock = watched_site
    (tmp_path / "a-folder").mkdir()
    done = run(tmp_path, "backup", "--sites-file", str(sites), "-o", where,
               env={"TEMPLATE_MASTER_API_KEY": API_KEY})
    out = output_of(done)
    assert done.returncode == 2, out
    assert "cannot write the backup to" in out and sentence in out
    assert "Traceback" not in out
    assert not _connected(sock)


# -- unreachable services, bad files and values --------------------------------------


def test_push_with_stripe_unreachable_is_one_sentence(tmp_path: Path, dead_port: int) -> None:
    """``push stripe_secret_key`` with ``STRIPE_API_BASE`` where nothing answers: the
    preflight refuses it on one line (exit 2, nothing sent), no traceback, no key."""
    sites = tmp_path / "sites.txt"
    sites.write_text(f"http://127.0.0.1:{dead_port}\n")
    done = run(tmp_path, "push", "stripe_secret_key", "--sites-file", str(sites),
               env={"TEMPLATE_MASTER_API_KEY": API_KEY, "STRIPE_SECRET_KEY": SECRET_KEY,
                    "STRIPE_API_BASE": f"http://127.0.0.1:{dead_port}",
                    "STRIPEFLEET_HOME": str(tmp_path / "home")})
    out = output_of(done)
    assert done.returncode == 2, out
    refusal = [line for line in out.splitlines() if "preflight refused" in line]
    assert len(refusal) == 1 and "stripe_unreachable" in refusal[0]
    assert "nothing was pushed" in refusal[0]
    assert "Traceback" not in out and SECRET_KEY not in out


def test_dashboard_create_user_with_a_bad_instance_dir(tmp_path: Path) -> None:
    """``dashboard create-user`` with an instance folder under a file: exit 1, ``error:``
    naming the path, no traceback."""
    (tmp_path / "a-file").write_text("not a folder\n")
    done = run(tmp_path, "dashboard", "create-user", "--instance-dir",
               str(tmp_path / "a-file" / "dash"), "--email", "owner@example.org",
               "--role", "owner", "--password-stdin",
               env={"TEMPLATE_MASTER_API_KEY": API_KEY}, stdin="a-long-password-0123\n")
    out = output_of(done)
    assert done.returncode == 1, out
    assert f"cannot use the instance folder {tmp_path / 'a-file' / 'dash'}" in out
    assert "Traceback" not in out


def test_site_command_with_an_instance_dir_it_cannot_create(tmp_path: Path) -> None:
    """``site settings --instance-dir`` under ``/sys`` (no folder can be made there, not
    even by root): exit 1, "cannot use the instance folder", no traceback."""
    done = run(tmp_path, "site", "settings", "--instance-dir", "/sys/stripefleet-site",
               env={"TEMPLATE_MASTER_API_KEY": API_KEY})
    out = output_of(done)
    assert done.returncode == 1, out
    assert "cannot use the instance folder /sys/stripefleet-site" in out
    assert "Traceback" not in out


def test_site_serve_with_a_malformed_database_url(tmp_path: Path) -> None:
    """``site serve`` with a malformed ``DATABASE_URL``: exit 1 naming the variable, no
    traceback."""
    done = run(tmp_path, "site", "serve", "--port", "1", "--instance-dir",
               str(tmp_path / "site"),
               env={"TEMPLATE_MASTER_API_KEY": API_KEY, "DATABASE_URL": "not-a-url"})
    out = output_of(done)
    assert done.returncode == 1, out
    assert "DATABASE_URL" in out and "Traceback" not in out


def test_site_serve_with_an_unreachable_database(tmp_path: Path, dead_port: int) -> None:
    """``site serve`` with a PostgreSQL URL where nothing listens: exit 1, a sentence
    saying the database is not usable, no traceback, no "serving on"."""
    done = run(tmp_path, "site", "serve", "--port", "1", "--instance-dir",
               str(tmp_path / "site"),
               env={"TEMPLATE_MASTER_API_KEY": API_KEY,
                    "DATABASE_URL": f"postgresql://postgres@127.0.0.1:{dead_port}/test"})
    out = output_of(done)
    assert done.returncode == 1, out
    assert "database" in out and "Traceback" not in out and "serving on" not in out


def test_site_settings_with_an_unreachable_database(tmp_path: Path, dead_port: int) -> None:
    """``site settings`` (no handling of its own) with an unreachable database: the root
    command's ``error: the database is not reachable: ...``, exit 1, no traceback."""
    done = run(tmp_path, "site", "settings", "--instance-dir", str(tmp_path / "site"),
               env={"TEMPLATE_MASTER_API_KEY": API_KEY,
                    "DATABASE_URL": f"postgresql://postgres@127.0.0.1:{dead_port}/test"})
    out = output_of(done)
    assert done.returncode == 1, out
    assert "error: the database is not reachable" in out and "Traceback" not in out


def test_emulator_with_a_state_file_that_is_not_json(tmp_path: Path) -> None:
    """``stripe-emulator --state-file`` naming a file that is not JSON: exit 1 naming the
    file, no traceback, no keys file written."""
    state = tmp_path / "state.json"
    state.write_text("this is not JSON\n")
    done = run(tmp_path, "stripe-emulator", "--port", "0", "--state-file", str(state))
    out = output_of(done)
    assert done.returncode == 1, out
    assert "state file" in out and "not valid JSON" in out and "Traceback" not in out
    assert not (tmp_path / "stripe-emulator-keys.json").exists()


def test_dashboard_worker_with_redis_unreachable(tmp_path: Path, dead_port: int) -> None:
    """``dashboard worker`` with ``REDIS_URL`` where nothing listens: it stops at start
    with ``error: Redis is not reachable``, exit 1, instead of logging tracebacks."""
    done = run(tmp_path, "dashboard", "worker", "--instance-dir", str(tmp_path / "dash"),
               env={"TEMPLATE_MASTER_API_KEY": API_KEY,
                    "REDIS_URL": f"redis://127.0.0.1:{dead_port}/0"})
    out = output_of(done)
    assert done.returncode == 1, out
    assert "error: Redis is not reachable" in out and "Traceback" not in out


def test_emulator_on_an_address_it_cannot_use(tmp_path: Path) -> None:
    """``stripe-emulator --host`` an address of no interface here: exit 1, "cannot listen
    on HOST:PORT", no traceback, no keys file."""
    done = run(tmp_path, "stripe-emulator", "--host", "192.0.2.1", "--port", "0")
    out = output_of(done)
    assert done.returncode == 1, out
    assert "cannot listen on 192.0.2.1:0" in out and "Traceback" not in out
    assert not (tmp_path / "stripe-emulator-keys.json").exists()


def test_push_with_an_unwritable_history_keeps_its_exit_code(tmp_path: Path,
                                                             dead_port: int) -> None:
    """``push`` whose history cannot be written (``STRIPEFLEET_HOME`` under ``/sys``,
    read-only even for root): a warning naming the file, the push's own exit code (1: the
    site is unreachable), no ``error:`` and no traceback."""
    sites = tmp_path / "sites.txt"
    sites.write_text(f"http://127.0.0.1:{dead_port}\n")
    done = run(tmp_path, "push", "stripe_publishable_key", "--value",
               "pk_test_CliErrorsPublishable000000", "--sites-file", str(sites),
               "--retries", "0",
               env={"TEMPLATE_MASTER_API_KEY": API_KEY, "STRIPEFLEET_HOME": "/sys/stripefleet"})
    out = output_of(done)
    assert done.returncode == 1, out
    assert "unreachable=1" in out
    assert "the history could not be written to /sys/stripefleet/history.jsonl" in out
    assert "error:" not in out and "Traceback" not in out


def test_site_serve_on_a_host_that_does_not_resolve(tmp_path: Path) -> None:
    """``site serve --host`` a name that does not resolve: exit 1, "cannot listen on
    HOST:PORT", no traceback (waitress's own error is a bare ValueError)."""
    done = run(tmp_path, "site", "serve", "--port", "18001", "--host", "nohost.invalid",
               "--instance-dir", str(tmp_path / "site"),
               env={"TEMPLATE_MASTER_API_KEY": API_KEY})
    out = output_of(done)
    assert done.returncode == 1, out
    assert "cannot listen on nohost.invalid:18001" in out
    assert "Traceback" not in out and "serving on" not in out


def test_dashboard_serve_refuses_a_port_out_of_range(tmp_path: Path) -> None:
    """``dashboard serve --port 99999``: a usage error (exit 2) naming the range, before
    anything starts."""
    done = run(tmp_path, "dashboard", "serve", "--port", "99999", "--instance-dir",
               str(tmp_path / "dash"), env={"TEMPLATE_MASTER_API_KEY": API_KEY})
    out = output_of(done)
    assert done.returncode == 2, out
    assert "1<=x<=65535" in out and "Worker ready" not in out


@pytest.mark.parametrize("target", sorted(USER_ERRORS))
def test_each_known_user_error_class_exists(target: str) -> None:
    """Each "module:class" the root command knows as a user error names a real exception
    class (a renamed class in a dependency would silently bring tracebacks back)."""
    module_name, name = target.split(":")
    cls = getattr(importlib.import_module(module_name), name)
    assert isinstance(cls, type) and issubclass(cls, Exception)
