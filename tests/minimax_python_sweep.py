"""The pure-Python exact sweep: the reference the compiled kernel is tested against.

Moved out of :mod:`relusum.fitting.minimax.sweep` when the sweep was compiled
(:mod:`relusum.fitting.minimax.kernel`); ``tests/test_minimax_kernel.py``
checks that both give the same pieces.  The geometry and the proof are in
the docstring of :mod:`relusum.fitting.minimax.sweep`.
"""

from __future__ import annotations

import math

import numpy as np

from relusum.fitting.minimax.gates import Gates
from relusum.fitting.minimax.kernel import _EXACT_DU
from relusum.fitting.minimax.sweep import _TOUCH, Line, Piece


def _extreme(poly: list, side: int) -> Line:
    """Least steep line (side +1, ties: lowest) or steepest (side -1, ties: highest)."""
    if side > 0:
        return min(poly, key=lambda p: (p[0], p[1]))
    return max(poly, key=lambda p: (p[0], p[1]))


def python_pieces(
    g: Gates,
    eps: float,
    max_pieces: int,
    flat_first: bool = True,
    continuous: bool = True,
    tube: bool = False,
) -> list[Piece] | None:
    """The pure-Python sweep: the reference the compiled kernel is tested against."""
    u = g.u
    n = u.size
    lower, upper = g.bounds(eps)
    if np.any(lower > upper):
        return None
    ttol = _TOUCH * (1.0 + eps)
    # Samples closer than _EXACT_DU: vertices solved from their two lines (as grow_exact).
    exact = g.amax > 16.0 / _EXACT_DU + 16.0
    span = float(np.max(upper) - np.min(lower))
    lower_l = lower.tolist()
    upper_l = upper.tolist()
    u_l = u.tolist()
    pieces: list[Piece] = []
    rel: tuple[int, int, int] | None = None  # (first, last, side) of the one-sided gates
    if flat_first:
        cl = np.maximum.accumulate(lower)
        cu = np.minimum.accumulate(upper)
        bad = np.flatnonzero(cl > cu)
        m = int(bad[0]) - 1 if bad.size else n - 1
        lo_c, hi_c = float(cl[m]), float(cu[m])
        poly = [(0.0, lo_c), (0.0, hi_c)]
        if m == n - 1:
            pieces.append(Piece(u_l[0], 0, m, 0, poly, flat=True))
            return pieces
        if lo_c > upper_l[m + 1]:
            side = 1
            c = int(np.flatnonzero(lower[: m + 1] >= lo_c - ttol)[-1])
            star = (0.0, lo_c)
        else:
            side = -1
            c = int(np.flatnonzero(upper[: m + 1] <= hi_c + ttol)[-1])
            star = (0.0, hi_c)
        first = Piece(u_l[0], 0, m, side, poly, c, star, star, flat=True)
        pieces.append(first)
        if tube:
            first.q = _exit(first, u_l, lower_l, upper_l)
        if continuous:
            rel = (c, m, side)
        j = m + 1
    else:
        j = 0
    while True:
        if len(pieces) >= max_pieces:
            return None
        q = pieces[-1].q if (tube and continuous and pieces) else None
        piece = _sweep_piece(u_l, lower_l, upper_l, j, rel, g.amax, span, eps, ttol, q, exact)
        if piece is None:
            return None
        pieces.append(piece)
        if piece.side == 0:
            return pieces
        if tube:
            piece.q = _exit(piece, u_l, lower_l, upper_l)
        rel = (piece.c, piece.last, piece.side) if continuous else None
        j = piece.last + 1


