"""Choosing the number of units: K-fold cross-validation, BIC or GCV.

Each criterion scores ``n = 1, 2, ...`` and the smallest score wins; the
search stops ``patience`` steps after the best score so far (or at the
capacity of the data / ``max_units``).  What each assumes:

``"cv"`` (default)
    K-fold cross-validated mean squared error (folds shuffled with a fixed
    seed).  Assumes only that the rows are exchangeable; it is the most
    expensive (K fits per n) and slightly noisy between seeds.
``"bic"``
    ``N log(RSS / N) + p log N`` with ``p`` the parameter count: ``n + 1``
    values for fixed knots, plus one per free knot position for optimal
    knots.  Assumes independent Gaussian errors of constant variance and a
    true model among the candidates; consistent (picks the true n as N grows)
    when those hold, and it under-fits rather than over-fits otherwise.
``"gcv"``
    ``N RSS / (N - p)^2``, generalised cross-validation of a linear smoother
    (exact for fixed knots).  For free knots the knot positions are counted
    as parameters, which is an approximation.

Only least-squares (``loss="l2"``) fits on data can be selected this way.

Examples
--------
>>> import numpy as np
>>> import relusum
>>> rng = np.random.default_rng(0)
>>> x = rng.uniform(0, 1, 500)
>>> y = np.maximum(x - 0.5, 0) * 4 + rng.normal(0, 0.05, 500)
>>> r = relusum.fit((x, y), n_units="auto", knots="optimal", selection="bic")
>>> r.model.n_units, r.report.extra["selection"]
(1, 'bic')
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["SELECTIONS", "select_units", "score_curve", "fit_auto"]

SELECTIONS = ("cv", "bic", "gcv")


def _params(n: int, free_knots: int) -> int:
    return n + 1 + free_knots


def score_curve(
    fit_n: Callable[[int, np.ndarray | None], Any],
    x: np.ndarray,
    y: np.ndarray,
    w: np.ndarray,
    max_n: int,
    selection: str = "cv",
    folds: int = 5,
    seed: int = 0,
    patience: int = 4,
    free: bool = False,
) -> tuple[int, list[tuple[int, float]]]:
    """Score ``n = 1 .. max_n`` and return the best ``n`` and the curve ``[(n, score)]``.

    ``fit_n(n, mask)`` fits ``n`` units on the rows where ``mask`` is True
    (all rows when ``mask`` is None) and returns a callable model.
    """
    if selection not in SELECTIONS:
        raise ValueError(f"selection must be one of {', '.join(SELECTIONS)}; got {selection!r}")
    if isinstance(folds, bool) or not isinstance(folds, (int, np.integer)) or folds < 2:
        raise ValueError(f"folds must be an integer >= 2, got {folds!r}")
    N = x.size
    if selection == "cv":
        if folds > N:
            raise ValueError(f"{folds} folds need at least {folds} points, got {N}")
        rng = np.random.default_rng(seed)
        fold_of = rng.permutation(np.arange(N) % folds)
    curve: list[tuple[int, float]] = []
    best_n, best = 0, np.inf
    for n in range(1, max_n + 1):
        if selection == "cv":
            err = 0.0
            for k in range(folds):
                test = fold_of == k
                try:
                    m = fit_n(n, ~test)
                except ValueError:
                    err = np.inf  # a fold cannot carry n units
                    break
                r = m(x[test]) - y[test]
                err += float(np.sum(w[test] * r * r))
            score = err / float(np.sum(w))
        else:
            m = fit_n(n, None)
            r = m(x) - y
            rss = float(np.sum(w * r * r))
            p = _params(n, n if free else 0)
            if p >= N:
                break
            rss = max(rss, 1e-300)
            score = (
                N * np.log(rss / N) + p * np.log(N)
                if selection == "bic"
                else N * rss / (N - p) ** 2
            )
        curve.append((n, float(score)))
        if score < best * (1 - 1e-12):
            best_n, best = n, score
        elif n - best_n >= patience:
            break
    if best_n == 0:
        raise ValueError("no number of units could be scored on these data")
    return best_n, curve


def select_units(
    target: Any,
    knots: str,
    max_units: int,
    selection: str = "cv",
    folds: int = 5,
    seed: int = 0,
    *,
    fit: Callable[..., Any],
    **fit_kwargs: Any,
) -> tuple[int, list[tuple[int, float]]]:
    """Best ``n_units`` for a data target by ``selection``; see the module docstring.

    ``fit`` is :func:`relusum.fit` (passed in, so this module does not import upward).
    """
    if target.fn is not None:
        raise ValueError(
            "n_units='auto' chooses units for noisy data; for a function give tol= "
            "(the fewest units within an error) or n_units"
        )
    if knots not in ("uniform", "optimal"):
        raise ValueError("n_units='auto' needs knots='uniform' or 'optimal'")
    x, y = target.x, target.y
    w = np.ones_like(x) if target.weight is None else target.weight
    distinct = int(np.unique(x).size)
    cap = min(int(max_units), distinct - 1)
    if selection == "cv":
        cap = min(cap, max(1, (distinct * (folds - 1)) // folds - 1))
    if cap < 1:
        raise ValueError("n_units='auto' needs at least two distinct x values")

    def fit_n(n: int, mask: np.ndarray | None):
        if mask is None:
            xs, ys, ws = x, y, w
        else:
            xs, ys, ws = x[mask], y[mask], w[mask]
        return fit(
            (xs, ys),
            n_units=n,
            knots=knots,
            sample_weight=ws,
            domain=target.domain,
            **fit_kwargs,
        ).model

    return score_curve(fit_n, x, y, w, cap, selection, folds, seed, free=(knots == "optimal"))


def fit_auto(
    target: Any,
    domain: Any,
    knots: str,
    loss: str,
    samples: Any,
    sample_weight: Any,
    selection: str,
    folds: int,
    max_units: int,
    progress: Any,
    fit: Callable[..., Any],
):
    """``fit(..., n_units="auto")``: select n, fit it on all the data, keep the curve.

    ``fit`` is :func:`relusum.fit`, passed in by it.
    """
    import dataclasses
    import time

    from relusum.targets import make_target

    if loss != "l2":
        raise ValueError(f"n_units='auto' selects least-squares fits (loss='l2'), not {loss!r}")
    start = time.perf_counter()
    tgt = make_target(target, domain, samples, sample_weight)
    n, curve = select_units(tgt, knots, max_units, selection, folds, fit=fit, progress=progress)
    r = fit(
        (tgt.x, tgt.y),
        domain=tgt.domain,
        n_units=n,
        knots=knots,
        sample_weight=tgt.weight,
        progress=progress,
    )
    extra = dict(r.report.extra)
    extra.update(
        selection=selection,
        selection_curve=[[int(k), float(v)] for k, v in curve],
        n_units_selected=int(n),
    )
    report = dataclasses.replace(r.report, extra=extra, seconds=time.perf_counter() - start)
    return dataclasses.replace(r, report=report, target=tgt)
