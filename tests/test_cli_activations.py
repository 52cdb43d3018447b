"""``relusum activations``: a torch.export model in, certified ReLU-sum activations out."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from relusum.cli import main  # noqa: E402


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    d = tmp_path_factory.mktemp("act")
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 16), nn.GELU(), nn.Linear(16, 8), nn.Tanh(), nn.Linear(8, 2))
    model.eval()
    x = torch.randn(64, 4)
    ep = torch.export.export(model, (x[:8],), dynamic_shapes=({0: torch.export.Dim("batch")},))
    torch.export.save(ep, d / "model.pt2")
    np.save(d / "data.npy", x.numpy())
    return d, model, x


def test_activations_end_to_end(exported, capsys):
    d, model, x = exported
    args = ["activations", str(d / "model.pt2"), "--calibration", str(d / "data.npy")]
    out = ["--tol", "1e-2", "--out", str(d / "m.pt2"), "--onnx", str(d / "m.onnx")]
    assert main([*args, *out, "--report", str(d / "r.json")]) == 0
    text = capsys.readouterr().out
    assert "GELU" in text and "Tanh" in text and "wrote" in text
    report = json.loads((d / "r.json").read_text())
    assert len(report["activations"]) == 2
    for r in report["activations"]:
        assert r["max_error_everywhere"] <= 1e-2 and r["n_outside"] == 0
    ep = torch.export.load(str(d / "m.pt2"))
    targets = {str(n.target) for n in ep.graph.nodes if n.op == "call_function"}
    assert not any("gelu" in t or "tanh" in t for t in targets), targets
    xt = torch.randn(100, 4)  # another batch size: the batch dimension stays dynamic
    with torch.no_grad():
        got, ref = ep.module()(xt), model(xt)
    # each activation is within 1e-2; through the small linear layers the change stays small
    assert float(torch.max(torch.abs(got - ref))) < 0.1
    assert not torch.equal(got, ref)
    ort = pytest.importorskip("onnxruntime")
    sess = ort.InferenceSession(str(d / "m.onnx"))
    np.testing.assert_allclose(
        sess.run(None, {"x": xt.numpy()})[0], got.numpy(), rtol=1e-5, atol=1e-5
    )


def test_activations_errors_are_one_line(exported, tmp_path, capsys):
    d, model, x = exported
    pt2, npy = str(d / "model.pt2"), str(d / "data.npy")
    out = ["--out", str(tmp_path / "o.pt2")]
    np.save(tmp_path / "bad.npy", np.zeros((5, 3), dtype=np.float32))
    relu = nn.Sequential(nn.Linear(4, 3), nn.ReLU()).eval()
    torch.export.save(torch.export.export(relu, (x[:2],)), tmp_path / "relu.pt2")
    (tmp_path / "junk.pt2").write_bytes(b"not a zip")
    cases = {
        "no such file": [str(tmp_path / "missing.pt2"), "--calibration", npy],
        "not a .pt2": [npy, "--calibration", npy],
        "calibration array has shape": [pt2, "--calibration", str(tmp_path / "bad.npy")],
        "no supported activation": [str(tmp_path / "relu.pt2"), "--calibration", npy],
        "torch.export archive": [str(tmp_path / "junk.pt2"), "--calibration", npy],
        "must be an existing .npy": [pt2, "--calibration", str(tmp_path / "none.npy")],
    }
    for message, argv in cases.items():
        assert main(["activations", *argv, *out]) == 2, message
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "o.pt2").exists()
