"""The one signature of every solver: a :class:`Problem` in, a :class:`Solution` out.

See :mod:`relusum.fitting.solvers` for the table of solvers.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

import numpy as np

from relusum.fitting.constraints import NONE, Constraints
from relusum.model import ReluSum
from relusum.targets import Target

__all__ = ["Problem", "Solution"]


@dataclass(frozen=True)
class Problem:
    """What to fit.

    Attributes
    ----------
    target : Target
        The samples (function) or data points, sorted by x, with the domain.
    loss : str
        ``"l2"``, ``"linf"``, ... or ``"interpolate"`` (a key of the solver table).
    knots : ndarray or None
        Fixed knots (sorted, distinct, in ``[A, B)``); None for free knots.
    n_units : int or None
        Number of free knots; None for fixed knots.
    constraints : Constraints
        Shape constraints every solver must honour (or refuse with ``ValueError``).
    options : dict
        Loss parameters and solver options (``huber_delta``, ``quantile``, ...).
    progress : bool or None
        Progress bar wish (see :func:`relusum.fitting.progress.progress_bar`).
    init : ndarray or ReluSum or None
        A warm start for free-knot solvers.
    summary : object or None
        Sufficient statistics of the data when the samples are summarised
        (solvers that cannot use a summary read ``target``).
    """

    target: Target
    loss: str
    knots: np.ndarray | None = None
    n_units: int | None = None
    constraints: Constraints = NONE
    options: dict[str, Any] = field(default_factory=dict)
    progress: bool | None = None
    init: Any = None
    summary: Any = None

    @property
    def free(self) -> bool:
        """Whether the knots are to be chosen (``n_units``) rather than given."""
        return self.knots is None

    def with_(self, **changes: Any) -> Problem:
        """A copy with some fields changed."""
        return replace(self, **changes)


class Solution(NamedTuple):
    """A solver's answer: the model and facts for the report's ``extra``."""

    model: ReluSum
    facts: dict[str, Any]
