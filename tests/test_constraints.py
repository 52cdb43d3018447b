"""Shape constraints and robust losses (issue 13) against theory and independent solvers."""

import math

import numpy as np
import pytest
from scipy.optimize import LinearConstraint, linprog, minimize

import relusum
from relusum.cli import main
from relusum.fitting.constraints import Constraints
from relusum.fitting.fixed import uniform_knots
from relusum.fitting.qp import qp_knots
from relusum.fitting.robust import _pinball, huber_knots, lp_knots, pinball
from relusum.targets import make_target

LOSSES = ["l2", "linf", "l1", "huber", "quantile"]


def _data(n=300, seed=0, noise=0.05):
    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(0, 1, n))
    y = 1 / (1 + np.exp(-8 * (x - 0.4))) + rng.normal(0, noise, n)
    return x, y


def _domain_slopes(model, domain):
    """Slopes of the pieces that meet the domain (a knot at A: the left tail is outside)."""
    a, _ = domain
    s = model.slopes
    return s[1:] if model.knots[0] <= a else s


def _check(model, c: Constraints, domain, tol=1e-9):
    s = _domain_slopes(model, domain)
    scale = 1.0 + float(np.max(np.abs(s)))
    lo, hi = c.slope_range()
    assert np.all(s >= lo - tol * scale) and np.all(s <= hi + tol * scale)
    if c.shape == "convex":
        assert np.all(np.diff(s) >= -tol * scale)
    if c.shape == "concave":
        assert np.all(np.diff(s) <= tol * scale)
    grid = np.linspace(*domain, 10_001)
    v = model(np.concatenate((grid, model.knots)))
    if c.value_bounds is not None:
        assert np.min(v) >= c.value_bounds[0] - tol and np.max(v) <= c.value_bounds[1] + tol
    for x0, y0 in c.through:
        assert model(x0) == pytest.approx(y0, abs=tol)
    if c.right_slope is not None:
        assert model.slopes[-1] == pytest.approx(c.right_slope, abs=tol * scale)


SETS = [
    dict(
        monotone="increasing",
        slope_bounds=(0.2, 3.0),
        value_bounds=(0.0, 1.02),
        through=[(0.5, 0.7)],
        right_slope=0.2,
    ),
    dict(shape="concave", monotone="increasing", right_slope=0.0),
    dict(shape="convex", value_bounds=(None, 1.0)),
]


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("knots", ["uniform", "optimal"])
@pytest.mark.parametrize("which", range(len(SETS)))
def test_every_constraint_holds(loss, knots, which):
    x, y = _data(150)
    kw = SETS[which]
    r = relusum.fit((x, y), n_units=5, knots=knots, loss=loss, **kw)
    _check(r.model, Constraints(**kw), r.target.domain)
    assert r.report.extra["constraints"] == Constraints(**kw).to_dict()


def test_every_constraint_holds_on_a_function_with_optimal_knots():
    kw = dict(monotone="increasing", shape="concave", right_slope=0.0, value_bounds=(None, 1.0))
    r = relusum.fit("tanh(3*x)", domain=(0, 2), n_units=6, knots="optimal", loss="linf", **kw)
    _check(r.model, Constraints(**kw), (0, 2))
    assert r.report.max_abs_error < 0.1


# ---------------------------------------------------------------- optimality


def _relu_matrix(x, h):
    return np.column_stack([np.ones_like(x)] + [np.maximum(0, x - hi) for hi in h])


