"""The compiled free-knot kernels (numba) against the NumPy code they replace."""

from __future__ import annotations

import numpy as np
import pytest

from relusum.fitting.free_l2 import envelope, kernels, problem
from relusum.fitting.free_l2.lm import _lm, _lm_python, _sanitize
from relusum.fitting.free_l2.problem import _Problem
from relusum.targets import Data, make_target


def data_problem(n: int, seed: int, weighted: bool) -> _Problem:
    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(0.0, 10.0, n))
    y = np.sin(x) + 0.3 * np.abs(x - 4.0) + rng.normal(0.0, 0.2, n)
    w = rng.uniform(0.2, 3.0, n) if weighted else None
    return _Problem(make_target(Data(x, y, w)))


def random_knots(prob: _Problem, rng, k: int, pinned: bool) -> np.ndarray:
    h = np.sort(rng.uniform(prob.a, prob.b, k))
    if pinned:
        h[0] = prob.a
    out = _sanitize(h, prob.a, prob.b, pinned, not pinned)
    assert out is not None
    return out


CASES = [
    (n, seed, weighted) for n, seed, weighted in ((60, 0, False), (400, 1, True), (1500, 2, False))
]


def test_constants_mirror_the_python_ones():
    assert kernels._KEEP == problem._KEEP and kernels._RTOL == problem._RTOL


@pytest.mark.parametrize("n, seed, weighted", CASES)
@pytest.mark.parametrize("pinned", [True, False])
def test_projected_values_ssr_and_step_equal_numpy(n, seed, weighted, pinned):
    prob = data_problem(n, seed, weighted)
    rng = np.random.default_rng(seed + 10)
    for k in (1, 3, 7):
        h = random_knots(prob, rng, k, pinned)
        st = prob.state(h)
        lam = np.empty(prob.x.size)
        res = np.empty(prob.x.size)
        sums = np.zeros((5, k + 2))
        starts = np.empty(k + 3, dtype=np.int64)
        t, flat, c, ssr, ok = kernels._evaluate(
            prob.x, prob.y, prob.w, h, prob.a, prob.b, lam, res, sums, starts, 0.0
        )
        assert ok and flat == st.flat
        np.testing.assert_allclose(t, st.t, rtol=0, atol=0)
        np.testing.assert_allclose(c, st.c, rtol=1e-10, atol=1e-10)
        assert ssr == pytest.approx(st.ssr, rel=1e-10)
        np.testing.assert_allclose(lam, st.lam, rtol=1e-13, atol=1e-13)
        np.testing.assert_allclose(res, st.r, rtol=1e-9, atol=1e-9)
        m = t.size - 1
        np.testing.assert_array_equal(starts[:m], st.starts)
        np.testing.assert_array_equal(np.diff(starts[: m + 1]), st.counts)
        for mine, ref in zip(sums[:3, :m], st.gram, strict=True):
            np.testing.assert_allclose(mine, ref, rtol=1e-10, atol=1e-10)
        for mu in (1e-6, 1e-2, 10.0):
            ref = prob.step(st, mu)
            d, pred, good = kernels._step(t, flat, c, sums, mu, np.zeros(k, dtype=bool))
            assert good and ref is not None
            if pinned and not flat:
                ref[0] = d[0] = 0.0
            scale = np.max(np.abs(ref)) + 1e-12
            np.testing.assert_allclose(d, ref, rtol=0, atol=1e-8 * scale)
            assert pred == pytest.approx(prob.predicted, rel=1e-8, abs=1e-12 * st.ssr)


@pytest.mark.parametrize("n, seed, weighted", CASES)
def test_batched_ssr_equals_numpy(n, seed, weighted):
    prob = data_problem(n, seed, weighted)
    rng = np.random.default_rng(seed)
    for pinned in (True, False):
        hs = np.array([random_knots(prob, rng, 5, pinned) for _ in range(30)])
        mine = prob.batch_ssr(hs, flat=not pinned)
        ref = prob._batch_ssr_numpy(hs, flat=not pinned)
        exact = np.array([prob.state(h).ssr for h in hs])
        np.testing.assert_allclose(mine, ref, rtol=1e-8)
        np.testing.assert_allclose(mine, exact, rtol=1e-8)


