"""Fixed-knot fits: banded least squares against scipy and dense lstsq, interpolation, reports."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.interpolate import make_lsq_spline

import relusum
from relusum import Data, ReluSum
from relusum.fitting.fixed import breakpoints_for, uniform_knots
from relusum.fitting.hat import hat_lstsq, naive_hat_lstsq
from relusum.targets import MIN_VERIFY, make_target


def ssr(model, x, y, w=None):
    r = model(x) - y
    return float(np.sum(r * r if w is None else w * r * r))


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 40), st.integers(0, 10_000), st.booleans())
def test_l2_matches_make_lsq_spline(n, seed, weighted):
    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(-2.0, 3.0, 400))
    x[0], x[-1] = -2.0, 3.0
    y = np.sin(2 * x) + 0.1 * rng.normal(size=x.size)
    w = rng.uniform(0.1, 2.0, x.size) if weighted else None
    r = relusum.fit((x, y), n_units=n, sample_weight=w)
    h = uniform_knots((-2.0, 3.0), n)
    t = np.concatenate(([-2.0, -2.0], h[1:], [3.0, 3.0]))
    # scipy weights the residuals (w * r)^2; ours weight the squares, w * r^2
    spl = make_lsq_spline(x, y, t, k=1, w=None if w is None else np.sqrt(w))
    ref = float(np.sum((w if w is not None else 1.0) * (spl(x) - y) ** 2))
    assert ssr(r.model, x, y, w) == pytest.approx(ref, rel=1e-9)
    np.testing.assert_allclose(r.model(x), spl(x), rtol=0, atol=1e-9)


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 12), st.integers(0, 10_000), st.booleans())
def test_banded_solve_matches_dense_lstsq(m, seed, flat_first):
    rng = np.random.default_rng(seed)
    t = np.sort(rng.uniform(0, 1, m + 1))
    t[0], t[-1] = 0.0, 1.0
    x = np.sort(rng.uniform(0, 1, 200))
    y = np.cos(5 * x) + rng.normal(size=x.size) * 0.05
    w = rng.uniform(0.5, 1.5, x.size)
    if np.min(np.diff(t)) < 1e-3:
        return
    # every piece must hold data for a unique solution
    counts = np.histogram(x, t)[0]
    if np.any(counts < 2):
        return
    got = hat_lstsq(x, y, t, w, flat_first)
    want = naive_hat_lstsq(x, y, t, w, flat_first)
    np.testing.assert_allclose(got, want, rtol=1e-8, atol=1e-10)
    if flat_first:
        assert got[0] == got[1]


def test_flat_first_piece_when_first_knot_inside():
    r = relusum.fit("abs(x - 0.3)", (0, 1), knots=[0.3, 0.6])
    s = r.model
    assert s.n_units == 2 and s.n_pieces == 3
    assert s.slope_at(0.1) == 0.0  # flat on [A, h0]
    # the best such fit of |x-0.3| with a flat first piece: verify against dense lstsq
    tgt = make_target("abs(x - 0.3)", (0, 1))
    t, flat = breakpoints_for(np.array([0.3, 0.6]), (0.0, 1.0))
    c = naive_hat_lstsq(tgt.x, tgt.y, t, None, flat)
    np.testing.assert_allclose(s(t), c, atol=1e-12)


def test_exact_target_is_reproduced():
    truth = ReluSum(0.5, [0.0, 0.25, 0.5, 0.75], [1.0, -2.0, 3.0, -1.5], (0.0, 1.0))
    r = relusum.fit(truth, (0, 1), n_units=4)
    assert r.model.allclose(truth, rtol=1e-10, atol=1e-12)
    assert r.report.max_abs_error < 1e-12


def test_empty_piece_is_solved_not_singular():
    x = np.concatenate((np.linspace(0, 0.3, 50), np.linspace(0.7, 1.0, 50)))
    y = 2 * x + 1
    r = relusum.fit((x, y), n_units=10)  # pieces in (0.3, 0.7) hold no data
    assert np.all(np.isfinite(r.model.weights))
    grid = np.linspace(0, 1, 101)
    np.testing.assert_allclose(r.model(grid), 2 * grid + 1, atol=1e-6)


def test_too_many_units_for_data_is_an_error():
    with pytest.raises(ValueError, match="at most 4 units"):
        relusum.fit(([0, 1, 2, 3, 4], [0, 1, 0, 1, 0]), n_units=5)
    with pytest.raises(ValueError, match="more samples"):
        relusum.fit("x", (0, 1), n_units=10, samples=5)
    # repeated x do not count as distinct
    with pytest.raises(ValueError, match="have 3; use at most 2"):
        relusum.fit(([0, 0, 1, 1, 2, 2], [0, 1, 0, 1, 0, 1]), n_units=3)


def test_interpolation_matches_at_knots_and_end():
    r = relusum.fit("exp(x)", (-1, 2), n_units=7, interpolate=True)
    s = r.model
    nodes = np.concatenate((s.knots, [2.0]))
    np.testing.assert_allclose(s(nodes), np.exp(nodes), rtol=1e-13)
    assert r.report.interpolate and r.report.n_pieces == 7
    # interpolation error of a convex function is one-sided
    g = np.linspace(-1, 2, 1001)
    assert np.all(s(g) >= np.exp(g) - 1e-12)


def test_interpolation_with_free_knots_is_flat_first():
    r = relusum.fit("x**2", (-1, 1), knots=[-0.5, 0.0, 0.5], interpolate=True)
    s = r.model
    assert s(-1.0) == pytest.approx(0.25) and s.slope_at(-0.9) == 0.0
    np.testing.assert_allclose(s([-0.5, 0.0, 0.5, 1.0]), [0.25, 0.0, 0.25, 1.0], atol=1e-15)


def test_interpolating_data_reproduces_every_point():
    rng = np.random.default_rng(1)
    x = rng.permutation(np.linspace(0, 5, 30))  # any order
    y = np.sin(x) + rng.normal(size=x.size)
    r = relusum.fit((x, y), interpolate=True)
    assert r.model.n_units == 29
    order = np.argsort(x)
    np.testing.assert_allclose(r.model(x[order]), y[order], atol=1e-12)
    assert r.report.max_abs_error < 1e-12 and r.report.error_on == "data"


def test_interpolation_needs_distinct_x():
    with pytest.raises(ValueError, match="distinct x"):
        relusum.fit(([0, 1, 1, 2], [0, 1, 2, 3]), interpolate=True)
    with pytest.raises(ValueError, match="distinct"):
        ReluSum.from_points([0, 1, 1], [0, 1, 2])


def test_uniform_knots_positions():
    np.testing.assert_allclose(uniform_knots((0, 2 * math.pi), 4), np.arange(4) * math.pi / 2)
    with pytest.raises(ValueError, match="positive integer"):
        uniform_knots((0, 1), 0)
    with pytest.raises(ValueError, match="positive integer"):
        relusum.fit("x", (0, 1), n_units=2.5)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "knots, match",
    [
        ([0.5, 0.5], "distinct"),
        ([-0.1, 0.5], r"in \[A, B\)"),
        ([0.5, 1.0], r"in \[A, B\)"),
        ([], "empty"),
        ([np.nan], "finite"),
    ],
)
def test_given_knots_validated(knots, match):
    with pytest.raises(ValueError, match=match):
        relusum.fit("x", (0, 1), knots=knots)


def test_n_units_must_match_given_knots():
    with pytest.raises(ValueError, match="does not match"):
        relusum.fit("x", (0, 1), n_units=3, knots=[0.0, 0.5])


def test_report_for_function_is_on_separate_grid():
    r = relusum.fit("sin(x)", (0, "2*pi"), n_units=16, samples=500)
    rep = r.report
    assert rep.error_on == "grid" and rep.n_samples == 500
    assert rep.n_verify >= MIN_VERIFY
    # recompute independently: grid offset from samples, plus knots and both ends
    x, y = r.target.verification(extra=r.model.knots)
    assert x[0] == 0.0 and x[-1] == pytest.approx(2 * math.pi)
    assert np.isin(r.model.knots, x).all()
    assert np.isin(r.target.x[1:-1], x).mean() < 0.05  # almost no sample reused
    res = r.model(x) - np.sin(x)
    assert rep.max_abs_error == pytest.approx(np.max(np.abs(res)))
    assert rep.rmse == pytest.approx(np.sqrt(np.mean(res**2)))
    assert rep.seconds >= 0 and rep.n_units == 16 and rep.n_pieces == 16


def test_verification_grid_size_follows_samples():
    r = relusum.fit("x**2", (0, 1), n_units=4, samples=10_000)
    assert r.report.n_verify >= 20 * 10_000


def test_error_falls_like_n_squared():
    errs = [relusum.fit("sin(x)", (0, 3), n_units=n).report.max_abs_error for n in (8, 16, 32)]
    rates = np.log2(np.array(errs[:-1]) / np.array(errs[1:]))
    assert np.all(rates > 1.7) and np.all(rates < 2.3)


def test_weights_equal_repeated_points():
    x = np.array([0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0])
    y = np.array([0.0, 1.0, 0.5, 2.0, 1.0, 3.0, 2.0])
    w = np.array([1, 3, 1, 2, 1, 1, 4])
    a = relusum.fit((x, y), n_units=3, sample_weight=w).model
    b = relusum.fit((np.repeat(x, w), np.repeat(y, w)), n_units=3).model
    assert a.allclose(b, rtol=1e-9, atol=1e-12)


def test_data_order_does_not_matter_and_duplicates_are_regression():
    rng = np.random.default_rng(3)
    x = np.repeat(np.linspace(0, 1, 20), 3)
    y = x**2 + rng.normal(size=x.size) * 0.01
    perm = rng.permutation(x.size)
    a = relusum.fit((x, y), n_units=5).model
    b = relusum.fit((x[perm], y[perm]), n_units=5).model
    assert a.allclose(b, rtol=1e-10, atol=1e-12)


def test_non_vectorised_callable_and_vectorised_callable_agree():
    a = relusum.fit(math.sin, (0, 3), n_units=6, samples=200).model
    b = relusum.fit(np.sin, (0, 3), n_units=6, samples=200).model
    assert a.allclose(b, rtol=1e-12)


@pytest.mark.parametrize(
    "target, domain, match",
    [
        ("log(x)", (0, 1), "not finite at x = 0"),
        ("1/(x - 0.5)", (0, 1), "not finite at x = 0.5"),
        ("sqrt(x)", (-1, 1), "not finite at x = -1"),
    ],
)
def test_function_not_finite_names_x(target, domain, match):
    with pytest.raises(ValueError, match=match):
        relusum.fit(target, domain, n_units=4)


def test_callable_that_raises_is_reported():
    def bad(x):
        raise RuntimeError("boom")

    with pytest.raises(ValueError, match="boom"):
        relusum.fit(bad, (0, 1), n_units=2)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(target="x", domain=(1, 0)), "reversed"),
        (dict(target="x", domain=(1, 1)), "empty"),
        (dict(target="x", domain=None), "needs a domain"),
        (dict(target="x", domain=(0, 1), samples=1), "at least 2"),
        (dict(target="x", domain=(0, 1), loss="l3"), "loss must be"),
        (dict(target="x", domain=(0, 1), knots="random"), "knots must be"),
        (dict(target=([0, np.nan], [1, 2])), "x contains nan"),
        (dict(target=([0, 1], [1, np.inf])), "y contains inf"),
        (dict(target=([], [])), "empty"),
        (dict(target=([1, 1], [1, 2])), "same x"),
        (dict(target=([0, 1, 2], [1, 2, 3]), domain=(0.5, 3)), "not inside"),
        (dict(target=42), "target must be"),
    ],
)
def test_bad_input_is_a_clear_value_error(kwargs, match):
    with pytest.raises(ValueError, match=match):
        relusum.fit(**kwargs)


def test_fit_result_dict_has_documented_fields():
    d = relusum.fit("x**2", (0, 1), n_units=3).to_dict()
    for key in (
        "format",
        "bias",
        "knots",
        "weights",
        "domain",
        "n_units",
        "n_pieces",
        "rmse",
        "max_abs_error",
        "error_on",
        "seconds",
    ):
        assert key in d
    assert d["format"] == "relusum/1" and d["error_on"] == "grid"


def test_data_object_with_weights():
    d = Data([0, 1, 2, 3], [0, 1, 0, 1], weight=[1, 1, 1, 1])
    r = relusum.fit(d, n_units=2)
    assert r.report.error_on == "data" and r.report.n_verify == 4
    with pytest.raises(ValueError, match="Data"):
        relusum.fit(d, n_units=2, sample_weight=[1, 1, 1, 1])