def _exit(pc: Piece, u_l: list, lower_l: list, upper_l: list) -> tuple[float, float]:
    """Where the piece's extreme line leaves the band in the gap after its last gate."""
    t0, t1 = pc.last, pc.last + 1
    a, c = pc.star
    v0 = c + a * (u_l[t0] - pc.u0)
    v1 = c + a * (u_l[t1] - pc.u0)
    b0, b1 = (upper_l[t0], upper_l[t1]) if pc.side > 0 else (lower_l[t0], lower_l[t1])
    e0, e1 = (v0 - b0, v1 - b1) if pc.side > 0 else (b0 - v0, b1 - v1)
    # e0 <= 0 < e1 up to rounding.
    den = max(e1, 0.0) + max(-e0, 0.0)
    t = max(-e0, 0.0) / den if den > 0 else 1.0
    t = min(max(t, 0.0), 1.0)
    return (u_l[t0] + t * (u_l[t1] - u_l[t0]), b0 + t * (b1 - b0))


def _meet(
    ex: float,
    eb: float,
    xk: float,
    bk: float,
    d: float,
    p: Line,
    q: Line,
    vp: float,
    vq: float,
    exact: bool = True,
) -> Line:
    """Where the edge line ``(ex, eb)`` meets the line ``value at xk = bk``.

    An edge of the polygon lies on ``C + A * (ex - u0) = eb`` (a gate's bound
    at ``ex``) or, with ``ex`` NaN, on ``A = eb`` (a side of the slope box).
    Solving the two lines directly keeps the vertex exact to rounding in its
    own size: interpolating along the edge (``p + s * (q - p)``, used only
    when the lines are parallel) loses the rounding of the edge's steepest
    end, which two gates 1e-9 apart make about 1e10.  ``vp``, ``vq``: the
    values of ``p`` and ``q`` at ``xk``.
    """
    if not exact:  # samples no closer than _EXACT_DU: interpolate (as the kernel's grow)
        s = (bk - vp) / (vq - vp)
        return (p[0] + s * (q[0] - p[0]), p[1] + s * (q[1] - p[1]))
    if ex != ex:
        a = eb
    else:
        den = xk - ex
        if den == 0.0:
            s = (bk - vp) / (vq - vp)
            return (p[0] + s * (q[0] - p[0]), p[1] + s * (q[1] - p[1]))
        a = (bk - eb) / den
    return (a, bk - a * d)


def _clip_box(
    A: list,
    C: list,
    EX: list,
    EB: list,
    u0: float,
    xq: float,
    bound: float,
    keep_below: bool,
    exact: bool,
) -> tuple[list, list, list, list]:
    """Sutherland-Hodgman on a small polygon given as vertex lists (and their edge lines)."""
    n = len(A)
    d = xq - u0
    oa: list = []
    oc: list = []
    ox: list = []
    ob: list = []
    for i in range(n):
        j = (i + 1) % n
        vp = A[i] * d + C[i]
        vq = A[j] * d + C[j]
        pin = vp <= bound if keep_below else vp >= bound
        qin = vq <= bound if keep_below else vq >= bound
        if pin:
            oa.append(A[i])
            oc.append(C[i])
            ox.append(EX[i])
            ob.append(EB[i])
        if pin != qin:
            a, c = _meet(EX[i], EB[i], xq, bound, d, (A[i], C[i]), (A[j], C[j]), vp, vq, exact)
            oa.append(a)
            oc.append(c)
            # Leaving: the clip line follows; entering: the edge's own line.
            ox.append(xq if pin else EX[i])
            ob.append(bound if pin else EB[i])
    return oa, oc, ox, ob


def _sweep_piece(
    u_l: list,
    lower_l: list,
    upper_l: list,
    s: int,
    rel: tuple[int, int, int] | None,
    gamax: float,
    span: float,
    eps: float,
    ttol: float,
    q: tuple[float, float] | None = None,
    exact: bool = False,
) -> Piece | None:
    """Grow one piece from full gate ``s`` as far right as its polygon allows."""
    n = len(u_l)
    u0 = u_l[s]
    du = u_l[s + 1] - u0 if s + 1 < n else u0 - u_l[s - 1] if s > 0 else 1.0
    # Slopes no steeper than needed to swing across the next gate; a box no
    # larger than that keeps the clipping accurate.  The one-sided gates on the
    # left may need steeper lines: then the box grows to their smallest gap.
    amax = min(gamax, (span + 2.0 * eps + 1.0) * 4.0 / du)
    piece = _grow(u_l, lower_l, upper_l, s, rel, amax, ttol, q, exact)
    if piece is None and rel is not None:
        du_l = min(u_l[t + 1] - u_l[t] for t in range(rel[0], s))
        wide = min(gamax, (span + 2.0 * eps + 1.0) * 4.0 / min(du, du_l))
        if wide > amax:
            piece = _grow(u_l, lower_l, upper_l, s, rel, wide, ttol, q, exact)
    return piece


