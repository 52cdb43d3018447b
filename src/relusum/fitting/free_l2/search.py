"""The search: cheap global starts, variable-projection polish, restarts while they improve.

Starts
    Knots that equidistribute ``(w |f''|^2)^(1/5)`` (the asymptotically optimal
    L2 density), uniform knots, quantiles of the data, the best discontinuous
    segmentation on about 200 candidate cuts (dynamic programming), and an
    optional warm start ``init``.  The uniform-knot least-squares fit is always
    a candidate, so the result is never worse than it.  Everything is
    deterministic (a local generator seeded by ``seed``).
Large data
    Above a few tens of thousands of points the search runs on a per-bin
    moment summary (:mod:`~relusum.fitting.free_l2.condense`: two weighted
    pseudo-points per bin, exact for knots on bin edges) and Levenberg--Marquardt
    finishes on the full data, so the time and memory are ``O(N)`` with a small
    constant.
"""

from __future__ import annotations

import sys

import numpy as np
from numpy.typing import ArrayLike

from relusum.fitting.fixed import check_capacity, check_n_units, uniform_knots
from relusum.fitting.free_l2.condense import pseudo_points
from relusum.fitting.free_l2.envelope import envelope_knots
from relusum.fitting.free_l2.lm import _lm, _sanitize
from relusum.fitting.free_l2.moves import (
    _end_pieces,
    _evolve,
    _gap_starts,
    _grow,
    _hop,
    _kink_snap,
    _pair_moves,
    _polish,
    _swap,
)
from relusum.fitting.free_l2.plan import PLANS, SEARCHES, SearchPlan
from relusum.fitting.free_l2.prefix import _PrefixProblem
from relusum.fitting.free_l2.problem import _Problem, _State
from relusum.fitting.free_l2.segment import _cut_candidates, _dp_refine, _segmentation_knots
from relusum.fitting.free_l2.starts import _density, _quantile_knots
from relusum.fitting.hat import values_to_relusum
from relusum.model import ReluSum
from relusum.targets import Target


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


