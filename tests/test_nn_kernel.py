"""The compiled CPU kernel of ReluSumActivation against the sum, the torch path and autograd."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

torch = pytest.importorskip("torch")

from relusum import ReluSum  # noqa: E402
from relusum.nn import ReluSumActivation  # noqa: E402
from relusum.nn.activation import _kernel_applies, _tables  # noqa: E402

NAN, INF = float("nan"), float("inf")


def _sums() -> dict[str, ReluSum]:
    rng = np.random.default_rng(0)
    k = np.sort(rng.uniform(-3, 3, 12))
    g = np.linspace(-8, 8, 64)
    return {
        "random": ReluSum(rng.normal(), k, rng.normal(size=12)),
        "flat right": ReluSum(0.5, [0.0, 1.0, 2.0], [1.0, -2.0, 1.0]),  # last slope 0
        "64 units": ReluSum(0.1, g, rng.normal(size=64)),
        "one knot": ReluSum(0.5, [0.25], [-1.5]),
        "no knot": ReluSum(0.75, [], []),
        "close knots": ReluSum(0.0, [0.0, 1e-9, 5.0], [1.0, -1.0, 2.0]),  # no table: bisection
        "far knots": ReluSum(-1.0, [-1e5, 0.0, 3e5], [2.0, -1.0, 0.5]),
    }


SUMS = _sums()


def _inputs(s: ReluSum, dtype: torch.dtype, seed: int = 1) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    h = torch.tensor(np.asarray(s.knots, dtype=float), dtype=dtype)
    big = torch.tensor(1e30 if dtype == torch.float32 else 1e300, dtype=dtype)
    span = max(10.0, 2 * float(np.max(np.abs(s.knots), initial=0.0)))
    return torch.cat(
        [
            torch.tensor(rng.uniform(-span, span, 20_000), dtype=dtype),
            torch.tensor(rng.normal(size=3000), dtype=dtype),
            torch.tensor([-1e6, 1e6, 0.0, -0.0], dtype=dtype),
            h,
            torch.nextafter(h, big),
            torch.nextafter(h, -big),
        ]
    )


@pytest.fixture
def kernel_only(monkeypatch):
    """Fail if the forward pass falls back to torch operations."""

    def boom(self, x):
        raise AssertionError("the torch path ran instead of the kernel")

    monkeypatch.setattr(ReluSumActivation, "_torch_forward", boom)


@pytest.mark.parametrize("name", list(SUMS))
def test_float64_equals_the_sum_and_the_torch_path(name, kernel_only):
    s = SUMS[name]
    act = ReluSumActivation(s)
    x = _inputs(s, torch.float64)
    assert _kernel_applies(x)
    got = act(x).numpy()
    ref = s(x.numpy())
    scale = max(1.0, float(np.max(np.abs(ref))))
    np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-12 * scale)
    ref_torch = _torch_forward(act, x).numpy()
    np.testing.assert_allclose(got, ref_torch, rtol=1e-12, atol=1e-12 * scale)


def _torch_forward(act: ReluSumActivation, x: torch.Tensor) -> torch.Tensor:
    """The torch-operations forward pass, even while ``kernel_only`` is patched in."""
    return _ORIGINAL_TORCH_FORWARD(act, x)


_ORIGINAL_TORCH_FORWARD = ReluSumActivation._torch_forward


@pytest.mark.parametrize("name", list(SUMS))
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_nan_and_infinities_follow_the_sum(name, dtype, kernel_only):
    """NaN gives NaN, -inf the flat left value, +inf the last piece's limit: as ReluSum."""
    s = SUMS[name]
    act = ReluSumActivation(s)
    x = torch.tensor([NAN, INF, -INF, NAN, 1.0, -INF], dtype=dtype)
    want = s(x.double().numpy())
    got = act(x)
    np.testing.assert_allclose(got.double().numpy(), want, rtol=1e-6)
    np.testing.assert_array_equal(torch.isnan(got).numpy(), np.isnan(want))
    np.testing.assert_allclose(_torch_forward(act, x).double().numpy(), want, rtol=1e-6)
    # trainable (no gradient needed here): the same through the kernel and through torch
    tr = ReluSumActivation(s, trainable=True)
    with torch.no_grad():
        np.testing.assert_allclose(tr(x).double().numpy(), want, rtol=1e-6)
        np.testing.assert_allclose(_torch_forward(tr, x).double().numpy(), want, rtol=1e-6)


