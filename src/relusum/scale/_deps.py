"""Lazy imports of the optional scale dependencies, with a message naming the extra."""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["MissingExtraError", "need", "is_dask"]


class MissingExtraError(ImportError, ValueError):
    """An optional dependency is missing; the message names the extra that installs it."""


def need(module: str, extra: str = "dask") -> ModuleType:
    """Import ``module`` or raise :class:`MissingExtraError` naming ``relusum[extra]``."""
    try:
        return importlib.import_module(module)
    except ImportError:
        top = module.split(".")[0]
        raise MissingExtraError(
            f"this needs {top}, which is not installed: pip install 'relusum[{extra}]'"
        ) from None


def is_dask(obj: object) -> bool:
    """Whether ``obj`` is a Dask collection (checked without importing dask)."""
    mod = type(obj).__module__ or ""
    return mod == "dask" or mod.startswith(("dask.", "dask_expr"))