def _relu_rows(h, c: Constraints, domain):
    """The constraints as rows on (bias, w_0..w_{n-1}): an independent formulation."""
    n = h.size
    a, b = domain
    rows, lo, hi = [], [], []
    # slopes of pieces on the domain: cumulative sums of the weights
    cum = np.tril(np.ones((n, n)))
    first = 0 if h[0] <= a else -1
    slope_rows = [np.concatenate(([0.0], cum[k])) for k in range(n)]
    slo, shi = c.slope_range()
    if math.isfinite(slo) or math.isfinite(shi):
        for r in slope_rows:
            rows.append(r), lo.append(slo), hi.append(shi)
        if first == -1:  # the flat first piece has slope 0; nothing to add
            pass
    if c.shape is not None:
        for k in range(n):
            if k == 0 and h[0] <= a:
                continue
            e = np.zeros(n + 1)
            e[1 + k] = 1.0
            rows.append(e)
            lo.append(0.0 if c.shape == "convex" else -np.inf)
            hi.append(np.inf if c.shape == "convex" else 0.0)
    pts = np.concatenate(([a], h[h > a], [b]))
    if c.value_bounds is not None:
        for r in _relu_matrix(pts, h):
            rows.append(r), lo.append(c.value_bounds[0]), hi.append(c.value_bounds[1])
    for x0, y0 in c.through:
        rows.append(_relu_matrix(np.array([x0]), h)[0]), lo.append(y0), hi.append(y0)
    if c.right_slope is not None:
        rows.append(slope_rows[-1]), lo.append(c.right_slope), hi.append(c.right_slope)
    return np.array(rows), np.array(lo, float), np.array(hi, float)


RANDOM_SETS = [
    Constraints(monotone="increasing"),
    Constraints(shape="convex", slope_bounds=(-1.0, 4.0)),
    Constraints(value_bounds=(0.1, 0.9), through=[(0.3, 0.3)], right_slope=0.0),
    Constraints(shape="concave", monotone="increasing"),
]


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("ci", range(len(RANDOM_SETS)))
def test_fixed_knots_l2_and_huber_match_trust_constr(seed, ci):
    rng = np.random.default_rng(seed)
    x, y = _data(60, seed, noise=0.2)
    h = np.sort(rng.uniform(x[0], x[-1], 5))
    h[0] = x[0]
    c = RANDOM_SETS[ci]
    tgt = make_target((x, y))
    m, lo, hi = _relu_rows(h, c, (x[0], x[-1]))
    a = _relu_matrix(x, h)
    cons = [LinearConstraint(m, lo, hi)]
    opts = dict(gtol=1e-12, xtol=1e-14, maxiter=20_000)
    # l2
    ours = np.sum((qp_knots(tgt, h, c)(x) - y) ** 2)
    ref = minimize(
        lambda p: np.sum((a @ p - y) ** 2),
        np.zeros(h.size + 1),
        jac=lambda p: 2 * a.T @ (a @ p - y),
        method="trust-constr",
        constraints=cons,
        options=opts,
    )
    assert ours <= ref.fun * (1 + 1e-6) + 1e-12
    assert ours == pytest.approx(ref.fun, rel=1e-5)
    # huber with a given delta
    d = 0.15

    def hub(p):
        r = y - a @ p
        return np.sum(np.where(np.abs(r) <= d, 0.5 * r * r, d * np.abs(r) - 0.5 * d * d))

    s, _ = huber_knots(tgt, h, c, delta=d)
    ref = minimize(
        hub,
        ref.x,
        jac=lambda p: -a.T @ np.clip(y - a @ p, -d, d),
        method="trust-constr",
        constraints=cons,
        options=opts,
    )
    ours = hub(np.concatenate(([s.bias], s.weights)))
    assert ours <= ref.fun * (1 + 1e-6) + 1e-12


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("ci", range(len(RANDOM_SETS)))
@pytest.mark.parametrize("loss", ["l1", "quantile", "linf"])
def test_fixed_knots_lps_match_a_dense_lp(seed, ci, loss):
    """A dense LP in the ReLU parameters (bias, weights) with |r| <= e split per point."""
    rng = np.random.default_rng(seed)
    x, y = _data(50, seed, noise=0.2)
    h = np.sort(rng.uniform(x[0], x[-1], 5))
    h[0] = x[0]
    c = RANDOM_SETS[ci]
    q = 0.8 if loss == "quantile" else 0.5
    s = lp_knots(make_target((x, y)), h, loss, c, quantile=q)
    m, lo, hi = _relu_rows(h, c, (x[0], x[-1]))
    a = _relu_matrix(x, h)
    npar, npts = h.size + 1, x.size
    eq = lo == hi
    a_ub = np.vstack([m[~eq & np.isfinite(hi)], -m[~eq & np.isfinite(lo)]])
    b_ub = np.concatenate([hi[~eq & np.isfinite(hi)], -lo[~eq & np.isfinite(lo)]])
    if loss == "linf":
        # min e: a p - e <= y, -a p - e <= -y
        big = np.block([[a, -np.ones((npts, 1))], [-a, -np.ones((npts, 1))]])
        a_ub2 = np.vstack([big, np.hstack([a_ub, np.zeros((a_ub.shape[0], 1))])])
        b2 = np.concatenate([y, -y, b_ub])
        a_eq = np.hstack([m[eq], np.zeros((int(eq.sum()), 1))]) if eq.any() else None
        res = linprog(
            np.r_[np.zeros(npar), 1.0],
            A_ub=a_ub2,
            b_ub=b2,
            A_eq=a_eq,
            b_eq=lo[eq] if eq.any() else None,
            bounds=[(None, None)] * npar + [(0, None)],
            method="highs-ipm",
        )
        ours = np.max(np.abs(s(x) - y))
    else:
        # min sum e_i with e_i >= q r_i and e_i >= (q - 1) r_i, r = y - a p
        big = np.block([[-q * a, -np.eye(npts)], [(1 - q) * a, -np.eye(npts)]])
        a_ub2 = np.vstack([big, np.hstack([a_ub, np.zeros((a_ub.shape[0], npts))])])
        b2 = np.concatenate([-q * y, (1 - q) * y, b_ub])
        a_eq = np.hstack([m[eq], np.zeros((int(eq.sum()), npts))]) if eq.any() else None
        res = linprog(
            np.r_[np.zeros(npar), np.ones(npts)],
            A_ub=a_ub2,
            b_ub=b2,
            A_eq=a_eq,
            b_eq=lo[eq] if eq.any() else None,
            bounds=[(None, None)] * (npar + npts),
            method="highs-ipm",
        )
        ours = np.sum(pinball(y - s(x), q))
    assert res.status == 0
    assert ours == pytest.approx(res.fun, rel=1e-6, abs=1e-10)


