"""Search plans: which starts and moves the free-knot least-squares search runs.

``"thorough"`` (the default of :func:`relusum.fit`) runs every start and move;
``"quick"`` is the reduced search for many curves (``relusum.fit_many(...,
search="quick")``), chosen by measurement on the seeded suite
``benchmarks/check_free_l2_suite.py`` (see ``docs/bench/bench_many_optimal.md``);
``"summary"`` is the search on a per-bin summary of large data, which LM and
windowed dynamic programs then finish on the full data.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["SearchPlan", "PLANS", "SEARCHES"]


@dataclass(frozen=True)
class SearchPlan:
    """Starts and moves of one search (see :func:`~.search._search`).

    Attributes
    ----------
    envelopes : tuple of (keep, grid)
        Prunings of the continuous dynamic-programming start (one program per
        pruning and shape); empty: no such start.
    envelope_shapes : tuple of bool
        The shapes (``pinned``: first knot at ``A``) that get the DP start.
    bins_per_piece, min_bins, max_bins : int
        Bins of the continuous DP start: ``bins_per_piece`` per piece, clipped
        to ``[min_bins, max_bins]`` (None: :data:`~.search.ENVELOPE_BINS`).
    population : bool
        On small data: every placement of the knots in sample gaps, or evolution.
    start_iters : int
        LM iterations from each start before the best of each shape is finished.
    other_shape : float or None
        Polish the best start of the other shape (flat first piece or not) only
        if its SSR is at most this factor times the best start's; None: always.
    swap, end_pieces, polish, pair_moves, kink_snap : bool
        Moves run on the best start of each shape (see :mod:`.moves`).
    windows : tuple of int
        Windows of the windowed-DP refinement, in order.
    hops : int
        Basin hops (at most; they stop after two that do not improve).
    """

    envelopes: tuple[tuple[int, int], ...] = ((8, 32), (16, 64))
    envelope_shapes: tuple[bool, ...] = (True, False)
    bins_per_piece: int = 8
    min_bins: int = 40
    max_bins: int | None = None
    population: bool = True
    start_iters: int = 8
    other_shape: float | None = None
    swap: bool = True
    windows: tuple[int, ...] = (3, 8, 20)
    end_pieces: bool = True
    polish: bool = True
    hops: int = 8
    pair_moves: bool = True
    kink_snap: bool = True


#: The plans by name.  "thorough" and "summary" are the searches of earlier
#: versions, unchanged (bit-identical results).
PLANS: dict[str, SearchPlan] = {
    "thorough": SearchPlan(),
    # One continuous DP start (the flat-first shape, the finer pruning) instead of
    # four, and the moves only on the better shape's best start: about half the
    # CPU of "thorough" on 1,000-point curves (docs/bench/bench_many_optimal.md).
    "quick": SearchPlan(envelopes=((16, 64),), envelope_shapes=(False,), other_shape=1.0),
    "summary": SearchPlan(
        envelopes=(),
        population=False,
        end_pieces=False,
        polish=False,
        hops=0,
        pair_moves=False,
        kink_snap=False,
    ),
}

#: The values of ``search=`` users may give.
SEARCHES = ("thorough", "quick")
