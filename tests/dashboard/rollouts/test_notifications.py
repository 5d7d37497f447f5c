"""Notifications (``DASHBOARD_NOTIFY_URLS``, README "The dashboard"): received by a local
HTTP server through Apprise's ``json://`` scheme when a rollout halts, waits for
approval or is rolled back; never a secret; a failed delivery is audited and never fails
the rollout."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import select

from stripefleet.common.processes import free_port
from stripefleet.dashboard.audit.models import AuditEvent
from stripefleet.dashboard.extensions import db
from stripefleet.testing.fleet import DEFAULT_SECRET_KEY, FaultFleet
from tests.dashboard.conftest import PK, add_user, import_sites
from tests.dashboard.rollouts.conftest import Emulator, new_keys

SK = "stripe_secret_key"
#: Apprise (apprise/utils/pgp.py) imports the standard library's deprecated ``imghdr``
#: on its first notification; the suite turns warnings into errors.
APPRISE_IMGHDR = "ignore:'imghdr' is deprecated:DeprecationWarning"
pytestmark = pytest.mark.filterwarnings(APPRISE_IMGHDR)


class Inbox:
    """A local HTTP server that keeps every JSON body POSTed to it."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.raw: list[str] = []
        inbox = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                inbox.raw.append(body.decode("utf-8", "replace"))
                inbox.messages.append(json.loads(body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"json://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def titles(self) -> list[str]:
        return [str(m.get("title")) for m in self.messages]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def inbox() -> Iterator[Inbox]:
    """A running :class:`Inbox`."""
    running = Inbox()
    yield running
    running.close()


@pytest.fixture
def fleet3() -> Iterator[FaultFleet]:
    with FaultFleet(sites=3) as running:
        yield running


def _order(fleet: FaultFleet) -> list[str]:
    return sorted(fleet.urls, key=lambda u: u.split("//", 1)[1])


def test_halt_by_threshold_is_notified_without_secrets(
        make_app: Any, inbox: Inbox, fleet3: FaultFleet, emulator: Emulator) -> None:
    """A secret key rollout halted by its threshold sends one message naming the
    rollout, the failed site and the reason, with the key masked and fingerprinted, a
    link to the rollout page; the key itself appears in no message."""
    app = make_app(TEMPLATE_MASTER_API_KEY=fleet3.api_key, STRIPE_API_BASE=emulator.url,
                   NOTIFY_URLS=[inbox.url], PUBLIC_URL="https://dash.example.org")
    owner = add_user(app, "owner")
    import_sites(app.test_client(), owner, fleet3.urls)
    keys = new_keys(emulator)
    fleet3.accounts[keys.secret_key] = fleet3.accounts[DEFAULT_SECRET_KEY] = keys.account
    fleet3.key_errors[keys.secret_key] = "stripe_auth_failed"
    resp = app.test_client().post("/api/rollouts", json={
        "setting": SK, "value": keys.secret_key, "options": {"retries": 0}},
        headers=owner.headers)
    assert resp.status_code == 202, resp.json
    rollout_id = resp.json["rollout"]["id"]
    rollback_id = rollout_id + 1  # nothing to restore: the sites' key was not pushed here
    assert inbox.titles() == [f"Rollout #{rollout_id} of {SK}: halted",
                              f"Rollback #{rollback_id} of rollout #{rollout_id}: failed"]
    halted = inbox.messages[:1]
    body = str(halted[0]["message"])
    assert "threshold exceeded in batch 1" in body
    assert f"sk_test_...{keys.secret_key[-4:]}" in body
    assert f"https://dash.example.org/rollouts/{rollout_id}" in body
    assert "stripe_auth_failed" in body
    for text in inbox.raw:
        assert keys.secret_key not in text and keys.secret_key[8:-4] not in text


def test_waiting_for_approval_is_notified(make_app: Any, inbox: Inbox,
                                          fleet3: FaultFleet) -> None:
    """A rollout that waits for approval after its canary sends a message saying so."""
    app = make_app(TEMPLATE_MASTER_API_KEY=fleet3.api_key, NOTIFY_URLS=[inbox.url])
    operator = add_user(app, "operator")
    import_sites(app.test_client(), add_user(app, "owner"), fleet3.urls)
    resp = app.test_client().post("/api/rollouts", json={
        "setting": PK, "value": "pk_test_Wait1", "options": {"pause_for_approval": True}},
        headers=operator.headers)
    assert resp.status_code == 202
    assert inbox.titles() == [f"Rollout #{resp.json['rollout']['id']} of {PK} awaits approval"]


def test_succeeded_rollout_sends_nothing(make_app: Any, inbox: Inbox,
                                         fleet3: FaultFleet) -> None:
    """A rollout that ends ``succeeded`` sends no message."""
    app = make_app(TEMPLATE_MASTER_API_KEY=fleet3.api_key, NOTIFY_URLS=[inbox.url])
    operator = add_user(app, "operator")
    import_sites(app.test_client(), add_user(app, "owner"), fleet3.urls)
    resp = app.test_client().post("/api/rollouts", json={"setting": PK, "value": "pk_test_Ok1"},
                                  headers=operator.headers)
    assert resp.status_code == 202
    assert app.test_client().get(f"/api/rollouts/{resp.json['rollout']['id']}",
                                 headers=operator.headers).json["rollout"]["state"] == "succeeded"
    assert inbox.messages == []


def test_rollback_is_notified(make_app: Any, inbox: Inbox, fleet3: FaultFleet) -> None:
    """A halt with ``rollback_on_halt`` sends the halt, then the rollback's end."""
    app = make_app(TEMPLATE_MASTER_API_KEY=fleet3.api_key, NOTIFY_URLS=[inbox.url])
    owner = add_user(app, "owner")
    import_sites(app.test_client(), owner, fleet3.urls)
    order = _order(fleet3)
    fleet3.set_value(order[0], PK, "pk_test_Prior1")
    fleet3.set_behaviour(order[1], "unauthorized")
    resp = app.test_client().post("/api/rollouts", json={
        "setting": PK, "value": "pk_test_Roll1",
        "options": {"retries": 0, "batches": [1, 1, "100%"], "max_fail_percentage": 0,
                    "rollback_on_halt": True}}, headers=owner.headers)
    rollout = app.test_client().get(f"/api/rollouts/{resp.json['rollout']['id']}",
                                    headers=owner.headers).json["rollout"]
    rollback_id = rollout["rollback_rollout_id"]
    assert rollback_id is not None
    assert inbox.titles() == [
        f"Rollout #{rollout['id']} of {PK}: halted",
        f"Rollout #{rollout['id']} rolled back by #{rollback_id}"]


def test_undeliverable_notification_is_audited_and_the_rollout_ends(
        make_app: Any, fleet3: FaultFleet) -> None:
    """A notification URL nobody answers: the rollout still ends as it would, and the
    failure is audited ``notification.failed`` without the URL's path or token."""
    dead = f"json://127.0.0.1:{free_port()}/secret-token-path"
    app = make_app(TEMPLATE_MASTER_API_KEY=fleet3.api_key, NOTIFY_URLS=[dead])
    operator = add_user(app, "operator")
    import_sites(app.test_client(), add_user(app, "owner"), fleet3.urls)
    fleet3.set_behaviour(_order(fleet3)[0], "unauthorized")
    resp = app.test_client().post("/api/rollouts", json={
        "setting": PK, "value": "pk_test_Dead1", "options": {"retries": 0}},
        headers=operator.headers)
    assert resp.status_code == 202
    rollout_id = resp.json["rollout"]["id"]
    state = app.test_client().get(f"/api/rollouts/{rollout_id}",
                                  headers=operator.headers).json["rollout"]["state"]
    assert state == "halted"
    with app.app_context():
        events = list(db.session.scalars(select(AuditEvent).where(
            AuditEvent.action == "notification.failed")))
    assert [(e.outcome, e.subject) for e in events] == [("failed", f"rollout:{rollout_id}")]
    assert "secret-token-path" not in json.dumps(events[0].details)
