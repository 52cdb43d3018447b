"""
A sum of shifted ReLUs, term by term
====================================

Each term ``w_i * max(0, x - h_i)`` is drawn with the sum it builds.
"""

from relusum import ReluSum
from relusum.plot import plot_terms

s = ReluSum(0.5, knots=[-1.0, 0.0, 1.0], weights=[1.0, -2.0, 1.5], domain=(-2, 2))
plot_terms(s)
