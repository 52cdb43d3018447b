"""Fixed knots, max error: a linear program (HiGHS) in the hat basis.

:func:`linf_fixed_knots` solves "minimise ``t`` with ``|f(x_j) - s(x_j)| <= t``"
on the points (two non-zeros per constraint row plus ``t``).  For a function,
:func:`linf_fixed_target` adds the points where the error between the samples
peaks (located to high precision), and the knots, until the error on a dense
check grid is within 0.05% of the error on the points
(:func:`refined_at_peaks`, which the constrained fits use too).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from relusum.fitting.fixed import breakpoints_for, check_capacity
from relusum.fitting.hat import values_to_relusum
from relusum.model import ReluSum
from relusum.targets import Target

__all__ = [
    "linf_fixed_knots",
    "linf_fixed_target",
    "peaks",
    "dense_grid",
    "local_max",
    "refine_points",
    "refined_at_peaks",
]


def peaks(err: np.ndarray, above: float, limit: int) -> np.ndarray:
    """Indices of local maxima of ``|err|`` larger than ``above`` (at most ``limit``)."""
    a = np.abs(err)
    if a.size < 3:
        return np.flatnonzero(a > above)
    left = np.concatenate(([True], a[1:] >= a[:-1]))
    right = np.concatenate((a[:-1] >= a[1:], [True]))
    idx = np.flatnonzero(left & right & (a > above))
    if idx.size > limit:
        idx = idx[np.argsort(a[idx])[::-1][:limit]]
    return np.sort(idx)


def dense_grid(domain: tuple[float, float], n: int) -> np.ndarray:
    a, b = domain
    # Offset by a fraction unrelated to the sample and verification grids.
    off = 0.5 * (math.sqrt(2.0) - 1.0)
    return np.concatenate(([a], a + (np.arange(n) + off) * ((b - a) / n), [b]))


def local_max(
    err_at: Callable[[np.ndarray], np.ndarray], left: np.ndarray, right: np.ndarray, levels: int = 4
) -> np.ndarray:
    """Where ``|err_at|`` peaks inside each ``[left, right]`` (vectorised zoom, 17 points a level).

    Examples
    --------
    >>> import numpy as np
    >>> from relusum.fitting.minimax import local_max
    >>> x = local_max(lambda t: 1 - (t - 0.3) ** 2, np.array([0.0]), np.array([1.0]))
    >>> abs(float(x[0]) - 0.3) < 1e-4
    True
    """
    lo = np.asarray(left, dtype=float).copy()
    hi = np.asarray(right, dtype=float).copy()
    frac = np.linspace(0.0, 1.0, 17)
    best = 0.5 * (lo + hi)
    for _ in range(levels):
        pts = lo[:, None] + (hi - lo)[:, None] * frac[None, :]
        vals = np.abs(err_at(pts.ravel())).reshape(pts.shape)
        j = np.argmax(vals, axis=1)
        rows = np.arange(pts.shape[0])
        best = pts[rows, j]
        step = (hi - lo) / 16.0
        lo, hi = np.maximum(best - step, lo), np.minimum(best + step, hi)
    return best


def refine_points(
    target: Target,
    model: ReluSum,
    xs: np.ndarray,
    dense: np.ndarray,
    fd: np.ndarray,
    on_pts: float,
    limit: int,
) -> np.ndarray:
    """New sample positions: the error peaks on ``dense`` above ``on_pts``, located precisely."""
    e = model(dense) - fd
    idx = peaks(e, on_pts, limit)
    if idx.size == 0:
        return idx.astype(float)
    left = dense[np.maximum(idx - 1, 0)]
    right = dense[np.minimum(idx + 1, dense.size - 1)]
    return local_max(lambda t: model(t) - target.evaluate(t), left, right)


def linf_fixed_knots(
    x: ArrayLike,
    y: ArrayLike,
    knots: ArrayLike,
    domain: tuple[float, float],
    start: ReluSum | None = None,
) -> ReluSum:
    """The sum with the given knots that minimises the max error on the points (LP, HiGHS).

    Unknowns are the values at the breakpoints (hat basis, first piece flat
    when the first knot is right of ``A``) and the bound ``t``; every point
    gives two rows with three non-zeros.  Breakpoints no point constrains are
    filled by linear interpolation of their neighbours.  Above
    :data:`REDUCE_ABOVE` points the LP runs on the hull vertices of each knot
    interval (the same optimum, see :func:`_linf_lp_on_hulls`).  HiGHS's
    tolerance is on the data scaled to [-1, 1]: the LP is solved again on the
    residuals scaled to 1 where that matters, or directly on the residuals of
    ``start`` (a sum with these knots, such as the optimum on a subset of the
    points: one LP instead of two).

    Examples
    --------
    >>> import numpy as np
    >>> from relusum.fitting.minimax import linf_fixed_knots
    >>> x = np.linspace(0, 1, 101)
    >>> s = linf_fixed_knots(x, x**2, [0.0], (0.0, 1.0))  # one line: error 1/8
    >>> round(float(np.max(np.abs(s(x) - x**2))), 6)
    0.125
    """
    xa = np.asarray(x, dtype=float).ravel()
    ya = np.asarray(y, dtype=float).ravel()
    h = np.sort(np.asarray(knots, dtype=float).ravel())
    if h.size == 0:
        raise ValueError("knots must not be empty")
    check_capacity(xa, h.size, data=True)
    if start is not None and not np.array_equal(np.sort(start.knots), h):
        start = None
    if xa.size <= REDUCE_ABOVE:
        return _linf_lp(xa, ya, h, domain, start=start)
    return _linf_lp_on_hulls(xa, ya, h, domain)


def linf_fixed_lower_bound(
    x: np.ndarray, y: np.ndarray, knots: ArrayLike, domain: tuple[float, float]
) -> float:
    """A lower bound on the max error on ``(x, y)`` of every sum with these knots.

    The max-error LP's optimum on the points, less the solver's tolerance: no
    sum with these knots (hence none measured on a superset of the points)
    does better.

    Examples
    --------
    >>> import numpy as np
    >>> from relusum.fitting.minimax.fixed_lp import linf_fixed_lower_bound
    >>> x = np.linspace(0, 1, 101)
    >>> 0.125 - 1e-5 < linf_fixed_lower_bound(x, x**2, [0.0], (0.0, 1.0)) <= 0.125
    True
    """
    xa = np.asarray(x, dtype=float).ravel()
    ya = np.asarray(y, dtype=float).ravel()
    h = np.sort(np.asarray(knots, dtype=float).ravel())
    return float(_linf_lp(xa, ya, h, domain, value_only=True))


def linf_fixed_with_bound(
    x: np.ndarray, y: np.ndarray, knots: ArrayLike, domain: tuple[float, float]
) -> tuple[ReluSum, float]:
    """:func:`linf_fixed_knots` and :func:`linf_fixed_lower_bound` from one LP.

    For a few thousand points at most (no hull reduction): the optimal sum
    with these knots on the points, and the lower bound its optimum proves.

    Examples
    --------
    >>> import numpy as np
    >>> from relusum.fitting.minimax.fixed_lp import linf_fixed_with_bound
    >>> x = np.linspace(0, 1, 101)
    >>> s, lb = linf_fixed_with_bound(x, x**2, [0.0], (0.0, 1.0))
    >>> round(float(np.max(np.abs(s(x) - x**2))), 6), 0.125 - 1e-5 < lb <= 0.125
    (0.125, True)
    """
    xa = np.asarray(x, dtype=float).ravel()
    ya = np.asarray(y, dtype=float).ravel()
    h = np.sort(np.asarray(knots, dtype=float).ravel())
    model, bound = _linf_lp(xa, ya, h, domain, with_bound=True)
    return model, float(bound)


#: HiGHS options of the max-error LP: the tightest feasibility tolerances it accepts.
_TIGHT_LP = {"primal_feasibility_tolerance": 1e-10, "dual_feasibility_tolerance": 1e-10}

#: Above this many points, the LP runs on the hull vertices of each knot interval.
REDUCE_ABOVE = 20_000


def _linf_lp_on_hulls(
    xa: np.ndarray, ya: np.ndarray, h: np.ndarray, domain: tuple[float, float]
) -> ReluSum:
    """The same optimum as :func:`_linf_lp` on all points, from far fewer rows.

    The sum is linear between consecutive breakpoints, so on the points of one
    knot interval its largest and smallest error are reached at vertices of
    their upper and lower convex hulls: the LP on those vertices has the same
    optimum as on every point.  A hull chain with very many vertices (smooth
    noise-free data) is thinned, so the errors on all points are measured and
    the worst points added until none exceeds the LP's bound (cutting planes;
    usually no round is needed).
    """
    from relusum.fitting.hulls import bin_hull_points

    t, _ = breakpoints_for(h, domain)
    xs, ys, _ = bin_hull_points(xa, ya, t)
    scale = float(np.max(np.abs(ya))) + 1.0
    extra = 4 * h.size + 64
    model = None
    for _ in range(50):
        model = _linf_lp(xs, ys, h, domain, start=model)
        bound = float(np.max(np.abs(model(xs) - ys)))
        err = np.abs(model(xa) - ya)
        worst = np.flatnonzero(err > bound + 1e-12 * scale)
        if worst.size == 0:
            return model
        # With the points just below the bound too: the next optimum moves a
        # little, and they are the ones it would break next (one round, not 6).
        worst = np.flatnonzero(err > bound * (1.0 - 1e-3))
        if worst.size > extra:
            worst = worst[np.argpartition(err[worst], -extra)[-extra:]]
        xs = np.concatenate((xs, xa[worst]))
        ys = np.concatenate((ys, ya[worst]))
    return _linf_lp(xa, ya, h, domain)


def _linf_lp(
    xa: np.ndarray,
    ya: np.ndarray,
    h: np.ndarray,
    domain: tuple[float, float],
    value_only: bool = False,
    with_bound: bool = False,
    start: ReluSum | None = None,
) -> Any:
    """The LP of :func:`linf_fixed_knots` on the given points (sorted knots ``h``).

    With ``value_only`` it returns a lower bound (its optimum less the
    solver's tolerance) on the max error there of any sum with those knots;
    with ``with_bound``, the sum and that bound.  ``start`` (a sum with the
    same knots, for neither) is corrected instead of solving from the data:
    one LP on its residuals scaled to 1, not two.
    """
    from scipy import sparse
    from scipy.optimize import linprog

    t, flat_first = breakpoints_for(h, domain)
    mid = 0.5 * (float(np.max(ya)) + float(np.min(ya)))
    half = 0.5 * (float(np.max(ya)) - float(np.min(ya)))
    if not half > 0:
        flat = ReluSum(mid, h, np.zeros_like(h), domain)
        return 0.0 if value_only else (flat, 0.0) if with_bound else flat
    yn = (ya - mid) / half
    j = np.clip(np.searchsorted(t, xa, side="right") - 1, 0, t.size - 2)
    lam = (xa - t[j]) / (t[j + 1] - t[j])
    off = 1 if flat_first else 0
    nun = t.size - off
    left = np.maximum(j - off, 0)
    right = j + 1 - off
    npts = xa.size
    rows = np.arange(npts)
    a_mat = sparse.csr_matrix(
        (
            np.concatenate((1.0 - lam, lam)),
            (np.concatenate((rows, rows)), np.concatenate((left, right))),
        ),
        shape=(npts, nun),
    )
    ones = sparse.csr_matrix(np.ones((npts, 1)))
    a_ub = sparse.vstack((sparse.hstack((a_mat, -ones)), sparse.hstack((-a_mat, -ones)))).tocsc()
    cost = np.zeros(nun + 1)
    cost[-1] = 1.0
    bounds = [(None, None)] * nun + [(0, None)]

    def solve(rhs: np.ndarray) -> Any:
        # HiGHS's tightest feasibility tolerances (with its default 1e-7,
        # uniform knots on x**2 at 1,024 units came out 39% above 1/(8 n^2)).
        res = linprog(
            cost,
            A_ub=a_ub,
            b_ub=np.concatenate((rhs, -rhs)),
            bounds=bounds,
            method="highs",
            options=_TIGHT_LP,
        )
        if res.status != 0 or res.x is None:
            raise ValueError(f"the max-error linear program failed: {res.message}")
        return res

    bound = 0.0
    if start is None:
        res = solve(yn)
        # The optimum, less a margin far above the solver's feasibility
        # tolerance on the normalised rows: a lower bound on the max error of
        # every sum with these knots on these points.
        bound = max(float(res.fun) - 1e-6, 0.0) * half
        if value_only:
            return bound
        coef, fun = res.x[:nun], float(res.fun)
    else:
        coef, fun = (start(t)[off:] - mid) / half, 0.0
    # The solver's tolerance is relative to the data's range, not to the error:
    # where the sum misses its own optimum by more than 1e-9 of the error, the
    # LP is solved again for a correction, on the residuals scaled to 1 (one
    # step of iterative refinement; 2 where the first falls short).
    for _ in range(2):
        resid = yn - a_mat @ coef
        err = float(np.max(np.abs(resid)))
        if not err > fun * (1.0 + 1e-9) + 1e-14:  # (not at rounding level)
            break
        res = solve(resid / err)
        better = coef + err * res.x[:nun]
        if not float(np.max(np.abs(yn - a_mat @ better))) < err:
            break
        coef, fun = better, float(res.fun) * err
    touched = np.zeros(nun, dtype=bool)
    touched[left] = True
    touched[right[lam > 0]] = True
    if not np.all(touched) and np.any(touched):
        idx = np.arange(nun)
        coef = np.interp(idx, idx[touched], coef[touched])
    if flat_first:
        coef = np.concatenate(([coef[0]], coef))
    model = values_to_relusum(t, mid + half * coef, flat_first, domain)
    return (model, bound) if with_bound else model


def linf_fixed_target(target: Target, knots: np.ndarray, rounds: int = 8) -> ReluSum:
    """Fixed-knot minimax fit of a target; for functions, refined at the error peaks.

    Examples
    --------
    >>> from relusum.targets import make_target
    >>> from relusum.fitting.minimax import linf_fixed_target
    >>> s = linf_fixed_target(make_target("x**2", (0, 1)), [0.0, 0.5])
    >>> s.n_units
    2
    """
    knots = np.asarray(knots, dtype=float)
    if target.fn is None:
        return linf_fixed_knots(target.x, target.y, knots, target.domain)

    def solve(xs: np.ndarray, ys: np.ndarray, last: ReluSum | None) -> tuple[ReluSum, ReluSum]:
        model = linf_fixed_knots(xs, ys, knots, target.domain, start=last)
        return model, model

    return refined_at_peaks(target, knots, solve, rounds)


def refined_at_peaks(
    target: Target,
    knots: np.ndarray,
    solve: Callable[[np.ndarray, np.ndarray, Any], tuple[ReluSum, Any]],
    rounds: int = 8,
) -> ReluSum:
    """A fixed-knot max-error fit of a function, its samples refined at its error peaks.

    ``solve(x, y, last)`` fits the points and returns the sum and what the
    next call gets as ``last`` (None the first time): the previous answer,
    which the next LP corrects rather than starting afresh.  The knots join
    the samples and the check grid (a sum is linear between them, so its
    error peaks at them as often as between them: x**2 on uniform knots peaks
    at every knot, missed by 0.8% at 256 units when only the grid's
    neighbours were checked), except where the target is undefined
    (``sin(x)/x`` at 0).  The error peaks on a dense grid above the error on
    the points are located (:func:`refine_points`) and added until the grid
    agrees within 0.05%, at most ``rounds`` times.
    """
    a, b = target.domain
    kx = np.unique(knots[(knots > a) & (knots < b)])
    kv = target._extra_values(kx)
    kx, kv = kx[np.isfinite(kv)], kv[np.isfinite(kv)]
    xs, ys = np.concatenate((target.x, kx)), np.concatenate((target.y, kv))
    model, last = solve(xs, ys, None)
    dense = dense_grid(target.domain, max(20 * xs.size, 100_000))
    fd = target.evaluate(dense)
    dense, fd = np.concatenate((dense, kx)), np.concatenate((fd, kv))
    order = np.argsort(dense, kind="stable")
    dense, fd = dense[order], fd[order]
    tiny = 1e-12 * (float(np.max(np.abs(fd))) + 1.0)
    for _ in range(rounds):
        on_pts = float(np.max(np.abs(model(xs) - ys)))
        if float(np.max(np.abs(model(dense) - fd))) <= on_pts * (1.0 + 5e-4) + tiny:
            break
        new = refine_points(target, model, xs, dense, fd, on_pts, 4 * knots.size + 64)
        if new.size == 0:
            break
        xs = np.concatenate((xs, new))
        ys = np.concatenate((ys, target.evaluate(new)))
        model, last = solve(xs, ys, last)
    return model
