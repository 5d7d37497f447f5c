"""Every route against every role, CSRF refusals, lockout, tokens (README, "Users, roles,
tokens"). Tests ``stripefleet/dashboard/auth/security.py``, the role guard of
``dashboard/http.py`` and the 403 handler of ``dashboard/errors.py`` through the real
routes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from stripefleet.dashboard.app import create_app, ensure_schema
from stripefleet.dashboard.audit.models import AuditEvent
from stripefleet.dashboard.auth import services
from stripefleet.dashboard.extensions import db
from stripefleet.propagation import retry
from stripefleet.testing.fleet import FaultFleet
from tests.dashboard.conftest import PASSWORD, PK, ROLES, Account, add_user, csrf_token, login

WEAKEST = {"viewer": 0, "operator": 1, "owner": 2}

#: (method, path, weakest role allowed, JSON body or form data)
API_ROUTES: list[tuple[str, str, str, Any]] = [
    ("GET", "/api/me", "viewer", None),
    ("GET", "/api/users", "owner", None),
    ("POST", "/api/users", "owner", {}),
    ("PATCH", "/api/users/1", "owner", {"bogus": 1}),
    ("POST", "/api/tokens", "viewer", {}),
    ("GET", "/api/tokens", "viewer", None),
    ("DELETE", "/api/tokens/999", "viewer", None),
    ("GET", "/api/sites", "viewer", None),
    ("POST", "/api/sites", "owner", {}),
    ("GET", "/api/sites/1", "viewer", None),
    ("PATCH", "/api/sites/1", "owner", {"bogus": 1}),
    ("POST", "/api/sites/2/disable", "owner", {}),
    ("POST", "/api/sites/import", "owner", {}),
    ("POST", "/api/sites/verify", "operator", {}),
    ("GET", "/api/rollouts", "viewer", None),
    ("POST", "/api/rollouts", "operator", {}),
    ("GET", "/api/rollouts/1", "viewer", None),
    ("POST", "/api/rollouts/1/start", "operator", {}),
    ("POST", "/api/rollouts/1/retry", "operator", {}),
    ("POST", "/api/rollouts/1/rollback", "owner", {}),
    ("POST", "/api/rollouts/1/halt", "operator", {}),
    ("POST", "/api/rollouts/1/approve", "operator", {}),
    ("GET", "/api/history", "viewer", None),
    ("GET", "/api/history/export?format=json", "viewer", None),
    ("GET", "/api/audit", "viewer", None),
    ("GET", "/api/audit/export", "viewer", None),
    ("POST", "/admin/stripe/propagate", "operator", {"publishable_key": "not-a-key"}),
    ("GET", "/admin/stripe/propagate/1", "viewer", None),
]

PAGE_ROUTES: list[tuple[str, str, str, Any]] = [
    ("GET", "/sites", "viewer", None),
    ("POST", "/sites", "owner", {}),
    ("POST", "/sites/import", "owner", {}),
    ("GET", "/sites/2/edit", "owner", None),
    ("POST", "/sites/2/edit", "owner", {"name": "two"}),
    ("POST", "/sites/2/disable", "owner", {}),
    ("POST", "/sites/verify", "operator", {}),
    ("GET", "/rollouts/new", "operator", None),
    ("POST", "/rollouts/new", "operator", {}),
    ("GET", "/rollouts/1", "viewer", None),
    ("POST", "/rollouts/1/start", "operator", {}),
    ("POST", "/rollouts/1/retry", "operator", {}),
    ("POST", "/rollouts/1/rollback", "owner", {}),
    ("POST", "/rollouts/1/halt", "operator", {}),
    ("POST", "/rollouts/1/approve", "operator", {}),
    ("GET", "/history", "viewer", None),
    ("GET", "/audit", "viewer", None),
    ("GET", "/tokens", "viewer", None),
    ("POST", "/tokens/999/revoke", "viewer", {}),
    ("GET", "/users", "owner", None),
    ("POST", "/users", "owner", {}),
    ("POST", "/users/1", "owner", {"role": "viewer", "active": "1"}),
    ("POST", "/logout", "viewer", {}),
]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Flask, dict[str, Account]]]:
    """One app for the whole table: two sites, a finished dry run (#1), three users."""
    folder: Path = tmp_path_factory.mktemp("roles")
    with FaultFleet(sites=2) as fleet, retry.testing():
        app = create_app({"INSTANCE_DIR": str(folder), "TESTING": True, "HUEY_IMMEDIATE": True,
                          "SESSION_COOKIE_SECURE": False, "ENGINE_BACKOFF": 0,
                          "TEMPLATE_MASTER_API_KEY": fleet.api_key})
        ensure_schema(app)
        accounts = {role: add_user(app, role) for role in ROLES}
        client = app.test_client()
        owner = accounts["owner"]
        assert client.post("/api/sites/import", json={"text": "\n".join(fleet.urls)},
                           headers=owner.headers).status_code == 200
        resp = client.post("/api/rollouts", json={"setting": PK, "value": "pk_test_Roles1",
                                                  "dry_run": True}, headers=owner.headers)
        assert resp.status_code == 202 and resp.json["rollout"]["id"] == 1
        yield app, accounts


def _call(client: FlaskClient, method: str, path: str, body: Any, *, headers: Any = None,
          form: bool = False) -> Any:
    if form:
        data = dict(body or {})
        if method != "GET":
            data["csrf_token"] = csrf_token(client)
        return client.open(path, method=method, data=data if method != "GET" else None)
    return client.open(path, method=method, json=body, headers=headers)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("method", "path", "weakest", "body"), API_ROUTES,
                         ids=[f"{m} {p}" for m, p, _, _ in API_ROUTES])
