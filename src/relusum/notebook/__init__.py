"""The explorer inside Jupyter: :func:`widget` (extra ``relusum[notebook]``).

The widget is the page of ``relusum explore`` -- the same front-end files, see
:mod:`relusum.notebook.bundle` -- drawn in a notebook output, with its requests
answered in the kernel by the same :class:`~relusum.explore.api.ExploreApi`
that serves the web page.  Its ``model`` is the :class:`~relusum.ReluSum` on
screen, so a learner can move the slider and keep working in Python.

anywidget is imported only when :func:`widget` is called.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from relusum.notebook.explorer import ExplorerWidget

__all__ = ["widget", "NOTEBOOK_NEEDED"]

#: The message when anywidget is missing.
NOTEBOOK_NEEDED = "the notebook widget needs anywidget: pip install 'relusum[notebook]'"


def widget(
    target: str = "sin(x)",
    domain: tuple[Any, Any] = (-3, 3),
    units: int = 8,
    method: str = "lstsq",
    *,
    show_terms: bool = True,
    workers: int = 0,
) -> ExplorerWidget:
    """The explorer as a Jupyter widget: units slider, methods, the units' army, hand mode.

    Parameters
    ----------
    target : str
        A formula in ``x`` (the same language as ``relusum fit``), e.g. ``"sin(x)"``.
    domain : (A, B)
        The interval; numbers or constant expressions such as ``"-pi"``.
    units : int
        Units of the first fit (1 to 200; the slider changes it).
    method : {"lstsq", "interp", "opt-l2", "opt-linf", "train"}
        Fitting method (``"train"`` needs the ``torch`` extra).
    show_terms : bool
        Draw each unit ``w * max(0, x - h)`` under the sum.
    workers : int
        ``0`` (default) runs the fits in the kernel's own threads; ``n > 0`` runs them
        in ``n`` worker processes that are stopped at the explorer's time limits.

    Returns
    -------
    ExplorerWidget
        Display it (the last expression of a cell). ``w.model`` is the current
        :class:`~relusum.ReluSum`, ``w.report`` its errors; setting ``w.units``,
        ``w.method``, ``w.formula`` or ``w.domain`` refits and redraws.

    Raises
    ------
    ImportError
        Without anywidget (``pip install 'relusum[notebook]'``).
    ValueError
        For a formula, domain, unit count or method the explorer would refuse.

    Examples
    --------
    >>> import relusum
    >>> w = relusum.widget("sin(x)", domain=(-3, 3), units=8)
    >>> w.model.n_units
    8
    >>> w.units = 12
    >>> w.model.n_units
    12
    >>> w.close()
    """
    try:
        from relusum.notebook.explorer import ExplorerWidget
    except ImportError as exc:
        if "anywidget" in str(exc) or "ipywidgets" in str(exc) or "traitlets" in str(exc):
            raise ImportError(NOTEBOOK_NEEDED) from None
        raise
    return ExplorerWidget(
        target=target,
        domain=domain,
        units=units,
        method=method,
        show_terms=show_terms,
        workers=workers,
    )
