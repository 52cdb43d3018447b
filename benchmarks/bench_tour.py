"""Tour benchmark: the default ``relusum tour``, its parts, and the GIF vs matplotlib's own.

Run: ``python benchmarks/bench_tour.py [--quick]``.  Writes ``docs/bench/bench_tour.md``.

Targets (issue 4):
- the default tour (``relusum tour --no-train``, a fresh process, imports included)
  in under 30 s on the 2-core machine;
- the trained-network curve adds at most 30 s more (``relusum tour``);
- the 100-frame GIF is cheap: timed against the usual way of making one,
  ``matplotlib.animation.FuncAnimation`` + ``PillowWriter`` redrawing the same
  figure (target + sum + terms) every frame.

``--quick`` times the tour once with 30 units instead of the default 100.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402

import relusum  # noqa: E402
from relusum import tour  # noqa: E402
from relusum.plot import style  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "docs" / "bench" / "bench_tour.md"


def run_cli(args: list[str]) -> tuple[float, float, str]:
    """Wall and CPU seconds (children) of ``relusum tour ARGS`` in a fresh interpreter."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", "import sys; from relusum.cli import main; sys.exit(main())",
         "tour", *args],
        capture_output=True, text=True, check=True,
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, proc.stdout


def timed(fn):
    start, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return time.perf_counter() - start, time.process_time() - cpu, out


def gif_peer(tgt, results, path: Path) -> None:
    """The textbook way: FuncAnimation, full redraw per frame, PillowWriter."""
    from matplotlib.animation import FuncAnimation, PillowWriter
    from matplotlib.figure import Figure

    from relusum.plot import COLORS, plot_terms

    a, b = tgt.domain
    xs = np.linspace(a, b, 800)
    yt = tgt.evaluate(xs)
    fig = Figure(figsize=(7.0, 4.8), dpi=80)
    top, bot = fig.subplots(2, 1, sharex=True, height_ratios=[2.2, 1])

    def draw(k: int):
        s = results[k].model
        top.clear()
        bot.clear()
        top.plot(xs, yt, color=COLORS["target"], lw=1.4)
        top.plot(xs, s(xs), color=COLORS["sum"], lw=2.2)
        top.set_title(f"{s.n_units} units")
        plot_terms(s, bot, (a, b))
        return []

    anim = FuncAnimation(fig, draw, frames=len(results), blit=False)
    anim.save(str(path), writer=PillowWriter(fps=10), dpi=80)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="30 units instead of 100")
    args = ap.parse_args()
    units = 30 if args.quick else 100
    load = os.getloadavg()[0]
    rows: list[tuple[str, float, float, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        base = ["--max-units", str(units)]
        wall, cpu, out_text = run_cli([*base, "--no-train", "--out", f"{tmp}/a"])
        rows.append(("`relusum tour --no-train` (fresh process)", wall, cpu, "< 30 s"))
        wall2, cpu2, out2 = run_cli([*base, "--out", f"{tmp}/b"])
        trained = "trained network" in out2
        rows.append(("`relusum tour` (with trained networks)" if trained else
                     "`relusum tour` (no PyTorch bridge: same as above)", wall2, cpu2,
                     "< 60 s"))
        # Parts, in this process.
        t, d = tour.DEFAULT_TARGET, tour.DEFAULT_DOMAIN
        tgt = relusum.make_target(t, d)
        w, c, fits = timed(lambda: [relusum.fit(t, d, n_units=n) for n in range(1, units + 1)])
        rows.append((f"{units} least-squares fits (panels, frames)", w, c, ""))
        conv_units = tour.convergence_units(units)
        for key, (label, kw) in tour.METHODS.items():
            if key == "lstsq":
                continue
            try:
                w, c, _ = timed(lambda kw=kw: [relusum.fit(t, d, n_units=n, **kw)
                                               for n in conv_units])
            except (ValueError, ImportError):
                continue
            rows.append((f"convergence: {label}, {len(conv_units)} fits", w, c, ""))
        bar = tour._Progress(0, False)
        with style():
            w, c, _ = timed(lambda: tour._write_gif(tgt, fits, Path(tmp) / "ours.gif", bar))
            rows.append((f"GIF, {units} frames: relusum (blitting, one palette)", w, c, ""))
            gif_ours = (w, c)
            w, c, _ = timed(lambda: gif_peer(tgt, fits, Path(tmp) / "peer.gif"))
            rows.append((f"GIF, {units} frames: FuncAnimation + PillowWriter", w, c, ""))
            gif_peer_t = (w, c)
        sizes = {p: (Path(tmp) / p).stat().st_size for p in ("ours.gif", "peer.gif")}

    ok = "met" if rows[0][1] < 30 else "MISSED"
    extra = rows[1][1] - rows[0][1]
    ok2 = "met" if extra < 30 else "MISSED"
    lines = [
        "# Tour benchmark",
        "",
        f"Written by `python benchmarks/bench_tour.py{' --quick' if args.quick else ''}` on "
        f"{platform.machine()} / {os.cpu_count()} CPUs / Python {platform.python_version()}, "
        f"{time.strftime('%Y-%m-%d')}; load average {load:.1f} when it started (other work "
        "on the machine slows the wall times, not the CPU times). Target "
        f"{tour.DEFAULT_TARGET} on [{tgt.domain[0]:g}, {tgt.domain[1]:g}], {units} units.",
        "",
        "| what | wall (s) | CPU (s) | target |",
        "|---|---:|---:|---|",
    ]
    for what, w, c, target in rows:
        lines.append(f"| {what} | {w:.2f} | {c:.2f} | {target} |")
    lines += [
        "",
        f"- Default tour without training: {rows[0][1]:.1f} s wall, target < 30 s ({ok}).",
        f"- Trained networks add {extra:.1f} s wall, target < 30 s ({ok2}).",
        f"- GIF: relusum / FuncAnimation = {gif_ours[0] / gif_peer_t[0]:.2f} in wall time, "
        f"{gif_ours[1] / gif_peer_t[1]:.2f} in CPU time; files {sizes['ours.gif'] / 1e6:.2f} MB "
        f"vs {sizes['peer.gif'] / 1e6:.2f} MB.",
        "",
    ]
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text("\n".join(lines))
    print("\n".join(lines))
    print(out_text)


if __name__ == "__main__":
    main()
