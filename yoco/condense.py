"""In-house dataset condensation: IDC and DREAM (reference-spec §6.1, §6.3).

YOCO prunes condensed datasets, but the authors' IDC and DREAM sets exist only on a file-sharing
drive. This module re-creates them from the real training data, following the original code:

IDC (``IDC:condense.py:condense``)
    A synthetic tensor ``S`` of ``C*ipc`` stored images, each holding ``f x f`` patches, starts from
    the "mix" initialisation. Every *outer* iteration draws a fresh network (ImageNet-10: pre-trained
    for ``early`` epochs on real data) and clamps ``S`` to [0, 1]. Every *inner* step then

    a. matches, class by class, the gradient of the cross-entropy w.r.t. the network's conv kernels
       on a real batch of that class with the one on the class's decoded synthetic patches (same
       DiffAug draw for both), and after each class takes one step of a single SGD optimiser
       (momentum 0.5) over the whole of ``S``;
    b. trains the network on ``n_data`` real samples (DiffAug per sample plus CutMix).

DREAM (``DREAM:condense.py:condense``)
    IDC with *representative matching*: every ``dream_interval`` inner steps the real batch of each
    class is replaced by the real images nearest to the ``batch_real`` k-means centroids of the
    current network's features of that class; the mixed grid is initialised with the images nearest
    to the k-means centroids of a fresh network's features instead of the first images.

Per-class steps versus one summed step
    The reference steps the optimiser once per class (``image_step="per_class"``, the default). The
    matching loss of class ``c`` depends only on class ``c``'s rows of ``S``, and between two of its
    own steps those rows move only by momentum. So all classes' gradients can be computed at once,
    on rows advanced by the momentum-only steps they would have taken, and the result equals the
    sequential loop up to float rounding (:class:`ImageSGD`). ``image_step="summed"`` is the other
    reading of the algorithm, one step per inner step with the sum over classes; it is not the
    reference behaviour and is kept as a named switch for comparison.

Batched versus looped matching
    :func:`match_loss` computes per-class gradient-matching losses either class by class with
    ``torch.autograd.grad`` (the reference's code path, ``batched=False``) or for all classes at once
    with ``torch.func.vmap`` over a functional ``grad`` (``batched=True``, the default for speed).

Randomness
    The original code is unseeded. Here every draw is counter-based (:mod:`yoco.rng`) and keyed by
    ``(seed, outer iteration, inner step, class, batch)``, and network ``it`` is initialised from
    ``seed_from(seed, "condense-net", it)``. A run is therefore a pure function of its inputs, and a
    snapshot needs no generator state: the synthetic tensor, the optimiser's momentum and the next
    outer iteration are enough to resume bit-identically.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch.func import functional_call, grad, vmap

from . import augment, nets, rng
from .formation import decode as decode_images, mix_init
from .data import RealData
from .io import atomic_path
from .optim import SGD
from .errors import YocoError, unknown_choice
from .seeding import seed_from

log = logging.getLogger(__name__)

METHODS = ("idc", "dream")
METRICS = ("mse", "l1")
DECODES = ("single", "bound")
IMAGE_STEPS = ("per_class", "summed")

# Sub-purposes of the counter-based draws (all under rng.CONDENSE), so that no two kinds of draw share
# a stream.
_CLASS_SEEDS = 1
_REAL_BATCH = 2
_SYN_SUBSET = 3
_MATCH_AUG = 4
_NET_ORDER = 5
_NET_AUG = 6
_NET_CUTMIX = 7
_EARLY_ORDER = 8
_EARLY_AUG = 9
_EARLY_CUTMIX = 10

SNAPSHOT_FORMAT = "yoco-condense-snapshot"
SNAPSHOT_VERSION = 1

# Config fields that do not change the result (only speed, memory or bookkeeping), so a snapshot may be
# resumed with other values. ``outer`` may grow to extend a finished run.
_RESUMABLE_FIELDS = ("outer", "batched", "class_chunk", "snapshot_every", "feature_batch")


# --------------------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------------------

# Base image learning rates and the resolution they refer to (IDC:argument.py:tune_lr_img).
_LR_IMG_BASE = {"cifar10": (5e-3, 32), "cifar100": (5e-3, 32), "imagenet10": (3e-3, 224)}


def tune_lr_img(base: float, ipc: int, size: int, ref_size: int) -> float:
    """IDC's image learning rate: ``base * ipc / 10 * (size / ref_size)**2``.

    The update of ``S`` is a sum over more patches when ``ipc`` grows, so IDC scales the step with it
    (CIFAR IPC 10/20/50: 0.005/0.01/0.025; ImageNet-10 IPC 10/20: 0.003/0.006).
    """
    return float(base) * ipc / 10.0 * (size / ref_size) ** 2


@dataclass(frozen=True)
class CondenseConfig:
    """Every budget and hyper-parameter of an IDC/DREAM condensation.

    The defaults are IDC's CIFAR-10 IPC-10 settings (reference-spec §6.1); use :meth:`paper` for the
    settings of another dataset, IPC or method, and :meth:`replace` to shrink budgets for quick runs.

    Attributes
    ----------
    net, width, depth : str, int, int
        Condensation network (``"convnet"``: ConvNet-D3 instance norm, CIFAR; ``"resnetap10"``:
        ImageNet-10), its width and depth (ConvNet only).
    outer : int
        Outer iterations, each with a freshly initialised network (IDC ``niter``; paper "2000" of
        "2000x100").
    inner : int
        Inner steps per outer iteration (IDC ``inner_loop``; the "100").
    n_data : int
        Real samples the network is trained on after every inner step (IDC ``n_data``; CIFAR 2000,
        ImageNet 500), in batches of ``batch_net``; the last batch is not truncated, like the
        reference's ``train_epoch`` which stops once at least ``n_data`` samples were seen.
    early : int
        Epochs of pre-training on all real data at the start of every outer iteration (ImageNet 10).
    batch_real : int
        Real images per class in one matching step (IDC 64, DREAM 128; DREAM's number of clusters).
    batch_syn_max : int
        At most this many decoded synthetic patches per class and step (a random subset when more;
        also the patch budget of the "bound" decode).
    batch_net : int
        Batch size of the network updates and of the ``early`` pre-training.
    lr_img, mom_img : float
        SGD learning rate (already scaled, see :func:`tune_lr_img`) and momentum of ``S``.
    lr_net, mom_net, wd_net : float
        SGD of the network (0.01, 0.9, 5e-4).
    metric : {"mse", "l1"}
        Gradient distance: sum of squared (CIFAR) or absolute (ImageNet) differences.
    decode : {"single", "bound"}
        Synthetic decode during matching: uniform factor ``f``, or IDC's "bound" decode (ImageNet
        IPC >= 20) that mixes factors ``f, ..., 1`` to fit ``batch_syn_max`` patches.
    match_aug, net_aug : str
        DiffAug strategies of the matching step (one draw shared by the real and synthetic images)
        and of the network updates (one draw per sample).
    mix_p : float
        CutMix probability per network batch (CIFAR 0.5, ImageNet 1.0); ``lam ~ Beta(1, 1)`` as in
        every reference run.
    dream_interval : int
        DREAM: inner steps between two k-means re-clusterings of the real images.
    dream_kmeans_init : bool
        DREAM: choose the real images of the mixed grid by k-means (``f2_init = 'kmean'``).
    kmeans_iter : int
        Lloyd iterations of DREAM's k-means.
    image_step : {"per_class", "summed"}
        ``"per_class"`` (reference): one optimiser step after every class; ``"summed"``: one step per
        inner step with the gradient summed over classes.
    batched : bool
        Compute all classes' matching gradients at once (``torch.func.vmap``) instead of one class at
        a time; both give the same result up to float rounding.
    class_chunk : int
        Classes per batched matching call (0 = all at once). Memory grows with it: a batched call holds
        the double-backward graph of ``class_chunk * (batch_real + patches)`` images (CIFAR ConvNet-D3
        width 128: roughly 10 MB per image), so the default 10 keeps CIFAR-100 within one GPU.
    feature_batch : int
        Batch size of DREAM's feature extraction.
    snapshot_every : int
        Save a snapshot every this many outer iterations (and after the last one) when a snapshot
        path is given.
    """

    net: str = "convnet"
    width: int = 128
    depth: int = 3
    outer: int = 2000
    inner: int = 100
    n_data: int = 2000
    early: int = 0
    batch_real: int = 64
    batch_syn_max: int = 128
    batch_net: int = 64
    lr_img: float = 5e-3
    mom_img: float = 0.5
    lr_net: float = 0.01
    mom_net: float = 0.9
    wd_net: float = 5e-4
    metric: str = "mse"
    decode: str = "single"
    match_aug: str = "color_crop_cutout"
    net_aug: str = "color_crop"
    mix_p: float = 0.5
    dream_interval: int = 10
    dream_kmeans_init: bool = True
    kmeans_iter: int = 100
    image_step: str = "per_class"
    batched: bool = True
    class_chunk: int = 10
    feature_batch: int = 500
    snapshot_every: int = 10

    def __post_init__(self):
        positive = (
            "width",
            "depth",
            "outer",
            "inner",
            "batch_real",
            "batch_syn_max",
            "batch_net",
            "dream_interval",
            "kmeans_iter",
            "feature_batch",
            "snapshot_every",
        )
        for name in positive:
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise YocoError(f"CondenseConfig.{name} must be a positive integer, got {v!r}.")
        for name in ("n_data", "early", "class_chunk"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
                raise YocoError(f"CondenseConfig.{name} must be a non-negative integer, got {v!r}.")
        for name in ("lr_img", "lr_net"):
            if not getattr(self, name) > 0:
                raise YocoError(f"CondenseConfig.{name} must be > 0, got {getattr(self, name)!r}.")
        for name in ("mom_img", "mom_net"):
            if not 0 <= getattr(self, name) < 1:
                raise YocoError(f"CondenseConfig.{name} must lie in [0, 1), got {getattr(self, name)!r}.")
        if self.wd_net < 0:
            raise YocoError(f"CondenseConfig.wd_net must be >= 0, got {self.wd_net!r}.")
        if not 0 <= self.mix_p <= 1:
            raise YocoError(f"CondenseConfig.mix_p is a probability in [0, 1], got {self.mix_p!r}.")
        if self.metric not in METRICS:
            raise unknown_choice("matching metric", self.metric, METRICS)
        if self.decode not in DECODES:
            raise unknown_choice("decode", self.decode, DECODES)
        if self.image_step not in IMAGE_STEPS:
            raise unknown_choice("image_step", self.image_step, IMAGE_STEPS)
        if self.net not in nets.NETWORKS:
            raise unknown_choice("network", self.net, nets.NETWORKS)

    @classmethod
    def paper(cls, dataset: str, ipc: int, method: str = "idc") -> "CondenseConfig":
        """The settings of the original code for ``dataset`` at ``ipc`` (reference-spec §6.1, §6.3).

        =============  ==================  =====  ======  =====  ======  =====  ========
        dataset        net                 outer  n_data  early  metric  mix_p  lr_img
        =============  ==================  =====  ======  =====  ======  =====  ========
        cifar10/100    ConvNet-D3-IN 128   2000   2000    0      mse     0.5    5e-3 ipc/10
        imagenet10     ResNetAP-10-IN      500    500     10     l1      1.0    3e-3 ipc/10
        =============  ==================  =====  ======  =====  ======  =====  ========

        All use 100 inner steps, ``batch_real`` 64 (DREAM: 128), ``batch_syn_max`` 128 and image
        momentum 0.5. ImageNet-10 uses the "bound" decode for ``ipc >= 20``.

        Parameters
        ----------
        dataset : {"cifar10", "cifar100", "imagenet10"}
        ipc : int
            Stored images per class of the condensed set.
        method : {"idc", "dream"}
        """
        if method not in METHODS:
            raise unknown_choice("condensation method", method, METHODS)
        if dataset not in _LR_IMG_BASE:
            raise unknown_choice("paper condensation dataset", dataset, _LR_IMG_BASE)
        _check_positive_int("ipc", ipc)
        base, ref = _LR_IMG_BASE[dataset]
        common = dict(batch_real=128 if method == "dream" else 64)
        if dataset == "imagenet10":
            return cls(
                net="resnetap10",
                outer=500,
                inner=100,
                n_data=500,
                early=10,
                metric="l1",
                decode="bound" if ipc >= 20 else "single",
                mix_p=1.0,
                lr_img=tune_lr_img(base, ipc, ref, ref),
                **common,
            )
        return cls(
            net="convnet",
            width=128,
            depth=3,
            outer=2000,
            inner=100,
            n_data=2000,
            early=0,
            metric="mse",
            decode="single",
            mix_p=0.5,
            lr_img=tune_lr_img(base, ipc, 32, ref),
            **common,
        )

    @classmethod
    def quick(cls, ipc: int = 10, method: str = "idc") -> "CondenseConfig":
        """Small CPU budgets for the 16-pixel digits quickstart (not a paper setting).

        Width 32, 40 outer x 10 inner steps, 256 network samples per inner step, ``batch_real`` 32,
        and CIFAR's learning rate rule (5e-3 x ipc/10, not shrunk by the smaller image size: the
        digits images are upsampled 8x8 ones and need the larger step to move in few iterations).
        """
        if method not in METHODS:
            raise unknown_choice("condensation method", method, METHODS)
        _check_positive_int("ipc", ipc)
        return cls(
            net="convnet",
            width=32,
            depth=3,
            outer=40,
            inner=10,
            n_data=256,
            batch_real=32,
            lr_img=tune_lr_img(5e-3, ipc, 32, 32),
            dream_interval=5,
            kmeans_iter=30,
        )

    def replace(self, **changes: Any) -> "CondenseConfig":
        """A copy with some fields changed (validated; unknown names are rejected)."""
        fields = {f.name for f in dataclasses.fields(self)}
        for k in changes:
            if k not in fields:
                raise unknown_choice("CondenseConfig field", k, fields)
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Plain-value dictionary (for YAML/JSON and snapshots)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "CondenseConfig":
        """Inverse of :meth:`to_dict`; missing fields take the defaults, unknown ones are rejected."""
        return cls().replace(**dict(values))


def _check_positive_int(name: str, v: Any) -> None:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
        raise YocoError(f"{name} must be a positive integer, got {v!r}.")


# --------------------------------------------------------------------------------------------------
# Gradient matching
# --------------------------------------------------------------------------------------------------


def matched_parameters(net: torch.nn.Module) -> list[str]:
    """Names of the parameters whose gradients are matched: tensors with >= 3 dimensions.

    IDC runs with ``bias = fc = False``: 1-D tensors (biases, norm scales) and 2-D tensors (the
    linear classifier) are skipped, which leaves the convolution kernels.
    """
    names = [n for n, p in net.named_parameters() if p.dim() >= 3]
    if not names:
        raise YocoError(f"{type(net).__name__} has no parameter with >= 3 dimensions (conv kernel) to match.")
    return names


def gradient_distance(g_real: torch.Tensor, g_syn: torch.Tensor, metric: str = "mse") -> torch.Tensor:
    """IDC's ``dist`` of two gradient tensors: ``sum((g_real - g_syn)**2)`` ("mse") or
    ``sum(|g_real - g_syn|)`` ("l1"), summed over all elements."""
    diff = g_real - g_syn
    if metric == "mse":
        return diff.pow(2).sum()
    if metric == "l1":
        return diff.abs().sum()
    raise unknown_choice("matching metric", metric, METRICS)


def _class_distance(g_real: torch.Tensor, g_syn: torch.Tensor, metric: str) -> torch.Tensor:
    """Per-class distance for gradients stacked over classes: ``[K, ...] -> [K]``."""
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
) -> torch.Tensor:
    """Per-class gradient-matching losses of IDC (``IDC:condense.py:matchloss``, ``match='grad'``).

    For class ``c`` with real images ``x_r`` and synthetic images ``x_s`` (both already augmented and
    normalised, i.e. network inputs), ``g_r = d CE(net(x_r), c) / d theta`` (detached) and
    ``g_s = d CE(net(x_s), c) / d theta`` (differentiable w.r.t. ``x_s``), summed over the conv
    kernels ``theta`` (:func:`matched_parameters`) of ``dist(g_r, g_s)``.

    Parameters
    ----------
    net : nn.Module
        The current network; it is not changed. Its parameters receive no gradient.
    real_by_class, syn_by_class : list of Tensor [n, channels, h, w], or Tensor [K, n, channels, h, w]
        Real and synthetic inputs of each of the K classes, in the order of ``classes``.
    classes : sequence of int, optional
        Label of each entry (default ``0 .. K-1``).
    metric : {"mse", "l1"}
    batched : bool
        True: all classes at once with ``torch.func`` (``vmap`` over classes of ``grad`` of a
        ``functional_call``); needs equal batch sizes across classes and a network without
        running statistics (no BatchNorm). False: the reference's loop with ``torch.autograd.grad``.

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
    names = matched_parameters(net)
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


