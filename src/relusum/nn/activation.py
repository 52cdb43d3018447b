"""``ReluSumActivation``: a :class:`~relusum.ReluSum` as an element-wise ``torch.nn.Module``.

For an input in piece ``k`` (``k`` knots at or left of it) the sum is one
straight line::

    f(x) = (b - sum_{i<k} w_i h_i) + (sum_{i<k} w_i) x = c_k + s_k x

so the forward pass is a piece lookup (``torch.bucketize`` on the sorted
knots) and a gather of ``c_k`` and ``s_k`` -- ``O(log n)`` per element, for
any tensor shape, equal to the sum on all of R (flat left of the first knot,
the last slope right of the last).  With ``trainable=True`` the bias, weights
and knots are parameters: ``s_k`` and ``c_k`` are cumulative sums of them, so
gradients reach every knot (``df/dh_i = -w_i`` right of it) and weight
(``df/dw_i = (x - h_i)_+``); :meth:`to_relusum` gives the exact sum back.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from relusum.model import ReluSum

__all__ = ["ReluSumActivation"]


class ReluSumActivation(nn.Module):
    """Element-wise ``bias + sum_i w_i * max(0, x - h_i)``.

    Parameters
    ----------
    s : ReluSum
        The sum (its domain, if any, is kept for :meth:`to_relusum`).
    trainable : bool
        Learn the bias, weights and knots (an adaptive piecewise-linear activation).
    dtype : torch.dtype
        Storage of the parameters (float64 by default); the forward pass runs in
        the input's floating dtype.

    Examples
    --------
    >>> import torch
    >>> from relusum import ReluSum
    >>> from relusum.nn import ReluSumActivation
    >>> act = ReluSumActivation(ReluSum(1.0, [0.0, 1.0], [2.0, -3.0]))
    >>> act(torch.tensor([-1.0, 0.5, 2.0], dtype=torch.float64)).tolist()
    [1.0, 2.0, 2.0]
    """

    def __init__(self, s: ReluSum, trainable: bool = False, dtype: Any = torch.float64) -> None:
        super().__init__()
        if not isinstance(s, ReluSum):
            raise TypeError(f"ReluSumActivation needs a ReluSum, got {type(s).__name__}")
        self.domain = s.domain
        self.trainable = bool(trainable)
        self._relu_form = False  # set by relusum.nn.export_onnx: Add/Relu/Mul only
        bias = torch.tensor([s.bias], dtype=dtype)
        knots = torch.tensor(np.asarray(s.knots, dtype=float), dtype=dtype)
        weights = torch.tensor(np.asarray(s.weights, dtype=float), dtype=dtype)
        if self.trainable:
            self.bias = nn.Parameter(bias)
            self.knots = nn.Parameter(knots)
            self.weights = nn.Parameter(weights)
        else:
            self.register_buffer("bias", bias)
            self.register_buffer("knots", knots)
            self.register_buffer("weights", weights)
            # Frozen: the line of every piece once, in float64.
            h, c, sl = self._table(torch.float64)
            self.register_buffer("_h", h)
            self.register_buffer("_c", c)
            self.register_buffer("_s", sl)

    def _table(self, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Sorted knots, intercepts ``c_k`` and slopes ``s_k`` of the ``n + 1`` pieces."""
        h, order = torch.sort(self.knots.to(dtype))
        w = self.weights.to(dtype)[order]
        b = self.bias.to(dtype)
        zero = torch.zeros(1, dtype=dtype, device=h.device)
        slopes = torch.cat((zero, torch.cumsum(w, 0)))
        intercepts = torch.cat((b, b - torch.cumsum(w * h, 0)))
        return h, intercepts, slopes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not torch.is_floating_point(x):
            raise TypeError(f"ReluSumActivation needs a floating-point input, got {x.dtype}")
        if self.trainable:
            h, c, s = self._table(x.dtype)
        else:
            h, c, s = self._h.to(x.dtype), self._c.to(x.dtype), self._s.to(x.dtype)
        if self._relu_form:
            return self.relu_form(x)
        if h.numel() == 0:
            return torch.zeros_like(x) + c[0]
        k = torch.bucketize(x, h, right=True)
        return torch.addcmul(c[k], s[k], x)

    def to_relusum(self) -> ReluSum:
        """The exact :class:`ReluSum` of the current parameters."""
        with torch.no_grad():
            return ReluSum(
                float(self.bias.double()[0]),
                self.knots.double().cpu().numpy(),
                self.weights.double().cpu().numpy(),
                self.domain,
            ).simplify()

    @property
    def n_units(self) -> int:
        return int(self.knots.numel())

    def extra_repr(self) -> str:
        return f"units={self.n_units}, trainable={self.trainable}"

    def relu_form(self, x: torch.Tensor) -> torch.Tensor:
        """The same values with ``Add``, ``Relu`` and ``Mul`` only (ONNX graphs without lookups)."""
        out = (
            torch.relu(x + float(-self.knots[0])) * float(self.weights[0])
            if self.n_units
            else x * 0.0
        )
        for h, w in zip(self.knots[1:].tolist(), self.weights[1:].tolist()):
            out = out + torch.relu(x + (-h)) * w
        return out + float(self.bias[0])
