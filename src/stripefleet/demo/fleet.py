"""Start a fleet of real site processes on loopback for the demo.

Each site is ``stripefleet site serve`` in its own process, with its own instance folder
(and so its own SQLite database and encryption key) under one temporary folder.
"""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass
from pathlib import Path

from stripefleet.common.files import private_folder, private_sqlite
from stripefleet.common.processes import ManagedProcess, free_port, stripefleet_argv

_ALNUM = string.ascii_letters + string.digits


def random_token(length: int) -> str:
    """``length`` random letters and digits (``secrets``), for demo keys."""
    return "".join(secrets.choice(_ALNUM) for _ in range(length))


@dataclass
class DemoSite:
    """One running site of the demo fleet."""

    index: int
    url: str
    instance_dir: Path
    process: ManagedProcess


class SiteFleet:
    """``count`` real sites on free loopback ports, started on enter, stopped on exit.

    Args:
        count: how many sites (1 or more).
        workdir: the demo's folder; site N gets ``workdir/site-N`` (its instance folder,
            SQLite database, encryption key and log).
        api_key: the fleet's API key (``TEMPLATE_MASTER_API_KEY`` of every site).
        extra_env: more environment for every site (``STRIPE_API_BASE``, ...).
        timeout: seconds to wait for each site's ``/api/health``.

    Entering yields the sites, in order, once each answers. A site that exits or does
    not answer in time raises ``ProcessFailed`` (with its log's tail) after every site
    started so far has been stopped.
    """

    def __init__(self, count: int, workdir: Path, *, api_key: str,
                 extra_env: dict[str, str] | None = None, timeout: float = 60.0) -> None:
        self.sites: list[DemoSite] = []
        self.timeout = timeout
        for index in range(1, count + 1):
            port = free_port()
            instance = workdir / f"site-{index}"
            # Customers' personal data and encrypted keys: folder 0700, database 0600.
            database_url = f"sqlite:///{private_folder(instance) / 'site.db'}"
            private_sqlite(database_url)
            env = {
                **(extra_env or {}),
                "TEMPLATE_MASTER_API_KEY": api_key,
                "DATABASE_URL": database_url,
            }
            proc = ManagedProcess(
                stripefleet_argv("site", "serve", "--host", "127.0.0.1", "--port", str(port),
                                 "--instance-dir", str(instance)),
                env=env,
                log_path=instance / "site.log",
            )
            self.sites.append(DemoSite(index, f"http://127.0.0.1:{port}", instance, proc))

    def __enter__(self) -> list[DemoSite]:
        try:
            for site in self.sites:  # start them all, then wait: they boot side by side
                site.process.start()
            for site in self.sites:
                site.process.wait_http(f"{site.url}/api/health", timeout=self.timeout)
        except BaseException:
            self.stop()
            raise
        return self.sites

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop every site process (SIGTERM, then SIGKILL after 10 s)."""
        for site in reversed(self.sites):
            site.process.stop()
