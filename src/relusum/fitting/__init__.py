"""Fitting: from a target to a :class:`~relusum.model.ReluSum` (which knows nothing of fits)."""

from relusum.fitting.api import FitReport, FitResult, fit

__all__ = ["fit", "FitResult", "FitReport"]
