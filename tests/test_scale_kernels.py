"""The compiled chunk kernels equal the NumPy references they replace."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from relusum import ReluSum
from relusum.fitting.free_l2.condense import bin_moments
from relusum.fitting.summary import Summary
from relusum.scale.kernels import errors_of, moments_of, summary_of


def _data(seed, n, weighted, ties):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-2.0, 3.0, n)
    if ties:  # points exactly on knots, bin edges and the domain ends
        x[: n // 4] = np.round(x[: n // 4] * 4) / 4
        x[: min(n, 2)] = (-2.0, 3.0)[: min(n, 2)]
    y = np.sin(3 * x) + rng.standard_normal(n)
    w = rng.uniform(0, 2, n) if weighted else None
    return x, y, w


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(0, 3000),
    n_knots=st.integers(1, 40),
    uniform=st.booleans(),
    weighted=st.booleans(),
    ties=st.booleans(),
)
def test_summary_kernel_equals_reference(seed, n, n_knots, uniform, weighted, ties):
    x, y, w = _data(seed, n, weighted, ties)
    rng = np.random.default_rng(seed + 1)
    if uniform:
        h = np.linspace(-2.0, 3.0, n_knots + 1)[:-1]
    else:  # clustered knots: several in one cell of the lookup table
        h = np.unique(np.concatenate(([-2.0], rng.uniform(-2, 3, n_knots) ** 3 / 9)))
        h = h[(h >= -2.0) & (h < 3.0)]
    dom = (-2.0, 3.0)
    got = summary_of(x, y, w, h, dom)
    ref = Summary.from_arrays(x, y, h, dom, w)
    for a, b in ((got.diag, ref.diag), (got.off, ref.off), (got.rhs, ref.rhs)):
        np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-11 * (1 + np.abs(b).max(initial=0)))
    assert got.count == ref.count and got.yy == pytest.approx(ref.yy, rel=1e-11)
    assert got.sum_w == pytest.approx(ref.sum_w, rel=1e-11)
    assert (got.x_min, got.x_max, got.y_min, got.y_max) == (
        ref.x_min,
        ref.x_max,
        ref.y_min,
        ref.y_max,
    )


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(0, 3000),
    bins=st.integers(1, 700),
    weighted=st.booleans(),
    ties=st.booleans(),
)
def test_bin_kernel_equals_reference(seed, n, bins, weighted, ties):
    x, y, w = _data(seed, n, weighted, ties)
    e = np.linspace(-2.0, 3.0, bins + 1)
    got = moments_of(x, y, w, e, (-2.0, 3.0))
    ref = bin_moments(x, y, w, edges=e, y0=0.0)
    np.testing.assert_array_equal(got.count, ref.count)  # every point in the same bin
    np.testing.assert_array_equal(got.lo, ref.lo)
    np.testing.assert_array_equal(got.hi, ref.hi)
    np.testing.assert_array_equal(got.origin, ref.origin)
    for f in ("s0", "s1", "s2", "sy", "sxy", "syy"):
        a, b = getattr(got, f), getattr(ref, f)
        np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-12 * (1 + np.abs(b).max(initial=0)))


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 3000), units=st.integers(0, 30))
def test_error_kernel_evaluates_as_the_model(seed, n, units):
    rng = np.random.default_rng(seed)
    h = np.sort(rng.uniform(-1, 1, units))
    m = ReluSum(rng.standard_normal(), h, rng.standard_normal(units), domain=(-1.0, 1.0))
    x = np.concatenate((rng.uniform(-1.5, 1.5, n), h))  # outside the domain and on knots
    y = rng.standard_normal(x.size)
    r = m(x) - y
    sse, mx = errors_of(m, x, y)
    assert mx == float(np.max(np.abs(r)))  # the same evaluation, bit for bit
    assert sse == pytest.approx(float(np.dot(r, r)), rel=1e-12)


@pytest.mark.parametrize(
    "bad, message",
    [("nan", "non-finite"), ("inf", "non-finite"), ("neg", "non-negative"), ("out", "not inside")],
)
def test_kernels_refuse_bad_chunks_with_the_reference_message(bad, message):
    x, y, w = _data(0, 500, True, False)
    if bad == "nan":
        y[7] = np.nan
    elif bad == "inf":
        x[9] = np.inf
    elif bad == "neg":
        w[3] = -1.0
    else:
        x[5] = 3.5
    with pytest.raises(ValueError, match=message):
        summary_of(x, y, w, np.array([-2.0, 0.0]), (-2.0, 3.0))
    with pytest.raises(ValueError, match=message):
        moments_of(x, y, w, np.linspace(-2, 3, 9), (-2.0, 3.0))
