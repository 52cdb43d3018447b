"""``relusum fit`` on large data: streamed files, Dask, many curves (flags and glue).

Kept apart from :mod:`relusum.cli.fit` so that file stays small: ``fit.py``
calls :func:`add_arguments` and, for ``--data``, :func:`wants_scale` /
:func:`fit_data`.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from relusum.cli._common import commit_outputs, positive_int

__all__ = ["add_arguments", "wants_scale", "fit_data", "OUT_SUFFIXES", "STREAM_ABOVE_BYTES"]

#: Table formats ``--out`` writes (one row per curve).
OUT_SUFFIXES = (".parquet", ".csv", ".jsonl")
#: CSV files larger than this are streamed in chunks rather than read whole.
STREAM_ABOVE_BYTES = 256 * 2**20


def add_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group(
        "large data (Parquet, CSV streamed in chunks, Dask, many curves; "
        "pip install 'relusum[dask]')"
    )
    g.add_argument(
        "--by", metavar="COL", help="fit one model per value of this column (many curves)"
    )
    g.add_argument(
        "--out",
        metavar="FILE",
        help=f"with --by: write one row per curve ({', '.join(OUT_SUFFIXES)})",
    )
    g.add_argument("--weight", metavar="COL", help="column of non-negative point weights")
    g.add_argument(
        "--stream",
        action="store_true",
        help="read --data in chunks (automatic for Parquet, globs and CSV over 256 MB)",
    )
    g.add_argument(
        "--chunk-rows",
        type=positive_int,
        default=1 << 20,
        metavar="N",
        help="rows per chunk when streaming (default 1048576)",
    )
    g.add_argument(
        "--dask",
        nargs="?",
        const="local",
        metavar="ADDRESS",
        help="run on Dask: a local cluster of worker processes, or a scheduler tcp://host:8786",
    )
    g.add_argument(
        "--quiet",
        action="store_true",
        help="no progress bars (they are shown on stderr when it is a terminal)",
    )
    g.add_argument(
        "--jobs",
        type=_jobs,
        default=1,
        metavar="N",
        help="with --by: worker processes for per-curve fits that are not one batched solve "
        "(optimal knots, max error, ...); -1: one per CPU (default 1; same results)",
    )
    g.add_argument(
        "--workers",
        type=positive_int,
        metavar="N",
        help="worker processes of --dask's local cluster",
    )


def _jobs(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be a positive integer or -1, got {text!r}"
        ) from None
    if value == -1 or value >= 1:
        return value
    raise argparse.ArgumentTypeError(f"must be a positive integer or -1, got {text!r}")


def wants_scale(args: argparse.Namespace) -> bool:
    """Whether ``--data`` goes through the scale layer rather than the in-memory reader."""
    data = str(args.data)
    if args.by or args.dask or args.stream or args.weight or args.out:
        return True
    if any(ch in data for ch in "*?[") or os.path.isdir(data):
        return True
    if data.lower().endswith((".parquet", ".pq")):
        return True
    try:
        return os.path.getsize(data) > STREAM_ABOVE_BYTES
    except OSError:
        return False


def _refuse_options(args: argparse.Namespace) -> None:
    for flag, value in (
        ("--tol", args.tol),
        ("--interpolate", args.interpolate or None),
        ("--samples", args.samples),
    ):
        if value is not None:
            raise ValueError(f"{flag} is not available for streamed, Dask or many-curve data")
    if args.by is None and getattr(args, "search", "thorough") != "thorough":
        raise ValueError(
            "--search quick is for in-memory fits and --by; streamed and Dask fits search "
            "a per-bin summary"
        )
    if args.by is None and args.out is not None:
        raise ValueError("--out writes one row per curve: use it with --by COL (or use --save)")
    if args.by is not None:
        if args.out is None:
            raise ValueError("--by fits one model per curve: give --out FILE.parquet for them")
        for flag in ("save", "plot"):
            if getattr(args, flag):
                raise ValueError(f"--{flag} is for one model; with --by use --out")
        if args.export:
            raise ValueError("--export is for one model; with --by use --out")
    if args.workers is not None and args.dask != "local":
        raise ValueError("--workers sets the size of --dask's local cluster; give --dask too")


def fit_data(args: argparse.Namespace, domain: Any, knots: Any) -> Any:
    """Fit ``--data`` at scale: a FitResult, or (``--by``) exit status 0 after writing ``--out``."""
    from relusum._io import OutputPlan

    _refuse_options(args)
    if args.by is not None:
        # --out is checked (and its temporary file reserved) before any work, and moved
        # into place only once written: the same rules as --save, --plot and --export.
        with OutputPlan(no_clobber=args.no_clobber) as plan:
            tmp = plan.add(args.out, OUT_SUFFIXES, "--out")
            table = _fit_data(args, domain, knots)
            _write_table(table, tmp, os.path.splitext(args.out)[1].lower())
            commit_outputs(plan)
        _print_many(table, args)
        return 0
    return _fit_data(args, domain, knots)


def _fit_data(args: argparse.Namespace, domain: Any, knots: Any) -> Any:
    from relusum.scale.files import expand_paths

    paths = expand_paths(args.data)
    opts = {"n_units": args.units, "knots": knots, "domain": domain, "loss": args.loss}
    progress = False if getattr(args, "quiet", False) else None
    if args.dask:
        from relusum.scale.dask import dask_client

        with dask_client(args.dask, n_workers=args.workers):
            frame = _dask_frame(paths, args)
            if args.by is not None:
                return _many(frame, args, opts)
            from relusum.scale.dask import fit_dask

            return fit_dask(
                frame,
                _name(args.x),
                _name(args.y),
                args.weight,
                label=args.data,
                progress=progress,
                **opts,
            )
    if args.by is not None:
        return _many(_pandas_frame(paths, args), args, opts)
    from relusum.scale.files import fit_file

    return fit_file(
        paths,
        args.x,
        args.y,
        args.weight,
        chunk_rows=args.chunk_rows,
        progress=progress,
        **opts,
    )


def _name(spec: str) -> str:
    return str(spec)


def _columns(args: argparse.Namespace) -> list[str]:
    cols = [args.by, args.x, args.y, args.weight]
    return [str(c) for c in cols if c is not None]


def _pandas_frame(paths: list[str], args: argparse.Namespace) -> Any:
    """Many curves in memory: only the needed columns, read with pyarrow."""
    from relusum.scale._deps import need

    pa = need("pyarrow")
    tables = []
    cols = _columns(args)
    for p in paths:
        try:
            if p.lower().endswith((".parquet", ".pq")):
                pq = need("pyarrow.parquet")
                names = pq.ParquetFile(p).schema_arrow.names
                _require(cols, names, p)
                tables.append(pq.read_table(p, columns=cols))
            else:
                pcsv = need("pyarrow.csv")
                t = pcsv.read_csv(p)
                _require(cols, t.column_names, p)
                tables.append(t.select(cols))
        except pa.ArrowException as exc:
            raise ValueError(f"{p}: cannot read: {' '.join(str(exc).split())}") from None
    try:
        table = pa.concat_tables(tables, promote_options="permissive")
    except pa.ArrowException as exc:
        raise ValueError(
            f"the files do not share one schema: {' '.join(str(exc).split())}"
        ) from None
    return table.to_pandas()


def _require(cols: list[str], names: list[str], path: str) -> None:
    for c in cols:
        if c not in names:
            raise ValueError(f"{path}: no column {c!r}; the columns are {', '.join(names)}")


def _dask_frame(paths: list[str], args: argparse.Namespace) -> Any:
    from relusum.scale._deps import need

    dd = need("dask.dataframe")
    cols = _columns(args)
    if all(p.lower().endswith((".parquet", ".pq")) for p in paths):
        pq = need("pyarrow.parquet")
        for p in paths:
            _require(cols, pq.ParquetFile(p).schema_arrow.names, p)
        return dd.read_parquet(paths, columns=cols)
    return dd.read_csv(paths, usecols=cols, blocksize="64MB")


def _many(frame: Any, args: argparse.Namespace, opts: dict[str, Any]) -> Any:
    from relusum.scale.many import fit_many

    progress = False if getattr(args, "quiet", False) else None
    return fit_many(
        frame,
        by=args.by,
        x=args.x,
        y=args.y,
        weight=args.weight,
        progress=progress,
        n_jobs=getattr(args, "jobs", 1),
        **({"search": args.search} if getattr(args, "search", "thorough") != "thorough" else {}),
        **opts,
    )


def _write_table(table: Any, tmp: Any, suffix: str) -> None:
    """One row per curve, the model as JSON text, written to the temporary path ``tmp``."""
    import json

    out = table.copy()
    out["model"] = [json.dumps(m.to_dict()) for m in table["model"]]
    if suffix == ".parquet":
        out.to_parquet(tmp, index=False)
    elif suffix == ".csv":
        out.to_csv(tmp, index=False)
    else:
        out.to_json(tmp, orient="records", lines=True)


def _print_many(table: Any, args: argparse.Namespace) -> None:
    import json

    if args.json:
        print(
            json.dumps({"curves": len(table), "out": args.out, "seconds": table.attrs["seconds"]})
        )
        return
    worst = float(table["rmse"].max()) if len(table) else float("nan")
    print(
        f"fit {len(table):,} curves ({int(table['n_samples'].sum()):,} points) in "
        f"{table.attrs['seconds']:.3f} s; largest RMSE {worst:.4g}; wrote {args.out}",
        file=sys.stdout,
    )
