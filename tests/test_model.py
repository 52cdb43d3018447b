"""ReluSum: evaluation against the naive formula, conversions, algebra, JSON."""

from __future__ import annotations

import json
import tracemalloc

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from relusum import ReluSum


def naive(bias, knots, weights, x):
    """The defining formula, term by term (an N x n matrix: reference only)."""
    x = np.asarray(x, dtype=float)
    return bias + np.sum(np.asarray(weights) * np.maximum(0.0, x[..., None] - knots), axis=-1)


def scale(bias, knots, weights, x):
    x = np.asarray(x, dtype=float)
    return abs(bias) + np.sum(np.abs(weights) * np.maximum(0.0, x[..., None] - knots), axis=-1)


finite = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False)


@st.composite
def relu_sums(draw, max_units=40):
    n = draw(st.integers(0, max_units))
    knots = draw(arrays(float, n, elements=finite))
    weights = draw(arrays(float, n, elements=finite))
    bias = draw(finite)
    return bias, knots, weights


@settings(max_examples=200, deadline=None)
@given(relu_sums(), arrays(float, st.integers(1, 60), elements=st.floats(-2e3, 2e3)))
def test_evaluation_matches_naive_formula(parts, x):
    bias, knots, weights = parts
    s = ReluSum(bias, knots, weights)
    got = s(x)
    want = naive(bias, knots, weights, x)
    tol = 1e-12 * (scale(bias, knots, weights, x) + 1e-300) + 1e-300
    assert np.all(np.abs(got - want) <= np.maximum(tol, 4e-16 * scale(bias, knots, weights, x)))


@settings(max_examples=100, deadline=None)
@given(relu_sums(), arrays(float, st.integers(1, 30), elements=st.floats(-2e3, 2e3)))
def test_terms_sum_to_value(parts, x):
    s = ReluSum(*parts)
    t = s.terms(x)
    assert t.shape == x.shape + (s.n_units,)
    np.testing.assert_allclose(
        s.bias + t.sum(axis=-1), s(x), rtol=1e-9, atol=1e-9 * (1 + abs(s.bias))
    )


def test_close_knots_far_from_origin_no_cancellation():
    # Values far from zero knots: the cumulative form must not lose digits.
    s = ReluSum(0.0, [1e6, 1e6 + 1e-3], [1.0, -1.0])
    x = np.array([1e6 + 5e-4, 1e6 + 1.0])
    want = naive(0.0, s.knots, s.weights, x)  # exact here: the subtractions are exact
    np.testing.assert_allclose(s(x), want, rtol=1e-12)
    np.testing.assert_allclose(s(x), [5e-4, 1e-3], rtol=1e-6)


def test_shapes_and_scalars():
    s = ReluSum(1.0, [0.0, 1.0], [2.0, -3.0])
    assert isinstance(s(0.5), float)
    assert s(0.5) == 2.0
    assert s(np.float64(2.0)) == 2.0
    x = np.linspace(-1, 3, 12).reshape(3, 4)
    assert s(x).shape == (3, 4)
    np.testing.assert_array_equal(s(x), naive(1.0, [0.0, 1.0], [2.0, -3.0], x))
    assert s(np.array(0.5)) == 2.0
    assert np.isnan(s(np.nan))
    empty = ReluSum(2.5, [], [])
    assert empty(3.0) == 2.5 and empty.n_units == 0
    np.testing.assert_array_equal(empty(np.zeros((2, 2))), np.full((2, 2), 2.5))


def test_outside_domain_flat_left_linear_right():
    s = ReluSum(1.0, [0.0, 1.0], [2.0, -1.0], domain=(0.0, 1.0))
    assert s(-100.0) == 1.0
    assert s(3.0) - s(2.0) == pytest.approx(1.0)


