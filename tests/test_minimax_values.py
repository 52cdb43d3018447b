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


def test_measure_gives_the_same_numbers_with_the_compiled_values() -> None:
    # measure() evaluates the model compiled once a minimax fit has loaded the
    # evaluator, in NumPy otherwise: the report must not depend on which ran.
    import relusum
    import relusum.fitting.report as report
    from relusum.targets import make_target

    assert report._model_values.__module__ == "relusum.fitting.report"
    for expr, domain, n in (
        ("gelu(x)", (-8, 8), 5),
        ("x**0.25", (0, 1), 32),
        ("sign(x)", (-1, 1), 3),
    ):
        t = make_target(expr, domain)
        m = relusum.fit(expr, domain=domain, n_units=n, knots="optimal", loss="linf").model
        compiled = report._measure(m, t)
        x, _ = t.verification(extra=m.knots)
        assert np.array_equal(report._model_values(m, x), m(x))
        saved = report._model_values
        try:
            report._model_values = lambda model, pts: model(pts)
            plain = report._measure(m, t)
        finally:
            report._model_values = saved
        assert compiled == plain
