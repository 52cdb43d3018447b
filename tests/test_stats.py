"""Uncertainty of least-squares fits against dense textbook formulas, coverage and peers."""

from __future__ import annotations

import numpy as np
import pytest

import relusum
from relusum.fitting.fixed import breakpoints_for
from relusum.fitting.hat import hat_design
from relusum.fitting.stats import fixed_inference, free_inference


def truth(x):
    return 1 + 2 * x - 3 * np.maximum(x - 0.3, 0) + 4 * np.maximum(x - 0.7, 0)


def _dense_reference(x, y, knots, domain, w, robust):
    """OLS/WLS covariance of the values at the breakpoints from the dense design."""
    t, flat = breakpoints_for(np.asarray(knots, float), domain)
    B = hat_design(x, t, flat)
    W = np.diag(w)
    G = B.T @ W @ B
    coef = np.linalg.solve(G, B.T @ W @ y)
    r = y - B @ coef
    n, p = B.shape
    Ginv = np.linalg.inv(G)
    if robust:
        meat = B.T @ np.diag(w * w * r * r) @ B
        cov = Ginv @ meat @ Ginv * n / (n - p)
    else:
        cov = Ginv * float(r @ W @ r) / (n - p)
    return B, cov


@pytest.mark.parametrize("robust", [False, True])
@pytest.mark.parametrize("knots", [[0.0, 0.3, 0.7], [0.2, 0.5]])
def test_fixed_band_matches_dense_formulas(robust, knots):
    rng = np.random.default_rng(3)
    x = rng.uniform(0, 1, 120)
    y = truth(x) + rng.normal(0, 0.2 + 0.3 * x, x.size)
    w = rng.uniform(0.5, 2.0, x.size)
    inf = fixed_inference(x, y, knots, (0, 1), weight=w, robust=robust)
    xs = np.linspace(0, 1, 37)
    B, cov = _dense_reference(x, y, knots, (0, 1), w, robust)
    t, flat = breakpoints_for(np.asarray(knots, float), (0, 1))
    Bx = hat_design(xs, t, flat)
    se_ref = np.sqrt(np.einsum("ij,jk,ik->i", Bx, cov, Bx))
    np.testing.assert_allclose(inf.se(xs), se_ref, rtol=1e-8)
    # The model is the plain least-squares fit.
    r = relusum.fit((x, y), domain=(0, 1), knots=knots, sample_weight=w)
    assert inf.model.allclose(r.model)


def test_weight_and_slope_errors_match_dense_linear_maps():
    rng = np.random.default_rng(4)
    x = rng.uniform(0, 1, 200)
    y = truth(x) + rng.normal(0, 0.1, x.size)
    knots = [0.0, 0.3, 0.7]
    inf = fixed_inference(x, y, knots, (0, 1))
    _, cov = _dense_reference(x, y, knots, (0, 1), np.ones_like(x), False)
    t = np.array([0.0, 0.3, 0.7, 1.0])
    S = np.diff(np.eye(4), axis=0) / np.diff(t)[:, None]  # slopes from values
    np.testing.assert_allclose(inf.slope_se(), np.sqrt(np.diag(S @ cov @ S.T)), rtol=1e-8)
    D = np.diff(S, axis=0, prepend=0.0)  # weights = slope changes
    np.testing.assert_allclose(inf.weight_se(), np.sqrt(np.diag(D @ cov @ D.T)), rtol=1e-8)


def test_confidence_band_covers_truth_95_percent():
    """400 seeded replicates, knots at the true breakpoints: coverage in [93%, 97%]."""
    hits = pred_hits = 0
    x0 = 0.5
    for s in range(400):
        rng = np.random.default_rng(s)
        x = rng.uniform(0, 1, 150)
        y = truth(x) + rng.normal(0, 0.2, x.size)
        inf = fixed_inference(x, y, [0.0, 0.3, 0.7], (0, 1))
        lo, hi = inf.band(x0)
        hits += lo <= truth(x0) <= hi
        lo, hi = inf.band(x0, kind="prediction")
        y_new = truth(x0) + rng.normal(0, 0.2)
        pred_hits += lo <= y_new <= hi
    assert 0.93 <= hits / 400 <= 0.97, hits / 400
    assert 0.93 <= pred_hits / 400 <= 0.97, pred_hits / 400


def test_fit_result_band_and_bootstrap():
    rng = np.random.default_rng(7)
    x = rng.uniform(0, 1, 400)
    y = truth(x) + rng.normal(0, 0.2, x.size)
    r = relusum.fit((x, y), domain=(0, 1), knots=[0.0, 0.3, 0.7])
    xs = np.linspace(0.05, 0.95, 5)
    lo, hi = r.band(xs)
    blo, bhi = r.band(xs, bootstrap=200, seed=1)
    # The bootstrap band estimates the same width within sampling error.
    np.testing.assert_allclose(bhi - blo, hi - lo, rtol=0.3)
    plo, phi = r.band(xs, kind="prediction")
    assert np.all(phi - plo > hi - lo)
    with pytest.raises(ValueError, match="level must be in"):
        r.band(xs, level=1.5)
    with pytest.raises(ValueError, match="kind must be one of"):
        r.band(xs, kind="credible")
    with pytest.raises(ValueError, match="least-squares"):
        relusum.fit((x, y), n_units=3, loss="linf").band(xs)


