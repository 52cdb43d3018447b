"""relusum for PyTorch models (``pip install 'relusum[torch]'``).

:class:`ReluSumActivation` evaluates a :class:`~relusum.ReluSum` element-wise
(frozen or trainable); :func:`approximate_activations` swaps a model's GELU,
SiLU, tanh, sigmoid, softplus, ELU, Mish and Hardswish for certified ReLU sums
fitted on the ranges seen on calibration data, with an error bound on all of R.
"""

from __future__ import annotations

try:
    import torch  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised without the extra
    raise ImportError("relusum.nn needs PyTorch: pip install 'relusum[torch]'") from exc

from relusum.nn.activation import ReluSumActivation
from relusum.nn.approximate import (
    ACTIVATIONS,
    ActivationReport,
    approximate_activations,
    certified_sum,
)
from relusum.nn.onnx import export_onnx

__all__ = [
    "ReluSumActivation",
    "approximate_activations",
    "certified_sum",
    "ActivationReport",
    "ACTIVATIONS",
    "export_onnx",
]
