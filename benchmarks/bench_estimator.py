"""Noisy-data benchmark: relusum against the tools people use for piecewise-linear regression.

Run: ``python benchmarks/bench_estimator.py [--full]``.  Writes ``docs/bench/bench_estimator.md``.

Data: a continuous piecewise-linear truth with two breakpoints (0.3, 0.7 on [0, 1], slopes
2, -1, 3) plus N(0, 0.2^2) noise; a held-out set of 10,000 points scores each fit (RMSE against
the truth).  Compared, in the same run:

- relusum ``fit(pieces=3, knots="optimal")`` (free knots, the peers' family) and
  ``ReluSumRegressor(n_units="auto")`` (uniform knots, 5-fold CV);
- piecewise-regression (Muggeo) with 2 breakpoints, no bootstrap restarts;
- pwlf ``fitfast(3)``;
- scikit-learn ``SplineTransformer(degree=1, n_knots=10) + RidgeCV`` and ``IsotonicRegression``
  (not monotone here, so it is expected to lose: shown for scale).

Model selection: the hit rate of the true number of breakpoints (2) over seeds, relusum's BIC on
free knots against piecewise-regression's ``ModelSelection`` (BIC).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import platform
import time
import warnings
from pathlib import Path

import numpy as np

import relusum

OUT = Path(__file__).resolve().parents[1] / "docs" / "bench" / "bench_estimator.md"
BREAKS = (0.3, 0.7)


def truth(x: np.ndarray) -> np.ndarray:
    return 1 + 2 * x - 3 * np.maximum(x - 0.3, 0) + 4 * np.maximum(x - 0.7, 0)


def data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 1, n)
    return x, truth(x) + rng.normal(0, 0.2, n)


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def run_methods(n: int, seed: int = 0, slow_peers: bool = True) -> list[dict]:
    x, y = data(n, seed)
    xt = np.linspace(0.001, 0.999, 10_000)
    ft = truth(xt)
    rows = []

    def add(name, predict, seconds, breaks=None):
        err = float(np.sqrt(np.mean((predict(xt) - ft) ** 2)))
        be = None
        if breaks is not None and len(breaks) == 2:
            be = float(np.max(np.abs(np.sort(breaks) - np.array(BREAKS))))
        rows.append({"N": n, "method": name, "rmse_truth": err, "break_err": be, "s": seconds})

    r, s = timed(lambda: relusum.fit((x, y), domain=(0, 1), pieces=3, knots="optimal"))
    add("relusum pieces=3 optimal", r.model, s, r.model.knots[1:])
    from relusum import ReluSumRegressor

    est, s = timed(lambda: ReluSumRegressor(n_units="auto").fit(x[:, None], y))
    add(f"relusum auto (cv: n={est.model_.n_units})", lambda v: est.predict(v[:, None]), s)

    import pwlf

    m = pwlf.PiecewiseLinFit(x, y)
    bp, s = timed(lambda: m.fitfast(3, pop=2))
    add("pwlf fitfast(3)", m.predict, s, bp[1:-1])

    if slow_peers and n <= 200_000:
        import piecewise_regression as pr

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            f, s = timed(lambda: pr.Fit(x, y, n_breakpoints=2, n_boot=0))
        est_ = f.get_results()["estimates"]
        if est_ is not None:
            b = [est_["breakpoint1"]["estimate"], est_["breakpoint2"]["estimate"]]
            add("piecewise-regression (no bootstrap)", lambda v, f=f: f.predict(v), s, b)
        else:  # its iteration from a random start did not converge: say so
            rows.append(
                {
                    "N": n,
                    "method": "piecewise-regression (no bootstrap): did not converge",
                    "rmse_truth": float("nan"),
                    "break_err": None,
                    "s": s,
                }
            )

    from sklearn.isotonic import IsotonicRegression
    from sklearn.linear_model import RidgeCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import SplineTransformer

    sp = make_pipeline(SplineTransformer(degree=1, n_knots=10), RidgeCV())
    _, s = timed(lambda: sp.fit(x[:, None], y))
    add("SplineTransformer(1, 10 knots) + RidgeCV", lambda v: sp.predict(v[:, None]), s)
    iso = IsotonicRegression(out_of_bounds="clip")
    _, s = timed(lambda: iso.fit(x, y))
    add("IsotonicRegression", iso.predict, s)
    return rows


def selection_rates(n: int, seeds: int) -> list[dict]:
    import piecewise_regression as pr

    ours = theirs = 0
    t_ours = t_theirs = 0.0
    for seed in range(seeds):
        x, y = data(n, 100 + seed)
        best, s = timed(lambda x=x, y=y: _bic_pieces(x, y))
        t_ours += s
        ours += best == 3
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")  # it prints its table and warns on non-convergence
            t = time.perf_counter()
            ms = pr.ModelSelection(x, y, max_breakpoints=4, n_boot=0, verbose=False)
            t_theirs += time.perf_counter() - t
        bics = {
            m["n_breakpoints"]: m["bic"]
            for m in ms.model_summaries
            if m.get("converged") and m.get("bic") is not None
        }
        theirs += bool(bics) and min(bics, key=bics.get) == 2
    return [
        {
            "method": "relusum BIC (free knots, pieces 1-5)",
            "hit": ours / seeds,
            "s": t_ours / seeds,
        },
        {
            "method": "piecewise-regression ModelSelection (BIC)",
            "hit": theirs / seeds,
            "s": t_theirs / seeds,
        },
    ]


def _bic_pieces(x: np.ndarray, y: np.ndarray) -> int:
    n = x.size
    best, best_k = np.inf, 0
    for k in range(1, 6):
        r = relusum.fit((x, y), domain=(0, 1), pieces=k, knots="optimal")
        rss = float(np.sum((r.model(x) - y) ** 2))
        p = 2 * k  # intercept, k slopes, k - 1 breakpoints
        bic = n * np.log(rss / n) + p * np.log(n)
        if bic < best:
            best, best_k = bic, k
    return best_k


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--full", action="store_true", help="N up to 10^6 and 50 selection seeds")
    args = ap.parse_args()
    sizes = [1_000, 10_000, 100_000] + ([1_000_000] if args.full else [])
    rows = []
    for n in sizes:
        rows += run_methods(n)
    sel = selection_rates(2_000, 50 if args.full else 10)
    lines = [
        "# Noisy data: relusum vs piecewise-linear regression tools",
        "",
        f"Written by `benchmarks/bench_estimator.py{' --full' if args.full else ''}` on "
        f"{platform.machine()}, Python {platform.python_version()}; one run, shared 2-core "
        "machine (times are noisy; compare within a row group).",
        "",
        "RMSE against the noise-free truth on 10,000 held-out points (noise sd 0.2), the largest "
        "breakpoint error where the method reports breakpoints, and the fit time.",
        "",
        "| N | method | RMSE vs truth | breakpoint error | time (s) |",
        "|---:|---|---:|---:|---:|",
    ]
    for r in rows:
        be = "—" if r["break_err"] is None else f"{r['break_err']:.4f}"
        lines.append(
            f"| {r['N']:,} | {r['method']} | {r['rmse_truth']:.4f} | {be} | {r['s']:.3f} |"
        )
    lines += [
        "",
        f"Model selection at N = 2,000 over {50 if args.full else 10} seeds (true: 2 breakpoints):",
        "",
        "| method | hit rate | time per data set (s) |",
        "|---|---:|---:|",
    ]
    for r in sel:
        lines.append(f"| {r['method']} | {r['hit']:.0%} | {r['s']:.2f} |")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