def test_slopes_and_slope_at():
    s = ReluSum(0.0, [1.0, 0.0], [-3.0, 2.0])  # unsorted input
    np.testing.assert_array_equal(s.knots, [0.0, 1.0])
    np.testing.assert_array_equal(s.weights, [2.0, -3.0])
    np.testing.assert_array_equal(s.slopes, [0.0, 2.0, -1.0])
    assert s.slope_at(-1.0) == 0.0
    assert s.slope_at(0.0) == 2.0  # right slope at a knot
    np.testing.assert_array_equal(s.slope_at([0.5, 1.5]), [2.0, -1.0])


def test_units_and_pieces():
    a, b, n = 0.0, 1.0, 8
    uniform = ReluSum(0.0, a + np.arange(n) * (b - a) / n, np.ones(n), (a, b))
    assert uniform.n_units == n and uniform.n_pieces == n  # knot at A: n sloped pieces
    inside = ReluSum(0.0, np.linspace(0.1, 0.9, n), np.ones(n), (a, b))
    assert inside.n_pieces == n + 1  # flat first piece
    outside = ReluSum(0.0, [-1.0, 2.0], [1.0, 1.0], (a, b))
    assert outside.n_pieces == 1
    assert ReluSum(0.0, [0.5, 0.5], [1.0, 1.0], (a, b)).n_pieces == 2
    assert ReluSum(0.0, [0.0, 1.0], [1.0, 1.0]).n_pieces == 3  # real line


def test_immutable():
    s = ReluSum(0.0, [0.0], [1.0])
    with pytest.raises(ValueError):
        s.knots[0] = 5.0
    with pytest.raises(AttributeError):
        s.bias = 2.0  # type: ignore[misc]
    k = np.array([0.0, 1.0])
    s2 = ReluSum(0.0, k, [1.0, 1.0])
    k[0] = 9.0
    assert s2.knots[0] == 0.0


@pytest.mark.parametrize(
    "args, match",
    [
        ((np.nan, [0.0], [1.0]), "bias"),
        ((0.0, [np.inf], [1.0]), "knots"),
        ((0.0, [0.0], [np.nan]), "weights"),
        ((0.0, [0.0, 1.0], [1.0]), "same length"),
        ((0.0, [[0.0]], [[1.0]]), "one-dimensional"),
    ],
)
def test_invalid_construction(args, match):
    with pytest.raises(ValueError, match=match):
        ReluSum(*args)


@pytest.mark.parametrize(
    "domain, match",
    [((1, 0), "reversed"), ((1, 1), "empty"), ((0, np.inf), "finite"), ((1,), "pair")],
)
def test_invalid_domain(domain, match):
    with pytest.raises(ValueError, match=match):
        ReluSum(0.0, [0.0], [1.0], domain)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.floats(-100, 100), min_size=2, max_size=40, unique=True), st.data())
def test_from_points_round_trip(xs, data):
    xs = np.array(xs)
    assume(np.min(np.diff(np.sort(xs))) > 1e-6)
    ys = np.array(data.draw(st.lists(st.floats(-100, 100), min_size=xs.size, max_size=xs.size)))
    s = ReluSum.from_points(xs, ys)
    scale_ = 1.0 + np.max(np.abs(ys)) + np.max(np.abs(np.diff(np.sort(ys)))) * 0
    spread = np.max(np.abs(s.weights)) * (xs.max() - xs.min()) + 1
    np.testing.assert_allclose(s(xs), ys, rtol=0, atol=1e-11 * max(scale_, spread))
    # to_points -> from_points gives the same function back.
    px, py = s.to_points()
    np.testing.assert_array_equal(px, np.sort(xs))
    assert ReluSum.from_points(px, py).allclose(s, rtol=1e-9, atol=1e-9 * max(scale_, spread))


