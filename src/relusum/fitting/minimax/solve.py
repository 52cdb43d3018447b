"""Bisection on the error around the exact sweep, with a certificate.

Every error the bisection declares infeasible is proven so by the exact test
of :mod:`.sweep` (its rounding slack only ever widens the gates), so the
bisection's lower end is a lower bound on the best max error any sum with
that many units reaches on the points; its upper end is reached by the model
built from the sweep.  Both are kept: ``gap = achieved / lower - 1``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
from numpy.typing import ArrayLike

from relusum.fitting.fixed import check_n_units
from relusum.fitting.minimax.build import model_from_raw
from relusum.fitting.minimax.gates import Gates, make_gates
from relusum.fitting.minimax.sweep import Piece, raw_to_pieces, sweep_status
from relusum.model import ReluSum

__all__ = [
    "MinimaxInfo",
    "Solved",
    "bisect",
    "solve_gates",
    "minimax_points",
    "minimax_discontinuous",
]


@dataclass(frozen=True)
class MinimaxInfo:
    """What the free-knot minimax search found on its point set (original units)."""

    eps: float  # the max error reached on the fit points
    n_points: int  # distinct x used
    iterations: int  # sweeps run
    rounds: int = 0  # refinement rounds (functions)
    lower_bound: float = 0.0  # proven: no sum with these units does better on the points
    jumps: int = 0  # jumps of the target found (functions)
    #: The final (refined) fit samples the bound is proven on (functions; None for data).
    samples: tuple[np.ndarray, np.ndarray] | None = field(default=None, repr=False)

    @property
    def gap(self) -> float:
        """``eps / lower_bound - 1``; 0 for an exact fit (bound 0, error at rounding level)."""
        if self.lower_bound > 0:
            return max(self.eps / self.lower_bound - 1.0, 0.0)
        return 0.0


@dataclass(frozen=True)
class Solved:
    """A bisection's result, normalised: feasible ``eps``, its pieces, proven ``lower``."""

    eps: float
    raw: tuple  # the feasible sweep's arrays (:func:`.sweep.sweep_raw`)
    lower: float
    iterations: int

    @cached_property
    def pieces(self) -> list[Piece]:
        """The sweep's pieces, made on first use (building the model needs only ``raw``)."""
        return raw_to_pieces(self.raw)


def pieces_for(n_units: int, flat_first: bool) -> int:
    """Pieces of ``n_units`` units: a flat first piece adds one."""
    return n_units + 1 if flat_first else n_units


def bisect(
    g: Gates,
    max_pieces: int,
    flat_first: bool,
    continuous: bool,
    rtol: float,
    lo: float | None = None,
    hi: float | None = None,
    progress: Callable[[], None] | None = None,
    tube: bool = False,
    guess: float | None = None,
    reached: bool = False,
    near_lo: bool = False,
) -> Solved:
    """Smallest normalised eps (within ``rtol``) for which the sweep fits in ``max_pieces``.

    ``lo`` must be a proven lower bound (or None), ``hi`` is only a guess;
    ``guess`` (below ``hi``) is tested first: infeasible, it becomes the
    proven lower end, which saves the bracketing steps.

    ``reached=True`` says some fit reaches ``hi`` on the gates (with ``lo``
    given): its sweep is run only if no smaller error turns out feasible.
    ``near_lo=True`` (with ``reached``) says the optimum is probably much
    closer to ``lo`` than to ``hi`` (samples added to a solved set raise its
    optimum a little, while ``hi`` is an earlier fit's error at the new
    samples): the bracket is first narrowed in the logarithm of
    ``eps / lo - 1``, which takes about ``log2(log2(width / rtol))`` sweeps,
    then bisected.
    """
    its = 0
    floor = g.floor
    # The reported bound moves only on proven infeasibility (status 0); a
    # sweep undecided by rounding (status 2) steers the search but proves nothing.
    proven = max(floor, lo if lo is not None else 0.0)

    def test(eps: float):
        nonlocal its, proven
        its += 1
        status, raw = sweep_status(g, eps, max_pieces, flat_first, continuous, tube)
        if status == 0 and eps > proven:
            proven = eps
        return raw

    if lo is None or not lo > floor * (1.0 + 1e-6):
        # (A proven lower bound clearly above the floor already rules it
        # out; one equal to it up to rounding in the units does not.)
        res = test(floor)
        if res is not None:
            return Solved(floor, res, floor, its)
    lo_e = max(floor, lo if lo is not None else 0.0)
    if hi is None:
        hi = _initial_bound(g, max_pieces, flat_first)
    hi_e = max(hi, lo_e * (1.0 + rtol), 1e-14)
    if reached and lo is not None and guess is None and hi_e == hi:
        # hi is reached: bisect below it and sweep it only if nothing smaller is feasible.
        res = _bisect_below(test, lo_e, hi_e, rtol, progress, near_lo)
        if res is not None:
            return Solved(res[0], res[1], min(proven, res[0]), its)
        best = test(hi_e)
        if best is not None:
            return Solved(hi_e, best, min(proven, hi_e), its)
        lo_e = max(lo_e, hi_e)  # not reached after all (rounding): the plain search from here
    else:
        best = test(hi_e)
    while best is None:  # hi was too optimistic
        lo_e = hi_e
        hi_e = hi_e * 2.0 + 1e-12
        best = test(hi_e)
    if guess is not None and lo_e < guess < hi_e:
        # Step down from hi in growing relative steps until infeasible.
        step = 1.0 - guess / hi_e
        trial = guess
        while lo is None and step < 0.5:
            res = test(trial)
            if res is None:
                lo_e, lo = trial, trial
                break
            hi_e, best = trial, res
            step *= 4.0
            trial = hi_e * (1.0 - step)
    if lo is None:
        # Bracket from above in big steps: the optimum is rarely far below.
        while hi_e > 64.0 * max(lo_e, 1e-14):
            trial = hi_e / 64.0
            res = test(trial)
            if res is None:
                lo_e = trial
                break
            hi_e, best = trial, res
    _, hi_e, best = _narrow(test, lo_e, hi_e, best, rtol, progress)
    return Solved(hi_e, best, min(proven, hi_e), its)


