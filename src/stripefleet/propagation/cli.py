"""``stripefleet push | verify | backup | rollback | history`` (README, "Pushing keys to
the fleet").

Exit codes: 0 when every target is ``ok`` or ``changed`` (or ``would change`` in a dry
run), 1 when any failed, was unreachable or was skipped, 2 for a usage error or an
invalid value (before any request), 130 when interrupted. The API key comes from
``TEMPLATE_MASTER_API_KEY`` only; secret values from the environment or
``--value-stdin`` only, never from the command line. The tuning options' defaults are
the engine's (``types.ENGINE_DEFAULTS``).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import click

from stripefleet.common.keys import (
    PUBLISHABLE_KEY,
    STRIPE_SETTINGS,
    InvalidValue,
    fingerprint,
    is_secret,
    normalize_value,
)
from stripefleet.propagation import backup as backups
from stripefleet.propagation import config as cfg
from stripefleet.propagation import history as hist
from stripefleet.propagation.engine import propagate, propagate_values, read_settings
from stripefleet.propagation.engine import verify as verify_targets
from stripefleet.propagation.output import Reporter, warn
from stripefleet.propagation.sitesfile import SitesFile, SitesFileError, load_sites
from stripefleet.propagation.types import (
    ENGINE_DEFAULTS,
    PushOptions,
    SiteSnapshot,
    Target,
    TargetResult,
    TargetState,
)

F = TypeVar("F", bound=Callable[..., Any])


class UsageFailure(click.ClickException):
    """A usage error or an invalid value: exit code 2, before any request."""

    exit_code = 2


def engine_options(func: F) -> F:
    """The tuning options every networked command shares."""
    defaults = ENGINE_DEFAULTS
    options = [
        click.option("--timeout", type=click.FloatRange(min=0, min_open=True),
                     default=defaults.timeout, show_default=True,
                     help="Seconds per request (the troubleshooting guide's default)."),
        click.option("--concurrency", type=click.IntRange(1, 1000),
                     default=defaults.concurrency, show_default=True,
                     help="Requests in flight across the fleet at most."),
        click.option("--rate", type=click.FloatRange(min=0), default=defaults.rate,
                     show_default=True,
                     help="Requests per second to any one site at most (0: no limit)."),
        click.option("--retries", type=click.IntRange(0, 20), default=defaults.retries,
                     show_default=True,
                     help="Retries after a transient failure (connect error, timeout, "
                          "429, 500, 502, 503, 504)."),
        click.option("--backoff-base", type=click.FloatRange(min=0),
                     default=defaults.backoff_base, show_default=True,
                     help="First backoff in seconds (doubles, jittered)."),
        click.option("--retry-after-cap", type=click.FloatRange(min=0),
                     default=defaults.retry_after_cap, show_default=True,
                     help="Longest Retry-After honoured, seconds."),
        click.option("--allow-insecure-http", is_flag=True,
                     help="Allow secrets over http:// to a non-loopback host."),
        click.option("--verbose", "-v", is_flag=True, help="Add fingerprints and messages."),
        click.option("--json", "json_mode", is_flag=True, help="Print JSON lines."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


sites_file_option = click.option(
    "--sites-file", required=True, type=click.Path(dir_okay=False, path_type=Path),
    help="One base URL a line; blank lines and # comments ignored.")


def _push_options(params: dict[str, Any], *, dry_run: bool = False) -> PushOptions:
    return PushOptions(dry_run=dry_run, timeout=params["timeout"],
                       concurrency=params["concurrency"], rate=params["rate"],
                       retries=params["retries"], backoff_base=params["backoff_base"],
                       retry_after_cap=params["retry_after_cap"],
                       allow_insecure_http=params["allow_insecure_http"])


def _config() -> cfg.CliConfig:
    try:
        return cfg.load()
    except cfg.ConfigError as exc:
        raise UsageFailure(str(exc)) from None


def _api_key(config: cfg.CliConfig) -> str:
    if not config.api_key:
        raise UsageFailure(f"{cfg.API_KEY_ENV} is not set: export the fleet's API key "
                           "(it is never taken from the command line).")
    return config.api_key


def _sites(path: Path) -> SitesFile:
    try:
        sites = load_sites(path)
    except SitesFileError as exc:
        raise UsageFailure(str(exc)) from None
    for dup in sites.duplicates:
        warn(f"{path}:{dup.line}: {dup.url} is listed again (first on line "
             f"{dup.first_line}); it is pushed once")
    return sites


def _value(setting: str, value: str | None, value_stdin: bool, config: cfg.CliConfig, *,
           required: bool) -> str | None:
    """The value from ``--value``, ``--value-stdin`` or the environment, validated."""
    env_name = cfg.VALUE_ENV[setting]
    if value is not None and value_stdin:
        raise UsageFailure("Give --value or --value-stdin, not both.")
    if value is not None and is_secret(setting):
        raise UsageFailure(f"{setting} is a secret: never on the command line. Set "
                           f"{env_name} or pipe it to --value-stdin.")
    if value_stdin:
        line = sys.stdin.readline()
        value = line.rstrip("\r\n")
        if not value.strip():
            raise UsageFailure("--value-stdin read an empty line.")
    elif value is None:
        value = config.values.get(setting)
    if value is None:
        if required:
            source = f"{env_name}, --value-stdin" + ("" if is_secret(setting) else " or --value")
            raise UsageFailure(f"No value for {setting}: set {source}.")
        return None
    try:
        return normalize_value(setting, value)
    except InvalidValue as exc:
        raise UsageFailure(f"{exc.code}: {exc}") from None


def _run(coro: Coroutine[Any, Any, Any]) -> bool:
    """Run ``coro``; True when the operator interrupted it (Ctrl-C)."""
    try:
        asyncio.run(coro)
    except KeyboardInterrupt:
        warn("interrupted: the recap counts only the targets that finished")
        return True
    return False


def _exit(reporter: Reporter, interrupted: bool) -> int:
    return 130 if interrupted else (0 if reporter.recap.succeeded else 1)


def _record(config: cfg.CliConfig, command: str, sites_file: str, setting: str,
            value_fp: str | None, reporter: Reporter, code: int, **extra: Any) -> None:
    hist.append(config.history_path, {
        "time": hist.now_utc(), "operator": config.operator, "command": command,
        "sites_file": sites_file, "setting": setting, "value_fingerprint": value_fp,
        "targets": reporter.total, "recap": reporter.recap.counts, "exit_code": code, **extra})


@click.command()
@click.argument("setting", type=click.Choice(STRIPE_SETTINGS), metavar="SETTING")
@sites_file_option
@click.option("--value", help="The publishable key (never a secret: those come from the "
                              "environment or --value-stdin).")
@click.option("--value-stdin", is_flag=True, help="Read the value from one line of stdin.")
@click.option("--dry-run", is_flag=True, help="Only read each site; send no PUT.")
@engine_options
def push(setting: str, sites_file: Path, value: str | None, value_stdin: bool, dry_run: bool,
         **params: Any) -> None:
    """Push SETTING to every site of the sites file, then verify each one.

    SETTING is stripe_publishable_key, stripe_secret_key or stripe_webhook_secret. The
    value comes from --value (publishable key only), --value-stdin, or the environment
    (STRIPE_PUBLISHABLE_KEY, STRIPE_SECRET_KEY, STRIPE_WEBHOOK_SECRET); the API key from
    TEMPLATE_MASTER_API_KEY.

    Exit codes: 0 every site ok or changed; 1 any failed, unreachable or skipped; 2 usage
    error or invalid value (nothing sent); 130 interrupted.
    """
    config = _config()
    clean = _value(setting, value, value_stdin, config, required=True)
    assert clean is not None
    api_key = _api_key(config)
    sites = _sites(sites_file)
    options = _push_options(params, dry_run=dry_run)
    with Reporter(len(sites.urls), json_mode=params["json_mode"], verbose=params["verbose"],
                  label="dry run" if dry_run else f"pushing {setting}") as reporter:
        interrupted = _run(propagate((Target(u, api_key) for u in sites.urls), setting, clean,
                                     options=options, on_result=reporter.result))
        reporter.finish()
    code = _exit(reporter, interrupted)
    if not dry_run:
        _record(config, "push", str(sites_file.absolute()), setting, fingerprint(clean),
                reporter, code, interrupted=interrupted)
    raise SystemExit(code)


@click.command("verify")
@click.argument("setting", type=click.Choice(STRIPE_SETTINGS), metavar="SETTING")
@sites_file_option
@click.option("--value", help="The expected publishable key.")
@click.option("--value-stdin", is_flag=True, help="Read the expected value from stdin.")
@engine_options
def verify_command(setting: str, sites_file: Path, value: str | None, value_stdin: bool,
                   **params: Any) -> None:
    """Check SETTING on every site: the expected value (environment, --value-stdin or
    --value), or, with none, that it is configured. Exit 1 when any site differs."""
    config = _config()
    expected = _value(setting, value, value_stdin, config, required=False)
    api_key = _api_key(config)
    sites = _sites(sites_file)
    with Reporter(len(sites.urls), json_mode=params["json_mode"], verbose=params["verbose"],
                  label=f"verifying {setting}") as reporter:
        interrupted = _run(verify_targets((Target(u, api_key) for u in sites.urls), setting,
                                          expected, options=_push_options(params),
                                          on_result=reporter.result))
        reporter.finish()
    raise SystemExit(_exit(reporter, interrupted))


verify = verify_command  # the name stripefleet.cli.COMMANDS maps to


@click.command()
@sites_file_option
@click.option("--output", "-o", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The backup file to write (JSON, mode 0600).")
@engine_options
def backup(sites_file: Path, output: Path, **params: Any) -> None:
    """Save every site's settings: publishable keys in clear, secrets as fingerprints."""
    config = _config()
    api_key = _api_key(config)
    sites = _sites(sites_file)
    snaps: dict[str, SiteSnapshot] = {}
    started = hist.now_utc()
    with Reporter(len(sites.urls), json_mode=params["json_mode"], verbose=params["verbose"],
                  label="reading") as reporter:

        def collect(snap: SiteSnapshot) -> None:
            snaps[snap.url] = snap
            reporter.snapshot(snap)

        interrupted = _run(read_settings((Target(u, api_key) for u in sites.urls),
                                         options=_push_options(params), on_snapshot=collect))
        if not interrupted:
            backups.write(output, created_at=started, sites_file=str(sites_file.absolute()),
                          snapshots=[snaps[u] for u in sites.urls if u in snaps])
            reporter.note(f"backup written to {output}", backup=str(output))
        reporter.finish()
    raise SystemExit(_exit(reporter, interrupted))


