"""Benchmark of fits at scale; writes docs/bench/bench_scale.md.

Run ``python benchmarks/bench_scale.py`` (a few minutes on 2 shared cores) or
``--full`` (adds 10^8 rows streamed from disk and on Dask; about half an
hour and 1.6 GB of disk).  ``--quick`` runs the smallest sizes only.
``--sizes 1e8 --dask-sizes 1e8 --losses l2 --no-many`` reruns only those rows
and keeps the others of the page (each row says which run measured it).

Tables
    1. One curve, N rows: seconds and peak memory (resident set of the process,
       measured in a fresh subprocess per cell) in memory (``relusum.fit`` on
       arrays: today's algorithm), streamed from a Parquet file in chunks
       (``relusum fit --data f.parquet``), and on a Dask LocalCluster of 2
       worker processes (data generated per partition, never stored; client
       memory only).  Fixed uniform knots and free (optimal) knots, L2 and
       L-infinity (in memory up to 10^6 rows for L-infinity).
    2. Many curves of 1,000 points: ``relusum.fit_many`` (one batched banded
       solve) against a Python loop of single ``relusum.fit`` calls.
    3. Throughput of the Dask path and the extrapolation to 10^9 rows,
       stated as such.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

OUT = ROOT / "docs" / "bench" / "bench_scale.md"
UNITS = 16

CHILD = textwrap.dedent(
    """
    import json, resource, sys, time
    import numpy as np
    mode, n, knots, path, loss = sys.argv[1], int(sys.argv[2]), *sys.argv[3:6]
    import relusum
    out = {}
    if mode == "memory":
        import pyarrow.parquet as pq
        tab = pq.read_table(path)
        t, v = tab.column("t").to_numpy(), tab.column("v").to_numpy()
        del tab
        start = time.perf_counter()
        r = relusum.fit((t, v), n_units=%(units)d, knots=knots, loss=loss)
    elif mode == "stream":
        import pandas, pyarrow.parquet, tqdm.auto  # imported outside the timing, as in memory
        from relusum.scale.files import fit_file
        start = time.perf_counter()
        r = fit_file(path, "t", "v", n_units=%(units)d, knots=knots, loss=loss, progress=False)
    elif mode == "dask":
        import dask.dataframe as dd, pandas as pd, tqdm.auto
        from relusum.scale.dask import dask_client
        def part(seed, rows=1_000_000):
            rng = np.random.default_rng(seed)
            t = rng.uniform(0.0, 10.0, rows)
            return pd.DataFrame({"t": t, "v": np.sin(t) * t + 0.1 * rng.standard_normal(rows)})
        with dask_client("local", n_workers=2):
            ddf = dd.from_map(part, list(range(n // 1_000_000)))
            start = time.perf_counter()
            r = relusum.fit(ddf, n_units=%(units)d, knots=knots, domain=(0, 10), loss=loss)
    out["seconds"] = time.perf_counter() - start  # fit and error pass together
    out["rmse"] = r.report.rmse
    out["max_abs_error"] = r.report.max_abs_error
    out["rows"] = r.report.n_samples
    out["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out))
    """
) % {"units": UNITS}


def write_parquet(path: Path, rows: int) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(0)
    schema = pa.schema([("t", pa.float64()), ("v", pa.float64())])
    with pq.ParquetWriter(path, schema) as w:
        left = rows
        while left:
            k = min(left, 1_000_000)
            t = rng.uniform(0.0, 10.0, k)
            v = np.sin(t) * t + 0.1 * rng.standard_normal(k)
            w.write_table(pa.table({"t": t, "v": v}))
            left -= k


def child(
    mode: str, rows: int, knots: str, path: str, timeout: float, loss: str = "l2"
) -> dict | None:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "OMP_NUM_THREADS": "1"}
    try:
        out = subprocess.run(
            [sys.executable, "-c", CHILD, mode, str(rows), knots, path, loss],
            capture_output=True,
            text=True,
            env=env,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return None
    if out.returncode:
        print(out.stderr[-2000:], file=sys.stderr)
        return None
    return json.loads(out.stdout.strip().splitlines()[-1])


def fmt_cell(res: dict | None) -> str:
    if res is None:
        return "–"
    return f"{res['seconds']:.2f} s / {res['peak_mb']:.0f} MB"


ORDER_LOSS = {"L2": 0, "L∞": 1}
ORDER_KNOTS = {"uniform": 0, "optimal": 1}
KNOTS = ["uniform", "optimal"]  # --knots narrows it


def table_one_curve(
    sizes: list[int], dask_sizes: list[int], losses: list[str], tmp: Path, stamp: str
) -> tuple[dict, dict]:
    """Rows ``(N, loss, knots) -> markdown row`` measured now, and the Dask rates."""
    rows: dict = {}
    dask_rate = {}
    for n in sorted(set(sizes) | set(dask_sizes)):
        path = tmp / f"d{n}.parquet"
        if n in sizes:
            write_parquet(path, n)
        for loss in losses:
            name = "L2" if loss == "l2" else "L∞"
            for knots in KNOTS:
                in_mem = n in sizes and n <= (10**7 if loss == "l2" else 10**6)
                mem = child("memory", n, knots, str(path), 900, loss) if in_mem else None
                st = child("stream", n, knots, str(path), 1800, loss) if n in sizes else None
                dask_ok = n in dask_sizes and loss == "l2"
                dk = child("dask", n, knots, "-", 3600, loss) if dask_ok else None
                if dk is not None:
                    dask_rate[(n, knots)] = dk["rows"] / dk["seconds"]
                ratio = "–"
                key = "rmse" if loss == "l2" else "max_abs_error"
                if mem and st:
                    ratio = f"{st[key] / mem[key]:.6f}"
                rows[(n, name, knots)] = (
                    f"| {n:.0e} | {name} | {knots} | {fmt_cell(mem)} | {fmt_cell(st)} | "
                    f"{fmt_cell(dk)} | {ratio} | {stamp} |"
                )
                print(rows[(n, name, knots)], flush=True)
        if path.exists():
            path.unlink()
    return rows, dask_rate


def old_rows(text: str) -> dict:
    """The one-curve rows of the page as last written (older layouts upgraded)."""
    import re

    load = re.search(r"load average at the end ([0-9.]+)", text)
    date = re.search(r"\), (\d{4}-\d{2}-\d{2})\.", text)
    stamp = f"{date.group(1) if date else '?'}, load {load.group(1) if load else '?'}"
    out = {}
    for line in text.splitlines():
        m = re.match(r"^\| (\d(?:\.\d+)?e\+\d+) \| (.*)\|$", line)
        if not m:
            continue
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 6:  # N, knots, memory, stream, dask, ratio: L2, no stamp
            cells = [cells[0], "L2", *cells[1:], stamp]
        if len(cells) != 8 or cells[1] not in ORDER_LOSS:
            continue
        out[(int(float(cells[0])), cells[1], cells[2])] = "| " + " | ".join(cells) + " |"
    return out


def one_curve_section(rows: dict) -> list[str]:
    lines = [
        "## One curve: time and peak memory against N",
        "",
        f"{UNITS} units. Each cell: seconds of the fit including the pass that measures the "
        "errors over all rows / peak resident memory of the process (a fresh subprocess per "
        "cell; for Dask, the client's, the workers' not included). In memory is today's "
        "algorithm on arrays already loaded (loading excluded; its peak includes the arrays). "
        "Streaming re-reads the Parquet file in 2^20-row chunks per pass (the x range comes "
        "from the file's statistics: 2 passes for uniform knots, 3 for optimal L2, 2 or more "
        "for optimal L∞, one per round of the exact check). Dask: LocalCluster of 2 worker "
        "processes, the data generated per partition of 10^6 rows, never stored. The last "
        "column says which run measured the row (the script reruns only the sizes asked "
        "for and keeps the other rows); the load average is the machine's at the end of "
        "that run, on 2 cores shared with other work. Error ratio: RMSE (L2) or max error "
        "(L∞) of the streamed fit over the in-memory one.",
        "",
        "| N | loss | knots | in memory | streamed (Parquet) | Dask, 2 workers | "
        "error stream / memory | run |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for key in sorted(rows, key=lambda k: (k[0], ORDER_LOSS[k[1]], ORDER_KNOTS[k[2]])):
        lines.append(rows[key])
    return lines + [""]


def table_many(curve_counts: list[int], loop_max: int, optimal_counts: list[int]) -> list[str]:
    import pandas as pd

    import relusum

    lines = [
        "## Many curves of 1,000 points",
        "",
        "`relusum.fit_many(df, by='curve', x='t', y='v', n_units=8)` on a pandas DataFrame "
        "(uniform knots per curve: one block-diagonal banded solve for all curves, errors "
        "measured over every row) against a Python loop of `relusum.fit` on each curve's "
        f"arrays (run up to {loop_max:,} curves; larger counts are extrapolated linearly "
        "from the largest measured loop, marked *extrapolated*). Optimal knots run one "
        "free-knot fit per curve in 2 worker processes (`n_jobs=2`; see "
        "[bench_many_optimal](bench_many_optimal.md) for 10^4 curves measured). All timings after "
        "a warm-up call (imports, compiled kernels).",
        "",
        "| curves | rows | fit_many (batched) | loop of fit | speed-up | optimal knots (loop) |",
        "|---|---|---|---|---|---|",
    ]
    rng = np.random.default_rng(3)
    per_loop = None
    per_opt = None
    warm = pd.DataFrame({"curve": np.repeat([0, 1], 50), "t": np.tile(np.linspace(0, 1, 50), 2)})
    warm["v"] = np.sin(6 * warm["t"])
    relusum.fit_many(warm, by="curve", x="t", y="v", n_units=8)  # imports and compiled kernels
    relusum.fit_many(warm, by="curve", x="t", y="v", n_units=8, knots="optimal", progress=False)
    relusum.fit((warm["t"].to_numpy()[:50], warm["v"].to_numpy()[:50]), n_units=8)
    for g in curve_counts:
        c = np.repeat(np.arange(g), 1000)
        t = rng.uniform(0.0, 1.0, c.size)
        v = np.sin(6 * t) * (1 + c % 5) + 0.05 * rng.standard_normal(c.size)
        df = pd.DataFrame({"curve": c, "t": t, "v": v})
        start = time.perf_counter()
        relusum.fit_many(df, by="curve", x="t", y="v", n_units=8)
        batched = time.perf_counter() - start
        if g <= loop_max:
            order = np.argsort(c, kind="stable")
            bounds = np.searchsorted(c[order], np.arange(g + 1))
            ts, vs = t[order], v[order]
            start = time.perf_counter()
            for i in range(g):
                a, b = bounds[i], bounds[i + 1]
                relusum.fit((ts[a:b], vs[a:b]), n_units=8)
            loop = time.perf_counter() - start
            per_loop = loop / g
            loop_txt = f"{loop:.2f} s"
        else:
            loop = per_loop * g
            loop_txt = f"{loop:.1f} s *extrapolated*"
        if g in optimal_counts:
            start = time.perf_counter()
            relusum.fit_many(
                df, by="curve", x="t", y="v", n_units=8, knots="optimal", progress=False, n_jobs=2
            )
            opt = time.perf_counter() - start
            per_opt = opt / g
            opt_txt = f"{opt:.1f} s"
        elif per_opt is not None:
            opt_txt = f"{per_opt * g:.0f} s *extrapolated*"
        else:
            opt_txt = "–"
        lines.append(
            f"| {g:,} | {c.size:,} | {batched:.2f} s | {loop_txt} | {loop / batched:.0f}x | "
            f"{opt_txt} |"
        )
        print(lines[-1], flush=True)
    return lines + [""]


def old_sections(text: str) -> dict[str, list[str]]:
    """The ``## `` sections of the page as last written, by heading."""
    out: dict[str, list[str]] = {}
    head = None
    for line in text.splitlines():
        if line.startswith("## "):
            head = line
            out[head] = []
        skip = ("Not measured here", "Total benchmark", "Last run")
        if head is not None and not line.startswith(skip):
            out[head].append(line)
    return out


def _section_rows(lines: list[str]) -> float:
    """The row count the Dask throughput section was measured at (0 if none)."""
    import re

    m = re.search(r"\): (\d(?:\.\d+)?e\+\d+) rows", "\n".join(lines))
    return float(m.group(1)) if m else 0.0


def dask_section(rate: dict, stamp: str) -> list[str]:
    lines = ["## Dask throughput and 10^9 rows", ""]
    (n, _), r = max(((k, v) for k, v in rate.items() if k[1] == "uniform"), default=(None, None))
    if n is None:
        return []
    if n >= 10**9:
        lines.append(
            f"Measured ({stamp}): {n:.0e} rows on a LocalCluster of 2 worker processes, "
            f"uniform knots, generated per partition of 10^6 rows (never stored): "
            f"{n / r:.0f} s wall time, {r:,.0f} rows/s ({r / 2:,.0f} rows/s per worker; two "
            "passes over partitions generated anew in each: the summary, then the errors; "
            "no range pass, the domain is given). The reduction moves only O(n) numbers per "
            f"partition, so 16 workers would take about {n / (r / 2) / 16 / 60:.1f} minutes "
            "if throughput per worker holds (*extrapolation, not measured*)."
        )
        return lines + [""]
    lines.append(
        f"Measured ({stamp}): {n:.0e} rows, uniform knots, {r:,.0f} rows/s on 2 worker "
        f"processes ({r / 2:,.0f} rows/s per worker; two passes over partitions generated "
        "anew in each: the summary, then the errors; no range pass, the domain is given). "
        f"*Extrapolation, not measured:* 10^9 rows would take about {1e9 / r / 60:.0f} "
        f"minutes on the same 2 workers, and about {1e9 / (r / 2) / 16 / 60:.1f} minutes "
        "on 16 workers if throughput per worker holds (the reduction moves only "
        "O(n) numbers per partition). A 10^9-row run was not attempted: this 2-core "
        "machine is shared and the benchmark must stay within minutes."
    )
    return lines + [""]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--full", action="store_true", help="add 10^8 rows (streamed and on Dask)")
    ap.add_argument("--quick", action="store_true", help="smallest sizes only")
    ap.add_argument("--sizes", type=float, nargs="*", help="rows streamed (e.g. 1e8)")
    ap.add_argument("--dask-sizes", type=float, nargs="*", help="rows on Dask")
    ap.add_argument("--losses", nargs="*", default=None, help="l2 and/or linf")
    ap.add_argument("--no-many", action="store_true", help="skip the many-curves table")
    ap.add_argument("--knots", nargs="*", default=None, help="uniform and/or optimal")
    args = ap.parse_args()
    losses = ["l2", "linf"]
    if args.quick:
        sizes, dask_sizes = [10**5, 10**6], [2 * 10**6]
        curves, loop_max, opt_counts = [100, 1000], 100, [10]
    elif args.full:
        sizes, dask_sizes = [10**5, 10**6, 10**7, 10**8], [10**7, 10**8]
        curves, loop_max, opt_counts = [100, 1000, 10_000], 1000, [1000]
    else:
        sizes, dask_sizes = [10**5, 10**6, 10**7], [10**7]
        curves, loop_max, opt_counts = [100, 1000, 10_000], 1000, [1000]
    if args.sizes is not None or args.dask_sizes is not None:
        sizes = [int(v) for v in args.sizes or []]
        dask_sizes = [int(v) for v in args.dask_sizes or []]
    if args.losses:
        losses = args.losses
    if args.knots:
        KNOTS[:] = args.knots
    start = time.perf_counter()
    old = OUT.read_text() if OUT.exists() else ""
    rows = old_rows(old)
    sections = old_sections(old)
    stamp = "{date}, load {load}"
    with tempfile.TemporaryDirectory() as tmp:
        new_rows, rate = table_one_curve(sizes, dask_sizes, losses, Path(tmp), stamp)
    many = None if args.no_many else table_many(curves, loop_max, opt_counts)
    load = f"{os.getloadavg()[0]:.1f}"
    date = time.strftime("%Y-%m-%d")
    for key, row in new_rows.items():
        rows[key] = row.replace("{date}", date).replace("{load}", load)
    stamp = stamp.format(date=date, load=load)
    if many is None:
        many = sections.get("## Many curves of 1,000 points", [])
    dask = sections.get("## Dask throughput and 10^9 rows", [])
    measured = max((k[0] for k in rate if k[1] == "uniform"), default=0)
    if measured and measured >= _section_rows(dask):  # the largest run's throughput stays
        dask = dask_section(rate, stamp)
    lines = [
        "# Fits at scale: streaming, Dask, many curves",
        "",
        f"Written by `benchmarks/bench_scale.py` on {platform.machine()} "
        f"({os.cpu_count()} cores, shared; Python {platform.python_version()}), last run "
        f"{date} (`{' '.join(sys.argv[1:]) or 'default sizes'}`; load average at its end "
        f"{load} on {os.cpu_count()} cores). Timings on a shared machine are noisy.",
        "",
        *one_curve_section(rows),
        *many,
        *dask,
        f"Last run: {time.perf_counter() - start:.0f} s.",
        "",
    ]
    from _report import write_report

    write_report(OUT, lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
