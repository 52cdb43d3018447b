"""Compile the fitting kernels ahead of the first real fit.

The loops that dominate the optimal-knot fits (the minimax sweep, the free-knot
least-squares search, the per-bin hulls) are numba kernels compiled on first
use and cached on disk (``cache=True``). The first compile after an install
takes seconds to tens of seconds; loading from the cache takes about a second.
:func:`warm_kernels` runs tiny fits that go through every such kernel with the
argument types the real fits use, so a process that must answer within a time
limit (an explorer worker, a timed test) pays that cost before its first
request instead of inside it.
"""

from __future__ import annotations

import time

import numpy as np


def warm_kernels() -> float:
    """Run tiny fits through every compiled fitting kernel; return the seconds taken.

    Compiles the kernels (first run after an install) or loads them from
    numba's on-disk cache (later runs). Safe to call more than once: later calls
    in the same process only run the tiny fits.

    Examples
    --------
    >>> from relusum.fitting.warm import warm_kernels
    >>> warm_kernels() >= 0.0
    True
    """
    from relusum.fitting.api import fit

    start = time.perf_counter()
    x = np.linspace(0.0, 1.0, 40)
    y = np.sin(6.0 * x) + 0.05 * np.cos(37.0 * x)
    fit((x, y), n_units=3, knots="optimal")
    fit((x, y), pieces=2, knots="optimal")
    fit((x, y), n_units=3, knots="optimal", loss="linf")
    fit("x*x", domain=(0, 1), n_units=3, knots="optimal", loss="linf")
    fit("x*x", domain=(0, 1), n_units=3, knots="optimal")
    from relusum.fitting.hulls import bin_hull_points

    bin_hull_points(x, y, np.linspace(0.0, 1.0, 5))

    return time.perf_counter() - start
