"""Writing a ReluSum or a supported network as an ONNX model (:func:`to_onnx`)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from torch import nn

from relusum._io import atomic_write_bytes
from relusum.model import ReluSum
from relusum.torch_bridge._extra import MissingExtraError
from relusum.torch_bridge.convert import to_torch
from relusum.torch_bridge.layers import _ops


def _network_ops(obj: ReluSum | nn.Sequential) -> list[tuple]:
    if isinstance(obj, ReluSum):
        return _ops(to_torch(obj))
    return _ops(obj)


def to_onnx(
    s: ReluSum | nn.Sequential, path: str | os.PathLike[str], dtype: str = "float32"
) -> Path:
    """Write a :class:`ReluSum` (or a supported network) as an ONNX model, atomically.

    The graph takes ``x`` of shape ``(N, 1)`` and returns ``y`` of shape
    ``(N, 1)``: ``MatMul``/``Add`` per linear layer and ``Relu`` (or, for
    ``LeakyReLU``, ``max(z, alpha z)``) between them (opset 13).  The domain, if any, is stored in
    the metadata.

    Parameters
    ----------
    s : ReluSum or torch.nn.Sequential
    path : path-like
    dtype : {"float32", "float64"}

    Examples
    --------
    >>> import os, tempfile
    >>> from relusum import ReluSum
    >>> from relusum.torch_bridge import to_onnx
    >>> to_onnx(ReluSum(0.0, [0.0], [1.0]), os.path.join(tempfile.mkdtemp(), "m.onnx")).suffix
    '.onnx'
    """
    try:
        import onnx
        from onnx import TensorProto, helper, numpy_helper
    except ImportError as exc:
        raise MissingExtraError(
            f"to_onnx needs onnx: pip install 'relusum[torch]' ({exc})"
        ) from None
    if dtype not in ("float32", "float64"):
        raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
    npdt = np.float32 if dtype == "float32" else np.float64
    elem = TensorProto.FLOAT if dtype == "float32" else TensorProto.DOUBLE
    ops = _network_ops(s)
    nodes, inits = [], []
    cur = "x"
    for i, op in enumerate(ops):
        if op[0] == "linear":
            inits.append(numpy_helper.from_array(op[1].T.astype(npdt), f"W{i}"))
            inits.append(numpy_helper.from_array(op[2].astype(npdt), f"b{i}"))
            nodes.append(helper.make_node("MatMul", [cur, f"W{i}"], [f"m{i}"]))
            nodes.append(helper.make_node("Add", [f"m{i}", f"b{i}"], [f"z{i}"]))
            cur = f"z{i}"
        elif op[0] == "relu":
            nodes.append(helper.make_node("Relu", [cur], [f"r{i}"]))
            cur = f"r{i}"
        else:
            # LeakyReLU as max(z, alpha z) (min for alpha > 1): the same rounding as torch,
            # and onnxruntime has no double LeakyRelu kernel.
            inits.append(numpy_helper.from_array(np.array(op[1], dtype=npdt), f"alpha{i}"))
            nodes.append(helper.make_node("Mul", [cur, f"alpha{i}"], [f"s{i}"]))
            pick = "Max" if op[1] <= 1 else "Min"
            nodes.append(helper.make_node(pick, [cur, f"s{i}"], [f"r{i}"]))
            cur = f"r{i}"
    nodes.append(helper.make_node("Identity", [cur], ["y"]))
    graph = helper.make_graph(
        nodes,
        "relusum",
        [helper.make_tensor_value_info("x", elem, ["N", 1])],
        [helper.make_tensor_value_info("y", elem, ["N", 1])],
        initializer=inits,
    )
    model = helper.make_model(
        graph, producer_name="relusum", opset_imports=[helper.make_opsetid("", 13)]
    )
    model.ir_version = min(model.ir_version, 8)
    model.doc_string = "f(x) = bias + sum_i w_i * max(0, x - h_i), from relusum"
    dom = s.domain if isinstance(s, ReluSum) else None
    if dom is not None:
        helper.set_model_props(model, {"domain": f"{dom[0]!r} {dom[1]!r}"})
    onnx.checker.check_model(model)
    return atomic_write_bytes(path, model.SerializeToString())