# --------------------------------------------------------------------------------------------------
# Synthetic decode during matching
# --------------------------------------------------------------------------------------------------


def bound_plan(ipc: int, factor: int, bound: int = 128) -> list[tuple[int, int]]:
    """IDC's "bound" decode plan (``Synthesizer.decode_zoom_bound``): ``[(factor, n_images), ...]``.

    The first images of a class are decoded with ``factor`` while the patch budget ``bound`` allows
    (keeping one patch for every image not yet placed), then with ``factor - 1``, ..., down to 1.
    ImageNet IPC 20, factor 3, bound 128: ``[(3, 12), (2, 3), (1, 5)]`` = 108 + 12 + 5 = 125 patches.
    """
    budget, left, placed, plan = bound - ipc, ipc, 0, []
    for f in range(factor, 0, -1):
        n = min(budget // (f * f), left) if f > 1 else left
        plan.append((f, n))
        left -= n
        placed += n * f * f
        budget = bound - placed - left
        if left == 0:
            break
    return plan


def decode_classes(blocks: torch.Tensor, factor: int, mode: str = "single", bound: int = 128) -> torch.Tensor:
    """Decode stored images of K classes for matching: ``[K, ipc, ch, h, w] -> [K, P, ch, h, w]``.

    ``mode="single"`` is :func:`yoco.formation.decode` (P = ipc f^2). ``mode="bound"`` concatenates, per
    class, the decodes of the consecutive image groups of :func:`bound_plan`. Differentiable.
    """
    k, ipc = blocks.shape[:2]
    rest = blocks.shape[2:]
    if mode == "single":
        plan = [(factor, ipc)]
    elif mode == "bound":
        plan = bound_plan(ipc, factor, bound)
    else:
        raise unknown_choice("decode", mode, DECODES)
    parts, start = [], 0
    for f, n in plan:
        if n == 0:
            continue
        group = blocks[:, start : start + n].reshape(k * n, *rest)
        parts.append(decode_images(group, n, f).view(k, n * f * f, *rest))
        start += n
    return parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)


