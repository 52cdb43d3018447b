"""Max-error fits: theory (x**2), brute-force LP references, awkward targets, dispatch errors."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

import relusum
from relusum import ReluSum
from relusum.fitting.minimax import (
    greedy_pieces,
    linf_fixed_knots,
    make_gates,
    minimax_discontinuous,
    minimax_points,
    minimax_target,
)
from relusum.targets import make_target


# ----------------------------------------------------------------- references
def brute_force_minimax(x, y, n_pieces, flat_first=False, continuous=True):
    """Exact optimum by enumeration: which gap each joint sits in, which way the lines cross.

    For every assignment of the ``n_pieces - 1`` joints to gaps between
    consecutive points (two joints in one gap leave a piece without points,
    which decouples its neighbours) and every crossing direction, the best
    error is a small LP in the lines' slopes and intercepts.
    """
    x = np.asarray(x, float)
    y = np.asarray(y, float)
    # HiGHS's feasibility tolerance is absolute: solve for y scaled to [-1, 1], with
    # the tightest tolerances (1e-10; at the default 1e-7, data 1.2e-7 tall came out
    # "exactly fitted" against the sweep's correct 6e-8), then scale the error back.
    mid, half = (y.max() + y.min()) / 2, (y.max() - y.min()) / 2
    if half == 0:
        return 0.0
    y = (y - mid) / half
    n = x.size
    nv = 2 * n_pieces + 1
    best = np.inf
    gaps = list(range(-1 if flat_first else 0, n - 1))
    for joints in itertools.combinations_with_replacement(gaps, n_pieces - 1):
        for signs in itertools.product((1, -1), repeat=n_pieces - 1):
            a_ub, b_ub = [], []
            for j in range(n):
                i = sum(1 for s in joints if s < j)
                for sgn in (1.0, -1.0):
                    r = np.zeros(nv)
                    r[2 * i], r[2 * i + 1], r[-1] = sgn * x[j], sgn, -1.0
                    a_ub.append(r)
                    b_ub.append(sgn * y[j])
            for t, s in enumerate(joints):
                shared = (t + 1 < len(joints) and joints[t + 1] == s) or (
                    t > 0 and joints[t - 1] == s
                )
                if shared or s == -1 or not continuous:
                    continue
                for xx, side in ((x[s], 1.0), (x[s + 1], -1.0)):
                    r = np.zeros(nv)
                    r[2 * t], r[2 * t + 1] = xx, 1.0
                    r[2 * t + 2], r[2 * t + 3] = -xx, -1.0
                    a_ub.append(-signs[t] * side * r)
                    b_ub.append(0.0)
            bounds = [(None, None)] * (2 * n_pieces) + [(0, None)]
            if flat_first:
                bounds[0] = (0, 0)
            cost = np.zeros(nv)
            cost[-1] = 1.0
            res = linprog(
                cost,
                A_ub=np.array(a_ub),
                b_ub=np.array(b_ub),
                bounds=bounds,
                method="highs",
                options={
                    "primal_feasibility_tolerance": 1e-10,
                    "dual_feasibility_tolerance": 1e-10,
                },
            )
            if res.status == 0:
                best = min(best, res.fun)
            if not continuous:
                break
    return best * half


def naive_linf_fixed(x, y, knots):
    """Dense LP in the ReLU basis itself: bias, weights, t."""
    x = np.asarray(x, float)
    phi = np.maximum(0.0, x[:, None] - np.asarray(knots)[None, :])
    a = np.hstack((np.ones((x.size, 1)), phi))
    m = a.shape[1]
    col = -np.ones((x.size, 1))
    a_ub = np.vstack((np.hstack((a, col)), np.hstack((-a, col))))
    b_ub = np.concatenate((y, -y))
    cost = np.zeros(m + 1)
    cost[-1] = 1
    res = linprog(
        cost, A_ub=a_ub, b_ub=b_ub, bounds=[(None, None)] * m + [(0, None)], method="highs"
    )
    return res.fun


def free_value(n):
    return 1.0 / (2.0 * (2 * n + 1) ** 2)


# ------------------------------------------------------------------- theory
def test_x2_free_units_reach_theory_within_one_percent():
    """n free units on x**2 over [0, 1]: optimum 1/(2(2n+1)^2), on the verification grid
    (all n from 1 to 64 on point sets: test_minimax_exact.py)."""
    for n in (1, 2, 3, 5, 8, 13, 21):
        r = relusum.fit("x**2", domain=(0, 1), n_units=n, knots="optimal", loss="linf")
        ratio = r.report.max_abs_error / free_value(n)
        assert r.report.error_on == "grid"
        assert 0.995 <= ratio <= 1.01, (n, ratio)
        assert r.model.n_units <= n


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8, 16])
def test_x2_pinned_first_knot_reaches_one_over_8n2(n):
    t = make_target("x**2", (0, 1))
    s, _ = minimax_target(t, n, flat_first=False)
    dense = np.linspace(0, 1, 200_001)
    err = float(np.max(np.abs(s(dense) - dense**2)))
    assert s.knots[0] == 0.0
    assert err == pytest.approx(1.0 / (8 * n * n), rel=0.01)


def test_x2_points_exact_values():
    """On the points themselves the solver hits the exact optima to rtol (pinned and free)."""
    x = np.linspace(0, 1, 401)
    for n in (1, 2, 4):
        _, e_free = minimax_points(x, x**2, n)
        _, e_pin = minimax_points(x, x**2, n, flat_first=False)
        # The point grid only contains the theoretical extremal points for these n.
        assert e_pin == pytest.approx(1 / (8 * n * n), rel=1e-6)
        assert e_free <= free_value(n) * (1 + 1e-7)
        assert e_free >= free_value(n) * 0.9  # points only: gaps give some slack


def test_more_units_never_worse_with_warm_start():
    """Warm-starting n + 1 from n (as the issue asks) never gets worse, also on noisy data."""
    from relusum.fitting.optimal import fit_optimal

    rng = np.random.default_rng(3)
    x = np.sort(rng.uniform(0, 5, 300))
    y = np.sin(2 * x) + 0.05 * rng.normal(size=x.size)
    tgt = make_target((x, y))
    prev, errs = None, []
    for n in range(1, 13):
        prev, _ = fit_optimal(tgt, n, "linf", init=prev)
        errs.append(float(np.max(np.abs(prev(x) - y))))
    assert all(b <= a for a, b in zip(errs, errs[1:])), errs
    assert errs[-1] < 0.5 * errs[0]


def test_more_pieces_never_worse_on_convex_points():
    x = np.sort(np.random.default_rng(0).uniform(0, 3, 400))
    errs = [minimax_points(x, np.exp(x), n)[1] for n in range(1, 13)]
    assert all(b <= a * (1 + 1e-7) for a, b in zip(errs, errs[1:])), errs


@pytest.mark.parametrize(
    "formula,domain",
    [
        ("sin(x)", (0, "2*pi")),
        ("gelu(x)", (-8, 8)),
        ("tanh(x)", (-6, 6)),
        ("1/(1+25*x**2)", (-1, 1)),
        ("sqrt(x)", (0, 1)),
        ("exp(x)", (-2, 2)),
    ],
)
def test_optimal_never_worse_than_uniform_and_monotone(formula, domain):
    prev = np.inf
    for n in (2, 4, 8):
        opt = relusum.fit(formula, domain=domain, n_units=n, knots="optimal", loss="linf")
        uni = relusum.fit(formula, domain=domain, n_units=n, knots="uniform", loss="linf")
        assert opt.report.max_abs_error <= uni.report.max_abs_error * (1 + 1e-9)
        assert opt.report.max_abs_error <= prev * 1.001
        prev = opt.report.max_abs_error


def test_recovers_sum_of_relus_exactly():
    true = ReluSum(0.3, [-1.7, -0.2, 0.45, 2.1], [0.8, -2.0, 1.5, -0.6], (-3, 3))
    r = relusum.fit(true, domain=(-3, 3), n_units=4, knots="optimal", loss="linf")
    np.testing.assert_allclose(r.model.knots, true.knots, atol=1e-8)
    np.testing.assert_allclose(r.model.weights, true.weights, rtol=1e-7, atol=1e-9)
    assert r.report.max_abs_error < 1e-10


def test_recovers_sum_of_relus_exactly_l2():
    pytest.importorskip("relusum.fitting.free_l2")
    true = ReluSum(0.3, [-1.7, -0.2, 0.45, 2.1], [0.8, -2.0, 1.5, -0.6], (-3, 3))
    r = relusum.fit(true, domain=(-3, 3), n_units=4, knots="optimal", loss="l2")
    np.testing.assert_allclose(r.model.knots, true.knots, atol=1e-8)


# --------------------------------------------------------------- awkward targets
def test_abs_kink_exact_with_two_units():
    r = relusum.fit("abs(x - 0.3)", domain=(0, 1), n_units=2, knots="optimal", loss="linf")
    assert r.report.max_abs_error < 1e-10
    assert np.any(np.abs(r.model.knots - 0.3) < 1e-9)


def test_abs_kink_one_unit_matches_brute_force_on_points():
    x = np.linspace(0, 1, 11)
    y = np.abs(x - 0.3)
    _, e = minimax_points(x, y, 1)
    assert e == pytest.approx(brute_force_minimax(x, y, 2, flat_first=True), abs=1e-9)


def test_sqrt_infinite_slope():
    r = relusum.fit("sqrt(x)", domain=(0, 1), n_units=8, knots="optimal", loss="linf")
    u = relusum.fit("sqrt(x)", domain=(0, 1), n_units=8, knots="uniform", loss="linf")
    assert np.isfinite(r.report.max_abs_error)
    assert r.report.max_abs_error < 0.6 * u.report.max_abs_error
    assert r.model.knots.min() < 0.01  # knots crowd where the slope blows up


def test_step_does_not_break_it():
    """A jump of 1 cannot be matched better than 1/2 on a grid; the fit stays sane."""
    r = relusum.fit("step(x - 0.5)", domain=(0, 1), n_units=4, knots="optimal", loss="linf")
    assert 0.45 <= r.report.max_abs_error <= 1.0
    assert np.all(np.isfinite(r.model.weights))
    x = np.array([0.1, 0.3, 0.7, 0.9])
    np.testing.assert_allclose(r.model(x), [0, 0, 1, 1], atol=1e-6)


def test_noisy_data_points_exact_bound():
    rng = np.random.default_rng(7)
    x = rng.uniform(-2, 2, 200)
    y = np.tanh(2 * x) + 0.1 * rng.normal(size=x.size)
    r = relusum.fit((x, y), n_units=6, knots="optimal", loss="linf")
    assert r.report.error_on == "data"
    lower = minimax_discontinuous(x, y, 7)
    assert lower <= r.report.max_abs_error
    uni = relusum.fit((x, y), n_units=6, knots="uniform", loss="linf")
    assert r.report.max_abs_error <= uni.report.max_abs_error + 1e-12


def test_constant_data_and_two_points():
    r = relusum.fit((np.arange(10.0), np.full(10, 2.5)), n_units=3, knots="optimal", loss="linf")
    assert r.report.max_abs_error == 0.0
    r2 = relusum.fit(([0.0, 1.0], [1.0, 3.0]), n_units=1, knots="optimal", loss="linf")
    assert r2.report.max_abs_error < 1e-12
    np.testing.assert_allclose(r2.model([0.0, 1.0]), [1.0, 3.0], atol=1e-12)
    with pytest.raises(ValueError, match=r"at most 1 unit\b"):
        relusum.fit(([0.0, 1.0], [1.0, 3.0]), n_units=2, knots="optimal", loss="linf")


def test_repeated_x_floor_is_half_spread():
    x = np.array([0.0, 1.0, 1.0, 2.0, 3.0])
    y = np.array([0.0, 1.0, 2.0, 0.0, 1.0])
    s, e = minimax_points(x, y, 3)
    assert e == pytest.approx(0.5, abs=1e-9)


def test_deterministic():
    a = relusum.fit("gelu(x)", domain=(-8, 8), n_units=12, knots="optimal", loss="linf")
    b = relusum.fit("gelu(x)", domain=(-8, 8), n_units=12, knots="optimal", loss="linf")
    assert a.model == b.model


# ------------------------------------------------------ greedy vs LP reference
def _convex_points(draw_slopes, draw_dx, y0):
    x = np.concatenate(([0.0], np.cumsum(draw_dx)))
    slopes = np.sort(np.asarray(draw_slopes))
    y = y0 + np.concatenate(([0.0], np.cumsum(slopes * np.asarray(draw_dx))))
    return x, y


@settings(max_examples=25, deadline=None)
@given(
    dx=st.lists(st.floats(0.2, 3.0), min_size=2, max_size=5),
    slopes=st.lists(st.floats(-3, 3), min_size=5, max_size=5),
    k=st.integers(1, 3),
    flat=st.booleans(),
)
# Data 1.25e-7 tall: the reference LP read it as fitted exactly (HiGHS's absolute tolerance).
@example(dx=[1.0, 0.25], slopes=[0.0, 5e-7, 0.0, 0.0, 0.0], k=1, flat=False)
# 1.2e-7 relative to a rise of 3: read as fitted at the default tolerance 1e-7.
@example(dx=[1.0, 1.0], slopes=[3.0, -1.192092896e-07, 0.0, 0.0, 0.0], k=1, flat=True)
def test_greedy_exact_on_convex_points(dx, slopes, k, flat):
    x, y = _convex_points(slopes[: len(dx)], dx, 0.0)
    ref = brute_force_minimax(x, y, k + (1 if flat else 0), flat_first=flat)
    _, e = minimax_points(x, y, k, flat_first=flat)
    assert e == pytest.approx(ref, rel=1e-6, abs=1e-9)
    # Feasibility itself agrees on both sides of the optimum (a flat first piece,
    # or the first knot pinned at A, which is the empty flat piece).
    g = make_gates(x, y)

    def feasible(eps):
        ok = greedy_pieces(g, eps, k, False) is not None
        return ok or (flat and greedy_pieces(g, eps, k + 1, True) is not None)

    # (the absolute 1e-9 of the comparison above, in normalised units: y may be tiny)
    assert feasible((ref * (1 + 1e-6) + 1e-9) / g.half)
    if ref > 1e-6:
        assert not feasible(ref / g.half * (1 - 1e-6))


@settings(max_examples=25, deadline=None)
@given(
    x=st.lists(st.floats(0, 20), min_size=2, max_size=6, unique=True),
    data=st.data(),
    k=st.integers(1, 3),
)
def test_greedy_valid_and_bounded_by_references(x, data, k):
    """Any data: the fit achieves what it reports, never beats the LP optimum, and
    lies between that optimum and the discontinuous lower bound's continuous cousin."""
    x = np.sort(np.array(x))
    if np.min(np.diff(x)) < 1e-3:
        return
    y = np.array(data.draw(st.lists(st.floats(-2, 2), min_size=x.size, max_size=x.size)))
    s, e = minimax_points(x, y, k, flat_first=False)
    assert float(np.max(np.abs(s(x) - y))) <= e + 1e-9
    ref = brute_force_minimax(x, y, k)
    assert e >= ref - 1e-7
    disc = minimax_discontinuous(x, y, k)
    assert disc <= ref + 1e-7
    assert disc == pytest.approx(brute_force_minimax(x, y, k, continuous=False), abs=1e-7)


