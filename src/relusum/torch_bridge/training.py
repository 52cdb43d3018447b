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

    Examples
    --------
    >>> from relusum.torch_bridge import train
    >>> r = train("sin(x)", (0, 3), n_units=4, steps=50, samples=200)
    >>> bool(r.history[-1] < r.history[0]), r.relusum.n_pieces <= 5
    (True, True)
    """
    start_time = time.perf_counter()
    if init not in INITS:
        raise ValueError(f"init must be one of {', '.join(INITS)}; got {init!r}")
    for name, val in (("n_units", n_units), ("steps", steps)):
        if isinstance(val, bool) or not isinstance(val, (int, np.integer)) or val < 1:
            raise ValueError(f"{name} must be a positive integer, got {val!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if lr is None:
        lr = DEFAULT_LR[init]
    if not (isinstance(lr, (int, float)) and math.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be a positive number, got {lr!r}")
    if dtype not in (torch.float32, torch.float64):
        raise ValueError(f"dtype must be torch.float32 or torch.float64, got {dtype}")
    n_units, steps = int(n_units), int(steps)
    tgt = make_target(target, domain, samples)
    if n_units * tgt.x.size > MAX_TRAIN_WORK:
        raise ValueError(
            f"training {n_units:,} units on {tgt.x.size:,} samples needs "
            f"{n_units * tgt.x.size:,} activations per step (about "
            f"{4 * 8 * n_units * tgt.x.size / 2**30:.0f} GiB with gradients); at most "
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

    gen = torch.Generator().manual_seed(int(seed))
    a0 = torch.empty(n_units, dtype=dtype).uniform_(-1.0, 1.0, generator=gen)
    b0 = torch.empty(n_units, dtype=dtype).uniform_(-1.0, 1.0, generator=gen)
    bound = 1.0 / math.sqrt(n_units)
    v0 = torch.empty(n_units, dtype=dtype).uniform_(-bound, bound, generator=gen)
    c0 = torch.empty(1, dtype=dtype).uniform_(-bound, bound, generator=gen)
    start = "default"
    if init == "fit":
        s, start = _start_fit(target, domain, n_units, samples, progress)
        k = min(s.n_units, n_units)
        # Unit i: max(0, u - u_i) with u = (x - c) / r equals max(0, x - h_i) / r.
        a0[:k] = 1.0
        b0[:k] = torch.as_tensor(-(s.knots[:k] - c) / r, dtype=dtype)
        v0[:] = 0.0
        v0[:k] = torch.as_tensor(s.weights[:k] * r / sd, dtype=dtype)
        c0[:] = (s.bias - mu) / sd

    net = _mlp_from_arrays(a0.numpy(), b0.numpy(), v0.numpy(), float(c0[0]), dtype)
    u = torch.as_tensor((tgt.x - c) / r, dtype=dtype).reshape(-1, 1)
    ys = torch.as_tensor((tgt.y - mu) / sd, dtype=dtype).reshape(-1, 1)
    wt = None if wts is None else torch.as_tensor(wts, dtype=dtype).reshape(-1, 1)
    opt = torch.optim.Adam(net.parameters(), lr=float(lr))
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps, eta_min=lr / 100)

    from tqdm.auto import tqdm

    show = sys.stderr.isatty() if progress is None else bool(progress)
    bar = tqdm(
        total=steps,
        desc=f"training {n_units} units",
        disable=not show,
        delay=2.0 if progress is None else 0.0,
        file=sys.stderr,
        leave=False,
    )
    history = np.empty(steps + 1)
    best = (math.inf, None)

    def loss_fn() -> torch.Tensor:
        res = (net(u) - ys) ** 2
        return res.mean() if wt is None else (wt * res).sum()

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny matrices: one thread is faster and never oversubscribes
    try:
        for i in range(steps + 1):
            opt.zero_grad(set_to_none=True)
            loss = loss_fn()
            val = float(loss.detach()) * sd * sd
            history[i] = val
            if val < best[0]:
                best = (val, [p.detach().clone() for p in net.parameters()])
            if i == steps:
                break
            loss.backward()
            opt.step()
            sched.step()
            if i % 50 == 0:
                bar.update(min(50, steps - i))
                bar.set_postfix(loss=f"{val:.3g}", refresh=False)
    finally:
        torch.set_num_threads(threads)
        bar.close()
    with torch.no_grad():
        for p, q in zip(net.parameters(), best[1], strict=True):
            p.copy_(q)
    model = _fold(net, c, r, mu, sd, dtype)
    seconds = time.perf_counter() - start_time
    rs = from_torch(model, tgt.domain)
    return TrainResult(model, history, rs, seconds, tgt, init, start, int(seed), steps, float(lr))


def _fold(net: nn.Sequential, c: float, r: float, mu: float, sd: float, dtype) -> nn.Sequential:
    """The network in x and y from one trained on u = (x - c)/r and (y - mu)/sd."""
    first, _, second = net
    a = first.weight.detach().to(torch.float64).numpy()[:, 0]
    b = first.bias.detach().to(torch.float64).numpy()
    v = second.weight.detach().to(torch.float64).numpy()[0]
    c0 = float(second.bias.detach()[0])
    return _mlp_from_arrays(a / r, b - a * c / r, v * sd, c0 * sd + mu, dtype)
