"""The trained networks of the convergence figure (needs the PyTorch extra).

Without PyTorch the tour still runs; the trained-network curve is left out and
the page and the command say so in one line, :data:`TORCH_HINT`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from relusum.fitting.api import measure
from relusum.model import ReluSum
from relusum.targets import Target
from relusum.tour.data import TRAIN_STEPS

__all__ = ["TORCH_HINT", "trainer", "train_curve"]

#: What the tour says when PyTorch is missing.
TORCH_HINT = "the trained-network curve needs PyTorch: pip install 'relusum[torch]'"


def trainer() -> tuple[Callable[..., Any] | None, Callable[..., Any] | None, str | None]:
    """The PyTorch bridge's ``train_many`` and ``plot_units``, or the reason they are missing.

    The reason is one line; without PyTorch it is :data:`TORCH_HINT`.
    """
    try:
        import torch  # noqa: F401

        from relusum import torch_bridge
    except ImportError:
        return None, None, TORCH_HINT
    train_many = getattr(torch_bridge, "train_many", None)
    if train_many is None:
        return None, None, "relusum.torch_bridge has no train_many()"
    return train_many, getattr(torch_bridge, "plot_units", None), None


def train_curve(
    train_many: Callable[..., Any],
    fit_target: Any,
    dom: tuple[float, float],
    tgt: Target,
    units: tuple[int, ...],
) -> tuple[dict[int, tuple[float, float]], dict[int, Any], str | None]:
    """Train one network per unit count (all at once) and measure each like every other fit.

    Returns ``(rmse, max error)`` on the verification grid per unit count,
    what ``train_many`` returned per unit count, and the reason when the
    networks could not be trained.  :func:`relusum.torch_bridge.train_many`
    trains each network exactly as :func:`~relusum.torch_bridge.train` would
    (same seed, same steps), in one batched program: the six networks cost
    about what the largest alone did.
    """
    try:
        nets = train_many(fit_target, dom, units, steps=TRAIN_STEPS, seed=0, progress=False)
        models = dict(zip(units, nets, strict=True))
        for net in nets:
            if not isinstance(getattr(net, "relusum", None), ReluSum):
                raise TypeError(f"train_many() gave no ReluSum ({type(net).__name__})")
    except (ImportError, ValueError, TypeError, NotImplementedError, RuntimeError) as exc:
        return {}, {}, f"training failed: {exc}".splitlines()[0]
    errors = {}
    for n, net in models.items():
        rmse, mae, _ = measure(net.relusum.with_domain(dom), tgt)
        errors[n] = (rmse, mae)
    return errors, models, None
