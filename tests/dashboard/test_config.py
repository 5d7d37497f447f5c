"""``stripefleet/dashboard/config.py``: one place reads the environment; bad settings
fail at start-up with a message naming the variable."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from stripefleet.dashboard.config import ConfigError, load_config, parse_sites_list


def test_unknown_dashboard_variable_fails(tmp_path: Path) -> None:
    """A ``DASHBOARD_*`` variable the dashboard does not know stops the start-up."""
    with pytest.raises(ConfigError, match="DASHBOARD_CHUNKSIZE"):
        load_config(tmp_path, environ={"DASHBOARD_CHUNKSIZE": "10"})


@pytest.mark.parametrize(("name", "raw"), [
    ("DASHBOARD_CHUNK_SIZE", "ten"), ("DASHBOARD_CHUNK_SIZE", "0"),
    ("DASHBOARD_VERIFY_INTERVAL_MINUTES", "-1"), ("DASHBOARD_SECURE_COOKIES", "maybe"),
    ("DASHBOARD_ENGINE_BACKOFF", "fast"),
])
def test_malformed_value_fails_naming_the_variable(tmp_path: Path, name: str, raw: str) -> None:
    """A malformed value fails with the variable's name in the message."""
    with pytest.raises(ConfigError, match=name):
        load_config(tmp_path, environ={name: raw})


def test_defaults(tmp_path: Path) -> None:
    """Without environment: SQLite in the instance folder, SQLite queue, 15 minutes,
    chunks of 200, secure cookies."""
    config = load_config(tmp_path, environ={})
    assert config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path.resolve() / 'dashboard.db'}"
    assert config["REDIS_URL"] is None
    assert config["VERIFY_INTERVAL_MINUTES"] == 15
    assert config["CHUNK_SIZE"] == 200
    assert config["SESSION_COOKIE_SECURE"] is True


def test_secret_key_generated_private_and_stable(tmp_path: Path) -> None:
    """Without DASHBOARD_SECRET_KEY a key is generated once into the instance folder,
    mode 0600, and reused."""
    first = load_config(tmp_path, environ={})["SECRET_KEY"]
    second = load_config(tmp_path, environ={})["SECRET_KEY"]
    assert first == second and len(first) >= 40
    assert stat.S_IMODE((tmp_path / "secret_key").stat().st_mode) == 0o600


def test_postgres_url_uses_psycopg(tmp_path: Path) -> None:
    """``postgresql://`` URLs are given to SQLAlchemy with the psycopg 3 driver."""
    config = load_config(tmp_path, environ={"DATABASE_URL": "postgresql://u@h/db"})
    assert config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@h/db"


@pytest.mark.parametrize(("raw", "expected"), [
    ("https://a.fr, https://b.fr/", ["https://a.fr", "https://b.fr"]),
    ("https://a.fr\nhttps://b.fr\n\n", ["https://a.fr", "https://b.fr"]),
    (["https://a.fr/"], ["https://a.fr"]),
    (None, []),
])
def test_sites_list_separators(raw: object, expected: list[str]) -> None:
    """TEMPLATE_SITES_LIST takes commas, newlines or a list."""
    assert parse_sites_list(raw) == expected  # type: ignore[arg-type]


def test_sites_list_rejects_non_urls() -> None:
    """An entry that is not an http(s) URL fails at start-up."""
    with pytest.raises(ConfigError, match="TEMPLATE_SITES_LIST"):
        parse_sites_list("ftp://a.fr")


def test_notification_and_preflight_options(tmp_path: Path) -> None:
    """``DASHBOARD_NOTIFY_URLS`` is a comma separated list of Apprise URLs (blank entries
    dropped), ``DASHBOARD_URL`` the base of the links in notifications and
    ``STRIPE_API_BASE`` the preflight's Stripe; none is set by default."""
    defaults = load_config(tmp_path, environ={})
    assert (defaults["NOTIFY_URLS"], defaults["PUBLIC_URL"], defaults["STRIPE_API_BASE"]) == (
        (), None, None)
    config = load_config(tmp_path, environ={
        "DASHBOARD_NOTIFY_URLS": "json://127.0.0.1:9/hook, ,mailto://u:p@example.org",
        "DASHBOARD_URL": "https://dash.example.org/", "STRIPE_API_BASE": "http://127.0.0.1:12111"})
    assert config["NOTIFY_URLS"] == ("json://127.0.0.1:9/hook", "mailto://u:p@example.org")
    assert config["PUBLIC_URL"] == "https://dash.example.org"
    assert config["STRIPE_API_BASE"] == "http://127.0.0.1:12111"


@pytest.mark.parametrize(("name", "raw"), [
    ("DASHBOARD_NOTIFY_URLS", "not-a-url-token-s3cr3t"),
    ("DASHBOARD_URL", "dash.example.org"),
    ("STRIPE_API_BASE", "ftp://stripe"),
])
def test_malformed_notification_or_preflight_option_fails(tmp_path: Path, name: str,
                                                          raw: str) -> None:
    """A malformed value stops the start naming the variable; a notification URL (it
    may carry a token) is never echoed."""
    with pytest.raises(ConfigError, match=name) as refused:
        load_config(tmp_path, environ={name: raw})
    if name == "DASHBOARD_NOTIFY_URLS":
        assert "s3cr3t" not in str(refused.value)