@pytest.mark.parametrize("n, seed, weighted", CASES)
def test_compiled_lm_reaches_the_same_minimum_as_the_numpy_loop(n, seed, weighted):
    prob = data_problem(n, seed, weighted)
    rng = np.random.default_rng(seed + 1)
    agree = 0
    trials = 0
    for k in (2, 4, 6):
        for pinned in (True, False):
            h = random_knots(prob, rng, k, pinned)
            mine = _lm(prob, h, pinned)
            ref = _lm_python(prob, h, pinned)
            trials += 1
            # both are LM on the same function with the same steps: the same minimum
            # unless rounding flips a step decision on a kink (then both are local minima)
            agree += abs(mine.ssr - ref.ssr) <= 1e-9 * ref.ssr
            assert mine.ssr <= prob.state(h).ssr  # never worse than the start
            exact = prob.state(mine.h)  # the state the kernel returns is the exact one
            assert mine.ssr == pytest.approx(exact.ssr, rel=1e-12)
            np.testing.assert_allclose(mine.c, exact.c, rtol=1e-10, atol=1e-10)
            np.testing.assert_allclose(mine.r, exact.r, rtol=1e-9, atol=1e-9)
            np.testing.assert_array_equal(mine.counts, exact.counts)
    assert agree >= trials - 1


def test_singular_systems_fall_back_to_the_numpy_loop():
    # a gap in the data: pieces without samples make the normal equations singular
    x = np.concatenate((np.linspace(0.0, 1.0, 30), np.linspace(3.0, 4.0, 30)))
    y = np.abs(x - 2.0)
    prob = _Problem(make_target(Data(x, y)))
    h = np.array([0.0, 1.5, 2.0, 2.5])
    lam, res = np.empty(x.size), np.empty(x.size)
    sums, starts = np.zeros((5, 6)), np.empty(7, dtype=np.int64)
    *_, ok = kernels._evaluate(
        prob.x, prob.y, prob.w, h, prob.a, prob.b, lam, res, sums, starts, 0.0
    )
    assert not ok
    st = _lm(prob, h, True)
    assert st.ssr <= prob.state(h).ssr


@pytest.mark.parametrize("n, seed, weighted", CASES)
@pytest.mark.parametrize("pinned", [True, False])
def test_envelope_dp_kernel_picks_the_same_knots_as_numpy(monkeypatch, n, seed, weighted, pinned):
    prob = data_problem(n, seed, weighted)
    for k, keep, grid in ((3, 8, 32), (6, 16, 64)):
        bins = int(np.clip(8 * (k + 1), 40, 100))
        mine = envelope.envelope_knots(prob, k, pinned, bins, keep, grid)
        monkeypatch.setattr(problem, "COMPILED", False)
        ref = envelope.envelope_knots(prob, k, pinned, bins, keep, grid)
        monkeypatch.setattr(problem, "COMPILED", True)
        assert mine is not None and ref is not None
        np.testing.assert_array_equal(mine, ref)


