"""Declared configuration, shared by the site, the dashboard and the CLI.

Each app declares its settings once, as a table of :class:`Option` rows, and reads them
with :func:`load_options`, the one place where ``os.environ`` is read (with a ``.env``
file under it). The order is: defaults, then ``.env`` (python-dotenv; it never overrides
the environment), then the environment, then ``overrides`` (the CLI's options, a test's
config). An unknown variable with the app's prefix (``SITE_``, ``DASHBOARD_``) or a value
that does not parse stops the start with a :class:`ConfigError` that names the variable,
and never echoes the value of a secret option.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dotenv import dotenv_values

from stripefleet.common.keys import MASTER_API_KEY, SETTINGS


class ConfigError(Exception):
    """A configuration value is unknown or malformed; the message says which and how to fix."""


@dataclass(frozen=True)
class Option:
    """One configuration option.

    Attributes:
        name: the environment variable.
        parse: turns the raw string into the value; raises ValueError with a message
            that does not echo the value.
        default: the value when the variable is absent (None: unset).
        help: one line for the README's configuration table.
        key: the key of the loaded mapping (``app.config``); ``name`` when None.
        secret: the value is never shown, not even in an error message.
    """

    name: str
    parse: Callable[[str], Any]
    default: Any
    help: str
    key: str | None = None
    secret: bool = False

    @property
    def config_key(self) -> str:
        """The key of the option in the loaded mapping."""
        return self.key or self.name


# --- parsers: raw string -> value, ValueError with a message that echoes nothing ---


def text(raw: str) -> str:
    """The value, trimmed."""
    return raw.strip()


def api_key(raw: str) -> str:
    """An API key of the fleet (the pattern of ``template_master_api_key``)."""
    value = raw.strip()
    if not SETTINGS[MASTER_API_KEY].pattern.fullmatch(value):
        raise ValueError("must be 16 to 256 characters among letters, digits and _-.~+/=")
    return value


def whole_number(minimum: int = 0) -> Callable[[str], int]:
    """A parser of whole numbers of at least ``minimum``."""

    def parse(raw: str) -> int:
        try:
            value = int(raw.strip())
        except ValueError:
            raise ValueError("must be a whole number") from None
        if value < minimum:
            raise ValueError(f"must be {minimum} or more")
        return value

    return parse


non_negative_int = whole_number(0)
positive_int = whole_number(1)


def non_negative_float(raw: str) -> float:
    """A number of 0 or more (seconds, a rate)."""
    try:
        value = float(raw.strip())
    except ValueError:
        raise ValueError("must be a number") from None
    if not value >= 0:  # also refuses nan
        raise ValueError("must be 0 or more")
    return value


def boolean(raw: str) -> bool:
    """``1/true/yes/on`` or ``0/false/no/off`` (any case); empty is false."""
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError("must be 1/true/yes/on or 0/false/no/off")


def database_url(raw: str) -> str:
    """A SQLAlchemy URL: ``postgres://`` and ``postgresql://`` select psycopg 3."""
    value = raw.strip()
    value = re.sub(r"^postgres(ql)?://", "postgresql+psycopg://", value)
    if not re.match(r"^(sqlite|postgresql\+psycopg)://", value):
        raise ValueError("must be a sqlite:/// or postgresql:// URL")
    return value


def http_url(raw: str) -> str:
    """An ``http://`` or ``https://`` URL, without its trailing slash."""
    value = raw.strip().rstrip("/")
    if not re.fullmatch(r"https?://[^\s/]+(/\S*)?", value):
        raise ValueError("must be an http:// or https:// URL")
    return value


# --- loading ----------------------------------------------------------------


def read_environment(environ: Mapping[str, str] | None = None,
                     dotenv_path: Path | None = Path(".env")) -> dict[str, str]:
    """The variables: ``dotenv_path`` (when it exists) under ``environ`` (``os.environ``)."""
    env: dict[str, str] = {}
    if dotenv_path is not None and dotenv_path.is_file():
        env.update({k: v for k, v in dotenv_values(dotenv_path).items() if v is not None})
    env.update(os.environ if environ is None else environ)
    return env


def load_options(
    options: Iterable[Option],
    *,
    prefix: str | None,
    overrides: Mapping[str, Any] | None = None,
    pass_through: Iterable[str] = (),
    environ: Mapping[str, str] | None = None,
    dotenv_path: Path | None = Path(".env"),
) -> dict[str, Any]:
    """Every option's value, by its ``config_key``.

    Args:
        options: the app's declared table.
        prefix: variables starting with it must be declared (``SITE_``); None when
            the caller owns no prefix (the CLI reads the fleet's shared variables).
        overrides: values that win over the environment, keyed by option name or
            config key, or by one of ``pass_through`` (Flask's own keys a test sets);
            a string is parsed like the environment's, any other value is taken as is.
        pass_through: other keys an override may set; copied unparsed.
        environ: the environment (default ``os.environ``).
        dotenv_path: a ``.env`` file read under the environment when it exists.

    Raises:
        ConfigError: an unknown variable with ``prefix``, an unknown override key, or
            a value that does not parse (named; a secret's value never shown).
    """
    table = tuple(options)
    env = read_environment(environ, dotenv_path)
    names = {option.name for option in table}
    unknown = sorted(k for k in env if prefix and k.startswith(prefix) and k not in names)
    if unknown:
        raise ConfigError(
            f"unknown setting(s) {', '.join(unknown)}; known: "
            f"{', '.join(sorted(n for n in names if prefix and n.startswith(prefix)))}")
    given = dict(overrides or {})
    allowed = names | {option.config_key for option in table} | set(pass_through)
    bad_keys = sorted(set(given) - allowed)
    if bad_keys:
        raise ConfigError(f"unknown configuration key(s) {', '.join(bad_keys)}")

    config: dict[str, Any] = {}
    for option in table:
        if option.config_key in given:
            raw: Any = given[option.config_key]
        elif option.name in given:
            raw = given[option.name]
        elif env.get(option.name, "").strip():
            raw = env[option.name]
        else:
            config[option.config_key] = option.default
            continue
        config[option.config_key] = parse_option(option, raw) if isinstance(raw, str) else raw
    for key in set(pass_through) & set(given):
        config[key] = given[key]
    return config


def parse_option(option: Option, raw: str) -> Any:
    """``option.parse(raw)``, its ValueError turned into a ConfigError naming the option."""
    try:
        return option.parse(raw)
    except ValueError as exc:
        shown = "" if option.secret else f" (got {raw.strip()[:40]!r})"
        raise ConfigError(f"{option.name} {exc}{shown}") from None


def option_table(options: Iterable[Option]) -> list[tuple[str, str, str]]:
    """``(variable, default, meaning)`` rows for the README's configuration table."""
    return [(o.name, "" if o.default is None else str(o.default), o.help) for o in options]
