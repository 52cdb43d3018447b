"""Max-error (minimax, L-infinity) fits: free knots exactly, fixed knots by LP.

Free knots
    The best sum of ``n`` ReLUs for the largest absolute error on any finite
    point set (any order, repeated x, jumps, any convexity) is found by
    bisection on the error around an exact feasibility test (:mod:`.sweep`)
    that carries the whole set of reachable joints from piece to piece
    (Hakimi & Schmeichel 1991; Imai & Iri 1986).  The bisection's lower end is
    a proven lower bound (:mod:`.solve`), reported as a certificate.

    ``n`` units give up to ``n + 1`` pieces whose first piece is flat (a knot
    right of ``A``); with the first knot pinned at ``A`` they give ``n``
    sloped pieces.  On ``x**2`` over ``[0, 1]`` the optimal errors are
    ``1 / (2 (2n + 1)**2)`` and ``1 / (8 n**2)``.
Fixed knots
    :func:`linf_fixed_knots`: a linear program (HiGHS) in the hat basis.
Functions
    :func:`minimax_target` refines the samples where the error between them
    peaks until the error on a dense check grid is within 0.1% of the error on
    the samples; a jump found there becomes a repeated sample (both one-sided
    values), so its half height is part of the certified optimum.

Modules: :mod:`.gates` (points as gates), :mod:`.sweep` (the feasibility
test), :mod:`.build` (the model from a sweep), :mod:`.solve` (bisection and
certificate), :mod:`.target` (functions: refinement and jumps),
:mod:`.spacing` (which new samples the refinement may add), :mod:`.certify`
(the certificate of another sum that beats the exact fit on the grid),
:mod:`.fixed_lp` (fixed knots).
"""

from relusum.fitting.minimax.fixed_lp import (
    dense_grid,
    linf_fixed_knots,
    linf_fixed_target,
    local_max,
    peaks,
)
from relusum.fitting.minimax.gates import Gates, make_gates
from relusum.fitting.minimax.solve import (
    MinimaxInfo,
    bisect,
    minimax_discontinuous,
    minimax_points,
    solve_gates,
)
from relusum.fitting.minimax.sweep import Piece, greedy_pieces
from relusum.fitting.minimax.target import minimax_target

__all__ = [
    "Gates",
    "MinimaxInfo",
    "Piece",
    "bisect",
    "dense_grid",
    "greedy_pieces",
    "linf_fixed_knots",
    "linf_fixed_target",
    "local_max",
    "make_gates",
    "minimax_discontinuous",
    "minimax_points",
    "minimax_target",
    "peaks",
    "solve_gates",
]
