"""The ``stripefleet`` command: a root group whose subcommands live in each domain.

Subcommands are imported only when used (click's lazy-loading pattern: "Lazily Loading
Subcommands" in https://click.palletsprojects.com/en/stable/complex/), so that
``stripefleet push`` imports neither Flask nor SQLAlchemy. A domain adds its command to
``COMMANDS`` below.

Why ``importlib`` in :class:`LazyGroup` rather than importing every subcommand at the top:
a measured start-up cost. Wall time, 7 to 9 runs each on the 2-CPU development machine,
median (range)::

    command                              lazy (as here)        every subcommand eager
    stripefleet push --help              0.27 s (0.25-0.31)    1.04 s (0.95-1.06)
    stripefleet stripe-emulator --help   0.09 s (0.08-0.11)    1.07 s (1.00-1.17)
    stripefleet --help                   1.05 s (1.04-1.10)    1.05 s (0.99-1.10)

``stripefleet --help`` costs the same either way: click imports every subcommand to
print its one-line help (``python -X importtime``: ``stripefleet.site`` and the
propagation engine's aiohttp are most of it). Any other command loads only its own
domain: ``push``, ``verify``, ``backup``, ``rollback`` and ``history`` start 0.8 s sooner.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging

import click

from stripefleet import __version__

#: command name -> "module:attribute" of its click command or group.
COMMANDS: dict[str, str] = {
    "push": "stripefleet.propagation.cli:push",
    "verify": "stripefleet.propagation.cli:verify",
    "backup": "stripefleet.propagation.cli:backup",
    "rollback": "stripefleet.propagation.cli:rollback",
    "history": "stripefleet.propagation.cli:history",
    "site": "stripefleet.site.cli:site",
    "stripe-emulator": "stripefleet.stripe_emulator.cli:stripe_emulator",
    "dashboard": "stripefleet.dashboard.cli:dashboard",
    "demo": "stripefleet.demo.cli:demo",
}


class LazyGroup(click.Group):
    """A click group that imports each subcommand from ``COMMANDS`` on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(name for name in COMMANDS if self._available(name))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        try:
            # lazy: a measured start-up cost (figures in the module docstring).
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and module_name.startswith(exc.name):
                return None  # that part is not in this installation
            raise
        command = getattr(module, attr)
        assert isinstance(command, click.Command)
        return command

    @staticmethod
    def _available(name: str) -> bool:
        module_name = COMMANDS[name].split(":")[0]
        try:
            return importlib.util.find_spec(module_name) is not None
        except ModuleNotFoundError:
            return False


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="stripefleet")
@click.option(
    "--log-level",
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
    default="WARNING",
    show_default=True,
    help="Log level of the command's own logger (stderr).",
)
def main(log_level: str) -> None:
    """Run Stripe across a fleet of shop sites.

    Push Stripe keys to every site (push, verify, backup, rollback, history), run a
    site, the dashboard or the local Stripe emulator, or see it all work (demo).
    """
    logging.basicConfig(
        level=getattr(logging, log_level.upper()),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
