"""``decompose`` on hostile or huge networks: one line, bounded work (issues 9.10, 9.11, 16.4)."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from relusum import ReluSum, _pieces  # noqa: E402
from relusum.cli import main  # noqa: E402
from relusum.torch_bridge import PT_FORMAT, _ops, from_torch  # noqa: E402


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def sawtooth(depth: int) -> nn.Sequential:
    """The tent map composed ``depth`` times: 2**depth linear pieces on [0, 1]."""
    layers: list[nn.Module] = []
    for _ in range(depth):
        first, second = nn.Linear(1, 2), nn.Linear(2, 1)
        with torch.no_grad():
            first.weight.copy_(torch.tensor([[1.0], [1.0]]))
            first.bias.copy_(torch.tensor([0.0, -0.5]))
            second.weight.copy_(torch.tensor([[2.0, -4.0]]))
            second.bias.zero_()
        layers += [first, nn.ReLU(), second, nn.ReLU()]
    return nn.Sequential(*layers[:-1]).double()


def test_sawtooth_pieces_are_exact_below_the_limit():
    s = from_torch(sawtooth(10), (0, 1), max_pieces=2000)
    assert s.n_pieces == 2**10
    x = np.linspace(0, 1, 4097)
    with torch.no_grad():
        y = sawtooth(10)(torch.tensor(x[:, None])).numpy()[:, 0]
    assert np.max(np.abs(s(x) - y)) < 1e-9


def test_piece_explosion_is_refused_with_its_count():
    with pytest.raises(_pieces.PieceLimitError) as info:
        from_torch(sawtooth(12), (0, 1), max_pieces=1000)
    assert info.value.found == 1024
    assert "more than 1,000 linear pieces on [0, 1]: 1,024 after activation layer" in str(
        info.value
    )


def test_thirty_layer_sawtooth_stops_at_the_default_limit_quickly():
    start = time.perf_counter()
    with pytest.raises(_pieces.PieceLimitError, match="more than 1,000,000 linear pieces") as e:
        from_torch(sawtooth(30), (0, 1))
    assert e.value.found == 2**20  # stopped at the first layer beyond the limit
    assert time.perf_counter() - start < 30  # it ran 52 s into a MemoryError before


def test_decompose_cli_names_the_piece_count(capsys, tmp_path):
    p = tmp_path / "saw.pt"
    torch.save(sawtooth(30).state_dict(), p)
    code, out, err = run(capsys, "decompose", p, "--domain", 0, 1, "--max-pieces", 500)
    assert code == 2 and out == "" and err.count("\n") == 1
    assert "more than 500 linear pieces on [0, 1]: 512 after" in err and "--max-pieces" in err
    code, out, err = run(capsys, "decompose", p, "--domain", 0, 1e-5, "--json")
    assert code == 0
    doc = json.loads(out, parse_constant=lambda c: pytest.fail(f"not strict JSON: {c}"))
    assert abs(doc["n_pieces"] - 2**30 * 1e-5) <= 2


def test_a_very_wide_layer_is_bounded_before_allocating():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(1, 2_000_000), nn.ReLU(), nn.Linear(2_000_000, 1))
    w1 = net[0].weight.detach().double().numpy()[:, 0]
    b1 = net[0].bias.detach().double().numpy()
    with np.errstate(divide="ignore"):
        knots = -b1 / w1
    expected = int(np.unique(knots[(knots > -5) & (knots < 5)]).size) + 1
    assert expected > 1_000_000
    with pytest.raises(_pieces.PieceLimitError, match=f"has {expected:,} linear pieces"):
        from_torch(net, (-5, 5))  # tried to allocate 14.5 TiB before
    s = from_torch(net, (-5, 5), max_pieces=3_000_000)
    assert s.n_pieces == expected


def test_work_beyond_the_budget_is_refused(monkeypatch):
    monkeypatch.setattr(_pieces, "MAX_WORK", 200)
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(1, 50), nn.ReLU(), nn.Linear(50, 50), nn.ReLU(), nn.Linear(50, 1))
    with pytest.raises(ValueError, match="too wide for an exact decomposition"):
        from_torch(net, (-1, 1))


@pytest.mark.parametrize("seed", range(6))
def test_one_hidden_layer_shortcut_equals_the_general_pass(seed):
    rng = np.random.default_rng(seed)
    n = 40
    a = rng.normal(size=n)
    a[:5] = 0.0  # constant units
    b = rng.normal(size=n)
    b[5:8] = 0.5 * a[5:8]  # knots exactly at A = -0.5 ... and inside
    v = rng.normal(size=n)
    v[8:10] = 0.0  # units with no effect
    ops = [("linear", a[:, None], b), ("relu",), ("linear", v[None, :], np.array([0.3]))]
    dom = (-0.5, 1.5)
    bias, h, w = _pieces.one_hidden_layer(ops, *dom)
    fast = ReluSum(bias, h, w, dom)
    t = _pieces.breakpoints(ops, *dom)
    y = np.maximum(t[:, None] * a + b, 0.0) @ v + 0.3
    slow = ReluSum.from_points(t, y, dom)
    x = np.linspace(*dom, 2001)
    ref = np.maximum(x[:, None] * a + b, 0.0) @ v + 0.3
    assert np.max(np.abs(fast(x) - ref)) < 1e-12
    assert np.max(np.abs(slow(x) - ref)) < 1e-12
    with np.errstate(divide="ignore", invalid="ignore"):
        k = -b / a
    bends = (a != 0) & (v != 0) & (k > dom[0]) & (k < dom[1])
    assert fast.simplify().n_pieces == np.unique(k[bends]).size + 1


def _pt(tmp_path, name, obj):
    p = tmp_path / name
    torch.save(obj, p)
    return p


def _spec(layers, domain=(0, 1), **state):
    sd = {
        "0.weight": torch.ones(2, 1),
        "0.bias": torch.ones(2),
        "2.weight": torch.ones(1, 2),
        "2.bias": torch.ones(1),
    }
    sd.update(state)
    return {"format": PT_FORMAT, "layers": layers, "state_dict": sd, "domain": domain}


RELU = [["linear", 1, 2], ["relu"], ["linear", 2, 1]]


@pytest.mark.parametrize(
    ("obj", "words"),
    [
        ({0: torch.ones(2, 1), 1: torch.ones(2)}, "key 0 of type int"),
        (
            {"0.weight": torch.ones(2, 1, dtype=torch.bool), "2.weight": torch.ones(1, 2)},
            "dtype bool",
        ),
        (
            {"0.weight": torch.ones(2, 1, dtype=torch.int64), "2.weight": torch.ones(1, 2)},
            "dtype int64",
        ),
        (
            {
                "0.weight": torch.ones(2, 1),
                "0.bias": torch.ones(2, dtype=torch.int32),
                "2.weight": torch.ones(1, 2),
            },
            "dtype int32",
        ),
        (
            {"0.weight": torch.ones(2, 1, dtype=torch.complex64), "2.weight": torch.ones(1, 2)},
            "dtype complex64",
        ),
        (_spec([["linear", 1, 2], ["leaky_relu"], ["linear", 2, 1]]), "needs its negative slope"),
        (_spec([["linear", 1, 2], ["leaky_relu", "x"], ["linear", 2, 1]]), "negative slope"),
        (_spec(RELU, domain=5), "stored domain 5 is not two numbers"),
        (_spec(RELU, domain=["a", "b"]), "is not two numbers"),
        (_spec(RELU, domain=[True, 2]), "is not two numbers"),
        (_spec(RELU, domain=[0, 10**400]), "not representable as a float"),
        (_spec([["linear", 1.5, "2"], ["relu"], ["linear", 2, 1]]), "two non-negative integers"),
        (_spec(RELU, **{"0.weight": "w"}), "not a tensor"),
    ],
)
def test_malformed_pt_files_are_one_line_exit_2(capsys, tmp_path, obj, words):
    p = _pt(tmp_path, "bad.pt", obj)
    args = (
        ["decompose", p]
        if isinstance(obj, dict) and "format" in obj
        else ["decompose", p, "--domain", 0, 1]
    )
    code, out, err = run(capsys, *args)
    assert code == 2 and out == "", err
    assert err.count("\n") == 1 and words in err and "internal error" not in err


def test_ops_of_a_valid_file_still_load(capsys, tmp_path):
    p = _pt(tmp_path, "ok.pt", _spec(RELU, domain=[0, 1]))
    code, out, _ = run(capsys, "decompose", p, "--json")
    assert code == 0 and json.loads(out)["n_pieces"] == 1
    assert len(_ops(nn.Sequential(nn.Linear(1, 2), nn.ReLU(), nn.Linear(2, 1)))) == 3


def test_train_refuses_huge_networks_before_allocating():
    from relusum.torch_bridge import train

    with pytest.raises(ValueError, match="training 1,000,000,000 units on 2,000 samples"):
        train("sin(x)", (0, 1), n_units=10**9, steps=1)


def test_train_json_is_strict_and_outputs_are_all_or_nothing(capsys, tmp_path):
    keep = tmp_path / "keep.json"
    keep.write_text("PRECIOUS\n")
    train = ("train", "sin(x)", "--domain", 0, 1, "--units", 3, "--steps", 5, "--samples", 50)
    code, out, err = run(capsys, *train, "--json", "--export", keep, "--plot", "/proc/units.png")
    assert code == 2 and out == "" and "'/proc/units.png'" in err
    assert keep.read_text() == "PRECIOUS\n" and [p.name for p in tmp_path.iterdir()] == [
        "keep.json"
    ]
    code, out, err = run(capsys, *train, "--json", "--export", keep)
    assert code == 0 and err == f"relusum: overwrote {keep}\n"
    doc = json.loads(out, parse_constant=lambda c: pytest.fail(f"not strict JSON: {c}"))
    assert doc["units"] == 3
    assert json.loads(keep.read_text())["trained"] is True


def test_decompose_outputs_are_all_or_nothing(capsys, tmp_path):
    net = tmp_path / "net.pt"
    torch.save(sawtooth(2).state_dict(), net)
    keep = tmp_path / "keep.json"
    keep.write_text("PRECIOUS\n")
    code, _, err = run(
        capsys,
        "decompose",
        net,
        "--domain",
        0,
        1,
        "--save",
        keep,
        "--plot",
        tmp_path / "missing" / "p.png",
    )
    assert code == 2 and "'missing'" in err.replace(str(tmp_path) + "/", "")
    assert keep.read_text() == "PRECIOUS\n"
    code, _, err = run(capsys, "decompose", net, "--domain", 0, 1, "--save", keep, "--no-clobber")
    assert code == 2 and "--no-clobber" in err and keep.read_text() == "PRECIOUS\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.json", "net.pt"]


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_a_device_as_network_is_refused(capsys, device):
    code, out, err = run(capsys, "decompose", device, "--domain", 0, 1)
    assert code == 2 and err == f"relusum: error: cannot read '{device}': not a regular file\n"
