"""Max-error (minimax, L-infinity) fits: free knots by a greedy sweep, fixed knots by LP.

Free knots
    The best continuous piecewise-linear function with ``k`` pieces that
    minimises the largest absolute error on a finite sorted point set is
    computed by bisection on the error ``eps`` around an exact greedy
    feasibility test ("can ``k`` pieces stay within ``eps`` of every point?").

    The test sweeps the points once.  Every point (distinct ``x``; repeated x
    are merged into the interval ``[max y - eps, min y + eps]``) is a vertical
    *gate*.  A piece is a line; the set of lines that pass all gates of the
    current piece (and join the previous piece, see below) is a convex polygon
    in line space, clipped by two half-planes per gate (the extremes of the
    polygon rotate one way as the gates move right, so a clip costs O(1)
    amortised).  When the next gate empties the polygon, the piece ends after
    its last gate ``m`` and the joint with the next piece lies in the gap
    ``[x_m, x_{m+1}]``.  All lines of the finished polygon ``P`` miss gate
    ``m + 1`` on the same side, say above; a next line ``L`` that passes gate
    ``m + 1`` then meets some line of ``P`` inside the gap exactly when
    ``L(x_m) >= min_{c in P} c(x_m)``, so the joint region carried forward is
    a single half-plane (the swing/slide-filter idea with a free joint).

    Exactness.  Ending every piece as late as possible is optimal for convex
    or concave data: there the result equals the brute-force optimum
    (enumerating the gaps of the joints and solving an LP for each; see
    ``tests/test_minimax.py``).  On data that changes convexity a piece that
    ends earlier can leave a better joint, and the plain greedy can miss the
    optimum (Hakimi & Schmeichel 1991 carry the whole reachable region instead).
    relusum therefore also runs the sweep from the right (first knot pinned at
    ``A``) and with the first knot pinned, and keeps the best; on random small
    non-convex instances this matched the brute force in 298 of 300 cases
    (worst case 1.5 times the optimum).  :func:`relusum.fit` further never
    returns worse than the uniform-knot minimax LP, nor than a warm start.

    ``n`` units give up to ``n + 1`` pieces whose first piece is flat (a knot
    right of ``A``); with the first knot pinned at ``A`` they give ``n``
    sloped pieces.  On ``x**2`` over ``[0, 1]`` the optimal errors are
    ``1 / (2 (2n + 1)**2)`` and ``1 / (8 n**2)``.
Fixed knots
    :func:`linf_fixed_knots` solves the linear program "minimise ``t`` with
    ``|f(x_j) - s(x_j)| <= t``" with scipy's HiGHS, in the hat basis (two
    non-zeros per constraint row).
Functions
    For a function target the fit runs on its samples, then the error is
    checked on a denser grid; points near the peaks of the error are added and
    the fit is redone (up to six rounds).  The figure relusum reports is measured
    on the verification grid by :func:`relusum.fitting.api.finish`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from relusum.fitting.fixed import breakpoints_for, check_capacity, check_n_units
from relusum.fitting.hat import values_to_relusum
from relusum.model import ReluSum
from relusum.targets import Target

__all__ = [
    "Gates",
    "make_gates",
    "greedy_pieces",
    "minimax_points",
    "minimax_discontinuous",
    "minimax_target",
    "linf_fixed_knots",
    "linf_fixed_target",
    "MinimaxInfo",
]

#: Slack, relative to the half range of y, added to every gate so that
#: degenerate (exactly interpolable) data stay feasible despite rounding.
_SLACK = 1e-12


@dataclass(frozen=True)
class Gates:
    """Distinct, normalised sample positions with the range of y at each.

    ``u = (x - A) / (B - A)``, ``lo``/``hi`` the least and largest
    normalised y at each distinct x (``y_norm = (y - mid) / half``).
    """

    u: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    domain: tuple[float, float]
    mid: float
    half: float
    amax: float

    @property
    def spread(self) -> float:
        """Half the largest spread of y at one x: no fit can do better (normalised)."""
        return float(np.max(self.hi - self.lo)) / 2.0

    def to_x(self, u: float) -> float:
        a, b = self.domain
        return a + u * (b - a)


def make_gates(x: ArrayLike, y: ArrayLike, domain: tuple[float, float] | None = None) -> Gates:
    """Merge repeated x and normalise ``(x, y)`` for the greedy sweep.

    Examples
    --------
    >>> from relusum.fitting.minimax import make_gates
    >>> g = make_gates([0.0, 1.0, 1.0, 2.0], [0.0, 1.0, 3.0, 2.0])
    >>> g.u.tolist(), round(g.spread * g.half, 12)
    ([0.0, 0.5, 1.0], 1.0)
    """
    xa = np.asarray(x, dtype=float).ravel()
    ya = np.asarray(y, dtype=float).ravel()
    if xa.shape != ya.shape:
        raise ValueError(f"x and y must have the same length, got {xa.size} and {ya.size}")
    if xa.size == 0:
        raise ValueError("no points to fit")
    if not (np.all(np.isfinite(xa)) and np.all(np.isfinite(ya))):
        raise ValueError("x and y must be finite")
    order = np.argsort(xa, kind="stable")
    xa, ya = xa[order], ya[order]
    starts = np.flatnonzero(np.concatenate(([True], np.diff(xa) != 0)))
    xs = xa[starts]
    lo = np.minimum.reduceat(ya, starts)
    hi = np.maximum.reduceat(ya, starts)
    if domain is None:
        domain = (float(xs[0]), float(xs[-1]) if xs[-1] > xs[0] else float(xs[0]) + 1.0)
    a, b = float(domain[0]), float(domain[1])
    if xs[0] < a or xs[-1] > b:
        raise ValueError(f"points from {xs[0]:.6g} to {xs[-1]:.6g} lie outside [{a:.6g}, {b:.6g}]")
    ymin, ymax = float(np.min(lo)), float(np.max(hi))
    mid = 0.5 * (ymin + ymax)
    half = 0.5 * (ymax - ymin)
    if not half > 0:
        half = max(abs(mid), 1.0)
    u = (xs - a) / (b - a)
    du = np.diff(u)
    min_du = float(np.min(du)) if du.size else 1.0
    # Any line that passes two gates within error 1 has |slope| < 4 / du; the
    # joint constraint never needs steeper lines than twice that.
    amax = 16.0 / min_du + 16.0
    return Gates(u, (lo - mid) / half, (hi - mid) / half, (a, b), mid, half, amax)


# --------------------------------------------------------------------- polygons
# A polygon is a list of vertices (slope, value at the piece's origin u0); a
# line's value at u is c + a * (u - u0).


def _cut(poly: list, vals: list, bound: float, keep_below: bool) -> list:
    """Sutherland-Hodgman: keep the part of ``poly`` with value <= bound (or >=)."""
    out = []
    n = len(poly)
    for i in range(n):
        p = poly[i]
        q = poly[i + 1 - n]
        vp = vals[i]
        vq = vals[i + 1 - n]
        pin = vp <= bound if keep_below else vp >= bound
        qin = vq <= bound if keep_below else vq >= bound
        if pin:
            out.append(p)
        if pin != qin:
            s = (bound - vp) / (vq - vp)
            out.append((p[0] + s * (q[0] - p[0]), p[1] + s * (q[1] - p[1])))
    return out


def _arc_cut(
    poly: list, i0: int, keep: int, d: float, bound: float, upper: bool
) -> tuple[list, int, int]:
    """Cut the arc of vertices around ``i0`` whose value at ``d`` is beyond ``bound``.

    The violating vertices of a convex polygon form one arc; it is replaced by
    the two points where the polygon crosses the bound.  Returns the new
    polygon, the new index of vertex ``keep`` (which must not violate) and the
    index of a new vertex (an extreme of the cut side).
    """
    n = len(poly)
    sgn = 1.0 if upper else -1.0
    lim = sgn * bound
    a, c = poly[i0]
    if sgn * (a * d + c) <= lim:  # nothing to cut at i0 (rounding)
        return poly, keep, i0
    a, c = poly[keep]
    if sgn * (a * d + c) > lim:  # the kept extreme violates too (rounding)
        vals = [sgn * (a * d + c) for a, c in poly]
        keep = int(np.argmin(vals))
        if vals[keep] > lim:
            return [], 0, 0
    f = i0
    steps = 1
    while steps < n:
        a, c = poly[(f + 1) % n]
        if sgn * (a * d + c) <= lim:
            break
        f += 1
        steps += 1
    if steps >= n:  # everything violates: cannot happen when the caller checked
        return [], 0, 0
    b = i0
    while True:
        a, c = poly[(b - 1) % n]
        if sgn * (a * d + c) <= lim:
            break
        b -= 1
    f %= n
    b %= n
    p_in = poly[(b - 1) % n]
    p_out = poly[b]
    q_out = poly[f]
    q_in = poly[(f + 1) % n]

    def cross(p: tuple, q: tuple) -> tuple[float, float]:
        vp = p[0] * d + p[1]
        vq = q[0] * d + q[1]
        s = (bound - vp) / (vq - vp)
        return (p[0] + s * (q[0] - p[0]), p[1] + s * (q[1] - p[1]))

    x0 = cross(p_in, p_out)
    x1 = cross(q_out, q_in)
    if b <= f:
        inside = poly[f + 1 :] + poly[:b]
        keep_new = keep - (f + 1) if keep > f else keep + (n - f - 1)
    else:
        inside = poly[f + 1 : b]
        keep_new = keep - (f + 1)
    n_in = len(inside)
    if not 0 <= keep_new < n_in:
        keep_new = 0
    inside.append(x0)
    if x1 != x0:
        inside.append(x1)
    return inside, keep_new, n_in


def _values(poly: list, d: float) -> list:
    return [a * d + c for a, c in poly]


def _centroid(poly: list) -> tuple[float, float]:
    n = len(poly)
    return (sum(p[0] for p in poly) / n, sum(p[1] for p in poly) / n)


@dataclass
class _Piece:
    u0: float  # origin of the line parametrisation (first gate of the piece)
    poly: list  # feasible lines at the end of the piece
    last: int  # index of the last gate the piece covers
    side: int  # +1: every line misses the next gate above it; -1 below; 0 last piece
    edge: tuple[float, float] | None = None  # tube edge at the gap ends (tube mode)


def greedy_pieces(
    g: Gates,
    eps: float,
    max_pieces: int,
    flat_first: bool = True,
    continuous: bool = True,
    tube: bool = False,
) -> list[_Piece] | None:
    """The greedy sweep at error ``eps`` (normalised units).

    Returns the pieces (at most ``max_pieces``) or ``None`` when ``eps`` needs
    more pieces (or is below half the spread of repeated x).  With
    ``flat_first`` the first piece is flat and counts as a piece; with
    ``continuous=False`` pieces need not join (the discontinuous lower bound).
    With ``tube=True`` every joint must also lie within ``eps`` of the linear
    interpolant of the points (for sampled functions: the fit then stays
    within ``eps`` of the interpolant everywhere, not only at the samples).
    """
    u = g.u
    n = u.size
    tol = _SLACK * (1.0 + eps)
    lower = g.hi - eps - tol
    upper = g.lo + eps + tol
    if np.any(lower > upper):
        return None
    pieces: list[_Piece] = []
    span = float(np.max(upper) - np.min(lower))
    if flat_first:
        cl = np.maximum.accumulate(lower)
        cu = np.minimum.accumulate(upper)
        bad = np.flatnonzero(cl > cu)
        m = int(bad[0]) - 1 if bad.size else n - 1
        lo_c, hi_c = float(cl[m]), float(cu[m])
        if m == n - 1:
            pieces.append(_Piece(float(u[0]), [(0.0, lo_c), (0.0, hi_c)], m, 0))
            return pieces
        side = 1 if lo_c > upper[m + 1] else -1
        first = _Piece(float(u[0]), [(0.0, lo_c), (0.0, hi_c)], m, side)
        pieces.append(first)
        bound = lo_c if side > 0 else hi_c
        if tube:
            first.edge = _edge(lower, upper, m, side)
        j = m + 1
    else:
        side = 0
        bound = 0.0
        j = 0
    lower_l = lower.tolist()
    upper_l = upper.tolist()
    u_l = u.tolist()
    while True:
        if len(pieces) >= max_pieces:
            return None
        # A new piece starting at gate j, joined in the gap before it.
        u0 = u_l[j]
        lj, hj = lower_l[j], upper_l[j]
        # Slopes of lines that pass this gate and the next one are bounded by
        # the span of the two gates over the gap; a box no larger than needed
        # keeps the clipping accurate when gaps are tiny.
        du = u_l[j + 1] - u0 if j + 1 < n else u0 - u_l[j - 1] if j > 0 else 1.0
        amax = min(g.amax, (span + 2.0 * eps + 1.0) * 4.0 / du)
        poly = [(-amax, lj), (amax, lj), (amax, hj), (-amax, hj)]
        if side != 0 and continuous:
            dm = u_l[j - 1] - u0
            poly = _cut(poly, _values(poly, dm), bound, keep_below=side < 0)
            if tube and poly:
                prev = pieces[-1]
                e_at, e_val = _exit_point(prev, u_l[j - 1], u0)
                poly = _cut(poly, _values(poly, e_at - u0), e_val, keep_below=side > 0)
            if not poly:  # cannot happen with amax large enough; be safe
                return None
        k = j + 1
        side = 0
        # The polygon as a doubly linked cycle (arrays A, C, nxt, prv): a clip
        # unlinks the violating arc and links in two new vertices, O(removed).
        m0 = len(poly)
        A = [p[0] for p in poly]
        C = [p[1] for p in poly]
        nxt = [(t + 1) % m0 for t in range(m0)]
        prv = [(t - 1) % m0 for t in range(m0)]
        size = m0
        imax = imin = 0
        while k < n:
            d = u_l[k] - u0
            # Extreme vertices in the direction (d, 1): the value along a convex
            # polygon is bitonic, and as d grows the extremes rotate one way, so
            # walking from the last extremes costs O(1) amortised.
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
            lk = lower_l[k]
            hk = upper_l[k]
            if vmin >= lk and vmax <= hk:
                k += 1
                continue
            if vmin > hk:
                side = 1
                break
            if vmax < lk:
                side = -1
                break
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
                # Walk the violating arc [b .. f] around i0.
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
                vp, vq = A[p_in] * d + C[p_in], A[bb] * d + C[bb]
                s0 = (bound - vp) / (vq - vp)
                x0 = (A[p_in] + s0 * (A[bb] - A[p_in]), C[p_in] + s0 * (C[bb] - C[p_in]))
                vp, vq = A[f] * d + C[f], A[q_in] * d + C[q_in]
                s1 = (bound - vp) / (vq - vp)
                x1 = (A[f] + s1 * (A[q_in] - A[f]), C[f] + s1 * (C[q_in] - C[f]))
                n0 = len(A)
                A.append(x0[0])
                C.append(x0[1])
                nxt.append(n0 + 1)
                prv.append(p_in)
                nxt[p_in] = n0
                if x1 != x0:
                    A.append(x1[0])
                    C.append(x1[1])
                    nxt.append(q_in)
                    prv.append(n0)
                    prv[q_in] = n0 + 1
                else:
                    nxt[n0] = q_in
                    prv[q_in] = n0
                size = size - steps + (2 if x1 != x0 else 1)
                if upper_side:
                    imax = n0
                    if sgn * (A[imin] * d + C[imin]) > lim:
                        imin = q_in
                else:
                    imin = n0
                    if sgn * (A[imax] * d + C[imax]) > lim:
                        imax = q_in
            k += 1
        # Back to a vertex list.
        poly = []
        t = imax
        for _ in range(size):
            poly.append((A[t], C[t]))
            t = nxt[t]
        piece = _Piece(u0, poly, k - 1, side)
        pieces.append(piece)
        if k >= n:
            return pieces
        if tube:
            piece.edge = _edge(lower, upper, k - 1, side)
        dm = u_l[k - 1] - u0
        vals = _values(poly, dm)
        bound = min(vals) if side > 0 else max(vals)
        j = k


def _edge(lower: np.ndarray, upper: np.ndarray, m: int, side: int) -> tuple[float, float]:
    """The tube edge the finished piece leaves through, at both ends of its gap."""
    src = upper if side > 0 else lower
    return float(src[m]), float(src[m + 1])


def _exit_parameters(piece: _Piece, um: float, un: float) -> list[float]:
    """For each line of the piece's polygon, where it leaves the tube in the gap."""
    e0, e1 = piece.edge
    out = []
    for a, c in piece.poly:
        v0 = c + a * (um - piece.u0) - e0
        v1 = c + a * (un - piece.u0) - e1
        if piece.side < 0:
            v0, v1 = -v0, -v1
        # v0 <= 0 < v1 (up to rounding): the line crosses the edge at um + s (un - um).
        num = max(-v0, 0.0)
        den = num + max(v1, 0.0)
        out.append(1.0 if den <= 0 else min(num / den, 1.0))
    return out


