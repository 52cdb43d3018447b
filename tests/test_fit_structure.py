"""The shape of relusum.fitting: one solver table, layers importing downward only."""

import ast
from pathlib import Path

import numpy as np
import pytest

import relusum
from relusum.fitting import solvers
from relusum.fitting.constraints import Constraints
from relusum.fitting.problem import Problem, Solution
from relusum.targets import make_target

FITTING = Path(relusum.__file__).parent / "fitting"
# Each module may import only modules of a lower rank.
RANK = {
    "jumps": -1,  # jumps of a function target, for report's measure (imports nothing of fitting)
    "report": 0,
    "constraints": 0,
    "progress": 0,
    "problem": 1,
    "hat": 1,
    "fixed": 2,
    "minimax": 3,
    "free_l2": 3,
    "optimal": 4,
    "asymptotes": 1,
    "linear": 3,
    "qp": 4,
    "robust": 5,
    "free_constrained": 6,
    "solvers": 8,
    "tolerance": 9,
    "api": 10,
    "hints": 0,
    "summary": 3,  # sufficient statistics of data seen in chunks
    "stats": 4,  # standard errors and bands (bootstrap refits with fixed / free_l2)
    "batch": 4,
    "select": 9,  # the choice of n (relusum.fit is passed in, not imported)
    "additive": 11,  # additive models of several inputs, built on fit
    "_hull_kernel": 0,  # the numba kernel behind hulls (imports nothing of fitting)
    "warm": 12,  # tiny fits through the public API that compile the kernels
}


def _fitting_imports(path: Path) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            mod = node.module
            if mod == "relusum.fitting":
                out.update(a.name for a in node.names)
            elif mod.startswith("relusum.fitting."):
                out.add(mod.split(".")[2])
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("relusum.fitting."):
                    out.add(a.name.split(".")[2])
    return out


# FitResult.inference() and .band() are methods of the result object, so report
# imports stats inside them.  Nothing else may import upward, even lazily.
LAZY_UPWARD = {("report", "stats")}


def test_layers_import_downward_only():
    for path in FITTING.glob("*.py"):
        name = path.stem
        if name == "__init__":
            continue
        rank = RANK.get(name, 5)  # a new solver module sits between optimal and solvers
        for dep in _fitting_imports(path):
            if (name, dep) in LAZY_UPWARD:
                continue
            assert RANK.get(dep, 5) < rank or (dep == name), f"{name} imports {dep} (upward)"


def test_api_has_no_importerror_fallback():
    text = (FITTING / "api.py").read_text()
    assert "ImportError" not in text


def test_every_table_entry_has_the_one_signature():
    x = np.linspace(0, 1, 201)
    tgt = make_target((x, np.sin(3 * x)))
    for (kind, loss), entry in solvers.SOLVERS.items():
        p = Problem(
            tgt,
            loss,
            knots=np.array([0.0, 0.5]) if kind == "fixed" else None,
            n_units=2 if kind == "free" else None,
            progress=False,
        )
        sol = entry.solve(p)
        assert isinstance(sol, Solution) and isinstance(sol.facts, dict)
        assert isinstance(sol.model, relusum.ReluSum) and sol.model.n_units <= 2


def test_solve_refuses_unknown_and_unsupported():
    tgt = make_target("x", (0, 1))
    with pytest.raises(ValueError, match="not available"):
        solvers.solve(Problem(tgt, "nonsense", knots=np.array([0.0])))
    # A solver that does not declare constraint support refuses them.
    solvers.SOLVERS[("fixed", "_test")] = solvers.Entry(
        lambda p: Solution(relusum.ReluSum(0.0, [0.0], [1.0], (0, 1)), {}), "test"
    )
    try:
        p = Problem(tgt, "_test", knots=np.array([0.0]), constraints=Constraints(shape="convex"))
        with pytest.raises(ValueError, match="shape cannot be used"):
            solvers.solve(p)
        assert solvers.solve(p.with_(constraints=Constraints())).model.n_units == 1
    finally:
        del solvers.SOLVERS[("fixed", "_test")]


def test_a_new_loss_in_the_table_reaches_fit():
    def solve_half(p: Problem) -> Solution:
        m, _ = solvers.solve(p.with_(loss="l2"))
        return Solution(m * 0.5, {"method": "half"})

    solvers.SOLVERS[("fixed", "half")] = solvers.Entry(solve_half, "half of l2")
    try:
        from relusum.fitting import api

        r = api.fit("x", domain=(0, 1), n_units=2, loss="half")
        assert r.report.loss == "half" and r.report.extra["method"] == "half"
        assert r.model(1.0) == pytest.approx(0.5)
    finally:
        del solvers.SOLVERS[("fixed", "half")]


def _compiled_signatures() -> dict[str, int]:
    import importlib

    out = {}
    for name in (
        "relusum.fitting.minimax.kernel",
        "relusum.fitting.minimax.kernel_grow",
        "relusum.fitting.minimax.kernel_exact",
        "relusum.fitting.minimax.values",
        "relusum.fitting.free_l2.kernels",
        "relusum.fitting.free_l2.kernels_dp",
        "relusum.fitting._hull_kernel",
    ):
        mod = importlib.import_module(name)
        for attr, obj in vars(mod).items():
            if hasattr(obj, "signatures") and getattr(obj, "__module__", "") == name:
                out[f"{name}.{attr}"] = len(obj.signatures)
    return out


def test_warm_kernels_leaves_nothing_to_compile_for_real_fits():
    """After warm_kernels, larger fits of every optimal kind compile no new kernel signature
    (so an explorer worker, warmed before it says it is ready, never compiles in a request)."""
    from relusum.fitting.warm import warm_kernels

    warm_kernels()
    before = _compiled_signatures()
    assert sum(before.values()) > 0
    rng = np.random.default_rng(3)
    x = np.sort(rng.uniform(-2, 2, 3000))
    y = np.abs(x) + np.sin(3 * x) + 0.1 * rng.normal(size=x.size)
    relusum.fit((x, y), n_units=6, knots="optimal")
    relusum.fit((x, y), pieces=4, knots="optimal")
    relusum.fit((x, y), n_units=6, knots="optimal", loss="linf")
    relusum.fit("sin(x)", domain=(-3, 3), n_units=12, knots="optimal", loss="linf")
    relusum.fit("sqrt(x)", domain=(0, 1), n_units=5, knots="optimal", loss="linf")
    relusum.fit("sin(x)", domain=(-3, 3), tol=1e-3)
    relusum.fit("exp(x)", domain=(0, 2), n_units=7, knots="optimal")
    assert _compiled_signatures() == before
