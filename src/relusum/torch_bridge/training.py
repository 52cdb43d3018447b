"""Training a one-hidden-layer network with Adam, to compare with the optimal fit."""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from relusum.model import ReluSum
from relusum.targets import Target, TargetLike, make_target
from relusum.torch_bridge.batched_loss import BatchedLoss
from relusum.torch_bridge.convert import from_torch
from relusum.torch_bridge.layers import _mlp_from_arrays

#: 2 GiB in float64 with the tensors autograd keeps.
MAX_TRAIN_WORK = 1 << 26


@dataclass(frozen=True)
class TrainResult:
    """The outcome of :func:`train`.

    Attributes
    ----------
    model : torch.nn.Sequential
        The trained ``Linear(1, n), ReLU, Linear(n, 1)`` network (in ``x``: the
        input and output scalings used in training are folded into it); the
        parameters with the lowest training loss seen.
    history : ndarray
        The training loss (mean squared error on the samples, in the target's
        units) before each step, and after the last one.
    relusum : ReluSum
        The exact decomposition of ``model`` on the domain (:func:`from_torch`).
    seconds : float
        Wall time of the training (sampling and set-up included).
    target : Target
        The samples trained on (the same as :func:`relusum.fit` uses).
    init, start : str
        ``init`` as asked; ``start`` the starting point actually used
        (``"default"``, ``"optimal"`` or ``"uniform"`` least squares).
    seed, steps : int
    lr : float
    """

    model: nn.Sequential
    history: np.ndarray
    relusum: ReluSum
    seconds: float
    target: Target = field(repr=False)
    init: str = "default"
    start: str = "default"
    seed: int = 0
    steps: int = 0
    lr: float = 0.0

    def errors(self) -> tuple[float, float, int]:
        """RMSE, max absolute error and point count on the verification grid."""
        from relusum.fitting.api import measure

        return measure(self.relusum, self.target)


INITS = ("default", "fit")
#: Default learning rates of :func:`train` by ``init``.
DEFAULT_LR = {"default": 1e-2, "fit": 1e-4}


def _start_fit(
    target: TargetLike, domain: Any, n_units: int, samples: int | None, progress: bool | None
):
    """The optimal fit to start from, or uniform least squares if unavailable."""
    from relusum.fitting.api import fit

    try:
        r = fit(target, domain, n_units, knots="optimal", samples=samples, progress=progress)
        return r.model, "optimal"
    except (ValueError, ImportError, NotImplementedError, AttributeError):
        return fit(target, domain, n_units, knots="uniform", samples=samples).model, "uniform"


def train(
    target: TargetLike,
    domain: Sequence[Any] | None = None,
    n_units: int = 16,
    steps: int = 3000,
    lr: float | None = None,
    seed: int = 0,
    init: str = "default",
    samples: int | None = None,
    progress: bool | None = None,
    dtype: torch.dtype = torch.float64,
) -> TrainResult:
    """Train a one-hidden-layer ReLU network on the samples :func:`relusum.fit` uses.

    Full-batch Adam on the mean squared error, with a cosine learning-rate
    schedule from ``lr`` down to ``lr / 100``.  Inside training the input is
    mapped to ``[-1, 1]`` and the output standardised (the usual practice); the
    returned network takes ``x`` and gives ``y`` (the maps are folded into its
    layers).  Randomness comes from a local ``torch.Generator(seed)`` only.

    Parameters
    ----------
    target, domain, samples
        As for :func:`relusum.fit` (a formula, callable or data; the domain).
    n_units : int
        Hidden units.
    steps : int
        Adam steps.
    lr : float, optional
        Peak learning rate; default 1e-2 for ``init="default"`` and 1e-4 for
        ``init="fit"`` (a large step would throw the good start away).
    seed : int
        Seed of the initialisation.
    init : {"default", "fit"}
        PyTorch's default initialisation (``U(-1, 1)`` for the first layer in
        the scaled input, ``U(-1/sqrt(n), 1/sqrt(n))`` for the second), or the
        optimal :class:`ReluSum` (``relusum.fit(..., knots="optimal")``; uniform
        least squares if optimal knots are not available).
    progress : bool, optional
        Progress bar on stderr (default: when stderr is a terminal, shown after 2 s).
    dtype : torch.dtype
        ``torch.float64`` (default) or ``torch.float32``.

    Returns
    -------
    TrainResult

    See Also
    --------
    train_many : several networks in one batched program, each as this gives it.

    Examples
    --------
    >>> from relusum.torch_bridge import train
    >>> r = train("sin(x)", (0, 3), n_units=4, steps=50, samples=200)
    >>> bool(r.history[-1] < r.history[0]), r.relusum.n_pieces <= 5
    (True, True)
    """
    if isinstance(n_units, bool) or not isinstance(n_units, (int, np.integer)) or n_units < 1:
        raise ValueError(f"n_units must be a positive integer, got {n_units!r}")
    return train_many(target, domain, (n_units,), steps, lr, seed, init, samples, progress, dtype)[
        0
    ]


