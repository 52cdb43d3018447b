"""A ReLU sum's values at many points, compiled: the same numbers as ``model(x)``.

The exchange of :mod:`.target` evaluates its current fit on a 100,000-point
check grid and on tens of thousands of refined samples every round (about a
sixth of a 64-unit fit in NumPy, several passes and temporaries per call).
:func:`model_values` makes one pass: for each point the piece it lies on
(a walk along the knots when the points are sorted, a binary search when
not) and ``(x - anchor) * slope + value`` with the anchors, slopes and
values of :class:`~relusum.model.ReluSum`, in the same order of operations,
so the result is the same to the last bit (tested).  This module imports
numba: it is imported only when a minimax fit first runs.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from relusum.model import ReluSum

__all__ = ["model_values"]


def model_values(model: ReluSum, x: np.ndarray) -> np.ndarray:
    """``model(x)`` for a 1-d float array ``x`` of finite points, in one compiled pass.

    Examples
    --------
    >>> import numpy as np
    >>> from relusum import ReluSum
    >>> from relusum.fitting.minimax.values import model_values
    >>> s = ReluSum(1.0, [0.0, 0.5], [1.0, -2.0], (-1.0, 1.0))
    >>> x = np.linspace(-1.0, 1.0, 9)
    >>> bool(np.array_equal(model_values(s, x), s(x)))
    True
    """
    xa = np.asarray(x, dtype=float)
    if xa.ndim != 1 or model.knots.size == 0 or not np.all(np.isfinite(xa)):
        return np.asarray(model(xa), dtype=float)
    # ReluSum keeps, per knot, the value there and the slope right of it.
    return _values(
        np.ascontiguousarray(xa),
        model.knots,
        model._knot_values,  # noqa: SLF001 - the same numbers model(x) uses
        model._cum_slope,  # noqa: SLF001
        float(model.bias),
    )


@njit(cache=True)
def _values(x, h, values, cum, bias):  # pragma: no cover - compiled
    n = x.size
    k = h.size
    out = np.empty(n)
    ordered = True
    for i in range(1, n):
        if x[i] < x[i - 1]:
            ordered = False
            break
    j = 0
    for i in range(n):
        xi = x[i]
        if ordered:
            while j < k and h[j] <= xi:
                j += 1
        else:
            lo = 0
            hi = k
            while lo < hi:  # the number of knots <= xi
                mid = (lo + hi) // 2
                if h[mid] <= xi:
                    lo = mid + 1
                else:
                    hi = mid
            j = lo
        if j == 0:
            d = (xi - h[0]) * 0.0
            out[i] = d + bias
        else:
            d = (xi - h[j - 1]) * cum[j - 1]
            out[i] = d + values[j - 1]
    return out