def _exit_point(piece: _Piece, um: float, un: float) -> tuple[float, float]:
    """The last point of the gap where a line of the piece is still in the tube."""
    s = max(_exit_parameters(piece, um, un))
    e0, e1 = piece.edge
    return um + s * (un - um), e0 + s * (e1 - e0)


def _dedupe(poly: list) -> list:
    """Drop vertices that (nearly) repeat their predecessor."""
    out = [poly[0]]
    for p in poly[1:]:
        q = out[-1]
        if abs(p[0] - q[0]) > 1e-15 * (1 + abs(q[0])) or abs(p[1] - q[1]) > 1e-15 * (1 + abs(q[1])):
            out.append(p)
    if len(out) > 1 and out[0] == out[-1]:
        out.pop()
    return out


def _moderate(poly: list, smax: float) -> list:
    """The part of a polygon of lines with |slope| <= smax (the polygon if that is empty)."""
    cut = _cut(poly, [a for a, _ in poly], smax, keep_below=True)
    if cut:
        cut = _cut(cut, [a for a, _ in cut], -smax, keep_below=False)
    return cut or poly


def _lines_from_pieces(g: Gates, pieces: list[_Piece]) -> tuple[list, list]:
    """Pick one line per piece, back to front, and the joints (normalised).

    Lines are taken from the middle of each feasible polygon, preferring
    slopes no steeper than the data's own steepest step (joints inside a gap
    could otherwise use needlessly steep lines).
    """
    k = len(pieces)
    lines: list = [None] * k
    joints: list = [None] * (k - 1)
    mid = 0.5 * (g.lo + g.hi)
    du = np.diff(g.u)
    smax = float(np.max(np.abs(np.diff(mid)) / du)) * 2.0 + 1e-9 if du.size else 1.0
    a, c = _centroid(_moderate(pieces[-1].poly, smax))
    lines[-1] = (a, c, pieces[-1].u0)
    for i in range(k - 2, -1, -1):
        pc = pieces[i]
        m = pc.last
        um, un = float(g.u[m]), float(g.u[m + 1])
        na, nc, nu0 = lines[i + 1]
        target = nc + na * (um - nu0)  # next line's value at x_m
        dm = um - pc.u0
        vals = _values(pc.poly, dm)
        outside = pc.edge is not None and (
            (target - pc.edge[0]) * pc.side > 0  # next line starts outside the tube
        )
        if outside:
            # Join with the line that stays longest in the tube.
            ex = _exit_parameters(pc, um, un)
            cand = [pc.poly[int(np.argmax(ex))]]
        else:
            cand = _cut(pc.poly, vals, target, keep_below=pc.side > 0)
        if not cand:  # rounding: take the extreme vertex
            idx = int(np.argmin(vals) if pc.side > 0 else np.argmax(vals))
            cand = [pc.poly[idx]]
        a, c = _centroid(_moderate(cand, smax))
        lines[i] = (a, c, pc.u0)
        # Intersection of this line and the next inside [um, un].
        da = (c + a * (um - pc.u0)) - (nc + na * (um - nu0))
        db = (c + a * (un - pc.u0)) - (nc + na * (un - nu0))
        if da == db:
            p = um
        else:
            p = um + (un - um) * min(max(da / (da - db), 0.0), 1.0)
        joints[i] = p
    return lines, joints


