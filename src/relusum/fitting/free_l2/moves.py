"""Moves out of local minima: insert, swap, single-knot moves, hops, kink snaps, tiny-data starts.

Knots that collapse or are stranded where ``f''`` vanishes (zero weight, so
Gauss--Newton hardly moves them) are dropped and re-seeded in the piece with
the largest residual, kept when that lowers the SSR.  Sparse data also get
single-knot moves (one batched evaluation) and seeded basin hopping, and small
data sets every placement of the knots in sample gaps (compiled), or a vectorised
differential evolution (scipy) where there are too many, before LM.  Knots that
LM leaves on a sample are held there while the others converge.
"""

from __future__ import annotations

import numpy as np

from relusum.fitting.free_l2 import problem
from relusum.fitting.free_l2.lm import _lm, _sanitize
from relusum.fitting.free_l2.problem import _COLLAPSE, _Problem, _State


def _piece_ssr(prob: _Problem, st: _State) -> np.ndarray:
    """Weighted SSR of each piece."""
    if st.r is None:  # a prefix-sum state: from the per-piece moments
        return np.array(
            [float(np.sum(_piece_residual(prob, st, p)[1])) for p in range(st.t.size - 1)]
        )
    return prob._piece_sums(prob.w * st.r * st.r, st.starts, st.counts)


def _piece_residual(prob: _Problem, st: _State, p: int) -> tuple[np.ndarray, np.ndarray]:
    """The samples strictly inside piece ``p`` and their weighted squared residuals."""
    lo, hi = st.t[p], st.t[p + 1]
    i0, i1 = np.searchsorted(prob.x, [lo, hi], side="right")
    xs = prob.x[i0:i1]
    if xs.size and xs[-1] >= hi:
        xs = xs[xs < hi]
    sl = slice(i0, i0 + xs.size)
    lam = (xs - lo) / (hi - lo)
    r = st.c[p] + (st.c[p + 1] - st.c[p]) * lam - prob.y[sl]
    wr = r * r if not prob.weighted else prob.w[sl] * r * r
    return xs, wr


def _insert_candidates(prob: _Problem, st: _State, count: int) -> list[np.ndarray]:
    """Knot vectors with one knot added, in each of the ``count`` worst pieces."""
    per = _piece_ssr(prob, st)
    order = np.argsort(-per, kind="stable")
    out = []
    for p in order[:count]:
        lo, hi = st.t[p], st.t[p + 1]
        xs, wr = _piece_residual(prob, st, int(p))
        if xs.size:
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


def _hop(prob: _Problem, st: _State, pinned: bool, rng: np.random.Generator, hops: int) -> _State:
    """Basin hopping at the scale of the sample spacing.

    Where a knot crosses a sample the SSR has a kink, so the sample SSR has
    many shallow minima a sample apart.  Each hop shifts every knot by up to
    a few local sample spacings (seeded local generator), re-runs LM and keeps
    the result if the SSR fell.
    """
    x = prob.x
    n = st.h.size
    misses = 0
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
            misses = 0
        else:
            misses += 1
            if misses >= 2:  # restarts only while they improve
                break
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


def _end_pieces(prob: _Problem, st: _State, pinned: bool) -> _State:
    """Try a very short first or last piece: the least useful knot moved to an end sample gap.

    A piece over the first (or last) one or two samples fits them exactly and
    frees the other pieces; coarse starts never put a knot there.  Kept only
    if LM from there lowers the SSR.
    """
    x = prob.x
    if st.h.size < 2 or x.size < 6:
        return st
    cost = _removal_cost(prob, st, pinned)
    if not np.any(np.isfinite(cost)):
        return st
    base = np.delete(st.h, int(np.argmin(cost)))
    cands = []
    for i in (1, 2, x.size - 2, x.size - 1):
        if not x[i - 1] < x[i]:
            continue
        cand = np.sort(np.append(base, 0.5 * (x[i - 1] + x[i])))
        cand = _sanitize(cand, prob.a, prob.b, pinned, not pinned and cand[0] > prob.a)
        if cand is not None and cand.size == st.h.size:
            cands.append(cand)
    if not cands:
        return st
    # LM only from the most promising one (one evaluation each to rank them)
    new = _lm(prob, _lowest_ssr(prob, cands), pinned)
    return new if new.ssr < st.ssr * (1.0 - 1e-12) else st


def _lowest_ssr(prob: _Problem, cands: list[np.ndarray]) -> np.ndarray:
    """The candidate knots with the lowest SSR (the first on ties), as ``prob.state`` ranks them.

    Compiled: the kernel's SSRs (no iterations of LM) rank them, and only the
    candidates within a rounding margin of the lowest are evaluated again by
    ``prob.state``, so the pick is the reference's (two evaluations of one SSR
    differ by far less than the margin: the SSR is stationary in the values).
    """
    if type(prob) is not _Problem or not problem.COMPILED:
        return min((prob.state(c) for c in cands), key=lambda s: s.ssr).h
    from relusum.fitting.free_l2.kernels import lm_samples

    vals = []
    for c in cands:
        out = lm_samples(
            prob.x,
            prob.y,
            prob.w,
            c,
            prob.a,
            prob.b,
            False,
            0,
            prob.scale,
            np.zeros(c.size, dtype=bool),
        )
        if not out[-1]:  # a singular system: the reference for all
            return min((prob.state(c) for c in cands), key=lambda s: s.ssr).h
        vals.append(float(out[4]))
    lo = min(vals)
    margin = 1e-6 * abs(lo) + 1e-12 * prob.scale
    close = [c for c, v in zip(cands, vals, strict=True) if v <= lo + margin]
    if len(close) == 1:
        return close[0]
    return min((prob.state(c) for c in close), key=lambda s: s.ssr).h


