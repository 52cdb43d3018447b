"""``ReluSumRegressor``: relusum as a scikit-learn estimator (``pip install 'relusum[sklearn]'``).

A thin estimator over :func:`relusum.fit` (one column) and
:func:`relusum.fitting.additive.fit_additive` (several columns: an additive
model ``intercept + sum_j s_j(x_j)``, still one hidden ReLU layer).  It works
in ``Pipeline``, ``GridSearchCV``, ``clone`` and pickling, takes pandas frames
(column names are kept) and passes ``sklearn.utils.estimator_checks``.

Examples
--------
>>> import numpy as np
>>> from relusum import ReluSumRegressor
>>> rng = np.random.default_rng(0)
>>> X = rng.uniform(0, 1, (300, 1)); y = np.abs(X[:, 0] - 0.5) + rng.normal(0, 0.01, 300)
>>> est = ReluSumRegressor(n_units=4).fit(X, y)
>>> bool(est.score(X, y) > 0.95), est.model_.n_units
(True, 4)
"""

from __future__ import annotations

from typing import Any

import numpy as np

try:
    from sklearn.base import BaseEstimator, RegressorMixin
    from sklearn.utils.validation import (
        _check_sample_weight,
        check_is_fitted,
        validate_data,
    )
except ImportError as exc:  # pragma: no cover - exercised without the extra
    raise ImportError(
        "ReluSumRegressor needs scikit-learn: pip install 'relusum[sklearn]'"
    ) from exc

from relusum.additive import AdditiveReluSum
from relusum.fitting.additive import KNOT_PLACEMENTS, column_knots, fit_additive
from relusum.fitting.report import FitReport
from relusum.fitting.select import SELECTIONS, score_curve

__all__ = ["ReluSumRegressor"]