def _model_from_pieces(g: Gates, pieces: list[_Piece], flat_first: bool) -> ReluSum:
    lines, joints = _lines_from_pieces(g, pieces)
    a_, b_ = g.domain
    width = b_ - a_
    slopes = [ln[0] * g.half / width for ln in lines]
    ln0 = lines[0]
    bias_n = ln0[1] + ln0[0] * (0.0 - ln0[2])
    bias = g.mid + g.half * bias_n
    knots = [a_ + p * width for p in joints]
    if flat_first:
        slopes[0] = 0.0
        weights = np.diff(np.asarray(slopes))
        return ReluSum(bias, knots, weights, g.domain)
    weights = np.diff(np.asarray(slopes), prepend=0.0)
    return ReluSum(bias, [a_, *knots], weights, g.domain)


def _count_pieces_for(n_units: int, flat_first: bool) -> int:
    return n_units + 1 if flat_first else n_units


@dataclass(frozen=True)
class MinimaxInfo:
    """What the free-knot minimax search found on its point set."""

    eps: float  # the optimal max error on the points (original units), to rtol
    n_points: int  # distinct x used
    iterations: int  # greedy sweeps run
    rounds: int = 0  # refinement rounds (functions)


def _bisect(
    g: Gates,
    max_pieces: int,
    flat_first: bool,
    continuous: bool,
    rtol: float,
    lo: float | None = None,
    hi: float | None = None,
    progress: Callable[[], None] | None = None,
    tube: bool = False,
) -> tuple[float, list[_Piece], int]:
    """Smallest normalised eps (within rtol) for which the greedy fits in max_pieces."""
    its = 0
    floor = g.spread
    # Exact (or spread-limited) fits first.
    res = greedy_pieces(g, floor, max_pieces, flat_first, continuous, tube)
    its += 1
    if res is not None:
        return floor, res, its
    lo_e = max(floor, lo if lo is not None else 0.0)
    if hi is None:
        hi = _initial_bound(g, max_pieces, flat_first, continuous)
    hi_e = max(hi, lo_e)
    best = greedy_pieces(g, hi_e, max_pieces, flat_first, continuous, tube)
    its += 1
    while best is None:  # hi was too optimistic
        lo_e = hi_e
        hi_e = hi_e * 2.0 + 1e-12
        best = greedy_pieces(g, hi_e, max_pieces, flat_first, continuous, tube)
        its += 1
    if lo is None:
        # Bracket from above in big steps: the optimum is rarely far below.
        while hi_e > 64.0 * max(lo_e, 1e-14):
            trial = hi_e / 64.0
            res = greedy_pieces(g, trial, max_pieces, flat_first, continuous, tube)
            its += 1
            if res is None:
                lo_e = trial
                break
            hi_e, best = trial, res
    lo_e = max(lo_e, 1e-14)
    while hi_e - lo_e > rtol * hi_e:
        mid = math.sqrt(lo_e * hi_e) if hi_e / lo_e > 4.0 else 0.5 * (lo_e + hi_e)
        res = greedy_pieces(g, mid, max_pieces, flat_first, continuous, tube)
        its += 1
        if progress is not None:
            progress()
        if res is None:
            lo_e = mid
        else:
            hi_e, best = mid, res
    return hi_e, best, its


