"""Stripe emulator: API latency with a slow webhook endpoint and with a state file, side
by side with a baseline; webhook delivery throughput.

Each run starts its own emulator process and, through the official SDK, creates N
Checkout Sessions and pays each through the control API (2 requests per iteration).

- ``baseline``: memory only, no webhook endpoint.
- ``slow-endpoint``: memory only, an endpoint for ``*`` that answers after 2 s: delivery
  is off the request path, so the ratio to the baseline should stay near 1 (target < 1.5).
- ``state-file``: ``--state-file`` (the whole store written atomically after each change).
- ``deliveries``: an endpoint for ``*`` answering at once; time from the first payment to
  the last of the 4 x N deliveries recorded.

Results: a table on stdout and JSON in ``bench/results/emulator-<time>.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import stripe
from aiohttp import web

from stripefleet.common.processes import ManagedProcess, free_port, stripefleet_argv
from stripefleet.stripe_emulator import EmulatorClient

RESULTS = Path(__file__).resolve().parent / "results"
PARAMS: dict[str, Any] = {
    "mode": "payment",
    "line_items": [{"price_data": {"currency": "eur", "unit_amount": 1250,
                                   "product_data": {"name": "Poster"}}, "quantity": 2}],
    "success_url": "http://127.0.0.1:9/success?session_id={CHECKOUT_SESSION_ID}",
    "cancel_url": "http://127.0.0.1:9/cart",
    "metadata": {"order_id": "42"},
}


class Receiver:
    """An aiohttp webhook receiver in a thread: ``/slow`` answers after ``delay`` s."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.port = free_port()
        self.count = 0
        self.loop = asyncio.new_event_loop()
        app = web.Application()
        app.router.add_post("/slow", self._slow)
        app.router.add_post("/fast", self._fast)
        self.runner = web.AppRunner(app, access_log=None)
        ready = threading.Event()

        def serve() -> None:
            asyncio.set_event_loop(self.loop)
            self.loop.run_until_complete(self.runner.setup())
            self.loop.run_until_complete(web.TCPSite(self.runner, "127.0.0.1",
                                                     self.port).start())
            ready.set()
            self.loop.run_forever()

        threading.Thread(target=serve, daemon=True).start()
        ready.wait(10)

    async def _slow(self, request: Any) -> Any:
        await asyncio.sleep(self.delay)
        return web.Response(text="ok")

    async def _fast(self, request: Any) -> Any:
        self.count += 1
        return web.Response(text="ok")

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path}"


def start(tmp: Path, name: str, *args: str) -> tuple[Any, str, str]:
    """An emulator process; returns (process, url, secret key)."""
    port = free_port()
    folder = tmp / name
    proc = ManagedProcess(stripefleet_argv("stripe-emulator", "--port", str(port),
                                           "--keys-file", str(folder / "keys.json"), *args),
                          log_path=folder / "emulator.log").start()
    url = f"http://127.0.0.1:{port}"
    proc.wait_http(f"{url}/_emulator/health")
    key = json.loads((folder / "keys.json").read_text())["keys"][0]["secret_key"]
    return proc, url, key


def iterations(url: str, key: str, n: int) -> list[float]:
    """Seconds per create + pay, for ``n`` iterations."""
    client = stripe.StripeClient(key, base_addresses={"api": url}, max_network_retries=0)
    control = EmulatorClient(url)
    out = []
    for _ in range(n):
        started = time.perf_counter()
        session = client.v1.checkout.sessions.create(params=PARAMS)
        control.pay(session.id)
        out.append(time.perf_counter() - started)
    return out


def summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {"n": len(samples), "p50_ms": statistics.median(ordered) * 1000,
            "p95_ms": ordered[int(len(ordered) * 0.95) - 1] * 1000,
            "total_s": sum(samples)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench_emulator", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=200, help="iterations per run")
    parser.add_argument("--slow-seconds", type=float, default=2.0)
    args = parser.parse_args(argv)
    receiver = Receiver(args.slow_seconds)
    results: dict[str, Any] = {"n": args.n, "slow_seconds": args.slow_seconds}
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        runs = {
            "baseline": (),
            "slow-endpoint": (),
            "state-file": ("--state-file", str(tmp / "state-file" / "state.json")),
        }
        for name, extra in runs.items():
            proc, url, key = start(tmp, name, "--delivery-timeout", "30", *extra)
            try:
                if name == "slow-endpoint":
                    stripe.StripeClient(key, base_addresses={"api": url}).v1.webhook_endpoints \
                        .create(params={"url": receiver.url("slow"), "enabled_events": ["*"]})
                results[name] = summary(iterations(url, key, args.n))
            finally:
                proc.stop()
        proc, url, key = start(tmp, "deliveries")
        try:
            stripe.StripeClient(key, base_addresses={"api": url}).v1.webhook_endpoints.create(
                params={"url": receiver.url("fast"), "enabled_events": ["*"]})
            started = time.perf_counter()
            iterations(url, key, args.n)
            expected = 4 * args.n
            deadline = time.monotonic() + 120
            while receiver.count < expected and time.monotonic() < deadline:
                time.sleep(0.01)
            elapsed = time.perf_counter() - started
            results["deliveries"] = {"delivered": receiver.count, "expected": expected,
                                     "seconds": elapsed, "per_second": receiver.count / elapsed}
        finally:
            proc.stop()
    base = results["baseline"]["p50_ms"]
    results["ratios"] = {k: results[k]["p50_ms"] / base for k in ("slow-endpoint",
                                                                   "state-file")}
    print(f"emulator: {args.n} x (create session + pay), p50 / p95 per iteration")
    print(f"{'run':<16}{'p50 ms':>10}{'p95 ms':>10}{'x baseline':>12}")
    for name in runs:
        r = results[name]
        ratio = r["p50_ms"] / base
        print(f"{name:<16}{r['p50_ms']:>10.2f}{r['p95_ms']:>10.2f}{ratio:>12.2f}")
    d = results["deliveries"]
    print(f"deliveries: {d['delivered']}/{d['expected']} in {d['seconds']:.2f} s "
          f"({d['per_second']:.0f}/s, including the {args.n} iterations)")
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H%M%SZ")
    (RESULTS / f"emulator-{stamp}.json").write_text(json.dumps(results, indent=2))
    ok = results["ratios"]["slow-endpoint"] < 1.5 and d["delivered"] >= d["expected"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
