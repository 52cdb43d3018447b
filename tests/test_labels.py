"""Plurals and labels: "1 unit, 1 linear piece"; data axes named by CSV columns; --plot suffixes."""

from __future__ import annotations

import re

import matplotlib.pyplot as plt
import pytest

import relusum
from relusum import ReluSum
from relusum.cli import build_parser, main
from relusum.plot import plot_fit, plot_relusum


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_fit_report_says_1_unit_1_linear_piece(capsys):
    code, out, _ = run(capsys, "fit", "x", "--domain", "0", "1", "--units", "1")
    assert code == 0
    assert "  1 unit, 1 linear piece;" in out
    code, out, _ = run(capsys, "fit", "x**2", "--domain", "0", "1", "--units", "2")
    assert "  2 units, 2 linear pieces;" in out


def test_show_says_1_unit_1_linear_piece(capsys, tmp_path):
    path = tmp_path / "m.json"
    ReluSum(0.0, [0.0], [1.0], (0.0, 1.0)).save(path)
    code, out, _ = run(capsys, "show", str(path))
    assert code == 0 and "; 1 unit; 1 linear piece" in out.splitlines()[1]
    ReluSum(0.0, [0.5], [1.0], (0.0, 1.0)).save(path)
    code, out, _ = run(capsys, "show", str(path))
    assert "; 1 unit; 2 linear pieces" in out.splitlines()[1]


def test_plots_and_notebook_sketch_use_singulars():
    r = relusum.fit("x", domain=(0, 1), n_units=1)
    ax = plot_fit(r)
    try:
        assert ax.get_title().startswith("1 unit, 1 linear piece: max error")
        assert "sum of 1 ReLU" in ax.get_legend_handles_labels()[1]
    finally:
        plt.close(ax.figure)
    s = ReluSum(0.0, [0.5], [1.0], (0.0, 1.0))
    ax = plot_relusum(s)
    try:
        assert "sum of 1 ReLU" in ax.get_legend_handles_labels()[1]
    finally:
        plt.close(ax.figure)
    assert "ReluSum: 1 unit, 2 linear pieces on [0, 1]" in s._repr_svg_()
    two = ReluSum(0.0, [0.25, 0.5], [1.0, -1.0], (0.0, 1.0))
    assert "ReluSum: 2 units, 3 linear pieces on [0, 1]" in two._repr_svg_()


def test_data_plot_axes_are_named_by_csv_columns(tmp_path):
    f = tmp_path / "points.csv"
    f.write_text("time,value\n" + "".join(f"{i / 10},{(i / 10) ** 2}\n" for i in range(20)))
    r = relusum.fit(relusum.read_csv(f, x="time", y="value"), n_units=4)
    ax = plot_fit(r)
    try:
        assert (ax.get_xlabel(), ax.get_ylabel()) == ("time", "value")
    finally:
        plt.close(ax.figure)
    # Without a header the axes are plain x and y; a formula keeps x and f(x).
    g = tmp_path / "bare.csv"
    g.write_text("".join(f"{i},{i * i}\n" for i in range(10)))
    ax = plot_fit(relusum.fit(relusum.read_csv(g), n_units=3))
    try:
        assert (ax.get_xlabel(), ax.get_ylabel()) == ("x", "y")
    finally:
        plt.close(ax.figure)
    ax = plot_fit(relusum.fit("x**2", domain=(0, 1), n_units=3))
    try:
        assert (ax.get_xlabel(), ax.get_ylabel()) == ("x", "f(x)")
    finally:
        plt.close(ax.figure)


def _plot_help(command: str) -> str:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    action = next(a for a in sub.choices[command]._actions if "--plot" in a.option_strings)
    return action.help


MAGIC = {".png": b"\x89PNG", ".svg": b"<?xml", ".pdf": b"%PDF"}


def _commands_with_plot() -> list[str]:
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    return [
        name
        for name, p in sub.choices.items()
        if any("--plot" in a.option_strings for a in p._actions)
    ]


def test_plot_help_lists_exactly_the_accepted_suffixes():
    commands = _commands_with_plot()
    assert {"fit", "train", "decompose"} <= set(commands)
    for command in commands:  # every command with --plot, present and future
        listed = re.findall(r"\.[a-z]+\b", _plot_help(command))
        assert sorted(listed) == sorted(MAGIC), command


def test_fit_plot_accepts_every_listed_suffix_and_no_other(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    listed = re.findall(r"\.[a-z]+\b", _plot_help("fit"))
    for suffix in listed:
        code, _, err = run(
            capsys, "fit", "x**2", "--domain", "0", "1", "--units", "3", "--plot", f"f{suffix}"
        )
        assert code == 0, err
        assert (tmp_path / f"f{suffix}").read_bytes().startswith(MAGIC[suffix])
    for suffix in (".jpg", ".jpeg", ".eps", ".ps", ".tif", ".webp", ".gif", ""):
        code, _, err = run(capsys, "fit", "x**2", "--domain", "0", "1", "--plot", f"f{suffix}")
        assert code == 2 and err.count("\n") == 1
        assert all(s in err for s in listed)
        assert not (tmp_path / f"f{suffix}").exists()


def test_decompose_says_1_term(capsys, tmp_path):
    net = tmp_path / "net.pt"
    code, _, err = run(
        capsys, "fit", "x", "--domain", "0", "1", "--units", "1", "--export", str(net)
    )
    assert code == 0, err
    code, out, err = run(capsys, "decompose", str(net))
    assert code == 0, err
    assert "; 1 term; 1 linear piece" in out
    assert "0 live (0 facing left), 1 linear, 0 dead" in out  # its knot is the domain's end


def test_capacity_and_tolerance_messages_use_singulars():
    with pytest.raises(ValueError, match=r"^1 unit needs at least 2 distinct x values, .* 0 units"):
        relusum.fit(([1.0, 1.0], [0.0, 2.0]), domain=(0, 2), n_units=1)
    with pytest.raises(ValueError, match=r"2 units need at least 3 .* use at most 1 unit$"):
        relusum.fit(([0.0, 1.0], [0.0, 2.0]), n_units=2)
    with pytest.raises(ValueError, match=r"was not reached with at most 1 unit \(--max-units\)"):
        relusum.fit("sin(3*x)", domain=(0, 3), loss="linf", tol=1e-3, max_units=1)
