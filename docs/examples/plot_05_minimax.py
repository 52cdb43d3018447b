"""
Least squares against minimax
=============================

``loss="l2"`` minimises the mean square error, ``loss="linf"`` the largest error; the
minimax error curve equioscillates.
"""

import matplotlib.pyplot as plt
import numpy as np

import relusum

x = np.linspace(0, 1, 1000)
for loss in ("l2", "linf"):
    r = relusum.fit("sqrt(x)", domain=(0, 1), n_units=6, knots="optimal", loss=loss)
    plt.plot(x, r.model(x) - np.sqrt(x), label=f"{loss}: max {r.report.max_abs_error:.3f}")
plt.axhline(0, color="k", lw=0.5)
plt.legend()
plt.title("error of the fit")
