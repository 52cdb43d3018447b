"""The error raised when PyTorch or ONNX, the extra ``relusum[torch]``, is missing."""

from __future__ import annotations


class MissingExtraError(ImportError, ValueError):
    """PyTorch or ONNX is not installed: ``pip install 'relusum[torch]'``."""
