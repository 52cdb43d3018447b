"""The points that can bind a max-error fit with fixed knots: convex hulls per piece.

For fixed breakpoints the fitted function is linear on each piece, and the
largest of ``y_i - f(x_i)`` (or of ``f(x_i) - y_i``) over the points of a piece
is reached at a vertex of their convex hull.  So the max-error (L-infinity)
fit of all the data has the same optimum as the fit of the hull vertices of
each piece -- a summary of a few points per piece, built chunk by chunk and
merged (the hull of a union is the hull of the hulls).

Noise-free convex data put every point on a hull; a piece keeps at most
:data:`MAX_PER_PIECE` vertices (evenly spaced along the hull) and the summary
says so (``thinned``): the fit is then near-optimal rather than exact, and the
errors reported by the caller, measured on all rows, stay exact.

Examples
--------
>>> import numpy as np
>>> from relusum.fitting.hulls import HullSummary
>>> rng = np.random.default_rng(0)
>>> x = np.linspace(0, 1, 10_001); y = np.sin(6 * x) + rng.uniform(-0.1, 0.1, x.size)
>>> s = HullSummary.from_arrays(x[:5000], y[:5000], [0.0, 0.5], (0.0, 1.0))
>>> s = s + HullSummary.from_arrays(x[5000:], y[5000:], [0.0, 0.5], (0.0, 1.0))
>>> hx, hy = s.points()
>>> bool(hx.size < 1000), s.count, s.thinned
(True, 10001, False)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from relusum.fitting.fixed import breakpoints_for, check_knots
from relusum.fitting.hat import _locate
from relusum.fitting.summary import check_chunk

__all__ = ["HullSummary", "hull_vertices", "MAX_PER_PIECE"]

#: Most hull vertices kept per piece (beyond it the hull is thinned).
MAX_PER_PIECE = 2048


def _thin(keep: np.ndarray) -> tuple[np.ndarray, bool]:
    if keep.size <= MAX_PER_PIECE:
        return keep, False
    return keep[np.linspace(0, keep.size - 1, MAX_PER_PIECE).astype(np.int64)], True


def hull_vertices(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Indices of points that include every vertex of the convex hull of ``(x, y)``.

    Uses Qhull; a (numerically) flat set keeps its x-extremes and the points
    farthest above and below the line through them.
    """
    if x.size <= 4:
        return np.arange(x.size)
    from scipy.spatial import ConvexHull, QhullError

    pts = np.column_stack((x, y))
    try:
        return np.sort(ConvexHull(pts).vertices)
    except (QhullError, ValueError):
        lo, hi = int(np.argmin(x)), int(np.argmax(x))
        span = x[hi] - x[lo]
        slope = (y[hi] - y[lo]) / span if span > 0 else 0.0
        r = y - (y[lo] + slope * (x - x[lo]))
        ends = [lo, hi]
        for k in (lo, hi):  # on a vertical edge keep its lowest and highest point
            same = np.flatnonzero(x == x[k])
            ends += [int(same[np.argmin(y[same])]), int(same[np.argmax(y[same])])]
        return np.unique(np.array(ends + [int(np.argmax(r)), int(np.argmin(r))]))


@dataclass(frozen=True, eq=False)
class HullSummary:
    """Hull vertices of the points of each piece, for a max-error fit with fixed knots.

    Attributes
    ----------
    knots : ndarray
    domain : (float, float)
    breakpoints : ndarray
    xs, ys : tuple of ndarray
        The kept points of each piece.
    count : int
        Number of points summarised.
    thinned : bool
        Whether some hull lost vertices (then a fit is near-optimal, not exact).
    """

    knots: np.ndarray
    domain: tuple[float, float]
    breakpoints: np.ndarray
    xs: tuple[np.ndarray, ...]
    ys: tuple[np.ndarray, ...]
    count: int = 0
    thinned: bool = False

    @classmethod
    def empty(cls, knots: ArrayLike, domain: tuple[float, float]) -> HullSummary:
        a, b = float(domain[0]), float(domain[1])
        h = check_knots(knots, (a, b))
        t, _ = breakpoints_for(h, (a, b))
        none = tuple(np.empty(0) for _ in range(t.size - 1))
        return cls(h, (a, b), t, none, none, 0)

    @classmethod
    def from_arrays(
        cls, x: ArrayLike, y: ArrayLike, knots: ArrayLike, domain: tuple[float, float]
    ) -> HullSummary:
        """The summary of the points ``(x, y)`` (every x inside ``domain``)."""
        s = cls.empty(knots, domain)
        xa = np.asarray(x, dtype=float).ravel()
        ya = np.asarray(y, dtype=float).ravel()
        if xa.shape != ya.shape:
            raise ValueError(f"x and y must have the same length, got {xa.size} and {ya.size}")
        check_chunk(xa, ya, None, s.domain)
        if xa.size == 0:
            return s
        j, _ = _locate(xa, s.breakpoints)
        order = np.argsort(j, kind="stable")
        bounds = np.searchsorted(j[order], np.arange(s.breakpoints.size))
        xs, ys, thinned = [], [], False
        for p in range(s.breakpoints.size - 1):
            idx = order[bounds[p] : bounds[p + 1]]
            keep, cut = _thin(idx[hull_vertices(xa[idx], ya[idx])] if idx.size else idx)
            thinned |= cut
            xs.append(xa[keep])
            ys.append(ya[keep])
        return cls(s.knots, s.domain, s.breakpoints, tuple(xs), tuple(ys), int(xa.size), thinned)

    def __add__(self, other: object) -> HullSummary:
        if not isinstance(other, HullSummary):
            return NotImplemented
        if self.domain != other.domain or not np.array_equal(self.knots, other.knots):
            raise ValueError("hull summaries with different knots or domains cannot be merged")
        xs, ys, thinned = [], [], self.thinned or other.thinned
        for xa, ya, xb, yb in zip(self.xs, self.ys, other.xs, other.ys):
            x, y = np.concatenate((xa, xb)), np.concatenate((ya, yb))
            keep, cut = _thin(hull_vertices(x, y))
            thinned |= cut
            xs.append(x[keep])
            ys.append(y[keep])
        return HullSummary(
            self.knots,
            self.domain,
            self.breakpoints,
            tuple(xs),
            tuple(ys),
            self.count + other.count,
            thinned,
        )

    def points(self) -> tuple[np.ndarray, np.ndarray]:
        """All kept points, sorted by x (duplicates of a point on a breakpoint removed)."""
        x = np.concatenate(self.xs)
        y = np.concatenate(self.ys)
        pts = np.unique(np.column_stack((x, y)), axis=0)
        return pts[:, 0].copy(), pts[:, 1].copy()