# --------------------------------------------------------------------------------------------------
# k-means for DREAM
# --------------------------------------------------------------------------------------------------


def nearest_to_centroids(features: torch.Tensor, n_clusters: int, seed: int, max_iter: int = 100) -> torch.Tensor:
    """Index of the sample nearest to each k-means centroid, in centroid order (DREAM's query).

    ``KMeansSampling.query_match_sample``: cluster the features with :func:`yoco.scores.kmeans`
    (the algorithm of ``fast_pytorch_kmeans``, which DREAM uses), then take, for every centroid, the
    sample with the smallest Euclidean distance to it (two centroids may share one sample).
    """
    if n_clusters > features.shape[0]:
        raise YocoError(
            f"k-means with {n_clusters} clusters needs at least as many samples, got {features.shape[0]}; "
            "lower batch_real (DREAM's cluster count) or ipc."
        )
    from .scores import kmeans  # fast_pytorch_kmeans's algorithm, seeded

    centroids = torch.as_tensor(
        kmeans(features, n_clusters, seed, max_iter=max_iter).centroids, dtype=features.dtype, device=features.device
    )
    return torch.cdist(centroids, features).argmin(1)


# --------------------------------------------------------------------------------------------------
# The condensation loop
# --------------------------------------------------------------------------------------------------


