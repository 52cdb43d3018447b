"""The network bridge: ReLU networks taken apart exactly into shifted ReLUs, and back.

A network with one input built from ``Linear``, ``ReLU`` and ``LeakyReLU``
layers is a continuous piecewise-linear function of ``x``.  This module turns
such a network into the exact :class:`~relusum.model.ReluSum` on a domain
(:func:`from_torch`), a ``ReluSum`` into a one-hidden-layer network
(:func:`to_torch`), lists the units of a one-hidden-layer network
(:func:`neurons`, :func:`plot_units`), trains such a network with Adam for
comparison with the optimal fit (:func:`train`), shrinks a deep network to the
smallest one-hidden-layer network within a tolerance (:func:`compress`) and
writes networks as ONNX (:func:`to_onnx`) or as a ``.pt`` file that loads with
``torch.load(..., weights_only=True)`` (:func:`save_pt`, :func:`load_pt`).

Needs the extra ``relusum[torch]`` (``pip install 'relusum[torch]'``);
``import relusum`` never imports this module or PyTorch.

The package holds one idea per module: :mod:`~relusum.torch_bridge.layers`
(a network as float64 operations, validated), :mod:`~relusum.torch_bridge.convert`
(:func:`to_torch`, :func:`from_torch`), :mod:`~relusum.torch_bridge.neurons`,
:mod:`~relusum.torch_bridge.training`, :mod:`~relusum.torch_bridge.compress`,
:mod:`~relusum.torch_bridge.onnx_export` and :mod:`~relusum.torch_bridge.pt_file`.
Import the names from ``relusum.torch_bridge``.
"""

from __future__ import annotations

from relusum.torch_bridge._extra import MissingExtraError

# Checked here, before any submodule: re-importing the package after ``torch`` became
# unavailable must raise this error even when the submodules are still cached.
try:
    import torch  # noqa: F401 - relusum.depth imports torch and nn from here
    from torch import nn  # noqa: F401
except ImportError as _exc:  # pragma: no cover - exercised only without torch
    raise MissingExtraError(
        f"relusum.torch_bridge needs PyTorch: pip install 'relusum[torch]' ({_exc})"
    ) from None

from relusum.torch_bridge.compress import CompressResult, compress
from relusum.torch_bridge.convert import from_torch, to_torch
from relusum.torch_bridge.layers import _forward, _ops, describe_layers  # noqa: F401
from relusum.torch_bridge.neurons import Neuron, neuron_table, neurons, plot_units
from relusum.torch_bridge.onnx_export import to_onnx
from relusum.torch_bridge.pt_file import PT_FORMAT, load_pt, read_pt, save_pt
from relusum.torch_bridge.training import (  # noqa: F401
    DEFAULT_LR,
    INITS,
    MAX_TRAIN_WORK,
    TrainResult,
    train,
    train_many,
)

__all__ = [
    "MissingExtraError",
    "to_torch",
    "from_torch",
    "describe_layers",
    "Neuron",
    "neurons",
    "neuron_table",
    "plot_units",
    "TrainResult",
    "train",
    "train_many",
    "CompressResult",
    "compress",
    "to_onnx",
    "save_pt",
    "load_pt",
    "read_pt",
    "PT_FORMAT",
]
