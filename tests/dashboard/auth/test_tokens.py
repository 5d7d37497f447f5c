"""Listing and revoking API tokens: ``GET /api/tokens``, ``DELETE /api/tokens/<id>`` and
the tokens page. Tests the token parts of ``stripefleet/dashboard/auth/`` (``api.py``,
``views.py``, ``services.py``) through the real routes."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from stripefleet.dashboard.audit.models import AuditEvent
from stripefleet.dashboard.auth.models import ApiToken
from stripefleet.dashboard.extensions import db
from tests.dashboard.conftest import Account, csrf_token, login

TOKEN_FIELDS = {"id", "prefix", "user_id", "email", "created_at", "last_used_at", "revoked_at"}


def token_id(client: FlaskClient, account: Account) -> int:
    """The id of ``account``'s token, as its own listing shows it."""
    rows = client.get("/api/tokens", headers=account.headers).json["tokens"]
    return int(next(r["id"] for r in rows if r["prefix"] == account.token[:10]))


def new_token(client: FlaskClient, account: Account) -> Account:
    """A second token for ``account``'s user, through ``POST /api/tokens``."""
    resp = client.post("/api/tokens", json={}, headers=account.headers)
    assert resp.status_code == 201
    return Account(account.role, account.email, resp.json["token"])


def revoke_events(app: Flask) -> list[AuditEvent]:
    """The ``token.revoke`` audit events, oldest first."""
    with app.app_context():
        return list(db.session.scalars(db.select(AuditEvent).where(
            AuditEvent.action == "token.revoke").order_by(AuditEvent.id)))


def test_list_shows_own_tokens_without_secrets(app: Flask, users: dict[str, Account]) -> None:
    """A viewer lists exactly their own tokens, newest first, with times in ISO 8601 UTC
    and neither the token nor its SHA-256 anywhere in the answer."""
    client = app.test_client()
    viewer = users["viewer"]
    second = new_token(client, viewer)
    resp = client.get("/api/tokens", headers=viewer.headers)
    assert resp.status_code == 200 and resp.json["success"] is True
    rows = resp.json["tokens"]
    assert [r["prefix"] for r in rows] == [second.token[:10], viewer.token[:10]]
    assert all(set(r) == TOKEN_FIELDS for r in rows)
    assert {r["email"] for r in rows} == {viewer.email}
    assert all(r["created_at"].endswith("Z") and r["revoked_at"] is None for r in rows)
    text = resp.get_data(as_text=True)
    with app.app_context():
        hashes = [t.token_hash for t in db.session.scalars(db.select(ApiToken))]
    for secret in [viewer.token, second.token, *hashes]:
        assert secret not in text


def test_owner_lists_one_users_or_everyones_tokens(app: Flask,
                                                   users: dict[str, Account]) -> None:
    """An owner sees a given user's tokens with ``?user_id=N`` and every token with
    ``?all=1``."""
    client = app.test_client()
    owner, viewer = users["owner"], users["viewer"]
    viewer_id = client.get("/api/me", headers=viewer.headers).json["user"]["id"]
    one = client.get(f"/api/tokens?user_id={viewer_id}", headers=owner.headers)
    assert one.status_code == 200
    assert [r["email"] for r in one.json["tokens"]] == [viewer.email]
    every = client.get("/api/tokens?all=1", headers=owner.headers)
    assert every.status_code == 200
    assert sorted(r["prefix"] for r in every.json["tokens"]) == \
        sorted(a.token[:10] for a in users.values())


@pytest.mark.parametrize("role", ["viewer", "operator"])
@pytest.mark.parametrize("query", ["all=1", "user_id={owner_id}"])
def test_non_owner_cannot_list_others_tokens(app: Flask, users: dict[str, Account], role: str,
                                             query: str) -> None:
    """Below the owner role, asking for someone else's tokens is 403 ``forbidden``,
    audited as ``access.denied``."""
    client = app.test_client()
    owner_id = client.get("/api/me", headers=users["owner"].headers).json["user"]["id"]
    resp = client.get(f"/api/tokens?{query.format(owner_id=owner_id)}",
                      headers=users[role].headers)
    assert resp.status_code == 403 and resp.json["error"] == "forbidden"
    with app.app_context():
        denied = db.session.scalars(db.select(AuditEvent).where(
            AuditEvent.action == "access.denied")).all()
    assert [(e.actor, e.subject) for e in denied] == [(users[role].email, "GET /api/tokens")]


@pytest.mark.parametrize(("query", "status", "error"), [("user_id=9999", 404, "user_not_found"),
                                                        ("user_id=two", 400, "invalid_query")])
def test_owner_listing_a_bad_user_id(app: Flask, users: dict[str, Account], query: str,
                                     status: int, error: str) -> None:
    """An unknown ``user_id`` is 404 ``user_not_found``; a malformed one 400."""
    resp = app.test_client().get(f"/api/tokens?{query}", headers=users["owner"].headers)
    assert resp.status_code == status and resp.json["error"] == error


