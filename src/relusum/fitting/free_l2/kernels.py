"""Compiled kernels (numba) for the free-knot least-squares search.

:func:`lm_samples` is :func:`relusum.fitting.free_l2.lm._lm` on the samples
of a :class:`~relusum.fitting.free_l2.problem._Problem` in one compiled loop:
the same projected values (the tridiagonal normal equations, solved by
``LDL^T`` as LAPACK's ``dptsv`` does), the same banded Gauss--Newton step
(half-bandwidth 3, banded Cholesky as ``dpbsv``), the same damping, step cuts
and stop rules.  Where the Python path falls back to the minimum-norm solve
(a piece without samples, a singular system) the kernel reports failure and
the caller runs the Python path instead, so results never depend on a
shortcut.  A few dozen Python-level NumPy calls per iteration become one
``O(N)`` pass, which is what dominates small and medium problems.  Also:
batched SSRs with the tiny ridge of ``_Problem.batch_ssr``
(:func:`batch_ssr_samples`), every placement of a few knots in sample gaps for
tiny data (:func:`gap_search`) and the six prefix sums of large data in one
pass (:func:`prefix_sums`).  The dynamic programs are in
:mod:`~relusum.fitting.free_l2.kernels_dp`.

This module imports numba; it is only imported by the free-knot search
(never by ``import relusum``).
"""

from __future__ import annotations

import numpy as np
from numba import njit

#: Mirrors of the constants in :mod:`relusum.fitting.free_l2.problem` (checked by a test).
_KEEP = 0.1
_RTOL = 1e-11


@njit(cache=True)
def _breakpoints(h, a, b):
    n = h.size
    flat = h[0] > a
    if flat:
        t = np.empty(n + 2)
        t[0] = a
        t[1 : n + 1] = h
        t[n + 1] = b
    else:
        t = np.empty(n + 1)
        t[:n] = h
        t[n] = b
    return t, flat


@njit(cache=True)
def _evaluate(x, y, w, h, a, b, lam, res, sums, starts, ridge):
    """Project out the values for knots ``h``.

    Fills ``lam`` (local coordinates), ``res`` (residuals ``f - y``), ``sums``
    (rows aa, ab, bb, ra, rb per piece) and ``starts`` (first sample of each
    piece, then ``N``) and returns ``(t, flat, c, ssr, ok)``; ``ok`` is False where
    the Python path would use the minimum-norm solve.  ``ridge > 0`` adds
    ``ridge * max(diag)`` to the diagonal instead (as ``_Problem.batch_ssr``).
    """
    t, flat = _breakpoints(h, a, b)
    m = t.size - 1
    npts = x.size
    aa = sums[0]
    ab = sums[1]
    bb = sums[2]
    ra = sums[3]
    rb = sums[4]
    ya = np.zeros(m)
    yb = np.zeros(m)
    i = 0
    starts[0] = 0
    for k in range(m):
        aa[k] = 0.0
        ab[k] = 0.0
        bb[k] = 0.0
        if k < m - 1:  # the first sample at or right of t[k + 1] (x is sorted)
            j = max(i, np.searchsorted(x, t[k + 1]))
        else:
            j = npts
        lo = t[k]
        inv = 1.0 / (t[k + 1] - lo)
        s_aa = 0.0
        s_ab = 0.0
        s_bb = 0.0
        s_ya = 0.0
        s_yb = 0.0
        for p in range(i, j):
            lp = (x[p] - lo) * inv
            lam[p] = lp
            wb = w[p] * lp
            wa = w[p] - wb
            s_ab += wa * lp
            s_aa += wa - wa * lp
            s_bb += wb * lp
            s_ya += wa * y[p]
            s_yb += wb * y[p]
        aa[k] = s_aa
        ab[k] = s_ab
        bb[k] = s_bb
        ya[k] = s_ya
        yb[k] = s_yb
        i = j
        starts[k + 1] = j
    # tridiagonal normal equations
    diag = np.zeros(m + 1)
    rhs = np.zeros(m + 1)
    off = np.zeros(m)
    for k in range(m):
        diag[k] += aa[k]
        diag[k + 1] += bb[k]
        rhs[k] += ya[k]
        rhs[k + 1] += yb[k]
        off[k] = ab[k]
    s0 = 0
    if flat:
        diag[1] += aa[0] + 2.0 * ab[0]
        rhs[1] += ya[0]
        s0 = 1
    nd = m + 1 - s0
    dmax = 0.0
    dmin = np.inf
    for k in range(s0, m + 1):
        dmax = max(dmax, diag[k])
        dmin = min(dmin, diag[k])
    c = np.empty(m + 1)
    if ridge > 0.0:
        for k in range(s0, m + 1):
            diag[k] += ridge * dmax + 1e-300
    elif not (dmax > 0.0 and dmin > 1e-12 * dmax):
        return t, flat, c, 0.0, False
    # LDL^T of the symmetric tridiagonal system (dptsv)
    d = np.empty(nd)
    e = np.empty(max(nd - 1, 0))
    z = np.empty(nd)
    d[0] = diag[s0]
    z[0] = rhs[s0]
    if not d[0] > 0.0:
        return t, flat, c, 0.0, False
    for k in range(1, nd):
        lk = off[s0 + k - 1] / d[k - 1]
        e[k - 1] = lk
        d[k] = diag[s0 + k] - lk * off[s0 + k - 1]
        if not d[k] > 0.0:
            return t, flat, c, 0.0, False
        z[k] = rhs[s0 + k] - lk * z[k - 1]
    sol = np.empty(nd)
    sol[nd - 1] = z[nd - 1] / d[nd - 1]
    for k in range(nd - 2, -1, -1):
        sol[k] = z[k] / d[k] - e[k] * sol[k + 1]
    for k in range(nd):
        if not np.isfinite(sol[k]):
            return t, flat, c, 0.0, False
        c[s0 + k] = sol[k]
    if flat:
        c[0] = c[1]
    # residuals, SSR and the per-piece residual sums of the Gauss--Newton step
    ssr = 0.0
    for k in range(m):
        ck = c[k]
        dc = c[k + 1] - ck
        s_rs = 0.0
        s_rb = 0.0
        for p in range(starts[k], starts[k + 1]):
            r = ck + dc * lam[p] - y[p]
            res[p] = r
            wr = w[p] * r
            ssr += wr * r
            s_rs += wr
            s_rb += wr * lam[p]
        ra[k] = s_rs - s_rb
        rb[k] = s_rb
    return t, flat, c, ssr, True


