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

__all__ = [
    "HullSummary",
    "BinHulls",
    "bin_hull_points",
    "hull_vertices",
    "MAX_PER_PIECE",
    "MAX_PER_CHAIN",
]

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


#: Most vertices kept per hull chain (upper or lower) of one bin.
MAX_PER_CHAIN = 64


def bin_hull_points(x: np.ndarray, y: np.ndarray, edges: np.ndarray) -> tuple:
    """The points of ``(x, y)`` on the upper or lower hull of their bin, sorted by x.

    For every line ``L`` and every bin, the largest and smallest ``y - L(x)``
    over the bin's points are reached at a returned point (see
    :class:`BinHulls`) -- unless a chain had more than :data:`MAX_PER_CHAIN`
    vertices (smooth noise-free data put every point on a hull) and was
    thinned: the third result says so.
    """
    from relusum.fitting._hull_kernel import bin_hull_mask

    order = np.argsort(x)
    xs, ys = x[order], y[order]
    keep, thinned = bin_hull_mask(xs, ys, np.ascontiguousarray(edges, dtype=float), MAX_PER_CHAIN)
    return xs[keep], ys[keep], bool(thinned)


@dataclass(frozen=True, eq=False)
class BinHulls:
    """Upper and lower hull vertices of the points of each bin of a fixed grid.

    The summary behind max-error fits with *free* knots of data read in
    chunks: a function linear on a bin has its largest and smallest error
    over the bin's points at these vertices, so any fit whose knots avoid the
    bins' interiors has the same max error on them as on all the points.  A
    bin with a knot inside can hide a larger error; the caller measures every
    row and adds the points that exceed (:mod:`relusum.scale.chunks`).  Built
    chunk by chunk and merged with ``+`` (the hull of a union is the hull of
    the hulls).

    Attributes
    ----------
    edges : ndarray
        The bin edges (shared by every summary that is merged).
    x, y : ndarray
        The kept points, sorted by x.
    count : int
        Number of points summarised.
    thinned : bool
        Whether a chain lost vertices (see :func:`bin_hull_points`); the
        caller's check on every row then finds what they hid.

    Examples
    --------
    >>> import numpy as np
    >>> from relusum.fitting.hulls import BinHulls
    >>> rng = np.random.default_rng(1)
    >>> x = rng.uniform(0, 1, 20_000); y = np.sin(5 * x) + rng.uniform(-0.1, 0.1, x.size)
    >>> e = np.linspace(0, 1, 65)
    >>> a, b = slice(0, 9000), slice(9000, None)
    >>> s = BinHulls.from_arrays(x[a], y[a], e) + BinHulls.from_arrays(x[b], y[b], e)
    >>> s.count, bool(s.x.size < 2_000)
    (20000, True)
    >>> r = y - 0.3 * x  # any line: the extremes per bin are kept
    >>> k = np.searchsorted(e, x, side="right") - 1
    >>> ks = np.searchsorted(e, s.x, side="right") - 1
    >>> bool(np.max(r[k == 5]) == np.max((s.y - 0.3 * s.x)[ks == 5]))
    True
    """

    edges: np.ndarray
    x: np.ndarray
    y: np.ndarray
    count: int = 0
    thinned: bool = False

    @classmethod
    def from_arrays(
        cls, x: ArrayLike, y: ArrayLike, edges: ArrayLike, domain: tuple[float, float] | None = None
    ) -> BinHulls:
        """The summary of the points ``(x, y)`` (checked: finite, inside ``domain``)."""
        e = np.asarray(edges, dtype=float)
        xa = np.asarray(x, dtype=float).ravel()
        ya = np.asarray(y, dtype=float).ravel()
        if xa.shape != ya.shape:
            raise ValueError(f"x and y must have the same length, got {xa.size} and {ya.size}")
        check_chunk(xa, ya, None, domain)
        if xa.size == 0:
            return cls(e, np.empty(0), np.empty(0), 0)
        hx, hy, thinned = bin_hull_points(xa, ya, e)
        return cls(e, hx, hy, int(xa.size), thinned)

    def __add__(self, other: object) -> BinHulls:
        if isinstance(other, int) and other == 0:
            return self
        if not isinstance(other, BinHulls):
            return NotImplemented
        if self.edges.shape != other.edges.shape or not np.array_equal(self.edges, other.edges):
            raise ValueError("bin hull summaries with different bins cannot be merged")
        count, thinned = self.count + other.count, self.thinned or other.thinned
        if other.x.size == 0 or self.x.size == 0:
            keep = self if other.x.size == 0 else other
            return BinHulls(self.edges, keep.x, keep.y, count, thinned)
        hx, hy, cut = bin_hull_points(
            np.concatenate((self.x, other.x)), np.concatenate((self.y, other.y)), self.edges
        )
        return BinHulls(self.edges, hx, hy, count, thinned or cut)

    __radd__ = __add__
