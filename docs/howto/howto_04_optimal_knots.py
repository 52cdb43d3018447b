"""
Optimal knots and the smallest maximum error
============================================

``knots="optimal"`` moves the knots as well as the weights. With ``loss="linf"`` the fit
minimises the largest absolute error; its report carries the certificate of optimality.
"""

import relusum

for knots in ("uniform", "optimal"):
    r = relusum.fit("sqrt(x)", domain=(0, 1), n_units=8, knots=knots, loss="linf")
    print(f"{knots:8s} knots: max error {r.report.max_abs_error:.4f}")

# %%
# For :math:`x^2` on [0, 1] the optimum with n units is known:
# :math:`1 / (2 (2n+1)^2)`.
n = 5
r = relusum.fit("x**2", domain=(0, 1), n_units=n, knots="optimal", loss="linf")
print(f"measured {r.report.max_abs_error:.6f}, theory {1 / (2 * (2 * n + 1) ** 2):.6f}")
print({k: v for k, v in r.report.extra.items() if not isinstance(v, list | dict)})
