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
import json
import logging
import sys

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


#: ``ctx.meta`` key of the root ``--debug`` flag.
DEBUG_KEY = "stripefleet.debug"

#: Error classes that mean a user error (a bad file, a bad value, a service that does not
#: answer), never a bug, by "module:class". They are looked up in ``sys.modules`` and
#: not imported: a class whose module the command never imported cannot have been
#: raised, and importing them would cost every command their start-up time.
USER_ERRORS: dict[str, str] = {
    "stripefleet.common.config:ConfigError": "{message}",
    "stripefleet.common.crypto:DecryptionError": "{message}",
    "sqlalchemy.exc:ArgumentError": "the database URL is not usable: {message}",
    "sqlalchemy.exc:NoSuchModuleError": "the database URL is not usable: {message}",
    "sqlalchemy.exc:OperationalError": "the database is not reachable: {message}",
    "sqlalchemy.exc:InterfaceError": "the database is not reachable: {message}",
    "redis.exceptions:ConnectionError": "Redis is not reachable: {message}",
    "redis.exceptions:TimeoutError": "Redis is not reachable: {message}",
    "aiohttp.client_exceptions:ClientError": "a service did not answer: {message}",
    "stripe._error:APIConnectionError": "Stripe is not reachable: {message}",
}


def _loaded_class(target: str) -> type[BaseException] | None:
    module_name, name = target.split(":")
    cls = getattr(sys.modules.get(module_name), name, None)
    return cls if isinstance(cls, type) and issubclass(cls, BaseException) else None


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def user_error_message(exc: BaseException) -> str | None:
    """The one sentence for a user error, or None for anything else (a bug).

    User errors: the classes of :data:`USER_ERRORS`, a file that cannot be read or
    written (``OSError``; ``common.processes.PortInUse`` says which port and what to
    do), a connection refused or timed out, a JSON file that is not JSON. Messages
    never hold a secret: these exceptions name files, hosts and variables, and a
    configuration error never echoes a secret's value (``common.config``).
    """
    for target, template in USER_ERRORS.items():
        cls = _loaded_class(target)
        if cls is not None and isinstance(exc, cls):
            message = _first_line(getattr(exc, "orig", None) or exc)
            return template.format(message=message)
    if isinstance(exc, json.JSONDecodeError):
        return f"a file is not valid JSON: {exc}"
    if isinstance(exc, OSError):
        if exc.filename is not None and exc.strerror:
            return f"{exc.filename}: {exc.strerror}"
        if isinstance(exc, ConnectionError | TimeoutError):
            return f"cannot connect: {exc.strerror or _first_line(exc)}"
        return exc.strerror or _first_line(exc)
    return None


class LazyGroup(click.Group):
    """A click group that imports each subcommand from ``COMMANDS`` on first use.

    It is also where user errors end (README, "Exit codes"): any exception that
    :func:`user_error_message` knows is printed as ``error: <sentence>`` with exit 1 and
    no traceback, unless ``stripefleet --debug`` asked for the traceback. Anything else
    is a bug and keeps its traceback.
    """

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit,
                click.exceptions.Abort):
            raise
        except Exception as exc:
            message = user_error_message(exc)
            if message is None or ctx.meta.get(DEBUG_KEY):
                raise
            click.echo(f"error: {message}", err=True)
            click.echo("(run `stripefleet --debug ...` for the traceback)", err=True)
            ctx.exit(1)

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
@click.option("--debug", is_flag=True,
              help="Show the Python traceback of an error instead of one sentence.")
@click.pass_context
def main(ctx: click.Context, log_level: str, debug: bool) -> None:
    """Run Stripe across a fleet of shop sites.

    Push Stripe keys to every site (push, verify, backup, rollback, history), run a
    site, the dashboard or the local Stripe emulator, or see it all work (demo).
    """
    ctx.meta[DEBUG_KEY] = debug
    logging.basicConfig(
        level=getattr(logging, log_level.upper()),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
