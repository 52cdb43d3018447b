"""Levenberg--Marquardt in the knots with the values projected out (variable projection).

Steps are cut so that no gap between knots (or between a knot and ``B``, and
``A`` when the first piece is flat) shrinks below a tenth in one step.
"""

from __future__ import annotations

import numpy as np

from relusum.fitting.free_l2 import problem
from relusum.fitting.free_l2.problem import _KEEP, _RTOL, _Problem, _State


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
    prob: _Problem,
    h0: np.ndarray,
    pinned: bool,
    max_iter: int = 50,
    hold: np.ndarray | None = None,
) -> _State:
    """Levenberg--Marquardt in the knots with the values projected out.

    Stops when the Gauss--Newton model predicts a relative SSR gain below
    ``1e-12`` (or the fit is exact), so converged runs do not idle.  On the
    samples of a :class:`_Problem` the iterations run in the compiled kernel
    :func:`~relusum.fitting.free_l2.kernels.lm_samples` (the same steps);
    this Python loop runs where it reports a singular system, and on
    prefix-sum problems.  ``hold``: a mask of knots that stay where they are
    (compiled path only; the Python loop ignores it).
    """
    # LM is deterministic: a repeated start (a move that proposes the knots LM
    # already ran from) gets the same state back without a second run
    key = (
        np.asarray(h0, dtype=float).tobytes(),
        bool(pinned),
        int(max_iter),
        None if hold is None else np.asarray(hold, dtype=bool).tobytes(),
        problem.COMPILED,
    )
    cache = prob.__dict__.setdefault("_lm_cache", {})
    st = cache.get(key)
    if st is None:
        st = cache[key] = _lm_run(prob, h0, pinned, max_iter, hold)
    return st


def _lm_run(
    prob: _Problem, h0: np.ndarray, pinned: bool, max_iter: int, hold: np.ndarray | None
) -> _State:
    """:func:`_lm` without the cache."""
    if type(prob) is _Problem and problem.COMPILED:
        from relusum.fitting.free_l2.kernels import lm_samples

        a, b = prob.domain
        h, t, flat, c, ssr, lam, res, sums, starts, ok = lm_samples(
            prob.x,
            prob.y,
            prob.w,
            np.ascontiguousarray(h0, dtype=float),
            a,
            b,
            bool(pinned),
            int(max_iter),
            float(prob.scale),
            np.zeros(h0.size, dtype=bool) if hold is None else hold,
        )
        if ok:
            m = t.size - 1
            prob.evaluations += 1
            gram = (sums[0, :m].copy(), sums[1, :m].copy(), sums[2, :m].copy())
            st_starts = starts[:m].copy()
            counts = np.diff(starts[: m + 1])
            return _State(h, t, bool(flat), c, lam, res, float(ssr), gram, st_starts, counts)
    return _lm_python(prob, h0, pinned, max_iter)


def _lm_python(prob: _Problem, h0: np.ndarray, pinned: bool, max_iter: int = 50) -> _State:
    """The reference LM loop (NumPy), used for prefix-sum problems and singular systems."""
    st = prob.state(np.array(h0, dtype=float))  # a copy: the result may be cached
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