class _RealPool:
    """The real training set on ``device``: uint8 NCHW (memory) converted per batch to [0, 1] floats."""

    def __init__(self, real: RealData, device: torch.device):
        self.x = torch.from_numpy(np.ascontiguousarray(real.x_train)).to(device).permute(0, 3, 1, 2).contiguous()
        self.y = torch.from_numpy(np.asarray(real.y_train, dtype=np.int64)).to(device)
        self.class_idx = [
            torch.from_numpy(np.flatnonzero(real.y_train == c)).to(device) for c in range(real.num_classes)
        ]
        self.mean = torch.tensor(real.mean, dtype=torch.float32, device=device).view(1, 3, 1, 1)
        self.std = torch.tensor(real.std, dtype=torch.float32, device=device).view(1, 3, 1, 1)

    def images(self, idx: torch.Tensor) -> torch.Tensor:
        return self.x[idx].to(torch.float32).div_(255.0)

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


class _Condenser:
    """State and steps of one condensation run (see :func:`condense`)."""

    def __init__(
        self, real: RealData, method: str, ipc: int, factor: int, cfg: CondenseConfig, seed: int, device: torch.device
    ):
        self.real, self.method, self.ipc, self.factor, self.cfg = real, method, ipc, factor, cfg
        self.seed, self.device = int(seed), device
        self.C = real.num_classes
        self.size = real.image_size
        self.pool = _RealPool(real, device)
        self.seed_t = torch.tensor([self.seed], dtype=torch.int64, device=device)
        # One independent stream per class, so the batched path (all classes in one diffaug call, one
        # seed per "model") and the loop path (one class per call) draw identical parameters.
        self.class_seeds = rng.bits(self.seed_t, (rng.CONDENSE, _CLASS_SEEDS), (self.C,))[0] & 0x7FFFFFFF
        self.targets = torch.arange(self.C, dtype=torch.int64).repeat_interleave(ipc)
        self.images: torch.Tensor | None = None
        self.opt: ImageSGD | None = None
        self.dream_batches: list[torch.Tensor] | None = None

    # --- networks -------------------------------------------------------------------------------
    def network(self, it: int) -> torch.nn.Module:
        net = nets.init_network(
            self.cfg.net,
            self.C,
            seed_from(self.seed, "condense-net", it),
            image_size=self.size,
            width=self.cfg.width,
            depth=self.cfg.depth,
        )
        return net.to(self.device).train()

    def net_optimizer(self, net) -> SGD:
        return SGD(net.parameters(), lr=self.cfg.lr_net, momentum=self.cfg.mom_net, weight_decay=self.cfg.wd_net)

    def train_batches(
        self, net, opt, order: torch.Tensor, counters: tuple[int, ...], aug_purpose: int, cut_purpose: int
    ) -> None:
        """The reference's ``train_epoch`` over ``order`` (batches of ``batch_net``) with aug_rand + CutMix."""
        bs = self.cfg.batch_net
        for b in range(math.ceil(order.numel() / bs)):
            idx = order[b * bs : (b + 1) * bs]
            y = self.pool.y[idx]
            with torch.no_grad():
                x = self.pool.normalize(self.pool.images(idx))
                x = augment.diffaug(
                    x[None],
                    self.seed_t,
                    (rng.CONDENSE, aug_purpose) + counters + (b,),
                    strategy=self.cfg.net_aug,
                    shared=False,
                )
                x, y_partner, ratio = augment.cutmix(
                    x, y[None], self.seed_t, (rng.CONDENSE, cut_purpose) + counters + (b,), p=self.cfg.mix_p
                )
            logits = net(x[0])[None]
            loss = augment.mixed_cross_entropy(logits, y[None], y_partner, ratio)[0]
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

    def pretrain(self, net, opt, it: int) -> None:
        """ImageNet-10: ``early`` full epochs on the real data before the outer iteration's matching."""
        n = self.pool.y.numel()
        for epoch in range(self.cfg.early):
            order = rng.permutation(self.seed_t, (rng.CONDENSE, _EARLY_ORDER, it, epoch), n)[0]
            self.train_batches(net, opt, order, (it, epoch), _EARLY_AUG, _EARLY_CUTMIX)

    def net_update(self, net, opt, it: int, ot: int) -> None:
        """Train on random real batches until ``n_data`` samples were seen (last batch kept whole)."""
        if self.cfg.n_data == 0:
            return
        n = self.pool.y.numel()
        n_batches = math.ceil(self.cfg.n_data / self.cfg.batch_net)
        need = n_batches * self.cfg.batch_net
        # A fresh shuffle per inner step, like a re-created DataLoader iterator; more than one when the
        # step needs more samples than the dataset holds.
        orders = [
            rng.permutation(self.seed_t, (rng.CONDENSE, _NET_ORDER, it, ot, r), n)[0]
            for r in range(math.ceil(need / n))
        ]
        self.train_batches(net, opt, torch.cat(orders)[:need], (it, ot), _NET_AUG, _NET_CUTMIX)

    # --- initialisation ---------------------------------------------------------------------------
    def features(self, net, idx: torch.Tensor) -> torch.Tensor:
        out = []
        with torch.no_grad():
            for s in range(0, idx.numel(), self.cfg.feature_batch):
                x = self.pool.normalize(self.pool.images(idx[s : s + self.cfg.feature_batch]))
                out.append(net.embed(x).flatten(1))
        return torch.cat(out)

    def initial_images(self) -> torch.Tensor:
        need = self.ipc * self.factor**2
        chosen = []
        net0 = self.network(0) if self.method == "dream" and self.cfg.dream_kmeans_init else None
        for c, idx in enumerate(self.pool.class_idx):
            if idx.numel() < need:
                raise YocoError(
                    f"{self.real.name}: class {c} has {idx.numel()} training images, but ipc={self.ipc} "
                    f"with factor={self.factor} needs {need}; lower ipc or factor."
                )
            if net0 is not None:
                pick = nearest_to_centroids(
                    self.features(net0, idx), need, seed_from(self.seed, "dream-init", c), self.cfg.kmeans_iter
                )
                chosen.append(self.pool.images(idx[pick]))
            else:
                chosen.append(self.pool.images(idx[:need]))
        return mix_init(chosen, self.ipc, self.factor)

    # --- matching -----------------------------------------------------------------------------------
    def real_batch(self, net, c: int, it: int, ot: int) -> torch.Tensor:
        if self.dream_batches is not None:
            return self.pool.images(self.dream_batches[c])
        idx = self.pool.class_idx[c]
        pick = rng.permutation(self.class_seeds[c : c + 1], (rng.CONDENSE, _REAL_BATCH, it, ot), idx.numel())
        return self.pool.images(idx[pick[0, : self.cfg.batch_real]])

    def dream_query(self, net, it: int, ot: int) -> None:
        """DREAM: the real images nearest to ``batch_real`` k-means centroids of each class's features."""
        self.dream_batches = []
        for c, idx in enumerate(self.pool.class_idx):
            pick = nearest_to_centroids(
                self.features(net, idx),
                self.cfg.batch_real,
                seed_from(self.seed, "dream-query", it, ot, c),
                self.cfg.kmeans_iter,
            )
            self.dream_batches.append(idx[pick])

    def syn_batch(self, classes: list[int], it: int, ot: int) -> torch.Tensor:
        """Decoded synthetic patches of ``classes`` ([K, P', ch, h, w], differentiable w.r.t. ``S``)."""
        blocks = self.images.view(self.C, self.ipc, *self.images.shape[1:])[classes[0] : classes[-1] + 1]
        x = decode_classes(blocks, self.factor, self.cfg.decode, self.cfg.batch_syn_max)
        p = x.shape[1]
        if p > self.cfg.batch_syn_max:
            seeds = self.class_seeds[classes[0] : classes[-1] + 1]
            keep = rng.permutation(seeds, (rng.CONDENSE, _SYN_SUBSET, it, ot), p)[:, : self.cfg.batch_syn_max]
            x = torch.stack([x[i, keep[i]] for i in range(len(classes))])
        return x

    def class_losses(self, net, classes: list[int], it: int, ot: int, batched: bool) -> torch.Tensor:
        """Matching losses of a contiguous range of classes, with the shared DiffAug draw."""
        real = torch.stack([self.real_batch(net, c, it, ot) for c in classes])
        syn = self.syn_batch(classes, it, ot)
        n = real.shape[1]
        both = self.pool.normalize(torch.cat([real, syn], dim=1).flatten(0, 1)).view(len(classes), -1, *real.shape[2:])
        seeds = self.class_seeds[classes[0] : classes[-1] + 1]
        both = augment.diffaug(
            both, seeds, (rng.CONDENSE, _MATCH_AUG, it, ot), strategy=self.cfg.match_aug, shared=True
        )
        return match_loss(net, both[:, :n], both[:, n:], classes, self.cfg.metric, batched=batched)

    def image_update(self, net, it: int, ot: int) -> float:
        """Step (a) of an inner step: match every class and move ``S``; returns the summed loss."""
        S, opt, C = self.images, self.opt, self.C
        total = 0.0
        if not self.cfg.batched:
            for c in range(C):
                loss = self.class_losses(net, [c], it, ot, batched=False).sum()
                if self.cfg.image_step == "per_class":
                    S.grad = None  # the reference's optim_img.zero_grad() before every class
                loss.backward(inputs=[S])  # the network's .grad stays untouched
                total += float(loss.detach())
                if self.cfg.image_step == "per_class":
                    opt.step(S.grad)
            if self.cfg.image_step == "summed":
                # Gradients of all classes were accumulated into S.grad by the successive backward calls.
                opt.step(S.grad)
            S.grad = None
            return total
        if self.cfg.image_step == "per_class":
            # Class c is the (c+1)-th to step: before it, c steps moved its rows by momentum only.
            opt.coast(list(range(C)))
        S.grad = None
        chunk = self.cfg.class_chunk or C
        for start in range(0, C, chunk):
            loss = self.class_losses(net, list(range(start, min(C, start + chunk))), it, ot, batched=True).sum()
            loss.backward(inputs=[S])
            total += float(loss.detach())
        opt.step(S.grad)
        if self.cfg.image_step == "per_class":
            opt.coast([C - 1 - c for c in range(C)])
        S.grad = None
        return total

    # --- snapshots ----------------------------------------------------------------------------------
    def identity(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "dataset": self.real.name,
            "ipc": self.ipc,
            "factor": self.factor,
            "seed": self.seed,
            "num_classes": self.C,
            "image_size": self.size,
            "n_train": int(self.pool.y.numel()),
        }

    def save_snapshot(self, path: Path, next_outer: int, history: list[float]) -> None:
        state = {
            "format": SNAPSHOT_FORMAT,
            "version": SNAPSHOT_VERSION,
            **self.identity(),
            "config": self.cfg.to_dict(),
            "next_outer": next_outer,
            "loss_history": list(history),
            "images": self.images.detach().cpu().clone(),
            "targets": self.targets.clone(),
            "optimizer": self.opt.state_dict(),
        }
        with atomic_path(path) as tmp:  # an interrupted save never leaves a truncated snapshot
            torch.save(state, tmp)

    def load_snapshot(self, path: Path) -> tuple[int, list[float]]:
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as e:  # noqa: BLE001 - any unreadable file gets the same advice
            raise YocoError(f"cannot read condensation snapshot {path}: {e}. Delete it to start afresh.") from e
        if not isinstance(state, dict) or state.get("format") != SNAPSHOT_FORMAT:
            raise YocoError(f"{path} is not a yoco condensation snapshot; delete it or pass another snapshot_path.")
        mine = self.identity()
        for k, v in mine.items():
            if state.get(k) != v:
                raise YocoError(
                    f"snapshot {path} was made with {k}={state.get(k)!r}, this run has {k}={v!r}; "
                    "use the same settings to resume, or delete the snapshot to start afresh."
                )
        theirs = dict(state["config"])
        ours = self.cfg.to_dict()
        for k in ours:
            if k not in _RESUMABLE_FIELDS and theirs.get(k) != ours[k]:
                raise YocoError(
                    f"snapshot {path} was made with config {k}={theirs.get(k)!r}, this run has "
                    f"{k}={ours[k]!r}; resume with the same value or delete the snapshot."
                )
        with torch.no_grad():
            self.images.copy_(state["images"].to(self.device))
        self.opt.load_state_dict(state["optimizer"])
        return int(state["next_outer"]), list(state["loss_history"])

    # --- the run ------------------------------------------------------------------------------------
    def run(self, snapshot_path: Path | None, progress: Callable[[dict], None] | None) -> tuple[torch.Tensor, dict]:
        cfg = self.cfg
        start = 0
        history: list[float] = []
        if snapshot_path is not None and snapshot_path.exists():
            self.images = torch.zeros(
                self.C * self.ipc, 3, self.size, self.size, device=self.device, requires_grad=True
            )
            self.opt = ImageSGD(self.images, cfg.lr_img, cfg.mom_img, self.C)
            start, history = self.load_snapshot(snapshot_path)
            log.info("resuming %s condensation from %s at outer iteration %d", self.method, snapshot_path, start)
        else:
            self.images = self.initial_images().to(self.device).requires_grad_(True)
            self.opt = ImageSGD(self.images, cfg.lr_img, cfg.mom_img, self.C)
        t0 = time.perf_counter()
        for it in range(start, cfg.outer):
            net = self.network(it)
            net_opt = self.net_optimizer(net)
            if cfg.early:
                self.pretrain(net, net_opt, it)
            with torch.no_grad():
                self.images.clamp_(0.0, 1.0)
            self.dream_batches = None
            total = 0.0
            for ot in range(cfg.inner):
                if self.method == "dream" and ot % cfg.dream_interval == 0:
                    self.dream_query(net, it, ot)
                total += self.image_update(net, it, ot)
                self.net_update(net, net_opt, it, ot)
            history.append(total / (cfg.inner * self.C))
            done = it + 1
            if snapshot_path is not None and (done % cfg.snapshot_every == 0 or done == cfg.outer):
                self.save_snapshot(snapshot_path, done, history)
            info = {
                "method": self.method,
                "outer": done,
                "outer_total": cfg.outer,
                "match_loss": history[-1],
                "seconds": time.perf_counter() - t0,
            }
            log.info(
                "%s outer %d/%d: mean matching loss %.5f (%.1f s)",
                self.method,
                done,
                cfg.outer,
                history[-1],
                info["seconds"],
            )
            if progress is not None:
                progress(info)
        return self.images.detach().cpu().clone(), {"loss_history": history}


