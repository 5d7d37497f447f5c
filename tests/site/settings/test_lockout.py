"""The API-key lock-out under concurrency and with several worker processes: the
failure is recorded and the count checked in one step, and ``serve --workers N`` refuses
a per-process (``memory://``) counter.
"""

from __future__ import annotations

import os
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from stripefleet.common.processes import free_port, stripefleet_argv
from tests.site.conftest import API_KEY, RunningSite, StartSite


def _wrong_key(site: RunningSite, barrier_index: int) -> int:
    resp = requests.get(f"{site.url}/api/export/settings",
                        headers={"X-API-Key": f"wrong-key-number-{barrier_index:04d}"},
                        timeout=30)
    return resp.status_code


def test_eleven_concurrent_wrong_keys_earn_ten_401_and_one_429(start_site: StartSite) -> None:
    """11 wrong keys sent at once: exactly 10 are answered 401, the 11th 429 (the failure
    is recorded and the limit checked in one step, so no two requests share a slot)."""
    site = start_site(args=("--threads", "16"))
    with ThreadPoolExecutor(max_workers=11) as pool:
        statuses = sorted(pool.map(lambda i: _wrong_key(site, i), range(11)))
    assert statuses == [401] * 10 + [429], statuses


def test_serve_with_workers_refuses_the_in_memory_counter(tmp_path: Path) -> None:
    """``site serve --workers 2`` with ``SITE_RATELIMIT_STORAGE_URI=memory://`` (the
    default) exits 1 and names the setting: each worker would count on its own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SITE_")}
    env.update({"TEMPLATE_MASTER_API_KEY": API_KEY,
                "DATABASE_URL": f"sqlite:///{tmp_path / 'site.db'}",
                "STRIPEFLEET_ENCRYPTION_KEY": ""})
    proc = subprocess.run(
        stripefleet_argv("site", "serve", "--port", str(free_port()), "--workers", "2",
                         "--instance-dir", str(tmp_path / "instance")),
        env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1, proc.stderr
    assert "SITE_RATELIMIT_STORAGE_URI" in proc.stderr
    assert "redis://" in proc.stderr


def test_serve_with_workers_shares_the_counter_in_redis(launch_site, postgres_url: str,
                                                        redis_url: str) -> None:
    """With 3 gunicorn workers and a Redis counter, 14 wrong keys earn exactly 10 401s:
    the workers share one count."""
    site = launch_site(db_url=postgres_url, env={"SITE_RATELIMIT_STORAGE_URI": redis_url},
                       args=("--workers", "3", "--threads", "4"))
    with ThreadPoolExecutor(max_workers=14) as pool:
        statuses = sorted(pool.map(lambda i: _wrong_key(site, i), range(14)))
    assert statuses == [401] * 10 + [429] * 4, statuses
    assert site.get("/api/export/settings", api_key=API_KEY).status_code == 429
