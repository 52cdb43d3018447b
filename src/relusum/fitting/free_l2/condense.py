"""Per-bin moment summaries of data, and two pseudo-points per bin that carry them exactly.

The free-knot search on ``N >> n`` points runs on a summary: the data are cut
into bins and each bin keeps ``(sum w, sum w u, sum w u^2, sum w v, sum w u v,
sum w v^2)`` with ``u = x - origin`` (its own origin, for conditioning) and
``v = y - y0`` (one shared offset), plus the smallest and largest ``x``.  For a
function that is linear on a bin, its weighted SSR over the bin is a quadratic
form in these six numbers, so the SSR of any continuous piecewise-linear
function with its breakpoints on bin edges is *exact* on the summary.

:func:`pseudo_points` turns each bin into at most two weighted points with the
same ``sum w``, ``sum w x``, ``sum w x^2``, ``sum w y`` and ``sum w x y`` (the
two-point distribution with the bin's mean and variance, kept inside
``[lo, hi]``); the SSR of any function linear on the bin then differs from the
bin's true SSR by a constant (the residual of the bin's own least-squares
line), so the existing solver runs unchanged on ``2 G`` points.

Summaries made with the same fixed ``edges`` (and the same ``y0``) add up:
``a + b`` is the summary of the union of the data, in any order or chunking.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["BinMoments", "bin_moments", "pseudo_points"]


@dataclass(frozen=True)
class BinMoments:
    """Weighted moments of the data in each of ``G`` bins.

    Attributes
    ----------
    origin : ndarray
        The reference ``x`` of each bin (moments are of ``u = x - origin``).
    y0 : float
        The offset subtracted from every ``y`` (``v = y - y0``).
    s0, s1, s2 : ndarray
        ``sum w``, ``sum w u``, ``sum w u^2`` per bin.
    sy, sxy, syy : ndarray
        ``sum w v``, ``sum w u v``, ``sum w v^2`` per bin.
    lo, hi : ndarray
        Smallest and largest ``x`` per bin (``+inf`` / ``-inf`` when empty).
    count : ndarray
        Number of points per bin.
    """

    origin: np.ndarray
    y0: float
    s0: np.ndarray
    s1: np.ndarray
    s2: np.ndarray
    sy: np.ndarray
    sxy: np.ndarray
    syy: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    count: np.ndarray

    @property
    def n_bins(self) -> int:
        return int(self.origin.size)

    def __add__(self, other: BinMoments) -> BinMoments:
        """The summary of both data sets together (same bins and ``y0`` required)."""
        if not isinstance(other, BinMoments):
            return NotImplemented
        if self.origin.shape != other.origin.shape or not np.array_equal(self.origin, other.origin):
            raise ValueError("bin summaries with different bins cannot be added")
        if self.y0 != other.y0:
            raise ValueError("bin summaries with different y0 cannot be added")
        return BinMoments(
            self.origin,
            self.y0,
            self.s0 + other.s0,
            self.s1 + other.s1,
            self.s2 + other.s2,
            self.sy + other.sy,
            self.sxy + other.sxy,
            self.syy + other.syy,
            np.minimum(self.lo, other.lo),
            np.maximum(self.hi, other.hi),
            self.count + other.count,
        )


def bin_moments(
    x: ArrayLike,
    y: ArrayLike,
    weight: ArrayLike | None = None,
    *,
    edges: ArrayLike | None = None,
    bins: int | None = None,
    y0: float | None = None,
) -> BinMoments:
    """Summarise data by per-bin weighted moments.

    Parameters
    ----------
    x, y : array_like
        The data (1-D, equal length, finite).
    weight : array_like, optional
        Non-negative weights (default 1).
    edges : array_like, optional
        Fixed increasing bin edges ``e_0 < ... < e_G``; point ``x`` goes to the
        bin ``e_i <= x < e_{i+1}`` (the last bin also holds ``x = e_G``, points
        outside go to the end bins).  Summaries with the same edges and ``y0``
        add up (chunks, partitions), and ``x`` need not be sorted.
    bins : int, optional
        Instead of ``edges``: ``bins`` bins of (nearly) equal counts of the
        *sorted* ``x`` (for data already in memory; the origins are then the
        first ``x`` of each bin).
    y0 : float, optional
        Offset subtracted from ``y`` (default: the weighted mean with
        ``bins``, 0 with ``edges`` so that chunks agree).

    Returns
    -------
    BinMoments

    Examples
    --------
    >>> import numpy as np
    >>> from relusum.fitting.free_l2.condense import bin_moments
    >>> m = bin_moments([0.0, 1.0, 2.0, 3.0], [1.0, 3.0, 5.0, 7.0], edges=[0.0, 2.0, 4.0])
    >>> m.s0.tolist(), m.s1.tolist(), m.sy.tolist()
    ([2.0, 2.0], [1.0, 1.0], [4.0, 12.0])
    >>> a = bin_moments([0.0, 3.0], [1.0, 7.0], edges=[0.0, 2.0, 4.0])
    >>> b = bin_moments([1.0, 2.0], [3.0, 5.0], edges=[0.0, 2.0, 4.0])
    >>> np.allclose((a + b).sxy, m.sxy)
    True
    """
    xa = np.asarray(x, dtype=float).ravel()
    ya = np.asarray(y, dtype=float).ravel()
    if xa.shape != ya.shape:
        raise ValueError(f"x and y must have the same length, got {xa.size} and {ya.size}")
    wa = None if weight is None else np.asarray(weight, dtype=float).ravel()
    if wa is not None and wa.shape != xa.shape:
        raise ValueError(f"weight must have the length of x ({xa.size}), got {wa.size}")
    if (edges is None) == (bins is None):
        raise ValueError("give exactly one of edges= and bins=")
    if edges is not None:
        e = np.asarray(edges, dtype=float).ravel()
        if e.size < 2 or not np.all(np.diff(e) > 0) or not np.all(np.isfinite(e)):
            raise ValueError("edges must be at least two finite, increasing numbers")
        g = e.size - 1
        idx = np.clip(np.searchsorted(e, xa, side="right") - 1, 0, g - 1)
        origin = e[:-1].copy()
        off = 0.0 if y0 is None else float(y0)
        u = xa - origin[idx]
        v = ya - off
        wv = np.ones_like(xa) if wa is None else wa

        def total(vals: np.ndarray) -> np.ndarray:
            return np.bincount(idx, vals, minlength=g)

        wu = wv * u
        s0, s1, s2 = total(wv), total(wu), total(wu * u)
        wvv = wv * v
        sy, sxy, syy = total(wvv), total(wu * v), total(wvv * v)
        count = np.bincount(idx, minlength=g)
        lo = np.full(g, np.inf)
        hi = np.full(g, -np.inf)
        np.minimum.at(lo, idx, xa)
        np.maximum.at(hi, idx, xa)
        return BinMoments(origin, off, s0, s1, s2, sy, sxy, syy, lo, hi, count)
    g = int(bins)  # type: ignore[arg-type]
    if g < 1:
        raise ValueError(f"bins must be a positive integer, got {bins!r}")
    npts = xa.size
    if npts == 0:
        raise ValueError("no data to summarise")
    g = min(g, npts)
    starts = (np.arange(g) * npts) // g
    if wa is None:
        off = float(np.mean(ya)) if y0 is None else float(y0)
    else:
        off = float(np.sum(wa * ya) / max(float(np.sum(wa)), 1e-300)) if y0 is None else float(y0)
    origin = xa[starts]
    counts = np.diff(np.append(starts, npts))
    u = xa - np.repeat(origin, counts)
    v = ya - off
    if wa is None:
        s0 = counts.astype(float)
        s1 = np.add.reduceat(u, starts)
        sy = np.add.reduceat(v, starts)
        tmp = u * v
        sxy = np.add.reduceat(tmp, starts)
        np.multiply(u, u, out=tmp)
        s2 = np.add.reduceat(tmp, starts)
        np.multiply(v, v, out=tmp)
        syy = np.add.reduceat(tmp, starts)
    else:
        s0 = np.add.reduceat(wa, starts)
        wu = wa * u
        s1 = np.add.reduceat(wu, starts)
        tmp = wu * u
        s2 = np.add.reduceat(tmp, starts)
        np.multiply(wu, v, out=tmp)
        sxy = np.add.reduceat(tmp, starts)
        np.multiply(wa, v, out=tmp)
        sy = np.add.reduceat(tmp, starts)
        tmp *= v
        syy = np.add.reduceat(tmp, starts)
    lo = origin.copy()
    hi = xa[np.append(starts[1:], npts) - 1].copy()
    return BinMoments(origin, off, s0, s1, s2, sy, sxy, syy, lo, hi, counts)


def pseudo_points(m: BinMoments) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """At most two weighted points per bin that carry its first moments exactly.

    Returns ``(x, y, w, offset)`` sorted by ``x``: for every function that is
    linear on each bin, ``sum w (f(x) - y)^2`` over the points plus ``offset``
    equals the weighted SSR over the original data.  Empty bins give no
    point, bins whose ``x`` are all equal give one.

    Examples
    --------
    >>> import numpy as np
    >>> from relusum.fitting.free_l2.condense import bin_moments, pseudo_points
    >>> x = np.linspace(0, 1, 101)
    >>> y = x**2
    >>> px, py, pw, off = pseudo_points(bin_moments(x, y, bins=5))
    >>> px.size, float(pw.sum())
    (10, 101.0)
    >>> f = lambda t: 0.3 + 0.9 * t  # any line: the SSR agrees
    >>> bool(np.isclose(np.sum(pw * (f(px) - py) ** 2) + off, np.sum((f(x) - y) ** 2)))
    True
    """
    keep = m.s0 > 0
    s0 = m.s0[keep]
    mu = m.s1[keep] / s0  # mean of u
    var = np.maximum(m.s2[keep] / s0 - mu * mu, 0.0)
    ybar = m.sy[keep] / s0
    origin = m.origin[keep]
    lo = m.lo[keep] - origin
    hi = m.hi[keep] - origin
    mu = np.clip(mu, lo, hi)
    span = np.maximum(hi - lo, 0.0)
    spread = var > (1e-14 * np.maximum(span, np.abs(origin) + np.abs(mu))) ** 2
    with np.errstate(invalid="ignore", divide="ignore"):
        beta = np.where(spread, (m.sxy[keep] / s0 - mu * ybar) / np.where(spread, var, 1.0), 0.0)
        sd = np.sqrt(var)
        # the two-point distribution with this mean and variance inside [lo, hi]
        x1 = mu - sd
        x2 = mu + sd
        over = spread & (x2 > hi)
        under = spread & (x1 < lo) & ~over
        x2 = np.where(over, hi, x2)
        x1 = np.where(over, mu - var / np.where(over, hi - mu, 1.0), x1)
        x1 = np.where(under, lo, x1)
        x2 = np.where(under, mu + var / np.where(under, mu - lo, 1.0), x2)
        p2 = np.where(spread, (mu - x1) / np.where(spread, x2 - x1, 1.0), 0.0)
    bad = ~(np.isfinite(x1) & np.isfinite(x2) & np.isfinite(p2) & np.isfinite(beta))
    if np.any(bad):  # rounding at a degenerate bin: its mean only
        x1, x2 = np.where(bad, mu, x1), np.where(bad, mu, x2)
        p2, beta = np.where(bad, 0.0, p2), np.where(bad, 0.0, beta)
    p2 = np.clip(p2, 0.0, 1.0)
    p1 = 1.0 - p2
    within = np.maximum(m.syy[keep] - s0 * (ybar * ybar + beta * beta * var), 0.0)
    offset = float(np.sum(within))
    # interleave: point 1 then point 2 of each bin (x1 <= x2, bins in order)
    px = np.stack((x1, x2), axis=1) + origin[:, None]
    py = np.stack((ybar + beta * (x1 - mu), ybar + beta * (x2 - mu)), axis=1) + m.y0
    pw = np.stack((s0 * p1, s0 * p2), axis=1)
    px, py, pw = px.ravel(), py.ravel(), pw.ravel()
    use = pw > 0
    px, py, pw = px[use], py[use], pw[use]
    order = np.argsort(px, kind="stable")
    return px[order], py[order], pw[order], offset
