"""Fixed-knot fits for the losses that are linear programs, and Huber, with constraints.

=============  ==============================================================  ==========
loss           objective (residual ``r = y - f(x)``, sample weights ``w``)     method
=============  ==============================================================  ==========
``l1``         ``sum w |r|`` (least absolute deviations)                        sparse LP
``quantile``   ``sum w (q r+ + (1 - q) r-)`` (pinball; ``q`` of the points      sparse LP
               lie below the fit)
``linf``       ``max |r|`` (with constraints; see :mod:`.minimax` otherwise)     sparse LP
``huber``      ``sum w rho(r)``, ``rho = r^2 / 2`` for ``|r| <= delta``,         IRLS + exact
               ``delta |r| - delta^2 / 2`` beyond                               pattern step
=============  ==============================================================  ==========

LPs go to HiGHS through :func:`scipy.optimize.linprog` with sparse matrices:
the unknowns are the values at the breakpoints and the residual parts, one
equality row per point.  Huber is solved by iteratively reweighted least
squares on the banded normal equations (a majorise-minimise descent), then
by exact steps on the inlier/outlier pattern: when a step keeps its pattern
it is the exact minimiser.  Constraints (:mod:`relusum.fitting.linear`) are
rows of the LP or of the ``m + 1``-sized QP of each Huber step.
``huber_delta`` defaults to ``1.345 * 1.4826 * MAD`` of the residuals (the
usual 95%-efficiency tuning on a robust scale), computed from the least-squares
fit and once more from the Huber fit.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import sparse

from relusum.fitting.constraints import Constraints
from relusum.fitting.fixed import check_capacity
from relusum.fitting.hat import _solve_tridiagonal_spd, hat_lstsq, hat_normal_equations
from relusum.fitting.linear import (
    Rows,
    Scaled,
    check_knots_allow,
    constraint_rows,
    scaled_breakpoints,
)
from relusum.fitting.qp import _gram, highs_qp, infeasible
from relusum.model import ReluSum
from relusum.targets import Target

__all__ = ["lp_knots", "huber_knots", "check_quantile", "check_huber_delta", "pinball"]


def check_quantile(q: Any) -> float:
    """``q`` as a float strictly between 0 and 1, or ``ValueError``."""
    try:
        v = float(q)
    except (TypeError, ValueError):
        raise ValueError(f"quantile must be a number in (0, 1), got {q!r}") from None
    if not 0.0 < v < 1.0:
        raise ValueError(f"quantile must lie strictly between 0 and 1, got {q!r}")
    return v


def check_huber_delta(d: Any) -> float | None:
    """``huber_delta`` as a positive float (None: from a robust scale estimate)."""
    if d is None:
        return None
    try:
        v = float(d)
    except (TypeError, ValueError):
        raise ValueError(f"huber_delta must be a positive number, got {d!r}") from None
    if not (math.isfinite(v) and v > 0):
        raise ValueError(f"huber_delta must be a positive finite number, got {d!r}")
    return v


def pinball(r: np.ndarray, q: float) -> np.ndarray:
    """The pinball loss of residuals ``r = y - f``: ``q r`` above, ``(q - 1) r`` below."""
    return np.where(r >= 0, q * r, (q - 1.0) * r)


def _hat_matrix(u: np.ndarray, t: np.ndarray) -> sparse.csr_matrix:
    m = t.size - 1
    j = np.clip(np.searchsorted(t, u, side="right") - 1, 0, m - 1)
    lam = (u - t[j]) / (t[j + 1] - t[j])
    r = np.arange(u.size)
    return sparse.csr_matrix(
        (np.concatenate((1.0 - lam, lam)), (np.concatenate((r, r)), np.concatenate((j, j + 1)))),
        shape=(u.size, t.size),
    )


def _split_rows(rows: Rows, extra_cols: int) -> tuple[Any, np.ndarray, Any, np.ndarray]:
    """Two-sided rows as linprog's (A_ub, b_ub, A_eq, b_eq), padded with zero columns."""
    mat = rows.matrix
    pad = sparse.csr_matrix((mat.shape[0], extra_cols))
    full = sparse.hstack((mat, pad)).tocsr()
    eq = rows.row_lo == rows.row_hi
    ub_lo = ~eq & np.isfinite(rows.row_lo)
    ub_hi = ~eq & np.isfinite(rows.row_hi)
    a_ub = sparse.vstack((full[ub_hi], -full[ub_lo])).tocsr()
    b_ub = np.concatenate((rows.row_hi[ub_hi], -rows.row_lo[ub_lo]))
    return a_ub, b_ub, full[eq], rows.row_lo[eq]