@njit(cache=True)
def batch_ssr_samples(x, y, w, hs, a, b):
    """SSR for each row of ``hs`` with a tiny ridge (``_Problem.batch_ssr``); inf if singular."""
    k, n = hs.shape
    work = np.zeros((9, n + 3))
    out = np.empty(k)
    for r in range(k):
        out[r] = _ridge_ssr(x, y, w, hs[r], a, b, work)
    return out


@njit(cache=True)
def _step(t, flat, c, sums, mu, hold):
    """The knot part of the damped Gauss--Newton step, the predicted gain, and ok.

    Knots with ``hold[k]`` stay where they are (their unknowns are fixed).
    """
    m = t.size - 1
    aa = sums[0, :m].copy()
    ab = sums[1, :m].copy()
    bb = sums[2, :m].copy()
    ra = sums[3, :m].copy()
    rb = sums[4, :m].copy()
    if flat:
        bb[0] = aa[0] + 2.0 * ab[0] + bb[0]
        rb[0] = ra[0] + rb[0]
        aa[0] = 0.0
        ab[0] = 0.0
        ra[0] = 0.0
    s = np.empty(m)
    for k in range(m):
        s[k] = (c[k + 1] - c[k]) / (t[k + 1] - t[k])
    nv = 2 * (m + 1)
    d0 = np.zeros(nv)
    o1 = np.zeros(nv)
    o2 = np.zeros(nv)
    o3 = np.zeros(nv)
    rhs = np.zeros(nv)
    for k in range(m):
        sk = s[k]
        ss = sk * sk
        d0[2 * k] += aa[k]
        d0[2 * k + 2] += bb[k]
        d0[2 * k + 1] += aa[k] * ss
        d0[2 * k + 3] += bb[k] * ss
        o1[2 * k] -= aa[k] * sk
        o1[2 * k + 2] -= bb[k] * sk
        o1[2 * k + 1] -= ab[k] * sk
        o2[2 * k] += ab[k]
        o2[2 * k + 1] += ab[k] * ss
        o3[2 * k] -= ab[k] * sk
        rhs[2 * k] -= ra[k]
        rhs[2 * k + 2] -= rb[k]
        rhs[2 * k + 1] += sk * ra[k]
        rhs[2 * k + 3] += sk * rb[k]
    # damping of the moving knots t_1 .. t_{m-1}
    dtmax = 0.0
    for i in range(3, nv - 1, 2):
        dtmax = max(dtmax, d0[i])
    floor = 1e-12 * dtmax + 1e-300
    for i in range(3, nv - 1, 2):
        d0[i] += mu * max(d0[i], floor) + floor
    cmax = 0.0
    for i in range(0, nv, 2):
        cmax = max(cmax, d0[i])
    for i in range(0, nv, 2):
        d0[i] += 1e-13 * (cmax + 1e-300)
    # fixed unknowns: t_0, t_m, and c_0 when the first piece is flat
    nfix = 3 if flat else 2
    fixed = np.empty(nfix + hold.size, dtype=np.int64)
    fixed[0] = 1
    fixed[1] = nv - 1
    if flat:
        fixed[2] = 0
    off = 1 if flat else 0
    for k in range(hold.size):
        if hold[k]:
            fixed[nfix] = 2 * (k + off) + 1
            nfix += 1
    for i in fixed[:nfix]:
        d0[i] = 1.0
        rhs[i] = 0.0
        o1[i] = 0.0
        o2[i] = 0.0
        o3[i] = 0.0
        if i >= 1:
            o1[i - 1] = 0.0
        if i >= 2:
            o2[i - 2] = 0.0
        if i >= 3:
            o3[i - 3] = 0.0
    # banded Cholesky L L^T (half-bandwidth 3): L[i, q] holds entry (i, i - q)
    lo = np.zeros((nv, 4))
    for i in range(nv):
        for q in range(min(i, 3), -1, -1):
            j = i - q
            if q == 0:
                v = d0[i]
            elif q == 1:
                v = o1[j]
            elif q == 2:
                v = o2[j]
            else:
                v = o3[j]
            for kk in range(max(0, i - 3), j):
                v -= lo[i, i - kk] * lo[j, j - kk]
            if q == 0:
                if not v > 0.0:
                    return np.empty(0), 0.0, False
                lo[i, 0] = np.sqrt(v)
            else:
                lo[i, q] = v / lo[j, 0]
    z = np.empty(nv)
    for i in range(nv):
        v = rhs[i]
        for kk in range(max(0, i - 3), i):
            v -= lo[i, i - kk] * z[kk]
        z[i] = v / lo[i, 0]
    sol = np.empty(nv)
    for i in range(nv - 1, -1, -1):
        v = z[i]
        for kk in range(i + 1, min(nv, i + 4)):
            v -= lo[kk, kk - i] * sol[kk]
        sol[i] = v / lo[i, 0]
    pred = 0.0
    for i in range(nv):
        if not np.isfinite(sol[i]):
            return np.empty(0), 0.0, False
        pred += sol[i] * rhs[i]
    pred = max(pred, 0.0)
    if flat:
        d = np.empty(m - 1)
        for k in range(1, m):
            d[k - 1] = sol[2 * k + 1]
    else:
        d = np.empty(m)
        for k in range(m):
            d[k] = sol[2 * k + 1]
    return d, pred, True


