"""The state file and the keys file across restarts (``state.py``, ``keystore.py``)."""

from __future__ import annotations

import json
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
import stripe

from stripefleet.stripe_emulator import EmulatorError
from tests.stripe_emulator.conftest import Receiver, RunningEmulator, session_params


def test_state_survives_a_restart(start_emulator: Callable[..., RunningEmulator],
                                  tmp_path: Path) -> None:
    """Sessions, payments, endpoints, events and the clock come back after a restart."""
    state_file = tmp_path / "state.json"
    first = start_emulator("--state-file", str(state_file))
    client = first.client()
    paid = client.v1.checkout.sessions.create(params=session_params())
    first.control.pay(paid.id)
    open_session = client.v1.checkout.sessions.create(params=session_params())
    endpoint = client.v1.webhook_endpoints.create(params={
        "url": "http://127.0.0.1:9/hook", "enabled_events": ["*"]})
    first.control.advance_clock(600)
    events_before = [e.id for e in client.v1.events.list(params={"limit": 100}).data]
    first.process.stop()
    assert stat.S_IMODE(state_file.stat().st_mode) == 0o600

    second = start_emulator("--state-file", str(state_file))
    client = second.client(first.secret_key)
    assert client.v1.checkout.sessions.retrieve(paid.id).payment_status == "paid"
    assert client.v1.checkout.sessions.retrieve(open_session.id).status == "open"
    assert client.v1.webhook_endpoints.retrieve(endpoint.id).url == "http://127.0.0.1:9/hook"
    assert [e.id for e in client.v1.events.list(params={"limit": 100}).data] == events_before
    assert second.control.clock()["offset"] == 600
    second.control.pay(open_session.id)


def test_idempotency_survives_a_restart(start_emulator: Callable[..., RunningEmulator],
                                        tmp_path: Path) -> None:
    """A request replayed after a restart answers the first response."""
    state_file = tmp_path / "state.json"
    first = start_emulator("--state-file", str(state_file))
    made = first.client().v1.checkout.sessions.create(
        params=session_params(), options={"idempotency_key": "order-42-attempt-1"})
    first.process.stop()
    second = start_emulator("--state-file", str(state_file))
    again = second.client(first.secret_key).v1.checkout.sessions.create(
        params=session_params(), options={"idempotency_key": "order-42-attempt-1"})
    assert again.id == made.id


def test_memory_only_forgets_on_restart(start_emulator: Callable[..., RunningEmulator],
                                        tmp_path: Path) -> None:
    """Without ``--state-file`` a restart starts empty (the keys file still holds)."""
    first = start_emulator()
    session = first.client().v1.checkout.sessions.create(params=session_params())
    first.process.stop()
    second = start_emulator()
    assert second.secret_key == first.secret_key
    with pytest.raises(stripe.InvalidRequestError):
        second.client().v1.checkout.sessions.retrieve(session.id)


def test_keys_file_is_private_and_reused(start_emulator: Callable[..., RunningEmulator],
                                         tmp_path: Path) -> None:
    """The keys file is 0600, holds one test pair, and a restart keeps the same keys."""
    first = start_emulator()
    assert stat.S_IMODE(first.keys_file.stat().st_mode) == 0o600
    assert len(first.keys) == 1
    assert first.secret_key.startswith("sk_test_")
    assert first.publishable_key.startswith("pk_test_")
    extra = first.control.create_keys()
    first.control.expire_key(extra["secret_key"])
    first.process.stop()
    second = start_emulator()
    assert [k["secret_key"] for k in second.keys] == [first.secret_key, extra["secret_key"]]
    with pytest.raises(stripe.AuthenticationError):
        second.client(extra["secret_key"]).v1.balance.retrieve()


def test_start_output_masks_the_secret_key(start_emulator: Callable[..., RunningEmulator]
                                           ) -> None:
    """The start banner names the keys file and the publishable key; the secret key only
    masked. The access log masks a key in a control API path too."""
    emu = start_emulator()
    pair = emu.control.create_keys()
    emu.control.expire_key(pair["secret_key"])
    with pytest.raises(EmulatorError):
        emu.control.expire_key("sk_test_doesNotExist1234")
    emu.control.health()
    log = emu.process.log_path.read_text()
    assert str(emu.keys_file) in log
    assert emu.publishable_key in log
    assert emu.secret_key not in log
    assert pair["secret_key"] not in log
    assert "sk_test_...1234" in log


def test_default_keys_file_is_beside_the_state_file(
        start_emulator: Callable[..., RunningEmulator], tmp_path: Path) -> None:
    """Without ``--keys-file`` the keys go to ``stripe-emulator-keys.json`` in the state
    file's folder."""
    from stripefleet.common.processes import ManagedProcess, free_port, stripefleet_argv

    folder = tmp_path / "data"
    port = free_port()
    proc = ManagedProcess(stripefleet_argv("stripe-emulator", "--port", str(port),
                                           "--state-file", str(folder / "state.json")),
                          log_path=tmp_path / "default.log")
    with proc:
        proc.wait_http(f"http://127.0.0.1:{port}/_emulator/health")
        keys = json.loads((folder / "stripe-emulator-keys.json").read_text())["keys"]
    assert keys[0]["secret_key"].startswith("sk_test_")


def test_corrupt_state_file_fails_with_a_clear_message(tmp_path: Path) -> None:
    """A state file that is not JSON stops the start with a message naming it."""
    import subprocess
    import sys

    state = tmp_path / "state.json"
    state.write_text("{not json")
    result = subprocess.run(
        [sys.executable, "-m", "stripefleet", "stripe-emulator", "--port", "1",
         "--keys-file", str(tmp_path / "k.json"), "--state-file", str(state)],
        capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "state file" in result.stderr and str(state) in result.stderr


def test_a_retry_left_waiting_is_delivered_after_a_restart(
        start_emulator: Callable[..., RunningEmulator], receiver: Receiver,
        tmp_path: Path) -> None:
    """The first attempt fails (500) and its retry is still waiting when the emulator
    stops; the next process, on the same state file, makes that retry (attempt 2)."""
    state_file = tmp_path / "state.json"
    first = start_emulator("--state-file", str(state_file), "--retry-delay", "60")
    client = first.client()
    client.v1.webhook_endpoints.create(params={
        "url": receiver.url("restart"), "enabled_events": ["checkout.session.completed"]})
    receiver.plan("restart", 500)
    session = client.v1.checkout.sessions.create(params=session_params())
    first.control.pay(session.id)
    receiver.wait("restart", 1)
    first.process.stop()

    second = start_emulator("--state-file", str(state_file), "--retry-delay", "0.2")
    hits = receiver.wait("restart", 2, timeout=10)
    assert [h.status for h in hits] == [500, 200] and hits[0].payload == hits[1].payload
    deliveries = second.control.deliveries(event_type="checkout.session.completed")
    assert [(d["attempt"], d["succeeded"]) for d in deliveries] == [(1, False), (2, True)]