def _mid(lo_e: float, hi_e: float) -> float:
    return math.sqrt(max(lo_e, 1e-300) * hi_e) if hi_e > 4.0 * lo_e else 0.5 * (lo_e + hi_e)


def _narrow(
    test: Callable[[float], tuple | None],
    lo_e: float,
    hi_e: float,
    best: tuple | None,
    rtol: float,
    progress: Callable[[], None] | None,
    mid: Callable[[float, float], float | None] = _mid,
) -> tuple[float, float, tuple | None]:
    """Narrow ``[lo_e, hi_e]`` at ``mid``'s points to ``rtol`` (or until ``mid`` is None).

    Returns the new bracket and the sweep of the smallest feasible error
    tested (``best`` if none was).
    """
    while hi_e - lo_e > rtol * hi_e and hi_e > 1e-14:
        m = mid(lo_e, hi_e)
        if m is None:
            break
        res = test(m)
        if progress is not None:
            progress()
        if res is None:
            lo_e = m
        else:
            hi_e, best = m, res
    return lo_e, hi_e, best


def _bisect_below(
    test: Callable[[float], tuple | None],
    lo_e: float,
    hi_e: float,
    rtol: float,
    progress: Callable[[], None] | None,
    near_lo: bool = False,
) -> tuple[float, tuple] | None:
    """The bisection of :func:`bisect` with ``hi_e`` taken as feasible, not swept.

    Returns the smallest feasible error found and its sweep, or None if every
    error tested was infeasible (then ``hi_e`` itself must be swept).  Without
    ``near_lo`` the errors tested are those of the plain bisection.
    """
    best = None
    if near_lo and lo_e > 0.0:
        # Offsets x = eps / lo0 - 1: bisect log x while the bracket spans
        # more than a factor 2 (x below rtol counts as rtol / 2).
        lo0 = float(lo_e)

        def log_mid(lo_e: float, hi_e: float) -> float | None:
            x_lo = max(lo_e / lo0 - 1.0, 0.5 * rtol)
            x_hi = hi_e / lo0 - 1.0
            return None if x_hi <= 2.0 * x_lo else lo0 * (1.0 + math.sqrt(x_lo * x_hi))

        lo_e, hi_e, best = _narrow(test, lo_e, hi_e, best, rtol, progress, log_mid)
    _, hi_e, best = _narrow(test, lo_e, hi_e, best, rtol, progress)
    return None if best is None else (hi_e, best)