class ReluSumRegressor(RegressorMixin, BaseEstimator):
    """Least-squares (or max-error) sums of shifted ReLUs as a regressor.

    Parameters
    ----------
    n_units : int or "auto"
        Units per column; ``"auto"`` chooses them by ``selection``.
    knots : {"uniform", "quantile", "optimal"}
        Knot placement (per column).  ``"optimal"`` is free-knot least squares
        for one column and backfitting for several.
    loss : {None, "l2", "linf", "l1", "huber", "quantile"}
        ``None`` means least squares; the others need one column.
    tol : float, optional
        One column only: the fewest units whose error is within ``tol``.
    max_units : int
        Upper limit for ``tol`` and ``"auto"``.
    selection : {"cv", "bic", "gcv"}
        Criterion of ``n_units="auto"``.
    folds : int
        Folds of ``selection="cv"``.
    random_state : int
        Seed of the cross-validation folds.
    monotone, shape, slope_bounds, value_bounds, through, right_slope : optional
        Shape constraints, as in :func:`relusum.fit` (one column).
    huber_delta, quantile : float, optional
        Parameters of ``loss="huber"`` and ``loss="quantile"``.

    Attributes
    ----------
    model_ : ReluSum or AdditiveReluSum
        The fitted function (a ``ReluSum`` for one column).
    models_ : list of ReluSum
        One sum per column (for one column, ``[model_]``).
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Present when ``X`` had column names (pandas).
    report_ : FitReport
        Errors on the training data and the fit's facts.
    n_units_ : list of int
        Units per column actually used.
    selection_curve_ : list of (n, score)
        With ``n_units="auto"``: the score of every n tried.
    """

    def __init__(
        self,
        n_units: int | str = 16,
        knots: str = "uniform",
        loss: str | None = None,
        tol: float | None = None,
        max_units: int = 1000,
        selection: str = "cv",
        folds: int = 5,
        random_state: int = 0,
        monotone: str | None = None,
        shape: str | None = None,
        slope_bounds: tuple | None = None,
        value_bounds: tuple | None = None,
        through: Any = None,
        right_slope: float | None = None,
        huber_delta: float | None = None,
        quantile: float | None = None,
    ) -> None:
        self.n_units = n_units
        self.knots = knots
        self.loss = loss
        self.tol = tol
        self.max_units = max_units
        self.selection = selection
        self.folds = folds
        self.random_state = random_state
        self.monotone = monotone
        self.shape = shape
        self.slope_bounds = slope_bounds
        self.value_bounds = value_bounds
        self.through = through
        self.right_slope = right_slope
        self.huber_delta = huber_delta
        self.quantile = quantile

    # -- scikit-learn plumbing ----------------------------------------------
    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        return tags

    def _check_params(self) -> None:
        if self.knots not in KNOT_PLACEMENTS:
            raise ValueError(
                f"knots must be one of {', '.join(KNOT_PLACEMENTS)}; got {self.knots!r}"
            )
        if self.loss not in (None, "l2", "linf", "l1", "huber", "quantile"):
            raise ValueError(
                f"loss must be None, 'l2', 'linf', 'l1', 'huber' or 'quantile'; got {self.loss!r}"
            )
        if self.selection not in SELECTIONS:
            raise ValueError(
                f"selection must be one of {', '.join(SELECTIONS)}; got {self.selection!r}"
            )
        auto = isinstance(self.n_units, str)
        if auto and self.n_units != "auto":
            raise ValueError(f"n_units must be a positive integer or 'auto'; got {self.n_units!r}")
        if not auto and (
            isinstance(self.n_units, bool)
            or not isinstance(self.n_units, (int, np.integer))
            or self.n_units < 1
        ):
            raise ValueError(f"n_units must be a positive integer or 'auto'; got {self.n_units!r}")

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> ReluSumRegressor:
        """Fit to ``X`` (``(N, d)``) and ``y`` (``(N,)``), optionally weighted."""
        self._check_params()
        X, y = validate_data(self, X, y, y_numeric=True, dtype=np.float64)
        w = _check_sample_weight(sample_weight, X, dtype=np.float64)
        if not np.any(w > 0):
            raise ValueError("sample_weight is zero everywhere")
        d = X.shape[1]
        pos = w > 0
        if d > 1 and (self.loss not in (None, "l2") or self.tol is not None or self._shape()):
            raise ValueError(
                "loss other than 'l2', tol= and shape constraints apply to one column; "
                f"X has {d} columns"
            )
        names = [str(n) for n in getattr(self, "feature_names_in_", [])] or None
        self.selection_curve_ = None
        if d == 1:
            self._fit_one(X[:, 0], y, w)
        else:
            units = self.n_units
            if units == "auto":
                units = self._select_additive(X[pos], y[pos], w[pos])
            model = fit_additive(X[pos], y[pos], units, self.knots, w[pos], names)
            self.model_ = model
            self._train = (X[pos], y[pos], w[pos])  # for the partial bands of plot_partial
            self.models_ = list(model.components)
            self.n_units_ = [c.n_units for c in model.components]
            self.report_ = self._report(model(X[pos]) - y[pos], w[pos], model.n_units)
        return self

    def _fit_one(self, x: np.ndarray, y: np.ndarray, w: np.ndarray) -> None:
        from relusum.fitting.api import fit

        pos = w > 0
        xs, ys, ws = x[pos], y[pos], w[pos]
        if np.unique(xs).size < 2:
            raise ValueError(
                "ReluSumRegressor needs at least two distinct x values (with weight > 0)"
            )
        weights = None if np.all(ws == 1.0) else ws
        kwargs: dict[str, Any] = dict(self._shape())
        if self.loss is not None:
            kwargs["loss"] = self.loss
        if self.tol is not None:
            result = fit(
                (xs, ys),
                knots=self._knots_1d(),
                tol=self.tol,
                max_units=self.max_units,
                sample_weight=weights,
                **kwargs,
            )
        elif self.n_units == "auto":
            result = fit(
                (xs, ys),
                n_units="auto",
                knots=self._knots_1d(),
                sample_weight=weights,
                selection=self.selection,
                folds=self.folds,
                max_units=self.max_units,
                **kwargs,
            )
            self.selection_curve_ = result.report.extra.get("selection_curve")
        else:
            n = min(int(self.n_units), np.unique(xs).size - 1)
            knots: Any = self._knots_1d()
            if self.knots == "quantile":
                knots = column_knots(xs, n, "quantile")
                n = knots.size
            result = fit((xs, ys), n_units=n, knots=knots, sample_weight=weights, **kwargs)
        self.result_ = result
        self.model_ = result.model
        self.models_ = [result.model]
        self.n_units_ = [result.model.n_units]
        self.report_ = result.report

    def _shape(self) -> dict[str, Any]:
        """The constraint and robust-loss options that are set, as ``fit`` keywords."""
        names = (
            "monotone",
            "shape",
            "slope_bounds",
            "value_bounds",
            "through",
            "right_slope",
            "huber_delta",
            "quantile",
        )
        return {k: getattr(self, k) for k in names if getattr(self, k) is not None}

    def _knots_1d(self) -> str:
        return "optimal" if self.knots == "optimal" else "uniform"

    def _select_additive(self, X: np.ndarray, y: np.ndarray, w: np.ndarray) -> int:
        cap = max(
            1, min(int(self.max_units), min(np.unique(X[:, j]).size for j in range(X.shape[1])) - 1)
        )

        def fit_n(n: int, mask: np.ndarray | None):
            if mask is None:
                return fit_additive(X, y, n, self.knots, w)
            m = fit_additive(X[mask], y[mask], n, self.knots, w[mask])
            return m

        # score_curve evaluates models on rows of one "x": pass row indices.
        rows = np.arange(X.shape[0])

        def fit_rows(n: int, mask: np.ndarray | None):
            m = fit_n(n, mask)
            return lambda idx: m(X[np.asarray(idx, dtype=int)])

        best, curve = score_curve(
            fit_rows, rows, y, w, cap, self.selection, self.folds, self.random_state
        )
        self.selection_curve_ = [[int(n), float(s)] for n, s in curve]
        return best

    def _report(self, resid: np.ndarray, w: np.ndarray, n_units: int) -> FitReport:
        return FitReport(
            n_units=int(n_units),
            n_pieces=int(sum(c.n_pieces for c in self.models_)),
            rmse=float(np.sqrt(np.average(resid * resid, weights=w))),
            max_abs_error=float(np.max(np.abs(resid))),
            error_on="data",
            seconds=0.0,
            loss="l2",
            knots=self.knots,
            interpolate=False,
            n_samples=int(resid.size),
            n_verify=int(resid.size),
            extra={"n_features": len(self.models_)},
        )

    def predict(self, X: Any) -> np.ndarray:
        """Predicted values for the rows of ``X``."""
        check_is_fitted(self, "model_")
        X = validate_data(self, X, reset=False, dtype=np.float64)
        if isinstance(self.model_, AdditiveReluSum):
            return self.model_(X)
        return np.asarray(self.model_(X[:, 0]), dtype=float)

    def band(
        self, X: Any, level: float = 0.95, kind: str = "confidence", robust: bool = False
    ) -> tuple[np.ndarray, np.ndarray]:
        """Pointwise band at the rows of ``X`` (one column; see ``FitResult.band``)."""
        check_is_fitted(self, "model_")
        if isinstance(self.model_, AdditiveReluSum):
            raise ValueError("band() is available for one column; X had several")
        X = validate_data(self, X, reset=False, dtype=np.float64)
        return self.result_.band(X[:, 0], level, kind, robust)
