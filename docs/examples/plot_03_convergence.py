"""
Convergence: error against units
================================

Uniform and optimal knots both converge like :math:`n^{-2}`; optimal knots have the
smaller constant.
"""

import matplotlib.pyplot as plt

import relusum

ns = [2, 4, 8, 16, 32]
for knots in ("uniform", "optimal"):
    errs = [
        relusum.fit("sqrt(x + 0.01)", domain=(0, 1), n_units=n, knots=knots).report.max_abs_error
        for n in ns
    ]
    plt.loglog(ns, errs, "o-", label=knots)
plt.xlabel("units")
plt.ylabel("max |error|")
plt.legend()
