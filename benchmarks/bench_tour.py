"""Tour benchmark: ``relusum tour`` now against the code before, in one run, and its parts.

Run: ``python benchmarks/bench_tour.py [--quick] [--baseline REV] [--repeat K]``.
Writes ``docs/bench/bench_tour.md``.

Targets (issue 9, item 7) on the 2-core machine:

- ``relusum tour`` (trained networks included) in under 20 s;
- ``relusum tour --no-train`` in under 10 s;

each a fresh process, imports included.  The machine is shared, so every run
of the current tour is paired with a run of the tour at ``--baseline`` (default:
the commit before this work, 28.7 s and 19.1 s on 2026-11-27) on today's library,
in the same session, alternating, and the table gives the ratio as well as the
times and the load average.  ``--quick`` uses 30 units instead of 100.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "bench" / "bench_tour.md"
#: The last commit of the tour before issue 9 (figures, animation and timings of 0.1.0).
BASELINE = "42c9cde"
TARGETS = {"--no-train": 10.0, "": 20.0}


def old_source(rev: str, into: Path) -> Path:
    """Today's ``src/`` with the tour and the PyTorch bridge of ``rev``.

    Each of ``relusum/tour``, ``relusum/cli/tour.py`` and ``relusum/torch_bridge``
    is taken from ``rev`` as it was there (a module or a package), so the old and
    the new tour call the same fitting library: the ratio is the tour's own (the
    exact minimax that replaced the greedy max-error fit after ``42c9cde`` costs
    more, and would otherwise count against the new tour only).  The bridge of
    ``42c9cde`` is kept as today's (only its training changed since).
    """
    src = into / "src"
    shutil.copytree(ROOT / "src", src, ignore=shutil.ignore_patterns("__pycache__"))
    parts = ["src/relusum/tour", "src/relusum/cli/tour.py"]
    if rev != BASELINE:
        parts.append("src/relusum/torch_bridge")
    for part in parts:
        for old in (into / part, into / (part + ".py")):
            if old.is_dir():
                shutil.rmtree(old)
            elif old.exists():
                old.unlink()
        names = [part, part + ".py"] if not part.endswith(".py") else [part]
        found = [
            n
            for n in names
            if subprocess.run(
                ["git", "-C", str(ROOT), "cat-file", "-e", f"{rev}:{n}"], capture_output=True
            ).returncode
            == 0
        ]
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", rev, *found], check=True, capture_output=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return src


def run_cli(src: Path, args: list[str]) -> tuple[float, float, str]:
    """Wall and CPU seconds (children) of ``relusum tour ARGS`` from ``src``, a fresh process."""
    env = {**os.environ, "PYTHONPATH": str(src)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from relusum.cli import main; sys.exit(main())",
            "tour",
            *args,
        ],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, proc.stdout


def timed(fn):
    start, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return time.perf_counter() - start, time.process_time() - cpu, out


def parts(units: int) -> list[tuple[str, float, float]]:
    """The current tour's stages, timed in this process (after its imports)."""
    import relusum
    from relusum.tour import _figures, animation, fits, frames, results, story
    from relusum.tour.progress import Progress

    t, d = "x*sin(x)", (0.0, 10.0)
    tgt = relusum.make_target(t, d)
    bar = Progress(0, False)
    rows = []
    conv_n = relusum.tour.convergence_units(units)
    panels = relusum.tour.panel_units(units)
    w, c, ls = timed(lambda: fits.uniform_fits(t, d, sorted(set(conv_n) | set(panels)), t, bar))
    rows.append((f"uniform least squares, {len(ls)} fits", w, c))
    w, c, shown = timed(lambda: frames.grow(tgt, units, bar))
    rows.append((f"units one at a time, {units} frames", w, c))
    for key in ("interpolation", "optimal_l2", "optimal_linf"):
        w, c, (conv, _) = timed(lambda key=key: fits.convergence(t, d, conv_n, ls, (key,), bar))
        rows.append((f"convergence: {relusum.tour.METHODS[key][0]}, {len(conv_n)} fits", w, c))
    w, c, (conv, _) = timed(lambda: fits.convergence(t, d, conv_n, ls, ("lstsq",), bar))
    with tempfile.TemporaryDirectory() as tmp, _figures():
        from relusum.plot import save_figure

        def stills():
            for k, fig in enumerate(
                (
                    story.fig_relu(),
                    story.fig_shift(),
                    story.fig_neuron(),
                    story.fig_layer(),
                    story.fig_terms(2),
                    story.fig_terms(3),
                    results.fig_units(tgt, [ls[n] for n in panels]),
                    results.fig_convergence(tgt, conv),
                )
            ):
                save_figure(fig, Path(tmp) / f"{k}.png", dpi=story.DPI, bbox_inches=None)

        w, c, _ = timed(stills)
        rows.append(("figures 1-8 (PNG)", w, c))
        w, c, _ = timed(lambda: animation.write_gif(tgt, shown, Path(tmp) / "a.gif", bar))
        rows.append((f"GIF, {units} frames", w, c))
    try:
        from relusum.torch_bridge import train_many
    except ImportError:
        return rows
    from relusum.tour.data import TRAIN_STEPS, TRAIN_UNITS

    sizes = tuple(n for n in TRAIN_UNITS if n <= units)
    w, c, _ = timed(lambda: train_many(t, d, sizes, steps=TRAIN_STEPS, seed=0, progress=False))
    rows.append((f"trained networks {sizes}, {TRAIN_STEPS} steps, one batch", w, c))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="30 units instead of 100")
    ap.add_argument("--baseline", default=BASELINE, help=f"the old code (default {BASELINE})")
    ap.add_argument("--repeat", type=int, default=1, help="pairs of runs per case (default 1)")
    args = ap.parse_args()
    units = 30 if args.quick else 100
    loads = [os.getloadavg()[0]]
    new_src = ROOT / "src"
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        old_src = old_source(args.baseline, Path(tmp) / "old")
        for flag, limit in TARGETS.items():
            extra = [flag] if flag else []
            best = {}
            for _ in range(args.repeat):
                for name, src in (("old", old_src), ("new", new_src)):
                    out = Path(tmp) / f"{name}{flag}"
                    shutil.rmtree(out, ignore_errors=True)
                    w, c, text = run_cli(
                        src, ["--max-units", str(units), *extra, "--out", str(out)]
                    )
                    loads.append(os.getloadavg()[0])
                    if name not in best or w < best[name][0]:
                        best[name] = (w, c, text)
            trained = "trained network" in best["new"][2]
            rows.append((f"relusum tour {flag}".strip(), best["old"], best["new"], limit, trained))
        stage_rows = parts(units)
    lines = [
        "# Tour benchmark",
        "",
        f"Written by `python benchmarks/bench_tour.py{' --quick' if args.quick else ''}` on "
        f"{platform.machine()} / {os.cpu_count()} CPUs / Python {platform.python_version()}, "
        f"{time.strftime('%Y-%m-%d %H:%M')}. Target x*sin(x) on [0, 10], {units} units. The "
        "machine is shared: load average "
        f"{min(loads):.1f} to {max(loads):.1f} during the runs (2 cores, so above 2 every "
        "process waits for a core and wall times grow; CPU times and the new/old ratios are "
        "the steadier numbers). Old = the tour of "
        f"`{args.baseline}` (its `tour.py` and `cli/tour.py`) on today's library, run "
        "alternately with the new tour in the same session"
        + (f", best of {args.repeat} each" if args.repeat > 1 else "")
        + ".",
        "",
        "| command (fresh process) | old wall (s) | new wall (s) | new/old wall | old CPU (s) | "
        "new CPU (s) | new/old CPU | target |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for what, old, new, limit, _ in rows:
        lines.append(
            f"| `{what}` | {old[0]:.1f} | {new[0]:.1f} | {new[0] / old[0]:.2f} | "
            f"{old[1]:.1f} | {new[1]:.1f} | {new[1] / old[1]:.2f} | < {limit:g} s |"
        )
    lines += [
        "",
        "CPU counts every process of the run (the tour's worker included).",
        "",
        "Stages of the new tour in one process (after imports):",
        "",
        "| stage | wall (s) | CPU (s) |",
        "|---|---:|---:|",
    ]
    lines += [f"| {what} | {w:.2f} | {c:.2f} |" for what, w, c in stage_rows]
    lines.append("")
    for what, old, new, limit, trained in rows:
        ok = "met" if new[0] < limit else "MISSED"
        note = "" if trained or "no-train" in what else " (PyTorch missing: no training)"
        lines.append(
            f"- `{what}`{note}: {new[0]:.1f} s wall (old {old[0]:.1f} s), target "
            f"< {limit:g} s: {ok} at this load."
        )
    lines.append("")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
