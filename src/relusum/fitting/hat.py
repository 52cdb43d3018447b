"""Least squares in the hat (degree-1 B-spline) basis, banded, and the exact ReLU form.

A continuous piecewise-linear function with breakpoints ``t_0 < ... < t_m`` is
``sum_j c_j phi_j(x)`` where ``phi_j`` is the hat that is 1 at ``t_j`` and 0 at
the other breakpoints, so ``c_j`` is the value at ``t_j``.  A sample ``x`` in
``[t_j, t_{j+1}]`` touches two hats with weights ``1 - lam`` and ``lam``
(``lam = (x - t_j) / (t_{j+1} - t_j)``), so the normal equations
``G c = r`` are tridiagonal and are built by three weighted ``bincount`` passes
in ``O(N + m)`` time and memory -- never an ``N x m`` matrix.

When the first knot of the ReLU sum lies right of ``A`` the first piece is flat
(``c_0 = c_1``): the two first hats are merged into one basis function.

The ReLU weights follow exactly from the values: a weight is the change of
slope at its knot, ``w_j = s_j - s_{j-1}`` with ``s_j = (c_{j+1} - c_j) / (t_{j+1} - t_j)``.

Pieces without data make ``G`` singular.  Then a tiny penalty on the slope
changes (the ReLU weights themselves) picks, among the least-squares
solutions, the one with the smallest weights: across an empty piece the fit
continues linearly.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import LinAlgError, solveh_banded

from relusum.model import ReluSum, weights_from_slopes

__all__ = [
    "hat_lstsq",
    "hat_design",
    "hat_normal_equations",
    "values_to_relusum",
    "naive_hat_lstsq",
]


def _locate(x: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Piece index and local coordinate of each sample (``x`` sorted or not)."""
    j = np.searchsorted(t, x, side="right") - 1
    np.clip(j, 0, t.size - 2, out=j)
    lam = (x - t[j]) / (t[j + 1] - t[j])
    return j, lam


def _merge_first(ncoef: int, flat_first: bool) -> tuple[int, int]:
    """Number of unknowns and the offset that maps hat j to unknown j - offset."""
    return (ncoef - 1, 1) if flat_first else (ncoef, 0)


def hat_lstsq(
    x: np.ndarray,
    y: np.ndarray,
    t: np.ndarray,
    weight: np.ndarray | None = None,
    flat_first: bool = False,
) -> np.ndarray:
    """Weighted least-squares values at the breakpoints ``t`` (banded solve).

    Parameters
    ----------
    x, y : ndarray, shape (N,)
        Samples; x inside ``[t[0], t[-1]]``.
    t : ndarray, shape (m + 1,)
        Strictly increasing breakpoints.
    weight : ndarray, optional
        Non-negative sample weights.
    flat_first : bool
        Force the first piece to be flat (``c_0 = c_1``).

    Returns
    -------
    c : ndarray, shape (m + 1,)
        Values of the best continuous piecewise-linear function at ``t``.

    Examples
    --------
    >>> import numpy as np
    >>> from relusum.fitting.hat import hat_lstsq
    >>> x = np.linspace(0, 1, 11)
    >>> np.round(hat_lstsq(x, 2 * x + 1, np.array([0.0, 0.5, 1.0])), 12)
    array([1., 2., 3.])
    """
    j, lam = _locate(x, t)
    w = np.ones_like(x) if weight is None else weight
    ncoef = t.size
    nun, off = _merge_first(ncoef, flat_first)
    # Columns of the two hats touching each sample, after merging the first two.
    left = np.maximum(j - off, 0)
    right = j + 1 - off
    a = 1.0 - lam
    b = lam
    wa, wb = w * a, w * b
    diag = np.bincount(left, wa * a, minlength=nun) + np.bincount(right, wb * b, minlength=nun)
    # A sample in the merged first piece (flat_first, j == 0) touches one
    # column twice: add its cross term to the diagonal, not the off-diagonal.
    same = left == right
    cross = wa * b
    if np.any(same):
        diag += np.bincount(left[same], 2.0 * cross[same], minlength=nun)
        cross = np.where(same, 0.0, cross)
    off_diag = np.bincount(left, cross, minlength=nun)[: nun - 1]
    rhs = np.bincount(left, wa * y, minlength=nun) + np.bincount(right, wb * y, minlength=nun)
    coef = _solve_tridiagonal_spd(diag, off_diag, rhs, t, flat_first)
    if flat_first:
        coef = np.concatenate(([coef[0]], coef))
    return coef


