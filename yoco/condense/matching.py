"""Gradient matching and the optimiser of the synthetic images, shared by every matching condenser.

:func:`match_loss` computes per-class gradient-matching losses either class by class with
``torch.autograd.grad`` (the reference's code path, ``batched=False``) or for all classes at once with
``torch.func.vmap`` over a functional ``grad`` (``batched=True``, the default for speed).
:class:`ImageSGD` is the reference's single SGD optimiser over the whole synthetic tensor, with the
momentum buffer explicit so that it can be snapshotted and advanced one class block at a time.
"""

from __future__ import annotations

from typing import Any, Sequence

import torch
import torch.nn.functional as F
from torch.func import functional_call, grad, vmap

from ..errors import YocoError, unknown_choice
from .config import METRICS


def matched_parameters(net: torch.nn.Module, fc: bool = False) -> list[str]:
    """Names of the parameters whose gradients are matched.

    IDC runs with ``bias = fc = False``: only tensors with >= 3 dimensions (the convolution kernels)
    are matched; 1-D tensors (biases, norm scales) and the 2-D linear classifier are skipped. ``fc=True``
    adds the 2-D tensors, as DC/DSA match every parameter: their ``'ours'`` distance is zero for 1-D
    tensors by definition, so skipping those is exact.
    """
    lowest = 2 if fc else 3
    names = [n for n, p in net.named_parameters() if p.dim() >= lowest]
    if not names:
        raise YocoError(f"{type(net).__name__} has no parameter with >= {lowest} dimensions to match.")
    return names


# DC/DSA's distance_wb adds this to the product of norms (a zero gradient row then costs 1, not NaN).
COSINE_EPS = 1e-6


def _rows(t: torch.Tensor, lead: int) -> torch.Tensor:
    """DSA's ``distance_wb`` layout: one row per output unit (conv ``[out, in*h*w]``, linear as is).

    ``lead`` leading axes (the class axis of batched gradients) are kept in front.
    """
    shape = t.shape[lead:]
    if len(shape) >= 3:
        return t.reshape(*t.shape[:lead], shape[0], -1)
    return t


def _cosine_rows(g_real: torch.Tensor, g_syn: torch.Tensor, lead: int) -> torch.Tensor:
    """``sum over rows (1 - <r, s> / (|r| |s| + 1e-6))`` per leading index; 0 for 1-D tensors."""
    if g_real.dim() - lead <= 1:
        # distance_wb returns 0 for biases and norm parameters.
        return g_real.new_zeros(g_real.shape[:lead])
    r, s = _rows(g_real, lead), _rows(g_syn, lead)
    cos = (r * s).sum(-1) / (r.norm(dim=-1) * s.norm(dim=-1) + COSINE_EPS)
    return (1 - cos).sum(-1)


def gradient_distance(g_real: torch.Tensor, g_syn: torch.Tensor, metric: str = "mse") -> torch.Tensor:
    """The distance of two gradient tensors of one parameter.

    ``"mse"``: IDC's ``sum((g_real - g_syn)**2)``; ``"l1"``: ``sum(|g_real - g_syn|)``; ``"ours"``:
    DC/DSA's layer-wise distance (``DSA:utils.py:distance_wb``, ``dis_metric='ours'``): the gradient is
    cut into one row per output channel (conv ``[out, in*kh*kw]``; a linear layer's rows as they are),
    and the distance is ``sum over rows of 1 - cos(row_real, row_syn)`` with ``1e-6`` added to the
    product of norms; 1-D tensors (biases, norm parameters) contribute 0.
    """
    if metric == "ours":
        return _cosine_rows(g_real, g_syn, 0)
    diff = g_real - g_syn
    if metric == "mse":
        return diff.pow(2).sum()
    if metric == "l1":
        return diff.abs().sum()
    raise unknown_choice("matching metric", metric, METRICS)


def _class_distance(g_real: torch.Tensor, g_syn: torch.Tensor, metric: str) -> torch.Tensor:
    """Per-class distance for gradients stacked over classes: ``[K, ...] -> [K]``."""
    if metric == "ours":
        return _cosine_rows(g_real, g_syn, 1)
    diff = (g_real - g_syn).flatten(1)
    if metric == "mse":
        return diff.pow(2).sum(1)
    if metric == "l1":
        return diff.abs().sum(1)
    raise unknown_choice("matching metric", metric, METRICS)


