"""Fit Parquet and CSV files out of core: read in chunks with pyarrow, never all at once.

Peak memory is set by the chunk size (:data:`CHUNK_ROWS` rows), not by the
number of rows: each pass (see :mod:`relusum.scale.chunks`) streams the files
again.  A path may be a glob (``"logs/*.parquet"``); the files are read in
sorted order.  Every chunk is checked (missing columns, non-numeric or
non-finite values, a file whose schema differs from the first one's) and a
problem is one ``ValueError`` naming the file, before anything is written.
"""

from __future__ import annotations

import csv
import glob
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import numpy as np

from relusum.fitting.report import FitResult
from relusum.scale._deps import need
from relusum.scale.chunks import Chunk, fit_passes

__all__ = ["fit_file", "expand_paths", "iter_chunks", "CHUNK_ROWS", "file_rows"]

#: Rows per chunk when streaming (about 16 MB of x and y).
CHUNK_ROWS = 1 << 20


def expand_paths(path: str | os.PathLike[str] | Sequence[str]) -> list[str]:
    """The files a path, a glob or a list of paths names (sorted), or ``ValueError``."""
    if isinstance(path, (list, tuple)):
        out: list[str] = []
        for p in path:
            out.extend(expand_paths(p))
        return out
    text = os.fspath(path)
    if any(ch in text for ch in "*?["):
        files = sorted(glob.glob(text))
        if not files:
            raise ValueError(f"no files match {text!r}")
        return files
    if not os.path.exists(text):
        raise ValueError(f"cannot read {text!r}: no such file")
    if os.path.isdir(text):
        files = sorted(
            os.path.join(text, f) for f in os.listdir(text) if f.endswith((".parquet", ".pq"))
        )
        if not files:
            raise ValueError(f"folder {text!r} holds no .parquet files")
        return files
    return [text]


def _kind(path: str) -> str:
    low = path.lower()
    if low.endswith((".parquet", ".pq")):
        return "parquet"
    if low.endswith((".csv", ".txt", ".csv.gz")):
        return "csv"
    raise ValueError(f"{path!r}: unknown file type (expected .parquet or .csv)")


def _resolve(spec: str | int, names: list[str], path: str, role: str) -> str:
    """A column given by name or 0-based index, as a name of this file."""
    s = str(spec)
    if s in names:
        return s
    if s.strip().isdigit():
        i = int(s)
        if i < len(names):
            return names[i]
    raise ValueError(
        f"{path}: no column {s!r} ({role}); the columns are {', '.join(map(str, names))}"
    )


def _csv_header(path: str) -> tuple[list[str], bool]:
    """Column names and whether the first line is a header (not all numbers)."""
    with open(path, newline="", encoding="utf-8-sig") as fh:
        first = next(csv.reader(fh), None)
    if not first:
        raise ValueError(f"{path}: the file is empty")

    def numeric(cell: str) -> bool:
        try:
            float(cell)
        except ValueError:
            return False
        return True

    if all(numeric(c) for c in first):
        return [str(i) for i in range(len(first))], False
    return [c.strip() for c in first], True


def _to_float(col: Any, path: str, name: str) -> np.ndarray:
    pa = need("pyarrow")
    t = col.type
    if not (pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t)):
        raise ValueError(f"{path}: column {name!r} is not numeric (it holds {t})")
    return col.to_numpy(zero_copy_only=False).astype(float, copy=False)


def iter_chunks(
    paths: list[str], x: str | int, y: str | int, weight: str | int | None, chunk_rows: int
) -> Iterator[Chunk]:
    """``(x, y, w)`` float arrays of at most about ``chunk_rows`` rows, file by file."""
    pa = need("pyarrow")
    first_types: dict[str, Any] = {}
    for path in paths:
        try:
            yield from _iter_file(path, x, y, weight, chunk_rows, first_types)
        except pa.ArrowException as exc:
            msg = " ".join(str(exc).split())
            raise ValueError(f"{path}: cannot read: {msg}") from None


def _iter_file(path, x, y, weight, chunk_rows, first_types) -> Iterator[Chunk]:
    pa = need("pyarrow")
    specs = [(x, "x"), (y, "y")] + ([(weight, "weight")] if weight is not None else [])
    if _kind(path) == "parquet":
        pq = need("pyarrow.parquet")
        f = pq.ParquetFile(path, pre_buffer=False, buffer_size=1 << 22)  # pre-buffering grows
        names = list(f.schema_arrow.names)
        cols = [_resolve(s, names, path, role) for s, role in specs]
        for c, (_, role) in zip(cols, specs):
            t = f.schema_arrow.field(c).type
            if role in first_types and first_types[role] != t:
                raise ValueError(
                    f"{path}: column {c!r} is {t} here but {first_types[role]} in the first file; "
                    "the files must share one schema"
                )
            first_types.setdefault(role, t)
        batches: Iterable[Any] = f.iter_batches(batch_size=chunk_rows, columns=cols)
    else:
        pcsv = need("pyarrow.csv")
        names, header = _csv_header(path)
        cols = [_resolve(s, names, path, role) for s, role in specs]
        batches = pcsv.open_csv(
            path,
            read_options=pcsv.ReadOptions(
                block_size=max(chunk_rows * 24, 1 << 16),
                column_names=names,
                skip_rows=1 if header else 0,
            ),
            convert_options=pcsv.ConvertOptions(
                include_columns=cols, column_types={c: pa.float64() for c in cols}
            ),
        )
    for b in batches:
        if b.num_rows == 0:
            continue
        arrays = [_to_float(b.column(c), path, c) for c in cols]
        yield arrays[0], arrays[1], (arrays[2] if len(arrays) > 2 else None)


