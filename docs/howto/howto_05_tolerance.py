"""
Fit to a tolerance
==================

Instead of a number of units, ask for an error: ``tol=`` finds the fewest units whose
maximum error (or RMSE with ``loss="l2"``) is at most ``tol``.
"""

import relusum

for tol in (1e-2, 1e-3):
    r = relusum.fit("tanh(4*x)", domain=(-1, 1), tol=tol)
    print(f"tol {tol:g}: {r.report.n_units} units, max error {r.report.max_abs_error:.2e}")
