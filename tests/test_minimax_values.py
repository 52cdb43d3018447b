"""The compiled evaluation of the minimax exchange gives model(x) to the last bit (issue 10)."""

from __future__ import annotations

import numpy as np
import pytest

from relusum import ReluSum
from relusum.fitting.minimax.values import model_values


@pytest.mark.parametrize("seed", range(40))
def test_model_values_equal_model_call(seed: int) -> None:
    rng = np.random.default_rng(seed)
    k = int(rng.integers(1, 70))
    h = rng.uniform(-3.0, 3.0, k)
    if seed % 4 == 0:
        h = np.round(h, 1)  # repeated knots
    w = rng.normal(size=k) * 10.0 ** rng.uniform(-3.0, 3.0)
    m = ReluSum(float(rng.normal()), h, w, (-3.0, 3.0))
    x = rng.uniform(-3.5, 3.5, int(rng.integers(1, 5000)))
    x = np.concatenate((x, m.knots, [-3.0, 3.0]))  # on the knots and the ends
    for pts in (x, np.sort(x)):  # the binary search and the walk
        assert np.array_equal(model_values(m, pts), m(pts))


def test_model_values_falls_back_where_model_call_handles_more() -> None:
    m = ReluSum(0.5, [0.0, 1.0], [2.0, -2.0], (-1.0, 2.0))
    grid = np.array([[-1.0, 0.5], [1.5, 2.0]])  # 2-d
    assert np.array_equal(model_values(m, grid), m(grid))
    odd = np.array([-np.inf, 0.5, np.inf, np.nan])
    np.testing.assert_array_equal(model_values(m, odd), m(odd))
    flat = ReluSum(0.25, [], [], (0.0, 1.0))
    assert np.array_equal(model_values(flat, np.linspace(0, 1, 5)), np.full(5, 0.25))
