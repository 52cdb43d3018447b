"""A global start: the best *continuous* fit with knots on a coarse grid, by dynamic programming.

The samples are cut into ``G`` bins of equal count; knots may sit on the bin
edges.  For a piece from edge ``i`` to edge ``j`` with values ``u`` and ``v``
at its ends, the SSR is a quadratic form in ``(u, v)`` whose six coefficients
come from the prefix sums of ``w, w x, w x^2, w y, w x y, w y^2`` -- the per-bin
moment summary.  The dynamic program over (pieces used, edge) keeps the best
cost so far as a quadratic in the value at the edge; minimising out the value
at the previous edge gives again a quadratic, so each state holds a small set
of parabolas, pruned to those that are lowest somewhere on a grid of values
(at most ``keep``).  Unlike the discontinuous segmentation, this sees the
continuity that ties neighbouring pieces together, so it finds the basin of
the global optimum where local moves stall (e.g. two knots three days apart
on a seasonal series).  Cost ``O(G^2 n keep)`` arithmetic, vectorised per edge.
"""

from __future__ import annotations

import numpy as np

from relusum.fitting.free_l2 import problem
from relusum.fitting.free_l2.problem import _Problem


def _pair_quadratics(prob: _Problem, bounds: np.ndarray, tau: np.ndarray):
    """Coefficients ``A, B, C, D, E, F`` of the piece SSR between every pair of edges.

    ``A u^2 + 2 B u v + C v^2 - 2 D u - 2 E v + F`` for values ``u`` at edge
    ``i`` and ``v`` at edge ``j`` (upper triangle; the rest is junk).
    """
    p = [q[bounds] for q in prob.prefix()]
    s0, s1, s2, s3, s4, s5 = (q[None, :] - q[:, None] for q in p)
    ti = tau[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = 1.0 / (tau[None, :] - ti)
        sl = (s1 - ti * s0) * inv
        sll = (s2 - 2.0 * ti * s1 + ti * ti * s0) * inv * inv
        sly = (s4 - ti * s3) * inv
    a = s0 - 2.0 * sl + sll
    return a, sl - sll, sll, s3 - sly, sly, s5, s0


def envelope_knots(
    prob: _Problem, n: int, pinned: bool, bins: int, keep: int = 16, grid: int = 64
) -> np.ndarray | None:
    """Knots of the best continuous fit with knots on the edges of ``bins`` equal-count bins.

    ``pinned``: ``n`` sloped pieces, the first knot at ``A``; otherwise a flat
    first piece and ``n`` knots inside.  Returns None when there are too few
    bins for the pieces.
    """
    grid_ = _edge_quadratics(prob, n, bins)
    if grid_ is None:
        return None
    edges, (qa_, qb_, qc_, qd_, qe_, qf_, q0) = grid_
    g = edges.size - 1
    ys = prob.y
    span = float(np.max(ys) - np.min(ys)) + 1e-12 * (abs(float(np.max(ys))) + 1.0)
    vals = np.linspace(float(np.min(ys)) - 0.5 * span, float(np.max(ys)) + 0.5 * span, grid)
    levels = n - 1 if pinned else n
    if problem.COMPILED:
        from relusum.fitting.free_l2.kernels_dp import envelope_cuts

        qs = (qa_, qb_, qc_, qd_, qe_, qf_, q0)
        cuts = envelope_cuts(*qs, pinned, levels, keep, vals)
        if cuts.size != levels:
            return None
        knots = edges[cuts] if levels else np.empty(0)
        return np.concatenate(([prob.a], knots)) if pinned else knots
    vv = vals * vals
    inf = np.inf
    # level 0: the first piece from edge 0 to edge j
    qa = np.full((g + 1, keep), 0.0)
    qb = np.zeros((g + 1, keep))
    qc = np.full((g + 1, keep), inf)
    j = np.arange(1, g + 1)
    if pinned:
        a0, b0, c0, d0, e0, f0 = (m[0, j] for m in (qa_, qb_, qc_, qd_, qe_, qf_))
        ok = a0 > 0
        a0s = np.where(ok, a0, 1.0)
        qa[j, 0] = np.where(ok, c0 - b0 * b0 / a0s, 0.0)
        qb[j, 0] = np.where(ok, -2.0 * e0 + 2.0 * b0 * d0 / a0s, 0.0)
        qc[j, 0] = np.where(ok, f0 - d0 * d0 / a0s, inf)
    else:  # a constant first piece: cost S0 v^2 - 2 S3 v + S5
        s0 = q0[0, j]
        s3 = qd_[0, j] + qe_[0, j]
        qa[j, 0] = s0
        qb[j, 0] = -2.0 * s3
        qc[j, 0] = np.where(s0 > 0, qf_[0, j], inf)
    parents: list[tuple[np.ndarray, np.ndarray]] = []
    for level in range(levels):
        na = np.zeros((g + 1, keep))
        nb = np.zeros((g + 1, keep))
        nc = np.full((g + 1, keep), inf)
        pi = np.zeros((g + 1, keep), dtype=int)
        pk = np.zeros((g + 1, keep), dtype=int)
        last = level == levels - 1
        for jj in [g] if last else range(level + 2, g + 1):
            i = np.arange(level + 1, jj)
            alive = np.isfinite(qc[i, 0])
            if not np.any(alive):
                continue
            i = i[alive]
            a_, b_, c_, d_, e_, f_ = (m[i, jj][:, None] for m in (qa_, qb_, qc_, qd_, qe_, qf_))
            alpha = qa[i] + a_
            good = np.isfinite(qc[i]) & (alpha > 0)
            alpha = np.where(good, alpha, 1.0)
            bi = qb[i] - 2.0 * d_
            ca = (c_ - b_ * b_ / alpha).ravel()
            cb = (-2.0 * e_ - b_ * bi / alpha).ravel()
            cc = np.where(good, f_ + qc[i] - bi * bi / (4.0 * alpha), inf).ravel()
            fin = np.flatnonzero(np.isfinite(cc))
            if fin.size == 0:
                continue
            cost = ca[fin, None] * vv + cb[fin, None] * vals + cc[fin, None]
            win = fin[np.unique(np.argmin(cost, axis=0))]
            best = np.min(ca[win, None] * vv + cb[win, None] * vals + cc[win, None], axis=1)
            win = win[np.argsort(best, kind="stable")][:keep]
            s = win.size
            na[jj, :s], nb[jj, :s], nc[jj, :s] = ca[win], cb[win], cc[win]
            pi[jj, :s] = i[win // keep]
            pk[jj, :s] = win % keep
        qa, qb, qc = na, nb, nc
        parents.append((pi, pk))
    fa, fb, fc = qa[g], qb[g], qc[g]
    ok = np.isfinite(fc) & (fa > 0)
    if not np.any(ok):
        return None
    final = np.where(ok, fc - fb * fb / (4.0 * np.where(ok, fa, 1.0)), inf)
    k = int(np.argmin(final))
    jj = g
    cuts = []
    for pi, pk in reversed(parents):
        i, k = int(pi[jj, k]), int(pk[jj, k])
        cuts.append(i)
        jj = i
    knots = edges[np.array(sorted(cuts), dtype=int)] if cuts else np.empty(0)
    return np.concatenate(([prob.a], knots)) if pinned else knots


def _edge_quadratics(prob: _Problem, n: int, bins: int):
    """Bin edges and the pair quadratics between them; None when too few bins.

    Cached on the problem per ``bins`` (both shapes and both prunings share them).
    """
    cache = getattr(prob, "_edge_cache", None)
    if cache is not None and cache[0] == bins:
        edges = cache[1][0]
        return None if edges.size - 1 < n + 1 else cache[1]
    npts = prob.x.size
    g = int(min(bins, npts))
    if g < n + 1:
        return None
    starts = (np.arange(g) * npts) // g
    # and the first and last few sample gaps: a short end piece can pay off
    ends = np.array([1, 2, 3, npts - 3, npts - 2, npts - 1])
    starts = np.unique(np.concatenate((starts, ends[(ends > 0) & (ends < npts)])))
    g = starts.size
    bounds = np.append(starts, npts)
    x = prob.x
    edges = np.concatenate(([prob.a], 0.5 * (x[starts[1:] - 1] + x[starts[1:]]), [prob.b]))
    if np.any(np.diff(edges) <= 0):
        keepi = np.concatenate(([True], np.diff(edges) > 0))
        edges, bounds = edges[keepi], bounds[keepi]
        g = edges.size - 1
    tau = (edges - prob.a) / prob.length
    qs = tuple(np.ascontiguousarray(q) for q in _pair_quadratics(prob, bounds, tau))
    prob._edge_cache = (bins, (edges, qs))
    return None if g < n + 1 else (edges, qs)