def _linprog(cost, a_ub, b_ub, a_eq, b_eq, bounds):
    from scipy.optimize import linprog

    kw: dict[str, Any] = {}
    if a_ub is not None and a_ub.shape[0]:
        kw.update(A_ub=a_ub.tocsc(), b_ub=b_ub)
    if a_eq is not None and a_eq.shape[0]:
        kw.update(A_eq=a_eq.tocsc(), b_eq=b_eq)
    return linprog(
        cost,
        bounds=bounds,
        method="highs",
        options={"primal_feasibility_tolerance": 1e-10, "dual_feasibility_tolerance": 1e-10},
        **kw,
    )


def _prepare(target: Target, knots: np.ndarray, constraints: Constraints):
    check_capacity(target.x, knots.size, data=target.fn is None)
    check_knots_allow(knots, target.domain, constraints)
    scale = Scaled.make(target.domain, target.y)
    t_user, t, flat_first = scaled_breakpoints(knots, target.domain, scale)
    rows = constraint_rows(t, flat_first, constraints, scale)
    return scale, t_user, t, flat_first, rows


def _linf_points(
    u: np.ndarray,
    v: np.ndarray,
    t: np.ndarray,
    rows: Rows,
    constraints: Constraints,
    start: np.ndarray | None = None,
) -> np.ndarray:
    """Constrained max-error LP on points: ``min e`` with ``|v - A c| <= e``.

    HiGHS's tolerances are absolute on the scaled values, so where the answer
    misses its own optimum by more than 1e-9 of the error the LP is solved
    again for a correction ``c + s d`` on the residuals scaled to 1, the
    constraints shifted and scaled alike (iterative refinement).  ``start``
    (values at ``t`` that meet the constraints, such as the optimum on a
    subset of the points) is corrected directly: one LP instead of two.
    """
    n = t.size
    npts = u.size
    a = _hat_matrix(u, t)
    ones = sparse.csr_matrix(np.ones((npts, 1)))
    a_pts = sparse.vstack((sparse.hstack((a, -ones)), sparse.hstack((-a, -ones))))
    c_ub, b_ub, a_eq, b_eq = _split_rows(rows, 1)
    a_ub = sparse.vstack((a_pts, c_ub)) if c_ub.shape[0] else a_pts
    c_rows, eq_rows = c_ub[:, :n], a_eq[:, :n]  # (without the error's column)
    cost = np.zeros(n + 1)
    cost[-1] = 1.0
    col_lo, col_hi = np.asarray(rows.col_lo, dtype=float), np.asarray(rows.col_hi, dtype=float)

    def solve(c0: np.ndarray, s: float) -> Any:
        # Solve for d with c = c0 + s d: the residuals and constraints of c0, scaled.
        r = (v - a @ c0) / s
        bounds = _bounds((col_lo - c0) / s, (col_hi - c0) / s)
        res = _linprog(
            cost,
            a_ub,
            np.concatenate((r, -r, (b_ub - c_rows @ c0) / s)),
            a_eq,
            (b_eq - eq_rows @ c0) / s,
            bounds + [(0, None)],
        )
        if res.status == 2:
            raise infeasible(constraints, "these knots")
        if res.status != 0 or res.x is None:
            raise ValueError(f"the max-error linear program failed: {res.message}")
        return res

    if start is None:
        res = solve(np.zeros(n), 1.0)
        c, fun = np.asarray(res.x[:n], dtype=float), float(res.fun)
    else:
        c, fun = np.asarray(start, dtype=float), 0.0
    for _ in range(2):
        err = float(np.max(np.abs(v - a @ c)))
        if not err > fun * (1.0 + 1e-9) + 1e-14:  # (not at rounding level)
            break
        res = solve(c, err)
        better = c + err * np.asarray(res.x[:n], dtype=float)
        if not float(np.max(np.abs(v - a @ better))) < err:
            break
        c, fun = better, float(res.fun) * err
    return c