def _as_class_list(x, what: str) -> list[torch.Tensor]:
    if isinstance(x, torch.Tensor):
        if x.dim() != 5:
            raise YocoError(
                f"{what} must be a list of [n, channels, h, w] tensors or one [K, n, channels, h, w] "
                f"tensor, got shape {tuple(x.shape)}."
            )
        return list(x.unbind(0))
    items = list(x)
    for c, t in enumerate(items):
        if not isinstance(t, torch.Tensor) or t.dim() != 4:
            raise YocoError(f"{what}[{c}] must be a [n, channels, h, w] tensor, got {getattr(t, 'shape', type(t))}.")
    return items


def match_loss(
    net: torch.nn.Module,
    real_by_class,
    syn_by_class,
    classes: Sequence[int] | None = None,
    metric: str = "mse",
    batched: bool = True,
    fc: bool = False,
) -> torch.Tensor:
    """Per-class gradient-matching losses of IDC (``IDC:condense.py:matchloss``, ``match='grad'``).

    For class ``c`` with real images ``x_r`` and synthetic images ``x_s`` (both already augmented and
    normalised, i.e. network inputs), ``g_r = d CE(net(x_r), c) / d theta`` (detached) and
    ``g_s = d CE(net(x_s), c) / d theta`` (differentiable w.r.t. ``x_s``), summed over the conv
    kernels ``theta`` (:func:`matched_parameters`) of ``dist(g_r, g_s)`` (:func:`gradient_distance`).
    DSA's ``match_loss`` is ``metric="ours", fc=True``.

    Parameters
    ----------
    net : nn.Module
        The current network; it is not changed. Its parameters receive no gradient.
    real_by_class, syn_by_class : list of Tensor [n, channels, h, w], or Tensor [K, n, channels, h, w]
        Real and synthetic inputs of each of the K classes, in the order of ``classes``.
    classes : sequence of int, optional
        Label of each entry (default ``0 .. K-1``).
    metric : {"mse", "l1", "ours"}
    batched : bool
        True: all classes at once with ``torch.func`` (``vmap`` over classes of ``grad`` of a
        ``functional_call``); needs equal batch sizes across classes and a network without
        running statistics (no BatchNorm). False: the reference's loop with ``torch.autograd.grad``.
    fc : bool
        Also match the 2-D tensors (the linear classifier), see :func:`matched_parameters`.

    Returns
    -------
    Tensor [K]
        The loss of each class; ``.sum().backward()`` puts the gradient into the synthetic images.
    """
    if metric not in METRICS:
        raise unknown_choice("matching metric", metric, METRICS)
    reals = _as_class_list(real_by_class, "real_by_class")
    syns = _as_class_list(syn_by_class, "syn_by_class")
    if len(reals) != len(syns) or not reals:
        raise YocoError(
            f"real_by_class and syn_by_class must hold the same, non-zero number of classes "
            f"(got {len(reals)} and {len(syns)})."
        )
    classes = list(range(len(reals))) if classes is None else [int(c) for c in classes]
    if len(classes) != len(reals):
        raise YocoError(f"classes names {len(classes)} labels for {len(reals)} classes of images.")
    names = matched_parameters(net, fc=fc)
    if batched:
        return _match_loss_batched(net, reals, syns, classes, names, metric)
    return _match_loss_loop(net, reals, syns, classes, names, metric)


def _match_loss_loop(net, reals, syns, classes, names, metric) -> torch.Tensor:
    params = dict(net.named_parameters())
    theta = [params[n] for n in names]
    losses = []
    for xr, xs, c in zip(reals, syns, classes):
        yr = torch.full((xr.shape[0],), c, dtype=torch.long, device=xr.device)
        ys = torch.full((xs.shape[0],), c, dtype=torch.long, device=xs.device)
        g_real = torch.autograd.grad(F.cross_entropy(net(xr), yr), theta)
        g_syn = torch.autograd.grad(F.cross_entropy(net(xs), ys), theta, create_graph=True)
        loss = sum(gradient_distance(gr.detach(), gs, metric) for gr, gs in zip(g_real, g_syn))
        losses.append(loss)
    return torch.stack(losses)