def test_api_route_checks_role(world: Any, role: str, method: str, path: str, weakest: str,
                               body: Any) -> None:
    """A token of a role below the route's answers 403 ``forbidden``; at or above, the
    role check lets it through (whatever the route then says about the body)."""
    app, accounts = world
    resp = _call(app.test_client(), method, path, body, headers=accounts[role].headers)
    if WEAKEST[role] < WEAKEST[weakest]:
        assert resp.status_code == 403, resp.get_data(as_text=True)
        assert resp.json == {"success": False, "error": "forbidden",
                             "message": resp.json["message"]}
    else:
        assert resp.status_code not in (401, 403), resp.get_data(as_text=True)


@pytest.mark.parametrize(("method", "path", "weakest", "body"), API_ROUTES,
                         ids=[f"{m} {p}" for m, p, _, _ in API_ROUTES])
def test_api_route_needs_authentication(world: Any, method: str, path: str, weakest: str,
                                        body: Any) -> None:
    """Without a token or a session every API route answers 401 ``not_authenticated``."""
    app, _ = world
    resp = app.test_client().open(path, method=method, json=body)
    assert resp.status_code == 401
    assert resp.json["error"] == "not_authenticated"


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("method", "path", "weakest", "body"), PAGE_ROUTES,
                         ids=[f"{m} {p}" for m, p, _, _ in PAGE_ROUTES])
def test_page_route_checks_role(world: Any, role: str, method: str, path: str, weakest: str,
                                body: Any) -> None:
    """A logged-in user below the page's role gets 403; at or above, the page works
    (200, or a redirect after a form)."""
    app, accounts = world
    client = app.test_client()
    assert login(client, accounts[role].email).status_code == 302
    resp = _call(client, method, path, body, form=True)
    if WEAKEST[role] < WEAKEST[weakest]:
        assert resp.status_code == 403
    else:
        assert resp.status_code in (200, 302), resp.get_data(as_text=True)[:500]


@pytest.mark.parametrize(("method", "path", "weakest", "body"),
                         [r for r in PAGE_ROUTES if r[0] == "GET"],
                         ids=[p for m, p, _, _ in PAGE_ROUTES if m == "GET"])
def test_page_redirects_anonymous_to_login(world: Any, method: str, path: str, weakest: str,
                                           body: Any) -> None:
    """An anonymous visitor is sent to the login page."""
    app, _ = world
    resp = app.test_client().get(path)
    assert resp.status_code == 302
    assert "/login" in resp.headers["Location"]


def test_refusal_is_audited(world: Any) -> None:
    """A 403 leaves an ``access.denied`` audit event naming the user and the route."""
    app, accounts = world
    client = app.test_client()
    resp = client.post("/api/rollouts", json={"setting": PK, "value": "pk_test_x1"},
                       headers=accounts["viewer"].headers)
    assert resp.status_code == 403
    with app.app_context():
        event = db.session.scalars(db.select(AuditEvent).order_by(AuditEvent.id.desc())).first()
        assert event is not None
        assert (event.action, event.outcome, event.actor) == \
            ("access.denied", "denied", "viewer@example.org")
        assert event.subject == "POST /api/rollouts"


@pytest.mark.parametrize("setting", ["stripe_secret_key", "stripe_webhook_secret",
                                     "template_master_api_key"])
def test_operator_cannot_push_a_secret(world: Any, setting: str) -> None:
    """Only an owner pushes secret settings: an operator gets 403 and nothing is created."""
    app, accounts = world
    client = app.test_client()
    before = len(client.get("/api/rollouts", headers=accounts["owner"].headers).json["rollouts"])
    resp = client.post("/api/rollouts",
                       json={"setting": setting, "value": "sk_test_abc", "dry_run": True},
                       headers=accounts["operator"].headers)
    assert resp.status_code == 403
    after = len(client.get("/api/rollouts", headers=accounts["owner"].headers).json["rollouts"])
    assert after == before


def test_unknown_token_is_401(world: Any) -> None:
    """A bearer token that does not exist is 401 ``invalid_token``."""
    app, _ = world
    resp = app.test_client().get("/api/me", headers={"Authorization": "Bearer sfd_nope"})
    assert resp.status_code == 401
    assert resp.json["error"] == "invalid_token"


@pytest.mark.parametrize(("path", "data"), [("/sites/verify", {}), ("/users", {"email": "x"})])
def test_form_without_csrf_token_is_refused(world: Any, path: str, data: dict[str, str]) -> None:
    """A form posted with the session but without its CSRF token is 400."""
    app, accounts = world
    client = app.test_client()
    login(client, accounts["owner"].email)
    resp = client.post(path, data=data)
    assert resp.status_code == 400
    assert "csrf_failed" in resp.get_data(as_text=True)


