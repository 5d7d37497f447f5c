"""``stripefleet push | verify | backup | rollback | history`` (README, "Pushing keys to
the fleet").

Exit codes: 0 when every target is ``ok`` or ``changed`` (or ``would change`` in a dry
run), 1 when any failed, was unreachable or was skipped, 2 for a usage error or an
invalid value (before any request) or a push the preflight refuses, 130 when
interrupted. The API key comes from
``TEMPLATE_MASTER_API_KEY`` only; secret values from the environment or
``--value-stdin`` only, never from the command line. The tuning options' defaults are
the engine's (``types.ENGINE_DEFAULTS``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import sys
import tempfile
from collections.abc import Callable, Coroutine, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click

from stripefleet.common.keys import (
    PUBLISHABLE_KEY,
    SECRET_KEY,
    STRIPE_SETTINGS,
    WEBHOOK_SECRET,
    InvalidValue,
    fingerprint,
    is_secret,
    key_mode,
    mask,
    normalize_value,
)
from stripefleet.propagation import backup as backups
from stripefleet.propagation import batches as plan
from stripefleet.propagation import config as cfg
from stripefleet.propagation import history as hist
from stripefleet.propagation.engine import (
    check_functional,
    propagate,
    propagate_pair,
    propagate_pair_values,
    propagate_values,
    read_settings,
    read_stripe_health,
)
from stripefleet.propagation.engine import verify as verify_targets
from stripefleet.propagation.output import Reporter, warn
from stripefleet.propagation.preflight import (
    PreflightRefused,
    Refusal,
    SiteFacts,
    StripeAccount,
    check_secret_key,
    check_sites,
)
from stripefleet.propagation.rollout import BatchedRun, BatchReport, changed_by, run_in_batches
from stripefleet.propagation.sitesfile import SitesFile, SitesFileError, load_sites
from stripefleet.propagation.types import (
    ENGINE_DEFAULTS,
    FUNCTIONAL_UNAVAILABLE,
    KEY_PAIR,
    PushOptions,
    Recap,
    SiteSnapshot,
    StripeHealth,
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
                       allow_insecure_http=params["allow_insecure_http"],
                       functional_verify=params.get("functional_verify", True))


def _batches_spec(text: str | None) -> list[int | str] | None:
    if text is None:
        return None
    try:
        return plan.parse_batches(text)
    except ValueError as exc:
        raise UsageFailure(f"--batches: {exc}") from None


def rollout_options(func: F) -> F:
    """The safety net of ``push``: batches, threshold, rollback, functional check,
    preflight overrides, notifications (README, "Pushing keys to the fleet")."""
    options = [
        click.option("--batches", "batches",
                     help="Batch sizes, counts or percentages of the fleet, the last one "
                          "repeated (Ansible's serial). Default 1,10%,100% for more than "
                          "one site; 100% is one batch."),
        click.option("--max-fail-percentage", type=click.FloatRange(0, 100),
                     help="Halt when a batch's failed + unreachable sites exceed this "
                          "percentage of it. Default 0 for secret keys and pairs, 10 for "
                          "publishable keys, 0 otherwise."),
        click.option("--pause", type=click.FloatRange(min=0), default=0.0, show_default=True,
                     help="Seconds to wait between two batches."),
        click.option("--rollback-on-halt/--no-rollback-on-halt", default=None,
                     help="After a halt, put the previous value back on every site this "
                          "run changed. Default on for secret keys and pairs."),
        click.option("--functional-verify/--no-functional-verify", "functional_verify",
                     default=True, show_default=True,
                     help="After each push of a secret or publishable key, ask the site to "
                          "call Stripe with it (POST /api/test-stripe)."),
        click.option("--allow-mode-mismatch", is_flag=True,
                     help="Push a live key to env=test sites or a test key to env=prod "
                          "sites, and a publishable key whose mode differs from the site's "
                          "secret key."),
        click.option("--allow-account-change", is_flag=True,
                     help="Push a secret key of another Stripe account than the site's."),
        click.option("--notify", "notify_urls", multiple=True, metavar="URL",
                     help="Apprise URL told when the push does not fully succeed, halts or "
                          "rolls back (repeat; also STRIPEFLEET_NOTIFY_URLS)."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


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


def _check_output(path: Path) -> None:
    """Refuse a backup path that cannot be written, before any site is read.

    The folder must exist and accept a new file (the backup is written atomically: a
    temporary file in the same folder, then renamed), and the path must not be a
    folder. README, "Pushing keys to the fleet" (backup): exit 2, nothing read.

    Raises:
        UsageFailure: the sentence saying what is wrong with the path.
    """
    target = path.absolute()
    folder = target.parent
    if target.is_dir():
        raise UsageFailure(f"cannot write the backup to {path}: it is a folder; give a file "
                           "path, e.g. backup.json")
    if not folder.exists():
        raise UsageFailure(f"cannot write the backup to {path}: the folder {folder} does "
                           "not exist (create it first)")
    if not folder.is_dir():
        raise UsageFailure(f"cannot write the backup to {path}: {folder} is not a folder")
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".stripefleet-backup-check-"):
            pass
    except OSError as exc:
        raise UsageFailure(f"cannot write the backup to {path}: the folder {folder} does "
                           f"not accept new files ({exc.strerror or exc})") from None


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
            value_fp: str | None, reporter: Reporter, code: int, *,
            recap_override: Recap | None = None, **extra: Any) -> None:
    """Append the command's line to the history; a history that cannot be written is a
    warning, never a change of the exit code: the sites were already pushed to."""
    recap = recap_override or reporter.recap
    try:
        hist.append(config.history_path, {
            "time": hist.now_utc(), "operator": config.operator, "command": command,
            "sites_file": sites_file, "setting": setting, "value_fingerprint": value_fp,
            "targets": reporter.total, "recap": recap.counts, "exit_code": code, **extra})
    except OSError as exc:
        warn(f"the history could not be written to {config.history_path} "
             f"({exc.strerror or exc}); set STRIPEFLEET_HOME to a writable folder")


def _pair_values(value: str | None, value_stdin: bool, config: cfg.CliConfig) -> dict[str, str]:
    """``push --pair``: the publishable and secret keys (and the webhook secret when set)
    from the environment, validated, in the same mode."""
    if value is not None or value_stdin:
        raise UsageFailure("--pair takes its values from STRIPE_PUBLISHABLE_KEY, "
                           "STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET, not --value or "
                           "--value-stdin.")
    values: dict[str, str] = {}
    for setting in STRIPE_SETTINGS:
        raw = config.values.get(setting)
        if raw is None:
            if setting != WEBHOOK_SECRET:
                raise UsageFailure(f"--pair needs {cfg.VALUE_ENV[setting]}.")
            continue
        try:
            values[setting] = normalize_value(setting, raw)
        except InvalidValue as exc:
            raise UsageFailure(f"{exc.code}: {exc}") from None
    if key_mode(values[PUBLISHABLE_KEY]) != key_mode(values[SECRET_KEY]):
        raise UsageFailure(f"pair_mode_mismatch: the publishable key "
                           f"{mask(values[PUBLISHABLE_KEY])} and the secret key "
                           f"{mask(values[SECRET_KEY])} are not in the same mode.")
    return values


def _notify(urls: Sequence[str], title: str, lines: Sequence[str]) -> None:
    """Send the run's summary to the Apprise URLs (never a secret: masked values)."""
    if not urls:
        return
    from stripefleet.common.notify import notify  # lazy: apprise costs 0.1 s (measured)

    for url in notify(urls, title, "\n".join(lines)):
        warn(f"the notification to a {url.split(':', 1)[0]}:// URL failed (see the log)")


