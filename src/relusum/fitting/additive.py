"""Joint least squares of an additive sum ``intercept + sum_j s_j(x_j)``.

Each column ``j`` has its own breakpoints ``t_j`` and hat basis; a row of data
touches two hats per column, so the design is sparse with ``2 d`` non-zeros
per row (never a dense ``N x (d n)`` matrix) and the normal equations are
block-banded: tridiagonal blocks on the diagonal, coupling blocks between
columns.  The hats of every column sum to one, so all columns but the first
drop their first unknown (``s_j(t_j0) = 0``): that removes the ``d - 1``
redundant constants without changing the space of functions.  Afterwards
each ``s_j`` is centred (weighted mean zero on the data) and the constants go
into the intercept.

Knots per column are uniform, at quantiles, or free ("optimal", by
backfitting: each column's knots are re-optimised on its partial residual,
then all values are refitted jointly).

Examples
--------
>>> import numpy as np
>>> from relusum.fitting.additive import fit_additive
>>> rng = np.random.default_rng(0)
>>> X = rng.uniform(-1, 1, (500, 2)); y = np.abs(X[:, 0]) + X[:, 1] ** 2
>>> f = fit_additive(X, y, n_units=8)
>>> bool(np.max(np.abs(f(X) - y)) < 0.05)
True
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

from relusum.additive import AdditiveReluSum
from relusum.fitting.fixed import breakpoints_for, check_n_units, uniform_knots
from relusum.fitting.hat import _locate, values_to_relusum
from relusum.model import ReluSum

__all__ = [
    "fit_additive",
    "partial_bands",
    "column_knots",
    "KNOT_PLACEMENTS",
    "additive_values_design",
]

KNOT_PLACEMENTS = ("uniform", "quantile", "optimal")
_DENSE_LIMIT = 4000


def column_knots(x: np.ndarray, n_units: int, placement: str) -> np.ndarray:
    """Knots for one column: at most ``distinct - 1`` of them, the first at ``min x``."""
    xs = np.unique(x)
    n = min(check_n_units(n_units), xs.size - 1)
    if n < 1:
        return np.empty(0)
    lo, hi = float(xs[0]), float(xs[-1])
    if placement == "quantile":
        q = np.quantile(xs, np.arange(n) / n)
        q[0] = lo
        return np.unique(q[q < hi])
    return uniform_knots((lo, hi), n)


class _Column:
    """Breakpoints and hat coordinates of one column."""

    def __init__(self, x: np.ndarray, knots: np.ndarray, drop_first: bool) -> None:
        self.active = knots.size > 0
        if not self.active:
            self.nun = 0
            return
        self.domain = (float(np.min(x)), float(np.max(x)))
        self.t, self.flat = breakpoints_for(knots, self.domain)
        self.off = 1 if self.flat else 0
        nun = self.t.size - self.off
        self.drop = 1 if drop_first else 0
        self.nun = nun - self.drop
        j, lam = _locate(x, self.t)
        self.left = np.maximum(j - self.off, 0) - self.drop
        self.right = j + 1 - self.off - self.drop
        self.a, self.b = 1.0 - lam, lam

    def to_relusum(self, u: np.ndarray) -> ReluSum:
        vals = np.concatenate((np.zeros(self.drop), u))
        if self.flat:
            vals = np.concatenate(([vals[0]], vals))
        return values_to_relusum(self.t, vals, self.flat, self.domain)


def additive_values_design(columns: list[_Column], n_rows: int):
    """The sparse design (CSR, ``N x P``) of the stacked hat unknowns."""
    from scipy import sparse

    rows, cols, vals = [], [], []
    start = 0
    r = np.arange(n_rows)
    for c in columns:
        if not c.active:
            continue
        for idx, v in ((c.left, c.a), (c.right, c.b)):
            keep = idx >= 0  # a dropped first unknown contributes nothing
            rows.append(r[keep])
            cols.append(idx[keep] + start)
            vals.append(v[keep])
        start += c.nun
    if start == 0:
        return sparse.csr_matrix((n_rows, 0))
    return sparse.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
        shape=(n_rows, start),
    )


def _solve(design, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    from scipy import linalg, sparse
    from scipy.sparse.linalg import lsqr

    p = design.shape[1]
    if p == 0:
        return np.empty(0)
    wd = sparse.diags(w) @ design
    rhs = wd.T @ y
    if p <= _DENSE_LIMIT:
        gram = (design.T @ wd).toarray()
        # Eigen-decomposition with a relative cut-off: the unique solution when
        # the columns determine every value, the minimum-norm one otherwise
        # (pieces without data, more units than rows), stable under rounding.
        vals, vecs = linalg.eigh(gram, check_finite=False)
        keep = vals > 1e-10 * max(float(vals[-1]), 1e-300)
        return vecs[:, keep] @ ((vecs[:, keep].T @ rhs) / vals[keep])
    sw = np.sqrt(w)
    return lsqr(sparse.diags(sw) @ design, sw * y, atol=1e-14, btol=1e-14, iter_lim=20 * p)[0]


def _joint(
    X: np.ndarray, y: np.ndarray, w: np.ndarray, knots: list[np.ndarray], names
) -> AdditiveReluSum:
    first_active = next((j for j, h in enumerate(knots) if h.size), None)
    columns = [_Column(X[:, j], h, drop_first=(j != first_active)) for j, h in enumerate(knots)]
    u = _solve(additive_values_design(columns, X.shape[0]), y, w)
    comps: list[ReluSum] = []
    start = 0
    intercept = 0.0
    wsum = float(np.sum(w))
    for j, c in enumerate(columns):
        if not c.active:
            comps.append(ReluSum(0.0, [], []))
            continue
        s = c.to_relusum(u[start : start + c.nun])
        start += c.nun
        mean = float(np.sum(w * s(X[:, j])) / wsum)
        comps.append(ReluSum(s.bias - mean, s.knots, s.weights, s.domain))
        intercept += mean
    if first_active is None:  # every column constant: the weighted mean
        intercept = float(np.sum(w * y) / wsum)
    return AdditiveReluSum(intercept, comps, names)


def fit_additive(
    X: ArrayLike,
    y: ArrayLike,
    n_units: int | Sequence[int] = 16,
    knots: str = "uniform",
    sample_weight: ArrayLike | None = None,
    feature_names: Sequence[str] | None = None,
    backfit_rounds: int = 3,
) -> AdditiveReluSum:
    """Weighted least squares of ``intercept + sum_j s_j(x_j)``.

    Parameters
    ----------
    X : array_like, shape (N, d)
    y : array_like, shape (N,)
    n_units : int or sequence of int
        Units per column (capped at the column's distinct values minus one;
        a constant column gets none).
    knots : {"uniform", "quantile", "optimal"}
        Knot placement per column; "optimal" backfits free-knot fits on the
        partial residuals and refits all values jointly (a heuristic: each
        column's knots are optimal given the others).
    sample_weight : array_like, optional
    feature_names : sequence of str, optional
    backfit_rounds : int
        Rounds of backfitting for ``knots="optimal"``.
    """
    Xa = np.asarray(X, dtype=float)
    ya = np.asarray(y, dtype=float).ravel()
    if Xa.ndim != 2:
        raise ValueError(f"X must be 2-D (N, d), got shape {Xa.shape}")
    if Xa.shape[0] != ya.size:
        raise ValueError(f"X has {Xa.shape[0]} rows but y has {ya.size} values")
    if not (np.all(np.isfinite(Xa)) and np.all(np.isfinite(ya))):
        raise ValueError("X and y must be finite")
    if knots not in KNOT_PLACEMENTS:
        raise ValueError(f"knots must be one of {', '.join(KNOT_PLACEMENTS)}; got {knots!r}")
    d = Xa.shape[1]
    units = [n_units] * d if np.ndim(n_units) == 0 else list(n_units)
    if len(units) != d:
        raise ValueError(f"n_units has {len(units)} entries for {d} columns")
    w = np.ones_like(ya) if sample_weight is None else np.asarray(sample_weight, float).ravel()
    if w.shape != ya.shape or not np.all(np.isfinite(w)) or np.any(w < 0) or not np.any(w > 0):
        raise ValueError("sample_weight must be finite, non-negative, not all zero, one per row")
    keep = w > 0
    Xk, yk, wk = Xa[keep], ya[keep], w[keep]
    place = "uniform" if knots == "optimal" else knots
    hs = [column_knots(Xk[:, j], units[j], place) for j in range(d)]
    model = _joint(Xk, yk, wk, hs, feature_names)
    if knots == "optimal":
        from relusum.fitting.api import fit

        for _ in range(backfit_rounds):
            for j in range(d):
                if hs[j].size == 0:
                    continue
                partial = yk - model(Xk) + model.partial(j, Xk[:, j])
                n = hs[j].size
                r = fit((Xk[:, j], partial), n_units=n, knots="optimal", sample_weight=wk)
                hs[j] = r.model.knots
                model = _joint(Xk, yk, wk, hs, feature_names)
    return model


def partial_bands(
    X: ArrayLike,
    y: ArrayLike,
    model: AdditiveReluSum,
    grids: Sequence[np.ndarray],
    level: float = 0.95,
    sample_weight: ArrayLike | None = None,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Pointwise confidence bands of each centred component ``s_j`` on ``grids[j]``.

    The joint least-squares covariance ``sigma^2 G^+`` of the stacked values
    (``G`` the block-banded Gram, pseudo-inverse for unidentified directions),
    projected on each column's hat rows minus their weighted mean (the centring),
    with Student's t on ``N - rank`` degrees of freedom.
    """
    from scipy import linalg, sparse
    from scipy.stats import t as student_t

    Xa = np.asarray(X, dtype=float)
    ya = np.asarray(y, dtype=float).ravel()
    w = np.ones_like(ya) if sample_weight is None else np.asarray(sample_weight, float).ravel()
    keep = w > 0
    Xa, ya, w = Xa[keep], ya[keep], w[keep]
    comps = model.components
    first_active = next((j for j, c in enumerate(comps) if c.n_units), None)
    columns = [
        _Column(Xa[:, j], c.knots, drop_first=(j != first_active)) for j, c in enumerate(comps)
    ]
    design = additive_values_design(columns, Xa.shape[0])
    gram = (design.T @ (sparse.diags(w) @ design)).toarray()
    vals, vecs = linalg.eigh(gram, check_finite=False)
    ok = vals > 1e-10 * max(float(vals[-1]), 1e-300)
    ginv = (vecs[:, ok] / vals[ok]) @ vecs[:, ok].T
    resid = ya - model(Xa)
    dof = Xa.shape[0] - int(np.count_nonzero(ok)) - 1
    if dof < 1:
        raise ValueError("bands need more rows than parameters")
    sigma2 = float(np.sum(w * resid * resid) / dof)
    q = float(student_t.ppf(0.5 + level / 2.0, dof))
    out = []
    start = 0
    for j, c in enumerate(columns):
        g = np.asarray(grids[j], dtype=float)
        f = np.asarray(comps[j](g), dtype=float)
        if not c.active:
            out.append((f, f))
            continue
        sl = slice(start, start + c.nun)
        start += c.nun

        def rows(xs: np.ndarray, c: _Column = c) -> np.ndarray:
            xs = np.clip(xs, c.t[0], c.t[-1])
            jj, lam = _locate(xs, c.t)
            left = np.maximum(jj - c.off, 0) - c.drop
            right = jj + 1 - c.off - c.drop
            r = np.zeros((xs.size, c.nun))
            idx = np.arange(xs.size)
            for col, v in ((left, 1.0 - lam), (right, lam)):
                m = col >= 0
                np.add.at(r, (idx[m], col[m]), v[m])
            return r

        mean_row = (w @ rows(Xa[:, j])) / float(np.sum(w))
        r = rows(g) - mean_row
        cov = sigma2 * ginv[sl, sl]
        se = np.sqrt(np.maximum(np.einsum("ij,jk,ik->i", r, cov, r), 0))
        out.append((f - q * se, f + q * se))
    return out