def test_json_with_session_needs_csrf_header(world: Any) -> None:
    """The pages' JavaScript calls the API with the session: without ``X-CSRFToken`` it
    is refused (400 ``csrf_failed``), with it the call goes through."""
    app, accounts = world
    client = app.test_client()
    login(client, accounts["operator"].email)
    body = {"publishable_key": "not-a-key"}
    refused = client.post("/admin/stripe/propagate", json=body)
    assert refused.status_code == 400 and refused.json["error"] == "csrf_failed"
    allowed = client.post("/admin/stripe/propagate", json=body,
                          headers={"X-CSRFToken": csrf_token(client)})
    assert allowed.status_code == 400 and allowed.json["error"] == "invalid_publishable_key_format"


def test_login_form_needs_csrf(world: Any) -> None:
    """Even the login form is CSRF-protected (login CSRF)."""
    app, accounts = world
    resp = app.test_client().post("/login", data={"email": accounts["viewer"].email,
                                                  "password": PASSWORD})
    assert resp.status_code == 400


def test_repeated_failures_make_the_account_wait(make_app: Any) -> None:
    """After LOCKOUT_ATTEMPTS wrong passwords the account waits: even the right password
    is refused, with the same 401 and message as a wrong one (nothing tells a waiting
    account from a wrong password or an unknown email), and each failure is audited."""
    app = make_app(LOCKOUT_ATTEMPTS=3)
    account = add_user(app, "viewer", "locked@example.org")
    client = app.test_client()
    for _ in range(3):
        assert login(client, account.email, "wrong password!!").status_code == 401
    resp = login(client, account.email, PASSWORD)
    assert resp.status_code == 401
    assert services.LOGIN_FAILED_MESSAGE in resp.get_data(as_text=True)
    with app.app_context():
        denied = db.session.scalars(db.select(AuditEvent).where(
            AuditEvent.action == "auth.login", AuditEvent.outcome == "denied")).all()
        assert len(denied) == 4


def test_successful_login_resets_failures(make_app: Any) -> None:
    """Failures below the limit are forgotten after a good login."""
    app = make_app(LOCKOUT_ATTEMPTS=3)
    account = add_user(app, "viewer", "ok@example.org")
    client = app.test_client()
    for _ in range(2):
        login(client, account.email, "wrong password!!")
    assert login(client, account.email).status_code == 302
    client.post("/logout", data={"csrf_token": csrf_token(client)})
    for _ in range(2):
        login(client, account.email, "wrong password!!")
    assert login(client, account.email).status_code == 302


def test_session_cookie_flags(make_app: Any) -> None:
    """By default the session cookie is Secure, HttpOnly and SameSite=Lax."""
    app = make_app(SESSION_COOKIE_SECURE=None)
    assert app.config["SESSION_COOKIE_SECURE"] is True
    account = add_user(app, "viewer", "c@example.org")
    client = app.test_client()
    resp = login(client, account.email)
    cookie = next(h for h in resp.headers.getlist("Set-Cookie") if h.startswith("session="))
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_owner_changes_roles_but_not_their_own(world: Any) -> None:
    """An owner changes another user's role (audited); changing their own account is
    409 ``cannot_change_self``."""
    app, accounts = world
    client = app.test_client()
    owner = accounts["owner"].headers
    users = {u["email"]: u for u in client.get("/api/users", headers=owner).json["users"]}
    target = users["operator@example.org"]["id"]
    resp = client.patch(f"/api/users/{target}", json={"role": "viewer"}, headers=owner)
    assert resp.status_code == 200 and resp.json["user"]["role"] == "viewer"
    denied = client.post("/api/rollouts", json={"setting": PK, "value": "pk_test_R1"},
                         headers=accounts["operator"].headers)
    assert denied.status_code == 403
    client.patch(f"/api/users/{target}", json={"role": "operator"}, headers=owner)
    me = users["owner@example.org"]["id"]
    resp = client.patch(f"/api/users/{me}", json={"role": "viewer"}, headers=owner)
    assert resp.status_code == 409 and resp.json["error"] == "cannot_change_self"


def test_unknown_api_path_is_json_404(world: Any) -> None:
    """Unknown API paths answer the JSON error shape."""
    app, accounts = world
    resp = app.test_client().get("/api/nothing", headers=accounts["viewer"].headers)
    assert resp.status_code == 404 and resp.json["error"] == "not_found"


def test_token_user_acts_even_with_a_session(world: Any) -> None:
    """A request with a bearer token acts as the token's user, not as the session's."""
    app, accounts = world
    client = app.test_client()
    login(client, accounts["owner"].email)
    resp = client.get("/api/me", headers=accounts["viewer"].headers)
    assert resp.json["user"]["email"] == accounts["viewer"].email
    denied = client.post("/api/sites", json={"url": "https://x.fr"},
                         headers=accounts["viewer"].headers)
    assert denied.status_code == 403
