"""Free-knot least squares: the best weighted-L2 ReLU sum with ``n`` knots anywhere in ``[A, B)``.

Problem
    Minimise ``SSR(h) = min_c sum_i w_i (f_{h,c}(x_i) - y_i)^2`` over ordered knots
    ``h_1 < ... < h_n`` in ``[A, B)``, where ``f_{h,c}`` is the continuous
    piecewise-linear function with values ``c`` at its breakpoints.  Two shapes
    are possible: ``h_1 > A`` gives ``n + 1`` pieces with a flat first piece,
    ``h_1 = A`` gives ``n`` sloped pieces (the limit of the first as ``h_1 -> A``).
    Both are searched and the better is kept.

Variable projection
    For fixed knots the values ``c`` are the exact banded least-squares solution
    of :func:`relusum.fitting.hat.hat_lstsq` (the same tridiagonal normal
    equations, assembled here from per-piece sums that the step below reuses;
    singular cases go to ``hat_lstsq`` itself).  With the values held, moving
    breakpoint ``t_k`` changes the function by ``df/dt_k = -s(x) phi_k(x)``
    (``phi_k`` the hat of ``t_k``, ``s(x)`` the slope of the piece holding ``x``):
    a sample in piece ``j`` has the Jacobian row ``[(1 - lam), lam] (x) [1, -s_j]``
    on the unknowns ``(c_j, t_j, c_{j+1}, t_{j+1})``.  With the unknowns
    interleaved as ``(c_0, t_0, c_1, t_1, ...)`` the Gauss--Newton normal matrix is
    banded (half-bandwidth 3) and is assembled from per-piece sums in
    ``O(N + n)``: no ``N x n`` matrix is ever formed.  The knot part of the joint
    Levenberg--Marquardt step is taken and the values are re-projected exactly;
    by the envelope theorem the SSR gradient in ``h`` is ``2 J_h^T W r`` at the
    projected values (:func:`knot_gradient`, checked against finite differences
    in the tests).

Safeguards
    Steps are cut so that no gap between knots (or between a knot and ``B``,
    and ``A`` when the first piece is flat) shrinks below a tenth in one step.
    Knots that collapse or are stranded where ``f''`` vanishes (zero weight, so
    Gauss--Newton hardly moves them) are dropped and re-seeded in the piece
    with the largest residual, kept when that lowers the SSR.

False minima
    Wherever a knot crosses a sample the sample SSR has a kink, so it has many
    shallow minima a sample apart.  The derivative-free polish is a dynamic
    program over cut positions: every knot may move to any sample gap within
    ``W`` samples (``W = 3, 8, 20``), the best *discontinuous* segmentation with
    those cuts is found exactly in ``O(n W^2)`` from prefix sums, and LM makes it
    continuous again; kept only if better.  Sparse data also get single-knot
    moves (one batched evaluation) and seeded basin hopping, and small data
    sets a vectorised differential evolution (scipy) before LM.

Starts
    Knots that equidistribute ``(w |f''|^2)^(1/5)`` (the asymptotically optimal
    L2 density; ``f''`` by finite differences for a function, from a smoothed
    pilot fit for data), uniform knots, quantiles of the data, the best
    discontinuous segmentation on about 200 candidate cuts (dynamic
    programming, denser where the density is larger), and an optional warm
    start ``init`` (knots inserted where the residual is largest when it has
    fewer than ``n``).  The uniform-knot least-squares fit is always a
    candidate, so the result is never worse than it.  Everything is
    deterministic (a local generator seeded by ``seed``).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy.linalg.lapack import dpbsv, dptsv

from relusum.fitting.fixed import breakpoints_for, check_capacity, check_n_units, uniform_knots
from relusum.fitting.hat import hat_lstsq, values_to_relusum
from relusum.model import ReluSum
from relusum.targets import Target

__all__ = ["free_knot_l2", "knot_ssr", "knot_gradient", "density_knots"]

#: A gap between knots may shrink to at most this fraction of itself in one step.
_KEEP = 0.1
#: Relative size (of ``B - A``) below which two knots count as collapsed.
_COLLAPSE = 1e-9
#: LM stops when the Gauss--Newton model predicts a smaller relative SSR gain.
_RTOL = 1e-11
#: Largest ``N**2 * n`` for which the exact discontinuous segmentation start is computed.
_DP_WORK = 2.5e6


# --------------------------------------------------------------------------- problem
@dataclass
class _State:
    h: np.ndarray  # knots
    t: np.ndarray  # breakpoints on the domain
    flat: bool
    c: np.ndarray  # values at t
    lam: np.ndarray  # local coordinate of each sample
    r: np.ndarray  # residual f - y
    ssr: float
    gram: tuple[np.ndarray, np.ndarray, np.ndarray]  # per-piece hat sums
    starts: np.ndarray  # first sample of each piece
    counts: np.ndarray  # samples in each piece


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
        self.predicted = 0.0
        self._buf = np.empty((5, self.x.size))
        self._prefix: list[np.ndarray] | None = None

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
        # x is sorted: piece k holds the samples [starts[k], starts[k+1])
        starts = np.concatenate(([0], np.searchsorted(x, t[1:-1], side="left")))
        counts = np.diff(np.concatenate((starts, [x.size])))
        lam = np.repeat(t[:-1], counts)
        np.subtract(x, lam, out=lam)
        lam *= np.repeat(1.0 / np.diff(t), counts)
        # per-sample products written into one reusable (5, N) buffer (no temporaries)
        buf = self._buf
        np.multiply(w, lam, out=buf[4])  # wb
        np.subtract(w, buf[4], out=buf[3])  # wa
        np.multiply(buf[3], lam, out=buf[1])  # wa * lam
        np.subtract(buf[3], buf[1], out=buf[0])  # wa * (1 - lam)
        np.multiply(buf[4], lam, out=buf[2])  # wb * lam
        np.multiply(buf[3], self.y, out=buf[3])  # wa * y
        np.multiply(buf[4], self.y, out=buf[4])  # wb * y
        aa, ab, bb, ya, yb = self._piece_sums(buf, starts, counts)
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
        r = np.repeat(np.diff(c), counts)
        r *= lam
        r += np.repeat(c[:-1], counts)
        r -= self.y
        # einsum, not BLAS dot: a threaded ddot stalls on a busy machine
        if self.weighted:
            ssr = float(np.einsum("i,i,i->", w, r, r))
        else:
            ssr = float(np.einsum("i,i->", r, r))
        self.evaluations += 1
        return _State(h, t, flat, c, lam, r, ssr, (aa, ab, bb), starts, counts)

    def ssr(self, h: np.ndarray) -> float:
        return self.state(h).ssr

    def prefix(self) -> list[np.ndarray]:
        """Prefix sums of w, w u, w u^2, w y, w u y, w y^2 (u = (x - A) / (B - A)), cached."""
        if self._prefix is None:
            w, y = self.w, self.y
            u = (self.x - self.a) / self.length
            cols = (w, w * u, w * u * u, w * y, w * u * y, w * y * y)
            self._prefix = [np.concatenate(([0.0], np.cumsum(cv))) for cv in cols]
        return self._prefix

    @staticmethod
    def _piece_sums(stack: np.ndarray, starts: np.ndarray, counts: np.ndarray):
        """Sums of each row over the contiguous pieces (``reduceat``, empty pieces 0)."""
        size = stack.shape[-1]
        sums = np.add.reduceat(stack, np.minimum(starts, size - 1), axis=-1)
        sums[..., counts == 0] = 0.0
        return tuple(sums) if sums.ndim == 2 else sums

    def batch_ssr(self, hs: np.ndarray, flat: bool) -> np.ndarray:
        """SSR for many knot vectors at once (rows of ``hs``, sorted, same shape).

        All systems go into one block-tridiagonal solve; pieces without samples
        get a tiny ridge instead of the exact minimum-norm treatment, which is
        fine for the global search that uses this.
        """
        k, n = hs.shape
        a, b = self.domain
        if flat:
            t = np.concatenate((np.full((k, 1), a), hs, np.full((k, 1), b)), axis=1)
        else:
            t = np.concatenate((hs, np.full((k, 1), b)), axis=1)
        m = t.shape[1] - 1
        span = 4.0 * self.length
        rows = np.arange(k)[:, None] * span
        tf = (t - a + rows).ravel()
        xf = ((self.x - a)[None, :] + rows).ravel()
        g = np.searchsorted(tf, xf, side="right") - 1
        base = np.repeat(np.arange(k) * (m + 1), self.x.size)
        loc = np.clip(g - base, 0, m - 1)
        gi = base + loc  # breakpoint index of the left end, global
        dt = np.diff(tf)
        lam = (xf - tf[gi]) / dt[gi]
        om = 1.0 - lam
        w = np.tile(self.w, k)
        y = np.tile(self.y, k)
        pid = np.repeat(np.arange(k) * m, self.x.size) + loc  # global piece id
        nb = k * m
        wa, wb = w * om, w * lam
        aa = np.bincount(pid, wa * om, minlength=nb).reshape(k, m)
        ab = np.bincount(pid, wa * lam, minlength=nb).reshape(k, m)
        bb = np.bincount(pid, wb * lam, minlength=nb).reshape(k, m)
        ya = np.bincount(pid, wa * y, minlength=nb).reshape(k, m)
        yb = np.bincount(pid, wb * y, minlength=nb).reshape(k, m)
        diag = np.zeros((k, m + 1))
        diag[:, :m] += aa
        diag[:, 1:] += bb
        rhs = np.zeros((k, m + 1))
        rhs[:, :m] += ya
        rhs[:, 1:] += yb
        off = np.zeros((k, m + 1))
        off[:, :m] = ab
        if flat:
            diag[:, 1] += aa[:, 0] + 2.0 * ab[:, 0]
            rhs[:, 1] += ya[:, 0]
            diag[:, 0] = 1.0
            rhs[:, 0] = 0.0
            off[:, 0] = 0.0
        diag += 1e-10 * np.max(diag, axis=1, keepdims=True) + 1e-300
        _, _, sol, _ = dptsv(diag.ravel(), off.ravel()[:-1], rhs.ravel())
        c = sol.reshape(k, m + 1)
        if flat:
            c[:, 0] = c[:, 1]
        cf = c.ravel()
        r = cf[gi] * om + cf[gi + 1] * lam - y
        return np.bincount(np.repeat(np.arange(k), self.x.size), w * r * r, minlength=k)

    # ------------------------------------------------------------ gauss-newton
    def _sums(self, st: _State) -> tuple[np.ndarray, ...]:
        aa, ab, bb = (v.copy() for v in st.gram)
        buf = self._buf
        np.multiply(self.w, st.r, out=buf[0])
        np.multiply(buf[0], st.lam, out=buf[1])
        rs, rb = self._piece_sums(buf[:2], st.starts, st.counts)
        ra = rs - rb
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
        for i in (0, 1, nv - 1) if st.flat else (1, nv - 1):
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
        # Predicted SSR reduction of the (damped) Gauss--Newton model, >= sol . rhs.
        self.predicted = max(float(np.dot(sol, rhs)), 0.0)
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


def _lm(prob: _Problem, h0: np.ndarray, pinned: bool, max_iter: int = 50) -> _State:
    """Levenberg--Marquardt in the knots with the values projected out.

    Stops when the Gauss--Newton model predicts a relative SSR gain below
    ``1e-12`` (or the fit is exact), so converged runs do not idle.
    """
    st = prob.state(h0)
    mu, nu = 1e-6, 2.0
    slow = 0
    a, b = prob.domain
    for _ in range(max_iter):
        if st.ssr <= 1e-30 * prob.scale:
            break
        d = prob.step(st, mu)
        if d is None:
            mu, nu = mu * nu, nu * 2.0
            if mu > 1e10:
                break
            continue
        if pinned and not st.flat:
            d[0] = 0.0
        pred = prob.predicted
        if pred <= _RTOL * st.ssr and mu <= 1e-3:
            break
        alpha = _max_step(st.h, d, a, b, st.flat)
        hn = st.h + alpha * d
        if pinned:
            hn[0] = a
        ok = bool(np.all(np.diff(hn) > 0) and hn[-1] < b and not (st.flat and hn[0] <= a))
        new = prob.state(hn) if ok else None
        if new is not None and new.ssr < st.ssr:
            gain = st.ssr - new.ssr
            rho = gain / max(alpha * pred, 1e-300)
            st = new
            mu = max(mu * max(1.0 / 3.0, 1.0 - (2.0 * min(rho, 1.0) - 1.0) ** 3), 1e-12)
            nu = 2.0
            if gain <= 0.1 * _RTOL * st.ssr and pred <= _RTOL * st.ssr:
                break
            slow = slow + 1 if gain <= 1e-8 * st.ssr else 0
            if slow >= 3:  # creeping along kinks where knots cross samples
                break
        else:
            if pred <= _RTOL * st.ssr:
                break
            mu, nu = mu * nu, nu * 2.0
            if mu > 1e4:  # a kink (knot on a sample) or converged: the polish takes over
                break
    return st


def _piece_ssr(prob: _Problem, st: _State) -> np.ndarray:
    return prob._piece_sums(prob.w * st.r * st.r, st.starts, st.counts)


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


def _removal_cost(prob: _Problem, st: _State, pinned: bool) -> np.ndarray:
    """A cheap estimate of the SSR increase when each knot is dropped.

    Dropping knot ``k`` straightens the function between its neighbours; the
    largest change is ``|w_k| d_l d_r / (d_l + d_r)`` and the SSR grows by about
    a third of its square times the weight of the samples there.
    """
    t, c = st.t, st.c
    s = np.diff(c) / np.diff(t)
    h = st.h
    # knot k sits at breakpoint index k+1 (flat) or k (pinned / sloped first)
    off = 1 if st.flat else 0
    bi = np.arange(h.size) + off
    left = np.where(bi > 0, t[np.maximum(bi - 1, 0)], t[0])
    right = t[bi + 1]
    wk = s[bi] - np.where(bi > 0, s[np.maximum(bi - 1, 0)], 0.0)
    dl = h - left
    dr = right - h
    dev = np.abs(wk) * dl * dr / np.maximum(dl + dr, 1e-300)
    cw = np.concatenate(([0.0], np.cumsum(prob.w)))
    mass = cw[np.searchsorted(prob.x, right, side="right")] - cw[np.searchsorted(prob.x, left)]
    cost = dev * dev * mass / 3.0
    cost[np.diff(np.concatenate((h, [prob.b]))) < _COLLAPSE * prob.length] = 0.0
    if pinned:
        cost[0] = np.inf
    return cost


def _swap(prob: _Problem, st: _State, pinned: bool, rounds: int = 4, tries: int = 2) -> _State:
    """Move the least useful knots to the pieces with the largest residual.

    Knots with (nearly) zero weight -- collapsed pairs, knots stranded where
    ``f''`` vanishes -- barely move under Gauss--Newton because the SSR hardly
    depends on them; each round drops the knot whose removal costs least,
    inserts one where the residual is largest, re-optimises, and keeps the
    result only if the SSR fell.
    """
    if st.h.size < 2:
        return st
    for _ in range(rounds):
        cost = _removal_cost(prob, st, pinned)
        order = np.argsort(cost, kind="stable")
        per = _piece_ssr(prob, st)
        improved = False
        for k in order[:tries]:
            if not np.isfinite(cost[k]) or cost[k] >= 0.5 * float(np.max(per)):
                break
            base = np.delete(st.h, k)
            tmp = prob.state(base) if base.size else None
            if tmp is None:
                break
            for cand in _insert_candidates(prob, tmp, 1):
                cand = _sanitize(cand, prob.a, prob.b, pinned, bool(cand[0] > prob.a))
                if cand is None:
                    continue
                new = _lm(prob, cand, pinned)
                if new.ssr < st.ssr * (1.0 - 1e-12):
                    st = new
                    improved = True
            if improved:
                break
        if not improved:
            break
    return st


def _polish(prob: _Problem, st: _State, pinned: bool, rounds: int = 2) -> _State:
    """Try each knot one and two samples to either side (one batched evaluation).

    The best single move that lowers the SSR is taken and LM restarted from it.
    """
    x = prob.x
    for _ in range(rounds):
        h = st.h
        idx = np.searchsorted(x, h)
        lo = np.concatenate(([prob.a], h[:-1]))
        hi = np.concatenate((h[1:], [prob.b]))
        cands = []
        for off in (-2, -1, 1, 2):
            i = np.clip(idx + off, 1, x.size - 1)
            pos = 0.5 * (x[i - 1] + x[i])
            ok = (pos > lo) & (pos < hi) & (pos != h)
            if pinned or not st.flat:
                ok[0] = False
            for k in np.flatnonzero(ok):
                cand = h.copy()
                cand[k] = pos[k]
                cands.append(cand)
        if not cands:
            break
        hs = np.array(cands)
        vals = prob.batch_ssr(hs, st.flat)
        order = np.argsort(vals, kind="stable")[:2]
        best = st
        for i in order:
            if vals[i] < st.ssr * (1 - 1e-12):
                trial = prob.state(hs[i])
                if trial.ssr < best.ssr * (1 - 1e-12):
                    best = trial
        if best is st:
            break
        st2 = _lm(prob, best.h, pinned)
        st = st2 if st2.ssr < best.ssr else best
    return st


def _seg_cost(prob: _Problem, i: np.ndarray, j: np.ndarray, const: bool) -> np.ndarray:
    """Least-squares cost of one line (or constant) through the samples ``[i, j)``.

    From cached prefix sums, ``O(1)`` each; fewer than two samples (one for a
    constant) cost ``inf``; a segment whose x are all equal gets its mean.
    """
    s0, s1, s2, sy, sxy, syy = (p[j] - p[i] for p in prob.prefix())
    with np.errstate(invalid="ignore", divide="ignore"):
        pos = s0 > 0
        mean = np.where(pos, sy / np.where(pos, s0, 1.0), 0.0)
        cost = syy - mean * sy
        if not const:
            det = s0 * s2 - s1 * s1
            ok = det > 1e-12 * np.maximum(s0 * s2, 1e-300)
            beta = np.where(ok, (s0 * sxy - s1 * sy) / np.where(ok, det, 1.0), 0.0)
            alpha = np.where(pos, (sy - beta * s1) / np.where(pos, s0, 1.0), 0.0)
            cost = np.where(ok, syy - alpha * sy - beta * sxy, cost)
    cost = np.maximum(cost, 0.0)
    count = np.broadcast_to(j - i, cost.shape)
    return np.where(count >= (1 if const else 2), cost, np.inf)


def _window_cuts(prob: _Problem, h: np.ndarray, flat: bool, pinned: bool, window: int):
    """Best discontinuous segmentation with each cut within ``window`` samples of a knot.

    A DP over the knots in order, each layer only ``(2 window + 1)^2`` segment
    costs: ``O(n window^2)``.  Returns knots (midpoints of the chosen sample
    gaps; the pinned first knot stays at ``A``) or None.
    """
    x = prob.x
    npts = x.size
    movable = h[1:] if pinned else h
    if movable.size == 0:
        return None
    idx = np.searchsorted(x, movable)
    cand = idx[:, None] + np.arange(-window, window + 1)[None, :]
    cand = np.clip(cand, 1, npts - 1)
    valid = x[cand - 1] < x[cand]
    first_const = flat and not pinned
    best = _seg_cost(prob, np.zeros_like(cand[0]), cand[0], first_const)
    best = np.where(valid[0], best, np.inf)
    back = []
    for k in range(1, cand.shape[0]):
        a = cand[k - 1][:, None]
        b = cand[k][None, :]
        tot = best[:, None] + _seg_cost(prob, a, b, False)
        tot = np.where(valid[k][None, :] & (b > a), tot, np.inf)
        arg = np.argmin(tot, axis=0)
        back.append(arg)
        best = tot[arg, np.arange(cand.shape[1])]
    best = best + _seg_cost(prob, cand[-1], np.full_like(cand[-1], npts), False)
    if not np.any(np.isfinite(best)):
        return None
    pick = int(np.argmin(best))
    cuts = [cand[-1, pick]]
    for k in range(len(back) - 1, -1, -1):
        pick = int(back[k][pick])
        cuts.append(cand[k, pick])
    c = np.array(cuts[::-1])
    knots = 0.5 * (x[c - 1] + x[c])
    return np.concatenate(([prob.a], knots)) if pinned else knots


def _dp_refine(prob: _Problem, st: _State, pinned: bool, window: int = 3) -> _State:
    """Re-place the knots by the exact discontinuous segmentation near where they are.

    The cuts may move to any sample gap within ``window`` samples of a knot;
    dynamic programming picks the best combination (jointly, which single-knot
    moves cannot) and LM makes it continuous again.  Kept only if better.
    """
    seg = _window_cuts(prob, st.h, st.flat, pinned, window)
    if seg is None:
        return st
    hs = _sanitize(seg, prob.a, prob.b, pinned, st.flat and not pinned)
    if hs is None:
        return st
    new = _lm(prob, hs, pinned)
    return new if new.ssr < st.ssr * (1.0 - 1e-12) else st


def _hop(prob: _Problem, st: _State, pinned: bool, rng: np.random.Generator, hops: int) -> _State:
    """Basin hopping at the scale of the sample spacing.

    Where a knot crosses a sample the SSR has a kink, so the sample SSR has
    many shallow minima a sample apart.  Each hop shifts every knot by up to
    a few local sample spacings (seeded local generator), re-runs LM and keeps
    the result if the SSR fell.
    """
    x = prob.x
    n = st.h.size
    for _ in range(hops):
        h = st.h
        i = np.clip(np.searchsorted(x, h), 1, x.size - 1)
        spacing = np.maximum(x[i] - x[i - 1], 1e-12 * prob.length)
        gaps = np.diff(np.concatenate(([prob.a], h, [prob.b])))
        room = 0.3 * np.minimum(gaps[:-1], gaps[1:])
        jit = np.clip(rng.uniform(-2.5, 2.5, n) * spacing, -room, room)
        if pinned:
            jit[0] = 0.0
        cand = _sanitize(h + jit, prob.a, prob.b, pinned, not pinned and h[0] > prob.a)
        if cand is None:
            continue
        new = _lm(prob, cand, pinned)
        if new.ssr < st.ssr * (1.0 - 1e-12):
            st = new
    return st


def _evolve(
    prob: _Problem, n: int, pinned: bool, rng: np.random.Generator, max_evals: int
) -> np.ndarray | None:
    """A global search for small data: differential evolution over the free knots.

    On a few dozen points the sample SSR is so rugged (a kink wherever a knot
    crosses a point) that local moves from any start stall; the population
    search (scipy, with the seeded local generator) finds the basin and LM
    finishes.  Only used where ``max_evals`` evaluations are cheap.
    """
    from scipy.optimize import differential_evolution

    a, b = prob.domain
    free = n - 1 if pinned else n
    if free < 1:
        return None
    gap = 1e-9 * prob.length

    def objective(v: np.ndarray) -> np.ndarray:
        h = np.sort(v.T, axis=1)  # (population, free)
        if pinned:
            h = np.concatenate((np.full((h.shape[0], 1), a), h), axis=1)
        hh = np.concatenate((h, np.full((h.shape[0], 1), b)), axis=1)
        bad = np.any(np.diff(hh, axis=1) <= gap, axis=1)
        if not pinned:
            bad |= h[:, 0] <= a
        out = np.full(h.shape[0], float(prob.scale) * 10.0)
        good = ~bad
        if np.any(good):
            out[good] = prob.batch_ssr(h[good], flat=not pinned)
        return out

    pop = 10
    res = differential_evolution(
        objective,
        [(a + gap, b - gap)] * free,
        popsize=pop,
        maxiter=max(1, max_evals // (pop * free) - 1),
        tol=1e-10,
        polish=False,
        init="latinhypercube",
        rng=rng,
        vectorized=True,
        updating="deferred",
    )
    h = np.sort(res.x)
    return np.concatenate(([a], h)) if pinned else h


# ------------------------------------------------------------------------ starts
def _second_derivative(prob: _Problem) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Nodes, |f''| estimate and local weight density there."""
    x, y, w = prob.x, prob.y, prob.w
    if np.all(np.diff(x) > 0):
        ux, inv = x, np.arange(x.size)
    else:
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


