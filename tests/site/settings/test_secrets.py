"""Secrets never appear in clear: not in an answer, a log line or a database row.

README, "A site": secrets "never appear in an answer, a log line or an error", nor in
the raw database row, and each change is recorded, stored and logged, with fingerprints
only.
"""

from __future__ import annotations

import re

import requests
import sqlalchemy as sa

from stripefleet.common.keys import fingerprint
from tests.site.conftest import API_KEY, RunningSite

#: Live-mode values, made up; assembled at run time so that no secret scanner mistakes
#: the source for a leaked live key.
LIVE = "sk_" + "live_"
SK = LIVE + "SuperSecretKeyMustNeverLeak000wxyz"
WH = "whsec_WebhookSecretMustNeverLeak000wxyz"
SK_BAD = LIVE + "SecretWithA Space0000"
NEW_API_KEY = "rotated-api-key-NeverLeak-0123"


def _all_rows_as_text(database_url: str) -> str:
    engine = sa.create_engine(database_url)
    try:
        metadata = sa.MetaData()
        metadata.reflect(engine)
        with engine.connect() as conn:
            return "\n".join(repr(conn.execute(sa.select(table)).all())
                             for table in metadata.sorted_tables)
    finally:
        engine.dispose()


def _exercise(site: RunningSite) -> list[requests.Response]:
    """Push both secrets, fail once with a malformed one, and read every endpoint."""
    answers = [
        site.put("stripe_secret_key", SK),
        site.put("stripe_webhook_secret", WH),
        site.put("stripe_secret_key", SK),
        site.put("stripe_secret_key", SK_BAD),
        site.put("stripe_webhook_secret", SK),
    ]
    for path in ["/api/export/settings", "/api/export/settings/stripe_secret_key",
                 "/api/export/settings/stripe_webhook_secret"]:
        answers.append(site.get(path, api_key=API_KEY))
    for path in ["/api/stripe-pk", "/api/health", "/api/health/stripe"]:
        answers.append(site.get(path))
    answers.append(site.put("template_master_api_key", NEW_API_KEY))
    answers.append(site.get("/api/export/settings", api_key=NEW_API_KEY))
    return answers


def test_no_answer_holds_a_secret(site: RunningSite) -> None:
    """Every answer, successful or not, shows secrets only masked or fingerprinted."""
    answers = _exercise(site)
    assert [a.status_code for a in answers[:5]] == [200, 200, 200, 400, 400]
    for answer in answers:
        for secret in (SK, WH, SK_BAD, API_KEY, SK[8:], WH[6:], NEW_API_KEY):
            assert secret not in answer.text
            assert secret not in str(answer.headers)


def test_no_log_line_holds_a_secret(site: RunningSite) -> None:
    """The site's whole output (stdout and stderr) never holds a secret or the API key."""
    _exercise(site)
    site.put("stripe_secret_key", SK, api_key="not-the-key-not-the-key")
    log = site.log_text()
    assert fingerprint(SK) in log and "rejected an invalid API key" in log  # it was logged
    for secret in (SK, WH, SK_BAD, API_KEY, SK[8:], WH[6:], NEW_API_KEY,
                   "not-the-key-not-the-key"):
        assert secret not in log


def test_no_database_row_holds_a_secret(site: RunningSite) -> None:
    """Reading every row of every table finds no secret in clear (they are encrypted)."""
    _exercise(site)
    rows = _all_rows_as_text(site.database_url)
    assert fingerprint(SK) in rows  # the rows were read
    for secret in (SK, WH, SK[8:], WH[6:], API_KEY, NEW_API_KEY):
        assert secret not in rows


def test_a_publishable_key_is_stored_in_clear(site: RunningSite) -> None:
    """The publishable key is public: stored as is, as the troubleshooting guide's SQL shows it."""
    site.set("stripe_publishable_key", "pk_test_PublicKey123")
    engine = sa.create_engine(site.database_url)
    try:
        with engine.connect() as conn:
            value = conn.execute(sa.text(
                "SELECT value FROM admin_settings WHERE key = 'stripe_publishable_key'")).scalar()
    finally:
        engine.dispose()
    assert value == "pk_test_PublicKey123"


def test_each_change_is_stored_with_who_and_fingerprints(site: RunningSite) -> None:
    """A change row per change (none for an unchanged PUT): actor, old and new fingerprints."""
    site.set("stripe_secret_key", SK)
    site.set("stripe_secret_key", SK)
    site.set("stripe_secret_key", LIVE + "Second000")
    engine = sa.create_engine(site.database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text(
                "SELECT key, version, actor, client, old_fingerprint, new_fingerprint, "
                "changed_at FROM setting_changes ORDER BY id")).all()
    finally:
        engine.dispose()
    actor = f"api:{fingerprint(API_KEY)}"
    assert [r[:6] for r in rows] == [
        ("stripe_secret_key", 1, actor, "127.0.0.1", None, fingerprint(SK)),
        ("stripe_secret_key", 2, actor, "127.0.0.1", fingerprint(SK),
         fingerprint(LIVE + "Second000")),
    ]
    assert all(r.changed_at is not None for r in rows)


def test_each_change_is_logged_with_fingerprints(site: RunningSite) -> None:
    """The site logs each change: setting, version, the caller's key fingerprint, old -> new."""
    site.set("stripe_webhook_secret", WH)
    site.set("stripe_webhook_secret", "whsec_Second000")
    log = site.log_text()
    actor = f"api:{fingerprint(API_KEY)}"
    assert re.search(rf"stripe_webhook_secret changed to version 1 by {actor} .*"
                     rf"\(unset\) -> {fingerprint(WH)}", log)
    assert re.search(rf"stripe_webhook_secret changed to version 2 by {actor} .*"
                     rf"{fingerprint(WH)} -> {fingerprint('whsec_Second000')}", log)