@pytest.mark.parametrize("nf", [1, 3, 4, 7, 8, 13, 40])
def test_lowest_on_grid_is_the_first_lowest_candidate(nf):
    from relusum.fitting.free_l2.kernels_dp import _lowest_on_grid

    rng = np.random.default_rng(nf)
    ca, cb, cc = rng.uniform(0.0, 2.0, nf), rng.normal(0.0, 1.0, nf), rng.normal(0.0, 1.0, nf)
    # exact ties: repeated candidates, and one equal to another only at some grid values
    ca[nf // 2 :: 3], cb[nf // 2 :: 3], cc[nf // 2 :: 3] = ca[0], cb[0], cc[0]
    vals = np.linspace(-2.0, 2.0, 33)
    vv = vals * vals
    gbest, garg = np.empty(vals.size), np.zeros(vals.size, dtype=np.int64)
    _lowest_on_grid(ca, cb, cc, nf, vals, vv, gbest, garg)
    cost = ca[:, None] * vv + cb[:, None] * vals + cc[:, None]
    np.testing.assert_array_equal(garg, np.argmin(cost, axis=0))  # first index on ties
    np.testing.assert_array_equal(gbest, cost.min(axis=0))


@pytest.mark.parametrize("k", [2, 3])
def test_tiny_data_fit_beats_every_placement_of_knots_in_sample_gaps(k):
    from itertools import combinations

    from relusum.fitting.fixed import lstsq_knots
    from relusum.fitting.free_l2 import free_knot_l2

    rng = np.random.default_rng(k)
    x = np.sort(rng.uniform(0.0, 1.0, 30))
    y = np.abs(np.sin(7.0 * x)) + rng.normal(0.0, 0.1, x.size)
    t = make_target(Data(x, y))
    s = free_knot_l2(t, k, pin_first=True)
    mine = float(np.sum((s(x) - y) ** 2))
    mids = 0.5 * (x[1:] + x[:-1])
    ref = min(
        float(np.sum((lstsq_knots(t, np.array([t.domain[0], *c]))(x) - y) ** 2))
        for c in combinations(mids, k - 1)
    )
    assert mine <= ref * (1 + 1e-12)


@pytest.mark.parametrize("n, seed, weighted", CASES)
@pytest.mark.parametrize("pinned", [True, False])
def test_window_dp_kernel_picks_the_same_cuts_as_numpy(monkeypatch, n, seed, weighted, pinned):
    from relusum.fitting.free_l2.segment import _window_cuts

    prob = data_problem(n, seed, weighted)
    rng = np.random.default_rng(seed)
    for k, window in ((3, 3), (5, 8), (7, 20)):
        h = random_knots(prob, rng, k, pinned)
        mine = _window_cuts(prob, h, not pinned, pinned, window)
        monkeypatch.setattr(problem, "COMPILED", False)
        ref = _window_cuts(prob, h, not pinned, pinned, window)
        monkeypatch.setattr(problem, "COMPILED", True)
        assert (mine is None) == (ref is None)
        if ref is not None:
            np.testing.assert_array_equal(mine, ref)


@pytest.mark.parametrize("n, seed, weighted", CASES)
@pytest.mark.parametrize("flat", [True, False])
def test_segmentation_dp_kernel_picks_the_same_cuts_as_numpy(monkeypatch, n, seed, weighted, flat):
    from relusum.fitting.free_l2.segment import _cut_candidates, _segmentation_knots

    prob = data_problem(n, seed, weighted)
    for k in (1, 3, 8, 12):
        for cand in (None, _cut_candidates(prob, k + 1 if flat else k)):
            mine = _segmentation_knots(prob, k, flat, cand)
            monkeypatch.setattr(problem, "COMPILED", False)
            ref = _segmentation_knots(prob, k, flat, cand)
            monkeypatch.setattr(problem, "COMPILED", True)
            assert (mine is None) == (ref is None)
            if ref is not None:
                np.testing.assert_array_equal(mine, ref)


def test_segmentation_dp_kernel_on_tied_x(monkeypatch):
    from relusum.fitting.free_l2.segment import _segmentation_knots

    rng = np.random.default_rng(4)
    x = np.sort(np.round(rng.uniform(0.0, 1.0, 300) * 25) / 25)
    y = np.abs(x - 0.4) + rng.normal(0.0, 0.05, x.size)
    prob = _Problem(make_target(Data(x, y)))
    for k in (2, 5, 9):
        for flat in (True, False):
            mine = _segmentation_knots(prob, k, flat)
            monkeypatch.setattr(problem, "COMPILED", False)
            ref = _segmentation_knots(prob, k, flat)
            monkeypatch.setattr(problem, "COMPILED", True)
            assert mine is not None and ref is not None
            np.testing.assert_array_equal(mine, ref)


@pytest.mark.parametrize("pinned", [True, False])
def test_gap_search_finds_the_best_placements_of_all(pinned):
    from itertools import combinations

    prob = data_problem(25, 5, True)
    mids = 0.5 * (prob.x[1:] + prob.x[:-1])
    free = 3
    hs, vals = kernels.gap_search(prob.x, prob.y, prob.w, mids, prob.a, prob.b, pinned, free, 3)
    every = np.array([[*([prob.a] if pinned else []), *c] for c in combinations(mids, free)])
    ref = np.sort(prob._batch_ssr_numpy(every, flat=not pinned))[:3]
    np.testing.assert_allclose(vals, ref, rtol=1e-8)
    np.testing.assert_allclose(prob.batch_ssr(hs, flat=not pinned), vals, rtol=1e-12)


@pytest.mark.parametrize("weighted", [False, True])
def test_prefix_sums_kernel_equals_numpy_cumsums(monkeypatch, weighted):
    from relusum.fitting.free_l2.prefix import _PrefixProblem

    rng = np.random.default_rng(7)
    x = np.sort(rng.uniform(3.0, 9.0, 5000))
    y = np.cos(x) + rng.normal(0.0, 0.1, x.size)
    w = rng.uniform(0.5, 2.0, x.size) if weighted else None
    mine = _PrefixProblem(x, y, w, (3.0, 9.0))
    monkeypatch.setattr(problem, "COMPILED", False)
    ref = _PrefixProblem(x, y, w, (3.0, 9.0))
    np.testing.assert_array_equal(mine.prefix_sums, ref.prefix_sums)
    assert mine.scale == ref.scale


@pytest.mark.parametrize("n, seed, weighted", CASES)
def test_lowest_ssr_picks_what_the_reference_states_pick(n, seed, weighted):
    from relusum.fitting.free_l2.moves import _lowest_ssr

    prob = data_problem(n, seed, weighted)
    rng = np.random.default_rng(seed + 10)
    for trial in range(20):
        cands = [random_knots(prob, rng, 5, False) for _ in range(4)]
        if trial % 3 == 0:  # exact ties: the first of them
            cands[2] = cands[0].copy()
            cands[0], cands[1] = cands[1], cands[0]
        if trial % 3 == 1:  # a near tie, far below any rounding margin's reach of the others
            cands[3] = cands[1] * (1.0 + 1e-15)
        ref = min((prob.state(c) for c in cands), key=lambda s: s.ssr).h
        assert _lowest_ssr(prob, cands) is ref
