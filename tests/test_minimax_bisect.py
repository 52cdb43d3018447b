"""The bisection's sweep-saving options give the plain bisection's answer (issue 10, speed)."""

from __future__ import annotations

import numpy as np
import pytest

from relusum.fitting.minimax import bisect, make_gates, minimax_points


def _case(seed: int):
    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(0.0, 1.0, 400))
    y = np.sin(6.0 * x) + 0.3 * np.abs(x - 0.4) + 0.01 * rng.normal(size=x.size)
    return x, y


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("pieces", [3, 9])
def test_reached_hi_is_the_plain_bisection(seed: int, pieces: int) -> None:
    x, y = _case(seed)
    g = make_gates(x, y)
    exact = bisect(g, pieces, True, True, 1e-12)
    # A lower bound from fewer points (proven: the optimum only grows with
    # the points) and an error a fit reaches on all of them.
    lo = bisect(make_gates(x[::3], y[::3], g.domain), pieces, True, True, 1e-9).lower
    lo *= make_gates(x[::3], y[::3], g.domain).half / g.half
    model, err = minimax_points(x, y, pieces - 1, rtol=1e-3)
    hi = err / g.half * (1.0 + 1e-9)
    plain = bisect(g, pieces, True, True, 1e-9, lo=lo, hi=hi)
    lazy = bisect(g, pieces, True, True, 1e-9, lo=lo, hi=hi, reached=True)
    assert lazy.eps == plain.eps and lazy.lower == plain.lower
    assert lazy.iterations == plain.iterations - 1  # hi itself was not swept
    near = bisect(g, pieces, True, True, 1e-9, lo=lo, hi=hi, reached=True, near_lo=True)
    for res in (plain, near):
        assert res.lower <= exact.eps * (1.0 + 1e-12)
        assert res.eps >= exact.lower * (1.0 - 1e-12)
        assert res.eps - res.lower <= 1e-9 * res.eps
        assert abs(res.eps / exact.eps - 1.0) <= 2e-9


def test_reached_hi_that_is_not_feasible_falls_back() -> None:
    x, y = _case(0)
    g = make_gates(x, y)
    exact = bisect(g, 4, True, True, 1e-12)
    lo = exact.lower * 0.5
    # A wrong claim (hi below the optimum): the search still ends at the optimum.
    res = bisect(g, 4, True, True, 1e-9, lo=lo, hi=exact.lower * 0.9, reached=True, near_lo=True)
    assert abs(res.eps / exact.eps - 1.0) <= 2e-9
    assert res.lower <= exact.eps


def _apart_reference(xs: np.ndarray, new: np.ndarray, floor: float, n_jump: int) -> np.ndarray:
    """Naive: far from every old sample; then, left to right, from every point kept."""
    ok = np.array([np.min(np.abs(xs - v)) > floor for v in new], dtype=bool)
    kept: list[float] = []
    for i in sorted(range(n_jump, new.size), key=lambda j: (new[j], j)):
        if not ok[i]:
            continue
        if kept and new[i] - kept[-1] <= floor:
            ok[i] = False
        else:
            kept.append(float(new[i]))
    return ok


@pytest.mark.parametrize("seed", range(40))
def test_apart_matches_the_naive_greedy(seed: int) -> None:
    from relusum.fitting.minimax.spacing import apart as _apart

    rng = np.random.default_rng(seed)
    xs = np.sort(rng.uniform(0.0, 1.0, int(rng.integers(2, 40))))
    m = int(rng.integers(1, 200))
    new = np.clip(rng.choice(xs, m) + rng.normal(size=m) * 10 ** rng.uniform(-9, -2), 0.0, 1.0)
    n_jump = int(rng.integers(0, min(3, m) + 1))
    new[:n_jump] = new[0]
    floor = 10 ** rng.uniform(-9, -3)
    assert np.array_equal(_apart(xs, new, floor, n_jump), _apart_reference(xs, new, floor, n_jump))


def test_near_lo_from_a_zero_bound() -> None:
    # An earlier sample set fitted exactly gives the bound 0: no logarithm of
    # the rise then, the plain bisection (this once tested NaN errors).
    x, y = _case(1)
    g = make_gates(x, y)
    exact = bisect(g, 5, True, True, 1e-12)
    hi = exact.eps * 3.0
    plain = bisect(g, 5, True, True, 1e-9, lo=0.0, hi=hi, reached=True)
    near = bisect(g, 5, True, True, 1e-9, lo=0.0, hi=hi, reached=True, near_lo=True)
    assert near.eps == plain.eps and near.lower == plain.lower
    assert abs(near.eps / exact.eps - 1.0) <= 2e-9