@njit(cache=True)
def _max_step(h, d, a, b, flat):
    n = h.size
    alpha = 1.0
    # gaps between consecutive knots, the last knot and B, and A and the first when flat
    for k in range(n + 1):
        if k == 0:
            if not flat:
                continue
            lo_h, lo_d = a, 0.0
        else:
            lo_h, lo_d = h[k - 1], d[k - 1]
        if k == n:
            hi_h, hi_d = b, 0.0
        else:
            hi_h, hi_d = h[k], d[k]
        dg = hi_d - lo_d
        if dg < 0.0:
            alpha = min(alpha, (1.0 - _KEEP) * (hi_h - lo_h) / -dg)
    return alpha


@njit(cache=True)
def lm_samples(x, y, w, h0, a, b, pinned, max_iter, scale, hold):
    """Levenberg--Marquardt in the knots on the samples.

    Returns ``(h, t, flat, c, ssr, lam, res, sums, starts, ok)``: the final
    state, with ``sums`` rows aa, ab, bb, ra, rb per piece.  Knots with
    ``hold[k]`` do not move.  ``ok`` is False
    when a singular system was met (the caller then runs the Python path,
    which handles it exactly).
    """
    npts = x.size
    nmax = h0.size + 2
    lam = np.empty(npts)
    res = np.empty(npts)
    sums = np.zeros((5, nmax))
    starts = np.empty(nmax + 1, dtype=np.int64)
    lam2 = np.empty(npts)
    res2 = np.empty(npts)
    sums2 = np.zeros((5, nmax))
    starts2 = np.empty(nmax + 1, dtype=np.int64)
    h = h0.copy()
    t, flat, c, ssr, ok = _evaluate(x, y, w, h, a, b, lam, res, sums, starts, 0.0)
    if not ok:
        return h, t, flat, c, ssr, lam, res, sums, starts, False
    tn, flatn, cn, ssrn = t, flat, c, ssr
    mu = 1e-6
    nu = 2.0
    slow = 0
    for _ in range(max_iter):
        if ssr <= 1e-30 * scale:
            break
        d, pred, good = _step(t, flat, c, sums, mu, hold)
        if not good:
            mu, nu = mu * nu, nu * 2.0
            if mu > 1e10:
                break
            continue
        if pinned and not flat:
            d[0] = 0.0
        if pred <= _RTOL * ssr and mu <= 1e-3:
            break
        alpha = _max_step(h, d, a, b, flat)
        hn = h + alpha * d
        if pinned:
            hn[0] = a
        valid = hn[-1] < b and not (flat and hn[0] <= a)
        for k in range(hn.size - 1):
            if not hn[k + 1] > hn[k]:
                valid = False
        accepted = False
        if valid:
            tn, flatn, cn, ssrn, okn = _evaluate(x, y, w, hn, a, b, lam2, res2, sums2, starts2, 0.0)
            if not okn:
                return h, t, flat, c, ssr, lam, res, sums, starts, False
            if ssrn < ssr:
                accepted = True
        if accepted:
            gain = ssr - ssrn
            rho = gain / max(alpha * pred, 1e-300)
            h, t, flat, c, ssr = hn, tn, flatn, cn, ssrn
            lam, lam2 = lam2, lam
            res, res2 = res2, res
            sums, sums2 = sums2, sums
            starts, starts2 = starts2, starts
            mu = max(mu * max(1.0 / 3.0, 1.0 - (2.0 * min(rho, 1.0) - 1.0) ** 3), 1e-12)
            nu = 2.0
            if gain <= 0.1 * _RTOL * ssr and pred <= _RTOL * ssr:
                break
            slow = slow + 1 if gain <= 1e-8 * ssr else 0
            if slow >= 3:
                break
        else:
            if pred <= _RTOL * ssr:
                break
            mu, nu = mu * nu, nu * 2.0
            if mu > 1e4:
                break
    return h, t, flat, c, ssr, lam, res, sums, starts, True


