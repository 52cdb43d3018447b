"""Strict inputs in the API (issue 16 item 3): precise errors instead of silent guesses."""

from __future__ import annotations

import json

import numpy as np
import pytest

import relusum
from relusum import Data, ReluSum
from relusum.formula import FormulaError, parse_formula
from relusum.model import READABLE_FORMATS

X = np.linspace(0.0, 1.0, 20)


def test_two_dimensional_x_is_refused_not_flattened():
    with pytest.raises(ValueError, match=r"x must be one-dimensional, got shape \(4, 5\)"):
        relusum.fit((X.reshape(4, 5), X.reshape(4, 5)), n_units=2)
    with pytest.raises(ValueError, match="one-dimensional"):
        Data(X.reshape(-1, 1), X)


@pytest.mark.parametrize(
    ("x", "y", "error", "words"),
    [
        (X + 0j, X, TypeError, "complex"),
        (X, X + 1j, TypeError, "complex"),
        (X > 0.5, X, TypeError, "booleans"),
        (X.astype(str), X, TypeError, "numbers"),
    ],
)
def test_data_of_the_wrong_kind_is_refused(x, y, error, words):
    with pytest.raises(error, match=words):
        relusum.fit((x, y), n_units=2)


@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        (dict(bias=True, knots=[], weights=[]), TypeError, "bias must be a real number, got bool"),
        (dict(bias="1", knots=[], weights=[]), TypeError, "bias must be a real number, got str"),
        (dict(bias=1j, knots=[], weights=[]), TypeError, "bias must be a real number"),
        (dict(bias=0, knots=[1j], weights=[1]), TypeError, "knots must be real numbers"),
        (dict(bias=0, knots=["1"], weights=[1]), TypeError, "knots must be numbers"),
        (dict(bias=0, knots=[0.0], weights=[True]), TypeError, "weights must be numbers"),
        (dict(bias=10**400, knots=[], weights=[]), ValueError, "not representable as a float"),
        (dict(bias=0, knots=[10**400], weights=[1]), ValueError, "not representable as a float"),
        (
            dict(bias=0, knots=[0], weights=[1], domain=(0, 10**400)),
            ValueError,
            "not representable as a float",
        ),
        (dict(bias=0, knots=[0], weights=[1], domain=(0, "1")), TypeError, "domain end"),
    ],
)
def test_relusum_refuses_non_numbers(kwargs, error, words):
    with pytest.raises(error, match=words):
        ReluSum(**kwargs)


def test_relusum_still_takes_numpy_and_python_numbers():
    s = ReluSum(np.float32(1.0), [np.int64(0), 1], np.array([2.0, -1.0]), (np.int32(0), 2))
    assert s(2.0) == 1.0 + 2.0 * 2 - 1.0


def test_fit_domain_beyond_float_is_a_value_error():
    with pytest.raises(ValueError, match="not representable as a float"):
        relusum.fit("sin(x)", domain=(0, 10**400))


@pytest.mark.parametrize("atol", [float("nan"), float("inf"), -1.0])
def test_simplify_refuses_a_meaningless_tolerance(atol):
    with pytest.raises(ValueError, match="atol must be a finite number >= 0"):
        ReluSum(0.0, [0.0, 0.5], [1.0, 1.0]).simplify(atol=atol)
    with pytest.raises(TypeError, match="atol must be a number"):
        ReluSum(0.0, [0.0], [1.0]).simplify(atol="0.1")  # type: ignore[arg-type]


def _write(tmp_path, doc) -> str:
    p = tmp_path / "m.json"
    p.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return str(p)


GOOD = {"format": "relusum/1", "bias": 0.0, "knots": [0.0], "weights": [1.0], "domain": [0, 1]}


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"format": "relusum/999"}, "reads relusum/1"),
        ({"bias": True}, "bias must be a real number"),
        ({"bias": "1"}, "bias must be a real number"),
        ({"knots": "0"}, "knots must be a list"),
        ({"weights": [True]}, "weights must be numbers"),
        ({"domain": "0 1"}, "domain must be a list"),
    ],
)
def test_model_files_are_read_strictly(tmp_path, change, words):
    with pytest.raises(ValueError, match=words):
        ReluSum.load(_write(tmp_path, {**GOOD, **change}))
    assert READABLE_FORMATS == ("relusum/1",)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('{"bias": 1' + "0" * 400 + ', "knots": [], "weights": []}', "not representable"),
        ('{"bias": 1' + "0" * 5000 + ', "knots": [], "weights": []}', "not a readable model"),
        ('{"bias": NaN, "knots": [], "weights": []}', "NaN"),
        ('{"bias": Infinity, "knots": [], "weights": []}', "Infinity"),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        ('{"bias": 0, "knots": [[0]], "weights": [1]}', "one-dimensional"),
    ],
)
def test_hostile_model_json_is_one_value_error(tmp_path, text, words):
    with pytest.raises(ValueError, match=words):
        ReluSum.load(_write(tmp_path, text))


def test_model_file_size_is_capped(tmp_path, monkeypatch):
    import relusum.model as model

    monkeypatch.setattr(model, "MAX_MODEL_BYTES", 100)
    p = tmp_path / "big.json"
    p.write_text(json.dumps({**GOOD, "knots": [0.0] * 50, "weights": [1.0] * 50}))
    with pytest.raises(ValueError, match="larger than"):
        ReluSum.load(p)


def test_saved_json_is_strict(tmp_path):
    s = ReluSum(0.0, [0.0], [1.0])
    with pytest.raises(ValueError, match="non-finite field.*rmse"):
        s.save(tmp_path / "m.json", rmse=float("inf"))
    assert not (tmp_path / "m.json").exists()


@pytest.mark.parametrize("text", ["ｓｉｎ(ｘ)", "sin(\U0001d431)", "x\u2212 1", "\u00b2x"])
def test_non_ascii_formulas_are_refused(text):
    with pytest.raises(FormulaError, match="ASCII"):
        parse_formula(text)


def test_type_refusals_are_value_errors_too_for_error_boundaries():
    # The CLI and the explorer report ValueError as bad input; a wrong type is bad input.
    with pytest.raises(ValueError, match="must be numbers"):
        Data(["0", "1"], [0.0, 1.0])
    with pytest.raises(TypeError):
        ReluSum(True, [], [])
