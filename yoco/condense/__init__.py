"""In-house dataset condensation (reference-spec §6): the condensed sets YOCO prunes, made from real data.

YOCO prunes condensed datasets, but the authors' sets exist only on a file-sharing drive. This package
re-creates them from the real training data, following the original code. One file per algorithm:

========================  ==========================================================================
``idc.py``                IDC: multi-formation gradient matching (``IDC:condense.py``)
``dream.py``              DREAM: IDC with k-means representative real batches (``DREAM:condense.py``)
``dsa.py``                DSA: Siamese-augmented gradient matching of whole images (``DSA:main.py``)
``matching.py``           the gradient-matching loss (per class or batched; mse, l1, DSA's cosine
                          ``ours``) and the images' optimiser
``state.py``              the real pool on the device and resumable snapshots
``config.py``             :class:`CondenseConfig`: budgets and hyper-parameters, the paper's settings
``experts.py``            MTT's expert trajectories (``MTT:buffer.py``), DSA's single-op augmentation
``mtt.py``                MTT: matching training trajectories (``MTT:distill.py``)
``zca.py``                ZCA whitening as MTT applies it
========================  ==========================================================================

:func:`condense` is the entry point for the gradient-matching methods; ``CONDENSERS`` maps a method
name to its class. Trajectory matching needs experts first and has its own entry points
(``TRAJECTORY_METHODS``): :func:`train_experts`, then :func:`distill` and :func:`save_mtt`.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from .. import nets
from ..data import RealData
from ..errors import YocoError, unknown_choice
from .config import (
    AUG_MODES,
    DECODES,
    DSA_LOOPS,
    IMAGE_STEPS,
    METHODS,
    METRICS,
    CondenseConfig,
    check_int,
    tune_lr_img,
)
from .dream import DREAM, nearest_to_centroids
from .dsa import DSA
from .idc import IDC, bound_plan, decode_classes
from .matching import ImageSGD, gradient_distance, match_loss, matched_parameters
from .experts import ExpertConfig, Experts, train_experts
from .mtt import MTTConfig, MTTResult, distill, save_mtt
from .state import SNAPSHOT_FORMAT, SNAPSHOT_VERSION, snapshot_kept_finite

log = logging.getLogger("yoco.condense")

CONDENSERS: dict[str, type[IDC]] = {"idc": IDC, "dream": DREAM, "dsa": DSA}
assert tuple(CONDENSERS) == METHODS
# Methods that match expert trajectories instead of gradients: experts first, then ``distill``.
TRAJECTORY_METHODS = ("mtt",)

__all__ = [
    "AUG_MODES",
    "CONDENSERS",
    "DSA_LOOPS",
    "DECODES",
    "IMAGE_STEPS",
    "METHODS",
    "METRICS",
    "SNAPSHOT_FORMAT",
    "SNAPSHOT_VERSION",
    "CondenseConfig",
    "ExpertConfig",
    "Experts",
    "MTTConfig",
    "MTTResult",
    "TRAJECTORY_METHODS",
    "ImageSGD",
    "bound_plan",
    "condense",
    "decode_classes",
    "default_factor",
    "distill",
    "gradient_distance",
    "initial_images",
    "match_loss",
    "matched_parameters",
    "nearest_to_centroids",
    "save_mtt",
    "train_experts",
    "tune_lr_img",
]


def _prepare(
    real: RealData,
    method: str,
    ipc: int,
    factor: int,
    config: CondenseConfig | None,
    seed: int,
    device: str | torch.device,
) -> IDC:
    """Validate the arguments of :func:`condense` and build its runner."""
    if method not in METHODS:
        raise unknown_choice("condensation method", method, METHODS)
    if factor is None:
        factor = default_factor(method)
    if not isinstance(real, RealData):
        raise YocoError(f"real must be a yoco.data.RealData (see yoco.data.load_real), got {type(real).__name__}.")
    real.validate()
    check_int("ipc", ipc)
    check_int("factor", factor)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise YocoError(f"seed must be a non-negative integer, got {seed!r}.")
    if method == "dsa" and factor != 1:
        raise YocoError(f"DSA condenses whole images (factor 1), got factor={factor}; pass factor=1.")
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
    return CONDENSERS[method](real, int(ipc), int(factor), config, int(seed), torch.device(device))


def default_factor(method: str) -> int:
    """Multi-formation factor of a method when none is given: 2 for IDC/DREAM (CIFAR), 1 for DSA."""
    return 1 if method == "dsa" else 2


def initial_images(
    real: RealData,
    method: str = "idc",
    ipc: int = 10,
    factor: int | None = None,
    config: CondenseConfig | None = None,
    seed: int = 0,
    device: str | torch.device = "cpu",
) -> torch.Tensor:
    """The synthetic tensor a :func:`condense` run starts from, ``[C*ipc, 3, h, h]`` on the CPU.

    DSA: ``ipc`` random real images of every class, normalised (its working space).

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
    factor: int | None = None,
    config: CondenseConfig | None = None,
    seed: int = 0,
    device: str | torch.device = "cpu",
    snapshot_path: str | os.PathLike | None = None,
    progress: Callable[[dict], None] | None = None,
):
    """Condense a real dataset with IDC, DREAM (reference-spec §6.1, §6.3) or DSA (§6.4).

    Parameters
    ----------
    real : RealData
        The real training set (``x_train`` uint8 NHWC, ``y_train``, ``mean``/``std``).
    method : {"idc", "dream", "dsa"}
    ipc : int
        Stored images per class of the condensed set.
    factor : int, optional
        Multi-formation factor ``f`` (IDC/DREAM: CIFAR 2, the default, ImageNet-10 3); every stored
        image holds ``f x f`` patches. DSA: 1 (the default).
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
        ``yoco.condensed.save_idc``. DSA: normalised images (``value_space="normalized"``, never
        clamped), factor 1; ``yoco.condensed.save_dsa`` writes DSA's own file format.
    """
    from ..condensed import PIXEL01_TOLERANCE, CondensedSet  # imported here: not needed by the rest

    runner = _prepare(real, method, ipc, factor, config, seed, device)
    config = runner.cfg
    factor = runner.factor
    snapshot = Path(snapshot_path) if snapshot_path is not None else None
    with snapshot_kept_finite(snapshot):
        images, extra = runner.run(snapshot, progress)
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
    if runner.value_space == "pixel01" and (lo < -PIXEL01_TOLERANCE or hi > 1 + PIXEL01_TOLERANCE):
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
        value_space=runner.value_space,
        dataset=real.name,
        condenser=method,
        provenance=provenance,
    )
    return cs.validate()