def _segmentation_knots(
    prob: _Problem, n: int, flat: bool, cand: np.ndarray | None = None
) -> np.ndarray | None:
    """Cuts of the best discontinuous linear fit with n (flat: n + 1) pieces (dynamic programming).

    Cuts are restricted to the candidate sample indices ``cand`` (all of them
    for small data), while every segment's least-squares cost uses all its
    samples (prefix sums, ``O(1)`` per segment): ``O(G^2 n)`` for ``G``
    candidates.  The best *discontinuous* segmentation is a good global start
    for the continuous fit, which local moves cannot find on their own.
    """
    x = prob.x
    npts = x.size
    pieces = n + 1 if flat else n
    if cand is None:
        cand = np.flatnonzero(np.diff(x) > 0) + 1  # a cut between x[c-1] < x[c]
    else:
        cand = np.unique(cand)  # small
        cand = cand[(cand >= 1) & (cand < npts)]
        cand = cand[x[cand - 1] < x[cand]]
    if pieces < 2 or cand.size < pieces - 1:
        return None
    cuts_all = np.concatenate(([0], cand, [npts]))
    g = cuts_all.size
    if float(g) ** 2 * pieces > _DP_WORK:
        return None
    pre = [p[cuts_all] for p in prob.prefix()]
    s0, s1, s2, sy, sxy, syy = (p[None, :] - p[:, None] for p in pre)  # segment [i, j)
    det = s0 * s2 - s1 * s1
    with np.errstate(invalid="ignore", divide="ignore"):
        okdet = det > 1e-12 * np.maximum(s0 * s2, 1e-300)
        beta = np.where(okdet, (s0 * sxy - s1 * sy) / np.where(okdet, det, 1.0), 0.0)
        pos = s0 > 0
        alpha = np.where(pos, (sy - beta * s1) / np.where(pos, s0, 1.0), 0.0)
        mean = np.where(pos, sy / np.where(pos, s0, 1.0), 0.0)
    cost = np.maximum(syy - alpha * sy - beta * sxy, 0.0)
    count = cuts_all[None, :] - cuts_all[:, None]
    cost[(count < 2) | ~okdet] = np.inf
    if flat:
        first = np.maximum(syy - mean * sy, 0.0)[0]
        first[count[0] < 1] = np.inf
    else:
        first = cost[0]
    best = first
    back = []
    for _ in range(pieces - 1):
        tot = best[:, None] + cost
        arg = np.argmin(tot, axis=0)
        back.append(arg)
        best = tot[arg, np.arange(g)]
    if not np.isfinite(best[-1]):
        return None
    idx = []
    end = g - 1
    for arg in reversed(back):
        end = int(arg[end])
        idx.append(end)
    c = cuts_all[np.array(sorted(idx))]
    knots = 0.5 * (x[c - 1] + x[c])
    return knots if flat else np.concatenate(([prob.a], knots))


