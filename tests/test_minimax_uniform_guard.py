"""The uniform-knot guard of optimal L-infinity fits is skipped only when it provably cannot win."""

from __future__ import annotations

import numpy as np
import pytest

from relusum.fitting.fixed import uniform_knots
from relusum.fitting.minimax import linf_fixed_target
from relusum.fitting.minimax.fixed_lp import linf_fixed_lower_bound
from relusum.fitting.optimal import _uniform_cannot_win
from relusum.fitting.report import measure
from relusum.model import ReluSum
from relusum.targets import make_target


@pytest.mark.parametrize(
    ("expr", "domain", "n"),
    [
        ("sin(x)", (-3.0, 3.0), 5),
        ("x**2", (0.0, 1.0), 8),
        ("1/(1+25*x**2)", (-1.0, 1.0), 12),
        ("sign(x)", (-1.0, 1.0), 3),
    ],
)
def test_bound_is_below_the_uniform_fit_and_close_to_it(expr, domain, n):
    target = make_target(expr, domain)
    knots = uniform_knots(domain, n)
    err = measure(linf_fixed_target(target, knots), target)[1]
    gx, gy = target.verification()
    pick = np.unique(np.linspace(0, gx.size - 1, 32 * (n + 1)).round().astype(np.int64))
    bound = linf_fixed_lower_bound(gx[pick], gy[pick], knots, domain)
    # Every sum on these knots, the refined LP fit included, is at least this bad.
    assert bound <= err
    rng = np.random.default_rng(1)
    base = linf_fixed_target(target, knots)
    for _ in range(200):
        other = base.__class__(
            base.bias + rng.normal(0, 1e-3),
            base.knots,
            base.weights + rng.normal(0, 1e-3, base.weights.size),
            base.domain,
        )
        assert bound <= measure(other, target)[1]
    if "sign" not in expr:  # smooth: the subset sees nearly the whole error
        assert bound >= 0.9 * err
    assert _uniform_cannot_win(target, n, bound * (1 - 1e-9))
    assert not _uniform_cannot_win(target, n, err * (1 + 1e-6))


def test_guard_decides_exactly_when_uniform_knots_are_optimal():
    # x**2 with the first knot pinned: uniform knots are the optimum (1/(8 n^2)).
    # The grid holds the knots, so the chord bound is exact there: uniform knots
    # cannot beat the optimum, and may beat anything above it.
    target = make_target("x**2", (0.0, 1.0))
    n = 6
    assert _uniform_cannot_win(target, n, 1.0 / (8 * n * n) * (1 - 1e-9) - 1e-10)
    assert not _uniform_cannot_win(target, n, 1.0 / (8 * n * n) * (1 + 1e-6))


def test_near_tie_candidate_is_the_uniform_optimum_on_the_grid():
    # gelu with 2 units: uniform knots [-8, 0] are nearly optimal, so the uniform
    # LP used to beat the default-agreement fit by its grid-vs-samples margin.
    import relusum
    from relusum.fitting.optimal import _uniform_near

    target = make_target("gelu(x)", (-8.0, 8.0))
    res = relusum.fit("gelu(x)", domain=(-8, 8), n_units=2, knots="optimal", loss="linf")
    # The tie is certified on the exact fit's samples plus the winner's own peaks.
    assert res.report.extra["gap"] <= 1e-6
    uniform = measure(linf_fixed_target(target, uniform_knots((-8.0, 8.0), 2)), target)[1]
    assert res.report.max_abs_error <= uniform * (1 + 1e-9)
    # The near-tie candidate (LP on the grid around the fit's peaks, then its
    # own) is at least as good on the grid as the LP refined on the samples.
    near = measure(_uniform_near(target, 2, res.model), target)[1]
    assert near <= uniform * (1 + 1e-9)
    assert res.report.max_abs_error <= near * (1 + 1e-9)


def test_near_tie_starts_from_the_bounds_lp():
    # One LP serves as the guard's bound and as the near-tie candidate's first
    # cut: the candidate is the same as when that LP is solved again.
    from relusum.fitting.minimax import minimax_target
    from relusum.fitting.optimal import _uniform_bound, _uniform_near, _uniform_start

    target = make_target("gelu(x)", (-8.0, 8.0))
    exact, _ = minimax_target(target, 2)
    best = measure(exact, target)[1]
    bound, start = _uniform_start(target, 2, best, exact)
    assert start is not None and bound == _uniform_bound(target, 2, best, exact)
    # The bound (on grid points around the exact fit's peaks) is at least the one
    # on the even subset alone, and below the exact fit: a near tie.
    assert _uniform_bound(target, 2, best) <= bound < best
    again = _uniform_near(target, 2, exact)
    reused = _uniform_near(target, 2, exact, start)
    assert np.array_equal(again.knots, reused.knots)
    assert np.array_equal(again.weights, reused.weights) and again.bias == reused.bias
    assert bound <= measure(reused, target)[1]


def test_start_continues_the_exchange_from_an_earlier_fit():
    from relusum.fitting.minimax import minimax_target

    target = make_target("gelu(x)", (-8.0, 8.0))
    model, info = minimax_target(target, 2)
    tight, tinfo = minimax_target(target, 2, agree=1e-6, start=(model, info))
    fresh, finfo = minimax_target(target, 2, agree=1e-6)
    # More samples only raise the bound; the closer fit is certified and at
    # least as good on the grid, and agrees with a fresh run at that agreement.
    assert tinfo.lower_bound >= info.lower_bound * (1 - 1e-12)
    assert tinfo.gap <= 1e-6
    assert tinfo.n_points >= info.n_points
    assert measure(tight, target)[1] <= measure(model, target)[1]
    assert abs(measure(tight, target)[1] / measure(fresh, target)[1] - 1) <= 2e-6
    with pytest.raises(ValueError, match="no samples"):
        minimax_target(target, 2, start=(model, replace_samples(info)))


