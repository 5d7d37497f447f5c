"""``stripefleet.site.config.load_config``: defaults, environment, overrides, refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from stripefleet.site.config import ConfigError, load_config


def test_defaults_put_sqlite_in_the_instance_folder(tmp_path: Path) -> None:
    """With nothing set, the database is ``site.db`` in ``./instance`` (absolute)."""
    config = load_config(environ={}, dotenv_path=None)
    assert config["INSTANCE_DIR"] == Path("instance").resolve()
    assert config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{Path('instance').resolve()}/site.db"
    assert config["TEMPLATE_MASTER_API_KEY"] is None


@pytest.mark.parametrize("url", ["postgres://u@h/db", "postgresql://u@h/db"])
def test_postgres_urls_select_psycopg_3(url: str) -> None:
    """``postgres://`` and ``postgresql://`` URLs use the psycopg 3 driver."""
    config = load_config(environ={"DATABASE_URL": url}, dotenv_path=None)
    assert config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@h/db"


def test_an_unknown_site_variable_is_refused() -> None:
    """A ``SITE_...`` variable the site does not know stops it, naming the variable."""
    with pytest.raises(ConfigError, match="SITE_INSTANCE_DIRR"):
        load_config(environ={"SITE_INSTANCE_DIRR": "x"}, dotenv_path=None)


@pytest.mark.parametrize(
    ("name", "value"),
    [("TEMPLATE_MASTER_API_KEY", "short-key"), ("TEMPLATE_MASTER_API_KEY", "a key with spaces!!"),
     ("DATABASE_URL", "mysql://secret-password@h/db"), ("SITE_TRUSTED_PROXIES", "two"),
     ("SITE_DEBUG", "maybe")],
)
def test_a_malformed_value_is_refused_without_echoing_secrets(name: str, value: str) -> None:
    """A value that does not parse stops the site with the variable's name; a secret
    option's value is never repeated in the message."""
    with pytest.raises(ConfigError, match=name) as info:
        load_config(environ={name: value}, dotenv_path=None)
    if name in {"TEMPLATE_MASTER_API_KEY", "DATABASE_URL"}:
        assert value not in str(info.value)


def test_overrides_win_over_the_environment() -> None:
    """A test's or the CLI's override beats the environment."""
    config = load_config({"SITE_INSTANCE_DIR": "/tmp/b"},
                         environ={"SITE_INSTANCE_DIR": "/tmp/a"}, dotenv_path=None)
    assert config["INSTANCE_DIR"] == Path("/tmp/b")


def test_an_unknown_override_key_is_refused() -> None:
    """A misspelt override key is an error, not silently ignored."""
    with pytest.raises(ConfigError, match="DATABSE_URL"):
        load_config({"DATABSE_URL": "sqlite://"}, environ={}, dotenv_path=None)


def test_a_dotenv_file_is_read_under_the_environment(tmp_path: Path) -> None:
    """``.env`` fills what the environment leaves unset, and never overrides it."""
    dotenv = tmp_path / ".env"
    dotenv.write_text("SITE_INSTANCE_DIR=/tmp/from-dotenv\nTEMPLATE_MASTER_API_KEY="
                      "dotenv-key-0123456789\n")
    config = load_config(environ={"SITE_INSTANCE_DIR": "/tmp/from-env"}, dotenv_path=dotenv)
    assert config["INSTANCE_DIR"] == Path("/tmp/from-env")
    assert config["TEMPLATE_MASTER_API_KEY"] == "dotenv-key-0123456789"
