"""Free-knot least squares: the best weighted-L2 ReLU sum with ``n`` knots anywhere in ``[A, B)``.

Problem
    Minimise ``SSR(h) = min_c sum_i w_i (f_{h,c}(x_i) - y_i)^2`` over ordered knots
    ``h_1 < ... < h_n`` in ``[A, B)``, where ``f_{h,c}`` is the continuous
    piecewise-linear function with values ``c`` at its breakpoints.  Two shapes
    are possible: ``h_1 > A`` gives ``n + 1`` pieces with a flat first piece,
    ``h_1 = A`` gives ``n`` sloped pieces.  The first is the closure of the
    second's complement, so both are searched and the better is kept.

Variable projection
    For fixed knots the values ``c`` are the exact banded least-squares
    solution (:func:`relusum.fitting.hat.hat_lstsq`).  With the values held,
    moving breakpoint ``t_k`` changes the function by ``df/dt_k = -s(x) phi_k(x)``
    (``phi_k`` the hat of ``t_k``, ``s(x)`` the slope of the piece holding ``x``):
    a sample in piece ``j`` has the Jacobian row ``[(1 - lam), lam] (x) [1, -s_j]``
    on the unknowns ``(c_j, t_j, c_{j+1}, t_{j+1})``.  With the unknowns
    interleaved as ``(c_0, t_0, c_1, t_1, ...)`` the Gauss--Newton normal matrix is
    therefore banded (half-bandwidth 3) and is assembled from five per-piece
    ``bincount`` sums in ``O(N + n)``: no ``N x n`` matrix is ever formed.  The
    knot part of the joint Levenberg--Marquardt step is taken and the values are
    re-projected exactly; by the envelope theorem the SSR gradient in ``h`` is
    ``2 J_h^T W r`` at the projected values (checked against finite differences
    in the tests).

Safeguards
    Steps are cut so that no gap between knots (or between a knot and ``B``,
    and ``A`` when the first piece is flat) shrinks below a tenth in one step;
    knots that collapse onto each other are merged and the freed knot is
    re-seeded in the piece with the largest residual; a derivative-free polish
    (each knot tried a few sample spacings to either side, in one batch) steps
    out of the small false minima where a knot crosses a sample.

Starts
    Knots that equidistribute ``(w |f''|^2)^(1/5)`` (the asymptotically optimal
    L2 density, ``f''`` by finite differences for a function and from a
    smoothed pilot fit for data), uniform knots, quantiles of the data, an
    optional warm start ``init`` (with knots inserted where the residual is
    largest when it has fewer than ``n``), and for small data sets the
    boundaries of the exact best *discontinuous* segmentation (dynamic
    programming).  The uniform-knot least-squares fit is always a candidate, so
    the result is never worse than it.  Everything is deterministic.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy.linalg.lapack import dpbsv, dptsv

from relusum.fitting.fixed import breakpoints_for, uniform_knots
from relusum.fitting.hat import hat_lstsq, values_to_relusum
from relusum.model import ReluSum
from relusum.targets import Target

__all__ = ["free_knot_l2", "knot_ssr", "knot_gradient", "density_knots"]

#: A gap between knots may shrink to at most this fraction of itself in one step.
_KEEP = 0.1
#: Relative size (of ``B - A``) below which two knots count as collapsed.
_COLLAPSE = 1e-9
#: Largest ``N**2 * n`` for which the exact discontinuous segmentation start is computed.
_DP_WORK = 4e6


# --------------------------------------------------------------------------- problem
@dataclass
class _State:
    h: np.ndarray  # knots
    t: np.ndarray  # breakpoints on the domain
    flat: bool
    c: np.ndarray  # values at t
    j: np.ndarray  # piece of each sample
    lam: np.ndarray  # local coordinate of each sample
    r: np.ndarray  # residual f - y
    ssr: float
    gram: tuple[np.ndarray, np.ndarray, np.ndarray]  # per-piece hat sums


class _Problem:
    """Samples, weights and domain, with SSR evaluation and LM steps for given knots."""

    def __init__(self, target: Target) -> None:
        self.x = np.ascontiguousarray(target.x, dtype=float)
        self.y = np.ascontiguousarray(target.y, dtype=float)
        self.w = (
            np.ones_like(self.x)
            if target.weight is None
            else np.ascontiguousarray(target.weight, dtype=float)
        )
        self.weighted = target.weight is not None
        self.domain = (float(target.domain[0]), float(target.domain[1]))
        self.a, self.b = self.domain
        self.length = self.b - self.a
        self.is_function = target.fn is not None
        self.scale = float(np.sum(self.w * self.y * self.y)) + 1e-300
        self.evaluations = 0

    # ---------------------------------------------------------------- evaluate
    def state(self, h: np.ndarray) -> _State:
        """Project out the values for knots ``h``: the banded least squares, fused.

        The tridiagonal normal equations of :func:`~relusum.fitting.hat.hat_lstsq`
        are assembled from per-piece sums that the Gauss--Newton step reuses;
        singular systems (pieces without data) go to ``hat_lstsq`` itself.
        """
        t, flat = breakpoints_for(h, self.domain)
        m = t.size - 1
        x, w = self.x, self.w
        j = np.searchsorted(t, x, side="right") - 1
        np.clip(j, 0, m - 1, out=j)
        lam = (x - t[j]) / np.diff(t)[j]
        om = 1.0 - lam
        wa = w * om
        wb = w * lam
        aa = np.bincount(j, wa * om, minlength=m)
        ab = np.bincount(j, wa * lam, minlength=m)
        bb = np.bincount(j, wb * lam, minlength=m)
        ya = np.bincount(j, wa * self.y, minlength=m)
        yb = np.bincount(j, wb * self.y, minlength=m)
        diag = np.zeros(m + 1)
        diag[:m] += aa
        diag[1:] += bb
        rhs = np.zeros(m + 1)
        rhs[:m] += ya
        rhs[1:] += yb
        off = ab.copy()
        if flat:
            # c_0 = c_1: merge the first two unknowns
            diag[1] += aa[0] + 2.0 * ab[0]
            rhs[1] += ya[0]
            diag, rhs, off = diag[1:], rhs[1:], off[1:]
        c = None
        dmax = float(np.max(diag))
        if dmax > 0 and float(np.min(diag)) > 1e-12 * dmax:
            _, _, sol, info = dptsv(diag, off, rhs)
            if info == 0 and np.all(np.isfinite(sol)):
                c = sol
        if c is None:
            c = hat_lstsq(x, self.y, t, w if self.weighted else None, flat)
        elif flat:
            c = np.concatenate(([c[0]], c))
        r = c[j] * om + c[j + 1] * lam - self.y
        ssr = float(np.dot(w, r * r))
        self.evaluations += 1
        return _State(h, t, flat, c, j, lam, r, ssr, (aa, ab, bb))

    def ssr(self, h: np.ndarray) -> float:
        return self.state(h).ssr

    # ------------------------------------------------------------ gauss-newton
    def _sums(self, st: _State) -> tuple[np.ndarray, ...]:
        m = st.t.size - 1
        aa, ab, bb = (v.copy() for v in st.gram)
        wr = self.w * st.r
        rb = np.bincount(st.j, wr * st.lam, minlength=m)
        ra = np.bincount(st.j, wr, minlength=m) - rb
        if st.flat:
            # The flat first piece has one unknown (c_0 = c_1): all of its
            # weight goes to c_1, and it does not move with t_1 (slope 0).
            bb[0] = aa[0] + 2.0 * ab[0] + bb[0]
            rb[0] = ra[0] + rb[0]
            aa[0] = ab[0] = ra[0] = 0.0
        return aa, ab, bb, ra, rb

    def gradient(self, st: _State) -> np.ndarray:
        """d SSR / d h at the projected values (envelope theorem)."""
        aa, ab, bb, ra, rb = self._sums(st)
        s = np.diff(st.c) / np.diff(st.t)
        m = st.t.size - 1
        gt = np.zeros(m + 1)
        gt[:m] -= s * ra
        gt[1:] -= s * rb
        gt *= 2.0
        return gt[1:m] if st.flat else gt[:m]

    def step(self, st: _State, mu: float) -> np.ndarray | None:
        """The knot part of the damped joint Gauss--Newton step, or None if singular."""
        aa, ab, bb, ra, rb = self._sums(st)
        t, c = st.t, st.c
        m = t.size - 1
        s = np.diff(c) / np.diff(t)
        nv = 2 * (m + 1)
        d0 = np.zeros(nv)
        d0[0 : 2 * m : 2] += aa
        d0[2 : 2 * m + 2 : 2] += bb
        d0[1 : 2 * m : 2] += aa * s * s
        d0[3 : 2 * m + 2 : 2] += bb * s * s
        o1 = np.zeros(nv - 1)  # a[i, i+1]
        o1[0 : 2 * m : 2] -= aa * s  # (c_k, t_k) from piece k
        o1[2 : 2 * m + 2 : 2] -= bb * s  # (c_{k+1}, t_{k+1}) from piece k
        o1[1 : 2 * m : 2] -= ab * s  # (t_k, c_{k+1})
        o2 = np.zeros(nv - 2)
        o2[0 : 2 * m : 2] += ab  # (c_k, c_{k+1})
        o2[1 : 2 * m : 2] += ab * s * s  # (t_k, t_{k+1})
        o3 = np.zeros(nv - 3)
        o3[0 : 2 * m : 2] -= ab * s  # (c_k, t_{k+1})
        rhs = np.zeros(nv)
        rhs[0 : 2 * m : 2] -= ra
        rhs[2 : 2 * m + 2 : 2] -= rb
        rhs[1 : 2 * m : 2] += s * ra
        rhs[3 : 2 * m + 2 : 2] += s * rb
        tmov = np.arange(3, nv - 1, 2)  # t_1 .. t_{m-1} move
        dt = d0[tmov]
        floor = 1e-12 * (float(np.max(dt)) if dt.size else 0.0) + 1e-300
        d0[tmov] += mu * np.maximum(dt, floor) + floor
        cidx = np.arange(0, nv, 2)
        d0[cidx] += 1e-13 * (float(np.max(d0[cidx])) + 1e-300)
        # Fixed unknowns: t_0 (A, or the pinned first knot), t_m (B), c_0 when flat.
        for i in ((0, 1, nv - 1) if st.flat else (1, nv - 1)):
            d0[i] = 1.0
            rhs[i] = 0.0
            for off, arr in ((1, o1), (2, o2), (3, o3)):
                if i < nv - off:
                    arr[i] = 0.0
                if i >= off:
                    arr[i - off] = 0.0
        band = np.zeros((4, nv))
        band[3] = d0
        band[2, 1:] = o1
        band[1, 2:] = o2
        band[0, 3:] = o3
        _, sol, info = dpbsv(band, rhs)
        if info != 0 or not np.all(np.isfinite(sol)):
            return None
        dtk = sol[1::2]  # t_0 .. t_m
        return dtk[1:m] if st.flat else dtk[:m]


# ------------------------------------------------------------------ knot helpers
def _sanitize(h: np.ndarray, a: float, b: float, pinned: bool, flat: bool) -> np.ndarray | None:
    """Sorted knots in ``[A, B)`` with a small positive gap, or None if impossible."""
    n = h.size
    gap = 1e-7 * (b - a) / max(n, 1)
    h = np.sort(np.asarray(h, dtype=float))
    if pinned:
        h[0] = a
    lo = a + gap if flat and not pinned else a
    h = np.clip(h, lo, b - gap)
    k = np.arange(n) * gap
    h = np.maximum.accumulate(h - k) + k
    if pinned:
        h[0] = a
    if h[-1] >= b or (flat and h[0] <= a):
        return None
    return h


def _max_step(h: np.ndarray, d: np.ndarray, a: float, b: float, flat: bool) -> float:
    """Largest alpha <= 1 with every gap shrinking to at least ``_KEEP`` of itself."""
    hh = np.concatenate(([a], h, [b])) if flat else np.concatenate((h, [b]))
    dd = np.concatenate(([0.0], d, [0.0])) if flat else np.concatenate((d, [0.0]))
    gaps = np.diff(hh)
    dg = np.diff(dd)
    shrink = dg < 0
    if not np.any(shrink):
        return 1.0
    return float(min(1.0, np.min((1.0 - _KEEP) * gaps[shrink] / -dg[shrink])))


def _lm(
    prob: _Problem, h0: np.ndarray, pinned: bool, max_iter: int = 60
) -> _State:
    """Levenberg--Marquardt in the knots with the values projected out."""
    st = prob.state(h0)
    mu = 1e-4
    a, b = prob.domain
    small = 0
    for _ in range(max_iter):
        if st.ssr <= 1e-30 * prob.scale:
            break
        d = prob.step(st, mu)
        if d is None:
            mu *= 10.0
            if mu > 1e12:
                break
            continue
        if pinned and not st.flat:
            d = d.copy()
            d[0] = 0.0
        alpha = _max_step(st.h, d, a, b, st.flat)
        hn = st.h + alpha * d
        if pinned:
            hn[0] = a
        moved = float(np.max(np.abs(hn - st.h))) if hn.size else 0.0
        if not np.all(np.diff(hn) > 0) or hn[-1] >= b or (st.flat and hn[0] <= a):
            mu *= 10.0
            if mu > 1e12:
                break
            continue
        new = prob.state(hn)
        if new.ssr < st.ssr:
            gain = (st.ssr - new.ssr) / st.ssr
            st = new
            mu = max(mu * 0.2, 1e-12)
            if gain < 1e-13 or moved < 1e-14 * prob.length:
                small += 1
                if small >= 2:
                    break
            else:
                small = 0
        else:
            if moved < 1e-15 * prob.length:
                break
            mu *= 8.0
            if mu > 1e12:
                break
    return st


def _piece_ssr(prob: _Problem, st: _State) -> np.ndarray:
    return np.bincount(st.j, prob.w * st.r * st.r, minlength=st.t.size - 1)


def _insert_candidates(prob: _Problem, st: _State, count: int) -> list[np.ndarray]:
    """Knot vectors with one knot added, in each of the ``count`` worst pieces."""
    per = _piece_ssr(prob, st)
    order = np.argsort(-per, kind="stable")
    out = []
    for p in order[:count]:
        lo, hi = st.t[p], st.t[p + 1]
        inside = (prob.x > lo) & (prob.x < hi)
        if np.any(inside):
            xs = prob.x[inside]
            wr = prob.w[inside] * st.r[inside] ** 2
            # split where half of the piece's residual lies on either side
            cum = np.cumsum(wr)
            pos = float(xs[min(np.searchsorted(cum, 0.5 * cum[-1]), xs.size - 1)])
            if not lo < pos < hi:
                pos = 0.5 * (lo + hi)
        else:
            pos = 0.5 * (lo + hi)
        out.append(np.sort(np.concatenate((st.h, [pos]))))
    return out


def _grow(prob: _Problem, h: np.ndarray, n: int, pinned: bool) -> _State:
    """Add knots one at a time where the residual is largest, re-optimising each time."""
    st = _lm(prob, h, pinned)
    while st.h.size < n:
        best = None
        for cand in _insert_candidates(prob, st, 2):
            flat = bool(cand[0] > prob.a)
            cand = _sanitize(cand, prob.a, prob.b, pinned, flat)
            if cand is None:
                continue
            s2 = _lm(prob, cand, pinned)
            if best is None or s2.ssr < best.ssr:
                best = s2
        if best is None:
            break
        st = best
    return st


def _reseed(prob: _Problem, st: _State, pinned: bool) -> _State:
    """Merge collapsed knots and re-seed the freed ones in the worst pieces."""
    h = st.h
    close = np.flatnonzero(np.diff(h) < _COLLAPSE * prob.length)
    if close.size == 0:
        return st
    keep = np.ones(h.size, dtype=bool)
    keep[close + 1] = False
    if pinned:
        keep[0] = True
    base = h[keep]
    cur = _lm(prob, base, pinned) if base.size else st
    while cur.h.size < h.size:
        cands = _insert_candidates(prob, cur, 1)
        cand = _sanitize(cands[0], prob.a, prob.b, pinned, bool(cands[0][0] > prob.a))
        if cand is None:
            return st
        cur = _lm(prob, cand, pinned)
    return cur if cur.ssr < st.ssr else st


def _polish(prob: _Problem, st: _State, pinned: bool, rounds: int = 3) -> _State:
    """Try each knot a few sample spacings to either side; restart LM from any gain."""
    x = prob.x
    for _ in range(rounds):
        h = st.h
        improved = False
        # positions of the knots among the samples
        idx = np.searchsorted(x, h)
        best = st
        for k in range(h.size):
            if pinned and k == 0:
                continue
            lo = h[k - 1] if k > 0 else prob.a
            hi = h[k + 1] if k + 1 < h.size else prob.b
            for off in (-3, -1, 1, 3):
                i = int(np.clip(idx[k] + off, 0, x.size - 1))
                pos = x[i] + (0.5 * (x[min(i + 1, x.size - 1)] - x[i]) if off > 0 else 0.0)
                if not lo < pos < hi or pos == h[k]:
                    continue
                cand = h.copy()
                cand[k] = pos
                if cand[0] <= prob.a and not pinned:
                    continue
                trial = prob.state(cand)
                if trial.ssr < best.ssr * (1 - 1e-12):
                    best = trial
        if best is not st:
            st2 = _lm(prob, best.h, pinned)
            if st2.ssr < st.ssr:
                st = st2
                improved = True
        if not improved:
            break
    return st


# ------------------------------------------------------------------------ starts
def _second_derivative(prob: _Problem) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Nodes, |f''| estimate and local weight density there."""
    x, y, w = prob.x, prob.y, prob.w
    ux, inv = np.unique(x, return_inverse=True)
    wsum = np.bincount(inv, w, minlength=ux.size)
    ymean = np.bincount(inv, w * y, minlength=ux.size) / np.maximum(wsum, 1e-300)
    if prob.is_function and ux.size >= 3:
        sl = np.diff(ymean) / np.diff(ux)
        f2 = np.zeros(ux.size)
        f2[1:-1] = 2.0 * np.abs(np.diff(sl)) / (ux[2:] - ux[:-2])
        f2[0], f2[-1] = f2[1], f2[-2]
        width = np.empty(ux.size)
        width[1:-1] = 0.5 * (ux[2:] - ux[:-2])
        width[0] = 0.5 * (ux[1] - ux[0])
        width[-1] = 0.5 * (ux[-1] - ux[-2])
        dens = wsum / width
        return ux, f2, dens
    # Data: a smoothing pilot fit with uniform knots; its slope changes estimate f''.
    npil = int(np.clip(ux.size // 8, 2, 48))
    tp = np.linspace(prob.a, prob.b, npil + 1)
    cp = hat_lstsq(x, y, tp, w if prob.weighted else None, False)
    sl = np.diff(cp) / np.diff(tp)
    hstep = tp[1] - tp[0]
    f2 = np.zeros(tp.size)
    f2[1:-1] = np.abs(np.diff(sl)) / hstep
    f2[0], f2[-1] = f2[1], f2[-2]
    if f2.size >= 3:
        f2 = np.convolve(np.pad(f2, 1, mode="edge"), [0.25, 0.5, 0.25], mode="valid")
    jw = np.clip(np.searchsorted(tp, x, side="right") - 1, 0, npil - 1)
    pw = np.bincount(jw, w, minlength=npil) / hstep
    dens = np.concatenate(([pw[0]], 0.5 * (pw[1:] + pw[:-1]), [pw[-1]]))
    return tp, f2, dens


def density_knots(target: Target, n_units: int, flat_first: bool) -> np.ndarray:
    """Knots equidistributing the asymptotically optimal L2 density ``(w f''^2)^(1/5)``.

    Parameters
    ----------
    target : Target
        Samples to fit; ``f''`` is estimated from them (smoothed for data).
    n_units : int
        Number of knots.
    flat_first : bool
        Place ``n`` knots inside ``(A, B)`` (``n + 1`` pieces, the first flat) or
        pin the first at ``A`` (``n`` sloped pieces).

    Returns
    -------
    ndarray
        Increasing knots in ``[A, B)``.

    Examples
    --------
    >>> from relusum.targets import make_target
    >>> from relusum.fitting.free_l2 import density_knots
    >>> h = density_knots(make_target("x**2", (0, 1), samples=101), 4, flat_first=False)
    >>> h.round(2).tolist()
    [0.0, 0.25, 0.5, 0.75]
    """
    prob = _Problem(target)
    return _density(prob, int(n_units), flat_first, pinned=not flat_first)


def _density(prob: _Problem, n: int, flat: bool, pinned: bool) -> np.ndarray:
    z, f2, dens = _second_derivative(prob)
    rho = (np.maximum(dens, 0.0) * f2 * f2) ** 0.2
    total = np.sum(0.5 * (rho[1:] + rho[:-1]) * np.diff(z))
    if not np.isfinite(total) or total <= 0:
        rho = np.ones_like(z)
    else:
        rho = rho / total + 0.05 / (prob.b - prob.a)
    cum = np.concatenate(([0.0], np.cumsum(0.5 * (rho[1:] + rho[:-1]) * np.diff(z))))
    cum /= cum[-1]
    zz = np.concatenate(([prob.a], z, [prob.b]))
    cc = np.concatenate(([0.0], cum, [1.0]))
    levels = np.arange(1, n + 1) / (n + 1) if flat else np.arange(n) / n
    return np.interp(levels, cc, zz)


def _quantile_knots(prob: _Problem, n: int, flat: bool) -> np.ndarray:
    cw = np.cumsum(prob.w)
    cw /= cw[-1]
    levels = np.arange(1, n + 1) / (n + 1) if flat else np.arange(n) / n
    idx = np.clip(np.searchsorted(cw, levels), 0, prob.x.size - 1)
    return prob.x[idx]


def _segmentation_knots(prob: _Problem, n: int, flat: bool) -> np.ndarray | None:
    """Boundaries of the best discontinuous n(+1)-piece linear fit (dynamic programming)."""
    x, y, w = prob.x, prob.y, prob.w
    npts = x.size
    pieces = n + 1 if flat else n
    if pieces < 2 or npts < 2 * pieces or float(npts) ** 2 * pieces > _DP_WORK:
        return None
    # prefix sums for the weighted linear fit of samples i..j-1 (x centred for accuracy)
    xc = (x - prob.a) / prob.length
    cols = [w, w * xc, w * xc * xc, w * y, w * xc * y, w * y * y]
    pre = [np.concatenate(([0.0], np.cumsum(cv))) for cv in cols]
    i = np.arange(npts + 1)
    ii, jj = np.meshgrid(i, i, indexing="ij")  # segment [ii, jj)
    s0, s1, s2, sy, sxy, syy = (p[jj] - p[ii] for p in pre)
    det = s0 * s2 - s1 * s1
    with np.errstate(invalid="ignore", divide="ignore"):
        beta = np.where(det > 1e-14 * np.maximum(s0 * s2, 1e-300), (s0 * sxy - s1 * sy) / det, 0.0)
        alpha = np.where(s0 > 0, (sy - beta * s1) / np.where(s0 > 0, s0, 1.0), 0.0)
    cost = syy - alpha * sy - beta * sxy
    cost = np.maximum(cost, 0.0)
    cost[jj - ii < 2] = np.inf
    cost[jj <= ii] = np.inf
    if flat:
        # the first piece is a constant
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(s0 > 0, sy / np.where(s0 > 0, s0, 1.0), 0.0)
        cost0 = np.maximum(syy - mean * sy, 0.0)[0]
        cost0[:2] = np.inf
    else:
        cost0 = cost[0]
    best = cost0.copy()
    arg = []
    for _ in range(pieces - 1):
        tot = best[:, None] + cost
        a = np.argmin(tot, axis=0)
        arg.append(a)
        best = tot[a, i]
    if not np.isfinite(best[npts]):
        return None
    cuts = []
    end = npts
    for a in reversed(arg):
        start = int(a[end])
        cuts.append(start)
        end = start
    cuts = np.array(sorted(cuts))
    # a knot half-way between the last sample of one piece and the first of the next
    knots = 0.5 * (x[cuts - 1] + x[cuts])
    if flat:
        return knots
    return np.concatenate(([prob.a], knots))


# ---------------------------------------------------------------------------- API
def _check_units(prob: _Problem, n_units: object, target: Target) -> int:
    if isinstance(n_units, bool) or not isinstance(n_units, (int, np.integer)) or n_units < 1:
        raise ValueError(f"n_units must be a positive integer, got {n_units!r}")
    n = int(n_units)
    distinct = int(np.count_nonzero(np.diff(prob.x))) + 1
    if n > distinct - 1:
        what = "data points" if target.fn is None else "samples"
        raise ValueError(
            f"{n} units need at least {n + 1} distinct x values, but the {what} have "
            f"{distinct}; use at most {max(distinct - 1, 0)} units"
            + ("" if target.fn is None else " or more samples")
        )
    return n


def _check_init(init: ArrayLike, prob: _Problem, n: int) -> np.ndarray:
    h = np.asarray(init, dtype=float).ravel()
    if h.size == 0:
        raise ValueError("init must contain at least one knot")
    if not np.all(np.isfinite(h)):
        raise ValueError("init knots must be finite numbers")
    h = np.sort(h)
    a, b = prob.domain
    if h[0] < a or h[-1] >= b:
        raise ValueError(
            f"init knots must lie in [A, B) = [{a:.6g}, {b:.6g}); "
            f"got knots from {h[0]:.6g} to {h[-1]:.6g}"
        )
    if np.any(np.diff(h) == 0):
        raise ValueError("init knots must be distinct")
    if h.size > n:
        raise ValueError(f"init has {h.size} knots, more than n_units={n}")
    return h


def knot_ssr(target: Target, knots: ArrayLike) -> float:
    """The weighted sum of squared residuals of the best fit with the given knots.

    Examples
    --------
    >>> from relusum.targets import make_target
    >>> from relusum.fitting.free_l2 import knot_ssr
    >>> knot_ssr(make_target("abs(x)", (-1, 1), samples=11), [-1.0, 0.0]) < 1e-25
    True
    """
    prob = _Problem(target)
    h = np.sort(np.asarray(knots, dtype=float).ravel())
    return prob.ssr(h)


def knot_gradient(target: Target, knots: ArrayLike) -> np.ndarray:
    """The analytic gradient of :func:`knot_ssr` with respect to the knots.

    A knot at ``A`` is the start of a sloped first piece; its derivative is the
    one-sided derivative for moving it right while the first piece stays sloped.

    Examples
    --------
    >>> from relusum.targets import make_target
    >>> from relusum.fitting.free_l2 import knot_gradient
    >>> g = knot_gradient(make_target("x**2", (0, 1), samples=101), [0.3, 0.6])
    >>> g.shape
    (2,)
    """
    prob = _Problem(target)
    h = np.sort(np.asarray(knots, dtype=float).ravel())
    return prob.gradient(prob.state(h))


def _progress_bar(total: int, progress: bool | None):
    from tqdm import tqdm

    if progress is False:
        return tqdm(total=total, disable=True)
    if progress is None and not sys.stderr.isatty():
        return tqdm(total=total, disable=True)
    return tqdm(
        total=total,
        desc="free knots (l2)",
        file=sys.stderr,
        delay=0.0 if progress else 2.0,
        leave=False,
    )


def free_knot_l2(
    target: Target,
    n_units: int,
    *,
    init: np.ndarray | None = None,
    progress: bool | None = None,
    seed: int = 0,
    pin_first: bool = False,
) -> ReluSum:
    """The best least-squares sum of ``n_units`` shifted ReLUs with free knots.

    Minimises the weighted sum of squared residuals on the target's samples
    over the knots (anywhere in ``[A, B)``) and the weights together.  A first
    knot right of ``A`` gives ``n + 1`` pieces with a flat first piece, a first
    knot at ``A`` gives ``n`` sloped pieces; both are tried.  The result is
    never worse on the samples than the uniform-knot least-squares fit, nor
    than the fit from ``init``.

    Parameters
    ----------
    target : Target
        From :func:`relusum.targets.make_target`; its ``x, y, weight`` are fitted.
    n_units : int
        Number of ReLU terms, at most (distinct x values) - 1.
    init : array_like, optional
        Knots to warm-start from (distinct, in ``[A, B)``, at most ``n_units``
        of them); with fewer than ``n_units`` the missing knots are inserted
        one at a time in the piece with the largest residual, so a fit with
        ``n + 1`` units started from the ``n``-unit optimum is never worse.
    progress : bool, optional
        Show a progress bar on stderr (None: only on a terminal, after 2 s).
    seed : int
        Seed of the local generator used for restarts (the result is
        deterministic for a given seed).
    pin_first : bool
        Pin the first knot at ``A``: exactly ``n`` sloped pieces, the same
        family as ``n``-segment continuous piecewise-linear regression.

    Returns
    -------
    ReluSum
        With ``domain = target.domain``.

    Raises
    ------
    ValueError
        For a bad ``n_units`` (not a positive integer, or more than the
        samples can determine) or bad ``init`` knots.

    Examples
    --------
    >>> from relusum.targets import make_target
    >>> from relusum.fitting.free_l2 import free_knot_l2
    >>> t = make_target("abs(x - 0.3)", (0, 1), samples=200)
    >>> s = free_knot_l2(t, 1)
    >>> round(float(s.knots[0]), 6)
    0.3
    """
    prob = _Problem(target)
    n = _check_units(prob, n_units, target)
    h_init = None if init is None else _check_init(init, prob, n)
    rng = np.random.default_rng(seed)
    a, b = prob.domain

    # Start candidates: (knots, pinned).
    starts: list[tuple[np.ndarray, bool]] = []
    modes = [True] if pin_first else [True, False]
    for pinned in modes:
        flat = not pinned
        starts.append((_density(prob, n, flat, pinned), pinned))
        if pinned:
            starts.append((uniform_knots(prob.domain, n), True))
        if not prob.is_function:
            starts.append((_quantile_knots(prob, n, flat), pinned))
            seg = _segmentation_knots(prob, n, flat)
            if seg is not None:
                starts.append((seg, pinned))

    # The uniform-knot fit: the result is never worse than this.
    best = prob.state(uniform_knots(prob.domain, n))
    best_pinned = True

    total = len(starts) + (1 if h_init is not None else 0) + 2
    bar = _progress_bar(total, progress)
    try:
        if h_init is not None:
            pinned = bool(pin_first or h_init[0] == a)
            hi = h_init.copy()
            if pin_first and hi[0] != a:
                hi = np.concatenate(([a], hi[: n - 1])) if hi.size == n else np.concatenate(
                    ([a], hi)
                )
            hi = _sanitize(np.unique(hi), a, b, pinned, bool(hi[0] > a))
            if hi is not None:
                st = _grow(prob, hi, n, pinned)
                if st.h.size == n and st.ssr < best.ssr:
                    best, best_pinned = st, pinned
            bar.update(1)
        seen: set[bytes] = set()
        results: list[tuple[_State, bool]] = []
        for h0, pinned in starts:
            bar.update(1)
            hs = _sanitize(h0, a, b, pinned, not pinned)
            if hs is None or hs.tobytes() in seen:
                continue
            seen.add(hs.tobytes())
            st = _lm(prob, hs, pinned)
            st = _reseed(prob, st, pinned)
            results.append((st, pinned))
        results.sort(key=lambda p: p[0].ssr)
        # polish the best of each mode
        done = set()
        for st, pinned in results:
            if pinned in done:
                continue
            done.add(pinned)
            st = _polish(prob, st, pinned)
            if st.ssr < best.ssr:
                best, best_pinned = st, pinned
            bar.update(1)
        # a few random restarts around the best, from the seeded local generator
        if not prob.is_function and best.h.size > 1:
            for _ in range(2):
                jitter = best.h + rng.normal(0.0, 0.5, best.h.size) * np.gradient(best.h)
                hs = _sanitize(jitter, a, b, best_pinned, not best_pinned)
                if hs is None:
                    continue
                st = _polish(prob, _lm(prob, hs, best_pinned), best_pinned)
                if st.ssr < best.ssr:
                    best = st
    finally:
        bar.close()
    return values_to_relusum(best.t, best.c, best.flat, prob.domain)