def replace_samples(info):
    from dataclasses import replace

    return replace(info, samples=None)


def test_certify_proves_the_candidate_on_the_fit_samples_and_its_peaks():
    """The certificate of a candidate that beats the exact fit on the grid (gelu, 2 units).

    Its bound is proven on the exact fit's samples plus the candidate's peaks: a
    superset, so it is at least the exact fit's bound; it is a true lower bound there
    (the exact sweep on those samples reaches no less, and 10,000 perturbations of the
    candidate neither); and the candidate is within 1e-6 of it.
    """
    from relusum.fitting.minimax import minimax_points, minimax_target
    from relusum.fitting.minimax.certify import certify
    from relusum.fitting.optimal import _uniform_near

    target = make_target("gelu(x)", (-8.0, 8.0))
    exact, info = minimax_target(target, 2)
    other = _uniform_near(target, 2, exact)  # the guard's candidate (uniform knots)
    assert measure(other, target)[1] < measure(exact, target)[1]  # it wins on the grid
    xs0, _ = info.samples
    assert float(np.max(np.abs(other(xs0) - info.samples[1]))) > info.lower_bound * (1 + 1e-6)
    c = certify(target, 2, other, info)
    assert c is not None and c.gap <= 1e-6
    xs, ys = c.samples
    assert np.all(np.isin(xs0, xs)) and xs.size > xs0.size
    assert c.lower_bound >= info.lower_bound
    assert c.eps == pytest.approx(float(np.max(np.abs(other(xs) - ys))), rel=1e-12)
    _, best = minimax_points(xs, ys, 2, domain=target.domain)
    assert best >= c.lower_bound * (1 - 1e-9)
    rng = np.random.default_rng(2)
    for _ in range(10):  # 10 x 1,000 perturbations (in chunks: 35 MB each, not 350)
        k = 1_000
        scale = rng.choice([1e-1, 1e-2, 1e-3, 1e-4], size=(k, 1))
        h = other.knots[None, :] + scale * rng.normal(size=(k, 2))
        w = other.weights[None, :] + scale * rng.normal(size=(k, 2))
        bias = other.bias + scale[:, 0] * rng.normal(size=k)
        ramps = np.maximum(0, xs[None, :, None] - h[:, None, :])
        vals = bias[:, None] + np.einsum("kj,kij->ki", w, ramps)
        worst = np.max(np.abs(vals - ys[None, :]), axis=1)
        assert float(np.min(worst)) >= c.lower_bound * (1 - 1e-9)
    # A candidate off the optimum by more than 1e-6 gets no certificate (the caller
    # refines the exact fit instead): the same sum shifted by 2e-6 of its error;
    # knots far off miss it by far more.
    shifted = ReluSum(other.bias + 2e-6 * c.eps, other.knots, other.weights, other.domain)
    for worse in (shifted, linf_fixed_target(target, np.array([-8.0, 4.0]))):
        assert certify(target, 2, worse, info) is None
    # The LP on the fit samples, refined until the grid agrees within 0.05%, misses
    # the optimum by 1.5e-5 on the grid, between the exact fit's samples, where it
    # is optimal: the certificate there is no use to the caller, which takes a
    # candidate only when its error on the grid, too, is within 1e-8 of the bound.
    lp = linf_fixed_target(target, uniform_knots(target.domain, 2))
    on_grid = measure(lp, target)[1]
    assert on_grid > measure(other, target)[1] * (1 + 1e-6)
    c_lp = certify(target, 2, lp, info)
    assert c_lp is None or on_grid > c_lp.lower_bound * (1 + 1e-8)
    # Data targets, and fits without samples, have none to extend.
    assert certify(make_target((xs0, np.tanh(xs0))), 2, other, info) is None


@pytest.mark.parametrize(
    ("expr", "domain", "kw"),
    [
        ("gelu(x)", (-8.0, 8.0), {"n_units": 2}),
        ("gelu(x)", (-8.0, 8.0), {"pieces": 2}),
        ("x**2", (-1.0, 1.0), {"n_units": 2}),
    ],
)
def test_a_certified_candidate_is_never_worse_than_the_refined_exact_fit(expr, domain, kw):
    """Where uniform knots beat the default exact fit on the grid, a candidate is taken
    on its certificate only when that is within 1e-8 of its error.  gelu with 2 sloped
    pieces once got the uniform LP (gap 7e-7), 6.7e-7 worse on the grid than the exact
    fit refined closer; that refined fit is what it gets now."""
    import relusum
    from relusum.fitting.minimax import minimax_target

    r = relusum.fit(expr, domain=domain, knots="optimal", loss="linf", **kw)
    t = make_target(expr, domain)
    n = kw.get("n_units", kw.get("pieces"))
    refined, info = minimax_target(t, n, flat_first="pieces" not in kw, agree=1e-6)
    assert info.gap <= 1e-6
    assert r.report.max_abs_error <= measure(refined, t)[1] * (1 + 1e-8)
    assert r.report.extra["gap"] <= 1e-6
