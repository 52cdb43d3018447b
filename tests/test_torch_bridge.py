"""The PyTorch bridge: exact decomposition, round trips, units, training, export."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from torch import nn  # noqa: E402

from relusum import ReluSum  # noqa: E402
from relusum.torch_bridge import (  # noqa: E402
    compress,
    from_torch,
    load_pt,
    neuron_table,
    neurons,
    plot_units,
    read_pt,
    save_pt,
    to_onnx,
    to_torch,
    train,
    train_many,
)

pytestmark = pytest.mark.torch


def _net_eval(net: nn.Sequential, x: np.ndarray) -> np.ndarray:
    dtype = next(net.parameters()).dtype
    with torch.no_grad():
        y = net(torch.tensor(x, dtype=dtype).reshape(-1, 1))
    return y.to(torch.float64).numpy()[:, 0]


def _naive(s: ReluSum, x: np.ndarray) -> np.ndarray:
    return s.bias + np.sum(s.weights * np.maximum(0.0, x[:, None] - s.knots), axis=1)


def _random_net(
    rng: np.random.Generator,
    depth: int,
    width: int,
    dtype=torch.float64,
    act: str = "relu",
    extras: bool = False,
) -> nn.Sequential:
    """A random deep net with weights from ``rng`` (no global torch seeding)."""
    layers: list[nn.Module] = []
    n_in = 1
    for i in range(depth):
        lin = nn.Linear(n_in, width, dtype=dtype)
        with torch.no_grad():
            lin.weight.copy_(torch.tensor(rng.normal(0, 1 / np.sqrt(n_in), (width, n_in))))
            lin.bias.copy_(torch.tensor(rng.normal(0, 1, width)))
        layers.append(lin)
        if act == "leaky" or (act == "mixed" and i % 2):
            layers.append(nn.LeakyReLU(float(rng.uniform(0.01, 0.3))))
        else:
            layers.append(nn.ReLU())
        if extras:
            layers += [nn.Identity(), nn.Dropout(0.5), nn.Flatten()]
        n_in = width
    out = nn.Linear(n_in, 1, dtype=dtype)
    with torch.no_grad():
        out.weight.copy_(torch.tensor(rng.normal(0, 1 / np.sqrt(n_in), (1, n_in))))
        out.bias.copy_(torch.tensor(rng.normal(0, 1, 1)))
    net = nn.Sequential(*layers, out)
    return net.eval()


# --------------------------------------------------------------- import guard
def test_import_relusum_does_not_import_torch():
    code = (
        "import sys, relusum, relusum.cli; relusum.fit('x', (0, 1), 2); "
        "relusum.cli.build_parser(); print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_missing_torch_names_the_extra():
    code = textwrap.dedent(
        """
        import sys
        sys.modules["torch"] = None  # make `import torch` fail
        try:
            import relusum.torch_bridge
        except ImportError as exc:
            assert isinstance(exc, ValueError)
            print(exc)
        from relusum import ReluSum
        from relusum.export import export
        try:
            export(ReluSum(0.0, [0.0], [1.0]), "never-written.onnx")
        except ValueError as exc:
            print("EXPORT", exc)
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "pip install 'relusum[torch]'" in out.stdout.splitlines()[0]
    assert out.stdout.splitlines()[1].startswith("EXPORT")
    assert "relusum[torch]" in out.stdout.splitlines()[1]
    assert not os.path.exists("never-written.onnx")


# --------------------------------------------------------------- to_torch
sums = st.builds(
    lambda b, pairs: ReluSum(b, [p[0] for p in pairs], [p[1] for p in pairs], (-5.0, 5.0)),
    st.floats(-10, 10),
    st.lists(st.tuples(st.floats(-5, 5), st.floats(-10, 10)), min_size=0, max_size=12),
)


@settings(max_examples=60, deadline=None)
@given(sums)
def test_to_torch_equals_the_sum_everywhere_and_round_trips(s):
    net = to_torch(s)
    assert [type(m) for m in net] == [nn.Linear, nn.ReLU, nn.Linear]
    assert net[0].out_features == max(s.n_units, 1)
    x = np.concatenate((np.linspace(-50, 50, 301), s.knots))  # far outside the domain too
    scale = 1 + abs(s.bias) + np.sum(np.abs(s.weights)) * 55
    np.testing.assert_allclose(_net_eval(net, x), _naive(s, x), rtol=0, atol=1e-13 * scale)
    back = from_torch(net, s.domain)
    xd = np.linspace(-5, 5, 2001)
    np.testing.assert_allclose(back(xd), _naive(s, xd), rtol=0, atol=1e-12 * scale)
    assert back.n_pieces <= s.simplify().n_pieces


