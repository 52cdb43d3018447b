"""``ReluSumActivation``: a :class:`~relusum.ReluSum` as an element-wise ``torch.nn.Module``.

For an input in piece ``k`` (``k`` knots at or left of it) the sum is one
straight line::

    f(x) = (b - sum_{i<k} w_i h_i) + (sum_{i<k} w_i) x = c_k + s_k x

so the forward pass is a piece lookup and a gather of ``c_k`` and ``s_k``, for
any tensor shape, equal to the sum on all of R (flat left of the first knot,
the last slope right of the last).

On the CPU, outside ``torch.compile``, ``torch.export``, ``torch.jit.trace`` and
ONNX export, a float32 or float64 input goes through one compiled pass (numba,
threaded over the elements, ``relusum.nn._kernel``), forward and backward,
for a frozen activation and for a trainable one whose parameters need no
gradient: 0.8 to 1.6 times the time of ``F.gelu`` on 10^7 float32 elements at
64 units in most runs on a loaded 2-core machine
(``docs/bench/bench_activations.md``).  Elsewhere the forward pass is torch
operations: a frozen activation looks the piece up in a table over uniform
cells no wider than half the smallest knot gap and corrects the index by one
comparison on each side (``O(1)`` per element, fused into one loop by
``torch.compile``); when the knots are too close for a table of ``2^16`` cells,
and while training, the lookup is ``torch.bucketize``.  Both give NaN for NaN,
the flat left value at ``-inf`` and the last piece's limit at ``+inf``, as
:class:`~relusum.ReluSum` does.
With ``trainable=True`` the bias, weights and knots are parameters: ``s_k`` and
``c_k`` are cumulative sums of them, so gradients reach every knot
(``df/dh_i = -w_i`` right of it) and weight (``df/dw_i = (x - h_i)_+``);
:meth:`to_relusum` gives the exact sum back.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import nn

from relusum.model import ReluSum

__all__ = ["ReluSumActivation"]

_MAX_CELLS = 1 << 16  # largest uniform-cell table; closer knots fall back to bucketize


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
            self._make_cells(h)
        self._kernel_key: tuple = ()
        self._kernel_args: tuple = ()

    def _load_from_state_dict(self, state_dict: Any, prefix: str, *args: Any) -> None:
        super()._load_from_state_dict(state_dict, prefix, *args)
        if not self.trainable:  # the cell table follows the loaded knots
            self._make_cells(self._h)

    def _make_cells(self, h: torch.Tensor) -> None:
        """The uniform-cell index table of a frozen activation (``_cells = 0``: none)."""
        n = h.numel()
        # x is clamped into [h_0, h_{n-1}] (right end only when the last piece is flat)
        # so that 0 * inf on a flat piece cannot give NaN.
        self._left = float(h[0]) if n else 0.0
        self._right = float(h[-1]) if n and float(self._s[-1]) == 0.0 else None
        self._cells = 0
        self._lo = 0.0
        self._inv = 0.0
        if n < 2:
            return
        lo, hi = float(h[0]), float(h[-1])
        gap = float(torch.min(torch.diff(h)))
        if not (gap > 0 and 2 * (hi - lo) / gap < _MAX_CELLS):
            return
        # Cells no wider than gap / 2: even when rounding puts x in a neighbouring
        # cell, the table entry is at most one piece off.
        cells = max(1, math.ceil(2 * (hi - lo) / gap))
        inv = cells / (hi - lo)
        edges = lo + torch.arange(cells + 1, dtype=torch.float64) / inv
        # _hp = [-inf, h_0 .. h_{n-1}, NaN]: piece k holds _hp[k] <= x < _hp[k + 1]; the NaN
        # on the right (x >= NaN is false) keeps x = +inf in the last piece.
        inf = torch.tensor([math.inf], dtype=torch.float64)
        self.register_buffer("_hp", torch.cat((-inf, h, inf * 0)), persistent=False)
        self.register_buffer(
            "_tab", torch.bucketize(edges, h, right=True).to(torch.int32), persistent=False
        )
        self._cells, self._lo, self._inv = cells, lo, inv

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
        if not self._relu_form and _kernel_applies(x):
            if not self.trainable:
                return _Kernel.apply(x, self._kernel_tables(x.dtype))
            if not (torch.is_grad_enabled() and any(p.requires_grad for p in self.parameters())):
                with torch.no_grad():
                    h, c, s = self._table(torch.float64)
                return _Kernel.apply(x, _tables(h, c, s, x.dtype))
        return self._torch_forward(x)

    def _kernel_tables(self, dtype: torch.dtype) -> tuple:
        """The kernel's arrays in ``dtype`` (rebuilt when the buffers change)."""
        key = (dtype, *((b.data_ptr(), b._version) for b in (self._h, self._c, self._s)))
        if key != self._kernel_key:
            self._kernel_args = _tables(self._h, self._c, self._s, dtype)
            self._kernel_key = key
        return self._kernel_args

    def _torch_forward(self, x: torch.Tensor) -> torch.Tensor:
        """The forward pass in torch operations (any device; traceable and compilable)."""
        if self.trainable:
            h, c, s = self._table(x.dtype)
        else:
            h, c, s = self._h.to(x.dtype), self._c.to(x.dtype), self._s.to(x.dtype)
        if self._relu_form:
            return self.relu_form(x)
        if h.numel() == 0:  # clamp to 0: NaN stays NaN, +-inf gives c
            return torch.clamp(x, 0.0, 0.0) + c[0]
        # index_select on flat tensors: several times faster than advanced indexing
        xf = x.reshape(-1)
        if not self.trainable and self._cells:
            u = (xf - self._lo).mul_(self._inv).clamp_(0, self._cells).nan_to_num_(0.0)
            k = torch.index_select(self._tab, 0, u.to(torch.int32))
            # The cell's table entry is the piece, or one off after rounding of u.
            hp = self._hp.to(x.dtype)
            k += (xf >= torch.index_select(hp[1:], 0, k)).to(torch.int32)
            k -= (xf < torch.index_select(hp[:-1], 0, k)).to(torch.int32)
        else:
            k = torch.bucketize(xf, h, right=True)
        ck, sk = torch.index_select(c, 0, k), torch.index_select(s, 0, k)
        if self.trainable:  # 0 * inf on a flat piece is NaN: the limit there is c_k
            y = torch.where(torch.isinf(xf) & (sk == 0), ck, torch.addcmul(ck, sk, xf))
        else:  # the same by clamping x into the flat pieces' ends (NaN stays NaN)
            y = torch.addcmul(ck, sk, torch.clamp(xf, self._left, self._right))
        return y.view_as(x)

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


