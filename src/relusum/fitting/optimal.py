"""Optimal (free) knots for ``l2`` and ``linf``: :func:`fit_optimal`.

============================  =========================================================
loss                          method
============================  =========================================================
l2                            free-knot least squares, :mod:`relusum.fitting.free_l2`
linf                          exact sweep + bisection, :func:`~.minimax.minimax_target`,
                              with a certificate (``lower_bound``, ``gap``)
============================  =========================================================

The solver table (:mod:`relusum.fitting.solvers`) calls :func:`fit_optimal`;
``sample_weight`` applies to least squares only.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from relusum.fitting.fixed import uniform_knots
from relusum.fitting.minimax import linf_fixed_target, minimax_target
from relusum.fitting.minimax.fixed_lp import linf_fixed_knots, linf_fixed_with_bound
from relusum.fitting.progress import progress_bar
from relusum.fitting.report import measure
from relusum.model import ReluSum
from relusum.targets import Target

__all__ = ["fit_optimal", "progress_bar"]

#: A function fit that a guard candidate beats on the grid is refined to this agreement.
_CLOSE = 1e-6
#: A candidate certified within this of its bound is taken without refining the exact fit.
_SURE = 1e-8
#: The report's word on certificates for free-knot least squares.
_NONE_L2 = "none (non-convex in the knots; the best of several searches, no proven lower bound)"
#: Uniform knots whose proven grid bound is within this of the exact fit's
#: grid error tie it: the exact fit is refined to ``_CLOSE`` before the LP.
_NEAR = 1e-3


def fit_optimal(
    target: Target,
    n_units: int,
    loss: str,
    *,
    progress: bool | None = None,
    init: ArrayLike | ReluSum | None = None,
    pin_first: bool = False,
    search: str = "thorough",
    agree: float | None = None,
) -> tuple[ReluSum, dict[str, Any]]:
    """Optimal knots for ``n_units`` units and ``loss`` on a ready target.

    Returns the model and the method details for the report.  ``init`` warm
    starts: knots for ``l2`` (see :func:`~relusum.fitting.free_l2.free_knot_l2`),
    a :class:`ReluSum` with at most ``n_units`` units for ``linf`` (the result
    is never worse than it, so a chain n = 1, 2, ... never gets worse).
    ``pin_first`` puts the first knot at ``A``: exactly ``n_units`` sloped
    pieces (``relusum.fit(..., pieces=k)``).  ``search`` ("thorough" or
    "quick") chooses the free-knot least-squares search (``l2`` only);
    ``agree`` how closely a ``linf`` fit of a function refines its samples
    (see :func:`~.minimax.minimax_target`; default there).

    Examples
    --------
    >>> from relusum.targets import make_target
    >>> from relusum.fitting.optimal import fit_optimal
    >>> s, extra = fit_optimal(make_target("abs(x)", (-1, 1)), 2, "linf")
    >>> (s.knots.round(9) + 0.0).tolist(), extra["method"]
    ([-1.0, 0.0], 'exact minimax')
    """
    if loss == "l2":
        try:
            from relusum.fitting.free_l2 import free_knot_l2
        except ImportError:
            raise ValueError(
                "free-knot least squares (knots='optimal', loss='l2') is not available "
                "in this version"
            ) from None
        kwargs: dict[str, Any] = {"progress": progress, "pin_first": pin_first, "search": search}
        if isinstance(init, ReluSum):
            init = init.knots
        if init is not None:
            kwargs["init"] = init
        model = free_knot_l2(target, n_units, **kwargs)
        # No lower bound is known that could be proven here (the problem is
        # non-convex in the knots): none is reported, and the report says so.
        extra = {"method": "free-knot least squares", "search": search, "certificate": _NONE_L2}
        return model, extra
    with progress_bar(progress, f"minimax fit, {n_units} units", "sweep") as tick:
        how = {} if agree is None else {"agree": agree}
        model, info = minimax_target(
            target, n_units, flat_first=not pin_first, progress=tick, **how
        )
    if pin_first and model.n_units < n_units:
        model = _pad_pieces(target, model, n_units)
    extra: dict[str, Any] = {
        "method": "exact minimax",
        "sample_max_error": info.eps,
        "lower_bound": info.lower_bound,
        "gap": info.gap,
        "points_used": info.n_points,
        "sweeps": info.iterations,
        "refinements": info.rounds,
    }
    if agree is not None:
        extra["agree"] = agree
    if info.jumps:
        extra["jumps"] = info.jumps
    if info.eps > 0:
        # A guard (issue 9): on data the fit is the certified optimum; for a
        # function it is the certified optimum on samples refined until the
        # grid agrees within 0.02%, so a uniform-knot linear program can win
        # only by that margin.  Never return worse than it or a warm start.
        # A candidate that wins is certified on the exact fit's samples plus
        # its own error peaks (certify: a few sweeps); failing that, the exact
        # fit is refined closer (tighten) and compared again.
        best = measure(model, target)[1]
        tiny = 1e-10 * (1.0 + float(np.max(np.abs(target.y))))
        refit = target.fn is not None and info.lower_bound > 0

        def tighten() -> None:
            # A candidate may win by the grid-vs-samples disagreement only:
            # refine the exact fit closer (from its samples and bound) before
            # yielding its certificate.
            nonlocal model, best, info
            tight, tinfo = minimax_target(
                target,
                n_units,
                flat_first=not pin_first,
                agree=min(_CLOSE, agree or 1.0),
                start=(model, info),
            )
            if pin_first and tight.n_units < n_units:
                tight = _pad_pieces(target, tight, n_units)
            tbest = measure(tight, target)[1]
            extra["sweeps"] += tinfo.iterations
            extra["refinements"] += tinfo.rounds
            if tbest <= best * (1.0 + 1e-9) + tiny and tinfo.gap <= 1e-6:
                model, best, info = tight, tbest, tinfo
                extra.update(
                    sample_max_error=info.eps,
                    lower_bound=info.lower_bound,
                    gap=info.gap,
                    points_used=info.n_points,
                )

        def certified(other: ReluSum, err: float) -> bool:
            # A candidate better on the grid is taken with a certificate on the
            # exact fit's samples plus its own error peaks when that bound meets
            # its error within _SURE: no refined exact fit could then beat it by
            # more (the bound holds for every sum, at points of the domain).  Farther
            # off, the exact fit refined closer may win (gelu with 2 sloped
            # pieces: by 6.7e-7), so it is refined instead.
            nonlocal info
            from relusum.fitting.minimax.certify import certify

            cinfo = certify(target, n_units, other, info, flat_first=not pin_first, gap=_SURE)
            if cinfo is None or max(err, cinfo.eps) > cinfo.lower_bound * (1.0 + _SURE):
                return False
            info = cinfo
            extra["sweeps"] += cinfo.iterations
            extra.update(lower_bound=info.lower_bound, points_used=info.n_points)
            return True

        candidates = []
        if target.fn is not None and best > tiny:
            # The bound's LP runs on grid points around the exact fit's peaks
            # too, where the uniform optimum of a near tie peaks: its sum
            # starts that candidate.
            bound, start = _uniform_start(target, n_units, best * (1.0 - 1e-9) - tiny, model)
            if refit and best * (1.0 - _NEAR) <= bound < best * (1.0 - 1e-9) - tiny:
                # A near tie (gelu with 2 units): the uniform LP on the grid
                # around the exact fit's peaks.
                candidates.append(
                    (
                        "uniform knots (linear program)",
                        lambda: _uniform_near(target, n_units, model, start),
                    )
                )
            elif bound < best * (1.0 - 1e-9) - tiny:
                candidates.append(
                    (
                        "uniform knots (linear program)",
                        lambda: linf_fixed_target(target, uniform_knots(target.domain, n_units)),
                    )
                )
        if (
            isinstance(init, ReluSum)
            and init.n_units <= n_units
            and not (pin_first and (init.n_units != n_units or init.knots[0] != target.domain[0]))
        ):
            candidates.append(("warm start", lambda: init))
        for name, make in candidates:
            other = make()
            try:
                err = measure(other, target)[1]
            except ValueError:  # not measurable (the target is not finite at a knot)
                continue
            if refit and err < best * (1.0 - 1e-9) - tiny and not certified(other, err):
                refit = False  # at most once
                tighten()
            if err < best * (1.0 - 1e-9) - tiny:
                model, best = other, err
                extra["method"] = f"{name}, better than the exact minimax on the grid"
                if info.lower_bound > 0:
                    # The certificate stays on the fit samples the bound is proven on.
                    on = best
                    if info.samples is not None:
                        xs, ys = info.samples
                        on = float(np.max(np.abs(model(xs) - ys)))
                        extra["sample_max_error"] = on
                    extra["gap"] = max(on / info.lower_bound - 1.0, 0.0)
    return model, extra


def _uniform_cannot_win(target: Target, n_units: int, threshold: float) -> bool:
    """Whether no sum on uniform knots can measure below ``threshold`` on the grid."""
    return _uniform_bound(target, n_units, threshold) >= threshold


def _uniform_bound(
    target: Target, n_units: int, threshold: float, near: ReluSum | None = None
) -> float:
    """A lower bound on the grid error of every sum on uniform knots.

    The fixed-knot LP on a subset of the verification grid
    (:func:`_uniform_subset`) bounds from below the grid error of every sum
    on those knots, so the uniform-knot candidate (refined on its own
    samples, then measured on the whole grid) is skipped when the bound
    reaches ``threshold``: it provably cannot win, and the same result comes
    without its refinement rounds.  The chord bound (:func:`_chord_bound`,
    no LP) is returned alone when it already reaches ``threshold``.
    """
    return _uniform_start(target, n_units, threshold, near)[0]


#: The subset of the grid, the uniform-knot sum that is optimal on it, the grid.
_Start = tuple[np.ndarray, ReluSum, tuple[np.ndarray, np.ndarray]]


def _uniform_start(
    target: Target, n_units: int, threshold: float, near: ReluSum | None = None
) -> tuple[float, _Start | None]:
    """:func:`_uniform_bound`, and the LP's optimal sum on the subset when one ran.

    The sum is where :func:`_uniform_near` starts: the same LP on the same
    points, solved once.
    """
    knots = uniform_knots(target.domain, n_units)
    grid = gx, gy = _uniform_grid(target, knots)
    chord = _chord_bound(gx, gy, knots, target.domain)
    if chord >= threshold:
        return chord, None
    pick = _uniform_subset(grid, n_units, near)
    model, bound = linf_fixed_with_bound(gx[pick], gy[pick], knots, target.domain)
    return max(chord, bound), (pick, model, grid)


def _uniform_grid(target: Target, knots: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The points a sum on ``knots`` is measured on: the grid and the knots.

    Without the knots where the target is not finite at one (``sin(x)/x``
    at 0): a bound on a subset of the points still bounds.
    """
    try:
        return target.verification(knots)
    except ValueError:
        return target.verification()


