"""``python -m bench [--only NAME] [--list] [ARGS...]``: run every ``bench/bench_*.py``.

Each benchmark module defines ``main(argv: list[str]) -> int``; its docstring's first
line is shown by ``--list``. ``--only propagation`` runs ``bench_propagation`` alone
(repeatable); arguments after ``--`` go to the benchmarks run. The exit code is the
highest any benchmark returned.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from pathlib import Path


def discover() -> dict[str, str]:
    """Benchmark name (``propagation``) -> module name (``bench.bench_propagation``)."""
    here = Path(__file__).resolve().parent
    return {info.name.removeprefix("bench_"): f"bench.{info.name}"
            for info in sorted(pkgutil.iter_modules([str(here)]), key=lambda i: i.name)
            if info.name.startswith("bench_")}


def main(argv: list[str] | None = None) -> int:
    args_in = list(sys.argv[1:] if argv is None else argv)
    passthrough: list[str] = []
    if "--" in args_in:
        cut = args_in.index("--")
        args_in, passthrough = args_in[:cut], args_in[cut + 1:]
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", action="append", metavar="NAME",
                        help="run only this benchmark (repeatable)")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    args = parser.parse_args(args_in)
    found = discover()
    if args.list:
        for name, module in found.items():
            doc = (importlib.import_module(module).__doc__ or "").strip().splitlines()
            print(f"{name:20} {doc[0] if doc else ''}")
        return 0
    names = args.only or list(found)
    unknown = [n for n in names if n not in found]
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; known: {', '.join(found)}")
    worst = 0
    for name in names:
        print(f"== bench {name} ==", flush=True)
        code = int(importlib.import_module(found[name]).main(passthrough) or 0)
        worst = max(worst, code)
    return worst


if __name__ == "__main__":
    raise SystemExit(main())
