"""Compiled :func:`relusum.fitting.minimax.build._lines_py`: the same float operations, in order.

Works on the sweep kernel's arrays (:func:`relusum.fitting.minimax.sweep.sweep_raw`)
without building :class:`~relusum.fitting.minimax.sweep.Piece` objects.  Every
arithmetic step mirrors the Python reference (which stays in :mod:`.build` and is
tested against this), Python's ``min``/``max`` included, so the models are
bit-identical.  Bump this note when the arithmetic changes, or a cached kernel
keeps running the old code.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["lines_arrays"]


@njit(cache=True)
def _pymax(a, b):
    return b if b > a else a


@njit(cache=True)
def _pymin(a, b):
    return b if b < a else a


@njit(cache=True)
def _cross(pa, pv, qa, qv, lo, hi):
    da = pa - qa
    if da == 0.0:
        return lo
    x = (qv - pv) / da
    return _pymin(_pymax(x, lo), hi)


@njit(cache=True)
def _cut(xa, xc, vals, bound, keep_below):
    """Sutherland-Hodgman, as ``build._cut``: new arrays (slopes, values)."""
    n = xa.size
    oa = np.empty(2 * n + 2)
    oc = np.empty(2 * n + 2)
    k = 0
    for i in range(n):
        j = i + 1 if i + 1 < n else 0
        vp = vals[i]
        vq = vals[j]
        pin = vp <= bound if keep_below else vp >= bound
        qin = vq <= bound if keep_below else vq >= bound
        if pin:
            oa[k] = xa[i]
            oc[k] = xc[i]
            k += 1
        if pin != qin:
            s = (bound - vp) / (vq - vp)
            oa[k] = xa[i] + s * (xa[j] - xa[i])
            oc[k] = xc[i] + s * (xc[j] - xc[i])
            k += 1
    return oa[:k].copy(), oc[:k].copy()


@njit(cache=True)
def _centre(xa, xc, smax):
    """As ``build._moderate_centre``: the centroid of the part with ``|slope| <= smax``."""
    ca, cc = _cut(xa, xc, xa, smax, True)
    if ca.size:
        ca, cc = _cut(ca, cc, ca, -smax, False)
    if ca.size == 0:
        ca, cc = xa, xc
    m = ca.size
    sa = 0.0
    sc = 0.0
    for i in range(m):
        sa += ca[i]
    for i in range(m):
        sc += cc[i]
    return sa / m, sc / m


@njit(cache=True)
def _smax(u, lo, hi):
    n = u.size
    if n < 2:
        return 1.0
    best = -np.inf
    nan = False
    prev = 0.5 * (lo[0] + hi[0])
    for i in range(1, n):
        cur = 0.5 * (lo[i] + hi[i])
        v = abs(cur - prev) / (u[i] - u[i - 1])
        if v != v:
            nan = True
        elif v > best:
            best = v
        prev = cur
    if nan:
        best = np.nan
    return best * 2.0 + 1e-9


@njit(cache=True)
def _filter(xa, xc, vals, bound, sgn, below):
    """The vertices with ``sgn * (v - bound) <= 0`` (``below``) or ``>= 0``."""
    n = xa.size
    oa = np.empty(n)
    oc = np.empty(n)
    k = 0
    for i in range(n):
        d = sgn * (vals[i] - bound)
        if (d <= 0.0) if below else (d >= 0.0):
            oa[k] = xa[i]
            oc[k] = xc[i]
            k += 1
    return oa[:k].copy(), oc[:k].copy()


@njit(cache=True)
def lines_arrays(u, lo, hi, npieces, ints, flts, off, pa, pc, tube, ua):
    """``(slopes, values at 0, joints)`` of ``build._lines_py``, from the sweep's arrays
    (``ua``: the ``u`` of the domain's left end, where a flat first piece ends)."""
    smax = _smax(u, lo, hi)
    la = np.empty(2 * npieces + 2)
    lv = np.empty(2 * npieces + 2)
    jt = np.empty(2 * npieces + 2)
    nl = 0
    nj = 0
    p = npieces - 1
    u0 = flts[p, 0]
    a0 = off[p]
    a1 = off[p + 1]
    if ints[p, 4]:
        cur_a = 0.0
        cur_v = 0.5 * (pc[a0] + pc[a1 - 1])
    else:
        ma, mc = _centre(pa[a0:a1], pc[a0:a1], smax)
        cur_a = ma
        cur_v = mc - ma * u0
    la[nl] = cur_a
    lv[nl] = cur_v
    nl += 1
    i = npieces - 2
    while i >= 0:
        s_ = ints[i, 0]
        last = ints[i, 1]
        side = ints[i, 2]
        c = ints[i, 3] if side != 0 else -1
        flat = ints[i, 4] != 0
        has_lam = ints[i, 5] != 0
        u0 = flts[i, 0]
        has_q = tube and side != 0
        qu = flts[i, 5]
        u_c = u[c]
        u_end = u[last + 1] if not has_q else qu
        star_a = flts[i, 3]
        star_v = flts[i, 4] - flts[i, 3] * u0
        sgn = 1.0 if side > 0 else -1.0
        bound = cur_v + cur_a * u_c
        xa = pa[off[i] : off[i + 1]]
        xc = pc[off[i] : off[i + 1]]
        vals = np.empty(xa.size)
        for k in range(xa.size):
            vals[k] = xc[k] + xa[k] * (u_c - u0)
        if xa.size > 1:
            oa, oc = _cut(xa, xc, vals, bound, side > 0)
        else:
            oa, oc = _filter(xa, xc, vals, bound, sgn, True)
        u_stop = u_end
        if oa.size and has_q:
            u_stop = u[last]
            qb = cur_v + cur_a * u_stop
            qv = np.empty(oa.size)
            for k in range(oa.size):
                qv[k] = oc[k] + oa[k] * (u_stop - u0)
            if oa.size > 1:
                oa, oc = _cut(oa, oc, qv, qb, side < 0)
            else:
                oa, oc = _filter(oa, oc, qv, qb, sgn, False)
        if oa.size:
            ma, mc = _centre(oa, oc, smax)
            ch_a = ma
            ch_v = mc - ma * u0
            if flat:
                ch_a = 0.0
            jt[nj] = _cross(ch_a, ch_v, cur_a, cur_v, u_c, u_stop)
            nj += 1
            la[nl] = ch_a
            lv[nl] = ch_v
            nl += 1
            cur_a, cur_v = ch_a, ch_v
            i -= 1
            continue
        if has_lam:
            lam_a = flts[i, 1]
            lam_v = flts[i, 2] - flts[i, 1] * u0
            x = _cross(lam_a, lam_v, star_a, star_v, u_c, u_end)
            if sgn * ((cur_v + cur_a * x) - (lam_v + lam_a * x)) <= 0.0:
                ch_a, ch_v, lo_ = lam_a, lam_v, u_c
            else:
                ch_a, ch_v, lo_ = star_a, star_v, x
            jt[nj] = _cross(ch_a, ch_v, cur_a, cur_v, lo_, u_end)
            nj += 1
            la[nl] = ch_a
            lv[nl] = ch_v
            nl += 1
            cur_a, cur_v = ch_a, ch_v
            i -= 1
            continue
        u_s = u[s_]
        if sgn * ((cur_v + cur_a * u_s) - (star_v + star_a * u_s)) >= 0.0 or (i == 0 and not flat):
            jt[nj] = _cross(star_a, star_v, cur_a, cur_v, u_s, u_end)
            nj += 1
            la[nl] = star_a
            lv[nl] = star_v
            nl += 1
            cur_a, cur_v = star_a, star_v
            i -= 1
            continue
        if i == 0:
            jt[nj] = ua
            nj += 1
            la[nl] = 0.0
            lv[nl] = cur_v + cur_a * ua
            nl += 1
            i -= 1
            continue
        u_a = u[s_ - 1]
        prev_q = tube and ints[i - 1, 2] != 0
        if not prev_q:
            x1 = u_a + (u_s - u_a) / 3.0
            x2 = u_a + 2.0 * (u_s - u_a) / 3.0
        else:
            x1 = u_a + (flts[i - 1, 5] - u_a) / 2.0
            x2 = u_s
        p_u0 = flts[i - 1, 0]
        ps_a = flts[i - 1, 3]
        ps_v = flts[i - 1, 4] - flts[i - 1, 3] * p_u0
        y1 = ps_v + ps_a * x1
        y2 = cur_v + cur_a * x2
        slope = (y2 - y1) / (x2 - x1)
        jt[nj] = x2
        nj += 1
        la[nl] = slope
        lv[nl] = y1 - slope * x1
        nl += 1
        jt[nj] = x1
        nj += 1
        la[nl] = ps_a
        lv[nl] = ps_v
        nl += 1
        cur_a, cur_v = ps_a, ps_v
        i -= 2
    return la[:nl][::-1].copy(), lv[:nl][::-1].copy(), jt[:nj][::-1].copy()