def _values_lines(values: Mapping[str, str]) -> list[str]:
    return [f"{name}: {mask(value)} (fingerprint {fingerprint(value)})"
            for name, value in values.items()]


class _Push:
    """One ``stripefleet push``: preflight, batches, rollback on halt, recap."""

    def __init__(self, kind: str, values: dict[str, str], sites: SitesFile,
                 config: cfg.CliConfig, api_key: str, params: dict[str, Any],
                 dry_run: bool) -> None:
        self.kind, self.values, self.sites, self.config = kind, values, sites, config
        self.params, self.dry_run = params, dry_run
        self.targets = [Target(u, api_key) for u in sites.urls]
        self.options = _push_options(params, dry_run=dry_run)
        spec = _batches_spec(params["batches"]) or plan.default_batches(kind, len(self.targets))
        self.sizes = plan.plan_batches(len(self.targets), spec)
        fail = params["max_fail_percentage"]
        self.max_fail = plan.default_max_fail_percentage(kind) if fail is None else fail
        rollback = params["rollback_on_halt"]
        self.rollback_on_halt = (plan.default_rollback_on_halt(kind) if rollback is None
                                 else rollback)
        self.notify_urls = [*params["notify_urls"], *config.notify_urls]
        self.account: StripeAccount | None = None
        self.snapshots: dict[str, SiteSnapshot] = {}
        self.healths: dict[str, StripeHealth] = {}
        self.run: BatchedRun | None = None
        #: url -> the target's latest result (the push's, then the rollback's).
        self.results: dict[str, TargetResult] = {}
        self.rollback_recap: Recap | None = None
        self.not_restorable: list[tuple[str, str]] = []

    # -- preflight -------------------------------------------------------------------

    def check_key(self) -> None:
        """Stripe's answer for the secret key pushed, if any (exit 2 when refused)."""
        secret = self.values.get(SECRET_KEY)
        if secret is None:
            return
        try:
            self.account = check_secret_key(secret, api_base=self.config.stripe_api_base,
                                            timeout=self.params["timeout"])
        except PreflightRefused as exc:
            if self.params["json_mode"]:
                click.echo(json.dumps({"preflight_refused": {"code": exc.code,
                                                             "message": exc.message}}))
            else:
                # One line: Stripe's SDK wraps its network errors over several.
                where = self.config.stripe_api_base or "https://api.stripe.com"
                click.echo(f"preflight refused: {exc.code}: {' '.join(exc.message.split())}"
                           f" (Stripe at {where}; nothing was pushed)")
            if not self.dry_run:
                _notify(self.notify_urls, f"stripefleet push {self.kind}: refused by the "
                        "preflight", [f"Stripe refused the secret key: {exc.code}",
                                      *_values_lines(self.values), "Nothing was pushed."])
            raise SystemExit(2) from None
        self.options = dataclasses.replace(self.options, expected_account=self.account.id)

    async def read_sites(self) -> None:
        """The targets' settings before the push (the backup a rollback restores a
        publishable key from; the secret key's mode) and, when a secret key is pushed,
        the account of each site's last functional check."""
        options = dataclasses.replace(self.options, dry_run=False)

        def keep(snap: SiteSnapshot) -> None:
            self.snapshots[snap.url] = snap

        def keep_health(health: StripeHealth) -> None:
            self.healths[health.url] = health

        await read_settings(self.targets, options=options, on_snapshot=keep)
        if self.account is not None:
            await read_stripe_health(self.targets, options=options, on_health=keep_health)

    def facts(self) -> list[SiteFacts]:
        out = []
        for target in self.targets:
            snap = self.snapshots.get(target.url)
            entry = snap.settings.get(SECRET_KEY, {}) if snap is not None and snap.ok else {}
            masked = entry.get("masked") if isinstance(entry, dict) else None
            health = self.healths.get(target.url)
            out.append(SiteFacts(
                url=target.url, name=target.name,
                environment=self.sites.environments.get(target.url),
                account_id=health.account_id if health is not None else None,
                secret_key_mode=key_mode(masked) if isinstance(masked, str) else None))
        return out

    def refusals(self) -> list[Refusal]:
        return check_sites(self.values, self.facts(), account=self.account,
                           allow_mode_mismatch=self.params["allow_mode_mismatch"],
                           allow_account_change=self.params["allow_account_change"])

    # -- the push --------------------------------------------------------------------

    async def push_batch(self, batch: list[Target], sink: Any) -> Recap:
        if self.kind == KEY_PAIR:
            return await propagate_pair(batch, self.values, options=self.options,
                                        on_result=sink)
        return await propagate(batch, self.kind, self.values[self.kind],
                               options=self.options, on_result=sink)

    async def execute(self, reporter: Reporter) -> None:
        many = len(self.sizes) > 1

        def batch_done(report: BatchReport) -> None:
            if many:
                reporter.batch(report, len(self.sizes))

        def done(result: TargetResult) -> None:
            self.results[result.url] = result
            reporter.result(result)

        self.run = await run_in_batches(
            self.targets, self.sizes, self.push_batch, setting=self.kind,
            max_fail_percentage=self.max_fail, pause=self.params["pause"],
            on_result=done, on_batch=batch_done)
        if self.run.halt_reason is not None:
            reporter.note(f"halted: {self.run.halt_reason}", halted=self.run.halt_reason)
            if self.rollback_on_halt:
                await self.roll_back(reporter)

    # -- rollback on halt --------------------------------------------------------------

    def previous_values(self, result: TargetResult) -> dict[str, str] | str:
        """The values that were there before the push, or why they are not known."""
        previous: dict[str, str] = {}
        if self.kind == WEBHOOK_SECRET:
            return ("a site never gives its webhook signing secret back; push the previous "
                    "one again with `stripefleet push stripe_webhook_secret`")
        if SECRET_KEY in self.values:
            old = self.config.previous.get(SECRET_KEY)
            if old is None:
                return ("its previous secret key is unknown (a site never gives it back): "
                        f"set {cfg.PREVIOUS_ENV[SECRET_KEY]}")
            try:
                old = normalize_value(SECRET_KEY, old)
            except InvalidValue as exc:
                return f"{cfg.PREVIOUS_ENV[SECRET_KEY]} is malformed ({exc.code})"
            if result.fingerprint_before is not None \
                    and fingerprint(old) != result.fingerprint_before:
                return (f"{cfg.PREVIOUS_ENV[SECRET_KEY]} is not the secret key it held "
                        f"before (fingerprint {result.fingerprint_before})")
            previous[SECRET_KEY] = old
        if PUBLISHABLE_KEY in self.values:
            snap = self.snapshots.get(result.url)
            entry = snap.settings.get(PUBLISHABLE_KEY) if snap is not None and snap.ok else None
            value = entry.get("value") if isinstance(entry, dict) else None
            if not isinstance(value, str) and self.kind == KEY_PAIR:
                value = self.config.previous.get(PUBLISHABLE_KEY)
            if not isinstance(value, str):
                return ("its previous publishable key is unknown (not set, or the site "
                        "could not be read before the push; a setting cannot be unset)")
            previous[PUBLISHABLE_KEY] = value
        return previous

    async def roll_back(self, reporter: Reporter) -> None:
        assert self.run is not None
        restore: list[tuple[Target, dict[str, str]]] = []
        by_url = {t.url: t for t in self.targets}
        for url, result in list(self.results.items()):
            if not changed_by(result):
                continue
            previous = self.previous_values(result)
            if isinstance(previous, str):
                self.not_restorable.append((url, previous))
            else:
                restore.append((by_url[url], previous))
        if WEBHOOK_SECRET in self.values and self.kind == KEY_PAIR and restore:
            reporter.note("rollback: the webhook signing secret stays the new one (a site "
                          "never gives the previous one back)", rollback_keeps=WEBHOOK_SECRET)
        reporter.note(f"rollback: {len(restore)} site(s) to restore, "
                      f"{len(self.not_restorable)} left as they are",
                      rollback={"restoring": len(restore),
                                "not_restorable": len(self.not_restorable)})
        options = dataclasses.replace(self.options, expected_account=None)
        recap = Recap()

        def restored(result: TargetResult) -> None:
            if result.state in (TargetState.CHANGED, TargetState.OK):
                result.state = TargetState.ROLLED_BACK
            elif result.state.succeeded is False:
                result.message = f"the rollback failed: {result.message}"
            recap.add(result.state)
            self.results[result.url] = result
            reporter.result(result)

        if self.kind == KEY_PAIR:
            await propagate_pair_values(restore, options=options, on_result=restored)
        elif restore:
            await propagate_values(((t, v[self.kind]) for t, v in restore), self.kind,
                                   options=options, on_result=restored)
        self.rollback_recap = recap
        for url, reason in self.not_restorable:
            reporter.note(f"cannot roll back {url}: {reason}", url=url, not_restorable=reason)
        reporter.note(f"rollback: {recap.line()}", rollback_recap=recap.counts)

    # -- the end ---------------------------------------------------------------------

    def final_recap(self) -> Recap:
        return Recap.of(self.results.values())

    def unavailable(self) -> int:
        return sum(1 for r in self.results.values() if r.functional == FUNCTIONAL_UNAVAILABLE)

    def extra(self) -> dict[str, Any]:
        """What the history and the final JSON line carry beyond the recap."""
        return {
            "batches": [b.as_dict() for b in self.run.batches] if self.run else [],
            "halt_reason": self.run.halt_reason if self.run else None,
            "max_fail_percentage": self.max_fail,
            "functional_verify": self.options.functional_verify,
            "functional_check_unavailable": self.unavailable(),
            "preflight": ({"account_id": self.account.id, "livemode": self.account.livemode}
                          if self.account else None),
            "rollback": ({"recap": self.rollback_recap.counts,
                          "not_restorable": [{"url": u, "reason": r}
                                             for u, r in self.not_restorable]}
                         if self.rollback_recap is not None else None),
        }

    def notify_end(self, recap: Recap) -> None:
        halt = self.run.halt_reason if self.run else None
        if recap.succeeded and halt is None:
            return
        rolled = self.rollback_recap is not None
        status = ("halted and rolled back" if rolled else "halted" if halt
                  else "did not fully succeed")
        lines = [*_values_lines(self.values), f"sites file: {self.sites.path}",
                 f"result: {recap.line()}"]
        if halt:
            lines.append(f"halted: {halt}")
        if self.rollback_recap is not None:
            lines.append(f"rollback: {self.rollback_recap.line()}")
        lines += [f"not rolled back: {u}" for u, _ in self.not_restorable]
        bad = [r for r in self.results.values()
               if r.state in (TargetState.FAILED, TargetState.UNREACHABLE,
                              TargetState.ROLLED_BACK)]
        lines += [f"{r.state.value}: {r.name or r.url}" + (f" {r.error}" if r.error else "")
                  for r in bad[:20]]
        if len(bad) > 20:
            lines.append(f"... and {len(bad) - 20} more")
        _notify(self.notify_urls, f"stripefleet push {self.kind}: {status}", lines)