def test_from_points_exact_on_simple_values():
    s = ReluSum.from_points([2.0, 0.0, 1.0], [0.0, 0.0, 1.0])
    assert s.domain == (0.0, 2.0)
    np.testing.assert_array_equal(s([0.0, 0.5, 1.0, 1.5, 2.0]), [0.0, 0.5, 1.0, 0.5, 0.0])
    assert s(-1.0) == 0.0 and s(3.0) == -1.0


def test_from_points_errors():
    with pytest.raises(ValueError, match="too close"):
        ReluSum.from_points([0.0, 5e-324], [0.0, 1.0])
    with pytest.raises(ValueError, match="distinct"):
        ReluSum.from_points([0.0, 1.0, 1.0], [0.0, 1.0, 2.0])
    with pytest.raises(ValueError, match="two points"):
        ReluSum.from_points([0.0], [1.0])
    with pytest.raises(ValueError, match="same length"):
        ReluSum.from_points([0.0, 1.0], [1.0])


def test_to_points_of_fit_like_model_reproduces_it():
    s = ReluSum(0.3, [0.0, 0.2, 0.7], [1.0, -2.0, 3.0], (0.0, 1.0))
    x, y = s.to_points()
    np.testing.assert_array_equal(x, [0.0, 0.2, 0.7, 1.0])
    t = ReluSum.from_points(x, y)
    grid = np.linspace(0, 1, 101)
    np.testing.assert_allclose(t(grid), s(grid), rtol=0, atol=1e-14)


@settings(max_examples=100, deadline=None)
@given(relu_sums(15), relu_sums(15), finite, arrays(float, 20, elements=st.floats(-2e3, 2e3)))
def test_arithmetic_is_pointwise(p, q, c, x):
    s, t = ReluSum(*p), ReluSum(*q)
    tol = 1e-9 * (1 + scale(*p, x) + scale(*q, x)) * (1 + abs(c))
    assert np.all(np.abs((s + t)(x) - (s(x) + t(x))) <= tol)
    assert np.all(np.abs((s - t)(x) - (s(x) - t(x))) <= tol)
    assert np.all(np.abs((-s)(x) + s(x)) <= tol)
    assert np.all(np.abs((c * s)(x) - c * s(x)) <= tol)
    assert np.all(np.abs((s * c)(x) - c * s(x)) <= tol)
    assert np.all(np.abs((s + c)(x) - (s(x) + c)) <= tol)
    assert np.all(np.abs((c - s)(x) - (c - s(x))) <= tol)
    assert isinstance(s + t, ReluSum)


def test_add_merges_shared_knots_and_division():
    s = ReluSum(1.0, [0.0, 1.0], [1.0, 2.0])
    assert (s + s).n_units == 2
    assert (s / 2.0).allclose(0.5 * s)
    with pytest.raises(ZeroDivisionError):
        s / 0
    with pytest.raises(TypeError):
        s * s  # type: ignore[operator]


def test_domains_combine():
    a = ReluSum(0.0, [0.0], [1.0], (0.0, 2.0))
    b = ReluSum(0.0, [1.0], [1.0], (1.0, 3.0))
    assert (a + b).domain == (1.0, 2.0)
    assert (a + ReluSum(0.0, [], [])).domain == (0.0, 2.0)


@settings(max_examples=100, deadline=None)
@given(relu_sums(20), finite, finite)
def test_integral_is_exact(parts, a, b):
    s = ReluSum(*parts)
    lo, hi = min(a, b), max(a, b)
    x = np.unique(np.concatenate(([lo, hi], s.knots[(s.knots > lo) & (s.knots < hi)])))
    exact = np.trapezoid(s(x), x)  # the trapezoid rule is exact on breakpoints
    got = s.integral(a, b)
    sign = 1.0 if b >= a else -1.0
    mag = np.trapezoid(scale(*parts, x), x) + 1e-300
    assert abs(got - sign * exact) <= 1e-9 * mag + 1e-12


def test_integral_simple():
    s = ReluSum(1.0, [0.0], [2.0])
    assert s.integral(-1.0, 1.0) == pytest.approx(2.0 + 1.0)
    assert s.integral(1.0, -1.0) == pytest.approx(-3.0)


