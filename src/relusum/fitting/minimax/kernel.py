"""The exact sweep of :mod:`.sweep` as one compiled kernel (numba, ``cache=True``).

:func:`sweep_arrays` is a line-by-line translation of the pure-Python sweep
(``python_pieces`` in ``tests/minimax_python_sweep.py``, kept there as the
reference): the same clipping of the polygon of lines,
the same pivots, the same rounding guards, so both give the same pieces
(``tests/test_minimax_kernel.py`` compares them).  Samples closer than ``_EXACT_DU``
switch the piece growth to :func:`~relusum.fitting.minimax.kernel_exact.grow_exact`
(vertices solved from their two lines; the reference takes the same branch).  The polygon lives in
preallocated vertex arrays (a linked cycle through ``nxt``/``prv``); every
piece reuses them.  This module imports numba: it is itself imported only when
the sweep first runs (``import relusum`` stays cheap).  ``error_model="numpy"``
drops numba's check of every division for a zero divisor (about 7% of a
sweep); no divisor here can be zero (each is a difference across a bound that
one end exceeds and the other does not, or is tested first).

numba's cache of :func:`sweep` holds the compiled :func:`grow` and
:func:`grow_exact` too, and is checked against this file's time stamp only:
a change to ``kernel_grow.py`` or ``kernel_exact.py`` must also change this
file (a note here will do), or a cached sweep keeps running the old code.
(Last such change: :func:`grow` scans the polygon whole at the first gate
right of a piece's start, as :func:`grow_exact` does.)
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from relusum.fitting.minimax.kernel_exact import grow_exact
from relusum.fitting.minimax.kernel_grow import grow

__all__ = ["sweep_arrays", "greedy_apart"]

inf = math.inf
#: Samples closer than this (normalised) switch the sweep to :func:`grow_exact`.
_EXACT_DU = 5e-9


def sweep_arrays(
    u: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    max_pieces: int,
    flat_first: bool,
    continuous: bool,
    gamax: float,
    eps: float,
    ttol: float,
    tube: bool = False,
):
    """Run the compiled sweep; returns what :func:`sweep` returns."""
    return sweep(
        np.ascontiguousarray(u, dtype=np.float64),
        np.ascontiguousarray(lower, dtype=np.float64),
        np.ascontiguousarray(upper, dtype=np.float64),
        int(max_pieces),
        bool(flat_first),
        bool(continuous),
        float(gamax),
        float(eps),
        float(ttol),
        bool(tube),
    )


@njit(cache=True, error_model="numpy")
def _exit(u, lower, upper, last, side, u0, sa, sc):
    """Where a piece's extreme line leaves the band after its last gate (as sweep._exit)."""
    t0 = last
    t1 = last + 1
    v0 = sc + sa * (u[t0] - u0)
    v1 = sc + sa * (u[t1] - u0)
    if side > 0:
        b0 = upper[t0]
        b1 = upper[t1]
        e0 = v0 - b0
        e1 = v1 - b1
    else:
        b0 = lower[t0]
        b1 = lower[t1]
        e0 = b0 - v0
        e1 = b1 - v1
    den = max(e1, 0.0) + max(-e0, 0.0)
    t = max(-e0, 0.0) / den if den > 0 else 1.0
    t = min(max(t, 0.0), 1.0)
    return u[t0] + t * (u[t1] - u[t0]), b0 + t * (b1 - b0)


