"""Fits with fixed knots: interpolation and banded least squares.

Both return a :class:`~relusum.model.ReluSum` whose knots are the given ones.
``n`` knots ``h_0 < ... < h_{n-1}`` in ``[A, B)`` give ``n + 1`` unknowns
(the bias and ``n`` weights).  If ``h_0 = A`` the first piece on the domain
is sloped; if ``h_0 > A`` the sum is flat on ``[A, h_0]``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from relusum._text import plural
from relusum.fitting.hat import hat_lstsq, values_to_relusum
from relusum.model import ReluSum
from relusum.targets import Target

__all__ = [
    "uniform_knots",
    "check_knots",
    "check_n_units",
    "check_capacity",
    "interpolate_knots",
    "lstsq_knots",
    "breakpoints_for",
]


def check_n_units(n_units: object) -> int:
    """Return ``n_units`` as an int, or raise ``ValueError`` unless it is a positive integer."""
    if isinstance(n_units, bool) or not isinstance(n_units, (int, np.integer)) or n_units < 1:
        raise ValueError(f"n_units must be a positive integer, got {n_units!r}")
    return int(n_units)


def check_capacity(x: np.ndarray, n: int, data: bool) -> None:
    """Raise ``ValueError`` when ``n`` units are more than the x values can determine.

    ``n`` units have ``n + 1`` unknowns, so they need ``n + 1`` distinct x.
    ``data`` says whether ``x`` are data points (else function samples).
    """
    if x.size > 1 and np.all(x[1:] >= x[:-1]):
        distinct = int(np.count_nonzero(np.diff(x))) + 1
    else:
        distinct = int(np.unique(x).size)
    if n > distinct - 1:
        what = "data points" if data else "samples"
        raise ValueError(
            f"{plural(n, 'unit')} need{'s' if n == 1 else ''} at least {n + 1} distinct x "
            f"values, but the {what} have {distinct}; use at most "
            f"{plural(max(distinct - 1, 0), 'unit')}" + ("" if data else " or more samples")
        )


def uniform_knots(domain: tuple[float, float], n_units: int) -> np.ndarray:
    """``n`` uniform knots ``A + i (B - A) / n``, ``i = 0 .. n-1``: ``n`` sloped pieces.

    Examples
    --------
    >>> from relusum.fitting.fixed import uniform_knots
    >>> uniform_knots((0.0, 1.0), 4)
    array([0.  , 0.25, 0.5 , 0.75])
    """
    a, b = domain
    n = check_n_units(n_units)
    return a + np.arange(n) * ((b - a) / n)


def check_knots(knots: ArrayLike, domain: tuple[float, float]) -> np.ndarray:
    """Validate user knots: finite, distinct, inside ``[A, B)``; return them sorted."""
    h = np.asarray(knots, dtype=float).ravel()
    if h.size == 0:
        raise ValueError("knots must not be empty")
    if not np.all(np.isfinite(h)):
        raise ValueError("knots must be finite numbers")
    h = np.sort(h)
    a, b = domain
    if h[0] < a or h[-1] >= b:
        raise ValueError(
            f"knots must lie in [A, B) = [{a:.6g}, {b:.6g}); "
            f"got knots from {h[0]:.6g} to {h[-1]:.6g}"
        )
    dup = np.flatnonzero(np.diff(h) == 0)
    if dup.size:
        raise ValueError(f"knots must be distinct; {h[dup[0]]:.10g} appears more than once")
    return h


def breakpoints_for(knots: np.ndarray, domain: tuple[float, float]) -> tuple[np.ndarray, bool]:
    """Breakpoints of the fitted function on the domain and whether the first piece is flat."""
    a, b = domain
    flat_first = bool(knots[0] > a)
    t = np.concatenate(([a], knots, [b])) if flat_first else np.concatenate((knots, [b]))
    return t, flat_first


def interpolate_knots(target: Target, knots: np.ndarray) -> ReluSum:
    """The sum that equals the target at every knot and at ``B``.

    For data the target's values there come from the piecewise-linear
    interpolant of the points (which needs distinct x); with a knot at every
    data point but the last the sum reproduces the data exactly.
    """
    a, b = target.domain
    nodes = np.concatenate((knots, [b]))
    if target.fn is not None:
        values = target.evaluate(nodes)
    else:
        x, y = target.x, target.y
        dup = np.flatnonzero(np.diff(x) == 0)
        if dup.size:
            raise ValueError(
                "interpolation needs distinct x values; "
                f"x = {x[dup[0]]:.10g} appears more than once (use least squares instead)"
            )
        values = np.interp(nodes, x, y)
    s = ReluSum.from_points(nodes, values)
    return s.with_domain((a, b))


def lstsq_knots(target: Target, knots: np.ndarray) -> ReluSum:
    """Weighted least squares with the given knots, in the banded hat basis.

    Raises ``ValueError`` when there are more units than the samples can
    determine (more units than distinct x values minus one).
    """
    check_capacity(target.x, knots.size, data=target.fn is None)
    t, flat_first = breakpoints_for(knots, target.domain)
    c = hat_lstsq(target.x, target.y, t, target.weight, flat_first)
    return values_to_relusum(t, c, flat_first, target.domain)