def _bounds(lo: np.ndarray, hi: np.ndarray) -> list[tuple[float | None, float | None]]:
    """linprog's column bounds: None where infinite."""
    return [
        (a if math.isfinite(a) else None, b if math.isfinite(b) else None)
        for a, b in zip(lo.tolist(), hi.tolist())
    ]


def _pinball_dual(
    a: sparse.csr_matrix,
    v: np.ndarray,
    w: np.ndarray,
    g: np.ndarray,
    rows: Rows,
    tau: float,
    constraints: Constraints,
) -> np.ndarray:
    """``min_c g^T c + sum w rho_tau(v - A c)`` under ``rows``, through its dual LP.

    The dual has one equality row per unknown and one box-bounded variable per
    point (``-(1 - tau) w <= d <= tau w``), plus one sign-bounded multiplier per
    constraint row, so the simplex works on ``m + 1`` rows whatever the number
    of points; ``c`` is read off the equality rows' multipliers.
    """
    n = a.shape[1]
    mat = rows.matrix
    # Column bounds become rows of the dual too.
    fin_lo = np.flatnonzero(np.isfinite(rows.col_lo))
    fin_hi = np.flatnonzero(np.isfinite(rows.col_hi))
    eye = sparse.identity(n, format="csr")
    m_all = sparse.vstack((mat, eye[fin_lo], eye[fin_hi])).tocsr()
    lo_all = np.concatenate((rows.row_lo, rows.col_lo[fin_lo], np.full(fin_hi.size, -np.inf)))
    hi_all = np.concatenate((rows.row_hi, np.full(fin_lo.size, np.inf), rows.col_hi[fin_hi]))
    eq = lo_all == hi_all
    has_lo = ~eq & np.isfinite(lo_all)
    has_hi = ~eq & np.isfinite(hi_all)
    blocks = [a.T.tocsc()]
    cost = [-v]
    bounds: list[tuple[float | None, float | None]] = list(zip(-(1.0 - tau) * w, tau * w))
    if np.any(eq):
        blocks.append(m_all[eq].T.tocsc())
        cost.append(-lo_all[eq])
        bounds += [(None, None)] * int(np.count_nonzero(eq))
    if np.any(has_lo):
        blocks.append(m_all[has_lo].T.tocsc())
        cost.append(-lo_all[has_lo])
        bounds += [(0, None)] * int(np.count_nonzero(has_lo))
    if np.any(has_hi):
        blocks.append(-m_all[has_hi].T.tocsc())
        cost.append(hi_all[has_hi])
        bounds += [(0, None)] * int(np.count_nonzero(has_hi))
    from scipy.optimize import linprog

    res = linprog(
        np.concatenate(cost),
        A_eq=sparse.hstack(blocks).tocsc(),
        b_eq=g,
        bounds=bounds,
        method="highs-ds",
        options={"primal_feasibility_tolerance": 1e-10, "dual_feasibility_tolerance": 1e-10},
    )
    if res.status == 3:  # the dual is unbounded: the primal is infeasible
        raise infeasible(constraints, "these knots")
    if res.status != 0 or res.x is None:
        raise ValueError(f"the pinball linear program failed: {res.message}")
    return -np.asarray(res.eqlin.marginals, dtype=float)


