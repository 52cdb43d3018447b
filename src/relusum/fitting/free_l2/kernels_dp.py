"""Compiled kernels (numba) for the dynamic programs of the free-knot search.

:func:`envelope_cuts` is the continuous DP of
:func:`~relusum.fitting.free_l2.envelope.envelope_knots`,
:func:`window_cuts` the windowed cut DP of
:func:`~relusum.fitting.free_l2.segment._window_cuts` and
:func:`segmentation_cuts` the discontinuous segmentation start of
:func:`~relusum.fitting.free_l2.segment._segmentation_knots`: the same
states, costs and ties (first index) as the NumPy code, tested to pick the
same knots.
Only imported by the free-knot search (never by ``import relusum``).
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def _lowest_on_grid(ca, cb, cc, nf, vals, vv, gbest, garg):
    """The lowest of the parabolas ``ca v^2 + cb v + cc`` (the first ``nf``) at each grid value.

    ``gbest``: the lowest value, ``garg``: the first candidate with it (the
    same values and ties as taking the candidates one by one).  Four
    candidates per sweep of the grid, in order: each grid value's running
    minimum is loaded and stored once per four candidates (about 2.5x faster).
    """
    ngrid = vals.size
    for q in range(ngrid):
        gbest[q] = np.inf
        garg[q] = 0
    f = 0
    while f + 4 <= nf:
        a0, b0, c0 = ca[f], cb[f], cc[f]
        a1, b1, c1 = ca[f + 1], cb[f + 1], cc[f + 1]
        a2, b2, c2 = ca[f + 2], cb[f + 2], cc[f + 2]
        a3, b3, c3 = ca[f + 3], cb[f + 3], cc[f + 3]
        for q in range(ngrid):
            x = vals[q]
            y = vv[q]
            g = gbest[q]
            k = garg[q]
            v = a0 * y + b0 * x + c0
            if v < g:
                g = v
                k = f
            v = a1 * y + b1 * x + c1
            if v < g:
                g = v
                k = f + 1
            v = a2 * y + b2 * x + c2
            if v < g:
                g = v
                k = f + 2
            v = a3 * y + b3 * x + c3
            if v < g:
                g = v
                k = f + 3
            gbest[q] = g
            garg[q] = k
        f += 4
    while f < nf:
        a0, b0, c0 = ca[f], cb[f], cc[f]
        for q in range(ngrid):
            v = a0 * vv[q] + b0 * vals[q] + c0
            if v < gbest[q]:
                gbest[q] = v
                garg[q] = f
        f += 1


@njit(cache=True)
def envelope_cuts(qa_, qb_, qc_, qd_, qe_, qf_, q0, pinned, levels, keep, vals):
    """The dynamic program of :func:`~relusum.fitting.free_l2.envelope.envelope_knots`.

    The same states (parabolas in the value at an edge), the same pruning
    (those lowest somewhere on the grid ``vals``, the ``keep`` lowest) and the
    same ties (first index) as the NumPy version; returns the edge indices of
    the cuts (empty when no finite fit exists).
    """
    g = qa_.shape[0] - 1
    inf = np.inf
    ngrid = vals.size
    vv = vals * vals
    qa = np.zeros((g + 1, keep))
    qb = np.zeros((g + 1, keep))
    qc = np.full((g + 1, keep), inf)
    for j in range(1, g + 1):
        if pinned:
            a0, b0, c0, d0, e0, f0 = (
                qa_[0, j],
                qb_[0, j],
                qc_[0, j],
                qd_[0, j],
                qe_[0, j],
                qf_[0, j],
            )
            if a0 > 0:
                qa[j, 0] = c0 - b0 * b0 / a0
                qb[j, 0] = -2.0 * e0 + 2.0 * b0 * d0 / a0
                qc[j, 0] = f0 - d0 * d0 / a0
            else:
                qa[j, 0] = 0.0
                qb[j, 0] = 0.0
                qc[j, 0] = inf
        else:
            s0 = q0[0, j]
            qa[j, 0] = s0
            qb[j, 0] = -2.0 * (qd_[0, j] + qe_[0, j])
            qc[j, 0] = qf_[0, j] if s0 > 0 else inf
    pis = np.zeros((max(levels, 1), g + 1, keep), dtype=np.int64)
    pks = np.zeros((max(levels, 1), g + 1, keep), dtype=np.int64)
    cap = (g + 1) * keep
    ca = np.empty(cap)
    cb = np.empty(cap)
    cc = np.empty(cap)
    ci = np.empty(cap, dtype=np.int64)
    ck = np.empty(cap, dtype=np.int64)
    won = np.zeros(cap, dtype=np.bool_)
    gbest = np.empty(ngrid)
    garg = np.zeros(ngrid, dtype=np.int64)
    for level in range(levels):
        na = np.zeros((g + 1, keep))
        nb = np.zeros((g + 1, keep))
        nc = np.full((g + 1, keep), inf)
        last = level == levels - 1
        j_lo = g if last else level + 2
        # a state past edge g - (levels left) cannot reach edge g: never used
        j_hi = g - (levels - 1 - level)
        for jj in range(j_lo, j_hi + 1):
            nf = 0
            for i in range(level + 1, jj):
                if not np.isfinite(qc[i, 0]):
                    continue
                a_, b_, c_ = qa_[i, jj], qb_[i, jj], qc_[i, jj]
                d_, e_, f_ = qd_[i, jj], qe_[i, jj], qf_[i, jj]
                for k in range(keep):
                    if not np.isfinite(qc[i, k]):
                        break  # a state's parabolas fill its first slots, the rest are inf
                    alpha = qa[i, k] + a_
                    good = np.isfinite(qc[i, k]) and alpha > 0
                    if not good:
                        alpha = 1.0
                    bi = qb[i, k] - 2.0 * d_
                    v_cc = f_ + qc[i, k] - bi * bi / (4.0 * alpha) if good else inf
                    if not np.isfinite(v_cc):
                        continue
                    ca[nf] = c_ - b_ * b_ / alpha
                    cb[nf] = -2.0 * e_ - b_ * bi / alpha
                    cc[nf] = v_cc
                    ci[nf] = i
                    ck[nf] = k
                    won[nf] = False
                    nf += 1
            if nf == 0:
                continue
            # the lowest candidate at each grid value (first index on ties)
            _lowest_on_grid(ca, cb, cc, nf, vals, vv, gbest, garg)
            for q in range(ngrid):
                won[garg[q]] = True
            nw = 0
            for f in range(nf):
                if won[f]:
                    nw += 1
            widx = np.empty(nw, dtype=np.int64)
            wbest = np.empty(nw)
            p = 0
            for f in range(nf):
                if won[f]:
                    widx[p] = f
                    m = inf
                    for q in range(ngrid):
                        v = ca[f] * vv[q] + cb[f] * vals[q] + cc[f]
                        if v < m:
                            m = v
                    wbest[p] = m
                    p += 1
            # stable insertion sort by the lowest value on the grid (at most ngrid winners)
            order = np.arange(nw)
            for r in range(1, nw):
                cur = order[r]
                pos = r
                while pos > 0 and wbest[order[pos - 1]] > wbest[cur]:
                    order[pos] = order[pos - 1]
                    pos -= 1
                order[pos] = cur
            s = min(nw, keep)
            for r in range(s):
                f = widx[order[r]]
                na[jj, r] = ca[f]
                nb[jj, r] = cb[f]
                nc[jj, r] = cc[f]
                pis[level, jj, r] = ci[f]
                pks[level, jj, r] = ck[f]
        qa, qb, qc = na, nb, nc
    kbest = -1
    fbest = inf
    for k in range(keep):
        if np.isfinite(qc[g, k]) and qa[g, k] > 0:
            v = qc[g, k] - qb[g, k] * qb[g, k] / (4.0 * qa[g, k])
            if v < fbest or kbest < 0:
                fbest = v
                kbest = k
    if kbest < 0:
        return np.empty(0, dtype=np.int64)
    cuts = np.empty(levels, dtype=np.int64)
    jj = g
    k = kbest
    for level in range(levels - 1, -1, -1):
        i = pis[level, jj, k]
        k = pks[level, jj, k]
        cuts[level] = i
        jj = i
    return cuts  # increasing: each cut is left of the edge it was reached from


@njit(cache=True)
def _seg_cost1(p, i, j, const):
    """:func:`~relusum.fitting.free_l2.segment._seg_cost` for one segment ``[i, j)``."""
    s0 = p[0, j] - p[0, i]
    s1 = p[1, j] - p[1, i]
    s2 = p[2, j] - p[2, i]
    sy = p[3, j] - p[3, i]
    sxy = p[4, j] - p[4, i]
    syy = p[5, j] - p[5, i]
    if j - i < (1 if const else 2):
        return np.inf
    pos = s0 > 0
    mean = sy / s0 if pos else 0.0
    cost = syy - mean * sy
    if not const:
        det = s0 * s2 - s1 * s1
        if det > 1e-12 * max(s0 * s2, 1e-300):
            beta = (s0 * sxy - s1 * sy) / det
            alpha = (sy - beta * s1) / s0 if pos else 0.0
            cost = syy - alpha * sy - beta * sxy
    return max(cost, 0.0)


@njit(cache=True)
def window_cuts(p, cand, valid, first_const):
    """The dynamic program of :func:`~relusum.fitting.free_l2.segment._window_cuts`.

    ``p``: the six prefix sums (rows), ``cand``/``valid``: candidate cut
    indices per knot and whether each is a gap between distinct x.  Returns
    the chosen cut indices (empty when no finite segmentation exists).
    """
    npts = p.shape[1] - 1
    n, width = cand.shape
    best = np.empty(width)
    for b in range(width):
        best[b] = _seg_cost1(p, 0, cand[0, b], first_const) if valid[0, b] else np.inf
    back = np.zeros((max(n - 1, 1), width), dtype=np.int64)
    new = np.empty(width)
    for k in range(1, n):
        for b in range(width):
            cb = cand[k, b]
            arg = 0
            val = np.inf
            first = True
            for a in range(width):
                ca = cand[k - 1, a]
                if valid[k, b] and cb > ca:
                    tot = best[a] + _seg_cost1(p, ca, cb, False)
                else:
                    tot = np.inf
                if first or tot < val:  # argmin: the first of equal values
                    val = tot
                    arg = a
                    first = False
            back[k - 1, b] = arg
            new[b] = val
        best[:] = new
    pick = 0
    val = np.inf
    found = False
    for b in range(width):
        tot = best[b] + _seg_cost1(p, cand[n - 1, b], npts, False)
        if not found or tot < val:
            val = tot
            pick = b
            found = True
    if not np.isfinite(val):
        return np.empty(0, dtype=np.int64)
    cuts = np.empty(n, dtype=np.int64)
    cuts[n - 1] = cand[n - 1, pick]
    for k in range(n - 2, -1, -1):
        pick = back[k, pick]
        cuts[k] = cand[k, pick]
    return cuts


@njit(cache=True)
def segmentation_cuts(p, cuts_all, pieces, flat):
    """The dynamic program of :func:`~relusum.fitting.free_l2.segment._segmentation_knots`.

    ``p``: the six prefix sums (rows) at the sample indices ``cuts_all``
    (``0``, the candidate cuts, ``N``).  The same segment costs (the same
    arithmetic, element by element) and the same ties (first index) as the
    NumPy version; returns the positions in ``cuts_all`` of the chosen cuts
    (empty when no finite segmentation exists).
    """
    g = cuts_all.size
    cost = np.empty((g, g))
    first = np.empty(g)
    for i in range(g):
        for j in range(g):
            s0 = p[0, j] - p[0, i]
            s1 = p[1, j] - p[1, i]
            s2 = p[2, j] - p[2, i]
            sy = p[3, j] - p[3, i]
            sxy = p[4, j] - p[4, i]
            syy = p[5, j] - p[5, i]
            det = s0 * s2 - s1 * s1
            okdet = det > 1e-12 * max(s0 * s2, 1e-300)
            beta = (s0 * sxy - s1 * sy) / det if okdet else 0.0
            pos = s0 > 0
            alpha = (sy - beta * s1) / s0 if pos else 0.0
            count = cuts_all[j] - cuts_all[i]
            c = max(syy - alpha * sy - beta * sxy, 0.0)
            cost[i, j] = np.inf if count < 2 or not okdet else c
            if i == 0:
                mean = sy / s0 if pos else 0.0
                first[j] = np.inf if count < 1 else max(syy - mean * sy, 0.0)
    best = np.empty(g)
    for j in range(g):
        best[j] = first[j] if flat else cost[0, j]
    levels = pieces - 1
    back = np.zeros((max(levels, 1), g), dtype=np.int64)
    new = np.empty(g)
    for level in range(levels):
        for j in range(g):
            arg = 0
            val = best[0] + cost[0, j]
            for i in range(1, g):
                tot = best[i] + cost[i, j]
                if tot < val:  # argmin: the first of equal values
                    val = tot
                    arg = i
            new[j] = val
            back[level, j] = arg
        best[:] = new
    if not np.isfinite(best[g - 1]):
        return np.empty(0, dtype=np.int64)
    idx = np.empty(levels, dtype=np.int64)
    end = g - 1
    for level in range(levels - 1, -1, -1):
        end = back[level, end]
        idx[level] = end
    return np.sort(idx)