@njit(cache=True)
def _ridge_ssr(x, y, w, h, a, b, work):
    """SSR for knots ``h`` with the tiny ridge of ``batch_ssr``, no allocation.

    ``work``: a ``(9, n + 3)`` scratch array (``n = h.size``).
    """
    n = h.size
    flat = h[0] > a
    t = work[0]
    if flat:
        t[0] = a
        t[1 : n + 1] = h
        t[n + 1] = b
        m = n + 1
    else:
        t[:n] = h
        t[n] = b
        m = n
    npts = x.size
    aa, ab, bb, ya, yb = work[1], work[2], work[3], work[4], work[5]
    diag, rhs, z = work[6], work[7], work[8]
    i = 0
    for k in range(m):
        j = npts
        if k < m - 1:  # the first sample at or right of t[k + 1] (x is sorted)
            j = max(i, np.searchsorted(x, t[k + 1]))
        lo = t[k]
        inv = 1.0 / (t[k + 1] - lo)
        s_aa = s_ab = s_bb = s_ya = s_yb = 0.0
        for p in range(i, j):
            lp = (x[p] - lo) * inv
            wb = w[p] * lp
            wa = w[p] - wb
            s_ab += wa * lp
            s_aa += wa - wa * lp
            s_bb += wb * lp
            s_ya += wa * y[p]
            s_yb += wb * y[p]
        aa[k], ab[k], bb[k], ya[k], yb[k] = s_aa, s_ab, s_bb, s_ya, s_yb
        i = j
    for k in range(m + 1):
        diag[k] = 0.0
        rhs[k] = 0.0
    for k in range(m):
        diag[k] += aa[k]
        diag[k + 1] += bb[k]
        rhs[k] += ya[k]
        rhs[k + 1] += yb[k]
    s0 = 0
    if flat:
        diag[1] += aa[0] + 2.0 * ab[0]
        rhs[1] += ya[0]
        s0 = 1
    dmax = 0.0
    for k in range(s0, m + 1):
        dmax = max(dmax, diag[k])
    for k in range(s0, m + 1):
        diag[k] += 1e-10 * dmax + 1e-300
    # LDL^T in place: diag -> d, z -> forward solution, then back substitution into z
    z[s0] = rhs[s0]
    for k in range(s0 + 1, m + 1):
        lk = ab[k - 1] / diag[k - 1]
        diag[k] -= lk * ab[k - 1]
        z[k] = rhs[k] - lk * z[k - 1]
    z[m] = z[m] / diag[m]
    for k in range(m - 1, s0 - 1, -1):
        z[k] = z[k] / diag[k] - (ab[k] / diag[k]) * z[k + 1]
    if flat:
        z[0] = z[1]
    ssr = 0.0
    i = 0
    for k in range(m):
        j = npts
        if k < m - 1:  # the first sample at or right of t[k + 1] (x is sorted)
            j = max(i, np.searchsorted(x, t[k + 1]))
        ck = z[k]
        dc = z[k + 1] - ck
        lo = t[k]
        inv = 1.0 / (t[k + 1] - lo)
        for p in range(i, j):
            r = ck + dc * ((x[p] - lo) * inv) - y[p]
            ssr += w[p] * r * r
        i = j
    return ssr if np.isfinite(ssr) else np.inf