def _initial_bound(g: Gates, max_pieces: int, flat_first: bool, continuous: bool) -> float:
    """An error every fit with this many pieces can reach: uniform breakpoints, least squares."""
    from relusum.fitting.hat import hat_lstsq

    k = max_pieces - 1 if flat_first else max_pieces
    if k < 1 or g.u.size < 3:
        return 1.0 + g.spread
    k = min(k, g.u.size - 1)
    t = np.linspace(0.0, 1.0, k + 1)
    mid = 0.5 * (g.lo + g.hi)
    try:
        c = hat_lstsq(g.u, mid, t)
    except Exception:  # noqa: BLE001 - only a starting bracket
        return 1.0 + g.spread
    fit = np.interp(g.u, t, c)
    e = float(np.max(np.maximum(np.abs(fit - g.lo), np.abs(fit - g.hi))))
    if not np.isfinite(e):
        return 1.0 + g.spread
    return min(e * (1.0 + 1e-9) + 1e-15, 1.0 + g.spread)


def _check_units(n_units: int) -> int:
    return check_n_units(n_units)


def _convex_gates(g: Gates) -> bool:
    """Whether the points are single-valued and convex or concave (the greedy is exact there)."""
    if g.u.size < 3 or np.any(g.hi != g.lo):
        return g.u.size < 3
    s = np.diff(g.lo) / np.diff(g.u)
    ds = np.diff(s)
    tol = 1e-12 * (float(np.max(np.abs(s))) + 1.0)
    return bool(np.all(ds >= -tol) or np.all(ds <= tol))


