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
