"""Training against the optimum: Adam on a one-hidden-layer ReLU net vs the optimal fit.

Run: ``python benchmarks/bench_training.py [--quick]``.  Writes
``docs/bench/bench_training.md``.

Issue 5: for sin, GELU and Runge with n = 4, 8, 16, 32, 64 units, the error of
the trained network (best and median of 3 seeds, 3,000 full-batch Adam steps,
PyTorch's default initialisation) against the optimal fit
(``relusum.fit(..., knots="optimal")``) and against training started from the
optimal fit (``init="fit"``), and the time of each.  Every error is the max
absolute error on the verification grid (``relusum.fitting.api.measure``), on
the same samples for all methods.  ``--quick``: n = 4, 16, 64 and 1,000 steps.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

import relusum
from relusum._io import atomic_write_text
from relusum.fitting.api import measure
from relusum.torch_bridge import train

OUT = Path(__file__).resolve().parents[1] / "docs" / "bench" / "bench_training.md"

TARGETS = [
    ("sin", "sin(x)", (0.0, "2*pi")),
    ("GELU", "gelu(x)", (-4.0, 4.0)),
    ("Runge", "1/(1+25*x**2)", (-1.0, 1.0)),
]
SEEDS = (0, 1, 2)


def optimal_fit(formula: str, domain, n: int):
    start = time.perf_counter()
    try:
        r = relusum.fit(formula, domain, n, knots="optimal", progress=False)
        how = "optimal"
    except ValueError:
        r = relusum.fit(formula, domain, n)
        how = "uniform l2"
    return r, time.perf_counter() - start, how


def run_one(formula: str, domain, n: int, steps: int) -> dict:
    fit, fit_s, how = optimal_fit(formula, domain, n)
    errs, secs = [], []
    for seed in SEEDS:
        r = train(formula, domain, n, steps=steps, seed=seed, progress=False)
        errs.append(measure(r.relusum, r.target)[1])
        secs.append(r.seconds)
    warm = train(formula, domain, n, steps=steps, seed=0, init="fit", progress=False)
    return {
        "n": n,
        "fit_err": fit.report.max_abs_error,
        "fit_rmse": fit.report.rmse,
        "fit_s": fit_s,
        "how": how,
        "best": float(np.min(errs)),
        "median": float(np.median(errs)),
        "train_s": float(np.median(secs)),
        "warm_err": measure(warm.relusum, warm.target)[1],
        "warm_s": warm.seconds,
        "warm_start": warm.start,
        "warm_loss": float(warm.history[-1] / warm.history[0]),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="n = 4, 16, 64 and 1,000 steps")
    args = ap.parse_args()
    units = (4, 16, 64) if args.quick else (4, 8, 16, 32, 64)
    steps = 1000 if args.quick else 3000
    threads = torch.get_num_threads()
    t0 = time.perf_counter()
    rows = []
    for name, formula, domain in TARGETS:
        for n in units:
            row = run_one(formula, domain, n, steps)
            row["target"] = name
            rows.append(row)
            print(
                f"{name:6} n={n:3}  optimal {row['fit_err']:.2e} ({row['fit_s']:.2f} s)  "
                f"trained best {row['best']:.2e} median {row['median']:.2e} "
                f"({row['train_s']:.1f} s)  init=fit {row['warm_err']:.2e} ({row['warm_s']:.1f} s)",
                flush=True,
            )
    total = time.perf_counter() - t0
    med_ratio = np.array([r["median"] / r["fit_err"] for r in rows])
    best_ratio = np.array([r["best"] / r["fit_err"] for r in rows])
    time_ratio = np.array([r["train_s"] / r["fit_s"] for r in rows])
    warm_ratio = np.array([r["warm_err"] / r["fit_err"] for r in rows])
    warm_loss = [r["warm_loss"] for r in rows]
    how = sorted({r["how"] for r in rows})
    lines = [
        "# Training vs the optimal fit",
        "",
        f"Written by `python benchmarks/bench_training.py{' --quick' if args.quick else ''}` "
        f"on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; "
        f"{platform.processor() or platform.machine()}, "
        f"Python {platform.python_version()}, NumPy {np.__version__}, PyTorch {torch.__version__} "
        f"(CPU; training runs on 1 thread, {threads} available); whole run {total:.0f} s.",
        "",
        f"Trained: one-hidden-layer ReLU network, full-batch Adam, {steps:,} steps, cosine "
        "learning-rate schedule from 1e-2 to 1e-4, PyTorch's default initialisation (input "
        "scaled to [-1, 1], output standardised), seeds 0, 1, 2; the network with the lowest "
        "training loss is kept. `init=fit`: the same training started from the optimal fit "
        '(learning rate 1e-4). Optimal fit: `relusum.fit(..., knots="optimal")` '
        f"(used: {', '.join(how)}). All on the same 2,000 samples; errors are the max absolute "
        "error on the 100,000-point verification grid. Times are wall-clock seconds "
        "(training time includes setting up; `init=fit` includes the fit it starts from).",
        "",
        "Domains: sin on [0, 2π], GELU on [-4, 4], Runge 1/(1+25x²) on [-1, 1].",
        "",
        "| target | n | optimal fit max err | fit s | trained best | trained median | "
        "median / optimal | train s (median) | train s / fit s | init=fit max err | "
        "init=fit loss change | init=fit s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['target']} | {r['n']} | {r['fit_err']:.2e} | {r['fit_s']:.2f} | "
            f"{r['best']:.2e} | {r['median']:.2e} | {r['median'] / r['fit_err']:.1f}x | "
            f"{r['train_s']:.1f} | {r['train_s'] / r['fit_s']:.0f}x | {r['warm_err']:.2e} | "
            f"{r['warm_loss'] - 1:+.1e} | {r['warm_s']:.1f} |"
        )
    lines += [
        "",
        "## Summary",
        "",
        f"- Median trained network vs optimal fit, max error: {np.min(med_ratio):.1f}x to "
        f"{np.max(med_ratio):.0f}x worse "
        f"(geometric mean {np.exp(np.mean(np.log(med_ratio))):.1f}x); "
        f"the best of 3 seeds: {np.min(best_ratio):.1f}x to {np.max(best_ratio):.0f}x worse.",
        f"- Time: training takes {np.min(time_ratio):.0f}x to {np.max(time_ratio):.0f}x as long "
        "as the optimal fit.",
        f"- Training started from the optimal fit ends at {np.min(warm_ratio):.4f}x to "
        f"{np.max(warm_ratio):.4f}x the optimal fit's max error; its training loss after "
        f"the last step differs from the starting loss by {min(warm_loss) - 1:+.1e} "
        f"to {max(warm_loss) - 1:+.1e} (relative; column `init=fit loss change`)."
        + (
            " Gradient descent neither improves the optimum nor leaves it by a useful amount."
            if np.max(np.abs(warm_ratio - 1)) < 0.01
            else ""
        ),
        f"- The optimal fit has a smaller max error than the median trained network in "
        f"{int(np.sum(med_ratio > 1))} of {med_ratio.size} cases, and than the best of 3 seeds "
        f"in {int(np.sum(best_ratio > 1))} of {best_ratio.size}; it is at least 10x better "
        f"than the median in {int(np.sum(med_ratio >= 10))} and at least 100x in "
        f"{int(np.sum(med_ratio >= 100))}.",
        "",
    ]
    atomic_write_text(OUT, "\n".join(lines))
    print(f"wrote {OUT} in {total:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