def test_free_knot_errors_agree_with_piecewise_regression():
    """Muggeo's segmented regression on its own README example: breakpoint and its SE."""
    pr = pytest.importorskip("piecewise_regression")
    rng = np.random.default_rng(0)
    xx = np.linspace(0, 20, 200)
    yy = 100 - 4 * xx + 2 * np.maximum(xx - 7, 0) + rng.normal(size=xx.size)
    r = relusum.fit((xx, yy), knots="optimal", n_units=2)
    start = [float(r.model.knots[1])]
    res = pr.Fit(xx, yy, start_values=start, n_boot=0).get_results()["estimates"]["breakpoint1"]
    # Two units: one pinned at A (a sloped first piece) and one free breakpoint.
    assert r.model.knots[0] == pytest.approx(0.0)
    inf = r.inference()
    assert inf.free_knots.tolist() == [1]
    assert r.model.knots[1] == pytest.approx(res["estimate"], rel=0.01)
    assert inf.knot_se()[0] == pytest.approx(res["se"], rel=0.05)


def test_free_inference_matches_dense_gauss_newton():
    rng = np.random.default_rng(2)
    x = rng.uniform(0, 1, 300)
    y = truth(x) + rng.normal(0, 0.1, x.size)
    m = relusum.fit((x, y), knots="optimal", n_units=3).model
    inf = free_inference(x, y, m)
    free = np.flatnonzero(m.knots > m.domain[0])
    J = np.column_stack(
        [np.ones_like(x)]
        + [np.maximum(x - h, 0) for h in m.knots]
        + [-m.weights[i] * (x > m.knots[i]) for i in free]
    )
    r = y - m(x)
    cov = np.linalg.inv(J.T @ J) * (r @ r) / (x.size - J.shape[1])
    np.testing.assert_allclose(inf.knot_se(), np.sqrt(np.diag(cov)[-free.size :]), rtol=1e-6)


def truth_uniform(x):
    """Breakpoints at 1/3 and 2/3 with a sloped first piece: exactly 3 uniform units on [0, 1]."""
    return 1 + 2 * x - 3 * np.maximum(x - 1 / 3, 0) + 4 * np.maximum(x - 2 / 3, 0)


@pytest.mark.parametrize("selection, rate", [("bic", 0.85), ("gcv", 0.85), ("cv", 0.85)])
def test_auto_units_finds_the_true_number(selection, rate):
    """50 seeds at N = 2,000: the criterion picks the true 3 units at least 85% of the time."""
    picks = []
    for s in range(50):
        rng = np.random.default_rng(s)
        x = rng.uniform(0, 1, 2000)
        y = truth_uniform(x) + rng.normal(0, 0.2, x.size)
        r = relusum.fit((x, y), domain=(0, 1), n_units="auto", selection=selection)
        picks.append(r.model.n_units)
        curve = r.report.extra["selection_curve"]
        assert r.model.n_units == min(curve, key=lambda t: t[1])[0]
    assert np.mean(np.array(picks) == 3) >= rate, np.bincount(picks)


def test_auto_units_refuses_functions_and_linf():
    with pytest.raises(ValueError, match="noisy data"):
        relusum.fit("sin(x)", domain=(0, 1), n_units="auto")
    with pytest.raises(ValueError, match="least-squares"):
        relusum.fit(([0, 1, 2, 3], [0, 1, 0, 1]), n_units="auto", loss="linf")
    with pytest.raises(ValueError, match="selection must be one of"):
        relusum.fit(([0, 1, 2, 3], [0, 1, 0, 1]), n_units="auto", selection="aic")


def test_free_knot_intervals_cover_the_true_breakpoints():
    """Delta-method 95% intervals of free knots cover the true breakpoints in 90-98% of fits."""
    hits = total = 0
    for s in range(100):
        rng = np.random.default_rng(1000 + s)
        x = rng.uniform(0, 1, 400)
        y = truth(x) + rng.normal(0, 0.2, x.size)
        r = relusum.fit((x, y), domain=(0, 1), pieces=3, knots="optimal")
        inf = r.inference()
        h = r.model.knots[inf.free_knots]
        ci = inf.knot_intervals()
        for true in (0.3, 0.7):
            k = int(np.argmin(np.abs(h - true)))
            hits += ci[k, 0] <= true <= ci[k, 1]
            total += 1
    assert 0.90 <= hits / total <= 0.98, hits / total


def test_free_knot_errors_agree_with_piecewise_regression_on_simulated_truth():
    pr = pytest.importorskip("piecewise_regression")
    rng = np.random.default_rng(11)
    x = rng.uniform(0, 1, 1000)
    y = truth(x) + rng.normal(0, 0.2, x.size)
    r = relusum.fit((x, y), domain=(0, 1), pieces=3, knots="optimal")
    # Muggeo's iteration started from relusum's breakpoints (its default start is random):
    # both are at the same least-squares optimum, so estimates and errors must agree.
    start = [float(v) for v in r.model.knots[1:]]
    est = pr.Fit(x, y, start_values=start, n_boot=0).get_results()["estimates"]
    inf = r.inference()
    for k, name in enumerate(("breakpoint1", "breakpoint2")):
        assert r.model.knots[1 + k] == pytest.approx(est[name]["estimate"], rel=0.01)
        assert inf.knot_se()[k] == pytest.approx(est[name]["se"], rel=0.05)
