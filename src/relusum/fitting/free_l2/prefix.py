"""The free-knot problem on prefix sums: full-resolution SSR and LM steps in ``O(n log N)``.

Within one piece ``[t_k, t_{k+1})`` the local coordinate ``lam = (x - t_k) / d_k``
is linear in ``x``, so every per-piece sum the solver needs -- the hat Gram
entries ``sum w (1 - lam)^2``, ``sum w (1 - lam) lam``, ``sum w lam^2``, the
right-hand sides ``sum w (1 - lam) y``, ``sum w lam y``, the residual sums of
the Gauss--Newton step and the SSR itself -- is a combination of the sums of
``w, w u, w u^2, w v, w u v, w v^2`` over the samples of the piece (``u`` the
scaled ``x``, ``v = y - mean``).  After one ``O(N)`` pass of cumulative sums
(48 bytes per point), a knot vector costs a binary search and ``O(n)``
arithmetic, with the samples split exactly where the knots fall: the same
function of the knots as :class:`~relusum.fitting.free_l2.problem._Problem`,
up to rounding (the SSR as a quadratic form loses digits when the fit is
nearly exact, so the search compares exact SSRs where it matters).
"""

from __future__ import annotations

import numpy as np
from scipy.linalg.lapack import dptsv

from relusum.fitting.fixed import breakpoints_for
from relusum.fitting.free_l2 import problem
from relusum.fitting.free_l2.condense import BinMoments
from relusum.fitting.free_l2.problem import _Problem, _State