def test_to_torch_float32_and_errors():
    s = ReluSum(0.5, [0.1, 0.7], [2.0, -3.0])
    net = to_torch(s, dtype=torch.float32)
    assert net[0].weight.dtype == torch.float32
    x = np.linspace(-1, 2, 50)
    np.testing.assert_allclose(_net_eval(net, x), s(x), atol=1e-6)
    with pytest.raises(ValueError, match="ReluSum"):
        to_torch([1.0, 2.0])
    with pytest.raises(ValueError, match="dtype"):
        to_torch(s, dtype=torch.int32)
    empty = to_torch(ReluSum(3.0, [], []))
    assert _net_eval(empty, np.array([-1.0, 4.0])).tolist() == [3.0, 3.0]


def test_to_torch_does_not_touch_the_global_random_state():
    state = torch.random.get_rng_state()
    to_torch(ReluSum(0.0, np.linspace(0, 1, 50), np.ones(50)))
    assert torch.equal(state, torch.random.get_rng_state())


# --------------------------------------------------------------- from_torch
@pytest.mark.parametrize(
    "dtype, rtol", [(torch.float64, 1e-12), (torch.float32, 1e-5)], ids=["float64", "float32"]
)
@pytest.mark.parametrize(
    "depth, width, act", [(1, 32, "relu"), (3, 16, "mixed"), (5, 24, "relu"), (4, 8, "leaky")]
)
def test_from_torch_matches_random_deep_nets(dtype, rtol, depth, width, act):
    rng = np.random.default_rng(depth * 100 + width)
    net = _random_net(rng, depth, width, dtype, act, extras=depth == 3)
    a, b = -3.0, 2.5
    s = from_torch(net, (a, b))
    x = rng.uniform(a, b, 100_000)
    y = _net_eval(net, x)
    scale = np.max(np.abs(y))
    assert np.max(np.abs(s(x) - y)) <= rtol * scale
    # Exactness of the knots: on every piece the network is a straight line.
    t = s.breakpoints()
    lam = rng.uniform(0.05, 0.95, t.size - 1)
    mid = t[:-1] + lam * np.diff(t)
    if dtype == torch.float64:
        y_t = _net_eval(net, t)
        chord = y_t[:-1] + lam * np.diff(y_t)
        assert np.max(np.abs(_net_eval(net, mid) - chord)) <= 1e-12 * scale
        # ...and at every interior knot it really bends.
        h = t[1:-1]
        d = 1e-7 * (b - a)
        left = (_net_eval(net, h) - _net_eval(net, h - d)) / d
        right = (_net_eval(net, h + d) - _net_eval(net, h)) / d
        assert np.all(np.abs(right - left) > 1e-9 * scale)


def test_from_torch_one_hidden_layer_knots_are_minus_b_over_a():
    rng = np.random.default_rng(7)
    net = _random_net(rng, 1, 40)
    a = net[0].weight.detach().numpy()[:, 0]
    b = net[0].bias.detach().numpy()
    h = -b / a
    lo, hi = -1.5, 2.0
    s = from_torch(net, (lo, hi))
    expected = np.sort(h[(h > lo) & (h < hi)])
    np.testing.assert_allclose(s.breakpoints()[1:-1], expected, rtol=0, atol=1e-12)


def test_from_torch_counts_activation_pattern_changes_like_brute_force():
    rng = np.random.default_rng(11)
    net = _random_net(rng, 3, 6)
    s = from_torch(net, (-2, 2))
    # Brute force: the activation pattern of every ReLU on a fine grid.
    x = torch.linspace(-2, 2, 400_001, dtype=torch.float64).reshape(-1, 1)
    pats = []
    v = x
    with torch.no_grad():
        for layer in net:
            v = layer(v)
            if isinstance(layer, nn.ReLU):
                pats.append(v > 0)
    pattern = torch.cat(pats, dim=1).numpy()
    changes = int(np.count_nonzero(np.any(pattern[1:] != pattern[:-1], axis=1)))
    # Every bend of the output is a pattern change; the grid can only merge close ones.
    assert s.n_pieces - 1 <= changes
    assert s.n_pieces - 1 >= changes - 2