# ------------------------------------------------------------ fixed-knot LP
@settings(max_examples=20, deadline=None)
@given(
    n=st.integers(1, 5),
    seed=st.integers(0, 10_000),
)
def test_fixed_knot_lp_matches_dense_reference(n, seed):
    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(0, 1, 40))
    y = np.sin(6 * x) + 0.1 * rng.normal(size=x.size)
    knots = np.sort(rng.uniform(0, 0.95, n))
    s = linf_fixed_knots(x, y, knots, (0.0, 1.0))
    assert float(np.max(np.abs(s(x) - y))) == pytest.approx(naive_linf_fixed(x, y, knots), abs=1e-7)


def test_uniform_linf_dispatch_reports_lp_error():
    r = relusum.fit("x**2", domain=(0, 1), n_units=1, loss="linf")
    assert r.report.max_abs_error == pytest.approx(1 / 8, rel=1e-6)
    assert r.report.loss == "linf"


# ------------------------------------------------------------- user errors
@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(n_units=4, knots="optimal", loss="linf", sample_weight=np.ones(2000)), "weight"),
        (dict(n_units=4, tol=1e-3), "not both"),
        (dict(n_units=4, knots="optimal", interpolate=True), "not implemented"),
        (dict(n_units=4, loss="linf", interpolate=True), "interpolate"),
        (dict(n_units=0, knots="optimal"), "positive integer"),
        (dict(n_units=4, knots="best"), "knots must be"),
        (dict(n_units=3000, knots="optimal", loss="linf"), "at most"),
    ],
)
def test_clear_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        relusum.fit("x**2", domain=(0, 1), **kwargs)