@click.command()
@click.argument("backup_file", metavar="BACKUP.json",
                type=click.Path(dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Only read each site; send no PUT.")
@engine_options
def rollback(backup_file: Path, dry_run: bool, **params: Any) -> None:
    """Push each site's publishable key from BACKUP.json back, and list the secret
    settings a backup cannot restore (it never holds a secret), with the reason."""
    config = _config()
    try:
        restore, cannot = backups.plan(backups.load(backup_file))
    except backups.BackupError as exc:
        raise UsageFailure(str(exc)) from None
    api_key = _api_key(config)
    with Reporter(len(restore), json_mode=params["json_mode"], verbose=params["verbose"],
                  label="rolling back") as reporter:

        def shown(result: TargetResult) -> None:
            if result.state is TargetState.CHANGED:
                result.state = TargetState.ROLLED_BACK
            reporter.result(result)

        items = ((Target(r.url, api_key), r.value) for r in restore)
        interrupted = _run(propagate_values(items, PUBLISHABLE_KEY, on_result=shown,
                                            options=_push_options(params, dry_run=dry_run)))
        for item in cannot:
            reporter.note(f"cannot restore {item.setting} on {item.url}: {item.reason}",
                          url=item.url, setting=item.setting, reason=item.reason)
        reporter.finish()
    code = _exit(reporter, interrupted)
    if not dry_run:
        _record(config, "rollback", str(backup_file.absolute()), PUBLISHABLE_KEY, None,
                reporter, code, interrupted=interrupted, not_restorable=len(cannot))
    raise SystemExit(code)


@click.command()
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table",
              show_default=True)
@click.option("--limit", type=click.IntRange(min=1), help="Only the last N runs.")
def history(fmt: str, limit: int | None) -> None:
    """Show the runs recorded in $STRIPEFLEET_HOME/history.jsonl (oldest first)."""
    config = _config()
    records, bad = hist.read(config.history_path)
    if bad:
        warn(f"{config.history_path}: {bad} unreadable line(s) skipped")
    if limit:
        records = records[-limit:]
    click.echo(hist.render(records, fmt))


__all__ = ["backup", "history", "push", "rollback", "verify"]