def test_left_facing_units_need_a_linear_term():
    # Two left-facing units: f(x) = 2 max(0, 1 - x) - max(0, -2x) / 2, sloped on the left.
    first = nn.Linear(1, 2, dtype=torch.float64)
    second = nn.Linear(2, 1, dtype=torch.float64)
    with torch.no_grad():
        first.weight.copy_(torch.tensor([[-1.0], [-2.0]]))
        first.bias.copy_(torch.tensor([1.0, 0.0]))
        second.weight.copy_(torch.tensor([[2.0, -0.5]]))
        second.bias.fill_(0.5)
    net = nn.Sequential(first, nn.ReLU(), second)
    s = from_torch(net, (-3, 3))
    x = np.linspace(-3, 3, 1001)
    np.testing.assert_allclose(
        s(x), 0.5 + 2 * np.maximum(0, 1 - x) - 0.5 * np.maximum(0, -2 * x), atol=1e-13
    )
    # width 2, but three terms: a knot at A carries the slope of the left piece.
    assert s.n_units == 3 and s.knots[0] == -3
    units = neurons(net, (-3, 3))
    assert [u.facing for u in units] == ["left", "left"]
    assert [u.state for u in units] == ["live", "live"]
    assert [u.knot for u in units] == [1.0, 0.0]
    # A left-facing unit equals |a| ((x - h)+ - (x - h)) times v.
    u = units[1]
    np.testing.assert_allclose(
        u(x), u.v * abs(u.a) * (np.maximum(0, x - u.knot) - (x - u.knot)), atol=1e-14
    )


def test_neuron_states_match_brute_force():
    rng = np.random.default_rng(5)
    n = 60
    a = rng.normal(size=n)
    a[:5] = 0.0
    b = rng.normal(size=n) * 3
    b[0], b[1] = 1.0, -1.0
    v = rng.normal(size=n)
    first = nn.Linear(1, n, dtype=torch.float64)
    second = nn.Linear(n, 1, dtype=torch.float64)
    with torch.no_grad():
        first.weight.copy_(torch.tensor(a).reshape(n, 1))
        first.bias.copy_(torch.tensor(b))
        second.weight.copy_(torch.tensor(v).reshape(1, n))
    net = nn.Sequential(first, nn.ReLU(), second)
    lo, hi = -1.0, 2.0
    units = neurons(net, (lo, hi))
    x = np.linspace(lo, hi, 20001)
    pre = np.outer(x, a) + b
    for u in units:
        p = pre[:, u.index]
        if np.all(p <= 0):
            want = "dead"
        elif np.all(p >= 0):
            want = "linear"
        else:
            want = "live"
        assert u.state == want, u
        assert u.facing == ("right" if a[u.index] > 0 else "left" if a[u.index] < 0 else "flat")
        assert (u.knot is None) == (a[u.index] == 0)
        assert u.weight == pytest.approx(v[u.index] * abs(a[u.index]))
    assert units[0].state == "linear" and units[1].state == "dead"  # a = 0, b = +-1
    table = neuron_table(units)
    assert len(table.splitlines()) == n + 1 and "state" in table.splitlines()[0]
    # The exact sum has one knot per live unit (plus one at A).
    s = from_torch(net, (lo, hi))
    assert s.n_pieces == 1 + len({u.knot for u in units if u.state == "live"})


def test_neurons_rejects_deep_nets():
    net = _random_net(np.random.default_rng(0), 2, 4)
    with pytest.raises(ValueError, match="one-hidden-layer"):
        neurons(net, (0, 1))


@pytest.mark.parametrize(
    "net, match",
    [
        (nn.Sequential(nn.Linear(1, 4), nn.Tanh(), nn.Linear(4, 1)), r"layer 1 \(Tanh\)"),
        (
            nn.Sequential(nn.Linear(1, 4), nn.ReLU(), nn.Sequential(nn.Sigmoid()), nn.Linear(4, 1)),
            r"layer 2\.0 \(Sigmoid\)",
        ),
        (nn.Sequential(nn.Linear(2, 4), nn.ReLU(), nn.Linear(4, 1)), "one input"),
        (nn.Sequential(nn.Linear(1, 4), nn.ReLU(), nn.Linear(4, 2)), "2 outputs"),
        (nn.Sequential(nn.Linear(1, 4), nn.ReLU(), nn.Linear(3, 1)), r"layer 2 \(Linear\(3, 1\)\)"),
        (nn.Linear(1, 1), "nn.Sequential"),
        (nn.Sequential(nn.Linear(1, 4), nn.Dropout(0.2), nn.Linear(4, 1)), "eval"),
    ],
)
def test_unsupported_networks_are_named(net, match):
    with pytest.raises(ValueError, match=match):
        from_torch(net, (0, 1))


