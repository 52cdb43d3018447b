"""Free-knot least squares: the best weighted-L2 ReLU sum with ``n`` knots anywhere in ``[A, B)``.

Minimise ``SSR(h) = min_c sum_i w_i (f_{h,c}(x_i) - y_i)^2`` over ordered knots
``h_1 < ... < h_n`` in ``[A, B)``, where ``f_{h,c}`` is the continuous
piecewise-linear function with values ``c`` at its breakpoints.  Two shapes are
possible: ``h_1 > A`` gives ``n + 1`` pieces with a flat first piece, ``h_1 = A``
gives ``n`` sloped pieces (the limit of the first as ``h_1 -> A``).  Both are
searched and the better is kept, unless ``pin_first`` asks for ``n`` sloped
pieces.

Modules, one idea each:

==========================  ========================================================
:mod:`.problem`             SSR for given knots (values projected out), LM steps
:mod:`.lm`                  Levenberg--Marquardt in the knots
:mod:`.starts`              density and quantile start knots
:mod:`.segment`             dynamic programs over cuts (global start, windowed polish)
:mod:`.moves`               insert / swap / single moves / hops / kink snaps / tiny data
:mod:`.condense`            per-bin moment summaries for large data
:mod:`.plan`                which starts and moves a search runs ("thorough", "quick")
:mod:`.search`              the search that ties them together: :func:`free_knot_l2`
:mod:`.kernels`             compiled (numba) LM, batched SSRs, prefix sums
:mod:`.kernels_dp`          compiled (numba) envelope and windowed cut DPs
==========================  ========================================================
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from relusum.fitting.free_l2.problem import _Problem
from relusum.fitting.free_l2.search import free_knot_l2
from relusum.fitting.free_l2.starts import density_knots
from relusum.targets import Target

__all__ = ["free_knot_l2", "knot_ssr", "knot_gradient", "density_knots"]


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
