"""Sufficient statistics of data for fixed knots: small, exact and mergeable.

For fixed breakpoints ``t_0 < ... < t_m`` the least-squares fit in the hat
basis (see :mod:`relusum.fitting.hat`) depends on the data only through the
tridiagonal Gram matrix ``X^T W X`` (its diagonal and first off-diagonal), the
vector ``X^T W y`` and the scalar ``y^T W y``.  Each is a sum over the samples,
so a :class:`Summary` can be built chunk by chunk, on several processes or
machines, and added: ``(s1 + s2) + s3 == s1 + (s2 + s3)`` and ``s1 + s2 == s2 +
s1`` up to rounding, and the fit from the total equals the fit on all the data
in memory (to about 1e-12 relative).  Its size is ``O(m)``, independent of the
number of samples.

The hats are kept unmerged (``m + 1`` of them); when the first piece of the
ReLU sum is flat (first knot right of ``A``) the first two are merged only when
solving, exactly as :func:`relusum.fitting.hat.hat_lstsq` does.

Examples
--------
>>> import numpy as np
>>> from relusum.fitting.summary import Summary
>>> x = np.linspace(0, 1, 1001); y = np.abs(x - 0.5)
>>> s = Summary.empty([0.0, 0.5], (0.0, 1.0))
>>> for part in np.array_split(np.arange(x.size), 7):  # chunk by chunk
...     s = s + Summary.from_arrays(x[part], y[part], [0.0, 0.5], (0.0, 1.0))
>>> s.count, s.solve().weights.round(12).tolist()
(1001, [-1.0, 2.0])
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from relusum.fitting.fixed import breakpoints_for, check_knots
from relusum.fitting.hat import _locate, _solve_tridiagonal_spd, values_to_relusum
from relusum.model import ReluSum

__all__ = ["Summary", "hat_moments", "merged_system"]

_BLOCK = 1 << 18  # rows per block in Summary.add


def hat_moments(
    slot: np.ndarray,
    lam: np.ndarray,
    y: np.ndarray,
    w: np.ndarray | None,
    size: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unmerged hat-basis moments of samples in pieces ``slot`` at local coordinate ``lam``.

    A sample in piece ``p`` touches hats ``p`` and ``p + 1`` with weights
    ``1 - lam`` and ``lam``.  ``slot`` may carry an offset per group of samples
    (several curves laid side by side in one array of length ``size``).

    Returns
    -------
    diag, off, rhs : ndarray, shape (size,)
        ``diag[k] = sum w phi_k^2``, ``off[k] = sum w phi_k phi_{k+1}`` and
        ``rhs[k] = sum w phi_k y``.
    """
    a = 1.0 - lam
    wa = a if w is None else w * a
    wb = lam if w is None else w * lam
    nxt = slot + 1
    diag = np.bincount(slot, wa * a, minlength=size) + np.bincount(nxt, wb * lam, minlength=size)
    off = np.bincount(slot, wa * lam, minlength=size)
    rhs = np.bincount(slot, wa * y, minlength=size) + np.bincount(nxt, wb * y, minlength=size)
    return diag[:size], off[:size], rhs[:size]


