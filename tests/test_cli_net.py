"""``relusum train`` and ``relusum decompose``."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from relusum import ReluSum  # noqa: E402
from relusum.cli import main  # noqa: E402
from relusum.depth import sawtooth  # noqa: E402
from relusum.torch_bridge import from_torch, load_pt, save_pt  # noqa: E402

pytestmark = pytest.mark.torch


def test_fit_export_pt_then_decompose_recovers_the_fit(tmp_path, capsys):
    pt, js = tmp_path / "net.pt", tmp_path / "fit.json"
    assert (
        main(
            [
                "fit",
                "x**2",
                "--domain",
                "-1",
                "1",
                "--units",
                "6",
                "--export",
                str(pt),
                "--save",
                str(js),
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert main(["decompose", str(pt), "--json"]) == 0  # the domain stored in the file
    out = json.loads(capsys.readouterr().out)
    fitted = ReluSum.load(js)
    got = ReluSum.from_dict(out["relusum"])
    assert got.allclose(fitted.simplify(), rtol=1e-9, atol=1e-12)
    assert out["domain"] == [-1.0, 1.0]
    assert len(out["neurons"]) == 6
    assert {n["state"] for n in out["neurons"]} <= {"live", "linear", "dead"}
    assert main(["decompose", str(pt), "--domain", "-1", "1"]) == 0
    text = capsys.readouterr().out
    assert "hidden units v * max(0, a x + b)" in text and "linear pieces" in text


def test_decompose_a_deep_net_with_plot_and_save(tmp_path, capsys):
    pt = save_pt(sawtooth(4), tmp_path / "saw.pt")
    png, js = tmp_path / "saw.png", tmp_path / "saw.json"
    assert (
        main(["decompose", str(pt), "--domain", "0", "1", "--plot", str(png), "--save", str(js)])
        == 0
    )
    text = capsys.readouterr().out
    assert "16 linear pieces" in text
    assert "hidden units" not in text  # not a one-hidden-layer network
    assert png.stat().st_size > 1000
    assert ReluSum.load(js).n_pieces == 16


def test_train_reports_the_trained_and_the_fit_error(tmp_path, capsys):
    pt, png = tmp_path / "t.pt", tmp_path / "u.png"
    args = [
        "train",
        "sin(x)",
        "--domain",
        "0",
        "3",
        "--units",
        "4",
        "--steps",
        "60",
        "--samples",
        "200",
        "--seed",
        "3",
    ]
    assert main(args + ["--json", "--export", str(pt), "--plot", str(png)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["units"] == 4 and out["steps"] == 60 and out["seed"] == 3
    assert out["error_on"] == "grid" and out["n_verify"] >= 100_000
    tr, opt = out["trained"], out["optimal"]
    assert tr["max_abs_error"] >= tr["rmse"] > 0
    assert opt["max_abs_error"] >= opt["rmse"] > 0
    assert tr["live"] + tr["linear"] + tr["dead"] == 4
    # The exported network is the one reported.
    s = from_torch(load_pt(pt), (0, 3))
    assert s.allclose(ReluSum.from_dict(out["relusum"]), rtol=1e-9, atol=1e-12)
    x = np.linspace(0, 3, 100_001)
    assert np.max(np.abs(s(x) - np.sin(x))) == pytest.approx(tr["max_abs_error"], rel=1e-3)
    assert png.exists()
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "trained network" in text and "x the fit's" in text


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "sin(x", "--domain", "0", "1"], "never closed"),
        (["train", "sin(x)", "--domain", "1", "0"], "reversed"),
        (["train", "sin(x)"], "--domain"),
        (["train", "sin(x)", "--domain", "0", "1", "--units", "0"], "positive integer"),
        (["train", "sin(x)", "--domain", "0", "1", "--init", "xavier"], "invalid choice"),
        (["train", "sin(x)", "--domain", "0", "1", "--seed", "-2"], "seed"),
        (["train", "sin(x)", "--domain", "0", "1", "--plot", "u.gif"], "--plot"),
        (["train", "sin(x)", "--domain", "0", "1", "--export", "n.h5"], "--export"),
        (["decompose", "missing.pt", "--domain", "0", "1"], "no such file"),
        (["decompose", "bare.pt"], "no domain"),
        (["decompose", "junk.pt", "--domain", "0", "1"], "weights_only"),
        (["decompose", "wide.pt", "--domain", "0", "1"], "one input"),
    ],
)
def test_bad_input_exits_2_with_one_line(argv, message, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    torch.save(sawtooth(2).state_dict(), "bare.pt")
    (tmp_path / "junk.pt").write_text("not a checkpoint")
    torch.save(
        {"0.weight": torch.ones(3, 2), "0.bias": torch.zeros(3), "2.weight": torch.ones(1, 3)},
        "wide.pt",
    )
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert message in err
    assert not (tmp_path / "u.gif").exists()