def _uniform_subset(
    grid: tuple[np.ndarray, np.ndarray], n_units: int, near: ReluSum | None = None
) -> np.ndarray:
    """Indices of an even subset of ``grid``, about 32 per knot interval.

    ``grid`` is :func:`_uniform_grid`'s.  With ``near`` (a fit that ties
    uniform knots), also the grid points around its highest error peaks,
    where the uniform optimum peaks too.
    """
    from relusum.fitting.minimax.values import model_values  # (numba: lazily)

    gx, gy = grid
    m = min(gx.size, 32 * (n_units + 1))
    pick = np.linspace(0, gx.size - 1, m).round().astype(np.int64)
    if near is not None:
        pick = np.concatenate((pick, _around_peaks(np.abs(model_values(near, gx) - gy), n_units)))
    return np.unique(pick)


def _around_peaks(a: np.ndarray, n_units: int, above: float = -np.inf) -> np.ndarray:
    """Indices around the highest local maxima of ``a`` above ``above`` (4 n + 16 at most).

    Each peak comes with its two neighbours; an end of ``a`` above ``above``
    counts as a peak too.
    """
    if a.size < 3:
        return np.flatnonzero(a > above)
    top = np.flatnonzero((a[1:-1] >= a[:-2]) & (a[1:-1] >= a[2:]) & (a[1:-1] > above)) + 1
    top = top[np.argsort(a[top])[::-1][: 4 * n_units + 16]]
    edge = np.array([i for i in (0, a.size - 1) if a[i] > above], dtype=np.int64)
    return np.concatenate((top - 1, top, top + 1, edge))