#: Above this many points the pinball LP keeps only the points near the fit.
_GLOB_ABOVE = 20_000
#: The subsample fitted first, and the points kept near its fit.
_SUBSAMPLE = 12_000
_KEEP = 36_000


def _pinball(
    u: np.ndarray,
    v: np.ndarray,
    w: np.ndarray,
    t: np.ndarray,
    rows: Rows,
    tau: float,
    constraints: Constraints,
) -> tuple[np.ndarray, int]:
    """The exact pinball fit; returns the values and the rounds used.

    Large problems (Portnoy and Koenker's preprocessing): fit a subsample, keep
    the points closest to that fit, and replace the others by their sum, whose
    loss is linear as long as they stay on their side.  If the fit of the kept
    points leaves every other point on its side it is the exact optimum of all
    points (the linear terms are lower bounds of the loss that are tight
    there); otherwise the offenders join the kept points and it is solved again.
    """
    a = _hat_matrix(u, t)
    n = t.size
    npts = u.size
    if npts <= _GLOB_ABOVE:
        return _pinball_dual(a, v, w, np.zeros(n), rows, tau, constraints), 1
    rng = np.random.default_rng(0)
    sub = np.sort(rng.choice(npts, size=max(_SUBSAMPLE, 20 * n), replace=False))
    c = _pinball_dual(a[sub], v[sub], w[sub], np.zeros(n), rows, tau, constraints)
    r = v - a @ c
    keep_n = min(npts, _KEEP)
    kappa = float(np.partition(np.abs(r), keep_n - 1)[keep_n - 1])
    kept = np.abs(r) <= kappa
    # A box keeps the reduced problem bounded (far outside the scaled data
    # range of [-1, 1]); a solution on the box is never accepted.
    box = 8.0 + float(np.max(np.abs(v)))
    boxed = Rows(
        rows.matrix,
        rows.row_lo,
        rows.row_hi,
        np.maximum(rows.col_lo, -box),
        np.minimum(rows.col_hi, box),
    )
    for rounds in range(1, 12):
        above = ~kept & (r > 0)
        below = ~kept & (r < 0)
        g = -tau * (a[above].T @ w[above]) + (1.0 - tau) * (a[below].T @ w[below])
        idx = np.flatnonzero(kept)
        try:
            c = _pinball_dual(a[idx], v[idx], w[idx], g, boxed, tau, constraints)
        except ValueError:
            break
        r_new = v - a @ c
        # A point that lands on the fit (|r| at rounding level) may take any
        # dual value, so it is no offender.
        bad = (above & (r_new < -1e-12)) | (below & (r_new > 1e-12))
        on_box = float(np.max(np.abs(c))) >= box * (1.0 - 1e-9)
        if not np.any(bad) and not on_box:
            return c, rounds
        kept |= bad
        if on_box:
            # Widen the band: twice as many points near the last fit.
            keep_n = min(npts, 2 * keep_n)
            kappa = float(np.partition(np.abs(r_new), keep_n - 1)[keep_n - 1])
            kept |= np.abs(r_new) <= kappa
        r = r_new
    # Give up on the shortcut: all points.
    return _pinball_dual(a, v, w, np.zeros(n), rows, tau, constraints), 12