def _kernel_applies(x: torch.Tensor) -> bool:
    """Whether ``x`` can go through the compiled CPU kernel (a plain CPU tensor, not traced)."""
    return (
        type(x) in (torch.Tensor, nn.Parameter)  # not a FakeTensor, Proxy or other subclass
        and x.device.type == "cpu"
        and x.layout == torch.strided
        and x.dtype in (torch.float32, torch.float64)
        and not torch.jit.is_tracing()
        and not torch.compiler.is_compiling()
        and not torch._C._functorch.is_functorch_wrapped_tensor(x)
    )


def _tables(h: torch.Tensor, c: torch.Tensor, s: torch.Tensor, dtype: torch.dtype) -> tuple:
    """The kernel's arguments for sorted knots ``h`` and the pieces' lines ``c``, ``s``."""
    from relusum.nn import _kernel

    h, c, s = (v.detach().to("cpu", dtype).contiguous().numpy() for v in (h, c, s))
    cells = _kernel.cell_tables(h, c, s, _MAX_CELLS)
    if cells is None:  # knots too close for a table: binary search
        one = np.zeros(2, dtype=h.dtype)
        cells = (one, one, one, 0.0, 0.0, -1)
    n = h.size
    # x is clamped to the ends of the flat pieces (0 * inf would be NaN)
    left = h[0] if n else 0.0
    right = h[-1] if n and s[-1] == 0 else (np.inf if n else 0.0)
    t, cc, sc, lo, inv, ncell = cells
    conv = h.dtype.type
    return (t, cc, sc, h, c, s, float(lo), float(inv), int(ncell), conv(left), conv(right))


class _Kernel(torch.autograd.Function):
    """The compiled forward pass; its backward gathers the slopes with the same lookup."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, args: tuple) -> torch.Tensor:  # type: ignore[override]
        from relusum.nn import _kernel

        xf = x.detach().reshape(-1).contiguous()
        out = torch.empty(x.shape, dtype=x.dtype)
        if xf.numel():
            _kernel.evaluate(xf.numpy(), out.view(-1).numpy(), args, torch.get_num_threads())
        ctx.save_for_backward(xf)
        ctx.args = args
        return out

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:  # type: ignore[override]
        from relusum.nn import _kernel

        (xf,) = ctx.saved_tensors
        threads = torch.get_num_threads()
        if torch.is_grad_enabled() and grad.requires_grad:  # double backward: grad * f'(x)
            slopes = torch.empty_like(xf)
            if xf.numel():
                ones = torch.ones_like(xf).numpy()
                _kernel.slope_times(xf.numpy(), ones, slopes.numpy(), ctx.args, threads)
            return grad * slopes.view(grad.shape), None
        g = grad.detach().to("cpu", xf.dtype).reshape(-1).contiguous()
        out = torch.empty(grad.shape, dtype=xf.dtype)
        if xf.numel():
            _kernel.slope_times(xf.numpy(), g.numpy(), out.view(-1).numpy(), ctx.args, threads)
        return out, None
