"""A certificate for another sum that beats the exact fit of a function on the grid.

:func:`~.target.minimax_target` proves its bound on its final samples, which
agree with the grid to ``agree`` (0.02% or 0.005% by default).  A sum built
otherwise (the uniform-knot LP of the guard in
:func:`~relusum.fitting.optimal.fit_optimal`, a warm start) can measure below
the exact fit on the grid by that margin only, and its error on the exact
fit's samples is then above the bound by up to that margin: not a certificate
within 1e-6.  :func:`certify` adds that sum's own error peaks on the grid
(located precisely) and its knots to the samples and proves the bound again
from the old one (more samples only raise the optimum, so the old bound stays
proven and starts the bisection) up to the sum's error there (which it
reaches, so that end is not swept): a few sweeps instead of refining the
exact fit closer.  Where the optimum is the other sum (``gelu`` with 2 units:
uniform knots), its peaks are the extremal points and the new bound meets its
error.
"""

from __future__ import annotations

import numpy as np

from relusum.fitting.minimax.gates import make_gates
from relusum.fitting.minimax.solve import MinimaxInfo, bisect, pieces_for
from relusum.fitting.minimax.spacing import apart, resolved
from relusum.fitting.minimax.target import (
    _SPACING,
    _at,
    _error_of,
    _locate,
    _peaks,
    _sample_error,
)
from relusum.model import ReluSum
from relusum.targets import Target

__all__ = ["certify"]


def certify(
    target: Target,
    n_units: int,
    model: ReluSum,
    info: MinimaxInfo,
    *,
    flat_first: bool = True,
    gap: float = 1e-6,
    rtol: float = 1e-9,
) -> MinimaxInfo | None:
    """The certificate of ``model`` on the exact fit's samples plus its own error peaks.

    Parameters
    ----------
    target : Target
        A function target.
    n_units : int
        Units of the fits compared.
    model : ReluSum
        The other sum (at most ``n_units`` units).
    info : MinimaxInfo
        The exact fit's (:func:`~.target.minimax_target`), with its samples and bound.
    flat_first : bool
        As for the exact fit (False: the first knot pinned at ``A``).
    gap : float
        The largest relative gap accepted.
    rtol : float
        Accuracy of the bisection.

    Returns
    -------
    MinimaxInfo or None
        ``model``'s error on the new samples (``eps``), the bound proven there
        and the samples, when ``eps / lower_bound - 1 <= gap``; None when the
        bound does not get there (or ``info`` has no samples or bound, or the
        samples hold a jump), so the caller refines the exact fit instead.

    Examples
    --------
    >>> from relusum.fitting.fixed import uniform_knots
    >>> from relusum.fitting.minimax import linf_fixed_target, minimax_target
    >>> from relusum.fitting.minimax.certify import certify
    >>> from relusum.targets import make_target
    >>> t = make_target("x**3", (-1, 1))  # uniform knots [-1, 0] are optimal
    >>> exact, info = minimax_target(t, 2)
    >>> other = linf_fixed_target(t, uniform_knots(t.domain, 2))
    >>> c = certify(t, 2, other, info)
    >>> c.gap <= 1e-8 and c.lower_bound >= info.lower_bound
    True
    """
    if target.fn is None or info.samples is None or not info.lower_bound > 0:
        return None
    xs, ys = info.samples
    on = _sample_error(model, xs, ys)
    if on <= info.lower_bound * (1.0 + gap):
        return MinimaxInfo(on, info.n_points, 0, 0, info.lower_bound, info.jumps, (xs, ys))
    a_, b_ = target.domain
    err_at = _error_of(target)
    try:
        gx, gy = target.verification(model.knots)
        e = _at(model, gx) - gy
        top = float(np.max(np.abs(e)))
        idx = _peaks(e, top * (1.0 - 1e-3), 4 * n_units + 64)
        k = np.clip(idx, 1, gx.size - 2)
        xm = _locate(lambda t: err_at(model, t), gx[k - 1], gx[k + 1], top * 1e-9)
        # Never lose a peak to a zoom that missed it.
        xm = np.where(np.abs(err_at(model, xm)) >= np.abs(e[idx]), xm, gx[idx])
        knots_in = model.knots[(model.knots > a_) & (model.knots < b_)]
        nx = np.unique(np.concatenate((xm, knots_in)))
        ok = resolved(xs, nx, apart(xs, nx, _SPACING * (b_ - a_), 0), 0, target.domain)
        nx = nx[ok]
        ny = target.evaluate(nx)
    except ValueError:  # the target is not finite (or fails) at a new point
        return None
    x2 = np.concatenate((xs, nx))
    y2 = np.concatenate((ys, ny))
    order = np.argsort(x2, kind="stable")
    x2, y2 = x2[order], y2[order]
    g = make_gates(x2, y2, target.domain)
    if g.floor > 0:  # a jump's floor: its second pass belongs to the exact fit
        return None
    on = _sample_error(model, x2, y2)
    res = bisect(
        g,
        pieces_for(n_units, flat_first),
        flat_first,
        True,
        rtol,
        lo=info.lower_bound / g.half,
        hi=on / g.half * (1.0 + 1e-9),
        reached=True,
        near_lo=True,
    )
    lower = res.lower * g.half
    if not on <= lower * (1.0 + gap):
        return None
    return MinimaxInfo(on, int(g.u.size), res.iterations, 0, lower, info.jumps, (x2, y2))
