"""The chord bound that lets the uniform-knot guard skip its LP (issue 10, speed)."""

from __future__ import annotations

import numpy as np
import pytest

from relusum.fitting.minimax.fixed_lp import linf_fixed_lower_bound
from relusum.fitting.optimal import _chord_bound


@pytest.mark.parametrize("seed", range(20))
def test_chord_bound_never_exceeds_the_lp_optimum(seed: int) -> None:
    rng = np.random.default_rng(seed)
    m = int(rng.integers(5, 200))
    x = np.sort(rng.uniform(-1.0, 2.0, m))
    kind = seed % 3
    y = (
        rng.normal(size=m)
        if kind == 0
        else (np.exp(x) if kind == 1 else np.sin(3 * x) + (x > 0.5) + 0.01 * rng.normal(size=m))
    )
    knots = np.sort(rng.uniform(-1.0, 2.0, int(rng.integers(1, 6))))
    cb = _chord_bound(x, y, knots, (-1.0, 2.0))
    lp = linf_fixed_lower_bound(x, y, knots, (-1.0, 2.0))
    # The LP's value is its optimum less 1e-6 of the half range of y (solver tolerance).
    assert cb <= lp + 1e-6 * np.ptp(y) * (1.0 + 1e-9) + 1e-12


def test_chord_bound_is_exact_on_convex_data() -> None:
    x = np.linspace(0.0, 1.0, 2001)
    knots = np.array([0.0, 0.25, 0.5, 0.75])
    cb = _chord_bound(x, np.exp(2 * x), knots, (0.0, 1.0))
    lp = linf_fixed_lower_bound(x, np.exp(2 * x), knots, (0.0, 1.0))
    # The LP's value is its optimum less 1e-6 * half range (3.19 here): equal to that.
    assert abs(cb - (lp + 1e-6 * (np.exp(2.0) - 1.0) / 2.0)) <= 1e-8 * lp


def _chord_bound_reference(x, y, knots, domain):
    """The bound point by point (every point against its interval's chord), vectorised."""
    a, b = domain
    t = np.unique(np.concatenate(([a], knots, [b])))
    seg = np.clip(np.searchsorted(t, x, side="right") - 1, 0, t.size - 2)
    first = np.searchsorted(x, t[:-1], side="left")[seg]
    last = np.searchsorted(x, t[1:], side="right")[seg] - 1
    x0, x1 = x[first], x[last]
    wide = x1 > x0
    w = np.where(wide, (x - x0) / np.where(wide, x1 - x0, 1.0), 0.0)
    dev = np.where(wide, np.abs(y - (y[first] + w * (y[last] - y[first]))), 0.0)
    return float(np.max(dev)) / 2.0 - 1e-13 * (1.0 + float(np.max(np.abs(y))))


@pytest.mark.parametrize("seed", range(30))
def test_chord_bound_equals_the_pointwise_reference(seed: int) -> None:
    # The interval-by-interval loop gives the same number to the last bit:
    # knots on sample points, at the ends, repeated, with empty intervals.
    rng = np.random.default_rng(100 + seed)
    m = int(rng.integers(2, 3000))
    x = np.sort(rng.uniform(-1.0, 2.0, m))
    if seed % 4 == 0:
        x = np.concatenate(([-1.0], x, [2.0]))
    y = rng.normal(size=x.size) if seed % 2 else np.exp(x) + np.sin(7 * x)
    knots = np.sort(rng.uniform(-1.0, 2.0, int(rng.integers(0, 40))))
    if seed % 3 == 0 and knots.size:
        knots[0] = -1.0
        knots[-1] = x[x.size // 2]
        knots = np.sort(np.concatenate((knots, knots[:2])))
    assert _chord_bound(x, y, knots, (-1.0, 2.0)) == _chord_bound_reference(
        x, y, knots, (-1.0, 2.0)
    )