def _reversed(g: Gates) -> Gates:
    return Gates(1.0 - g.u[::-1], g.lo[::-1], g.hi[::-1], g.domain, g.mid, g.half, g.amax)


def _mirror_model(m: ReluSum, domain: tuple[float, float]) -> ReluSum:
    """``x -> A + B - x`` of a sum whose first knot is at ``A``."""
    a, b = domain
    xs, ys = m.to_points()
    return ReluSum.from_points((a + b) - xs, ys, domain)


def _solve(
    g: Gates,
    n_units: int,
    flat_first: bool,
    rtol: float,
    *,
    tube: bool = False,
    lo: float | None = None,
    hi: float | None = None,
    progress: Callable[[], None] | None = None,
) -> tuple[float, ReluSum, int]:
    """Bisection for ``n_units``; returns the normalised error, the model and the sweeps.

    The greedy's first piece is flat and as long as possible; a fit whose first
    knot sits at ``A`` (an empty flat piece) can be better, so that start is
    checked just below the flat optimum and searched when it wins.  On data
    that is not convex or concave the greedy can miss the optimum, and the
    sweep from right to left (first knot pinned at ``A``) is tried the same way.
    """
    pieces_max = _count_pieces_for(n_units, flat_first)
    eps_n, pieces, its = _bisect(
        g, pieces_max, flat_first, True, rtol, lo=lo, hi=hi, progress=progress, tube=tube
    )
    model = _model_from_pieces(g, pieces, flat_first)
    candidates = []
    if flat_first:
        candidates.append((g, False))
    if not _convex_gates(g):
        candidates.append((_reversed(g), True))
    for gg, mirrored in candidates:
        if eps_n <= g.spread:
            break
        trial = eps_n * (1.0 - 4.0 * rtol)
        its += 1
        if greedy_pieces(gg, trial, n_units, False, True, tube) is None:
            continue
        e2, p2, k = _bisect(gg, n_units, False, True, rtol, hi=trial, progress=progress, tube=tube)
        its += k
        if e2 < eps_n:
            eps_n = e2
            m2 = _model_from_pieces(gg, p2, False)
            model = _mirror_model(m2, g.domain) if mirrored else m2
    return eps_n, model, its