def _dense_shape_qp(x, y, shape):
    """Least squares over values at the points, secant slopes convex or monotone."""
    dx = np.diff(x)
    d = np.diff(np.eye(x.size), axis=0) / dx[:, None]
    m = np.diff(d, axis=0) if shape == "convex" else d
    res = minimize(
        lambda v: np.sum((v - y) ** 2),
        y.copy(),
        jac=lambda v: 2 * (v - y),
        method="trust-constr",
        constraints=[LinearConstraint(m, 0, np.inf)],
        options=dict(gtol=1e-13, xtol=1e-15, maxiter=50_000),
    )
    return res.fun


@pytest.mark.parametrize("shape", ["convex", "monotone"])
def test_knots_at_every_x_give_the_shape_regression_estimator(shape):
    rng = np.random.default_rng(3)
    x = np.sort(rng.uniform(-1, 1, 25))
    y = x**2 + 0.5 * x + rng.normal(0, 0.3, x.size)
    kw = {"shape": "convex"} if shape == "convex" else {"monotone": "increasing"}
    r = relusum.fit((x, y), knots=x[:-1], **kw)
    ours = np.sum((r.model(x) - y) ** 2)
    assert ours == pytest.approx(_dense_shape_qp(x, y, shape), rel=1e-6)


def test_a_constraint_the_fit_already_meets_changes_nothing():
    x = np.linspace(0, 1, 200)
    free = relusum.fit((x, x**2), n_units=8)
    assert np.all(np.diff(free.model.slopes) >= 0) and np.all(free.model.slopes >= 0)
    for kw in ({"shape": "convex"}, {"monotone": "increasing"}, {"value_bounds": (-1, 2)}):
        r = relusum.fit((x, x**2), n_units=8, **kw)
        assert r.model.allclose(free.model, rtol=1e-8, atol=1e-10)
    q = lp_knots(make_target((x, x**2)), uniform_knots((0, 1), 8), "l1", Constraints())
    qc = lp_knots(
        make_target((x, x**2)), uniform_knots((0, 1), 8), "l1", Constraints(shape="convex")
    )
    assert qc.allclose(q, rtol=1e-8, atol=1e-10)


# ---------------------------------------------------------------- robustness


