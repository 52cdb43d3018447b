"""Write a :class:`~relusum.model.ReluSum` to a file chosen by its extension.

==========  =============================================  =====================
suffix      what                                           provided by
==========  =============================================  =====================
``.json``   the model (``bias``, ``knots``, ``weights``)   :mod:`relusum.model`
``.csv``    lookup table: knots, values, slopes            :mod:`relusum.table`
``.h``      C arrays and an evaluation function            :mod:`relusum.table`
``.onnx``   ONNX network (extra ``relusum[torch]``)        :mod:`relusum.torch_bridge`
``.pt``     PyTorch ``state_dict`` + sizes (``[torch]``)   :mod:`relusum.torch_bridge`
==========  =============================================  =====================

Every writer writes atomically: a failed export leaves no partial file.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import Any

from relusum.model import ReluSum

__all__ = ["EXPORTERS", "export", "export_suffixes"]

#: suffix -> (module, function name); the function is ``f(model, path) -> Path``.
EXPORTERS: dict[str, tuple[str, str]] = {
    ".json": ("relusum.export", "_write_json"),
    ".csv": ("relusum.table", "write_table_csv"),
    ".h": ("relusum.table", "write_table_header"),
    ".onnx": ("relusum.torch_bridge", "to_onnx"),
    ".pt": ("relusum.torch_bridge", "save_pt"),
}


def export_suffixes() -> tuple[str, ...]:
    """The file extensions :func:`export` understands."""
    return tuple(EXPORTERS)


def _write_json(model: ReluSum, path: str | os.PathLike[str], **extra: Any) -> Path:
    return model.save(path, **extra)


def export(model: ReluSum, path: str | os.PathLike[str]) -> Path:
    """Write ``model`` to ``path`` in the format its extension names.

    Examples
    --------
    >>> import os, tempfile
    >>> from relusum import ReluSum
    >>> from relusum.export import export
    >>> path = os.path.join(tempfile.mkdtemp(), "m.json")
    >>> p = export(ReluSum(0.0, [0.0], [1.0], (0.0, 1.0)), path)
    >>> p.name
    'm.json'
    """
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in EXPORTERS:
        raise ValueError(
            f"cannot export to {str(p)!r}: unknown extension; use one of {', '.join(EXPORTERS)}"
        )
    module, name = EXPORTERS[suffix]
    try:
        mod = importlib.import_module(module)
    except ImportError as exc:
        if module == "relusum.torch_bridge":
            raise ValueError(
                f"exporting {suffix} needs PyTorch: pip install 'relusum[torch]' ({exc})"
            ) from None
        raise
    return getattr(mod, name)(model, p)