def _solve_tridiagonal_spd(
    diag: np.ndarray, off: np.ndarray, rhs: np.ndarray, t: np.ndarray, flat_first: bool
) -> np.ndarray:
    n = diag.size
    ab = np.zeros((3, n))  # upper banded form with two super-diagonals (the first stays 0)
    ab[2] = diag
    ab[1, 1:] = off
    scale = float(np.max(diag)) if n else 1.0
    if scale > 0 and np.min(diag) > 1e-13 * scale:
        try:
            sol = solveh_banded(ab, rhs, check_finite=False)
            if np.all(np.isfinite(sol)):
                return sol
        except LinAlgError:
            pass
    # Singular or nearly so (pieces without data): add a tiny penalty on the
    # slope changes, i.e. on the ReLU weights, and solve the pentadiagonal system.
    pen = _slope_change_gram(t, flat_first)
    delta = 1e-9 * (scale if scale > 0 else 1.0) / max(float(np.max(np.abs(pen[2]))), 1e-300)
    try:
        return solveh_banded(delta * pen + ab, rhs, check_finite=False)
    except LinAlgError:
        pass
    # Still singular to rounding (two knots 1e-8 apart around an empty piece):
    # a minimum-norm least-squares solution of the same system.
    dense = np.diag(diag) + np.diag(off, 1) + np.diag(off, -1)
    return np.linalg.lstsq(dense, rhs, rcond=None)[0]


def _slope_change_gram(t: np.ndarray, flat_first: bool) -> np.ndarray:
    """Upper banded form (3 x n) of ``D^T D``, D mapping values to interior slope changes."""
    from scipy import sparse

    inv = 1.0 / np.diff(t)
    m = t.size
    k = np.arange(1, m - 1)
    rows = np.repeat(k - 1, 3)
    cols = np.stack((k - 1, k, k + 1), axis=1).ravel()
    vals = np.stack((inv[k - 1], -(inv[k - 1] + inv[k]), inv[k]), axis=1).ravel()
    if flat_first:
        cols = np.maximum(cols - 1, 0)
    n = m - 1 if flat_first else m
    d = sparse.csr_matrix((vals, (rows, cols)), shape=(max(m - 2, 0), n))
    g = (d.T @ d).todia()
    ab = np.zeros((3, n))
    for offset, data in zip(g.offsets, g.data):
        if 0 <= offset <= 2:
            ab[2 - offset, offset:] = data[offset:]
    return ab


def hat_normal_equations(
    x: np.ndarray, y: np.ndarray, t: np.ndarray, weight: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """The banded normal equations ``G c = r`` of all ``t.size`` hats, and ``sum w y^2``.

    Returns ``(diag, off, rhs, yy)``: ``G``'s diagonal and first off-diagonal,
    so the weighted sum of squares of ``sum_j c_j phi_j - y`` is
    ``c^T G c - 2 r^T c + yy``.  Three ``bincount`` passes, ``O(N + m)``; these
    are the sufficient statistics of least squares with breakpoints ``t``.

    Examples
    --------
    >>> import numpy as np
    >>> from relusum.fitting.hat import hat_normal_equations
    >>> d, o, r, yy = hat_normal_equations(np.array([0.0, 0.5, 1.0]), np.ones(3),
    ...                                    np.array([0.0, 1.0]))
    >>> d.tolist(), o.tolist(), r.tolist(), yy
    ([1.25, 1.25], [0.25], [1.5, 1.5], 3.0)
    """
    j, lam = _locate(x, t)
    w = np.ones_like(x) if weight is None else weight
    n = t.size
    a = 1.0 - lam
    wa, wb = w * a, w * lam
    diag = np.bincount(j, wa * a, minlength=n) + np.bincount(j + 1, wb * lam, minlength=n)
    off = np.bincount(j, wa * lam, minlength=n)[: n - 1]
    rhs = np.bincount(j, wa * y, minlength=n) + np.bincount(j + 1, wb * y, minlength=n)
    return diag, off, rhs, float(np.dot(w * y, y))


def hat_design(x: np.ndarray, t: np.ndarray, flat_first: bool = False) -> np.ndarray:
    """The dense ``N x m`` design matrix (for tests and tiny problems only)."""
    j, lam = _locate(x, t)
    nun, off = _merge_first(t.size, flat_first)
    out = np.zeros((x.size, nun))
    rows = np.arange(x.size)
    np.add.at(out, (rows, np.maximum(j - off, 0)), 1.0 - lam)
    np.add.at(out, (rows, j + 1 - off), lam)
    return out


def naive_hat_lstsq(
    x: np.ndarray,
    y: np.ndarray,
    t: np.ndarray,
    weight: np.ndarray | None = None,
    flat_first: bool = False,
) -> np.ndarray:
    """Reference solution by dense ``numpy.linalg.lstsq`` (slow; tests only)."""
    a = hat_design(x, t, flat_first)
    sw = np.ones_like(x) if weight is None else np.sqrt(weight)
    coef = np.linalg.lstsq(a * sw[:, None], y * sw, rcond=None)[0]
    if flat_first:
        coef = np.concatenate(([coef[0]], coef))
    return coef


def values_to_relusum(
    t: np.ndarray, c: np.ndarray, flat_first: bool, domain: tuple[float, float]
) -> ReluSum:
    """The exact ReLU form of the piecewise-linear function with values ``c`` at ``t``.

    With ``flat_first`` the first piece ``[t_0, t_1]`` is flat and the knots
    are ``t_1 .. t_{m-1}``; otherwise the knots are ``t_0 .. t_{m-1}``.
    """
    slopes = np.diff(c) / np.diff(t)
    if flat_first:
        knots = t[1:-1]
        w = weights_from_slopes(slopes[1:])
    else:
        knots = t[:-1]
        w = weights_from_slopes(slopes)
    return ReluSum(float(c[0]), knots, w, domain)
