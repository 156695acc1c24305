"""Budgets and hyper-parameters of the gradient-matching condensers (IDC, DREAM, DSA)."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import nets
from ..errors import YocoError, unknown_choice

METHODS = ("idc", "dream", "dsa")
METRICS = ("mse", "l1", "ours")
AUG_MODES = ("idc", "dsa")
DECODES = ("single", "bound")
IMAGE_STEPS = ("per_class", "summed")

# DSA's (outer_loop, inner_loop) per IPC (``DSA:utils.py:get_loops``): matching steps per outer
# iteration, and epochs over the synthetic set in each network update between two of them.
DSA_LOOPS = {1: (1, 1), 10: (10, 50), 20: (20, 25), 30: (30, 20), 40: (40, 15), 50: (50, 10)}

# Base image learning rates and the resolution they refer to (IDC:argument.py:tune_lr_img).
_LR_IMG_BASE = {"cifar10": (5e-3, 32), "cifar100": (5e-3, 32), "imagenet10": (3e-3, 224)}


def tune_lr_img(base: float, ipc: int, size: int, ref_size: int) -> float:
    """IDC's image learning rate: ``base * ipc / 10 * (size / ref_size)**2``.

    The update of ``S`` is a sum over more patches when ``ipc`` grows, so IDC scales the step with it
    (CIFAR IPC 10/20/50: 0.005/0.01/0.025; ImageNet-10 IPC 10/20: 0.003/0.006).
    """
    return float(base) * ipc / 10.0 * (size / ref_size) ** 2


class Settings:
    """What every condensation dataclass shares: a validated :meth:`replace` and :meth:`to_dict`."""

    def replace(self, **changes: Any):
        """A copy with some fields changed (validated; unknown names are rejected)."""
        fields = {f.name for f in dataclasses.fields(self)}
        for k in changes:
            if k not in fields:
                raise unknown_choice(f"{type(self).__name__} field", k, fields)
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Plain-value dictionary (for YAML/JSON and snapshots)."""
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class CondenseConfig(Settings):
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
    metric : {"mse", "l1", "ours"}
        Gradient distance: sum of squared (IDC CIFAR) or absolute (IDC ImageNet) differences, or
        DC/DSA's layer-wise cosine distance ``"ours"`` (:func:`yoco.condense.gradient_distance`).
    match_fc : bool
        Also match the linear classifier's gradient (DSA matches every parameter; IDC ``fc=False``).
    decode : {"single", "bound"}
        Synthetic decode during matching: uniform factor ``f``, or IDC's "bound" decode (ImageNet
        IPC >= 20) that mixes factors ``f, ..., 1`` to fit ``batch_syn_max`` patches.
    match_aug, net_aug : str
        DiffAug strategies of the matching step (one draw shared by the real and synthetic images)
        and of the network updates (one draw per sample).
    aug_mode : {"idc", "dsa"}
        ``"idc"``: :func:`yoco.augment.diffaug` (flip, colour, cutout whenever listed, plus one
        geometric op); ``"dsa"``: :func:`yoco.augment.dsa_augment` (one op drawn from all listed).
    syn_epochs : int
        DSA: epochs of network training on the synthetic set between two matching steps (DSA's
        ``inner_loop``), in batches of ``batch_net``; 0 for IDC/DREAM, which train on real data.
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
    match_fc: bool = False
    decode: str = "single"
    match_aug: str = "color_crop_cutout"
    net_aug: str = "color_crop"
    aug_mode: str = "idc"
    syn_epochs: int = 0
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
            check_int(f"CondenseConfig.{name}", getattr(self, name))
        for name in ("n_data", "early", "class_chunk", "syn_epochs"):
            check_int(f"CondenseConfig.{name}", getattr(self, name), minimum=0)
        for name in ("lr_img", "lr_net"):
            if not (math.isfinite(getattr(self, name)) and getattr(self, name) > 0):
                raise YocoError(f"CondenseConfig.{name} must be a finite number > 0, got {getattr(self, name)!r}.")
        for name in ("mom_img", "mom_net"):
            if not 0 <= getattr(self, name) < 1:
                raise YocoError(f"CondenseConfig.{name} must lie in [0, 1), got {getattr(self, name)!r}.")
        if not (math.isfinite(self.wd_net) and self.wd_net >= 0):
            raise YocoError(f"CondenseConfig.wd_net must be a finite number >= 0, got {self.wd_net!r}.")
        if not 0 <= self.mix_p <= 1:
            raise YocoError(f"CondenseConfig.mix_p is a probability in [0, 1], got {self.mix_p!r}.")
        if self.metric not in METRICS:
            raise unknown_choice("matching metric", self.metric, METRICS)
        if self.aug_mode not in AUG_MODES:
            raise unknown_choice("aug_mode", self.aug_mode, AUG_MODES)
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
        momentum 0.5. ImageNet-10 uses the "bound" decode for ``ipc >= 20``. DSA (CIFAR only): see
        :meth:`dsa`.

        Parameters
        ----------
        dataset : {"cifar10", "cifar100", "imagenet10"}
        ipc : int
            Stored images per class of the condensed set.
        method : {"idc", "dream", "dsa"}
        """
        if method not in METHODS:
            raise unknown_choice("condensation method", method, METHODS)
        if method == "dsa":
            if dataset not in ("cifar10", "cifar100"):
                raise unknown_choice("paper DSA condensation dataset", dataset, ("cifar10", "cifar100"))
            return cls.dsa(ipc)
        if dataset not in _LR_IMG_BASE:
            raise unknown_choice("paper condensation dataset", dataset, _LR_IMG_BASE)
        check_int("ipc", ipc)
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
    def dsa(cls, ipc: int = 10) -> "CondenseConfig":
        """DSA's settings (``DSA:main.py`` defaults, ``--method DSA --init real``, ``get_loops``).

        ConvNet-D3 (instance norm, width 128); ``Iteration`` 1000, and the reference's loop
        ``for it in range(Iteration + 1)`` trains in every pass, so the saved set saw 1001 outer
        iterations; per outer iteration ``outer_loop`` matching steps (IPC 10: 10), each one SGD step
        of the images on the loss summed over classes (lr_img 0.1, momentum 0.5), followed (except
        after the last) by ``inner_loop`` epochs (IPC 10: 50) of plain SGD (lr_net 0.01, no momentum,
        no weight decay) on the synthetic set in batches of ``batch_train`` 256; ``batch_real`` 256;
        distance ``'ours'`` over every parameter; DSA's strategy
        ``color_crop_cutout_flip_scale_rotate`` for both the Siamese matching and the network updates;
        no CutMix, no clamping. Defined for the IPCs of ``get_loops``: 1, 10, 20, 30, 40, 50.
        """
        check_int("ipc", ipc)
        if ipc not in DSA_LOOPS:
            raise YocoError(
                f"DSA defines its loops only for ipc in {sorted(DSA_LOOPS)} (DSA:utils.py:get_loops), got {ipc}; "
                "pick one of them or set inner/syn_epochs yourself with CondenseConfig.replace."
            )
        outer_loop, inner_loop = DSA_LOOPS[ipc]
        from ..augment import DSA_STRATEGY

        return cls(
            net="convnet",
            width=128,
            depth=3,
            outer=1001,
            inner=outer_loop,
            n_data=0,
            syn_epochs=inner_loop,
            batch_real=256,
            batch_syn_max=max(128, ipc),
            batch_net=256,
            lr_img=0.1,
            mom_img=0.5,
            lr_net=0.01,
            mom_net=0.0,
            wd_net=0.0,
            metric="ours",
            match_fc=True,
            match_aug=DSA_STRATEGY,
            net_aug=DSA_STRATEGY,
            aug_mode="dsa",
            mix_p=0.0,
            image_step="summed",
        )

    @classmethod
    def fallback(cls, method: str = "idc", ipc: int = 10) -> "CondenseConfig":
        """Settings for a dataset without a published recipe (digits, ...): IDC's CIFAR settings for
        IDC/DREAM, DSA's (with its IPC-10 loops when ``ipc`` has none) for DSA; shrink with :meth:`replace`."""
        if method not in METHODS:
            raise unknown_choice("condensation method", method, METHODS)
        if method == "dsa":
            return cls.dsa(ipc if ipc in DSA_LOOPS else 10)
        return cls()

    @classmethod
    def quick(cls, ipc: int = 10, method: str = "idc") -> "CondenseConfig":
        """Small CPU budgets for the 16-pixel digits quickstart (not a paper setting).

        Width 32, 40 outer x 10 inner steps, 256 network samples per inner step, ``batch_real`` 32,
        and CIFAR's learning rate rule (5e-3 x ipc/10, not shrunk by the smaller image size: the
        digits images are upsampled 8x8 ones and need the larger step to move in few iterations).
        """
        if method not in METHODS:
            raise unknown_choice("condensation method", method, METHODS)
        check_int("ipc", ipc)
        if method == "dsa":
            # DSA's recipe with its loops cut from 1001 x (10 matching steps, 50 synthetic epochs) to
            # 30 x (5, 10), and real batches of 64 (digits has about 125 images per class).
            return cls.fallback("dsa", ipc).replace(
                width=32, outer=30, inner=5, syn_epochs=10, batch_real=64, snapshot_every=10
            )
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

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "CondenseConfig":
        """Inverse of :meth:`to_dict`; missing fields take the defaults, unknown ones are rejected."""
        return cls().replace(**dict(values))


def check_int(name: str, v: Any, minimum: int = 1) -> None:
    """Reject anything but an integer ``>= minimum`` (bools too, though Python counts them as ints)."""
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < minimum:
        what = {0: "a non-negative integer", 1: "a positive integer"}.get(minimum, f"an integer >= {minimum}")
        raise YocoError(f"{name} must be {what}, got {v!r}.")
