"""The trained networks of the convergence figure (needs the PyTorch extra).

Without PyTorch the tour still runs; the trained-network curve is left out and
the page and the command say so in one line, :data:`TORCH_HINT`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from relusum.fitting.api import measure
from relusum.model import ReluSum
from relusum.targets import Target
from relusum.tour.data import TRAIN_STEPS, TRAINED, Convergence
from relusum.tour.progress import Progress

__all__ = ["TORCH_HINT", "trainer", "train_curve"]

#: What the tour says when PyTorch is missing.
TORCH_HINT = "the trained-network curve needs PyTorch: pip install 'relusum[torch]'"


def trainer() -> tuple[Callable[..., Any] | None, Callable[..., Any] | None, str | None]:
    """The PyTorch bridge's ``train`` and ``plot_units``, or the reason they are missing.

    The reason is one line; without PyTorch it is :data:`TORCH_HINT`.
    """
    try:
        import torch  # noqa: F401

        from relusum import torch_bridge
    except ImportError:
        return None, None, TORCH_HINT
    train = getattr(torch_bridge, "train", None)
    if train is None:
        return None, None, "relusum.torch_bridge has no train()"
    return train, getattr(torch_bridge, "plot_units", None), None


def train_curve(
    train: Callable[..., Any],
    fit_target: Any,
    dom: tuple[float, float],
    tgt: Target,
    conv: Convergence,
    units: tuple[int, ...],
    bar: Progress,
) -> tuple[Convergence, dict[int, Any], str | None]:
    """Train one network per unit count and measure it like every other fit.

    Returns the convergence data with a ``"trained"`` line, what ``train``
    returned per unit count, and the reason when no network could be trained.
    Training runs on one thread (restored afterwards): these networks are far
    too small to gain from more, and on a busy machine extra threads only spin.
    """
    import torch

    key, label = TRAINED
    e_max = np.full(conv.units.size, np.nan)
    e_rms = np.full(conv.units.size, np.nan)
    models: dict[int, Any] = {}
    reason = None
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for n in units:
            try:
                net = train(fit_target, dom, n, steps=TRAIN_STEPS, seed=0, progress=False)
                model = getattr(net, "relusum", None)
                if not isinstance(model, ReluSum):
                    raise TypeError(f"train() gave no ReluSum ({type(net).__name__})")
            except (ImportError, ValueError, TypeError, NotImplementedError, RuntimeError) as exc:
                reason = f"training failed: {exc}".splitlines()[0]
                bar.step("training failed", len(units) - units.index(n))
                break
            rmse, mae, _ = measure(model.with_domain(dom), tgt)
            hit = np.flatnonzero(conv.units == n)
            if hit.size:
                e_max[hit[0]], e_rms[hit[0]] = mae, rmse
            models[n] = net
            bar.step(f"trained network, {n} units")
    finally:
        torch.set_num_threads(threads)
    if models:
        conv.max_error[key] = e_max
        conv.rmse[key] = e_rms
        conv.labels[key] = label
        reason = None
    return conv, models, reason
