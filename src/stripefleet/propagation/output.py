"""What the propagation commands print: a line per site, a recap, or JSON lines.

Lines go to stdout as each target finishes: URL, state, HTTP status, attempts,
milliseconds, error code (README, section 'Pushing keys to the fleet', "Output"). With
``--json`` each line is a JSON object (``TargetResult.as_dict()``) and the last one is
``{"recap": {...}}`` (with the batches, the halt reason and the rollback's recap for a
push). A rich progress bar goes to stderr when stderr is a terminal. Values appear
masked only.
"""

from __future__ import annotations

import json
import sys
from types import TracebackType
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from stripefleet.propagation.rollout import BatchReport
from stripefleet.propagation.types import (
    FUNCTIONAL_NO_SECRET_KEY,
    FUNCTIONAL_UNAVAILABLE,
    Recap,
    SiteSnapshot,
    TargetResult,
    TargetState,
)

STATE_LABELS = {TargetState.WOULD_CHANGE: "would change", TargetState.ROLLED_BACK: "rolled back"}


def result_line(result: TargetResult, *, verbose: bool = False,
                functional: bool = False) -> str:
    """``URL  STATE  HTTP  Nx  MS ms  ERROR`` (+ masked before -> after for a dry run;
    ``functional_check_unavailable`` for a site without ``POST /api/test-stripe``; the
    Stripe account and mode its functional check answered, and with ``functional``
    (``verify --functional``) its last verified webhook)."""
    state = STATE_LABELS.get(result.state, result.state.value)
    status = str(result.http_status) if result.http_status is not None else "-"
    parts = [result.url, f"{state:<12}", f"{status:>3}", f"{result.attempts}x",
             f"{result.latency_ms:>5} ms"]
    if result.error:
        parts.append(result.error)
    if result.functional == FUNCTIONAL_UNAVAILABLE:
        parts.append("functional_check_unavailable")
    elif result.functional == FUNCTIONAL_NO_SECRET_KEY:
        parts.append("no secret key yet: mode not checked")
    if result.account_id is not None:
        parts.append(f"{result.account_id} {'live' if result.livemode else 'test'}")
    if functional and result.functional not in (None, FUNCTIONAL_UNAVAILABLE,
                                                FUNCTIONAL_NO_SECRET_KEY):
        parts.append(f"last webhook {result.last_webhook_verified_at or 'never'}")
    if result.state is TargetState.WOULD_CHANGE:
        parts.append(f"{result.masked_before or '(not set)'} -> {result.masked_after}")
    if verbose:
        parts.append(f"fingerprint {result.fingerprint_before or '-'} -> "
                     f"{result.fingerprint_after or '-'}")
        if result.message:
            parts.append(f"({result.message})")
    return "  ".join(parts)


def snapshot_line(snap: SiteSnapshot, *, verbose: bool = False) -> str:
    """A backup's line per site: ``URL  read|failed  HTTP  Nx  MS ms  ERROR``."""
    status = str(snap.http_status) if snap.http_status is not None else "-"
    parts = [snap.url, f"{'read' if snap.ok else 'failed':<12}", f"{status:>3}",
             f"{snap.attempts}x", f"{snap.latency_ms:>5} ms"]
    if snap.error:
        parts.append(snap.error)
    if verbose and snap.message:
        parts.append(f"({snap.message})")
    return "  ".join(parts)


class Reporter:
    """Prints results as they come and counts them; a context manager for the bar.

    Args:
        total: how many targets (the bar's length).
        json_mode: JSON lines instead of text.
        verbose: add fingerprints and messages to text lines.
        label: the bar's description.
    """

    def __init__(self, total: int, *, json_mode: bool, verbose: bool,
                 label: str = "pushing", functional: bool = False) -> None:
        self.total = total
        self.functional = functional
        self.json_mode = json_mode
        self.verbose = verbose
        self.recap = Recap()
        self.failures = 0
        self._progress: Progress | None = None
        self._task: Any = None
        if sys.stderr.isatty():
            self._progress = Progress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                TimeElapsedColumn(), console=Console(stderr=True), transient=True)
            self._task = self._progress.add_task(label, total=total)

    def __enter__(self) -> Reporter:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._progress is not None:
            self._progress.stop()

    def _print(self, text: str) -> None:
        if self._progress is not None and sys.stdout.isatty():
            self._progress.console.print(text, markup=False, highlight=False, soft_wrap=True)
        else:
            click.echo(text)

    def _advance(self) -> None:
        if self._progress is not None:
            self._progress.advance(self._task)

    def result(self, result: TargetResult) -> None:
        """One target finished."""
        self.recap.add(result.state)
        if self.json_mode:
            self._print(json.dumps(result.as_dict()))
        else:
            self._print(result_line(result, verbose=self.verbose, functional=self.functional))
        if result.state is not TargetState.ROLLED_BACK:
            self._advance()

    def snapshot(self, snap: SiteSnapshot) -> None:
        """One site read (backup)."""
        self.recap.add(TargetState.OK if snap.ok else TargetState.FAILED)
        if self.json_mode:
            data = snap.as_dict()
            data.pop("settings")
            self._print(json.dumps(data))
        else:
            self._print(snapshot_line(snap, verbose=self.verbose))
        self._advance()

    def note(self, text: str, **fields: Any) -> None:
        """A remark (a setting a rollback cannot restore, ...): text or a JSON line."""
        self._print(json.dumps({"note": text, **fields}) if self.json_mode else text)

    def batch(self, report: BatchReport, batches: int) -> None:
        """One batch ended (or was skipped after a halt): its recap line."""
        if self.json_mode:
            self._print(json.dumps({"batch": report.as_dict()}))
            return
        counts = Recap(counts=dict(report.counts)).line() if report.counts else ""
        self._print(f"batch {report.index + 1}/{batches} ({report.size} site"
                    f"{'' if report.size == 1 else 's'}, {report.state}): {counts}")

    def finish(self, recap: Recap | None = None, **extra: Any) -> None:
        """Print the recap line (``ok=.. changed=.. failed=.. unreachable=.. skipped=..``);
        in JSON, ``extra`` (batches, halt reason, rollback) joins the last line."""
        final = recap or self.recap
        if self.json_mode:
            self._print(json.dumps({"recap": final.counts, "succeeded": final.succeeded,
                                    **extra}))
        else:
            self._print(final.line())


def warn(text: str) -> None:
    """A warning on stderr (duplicates in the sites file, ...)."""
    click.echo(f"warning: {text}", err=True)