def test_revoke_own_token(app: Flask, users: dict[str, Account]) -> None:
    """A viewer revokes one of their tokens: 200 with the row, ``revoked_at`` set; the
    listing shows it revoked and the other token untouched."""
    client = app.test_client()
    viewer = users["viewer"]
    second = new_token(client, viewer)
    target = token_id(client, second)
    resp = client.delete(f"/api/tokens/{target}", headers=viewer.headers)
    assert resp.status_code == 200 and resp.json["success"] is True
    row = resp.json["token"]
    assert (row["id"], row["prefix"]) == (target, second.token[:10])
    assert row["revoked_at"] is not None and row["revoked_at"].endswith("Z")
    listed = {r["id"]: r["revoked_at"] for r in
              client.get("/api/tokens", headers=viewer.headers).json["tokens"]}
    assert listed == {target: row["revoked_at"], token_id(client, viewer): None}


def test_revoked_token_is_refused_on_its_next_call(app: Flask, users: dict[str, Account]) -> None:
    """A token revoked (here by itself) answers 401 ``invalid_token`` from its next call
    on; the user's other token still works."""
    client = app.test_client()
    viewer = users["viewer"]
    second = new_token(client, viewer)
    assert client.delete(f"/api/tokens/{token_id(client, second)}",
                         headers=second.headers).status_code == 200
    resp = client.get("/api/me", headers=second.headers)
    assert resp.status_code == 401 and resp.json["error"] == "invalid_token"
    assert client.get("/api/me", headers=viewer.headers).status_code == 200


def test_revoking_twice_answers_the_same_row(app: Flask, users: dict[str, Account]) -> None:
    """Revoking a revoked token is 200 with the same row (``revoked_at`` kept), and
    audited once."""
    client = app.test_client()
    viewer = users["viewer"]
    second = new_token(client, viewer)
    target = token_id(client, second)
    first = client.delete(f"/api/tokens/{target}", headers=viewer.headers)
    again = client.delete(f"/api/tokens/{target}", headers=viewer.headers)
    assert first.status_code == again.status_code == 200
    assert again.json["token"] == first.json["token"]
    assert len(revoke_events(app)) == 1


@pytest.mark.parametrize("role", ["viewer", "operator"])
def test_non_owner_cannot_revoke_anothers_token(app: Flask, users: dict[str, Account],
                                                role: str) -> None:
    """Below the owner role, another user's token is 404 ``token_not_found``, the same
    answer as an unknown id (its existence is not revealed), and it keeps working."""
    client = app.test_client()
    owner = users["owner"]
    target = token_id(client, owner)
    resp = client.delete(f"/api/tokens/{target}", headers=users[role].headers)
    unknown = client.delete("/api/tokens/9999", headers=users[role].headers)
    assert resp.status_code == unknown.status_code == 404
    assert resp.json == {"success": False, "error": "token_not_found",
                         "message": f"There is no token #{target}."}
    assert unknown.json["error"] == "token_not_found"
    assert client.get("/api/me", headers=owner.headers).status_code == 200
    assert revoke_events(app) == []


def test_owner_revokes_anyones_token(app: Flask, users: dict[str, Account]) -> None:
    """An owner revokes a viewer's token; the viewer's next call is 401."""
    client = app.test_client()
    viewer = users["viewer"]
    resp = client.delete(f"/api/tokens/{token_id(client, viewer)}",
                         headers=users["owner"].headers)
    assert resp.status_code == 200 and resp.json["token"]["email"] == viewer.email
    assert client.get("/api/me", headers=viewer.headers).status_code == 401


def test_revoke_is_audited(app: Flask, users: dict[str, Account]) -> None:
    """A revocation leaves one ``token.revoke`` audit event: the actor, the token's user
    as subject, the prefix (never the token) in the details."""
    client = app.test_client()
    viewer = users["viewer"]
    target = token_id(client, viewer)
    client.delete(f"/api/tokens/{target}", headers=users["owner"].headers)
    events = revoke_events(app)
    assert [(e.actor, e.subject, e.outcome, e.details) for e in events] == \
        [(users["owner"].email, viewer.email, "ok",
          {"prefix": viewer.token[:10], "token_id": target})]


def page_rows(client: FlaskClient) -> str:
    """The tokens page's table body."""
    page = client.get("/tokens")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    return text.split('<table id="tokens">', 1)[1].split("</table>", 1)[0]


def test_tokens_page_shows_own_tokens_with_revoke_forms(app: Flask,
                                                        users: dict[str, Account]) -> None:
    """A logged-in viewer reaches the tokens page from the nav; its table lists their
    tokens (prefix only), each with a Revoke form carrying the CSRF token, and not the
    other users' tokens."""
    client = app.test_client()
    viewer = users["viewer"]
    login(client, viewer.email)
    assert 'href="/tokens"' in client.get("/audit").get_data(as_text=True)
    table = page_rows(client)
    target = token_id(client, viewer)
    assert viewer.token[:10] in table and viewer.token not in table
    assert users["owner"].token[:10] not in table
    form = f'action="/tokens/{target}/revoke"'
    assert form in table
    assert 'name="csrf_token"' in table.split(form, 1)[1].split("</form>", 1)[0]


