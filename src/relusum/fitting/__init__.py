"""Fitting: from a target to a :class:`~relusum.model.ReluSum` (which knows nothing of fits).

Layers (each imports only the ones above it in this list)

- :mod:`~relusum.fitting.report`: :class:`FitReport`, :class:`FitResult`,
  ``measure`` and ``finish`` (verification on a set separate from the samples);
  :mod:`~relusum.fitting.constraints`: the :class:`Constraints` value object;
  :mod:`~relusum.fitting.problem`: ``Problem`` and ``Solution``, the one
  signature of every solver; :mod:`~relusum.fitting.progress`.
- solvers: :mod:`~relusum.fitting.hat` and :mod:`~relusum.fitting.fixed`
  (banded least squares), :mod:`~relusum.fitting.minimax`,
  :mod:`~relusum.fitting.free_l2`, :mod:`~relusum.fitting.optimal`.
- :mod:`~relusum.fitting.solvers`: the table ``(knots, loss) -> solver``.
  **A new solver is one function ``solve_x(problem) -> Solution`` plus one
  entry in ``SOLVERS``** (see that module's docstring).
- :mod:`~relusum.fitting.tolerance`: the fewest units for an error (calls the table).
- :mod:`~relusum.fitting.api`: :func:`fit`, the one public entry point.
"""

from relusum.fitting.api import FitReport, FitResult, fit
from relusum.fitting.constraints import Constraints

__all__ = ["fit", "FitResult", "FitReport", "Constraints"]
