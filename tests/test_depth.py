"""Depth shown exactly: sawtooth and Yarotsky networks, decomposed by from_torch."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from relusum.depth import depth_table, plot_depth, sawtooth, yarotsky_square  # noqa: E402
from relusum.torch_bridge import compress, from_torch  # noqa: E402

pytestmark = pytest.mark.torch


def _tent_power(x: np.ndarray, k: int) -> np.ndarray:
    for _ in range(k):
        x = np.where(x <= 0.5, 2 * x, 2 - 2 * x)
    return x


def _eval(net, x):
    with torch.no_grad():
        return net(torch.tensor(x, dtype=torch.float64).reshape(-1, 1)).numpy()[:, 0]


@pytest.mark.parametrize("k", [1, 2, 3, 6, 10, 12])
def test_sawtooth_has_two_to_the_k_pieces(k):
    net = sawtooth(k)
    widths = [m.out_features for m in net if isinstance(m, torch.nn.Linear)]
    assert widths == [2] * k + [1]
    x = np.random.default_rng(k).uniform(0, 1, 20_000)
    np.testing.assert_allclose(_eval(net, x), _tent_power(x, k), atol=1e-12)
    s = from_torch(net, (0, 1))
    assert s.n_pieces == 2**k
    # The knots are exactly the dyadic points j / 2^k.
    np.testing.assert_array_equal(s.breakpoints(), np.arange(2**k + 1) / 2**k)
    np.testing.assert_allclose(s(x), _tent_power(x, k), atol=1e-12)


@pytest.mark.parametrize("k", [2, 4, 6])
def test_one_hidden_layer_needs_about_two_to_the_k_units(k):
    # n units make at most n + 1 pieces, so 2^k pieces need at least 2^k - 1 units;
    # compress finds 2^k (the first piece is sloped, so A needs a unit too).
    res = compress(sawtooth(k), (0, 1), tol=1e-9)
    assert 2**k - 1 <= res.n_units <= 2**k
    assert res.exact_pieces == 2**k
    # Even a coarse tolerance does not help much: the teeth are all of height 1.
    assert compress(sawtooth(k), (0, 1), tol=0.25).n_units >= 2**k - 1


@pytest.mark.parametrize("m", [0, 1, 2, 3, 5, 8])
def test_yarotsky_square_error_and_pieces(m):
    net = yarotsky_square(m)
    s = from_torch(net, (0, 1))
    assert s.n_pieces == 2**m
    t = s.breakpoints()
    np.testing.assert_allclose(t, np.arange(2**m + 1) / 2**m, rtol=0, atol=0)
    np.testing.assert_allclose(s(t), t**2, rtol=0, atol=1e-15)  # interpolates x^2
    mid = 0.5 * (t[:-1] + t[1:])
    err_mid = mid**2 - s(mid)
    assert np.max(np.abs(err_mid)) == pytest.approx(2.0 ** (-2 * m - 2), rel=1e-9)
    x = np.linspace(0, 1, 100_001)
    err = np.abs(_eval(net, x) - x**2)
    assert np.max(err) <= 2.0 ** (-2 * m - 2) * (1 + 1e-9)
    np.testing.assert_allclose(s(x), _eval(net, x), atol=1e-15)


def test_depth_table_and_bad_arguments():
    rows = depth_table(5)
    assert [r["pieces"] for r in rows] == [2, 4, 8, 16, 32]
    assert [r["deep_units"] for r in rows] == [2, 4, 6, 8, 10]
    assert all(r["shallow_units"] >= r["pieces"] - 1 for r in rows)
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="k must be an integer"):
            sawtooth(bad)
    with pytest.raises(ValueError, match="m must be"):
        yarotsky_square(-1)


def test_plot_depth():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ax = plot_depth(max_depth=5)
    deep = ax.get_lines()[0]
    np.testing.assert_array_equal(deep.get_ydata(), [2, 4, 8, 16, 32])
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    plt.close(ax.figure)