def minimax_points(
    x: ArrayLike,
    y: ArrayLike,
    n_units: int,
    *,
    domain: tuple[float, float] | None = None,
    flat_first: bool = True,
    rtol: float = 1e-9,
) -> tuple[ReluSum, float]:
    """The sum of ``n_units`` ReLUs with the smallest max error on the points.

    Parameters
    ----------
    x, y : array_like
        The points, any order; repeated x allowed.
    n_units : int
        Number of ReLU units.
    domain : (A, B), optional
        Knots lie in ``[A, B]`` (default: the range of ``x``).
    flat_first : bool
        Allow a flat first piece (``n_units + 1`` pieces, the free problem);
        ``False`` pins the first knot at ``A`` (``n_units`` sloped pieces).
    rtol : float
        Relative accuracy of the optimal error (bisection stops there).

    Returns
    -------
    model : ReluSum
    eps : float
        The max error reached on the points (the optimum to ``rtol``).

    Examples
    --------
    >>> import numpy as np
    >>> from relusum.fitting.minimax import minimax_points
    >>> x = np.linspace(0, 1, 2001)
    >>> s, eps = minimax_points(x, x**2, 2)
    >>> round(eps * 50, 4)  # optimum 1 / (2 (2n + 1)^2) = 1/50
    1.0
    """
    n_units = _check_units(n_units)
    g = make_gates(x, y, domain)
    eps_n, model, _ = _solve(g, n_units, flat_first, rtol)
    ya = np.asarray(y, dtype=float).ravel()
    err = float(np.max(np.abs(model(np.asarray(x, dtype=float).ravel()) - ya)))
    return model, err


def minimax_discontinuous(
    x: ArrayLike,
    y: ArrayLike,
    n_pieces: int,
    *,
    domain: tuple[float, float] | None = None,
    rtol: float = 1e-9,
) -> float:
    """The smallest max error of ``n_pieces`` lines that need not join (a lower bound).

    Any continuous fit with ``n_pieces`` pieces is such a set of lines, so no
    continuous fit does better on the same points.

    Examples
    --------
    >>> import numpy as np
    >>> from relusum.fitting.minimax import minimax_discontinuous
    >>> x = np.linspace(0, 1, 101)
    >>> minimax_discontinuous(x, np.where(x < 0.5, 0.0, 1.0), 2) < 1e-9
    True
    """
    g = make_gates(x, y, domain)
    eps_n, _, _ = _bisect(g, _check_units(n_pieces), False, False, rtol)
    return float(eps_n * g.half)


