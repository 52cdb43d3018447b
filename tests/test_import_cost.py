"""`import relusum` stays cheap: heavy libraries load only when a feature needs them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SRC = str(Path(__file__).resolve().parents[1] / "src")
HEAVY = (
    "scipy",
    "matplotlib",
    "torch",
    "sklearn",
    "pandas",
    "dask",
    "pyarrow",
    "uvicorn",
    "anywidget",
    "ipywidgets",
)


def _run(code: str) -> str:
    env = {**os.environ, "PYTHONPATH": SRC}
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    ).stdout.strip()


def test_import_relusum_loads_no_heavy_library():
    code = (
        "import sys, relusum\n"
        "assert relusum.ReluSum(0.0, [0.0], [1.0])(2.0) == 2.0\n"
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r})))"
    )
    assert _run(code) == "[]"


def test_lazy_names_resolve_to_their_modules():
    code = (
        "import relusum\n"
        "from relusum import fit, FitResult, FitReport, Data, read_csv, make_target\n"
        "from relusum import parse_formula, FormulaError\n"
        "import relusum.fitting as F, relusum.targets as T, relusum.formula as P\n"
        "assert fit is F.fit and FitResult is F.FitResult and FitReport is F.FitReport\n"
        "assert Data is T.Data and read_csv is T.read_csv and make_target is T.make_target\n"
        "assert parse_formula is P.parse_formula and FormulaError is P.FormulaError\n"
        "assert set(relusum.__all__) <= set(dir(relusum))\n"
        "print(relusum.fit('x', domain=(0, 1), n_units=2).model.n_units)"
    )
    assert _run(code) == "2"


def test_unknown_attribute_is_an_attribute_error():
    code = (
        "import relusum\ntry:\n    relusum.no_such_name\nexcept AttributeError as e:\n    print(e)"
    )
    assert _run(code) == "module 'relusum' has no attribute 'no_such_name'"