@njit(cache=True)
def gap_search(x, y, w, mids, a, b, pinned, free, best):
    """Every placement of ``free`` knots in the gap midpoints ``mids`` (increasing).

    With ``pinned`` a first knot at ``a`` is added.  Returns the ``best``
    knot vectors of lowest SSR (rows, best first) and their SSRs.
    """
    n = free + 1 if pinned else free
    work = np.zeros((9, n + 3))
    h = np.empty(n)
    if pinned:
        h[0] = a
    off = 1 if pinned else 0
    keep_h = np.zeros((best, n))
    keep_v = np.full(best, np.inf)
    g = mids.size
    idx = np.arange(free)
    while True:
        for q in range(free):
            h[off + q] = mids[idx[q]]
        v = _ridge_ssr(x, y, w, h, a, b, work)
        if v < keep_v[best - 1]:
            pos = best - 1
            while pos > 0 and keep_v[pos - 1] > v:
                keep_v[pos] = keep_v[pos - 1]
                keep_h[pos] = keep_h[pos - 1]
                pos -= 1
            keep_v[pos] = v
            keep_h[pos] = h
        # next combination in lexicographic order
        q = free - 1
        while q >= 0 and idx[q] == g - free + q:
            q -= 1
        if q < 0:
            break
        idx[q] += 1
        for r in range(q + 1, free):
            idx[r] = idx[r - 1] + 1
    return keep_h, keep_v


@njit(cache=True)
def prefix_sums(x, y, w, weighted, a, scale, y0, p):
    """The six prefix sums of ``_PrefixProblem`` in one pass (the same sums, in order).

    Row ``k`` of ``p`` (``(6, N + 1)``, column 0 zero) gets the running sums of
    ``w, w u, w u^2, w v, w v u, w v^2`` with ``u = (x - a) * scale`` and
    ``v = y - y0`` (``w = 1`` unless ``weighted``).
    """
    s0 = s1 = s2 = s3 = s4 = s5 = 0.0
    for i in range(x.size):
        u = (x[i] - a) * scale
        v = y[i] - y0
        if weighted:
            wi = w[i]
            wu = wi * u
            wv = wi * v
            s0 += wi
            s1 += wu
            s2 += wu * u
            s3 += wv
            s4 += wv * u
            s5 += wv * v
        else:
            s0 = i + 1.0
            s1 += u
            s2 += u * u
            s3 += v
            s4 += u * v
            s5 += v * v
        p[0, i + 1] = s0
        p[1, i + 1] = s1
        p[2, i + 1] = s2
        p[3, i + 1] = s3
        p[4, i + 1] = s4
        p[5, i + 1] = s5
