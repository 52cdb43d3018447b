"""Core benchmark: ReluSum evaluation vs np.interp, banded least squares vs make_lsq_spline.

Run: ``python benchmarks/bench_core.py [--quick]``.  Writes ``docs/bench/bench_core.md``.

Targets (issue 2):
- evaluating a 1,000-unit sum at 10^7 points within 2x of ``np.interp`` on the
  same breakpoints (random and sorted points);
- the fixed-knot least-squares solve on 10^6 samples with 1,000 knots within
  1.5x of ``scipy.interpolate.make_lsq_spline(k=1)``, with peak memory O(N + n).
"""

from __future__ import annotations

import argparse
import platform
import time
import tracemalloc
from pathlib import Path

import numpy as np
from scipy.interpolate import make_lsq_spline

from relusum import ReluSum
from relusum.fitting.fixed import breakpoints_for, uniform_knots
from relusum.fitting.hat import hat_lstsq, values_to_relusum

OUT = Path(__file__).resolve().parents[1] / "docs" / "bench" / "bench_core.md"


def best_time(fn, repeat: int = 3) -> float:
    fn()  # warm up
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def peak_bytes(fn) -> int:
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


def bench_eval(n_points: int, n_units: int = 1000) -> list[dict]:
    rng = np.random.default_rng(0)
    s = ReluSum(0.1, np.sort(rng.uniform(0, 1, n_units)), rng.normal(size=n_units), (0.0, 1.0))
    bx, by = s.to_points()
    rows = []
    for order in ("random", "sorted"):
        x = rng.uniform(0, 1, n_points)
        if order == "sorted":
            x.sort()
        assert np.allclose(s(x), np.interp(x, bx, by), atol=1e-12)
        t_ours = best_time(lambda x=x: s(x))
        t_peer = best_time(lambda x=x: np.interp(x, bx, by))
        rows.append(
            dict(
                what=f"evaluate, {n_units} units, {n_points:.0e} {order} points",
                ours=t_ours,
                peer=t_peer,
                peer_name="np.interp",
                target=2.0,
            )
        )
    return rows


def bench_lstsq(n_samples: int, n_knots: int = 1000) -> dict:
    x = np.linspace(0.0, 1.0, n_samples)
    y = np.sin(10 * x) + 0.05 * np.cos(300 * x)
    h = uniform_knots((0.0, 1.0), n_knots)
    t, flat = breakpoints_for(h, (0.0, 1.0))
    tt = np.concatenate(([0.0, 0.0], h[1:], [1.0, 1.0]))

    def ours():
        return values_to_relusum(t, hat_lstsq(x, y, t, None, flat), flat, (0.0, 1.0))

    def peer():
        return make_lsq_spline(x, y, tt, k=1)

    s, spl = ours(), peer()
    ssr_ours = float(np.sum((s(x) - y) ** 2))
    ssr_peer = float(np.sum((spl(x) - y) ** 2))
    assert abs(ssr_ours - ssr_peer) <= 1e-9 * ssr_peer, (ssr_ours, ssr_peer)
    return dict(
        what=f"least squares, {n_knots} knots, {n_samples:.0e} samples",
        ours=best_time(ours),
        peer=best_time(peer),
        peer_name="make_lsq_spline(k=1)",
        target=1.5,
        mem_ours=peak_bytes(ours),
        mem_peer=peak_bytes(peer),
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="10x smaller problems")
    args = ap.parse_args()
    scale = 10 if args.quick else 1
    rows = bench_eval(10**7 // scale)
    lsq = [bench_lstsq(n // scale) for n in (10**5, 10**6)]
    rows += lsq

    lines = [
        "# Core benchmark",
        "",
        f"Written by `python benchmarks/bench_core.py{' --quick' if args.quick else ''}` on "
        f"{platform.machine()} / Python {platform.python_version()} / NumPy {np.__version__}, "
        f"{time.strftime('%Y-%m-%d')}. Best of 3 runs; the peer is timed in the same run.",
        "",
        "| task | relusum (s) | peer | peer (s) | ratio relusum/peer | target |",
        "|---|---:|---|---:|---:|---:|",
    ]
    for r in rows:
        ratio = r["ours"] / r["peer"]
        ok = "met" if ratio <= r["target"] else "MISSED"
        lines.append(
            f"| {r['what']} | {r['ours']:.4f} | {r['peer_name']} | {r['peer']:.4f} | "
            f"{ratio:.2f} | <= {r['target']} ({ok}) |"
        )
    lines += [
        "",
        "Peak memory of the least-squares solve (tracemalloc), relusum vs scipy:",
        "",
        "| samples | relusum (MB) | make_lsq_spline (MB) | relusum bytes per sample |",
        "|---:|---:|---:|---:|",
    ]
    for r, n in zip(lsq, (10**5 // scale, 10**6 // scale)):
        lines.append(
            f"| {n:,} | {r['mem_ours'] / 1e6:.1f} | {r['mem_peer'] / 1e6:.1f} | "
            f"{r['mem_ours'] / n:.0f} |"
        )
    lines += ["", "Memory per sample stays constant as N grows: O(N + n), no N x n matrix.", ""]
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