def lp_knots(
    target: Target,
    knots: np.ndarray,
    loss: str,
    constraints: Constraints,
    *,
    quantile: float = 0.5,
    rounds: int = 8,
) -> ReluSum:
    """The fit with the given knots minimising ``loss`` (``"l1"``, ``"quantile"``, ``"linf"``).

    For ``linf`` on a function, the knots and then the points where a dense
    grid's error still exceeds the samples' are added and the LP solved again
    (``rounds`` times at most; see :func:`_linf_target`).

    Examples
    --------
    >>> import numpy as np
    >>> from relusum.targets import make_target
    >>> from relusum.fitting.constraints import Constraints
    >>> from relusum.fitting.robust import lp_knots
    >>> x = np.arange(5.0)
    >>> s = lp_knots(make_target((x, [0, 1, 2, 30, 4])), np.array([0.0]), "l1", Constraints())
    >>> s.weights.round(9).tolist()  # the line through the four good points
    [1.0]
    """
    scale, t_user, t, flat_first, rows = _prepare(target, knots, constraints)
    if loss == "linf" and target.fn is not None:
        return _linf_target(target, knots, constraints, scale, t_user, t, flat_first, rows, rounds)
    u = np.asarray(scale.u(target.x), dtype=float)
    v = np.asarray(scale.v(target.y), dtype=float)
    w = None if target.weight is None else target.weight / max(float(np.max(target.weight)), 1e-300)
    if loss == "linf":
        c = _linf_points(u, v, t, rows, constraints)
    else:
        q = 0.5 if loss == "l1" else quantile
        ww = np.ones_like(u) if w is None else w
        c, _ = _pinball(u, v, ww, t, rows, q, constraints)
    if flat_first:
        c[0] = c[1]
    return scale.model(t_user, c.copy(), flat_first, target.domain)


def _linf_target(
    target: Target,
    knots: np.ndarray,
    constraints: Constraints,
    scale: Scaled,
    t_user: np.ndarray,
    t: np.ndarray,
    flat_first: bool,
    rows: Rows,
    rounds: int = 8,
) -> ReluSum:
    """The constrained max-error fit of a function: refined at its error peaks.

    As :func:`~.minimax.linf_fixed_target`: the knots join the samples (a sum's
    error peaks at them as often as between them), and the error peaks on a
    dense grid (with the knots) above the error on the points are located and
    added until the grid agrees within 0.05%, each LP correcting the last sum.
    """
    from relusum.fitting.minimax.fixed_lp import refined_at_peaks

    def solve(
        xs: np.ndarray, ys: np.ndarray, last: np.ndarray | None
    ) -> tuple[ReluSum, np.ndarray]:
        u = np.asarray(scale.u(xs), dtype=float)
        v = np.asarray(scale.v(ys), dtype=float)
        c = _linf_points(u, v, t, rows, constraints, last)
        if flat_first:
            c[0] = c[1]
        return scale.model(t_user, c.copy(), flat_first, target.domain), c

    return refined_at_peaks(target, knots, solve, rounds)


def _huber(r: np.ndarray, delta: float, w: np.ndarray) -> float:
    a = np.abs(r)
    return float(np.sum(w * np.where(a <= delta, 0.5 * r * r, delta * a - 0.5 * delta * delta)))


def _mad_delta(r: np.ndarray) -> float:
    med = float(np.median(r))
    sigma = 1.4826 * float(np.median(np.abs(r - med)))
    if not sigma > 0:
        sigma = float(np.mean(np.abs(r - med)))
    return 1.345 * sigma


def _quad_solve(
    diag: np.ndarray,
    off: np.ndarray,
    rhs: np.ndarray,
    t: np.ndarray,
    flat_first: bool,
    rows: Rows,
    constrained: bool,
) -> np.ndarray | None:
    """Minimise ``c^T G c - 2 rhs^T c`` (banded when unconstrained, else the QP)."""
    if not constrained:
        d, o, r = diag, off, rhs
        if flat_first:
            d = np.concatenate(([diag[0] + diag[1] + 2.0 * off[0]], diag[2:]))
            o = off[1:].copy()
            r = np.concatenate(([rhs[0] + rhs[1]], rhs[2:]))
        c = _solve_tridiagonal_spd(d, o, r, t, flat_first)
        return np.concatenate(([c[0]], c)) if flat_first else c
    norm = max(float(np.max(diag)), 1e-300)
    return highs_qp(_gram(diag, off, t) * (2.0 / norm), -2.0 * rhs / norm, rows)


