"""Constrained least squares with fixed knots: a convex QP of the knot count's size.

The data enter only through the banded normal equations ``G c = r`` of the
hat basis (:func:`~relusum.fitting.hat.hat_normal_equations`, ``O(N)``), so the
QP has ``m + 1`` unknowns (the values at the breakpoints) whatever ``N`` is:
minimise ``c^T G c - 2 r^T c`` subject to the rows of
:func:`~relusum.fitting.linear.constraint_rows`.  It is solved by HiGHS's QP
solver (``highspy``, an active-set method, so active constraints hold to
rounding).  When pieces hold no data ``G`` is singular; as in
:mod:`relusum.fitting.hat`, a tiny penalty on the slope changes picks the
solution with the smallest ReLU weights.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from scipy import sparse
from scipy.sparse.linalg import spsolve

from relusum.fitting.constraints import Constraints
from relusum.fitting.fixed import check_capacity
from relusum.fitting.hat import hat_normal_equations
from relusum.fitting.linear import (
    Rows,
    Scaled,
    check_knots_allow,
    constraint_rows,
    scaled_breakpoints,
)
from relusum.model import ReluSum
from relusum.targets import Target

__all__ = ["highs_qp", "qp_knots", "infeasible"]


def infeasible(constraints: Constraints, what: str) -> ValueError:
    """The one-line error for constraints that cannot hold together."""
    return ValueError(
        f"the constraints {', '.join(constraints.names())} cannot all hold with {what}"
    )


def _highs() -> Any:
    try:
        import highspy
    except ImportError:
        raise ValueError(
            "constrained least squares and the huber loss need HiGHS's QP solver: "
            "pip install 'relusum[shape]' (highspy)"
        ) from None
    # The plain solver class: ``highspy.Highs`` adds Python callbacks and prints
    # a banner on stdout when it is made, which a library must not do.
    core = getattr(getattr(highspy, "_core", None), "_Highs", None)
    h = core() if core is not None else highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("primal_feasibility_tolerance", 1e-10)
    h.setOptionValue("dual_feasibility_tolerance", 1e-10)
    return h, highspy


def highs_qp(
    hessian: sparse.spmatrix,
    cost: np.ndarray,
    rows: Rows,
) -> np.ndarray | None:
    """Minimise ``0.5 c^T H c + cost^T c`` subject to ``rows``; None if infeasible.

    ``hessian`` is symmetric positive semi-definite (only its lower triangle is read).
    """
    h, highspy = _highs()
    n = cost.size
    lp = highspy.HighsLp()
    lp.num_col_ = n
    lp.num_row_ = rows.n_rows
    lp.col_cost_ = np.asarray(cost, dtype=float)
    lp.col_lower_ = rows.col_lo
    lp.col_upper_ = rows.col_hi
    lp.row_lower_ = rows.row_lo
    lp.row_upper_ = rows.row_hi
    a = rows.matrix.tocsc()
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = a.indptr.astype(np.int32)
    lp.a_matrix_.index_ = a.indices.astype(np.int32)
    lp.a_matrix_.value_ = a.data.astype(float)
    lp.a_matrix_.num_col_ = n
    lp.a_matrix_.num_row_ = rows.n_rows
    h.passModel(lp)
    low = sparse.tril(hessian).tocsc()
    low.sort_indices()
    h.passHessian(
        n,
        int(low.nnz),
        int(highspy.HessianFormat.kTriangular),
        low.indptr.astype(np.int32),
        low.indices.astype(np.int32),
        low.data.astype(float),
    )
    h.run()
    status = h.getModelStatus()
    if status == highspy.HighsModelStatus.kInfeasible:
        return None
    if status != highspy.HighsModelStatus.kOptimal:
        raise ValueError(
            f"the constrained least-squares QP failed: {h.modelStatusToString(status)}"
        )
    c = np.asarray(h.getSolution().col_value, dtype=float)
    return polish(hessian, cost, rows, c)


def polish(hessian: sparse.spmatrix, cost: np.ndarray, rows: Rows, c: np.ndarray) -> np.ndarray:
    """Solve the KKT system of the constraints active at ``c`` exactly (to rounding).

    The QP solver stops within its tolerances; with the active set known the
    optimum is the solution of one linear system.  The polished point is kept
    only if it satisfies every constraint and is no worse.
    """
    n = c.size
    if n > 2000:
        return c
    tol = 1e-9
    mat = rows.matrix
    mc = mat @ c if rows.n_rows else np.zeros(0)
    act_rows = (np.abs(mc - rows.row_lo) <= tol) | (np.abs(mc - rows.row_hi) <= tol)
    target_rows = np.where(np.abs(mc - rows.row_lo) <= tol, rows.row_lo, rows.row_hi)
    act_lo = np.abs(c - rows.col_lo) <= tol
    act_hi = np.abs(c - rows.col_hi) <= tol
    eye = sparse.identity(n, format="csr")
    a_act = sparse.vstack((mat[act_rows], eye[act_lo], eye[act_hi])).tocsr()
    b_act = np.concatenate((target_rows[act_rows], rows.col_lo[act_lo], rows.col_hi[act_hi]))
    # A sparse LU (the KKT matrix is banded plus a few rows): no dense BLAS.
    if a_act.shape[0]:
        kkt = sparse.bmat([[sparse.csr_matrix(hessian), a_act.T], [a_act, None]], format="csc")
    else:
        kkt = sparse.csc_matrix(hessian)
    rhs = np.concatenate((-cost, b_act))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            sol = np.asarray(spsolve(kkt, rhs), dtype=float)[:n]
        except (RuntimeError, ValueError):
            return c
    if not np.all(np.isfinite(sol)):
        return c
    slack = 1e-12 * (1.0 + float(np.max(np.abs(sol))))
    ms = mat @ sol if rows.n_rows else np.zeros(0)
    feasible = (
        np.all(ms >= rows.row_lo - slack)
        and np.all(ms <= rows.row_hi + slack)
        and np.all(sol >= rows.col_lo - slack)
        and np.all(sol <= rows.col_hi + slack)
    )

    def obj(v: np.ndarray) -> float:
        return float(0.5 * v @ (hessian @ v) + cost @ v)

    if feasible and obj(sol) <= obj(c) + 1e-15 * (1.0 + abs(obj(c))):
        return sol
    return c


def _gram(diag: np.ndarray, off: np.ndarray, t: np.ndarray) -> sparse.csc_matrix:
    n = diag.size
    g = sparse.diags([off, diag, off], [-1, 0, 1], shape=(n, n), format="csc")
    scale = float(np.max(diag)) if n else 1.0
    if scale > 0 and np.min(diag) > 1e-13 * scale:
        return g
    # Pieces without data: a tiny penalty on the slope changes (the ReLU weights).
    inv = 1.0 / np.diff(t)
    m = t.size
    k = np.arange(1, m - 1)
    d = sparse.coo_matrix(
        (
            np.stack((inv[k - 1], -(inv[k - 1] + inv[k]), inv[k]), axis=1).ravel(),
            (np.repeat(k - 1, 3), np.stack((k - 1, k, k + 1), axis=1).ravel()),
        ),
        shape=(max(m - 2, 0), m),
    ).tocsr()
    pen = (d.T @ d).tocsc()
    big = float(np.max(np.abs(pen.diagonal()))) if pen.nnz else 1.0
    return (g + (1e-9 * (scale if scale > 0 else 1.0) / max(big, 1e-300)) * pen).tocsc()


def qp_knots(target: Target, knots: np.ndarray, constraints: Constraints) -> ReluSum:
    """Weighted least squares with the given knots under ``constraints`` (exact, a QP).

    Examples
    --------
    >>> import numpy as np
    >>> from relusum.targets import make_target
    >>> from relusum.fitting.constraints import Constraints
    >>> from relusum.fitting.qp import qp_knots
    >>> x = np.linspace(0, 1, 101)
    >>> t = make_target((x, np.sin(6 * x)))
    >>> s = qp_knots(t, np.linspace(0, 1, 8, endpoint=False), Constraints(monotone="increasing"))
    >>> bool(np.min(s.slopes) >= -1e-12)  # to rounding
    True
    """
    check_capacity(target.x, knots.size, data=target.fn is None)
    check_knots_allow(knots, target.domain, constraints)
    scale = Scaled.make(target.domain, target.y)
    t_user, t, flat_first = scaled_breakpoints(knots, target.domain, scale)
    w = target.weight
    if w is not None:
        w = w / max(float(np.max(w)), 1e-300)
    # The hats' local coordinates do not change under the affine map to scaled
    # units, so the Gram matrix is built from the raw x, and the scaled
    # right-hand side follows from the raw one (the hats sum to one).
    diag, off, rhs_y, _ = hat_normal_equations(target.x, target.y, t_user, w)
    row_sums = diag + np.concatenate((off, [0.0])) + np.concatenate(([0.0], off))
    rhs = (rhs_y - scale.mid * row_sums) / scale.half
    rows = constraint_rows(t, flat_first, constraints, scale)
    norm = max(float(np.max(diag)), 1e-300)
    c = highs_qp(_gram(diag, off, t) * (2.0 / norm), -2.0 * rhs / norm, rows)
    if c is None:
        raise infeasible(constraints, "these knots")
    if flat_first:
        c[0] = c[1]
    return scale.model(t_user, c, flat_first, target.domain)
