"""Site webhooks: signed ``checkout.session.completed`` events per second against a bare
Flask endpoint on the same gunicorn server (target: at least 40 %); checkouts per second.

Set-up (README, section 'Benchmarks'): PostgreSQL (a fresh schema), a Stripe emulator, and the
site app served by gunicorn with 4 workers (``--workers``), the same app object also
answering ``POST /bench/bare`` with 200 and nothing else: the baseline, measured in the
same run on the same server with the same client.

1. ``checkouts``: N guest checkouts of an unlimited product through ``POST /api/checkout/``
   (each reserves stock, stores an order and creates a Checkout Session on the emulator).
2. ``webhooks``: one signed ``checkout.session.completed`` per order (each a real
   payment: inbox row, order ``pending -> paid``, stock conversion), posted to
   ``/api/webhook/stripe/``.
3. ``bare``: the same bodies posted to ``/bench/bare``.

Requests are sent by aiohttp with ``--concurrency`` in flight. Both endpoints are warmed
up with ``--concurrency`` requests first; then steps 2 and 3 alternate in ``--rounds``
slices of the events, so that a drift in the machine's speed weighs on both alike.
The CPU each process group spent per request (``bench/cpu.py``: the site's workers,
PostgreSQL, the load generator) is reported for both: on two cores the run is CPU-bound
and those figures explain the ratio. ``--profile DIR`` records the workers with py-spy
(``--gil``, collapsed stacks) during the webhook requests, in one round.

Results: a table on stdout and JSON in ``bench/results/webhooks-<time>.json``; exit 1
when webhooks/bare < 0.40.

Run: ``make bench BENCH_ARGS="--only webhooks"`` or ``python -m bench.bench_webhooks -n 400``.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import requests
import sqlalchemy as sa
from flask import Response
from gunicorn.app.base import BaseApplication

from bench import cpu
from stripefleet.common.processes import ManagedProcess, free_port, stripefleet_argv
from stripefleet.site.app import create_app

RESULTS = Path(__file__).resolve().parent / "results"
API_KEY = "bench-master-key-2025-abcdef"
WEBHOOK_SECRET = "whsec_benchSecret0123456789abcdef"
POSTGRES = os.environ.get("STRIPEFLEET_TEST_POSTGRES",
                          "postgresql+psycopg://postgres@127.0.0.1:5432/test")
TARGET = 0.40
#: Products the orders are spread over (a catalogue, not one hot row).
PRODUCTS = 50


def serve(port: int, workers: int) -> None:
    """Serve the site app plus ``POST /bench/bare`` with gunicorn (blocks)."""
    def load() -> Any:
        app = create_app()
        app.add_url_rule("/bench/bare", "bench_bare", lambda: Response("{}", 200),
                         methods=["POST"])
        return app

    class Bench(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            for key, value in {"bind": f"127.0.0.1:{port}", "workers": workers,
                               "threads": 8, "worker_class": "gthread",
                               "accesslog": None}.items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            return load()

    Bench().run()


def _sign(payload: str) -> str:
    t = int(time.time())
    mac = hmac.new(WEBHOOK_SECRET.encode(), f"{t}.{payload}".encode(), hashlib.sha256)
    return f"t={t},v1={mac.hexdigest()}"


async def _fire(url: str, bodies: list[tuple[str, dict[str, str]]],
                concurrency: int) -> tuple[float, dict[int, int], list[Any]]:
    """POST every body; return (seconds, status counts, JSON answers)."""
    statuses: dict[int, int] = {}
    answers: list[Any] = [None] * len(bodies)
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(len(bodies)):
        queue.put_nowait(i)
    async with aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=concurrency)) as session:
        async def worker() -> None:
            while not queue.empty():
                i = queue.get_nowait()
                data, headers = bodies[i]
                async with session.post(url, data=data.encode(), headers=headers) as r:
                    statuses[r.status] = statuses.get(r.status, 0) + 1
                    answers[i] = await r.json(content_type=None)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return time.perf_counter() - started, statuses, answers


def _start_profilers(folder: Path, master: int) -> list[subprocess.Popen[bytes]]:
    """One ``py-spy record`` per gunicorn worker (a child of ``master``)."""
    folder.mkdir(parents=True, exist_ok=True)
    workers = cpu.children(master)
    local = Path(sys.executable).with_name("py-spy")  # installed in the same venv
    spy = str(local) if local.exists() else "py-spy"
    spies = [subprocess.Popen([spy, "record", "--nonblocking", "--gil", "--rate", "500",
                               "--format", "raw", "-o", str(folder / f"worker-{pid}.txt"),
                               "--pid", str(pid)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL) for pid in workers]
    time.sleep(1.0)  # py-spy attaches
    return spies


def _stop_profilers(spies: list[subprocess.Popen[bytes]]) -> None:
    for spy in spies:
        spy.send_signal(2)  # SIGINT: py-spy writes its output and exits
    for spy in spies:
        spy.wait(timeout=30)


@dataclass
class Phase:
    """The sums over the rounds of one endpoint: seconds, statuses, answers, CPU seconds
    per process group."""

    seconds: float = 0.0
    statuses: dict[int, int] = field(default_factory=dict)
    answers: list[Any] = field(default_factory=list)
    cpu: dict[str, float] = field(default_factory=dict)

    def add(self, seconds: float, statuses: dict[int, int], answers: list[Any],
            spent: dict[str, float]) -> None:
        self.seconds += seconds
        self.answers += answers
        for code, count in statuses.items():
            self.statuses[code] = self.statuses.get(code, 0) + count
        for name, used in spent.items():
            self.cpu[name] = self.cpu.get(name, 0.0) + used


def _alternate(site: str, events: list[tuple[str, dict[str, str]]], args: Any,
               groups: dict[str, int], master: int) -> tuple[Phase, Phase]:
    """Post the events to the webhook endpoint and to the bare one, in ``--rounds``
    alternating slices, so that a drift of the machine's speed (other tenants, CPU
    frequency) weighs on both alike."""
    hook, bare = Phase(), Phase()
    rounds = 1 if args.profile else max(1, args.rounds)
    size = -(-len(events) // rounds)
    for start in range(0, len(events), size):
        part = events[start:start + size]
        spies = _start_profilers(args.profile, master) if args.profile else []
        before = cpu.snapshot(groups)
        hook.add(*asyncio.run(_fire(f"{site}/api/webhook/stripe/", part, args.concurrency)),
                 cpu.used(before, middle := cpu.snapshot(groups)))
        _stop_profilers(spies)
        bare.add(*asyncio.run(_fire(f"{site}/bench/bare", part, args.concurrency)),
                 cpu.used(middle, cpu.snapshot(groups)))
    return hook, bare


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; see the module doc."""
    parser = argparse.ArgumentParser(prog="bench_webhooks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=400, help="orders / events [400]")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers [4]")
    parser.add_argument("--concurrency", type=int, default=32, help="requests in flight [32]")
    parser.add_argument("--rounds", type=int, default=5,
                        help="alternating webhook/bare slices of the events [5]")
    parser.add_argument("--profile", type=Path, metavar="DIR",
                        help="record the site workers with py-spy during the webhooks run "
                             "(collapsed stacks in DIR; needs `pip install py-spy`)")
    parser.add_argument("--serve", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.serve, args.workers)
        return 0

    schema = f"bench_{uuid.uuid4().hex[:10]}"
    engine = sa.create_engine(POSTGRES)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    except sa.exc.OperationalError as exc:
        print(f"PostgreSQL is needed at {POSTGRES}: {str(exc).splitlines()[0]}")
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="bench-webhooks-"))
    emu_port, site_port = free_port(), free_port()
    emu_url, site = f"http://127.0.0.1:{emu_port}", f"http://127.0.0.1:{site_port}"
    env = {"DATABASE_URL": f"{POSTGRES}?options=-csearch_path%3D{schema}",
           "TEMPLATE_MASTER_API_KEY": API_KEY, "STRIPE_API_BASE": emu_url,
           "SITE_GUEST_CHECKOUT": "1", "SITE_INSTANCE_DIR": str(tmp / "site"),
           "STRIPEFLEET_ENCRYPTION_KEY": ""}
    procs = []
    try:
        emu = ManagedProcess(stripefleet_argv("stripe-emulator", "--port", str(emu_port),
                                              "--keys-file", str(tmp / "keys.json")),
                             log_path=tmp / "emulator.log").start()
        procs.append(emu)
        emu.wait_http(f"{emu_url}/_emulator/health")
        subprocess.run(stripefleet_argv("site", "db", "upgrade"), env={**os.environ, **env},
                       check=True, capture_output=True)
        catalogue = tmp / "catalogue.json"
        catalogue.write_text(json.dumps([{"slug": f"poster-{i}", "name": f"Poster {i}",
                                          "price": 1500, "stock": None}
                                         for i in range(PRODUCTS)]))
        subprocess.run(stripefleet_argv("site", "products", "import", str(catalogue)),
                       env={**os.environ, **env}, check=True, capture_output=True)
        server = ManagedProcess([sys.executable, "-m", "bench.bench_webhooks", "--serve",
                                 str(site_port), "--workers", str(args.workers)],
                                env=env, log_path=tmp / "site.log",
                                cwd=Path(__file__).resolve().parent.parent).start()
        procs.append(server)
        server.wait_http(f"{site}/api/health", timeout=60)
        keys = json.loads((tmp / "keys.json").read_text())["keys"][0]
        for name, value in (("stripe_secret_key", keys["secret_key"]),
                            ("stripe_webhook_secret", WEBHOOK_SECRET)):
            requests.put(f"{site}/api/export/settings/{name}", json={"value": value},
                         headers={"X-API-Key": API_KEY}, timeout=10).raise_for_status()
        ids = [p["id"] for p in requests.get(f"{site}/api/products", timeout=10)
               .json()["products"]]
        warm = args.concurrency  # requests of each kind before the measured runs
        carts = [json.dumps({"items": [{"id": ids[i % len(ids)], "type": "product",
                                        "quantity": 1}],
                             "customer_info": {"email": "bench@example.com"}})
                 for i in range(args.n + warm)]
        json_headers = {"Content-Type": "application/json"}
        asyncio.run(_fire(f"{site}/api/checkout/", [(carts[0], json_headers)] * 8, 8))
        checkout_s, checkout_st, orders = asyncio.run(
            _fire(f"{site}/api/checkout/", [(c, json_headers) for c in carts[:args.n]],
                  args.concurrency))
        _, _, warm_orders = asyncio.run(
            _fire(f"{site}/api/checkout/", [(c, json_headers) for c in carts[args.n:]],
                  args.concurrency))
        events = []
        for answer in [*warm_orders, *orders]:
            if not answer or not answer.get("success"):
                continue
            payload = json.dumps({
                "id": f"evt_{uuid.uuid4().hex[:24]}", "object": "event",
                "type": "checkout.session.completed", "livemode": False,
                "created": int(time.time()), "data": {"object": {
                    "id": answer["session_id"], "object": "checkout.session",
                    "payment_status": "paid", "status": "complete", "amount_total": 1500,
                    "currency": "eur", "payment_intent": f"pi_{uuid.uuid4().hex[:24]}",
                    "metadata": {"order_id": str(answer["order_id"])}}}})
            events.append((payload, {**json_headers, "Stripe-Signature": _sign(payload)}))
        warm_events, events = events[:warm], events[warm:]
        asyncio.run(_fire(f"{site}/api/webhook/stripe/", warm_events, args.concurrency))
        asyncio.run(_fire(f"{site}/bench/bare", warm_events, args.concurrency))
        groups = {"site": server.proc.pid, "emulator": emu.proc.pid}  # type: ignore[union-attr]
        hook, bare = _alternate(site, events, args, groups, server.proc.pid)  # type: ignore[union-attr]
    finally:
        for proc in reversed(procs):
            proc.stop()
        with engine.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        engine.dispose()

    hook_s, hook_st, bare_s, bare_st = hook.seconds, hook.statuses, bare.seconds, bare.statuses
    processed = sum(1 for a in hook.answers if a and a.get("status") == "processed")
    results = {
        "n": args.n, "workers": args.workers, "concurrency": args.concurrency,
        "checkouts_per_s": args.n / checkout_s, "checkout_statuses": checkout_st,
        "webhooks_per_s": len(events) / hook_s, "webhook_statuses": hook_st,
        "webhooks_processed": processed, "bare_per_s": len(events) / bare_s,
        "bare_statuses": bare_st,
    }
    results["ratio"] = results["webhooks_per_s"] / results["bare_per_s"]
    # CPU milliseconds per request, by process group (where the two cores went).
    results["cpu_ms_per_request"] = {
        phase: {name: round(1000 * s / len(events), 3) for name, s in spent.items()}
        for phase, spent in (("webhooks", hook.cpu), ("bare", bare.cpu))}
    print(f"site webhooks: gunicorn {args.workers} workers, PostgreSQL, "
          f"{args.concurrency} in flight")
    print(f"{'run':<12}{'requests':>10}{'per s':>10}  statuses")
    print(f"{'checkouts':<12}{args.n:>10}{results['checkouts_per_s']:>10.1f}  {checkout_st}")
    print(f"{'webhooks':<12}{len(events):>10}{results['webhooks_per_s']:>10.1f}  {hook_st} "
          f"({processed} processed)")
    print(f"{'bare':<12}{len(events):>10}{results['bare_per_s']:>10.1f}  {bare_st}")
    print(f"webhooks / bare = {results['ratio']:.2f} (target >= {TARGET:.2f})")
    for phase, per in results["cpu_ms_per_request"].items():
        shares = ", ".join(f"{name} {ms:.2f}" for name, ms in per.items() if ms > 0)
        print(f"CPU ms per request, {phase}: {shares}")
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H%M%SZ")
    (RESULTS / f"webhooks-{stamp}.json").write_text(json.dumps(results, indent=2))
    ok = results["ratio"] >= TARGET and processed == len(events) == args.n
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