def test_simplify_merges_and_drops_without_changing_values():
    s = ReluSum(0.5, [0.0, 0.3, 0.3, 0.7, 1.0], [1.0, 2.0, -0.5, 0.0, 1e-3])
    t = s.simplify()
    assert t.n_units == 3
    np.testing.assert_array_equal(t.knots, [0.0, 0.3, 1.0])
    x = np.linspace(-1, 2, 301)
    np.testing.assert_allclose(t(x), s(x), rtol=1e-14, atol=1e-14)
    near = ReluSum(0.0, [0.3, 0.3 + 1e-12], [1.0, 1.0]).simplify(atol=1e-9)
    assert near.n_units == 1 and near.weights[0] == 2.0
    assert ReluSum(0.0, [0.2, 0.4], [1.0, -1.0]).simplify().n_units == 2


def test_allclose_is_functional_not_representational():
    a = ReluSum(0.0, [0.0, 0.0, 1.0], [1.0, 1.0, -2.0])
    b = ReluSum(0.0, [0.0, 1.0], [2.0, -2.0])
    assert a.allclose(b) and b.allclose(a)
    assert a != b  # __eq__ is exact representation equality
    assert not a.allclose(ReluSum(0.0, [0.0, 1.0], [2.0, -2.0 + 1e-6]))  # final slope differs
    assert not a.allclose(ReluSum(1e-6, [0.0, 1.0], [2.0, -2.0]))
    with pytest.raises(TypeError):
        a.allclose(1.0)  # type: ignore[arg-type]


def test_eq_and_hash_exact():
    a = ReluSum(0.0, [0.0, 1.0], [1.0, 2.0], (0.0, 1.0))
    b = ReluSum(0.0, [1.0, 0.0], [2.0, 1.0], (0.0, 1.0))
    assert a == b and hash(a) == hash(b)
    assert a != ReluSum(0.0, [0.0, 1.0], [1.0, 2.0 + 1e-15], (0.0, 1.0))
    assert a != a.with_domain(None)


@settings(max_examples=100, deadline=None)
@given(relu_sums(30))
def test_json_round_trip_exact(parts):
    s = ReluSum(*parts, domain=(-1.0, 2.0))
    d = json.loads(json.dumps(s.to_dict()))
    assert ReluSum.from_dict(d) == s
    assert d["format"] == "relusum/1"
    assert set(d) == {"format", "bias", "knots", "weights", "domain"}


def test_save_load(tmp_path):
    s = ReluSum(0.1, [0.0, 0.5], [1.0, -2.0], (0.0, 1.0))
    p = s.save(tmp_path / "m.json", rmse=0.5, n_units=2)
    assert ReluSum.load(p) == s
    data = json.loads(p.read_text())
    assert data["rmse"] == 0.5  # extra fields are kept in the file, ignored on load
    assert list(tmp_path.iterdir()) == [p]  # no temporary files left


def test_load_errors(tmp_path):
    with pytest.raises(ValueError, match="cannot read"):
        ReluSum.load(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="not JSON"):
        ReluSum.load(bad)
    bad.write_text('{"bias": 0, "knots": [0]}')
    with pytest.raises(ValueError, match="weights"):
        ReluSum.load(bad)
    bad.write_text('{"format": "other/1", "bias": 0, "knots": [], "weights": []}')
    with pytest.raises(ValueError, match="format"):
        ReluSum.load(bad)
    bad.write_text("[1, 2]")
    with pytest.raises(ValueError, match="object"):
        ReluSum.load(bad)


def test_save_is_atomic_when_folder_missing(tmp_path):
    s = ReluSum(0.0, [0.0], [1.0])
    with pytest.raises(ValueError, match="does not exist"):
        s.save(tmp_path / "nope" / "m.json")


