"""Max-error fits with free knots of data read in chunks: exact, by cutting planes.

A fit that is linear on an interval has its largest and smallest error over
the points there at vertices of their upper and lower hulls.  So:

1. A ``hulls`` pass keeps, for every bin of a fine grid, the upper and lower
   hull vertices of the bin's points (:class:`~relusum.fitting.hulls.BinHulls`;
   merged across chunks and Dask partitions, the hull of a union being the
   hull of the hulls).
2. The exact free-knot minimax of the in-memory path
   (:func:`~relusum.fitting.optimal.fit_optimal`) runs on the kept points
   ``S``: a model with error ``eps`` on ``S`` and a proven lower bound ``L``
   for ``S`` -- hence for all rows, since more points can only raise the
   optimum.
3. An ``errors`` pass measures the model on every row (RMSE and max error
   ``E``) and collects the rows whose error exceeds ``eps`` (at most
   :data:`VIOLATORS`, the largest).  Only a bin with a knot inside can hold
   them.  None: ``E == eps`` and the model is optimal on all rows to the
   bisection's accuracy (``E / L - 1``, reported as ``gap``).  Otherwise they
   join ``S`` and step 2 runs again (a cutting-plane loop; each round adds a
   pass over the data).

After :data:`MAX_ROUNDS` rounds the last model is returned with its measured
error and gap, and ``exact`` is ``False`` in the report.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from relusum.model import ReluSum
from relusum.scale.chunks import SAMPLE_POINTS, Chunk, RunPass, agg_errors, chunk_errors
from relusum.targets import Target

__all__ = ["optimal_linf", "LINF_BINS_PER_UNIT", "LINF_MIN_BINS", "VIOLATORS", "MAX_ROUNDS"]

#: Bins of the hull grid per unit (at least :data:`LINF_MIN_BINS`).
LINF_BINS_PER_UNIT = 64
LINF_MIN_BINS = 2048
#: Most rows above the error on the kept points added per round.
VIOLATORS = 65_536
#: Most solve-and-check rounds.
MAX_ROUNDS = 8
#: The gap (measured max error over the proven lower bound, minus 1) called exact.
EXACT_GAP = 1e-6


def chunk_bin_hulls(chunk: Chunk, edges: np.ndarray, domain: tuple[float, float]) -> Any:
    from relusum.fitting.hulls import BinHulls

    x, y, _ = chunk
    return BinHulls.from_arrays(x, y, edges, domain)


def agg_hulls(parts: Iterable[Any]) -> Any:
    total = None
    for p in parts:
        total = p if total is None else total + p
    return total


def chunk_errors_above(chunk: Chunk, model: ReluSum, every: int, above: float) -> tuple:
    """:func:`~relusum.scale.chunks.chunk_errors` plus the rows whose error exceeds ``above``."""
    sse, mx, n, xs, ys = chunk_errors(chunk, model, every)
    x, y, _ = chunk
    if mx > above:
        r = np.abs(model(x) - y)
        idx = np.flatnonzero(r > above)
        if idx.size > VIOLATORS:
            idx = idx[np.argpartition(r[idx], -VIOLATORS)[-VIOLATORS:]]
        return (sse, mx, n, xs, ys, x[idx].copy(), y[idx].copy(), r[idx].copy())
    empty = np.empty(0)
    return (sse, mx, n, xs, ys, empty, empty, empty)


def agg_errors_above(parts: Iterable[tuple]) -> tuple:
    parts = list(parts)
    base = agg_errors(p[:5] for p in parts)
    vx = np.concatenate([p[5] for p in parts]) if parts else np.empty(0)
    vy = np.concatenate([p[6] for p in parts]) if parts else np.empty(0)
    vr = np.concatenate([p[7] for p in parts]) if parts else np.empty(0)
    if vr.size > VIOLATORS:
        keep = np.argpartition(vr, -VIOLATORS)[-VIOLATORS:]
        vx, vy, vr = vx[keep], vy[keep], vr[keep]
    return (*base, vx, vy, vr)


def optimal_linf(
    run_pass: RunPass, n: int, dom: tuple[float, float], label: str
) -> tuple[ReluSum, dict[str, Any], tuple, int]:
    """The free-knot minimax fit of all rows (see the module text).

    Returns the model, facts for the report, the last errors pass
    ``(sse, max error, rows, sample x, sample y)`` and the number of passes.
    """
    from relusum.fitting.optimal import fit_optimal

    bins = max(LINF_MIN_BINS, LINF_BINS_PER_UNIT * n)
    edges = np.linspace(dom[0], dom[1], bins + 1)
    hulls = run_pass(lambda c: chunk_bin_hulls(c, edges, dom), agg_hulls, "hulls")
    passes = 1
    rows = 0 if hulls is None else int(hulls.count)
    if rows == 0:
        raise ValueError(f"{label}: no data rows")
    sx, sy = hulls.x, hulls.y
    if np.unique(sx).size < n + 1:
        raise ValueError(
            f"{n} units need at least {n + 1} distinct x values, but the data have fewer"
        )
    every = max(1, -(-rows // SAMPLE_POINTS))
    lower, rounds = 0.0, 0
    while True:
        model, more = fit_optimal(Target("data", label, dom, sx, sy), n, "linf", progress=False)
        eps = float(np.max(np.abs(model(sx) - sy)))
        lower = max(lower, float(more.get("lower_bound", 0.0)))
        scale = 1.0 + float(np.max(np.abs(sy)))
        above = eps * (1.0 + 1e-9) + 1e-13 * scale
        out = run_pass(
            lambda c, m=model, a=above: chunk_errors_above(c, m, every, a),
            agg_errors_above,
            "errors",
        )
        passes += 1
        sse, mx, n_err, xs, ys, vx, vy, _ = out
        if n_err != rows:
            raise ValueError(
                f"{label}: the data changed between passes ({rows:,} rows, then {n_err:,}); "
                "nothing was written"
            )
        rounds += 1
        if vx.size == 0 or rounds >= MAX_ROUNDS:
            break
        sx = np.concatenate((sx, vx))
        sy = np.concatenate((sy, vy))
        order = np.argsort(sx, kind="stable")
        sx, sy = sx[order], sy[order]
    gap = max(mx / lower - 1.0, 0.0) if lower > 0 else (0.0 if mx <= above else float("inf"))
    facts = {
        "method": "exact minimax on per-bin hull points, checked on every row",
        "lower_bound": lower,
        "gap": gap,
        "exact": bool(gap <= EXACT_GAP),
        "binding_candidates": int(sx.size),
        "hulls_thinned": bool(hulls.thinned),
        "hull_bins": bins,
        "rounds": rounds,
    }
    return model, facts, (sse, mx, n_err, xs, ys), passes
