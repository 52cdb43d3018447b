"""
Lookup tables: CSV, C and fixed point
=====================================

A ReluSum is a piecewise-linear function, so a table of its breakpoints is exact. Write it
as CSV or as a C header; the CSV reads back into the same model.
"""

import tempfile
from pathlib import Path

import numpy as np

import relusum
from relusum.table import read_table_csv, write_table_csv, write_table_header

r = relusum.fit("sin(x)", domain=(0, "pi/2"), n_units=6)
with tempfile.TemporaryDirectory() as tmp:
    csv = write_table_csv(r.model, Path(tmp) / "sin.csv")
    print(csv.read_text())
    header = write_table_header(r.model, Path(tmp) / "sin.h", name="sin_table")
    print(header.read_text()[:600])
    back = read_table_csv(csv)
x = np.linspace(0, np.pi / 2, 7)
print("read back equals the model:", np.allclose(back(x), r.model(x)))

# %%
# Fixed point: integer knots, slopes and values in ``Q(total, frac)`` for chips without
# floating point (:mod:`relusum.fixedpoint`). The error is measured on *every* representable
# input, rounding included; ``fixed_point_fit`` finds the fewest units whose table meets a
# tolerance.
from relusum.fixedpoint import fixed_point_fit  # noqa: E402

model, table = fixed_point_fit(np.tanh, (-4.0, 4.0), tol=2e-3, total=16, frac=11)
print(
    f"Q16.11 tanh table: {model.n_units} units, max error {table.max_error:.2e} "
    f"over all {table.n_checked:,} inputs"
)
with tempfile.TemporaryDirectory() as tmp:
    print(table.write_header(Path(tmp) / "tanh_q.h", name="tanh").read_text()[:500])

# %%
# The CLI: ``relusum fit "tanh(x)" --domain -4 4 --tol 2e-3 --fixed-point 16,11 --export t.h``.
#
# ``relusum.export.export(model, path)`` picks the format from the suffix
# (``.json``, ``.csv``, ``.h``, ``.onnx``, ``.pt``); the CLI is
# ``relusum fit "sin(x)" --domain 0 pi/2 --export sin.h``.
