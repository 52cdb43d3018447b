"""The fewest units for an error tolerance: ``fit(..., tol=eps)``.

The error is the one relusum reports: measured on the verification grid of a
function (or on the data), the max absolute error for ``loss="linf"`` and the
RMSE for ``loss="l2"``.

Search
    Optimal knots with ``linf``: the exact sweep at ``eps`` gives the fewest
    pieces on the samples directly (a certified minimum); the count is then
    raised only if the verification grid disagrees (usually it does not).  Otherwise:
    exponential search on ``n`` (1, 2, 4, ...) until the error is within
    ``eps``, then bisection between the last failure and the first success.
    With ``interpolate=True`` (uniform knots) ``loss`` only names the error
    that ``eps`` bounds.
    Uniform knots are not nested (4 uniform knots do not contain 3), so their
    error is not strictly monotone in ``n``: the result is the smallest ``n``
    the bisection meets, which is within ``eps`` but may not be the smallest
    such ``n``.
Unreachable
    A clear ``ValueError`` when ``eps`` is below what any number of units can
    do on these points (repeated x with different y; for ``l2`` the spread
    about the mean at repeated x), when ``max_units`` (or the number of
    distinct samples) runs out, or when the error on the verification grid
    stops improving (a jump cannot be matched to better than half its size).
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from relusum.fitting import hints
from relusum.fitting.constraints import NONE, Constraints
from relusum.fitting.fixed import uniform_knots
from relusum.fitting.minimax import greedy_pieces, make_gates
from relusum.fitting.problem import Problem
from relusum.fitting.progress import progress_bar
from relusum.fitting.report import FitResult, finish, measure
from relusum.fitting.solvers import solve
from relusum.model import ReluSum
from relusum.targets import Target

__all__ = ["fit_tolerance", "floor_error"]


def floor_error(target: Target, loss: str) -> float:
    """The smallest error any sum can reach on the target's points (0 unless x repeats).

    Examples
    --------
    >>> from relusum.targets import make_target
    >>> from relusum.fitting.tolerance import floor_error
    >>> floor_error(make_target(([0, 0, 1], [0.0, 1.0, 1.0])), "linf")
    0.5
    """
    x, y = target.x, target.y
    if target.fn is not None or x.size < 2:
        return 0.0
    starts = np.flatnonzero(np.concatenate(([True], np.diff(x) != 0)))
    if starts.size == x.size:
        return 0.0
    if loss == "linf":
        spread = np.maximum.reduceat(y, starts) - np.minimum.reduceat(y, starts)
        return float(np.max(spread)) / 2.0
    counts = np.diff(np.append(starts, x.size))
    means = np.add.reduceat(y, starts) / counts
    resid = y - np.repeat(means, counts)
    return float(math.sqrt(np.mean(resid * resid)))


def _error(model: ReluSum, target: Target, loss: str) -> float:
    rmse, mae, _ = measure(model, target)
    return mae if loss == "linf" else rmse


def fit_tolerance(
    target: Target,
    knots: str,
    loss: str,
    tol: float,
    *,
    max_units: int = 1000,
    progress: bool | None = None,
    start: float | None = None,
    interpolate: bool = False,
    constraints: Constraints = NONE,
    options: dict[str, Any] | None = None,
) -> FitResult:
    """The fewest units (up to ``max_units``) whose error is at most ``tol``.

    Parameters
    ----------
    target : Target
    knots : {"uniform", "optimal"}
    loss : {"linf", "l2"}
        ``tol`` bounds the max absolute error (``linf``) or the RMSE (``l2``).
    tol : float
        The absolute tolerance, > 0.
    max_units : int
        Give up (``ValueError``) beyond this many units.
    progress : bool, optional
        Progress bar over the fits tried.
    start : float, optional
        ``time.perf_counter()`` when the fit began (for the report's seconds).
    interpolate : bool
        Interpolating fits (uniform knots); ``loss`` then only names the error bounded.
    constraints : Constraints
        Passed to every fit tried.
    options : dict, optional
        Loss options passed to every fit tried (``huber_delta``, ``quantile``).

    Returns
    -------
    FitResult
        Its report's ``extra`` holds ``tol``, ``tol_loss`` (the loss whose error
        ``tol`` bounds), ``tol_bounds`` (``"max_abs_error"`` or ``"rmse"``, the
        report field it bounds), ``units_tried`` and ``error_reached``.

    Examples
    --------
    >>> from relusum.targets import make_target
    >>> from relusum.fitting.tolerance import fit_tolerance
    >>> r = fit_tolerance(make_target("x**2", (0, 1)), "optimal", "linf", 1e-3)
    >>> r.report.n_units, bool(r.report.max_abs_error <= 1e-3)
    (11, True)
    """
    start = time.perf_counter() if start is None else start
    try:
        tol = float(tol)
    except (TypeError, ValueError):
        raise ValueError(f"tol must be a positive number, got {tol!r}") from None
    if not (math.isfinite(tol) and tol > 0):
        raise ValueError(f"tol must be a positive finite number, got {tol!r}")
    if isinstance(max_units, bool) or not isinstance(max_units, (int, np.integer)) or max_units < 1:
        raise ValueError(f"max_units must be a positive integer, got {max_units!r}")
    if knots not in ("uniform", "optimal"):
        raise ValueError(f"tol= needs knots='uniform' or 'optimal', got {knots!r}")
    what = "max error" if loss == "linf" else "RMSE"
    floor = floor_error(target, loss)
    if tol < floor:
        raise ValueError(
            f"a {what} of {tol:g} cannot be reached: the data have different y at the same x, "
            f"so no function gets below {floor:.6g}"
        )
    distinct = int(np.count_nonzero(np.diff(target.x))) + 1
    cap = min(int(max_units), distinct - 1)
    if cap < 1:
        raise ValueError("a tolerance fit needs at least two distinct x values")
    tried: dict[int, tuple[float, ReluSum]] = {}

    def fit_n(n: int) -> float:
        if n not in tried:
            model = _fit(target, knots, loss, n, interpolate, constraints, options or {})
            tried[n] = (_error(model, target, loss), model)
            tick()
        return tried[n][0]

    # Uniform knots, max error, a function: n units whose chord bound (no sum on
    # those knots does better on the grid, see optimal._chord_bound) is above
    # tol fail without their LP.  The largest n is always fitted.
    bounded: set[int] = set()
    chord = (
        knots == "uniform"
        and loss == "linf"
        and not interpolate
        and not constraints.active
        and target.fn is not None
    )

    def misses(n: int) -> bool:
        if chord and n < cap and n not in tried and _chord_misses(target, n, tol):
            bounded.add(n)
            return True
        return fit_n(n) > tol

    with progress_bar(progress, f"fewest units for {what} {tol:g}", "fit") as tick:
        if knots == "optimal" and loss == "linf" and not constraints.active:
            n_ok = _search_minimax(target, tol, cap, fit_n)
        else:
            n_ok = _search(cap, misses)
    if n_ok is None:
        for n in sorted(bounded):  # the message reports the errors reached
            fit_n(n)
    if n_ok is None:
        raise ValueError(
            hints.tol_unreachable(
                target,
                loss,
                tol,
                {n: e for n, (e, _) in tried.items()},
                max_units=int(max_units),
                cap=cap,
                distinct=distinct,
                knots=knots,
            )
        )
    err, model = tried[n_ok]
    seconds = time.perf_counter() - start
    extra: dict[str, Any] = {
        "tol": tol,
        "tol_loss": loss,
        "tol_bounds": "max_abs_error" if loss == "linf" else "rmse",
        "error_reached": err,
        "units_tried": sorted(set(tried) | bounded),
        "method": "tolerance search",
    }
    return finish(
        model, target, seconds, loss=loss, knots=knots, interpolate=interpolate, extra=extra
    )


def _fit(
    target: Target,
    knots: str,
    loss: str,
    n: int,
    interpolate: bool,
    constraints: Constraints,
    options: dict[str, Any],
) -> ReluSum:
    if knots == "optimal":
        problem = Problem(target, loss, n_units=n, progress=False)
    else:
        h = uniform_knots(target.domain, n)
        problem = Problem(target, "interpolate" if interpolate else loss, knots=h)
    return solve(problem.with_(constraints=constraints, options=options)).model


def _chord_misses(target: Target, n: int, tol: float) -> bool:
    """Whether no sum on ``n`` uniform knots gets within ``tol`` on the verification set."""
    from relusum.fitting.optimal import _chord_bound, _uniform_grid

    h = uniform_knots(target.domain, n)
    gx, gy = _uniform_grid(target, h)
    return _chord_bound(gx, gy, h, target.domain) > tol


def _search(cap: int, misses) -> int | None:
    """Exponential search then bisection on the unit count (``misses(n)``: n fails)."""
    lo = 0  # largest n known to fail (0: none tried)
    n = 1
    while True:
        if not misses(n):
            break
        lo = n
        if n >= cap:
            return None
        n = min(2 * n, cap)
    hi = n
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if not misses(mid):
            hi = mid
        else:
            lo = mid
    return hi


def _search_minimax(target: Target, tol: float, cap: int, fit_n) -> int | None:
    """Fewest units from the exact sweep at ``tol``, then confirmed on the verification set.

    The sweep's piece count at ``tol`` is the fewest any sum needs on the
    samples (flat first piece counted, and it may be empty), so fewer units
    cannot reach ``tol`` on the grid either; more are added only when the
    refinement between samples raises the error above ``tol``.
    """
    x, y = target.x, target.y
    g = make_gates(x, y, target.domain)
    eps_n = tol / g.half * (1.0 - 1e-6)
    pieces = greedy_pieces(g, eps_n, cap + 1, True, True)
    n = cap if pieces is None else max(len(pieces) - 1, 1)
    misses = 0
    last = math.inf
    while n <= cap:
        e = fit_n(n)
        if e <= tol:
            return n
        misses = misses + 1 if e >= last * 0.999 else 0
        if misses >= 3:
            return None
        last = min(last, e)
        n += max(1, n // 16)
    return None
