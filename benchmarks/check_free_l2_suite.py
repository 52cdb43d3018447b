"""A seeded suite of free-knot least-squares problems: record SSRs, then check none got worse.

Run: ``python benchmarks/check_free_l2_suite.py --record base.json`` with the old
code, then ``python benchmarks/check_free_l2_suite.py --compare base.json`` with
the new one.  320 problems: N from 40 to 3,000 (log-uniform), 1 to 16 units,
smooth and kinked shapes, noise, weights, repeated x.  ``--compare`` counts the
SSRs that are equal (to 1e-12 relative), better and worse, lists the worse ones
and exits 1 when any is worse.  A speed change to the search must keep every
SSR equal or better (issue 11 item 5).
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

SHAPES = ("sin", "exp", "kinks", "steps", "abs", "poly", "noise")


def problems(count: int = 320, seed: int = 11):
    """``(name, x, y, w, n)`` for each problem (deterministic)."""
    rng = np.random.default_rng(seed)
    for k in range(count):
        npts = int(np.exp(rng.uniform(np.log(40), np.log(3000))))
        shape = SHAPES[k % len(SHAPES)]
        x = np.sort(rng.uniform(0.0, 1.0, npts)) if k % 3 else np.linspace(0.0, 1.0, npts)
        repeated = k % 4 == 1
        if repeated:  # about npts / 3 distinct x, each repeated
            x = np.round(x * max(npts // 3, 3)) / max(npts // 3, 3)
        if shape == "sin":
            f = np.sin((3 + 9 * rng.uniform()) * x + rng.uniform(0, 3))
        elif shape == "exp":
            f = np.exp(3 * x * rng.uniform(0.5, 2))
        elif shape == "kinks":
            h = np.sort(rng.uniform(0, 1, rng.integers(2, 10)))
            wts = rng.normal(0, 3, h.size)
            f = np.maximum(0.0, x[:, None] - h[None, :]) @ wts
        elif shape == "steps":
            h = np.sort(rng.uniform(0, 1, rng.integers(1, 5)))
            f = np.searchsorted(h, x).astype(float)
        elif shape == "abs":
            f = np.abs(x - rng.uniform(0.1, 0.9)) + 0.5 * np.abs(x - rng.uniform(0.1, 0.9))
        elif shape == "poly":
            f = np.polyval(rng.normal(0, 1, 5), 2 * x - 1)
        else:
            f = np.zeros_like(x)
        noise = (0.0, 0.01, 0.1)[k % 3] if shape != "noise" else 1.0
        y = f + noise * rng.standard_normal(npts)
        w = rng.uniform(0.1, 3.0, npts) if k % 5 == 2 else None
        distinct = np.unique(x).size
        n = int(rng.integers(1, 17))
        n = max(1, min(n, distinct - 1))
        yield (
            f"{k}:{shape}:N{npts}:n{n}{':w' if w is not None else ''}{':rep' if repeated else ''}",
            x,
            y,
            w,
            n,
        )


def ssr_of(x, y, w, n) -> float:
    import relusum

    r = relusum.fit((x, y), n_units=n, knots="optimal", sample_weight=w, progress=False)
    res = r.model(x) - y
    return float(np.sum(res * res * (1.0 if w is None else w)))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--record", help="write the SSRs to this JSON file")
    g.add_argument("--compare", help="compare with the SSRs in this JSON file")
    ap.add_argument("--count", type=int, default=320)
    args = ap.parse_args()
    start = time.perf_counter()
    got = {}
    for name, x, y, w, n in problems(args.count):
        got[name] = ssr_of(x, y, w, n)
    secs = time.perf_counter() - start
    if args.record:
        with open(args.record, "w") as fh:
            json.dump(got, fh, indent=0)
        print(f"recorded {len(got)} SSRs in {secs:.1f} s")
        return 0
    with open(args.compare) as fh:
        base = json.load(fh)
    eq = better = worse = 0
    for name, s in got.items():
        b = base[name]
        tol = 1e-12 * max(abs(b), 1e-300)
        if abs(s - b) <= tol:
            eq += 1
        elif s < b:
            better += 1
            print(f"better {name}: {b:.15g} -> {s:.15g} ({(s - b) / max(b, 1e-300):+.2e})")
        else:
            worse += 1
            print(f"WORSE  {name}: {b:.15g} -> {s:.15g} ({(s - b) / max(b, 1e-300):+.2e})")
    print(f"{len(got)} problems in {secs:.1f} s: {eq} equal, {better} better, {worse} worse")
    return 1 if worse else 0


if __name__ == "__main__":
    sys.exit(main())