def _prepare(
    real: RealData,
    method: str,
    ipc: int,
    factor: int,
    config: CondenseConfig | None,
    seed: int,
    device: str | torch.device,
) -> _Condenser:
    """Validate the arguments of :func:`condense` and build its runner."""
    if method not in METHODS:
        raise unknown_choice("condensation method", method, METHODS)
    if not isinstance(real, RealData):
        raise YocoError(f"real must be a yoco.data.RealData (see yoco.data.load_real), got {type(real).__name__}.")
    real.validate()
    _check_positive_int("ipc", ipc)
    _check_positive_int("factor", factor)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise YocoError(f"seed must be a non-negative integer, got {seed!r}.")
    if factor > real.image_size:
        raise YocoError(f"factor {factor} exceeds the image side {real.image_size}; use a smaller factor.")
    if config is None:
        config = CondenseConfig.paper(real.name, ipc, method)
    if not isinstance(config, CondenseConfig):
        raise YocoError(
            f"config must be a CondenseConfig (e.g. CondenseConfig.paper(...)), got {type(config).__name__}."
        )
    counts = np.bincount(real.y_train, minlength=real.num_classes)
    if counts.min() < 1:
        raise YocoError(f"{real.name}: class {int(counts.argmin())} has no training images.")
    if method == "dream" and counts.min() < config.batch_real:
        raise YocoError(
            f"{real.name}: the smallest class has {counts.min()} training images, but DREAM clusters "
            f"each class into batch_real={config.batch_real} groups; lower batch_real."
        )
    if config.batched and counts.min() < config.batch_real:
        # Real batches of unequal size cannot be stacked over classes.
        raise YocoError(
            f"{real.name}: the smallest class has {counts.min()} training images, fewer than "
            f"batch_real={config.batch_real}; lower batch_real or set batched=False."
        )
    if config.batched and nets.uses_batchnorm(config.net):
        raise YocoError(
            f"batched matching cannot vmap {config.net!r} (BatchNorm running statistics); "
            "set batched=False or use an instance-norm network."
        )
    return _Condenser(real, method, int(ipc), int(factor), config, int(seed), torch.device(device))


