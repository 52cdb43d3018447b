"""Best discontinuous segmentations by dynamic programming: global starts and windowed re-placement.

Wherever a knot crosses a sample the sample SSR has a kink, so it has many
shallow minima a sample apart.  The derivative-free polish is a dynamic
program over cut positions: every knot may move to any sample gap within
``W`` samples, the best *discontinuous* segmentation with those cuts is found
exactly in ``O(n W^2)`` from prefix sums, and LM makes it continuous again;
kept only if better.  The same segment costs over about 200 candidate cuts
give the global start.
"""

from __future__ import annotations

import numpy as np

from relusum.fitting.free_l2 import problem
from relusum.fitting.free_l2.lm import _lm, _sanitize
from relusum.fitting.free_l2.problem import _Problem, _State
from relusum.fitting.free_l2.starts import _second_derivative

#: Largest ``N**2 * n`` for which the exact discontinuous segmentation start is computed.
_DP_WORK = 2.5e6


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
    if problem.COMPILED:
        from relusum.fitting.free_l2.kernels_dp import window_cuts

        c = window_cuts(prob.prefix_array(), cand, valid, first_const)
        if c.size == 0:
            return None
        knots = 0.5 * (x[c - 1] + x[c])
        return np.concatenate(([prob.a], knots)) if pinned else knots
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
    if problem.COMPILED:
        from relusum.fitting.free_l2.kernels_dp import segmentation_cuts

        pos = segmentation_cuts(prob.prefix_array()[:, cuts_all], cuts_all, pieces, flat)
        if pos.size != pieces - 1:
            return None
        c = cuts_all[pos]
        knots = 0.5 * (x[c - 1] + x[c])
        return knots if flat else np.concatenate(([prob.a], knots))
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
    cache = prob.__dict__.setdefault("_cut_cache", {})  # both shapes often share gsize
    if gsize not in cache:
        cache[gsize] = _cut_candidates_of(prob, gsize)
    return cache[gsize]


def _cut_candidates_of(prob: _Problem, gsize: int) -> np.ndarray:
    npts = prob.x.size
    z, f2, dens = _second_derivative(prob)
    rho = (np.maximum(dens, 0.0) * f2 * f2) ** 0.2
    total = np.sum(0.5 * (rho[1:] + rho[:-1]) * np.diff(z))
    rho = rho / total + 1.0 / prob.length if np.isfinite(total) and total > 0 else np.ones_like(z)
    cum = np.concatenate(([0.0], np.cumsum(0.5 * (rho[1:] + rho[:-1]) * np.diff(z))))
    pos = np.interp(np.linspace(0.0, cum[-1], gsize + 2)[1:-1], cum, z)
    return np.unique(np.clip(np.searchsorted(prob.x, pos), 1, npts - 1))
