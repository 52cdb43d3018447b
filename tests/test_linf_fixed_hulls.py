"""Fixed-knot max-error LP on many points: solved on each knot interval's hull vertices.

Reference: the same LP on every point (the unreduced solver), slow but direct.
"""

import numpy as np
import pytest

from relusum.fitting.minimax import fixed_lp


def _max_err(model, x, y):
    return float(np.max(np.abs(model(x) - y)))


@pytest.mark.parametrize(
    "kind, seed",
    [("noisy", 0), ("noisy", 1), ("smooth", 2), ("jumps", 3), ("repeated", 4), ("heavy", 5)],
)
def test_hull_reduced_lp_equals_the_lp_on_every_point(kind, seed):
    rng = np.random.default_rng(seed)
    n = 30_000
    x = rng.uniform(-2.0, 3.0, n)
    if kind == "repeated":
        x = np.round(x, 2)  # many points share an x
    y = np.sin(2.0 * x) + 0.3 * x
    if kind == "noisy" or kind == "repeated":
        y = y + 0.2 * rng.normal(size=n)
    elif kind == "jumps":
        y = y + np.where(x > 0.7, 1.5, 0.0) + 0.01 * rng.normal(size=n)
    elif kind == "heavy":
        y = y + rng.standard_cauchy(n) * 0.01
    # smooth: noise-free, every point on a hull: the chains are thinned, cutting planes restore it
    knots = np.sort(rng.uniform(-2.0, 3.0, 7))
    if seed % 2:
        knots[0] = -2.0  # first knot at A: no flat first piece
    domain = (-2.0, 3.0)
    assert x.size > fixed_lp.REDUCE_ABOVE
    fast = fixed_lp.linf_fixed_knots(x, y, knots, domain)
    slow = fixed_lp._linf_lp(x, y, knots, domain)
    ef, es = _max_err(fast, x, y), _max_err(slow, x, y)
    # never worse than the LP on every point; HiGHS solves that big LP only to its feasibility
    # tolerance (1e-7 in normalised units), so the smaller LP may come out a little better
    assert ef <= es * (1 + 1e-9) + 1e-12
    assert ef >= es * (1 - 1e-6)
    assert np.array_equal(fast.knots, slow.knots)


def test_smooth_data_needs_the_cutting_planes():
    """Noise-free smooth data put every point on a hull: chains are thinned (the reduction
    alone is not exact) and the error measured on all points must still be the optimum."""
    from relusum.fitting.hulls import bin_hull_points

    x = np.linspace(0.0, 1.0, 50_001)
    y = np.exp(3.0 * x)
    knots = np.array([0.0, 0.5])
    t, _ = fixed_lp.breakpoints_for(knots, (0.0, 1.0))
    _, _, thinned = bin_hull_points(x, y, t)
    assert thinned
    fast = fixed_lp.linf_fixed_knots(x, y, knots, (0.0, 1.0))
    slow = fixed_lp._linf_lp(x, y, knots, (0.0, 1.0))
    ef, es = _max_err(fast, x, y), _max_err(slow, x, y)
    assert es * (1 - 1e-6) <= ef <= es * (1 + 1e-9)
