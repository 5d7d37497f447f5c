"""``stripefleet/propagation/types.py``: the engine's defaults are written once."""

from __future__ import annotations

import dataclasses

import click

from stripefleet.propagation import PushOptions
from stripefleet.propagation.cli import push
from stripefleet.propagation.types import ENGINE_DEFAULTS, EngineDefaults


def test_push_options_take_the_engine_defaults() -> None:
    """Every tuning default of PushOptions is ENGINE_DEFAULTS'."""
    options = PushOptions()
    for name in (f.name for f in dataclasses.fields(EngineDefaults)):
        assert getattr(options, name) == getattr(ENGINE_DEFAULTS, name), name


def test_cli_options_default_to_the_engine_defaults() -> None:
    """The CLI's --timeout, --concurrency, --rate, --retries, --backoff-base and
    --retry-after-cap default to ENGINE_DEFAULTS (README, "Pushing keys to the fleet")."""
    defaults = {p.name: p.default for p in push.params if isinstance(p, click.Option)}
    for name in ("timeout", "concurrency", "rate", "retries", "backoff_base",
                 "retry_after_cap"):
        assert defaults[name] == getattr(ENGINE_DEFAULTS, name), name