def _initial_bound(g: Gates, max_pieces: int, flat_first: bool) -> float:
    """An error a fit with this many pieces probably reaches: uniform breakpoints, least squares."""
    from relusum.fitting.hat import hat_lstsq

    k = max_pieces - 1 if flat_first else max_pieces
    if k < 1 or g.u.size < 3:
        return 1.0 + g.spread
    k = min(k, g.u.size - 1)
    t = np.linspace(g.u_a, g.u_b, k + 1)
    mid = 0.5 * (g.lo + g.hi)
    try:
        c = hat_lstsq(g.u, mid, t)
    except Exception:  # noqa: BLE001 - only a starting bracket
        return 1.0 + g.spread
    fit = np.interp(g.u, t, c)
    e = float(np.max(np.maximum(np.abs(fit - g.lo), np.abs(fit - g.hi))))
    if not np.isfinite(e):
        return 1.0 + g.spread
    return min(e * (1.0 + 1e-9) + 1e-15, 1.0 + g.spread)


def solve_gates(
    g: Gates,
    n_units: int,
    flat_first: bool,
    rtol: float,
    *,
    lo: float | None = None,
    hi: float | None = None,
    progress: Callable[[], None] | None = None,
    tube: bool = False,
    guess: float | None = None,
    reached: bool = False,
    near_lo: bool = False,
) -> tuple[Solved, ReluSum]:
    """The optimal sum with ``n_units`` units on the gates, and the bisection behind it.

    ``tube=True`` (sampled functions): the optimum against the samples'
    linear interpolant on the whole interval (joints inside the band too);
    ``lo`` must then be a lower bound for that problem (a points-only bound
    is one, since the tube problem is harder).
    """
    res = bisect(
        g,
        pieces_for(n_units, flat_first),
        flat_first,
        True,
        rtol,
        lo=lo,
        hi=hi,
        progress=progress,
        tube=tube,
        guess=guess,
        reached=reached,
        near_lo=near_lo,
    )
    return res, model_from_raw(g, res.raw, flat_first)


def minimax_points(
    x: ArrayLike,
    y: ArrayLike,
    n_units: int,
    *,
    domain: tuple[float, float] | None = None,
    flat_first: bool = True,
    rtol: float = 1e-9,
) -> tuple[ReluSum, float]:
    """The sum of ``n_units`` ReLUs with the smallest max error on the points.

    Parameters
    ----------
    x, y : array_like
        The points, any order; repeated x allowed.
    n_units : int
        Number of ReLU units.
    domain : (A, B), optional
        Knots lie in ``[A, B]`` (default: the range of ``x``).
    flat_first : bool
        Allow a flat first piece (``n_units + 1`` pieces, the free problem);
        ``False`` pins the first knot at ``A`` (``n_units`` sloped pieces).
    rtol : float
        Relative accuracy of the optimal error (bisection stops there).

    Returns
    -------
    model : ReluSum
    eps : float
        The max error reached on the points (the optimum to ``rtol``).

    Examples
    --------
    >>> import numpy as np
    >>> from relusum.fitting.minimax import minimax_points
    >>> x = np.linspace(0, 1, 2001)
    >>> s, eps = minimax_points(x, x**2, 2)
    >>> round(eps * 50, 4)  # optimum 1 / (2 (2n + 1)^2) = 1/50
    1.0
    """
    n_units = check_n_units(n_units)
    g = make_gates(x, y, domain)
    _, model = solve_gates(g, n_units, flat_first, rtol)
    ya = np.asarray(y, dtype=float).ravel()
    err = float(np.max(np.abs(model(np.asarray(x, dtype=float).ravel()) - ya)))
    return model, err


def minimax_discontinuous(
    x: ArrayLike,
    y: ArrayLike,
    n_pieces: int,
    *,
    domain: tuple[float, float] | None = None,
    rtol: float = 1e-9,
) -> float:
    """The smallest max error of ``n_pieces`` lines that need not join (a lower bound).

    Any continuous fit with ``n_pieces`` pieces is such a set of lines, so no
    continuous fit does better on the same points.

    Examples
    --------
    >>> import numpy as np
    >>> from relusum.fitting.minimax import minimax_discontinuous
    >>> x = np.linspace(0, 1, 101)
    >>> minimax_discontinuous(x, np.where(x < 0.5, 0.0, 1.0), 2) < 1e-9
    True
    """
    g = make_gates(x, y, domain)
    res = bisect(g, check_n_units(n_pieces), False, False, rtol)
    return float(res.eps * g.half)