@pytest.mark.parametrize("name", list(SUMS))
def test_float32_is_close_to_the_sum_and_to_the_torch_path(name, kernel_only):
    s = SUMS[name]
    act = ReluSumActivation(s)
    x = _inputs(s, torch.float32)
    got = act(x)
    assert got.dtype == torch.float32
    ref = s(x.double().numpy())
    scale = max(1.0, float(np.max(np.abs(ref))))
    np.testing.assert_allclose(got.double().numpy(), ref, rtol=2e-6, atol=2e-6 * scale)
    np.testing.assert_allclose(
        got.numpy(), _torch_forward(act, x).numpy(), rtol=1e-6, atol=1e-6 * scale
    )


@settings(max_examples=60, deadline=None)
@given(
    knots=st.lists(
        st.one_of(
            st.floats(-1e4, 1e4, allow_nan=False),
            st.sampled_from([0.0, 1e-7, 2e-7, 1.0, 1.0 + 1e-12, -3.5]),
        ),
        max_size=40,
    ),
    dtype=st.sampled_from([np.float32, np.float64]),
    seed=st.integers(0, 2**32 - 1),
)
def test_piece_lookup_counts_the_knots_at_or_below_x(knots, dtype, seed):
    """The cell table (or bisection) finds ``#{knots <= x}`` exactly, even for clustered
    knots, knots equal after rounding to float32 and x on or next to a knot."""
    from relusum.nn import _kernel

    h = np.sort(np.asarray(knots, dtype=dtype))
    n = h.size
    c = torch.arange(n + 1, dtype=torch.float64)  # the value is the piece's index
    s = torch.zeros(n + 1, dtype=torch.float64)
    tdt = torch.float32 if dtype == np.float32 else torch.float64
    args = _tables(torch.from_numpy(h.astype(np.float64)), c, s, tdt)
    rng = np.random.default_rng(seed)
    x = np.concatenate(
        [
            h,
            np.nextafter(h, dtype(np.inf)),
            np.nextafter(h, dtype(-np.inf)),
            rng.uniform(-2e4, 2e4, 500).astype(dtype),
            rng.choice(np.append(h, 0.0), 500) + rng.normal(scale=1e-6, size=500).astype(dtype),
        ]
    ).astype(dtype)
    out = np.empty_like(x)
    _kernel.evaluate(x, out, args, 1)
    np.testing.assert_array_equal(out, np.searchsorted(h, x, side="right"))
    if x.size >= 2:  # the threaded loop agrees
        big = np.tile(x, (1 << 16) // x.size + 1)
        out2 = np.empty_like(big)
        _kernel.evaluate(big, out2, args, 2)
        np.testing.assert_array_equal(out2, np.searchsorted(h, big, side="right"))


@pytest.mark.parametrize("name", ["random", "64 units", "close knots", "far knots"])
def test_gradients_match_finite_differences_and_autograd_of_the_torch_path(name, kernel_only):
    s = SUMS[name]
    act = ReluSumActivation(s)
    rng = np.random.default_rng(3)
    xs = rng.uniform(-12, 12, 60)
    # away from the kinks (finite differences of step 1e-6 must not straddle one)
    xs = xs[np.min(np.abs(xs[:, None] - np.asarray(s.knots)[None, :]), axis=1, initial=1) > 1e-3]
    x = torch.tensor(xs, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(act, (x,))
    assert torch.autograd.gradgradcheck(act, (x,))
    # on every input, knots and infinities included: the slope the torch path's autograd gives
    xi = _inputs(s, torch.float64)[:3000]
    xi = torch.cat([xi, torch.tensor([INF, -INF], dtype=torch.float64)]).requires_grad_()
    g = torch.randn(xi.shape, dtype=torch.float64)
    (got,) = torch.autograd.grad(act(xi), xi, g)
    (ref,) = torch.autograd.grad(_torch_forward(act, xi), xi, g)
    np.testing.assert_allclose(got.numpy(), ref.numpy(), rtol=1e-12, atol=1e-12)


def test_gradient_at_nan_is_nan_and_float32_gradients(kernel_only):
    act = ReluSumActivation(SUMS["random"])
    x = torch.tensor([NAN, 0.5, -9.0, 9.0], requires_grad=True)
    y = act(x)
    assert y.dtype == torch.float32
    (g,) = torch.autograd.grad(y.sum(), x)
    assert g.dtype == torch.float32 and torch.isnan(g[0]) and not torch.isnan(g[1:]).any()
    assert g[2] == 0.0  # flat left of the first knot
    np.testing.assert_allclose(g[3].item(), float(np.sum(SUMS["random"].weights)), rtol=1e-6)


def test_any_layout_zero_d_and_empty(kernel_only):
    s = SUMS["random"]
    act = ReluSumActivation(s)
    base = torch.tensor(np.random.default_rng(4).uniform(-5, 5, (6, 8, 10)))
    for x in (base[:, ::2, 1::3], base.transpose(0, 2), base.permute(1, 2, 0)[2:, :, ::2]):
        assert not x.is_contiguous()
        kept = x.clone()
        y = act(x)
        assert y.shape == x.shape
        np.testing.assert_allclose(y.numpy(), s(x.numpy()), rtol=1e-12, atol=1e-12)
        assert torch.equal(x, kept)  # the input is untouched
    x0 = torch.tensor(1.5, dtype=torch.float64)
    y0 = act(x0)
    assert y0.shape == () and y0.item() == pytest.approx(s(1.5), rel=1e-12)
    for shape in [(0,), (3, 0, 2)]:
        xe = torch.empty(shape, requires_grad=True)
        ye = act(xe)
        assert ye.shape == shape and ye.dtype == torch.float32
        ye.sum().backward()
        assert xe.grad.shape == shape
    # 0-d with a gradient
    xg = torch.tensor(2.0, dtype=torch.float64, requires_grad=True)
    act(xg).backward()
    assert xg.grad.item() == pytest.approx(float(np.sum(s.weights[s.knots <= 2.0])))


def test_a_trainable_activation_uses_the_kernel_only_without_gradients():
    s = SUMS["64 units"]
    tr = ReluSumActivation(s, trainable=True)
    x = _inputs(s, torch.float64)
    with torch.no_grad():
        y = tr(x)
    np.testing.assert_allclose(y.numpy(), s(x.numpy()), rtol=1e-12, atol=1e-11)
    out = tr(x)  # parameters need gradients: the torch path, with gradients to the knots
    assert out.requires_grad
    out.sum().backward()
    assert tr.knots.grad is not None and torch.any(tr.knots.grad != 0)


def test_traced_and_loaded_modules_keep_the_torch_path_and_the_right_table():
    act = ReluSumActivation(SUMS["64 units"])
    x = torch.linspace(-10, 10, 101, dtype=torch.float64)
    traced = torch.jit.trace(act, x)
    ops = {n.kind() for n in traced.graph.nodes()}
    assert "aten::index_select" in ops  # the lookup was traced, not the kernel call
    x2 = torch.linspace(-20, 20, 333, dtype=torch.float64)
    np.testing.assert_allclose(traced(x2).numpy(), act(x2).numpy(), rtol=1e-12, atol=1e-12)
    # a frozen activation loading another sum's state computes that sum (kernel and torch)
    other = ReluSum(1.0, np.linspace(-2, 30, 64), np.full(64, 0.1))
    act.load_state_dict(ReluSumActivation(other).state_dict())
    np.testing.assert_allclose(act(x2).numpy(), other(x2.numpy()), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(
        _torch_forward(act, x2).numpy(), other(x2.numpy()), rtol=1e-12, atol=1e-12
    )
