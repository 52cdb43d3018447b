"""
Why a ReLU network is non-linear
================================

A ReLU is a straight line with one bend. A network of them is a *weighted sum of shifted
ReLUs*, and the bends add up. This page walks from one ReLU to a curve you would not call
piecewise linear, with the code for every figure.
"""

# %%
# A ReLU, and a shift
# -------------------
# ``relu(x) = max(0, x)``: zero on the left, the identity on the right. A neuron with input
# weight :math:`a` and bias :math:`b` computes ``relu(a*x + b) = a * relu(x - h)`` for
# :math:`a > 0`, with the knot :math:`h = -b/a`: the same bend, *shifted* to :math:`h`.
import matplotlib.pyplot as plt
import numpy as np

import relusum
from relusum import ReluSum

x = np.linspace(-2, 2, 401)
fig, ax = plt.subplots(figsize=(6, 3))
ax.plot(x, np.maximum(0, x), label="relu(x)")
ax.plot(x, np.maximum(0, 2 * x - 1), label="relu(2x - 1) = 2 relu(x - 0.5)")
ax.legend()
ax.set_title("a ReLU and a shifted, scaled ReLU")

# %%
# A layer is a weighted sum of shifted ReLUs
# ------------------------------------------
# One hidden layer followed by a linear output computes
#
# .. math:: f(x) = c + \sum_i w_i \max(0, x - h_i),
#
# which is exactly :class:`relusum.ReluSum`: a bias, the knots :math:`h_i` and the weights
# :math:`w_i`.
f = ReluSum(bias=0.0, knots=[-1.0, 0.5], weights=[1.0, -2.0], domain=(-2, 2))
print(f)
print("f(0) =", f(0.0))

# %%
# Two terms: a change of slope
# ----------------------------
# Left of every knot the sum is flat (slope 0). Each knot adds its weight to the slope:
# after :math:`h_1` the slope is :math:`w_1`, after :math:`h_2` it is :math:`w_1 + w_2`.
from relusum.plot import plot_relusum, plot_terms  # noqa: E402

fig, axes = plt.subplots(1, 2, figsize=(9, 3))
plot_terms(f, ax=axes[0])
plot_relusum(f, ax=axes[1])
print("slopes after each knot:", np.cumsum(f.weights))

# %%
# More terms: more bends
# ----------------------
# With a handful of knots the sum bends where we like. Here six units already trace
# the outline of a sine.
r6 = relusum.fit("sin(x)", domain=(0, "2*pi"), n_units=6)
fig, ax = plt.subplots(figsize=(6, 3))
plot_relusum(r6.model, ax=ax)
ax.set_title("six shifted ReLUs")

# %%
# A hundred terms: it looks non-linear
# ------------------------------------
# Every piece is still straight, but at 100 units the corners are too small to see: the
# maximum error is below a thousandth.
r100 = relusum.fit("sin(x)", domain=(0, "2*pi"), n_units=100)
from relusum.plot import plot_fit  # noqa: E402

plot_fit(r100)
print(f"100 units: max error {r100.report.max_abs_error:.2e}")

# %%
# The error falls like :math:`n^{-2}`
# ------------------------------------
# Between two knots a straight line misses a smooth curve by about
# :math:`\tfrac18 |f''| \Delta^2`, and :math:`\Delta \propto 1/n`: doubling the units
# divides the error by four. Placing the knots where the curve bends most (``knots=
# "optimal"``) keeps the rate but shrinks the constant, most for curves whose bending is
# uneven, such as :math:`e^{3x}`.
ns = [4, 8, 16, 32, 64]
uniform = [relusum.fit("exp(3*x)", domain=(0, 1), n_units=n).report.max_abs_error for n in ns]
optimal = [
    relusum.fit("exp(3*x)", domain=(0, 1), n_units=n, knots="optimal").report.max_abs_error
    for n in ns
]
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.loglog(ns, uniform, "o-", label="uniform knots")
ax.loglog(ns, optimal, "s-", label="optimal knots")
ax.loglog(ns, uniform[0] * (np.array(ns) / ns[0]) ** -2.0, "k:", label="slope -2")
ax.set_xlabel("units n")
ax.set_ylabel("max |error|")
ax.legend()
for n, u, o in zip(ns, uniform, optimal):
    print(f"n={n:3d}  uniform {u:.2e}  optimal {o:.2e}  ratio {u / o:.1f}")

# %%
# Where next: the :doc:`how-to guides <../howto/index>` fit your own functions and data,
# and the :doc:`explanation </explanation/maths>` derives the rates.
