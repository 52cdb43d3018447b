"""The table from (knots, loss) to a solver, and :func:`solve`.

Every solver has one signature: it takes a :class:`~relusum.fitting.problem.Problem`
(the target's samples or a summary of them, fixed knots or a count of free
knots, the :class:`~relusum.fitting.constraints.Constraints`, loss options) and
returns a :class:`~relusum.fitting.problem.Solution` (a
:class:`~relusum.model.ReluSum` and a dict of facts that goes into the report's
``extra``).  Solvers measure nothing on the verification set and import nothing
above this layer; :func:`relusum.fitting.report.finish` measures.

Adding a solver
    Write one function ``solve_x(problem) -> Solution`` (in its own module
    when it is more than a few lines), then add one entry to :data:`SOLVERS`
    under ``(knots, loss)`` where ``knots`` is ``"fixed"`` (``problem.knots``
    is an array) or ``"free"`` (``problem.n_units`` is a count).  Set
    ``constraints=True`` in its :class:`Entry` once it honours every field of
    ``problem.constraints``; until then :func:`solve` refuses constrained
    problems for it with a clear message.  A new loss name becomes valid for
    :func:`relusum.fit` as soon as it is in the table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from relusum.fitting.fixed import check_capacity, interpolate_knots, lstsq_knots
from relusum.fitting.minimax import linf_fixed_target
from relusum.fitting.optimal import fit_optimal
from relusum.fitting.problem import Problem, Solution

__all__ = ["Entry", "SOLVERS", "solve", "losses"]


@dataclass(frozen=True)
class Entry:
    """One row of the solver table."""

    solve: Callable[[Problem], Solution]
    #: The method's name, for messages and the docs.
    method: str
    #: Whether the solver honours ``problem.constraints``.
    constraints: bool = False
    #: Whether the solver can work from ``problem.summary`` instead of samples.
    summary: bool = False


def _fixed_l2(p: Problem) -> Solution:
    if p.summary is not None:  # data seen in chunks: a relusum.fitting.summary.Summary
        if not np.array_equal(p.summary.knots, p.knots):
            raise ValueError("the summary was made for other knots than the problem's")
        if p.constraints.active:
            raise ValueError(
                f"{', '.join(p.constraints.names())} cannot be used with data seen in chunks yet"
            )
        return Solution(p.summary.solve(), {"method": "banded least squares on a summary"})
    if not p.constraints.active:
        return Solution(lstsq_knots(p.target, p.knots), {})
    from relusum.fitting.qp import qp_knots

    model = qp_knots(p.target, p.knots, p.constraints)
    return Solution(model, {"method": "constrained least squares (QP, HiGHS)"})


def _fixed_interpolate(p: Problem) -> Solution:
    return Solution(interpolate_knots(p.target, p.knots), {})


def _fixed_linf(p: Problem) -> Solution:
    check_capacity(p.target.x, p.knots.size, data=p.target.fn is None)
    if not p.constraints.active:
        return Solution(linf_fixed_target(p.target, p.knots), {"method": "linear program"})
    from relusum.fitting.robust import lp_knots

    model = lp_knots(p.target, p.knots, "linf", p.constraints)
    return Solution(model, {"method": "constrained linear program (HiGHS)"})


def _fixed_l1(p: Problem) -> Solution:
    from relusum.fitting.robust import lp_knots

    model = lp_knots(p.target, p.knots, "l1", p.constraints)
    return Solution(model, {"method": "least absolute deviations (LP, HiGHS)"})


def _fixed_quantile(p: Problem) -> Solution:
    from relusum.fitting.robust import lp_knots

    q = p.options.get("quantile", 0.5)
    model = lp_knots(p.target, p.knots, "quantile", p.constraints, quantile=q)
    return Solution(model, {"method": "quantile regression (LP, HiGHS)", "quantile": q})


def _fixed_huber(p: Problem) -> Solution:
    from relusum.fitting.robust import huber_knots

    model, facts = huber_knots(p.target, p.knots, p.constraints, delta=p.options.get("huber_delta"))
    facts["method"] = "huber (IRLS, exact pattern steps)"
    return Solution(model, facts)


def _free(loss: str) -> Callable[[Problem], Solution]:
    fixed = SOLVERS[("fixed", loss)].solve

    def solve_free_knots(p: Problem) -> Solution:
        if loss in ("l2", "linf") and not p.constraints.active:
            model, facts = fit_optimal(
                p.target,
                p.n_units,
                loss,
                progress=p.progress,
                init=p.init,
                pin_first=bool(p.options.get("pin_first", False)),
                **{k: p.options[k] for k in ("search", "agree") if k in p.options},
            )
            return Solution(model, facts)
        from relusum.fitting.free_constrained import solve_free

        return solve_free(p, fixed)

    solve_free_knots.__name__ = f"free_{loss}"
    return solve_free_knots


#: (knots, loss) -> solver.  ``knots`` is "fixed" or "free".
SOLVERS: dict[tuple[str, str], Entry] = {
    ("fixed", "l2"): Entry(
        _fixed_l2, "banded least squares; QP with constraints", constraints=True, summary=True
    ),
    ("fixed", "interpolate"): Entry(_fixed_interpolate, "interpolation"),
    ("fixed", "linf"): Entry(_fixed_linf, "linear program (HiGHS)", True),
    ("fixed", "l1"): Entry(_fixed_l1, "least absolute deviations, LP (HiGHS)", True),
    ("fixed", "huber"): Entry(_fixed_huber, "Huber, IRLS + exact pattern steps", True),
    ("fixed", "quantile"): Entry(_fixed_quantile, "pinball loss, LP (HiGHS)", True),
}
SOLVERS.update(
    {
        ("free", "l2"): Entry(_free("l2"), "free-knot least squares", True),
        ("free", "linf"): Entry(_free("linf"), "exact minimax", True),
        ("free", "l1"): Entry(_free("l1"), "heuristic knots, exact LP weights", True),
        ("free", "huber"): Entry(_free("huber"), "heuristic knots, exact Huber weights", True),
        ("free", "quantile"): Entry(_free("quantile"), "heuristic knots, exact LP weights", True),
    }
)


def losses() -> tuple[str, ...]:
    """The loss names some solver handles (``"interpolate"`` excluded), in table order."""
    out: list[str] = []
    for _, loss in SOLVERS:
        if loss != "interpolate" and loss not in out:
            out.append(loss)
    return tuple(out)


def solve(problem: Problem) -> Solution:
    """Look the problem up in :data:`SOLVERS` and run its solver.

    Examples
    --------
    >>> from relusum.targets import make_target
    >>> from relusum.fitting.problem import Problem
    >>> from relusum.fitting.solvers import solve
    >>> import numpy as np
    >>> p = Problem(make_target("abs(x)", (-1, 1)), "l2", knots=np.array([-1.0, 0.0]))
    >>> model, facts = solve(p)
    >>> model.weights.round(9).tolist()
    [-1.0, 2.0]
    """
    kind = "free" if problem.free else "fixed"
    entry = SOLVERS.get((kind, problem.loss))
    if entry is None:
        knots = "optimal" if kind == "free" else "fixed"
        have = sorted(loss for k, loss in SOLVERS if k == kind)
        raise ValueError(
            f"loss={problem.loss!r} with {knots} knots is not available; "
            f"available: {', '.join(have)}"
        )
    if problem.constraints.active and not entry.constraints:
        knots = "optimal" if kind == "free" else "fixed"
        raise ValueError(
            f"{', '.join(problem.constraints.names())} cannot be used with "
            f"loss={problem.loss!r} and {knots} knots yet"
        )
    return entry.solve(problem)