def _peaks(err: np.ndarray, above: float, limit: int) -> np.ndarray:
    """Indices of local maxima of ``|err|`` larger than ``above`` (at most ``limit``)."""
    a = np.abs(err)
    if a.size < 3:
        return np.flatnonzero(a > above)
    left = np.concatenate(([True], a[1:] >= a[:-1]))
    right = np.concatenate((a[:-1] >= a[1:], [True]))
    idx = np.flatnonzero(left & right & (a > above))
    if idx.size > limit:
        idx = idx[np.argsort(a[idx])[::-1][:limit]]
    return np.sort(idx)


def _dense_grid(domain: tuple[float, float], n: int) -> np.ndarray:
    a, b = domain
    # Offset by a fraction unrelated to the sample and verification grids.
    off = 0.5 * (math.sqrt(2.0) - 1.0)
    return np.concatenate(([a], a + (np.arange(n) + off) * ((b - a) / n), [b]))


def minimax_target(
    target: Target,
    n_units: int,
    *,
    flat_first: bool = True,
    rtol: float | None = None,
    rounds: int = 6,
    progress: Callable[[], None] | None = None,
) -> tuple[ReluSum, MinimaxInfo]:
    """Free-knot minimax fit of a :class:`~relusum.targets.Target` with ``n_units`` units.

    Data: the exact optimum on the points.  Function: the optimum on the
    samples with every joint kept within the error of the samples' linear
    interpolant (so the fit is that close between samples too), refined where
    the error on a denser grid still peaks (at most ``rounds`` times).

    Examples
    --------
    >>> from relusum.targets import make_target
    >>> from relusum.fitting.minimax import minimax_target
    >>> s, info = minimax_target(make_target("abs(x - 0.3)", (0, 1)), 2)
    >>> s.knots.round(12).tolist(), s.weights.round(12).tolist()
    ([0.0, 0.3], [-1.0, 2.0])
    """
    n_units = _check_units(n_units)
    pieces_max = _count_pieces_for(n_units, flat_first)
    x, y = target.x, target.y
    if target.fn is None:
        g = make_gates(x, y, target.domain)
        eps_n, model, its = _solve(g, n_units, flat_first, rtol or 1e-9, progress=progress)
        err = float(np.max(np.abs(model(x) - y)))
        return model, MinimaxInfo(err, int(g.u.size), its)
    rtol = rtol or 1e-4
    dense = _dense_grid(target.domain, max(8 * x.size, 20_000))
    fd = target.evaluate(dense)
    g = make_gates(x, y, target.domain)
    # A target that is itself such a sum (kinks between samples) is matched on
    # the samples exactly; the joints are then the exact kinks.
    for ff in (flat_first, False) if flat_first else (False,):
        exact = greedy_pieces(g, 0.0, pieces_max if ff else n_units, ff, True)
        if exact is not None:
            model = _model_from_pieces(g, exact, ff)
            scale = float(np.max(np.abs(fd))) + 1.0
            if float(np.max(np.abs(model(dense) - fd))) <= 1e-9 * scale:
                return model, MinimaxInfo(0.0, int(g.u.size), 1, 0)
    eps_n, model, its = _solve(g, n_units, flat_first, rtol, progress=progress, tube=True)
    done = 0
    xs, ys = x, y
    for _ in range(rounds):
        e = model(dense) - fd
        emax = float(np.max(np.abs(e)))
        eps = eps_n * g.half
        if emax <= eps * (1.0 + 1e-2) + 1e-300:
            break
        idx = _peaks(e, eps, 4 * pieces_max + 64)
        # The peaks, and points crowding toward the samples around each peak
        # (a singularity such as sqrt at 0 needs ever finer points).
        k = np.clip(np.searchsorted(xs, dense[idx]) - 1, 0, xs.size - 2)
        left, right = xs[k], xs[k + 1]
        fr = np.array([1 / 256, 1 / 32, 1 / 4, 3 / 4, 31 / 32, 255 / 256])
        extra = (left[:, None] + (right - left)[:, None] * fr[None, :]).ravel()
        new_x = np.concatenate((dense[idx], extra))
        xs = np.concatenate((xs, new_x))
        ys = np.concatenate((ys, target.evaluate(new_x)))
        order = np.argsort(xs, kind="stable")
        xs, ys = xs[order], ys[order]
        # Points closer than 1e-12 of the domain add nothing but rounding.
        a_, b_ = target.domain
        keep = np.concatenate(([True], np.diff(xs) > 1e-12 * (b_ - a_)))
        xs, ys = xs[keep], ys[keep]
        g = make_gates(xs, ys, target.domain)
        eps_n, model, k = _solve(
            g,
            n_units,
            flat_first,
            rtol,
            lo=eps_n,
            hi=emax / g.half * 1.001,
            progress=progress,
            tube=True,
        )
        its += k
        done += 1
    return model, MinimaxInfo(float(eps_n * g.half), int(g.u.size), its, done)


