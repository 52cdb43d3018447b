"""Fixed-knot least squares for many curves at once: one vectorised banded solve.

Curve ``g`` has breakpoints ``T[g, :sizes[g]]`` (rows padded with ``+inf``) and
a flag ``flat_first[g]`` (see :func:`relusum.fitting.fixed.breakpoints_for`).
Its unmerged hat moments occupy the slots ``g * L .. g * L + L - 1`` of flat
arrays (``L = T.shape[1]``), so every curve's normal equations are built by the
same few ``bincount`` passes over all samples, and summaries of chunks of rows
add (:class:`BatchSummary`).  The tridiagonal systems of all curves are laid
end to end in one block-diagonal banded matrix (the coupling between two
curves is zero) and solved by one call to LAPACK: no Python loop per curve.
A curve whose system is singular (a piece without data) is solved alone with
the small slope-change penalty of :mod:`relusum.fitting.hat`, exactly as a
single fit would be.

Examples
--------
>>> import numpy as np
>>> from relusum.fitting.batch import BatchSummary
>>> x = np.tile(np.linspace(0, 1, 101), 2); codes = np.repeat([0, 1], 101)
>>> y = np.where(codes == 0, np.abs(x - 0.5), 2 * x)
>>> T = np.array([[0.0, 0.5, 1.0], [0.0, 0.5, 1.0]])
>>> s = BatchSummary.from_arrays(codes, x, y, None, T, np.array([3, 3]), np.array([False, False]))
>>> np.round(s.solve(), 12) + 0.0  # (+ 0.0 turns -0. into 0.)
array([[0.5, 0. , 0.5],
       [0. , 1. , 2. ]])
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.linalg import LinAlgError, solveh_banded

from relusum.fitting.hat import _solve_tridiagonal_spd
from relusum.fitting.summary import hat_moments, merged_system
from relusum.model import weights_from_slopes

__all__ = ["BatchSummary", "batch_locate", "batch_evaluate", "batch_relusum_arrays"]


def batch_locate(
    codes: np.ndarray,
    x: np.ndarray,
    T: np.ndarray,
    sizes: np.ndarray,
    guess: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Piece index (``searchsorted(t, x, 'right') - 1``, clipped) and local coordinate.

    With ``guess`` (a piece index off by at most one, e.g. from arithmetic on
    uniform breakpoints) one correction step in each direction makes it exact;
    without, a branch-free binary search over each sample's own row of ``T``
    (``log2(L)`` vectorised gathers).  No loop over curves either way.
    """
    L = T.shape[1]
    flat = T.ravel()
    base = codes.astype(np.int64) * L
    # The last piece of each sample's curve (a scalar when all curves agree).
    last = int(sizes[0]) - 2 if np.all(sizes == sizes[0]) else sizes[codes] - 2
    if guess is None:
        pos = np.zeros(x.size, dtype=np.int64)
        step = 1 << max(int(L - 1).bit_length() - 1, 0)
        while step:
            cand = np.minimum(pos + step, L - 1)
            pos = np.where(flat[base + cand] <= x, cand, pos)
            step >>= 1
        np.minimum(pos, last, out=pos)
        idx = base + pos
        lo, hi = flat[idx], flat[idx + 1]
    else:
        pos = np.clip(guess, 0, last).astype(np.int64, copy=False)
        idx = base + pos
        lo, hi = flat[idx], flat[idx + 1]
        down = (x < lo) & (pos > 0)
        if down.any():
            pos -= down
            idx -= down
            lo, hi = flat[idx], flat[idx + 1]
        up = (x >= hi) & (pos < last)
        if up.any():
            pos += up
            idx += up
            lo, hi = flat[idx], flat[idx + 1]
    return pos, (x - lo) / (hi - lo)


def batch_evaluate(
    codes: np.ndarray,
    x: np.ndarray,
    T: np.ndarray,
    sizes: np.ndarray,
    values: np.ndarray,
    guess: np.ndarray | None = None,
) -> np.ndarray:
    """Values at ``x`` of curve ``codes``'s piecewise-linear function (values at ``T``)."""
    p, lam = batch_locate(codes, x, T, sizes, guess)
    vf = values.ravel()
    idx = codes.astype(np.int64) * T.shape[1] + p
    return vf[idx] * (1.0 - lam) + vf[idx + 1] * lam


