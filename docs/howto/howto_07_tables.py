"""
Lookup tables: CSV and C
========================

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
# ``relusum.export.export(model, path)`` picks the format from the suffix
# (``.json``, ``.csv``, ``.h``, ``.onnx``, ``.pt``); the CLI is
# ``relusum fit "sin(x)" --domain 0 pi/2 --export sin.h``.
