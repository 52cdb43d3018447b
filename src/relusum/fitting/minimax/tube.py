"""The tube fit of a sampled function: the optimum against the samples' linear interpolant.

The fallback of :func:`~relusum.fitting.minimax.target.minimax_target` when
the exact optimum on the samples cannot be made to hold between them (a
singular derivative such as ``sqrt`` at 0 would need samples closer than the
sweep resolves).  Joints are kept inside the band around the interpolant, so
the error holds between samples; the samples are refined where the target
still peaks between them.  No certificate of its own: the caller measures it
against the lower bound of the exact optimum on its sample set.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from relusum.fitting.minimax.fixed_lp import local_max, peaks
from relusum.fitting.minimax.gates import Gates, make_gates
from relusum.fitting.minimax.solve import Solved, solve_gates
from relusum.model import ReluSum
from relusum.targets import Target

__all__ = ["tube_fit"]

#: Stop refining when the dense error is within this fraction of the sample error.
_AGREE = 5e-4
#: Accuracy of the tube optimum once the grid agrees.
_FINE = 1e-4
#: Where inside a sample interval with an error peak new samples go.
_FILL = np.arange(1, 8) / 8.0


def _at(model: ReluSum, x: np.ndarray) -> np.ndarray:
    """``model(x)``, compiled (:mod:`.values`: the same numbers, one pass)."""
    from relusum.fitting.minimax.values import model_values

    return model_values(model, x)


def _sample_error(model: ReluSum, x: np.ndarray, y: np.ndarray) -> float:
    return float(np.max(np.abs(_at(model, x) - y))) if x.size else 0.0


def tube_fit(
    target: Target,
    n_units: int,
    flat_first: bool,
    rtol: float,
    dense: np.ndarray,
    fd: np.ndarray,
    scale: float,
    rounds: int = 6,
    progress: Callable[[], None] | None = None,
) -> tuple[ReluSum, int]:
    """The refined tube optimum of a function target and the sweeps it took."""
    from relusum.fitting.minimax.target import find_jumps

    x, y = target.x, np.asarray(target.y, dtype=float)
    g = make_gates(x, y, target.domain)

    def err_of(model: ReluSum) -> Callable[[np.ndarray], np.ndarray]:
        return lambda t: _at(model, t) - target.evaluate(t)

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
        e = _at(model, dense) - fd
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
            xm = local_max(err_of(model), lo_b, hi_b)
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
    return model, its


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
        from relusum.fitting.minimax.target import _second_pass

        better = _second_pass(g, n_units, flat_first, rtol, res.eps, True)
        if better is not None:
            model = better
    return res, model