@dataclass(frozen=True, eq=False)
class BatchSummary:
    """Sufficient statistics of many curves for fixed knots, mergeable with ``+``.

    Attributes
    ----------
    T : ndarray, shape (G, L)
        Breakpoints of each curve, padded with ``+inf``.
    sizes : ndarray of int, shape (G,)
        Number of breakpoints of each curve.
    flat_first : ndarray of bool, shape (G,)
    diag, off, rhs : ndarray, shape (G, L)
        Unmerged hat moments per curve (see :class:`relusum.fitting.summary.Summary`).
    count : ndarray of int, shape (G,)
        Samples per curve.
    halves : ndarray of int, shape (G, 2 L)
        Samples in each half of each piece: a curve with ``k`` occupied halves
        has at least ``k`` distinct x (a cheap lower bound for capacity checks).
    """

    T: np.ndarray
    sizes: np.ndarray
    flat_first: np.ndarray
    diag: np.ndarray
    off: np.ndarray
    rhs: np.ndarray
    count: np.ndarray
    halves: np.ndarray

    @classmethod
    def from_arrays(
        cls,
        codes: np.ndarray,
        x: np.ndarray,
        y: np.ndarray,
        weight: np.ndarray | None,
        T: np.ndarray,
        sizes: np.ndarray,
        flat_first: np.ndarray,
        guess: np.ndarray | None = None,
    ) -> BatchSummary:
        """Summaries of samples ``(x, y)`` of curves ``codes`` (ints in ``[0, G)``).

        ``guess``: piece indices off by at most one (see :func:`batch_locate`).
        """
        G, L = T.shape
        if G and np.any(sizes < 2):
            raise ValueError("every curve needs at least two breakpoints")
        if x.size:
            p, lam = batch_locate(codes, x, T, sizes, guess)
            slot = codes.astype(np.int64) * L + p
            d, o, r = hat_moments(slot, lam, y, weight, G * L)
            cnt = np.bincount(codes, minlength=G)
            half = np.bincount(2 * slot + (lam >= 0.5), minlength=2 * G * L)
        else:
            d = o = r = np.zeros(G * L)
            cnt = np.zeros(G, dtype=np.int64)
            half = np.zeros(2 * G * L, dtype=np.int64)
        shape = (G, L)
        return cls(
            T,
            sizes,
            flat_first,
            d.reshape(shape),
            o.reshape(shape),
            r.reshape(shape),
            cnt,
            half.reshape(G, 2 * L),
        )

    def __add__(self, other: object) -> BatchSummary:
        if isinstance(other, int) and other == 0:
            return self
        if not isinstance(other, BatchSummary):
            return NotImplemented
        if self.T.shape != other.T.shape or not np.array_equal(self.T, other.T):
            raise ValueError("batch summaries with different breakpoints cannot be merged")
        return BatchSummary(
            self.T,
            self.sizes,
            self.flat_first,
            self.diag + other.diag,
            self.off + other.off,
            self.rhs + other.rhs,
            self.count + other.count,
            self.halves + other.halves,
        )

    __radd__ = __add__

    def solve(self) -> np.ndarray:
        """Least-squares values at the breakpoints, shape ``(G, L)`` (``nan`` padded).

        One banded Cholesky solve for all well-posed curves; a curve with a
        singular system (an empty piece) is solved alone as
        :func:`relusum.fitting.hat.hat_lstsq` would.
        """
        G, L = self.T.shape
        out = np.full((G, L), np.nan)
        if G == 0:
            return out
        if np.any(self.count == 0):
            g = int(np.flatnonzero(self.count == 0)[0])
            raise ValueError(f"curve #{g} has no data")
        ff = self.flat_first.astype(bool)
        D, O, R = self.diag.copy(), self.off.copy(), self.rhs.copy()
        # Merge the first two hats of curves with a flat first piece.
        D[ff, 1] += D[ff, 0] + 2.0 * O[ff, 0]
        R[ff, 1] += R[ff, 0]
        O[ff, 0] = 0.0
        col = np.arange(L)[None, :]
        valid = (col < self.sizes[:, None]) & ~((col == 0) & ff[:, None])
        Dm = np.where(valid, D, np.nan)
        dmax = np.nanmax(Dm, axis=1)
        dmin = np.nanmin(Dm, axis=1)
        good = (dmax > 0) & (dmin > 1e-13 * dmax)
        sel = valid & good[:, None]
        d, o, r = D[sel], O[sel], R[sel]
        sol = None
        if d.size:
            ab = np.zeros((2, d.size))
            ab[1] = d
            ab[0, 1:] = o[:-1]  # the last unknown of a curve has O == 0: no coupling
            try:
                sol = solveh_banded(ab, r, check_finite=False)
                if not np.all(np.isfinite(sol)):
                    sol = None
            except LinAlgError:
                sol = None
        if sol is not None:
            out[sel] = sol
            ff_good = ff & good
            out[ff_good, 0] = out[ff_good, 1]
            alone = np.flatnonzero(~good)
        else:
            alone = np.arange(G)
        for g in alone:  # rare: curves with empty pieces (or a failed joint solve)
            out[g] = self.solve_one(int(g))
        return out

    def solve_one(self, g: int) -> np.ndarray:
        """Values of curve ``g`` alone (padded to ``L``), as a single fit computes them."""
        L = self.T.shape[1]
        m1 = int(self.sizes[g])
        ff = bool(self.flat_first[g])
        t = self.T[g, :m1]
        d, o, r = merged_system(self.diag[g, :m1], self.off[g, :m1], self.rhs[g, :m1], ff)
        c = _solve_tridiagonal_spd(d, o, r, t, ff)
        if ff:
            c = np.concatenate(([c[0]], c))
        row = np.full(L, np.nan)
        row[:m1] = c
        return row


def batch_relusum_arrays(
    T: np.ndarray, sizes: np.ndarray, flat_first: np.ndarray, values: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bias, knots and weights of every curve at once (all with the same unit count).

    The same arithmetic as :func:`relusum.fitting.hat.values_to_relusum`, row-wise.
    Returns ``bias (G,)``, ``knots (G, n)`` and ``weights (G, n)``.
    """
    ff = flat_first.astype(bool)
    n = int(sizes[0]) - 1 - int(ff[0])
    if np.any(sizes - 1 - ff != n):
        raise ValueError("all curves must have the same number of knots")
    Ts = np.where(ff[:, None], np.roll(T, -1, axis=1), T)[:, : n + 1]
    Vs = np.where(ff[:, None], np.roll(values, -1, axis=1), values)[:, : n + 1]
    slopes = np.diff(Vs, axis=1) / np.diff(Ts, axis=1)
    w = np.diff(slopes, axis=1, prepend=0.0)
    # Rows whose running sums drift off their slopes (a steep piece) get the
    # compensated weights of weights_from_slopes, as a single fit does.
    off = np.abs(np.cumsum(w, axis=1) - slopes)
    drift = np.any(off > 4.0 * np.finfo(float).eps * np.abs(slopes) + 1e-300, axis=1)
    for g in np.flatnonzero(drift).tolist():
        w[g] = weights_from_slopes(slopes[g])
    return values[:, 0].copy(), Ts[:, :n], w