def test_robust_losses_shrug_off_gross_outliers():
    rng = np.random.default_rng(0)
    x = np.sort(rng.uniform(0, 1, 2000))
    truth = np.sin(6 * x)
    clean = truth + rng.normal(0, 0.1, x.size)
    dirty = clean.copy()
    idx = rng.choice(x.size, x.size // 10, replace=False)
    dirty[idx] = truth[idx] + rng.choice([-5.0, 5.0], idx.size)

    def rmse(loss, y):
        r = relusum.fit((x, y), n_units=10, loss=loss)
        return float(np.sqrt(np.mean((r.model(x) - truth) ** 2)))

    ref = rmse("l2", clean)  # 0.0119
    l2_dirty = rmse("l2", dirty)  # 0.106: nine times worse
    l1, hub = rmse("l1", dirty), rmse("huber", dirty)  # 0.0134, 0.0131
    assert l1 <= 1.3 * ref and hub <= 1.3 * ref
    assert l2_dirty > 5 * ref


@pytest.mark.parametrize("q", [0.05, 0.5, 0.95])
def test_quantile_fraction_below(q):
    rng = np.random.default_rng(1)
    x = np.sort(rng.uniform(0, 1, 10_000))
    y = np.sin(6 * x) + rng.standard_t(3, x.size) * 0.2
    r = relusum.fit((x, y), n_units=12, loss="quantile", quantile=q)
    assert abs(np.mean(y < r.model(x)) - q) <= 0.01


def test_pinball_shortcut_on_many_points_is_exact():
    rng = np.random.default_rng(2)
    n = 30_000
    x = np.sort(rng.uniform(0, 1, n))
    y = np.cos(5 * x) + rng.normal(0, 0.3, n)
    tgt = make_target((x, y))
    h = uniform_knots((x[0], x[-1]), 20)
    s = lp_knots(tgt, h, "quantile", Constraints(monotone="decreasing"), quantile=0.7)
    # The reference: the same dual LP on every point (no shortcut).
    import relusum.fitting.robust as rb

    old = rb._GLOB_ABOVE
    rb._GLOB_ABOVE = 10**9
    try:
        full = lp_knots(tgt, h, "quantile", Constraints(monotone="decreasing"), quantile=0.7)
    finally:
        rb._GLOB_ABOVE = old
    a, b = np.sum(pinball(y - s(x), 0.7)), np.sum(pinball(y - full(x), 0.7))
    assert a == pytest.approx(b, rel=1e-9)
    assert _pinball  # the shortcut is the function under test


def test_huber_delta_defaults_to_a_robust_scale():
    rng = np.random.default_rng(4)
    x = np.sort(rng.uniform(0, 1, 3000))
    y = x + rng.normal(0, 0.1, x.size)
    y[::10] += 10.0
    r = relusum.fit((x, y), n_units=4, loss="huber")
    assert r.report.extra["huber_delta"] == pytest.approx(1.345 * 0.1, rel=0.15)
    r2 = relusum.fit((x, y), n_units=4, loss="huber", huber_delta=0.05)
    assert r2.report.extra["huber_delta"] == 0.05


# ---------------------------------------------------------------- tails


def test_max_error_everywhere_for_known_asymptotes():
    r = relusum.fit(
        "tanh(x)", domain=(-4, 4), n_units=12, knots="optimal", loss="linf", right_slope=0
    )
    e = r.report.extra["max_error_everywhere"]
    x = np.linspace(-300, 300, 2_000_001)
    brute = float(np.max(np.abs(r.model(x) - np.tanh(x))))
    assert e >= brute - 1e-12 and e <= brute + 1e-6
    assert e >= r.report.max_abs_error
    g = relusum.fit("gelu(x)", domain=(-6, 6), n_units=10, right_slope=1)
    assert math.isfinite(g.report.extra["max_error_everywhere"])
    g0 = relusum.fit("gelu(x)", domain=(-6, 6), n_units=10, right_slope=0)
    assert g0.report.extra["max_error_everywhere"] == math.inf
    other = relusum.fit("sin(x)", domain=(0, 3), n_units=4, right_slope=0)
    assert "max_error_everywhere" not in other.report.extra


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "kw, words",
    [
        (dict(slope_bounds=(2, 1)), "lo > hi"),
        (dict(value_bounds=(1, 0)), "lo > hi"),
        (dict(monotone="increasing", slope_bounds=(None, -1)), "monotone"),
        (dict(monotone="decreasing", right_slope=1), "right_slope"),
        (dict(monotone="increasing", through=[(0, 1), (1, 0)]), "monotone"),
        (dict(shape="convex", through=[(0, 0), (0.5, 1), (1, 0)]), "convex"),
        (dict(shape="convex", through=[(0, 0), (1, 1)], right_slope=0.5), "right_slope"),
        (dict(value_bounds=(0, 1), through=[(0.5, 2)]), "value_bounds"),
        (dict(through=[(5, 0)]), "outside the domain"),
        (dict(monotone="up"), "monotone must be"),
        (dict(loss="l1", huber_delta=1.0), "huber_delta applies"),
        (dict(loss="quantile", quantile=1.5), "between 0 and 1"),
        (dict(interpolate=True, monotone="increasing"), "interpolate"),
        (dict(loss="l1", tol=0.1, n_units=None), "tol= bounds"),
    ],
)
def test_infeasible_options_fail_before_solving_with_one_line(kw, words):
    kw = {"n_units": 4, **kw}
    with pytest.raises(ValueError, match=words) as exc:
        relusum.fit("x", domain=(0, 1), **kw)
    assert "\n" not in str(exc.value)