def test_from_torch_domain_errors():
    net = to_torch(ReluSum(0.0, [0.5], [1.0]))
    with pytest.raises(ValueError, match="reversed"):
        from_torch(net, (1, 0))
    with pytest.raises(ValueError, match="domain"):
        from_torch(net, None)
    assert from_torch(net, ("-pi", "pi")).domain == (-np.pi, np.pi)


# --------------------------------------------------------------- export
@pytest.mark.parametrize("dtype, atol", [("float32", 1e-5), ("float64", 1e-12)])
def test_onnx_runs_in_onnxruntime_and_equals_the_model(tmp_path, dtype, atol):
    ort = pytest.importorskip("onnxruntime")
    s = ReluSum(0.3, [-1.0, 0.0, 0.4, 2.0], [1.5, -2.0, 0.7, -0.1], (-2.0, 3.0))
    path = to_onnx(s, tmp_path / "m.onnx", dtype=dtype)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = np.linspace(-4, 5, 1000).reshape(-1, 1).astype(dtype)
    (y,) = sess.run(None, {"x": x})
    assert y.shape == (1000, 1)
    np.testing.assert_allclose(y[:, 0], _naive(s, x[:, 0].astype(float)), rtol=0, atol=atol)
    assert [p.name for p in tmp_path.iterdir()] == ["m.onnx"]  # no temporary left


