"""Brute-force references for the max-error fits (kept in the tests on purpose).

:func:`brute_force_below` enumerates which samples each piece covers and in
which gap each joint falls (and which way the two lines cross there); every
case is one small linear program (HiGHS through highspy: one reused instance,
no presolve, about 1 ms each against 10 ms through scipy's linprog).  Branch and
bound keeps it fast: a partial assignment whose LP already needs an error of at least ``threshold``
is dropped with all its completions (the LP of a partial assignment is a
relaxation of every completion).
"""

from __future__ import annotations

import numpy as np

_INF = np.inf
_SOLVER = None


def _highs():
    """One quiet HiGHS instance reused for every small LP (scipy's linprog costs ~10 ms each)."""
    global _SOLVER
    if _SOLVER is None:
        import highspy

        h = highspy.Highs()
        h.setOptionValue("output_flag", False)
        h.setOptionValue("presolve", "off")
        h.setOptionValue("primal_feasibility_tolerance", 1e-10)
        h.setOptionValue("dual_feasibility_tolerance", 1e-10)
        _SOLVER = h
    return _SOLVER


def _lp(rows: list, rhs: list, nvar: int, flat: bool) -> float:
    """min t subject to rows @ (vars, t) <= rhs, t >= 0 (a_0 = 0 when ``flat``)."""
    if not rows:
        return 0.0
    import highspy

    a = np.vstack(rows)
    rhs = np.concatenate(rhs)
    m = a.shape[0]
    lp = highspy.HighsLp()
    lp.num_col_ = nvar + 1
    lp.num_row_ = m
    cost = np.zeros(nvar + 1)
    cost[-1] = 1.0
    lower = np.full(nvar + 1, -_INF)
    upper = np.full(nvar + 1, _INF)
    lower[-1] = 0.0
    if flat:
        lower[0] = upper[0] = 0.0
    lp.col_cost_ = cost
    lp.col_lower_ = lower
    lp.col_upper_ = upper
    lp.row_lower_ = np.full(m, -_INF)
    lp.row_upper_ = rhs
    nz = a != 0.0
    lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
    lp.a_matrix_.start_ = np.concatenate(([0], np.cumsum(nz.sum(axis=1)))).astype(np.int32)
    lp.a_matrix_.index_ = np.nonzero(nz)[1].astype(np.int32)
    lp.a_matrix_.value_ = a[nz]
    h = _highs()
    h.passModel(lp)
    h.run()
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return _INF
    return float(h.getInfo().objective_function_value)


def brute_force_below(x, y, n_pieces: int, threshold: float, flat_first: bool = False):
    """A joint assignment whose optimum is below ``threshold`` (its value), or ``None``.

    Lines are ``a_i * x + b_i`` (variables ``2i, 2i+1``); ``flat_first``
    fixes ``a_0 = 0`` and lets the flat piece cover no point (joint "before
    the first point", gap ``-1``).  Two joints in one gap leave an empty piece
    between them, which decouples its neighbours.
    """
    x = np.asarray(x, float)
    y = np.asarray(y, float)
    xs = np.unique(x)
    m = xs.size
    nvar = 2 * n_pieces
    gaps_first = -1 if flat_first else 0

    def point_rows(piece: int, lo_x: float, hi_x: float, rows: list, rhs: list) -> None:
        sel = (x >= lo_x) & (x <= hi_x)
        xx, yy = x[sel], y[sel]
        k = xx.size
        if k == 0:
            return
        r = np.zeros((2 * k, nvar + 1))
        r[:k, 2 * piece], r[:k, 2 * piece + 1] = xx, 1.0
        r[k:, 2 * piece], r[k:, 2 * piece + 1] = -xx, -1.0
        r[:, -1] = -1.0
        rows.append(r)
        rhs.append(np.concatenate((yy, -yy)))

    def cross_rows(t: int, gap: int, sign: float, rows: list, rhs: list) -> None:
        # (line_t - line_{t+1}) * sign >= 0 at xs[gap], <= 0 at xs[gap + 1].
        for xx, side in ((xs[gap], 1.0), (xs[gap + 1], -1.0)):
            r = np.zeros(nvar + 1)
            r[2 * t], r[2 * t + 1] = xx, 1.0
            r[2 * t + 2], r[2 * t + 3] = -xx, -1.0
            rows.append((-sign * side * r)[None, :])
            rhs.append(np.zeros(1))

    def build(joints: list, signs: list, complete: bool) -> tuple[list, list]:
        rows: list = []
        rhs: list = []
        bounds_x = [-np.inf] + [
            xs[g] + 0.5 * (xs[g + 1] - xs[g]) if g >= 0 else -np.inf for g in joints
        ]
        upper = xs[joints[-1]] if joints and joints[-1] >= 0 else -np.inf
        for p in range(len(joints) + 1):
            lo_x = bounds_x[p]
            hi_x = bounds_x[p + 1] if p + 1 < len(bounds_x) else (np.inf if complete else upper)
            if p == len(joints) and not complete:
                break
            point_rows(p, lo_x, hi_x, rows, rhs)
        for t, (g, s) in enumerate(zip(joints, signs)):
            if s is not None and g >= 0:
                cross_rows(t, g, s, rows, rhs)
        return rows, rhs

    def rec(joints: list, signs: list):
        t = len(joints)
        if t == n_pieces - 1:
            cases = [signs]
            last = joints[-1] if joints else None
            if joints and signs[-1] is None and last >= 0 and not (t >= 2 and joints[-2] == last):
                cases = [signs[:-1] + [1.0], signs[:-1] + [-1.0]]
            for sg in cases:
                rows, rhs = build(joints, sg, True)
                v = _lp(rows, rhs, nvar, flat_first)
                if v < threshold:
                    return v, joints, sg
            return None
        start = joints[-1] if joints else gaps_first
        for g in range(start, m - 1):
            if joints and g == joints[-1]:
                options = [signs[:-1] + [None]]  # shared gap: no crossing on either side
            elif (
                joints
                and signs[-1] is None
                and joints[-1] >= 0
                and not (len(joints) >= 2 and joints[-2] == joints[-1])
            ):
                options = [signs[:-1] + [1.0], signs[:-1] + [-1.0]]
            else:
                options = [list(signs)]
            for sg in options:
                nj = joints + [g]
                ns = sg + [None]
                rows, rhs = build(nj, ns, False)
                if _lp(rows, rhs, nvar, flat_first) >= threshold:
                    continue
                found = rec(nj, ns)
                if found is not None:
                    return found
        return None

    if n_pieces == 1:
        rows, rhs = build([], [], True)
        v = _lp(rows, rhs, nvar, flat_first)
        return (v, [], []) if v < threshold else None
    return rec([], [])