def test_repr_and_svg():
    s = ReluSum(0.25, np.linspace(0, 1, 10, endpoint=False), np.ones(10), (0.0, 1.0))
    r = repr(s)
    assert r.startswith("ReluSum(bias=0.25") and "..." in r and "domain=(0, 1)" in r
    svg = s._repr_svg_()
    assert svg.startswith("<svg") and "polyline" in svg and "10 units" in svg


def test_evaluation_memory_is_linear_not_n_by_N():
    n, N = 1000, 200_000
    rng = np.random.default_rng(0)
    s = ReluSum(0.0, rng.uniform(0, 1, n), rng.normal(size=n))
    x = rng.uniform(-0.5, 1.5, N)
    tracemalloc.start()
    y = s(x)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert y.shape == (N,)
    # An N x n intermediate would need 1.6 GB; allow a handful of length-N arrays.
    assert peak < 12 * N * 8


@settings(max_examples=50, deadline=None)
@given(relu_sums(30), arrays(float, st.integers(1, 200), elements=st.floats(-2e3, 2e3)))
def test_sorted_and_unsorted_paths_agree(parts, x):
    s = ReluSum(*parts)
    xs = np.sort(x)
    np.testing.assert_array_equal(s(xs), s(x)[np.argsort(x, kind="stable")])


def test_infinite_and_nan_inputs():
    s = ReluSum(1.0, [0.0, 1.0], [2.0, -2.0])  # flat on both sides
    np.testing.assert_array_equal(s([-np.inf, np.inf]), [1.0, 3.0])
    r = ReluSum(1.0, [0.0], [-2.0])
    assert r(np.inf) == -np.inf and r(-np.inf) == 1.0
    assert np.isnan(r(np.array([0.0, np.nan, 1.0]))[1])


def test_large_inputs_span_several_blocks():
    rng = np.random.default_rng(5)
    s = ReluSum(0.2, rng.uniform(-1, 1, 50), rng.normal(size=50))
    for x in (rng.uniform(-2, 2, 200_001), np.linspace(-2, 2, 200_001)):
        np.testing.assert_allclose(s(x), naive(s.bias, s.knots, s.weights, x), atol=1e-12)


def test_saved_files_get_normal_permissions(tmp_path):
    import os
    import stat

    old = os.umask(0o022)
    try:
        p = ReluSum(0.0, [0.0], [1.0]).save(tmp_path / "m.json")
    finally:
        os.umask(old)
    assert stat.S_IMODE(p.stat().st_mode) == 0o644


@settings(max_examples=300, deadline=None)
@given(
    small=st.lists(st.floats(-10.0, 10.0), min_size=2, max_size=30),
    spike=st.floats(1e6, 1e12),
    at=st.integers(0, 29),
)
def test_weights_from_slopes_carry_the_rounding(small, spike, at):
    # A steep piece among ordinary ones: every slope of the ReluSum built from
    # the weights (its running sums) is within the rounding of one weight and
    # one sum of the slope asked for, also right of the steep piece, where
    # the plain differences leave an error of up to spike * 2**-53.
    from relusum.model import weights_from_slopes

    s = np.array(small)
    s[at % s.size] += spike
    w = weights_from_slopes(s)
    got = ReluSum(0.0, np.arange(s.size, dtype=float), w).slopes[1:]
    eps = np.finfo(float).eps
    assert np.all(np.abs(got - s) <= eps * (np.abs(s) + np.abs(w)) + 1e-300)


def test_weights_from_slopes_plain_differences_when_nothing_is_lost():
    from relusum.model import weights_from_slopes

    s = np.array([0.0, 1.0, -2.0, 0.5, 0.25])
    np.testing.assert_array_equal(weights_from_slopes(s), np.diff(s, prepend=0.0))
    np.testing.assert_array_equal(weights_from_slopes([3.0]), [3.0])
    assert weights_from_slopes([]).size == 0
