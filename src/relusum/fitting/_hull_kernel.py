"""The numba kernel behind :class:`relusum.fitting.hulls.BinHulls` (imports numba, so lazily)."""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["bin_hull_mask"]


@njit(cache=True, nogil=True)
def _cross(x, y, o, a, b):  # pragma: no cover - compiled
    return (x[a] - x[o]) * (y[b] - y[o]) - (y[a] - y[o]) * (x[b] - x[o])


@njit(cache=True, nogil=True)
def _flush(keep, chain, size, cap):  # pragma: no cover - compiled
    """Mark a chain's vertices kept; more than ``cap``: ``cap`` of them, evenly spaced."""
    if size <= cap:
        for q in range(size):
            keep[chain[q]] = True
        return False
    for q in range(cap):
        keep[chain[(q * (size - 1)) // (cap - 1)]] = True
    return True


@njit(cache=True, nogil=True)
def bin_hull_mask(x, y, e, cap):  # pragma: no cover - compiled
    """Which points are vertices of the upper or lower hull of the points of their bin.

    ``x`` sorted ascending (ties in any order), ``e`` increasing bin edges
    (a point goes to the bin ``e[k] <= x < e[k + 1]``, the end bins take what
    lies beyond).  Andrew's monotone chain, one bin after the other; a run of
    equal ``x`` enters the upper chain with its largest ``y`` and the lower one
    with its smallest; collinear middle points are dropped.  A chain longer
    than ``cap`` (at least 2) keeps ``cap`` evenly spaced vertices; the second
    result says whether any did.
    """
    n = x.size
    keep = np.zeros(n, np.bool_)
    up = np.empty(n, np.int64)
    lo = np.empty(n, np.int64)
    nu = 0
    nl = 0
    g = e.size - 1
    k = -1
    i = 0
    thinned = False
    while i < n:
        xi = x[i]
        kk = max(k, 0)
        while kk < g - 1 and xi >= e[kk + 1]:
            kk += 1
        if kk != k:
            thinned |= _flush(keep, up, nu, cap)
            thinned |= _flush(keep, lo, nl, cap)
            nu = 0
            nl = 0
            k = kk
        j = i
        imax = i
        imin = i
        while j + 1 < n and x[j + 1] == xi:
            j += 1
            if y[j] > y[imax]:
                imax = j
            if y[j] < y[imin]:
                imin = j
        while nu >= 2 and _cross(x, y, up[nu - 2], up[nu - 1], imax) >= 0.0:
            nu -= 1
        up[nu] = imax
        nu += 1
        while nl >= 2 and _cross(x, y, lo[nl - 2], lo[nl - 1], imin) <= 0.0:
            nl -= 1
        lo[nl] = imin
        nl += 1
        i = j + 1
    thinned |= _flush(keep, up, nu, cap)
    thinned |= _flush(keep, lo, nl, cap)
    return keep, thinned
