"""Additive sums: one sum of shifted ReLUs per input column.

    f(x_1, ..., x_d) = intercept + sum_j s_j(x_j),    s_j a :class:`ReluSum`

This is still a one-hidden-layer ReLU network: hidden unit ``(j, i)`` reads
input ``j`` only and computes ``max(0, x_j - h_ji)``; the output layer weighs
the units by ``w_ji`` and adds ``intercept + sum_j bias_j``.  So it exports
exactly to PyTorch and ONNX (``d`` inputs, one output), like a single sum.

Examples
--------
>>> import numpy as np
>>> from relusum import ReluSum
>>> from relusum.additive import AdditiveReluSum
>>> f = AdditiveReluSum(1.0, [ReluSum(0.0, [0.0], [2.0]), ReluSum(0.0, [1.0], [-1.0])])
>>> f(np.array([[1.0, 3.0], [0.5, 0.0]])).tolist()
[1.0, 2.0]
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from relusum.model import ReluSum

__all__ = ["AdditiveReluSum"]

FORMAT = "relusum-additive/1"


class AdditiveReluSum:
    """``intercept + sum_j s_j(x_j)``: an immutable sum of per-column ReLU sums.

    Parameters
    ----------
    intercept : float
    components : sequence of ReluSum
        ``s_j`` for each input column ``j`` (in column order).
    feature_names : sequence of str, optional
        Column names (for display and plots).
    """

    __slots__ = ("_intercept", "_components", "_names")

    def __init__(
        self,
        intercept: float,
        components: Sequence[ReluSum],
        feature_names: Sequence[str] | None = None,
    ) -> None:
        if isinstance(intercept, bool) or not isinstance(intercept, (int, float, np.floating)):
            raise TypeError(f"intercept must be a real number, got {intercept!r}")
        if not math.isfinite(float(intercept)):
            raise ValueError("intercept must be finite")
        comps = tuple(components)
        if not comps:
            raise ValueError("an additive sum needs at least one component")
        for c in comps:
            if not isinstance(c, ReluSum):
                raise TypeError(f"components must be ReluSum objects, got {type(c).__name__}")
        names = None
        if feature_names is not None:
            names = tuple(str(n) for n in feature_names)
            if len(names) != len(comps):
                raise ValueError(
                    f"feature_names has {len(names)} names for {len(comps)} components"
                )
        self._intercept = float(intercept)
        self._components = comps
        self._names = names

    @property
    def intercept(self) -> float:
        return self._intercept

    @property
    def components(self) -> tuple[ReluSum, ...]:
        return self._components

    @property
    def feature_names(self) -> tuple[str, ...] | None:
        return self._names

    @property
    def n_features(self) -> int:
        return len(self._components)

    @property
    def n_units(self) -> int:
        """Hidden ReLU units in all (one per knot of every component)."""
        return sum(c.n_units for c in self._components)

    def __call__(self, X: ArrayLike) -> np.ndarray:
        """Evaluate at the rows of ``X`` (shape ``(N, d)``); returns shape ``(N,)``."""
        xa = np.asarray(X, dtype=float)
        if xa.ndim != 2 or xa.shape[1] != self.n_features:
            raise ValueError(f"X must have shape (N, {self.n_features}), got {xa.shape}")
        out = np.full(xa.shape[0], self._intercept)
        for j, c in enumerate(self._components):
            out += c(xa[:, j])
        return out

    def partial(self, j: int, x: ArrayLike) -> np.ndarray | float:
        """The component ``s_j`` at ``x`` (the shape of column ``j``'s effect)."""
        return self._components[j](x)

    def __repr__(self) -> str:
        return (
            f"AdditiveReluSum(intercept={self._intercept:.6g}, "
            f"{self.n_features} columns, {self.n_units} units)"
        )

    # -- networks ---------------------------------------------------------
    def _layers(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
        """First-layer weights (H, d) and biases (H,), output weights (H,), output bias."""
        d = self.n_features
        rows, b, v = [], [], []
        for j, c in enumerate(self._components):
            for h, w in zip(c.knots, c.weights):
                r = np.zeros(d)
                r[j] = 1.0
                rows.append(r)
                b.append(-h)
                v.append(w)
        if not rows:  # a constant: one dead unit keeps the shapes valid
            rows, b, v = [np.zeros(d)], [0.0], [0.0]
        c0 = self._intercept + sum(c.bias for c in self._components)
        return np.array(rows), np.array(b), np.array(v), float(c0)

    def to_torch(self, dtype: Any = None):
        """``nn.Sequential(Linear(d, H), ReLU(), Linear(H, 1))``, equal for every real input.

        Needs ``pip install 'relusum[torch]'``.
        """
        try:
            import torch
            from torch import nn
        except ImportError:
            raise ImportError("to_torch needs PyTorch: pip install 'relusum[torch]'") from None
        dtype = torch.float64 if dtype is None else dtype
        a, b, v, c = self._layers()
        first = nn.Linear(a.shape[1], a.shape[0], dtype=dtype)
        second = nn.Linear(a.shape[0], 1, dtype=dtype)
        with torch.no_grad():
            first.weight.copy_(torch.tensor(a, dtype=dtype))
            first.bias.copy_(torch.tensor(b, dtype=dtype))
            second.weight.copy_(torch.tensor(v.reshape(1, -1), dtype=dtype))
            second.bias.fill_(c)
        return nn.Sequential(first, nn.ReLU(), second)

    def to_onnx(self, path: str | os.PathLike[str], dtype: str = "float32") -> Path:
        """Write the network as ONNX: input ``x`` of shape ``(N, d)``, output ``(N, 1)``.

        ``MatMul``/``Add``, ``Relu``, ``MatMul``/``Add`` (opset 13).  Needs
        ``pip install 'relusum[torch]'`` (for ``onnx``).
        """
        try:
            import onnx
            from onnx import TensorProto, helper, numpy_helper
        except ImportError:
            raise ImportError("to_onnx needs onnx: pip install 'relusum[torch]'") from None
        from relusum._io import atomic_write_bytes

        if dtype not in ("float32", "float64"):
            raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
        npdt = np.float32 if dtype == "float32" else np.float64
        elem = TensorProto.FLOAT if dtype == "float32" else TensorProto.DOUBLE
        a, b, v, c = self._layers()
        inits = [
            numpy_helper.from_array(a.T.astype(npdt), "W0"),
            numpy_helper.from_array(b.astype(npdt), "b0"),
            numpy_helper.from_array(v.reshape(-1, 1).astype(npdt), "W1"),
            numpy_helper.from_array(np.array([c], dtype=npdt), "b1"),
        ]
        nodes = [
            helper.make_node("MatMul", ["x", "W0"], ["m0"]),
            helper.make_node("Add", ["m0", "b0"], ["z0"]),
            helper.make_node("Relu", ["z0"], ["r0"]),
            helper.make_node("MatMul", ["r0", "W1"], ["m1"]),
            helper.make_node("Add", ["m1", "b1"], ["y"]),
        ]
        graph = helper.make_graph(
            nodes,
            "relusum_additive",
            [helper.make_tensor_value_info("x", elem, ["N", self.n_features])],
            [helper.make_tensor_value_info("y", elem, ["N", 1])],
            initializer=inits,
        )
        model = helper.make_model(
            graph, producer_name="relusum", opset_imports=[helper.make_opsetid("", 13)]
        )
        model.ir_version = min(model.ir_version, 8)
        onnx.checker.check_model(model)
        return atomic_write_bytes(path, model.SerializeToString())

    # -- JSON ---------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "format": FORMAT,
            "intercept": self._intercept,
            "components": [c.to_dict() for c in self._components],
        }
        if self._names is not None:
            d["feature_names"] = list(self._names)
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AdditiveReluSum:
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ValueError(f"not an additive relusum model (format must be {FORMAT!r})")
        comps = data.get("components")
        if not isinstance(comps, list):
            raise ValueError("'components' must be a list of relusum models")
        return cls(
            data.get("intercept", 0.0),
            [ReluSum.from_dict(c) for c in comps],
            data.get("feature_names"),
        )

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), allow_nan=False)
