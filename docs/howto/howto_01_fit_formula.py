"""
Fit a formula or a Python function
==================================

``relusum.fit`` takes a formula in ``x`` (parsed safely, never evaluated as Python), a
vectorised callable, or data, and returns a :class:`~relusum.FitResult`: the model and a
report whose errors are measured on a verification grid separate from the fit samples.
"""

import numpy as np

import relusum

r = relusum.fit("exp(-x**2) * cos(3*x)", domain=("-pi", "pi"), n_units=32)
print(r.report.n_units, "units, max error", f"{r.report.max_abs_error:.2e}")
print(r.model)

# %%
# A callable works the same way (it gets a float64 array):


def bump(x):
    return 1.0 / (1.0 + 25.0 * x**2)


r2 = relusum.fit(bump, domain=(-1, 1), n_units=20)
print(f"Runge's bump, 20 units: RMSE {r2.report.rmse:.2e}")

# %%
# The model is a plain function; save it as JSON (format ``relusum/1``) and load it back.
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

with tempfile.TemporaryDirectory() as tmp:
    path = r.model.save(Path(tmp) / "model.json")
    back = relusum.ReluSum.load(path)
print(back(np.array([0.0, 1.0])), r.model(np.array([0.0, 1.0])))