def huber_knots(
    target: Target,
    knots: np.ndarray,
    constraints: Constraints,
    *,
    delta: float | None = None,
    max_iter: int = 300,
) -> tuple[ReluSum, dict[str, Any]]:
    """The Huber fit with the given knots; returns the model and ``{"huber_delta": ...}``.

    Examples
    --------
    >>> import numpy as np
    >>> from relusum.targets import make_target
    >>> from relusum.fitting.constraints import Constraints
    >>> from relusum.fitting.robust import huber_knots
    >>> x = np.linspace(0, 1, 50); y = 2 * x; y[10] = 40.0
    >>> s, facts = huber_knots(make_target((x, y)), np.array([0.0]), Constraints(), delta=0.1)
    >>> bool(abs(s.weights[0] - 2.0) < 0.01)  # the outlier barely moves the slope
    True
    """
    scale, t_user, t, flat_first, rows = _prepare(target, knots, constraints)
    u = np.asarray(scale.u(target.x), dtype=float)
    v = np.asarray(scale.v(target.y), dtype=float)
    w = (
        np.ones_like(u)
        if target.weight is None
        else target.weight / max(float(np.max(target.weight)), 1e-300)
    )
    constrained = constraints.active
    a = _hat_matrix(u, t)
    j = np.clip(np.searchsorted(t, u, side="right") - 1, 0, t.size - 2)
    lam = (u - t[j]) / (t[j + 1] - t[j])

    def solve_weighted(omega: np.ndarray, extra: np.ndarray | None = None) -> np.ndarray | None:
        d, o, r, _ = hat_normal_equations(u, v, t, omega)
        if extra is not None:
            r = (
                r
                + np.bincount(j, (1.0 - lam) * extra, minlength=t.size)
                + np.bincount(j + 1, lam * extra, minlength=t.size)
            )
        return _quad_solve(d, o, r, t, flat_first, rows, constrained)

    if constrained:
        c = solve_weighted(w)
        if c is None:
            raise infeasible(constraints, "these knots")
    else:
        c = hat_lstsq(u, v, t, w, flat_first)
    auto = delta is None
    d_s = _mad_delta(v - a @ c) if auto else delta / scale.half
    iters = 0
    for stage in range(2 if auto else 1):
        if stage == 1:
            d_s = _mad_delta(v - a @ c)
        if not d_s > 0:
            d_s = 1e-12
        obj = _huber(v - a @ c, d_s, w)
        for _ in range(max_iter):
            iters += 1
            r = v - a @ c
            omega = w * np.minimum(1.0, d_s / np.maximum(np.abs(r), 1e-300))
            c_new = solve_weighted(omega)
            obj_new = _huber(v - a @ c_new, d_s, w)
            step = float(np.max(np.abs(c_new - c)))
            if obj_new <= obj:
                c, done = c_new, obj - obj_new <= 1e-15 * max(obj, 1e-300) or step < 1e-13
                obj = obj_new
                if done:
                    break
            else:
                break
        # Exact steps on the inlier/outlier pattern.
        for _ in range(20):
            r = v - a @ c
            inl = np.abs(r) <= d_s
            extra = np.where(inl, 0.0, d_s * w * np.sign(r))
            c_new = solve_weighted(w * inl, extra)
            if c_new is None:
                break
            obj_new = _huber(v - a @ c_new, d_s, w)
            if obj_new > obj * (1 + 1e-15):
                break
            same = np.array_equal(np.abs(v - a @ c_new) <= d_s, inl)
            c, obj = c_new, min(obj, obj_new)
            if same:
                break
    model = scale.model(t_user, c, flat_first, target.domain)
    return model, {"huber_delta": d_s * scale.half if auto else delta, "iterations": iters}