def initial_images(
    real: RealData,
    method: str = "idc",
    ipc: int = 10,
    factor: int = 2,
    config: CondenseConfig | None = None,
    seed: int = 0,
    device: str | torch.device = "cpu",
) -> torch.Tensor:
    """The synthetic tensor a :func:`condense` run starts from, ``[C*ipc, 3, h, h]`` on the CPU.

    IDC: the "mix" initialisation of the first ``ipc * factor**2`` real images of every class
    (:func:`yoco.formation.mix_init`). DREAM with ``dream_kmeans_init``: the same grid filled with the
    real images nearest to ``ipc * factor**2`` k-means centroids of the features of the run's first
    (untrained) network, in centroid order. Arguments as in :func:`condense`.
    """
    runner = _prepare(real, method, ipc, factor, config, seed, device)
    return runner.initial_images().cpu()


def condense(
    real: RealData,
    method: str = "idc",
    ipc: int = 10,
    factor: int = 2,
    config: CondenseConfig | None = None,
    seed: int = 0,
    device: str | torch.device = "cpu",
    snapshot_path: str | os.PathLike | None = None,
    progress: Callable[[dict], None] | None = None,
):
    """Condense a real dataset with IDC or DREAM (reference-spec §6.1, §6.3).

    Parameters
    ----------
    real : RealData
        The real training set (``x_train`` uint8 NHWC, ``y_train``, ``mean``/``std``).
    method : {"idc", "dream"}
    ipc : int
        Stored images per class of the condensed set.
    factor : int
        Multi-formation factor ``f`` (CIFAR 2, ImageNet-10 3); every stored image holds ``f x f``
        patches.
    config : CondenseConfig, optional
        Budgets and hyper-parameters; default ``CondenseConfig.paper(real.name, ipc, method)``
        (only for cifar10, cifar100, imagenet10).
    seed : int
        Seeds every random draw (network inits, batches, DiffAug, CutMix, k-means).
    device : str or torch.device
    snapshot_path : path, optional
        Where to save snapshots (synthetic tensor, optimiser momentum, next outer iteration, loss
        history). If the file exists the run resumes from it and, with the same seed and settings,
        ends with the same tensor as an uninterrupted run.
    progress : callable, optional
        Called after every outer iteration with ``{"method", "outer", "outer_total", "match_loss",
        "seconds"}``; the same line is logged to the ``yoco.condense`` logger.

    Returns
    -------
    yoco.condensed.CondensedSet
        Images ``[C*ipc, 3, h, h]`` in pixel space (clamped to [0, 1] only at the start of each outer
        iteration, like the reference, so values may slightly exceed it), class-major labels,
        ``value_space="pixel01"``; provenance holds the method, seed, config and loss history.
        Save it with ``.save(path)`` or, in IDC's ``[images, targets]`` format, with
        ``yoco.condensed.save_idc``.
    """
    from .condensed import PIXEL01_TOLERANCE, CondensedSet  # imported here: not needed by the rest

    runner = _prepare(real, method, ipc, factor, config, seed, device)
    config = runner.cfg
    images, extra = runner.run(Path(snapshot_path) if snapshot_path is not None else None, progress)
    provenance = {
        "source": "yoco.condense",
        "condenser": method,
        "seed": int(seed),
        "config": config.to_dict(),
        "outer_done": config.outer,
        "loss_history": extra["loss_history"],
        "clamped_output": False,
    }
    lo, hi = float(images.min()), float(images.max())
    if lo < -PIXEL01_TOLERANCE or hi > 1 + PIXEL01_TOLERANCE:
        # The reference saves S unclamped (it is clamped at the next outer iteration's start); an
        # overshoot this large means an aggressive lr_img, and pixel sets must stay near [0, 1].
        log.warning(
            "condensed pixels span [%.3g, %.3g]; clamping the output to [0, 1] (consider a smaller lr_img)", lo, hi
        )
        images = images.clamp(0.0, 1.0)
        provenance["clamped_output"] = True
    cs = CondensedSet(
        images=images,
        labels=runner.targets.clone(),
        ipc=int(ipc),
        factor=int(factor),
        value_space="pixel01",
        dataset=real.name,
        condenser=method,
        provenance=provenance,
    )
    return cs.validate()