def file_rows(paths: list[str]) -> int | None:
    """The number of rows from Parquet metadata (None when a file is CSV)."""
    if not all(_kind(p) == "parquet" for p in paths):
        return None
    pq = need("pyarrow.parquet")
    total = 0
    for p in paths:
        try:
            total += pq.ParquetFile(p).metadata.num_rows
        except Exception as exc:  # noqa: BLE001 - any unreadable file is a user error
            raise ValueError(f"{p}: not a readable Parquet file ({exc})") from None
    return total


def file_range(paths: list[str], x: str | int) -> tuple[float, float, int] | None:
    """``(min x, max x, rows)`` from the Parquet statistics of every row group, or None.

    None when a file is CSV or a row group lacks min/max statistics for the x
    column (then a pass over the data finds the range).  The statistics only
    set the domain: every row is still checked against it (and for NaN) when
    the summary is built, so a wrong statistic is an error, never a wrong fit.
    """
    if not all(_kind(p) == "parquet" for p in paths):
        return None
    pq = need("pyarrow.parquet")
    lo, hi, rows = np.inf, -np.inf, 0
    for p in paths:
        try:
            f = pq.ParquetFile(p)
            names = list(f.schema_arrow.names)
            col = names.index(_resolve(x, names, p, "x"))
            meta = f.metadata
            for g in range(meta.num_row_groups):
                rg = meta.row_group(g)
                rows += rg.num_rows
                if rg.num_rows == 0:
                    continue
                stats = rg.column(col).statistics
                if (
                    stats is None
                    or not stats.has_min_max
                    or stats.physical_type
                    not in (
                        "DOUBLE",
                        "FLOAT",
                        "INT32",
                        "INT64",
                    )
                ):
                    return None
                a, b = float(stats.min), float(stats.max)
                if not (np.isfinite(a) and np.isfinite(b)):
                    return None
                lo, hi = min(lo, a), max(hi, b)
        except ValueError:
            raise
        except Exception:  # noqa: BLE001 - unreadable metadata: read the data instead
            return None
    return (lo, hi, rows) if rows else None


def fit_file(
    path: str | os.PathLike[str] | Sequence[str],
    x: str | int = 0,
    y: str | int = 1,
    weight: str | int | None = None,
    *,
    n_units: int | None = None,
    knots: str | Sequence[float] = "uniform",
    domain: Sequence[Any] | None = None,
    loss: str | None = None,
    chunk_rows: int = CHUNK_ROWS,
    progress: bool | None = None,
) -> FitResult:
    """Fit the points of Parquet or CSV files, streamed in chunks (bounded memory).

    Parameters
    ----------
    path : str, path or list
        A file, a glob such as ``"logs/*.parquet"``, a folder of Parquet files,
        or a list of them.
    x, y, weight : str or int
        Columns by name or 0-based index.
    n_units, knots, domain, loss
        As in :func:`relusum.fit`: least squares (optimal knots are searched
        on per-bin moments of all rows, then refitted on all rows), or
        ``loss="linf"``: the exact optimum with uniform or given knots (hulls
        per piece) and with optimal knots (hulls per bin, checked on every
        row, :mod:`relusum.scale.minimax`).
    chunk_rows : int
        Rows per chunk; peak memory grows with it, not with the file.
    progress : bool, optional
        Progress bars with rows per second (default: when stderr is a terminal).

    Returns
    -------
    FitResult
        Errors measured over all rows in a separate pass; ``result.target``
        holds a subsample (for plots), ``report.n_samples`` the row count.
    """
    paths = expand_paths(path)
    for p in paths:
        _kind(p)
    if isinstance(chunk_rows, bool) or not isinstance(chunk_rows, int) or chunk_rows < 1:
        raise ValueError(f"chunk_rows must be a positive integer, got {chunk_rows!r}")
    total = file_rows(paths)
    known = file_range(paths, x) if domain is None else None
    label = paths[0] if len(paths) == 1 else f"{paths[0]} and {len(paths) - 1} more files"

    def run_pass(per: Callable[..., Any], agg: Callable[[Iterable[Any]], Any], what: str) -> Any:
        from tqdm.auto import tqdm

        bar = tqdm(
            total=total,
            unit="rows",
            unit_scale=True,
            desc=f"relusum {what}",
            leave=False,
            disable=None if progress is None else not progress,
        )

        def each() -> Iterator[Any]:
            for c in iter_chunks(paths, x, y, weight, chunk_rows):
                out = per(c)
                bar.update(c[0].size)
                yield out

        try:
            return agg(each())
        finally:
            bar.close()

    return fit_passes(
        run_pass,
        n_units=n_units,
        knots=knots,
        domain=domain,
        loss=loss,
        label=label,
        known_range=known,
        weighted=weight is not None,
        extra={"files": len(paths), "streamed": True},
    )
