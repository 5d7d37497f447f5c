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