def _cut_candidates(prob: _Problem, pieces: int) -> np.ndarray:
    """About ``G`` candidate cut indices, denser where the L2 density is larger."""
    npts = prob.x.size
    gsize = int(np.clip(6 * pieces, 120, 240))
    if npts <= gsize + 2:
        return np.arange(1, npts)
    z, f2, dens = _second_derivative(prob)
    rho = (np.maximum(dens, 0.0) * f2 * f2) ** 0.2
    total = np.sum(0.5 * (rho[1:] + rho[:-1]) * np.diff(z))
    rho = rho / total + 1.0 / prob.length if np.isfinite(total) and total > 0 else np.ones_like(z)
    cum = np.concatenate(([0.0], np.cumsum(0.5 * (rho[1:] + rho[:-1]) * np.diff(z))))
    pos = np.interp(np.linspace(0.0, cum[-1], gsize + 2)[1:-1], cum, z)
    return np.unique(np.clip(np.searchsorted(prob.x, pos), 1, npts - 1))


# ---------------------------------------------------------------------------- API
def _check_units(prob: _Problem, n_units: object, target: Target) -> int:
    n = check_n_units(n_units)
    check_capacity(prob.x, n, data=target.fn is None)
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
    >>> s = free_knot_l2(t, 2)  # a sloped first piece, then the kink
    >>> s.knots.round(9).tolist(), s.weights.round(9).tolist()
    ([0.0, 0.3], [-1.0, 2.0])
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
        pieces = n + 1 if flat else n
        if pieces <= 48:
            seg = _segmentation_knots(prob, n, flat, _cut_candidates(prob, pieces))
            if seg is not None:
                starts.append((seg, pinned))

    # The uniform-knot fit: the result is never worse than this.
    best = prob.state(uniform_knots(prob.domain, n))

    total = len(starts) + (1 if h_init is not None else 0) + 2
    bar = _progress_bar(total, progress)
    try:
        if h_init is not None:
            pinned = bool(pin_first or h_init[0] == a)
            hi = h_init.copy()
            if pin_first and hi[0] != a:
                hi = (
                    np.concatenate(([a], hi[: n - 1]))
                    if hi.size == n
                    else np.concatenate(([a], hi))
                )
            hi = _sanitize(np.unique(hi), a, b, pinned, bool(hi[0] > a))
            if hi is not None:
                st = _grow(prob, hi, n, pinned)
                if st.h.size == n and st.ssr < best.ssr:
                    best = st
            bar.update(1)
        seen: set[bytes] = set()
        results: list[tuple[_State, bool]] = []
        for h0, pinned in starts:
            bar.update(1)
            hs = _sanitize(h0, a, b, pinned, not pinned)
            if hs is None or hs.tobytes() in seen:
                continue
            seen.add(hs.tobytes())
            results.append((_lm(prob, hs, pinned, max_iter=8), pinned))
        results.sort(key=lambda p: p[0].ssr)
        # Small data: add a global population search.
        if not prob.is_function and prob.x.size * n <= 2000:
            for pinned in modes:
                h = _evolve(prob, n, pinned, rng, 3000)
                hs = None if h is None else _sanitize(h, a, b, pinned, not pinned)
                if hs is not None:
                    results.append((_lm(prob, hs, pinned, max_iter=8), pinned))
            results.sort(key=lambda p: p[0].ssr)
        # Improve the best start of each shape: finish LM, swap useless knots,
        # re-place the cuts jointly by a windowed DP, then (where the DP did not
        # run, and for data) single-knot moves and seeded hops.
        done = set()
        for st, pinned in results:
            if pinned in done:
                continue
            done.add(pinned)
            st = _lm(prob, st.h, pinned)  # the starts ran 8 iterations: finish the best
            st = _swap(prob, st, pinned)
            for window in (3, 8, 20):
                st = _dp_refine(prob, st, pinned, window)
            if not prob.is_function:
                # sample-scale false minima on sparse data: single-knot moves
                # (O(n N) per round) and seeded basin hopping
                if st.h.size <= 32:
                    st = _polish(prob, st, pinned, rounds=1)
                st = _hop(prob, st, pinned, rng, 8)
            if st.ssr < best.ssr:
                best = st
            bar.update(1)
    finally:
        bar.close()
    return values_to_relusum(best.t, best.c, best.flat, prob.domain)
