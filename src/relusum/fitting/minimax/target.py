"""Free-knot minimax fit of a target: data exactly, functions with errors that hold between samples.

Functions
    The exact optimum on the samples can be beaten between them (near a
    singular derivative such as ``sqrt`` at 0, or at a jump).  After each fit
    the error is checked on a dense grid (offset from the samples and from
    relusum's verification grid); where it peaks above the error on the
    samples, the peak is located precisely and added as a sample, and the fit
    is redone (the bisection restarts from the proven lower bound), until the
    dense error is within 0.05% of the sample error.
Jumps
    At each such peak the target is bisected inside its sample interval; if
    its values on either side stay apart as the interval shrinks to rounding
    size, the target jumps there.  Both one-sided values become samples at one
    x, so the gate there has the half jump height as its floor: the certified
    optimum includes it.  When that floor decides the optimum, a second pass
    keeps every jump at its floor and minimises the error everywhere else
    (so a step is matched exactly away from the jump, with the least steep
    ramp the samples allow rather than a constant).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from relusum.fitting.fixed import check_n_units
from relusum.fitting.minimax.build import model_from_pieces
from relusum.fitting.minimax.fixed_lp import dense_grid, local_max, peaks
from relusum.fitting.minimax.gates import Gates, make_gates
from relusum.fitting.minimax.solve import MinimaxInfo, Solved, bisect, pieces_for, solve_gates
from relusum.fitting.minimax.sweep import greedy_pieces
from relusum.model import ReluSum
from relusum.targets import Target

__all__ = ["minimax_target", "find_jumps"]

#: Stop refining when the dense error is within this fraction of the sample error.
_AGREE = 5e-4
#: Accuracy of the tube optimum once the grid agrees.
_FINE = 1e-4
#: Where inside a sample interval with an error peak new samples go.
_FILL = np.arange(1, 8) / 8.0


def _error_of(model: ReluSum, target: Target) -> Callable[[np.ndarray], np.ndarray]:
    def err(t: np.ndarray) -> np.ndarray:
        return model(t) - target.evaluate(t)

    return err


def _sample_error(model: ReluSum, x: np.ndarray, y: np.ndarray) -> float:
    return float(np.max(np.abs(model(x) - y))) if x.size else 0.0


def find_jumps(
    fn: Callable[[np.ndarray], np.ndarray], left: np.ndarray, right: np.ndarray, scale: float
) -> tuple[np.ndarray, np.ndarray]:
    """Bisect each ``[left, right]`` toward its largest change; return the jumps found.

    Returns ``(x, values)``: the position of each jump and, per jump, the
    values just left of it, at it and just right of it (shape ``(k, 3)``),
    for the intervals whose values stay more than ``1e-9 * scale`` apart once
    the interval is down to rounding size.

    Examples
    --------
    >>> import numpy as np
    >>> from relusum.fitting.minimax.target import find_jumps
    >>> x, v = find_jumps(np.sign, np.array([-0.1, 0.2]), np.array([0.3, 0.5]), 1.0)
    >>> abs(float(x[0])) < 1e-15, v.tolist()
    (True, [[-1.0, 1.0, 1.0]])
    """
    lo = np.asarray(left, dtype=float).copy()
    hi = np.asarray(right, dtype=float).copy()
    w0 = hi - lo
    flo = np.asarray(fn(lo), dtype=float)
    fhi = np.asarray(fn(hi), dtype=float)
    for _ in range(64):
        m = 0.5 * (lo + hi)
        fm = np.asarray(fn(m), dtype=float)
        go_left = np.abs(fm - flo) >= np.abs(fhi - fm)
        hi = np.where(go_left, m, hi)
        fhi = np.where(go_left, fm, fhi)
        lo = np.where(go_left, lo, m)
        flo = np.where(go_left, flo, fm)
    width = hi - lo
    small = width <= np.maximum(1e-13 * (np.abs(lo) + np.abs(hi)), 1e-15 * w0)
    jump = (np.abs(fhi - flo) > 1e-9 * scale) & small
    x = hi[jump]
    after = np.asarray(fn(x + np.maximum(width[jump], np.spacing(x))), dtype=float)
    return x, np.stack((flo[jump], fhi[jump], after), axis=1).reshape(-1, 3)


def _second_pass(
    g: Gates, n_units: int, flat_first: bool, rtol: float, eps_n: float, tube: bool = False
) -> ReluSum | None:
    """Keep every repeated-x gate at what ``eps_n`` allows; minimise the error on the others."""
    rep = g.hi > g.lo
    if not np.any(rep) or np.all(rep):
        return None
    pinned = g.pin(rep, g.hi[rep] - eps_n, g.lo[rep] + eps_n)
    _, model = solve_gates(pinned, n_units, flat_first, rtol, hi=eps_n, tube=tube)
    return model


def minimax_target(
    target: Target,
    n_units: int,
    *,
    flat_first: bool = True,
    rtol: float | None = None,
    rounds: int = 6,
    progress: Callable[[], None] | None = None,
) -> tuple[ReluSum, MinimaxInfo]:
    """Free-knot minimax fit of a :class:`~relusum.targets.Target` with ``n_units`` units.

    Data: the exact optimum on the points (relative accuracy ``rtol``,
    default 1e-9), with a proven lower bound.  Function: the same on the
    samples, refined until the error between samples agrees (see the module
    docstring); ``info.eps`` is the error on the final sample set and
    ``info.lower_bound`` a proven bound for it (hence for the continuous
    problem too).

    Examples
    --------
    >>> from relusum.targets import make_target
    >>> from relusum.fitting.minimax import minimax_target
    >>> s, info = minimax_target(make_target("abs(x - 0.3)", (0, 1)), 2)
    >>> s.knots.round(12).tolist(), s.weights.round(12).tolist()
    ([0.0, 0.3], [-1.0, 2.0])
    """
    n_units = check_n_units(n_units)
    rtol = 1e-9 if rtol is None else float(rtol)
    x, y = target.x, np.asarray(target.y, dtype=float)
    g = make_gates(x, y, target.domain)
    if target.fn is None:
        res, model = solve_gates(g, n_units, flat_first, rtol, progress=progress)
        if res.eps <= g.floor and g.floor > 0:
            better = _second_pass(g, n_units, flat_first, rtol, res.eps)
            if better is not None and _sample_error(better, x, y) <= _sample_error(model, x, y):
                model = better
        err = _sample_error(model, x, y)
        return model, MinimaxInfo(err, int(g.u.size), res.iterations, 0, res.lower * g.half)
    # Functions: the optimum against the samples' interpolant on the whole
    # interval (joints inside the band), refined where the target itself
    # still peaks between the samples.
    dense = dense_grid(target.domain, max(20 * x.size, 100_000))
    fd = target.evaluate(dense)
    scale = float(np.max(np.abs(fd))) + 1.0
    # A target that is itself such a sum (kinks between samples) is matched
    # on the samples exactly; the joints are then its kinks.
    exact = greedy_pieces(g, 0.0, pieces_for(n_units, flat_first), flat_first, True)
    if exact is not None:
        model = model_from_pieces(g, exact, flat_first)
        if float(np.max(np.abs(model(dense) - fd))) <= 1e-9 * scale:
            return model, MinimaxInfo(_sample_error(model, x, y), int(g.u.size), 1, 0, 0.0)
    # Refinement rounds run at a coarse accuracy; once the grid agrees, the
    # tube optimum is sharpened and checked once more.
    rt = max(rtol, 1e-4)
    res, model = _tube_solve(g, n_units, flat_first, rt, None, progress)
    its = res.iterations
    xs, ys = x, y
    done = 0
    n_jumps = 0
    a_, b_ = target.domain
    for _ in range(rounds):
        on_pts = _sample_error(model, xs, ys)
        e = model(dense) - fd
        emax = float(np.max(np.abs(e)))
        if emax <= on_pts * (1.0 + _AGREE) + 1e-12 * scale:
            if rt <= _FINE:
                break
            rt = _FINE
            res, model = _tube_solve(g, n_units, flat_first, rt, on_pts, progress, 2e-4)
            its += res.iterations
            continue
        idx = peaks(e, on_pts * (1.0 + _AGREE * 0.5), 4 * n_units + 64)
        if idx.size == 0:
            break
        xp = dense[idx]
        k = np.clip(np.searchsorted(xs, xp), 1, xs.size - 1)
        left, right = xs[k - 1], xs[k]
        jx, jv = find_jumps(target.evaluate, left, right, scale)
        new_x = [jx, jx, jx]
        new_y = [jv[:, 0], jv[:, 1], jv[:, 2]]
        n_jumps += int(jx.size)
        # Peaks away from any jump: locate the maximum of the error precisely.
        keep = np.ones(xp.size, dtype=bool)
        for xj in np.unique(jx):
            keep &= ~((left <= xj) & (xj <= right))
        if np.any(keep):
            ii = idx[keep]
            lo_b = dense[np.maximum(ii - 1, 0)]
            hi_b = dense[np.minimum(ii + 1, dense.size - 1)]
            xm = local_max(_error_of(model, target), lo_b, hi_b)
            # The peak, and points filling its sample interval.
            # (and its two neighbours: the touch points of the next optimum
            # move by a sample or so).
            kk = np.clip(np.searchsorted(xs, xm), 1, xs.size - 1)
            kk = np.unique(np.clip(np.concatenate((kk - 1, kk, kk + 1)), 1, xs.size - 1))
            fill = xs[kk - 1][:, None] + (xs[kk] - xs[kk - 1])[:, None] * _FILL[None, :]
            xm = np.concatenate((xm, fill.ravel()))
            new_x.append(xm)
            new_y.append(target.evaluate(xm))
        nx = np.concatenate(new_x)
        if nx.size == 0:
            break
        xs = np.concatenate((xs, nx))
        ys = np.concatenate((ys, np.concatenate(new_y)))
        order = np.argsort(xs, kind="stable")
        xs, ys = xs[order], ys[order]
        # Points closer than 1e-13 of the domain add nothing but rounding
        # (a jump's two values share one x and are kept).
        dx = np.diff(xs)
        dup = np.concatenate(([False], (dx <= 1e-13 * (b_ - a_)) & (dx > 0)))
        xs, ys = xs[~dup], ys[~dup]
        g = make_gates(xs, ys, target.domain)
        res, model = _tube_solve(
            g, n_units, flat_first, rt, _sample_error(model, xs, ys), progress, 4e-3
        )
        its += res.iterations
        done += 1
    # The certificate: the exact optimum on the final samples (points only)
    # is a proven lower bound; the tube optimum is at or above it.
    err = _sample_error(model, xs, ys)
    pts = bisect(
        g,
        pieces_for(n_units, flat_first),
        flat_first,
        True,
        max(rtol, 1e-4),
        hi=err / g.half * (1.0 + 1e-12),
        progress=progress,
        guess=err / g.half * (1.0 - 4e-3),
    )
    its += pts.iterations
    return model, MinimaxInfo(err, int(g.u.size), its, done, pts.lower * g.half, n_jumps)


def _tube_solve(
    g: Gates,
    n_units: int,
    flat_first: bool,
    rtol: float,
    hi: float | None,
    progress: Callable[[], None] | None,
    below: float | None = None,
) -> tuple[Solved, ReluSum]:
    """The optimum against the interpolant; a jump-dominated optimum gets the second pass.

    ``hi`` is an error (original units) some fit reaches; ``below`` a relative
    step under it where the optimum probably lies (tried first).
    """
    hi_n = None if hi is None else hi / g.half * (1.0 + 1e-9)
    res, model = solve_gates(
        g,
        n_units,
        flat_first,
        rtol,
        hi=hi_n,
        progress=progress,
        tube=True,
        guess=None if (hi_n is None or below is None) else hi_n * (1.0 - below),
    )
    if res.eps <= g.floor and g.floor > 0:
        better = _second_pass(g, n_units, flat_first, rtol, res.eps, True)
        if better is not None:
            model = better
    return res, model