def merged_system(
    diag: np.ndarray, off: np.ndarray, rhs: np.ndarray, flat_first: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Tridiagonal normal equations of the fit from unmerged hat moments.

    With ``flat_first`` the first two hats become one basis function
    (``c_0 = c_1``): ``G'_00 = G_00 + 2 G_01 + G_11``, ``G'_01 = G_12``.
    Returns ``(diag, off, rhs)`` with ``off`` one shorter than ``diag``.
    """
    if not flat_first:
        return diag, off[:-1], rhs
    d = diag[1:].copy()
    d[0] += diag[0] + 2.0 * off[0]
    r = rhs[1:].copy()
    r[0] += rhs[0]
    return d, off[1:-1], r


@dataclass(frozen=True, eq=False)
class Summary:
    """Exact sufficient statistics of weighted data for least squares with fixed knots.

    Build with :meth:`empty` / :meth:`from_arrays`, combine with ``+`` (or
    :meth:`merge`), solve with :meth:`solve`.  Two summaries can be added
    only when their knots and domains are identical.

    Attributes
    ----------
    knots : ndarray
        The ReLU knots, in ``[A, B)``.
    domain : (float, float)
    breakpoints : ndarray, shape (m + 1,)
        ``A`` (when the first piece is flat), the knots, and ``B``.
    flat_first : bool
        Whether the sum is flat on ``[A, knots[0]]``.
    diag, off, rhs : ndarray, shape (m + 1,)
        Unmerged hat moments (``off[m]`` is always 0).
    yy : float
        ``sum w y^2``.
    count : int
        Number of samples (weight zero included).
    sum_w : float
        Total weight.
    x_min, x_max, y_min, y_max : float
        Ranges of the samples (``inf``/``-inf`` when empty).
    """

    knots: np.ndarray
    domain: tuple[float, float]
    breakpoints: np.ndarray
    flat_first: bool
    diag: np.ndarray
    off: np.ndarray
    rhs: np.ndarray
    yy: float = 0.0
    count: int = 0
    sum_w: float = 0.0
    x_min: float = np.inf
    x_max: float = -np.inf
    y_min: float = np.inf
    y_max: float = -np.inf

    @classmethod
    def empty(cls, knots: ArrayLike, domain: tuple[float, float]) -> Summary:
        """The summary of no data for ``knots`` on ``domain``."""
        a, b = (float(domain[0]), float(domain[1]))
        if not (np.isfinite(a) and np.isfinite(b) and a < b):
            raise ValueError(f"domain must be two finite numbers A < B, got {domain!r}")
        h = check_knots(knots, (a, b))
        t, ff = breakpoints_for(h, (a, b))
        z = np.zeros(t.size)
        return cls(h, (a, b), t, ff, z, z.copy(), z.copy())

    @classmethod
    def from_arrays(
        cls,
        x: ArrayLike,
        y: ArrayLike,
        knots: ArrayLike,
        domain: tuple[float, float],
        weight: ArrayLike | None = None,
    ) -> Summary:
        """The summary of the samples ``(x, y)`` (every x inside ``domain``)."""
        return cls.empty(knots, domain).add(x, y, weight)

    def add(self, x: ArrayLike, y: ArrayLike, weight: ArrayLike | None = None) -> Summary:
        """This summary plus the samples ``(x, y)``: a new :class:`Summary`.

        Raises ``ValueError`` for non-finite values, mismatched lengths,
        negative weights, or x outside the domain.
        """
        xa = np.asarray(x, dtype=float).ravel()
        ya = np.asarray(y, dtype=float).ravel()
        if xa.shape != ya.shape:
            raise ValueError(f"x and y must have the same length, got {xa.size} and {ya.size}")
        w = None
        if weight is not None:
            w = np.asarray(weight, dtype=float).ravel()
            if w.shape != xa.shape:
                raise ValueError(f"weight must have one value per point, got {w.size}/{xa.size}")
        check_chunk(xa, ya, w, self.domain)
        if xa.size == 0:
            return self
        size = self.breakpoints.size
        d, o, r = np.zeros(size), np.zeros(size), np.zeros(size)
        for i in range(0, xa.size, _BLOCK):  # blocks: temporaries stay in cache
            sl = slice(i, i + _BLOCK)
            j, lam = _locate(xa[sl], self.breakpoints)
            w_sl = None if w is None else w[sl]
            db, ob, rb = hat_moments(j, lam, ya[sl], w_sl, size)
            d += db
            o += ob
            r += rb
        yy = float(np.dot(ya * ya, w)) if w is not None else float(np.dot(ya, ya))
        sw = float(w.sum()) if w is not None else float(xa.size)
        part = Summary(
            self.knots,
            self.domain,
            self.breakpoints,
            self.flat_first,
            d,
            o,
            r,
            yy,
            int(xa.size),
            sw,
            float(xa.min()),
            float(xa.max()),
            float(ya.min()),
            float(ya.max()),
        )
        return self + part

    def merge(self, other: Summary) -> Summary:
        """The summary of both data sets (same as ``self + other``)."""
        if not isinstance(other, Summary):
            raise TypeError(f"can only merge a Summary with a Summary, not {type(other).__name__}")
        if (
            self.domain != other.domain
            or self.knots.shape != other.knots.shape
            or not np.array_equal(self.knots, other.knots)
        ):
            raise ValueError("summaries with different knots or domains cannot be merged")
        return Summary(
            self.knots,
            self.domain,
            self.breakpoints,
            self.flat_first,
            self.diag + other.diag,
            self.off + other.off,
            self.rhs + other.rhs,
            self.yy + other.yy,
            self.count + other.count,
            self.sum_w + other.sum_w,
            min(self.x_min, other.x_min),
            max(self.x_max, other.x_max),
            min(self.y_min, other.y_min),
            max(self.y_max, other.y_max),
        )

    def __add__(self, other: object) -> Summary:
        if isinstance(other, int) and other == 0:  # so that sum(summaries) works
            return self
        if not isinstance(other, Summary):
            return NotImplemented
        return self.merge(other)

    __radd__ = __add__

    @property
    def n_units(self) -> int:
        return int(self.knots.size)

    def solve(self) -> ReluSum:
        """The least-squares :class:`ReluSum` with these knots (banded solve).

        Pieces without data are bridged linearly, as in
        :func:`relusum.fitting.hat.hat_lstsq`.
        """
        if self.count == 0 or not self.sum_w > 0:
            raise ValueError("no data to fit: the summary is empty (or all weights are zero)")
        d, o, r = merged_system(self.diag, self.off, self.rhs, self.flat_first)
        c = _solve_tridiagonal_spd(d, o, r, self.breakpoints, self.flat_first)
        if self.flat_first:
            c = np.concatenate(([c[0]], c))
        return values_to_relusum(self.breakpoints, c, self.flat_first, self.domain)

    def ssr(self, model: ReluSum) -> float:
        """Weighted sum of squared residuals of ``model`` over the summarised data.

        Exact for a model whose breakpoints are among this summary's (such as
        :meth:`solve`'s), computed as ``y'Wy - 2 c'X'Wy + c'X'WXc``; subject to
        cancellation when the fit is very close (then measure on the data).
        """
        c = np.asarray(model(self.breakpoints), dtype=float)
        quad = float(np.dot(c * c, self.diag) + 2.0 * np.dot(c[:-1] * c[1:], self.off[:-1]))
        return max(self.yy - 2.0 * float(np.dot(c, self.rhs)) + quad, 0.0)


def check_chunk(
    x: np.ndarray, y: np.ndarray, w: np.ndarray | None, domain: tuple[float, float] | None
) -> None:
    """Raise ``ValueError`` for non-finite values, negative weights or x outside ``domain``."""
    for name, v in (("x", x), ("y", y), ("weight", w)):
        if v is None:
            continue
        bad = np.flatnonzero(~np.isfinite(v))
        if bad.size:
            raise ValueError(
                f"{name} contains {v[bad[0]]} ({bad.size} non-finite value"
                f"{'s' if bad.size > 1 else ''} in this chunk); remove or fix them"
            )
    if w is not None and w.size and float(w.min()) < 0:
        raise ValueError("weight must be non-negative")
    if domain is not None and x.size:
        lo, hi = float(x.min()), float(x.max())
        if lo < domain[0] or hi > domain[1]:
            raise ValueError(
                f"data x range [{lo:.6g}, {hi:.6g}] is not inside "
                f"the domain [{domain[0]:.6g}, {domain[1]:.6g}]"
            )