def _uniform_near(
    target: Target, n_units: int, near: ReluSum, start: _Start | None = None
) -> ReluSum:
    """The uniform-knot candidate of a near tie: the LP on a subset of the grid.

    When uniform knots tie the exact fit, the LP starts on
    :func:`_uniform_subset` with ``near`` (the grid points around the exact
    fit's peaks) and takes in the grid points around its own peaks until no
    grid point is worse than the subset (cutting planes): the uniform
    optimum on the grid, from LPs on a few hundred points instead of
    :func:`~.minimax.linf_fixed_target`'s on the fit samples.  ``start``
    (from :func:`_uniform_start` with the same ``near``) is its first LP,
    already solved.
    """
    from relusum.fitting.minimax.values import model_values  # (numba: lazily)

    knots = uniform_knots(target.domain, n_units)
    if start is None:
        grid = _uniform_grid(target, knots)
        pick = _uniform_subset(grid, n_units, near)
        model = linf_fixed_knots(grid[0][pick], grid[1][pick], knots, target.domain)
    else:
        pick, model, grid = start
    gx, gy = grid
    for _ in range(8):
        a = np.abs(model_values(model, gx) - gy)
        on = float(np.max(a[pick]))
        if float(np.max(a)) <= on * (1.0 + 1e-9):
            break
        pick = np.unique(np.concatenate((pick, _around_peaks(a, n_units, on))))
        model = linf_fixed_knots(gx[pick], gy[pick], knots, target.domain, start=model)
    return model


