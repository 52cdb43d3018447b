"""Growing one piece of the compiled sweep through its gates (numba, ``cache=True``).

:func:`grow` is the inner loop of :func:`relusum.fitting.minimax.kernel.sweep`: it
carries the polygon of lines that pass through every gate so far (the reachable
joints of the piece), clipping it gate by gate until a gate empties it, and
returns where the piece must end.  The same loop with each vertex solved from
its two lines, for samples closer than ``_EXACT_DU``, is
:func:`relusum.fitting.minimax.kernel_exact.grow_exact`.  ``error_model="numpy"``
as in :mod:`relusum.fitting.minimax.kernel` (no divisor here can be zero).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

__all__ = ["grow"]

inf = math.inf


@njit(cache=True, error_model="numpy")
def grow(
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
):
    """One piece from full gate s.  Returns (ok, last, side, imax, size, lam_a, lam_c,
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
    size = 4
    if has_q and has_rel:
        # Tube: the joint lies on the previous extreme line before it leaves
        # the band (Sutherland-Hodgman on the box, as _clip_box).
        below = rel_side > 0
        dq = qu - u0
        bound = qv + ttol if below else qv - ttol
        ta = np.empty(8)
        tc = np.empty(8)
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
                m += 1
            if pin != qin:
                sc = (bound - vp) / (vq - vp)
                ta[m] = A[i] + sc * (A[j] - A[i])
                tc[m] = C[i] + sc * (C[j] - C[i])
                m += 1
        if m == 0:
            return (False, 0, 0, 0, 0, -1, -1, -1, -1, 0)
        for i in range(m):
            A[i] = ta[i]
            C[i] = tc[i]
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
        # across the polygon after the one-sided gates on the left, and a
        # walk can stop at a sliver those gates leave), are scanned whole.
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
            # Each climb goes forward while the next vertex is higher (lower),
            # else backward: never back to the vertex it just left, whose value
            # is known to be below (the same extreme as checking both sides each step).
            vmax = inf
            i = imin
            vmin = A[i] * d + C[i]
            i0 = i
            while True:
                t = nxt[i]
                v = A[t] * d + C[t]
                if v < vmin:
                    i = t
                    vmin = v
                    continue
                break
            if i == i0:
                while True:
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
            i0 = i
            while True:
                t = nxt[i]
                v = A[t] * d + C[t]
                if v > vmax:
                    i = t
                    vmax = v
                    continue
                break
            if i == i0:
                while True:
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
            i0 = i
            while True:
                t = nxt[i]
                v = A[t] * d + C[t]
                if v > vmax:
                    i = t
                    vmax = v
                    continue
                break
            if i == i0:
                while True:
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
            i0 = i
            while True:
                t = nxt[i]
                v = A[t] * d + C[t]
                if v < vmin:
                    i = t
                    vmin = v
                    continue
                break
            if i == i0:
                while True:
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
        # The values at d of imax and imin (the clip's first vertex): the
        # walks below keep the values they compute, never evaluating a vertex twice.
        vimax = vmax  # (inf when not found: then the upper side is not clipped)
        vimin = vmin
        if vimin == -inf:  # imin not looked at (one-sided gate): pass 0 needs it
            vimin = A[imin] * d + C[imin]
        for pas in range(2):
            upper_side = pas == 0
            if upper_side:
                if vmax <= hk:
                    continue
                sgn = 1.0
                bound = hk
                i0 = imax
                v0 = vimax
            else:
                if vmin >= lk:
                    continue
                sgn = -1.0
                bound = lk
                i0 = imin
                v0 = vimin
            lim = sgn * bound
            if sgn * v0 <= lim:
                continue
            f = i0
            vf = v0
            vqi = v0
            steps = 1
            while steps < size:
                t = nxt[f]
                vqi = A[t] * d + C[t]
                if sgn * vqi <= lim:
                    break
                f = t
                vf = vqi
                steps += 1
            if steps >= size:
                return (False, 0, 0, 0, 0, -1, -1, last_lo, last_hi, nv)
            bb = i0
            vb = v0
            while True:
                t = prv[bb]
                vpi = A[t] * d + C[t]
                if sgn * vpi <= lim:
                    break
                bb = t
                vb = vpi
                steps += 1
            p_in = prv[bb]
            q_in = nxt[f]
            vp = vpi
            vq = vb
            s0 = (bound - vp) / (vq - vp)
            x0a = A[p_in] + s0 * (A[bb] - A[p_in])
            x0c = C[p_in] + s0 * (C[bb] - C[p_in])
            vp = vf
            vq = vqi
            s1 = (bound - vp) / (vq - vp)
            x1a = A[f] + s1 * (A[q_in] - A[f])
            x1c = C[f] + s1 * (C[q_in] - C[f])
            n0 = nv
            A[n0] = x0a
            C[n0] = x0c
            nxt[n0] = n0 + 1
            prv[n0] = p_in
            nxt[p_in] = n0
            nv += 1
            two = x1a != x0a or x1c != x0c
            if two:
                A[n0 + 1] = x1a
                C[n0 + 1] = x1c
                nxt[n0 + 1] = q_in
                prv[n0 + 1] = n0
                prv[q_in] = n0 + 1
                nv += 1
            else:
                nxt[n0] = q_in
                prv[q_in] = n0
            size = size - steps + (2 if two else 1)
            if upper_side:
                imax = n0
                if sgn * vimin > lim:
                    imin = q_in
                    vimin = vqi
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
