"""The error on all of R for built-in targets with known asymptotes.

A sum of shifted ReLUs is constant left of its first knot and linear with
slope ``sum(w)`` right of its last.  For a target ``f`` that is constant as
``x -> -inf`` and tends to ``a + b x`` as ``x -> +inf``, with the fit's right
slope equal to ``b`` (``right_slope=b``), the error is bounded on R and its
supremum is the largest of: the error on the domain, the error on the tails
sampled densely out to where ``f`` equals its asymptote to rounding, and the
limits at both ends.  Known asymptotes: the activations and sigmoids of
:mod:`relusum.formula` written as ``name(x)``.
"""

from __future__ import annotations

import math

import numpy as np

from relusum.model import ReluSum
from relusum.targets import Target

__all__ = ["ASYMPTOTES", "max_error_everywhere"]

#: name -> (limit at -inf, (a, b) with f(x) ~ a + b x at +inf).
ASYMPTOTES: dict[str, tuple[float, tuple[float, float]]] = {
    "tanh": (-1.0, (1.0, 0.0)),
    "sigmoid": (0.0, (1.0, 0.0)),
    "erf": (-1.0, (1.0, 0.0)),
    "arctan": (-math.pi / 2, (math.pi / 2, 0.0)),
    "atan": (-math.pi / 2, (math.pi / 2, 0.0)),
    "step": (0.0, (1.0, 0.0)),
    "heaviside": (0.0, (1.0, 0.0)),
    "relu": (0.0, (0.0, 1.0)),
    "softplus": (0.0, (0.0, 1.0)),
    "gelu": (0.0, (0.0, 1.0)),
    "silu": (0.0, (0.0, 1.0)),
    "swish": (0.0, (0.0, 1.0)),
    "elu": (-1.0, (0.0, 1.0)),
}


def _builtin(target: Target) -> str | None:
    if target.fn is None:
        return None
    text = target.label.replace(" ", "")
    for name in ASYMPTOTES:
        if text == f"{name}(x)":
            return name
    return None


def max_error_everywhere(model: ReluSum, target: Target, on_domain: float) -> float | None:
    """The largest error on R (``inf`` when the right slope misses the asymptote's).

    None when the target's asymptotes are not known.  ``on_domain`` is the
    error measured on the domain (the report's ``max_abs_error``).

    Examples
    --------
    >>> import relusum
    >>> r = relusum.fit("tanh(x)", domain=(-4, 4), n_units=8, right_slope=0)
    >>> e = r.report.extra["max_error_everywhere"]
    >>> bool(r.report.max_abs_error <= e < 0.1)
    True
    """
    name = _builtin(target)
    if name is None:
        return None
    left, (a_r, b_r) = ASYMPTOTES[name]
    slope = float(np.sum(model.weights))
    if abs(slope - b_r) > 1e-9 * max(1.0, abs(b_r)):
        return math.inf
    lo, hi = target.domain
    width = max(hi - lo, 1.0)
    # Out to 60 units past the domain every listed function is at its
    # asymptote to rounding (tanh: 1e-52, sigmoid and softplus: 1e-26).
    span = 60.0 + 4.0 * width
    steps = np.concatenate((np.linspace(0.0, 1.0, 20_001)[1:] * span, [span * 10.0]))
    worst = on_domain
    xr = hi + steps
    worst = max(worst, float(np.max(np.abs(model(xr) - target.evaluate(xr)))))
    xl = lo - steps
    worst = max(worst, float(np.max(np.abs(model(xl) - target.evaluate(xl)))))
    # Limits: constant left, the offset of two parallel lines right.
    far = hi + span * 10.0
    worst = max(worst, abs(float(model(lo - span * 10.0)) - left))
    worst = max(worst, abs(float(model(far)) - (a_r + b_r * far)))
    return worst