def _grow(
    u_l: list,
    lower_l: list,
    upper_l: list,
    s: int,
    rel: tuple[int, int, int] | None,
    amax: float,
    ttol: float,
    q: tuple[float, float] | None,
    exact: bool = False,
) -> Piece | None:
    """The clipping sweep of :func:`_sweep_piece` inside a slope box ``amax``."""
    n = len(u_l)
    u0 = u_l[s]
    lj, hj = lower_l[s], upper_l[s]
    A = [-amax, amax, amax, -amax]
    C = [lj, lj, hj, hj]
    # The line each edge (vertex t to nxt[t]) lies on: see _meet.
    nan = math.nan
    EX = [u0, nan, u0, nan]
    EB = [lj, amax, hj, -amax]
    if q is not None and rel is not None:
        # Tube: the joint lies on the previous extreme line before it leaves the band.
        A, C, EX, EB = _clip_box(
            A, C, EX, EB, u0, q[0], q[1] + ttol if rel[2] > 0 else q[1] - ttol, rel[2] > 0, exact
        )
        if not A:
            return None
    size = len(A)
    nxt = [(t + 1) % size for t in range(size)]
    prv = [(t - 1) % size for t in range(size)]
    imax = imin = 0
    if rel is not None:
        k, rel_last, rel_side = rel
    else:
        k, rel_last, rel_side = s + 1, -1, 0
    last_lo = last_hi = -1
    lam_lo = lam_hi = -1  # vertex indices (A and C keep every vertex ever made)
    side = 0
    inf = math.inf
    while k < n:
        if k == s:
            k += 1
            continue
        full = k > rel_last
        if full:
            lk = lower_l[k]
            hk = upper_l[k]
        elif rel_side > 0:
            lk, hk = lower_l[k], inf
        else:
            lk, hk = -inf, upper_l[k]
        d = u_l[k] - u0
        # Extreme vertices in the direction (d, 1): the value along a convex
        # polygon is bitonic, and as d grows the extremes rotate one way, so a
        # walk from the last extremes costs O(1) amortised.  Rounding can leave
        # (nearly) repeated vertices that stop a walk early, so small polygons
        # are scanned whole, and so is the polygon at the first gate right of
        # u0 (after the one-sided gates on the left): there the extremes jump
        # to the far side, a long walk past the slivers those gates leave (it
        # stopped at one and lost the steepest lines: with gates 1e-9 apart,
        # and with gates 1e-8 apart on exp(x) at 64 units, where a false
        # infeasibility put the certified bound 7e-8 above a reached error).
        if size <= 5 or k == s + 1:
            i = imax
            vmax = -inf
            vmin = inf
            for _ in range(size):
                v = A[i] * d + C[i]
                if v > vmax:
                    vmax, imax = v, i
                if v < vmin:
                    vmin, imin = v, i
                i = nxt[i]
        elif hk == inf:  # one-sided (lower) gate: only the lowest vertex matters
            vmax = inf
            i = imin
            vmin = A[i] * d + C[i]
            while True:
                t = nxt[i]
                v = A[t] * d + C[t]
                if v < vmin:
                    i, vmin = t, v
                    continue
                t = prv[i]
                v = A[t] * d + C[t]
                if v < vmin:
                    i, vmin = t, v
                    continue
                break
            imin = i
        elif lk == -inf:  # one-sided (upper) gate
            vmin = -inf
            i = imax
            vmax = A[i] * d + C[i]
            while True:
                t = nxt[i]
                v = A[t] * d + C[t]
                if v > vmax:
                    i, vmax = t, v
                    continue
                t = prv[i]
                v = A[t] * d + C[t]
                if v > vmax:
                    i, vmax = t, v
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
                    i, vmax = t, v
                    continue
                t = prv[i]
                v = A[t] * d + C[t]
                if v > vmax:
                    i, vmax = t, v
                    continue
                break
            imax = i
            i = imin
            vmin = A[i] * d + C[i]
            while True:
                t = nxt[i]
                v = A[t] * d + C[t]
                if v < vmin:
                    i, vmin = t, v
                    continue
                t = prv[i]
                v = A[t] * d + C[t]
                if v < vmin:
                    i, vmin = t, v
                    continue
                break
            imin = i
        if vmin > hk:
            if not full:
                return None  # the box is too small (rounding): be safe
            side = 1
            break
        if vmax < lk:
            if not full:
                return None
            side = -1
            break
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
        else:
            touch_lo = touch_hi = False
        for upper_side in (True, False):
            if upper_side:
                if vmax <= hk:
                    continue
                sgn, bound, i0 = 1.0, hk, imax
            else:
                if vmin >= lk:
                    continue
                sgn, bound, i0 = -1.0, lk, imin
            lim = sgn * bound
            if sgn * (A[i0] * d + C[i0]) <= lim:
                continue
            # Walk the violating arc [bb .. f] around i0.
            f = i0
            steps = 1
            while steps < size:
                t = nxt[f]
                if sgn * (A[t] * d + C[t]) <= lim:
                    break
                f = t
                steps += 1
            if steps >= size:
                return None  # all violate: only by rounding (caller checked)
            bb = i0
            while True:
                t = prv[bb]
                if sgn * (A[t] * d + C[t]) <= lim:
                    break
                bb = t
                steps += 1
            p_in, q_in = prv[bb], nxt[f]
            uk = u_l[k]
            vp, vq = A[p_in] * d + C[p_in], A[bb] * d + C[bb]
            x0 = _meet(
                EX[p_in], EB[p_in], uk, bound, d, (A[p_in], C[p_in]), (A[bb], C[bb]), vp, vq, exact
            )
            vp, vq = A[f] * d + C[f], A[q_in] * d + C[q_in]
            x1 = _meet(EX[f], EB[f], uk, bound, d, (A[f], C[f]), (A[q_in], C[q_in]), vp, vq, exact)
            n0 = len(A)
            A.append(x0[0])
            C.append(x0[1])
            EX.append(uk)
            EB.append(bound)
            nxt.append(n0 + 1)
            prv.append(p_in)
            nxt[p_in] = n0
            if x1 != x0:
                A.append(x1[0])
                C.append(x1[1])
                EX.append(EX[f])
                EB.append(EB[f])
                nxt.append(q_in)
                prv.append(n0)
                prv[q_in] = n0 + 1
            else:
                EX[n0] = EX[f]
                EB[n0] = EB[f]
                nxt[n0] = q_in
                prv[q_in] = n0
            two = x1 != x0
            size = size - steps + (2 if two else 1)
            if upper_side:
                imax = n0
                if sgn * (A[imin] * d + C[imin]) > lim:
                    imin = q_in
                if touch_hi:
                    lam_hi = n0 + 1 if two and A[n0 + 1] > A[n0] else n0
            else:
                imin = n0
                if sgn * (A[imax] * d + C[imax]) > lim:
                    imax = q_in
                if touch_lo:
                    lam_lo = n0 + 1 if two and A[n0 + 1] < A[n0] else n0
        k += 1
    poly = []
    t = imax
    for _ in range(size):
        poly.append((A[t], C[t]))
        t = nxt[t]
    piece = Piece(u0, s, k - 1, side, poly)
    if side > 0:
        piece.c = max(s, last_lo)
        piece.lam = (A[lam_lo], C[lam_lo]) if last_lo > s else None
        piece.star = _extreme(poly, 1)
    elif side < 0:
        piece.c = max(s, last_hi)
        piece.lam = (A[lam_hi], C[lam_hi]) if last_hi > s else None
        piece.star = _extreme(poly, -1)
    return piece
