"""Push, verify and check (functional) one setting to 1,000 emulated sites (50 ms each)
at concurrency 100: three requests a site (PUT, read-back, ``POST /api/test-stripe``).

README, section 'Benchmarks'. The fleet is a FaultFleet in its own process (every request
answered after ``--latency-ms``); the engine runs in its own process too, so its peak RSS
is its own. Side by side, the original propagation script's sequential ``requests`` loop
(PUT only, no verify) runs on the same fleet, over ``--loop-sites`` sites, and its time
is extrapolated to all of them when that is a subset. The bound is ``requests x latency /
concurrency``.

Targets: engine wall time <= 1.5x the bound; >= 20x faster than the loop; peak RSS
< 150 MB. Results: a table on stdout and JSON in ``bench/results/``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from stripefleet.propagation import PushOptions, Target, propagate

API_KEY = "bench-api-key-0123456789abcdef"
RESULTS = Path(__file__).resolve().parent / "results"
PK_ENGINE = "pk_test_benchEngine0123456789"
PK_LOOP = "pk_test_benchLoop0123456789"


def start_fleet(args: argparse.Namespace, tmp: Path) -> tuple[subprocess.Popen[bytes], Path]:
    """The FaultFleet subprocess; returns once its sites file is written."""
    sites, log = tmp / "sites.txt", tmp / "fleet.log"
    with open(log, "wb") as out:  # a file, not a pipe: a chatty fleet never blocks
        proc = subprocess.Popen(
            [sys.executable, "-m", "stripefleet.testing.fleet", "--sites", str(args.sites),
             "--latency-ms", str(args.latency_ms), "--api-key", API_KEY, "--sites-file",
             str(sites), "--stats-file", str(tmp / "stats.json")],
            stderr=out)
    deadline = time.monotonic() + 60
    while b"fault fleet ready" not in log.read_bytes():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise SystemExit(f"the fleet did not start:\n{log.read_text()[-2000:]}")
        time.sleep(0.05)
    return proc, sites


def stop_fleet(proc: subprocess.Popen[bytes], tmp: Path) -> dict[str, Any]:
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)
    stats = tmp / "stats.json"
    return dict(json.loads(stats.read_text())) if stats.exists() else {}


def original_loop(urls: list[str]) -> float:
    """The original propagation script's loop, verbatim apart from the URLs, the key and
    its ``print`` (a status check instead): one PUT per site, in turn, a new connection
    each."""
    # Imported here, not at the top: this module also runs as the engine's --child
    # process, whose peak RSS is the benchmark's memory figure; requests would add
    # 5.1 MB to it (ru_maxrss 35.1 -> 40.3 MB, measured). requests is also only in
    # the dev extra (an optional dependency), not in stripefleet's own.
    import requests  # lazy: kept out of the --child engine's measured RSS (above)

    started = time.perf_counter()
    for s in urls:
        url = f"{s.rstrip('/')}/api/export/settings/stripe_publishable_key"
        resp = requests.put(url, headers={
            'Content-Type': 'application/json',
            'X-API-Key': API_KEY
        }, json={'value': PK_LOOP}, timeout=8)
        assert resp.status_code == 200, resp.text
    return time.perf_counter() - started


def run_engine_child(args: argparse.Namespace, sites: Path, run: int) -> dict[str, Any]:
    """Run the engine in its own process; its JSON report, plus RUSAGE_CHILDREN."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    proc = subprocess.run(
        [sys.executable, "-m", "bench.bench_propagation", "--child", "--sites-file", str(sites),
         "--concurrency", str(args.concurrency), "--rate", str(args.rate), "--run", str(run)],
        capture_output=True, text=True, timeout=600, cwd=Path(__file__).resolve().parent.parent)
    if proc.returncode != 0:
        raise SystemExit(f"engine child failed:\n{proc.stderr}")
    report = dict(json.loads(proc.stdout.splitlines()[-1]))
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    report["children_maxrss_kb"] = after if after > before else None
    return report