def _chord_bound(
    x: np.ndarray, y: np.ndarray, knots: np.ndarray, domain: tuple[float, float]
) -> float:
    """A lower bound on the max error on ``(x, y)`` (sorted x) of every sum with these knots.

    Such a sum is one line on each interval between breakpoints; against the
    chord through the interval's first and last points, a point ``j`` has
    ``y_j - chord_j = e_j - w e_first - (1 - w) e_last`` for the errors ``e``
    of any line (``0 <= w <= 1``), so the line's max error is at least half
    the largest ``|y_j - chord_j|`` (exactly that on convex or concave data).

    Examples
    --------
    >>> import numpy as np
    >>> from relusum.fitting.optimal import _chord_bound
    >>> x = np.linspace(0, 1, 101)
    >>> round(_chord_bound(x, x**2, np.array([0.0]), (0.0, 1.0)), 9)
    0.125
    """
    a, b = domain
    t = np.unique(np.concatenate(([a], knots, [b])))
    # Each point in one interval [t_k, t_k+1) (a subset of the points still
    # bounds; points outside [a, b] count with the nearest interval), against
    # the chord through the first and last points of [t_k, t_k+1].
    start = np.searchsorted(x, t, side="left")
    start[0], start[-1] = 0, x.size
    first = start[:-1].copy()
    first[0] = np.searchsorted(x, t[0], side="left")
    last = np.searchsorted(x, t[1:], side="right") - 1
    dev = 0.0
    for k in np.flatnonzero(start[1:] > start[:-1]).tolist():
        i, j = int(first[k]), int(last[k])
        x0, x1 = x[i], x[j]
        if not x1 > x0:
            continue
        xs, ys = x[start[k] : start[k + 1]], y[start[k] : start[k + 1]]
        w = (xs - x0) / (x1 - x0)
        dev = max(dev, float(np.max(np.abs(ys - (y[i] + w * (y[j] - y[i]))))))
    # Less a margin for rounding in the chord (far below the callers' 1e-9).
    return dev / 2.0 - 1e-13 * (1.0 + float(np.max(np.abs(y))))


def _pad_pieces(target: Target, model: ReluSum, n_units: int) -> ReluSum:
    """Exactly ``n_units`` sloped pieces when the optimum needs fewer (``pieces=k``).

    The widest piece is split by a knot of weight zero (the same function)
    until there are ``n_units``; the max-error linear program on those knots
    replaces it when it measures better.
    """
    a, b = target.domain
    h, w = model.knots.copy(), model.weights.copy()
    while h.size < n_units:
        t = np.concatenate((h, [b]))
        i = int(np.argmax(np.diff(t)))
        h = np.insert(h, i + 1, 0.5 * (t[i] + t[i + 1]))
        w = np.insert(w, i + 1, 0.0)
    padded = ReluSum(model.bias, h, w, (a, b))
    other = linf_fixed_target(target, h)
    if measure(other, target)[1] < measure(padded, target)[1]:
        return other
    return padded
