"""SGD with momentum and weight decay, element for element what ``torch.optim.SGD`` computes.

Why not ``torch.optim.SGD`` itself: constructing the first torch optimiser in a process imports
``torch._dynamo`` (about 1.3 s), and a workflow starts dozens of short training processes. The update
is small enough to write out (PyTorch's SGD with dampening 0, no Nesterov):

    d = grad + weight_decay · p;   buf = d (first step) else momentum · buf + d;   p -= lr · buf
"""

from __future__ import annotations

from typing import Iterable

import torch


class SGD:
    """The subset of ``torch.optim.SGD`` the trainers use: ``step``, ``zero_grad``, one ``param_groups`` entry."""

    def __init__(self, params: Iterable[torch.Tensor], lr: float, momentum: float = 0.0, weight_decay: float = 0.0):
        self.params = [p for p in params]
        self.param_groups = [{"lr": float(lr), "momentum": float(momentum), "weight_decay": float(weight_decay)}]
        self._buffers: list[torch.Tensor] | None = None

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.params:
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad.zero_()

    @torch.no_grad()
    def step(self) -> None:
        group = self.param_groups[0]
        params = [p for p in self.params if p.grad is not None]
        if not params:
            return
        grads = [p.grad for p in params]
        if group["weight_decay"]:
            grads = torch._foreach_add(grads, params, alpha=group["weight_decay"])
        if group["momentum"]:
            if self._buffers is None:
                self._buffers = [g.clone() for g in grads]
            else:
                torch._foreach_mul_(self._buffers, group["momentum"])
                torch._foreach_add_(self._buffers, grads)
            grads = self._buffers
        torch._foreach_add_(params, grads, alpha=-group["lr"])


def all_finite(tensors: Iterable[torch.Tensor]) -> bool:
    """Whether every element of ``tensors`` is finite (no NaN, no inf): the divergence check of the
    trainers' and condensers' final parameters. One reduction per tensor, one host read for all."""
    flags = [torch.isfinite(t).all() for t in tensors]
    return bool(torch.stack(flags).all()) if flags else True
