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
from relusum.fitting import FitReport, FitResult, fit
from relusum.formula import FormulaError, parse_formula
from relusum.model import ReluSum
from relusum.targets import Data, make_target, read_csv

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
]


def __getattr__(name: str):
    # The scale layer (pandas, pyarrow, Dask) and the scikit-learn estimator are
    # loaded only when used: `import relusum` stays cheap.
    if name == "fit_many":
        from relusum.scale.many import fit_many

        return fit_many
    if name == "ReluSumRegressor":
        from relusum.estimator import ReluSumRegressor

        return ReluSumRegressor
    raise AttributeError(f"module 'relusum' has no attribute {name!r}")
