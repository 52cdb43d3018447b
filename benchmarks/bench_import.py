"""Import and notebook-display benchmark (issue 15).

Run: ``python benchmarks/bench_import.py [--quick] [--repeat K] [--docs]``.
Writes ``docs/bench/bench_import.md``.

Targets:

- ``import relusum`` at most 1.5x ``import numpy`` (same run, fresh processes,
  alternating, medians): scipy, matplotlib and torch imported only when used;
- ``ReluSum._repr_html_`` and ``FitResult._repr_html_`` fast enough to feel
  instant in Jupyter (well under 0.1 s at 1,000 units) and under 50 kB.

``--docs`` also times ``bash scripts/docs.sh`` (the whole site, gallery included).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "bench" / "bench_import.md"
HEAVY = ("scipy", "matplotlib", "torch", "pandas", "dask", "sklearn")

PROBE = """
import sys, time
t = time.perf_counter()
import {mod}
dt = time.perf_counter() - t
print(dt, ",".join(m for m in {heavy!r} if m in sys.modules))
"""


def import_time(mod: str) -> tuple[float, str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    out = subprocess.run(
        [sys.executable, "-c", PROBE.format(mod=mod, heavy=HEAVY)],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    ).stdout.split()
    return float(out[0]), (out[1] if len(out) > 1 else "")


def heavy_importers() -> list[str]:
    """``relusum`` modules that import a heavy package at import time (from ``-X importtime``).

    importtime lists a module after everything it imported, indented less: the first
    ``relusum.*`` line after a heavy package's line, at a smaller depth, imported it.
    """
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    err = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import relusum"],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    ).stderr.splitlines()
    rows = []
    for line in err:
        if line.startswith("import time:") and line.count("|") == 2:
            name = line.rsplit("|", 1)[1]
            rows.append((len(name) - len(name.lstrip()), name.strip()))
    found = []
    for i, (depth, name) in enumerate(rows):
        if name in HEAVY:
            for d2, n2 in rows[i + 1 :]:
                if d2 < depth and n2.startswith("relusum"):
                    found.append(f"`{n2}` imports `{name}`")
                    break
    return found


def repr_times(repeat: int) -> list[tuple[int, float, int, float, int]]:
    sys.path.insert(0, str(ROOT / "src"))
    import relusum

    rows = []
    for n in (10, 100, 1000):
        r = relusum.fit("sin(x)", domain=(0, 6), n_units=n)
        r.model._repr_html_()  # warm the lazy import
        tm, tf = [], []
        for _ in range(repeat):
            t = time.perf_counter()
            hm = r.model._repr_html_()
            tm.append(time.perf_counter() - t)
            t = time.perf_counter()
            hf = r._repr_html_()
            tf.append(time.perf_counter() - t)
        rows.append(
            (n, statistics.median(tm), len(hm.encode()), statistics.median(tf), len(hf.encode()))
        )
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="3 repeats instead of 7")
    ap.add_argument("--repeat", type=int, default=None)
    ap.add_argument("--docs", action="store_true", help="also time bash scripts/docs.sh")
    args = ap.parse_args()
    k = args.repeat or (3 if args.quick else 7)
    load = os.getloadavg()[0]
    tn, tr, heavy = [], [], ""
    for _ in range(k):  # alternate so machine load hits both alike
        tn.append(import_time("numpy")[0])
        t, heavy = import_time("relusum")
        tr.append(t)
    mn, mr = statistics.median(tn), statistics.median(tr)
    ratio = mr / mn
    reprs = repr_times(max(k, 5))
    lines = [
        "# Import and notebook display",
        "",
        f"Written by `python benchmarks/bench_import.py` on {platform.machine()} / "
        f"{os.cpu_count()} CPUs / Python {platform.python_version()}, {date.today()}; "
        f"load average {load:.1f} when it started. Medians of {k} fresh processes, "
        "alternating numpy and relusum; the time is the `import` statement alone.",
        "",
        "| import | median (s) | heavy modules loaded |",
        "|---|---:|---|",
        f"| `import numpy` | {mn:.3f} | |",
        f"| `import relusum` | {mr:.3f} | {heavy or 'none'} |",
        "",
        f"- `import relusum` / `import numpy` = {ratio:.2f}, target <= 1.5 "
        f"({'met' if ratio <= 1.5 else 'NOT met'}).",
    ]
    if heavy:
        who = heavy_importers()
        lines.append(
            f"- Loaded at import: {heavy}"
            + (f" ({'; '.join(who)} at module level)" if who else "")
            + ". `python -X importtime -c 'import relusum'` shows the chain."
        )
    lines += [
        "",
        "| units | `ReluSum._repr_html_` (ms) | size (kB) "
        "| `FitResult._repr_html_` (ms) | size (kB) |",
        "|---:|---:|---:|---:|---:|",
    ]
    for n, t1, s1, t2, s2 in reprs:
        lines.append(
            f"| {n:,} | {t1 * 1e3:.1f} | {s1 / 1e3:.1f} | {t2 * 1e3:.1f} | {s2 / 1e3:.1f} |"
        )
    lines += ["", "Both reprs build their SVG with NumPy and string formatting (no matplotlib)."]
    if args.docs:
        t = time.perf_counter()
        subprocess.run(["bash", str(ROOT / "scripts" / "docs.sh")], check=True, cwd=ROOT)
        lines += [
            "",
            f"- `bash scripts/docs.sh` (site and gallery): {time.perf_counter() - t:.0f} s.",
        ]
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
