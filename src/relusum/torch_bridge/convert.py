"""ReluSum <-> network: :func:`to_torch` and the exact decomposition :func:`from_torch`.

How :func:`from_torch` finds the knots
    The input line ``[A, B]`` is followed through the network.  The values of
    every layer are kept at a sorted list of breakpoints; between two
    breakpoints every unit is affine in ``x``.  A linear layer maps the values;
    before an activation, every unit whose value changes sign between two
    breakpoints adds the point where it crosses zero (found by linear
    interpolation, exact for an affine piece) and the values there are
    interpolated.  No sampling is involved: the breakpoints found are every
    point where some unit switches on or off.  The final values are computed by
    a float64 forward pass of the network at the breakpoints, and breakpoints
    where the output does not bend (a unit switching with no effect on the
    output) are dropped.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from relusum._pieces import MAX_PIECES, breakpoints, one_hidden_layer
from relusum.model import ReluSum
from relusum.targets import parse_domain
from relusum.torch_bridge.layers import _forward, _mlp_from_arrays, _ops


def to_torch(s: ReluSum, dtype: torch.dtype = torch.float64) -> nn.Sequential:
    """The :class:`ReluSum` as ``nn.Sequential(Linear(1, n), ReLU(), Linear(n, 1))``.

    Hidden unit ``i`` computes ``max(0, x - h_i)`` (input weight 1, bias
    ``-h_i``) and the output layer has weights ``w_i`` and bias ``b``, so the
    network equals the sum for every real ``x``, not only on its domain.  A sum
    with no terms becomes a network with one unit whose output weight is 0.
    The global random state is not used.

    Parameters
    ----------
    s : ReluSum
    dtype : torch.dtype
        ``torch.float64`` (default, exact to rounding) or ``torch.float32``.

    Examples
    --------
    >>> import torch
    >>> from relusum import ReluSum
    >>> from relusum.torch_bridge import to_torch
    >>> net = to_torch(ReluSum(1.0, [0.0, 1.0], [2.0, -3.0]))
    >>> net(torch.tensor([[-1.0], [0.5], [2.0]], dtype=torch.float64)).flatten().tolist()
    [1.0, 2.0, 2.0]
    """
    if not isinstance(s, ReluSum):
        raise ValueError(f"to_torch needs a ReluSum, got {type(s).__name__}")
    if dtype not in (torch.float32, torch.float64):
        raise ValueError(f"dtype must be torch.float32 or torch.float64, got {dtype}")
    h, w = s.knots, s.weights
    if h.size == 0:
        h, w = np.zeros(1), np.zeros(1)
    n = h.size
    return _mlp_from_arrays(np.ones(n), -h, w, s.bias, dtype)


def _drop_straight(t: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Drop interior breakpoints where the output does not bend (rounding-level)."""
    if t.size <= 2:
        return t, y
    scale = float(np.max(np.abs(y)))
    scale = max(scale, float(np.max(np.abs(np.diff(y)))), np.finfo(float).tiny)
    tol = 64 * np.finfo(float).eps * scale
    lam = (t[1:-1] - t[:-2]) / (t[2:] - t[:-2])
    chord = y[:-2] + lam * (y[2:] - y[:-2])
    bend = np.abs(y[1:-1] - chord) > tol
    keep = np.concatenate(([True], bend, [True]))
    tk, yk = t[keep], y[keep]
    # Guard: the thinned interpolant must still pass through every breakpoint.
    if np.max(np.abs(np.interp(t, tk, yk) - y)) > 4 * tol:
        return t, y
    return tk, yk


def from_torch(
    model: nn.Sequential, domain: Sequence[Any], *, max_pieces: int = MAX_PIECES
) -> ReluSum:
    """The exact :class:`ReluSum` of a network with one input and one output, on a domain.

    The network may have any depth and width and use ``Linear``, ``ReLU``,
    ``LeakyReLU`` and (in eval mode) ``Identity``, ``Flatten`` and ``Dropout``
    layers; nested ``nn.Sequential`` blocks are flattened.  Its knots are the
    points where some unit switches on or off, found by following the input
    line through the activation patterns layer by layer (see the module
    docstring): no sampling.  The result equals the network on the domain (to
    float64 rounding; a float32 network is evaluated in float64 with its own
    weights); outside the domain it is flat on the left and continues the last
    piece on the right, like every ``ReluSum`` built from points.

    It has a knot at ``A`` (the slope of the first piece, dropped when 0) and
    one at every interior point where the network bends, so
    ``n_pieces`` is the exact number of linear pieces on the domain.

    Parameters
    ----------
    model : torch.nn.Sequential
    domain : (A, B)
        Numbers or constant formulas such as ``"-pi"``.
    max_pieces : int
        Refuse (before building them) networks with more linear pieces than
        this on the domain; a deep network can have ``2**depth`` pieces.

    Raises
    ------
    ValueError
        For an unsupported layer (named), more than one input or output, a
        network that is not ``nn.Sequential`` or Dropout in training mode, more
        than ``max_pieces`` pieces (:class:`relusum._pieces.PieceLimitError`,
        naming how many were found) or a layer too wide to follow.

    Examples
    --------
    >>> from torch import nn
    >>> from relusum.torch_bridge import from_torch
    >>> net = nn.Sequential(nn.Linear(1, 2), nn.ReLU(), nn.Linear(2, 1))
    >>> s = from_torch(net, (-3, 3))
    >>> s.n_pieces <= 3
    True
    """
    dom = parse_domain(domain)
    if dom is None:
        raise ValueError("from_torch needs a domain (A, B)")
    if isinstance(max_pieces, bool) or not isinstance(max_pieces, (int, np.integer)):
        raise ValueError(f"max_pieces must be a positive integer, got {max_pieces!r}")
    if max_pieces < 1:
        raise ValueError(f"max_pieces must be a positive integer, got {max_pieces}")
    ops = _ops(model)
    a, b = dom
    direct = one_hidden_layer(ops, a, b, int(max_pieces))
    if direct is not None:
        bias, h, w = direct
        if not (math.isfinite(bias) and np.all(np.isfinite(w))):
            raise ValueError("the network's output is not finite on the domain")
        return ReluSum(bias, h, w, dom).simplify()
    t = breakpoints(ops, a, b, int(max_pieces))
    y = _forward(ops, t)
    if not np.all(np.isfinite(y)):
        raise ValueError("the network's output is not finite on the domain")
    t, y = _drop_straight(t, y)
    return ReluSum.from_points(t, y, dom).simplify()
