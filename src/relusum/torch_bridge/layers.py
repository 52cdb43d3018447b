"""A network as a list of float64 operations: validation, evaluation and building.

A ``torch.nn.Sequential`` with one input and one output, built from ``Linear``,
``ReLU`` and ``LeakyReLU`` layers (and ``Identity``, ``Flatten``, ``Dropout`` in
eval mode), is turned into a list of operations on float64 numpy arrays::

    ("linear", W (out, in), b (out,)), ("relu",), ("leaky", slope)

Everything else is refused with a ValueError naming the layer.  The rest of
:mod:`relusum.torch_bridge` works on this list.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from relusum._pieces import _apply

_PASS_THROUGH = (nn.Identity, nn.Flatten, nn.Dropout)


def _as_sequential_layers(model: Any) -> list[tuple[str, nn.Module]]:
    if not isinstance(model, nn.Sequential):
        raise ValueError(
            f"expected a torch.nn.Sequential network, got {type(model).__name__}; "
            "wrap the layers in nn.Sequential(...)"
        )
    out: list[tuple[str, nn.Module]] = []

    def walk(seq: nn.Sequential, prefix: str) -> None:
        for name, layer in seq.named_children():
            path = f"{prefix}{name}"
            if isinstance(layer, nn.Sequential):
                walk(layer, path + ".")
            else:
                out.append((path, layer))

    walk(model, "")
    return out


def _ops(model: Any) -> list[tuple]:
    """The network as float64 operations; a precise ValueError for anything else."""
    ops: list[tuple] = []
    width = 1
    for path, layer in _as_sequential_layers(model):
        kind = type(layer).__name__
        if isinstance(layer, nn.Linear):
            w = layer.weight.detach().to(device="cpu", dtype=torch.float64).numpy().copy()
            if layer.bias is None:
                b = np.zeros(w.shape[0])
            else:
                b = layer.bias.detach().to(device="cpu", dtype=torch.float64).numpy().copy()
            if w.shape[1] != width:
                what = "network input" if not any(o[0] == "linear" for o in ops) else "layer"
                raise ValueError(
                    f"layer {path} (Linear({w.shape[1]}, {w.shape[0]})) takes {w.shape[1]} "
                    f"inputs but the {what} before it gives {width}; "
                    "the network must have exactly one input"
                )
            if not (np.all(np.isfinite(w)) and np.all(np.isfinite(b))):
                raise ValueError(f"layer {path} (Linear) has non-finite weights")
            ops.append(("linear", w, b))
            width = w.shape[0]
        elif isinstance(layer, nn.ReLU):
            ops.append(("relu",))
        elif isinstance(layer, nn.LeakyReLU):
            ops.append(("leaky", float(layer.negative_slope)))
        elif isinstance(layer, _PASS_THROUGH):
            if isinstance(layer, nn.Dropout) and layer.training and layer.p > 0:
                raise ValueError(
                    f"layer {path} (Dropout) is in training mode, so the network is random; "
                    "call model.eval() first"
                )
            if isinstance(layer, nn.Flatten) and layer.start_dim == 0:
                raise ValueError(
                    f"layer {path} (Flatten(start_dim=0)) mixes the batch; unsupported"
                )
        else:
            raise ValueError(
                f"layer {path} ({kind}) is not supported: a network must be built from "
                "Linear, ReLU and LeakyReLU (and Identity, Flatten, Dropout in eval mode)"
            )
    if width != 1:
        raise ValueError(f"the network has {width} outputs; a ReluSum needs exactly one output")
    return ops


def _forward(ops: list[tuple], x: np.ndarray) -> np.ndarray:
    """Evaluate the operations at points ``x`` (float64); returns shape (N,)."""
    v = np.asarray(x, dtype=float).reshape(-1, 1)
    for op in ops:
        v = _apply(op, v)
    return v[:, 0]


def describe_layers(model: nn.Sequential) -> str:
    """A one-line description such as ``1 -> 16 -> ReLU -> 1`` (validates the network).

    Examples
    --------
    >>> from torch import nn
    >>> from relusum.torch_bridge import describe_layers
    >>> describe_layers(nn.Sequential(nn.Linear(1, 8), nn.ReLU(), nn.Linear(8, 1)))
    '1 -> Linear -> 8 -> ReLU -> Linear -> 1'
    """
    ops = _ops(model)
    parts = ["1"]
    for op in ops:
        if op[0] == "linear":
            parts += ["Linear", str(op[1].shape[0])]
        elif op[0] == "relu":
            parts.append("ReLU")
        else:
            parts.append(f"LeakyReLU({op[1]:g})")
    return " -> ".join(parts)


def _mlp_from_arrays(
    a: np.ndarray, b: np.ndarray, v: np.ndarray, c: float, dtype: torch.dtype
) -> nn.Sequential:
    n = int(a.size)
    first = torch.nn.utils.skip_init(nn.Linear, 1, n, dtype=dtype)
    second = torch.nn.utils.skip_init(nn.Linear, n, 1, dtype=dtype)
    with torch.no_grad():
        first.weight.copy_(torch.tensor(np.array(a, float).reshape(n, 1), dtype=dtype))
        first.bias.copy_(torch.tensor(np.array(b, float).reshape(n), dtype=dtype))
        second.weight.copy_(torch.tensor(np.array(v, float).reshape(1, n), dtype=dtype))
        second.bias.fill_(float(c))
    return nn.Sequential(first, nn.ReLU(), second)