@njit(cache=True, error_model="numpy")
def sweep(u, lower, upper, max_pieces, flat_first, continuous, gamax, eps, ttol, tube):
    """Returns (status, npieces, ints, floats, poly_off, poly_a, poly_c).

    status 1: feasible in at most max_pieces pieces, 0: not.  ints[p] =
    (s, last, side, c, flat, has_lam); floats[p] = (u0, lam_a, lam_c,
    star_a, star_c); the final polygon of piece p is
    poly_a/poly_c[poly_off[p]:poly_off[p + 1]] (from its top vertex on).
    """
    n = u.size
    cap = 4 * n + 16
    A = np.empty(cap)
    C = np.empty(cap)
    nxt = np.empty(cap, np.int64)
    prv = np.empty(cap, np.int64)
    ints = np.zeros((max_pieces + 1, 6), np.int64)
    flts = np.zeros((max_pieces + 1, 7))
    poly_off = np.zeros(max_pieces + 2, np.int64)
    pa = np.empty(4 * n + 16 * (max_pieces + 2))
    pc = np.empty(4 * n + 16 * (max_pieces + 2))
    npoly = 0
    # Vertices solved from their two lines (grow_exact) only where samples lie
    # closer than _EXACT_DU (gamax = 16 / min du + 16, see make_gates): for
    # wider gaps interpolating along the edge is exact enough, and cheaper.
    exact = gamax > 16.0 / _EXACT_DU + 16.0
    EX = np.empty(cap if exact else 1)  # the line of each vertex's outgoing edge
    EB = np.empty(cap if exact else 1)
    for i in range(n):
        if lower[i] > upper[i]:
            return 0, 0, ints, flts, poly_off, pa, pc
    span = np.max(upper) - np.min(lower)
    npieces = 0
    has_rel = False
    rel_k = 0
    rel_last = -1
    rel_side = 0
    j = 0
    if flat_first:
        lo_c = lower[0]
        hi_c = upper[0]
        m = n - 1
        for i in range(1, n):
            nl = max(lo_c, lower[i])
            nh = min(hi_c, upper[i])
            if nl > nh:
                m = i - 1
                break
            lo_c = nl
            hi_c = nh
        ints[0, 0] = 0
        ints[0, 1] = m
        ints[0, 4] = 1
        flts[0, 0] = u[0]
        pa[0] = 0.0
        pc[0] = lo_c
        pa[1] = 0.0
        pc[1] = hi_c
        npoly = 2
        poly_off[1] = 2
        npieces = 1
        if m == n - 1:
            ints[0, 2] = 0
            return 1, 1, ints, flts, poly_off, pa, pc
        if lo_c > upper[m + 1]:
            side = 1
            c = 0
            for i in range(m, -1, -1):
                if lower[i] >= lo_c - ttol:
                    c = i
                    break
            star = lo_c
        else:
            side = -1
            c = 0
            for i in range(m, -1, -1):
                if upper[i] <= hi_c + ttol:
                    c = i
                    break
            star = hi_c
        ints[0, 2] = side
        ints[0, 3] = c
        ints[0, 5] = 1
        flts[0, 1] = 0.0
        flts[0, 2] = star
        flts[0, 3] = 0.0
        flts[0, 4] = star
        if tube:
            qu, qv = _exit(u, lower, upper, m, side, u[0], 0.0, star)
            flts[0, 5] = qu
            flts[0, 6] = qv
        if continuous:
            has_rel = True
            rel_k = c
            rel_last = m
            rel_side = side
        j = m + 1
    while True:
        if npieces >= max_pieces:
            return 0, npieces, ints, flts, poly_off, pa, pc
        s = j
        u0 = u[s]
        if s + 1 < n:
            du = u[s + 1] - u0
        elif s > 0:
            du = u0 - u[s - 1]
        else:
            du = 1.0
        amax = min(gamax, (span + 2.0 * eps + 1.0) * 4.0 / du)
        has_q = tube and continuous and npieces > 0
        qu = flts[npieces - 1, 5] if has_q else 0.0
        qv = flts[npieces - 1, 6] if has_q else 0.0
        if exact:
            r = grow_exact(
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
            )
        else:
            r = grow(
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
                nxt,
                prv,
                has_q,
                qu,
                qv,
            )
        if not r[0] and has_rel:
            du_l = inf
            for t in range(rel_k, s):
                w = u[t + 1] - u[t]
                if w < du_l:
                    du_l = w
            wide = min(gamax, (span + 2.0 * eps + 1.0) * 4.0 / min(du, du_l))
            if wide > amax:
                if exact:
                    r = grow_exact(
                        u,
                        lower,
                        upper,
                        s,
                        has_rel,
                        rel_k,
                        rel_last,
                        rel_side,
                        wide,
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
                    )
                else:
                    r = grow(
                        u,
                        lower,
                        upper,
                        s,
                        has_rel,
                        rel_k,
                        rel_last,
                        rel_side,
                        wide,
                        ttol,
                        A,
                        C,
                        nxt,
                        prv,
                        has_q,
                        qu,
                        qv,
                    )
        if not r[0]:
            # Only rounding (a slope box too small for the one-sided gates, or
            # every vertex cut): not a proof of infeasibility.
            return 2, npieces, ints, flts, poly_off, pa, pc
        ok, last, side, imax, size, lam_lo, lam_hi, last_lo, last_hi, nv = r
        p = npieces
        ints[p, 0] = s
        ints[p, 1] = last
        ints[p, 2] = side
        flts[p, 0] = u0
        # the final polygon, from the top vertex on
        if npoly + size > pa.size:
            grown = max(2 * pa.size, npoly + size)
            na = np.empty(grown)
            nc = np.empty(grown)
            na[:npoly] = pa[:npoly]
            nc[:npoly] = pc[:npoly]
            pa = na
            pc = nc
        t = imax
        for _ in range(size):
            pa[npoly] = A[t]
            pc[npoly] = C[t]
            npoly += 1
            t = nxt[t]
        poly_off[p + 1] = npoly
        if side != 0:
            if side > 0:
                c = max(s, last_lo)
                has_lam = last_lo > s
                lam = lam_lo
            else:
                c = max(s, last_hi)
                has_lam = last_hi > s
                lam = lam_hi
            ints[p, 3] = c
            ints[p, 5] = 1 if has_lam else 0
            if has_lam:
                flts[p, 1] = A[lam]
                flts[p, 2] = C[lam]
            # extreme line: side +1 least steep (ties lowest); -1 steepest (ties highest)
            b = poly_off[p]
            ba = pa[b]
            bc = pc[b]
            for q in range(b + 1, npoly):
                if side > 0:
                    if pa[q] < ba or (pa[q] == ba and pc[q] < bc):
                        ba = pa[q]
                        bc = pc[q]
                else:
                    if pa[q] > ba or (pa[q] == ba and pc[q] > bc):
                        ba = pa[q]
                        bc = pc[q]
            flts[p, 3] = ba
            flts[p, 4] = bc
        npieces += 1
        if side == 0:
            return 1, npieces, ints, flts, poly_off, pa, pc
        if tube:
            qu, qv = _exit(u, lower, upper, last, side, u0, flts[p, 3], flts[p, 4])
            flts[p, 5] = qu
            flts[p, 6] = qv
        if continuous:
            has_rel = True
            rel_k = ints[p, 3]
            rel_last = last
            rel_side = side
        else:
            has_rel = False
        j = last + 1


@njit(cache=True)
def greedy_apart(vals, floor):
    """Which of the sorted ``vals`` lie more than ``floor`` past the last one kept.

    The first is kept; a greedy pass from the left (used to keep new samples
    apart, :func:`relusum.fitting.minimax.spacing.apart`).
    """
    keep = np.ones(vals.size, np.bool_)
    if vals.size == 0:
        return keep
    last = vals[0]
    for i in range(1, vals.size):
        if vals[i] - last <= floor:
            keep[i] = False
        else:
            last = vals[i]
    return keep