def train_many(
    target: TargetLike,
    domain: Sequence[Any] | None = None,
    units: Sequence[int] = (16,),
    steps: int = 3000,
    lr: float | None = None,
    seed: int = 0,
    init: str = "default",
    samples: int | None = None,
    progress: bool | None = None,
    dtype: torch.dtype = torch.float64,
) -> list[TrainResult]:
    """Train one network per entry of ``units`` at once, each exactly as :func:`train` would.

    The networks are independent: their hidden units are laid side by side in
    one tensor program (one forward pass, one backward pass and one Adam step
    per step for all of them), and the loss summed over the networks has, for
    each network's parameters, the gradient of that network's own loss.  Adam
    works element by element, so each network follows the same path as when
    trained alone, to rounding; each starts from its own ``torch.Generator(seed)``
    and keeps its own best parameters.  Several small networks cost little more
    than the largest alone.  The arguments are those of :func:`train`, shared.

    Returns
    -------
    list of TrainResult
        In the order of ``units``; ``seconds`` is the wall time of the whole batch.

    Examples
    --------
    >>> from relusum.torch_bridge import train_many
    >>> rs = train_many("sin(x)", (0, 3), units=(2, 4), steps=50, samples=200)
    >>> [r.model[0].out_features for r in rs]
    [2, 4]
    """
    start_time = time.perf_counter()
    if init not in INITS:
        raise ValueError(f"init must be one of {', '.join(INITS)}; got {init!r}")
    if isinstance(units, (str, bytes)) or not isinstance(units, Sequence) or not units:
        raise ValueError(f"units must be a non-empty sequence of unit counts, got {units!r}")
    for val in units:
        if isinstance(val, bool) or not isinstance(val, (int, np.integer)) or val < 1:
            raise ValueError(f"n_units must be a positive integer, got {val!r}")
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ValueError(f"steps must be a positive integer, got {steps!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if lr is None:
        lr = DEFAULT_LR[init]
    if not (isinstance(lr, (int, float)) and math.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be a positive number, got {lr!r}")
    if dtype not in (torch.float32, torch.float64):
        raise ValueError(f"dtype must be torch.float32 or torch.float64, got {dtype}")
    sizes, steps = [int(n) for n in units], int(steps)
    total = sum(sizes)
    tgt = make_target(target, domain, samples)
    if total * tgt.x.size > MAX_TRAIN_WORK:
        raise ValueError(
            f"training {total:,} units on {tgt.x.size:,} samples needs "
            f"{total * tgt.x.size:,} activations per step (about "
            f"{4 * 8 * total * tgt.x.size / 2**30:.0f} GiB with gradients); at most "
            f"{MAX_TRAIN_WORK:,}: use fewer units or fewer samples"
        )
    lo, hi = tgt.domain
    c, r = 0.5 * (lo + hi), 0.5 * (hi - lo)
    wts = None if tgt.weight is None else tgt.weight / np.sum(tgt.weight)
    mu = float(np.mean(tgt.y) if wts is None else np.sum(wts * tgt.y))
    dev2 = (tgt.y - mu) ** 2
    sd = float(np.sqrt(np.mean(dev2) if wts is None else np.sum(wts * dev2)))
    if not sd > 0:
        sd = 1.0

    starts = [
        _initial(n, int(seed), init, dtype, (target, domain, samples, progress), (c, r, mu, sd))
        for n in sizes
    ]
    a = torch.cat([s[0] for s in starts]).requires_grad_()
    b = torch.cat([s[1] for s in starts]).requires_grad_()
    v = torch.cat([s[2] for s in starts]).requires_grad_()
    c0 = torch.cat([s[3] for s in starts]).requires_grad_()
    params = (a, b, v, c0)
    bounds = np.concatenate(([0], np.cumsum(sizes)))

    u = torch.as_tensor((tgt.x - c) / r, dtype=dtype)
    ys = torch.as_tensor((tgt.y - mu) / sd, dtype=dtype)
    wt = None if wts is None else torch.as_tensor(wts, dtype=dtype)
    losses = BatchedLoss(sizes, u, ys, wt)
    opt = torch.optim.Adam(params, lr=float(lr))
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps, eta_min=lr / 100)

    from tqdm.auto import tqdm

    show = sys.stderr.isatty() if progress is None else bool(progress)
    what = f"{sizes[0]} units" if len(sizes) == 1 else f"{len(sizes)} networks, {total} units"
    bar = tqdm(
        total=steps,
        desc=f"training {what}",
        disable=not show,
        delay=2.0 if progress is None else 0.0,
        file=sys.stderr,
        leave=False,
    )
    history = np.empty((steps + 1, len(sizes)))
    best_loss = np.full(len(sizes), math.inf)
    best = [p.detach().clone() for p in params]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny matrices: one thread is faster and never oversubscribes
    try:
        for i in range(steps + 1):
            opt.zero_grad(set_to_none=True)
            loss = losses(*params)
            vals = loss.detach().numpy() * sd * sd
            history[i] = vals
            better = vals < best_loss
            if better.any():
                best_loss = np.where(better, vals, best_loss)
                net_mask = torch.from_numpy(better)
                unit_mask = net_mask[losses.owner]
                for q, p, mask in zip(best, params, (unit_mask,) * 3 + (net_mask,), strict=True):
                    q.copy_(torch.where(mask, p.detach(), q))
            if i == steps:
                break
            loss.sum().backward()
            opt.step()
            sched.step()
            if i % 50 == 0:
                bar.update(min(50, steps - i))
                bar.set_postfix(loss=f"{float(np.sum(vals)):.3g}", refresh=False)
    finally:
        torch.set_num_threads(threads)
        bar.close()
    seconds = time.perf_counter() - start_time
    results = []
    for k in range(len(sizes)):
        sl = slice(int(bounds[k]), int(bounds[k + 1]))
        ak, bk, vk = (q[sl].to(torch.float64).numpy() for q in best[:3])
        ck = float(best[3][k])
        model = _mlp_from_arrays(ak / r, bk - ak * c / r, vk * sd, ck * sd + mu, dtype)
        rs = from_torch(model, tgt.domain)
        results.append(
            TrainResult(
                model,
                history[:, k].copy(),
                rs,
                seconds,
                tgt,
                init,
                starts[k][4],
                int(seed),
                steps,
                float(lr),
            )
        )
    return results


def _initial(
    n_units: int,
    seed: int,
    init: str,
    dtype: torch.dtype,
    fit_args: tuple[Any, Any, Any, Any],
    maps: tuple[float, float, float, float],
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, str]:
    """Starting ``a, b, v, c`` of one network in the scaled variables, and how it started.

    Unit ``i`` is ``v_i max(0, a_i u + b_i)`` with ``u = (x - c) / r``; the output is
    ``(y - mu) / sd``.  PyTorch's default initialisation from ``torch.Generator(seed)``
    (``init="default"``), or the optimal fit (``init="fit"``).
    """
    gen = torch.Generator().manual_seed(seed)
    a0 = torch.empty(n_units, dtype=dtype).uniform_(-1.0, 1.0, generator=gen)
    b0 = torch.empty(n_units, dtype=dtype).uniform_(-1.0, 1.0, generator=gen)
    bound = 1.0 / math.sqrt(n_units)
    v0 = torch.empty(n_units, dtype=dtype).uniform_(-bound, bound, generator=gen)
    c0 = torch.empty(1, dtype=dtype).uniform_(-bound, bound, generator=gen)
    start = "default"
    if init == "fit":
        target, domain, samples, progress = fit_args
        c, r, mu, sd = maps
        s, start = _start_fit(target, domain, n_units, samples, progress)
        k = min(s.n_units, n_units)
        # Unit i: max(0, u - u_i) with u = (x - c) / r equals max(0, x - h_i) / r.
        a0[:k] = 1.0
        b0[:k] = torch.as_tensor(-(s.knots[:k] - c) / r, dtype=dtype)
        v0[:] = 0.0
        v0[:k] = torch.as_tensor(s.weights[:k] * r / sd, dtype=dtype)
        c0[:] = (s.bias - mu) / sd
    return a0, b0, v0, c0, start