def test_nearly_coincident_points_stay_accurate():
    """Gaps of 1e-11 next to gaps of 0.1 must not wreck the clipping (regression)."""
    x = np.array([0.0, 1e-11, 2e-11, 0.1, 0.1 + 1e-11, 0.4, 0.7, 0.70000000001, 1.0])
    y = np.sin(3 * x) + np.array([0, 1e-12, 0, 0, 0, 0.01, 0, 0, 0])
    for n in (1, 2, 3, 5):
        s, e = minimax_points(x, y, n)
        assert float(np.max(np.abs(s(x) - y))) <= e + 1e-12
        assert e >= minimax_discontinuous(x, y, n + 1) - 1e-12
    _, e_exact = minimax_points(x, y, 8)
    assert e_exact < 1e-9


def test_make_gates_fast_paths_match_the_general_merge():
    # Sorted input skips the sort, distinct x skip the merge: same gates as
    # sorting and merging every input (repeats, unsorted, -0.0 next to 0.0).
    from relusum.fitting.minimax import make_gates

    rng = np.random.default_rng(11)
    for it in range(60):
        x = rng.uniform(-1.0, 1.0, int(rng.integers(2, 400)))
        if it % 3:
            x = np.sort(x)
        if it % 4 == 0:
            x = np.round(x * 5.0) / 5.0
        if it % 7 == 0:
            x = np.sort(np.concatenate((x, [-0.0, 0.0])))
        y = rng.normal(size=x.size)
        order = np.argsort(x, kind="stable")
        xs, ys = x[order], y[order]
        starts = np.flatnonzero(np.concatenate(([True], np.diff(xs) != 0)))
        lo, hi = np.minimum.reduceat(ys, starts), np.maximum.reduceat(ys, starts)
        g = make_gates(x, y, (-1.0, 1.0))
        mid, half = 0.5 * (lo.min() + hi.max()), 0.5 * (hi.max() - lo.min())
        # (u = (x - c) / (B - A), the origin c = 0 for a domain straddling 0)
        assert np.array_equal(g.u, (xs[starts] - 0.0) / 2.0)
        assert np.array_equal(g.lo, (lo - mid) / half) and np.array_equal(g.hi, (hi - mid) / half)
        assert g.lo is not g.hi
