"""The training loss of several one-hidden-layer networks at once, without an N x n matrix.

Network ``k`` computes ``f_k(u) = c_k + sum_j v_j max(0, a_j u + b_j)`` over its
own units ``j``.  A unit with ``a_j > 0`` is active right of its knot
``t_j = -b_j / a_j``, one with ``a_j < 0`` left of it, one with ``a_j = 0``
everywhere (when ``b_j > 0``) or nowhere.  With each network's units sorted by
knot and the prefix sums ``P(m) = sum of s_j v_j a_j`` and ``Q(m) = sum of
s_j v_j b_j`` over its first ``m`` knots (``s_j`` the sign of ``a_j``),

    f_k(u) = c_k + C_k + u L_k + u P(m(u)) + Q(m(u)),

where ``m(u)`` counts the knots left of ``u`` (one binary search) and ``C_k +
u L_k`` is the sum of the units active at ``-inf`` (those facing left, and the
flat ones with ``b_j > 0``).  Autograd through the prefix sums gives the gradient of the dense
form (the knots' positions only choose which units are summed, and a unit is 0
at its knot, so they carry no gradient).  The work per step is ``O((N + n)
log n)`` for ``N`` samples and ``n`` units in all, against ``O(N n)`` for
``relu(u a + b) @ v``; the two agree to rounding (a test compares them).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

__all__ = ["BatchedLoss"]


class BatchedLoss:
    """Mean squared errors of networks whose units are laid side by side.

    Parameters
    ----------
    sizes : sequence of int
        Units of each network; the parameters ``a, b, v`` of :meth:`__call__`
        hold network 0's units first, then network 1's, and so on.
    u, y : torch.Tensor
        Samples (inputs and targets), shape ``(N,)``.
    weight : torch.Tensor or None
        Sample weights summing to 1 (``None``: the plain mean).

    Examples
    --------
    >>> import torch
    >>> u = torch.linspace(-1, 1, 5, dtype=torch.float64)
    >>> loss = BatchedLoss([1, 2], u, u.abs(), None)
    >>> a = torch.tensor([1.0, 1.0, -1.0], dtype=torch.float64)
    >>> b = torch.zeros(3, dtype=torch.float64)
    >>> v = torch.ones(3, dtype=torch.float64)
    >>> loss(a, b, v, torch.zeros(2, dtype=torch.float64)).tolist()  # |u| needs both units
    [0.25, 0.0]
    """

    def __init__(
        self,
        sizes: Sequence[int],
        u: torch.Tensor,
        y: torch.Tensor,
        weight: torch.Tensor | None,
    ) -> None:
        self.k = len(sizes)
        counts = torch.tensor([int(n) for n in sizes])
        self.owner = torch.repeat_interleave(torch.arange(self.k), counts)
        self.start = torch.cumsum(counts, 0) - counts
        self.width = int(counts.max())
        # The loss is a sum over samples: sorted by u, the knots left of each sample are
        # counted by one pass over the knots (see __call__) instead of a search per sample.
        by_u = torch.argsort(u.reshape(-1), stable=True)
        self.u = u.reshape(-1)[by_u].reshape(1, -1)
        self.y = y.reshape(-1)[by_u].reshape(1, -1)
        self.weight = None if weight is None else weight.reshape(-1)[by_u].reshape(1, -1)

    @staticmethod
    def _pairs(index: torch.Tensor) -> torch.Tensor:
        return index[..., None].expand(-1, -1, 2)

    def __call__(
        self, a: torch.Tensor, b: torch.Tensor, v: torch.Tensor, c: torch.Tensor
    ) -> torch.Tensor:
        """The loss of each network, shape ``(K,)``, differentiable in ``a, b, v, c``."""
        dtype, k, owner = a.dtype, self.k, self.owner
        with torch.no_grad():
            ad, bd = a.detach(), b.detach()
            knot = torch.where(ad != 0, -bd / ad.where(ad != 0, 1), torch.inf)
            order = torch.argsort(knot, stable=True)
            order = order[torch.argsort(owner[order], stable=True)]
            net = owner[order]
            rank = torch.arange(net.numel()) - self.start[net]
            # Knots of each network strictly left of each sample: knot j is left of the
            # samples from index pos_j on (u sorted); count them with a cumulative sum.
            n = self.u.shape[1]
            pos = torch.searchsorted(self.u[0], knot[order].contiguous(), right=True)
            hist = torch.zeros(k, n + 1, dtype=torch.int64)
            hist.index_put_((net, pos), torch.ones_like(pos), accumulate=True)
            left_of = hist.cumsum(1)[:, :n]
            sign = (ad > 0).to(dtype) - (ad < 0).to(dtype)
            # Active at -inf: units facing left, and flat units with b > 0 (active everywhere).
            base = ((ad < 0) | ((ad == 0) & (bd > 0))).to(dtype)
        slope, shift = v * a, v * b
        pq = torch.stack((sign * slope, sign * shift), dim=1)[order]
        sums = torch.zeros(k, self.width + 1, 2, dtype=dtype).index_put((net, rank + 1), pq)
        sums = sums.cumsum(1)
        at = sums.gather(1, self._pairs(left_of))  # (K, N, 2)
        zero = torch.zeros(k, dtype=dtype)
        const = c + zero.index_add(0, owner, base * shift)
        lin = zero.index_add(0, owner, base * slope)
        f = const[:, None] + (lin[:, None] + at[..., 0]) * self.u + at[..., 1]
        res = (f - self.y) ** 2
        return res.mean(1) if self.weight is None else (self.weight * res).sum(1)