class _NoBar:
    def update(self, _: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


def _progress_bar(total: int, progress: bool | None):
    if progress is False or (progress is None and not sys.stderr.isatty()):
        return _NoBar()  # no tqdm import when nothing is shown
    from tqdm import tqdm

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
    search: str = "thorough",
) -> ReluSum:
    """The best least-squares sum of ``n_units`` shifted ReLUs with free knots.

    Minimises the weighted sum of squared residuals on the target's samples
    over the knots (anywhere in ``[A, B)``) and the weights together.  A first
    knot right of ``A`` gives ``n + 1`` pieces with a flat first piece, a first
    knot at ``A`` gives ``n`` sloped pieces; both are tried (``pin_first``:
    only the second, what ``relusum.fit(..., pieces=n)`` asks for).  The
    result is never worse on the samples than the uniform-knot least-squares
    fit, nor than the fit from ``init``.  Above :data:`CONDENSE_ABOVE` samples
    the search runs on per-bin moments and LM finishes on all samples.

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
    search : {"thorough", "quick"}
        ``"thorough"`` runs every start and move; ``"quick"`` a reduced search
        (:data:`~relusum.fitting.free_l2.plan.PLANS`) that is faster and finds
        the same SSR on most problems, a larger one on some (see
        ``docs/bench/bench_many_optimal.md``).  Above :data:`CONDENSE_ABOVE`
        samples both run the same search on the per-bin summary.

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
    if search not in SEARCHES:
        raise ValueError(f"search must be 'thorough' or 'quick', got {search!r}")
    prob = _Problem(target)
    n = _check_units(prob, n_units, target)
    h_init = None if init is None else _check_init(init, prob, n)
    rng = np.random.default_rng(seed)
    modes = (True,) if pin_first else (True, False)
    condensed = prob.x.size > CONDENSE_ABOVE
    bar = _progress_bar(3 if condensed else 2, progress)
    try:
        if condensed:
            best = _search_condensed(prob, n, modes, h_init, rng, bar)
        else:
            best = _search(prob, n, modes, h_init, rng, bar, PLANS[search])
    finally:
        bar.close()
    return values_to_relusum(best.t, best.c, best.flat, prob.domain)


#: Bins of the continuous dynamic-programming start (0: off).
ENVELOPE_BINS = 100

#: Above this many samples the search runs on a per-bin summary first.
CONDENSE_ABOVE = 20_000


def _bins_for(npts: int, n: int) -> int:
    """Bins of the summary: about 64 per piece, at least 1,000, at most N / 8."""
    return int(min(npts // 8, max(1000, 64 * (n + 1))))


def _init_start(prob: _Problem, h_init: np.ndarray, n: int, pin_first: bool) -> tuple:
    a, b = prob.domain
    pinned = bool(pin_first or h_init[0] == a)
    hi = h_init.copy()
    if pin_first and hi[0] != a:
        hi = np.concatenate(([a], hi[: n - 1])) if hi.size == n else np.concatenate(([a], hi))
    return _sanitize(np.unique(hi), a, b, pinned, bool(hi[0] > a)), pinned


def _search(
    prob: _Problem,
    n: int,
    modes: tuple[bool, ...],
    h_init: np.ndarray | None,
    rng: np.random.Generator,
    bar,
    plan: SearchPlan,
) -> _State:
    """Starts, a short LM from each, then the best of each shape polished.

    ``plan`` says which starts and moves run (:data:`PLANS`): the thorough
    plan adds the continuous DP start and the sample-scale moves (a short end
    piece, single-knot moves, basin hops, kink snaps, and on tiny data every
    placement of the knots in sample gaps, or evolution); hops stop after two
    that do not improve.
    """
    a, b = prob.domain
    # The uniform-knot fit: the result is never worse than this.
    best = prob.state(uniform_knots(prob.domain, n))
    if h_init is not None:
        hi, pinned = _init_start(prob, h_init, n, modes == (True,))
        if hi is not None:
            st = _grow(prob, hi, n, pinned)
            if st.h.size == n and st.ssr < best.ssr:
                best = st
    starts: list[tuple[np.ndarray, bool]] = []
    global_start: set[bool] = set()  # shapes with a continuous DP start
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
        if (
            plan.envelopes
            and pinned in plan.envelope_shapes
            and not prob.is_function
            and ENVELOPE_BINS > 0
            and pieces <= 64
        ):
            top = ENVELOPE_BINS if plan.max_bins is None else min(plan.max_bins, ENVELOPE_BINS)
            bins = int(np.clip(plan.bins_per_piece * (n + 1), plan.min_bins, top))
            for keep, grid in plan.envelopes:  # two prunings: each finds basins the other loses
                env = envelope_knots(prob, n, pinned, bins, keep, grid)
                if env is not None:
                    starts.append((env, pinned))
                    global_start.add(pinned)
    seen: set[bytes] = set()
    results: list[tuple[_State, bool]] = []
    for h0, pinned in starts:
        hs = _sanitize(h0, a, b, pinned, not pinned)
        if hs is None or hs.tobytes() in seen:
            continue
        seen.add(hs.tobytes())
        results.append((_lm(prob, hs, pinned, max_iter=plan.start_iters), pinned))
    # Small data without a DP start (tiny data: with one too): a global population search.
    if plan.population and not prob.is_function and prob.x.size * n <= 2000:
        tiny = prob.x.size * n <= 500
        for pinned in (p for p in modes if tiny or p not in global_start):
            # few enough placements of the knots in sample gaps: all of them, else evolution
            gap = _gap_starts(prob, n, pinned)
            for h in gap if gap is not None else [_evolve(prob, n, pinned, rng, 3000)]:
                hs = None if h is None else _sanitize(h, a, b, pinned, not pinned)
                if hs is not None:
                    results.append((_lm(prob, hs, pinned, max_iter=plan.start_iters), pinned))
    results.sort(key=lambda p: p[0].ssr)
    bar.update(1)
    # Improve the best start of each shape: finish LM, swap useless knots,
    # re-place the cuts jointly by a windowed DP, then (for data) single-knot
    # moves and seeded hops while they improve.
    done = set()
    for st, pinned in results:
        if pinned in done:
            continue
        if done and plan.other_shape is not None and st.ssr > plan.other_shape * results[0][0].ssr:
            break  # the other shape's best start is far behind: not polished
        done.add(pinned)
        st = _lm(prob, st.h, pinned)  # the starts ran a few iterations: finish the best
        if plan.swap:
            st = _swap(prob, st, pinned)
        for window in plan.windows:
            st = _dp_refine(prob, st, pinned, window)
        if not prob.is_function:
            if plan.end_pieces:
                st = _end_pieces(prob, st, pinned)
            if plan.polish and st.h.size <= 32:
                st = _polish(prob, st, pinned, rounds=1)
            if plan.hops:
                st = _hop(prob, st, pinned, rng, plan.hops)
            if plan.pair_moves and st.h.size <= 32:
                st = _pair_moves(prob, st, pinned)
            if plan.kink_snap:
                st = _kink_snap(prob, st, pinned)
        st = _lm(prob, st.h, pinned)  # converge the winner of the moves
        if st.ssr < best.ssr:
            best = st
    bar.update(1)
    return best


def _search_condensed(
    prob: _Problem,
    n: int,
    modes: tuple[bool, ...],
    h_init: np.ndarray | None,
    rng: np.random.Generator,
    bar,
) -> _State:
    """Search on a per-bin moment summary, then finish with LM on all samples.

    The summary's SSR is exact for knots on bin edges, so its optimum is within
    a bin width of the full optimum; LM on the full data then moves the knots
    continuously.  Kept: never worse than uniform knots or ``init`` on the
    full data.
    """
    a, b = prob.domain
    full = _PrefixProblem(prob.x, prob.y, prob.w if prob.weighted else None, prob.domain)
    px, py, pw, _ = pseudo_points(full.bin_moments(_bins_for(prob.x.size, n)))
    small = _Problem(Target("data", "condensed", prob.domain, px, py, pw))
    cst = _search(small, n, modes, h_init, rng, bar, PLANS["summary"])
    pinned = bool(modes == (True,) or cst.h[0] == a)
    best = full.state(uniform_knots(prob.domain, n))
    if h_init is not None:
        hi, ipinned = _init_start(prob, h_init, n, modes == (True,))
        if hi is not None:
            st = _grow(full, hi, n, ipinned) if hi.size < n else full.state(hi)
            if st.h.size == n and st.ssr < best.ssr:
                best = st
    hs = _sanitize(cst.h, a, b, pinned, not pinned)
    if hs is not None:
        st = _lm(full, hs, pinned)
        for window in (3, 8, 20):
            st = _dp_refine(full, st, pinned, window)
        if st.ssr < best.ssr:
            best = st
    bar.update(1)
    return best
