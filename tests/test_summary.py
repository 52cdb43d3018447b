"""Sufficient statistics for fixed knots: exact, mergeable, equal to the in-memory fit."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import relusum
from relusum.fitting.hat import naive_hat_lstsq
from relusum.fitting.summary import Summary


def _data(n, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-2.0, 3.0, n)
    y = np.sin(2 * x) + 0.1 * rng.standard_normal(n)
    w = rng.uniform(0.1, 2.0, n)
    return x, y, w


def _rel(a, b):
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


@pytest.mark.parametrize("knots", [[-2.0, -1.0, 0.0, 1.5], [-1.0, 0.0, 1.5, 2.9]])
def test_equals_in_memory_fit_and_dense_reference(knots):
    x, y, w = _data(3000)
    dom = (-2.0, 3.0)
    s = Summary.from_arrays(x, y, knots, dom, w)
    got = s.solve()
    want = relusum.fit((x, y), domain=dom, knots=knots, sample_weight=w).model
    assert _rel(got.weights, want.weights) < 1e-9
    assert abs(got.bias - want.bias) <= 1e-9 * max(abs(want.bias), 1.0)
    # independent reference: dense lstsq on the design matrix
    c = naive_hat_lstsq(np.sort(x), y[np.argsort(x)], s.breakpoints, w[np.argsort(x)], s.flat_first)
    assert _rel(got(s.breakpoints), c) < 1e-9
    # SSR from the moments equals the SSR measured on the data
    r = got(x) - y
    assert s.ssr(got) == pytest.approx(float(np.dot(w * r, r)), rel=1e-8)
    assert (s.count, s.x_min, s.x_max) == (3000, x.min(), x.max())
    assert s.sum_w == pytest.approx(w.sum(), rel=1e-12)


@settings(max_examples=40, deadline=None)
@given(
    cuts=st.lists(st.integers(0, 500), max_size=12),
    perm_seed=st.integers(0, 2**31 - 1),
    flat=st.booleans(),
)
def test_random_chunkings_give_the_same_fit(cuts, perm_seed, flat):
    x, y, w = _data(500, seed=3)
    knots = [-1.0, 0.0, 1.0, 2.0] if flat else [-2.0, -0.5, 1.0, 2.0]
    dom = (-2.0, 3.0)
    whole = Summary.from_arrays(x, y, knots, dom, w).solve()
    bounds = sorted(set(cuts) | {0, 500})
    parts = [
        Summary.from_arrays(x[a:b], y[a:b], knots, dom, w[a:b]) for a, b in zip(bounds, bounds[1:])
    ]
    order = np.random.default_rng(perm_seed).permutation(len(parts))
    total = sum(parts[i] for i in order)  # any order: commutative
    # any bracketing: associative (right fold against left fold)
    right = parts[-1]
    for p in reversed(parts[:-1]):
        right = p + right
    for s in (total, right):
        got = s.solve()
        assert s.count == 500
        assert _rel(got.weights, whole.weights) < 1e-9
        assert abs(got.bias - whole.bias) <= 1e-9 * max(abs(whole.bias), 1.0)


def test_empty_pieces_bridge_linearly_like_in_memory():
    x = np.concatenate((np.linspace(0, 1, 50), np.linspace(3, 4, 50)))
    y = x**2
    knots = [0.0, 1.0, 2.0, 3.0]
    got = Summary.from_arrays(x, y, knots, (0.0, 4.0)).solve()
    want = relusum.fit((x, y), knots=knots).model
    assert _rel(got(np.linspace(0, 4, 41)), want(np.linspace(0, 4, 41))) < 1e-9


def test_bad_input_is_refused():
    s = Summary.empty([0.0, 0.5], (0.0, 1.0))
    with pytest.raises(ValueError, match="non-finite"):
        s.add([0.1, np.nan], [1.0, 2.0])
    with pytest.raises(ValueError, match="not inside the domain"):
        s.add([0.1, 1.5], [1.0, 2.0])
    with pytest.raises(ValueError, match="cannot be merged"):
        s + Summary.empty([0.0, 0.25], (0.0, 1.0))
    with pytest.raises(ValueError, match="empty"):
        s.solve()
    with pytest.raises(ValueError, match="knots must lie"):
        Summary.empty([2.0], (0.0, 1.0))
    with pytest.raises(TypeError):
        s.merge(3)
