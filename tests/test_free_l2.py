"""Free-knot least squares (relusum.fitting.free_l2) against theory, naive references and pwlf."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from relusum import ReluSum
from relusum.fitting.fixed import lstsq_knots, uniform_knots
from relusum.fitting.free_l2 import (
    _Problem,
    density_knots,
    free_knot_l2,
    knot_gradient,
    knot_ssr,
)
from relusum.fitting.hat import naive_hat_lstsq
from relusum.targets import Data, make_target


def ssr(model: ReluSum, target) -> float:
    """Weighted SSR on the samples, computed naively from the model."""
    w = np.ones_like(target.x) if target.weight is None else target.weight
    return float(np.sum(w * (model(target.x) - target.y) ** 2))


def noisy(n=120, seed=0, fn=lambda x: np.sin(5 * x)):
    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(0.0, 1.0, n))
    return x, fn(x) + rng.normal(0.0, 0.05, n)


# --------------------------------------------------------------------- exactness
def relu_sums(draw_inside: bool = True):
    """Random ReLU sums on [0, 1] whose knots are well inside and well apart."""

    @st.composite
    def build(draw):
        k = draw(st.integers(1, 4))
        gaps = draw(st.lists(st.floats(0.08, 0.3), min_size=k + 1, max_size=k + 1))
        pos = np.cumsum(gaps)[:k] / np.sum(gaps)
        w = draw(
            st.lists(
                st.floats(0.5, 3.0).flatmap(lambda v: st.sampled_from([v, -v])),
                min_size=k,
                max_size=k,
            )
        )
        bias = draw(st.floats(-1.0, 1.0))
        return ReluSum(bias, pos, w, (0.0, 1.0))

    return build()


@settings(max_examples=12, deadline=None)
@given(relu_sums())
def test_recovers_a_relu_sum_exactly_function(true):
    t = make_target(lambda x: true(x), (0.0, 1.0), samples=400)
    s = free_knot_l2(t, true.n_units)
    np.testing.assert_allclose(s.knots, true.knots, rtol=0, atol=1e-8)
    np.testing.assert_allclose(s.weights, true.weights, rtol=0, atol=1e-6)
    assert s.domain == (0.0, 1.0)


@settings(max_examples=8, deadline=None)
@given(relu_sums(), st.integers(0, 2**16))
def test_recovers_a_relu_sum_exactly_from_scattered_data(true, seed):
    x = np.random.default_rng(seed).uniform(0.0, 1.0, 300)
    x = np.concatenate((x, [0.0, 1.0]))
    t = make_target(Data(x, true(x)), (0.0, 1.0))
    s = free_knot_l2(t, true.n_units)
    np.testing.assert_allclose(s.knots, true.knots, rtol=0, atol=1e-8)


def test_recovers_a_sum_with_a_knot_at_the_left_end():
    # the first piece is sloped: the knot sits at A
    true = ReluSum(0.5, [0.0, 0.4, 0.7], [1.0, -2.0, 3.0], (0.0, 1.0))
    t = make_target(lambda x: true(x), (0.0, 1.0), samples=300)
    s = free_knot_l2(t, 3)
    np.testing.assert_allclose(s.knots, true.knots, atol=1e-8)
    assert ssr(s, t) < 1e-20


def test_result_is_the_least_squares_fit_for_its_knots():
    t = make_target("exp(x)", (-2, 2), samples=500)
    s = free_knot_l2(t, 6)
    ref = lstsq_knots(t, s.knots)
    assert s.allclose(ref, rtol=1e-9, atol=1e-9)


# ------------------------------------------------------------- quality and theory
@pytest.mark.parametrize(
    "formula, domain",
    [("sin(x)", (0, "2*pi")), ("sqrt(x)", (0, 1)), ("tanh(x)", (-6, 6)), ("x**2", (0, 1))],
)
@pytest.mark.parametrize("n", [1, 3, 8])
def test_never_worse_than_uniform_knots(formula, domain, n):
    t = make_target(formula, domain, samples=600)
    s = free_knot_l2(t, n)
    u = lstsq_knots(t, uniform_knots(t.domain, n))
    assert ssr(s, t) <= ssr(u, t) * (1 + 1e-12)


def test_much_better_than_uniform_where_curvature_is_uneven():
    # sqrt has an infinite slope at 0: free knots crowd there
    t = make_target("sqrt(x)", (0, 1), samples=1000)
    s = free_knot_l2(t, 8)
    u = lstsq_knots(t, uniform_knots(t.domain, 8))
    assert ssr(s, t) * 10 < ssr(u, t)
    assert s.knots[1] < 0.05


def test_x_squared_matches_the_continuous_theory():
    # On a piece of width h the best line leaves x^2 - (chord - h^2/6), mean square
    # h^4/180; the shifted chords join up, so the best continuous spline with n
    # sloped pieces is that on every piece: uniform knots, MSE 1 / (180 n^4).
    n = 8
    t = make_target("x**2", (0, 1), samples=20_001)
    s = free_knot_l2(t, n, pin_first=True)
    mse = ssr(s, t) / t.x.size
    assert mse == pytest.approx(1 / (180 * n**4), rel=2e-3)
    np.testing.assert_allclose(s.knots, uniform_knots((0, 1), n), atol=2e-3)


def test_monotone_in_units_with_warm_start():
    x, y = noisy(150, seed=1)
    t = make_target(Data(x, y))
    prev = None
    values = []
    for n in range(1, 9):
        s = free_knot_l2(t, n, init=None if prev is None else prev.knots)
        values.append(ssr(s, t))
        prev = s
    assert all(b <= a * (1 + 1e-12) for a, b in zip(values, values[1:]))


def test_warm_start_from_n_never_worse_than_n():
    t = make_target("1/(1+25*x**2)", (-1, 1), samples=800)
    for n in (3, 5, 9):
        s_n = free_knot_l2(t, n)
        s_n1 = free_knot_l2(t, n + 1, init=s_n.knots)
        assert ssr(s_n1, t) <= ssr(s_n, t) * (1 + 1e-12)


def test_warm_start_is_never_worse_than_its_own_start():
    t = make_target("tanh(x)", (-6, 6), samples=500)
    init = np.array([-6.0, -1.0, 0.0, 1.0])
    s = free_knot_l2(t, 4, init=init)
    assert ssr(s, t) <= ssr(lstsq_knots(t, init), t) * (1 + 1e-12)


def test_pin_first_gives_n_sloped_pieces():
    t = make_target("x*(1+erf(x/sqrt(2)))/2", (-8, 8), samples=800)
    pinned = free_knot_l2(t, 5, pin_first=True)
    free = free_knot_l2(t, 5)
    assert pinned.knots[0] == -8.0
    assert pinned.n_pieces == 5
    # the free fit may use a flat first piece (GELU is flat on the left): never worse
    assert ssr(free, t) <= ssr(pinned, t) * (1 + 1e-12)
    assert free.n_pieces == 6


pwlf = pytest.importorskip("pwlf")


@pytest.mark.parametrize("seed, n", [(0, 3), (1, 4), (2, 5)])
def test_no_worse_than_pwlf_fitfast_at_equal_pieces(seed, n):
    x, y = noisy(70, seed=seed, fn=lambda v: np.sin(6 * v) + v)
    t = make_target(Data(x, y))
    s = free_knot_l2(t, n, pin_first=True)  # n pieces, the family pwlf fits
    assert s.n_pieces == n
    ref = pwlf.PiecewiseLinFit(x, y, seed=seed)
    ref.fitfast(n, pop=4)
    pw = float(np.sum((ref.predict(x) - y) ** 2))
    assert ssr(s, t) <= pw * (1 + 1e-9)


# ----------------------------------------------------------- gradient and solves
@pytest.mark.parametrize("flat", [True, False])
def test_analytic_gradient_matches_finite_differences(flat):
    t = make_target("sin(3*x) + x**2", (0, 2), samples=400)
    x = t.x
    rng = np.random.default_rng(5)
    for _ in range(3):
        # knots in the middle of sample gaps, so a small step crosses no sample
        idx = np.sort(rng.choice(np.arange(20, 380), 5, replace=False))
        h = 0.5 * (x[idx] + x[idx + 1]) + 0.1 * (x[1] - x[0])
        if not flat:
            h[0] = 0.0
        g = knot_gradient(t, h)
        eps = 1e-3 * (x[1] - x[0])  # crosses no sample: knots are 0.4 spacings away
        for k in range(1 if not flat else 0, h.size):
            e = np.zeros(h.size)
            e[k] = eps
            fd = (knot_ssr(t, h + e) - knot_ssr(t, h - e)) / (2 * eps)
            assert g[k] == pytest.approx(fd, rel=1e-6, abs=1e-9)


def test_fused_values_match_dense_least_squares():
    x, y = noisy(90, seed=3)
    w = np.random.default_rng(4).uniform(0.2, 2.0, x.size)
    t = make_target(Data(x, y, w))
    prob = _Problem(t)
    for h, flat in ((np.array([0.2, 0.5, 0.7]), True), (np.array([x[0], 0.4, 0.6]), False)):
        st_ = prob.state(h)
        ref = naive_hat_lstsq(x, y, st_.t, w, flat)
        np.testing.assert_allclose(st_.c, ref, rtol=1e-9, atol=1e-10)
        ref_ssr = float(np.sum(w * (np.interp(x, st_.t, ref) - y) ** 2))
        assert st_.ssr == pytest.approx(ref_ssr, rel=1e-10)


def test_batched_ssr_matches_single_evaluations():
    x, y = noisy(80, seed=6)
    t = make_target(Data(x, y))
    prob = _Problem(t)
    rng = np.random.default_rng(0)
    for flat in (True, False):
        hs = np.sort(rng.uniform(x[0], x[-1], (6, 4)), axis=1)
        if not flat:
            hs[:, 0] = x[0]
        got = prob.batch_ssr(hs, flat)
        want = [prob.ssr(h) for h in hs]
        np.testing.assert_allclose(got, want, rtol=1e-8)


def test_density_knots_follow_the_curvature():
    t = make_target("exp(4*x)", (0, 1), samples=2000)
    h = density_knots(t, 8, flat_first=False)
    assert h[0] == 0.0
    assert np.all(np.diff(h) > 0)
    # knots crowd where exp(4x)'' is large: the gaps shrink left to right
    assert np.all(np.diff(np.diff(h)) < 0)


# ------------------------------------------------------------------ awkward input
def test_constant_data():
    t = make_target(Data(np.linspace(0, 1, 40), np.full(40, 2.5)))
    s = free_knot_l2(t, 4)
    assert ssr(s, t) < 1e-25
    np.testing.assert_allclose(s(t.x), 2.5)


def test_two_points():
    t = make_target(Data([0.0, 1.0], [1.0, 3.0]))
    s = free_knot_l2(t, 1)
    np.testing.assert_allclose(s([0.0, 1.0]), [1.0, 3.0], atol=1e-14)
    with pytest.raises(ValueError, match=r"at most 1 unit\b"):
        free_knot_l2(t, 2)


def test_step_is_matched_exactly_by_a_ramp_between_two_samples():
    t = make_target("step(x - 0.5)", (0, 1), samples=101)
    s = free_knot_l2(t, 2)
    assert ssr(s, t) < 1e-20


def test_abs_kink_found():
    t = make_target("abs(x - 0.3)", (0, 1), samples=200)
    s = free_knot_l2(t, 2)
    np.testing.assert_allclose(s.knots, [0.0, 0.3], atol=1e-9)
    # one unit cannot bend twice: a flat piece and a slope, or a line
    one = free_knot_l2(t, 1)
    assert ssr(one, t) <= ssr(lstsq_knots(t, np.array([0.0])), t) * (1 + 1e-12)


def test_repeated_x_and_integer_weights_equal_duplicated_points():
    x, y = noisy(40, seed=8)
    w = np.random.default_rng(9).integers(1, 4, x.size).astype(float)
    weighted = make_target(Data(x, y, w))
    dup = make_target(Data(np.repeat(x, w.astype(int)), np.repeat(y, w.astype(int))))
    a = free_knot_l2(weighted, 5)
    b = free_knot_l2(dup, 5)
    assert ssr(a, weighted) == pytest.approx(ssr(b, dup), rel=1e-6)


def test_more_units_than_distinct_x_is_an_error():
    x = np.repeat(np.arange(6.0), 3)
    t = make_target(Data(x, x**2))
    assert free_knot_l2(t, 5).n_units == 5  # 6 distinct x: at most 5 units
    with pytest.raises(ValueError, match="need at least 7 distinct x values.*have 6"):
        free_knot_l2(t, 6)


@pytest.mark.parametrize("bad", [0, -2, 2.5, True, "3"])
def test_bad_unit_counts(bad):
    t = make_target("x**2", (0, 1), samples=50)
    with pytest.raises(ValueError, match="n_units must be a positive integer"):
        free_knot_l2(t, bad)


@pytest.mark.parametrize(
    "init, match",
    [
        ([0.5, 1.5], r"lie in \[A, B\)"),
        ([-0.1, 0.5], r"lie in \[A, B\)"),
        ([0.2, 0.2], "distinct"),
        ([0.1, 0.2, 0.3, 0.4], "more than n_units"),
        ([0.1, np.nan], "finite"),
        ([], "at least one knot"),
    ],
)
def test_bad_init(init, match):
    t = make_target("x**2", (0, 1), samples=50)
    with pytest.raises(ValueError, match=match):
        free_knot_l2(t, 3, init=np.array(init, dtype=float))


# -------------------------------------------------------------------- determinism
def test_deterministic():
    x, y = noisy(200, seed=11)
    t = make_target(Data(x, y))
    a = free_knot_l2(t, 6)
    b = free_knot_l2(t, 6)
    assert a == b
    f = make_target("tanh(x)", (-6, 6), samples=700)
    assert free_knot_l2(f, 9) == free_knot_l2(f, 9)
    # no global random state is touched
    before = np.random.get_state()[1].copy()  # noqa: NPY002 - checking the legacy global state
    free_knot_l2(t, 4)
    assert np.array_equal(np.random.get_state()[1], before)  # noqa: NPY002


# ------------------------------------------------------------------ pieces=k
@pytest.mark.parametrize("loss", ["l2", "linf"])
@pytest.mark.parametrize("k", [1, 3, 6])
def test_pieces_gives_exactly_k_sloped_pieces_with_the_first_knot_at_a(loss, k):
    import relusum

    x, y = noisy(150, seed=k, fn=lambda v: np.where(v < 0.3, 0.0, np.sin(7 * v)))
    r = relusum.fit((x, y), pieces=k, knots="optimal", loss=loss)
    m = r.model
    assert m.n_units == k and r.report.n_pieces == k
    assert m.knots[0] == x.min()  # the first knot at A: no flat first piece
    slopes = np.cumsum(m.weights)
    assert np.all(np.abs(slopes) > 0)
    # the free fit (a flat first piece allowed) is never worse with as many units
    free = relusum.fit((x, y), n_units=k, knots="optimal", loss=loss).model
    err = (
        (lambda s: ssr(s, make_target(Data(x, y))))
        if loss == "l2"
        else (lambda s: float(np.max(np.abs(s(x) - y))))
    )
    assert err(free) <= err(m) * (1 + 1e-9)


def test_pieces_on_a_function_and_bad_combinations():
    import relusum

    r = relusum.fit("gelu(x)", domain=(-8, 8), pieces=4, knots="optimal")
    assert r.report.n_pieces == 4 and r.model.knots[0] == -8.0
    with pytest.raises(ValueError, match="either n_units or pieces"):
        relusum.fit("x", domain=(0, 1), pieces=3, n_units=3)
    with pytest.raises(ValueError, match="pieces must be a positive integer"):
        relusum.fit("x", domain=(0, 1), pieces=0, knots="optimal")
    with pytest.raises(ValueError, match="tol"):
        relusum.fit("x", domain=(0, 1), pieces=2, tol=0.1)
    with pytest.raises(ValueError, match="given knots"):
        relusum.fit("x", domain=(0, 1), pieces=2, knots=[0.0, 0.5])


def test_cli_pieces(capsys):
    import json

    from relusum.cli import main

    code = main(
        ["fit", "sin(3*x)", "--domain", "0", "3", "--pieces", "4", "--knots", "optimal", "--json"]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    d = json.loads(out)
    assert d["n_units"] == 4 and d["n_pieces"] == 4 and d["knots"][0] == 0.0


# ------------------------------------------------------- seasonal series, global
def seasonal(seed, n=1095):
    """Daily series: trend + yearly sine + AR(1) noise (phi 0.6, variance 5.76)."""
    rng = np.random.default_rng(seed)
    t = np.arange(n, dtype=float)
    z = rng.normal(0.0, 2.4 * np.sqrt(1 - 0.6**2), n)
    e = np.empty(n)
    e[0] = rng.normal(0.0, 2.4)
    for i in range(1, n):
        e[i] = 0.6 * e[i - 1] + z[i]
    return t, 0.02 * t + 10 * np.sin(2 * np.pi * t / 365.25 + seed) + e


def envelope_dp(x, y, pieces, bins, keep=8, grid=60):
    """Slow reference: the best continuous fit with ``pieces`` sloped pieces, knots on bin edges.

    Exhaustive over knot positions on the condensed grid (``bins`` equal-count
    bins): a dynamic program over (pieces used, edge) whose state is the cost
    as a quadratic in the value at the edge; the set of quadratics at each
    state is pruned to those that are lowest somewhere on a grid of values
    (at most ``keep``).  Returns the knots (the first at A).
    """
    npts = x.size
    starts = (np.arange(bins) * npts) // bins
    edges = np.concatenate(([x[0]], 0.5 * (x[starts[1:] - 1] + x[starts[1:]]), [x[-1]]))
    bounds = np.append(starts, npts)
    g = bins
    # piece sums between every pair of edges, from prefix sums (x relative to each left edge)
    cols = (np.ones_like(x), x, x * x, y, x * y, y * y)
    cx = [np.concatenate(([0.0], np.cumsum(v))) for v in cols]
    s0, s1, s2, s3, s4, s5 = (c[bounds][None, :] - c[bounds][:, None] for c in cx)
    e = edges[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        d = edges[None, :] - e
        sl = (s1 - e * s0) / d
        sll = (s2 - 2 * e * s1 + e * e * s0) / (d * d)
        sly = (s4 - e * s3) / d
    quad = {}
    for i in range(g):
        for j in range(i + 1, g + 1):
            quad[i, j] = (
                s0[i, j] - 2 * sl[i, j] + sll[i, j],
                sl[i, j] - sll[i, j],
                sll[i, j],
                s3[i, j] - sly[i, j],
                sly[i, j],
                s5[i, j],
            )
    span = y.max() - y.min()
    vals = np.linspace(y.min() - 0.5 * span, y.max() + 0.5 * span, grid)
    # env[j]: arrays a, b, c (cost a v^2 + b v + c) and parents (i, index)
    env = {}
    for j in range(1, g + 1):
        a_, b_, c_, d_, e_, f_ = quad[0, j]
        env[j] = (
            np.array([c_ - b_ * b_ / a_]),
            np.array([-2 * e_ + 2 * b_ * d_ / a_]),
            np.array([f_ - d_ * d_ / a_]),
            [(0, -1)],
        )
    history = [env]
    for _ in range(pieces - 1):
        new = {}
        for j in range(2, g + 1):
            aa, bb, cc, par = [], [], [], []
            for i in range(1, j):
                if i not in env:
                    continue
                qa, qb, qc, _ = env[i]
                a_, b_, c_, d_, e_, f_ = quad[i, j]
                alpha = qa + a_
                aa.append(c_ - b_ * b_ / alpha)
                bb.append(-2 * e_ - b_ * (qb - 2 * d_) / alpha)
                cc.append(f_ + qc - (qb - 2 * d_) ** 2 / (4 * alpha))
                par += [(i, k) for k in range(qa.size)]
            if not aa:
                continue
            aa, bb, cc = np.concatenate(aa), np.concatenate(bb), np.concatenate(cc)
            cost = aa[:, None] * vals[None, :] ** 2 + bb[:, None] * vals[None, :] + cc[:, None]
            win = np.unique(np.argmin(cost, axis=0))
            win = win[np.argsort(cost[win].min(axis=1))][:keep]
            new[j] = (aa[win], bb[win], cc[win], [par[w] for w in win])
        env = new
        history.append(env)
    qa, qb, qc, par = env[g]
    best = int(np.argmin(qc - qb * qb / (4 * qa)))
    cuts, j = [], g
    for level in range(pieces - 1, -1, -1):
        i, k = history[level][j][3][best]
        cuts.append(i)
        j, best = i, k
    return edges[np.array(sorted(cuts))]


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 3])
def test_seasonal_series_is_a_global_optimum_against_refits_and_an_exhaustive_dp(seed):
    x, y = seasonal(seed)
    t = make_target(Data(x, y))
    k = 12
    s = free_knot_l2(t, k, pin_first=True)
    assert s.n_pieces == k and s.knots[0] == x[0]
    mine = ssr(s, t)
    # no fixed-knot refit at 200 random knot sets near its own knots is better
    rng = np.random.default_rng(seed)
    for _ in range(200):
        h = s.knots.copy()
        h[1:] += rng.uniform(-6.0, 6.0, k - 1)
        h = np.sort(np.clip(h, x[0], x[-1] - 1e-6))
        if np.any(np.diff(h) <= 0):
            continue
        assert mine <= ssr(lstsq_knots(t, h), t) * (1 + 1e-9)
    # nor is the exhaustive dynamic program on condensed data (knots on 7.5-day bin edges)
    ref = envelope_dp(x, y, k, bins=146)
    assert ref[0] == x[0] and ref.size == k
    assert mine <= ssr(lstsq_knots(t, ref), t) * (1 + 1e-9)


# ------------------------------------------------ large data: summaries and prefix sums
def test_pseudo_points_carry_the_ssr_of_any_function_linear_on_each_bin():
    from relusum.fitting.free_l2.condense import bin_moments, pseudo_points

    rng = np.random.default_rng(4)
    x = np.sort(rng.uniform(1e3, 1e3 + 5.0, 4000))
    y = np.sin(x) + rng.normal(0, 0.1, x.size)
    w = rng.uniform(0.2, 3.0, x.size)
    for weight in (None, w):
        mom = bin_moments(x, y, weight, bins=40)
        px, py, pw, off = pseudo_points(mom)
        assert px.size <= 80 and np.all(np.diff(px) >= 0)
        starts = (np.arange(40) * x.size) // 40
        edges = 0.5 * (x[starts[1:] - 1] + x[starts[1:]])
        h = np.concatenate(([x[0]], rng.choice(edges, 6, replace=False)))
        model = lstsq_knots(make_target(Data(x, y, weight=weight)), np.sort(h))
        ww = np.ones_like(x) if weight is None else weight
        full = float(np.sum(ww * (model(x) - y) ** 2))
        assert float(np.sum(pw * (model(px) - py) ** 2)) + off == pytest.approx(full, rel=1e-9)


def test_bin_moments_on_fixed_edges_add_up_over_any_chunking():
    from relusum.fitting.free_l2.condense import bin_moments

    rng = np.random.default_rng(5)
    x = rng.uniform(0, 10, 3000)
    y = x**2 + rng.normal(0, 1, x.size)
    edges = np.linspace(0, 10, 17)
    whole = bin_moments(x, y, edges=edges)
    for _ in range(5):
        cuts = np.sort(rng.choice(np.arange(1, x.size), 4, replace=False))
        parts = [
            bin_moments(a, b, edges=edges)
            for a, b in zip(np.split(x, cuts), np.split(y, cuts), strict=True)
        ]
        order = rng.permutation(len(parts))  # any order: addition commutes
        total = parts[order[0]]
        for i in order[1:]:
            total = total + parts[i]
        for f in ("s0", "s1", "s2", "sy", "sxy", "syy"):
            np.testing.assert_allclose(getattr(total, f), getattr(whole, f), rtol=1e-9, atol=1e-6)
        assert np.array_equal(total.count, whole.count)
    with pytest.raises(ValueError, match="different bins"):
        whole + bin_moments(x, y, edges=np.linspace(0, 10, 9))


def test_prefix_sums_give_the_same_problem_as_the_samples():
    from relusum.fitting.free_l2.prefix import _PrefixProblem

    x, y = noisy(3000, seed=6)
    for weight in (None, np.random.default_rng(6).uniform(0.5, 2.0, x.size)):
        t = make_target(Data(x, y, weight=weight))
        p = _Problem(t)
        q = _PrefixProblem(t.x, t.y, t.weight, t.domain)
        for h in (np.array([t.domain[0], 0.2, 0.5, 0.7]), np.array([0.1, 0.3, 0.6])):
            a, b = p.state(h), q.state(h)
            assert b.ssr == pytest.approx(a.ssr, rel=1e-9)
            np.testing.assert_allclose(b.c, a.c, rtol=1e-9, atol=1e-9)
            np.testing.assert_allclose(q.gradient(b), p.gradient(a), rtol=1e-6, atol=1e-6)


def test_large_data_search_is_as_good_as_the_full_resolution_search(monkeypatch):
    from relusum.fitting.free_l2 import search

    x, y = noisy(25_000, seed=7, fn=lambda v: np.sin(9 * v) + 2 * np.abs(v - 0.4))
    t = make_target(Data(x, y))
    assert x.size > search.CONDENSE_ABOVE
    fast = ssr(free_knot_l2(t, 6, pin_first=True), t)
    monkeypatch.setattr(search, "CONDENSE_ABOVE", 10**9)
    full = ssr(free_knot_l2(t, 6, pin_first=True), t)
    assert fast <= full * 1.0001


@pytest.mark.slow
def test_cli_optimal_knots_on_a_million_rows_stay_under_200_bytes_per_point(tmp_path):
    # issue 16: `relusum fit --data` with 10^6 rows and --knots optimal, peak RSS per row
    import subprocess
    import sys

    rng = np.random.default_rng(0)
    n = 10**6
    x = rng.uniform(0, 100, n)
    y = np.sin(x / 7) + 0.01 * x + rng.normal(0, 0.3, n)
    big, small = tmp_path / "big.csv", tmp_path / "small.csv"
    np.savetxt(big, np.c_[x, y], delimiter=",", header="x,y", comments="", fmt="%.9g")
    np.savetxt(
        small, np.c_[x[:1000], y[:1000]], delimiter=",", header="x,y", comments="", fmt="%.9g"
    )
    code = (
        "import resource, sys\n"
        "from relusum.cli import main\n"
        "rc = main(['fit', '--data', sys.argv[1], '--x', 'x', '--y', 'y', '--units', '16',\n"
        "           '--knots', 'optimal', '--json'])\n"
        # The process's own peak (VmHWM): ru_maxrss also counts the parent's
        # pages at the fork before exec, so a big pytest process would inflate it.
        "try:\n"
        "    peak = [int(l.split()[1]) for l in open('/proc/self/status')\n"
        "            if l.startswith('VmHWM')][0]\n"
        "except (OSError, IndexError):\n"
        "    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "print('PEAK', peak, rc)\n"
    )

    def peak_kb(path):
        out = subprocess.run(
            [sys.executable, "-c", code, str(path)],
            capture_output=True,
            text=True,
            check=True,
            timeout=600,
        )
        line = [ln for ln in out.stdout.splitlines() if ln.startswith("PEAK")][-1]
        _, kb, rc = line.split()
        assert rc == "0", out.stderr
        return int(kb)

    per_row = (peak_kb(big) - peak_kb(small)) * 1024 / n
    print(f"peak RSS per row: {per_row:.0f} bytes")
    assert per_row <= 200, per_row


@pytest.mark.parametrize("seed", [1, 2])
def test_pieces_knots_agree_with_piecewise_regression_within_its_standard_errors(seed):
    import piecewise_regression

    import relusum

    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(0, 10, 400))
    truth = np.array([3.0, 7.0])
    y = 1 + 2 * x - 3.5 * np.maximum(0, x - 3) + 3 * np.maximum(0, x - 7)
    y = y + rng.normal(0, 0.5, x.size)
    # Muggeo's iteration from starts near the truth (from its default starts it may not converge)
    ref = piecewise_regression.Fit(
        x, y, start_values=[2.5, 7.5], n_boot=0, verbose=False
    ).get_results()
    assert ref["converged"]
    est = np.array([ref["estimates"][f"breakpoint{i}"]["estimate"] for i in (1, 2)])
    se = np.array([ref["estimates"][f"breakpoint{i}"]["se"] for i in (1, 2)])
    r = relusum.fit((x, y), pieces=3, knots="optimal")
    knots = r.model.knots[1:]
    assert np.all(np.abs(knots - est) <= se)
    assert np.all(np.abs(knots - truth) <= 3 * se)
    assert ssr(r.model, make_target(Data(x, y))) <= ref["rss"] * (1 + 1e-9)


def test_large_data_with_repeated_x_matches_the_full_resolution_search(monkeypatch):
    import warnings

    from relusum.fitting.free_l2 import search

    rng = np.random.default_rng(8)
    x = rng.integers(0, 50, 30_000).astype(float)  # bins of one repeated x value
    y = np.sin(x / 8) + rng.normal(0, 0.1, x.size)
    t = make_target(Data(x, y))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fast = ssr(free_knot_l2(t, 8), t)
    monkeypatch.setattr(search, "CONDENSE_ABOVE", 10**9)
    assert fast <= ssr(free_knot_l2(t, 8), t) * 1.0001
