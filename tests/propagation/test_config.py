"""The CLI's configuration: read from the environment, in one place."""

from __future__ import annotations

from pathlib import Path

import pytest

from stripefleet.propagation import config


def test_defaults() -> None:
    """Without variables: no API key, no values, the default home."""
    cfg = config.load({"HOME": "/home/ops"})
    assert cfg.api_key is None and dict(cfg.values) == {}
    assert cfg.history_path.name == "history.jsonl"
    assert str(cfg.home).endswith(".local/state/stripefleet")


def test_values_and_key_read_and_hidden(tmp_path: Path) -> None:
    """Values come from their variables, the API key is trimmed; neither is in repr."""
    cfg = config.load({"TEMPLATE_MASTER_API_KEY": "  key-0123456789abcdef \n",
                       "STRIPE_SECRET_KEY": "sk_test_hidden123", "STRIPEFLEET_HOME": str(tmp_path)})
    assert cfg.api_key == "key-0123456789abcdef"
    assert cfg.values == {"stripe_secret_key": "sk_test_hidden123"}
    assert cfg.home == tmp_path
    assert "hidden" not in repr(cfg) and "0123456789abcdef" not in repr(cfg)


def test_home_must_be_a_folder(tmp_path: Path) -> None:
    """STRIPEFLEET_HOME naming a file fails with a message naming the variable."""
    file = tmp_path / "afile"
    file.write_text("")
    with pytest.raises(config.ConfigError, match="STRIPEFLEET_HOME"):
        config.load({"STRIPEFLEET_HOME": str(file)})


def test_dotenv_is_read_under_the_environment(tmp_path: Path) -> None:
    """A ``.env`` file gives values the environment lacks; the environment wins."""
    dotenv = tmp_path / ".env"
    dotenv.write_text("STRIPE_PUBLISHABLE_KEY=pk_test_fromDotenv1\n"
                      "TEMPLATE_MASTER_API_KEY=dotenv-key-0123456789\n")
    cfg = config.load({"TEMPLATE_MASTER_API_KEY": "env-key-0123456789abc"}, dotenv_path=dotenv)
    assert cfg.api_key == "env-key-0123456789abc"
    assert cfg.values == {"stripe_publishable_key": "pk_test_fromDotenv1"}


def test_every_variable_is_declared() -> None:
    """The configuration table lists the CLI's nine variables, secrets without a value."""
    names = [row[0] for row in config.config_table()]
    assert names == ["TEMPLATE_MASTER_API_KEY", "STRIPE_PUBLISHABLE_KEY", "STRIPE_SECRET_KEY",
                     "STRIPE_WEBHOOK_SECRET", "STRIPEFLEET_HOME", "STRIPE_API_BASE",
                     "STRIPE_PREVIOUS_SECRET_KEY", "STRIPE_PREVIOUS_PUBLISHABLE_KEY",
                     "STRIPEFLEET_NOTIFY_URLS"]


def test_rollout_variables() -> None:
    """STRIPE_API_BASE (trailing slash dropped), the previous keys and the notification
    URLs (comma separated, blanks dropped) are read from the environment."""
    cfg = config.load({"STRIPE_API_BASE": "http://127.0.0.1:12111/",
                       "STRIPE_PREVIOUS_SECRET_KEY": "sk_test_old1",
                       "STRIPEFLEET_NOTIFY_URLS": "json://127.0.0.1:9/a, ,json://b.example/"},
                      dotenv_path=None)
    assert cfg.stripe_api_base == "http://127.0.0.1:12111"
    assert cfg.previous == {"stripe_secret_key": "sk_test_old1"}
    assert cfg.notify_urls == ("json://127.0.0.1:9/a", "json://b.example/")
    assert "sk_test_old1" not in repr(cfg)
