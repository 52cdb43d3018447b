"""The uniform-knot guard of optimal L-infinity fits is skipped only when it provably cannot win."""

from __future__ import annotations

import numpy as np
import pytest

from relusum.fitting.fixed import uniform_knots
from relusum.fitting.minimax import linf_fixed_target
from relusum.fitting.minimax.fixed_lp import linf_fixed_lower_bound
from relusum.fitting.optimal import _uniform_cannot_win
from relusum.fitting.report import measure
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


def test_guard_still_runs_when_uniform_knots_are_optimal():
    # x**2 with the first knot pinned: uniform knots are the optimum (1/(8 n^2)),
    # so the bound cannot rule the candidate out and it is computed as before.
    target = make_target("x**2", (0.0, 1.0))
    n = 6
    assert not _uniform_cannot_win(target, n, 1.0 / (8 * n * n) * (1 - 1e-9) - 1e-10)
