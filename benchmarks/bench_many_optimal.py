"""Many curves with optimal least-squares knots: ``relusum.fit_many(..., knots="optimal")``.

Run: ``python benchmarks/bench_many_optimal.py [--quick] [--curves 100 1000 ...]``.
Writes ``docs/bench/bench_many_optimal.md`` (the optimal-knot column of the scale
benchmark's many-curves table, issue 11 item 5: 10^4 curves x 1,000 points).

Each curve has 1,000 points (``sin(6 t) (1 + c mod 5)`` plus noise, the data of
``bench_scale.py``'s many-curves table) and gets 8 units with free knots; the
search runs once per curve, in 2 worker processes (``n_jobs=2``).  Wall time
depends on the load of the shared machine, so the CPU time of the fits (the
parent and its worker processes) is reported too; counts that are not run are
extrapolated from the largest measured one and marked so.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import platform  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "bench" / "bench_many_optimal.md"


def table(g: int, seed: int = 3):
    import pandas as pd

    rng = np.random.default_rng(seed)
    c = np.repeat(np.arange(g), 1000)
    t = rng.uniform(0.0, 1.0, c.size)
    v = np.sin(6 * t) * (1 + c % 5) + 0.05 * rng.standard_normal(c.size)
    return pd.DataFrame({"curve": c, "t": t, "v": v})


def cpu_seconds() -> float:
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)  # finished worker processes
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> int:
    import relusum

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="100 curves only")
    ap.add_argument("--curves", type=int, nargs="+", help="curve counts to run")
    ap.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")
    args = ap.parse_args()
    counts = args.curves or ([100] if args.quick else [100, 1000])
    relusum.fit_many(table(2), by="curve", x="t", y="v", n_units=8, knots="optimal")  # warm up
    rows = []
    per_wall = per_cpu = None
    for g in counts:
        df = table(g)
        cpu0, start = cpu_seconds(), time.perf_counter()
        out = relusum.fit_many(
            df, by="curve", x="t", y="v", n_units=8, knots="optimal", n_jobs=args.jobs
        )
        wall = time.perf_counter() - start
        cpu = cpu_seconds() - cpu0
        per_wall, per_cpu = wall / g, cpu / g
        assert len(out) == g
        rows.append((g, f"{wall:.1f} s", f"{1e3 * per_cpu:.0f} ms", "measured"))
        print(rows[-1], f"load {os.getloadavg()[0]:.1f}", flush=True)
    if per_wall is not None and 10_000 not in counts:
        rows.append(
            (
                10_000,
                f"{per_wall * 10_000:.0f} s",
                f"{1e3 * per_cpu:.0f} ms",
                f"*extrapolated* from {counts[-1]:,} curves",
            )
        )
    ideal = per_cpu * 10_000 / args.jobs if per_cpu else float("nan")
    lines = [
        "# Many curves with optimal least-squares knots",
        "",
        f"Written by `benchmarks/bench_many_optimal.py{' --quick' if args.quick else ''}` on "
        f"{platform.machine()} ({os.cpu_count()} cores, shared; Python "
        f"{platform.python_version()}), {time.strftime('%Y-%m-%d')}; load average at the end "
        f"{os.getloadavg()[0]:.1f}.",
        "",
        "`relusum.fit_many(df, by='curve', x='t', y='v', n_units=8, knots='optimal', "
        f"n_jobs={args.jobs})`: 1,000 points per curve, one free-knot search per curve in "
        f"{args.jobs} worker processes (the same result as fitting each curve alone). "
        "*CPU per curve*: CPU seconds of the parent and its workers / curves, which the load "
        "of the shared machine does not inflate the way it inflates wall time.",
        "",
        "| curves | rows | wall | CPU per curve | |",
        "|---:|---:|---:|---:|---|",
        *[f"| {g:,} | {g * 1000:,} | {w} | {c} | {note} |" for g, w, c, note in rows],
        "",
        "Issue 11's target is 10^4 curves in 60 s on 2 cores, i.e. at most 12 ms of CPU per "
        "curve with both cores busy. At the measured CPU per curve, 10^4 curves need "
        f"about {ideal:.0f} s on {args.jobs} otherwise idle cores (*extrapolated*): "
        f"{'met' if ideal <= 60 else 'not met'}.",
        "",
    ]
    from _report import write_report

    write_report(OUT, lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
