"""relusum: the output of a ReLU network is a weighted sum of shifted ReLUs.

    f(x) = bias + sum_i weights[i] * max(0, x - knots[i])

:class:`ReluSum` is that function; :func:`fit` builds one for a formula, a
callable or data.  Plots live in :mod:`relusum.plot`, the PyTorch bridge in
:mod:`relusum.torch_bridge` (extra ``relusum[torch]``).

Examples
--------
>>> import relusum
>>> r = relusum.fit("sin(x)", domain=(0, "2*pi"), n_units=16)
>>> r.model.n_units
16
"""

from relusum._version import __version__
from relusum.model import ReluSum

__all__ = [
    "__version__",
    "ReluSum",
    "fit",
    "FitResult",
    "FitReport",
    "Data",
    "read_csv",
    "make_target",
    "parse_formula",
    "FormulaError",
    "fit_many",
    "ReluSumRegressor",
    "widget",
]


# Public names resolved on first use: the fitting layer (SciPy), the scale layer
# (pandas, pyarrow, Dask), the scikit-learn estimator and the notebook widget
# (anywidget) are loaded only when used, so `import relusum` stays cheap.
_LAZY = {
    "fit": "relusum.fitting",
    "FitResult": "relusum.fitting",
    "FitReport": "relusum.fitting",
    "Data": "relusum.targets",
    "read_csv": "relusum.targets",
    "make_target": "relusum.targets",
    "parse_formula": "relusum.formula",
    "FormulaError": "relusum.formula",
    "fit_many": "relusum.scale.many",
    "ReluSumRegressor": "relusum.estimator",
    "widget": "relusum.notebook",
}


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'relusum' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
