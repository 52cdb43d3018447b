"""fit(..., tol=eps): fewest units within eps on the verification set, clear errors otherwise."""

from __future__ import annotations

import numpy as np
import pytest

import relusum
from relusum.fitting.optimal import fit_optimal
from relusum.fitting.tolerance import floor_error
from relusum.targets import make_target


def test_gelu_linf_optimal_is_fewest():
    tol = 1e-3
    r = relusum.fit("gelu(x)", domain=(-8, 8), knots="optimal", loss="linf", tol=tol)
    n = r.report.n_units
    assert r.report.max_abs_error <= tol
    assert r.report.extra["tol"] == tol
    assert r.report.extra["error_reached"] == pytest.approx(r.report.max_abs_error)
    # One unit fewer does not make it (measured the same way).
    fewer = relusum.fit("gelu(x)", domain=(-8, 8), n_units=n - 1, knots="optimal", loss="linf")
    assert fewer.report.max_abs_error > tol
    # ... and optimal knots need far fewer units than uniform ones.
    uni = relusum.fit("gelu(x)", domain=(-8, 8), knots="uniform", loss="linf", tol=tol)
    assert uni.report.max_abs_error <= tol
    assert n < uni.report.n_units / 3
    # The README's numbers.
    assert (n, uni.report.n_units) == (22, 113)


def test_x2_theory_count():
    """Free units on x**2: error 1/(2(2n+1)^2) <= tol gives the count in closed form."""
    tol = 1e-4
    r = relusum.fit("x**2", domain=(0, 1), knots="optimal", loss="linf", tol=tol)
    n_theory = int(np.ceil((np.sqrt(1 / (2 * tol)) - 1) / 2))
    assert r.report.n_units in (n_theory, n_theory + 1)
    assert r.report.max_abs_error <= tol


@pytest.mark.parametrize("knots", ["uniform", "optimal"])
def test_l2_tolerance_is_rmse(knots):
    if knots == "optimal":
        pytest.importorskip("relusum.fitting.free_l2")
    tol = 2e-4
    r = relusum.fit("sin(x)", domain=(0, "2*pi"), knots=knots, loss="l2", tol=tol)
    assert r.report.rmse <= tol
    assert r.report.max_abs_error > tol  # the bound is on the RMSE, not the max
    n = r.report.n_units
    if knots == "optimal":
        fewer = fit_optimal(r.target, n - 1, "l2")[0]
        assert relusum.fitting.api.measure(fewer, r.target)[0] > tol


def test_data_tolerance_and_floor():
    x = np.array([0.0, 1.0, 1.0, 2.0, 3.0, 4.0])
    y = np.array([0.0, 1.0, 1.4, 0.0, 2.0, 0.0])
    tgt = make_target((x, y))
    assert floor_error(tgt, "linf") == pytest.approx(0.2)
    r = relusum.fit((x, y), knots="optimal", loss="linf", tol=0.25)
    assert r.report.max_abs_error <= 0.25
    with pytest.raises(ValueError, match="different y at the same x"):
        relusum.fit((x, y), knots="optimal", loss="linf", tol=0.1)


def test_step_is_unreachable():
    with pytest.raises(ValueError, match="cannot be reached: the target jumps by 1 at x = 0"):
        relusum.fit("step(x)", domain=(-1, 1), knots="optimal", loss="linf", tol=1e-3, max_units=40)


def test_max_units_limit():
    with pytest.raises(ValueError, match="at most 4 units"):
        relusum.fit("sin(x)", domain=(0, 10), knots="uniform", loss="linf", tol=1e-6, max_units=4)


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), float("inf")])
def test_bad_tolerance(bad):
    with pytest.raises(ValueError, match="tol must be"):
        relusum.fit("x", domain=(0, 1), tol=bad)


def test_given_knots_and_tol_conflict():
    with pytest.raises(ValueError, match="given knots"):
        relusum.fit("x", domain=(0, 1), knots=[0.0, 0.5], tol=1e-3)


def test_interpolation_tolerance_uses_named_error():
    r = relusum.fit("sin(x)", domain=(0, 6), tol=1e-3, interpolate=True, loss="linf")
    assert r.report.interpolate and r.report.max_abs_error <= 1e-3
    n = r.report.n_units
    fewer = relusum.fit("sin(x)", domain=(0, 6), n_units=n - 1, interpolate=True)
    assert fewer.report.max_abs_error > 1e-3
    with pytest.raises(ValueError, match="interpolate=True fixes"):
        relusum.fit("sin(x)", domain=(0, 6), n_units=4, interpolate=True, loss="linf")


@pytest.mark.parametrize(
    ("expr", "domain", "tol"),
    [("sin(x)", (0.0, 6.283), 1e-3), ("abs(x)**0.5", (-1.0, 1.0), 0.05), ("sign(x)", (-1, 1), 0.6)],
)
def test_uniform_max_error_search_skips_only_unit_counts_that_fail(expr, domain, tol):
    # With uniform knots and the max error, a unit count whose chord bound is above
    # tol is not fitted (no sum on those knots does better); every such count must
    # really fail, and the answer is the fewest units whose fit reaches tol.
    from relusum.fitting.fixed import uniform_knots
    from relusum.fitting.minimax import linf_fixed_target
    from relusum.fitting.report import measure
    from relusum.fitting.tolerance import _chord_misses

    t = make_target(expr, domain)

    def err(n: int) -> float:
        return measure(linf_fixed_target(t, uniform_knots(t.domain, n)), t)[1]

    for n in (1, 3, 7, 20, 45):
        if _chord_misses(t, n, tol):
            assert err(n) > tol
    if "sign" in expr:
        with pytest.raises(ValueError, match="half the jump"):
            relusum.fit(expr, domain=domain, tol=tol, max_units=40)
        return
    r = relusum.fit(expr, domain=domain, tol=tol)
    n = r.report.n_units
    assert r.report.max_abs_error <= tol < err(n - 1)
    assert all(err(k) > tol for k in r.report.extra["units_tried"] if k < n)
