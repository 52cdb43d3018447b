"""Piece growth for samples closer than about 5e-9: each vertex solved from its two lines.

:func:`grow_exact` is :func:`relusum.fitting.minimax.kernel_grow.grow` with two
changes (``python_pieces`` in ``tests/minimax_python_sweep.py`` takes the same
branch, and the kernel test compares them).  A vertex made by a clip lies on
the clipping gate's line and on the line of the edge it cuts; each vertex
keeps the line of its outgoing edge (``EX``, ``EB``: a gate's bound at ``EX``,
or with ``EX`` NaN a side ``A = EB`` of the slope box), and :func:`_meet`
solves the two lines.  Interpolating along the edge instead loses the
rounding of the edge's steepest end: two gates 1e-9 apart make slopes of
about 1e10, and the vertices then missed their gates by far more than the
touch tolerance (feasibility was non-monotone in the error, and the
bisection's bound rose above the optimum).  And the polygon is scanned whole
at the first gate right of ``u0``, where its extremes jump across it after
the one-sided gates on the left: a walk there could stop at a sliver those
close gates leave and lose the steepest lines.  Wider samples keep
:func:`~relusum.fitting.minimax.kernel_grow.grow` (about 10% faster).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

__all__ = ["grow_exact"]

inf = math.inf


@njit(cache=True, error_model="numpy")
def _meet(ex, eb, xk, bk, d, pa, pc, qa, qc, vp, vq):
    """Where the edge line ``(ex, eb)`` meets the line ``value at xk = bk`` (as the
    reference's ``_meet``): an edge lies on ``C + A * (ex - u0) = eb`` or, with
    ``ex`` NaN, on ``A = eb``; solved directly, a vertex is exact to rounding in
    its own size (interpolating along the edge, kept for parallel lines, loses
    the rounding of the edge's steepest end)."""
    if ex != ex:
        a = eb
    else:
        den = xk - ex
        if den == 0.0:
            s = (bk - vp) / (vq - vp)
            return pa + s * (qa - pa), pc + s * (qc - pc)
        a = (bk - eb) / den
    return a, bk - a * d


@njit(cache=True, error_model="numpy")
def grow_exact(
    u,
    lower,
    upper,
    s,
    has_rel,
    rel_k,
    rel_last,
    rel_side,
    amax,
    ttol,
    A,
    C,
    EX,
    EB,
    nxt,
    prv,
    has_q,
    qu,
    qv,
):
    """:func:`grow` with every vertex solved from its two lines (:func:`_meet`),
    for samples closer than ``_EXACT_DU``.  Returns (ok, last, side, imax, size, lam_a, lam_c,
    has_lam_lo, has_lam_hi, last_lo, last_hi)."""
    n = u.size
    u0 = u[s]
    lj = lower[s]
    hj = upper[s]
    A[0] = -amax
    A[1] = amax
    A[2] = amax
    A[3] = -amax
    C[0] = lj
    C[1] = lj
    C[2] = hj
    C[3] = hj
    # The line each edge (vertex t to nxt[t]) lies on: see _meet.
    EX[0] = u0
    EX[1] = np.nan
    EX[2] = u0
    EX[3] = np.nan
    EB[0] = lj
    EB[1] = amax
    EB[2] = hj
    EB[3] = -amax
    size = 4
    if has_q and has_rel:
        # Tube: the joint lies on the previous extreme line before it leaves
        # the band (Sutherland-Hodgman on the box, as _clip_box).
        below = rel_side > 0
        dq = qu - u0
        bound = qv + ttol if below else qv - ttol
        ta = np.empty(8)
        tc = np.empty(8)
        tx = np.empty(8)
        tb = np.empty(8)
        m = 0
        for i in range(4):
            j = (i + 1) % 4
            vp = A[i] * dq + C[i]
            vq = A[j] * dq + C[j]
            pin = vp <= bound if below else vp >= bound
            qin = vq <= bound if below else vq >= bound
            if pin:
                ta[m] = A[i]
                tc[m] = C[i]
                tx[m] = EX[i]
                tb[m] = EB[i]
                m += 1
            if pin != qin:
                ta[m], tc[m] = _meet(EX[i], EB[i], qu, bound, dq, A[i], C[i], A[j], C[j], vp, vq)
                # Leaving: the clip line follows; entering: the edge's own line.
                tx[m] = qu if pin else EX[i]
                tb[m] = bound if pin else EB[i]
                m += 1
        if m == 0:
            return (False, 0, 0, 0, 0, -1, -1, -1, -1, 0)
        for i in range(m):
            A[i] = ta[i]
            C[i] = tc[i]
            EX[i] = tx[i]
            EB[i] = tb[i]
        size = m
    for t in range(size):
        nxt[t] = (t + 1) % size
        prv[t] = (t + size - 1) % size
    nv = size  # vertices ever made
    imax = 0
    imin = 0
    if has_rel:
        k = rel_k
    else:
        k = s + 1
        rel_last = -1
        rel_side = 0
    last_lo = -1
    last_hi = -1
    lam_lo = -1
    lam_hi = -1
    side = 0
    while k < n:
        if k == s:
            k += 1
            continue
        full = k > rel_last
        if full:
            lk = lower[k]
            hk = upper[k]
        elif rel_side > 0:
            lk = lower[k]
            hk = inf
        else:
            lk = -inf
            hk = upper[k]
        d = u[k] - u0
        # Small polygons, and the first gate right of u0 (the extremes jump
        # across the polygon), are scanned whole (see the reference).
        if size <= 5 or k == s + 1:
            i = imax
            vmax = -inf
            vmin = inf
            for _ in range(size):
                v = A[i] * d + C[i]
                if v > vmax:
                    vmax = v
                    imax = i
                if v < vmin:
                    vmin = v
                    imin = i
                i = nxt[i]
        elif hk == inf:
            vmax = inf
            i = imin
            vmin = A[i] * d + C[i]
            while True:
                t = nxt[i]
                v = A[t] * d + C[t]
                if v < vmin:
                    i = t
                    vmin = v
                    continue
                t = prv[i]
                v = A[t] * d + C[t]
                if v < vmin:
                    i = t
                    vmin = v
                    continue
                break
            imin = i
        elif lk == -inf:
            vmin = -inf
            i = imax
            vmax = A[i] * d + C[i]
            while True:
                t = nxt[i]
                v = A[t] * d + C[t]
                if v > vmax:
                    i = t
                    vmax = v
                    continue
                t = prv[i]
                v = A[t] * d + C[t]
                if v > vmax:
                    i = t
                    vmax = v
                    continue
                break
            imax = i
        else:
            i = imax
            vmax = A[i] * d + C[i]
            while True:
                t = nxt[i]
                v = A[t] * d + C[t]
                if v > vmax:
                    i = t
                    vmax = v
                    continue
                t = prv[i]
                v = A[t] * d + C[t]
                if v > vmax:
                    i = t
                    vmax = v
                    continue
                break
            imax = i
            i = imin
            vmin = A[i] * d + C[i]
            while True:
                t = nxt[i]
                v = A[t] * d + C[t]
                if v < vmin:
                    i = t
                    vmin = v
                    continue
                t = prv[i]
                v = A[t] * d + C[t]
                if v < vmin:
                    i = t
                    vmin = v
                    continue
                break
            imin = i
        if vmin > hk:
            if not full:
                return (False, 0, 0, 0, 0, -1, -1, last_lo, last_hi, nv)
            side = 1
            break
        if vmax < lk:
            if not full:
                return (False, 0, 0, 0, 0, -1, -1, last_lo, last_hi, nv)
            side = -1
            break
        touch_lo = False
        touch_hi = False
        if full:
            touch_lo = vmin <= lk + ttol
            touch_hi = vmax >= hk - ttol
            if touch_lo:
                last_lo = k
                lam_lo = imin
            if touch_hi:
                last_hi = k
                lam_hi = imax
            if vmin >= lk and vmax <= hk:
                k += 1
                continue
        for pas in range(2):
            upper_side = pas == 0
            if upper_side:
                if vmax <= hk:
                    continue
                sgn = 1.0
                bound = hk
                i0 = imax
            else:
                if vmin >= lk:
                    continue
                sgn = -1.0
                bound = lk
                i0 = imin
            lim = sgn * bound
            if sgn * (A[i0] * d + C[i0]) <= lim:
                continue
            f = i0
            steps = 1
            while steps < size:
                t = nxt[f]
                if sgn * (A[t] * d + C[t]) <= lim:
                    break
                f = t
                steps += 1
            if steps >= size:
                return (False, 0, 0, 0, 0, -1, -1, last_lo, last_hi, nv)
            bb = i0
            while True:
                t = prv[bb]
                if sgn * (A[t] * d + C[t]) <= lim:
                    break
                bb = t
                steps += 1
            p_in = prv[bb]
            q_in = nxt[f]
            uk = u[k]
            vp = A[p_in] * d + C[p_in]
            vq = A[bb] * d + C[bb]
            x0a, x0c = _meet(
                EX[p_in], EB[p_in], uk, bound, d, A[p_in], C[p_in], A[bb], C[bb], vp, vq
            )
            vp = A[f] * d + C[f]
            vq = A[q_in] * d + C[q_in]
            x1a, x1c = _meet(EX[f], EB[f], uk, bound, d, A[f], C[f], A[q_in], C[q_in], vp, vq)
            n0 = nv
            A[n0] = x0a
            C[n0] = x0c
            EX[n0] = uk
            EB[n0] = bound
            nxt[n0] = n0 + 1
            prv[n0] = p_in
            nxt[p_in] = n0
            nv += 1
            two = x1a != x0a or x1c != x0c
            if two:
                A[n0 + 1] = x1a
                C[n0 + 1] = x1c
                EX[n0 + 1] = EX[f]
                EB[n0 + 1] = EB[f]
                nxt[n0 + 1] = q_in
                prv[n0 + 1] = n0
                prv[q_in] = n0 + 1
                nv += 1
            else:
                EX[n0] = EX[f]
                EB[n0] = EB[f]
                nxt[n0] = q_in
                prv[q_in] = n0
            size = size - steps + (2 if two else 1)
            if upper_side:
                imax = n0
                if sgn * (A[imin] * d + C[imin]) > lim:
                    imin = q_in
                if touch_hi:
                    lam_hi = n0 + 1 if (two and A[n0 + 1] > A[n0]) else n0
            else:
                imin = n0
                if sgn * (A[imax] * d + C[imax]) > lim:
                    imax = q_in
                if touch_lo:
                    lam_lo = n0 + 1 if (two and A[n0 + 1] < A[n0]) else n0
        k += 1
    return (True, k - 1, side, imax, size, lam_lo, lam_hi, last_lo, last_hi, nv)