@click.command()
@click.argument("setting", type=click.Choice(STRIPE_SETTINGS), metavar="SETTING",
                required=False)
@sites_file_option
@click.option("--pair", is_flag=True,
              help="Push the publishable and secret keys (and the webhook secret when "
                   "STRIPE_WEBHOOK_SECRET is set) together, one request a site.")
@click.option("--value", help="The publishable key (never a secret: those come from the "
                              "environment or --value-stdin).")
@click.option("--value-stdin", is_flag=True, help="Read the value from one line of stdin.")
@click.option("--dry-run", is_flag=True,
              help="Run the preflight and read each site; send no PUT.")
@rollout_options
@engine_options
def push(setting: str | None, sites_file: Path, pair: bool, value: str | None,
         value_stdin: bool, dry_run: bool, **params: Any) -> None:
    """Push SETTING (or --pair) to every site of the sites file, in batches, checking
    each site.

    SETTING is stripe_publishable_key, stripe_secret_key or stripe_webhook_secret. The
    value comes from --value (publishable key only), --value-stdin, or the environment
    (STRIPE_PUBLISHABLE_KEY, STRIPE_SECRET_KEY, STRIPE_WEBHOOK_SECRET); the API key from
    TEMPLATE_MASTER_API_KEY. A secret key is checked with Stripe first.

    Exit codes: 0 every site ok or changed; 1 any failed, unreachable or skipped (a
    halted rollout); 2 usage error, invalid value or a refused preflight (nothing sent);
    130 interrupted.
    """
    config = _config()
    if pair and setting is not None:
        raise UsageFailure("Give SETTING or --pair, not both.")
    if pair:
        values, kind = _pair_values(value, value_stdin, config), KEY_PAIR
    elif setting is None:
        raise UsageFailure("Give SETTING (stripe_publishable_key, stripe_secret_key, "
                           "stripe_webhook_secret) or --pair.")
    else:
        clean = _value(setting, value, value_stdin, config, required=True)
        assert clean is not None
        values, kind = {setting: clean}, setting
    api_key = _api_key(config)
    sites = _sites(sites_file)
    job = _Push(kind, values, sites, config, api_key, params, dry_run)
    job.check_key()
    if kind != WEBHOOK_SECRET and _run(job.read_sites()):
        raise SystemExit(130)
    refusals = job.refusals()
    json_mode = params["json_mode"]
    for refusal in refusals:
        if json_mode:
            click.echo(json.dumps({"refusal": dataclasses.asdict(refusal)}))
        else:
            click.echo(f"refused  {refusal.url}  {refusal.code}  {refusal.message}")
    overrides = {"mode_mismatch": "--allow-mode-mismatch",
                 "pair_mode_mismatch": "--allow-mode-mismatch",
                 "account_mismatch": "--allow-account-change"}
    if refusals and not dry_run:
        flags = sorted({overrides[r.code] for r in refusals if r.code in overrides})
        warn(f"the preflight refused {len(refusals)} site(s); nothing was pushed "
             f"(override: {', '.join(flags)})")
        _notify(job.notify_urls, f"stripefleet push {kind}: refused by the preflight",
                [*_values_lines(values), *(f"{r.code}: {r.url} ({r.message})"
                                           for r in refusals[:20]), "Nothing was pushed."])
        raise SystemExit(2)
    label = "dry run" if dry_run else f"pushing {kind}"
    with Reporter(len(sites.urls), json_mode=json_mode, verbose=params["verbose"],
                  label=label) as reporter:
        if dry_run:
            push_dry = (propagate_pair(job.targets, values, options=job.options,
                                       on_result=reporter.result) if kind == KEY_PAIR
                        else propagate(job.targets, kind, values[kind], options=job.options,
                                       on_result=reporter.result))
            interrupted = _run(push_dry)
            reporter.finish()
            raise SystemExit(2 if refusals else _exit(reporter, interrupted))
        interrupted = _run(job.execute(reporter))
        recap = job.final_recap()
        if job.unavailable():
            reporter.note(f"functional_check_unavailable={job.unavailable()} (sites without "
                          "POST /api/test-stripe: saved, not checked with Stripe)")
        reporter.finish(recap, **job.extra())
    code = 130 if interrupted else (0 if recap.succeeded else 1)
    _record(config, "push", str(sites_file.absolute()), kind,
            fingerprint(values.get(SECRET_KEY) or values[next(iter(values))]), reporter, code,
            interrupted=interrupted, recap_override=recap, **job.extra())
    job.notify_end(recap)
    raise SystemExit(code)