class _PrefixProblem(_Problem):
    """Sorted samples summarised by six prefix sums; :meth:`state` without ``O(N)`` work."""

    def __init__(
        self,
        x: np.ndarray,
        y: np.ndarray,
        w: np.ndarray | None,
        domain: tuple[float, float],
    ) -> None:
        self.x = x
        self.y = y
        self.weighted = w is not None
        self.domain = (float(domain[0]), float(domain[1]))
        self.a, self.b = self.domain
        self.length = self.b - self.a
        self.is_function = False
        self.evaluations = 0
        self.predicted = 0.0
        self._buffer = None
        self.y0 = float(np.mean(y)) if w is None else float(np.sum(w * y) / np.sum(w))
        # prefix sums of w, w u, w u^2, w v, w u v, w v^2 (u = (x - A) / L, v = y - y0)
        npts = x.size
        self.prefix_sums = np.zeros((6, npts + 1))
        p = self.prefix_sums
        if problem.COMPILED:
            from relusum.fitting.free_l2.kernels import prefix_sums

            wk = np.empty(0) if w is None else np.ascontiguousarray(w, dtype=float)
            xs = np.ascontiguousarray(x, dtype=float)
            ys = np.ascontiguousarray(y, dtype=float)
            prefix_sums(xs, ys, wk, w is not None, self.a, 1.0 / self.length, self.y0, p)
            self.scale = float(p[5, -1] + p[0, -1] * self.y0 * self.y0) + 1e-300
            return
        u = x - self.a
        u *= 1.0 / self.length
        v = y - self.y0
        tmp = np.empty(npts)
        if w is None:
            p[0, 1:] = np.arange(1, npts + 1)
            np.cumsum(u, out=p[1, 1:])
            np.multiply(u, u, out=tmp)
            np.cumsum(tmp, out=p[2, 1:])
            np.cumsum(v, out=p[3, 1:])
            np.multiply(u, v, out=tmp)
            np.cumsum(tmp, out=p[4, 1:])
            np.multiply(v, v, out=tmp)
            np.cumsum(tmp, out=p[5, 1:])
        else:
            np.cumsum(w, out=p[0, 1:])
            np.multiply(w, u, out=tmp)
            np.cumsum(tmp, out=p[1, 1:])
            np.multiply(tmp, u, out=tmp)
            np.cumsum(tmp, out=p[2, 1:])
            np.multiply(w, v, out=tmp)
            np.cumsum(tmp, out=p[3, 1:])
            np.multiply(tmp, u, out=u)  # u := w v u (u is not needed any more)
            np.cumsum(u, out=p[4, 1:])
            np.multiply(tmp, v, out=tmp)
            np.cumsum(tmp, out=p[5, 1:])
        del u, v, tmp
        self.scale = float(p[5, -1] + p[0, -1] * self.y0 * self.y0) + 1e-300

    def _piece_moments(self, t: np.ndarray) -> tuple[np.ndarray, ...]:
        """Per-piece sums of the six moments, with ``u`` relative to each piece's left end."""
        idx = np.concatenate(([0], np.searchsorted(self.x, t[1:-1], side="left"), [self.x.size]))
        p = self.prefix_sums[:, idx]
        s0, s1, s2, s3, s4, s5 = np.diff(p, axis=1)
        tau = (t[:-1] - self.a) / self.length
        # shift u to the piece's left end: u' = u - tau
        s2 = s2 - 2.0 * tau * s1 + tau * tau * s0
        s1 = s1 - tau * s0
        s4 = s4 - tau * s3
        return idx, s0, s1, s2, s3, s4, s5

    def state(self, h: np.ndarray) -> _State:
        t, flat = breakpoints_for(h, self.domain)
        m = t.size - 1
        idx, s0, s1, s2, sv, suv, svv = self._piece_moments(t)
        inv = self.length / np.diff(t)  # lam = u' * inv
        sl = s1 * inv
        sll = np.maximum(s2 * inv * inv, 0.0)
        aa = np.maximum(s0 - 2.0 * sl + sll, 0.0)
        ab = np.maximum(sl - sll, 0.0)
        bb = sll
        yb = suv * inv
        ya = sv - yb
        diag = np.zeros(m + 1)
        diag[:m] += aa
        diag[1:] += bb
        rhs = np.zeros(m + 1)
        rhs[:m] += ya
        rhs[1:] += yb
        off = ab.copy()
        if flat:
            diag[1] += aa[0] + 2.0 * ab[0]
            rhs[1] += ya[0]
            diag, rhs, off = diag[1:], rhs[1:], off[1:]
        dmax = float(np.max(diag))
        ridge = 1e-13 * dmax + 1e-300
        _, _, c, info = dptsv(diag + ridge, off, rhs)
        if info != 0 or not np.all(np.isfinite(c)):
            c = np.zeros(diag.size)
        if flat:
            c = np.concatenate(([c[0]], c))
        ca, cb = c[:-1], c[1:]
        piece = svv - 2.0 * (ca * ya + cb * yb) + ca * ca * aa + 2.0 * ca * cb * ab + cb * cb * bb
        ssr = float(max(np.sum(piece), 0.0))
        self.evaluations += 1
        starts = idx[:-1]
        counts = np.diff(idx)
        return _State(
            h, t, flat, c + self.y0, None, None, ssr, (aa, ab, bb), starts, counts, (ya, yb)
        )

    def _sums(self, st: _State) -> tuple[np.ndarray, ...]:
        aa, ab, bb = (v.copy() for v in st.gram)
        ya, yb = st.moments
        c = st.c - self.y0
        ca, cb = c[:-1], c[1:]
        # sum w r (1 - lam) and sum w r lam with r = c_k (1 - lam) + c_{k+1} lam - v
        ra = ca * aa + cb * ab - ya
        rb = ca * ab + cb * bb - yb
        if st.flat:
            bb[0] = aa[0] + 2.0 * ab[0] + bb[0]
            rb[0] = ra[0] + rb[0]
            aa[0] = ab[0] = ra[0] = 0.0
        return aa, ab, bb, ra, rb

    def bin_moments(self, bins: int) -> BinMoments:
        """Equal-count bins summarised from the prefix sums (no second pass over the data)."""
        npts = self.x.size
        g = max(1, min(int(bins), npts))
        starts = (np.arange(g) * npts) // g
        idx = np.append(starts, npts)
        s0, s1, s2, sy, sxy, syy = np.diff(self.prefix_sums[:, idx], axis=1)
        origin = self.x[starts]
        tau = (origin - self.a) / self.length
        s2 = (s2 - 2.0 * tau * s1 + tau * tau * s0) * self.length**2
        s1 = (s1 - tau * s0) * self.length
        sxy = (sxy - tau * sy) * self.length
        hi = self.x[idx[1:] - 1]
        return BinMoments(
            origin.copy(), self.y0, s0, s1, s2, sy, sxy, syy, origin.copy(), hi.copy(), np.diff(idx)
        )

    def prefix(self) -> list[np.ndarray]:
        """The prefix sums (segment costs do not depend on the ``y`` offset)."""
        return list(self.prefix_sums)

    def prefix_array(self) -> np.ndarray:
        return self.prefix_sums

    def batch_ssr(self, hs: np.ndarray, flat: bool) -> np.ndarray:
        return np.array([self.state(h).ssr for h in hs])
