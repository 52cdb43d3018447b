"""Dask: fits whose chunks are the partitions of a Dask collection, on a cluster.

Each pass of :mod:`relusum.scale.chunks` (and of :func:`relusum.fit_many`) maps
a function over the partitions on the workers and combines the small results
with Dask's tree reduction (:meth:`dask.bag.Bag.reduction`); the fit itself
runs on the client.  Nothing is collected but the summaries.  Errors come from
a second distributed pass.  :func:`dask_client` starts a
:class:`distributed.LocalCluster` of worker processes on 127.0.0.1, or connects
to a running scheduler.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import numpy as np

from relusum.fitting.report import FitResult
from relusum.model import ReluSum
from relusum.scale._deps import is_dask, need
from relusum.scale.chunks import fit_passes

__all__ = ["fit_dask", "reduce_partitions", "evaluate_dask", "dask_client", "SPLIT_EVERY"]

#: Fan-in of the reduction tree.
SPLIT_EVERY = 8


def _client() -> Any:
    """The active ``distributed.Client``, or None (distributed is never imported here)."""
    import sys

    if "distributed" not in sys.modules:
        return None
    local = ("sync", "synchronous", "single-threaded", "threads", "threading", "processes")
    if sys.modules["dask"].config.get("scheduler", None) in local + ("multiprocessing",):
        return None  # a local scheduler was chosen explicitly (dask.config.set)
    try:
        return sys.modules["distributed"].default_client()
    except ValueError:  # no client has been started
        return None


def _show(progress: bool | None) -> bool:
    """Whether to draw a bar: ``True`` always, ``None`` when stderr is a terminal."""
    import sys

    if progress is None:
        return bool(getattr(sys.stderr, "isatty", lambda: False)())
    return bool(progress)


def _compute(obj: Any, progress: bool | None = False, desc: str = "relusum") -> Any:
    """Compute on the active scheduler: a ``distributed.Client`` if one is set up,
    the scheduler chosen in ``dask.config``, else threads (a bag's own default
    would start a process pool on every pass).  On a local scheduler
    ``progress`` draws a tqdm bar of the graph's tasks on stderr (see :func:`_show`).
    """
    import sys

    dask = need("dask")
    if _client() is not None:
        return obj.compute()
    scheduler = dask.config.get("scheduler", None)
    kwargs = {"scheduler": "threads"} if scheduler is None else {}
    if not _show(progress):
        return obj.compute(**kwargs)
    from tqdm.dask import TqdmCallback

    with TqdmCallback(desc=desc, unit="tasks", file=sys.stderr, leave=False):
        return obj.compute(**kwargs)


def _watch(client: Any, mapped: Any, desc: str) -> Any:
    """Persist ``mapped`` on ``client`` and advance a tqdm bar (stderr) per finished partition.

    Returns the persisted collection (its partitions stay on the workers).  A
    partition that fails is counted too; its error is raised by the reduction
    that follows, and a worker that dies is handled by the scheduler (retries)
    exactly as without the bar.
    """
    import sys

    from tqdm.auto import tqdm

    distributed = need("distributed")
    persisted = client.persist(mapped)
    futures = distributed.futures_of(persisted)
    bar = tqdm(total=len(futures), desc=desc, unit="partitions", file=sys.stderr, leave=False)
    try:
        for _ in distributed.as_completed(futures):
            bar.update(1)
    finally:
        bar.close()
    return persisted


def _map_reduce(
    bag: Any,
    per_partition: Callable[[Any], Any],
    agg: Callable[[Iterable[Any]], Any],
    progress: bool | None,
    desc: str,
) -> Any:
    """``agg(per_partition(p) for each partition p)``: mapped on the workers, tree-reduced.

    ``agg`` must accept an iterable of results (or of its own results) and
    return one of the same kind: it combines at every level of Dask's tree.
    """
    mapped = bag.map_partitions(_wrap(per_partition))
    client = _client()
    try:
        if client is not None and _show(progress):
            mapped = _watch(client, mapped, desc)
        return _compute(mapped.reduction(agg, agg, split_every=SPLIT_EVERY), progress, desc)
    except Exception as exc:
        if type(exc).__name__ != "KilledWorker":
            raise
        # Dask already retried the partition on other workers (allowed-failures).
        raise ValueError(
            "Dask workers died each time they ran one partition (Dask retried it on other "
            "workers); check the workers' memory limit and logs; nothing was written"
        ) from None


def _wrap(per_partition: Callable[[Any], Any]) -> Callable[[Any], list]:
    def apply(part: Any) -> list:
        return [per_partition(part)]

    return apply


def _bag_of_partitions(parts: list[Any]) -> Any:
    db = need("dask.bag")
    return db.from_delayed(parts)


def reduce_partitions(
    ddf: Any,
    per: Callable[..., Any],
    agg: Callable[[Iterable[Any]], Any],
    *args: Any,
    progress: bool | None = False,
    desc: str = "relusum",
) -> Any:
    """``agg(per(partition, *args) for each partition)`` by Dask's tree reduction.

    ``agg`` must accept an iterable of ``per`` results (or of its own results)
    and return one of the same kind: it combines at every level of the tree.
    ``progress`` draws a bar on stderr (``None``: when stderr is a terminal).
    """
    bag = _bag_of_partitions(list(ddf.to_delayed()))
    return _map_reduce(bag, lambda part: per(part, *args), agg, progress, desc)


def _frame_chunk(part: Any, x: str, y: str, weight: str | None) -> tuple:
    def col(c: str, role: str) -> np.ndarray:
        try:
            return part[c].to_numpy(dtype=float, na_value=np.nan)
        except (TypeError, ValueError):
            raise ValueError(f"column {c!r} ({role}) must be numeric") from None

    return col(x, "x"), col(y, "y"), None if weight is None else col(weight, "weight")


def _pair_chunk(pair: tuple[Any, Any]) -> tuple:
    xb, yb = (np.asarray(v, dtype=float).ravel() for v in pair)
    if xb.shape != yb.shape:
        raise ValueError(f"x and y partitions differ in length ({xb.size} and {yb.size})")
    return xb, yb, None


def _chunk_bag(data: Any, x: str | None, y: str | None, weight: str | None) -> tuple[Any, str]:
    """A bag whose partitions are ``(x, y, w)`` chunks, and a label."""
    dask = need("dask")
    if isinstance(data, tuple) and len(data) == 2 and all(is_dask(d) for d in data):
        xs, ys = data
        if hasattr(xs, "to_dask_array") and hasattr(xs, "npartitions"):  # two Series
            if xs.npartitions != ys.npartitions:
                raise ValueError("x and y must have the same number of partitions")
            px, py = xs.to_delayed(), ys.to_delayed()
        else:  # two Dask arrays
            if xs.ndim != 1 or ys.ndim != 1 or xs.shape != ys.shape:
                raise ValueError(
                    f"x and y must be 1-D arrays of one length, got {xs.shape}, {ys.shape}"
                )
            ys = ys.rechunk(xs.chunks)
            px, py = list(xs.to_delayed().ravel()), list(ys.to_delayed().ravel())
        parts = [dask.delayed(_pair_chunk)((a, b)) for a, b in zip(px, py)]
        return _bag_of_partitions(parts).map_partitions(_as_list), "dask arrays"
    if not hasattr(data, "columns"):
        raise TypeError(
            "a Dask target must be a Dask DataFrame or a pair of Dask arrays or Series, "
            f"got {type(data).__name__}"
        )
    names = [str(c) for c in data.columns]
    if x is None and y is None:
        if len(names) != 2:
            raise ValueError(
                f"a Dask DataFrame target needs exactly two columns (x, y) or x= and y= names; "
                f"it has {len(names)}: {', '.join(names)}"
            )
        x, y = names
    for c in (x, y, weight):
        if c is not None and c not in names:
            raise ValueError(f"column {c!r} not found; the columns are {', '.join(names)}")
    parts = [dask.delayed(_frame_chunk)(p, x, y, weight) for p in data.to_delayed()]
    return _bag_of_partitions(parts).map_partitions(_as_list), f"dask dataframe ({x}, {y})"


def _as_list(chunk: Any) -> list:
    return [chunk]


def _first(per: Callable[..., Any]) -> Callable[[list], Any]:
    def apply(part: list) -> Any:
        return per(part[0])

    return apply


def fit_dask(
    data: Any,
    x: str | None = None,
    y: str | None = None,
    weight: str | None = None,
    *,
    n_units: int | None = None,
    knots: str | Sequence[float] = "uniform",
    domain: Sequence[Any] | None = None,
    loss: str | None = None,
    label: str | None = None,
    progress: bool | None = None,
) -> FitResult:
    """Fit a Dask DataFrame (two columns, or ``x``/``y`` by name) or a pair of Dask arrays.

    Runs on the current Dask scheduler (a ``distributed.Client`` if one is
    active).  Same options and result as :func:`relusum.scale.files.fit_file`;
    fixed-knot fits equal the in-memory fit to about 1e-12 relative.
    ``progress``: a bar per pass on stderr counting finished partitions
    (default: when stderr is a terminal; ``False`` never).
    """
    bag, what = _chunk_bag(data, x, y, weight)

    def run_pass(per: Callable[..., Any], agg: Callable[[Iterable[Any]], Any], name: str) -> Any:
        return _map_reduce(bag, _first(per), agg, progress, f"relusum {name}")

    return fit_passes(
        run_pass,
        n_units=n_units,
        knots=knots,
        domain=domain,
        loss=loss,
        label=label or what,
        weighted=weight is not None,
        extra={"dask_partitions": int(bag.npartitions)},
    )


def evaluate_dask(model: ReluSum, x: Any) -> Any:
    """``model`` at the points of a Dask array, lazily (block by block, ``map_blocks``)."""
    return x.map_blocks(model.__call__, dtype=float)


@contextlib.contextmanager
def dask_client(address: str = "local", n_workers: int | None = None) -> Iterator[Any]:
    """A ``distributed.Client``: a new LocalCluster of worker processes, or ``address``.

    ``"local"`` starts worker processes on 127.0.0.1 (one thread each) and
    closes them on exit; ``"tcp://host:8786"`` connects to a running scheduler.
    """
    distributed = need("distributed")
    if address == "local":
        workers = n_workers or max(1, min(os.cpu_count() or 1, 8))
        cluster = distributed.LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        )
        try:
            with distributed.Client(cluster) as client:
                yield client
        finally:
            cluster.close()
        return
    try:
        client = distributed.Client(address, timeout="20s")
    except (OSError, TimeoutError) as exc:
        raise ValueError(f"cannot reach the Dask scheduler at {address}: {exc}") from None
    try:
        yield client
    finally:
        client.close()
