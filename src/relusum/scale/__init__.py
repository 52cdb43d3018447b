"""Fitting at scale: many curves at once, files streamed in chunks, Dask.

This layer sits above :mod:`relusum.fitting` (whose :class:`~relusum.fitting.
summary.Summary` and :class:`~relusum.fitting.batch.BatchSummary` it feeds) and
below the command line.  pandas, pyarrow and Dask are imported only when used;
they come with the extra ``pip install 'relusum[dask]'``.

Functions
    :func:`fit_many` -- one fit per curve of a pandas or Dask DataFrame.
    :func:`fit_file` -- stream a Parquet or CSV file (or a glob) in chunks.
    :func:`fit_dask` -- a Dask DataFrame or a pair of Dask arrays.
"""

from __future__ import annotations

from typing import Any

__all__ = ["fit_many", "fit_file", "fit_dask", "fit_chunks", "evaluate_dask"]

_WHERE = {
    "fit_many": "relusum.scale.many",
    "fit_file": "relusum.scale.files",
    "fit_chunks": "relusum.scale.chunks",
    "fit_dask": "relusum.scale.dask",
    "evaluate_dask": "relusum.scale.dask",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        import importlib

        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'relusum.scale' has no attribute {name!r}")