def _match_loss_batched(net, reals, syns, classes, names, metric) -> torch.Tensor:
    if len({x.shape for x in reals}) != 1 or len({x.shape for x in syns}) != 1:
        raise YocoError(
            "batched matching needs the same number of real (and of synthetic) images in every "
            "class; pass batched=False for uneven classes."
        )
    if any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in net.modules()):
        raise YocoError(
            "batched matching cannot vmap a network with BatchNorm running statistics; "
            "use batched=False (CondenseConfig.batched=False)."
        )
    xr = torch.stack(reals)
    xs = torch.stack(syns)
    labels = torch.as_tensor(classes, dtype=torch.long, device=xr.device)
    # Detached copies: the matched kernels are differentiated by torch.func, the rest are constants, and
    # the network's own .grad fields stay untouched (the reference discards them too).
    matched = {n: p.detach() for n, p in net.named_parameters() if n in names}
    fixed = {n: p.detach() for n, p in net.named_parameters() if n not in names}
    buffers = dict(net.named_buffers())

    def class_loss(theta, x, y):
        out = functional_call(net, ({**fixed, **theta}, buffers), (x,))
        return F.cross_entropy(out, y.expand(x.shape[0]))

    per_class_grad = vmap(grad(class_loss), in_dims=(None, 0, 0))
    g_real = per_class_grad(matched, xr.detach(), labels)
    g_syn = per_class_grad(matched, xs, labels)
    total = None
    for n in names:
        d = _class_distance(g_real[n].detach(), g_syn[n], metric)
        total = d if total is None else total + d
    return total


# --------------------------------------------------------------------------------------------------
# The optimiser of the synthetic images
# --------------------------------------------------------------------------------------------------


class ImageSGD:
    """SGD with momentum over the whole synthetic tensor, as IDC's single ``torch.optim.SGD``.

    ``buf = momentum * buf + grad; S -= lr * buf`` (no dampening, no Nesterov, no weight decay:
    exactly ``torch.optim.SGD(momentum=m)``, whose first step ``buf = grad`` equals this with
    ``buf = 0``). The buffer is explicit so that it can be snapshotted and advanced per class block.

    Parameters
    ----------
    images : Tensor [C*ipc, ...], a leaf that requires grad
    lr, momentum : float
    num_classes : int
        ``images`` is class-major with ``len(images) // num_classes`` rows per class.
    """

    def __init__(self, images: torch.Tensor, lr: float, momentum: float, num_classes: int):
        if images.shape[0] % num_classes:
            raise YocoError(f"{images.shape[0]} synthetic images are not a multiple of {num_classes} classes.")
        self.images = images
        self.lr = float(lr)
        self.momentum = float(momentum)
        self.num_classes = int(num_classes)
        self.buf = torch.zeros_like(images, requires_grad=False)

    def _blocks(self, t: torch.Tensor) -> torch.Tensor:
        return t.view(self.num_classes, -1, *t.shape[1:])

    @torch.no_grad()
    def step(self, grad: torch.Tensor) -> None:
        """One ordinary step over the whole tensor with ``grad`` (the reference's ``optim_img.step()``)."""
        self.buf.mul_(self.momentum).add_(grad)
        self.images.sub_(self.lr * self.buf)

    @torch.no_grad()
    def coast(self, steps: Sequence[int]) -> None:
        """Apply ``steps[c]`` gradient-free steps to class block ``c`` (only momentum moves it).

        ``n`` such steps are ``buf <- m**n buf`` and ``S <- S - lr * (m + m**2 + ... + m**n) * buf``.
        """
        m = self.momentum
        decay, travel = [], []
        for n in steps:
            decay.append(m**n)
            travel.append(sum(m**i for i in range(1, n + 1)))
        shape = (self.num_classes,) + (1,) * (self.images.dim())
        travel_t = torch.tensor(travel, dtype=self.buf.dtype, device=self.buf.device).view(shape)
        decay_t = torch.tensor(decay, dtype=self.buf.dtype, device=self.buf.device).view(shape)
        self._blocks(self.images).sub_(self.lr * travel_t * self._blocks(self.buf))
        self._blocks(self.buf).mul_(decay_t)

    def state_dict(self) -> dict[str, Any]:
        return {"momentum_buffer": self.buf.detach().cpu().clone(), "lr": self.lr, "momentum": self.momentum}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        buf = state["momentum_buffer"]
        if buf.shape != self.buf.shape:
            raise YocoError(f"snapshot momentum buffer has shape {tuple(buf.shape)}, expected {tuple(self.buf.shape)}.")
        self.buf.copy_(buf.to(self.buf.device, self.buf.dtype))