def test_flat_first_piece_against_a_slope_bound_is_named():
    with pytest.raises(ValueError, match="put a knot at A"):
        relusum.fit("x", domain=(0, 1), knots=[0.5], slope_bounds=(0.5, None))
    # Optimal knots move the first knot to A instead.
    r = relusum.fit("x**3", domain=(0, 1), n_units=3, knots="optimal", slope_bounds=(0.1, None))
    assert r.model.knots[0] == 0.0 and np.min(r.model.slopes[1:]) >= 0.1 - 1e-9


def test_cli_flags(capsys):
    import json

    argv = [
        "fit",
        "sin(x)",
        "--domain",
        "0",
        "3",
        "--units",
        "6",
        "--monotone",
        "increasing",
        "--slope-bounds",
        "0",
        "none",
        "--through",
        "0,0",
        "--loss",
        "huber",
        "--json",
    ]
    assert main(argv) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["loss"] == "huber" and d["constraints"]["monotone"] == "increasing"
    assert d["constraints"]["slope_bounds"] == [0.0, None] and "huber_delta" in d
    argv = [
        "fit",
        "x",
        "--domain",
        "0",
        "1",
        "--units",
        "3",
        "--loss",
        "quantile",
        "--quantile",
        "0.9",
        "--value-bounds",
        "-inf",
        "2",
        "--right-slope",
        "1",
    ]
    assert main(argv) == 0
    assert "constraints: value_bounds" in capsys.readouterr().out
    assert (
        main(
            [
                "fit",
                "x",
                "--domain",
                "0",
                "1",
                "--monotone",
                "increasing",
                "--through",
                "0,1",
                "--through",
                "1,0",
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "monotone" in err and "Traceback" not in err
    assert main(["fit", "x", "--domain", "0", "1", "--through", "0"]) == 2
    assert "--through needs X,Y" in capsys.readouterr().err


def test_tolerance_search_keeps_the_constraints():
    for knots in ("uniform", "optimal"):
        r = relusum.fit("sin(x)", domain=(0, 1.5), tol=5e-3, knots=knots, monotone="increasing")
        assert r.report.loss == "linf" and r.report.max_abs_error <= 5e-3
        assert np.min(_domain_slopes(r.model, (0, 1.5))) >= -1e-12
        assert r.report.extra["tol_bounds"] == "max_abs_error"


def test_without_highspy_the_message_names_the_extra(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "highspy", None)
    with pytest.raises(ValueError, match=r"relusum\[shape\]"):
        relusum.fit("x", domain=(0, 1), n_units=3, monotone="increasing")
    # The LP losses need only scipy.
    r = relusum.fit("x", domain=(0, 1), n_units=3, loss="l1", monotone="increasing")
    assert r.model(1.0) == pytest.approx(1.0)
