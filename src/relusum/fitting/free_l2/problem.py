"""The free-knot least-squares problem: samples, SSR for given knots and Gauss--Newton steps.

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
``O(N + n)``: no ``N x n`` matrix is ever formed.  By the envelope theorem the
SSR gradient in ``h`` is ``2 J_h^T W r`` at the projected values.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.linalg.lapack import dpbsv, dptsv

from relusum.fitting.fixed import breakpoints_for
from relusum.fitting.hat import hat_lstsq
from relusum.targets import Target

#: A gap between knots may shrink to at most this fraction of itself in one step.
_KEEP = 0.1
#: Relative size (of ``B - A``) below which two knots count as collapsed.
_COLLAPSE = 1e-9
#: LM stops when the Gauss--Newton model predicts a smaller relative SSR gain.
_RTOL = 1e-11
#: Run LM, batched SSRs and the envelope DP in the compiled kernels of
#: :mod:`~relusum.fitting.free_l2.kernels` (tests switch it off to compare with NumPy).
COMPILED = True


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
    moments: tuple[np.ndarray, np.ndarray] | None = None  # per-piece y sums (prefix problems)


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
        self._buffer: np.ndarray | None = None
        self._prefix: list[np.ndarray] | None = None
        # nodes, |f''| and weight density of the starts (read-only once made)
        self._second: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    @property
    def _buf(self) -> np.ndarray:
        """A reusable (5, N) work buffer, allocated on first use."""
        if self._buffer is None:
            self._buffer = np.empty((5, self.x.size))
        return self._buffer

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

    def prefix_array(self) -> np.ndarray:
        """:meth:`prefix` as one C-contiguous ``(6, N + 1)`` array (for the kernels), cached."""
        if getattr(self, "_prefix_array", None) is None:
            self._prefix_array = np.ascontiguousarray(np.stack(self.prefix()))
        return self._prefix_array

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
        if type(self) is _Problem and COMPILED:
            from relusum.fitting.free_l2.kernels import batch_ssr_samples

            hs = np.ascontiguousarray(hs, dtype=float)
            return batch_ssr_samples(self.x, self.y, self.w, hs, self.a, self.b)
        return self._batch_ssr_numpy(hs, flat)

    def _batch_ssr_numpy(self, hs: np.ndarray, flat: bool) -> np.ndarray:
        """The NumPy reference of :meth:`batch_ssr` (one block-tridiagonal solve)."""
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
