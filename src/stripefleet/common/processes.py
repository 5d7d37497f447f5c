"""Child processes on loopback: start one, wait until it answers, stop it for sure.

Used by ``stripefleet demo`` and by the tests, which run real site, emulator and
dashboard processes on 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free on ``host`` right now (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class PortInUse(OSError):
    """A server could not listen on its port because another socket holds it.

    The message is the sentence the CLI prints ("port N is in use on HOST: ..."), with
    what to do about it. The root command (:mod:`stripefleet.cli`) prints it as
    ``error: <message>`` and exits 1.
    """

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        super().__init__(
            errno.EADDRINUSE,
            f"port {port} is in use on {host}: another program listens there; stop it, "
            "or choose another port with --port")

    def __str__(self) -> str:
        return str(self.strerror)


def is_port_in_use(exc: BaseException) -> bool:
    """True when ``exc`` is the kernel's "address already in use" (``EADDRINUSE``)."""
    return isinstance(exc, OSError) and exc.errno == errno.EADDRINUSE


def bind_error(exc: OSError, host: str, port: int) -> OSError:
    """The error to raise when binding ``host:port`` failed with ``exc``: :class:`PortInUse`
    for a port in use, else an ``OSError`` whose message names the address
    ("cannot listen on 10.0.0.9:8000: Cannot assign requested address")."""
    if is_port_in_use(exc):
        return PortInUse(host, port)
    return OSError(exc.errno, f"cannot listen on {host}:{port}: {exc.strerror or exc}")


def check_port_free(host: str, port: int) -> None:
    """Bind ``host:port`` once and release it, as a server about to bind it would.

    For servers that bind the port themselves later (gunicorn): the check runs before
    anything is printed or started, so that a port in use is one clear sentence. The
    socket sets ``SO_REUSEADDR`` as waitress, gunicorn and aiohttp do, so a port left in
    ``TIME_WAIT`` is free and only a listening socket counts as in use.

    Raises:
        PortInUse: another socket holds the port.
        OSError: any other reason the address cannot be bound (no such address...).
    """
    bind_listening_socket(host, port).close()


def bind_listening_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port`` and listening (``port`` 0: the kernel picks).

    The emulator binds with it first, then writes its keys file and serves on it
    (aiohttp's ``run_app(sock=...)``), so that nothing is written by a server that
    cannot serve.

    Raises:
        PortInUse: another socket holds the port.
        OSError: any other reason the address cannot be bound.
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                   flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise OSError(exc.errno, f"cannot listen on {host}:{port}: {exc.strerror}") from None
    family, socktype, proto, _, address = infos[0]
    sock = socket.socket(family, socktype, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise bind_error(exc, host, port) from None
    return sock


class ProcessFailed(RuntimeError):
    """A child process exited or did not answer in time; the message has its output tail."""


class ManagedProcess:
    """One child process, started in its own process group and always stopped.

    Args:
        argv: the command; ``[sys.executable, "-m", "stripefleet", ...]`` for our own.
        env: extra environment variables, added to a copy of this process's.
        log_path: where the child's stdout and stderr go (a file, so that a chatty
            child never blocks on a full pipe).
        cwd: the working directory.
        die_with_parent: on Linux, the child gets SIGTERM when this process dies, even
            by SIGKILL, so that no demo or test process is ever left behind. Linux ties
            this to the *thread* that started the child: call :meth:`start` from a
            thread that outlives the child (the main thread), or pass False.

    Use as a context manager, or call :meth:`start` and :meth:`stop`.
    """

    def __init__(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        log_path: Path,
        cwd: Path | None = None,
        die_with_parent: bool = True,
    ) -> None:
        self.argv = list(argv)
        self.die_with_parent = die_with_parent
        self.env = dict(env or {})
        self.log_path = log_path
        self.cwd = cwd
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> ManagedProcess:
        """Start the child (stdin closed, output to ``log_path``)."""
        env = {**os.environ, **self.env, "PYTHONUNBUFFERED": "1"}
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                self.argv,
                env=env,
                cwd=self.cwd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=die_with_parent if self.die_with_parent else None,  # noqa: PLW1509
            )
        return self

    def wait_http(self, url: str, *, timeout: float = 30.0, accept: Sequence[int] = (200,)) -> None:
        """Poll ``url`` until it answers with a status in ``accept``.

        Args:
            url: a loopback URL.
            timeout: seconds to wait at most.
            accept: HTTP statuses that mean ready.

        Raises:
            ProcessFailed: the child exited, or ``timeout`` passed; the message holds
                the last lines of its log.
        """
        deadline = time.monotonic() + timeout
        while True:
            if self.proc is not None and self.proc.poll() is not None:
                raise ProcessFailed(
                    f"{self.argv[-1] if self.argv else 'process'} exited with code "
                    f"{self.proc.returncode}:\n{self.log_tail()}"
                )
            try:
                with urllib.request.urlopen(url, timeout=2) as resp:  # noqa: S310 (loopback)
                    if resp.status in accept:
                        return
            except urllib.error.HTTPError as exc:
                if exc.code in accept:
                    return
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                raise ProcessFailed(
                    f"{url} did not answer within {timeout:.0f} s:\n{self.log_tail()}"
                )
            time.sleep(0.05)

    def log_tail(self, lines: int = 30) -> str:
        """The last ``lines`` lines of the child's output."""
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no output)"
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, *, timeout: float = 10.0) -> int | None:
        """Stop the child and its process group: SIGTERM, then SIGKILL after ``timeout``.

        Returns:
            The exit code, or None when it was never started.
        """
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=timeout)
        return self.proc.returncode

    def kill(self) -> None:
        """SIGKILL the child's process group at once (for crash tests)."""
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def __enter__(self) -> ManagedProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """In the child, before exec (``Popen(preexec_fn=die_with_parent)``): ask Linux for
    SIGTERM when the parent dies, even by SIGKILL (``PR_SET_PDEATHSIG``, prctl(2)). Linux
    ties it to the parent *thread*: start the child from a thread that lives as long as
    the parent process."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def stripefleet_argv(*args: str) -> list[str]:
    """The command line that runs ``stripefleet ARGS...`` with this interpreter."""
    return [sys.executable, "-m", "stripefleet", *args]


@contextlib.contextmanager
def all_stopped(processes: list[ManagedProcess]) -> Iterator[list[ManagedProcess]]:
    """Yield ``processes`` and stop every one of them on the way out, whatever happens."""
    try:
        yield processes
    finally:
        for proc in reversed(processes):
            with contextlib.suppress(Exception):
                proc.stop()
