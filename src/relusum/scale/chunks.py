"""One fit from data that arrive in chunks: passes of map and reduce over the chunks.

The data are never held together.  A *pass* applies a function to every chunk
``(x, y, w)`` and combines the results with an associative, commutative
aggregate; :func:`fit_passes` needs only a function ``run_pass(per, agg, what)``
that does this, so the same fit runs on a file streamed chunk by chunk
(:mod:`relusum.scale.files`) and on a Dask collection, partition by partition on
the workers with Dask's tree reduction (:mod:`relusum.scale.dask`).

Passes
    1. the x range (skipped when the domain is given or known from metadata);
    2. for fixed knots, the :class:`~relusum.fitting.summary.Summary`; for
       optimal knots (``loss="l2"``), per-bin moments on a fine grid
       (:mod:`relusum.fitting.free_l2.condense`), searched for knots on their
       pseudo-points, then a Summary for those knots (the polish on all rows);
       For ``loss="linf"`` with fixed knots, the convex-hull vertices of the
       points of each piece (:mod:`relusum.fitting.hulls`), whose LP has the
       same optimum as the LP on all rows; with optimal knots, the upper and
       lower hulls of the points of each bin of a fine grid, solved exactly and
       checked against every row (:mod:`relusum.scale.minimax`);
    3. the errors of the model over all rows (RMSE, max |error|), with a
       systematic subsample of at most :data:`SAMPLE_POINTS` points kept for plots.

The fixed-knot fit is solved through the solver table
(:func:`relusum.fitting.solvers.solve` with ``Problem.summary``), so it equals
the in-memory fit (to about 1e-12 relative).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from relusum.fitting.fixed import check_knots, check_n_units, uniform_knots
from relusum.fitting.report import FitReport, FitResult
from relusum.fitting.summary import Summary, check_chunk
from relusum.model import ReluSum
from relusum.targets import Target, parse_domain

__all__ = ["fit_passes", "fit_chunks", "SAMPLE_POINTS", "BINS_PER_UNIT", "MIN_BINS"]

#: Points kept (a systematic subsample) for plotting a streamed fit.
SAMPLE_POINTS = 20_000
#: Bins of the moment grid per unit for optimal knots on streamed data (at least MIN_BINS).
BINS_PER_UNIT = 512
MIN_BINS = 16_384  # 2 pseudo-points a bin: above free_l2.CONDENSE_ABOVE, its fast path
#: Chunks of at least this many rows use the compiled kernels (see :func:`compiled`).
COMPILED_ROWS = 200_000
#: Most units a chunked fit accepts (checked before anything is allocated).
MAX_UNITS = 10_000_000

Chunk = tuple[np.ndarray, np.ndarray, "np.ndarray | None"]
RunPass = Callable[[Callable[..., Any], Callable[[Iterable[Any]], Any], str], Any]


# -- per-chunk functions and their aggregates (module level: shipped to workers)


def chunk_range(chunk: Chunk) -> tuple[float, float, int]:
    x, y, w = chunk
    check_chunk(x, y, w, None)
    if x.size == 0:
        return (np.inf, -np.inf, 0)
    return (float(x.min()), float(x.max()), int(x.size))


def agg_range(parts: Iterable[tuple[float, float, int]]) -> tuple[float, float, int]:
    lo, hi, n = np.inf, -np.inf, 0
    for a, b, k in parts:
        lo, hi, n = min(lo, a), max(hi, b), n + k
    return (lo, hi, n)


def compiled(rows: int) -> bool:
    """Whether a chunk of ``rows`` rows goes to the compiled kernels (:mod:`.kernels`).

    Small chunks use the NumPy code when numba is not loaded yet: loading it
    costs about a second, more than such a chunk takes.
    """
    import sys

    return rows >= COMPILED_ROWS or "relusum.scale._compiled" in sys.modules


def chunk_summary(chunk: Chunk, knots: np.ndarray, domain: tuple[float, float]) -> Summary:
    from relusum.scale.kernels import summary_of

    x, y, w = chunk
    if not compiled(x.size):
        return Summary.from_arrays(x, y, knots, domain, w)
    return summary_of(x, y, w, knots, domain)


def chunk_hulls(chunk: Chunk, knots: np.ndarray, domain: tuple[float, float]) -> Any:
    from relusum.fitting.hulls import HullSummary

    x, y, w = chunk
    check_chunk(x, y, w, domain)
    return HullSummary.from_arrays(x, y, knots, domain)


def agg_sum(parts: Iterable[Any]) -> Any:
    total = None
    for p in parts:
        total = p if total is None else total + p
    return total


def chunk_moments(chunk: Chunk, edges: np.ndarray, domain: tuple[float, float]) -> Any:
    from relusum.scale.kernels import moments_of

    x, y, w = chunk
    if not compiled(x.size):
        from relusum.fitting.free_l2.condense import bin_moments

        check_chunk(x, y, w, domain)
        return bin_moments(x, y, w, edges=edges, y0=0.0)
    return moments_of(x, y, w, edges, domain)


def chunk_errors(chunk: Chunk, model: ReluSum, every: int) -> tuple[float, float, int, Any, Any]:
    from relusum.scale.kernels import errors_of

    x, y, _ = chunk
    if x.size == 0:
        return (0.0, 0.0, 0, np.empty(0), np.empty(0))
    if compiled(x.size):
        sse, mx = errors_of(model, x, y)
    else:
        r = model(x) - y
        sse, mx = float(np.dot(r, r)), float(np.max(np.abs(r)))
    # copies, not views: a view would keep every chunk alive until the end
    xs, ys = x[::every].copy(), y[::every].copy()
    return (sse, mx, int(x.size), xs, ys)


def agg_errors(parts: Iterable[tuple[float, float, int, Any, Any]]) -> tuple:
    sse, mx, n, xs, ys = 0.0, 0.0, 0, [], []
    for s, m, k, a, b in parts:
        sse, mx, n = sse + s, max(mx, m), n + k
        xs.append(a)
        ys.append(b)
    return (
        sse,
        mx,
        n,
        np.concatenate(xs) if xs else np.empty(0),
        np.concatenate(ys) if ys else np.empty(0),
    )


# -- the driver ---------------------------------------------------------------


def fit_passes(
    run_pass: RunPass,
    *,
    n_units: int | None = None,
    knots: str | Sequence[float] = "uniform",
    domain: Sequence[Any] | None = None,
    loss: str | None = None,
    label: str = "data",
    known_range: tuple[float, float, int] | None = None,
    weighted: bool = False,
    extra: dict[str, Any] | None = None,
) -> FitResult:
    """Fit data seen only through passes over its chunks (see the module text).

    Parameters
    ----------
    run_pass : callable
        ``run_pass(per, agg, what)`` returns ``agg(per(chunk) for chunk in data)``.
    n_units, knots, domain, loss
        As in :func:`relusum.fit`; ``loss`` is ``"l2"`` (the default) or
        ``"linf"``: with uniform or given knots exact (the LP runs on the
        convex-hull vertices of each piece, :mod:`relusum.fitting.hulls`); with
        optimal knots the exact minimax of per-bin hull points, checked on every
        row (:mod:`relusum.scale.minimax`).
    label : str
        The data's name in the report (a file name).
    known_range : (min x, max x, rows), optional
        From file metadata: skips the range pass.
    weighted : bool
        Whether the chunks carry weights (for the report only).
    """
    start = time.perf_counter()
    loss = "l2" if loss is None else loss
    if loss not in ("l2", "linf"):
        raise ValueError(
            f"loss={loss!r} is not available for data read in chunks (out of core or Dask); "
            "use loss='l2' or 'linf', or load the data into memory"
        )
    if weighted and loss == "linf":  # as relusum.fit says for sample_weight
        raise ValueError(
            "weights apply to least squares (loss='l2'); the max error ignores weights"
        )
    if n_units is not None:
        n_units = check_n_units(n_units)
    optimal = isinstance(knots, str) and knots == "optimal"
    if isinstance(knots, str) and knots not in ("uniform", "optimal"):
        raise ValueError(f"knots must be 'uniform', 'optimal' or an array, got {knots!r}")
    passes = 0
    dom = parse_domain(domain)
    lo, hi, rows = known_range if known_range is not None else (None, None, None)
    if dom is None and rows is None:  # with a domain, each chunk is checked against it
        lo, hi, rows = run_pass(chunk_range, agg_range, "range")
        passes += 1
        if rows == 0:
            raise ValueError(f"{label}: no data rows")
    if dom is None:
        if lo == hi:
            raise ValueError(
                f"all data points have the same x = {lo}; a domain needs two distinct x"
            )
        dom = (float(lo), float(hi))
    elif lo is not None and (lo < dom[0] or hi > dom[1]):
        raise ValueError(
            f"data x range [{lo:.6g}, {hi:.6g}] is not inside "
            f"the domain [{dom[0]:.6g}, {dom[1]:.6g}]"
        )
    n_req = np.asarray(knots).size if not isinstance(knots, str) else (n_units or 16)
    if n_req > MAX_UNITS or (rows is not None and n_req > rows - 1):
        limit = MAX_UNITS if rows is None else min(MAX_UNITS, max(rows - 1, 0))
        raise ValueError(f"{n_req:,} units are too many for these data: at most {limit:,}")
    facts: dict[str, Any] = {}
    if optimal and loss == "linf":  # exact minimax on per-bin hulls, checked on every row
        from relusum.scale.minimax import optimal_linf

        n = 16 if n_units is None else n_units
        model, more, (sse, mx, n_err, xs, ys), k = optimal_linf(run_pass, n, dom, label)
        facts.update(more)
        passes += k
        rows, how = n_err, "optimal"
        seconds = time.perf_counter() - start
    else:
        model, rows, how, seconds, k = _fit_l2_or_fixed(
            run_pass, n_units, knots, optimal, loss, dom, label, facts, start
        )
        passes += k
        every = max(1, -(-int(rows) // SAMPLE_POINTS))
        sse, mx, n_err, xs, ys = run_pass(
            lambda c: chunk_errors(c, model, every), agg_errors, "errors"
        )
        passes += 1
        if n_err != rows:
            raise ValueError(
                f"{label}: the data changed between passes ({rows:,} rows, then {n_err:,}); "
                "nothing was written"
            )
    order = np.argsort(xs, kind="stable")
    sample = Target("data", label, dom, xs[order], ys[order])
    facts.update({"passes": passes, "sample_points": int(xs.size), **(extra or {})})
    if weighted:
        facts["weighted"] = True
    report = FitReport(
        n_units=model.n_units,
        n_pieces=model.n_pieces,
        rmse=float(np.sqrt(sse / rows)),
        max_abs_error=float(mx),
        error_on="data",
        seconds=seconds,
        loss=loss,
        knots=how,
        interpolate=False,
        n_samples=int(rows),
        n_verify=int(n_err),
        extra=facts,
    )
    return FitResult(model, report, sample)


def _fit_l2_or_fixed(
    run_pass: RunPass,
    n_units: int | None,
    knots: Any,
    optimal: bool,
    loss: str,
    dom: tuple[float, float],
    label: str,
    facts: dict[str, Any],
    start: float,
) -> tuple[ReluSum, int, str, float, int]:
    """Least squares (fixed or optimal knots) or max error with fixed knots: the model,
    the row count, how the knots were set, the seconds so far and the passes run."""
    from relusum.fitting.problem import Problem
    from relusum.fitting.solvers import solve

    passes = 0
    if optimal:
        n = 16 if n_units is None else n_units
        h = _optimal_knots(run_pass, n, dom, facts)
        passes += 1
        how = "optimal"
    elif isinstance(knots, str):
        n = 16 if n_units is None else n_units
        h, how = uniform_knots(dom, n), "uniform"
    else:
        h, how = check_knots(knots, dom), "given"
        if n_units is not None and n_units != h.size:
            raise ValueError(f"n_units={n_units} does not match the {h.size} knots given")
    if loss == "linf":
        summ = run_pass(lambda c: chunk_hulls(c, h, dom), agg_sum, "fit")
    else:
        summ = run_pass(lambda c: chunk_summary(c, h, dom), agg_sum, "fit")
    passes += 1
    rows = summ.count
    if rows == 0:
        raise ValueError(f"{label}: no data rows")
    if rows < h.size + 1:
        raise ValueError(
            f"{h.size} units need at least {h.size + 1} distinct x values, but the data have "
            f"{rows} rows"
        )
    if loss == "linf":  # the LP on the hull vertices of each piece: the same optimum
        hx, hy = summ.points()
        model, more = solve(Problem(Target("data", label, dom, hx, hy), "linf", knots=h))
        more = {**more, "binding_candidates": int(hx.size), "exact": not summ.thinned}
    else:
        empty_target = Target("data", label, dom, np.empty(0), np.empty(0))
        model, more = solve(Problem(empty_target, "l2", knots=h, summary=summ))
    facts.update(more)
    return model, int(rows), how, time.perf_counter() - start, passes


def _optimal_knots(run_pass: RunPass, n: int, dom: tuple[float, float], facts: dict) -> np.ndarray:
    """Free knots searched on per-bin moments (pseudo-points) of all rows."""
    from relusum.fitting.free_l2 import free_knot_l2
    from relusum.fitting.free_l2.condense import pseudo_points

    bins = max(MIN_BINS, BINS_PER_UNIT * n)
    edges = np.linspace(dom[0], dom[1], bins + 1)
    moments = run_pass(lambda c: chunk_moments(c, edges, dom), agg_sum, "bins")
    px, py, pw, _ = pseudo_points(moments)
    if px.size < n + 1:
        raise ValueError(f"{n} units need more distinct x values than these data have")
    model = free_knot_l2(Target("data", "condensed", dom, px, py, pw), n)
    facts.update({"knot_search": f"free-knot least squares on {bins:,} bins"})
    return model.knots


def fit_chunks(
    chunks: Callable[[], Iterable[Chunk]], *, total_rows: int | None = None, **kwargs: Any
) -> FitResult:
    """:func:`fit_passes` over an in-process iterable of ``(x, y, w)`` chunks.

    ``chunks()`` must yield the same data each time it is called (one call per pass).

    Examples
    --------
    >>> import numpy as np
    >>> from relusum.scale.chunks import fit_chunks
    >>> x = np.linspace(0, 1, 10_000)
    >>> parts = lambda: ((x[i:i + 999], 3 * x[i:i + 999], None) for i in range(0, x.size, 999))
    >>> r = fit_chunks(parts, n_units=2)
    >>> r.report.n_samples, round(r.model(1.0), 12)
    (10000, 3.0)
    """

    def run_pass(per: Callable[..., Any], agg: Callable[[Iterable[Any]], Any], what: str) -> Any:
        return agg(per(c) for c in chunks())

    return fit_passes(run_pass, **kwargs)