def child(args: argparse.Namespace) -> int:
    """In the engine's own process: push + verify, then report wall time and peak RSS."""
    urls = Path(args.sites_file).read_text().split()
    options = PushOptions(concurrency=args.concurrency, rate=args.rate, timeout=8, retries=3)
    started, cpu = time.perf_counter(), time.process_time()
    recap = asyncio.run(propagate((Target(u, API_KEY) for u in urls), "stripe_publishable_key",
                                  f"{PK_ENGINE}{args.run}", options=options))
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    print(json.dumps({"wall_s": wall, "cpu_s": cpu, "recap": recap.counts,
                      "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
    return 0 if recap.counts["changed"] == len(urls) else 1


def run_cli(args: argparse.Namespace, sites: Path) -> float:
    """``stripefleet push`` end to end (interpreter start-up included), seconds."""
    env = {**os.environ, "TEMPLATE_MASTER_API_KEY": API_KEY,
           "STRIPEFLEET_HOME": str(sites.parent / "home")}
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "stripefleet", "push", "stripe_publishable_key", "--sites-file",
         str(sites), "--value", "pk_test_benchCli0123456789", "--concurrency",
         str(args.concurrency), "--rate", str(args.rate), "--json"],
        capture_output=True, text=True, env=env, timeout=600)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"stripefleet push failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return wall


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench --only propagation --",
                                     description=__doc__)
    parser.add_argument("--sites", type=int, default=1000)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--rate", type=float, default=5.0, help="per-site req/s (engine default)")
    parser.add_argument("--loop-sites", type=int, default=200,
                        help="sites for the original script's loop (0: all); "
                             "extrapolated to --sites")
    parser.add_argument("--repeat", type=int, default=3,
                        help="engine runs (a fresh process each); the best and the median "
                             "are reported, the targets judged on the median")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--run", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--sites-file", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args)

    load = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench-propagation-") as tmpdir:
        tmp = Path(tmpdir)
        fleet, sites = start_fleet(args, tmp)
        try:
            urls = sites.read_text().split()
            loop_urls = urls[: args.loop_sites] if args.loop_sites else urls
            loop_s = original_loop(loop_urls)
            runs = [run_engine_child(args, sites, i) for i in range(args.repeat)]
            cli_s = run_cli(args, sites)
        finally:
            stats = stop_fleet(fleet, tmp)

    walls = sorted(r["wall_s"] for r in runs)
    engine = {"wall_s": statistics.median(walls), "best_s": walls[0], "walls_s": walls,
              "cpu_s": statistics.median(r["cpu_s"] for r in runs),
              "recap": runs[-1]["recap"], "maxrss_kb": max(r["maxrss_kb"] for r in runs),
              "children_maxrss_kb": max(r["children_maxrss_kb"] or 0 for r in runs)}
    requests_made = 3 * args.sites  # PUT, read-back, functional check
    bound = requests_made * args.latency_ms / 1000 / args.concurrency
    loop_full = loop_s * len(urls) / len(loop_urls)
    rss_mb = engine["maxrss_kb"] / 1024
    result = {
        "time": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "command": "make bench  (python -m bench --only propagation)",
        "sites": args.sites, "latency_ms": args.latency_ms, "concurrency": args.concurrency,
        "rate_per_site": args.rate, "requests": requests_made, "bound_s": bound,
        "engine_wall_s": engine["wall_s"], "engine_best_s": engine["best_s"],
        "engine_runs_s": engine["walls_s"],
        "engine_vs_bound": engine["wall_s"] / bound if bound else float("inf"),
        "engine_recap": engine["recap"], "engine_peak_rss_mb": rss_mb,
        "children_maxrss_mb": (engine["children_maxrss_kb"] or 0) / 1024,
        "cli_end_to_end_s": cli_s,
        "loop_sites": len(loop_urls), "loop_wall_s": loop_s,
        "loop_extrapolated_s": loop_full, "loop_extrapolated": len(loop_urls) != len(urls),
        "speedup_vs_loop": loop_full / engine["wall_s"], "fleet": stats,
        "cpu_count": os.cpu_count(), "load_average_at_start": load, "engine_cpu_s": engine["cpu_s"],
    }
    ok = {"bound": result["engine_vs_bound"] <= 1.5, "speedup": result["speedup_vs_loop"] >= 20,
          "rss": rss_mb < 150}
    result["targets_met"] = ok
    rows = [
        ("bound (requests x latency / concurrency)", f"{bound:.2f} s", ""),
        (f"engine push+verify+check, {args.sites} sites (median)", f"{engine['wall_s']:.2f} s",
         f"{result['engine_vs_bound']:.2f}x bound (target <= 1.5x) "
         f"{'OK' if ok['bound'] else 'MISSED'}"),
        (f"engine, best of {args.repeat}", f"{engine['best_s']:.2f} s",
         "runs: " + ", ".join(f"{w:.2f}" for w in walls)),
        ("engine CPU time (median)", f"{engine['cpu_s']:.2f} s",
         f"{os.cpu_count()} CPUs, load average {load[0]:.1f} at start"),
        ("stripefleet push CLI, end to end", f"{cli_s:.2f} s", "incl. interpreter start-up"),
        (f"original script's loop, PUT only, {len(loop_urls)} sites", f"{loop_s:.2f} s",
         "measured"),
        (f"original script's loop, {len(urls)} sites", f"{loop_full:.2f} s",
         "extrapolated" if result["loop_extrapolated"] else "measured"),
        ("speed-up engine vs loop", f"{result['speedup_vs_loop']:.1f}x",
         f"target >= 20x {'OK' if ok['speedup'] else 'MISSED'}"),
        ("engine peak RSS", f"{rss_mb:.1f} MB",
         f"target < 150 MB {'OK' if ok['rss'] else 'MISSED'}"),
        ("fleet: requests / max in flight / CPU",
         f"{stats.get('requests')} / {stats.get('max_in_flight')} / {stats.get('cpu_s')} s",
         "all runs together (loop, engine runs, CLI)"),
    ]
    width = max(len(r[0]) for r in rows)
    for label, value, note in rows:
        print(f"{label:<{width}}  {value:>10}  {note}")
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"propagation-{result['time'].replace(':', '')}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"results: {out}")
    return 0 if all(ok.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