def _pair_moves(prob: _Problem, st: _State, pinned: bool, reach: int = 12) -> _State:
    """Move each pair of close knots (a near-jump) together, with a new spacing.

    Two knots a few samples apart model a jump; single-knot moves cannot
    shift it (moving one knot alone breaks the jump), so the pair is moved
    by up to ``reach`` samples with 1 to 8 samples between them, all
    candidates in batched evaluations; LM from the best, kept if better.
    """
    x = prob.x
    h = st.h
    if h.size < 2:
        return st
    idx = np.searchsorted(x, h)
    first = 1 if (pinned or not st.flat) else 0
    cands = []
    for k in np.flatnonzero(np.diff(idx) <= 8):
        if k < first:
            continue
        for off in range(-reach, reach + 1):
            for sep in range(1, 9):
                i0 = idx[k] + off
                i1 = i0 + sep
                if i0 < 1 or i1 > x.size - 1 or not (x[i0 - 1] < x[i0] and x[i1 - 1] < x[i1]):
                    continue
                cand = h.copy()
                cand[k] = 0.5 * (x[i0 - 1] + x[i0])
                cand[k + 1] = 0.5 * (x[i1 - 1] + x[i1])
                if np.all(np.diff(cand) > 0) and cand[-1] < prob.b and cand[0] >= prob.a:
                    cands.append(cand)
    if not cands:
        return st
    hs = np.array(cands)
    chunk = max(1, 200_000 // max(x.size, 1))
    vals = np.concatenate(
        [prob.batch_ssr(hs[i : i + chunk], st.flat) for i in range(0, len(hs), chunk)]
    )
    i = int(np.argmin(vals))
    if not vals[i] < st.ssr * (1 - 1e-12):
        return st
    new = _lm(prob, hs[i], pinned)
    return new if new.ssr < st.ssr * (1.0 - 1e-12) else st


def _kink_snap(prob: _Problem, st: _State, pinned: bool) -> _State:
    """Put knots that LM left next to a sample exactly on it, and re-optimise the others.

    Where the best position of a knot is a sample (a kink of the sample SSR),
    LM stops a little short of it, and the other knots then stop short of
    their own optimum too (the steps keep failing at the kink).  Holding those
    knots on their samples makes the rest smooth again; kept only if better.
    """
    if type(prob) is not _Problem or not problem.COMPILED or st.h.size < 2:
        return st
    x = prob.x
    h = st.h
    left = x[np.clip(np.searchsorted(x, h, side="right") - 1, 0, x.size - 1)]  # <= h
    right = x[np.clip(np.searchsorted(x, h, side="left"), 0, x.size - 1)]  # >= h
    near = np.where(h - left < right - h, left, right)
    gap = right - left  # 0 when h is a sample
    close = (np.abs(near - h) < 0.02 * gap) | (gap == 0)  # on a sample already: held too
    if pinned or not st.flat:
        close[0] = False
    if not np.any(close):
        return st
    cand = h.copy()
    cand[close] = near[close]
    if not (np.all(np.diff(cand) > 0) and cand[-1] < prob.b and cand[0] >= prob.a):
        return st
    if st.flat and cand[0] <= prob.a:
        return st
    new = _lm(prob, cand, pinned, hold=close)
    if new.ssr < st.ssr * (1.0 - 1e-12):
        free = _lm(prob, new.h, pinned)  # and let them go again
        return free if free.ssr < new.ssr else new
    return st


def _gap_starts(
    prob: _Problem, n: int, pinned: bool, max_combos: int = 60_000, best: int = 3
) -> list[np.ndarray] | None:
    """Exhaustive starts for tiny data: every placement of the free knots in sample gaps.

    Each free knot goes to the middle of a gap between distinct sample values,
    every combination is evaluated (compiled, no allocation per combination)
    and the ``best`` are returned for LM to finish; None when there are more
    than ``max_combos`` combinations or no kernels (then the population search
    runs instead).
    """
    from math import comb

    free = n - 1 if pinned else n
    ux = np.unique(prob.x)
    mids = 0.5 * (ux[1:] + ux[:-1])
    if type(prob) is not _Problem or not problem.COMPILED:
        return None
    if free < 1 or mids.size < free or comb(mids.size, free) > max_combos:
        return None
    from relusum.fitting.free_l2.kernels import gap_search

    hs, vals = gap_search(prob.x, prob.y, prob.w, mids, prob.a, prob.b, pinned, free, best)
    return [hs[i] for i in range(hs.shape[0]) if np.isfinite(vals[i])]
