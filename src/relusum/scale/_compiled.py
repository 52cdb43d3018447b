"""The numba kernels behind :mod:`relusum.scale.kernels` (imports numba: import lazily)."""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["place", "hat", "bins", "errors"]


@njit(cache=True, nogil=True, inline="always")
def place(xi, t, a, scale, table):  # pragma: no cover - compiled
    """The last j with t[j] <= xi (-1 if none): a table guess, then a short walk."""
    f = (xi - a) * scale
    c = int(f) if f > 0.0 else 0
    c = min(c, table.size - 1)
    j = table[c]
    while j >= 0 and t[j] > xi:
        j -= 1
    while j + 1 < t.size and t[j + 1] <= xi:
        j += 1
    return j


@njit(cache=True, nogil=True)
def hat(x, y, w, has_w, t, a, scale, table):  # pragma: no cover - compiled
    m1 = t.size
    diag = np.zeros(m1)
    off = np.zeros(m1)
    rhs = np.zeros(m1)
    yy = 0.0
    sw = 0.0
    xmin, xmax, ymin, ymax = np.inf, -np.inf, np.inf, -np.inf
    bad = 0
    for i in range(x.size):
        xi = x[i]
        yi = y[i]
        wi = w[i] if has_w else 1.0
        if not (np.isfinite(xi) and np.isfinite(yi) and np.isfinite(wi)) or wi < 0.0:
            bad += 1
            continue
        # searchsorted(t, x, right) - 1, within [0, m1 - 2]
        j = min(max(place(xi, t, a, scale, table), 0), m1 - 2)
        lam = (xi - t[j]) / (t[j + 1] - t[j])
        a = 1.0 - lam
        wa = wi * a
        wb = wi * lam
        diag[j] += wa * a
        diag[j + 1] += wb * lam
        off[j] += wa * lam
        rhs[j] += wa * yi
        rhs[j + 1] += wb * yi
        yy += wi * yi * yi
        sw += wi
        xmin = min(xmin, xi)
        xmax = max(xmax, xi)
        ymin = min(ymin, yi)
        ymax = max(ymax, yi)
    return diag, off, rhs, yy, sw, xmin, xmax, ymin, ymax, bad


@njit(cache=True, nogil=True)
def bins(x, y, w, has_w, e):  # pragma: no cover - compiled
    g = e.size - 1
    s0 = np.zeros(g)
    s1 = np.zeros(g)
    s2 = np.zeros(g)
    sy = np.zeros(g)
    sxy = np.zeros(g)
    syy = np.zeros(g)
    lo = np.full(g, np.inf)
    hi = np.full(g, -np.inf)
    count = np.zeros(g, dtype=np.int64)
    a = e[0]
    scale = g / (e[g] - e[0])
    bad = 0
    for i in range(x.size):
        xi = x[i]
        yi = y[i]
        wi = w[i] if has_w else 1.0
        if not (np.isfinite(xi) and np.isfinite(yi) and np.isfinite(wi)) or wi < 0.0:
            bad += 1
            continue
        # a guess from uniform spacing, then exactly searchsorted(e, x, right) - 1
        f = (xi - a) * scale
        k = int(f) if f > 0.0 else 0
        k = min(k, g - 1)
        while k < g - 1 and xi >= e[k + 1]:
            k += 1
        while k > 0 and xi < e[k]:
            k -= 1
        u = xi - e[k]
        wu = wi * u
        s0[k] += wi
        s1[k] += wu
        s2[k] += wu * u
        sy[k] += wi * yi
        sxy[k] += wu * yi
        syy[k] += (wi * yi) * yi
        count[k] += 1
        lo[k] = min(lo[k], xi)
        hi[k] = max(hi[k], xi)
    return s0, s1, s2, sy, sxy, syy, lo, hi, count, bad


@njit(cache=True, nogil=True)
def errors(x, y, anchor, value, slope, h, a, scale, table):  # pragma: no cover - compiled
    sse = 0.0
    mx = 0.0
    for i in range(x.size):
        xi = x[i]
        k = place(xi, h, a, scale, table) + 1  # the number of knots <= x
        r = ((xi - anchor[k]) * slope[k] + value[k]) - y[i]
        sse += r * r
        mx = max(mx, abs(r))
    return sse, mx