def test_tokens_page_of_an_owner_lists_everyones(app: Flask, users: dict[str, Account]) -> None:
    """An owner's tokens page lists every user's tokens."""
    client = app.test_client()
    login(client, users["owner"].email)
    table = page_rows(client)
    assert all(a.token[:10] in table and a.email in table for a in users.values())


def test_revoke_form_revokes_and_flashes(app: Flask, users: dict[str, Account]) -> None:
    """The Revoke button (with the CSRF token) revokes, redirects back to the page with
    a flash message and no more button on that row; the token is refused from then on,
    and the revocation is audited."""
    client = app.test_client()
    viewer = users["viewer"]
    target = token_id(client, viewer)
    login(client, viewer.email)
    resp = client.post(f"/tokens/{target}/revoke",
                       data={"csrf_token": csrf_token(client, "/tokens")})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/tokens")
    page = client.get("/tokens").get_data(as_text=True)
    assert f"Token {viewer.token[:10]}… of {viewer.email} revoked" in page
    assert f'action="/tokens/{target}/revoke"' not in page
    assert client.get("/api/me", headers=viewer.headers).status_code == 401
    assert [e.actor for e in revoke_events(app)] == [viewer.email]


def test_revoke_form_needs_the_csrf_token(app: Flask, users: dict[str, Account]) -> None:
    """Posted without its CSRF token, the form is refused (400) and the token works on."""
    client = app.test_client()
    viewer = users["viewer"]
    target = token_id(client, viewer)
    login(client, viewer.email)
    resp = client.post(f"/tokens/{target}/revoke", data={})
    assert resp.status_code == 400 and "csrf_failed" in resp.get_data(as_text=True)
    assert client.get("/api/me", headers=viewer.headers).status_code == 200


def test_revoke_form_on_anothers_token_is_not_found(app: Flask,
                                                    users: dict[str, Account]) -> None:
    """A viewer posting the form for an owner's token gets the not-found flash message
    and the owner's token works on."""
    client = app.test_client()
    owner = users["owner"]
    target = token_id(client, owner)
    login(client, users["viewer"].email)
    resp = client.post(f"/tokens/{target}/revoke",
                       data={"csrf_token": csrf_token(client, "/tokens")},
                       follow_redirects=True)
    assert resp.status_code == 200
    assert f"There is no token #{target}." in resp.get_data(as_text=True)
    assert client.get("/api/me", headers=owner.headers).status_code == 200
    assert revoke_events(app) == []


def test_a_call_records_when_the_token_was_last_used(app: Flask,
                                                     users: dict[str, Account]) -> None:
    """``last_used_at`` is null until the token's first call (a GET, which commits
    nothing else), then set; a call within the next minute does not write it again."""
    from datetime import timedelta

    from stripefleet.dashboard.auth import services

    client = app.test_client()
    viewer = users["viewer"]
    fresh = new_token(client, viewer)
    with app.app_context():
        row = db.session.scalar(db.select(ApiToken).where(ApiToken.prefix == fresh.token[:10]))
        assert row is not None and row.last_used_at is None
        row_id = row.id
    assert client.get("/api/me", headers=fresh.headers).status_code == 200
    with app.app_context():
        first = db.session.get(ApiToken, row_id).last_used_at
        assert first is not None
        db.session.execute(db.update(ApiToken).where(ApiToken.id == row_id)
                           .values(last_used_at=first - timedelta(seconds=30)))
        db.session.commit()
    assert client.get("/api/me", headers=fresh.headers).status_code == 200
    with app.app_context():
        kept = db.session.get(ApiToken, row_id).last_used_at
        assert kept == first - timedelta(seconds=30)  # within LAST_USED_EVERY: kept
        db.session.execute(db.update(ApiToken).where(ApiToken.id == row_id)
                           .values(last_used_at=first - services.LAST_USED_EVERY))
        db.session.commit()
    assert client.get("/api/me", headers=fresh.headers).status_code == 200
    with app.app_context():
        assert db.session.get(ApiToken, row_id).last_used_at >= first


def test_users_page_shows_last_logins_in_utc(app: Flask, users: dict[str, Account]) -> None:
    """The users page shows a last login as the other pages show times (``utc`` filter:
    ``2026-11-21 10:36:34 UTC``), and ``never`` for a user who has not logged in."""
    import re

    client = app.test_client()
    login(client, users["owner"].email)
    page = client.get("/users").get_data(as_text=True)
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", page)
    assert "never" in page  # the viewer and the operator never logged in