# ------------------------------------------------------------------ fixed knots
def linf_fixed_knots(
    x: ArrayLike,
    y: ArrayLike,
    knots: ArrayLike,
    domain: tuple[float, float],
) -> ReluSum:
    """The sum with the given knots that minimises the max error on the points (LP, HiGHS).

    Unknowns are the values at the breakpoints (hat basis, first piece flat
    when the first knot is right of ``A``) and the bound ``t``; every point
    gives two rows with three non-zeros.  Breakpoints no point constrains are
    filled by linear interpolation of their neighbours.

    Examples
    --------
    >>> import numpy as np
    >>> from relusum.fitting.minimax import linf_fixed_knots
    >>> x = np.linspace(0, 1, 101)
    >>> s = linf_fixed_knots(x, x**2, [0.0], (0.0, 1.0))  # one line: error 1/8
    >>> round(float(np.max(np.abs(s(x) - x**2))), 6)
    0.125
    """
    from scipy import sparse
    from scipy.optimize import linprog

    xa = np.asarray(x, dtype=float).ravel()
    ya = np.asarray(y, dtype=float).ravel()
    h = np.sort(np.asarray(knots, dtype=float).ravel())
    if h.size == 0:
        raise ValueError("knots must not be empty")
    check_capacity(xa, h.size, data=True)
    t, flat_first = breakpoints_for(h, domain)
    mid = 0.5 * (float(np.max(ya)) + float(np.min(ya)))
    half = 0.5 * (float(np.max(ya)) - float(np.min(ya)))
    if not half > 0:
        return ReluSum(mid, h, np.zeros_like(h), domain)
    yn = (ya - mid) / half
    j = np.clip(np.searchsorted(t, xa, side="right") - 1, 0, t.size - 2)
    lam = (xa - t[j]) / (t[j + 1] - t[j])
    off = 1 if flat_first else 0
    nun = t.size - off
    left = np.maximum(j - off, 0)
    right = j + 1 - off
    npts = xa.size
    rows = np.arange(npts)
    a_mat = sparse.csr_matrix(
        (
            np.concatenate((1.0 - lam, lam)),
            (np.concatenate((rows, rows)), np.concatenate((left, right))),
        ),
        shape=(npts, nun),
    )
    ones = sparse.csr_matrix(np.ones((npts, 1)))
    a_ub = sparse.vstack((sparse.hstack((a_mat, -ones)), sparse.hstack((-a_mat, -ones)))).tocsc()
    b_ub = np.concatenate((yn, -yn))
    cost = np.zeros(nun + 1)
    cost[-1] = 1.0
    bounds = [(None, None)] * nun + [(0, None)]
    res = linprog(cost, A_ub=a_ub, b_ub=b_ub, bounds=bounds, method="highs")
    if res.status != 0 or res.x is None:
        raise ValueError(f"the max-error linear program failed: {res.message}")
    coef = res.x[:nun]
    touched = np.zeros(nun, dtype=bool)
    touched[left] = True
    touched[right[lam > 0]] = True
    if not np.all(touched) and np.any(touched):
        idx = np.arange(nun)
        coef = np.interp(idx, idx[touched], coef[touched])
    if flat_first:
        coef = np.concatenate(([coef[0]], coef))
    return values_to_relusum(t, mid + half * coef, flat_first, domain)


def linf_fixed_target(target: Target, knots: np.ndarray, rounds: int = 2) -> ReluSum:
    """Fixed-knot minimax fit of a target; for functions, refined at the error peaks.

    Examples
    --------
    >>> from relusum.targets import make_target
    >>> from relusum.fitting.minimax import linf_fixed_target
    >>> s = linf_fixed_target(make_target("x**2", (0, 1)), [0.0, 0.5])
    >>> s.n_units
    2
    """
    knots = np.asarray(knots, dtype=float)
    xs, ys = target.x, target.y
    model = linf_fixed_knots(xs, ys, knots, target.domain)
    if target.fn is None:
        return model
    dense = _dense_grid(target.domain, max(8 * xs.size, 20_000))
    fd = target.evaluate(dense)
    for _ in range(rounds):
        on_pts = float(np.max(np.abs(model(xs) - ys)))
        e = model(dense) - fd
        if float(np.max(np.abs(e))) <= on_pts * (1.0 + 1e-3):
            break
        idx = _peaks(e, on_pts, 4 * knots.size + 64)
        xs = np.concatenate((xs, dense[idx]))
        ys = np.concatenate((ys, fd[idx]))
        model = linf_fixed_knots(xs, ys, knots, target.domain)
    return model
