"""Hull summaries keep every point that can bind a max-error fit with fixed knots."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from relusum.fitting.hulls import HullSummary, hull_vertices


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(1, 300), cuts=st.integers(1, 6))
def test_every_linear_functions_extremes_are_kept(seed, n, cuts):
    rng = np.random.default_rng(seed)
    x = np.round(rng.uniform(0, 1, n), 2)  # repeated x and collinear runs happen
    y = np.round(rng.uniform(-1, 1, n), 1) * rng.integers(0, 2)
    knots = [0.0, 0.3, 0.6]
    parts = np.array_split(np.arange(n), cuts)
    s = sum(
        (HullSummary.from_arrays(x[p], y[p], knots, (0.0, 1.0)) for p in parts),
        HullSummary.empty(knots, (0.0, 1.0)),
    )
    assert s.count == n
    t = np.array([0.0, 0.3, 0.6, 1.0])
    j = np.clip(np.searchsorted(t, x, side="right") - 1, 0, 2)
    for piece in range(3):
        mask = j == piece
        if not mask.any():
            continue
        kx, ky = s.xs[piece], s.ys[piece]
        for a, b in rng.normal(size=(5, 2)):  # any line: its max and min residual are kept
            r_all = y[mask] - (a + b * x[mask])
            r_kept = ky - (a + b * kx)
            assert np.isclose(r_kept.max(), r_all.max(), atol=1e-12)
            assert np.isclose(r_kept.min(), r_all.min(), atol=1e-12)


def test_flat_set_keeps_its_ends():
    x = np.linspace(0, 1, 100)
    keep = hull_vertices(x, 2 * x + 1)
    assert {0, 99} <= set(keep.tolist()) and keep.size <= 6


def test_smooth_convex_data_are_thinned_and_say_so():
    x = np.linspace(0, 1, 20_000)
    s = HullSummary.from_arrays(x, x**2, [0.0], (0.0, 1.0))
    assert s.thinned and s.xs[0].size <= 2048
    assert {0.0, 1.0} <= set(s.xs[0].tolist())  # the ends stay


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    n=st.integers(1, 2000),
    cuts=st.integers(1, 7),
    bins=st.integers(1, 40),
)
def test_bin_hulls_keep_every_lines_extremes_per_bin(seed, n, cuts, bins):
    from relusum.fitting.hulls import BinHulls

    rng = np.random.default_rng(seed)
    x = np.round(rng.uniform(0, 1, n), 2)  # repeated x, points on edges, collinear runs
    y = np.round(rng.uniform(-1, 1, n), 1) * rng.integers(0, 2) + rng.uniform(0, 1e-3, n)
    e = np.linspace(0, 1, bins + 1)
    order = rng.permutation(n)  # chunks in any order
    parts = np.array_split(order, cuts)
    s = sum((BinHulls.from_arrays(x[p], y[p], e, (0.0, 1.0)) for p in parts), 0)
    assert s.count == n and not s.thinned
    assert np.all(np.diff(s.x) >= 0)
    j = np.clip(np.searchsorted(e, x, side="right") - 1, 0, bins - 1)
    js = np.clip(np.searchsorted(e, s.x, side="right") - 1, 0, bins - 1)
    for k in np.unique(j):
        mask, kept = j == k, js == k
        for a, b in rng.normal(size=(4, 2)):  # any line: its max and min residual are kept
            r_all = y[mask] - (a + b * x[mask])
            r_kept = s.y[kept] - (a + b * s.x[kept])
            assert np.isclose(r_kept.max(), r_all.max(), atol=1e-12)
            assert np.isclose(r_kept.min(), r_all.min(), atol=1e-12)


def test_bin_hulls_of_smooth_data_are_thinned_and_say_so():
    from relusum.fitting.hulls import MAX_PER_CHAIN, BinHulls

    x = np.linspace(0, 1, 50_000)
    s = BinHulls.from_arrays(x, np.sin(3 * x), np.linspace(0, 1, 5))
    assert s.thinned and s.x.size <= 4 * 2 * MAX_PER_CHAIN
