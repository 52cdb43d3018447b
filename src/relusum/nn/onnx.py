"""ONNX export of a model whose activations are ReLU sums: ``Add``, ``Relu``, ``Mul`` only."""

from __future__ import annotations

import contextlib
import io
import os
import warnings
from collections.abc import Iterator
from pathlib import Path

import torch
from torch import nn

from relusum.nn.activation import ReluSumActivation

__all__ = ["export_onnx", "relu_form"]


@contextlib.contextmanager
def relu_form(model: nn.Module) -> Iterator[nn.Module]:
    """Within the block every :class:`ReluSumActivation` computes ``b + sum w relu(x - h)``."""
    acts = [m for m in model.modules() if isinstance(m, ReluSumActivation)]
    for a in acts:
        a._relu_form = True
    try:
        yield model
    finally:
        for a in acts:
            a._relu_form = False


def export_onnx(
    model: nn.Module, example: torch.Tensor, path: str | os.PathLike[str], opset: int = 17
) -> Path:
    """Write ``model`` as ONNX with every ReLU-sum activation as ``Add``/``Relu``/``Mul`` nodes.

    The batch dimension is dynamic.  The file is written atomically.
    """
    from relusum._io import atomic_write_bytes

    buf = io.BytesIO()
    model = model.eval()
    with relu_form(model), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the legacy exporter announces its deprecation
        torch.onnx.export(
            model,
            (example,),
            buf,
            dynamo=False,
            input_names=["x"],
            output_names=["y"],
            dynamic_axes={"x": {0: "N"}, "y": {0: "N"}},
            opset_version=opset,
        )
    return atomic_write_bytes(path, buf.getvalue())