@click.command("verify")
@click.argument("setting", type=click.Choice(STRIPE_SETTINGS), metavar="SETTING",
                required=False)
@sites_file_option
@click.option("--value", help="The expected publishable key.")
@click.option("--value-stdin", is_flag=True, help="Read the expected value from stdin.")
@click.option("--functional", is_flag=True,
              help="Instead, ask each site to call Stripe with its keys (POST "
                   "/api/test-stripe): account, mode, last webhook.")
@engine_options
def verify_command(setting: str | None, sites_file: Path, value: str | None, value_stdin: bool,
                   functional: bool, **params: Any) -> None:
    """Check SETTING on every site: the expected value (environment, --value-stdin or
    --value), or, with none, that it is configured; or, with --functional, that each
    site's keys work with Stripe. Exit 1 when any site differs or fails."""
    config = _config()
    if functional and (setting is not None or value is not None or value_stdin):
        raise UsageFailure("--functional checks the sites' Stripe keys: give no SETTING "
                           "nor value with it.")
    if not functional and setting is None:
        raise UsageFailure("Give SETTING, or --functional.")
    expected = None if functional or setting is None else _value(
        setting, value, value_stdin, config, required=False)
    api_key = _api_key(config)
    sites = _sites(sites_file)
    targets = (Target(u, api_key) for u in sites.urls)
    label = "checking with Stripe" if functional else f"verifying {setting}"
    with Reporter(len(sites.urls), json_mode=params["json_mode"], verbose=params["verbose"],
                  label=label, functional=functional) as reporter:
        if functional:
            work = check_functional(targets, options=_push_options(params),
                                    on_result=reporter.result)
        else:
            assert setting is not None
            work = verify_targets(targets, setting, expected, options=_push_options(params),
                                  on_result=reporter.result)
        interrupted = _run(work)
        reporter.finish()
    raise SystemExit(_exit(reporter, interrupted))


verify = verify_command  # the name stripefleet.cli.COMMANDS maps to


@click.command()
@sites_file_option
@click.option("--output", "-o", required=True, type=click.Path(path_type=Path),
              help="The backup file to write (JSON, mode 0600).")
@engine_options
def backup(sites_file: Path, output: Path, **params: Any) -> None:
    """Save every site's settings: publishable keys in clear, secrets as fingerprints."""
    _check_output(output)
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