def test_onnx_of_a_deep_leaky_net(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    net = _random_net(np.random.default_rng(2), 3, 8, act="mixed")
    tail = nn.Linear(1, 3, dtype=torch.float64)
    with torch.no_grad():
        tail.weight.copy_(torch.tensor([[1.0], [-2.0], [0.5]]))
        tail.bias.copy_(torch.tensor([0.1, 0.2, -0.3]))
    net = nn.Sequential(
        net, nn.LeakyReLU(1.5), tail, nn.LeakyReLU(-0.3), nn.Linear(3, 1, dtype=torch.float64)
    )
    path = to_onnx(net, tmp_path / "deep.onnx", dtype="float64")
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = np.linspace(-3, 3, 500).reshape(-1, 1)
    (y,) = sess.run(None, {"x": x})
    np.testing.assert_allclose(y[:, 0], _net_eval(net, x[:, 0]), atol=1e-12)


def test_export_dispatcher_writes_onnx_and_pt(tmp_path):
    from relusum.export import export

    s = ReluSum(1.0, [0.0, 0.5], [1.0, -2.0], (0.0, 1.0))
    export(s, tmp_path / "a.onnx")
    export(s, tmp_path / "a.pt")
    assert from_torch(load_pt(tmp_path / "a.pt"), (0, 1)).allclose(s)


def test_pt_loads_with_weights_only_and_round_trips(tmp_path):
    s = ReluSum(-0.25, [0.0, 0.3, 0.9], [1.0, -4.0, 2.5], (0.0, 1.0))
    path = save_pt(s, tmp_path / "m.pt")
    raw = torch.load(path, weights_only=True)
    assert raw["format"] == "relusum-pt/1"
    assert raw["sizes"] == [1, 3, 1]
    assert raw["layers"] == [["linear", 1, 3], ["relu"], ["linear", 3, 1]]
    assert set(raw["state_dict"]) == {"0.weight", "0.bias", "2.weight", "2.bias"}
    # The state dict loads into a plain nn.Sequential of the stored sizes.
    plain = nn.Sequential(nn.Linear(1, 3), nn.ReLU(), nn.Linear(3, 1)).double()
    plain.load_state_dict(raw["state_dict"])
    x = np.linspace(-1, 2, 100)
    np.testing.assert_allclose(_net_eval(plain, x), s(x), atol=1e-14)
    net, dom = read_pt(path)
    assert dom == (0.0, 1.0)
    assert from_torch(net, dom).allclose(s)


def test_pt_of_a_deep_net_and_a_bare_state_dict(tmp_path):
    net = _random_net(np.random.default_rng(3), 3, 5, act="mixed")
    save_pt(net, tmp_path / "deep.pt")
    back = load_pt(tmp_path / "deep.pt")
    x = np.linspace(-2, 2, 300)
    np.testing.assert_allclose(_net_eval(back, x), _net_eval(net, x), atol=1e-14)
    relu_net = _random_net(np.random.default_rng(4), 2, 5)
    torch.save(relu_net.state_dict(), tmp_path / "bare.pt")
    back = load_pt(tmp_path / "bare.pt")
    np.testing.assert_allclose(_net_eval(back, x), _net_eval(relu_net, x), atol=1e-14)


class _Evil:
    def __reduce__(self):
        return (os.system, ("touch pwned-by-pickle",))


def test_pt_never_unpickles_objects(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with open("evil.pt", "wb") as fh:
        pickle.dump({"state_dict": _Evil()}, fh, protocol=2)
    with pytest.raises(ValueError, match="weights_only"):
        load_pt("evil.pt")
    assert not os.path.exists("pwned-by-pickle")
    torch.save({"format": "relusum-pt/1", "layers": [["conv"]], "state_dict": {}}, "odd.pt")
    with pytest.raises(ValueError, match="unknown kind 'conv'"):
        load_pt("odd.pt")
    torch.save([1, 2], "list.pt")
    with pytest.raises(ValueError, match="list"):
        load_pt("list.pt")
    with pytest.raises(ValueError, match="no such file"):
        load_pt("missing.pt")


# --------------------------------------------------------------- training
def test_train_reduces_the_loss_and_is_deterministic_per_seed():
    kw = dict(n_units=6, steps=150, samples=200)
    state = torch.random.get_rng_state()
    r1 = train("sin(x)", (0, 3), seed=1, **kw)
    r2 = train("sin(x)", (0, 3), seed=1, **kw)
    r3 = train("sin(x)", (0, 3), seed=2, **kw)
    assert torch.equal(state, torch.random.get_rng_state())  # no global seeding
    assert r1.history.shape == (151,)
    assert r1.history[-1] < 0.5 * r1.history[0]
    np.testing.assert_array_equal(r1.history, r2.history)
    assert not np.array_equal(r1.history, r3.history)
    # The returned network is the best one seen, and its ReluSum is exact.
    x = np.linspace(0, 3, 200)
    y = _net_eval(r1.model, x)
    mse = float(np.mean((y - np.sin(x)) ** 2))
    assert mse == pytest.approx(r1.history.min(), rel=1e-9)
    np.testing.assert_allclose(r1.relusum(x), y, atol=1e-12)
    rmse, mae, n = r1.errors()
    assert n >= 100_000 and 0 < rmse <= mae


def test_train_from_the_fit_starts_at_the_fit():
    import relusum

    f = relusum.fit("x**2", (-1, 1), 5, samples=300)
    r = train("x**2", (-1, 1), n_units=5, steps=30, init="fit", samples=300)
    assert r.start in ("optimal", "uniform")
    if r.start == "uniform":
        start_mse = np.mean((f.model(r.target.x) - r.target.y) ** 2)
        assert r.history[0] == pytest.approx(start_mse, rel=1e-9)
    assert r.history.min() <= r.history[0]


def _dense_losses(sizes, u, y, w, a, b, v, c):
    """The naive loss: every unit at every sample (an N x n matrix), per network."""
    out, lo = [], 0
    for k, n in enumerate(sizes):
        sl = slice(lo, lo + n)
        f = c[k] + (torch.relu(u[:, None] * a[sl] + b[sl]) * v[sl]).sum(1)
        res = (f - y) ** 2
        out.append(res.mean() if w is None else (w * res).sum())
        lo += n
    return torch.stack(out)


@pytest.mark.parametrize("weighted", [False, True])
def test_batched_loss_and_its_gradient_equal_the_dense_form(weighted):
    from relusum.torch_bridge.batched_loss import BatchedLoss

    rng = np.random.default_rng(3)
    sizes = [1, 4, 7, 30]
    total = sum(sizes)
    u = torch.tensor(np.sort(rng.uniform(-1, 1, 400)))
    y = torch.tensor(rng.normal(size=400))
    w = torch.tensor(rng.uniform(0.1, 1, 400)) if weighted else None
    w = None if w is None else w / w.sum()
    a_np = rng.normal(size=total)
    a_np[[2, 9]] = 0.0  # flat units: constant relu(b)
    a_np[5] = -a_np[5] if a_np[5] > 0 else a_np[5]  # at least one facing left
    params = [torch.tensor(x, requires_grad=True) for x in (a_np, *rng.normal(size=(2, total)))]
    params.append(torch.tensor(rng.normal(size=len(sizes)), requires_grad=True))
    fast = BatchedLoss(sizes, u, y, w)(*params)
    g_fast = torch.autograd.grad(fast.sum(), params)
    slow = _dense_losses(sizes, u, y, w, *params)
    g_slow = torch.autograd.grad(slow.sum(), params)
    np.testing.assert_allclose(fast.detach().numpy(), slow.detach().numpy(), rtol=1e-12)
    for gf, gs in zip(g_fast, g_slow, strict=True):
        np.testing.assert_allclose(gf.numpy(), gs.numpy(), rtol=1e-10, atol=1e-13)


def test_train_many_trains_each_network_as_train_does():
    kw = dict(steps=120, samples=300, seed=4)
    many = train_many("x*sin(x)", (0, 10), (3, 1, 12), **kw)
    assert [r.model[0].out_features for r in many] == [3, 1, 12]
    for r in many:
        alone = train("x*sin(x)", (0, 10), r.model[0].out_features, **kw)
        np.testing.assert_allclose(r.history, alone.history, rtol=1e-12)
        assert r.relusum.allclose(alone.relusum, rtol=1e-9, atol=1e-9)
    with pytest.raises(ValueError, match="units"):
        train_many("x", (0, 1), (), steps=2)
    with pytest.raises(ValueError, match="n_units"):
        train_many("x", (0, 1), (2, 0), steps=2)


def test_train_rejects_bad_arguments():
    with pytest.raises(ValueError, match="init"):
        train("x", (0, 1), 2, steps=2, init="xavier")
    with pytest.raises(ValueError, match="n_units"):
        train("x", (0, 1), 0, steps=2)
    with pytest.raises(ValueError, match="steps"):
        train("x", (0, 1), 2, steps=0)
    with pytest.raises(ValueError, match="lr"):
        train("x", (0, 1), 2, steps=2, lr=-1.0)
    with pytest.raises(ValueError, match="seed"):
        train("x", (0, 1), 2, steps=2, seed=-3)
    with pytest.raises(ValueError, match="domain"):
        train("x", None, 2, steps=2)


# --------------------------------------------------------------- compress
def test_compress_finds_a_smaller_net_within_tol():
    rng = np.random.default_rng(9)
    net = _random_net(rng, 4, 16)
    dom = (-2.0, 2.0)
    exact = from_torch(net, dom)
    tol = 1e-2 * float(np.ptp(exact(np.linspace(-2, 2, 1001))))
    res = compress(net, dom, tol)
    assert res.n_units < res.exact_units
    assert res.model[0].out_features == res.n_units
    x = np.linspace(-2, 2, 200_001)
    err = np.max(np.abs(_net_eval(res.model, x) - _net_eval(net, x)))
    assert err <= tol * (1 + 1e-9)
    dense = np.max(np.abs(res.relusum(x) - exact(x)))
    assert res.max_abs_error == pytest.approx(dense, abs=tol / 50)
    zero = compress(net, dom, 0.0)
    assert zero.n_units == exact.n_units and zero.method == "exact"
    with pytest.raises(ValueError, match="tol"):
        compress(net, dom, -1.0)


# --------------------------------------------------------------- figure
def test_plot_units_draws_every_unit_and_the_optimal_knots():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = ReluSum(0.0, [-5.0, 0.25, 0.5, 0.75], [1.0, 2.0, -3.0, 1.0])
    net = to_torch(s)
    with torch.no_grad():
        net[0].weight[3, 0] = -1.0  # left-facing
        net[0].bias[3] = 0.75
        net[0].bias[0] = -9.0  # dead on [0, 1]
    ax = plot_units(net, (0, 1), optimal=s)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any(lab.startswith("live, facing left (1)") for lab in labels)
    assert any(lab.startswith("dead on the domain (1)") for lab in labels)
    assert "optimal knots" in labels and "network output" in labels
    assert "4 units: 3 live (1 facing left), 0 linear, 1 dead" == ax.get_title()
    plt.close(ax.figure)
