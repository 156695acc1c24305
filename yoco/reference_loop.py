"""The reference's evaluation loop, re-created faithfully: one network at a time, the way ``train.py`` runs.

This module exists to *measure against*. :func:`yoco.train.train_models` is the trainer the project
uses; the loop here is what the original code does (IDC/YOCO ``train.py:train`` and ``train_epoch``,
``augment.py:DiffAug`` with ``batch=False``, ``misc/utils.py:rand_bbox``/``random_indices``/``accuracy``;
reference-spec §4.2-4.3), kept in one place so that

* ``benchmarks/throughput.py`` can time both styles on the same device and the same subsets, and
* ``tests/test_speed_equivalence.py`` can check that the batched trainer learns as well as the
  reference loop does (same recipe, different random streams, so only the *distributions* agree).

What makes it "reference style", on purpose:

* a ``DataLoader`` over a CPU ``TensorDataset`` (shuffle, batch 64, last partial batch kept, no
  workers), and a host-to-device copy of every batch;
* per-sample DiffAug ``color_crop_flip_scale_rotate`` drawn from torch's and NumPy's *global* RNGs,
  with the per-sample affine matrices built in a Python list on the host, as the reference builds them;
* CutMix decided on the host (``np.random.rand(1) < p``), ``lam ~ Beta(1, 1)`` from NumPy, the partner
  permutation from ``torch.randperm`` on the CPU;
* per-step top-1/top-5 accuracy and ``.item()`` calls on the loss and accuracies (the reference logs
  them through ``AverageMeter``), i.e. three host synchronisations per step;
* ``MultiStepLR`` stepped once per epoch, validation every ``E // 4`` epochs with test batch 32.

The reference seeds nothing. Here the global RNGs are seeded from ``seed`` (inside a fork of the RNG
state, so the caller's state is untouched) purely so that benchmarks and tests are repeatable; that
changes no distribution.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

from .errors import YocoError
from .train import AccuracyHistory

__all__ = ["ReferenceDiffAug", "rand_bbox", "topk_accuracy", "ReferenceResult", "train_reference"]


class ReferenceDiffAug:
    """``augment.py:DiffAug(strategy, batch=False)`` of IDC/YOCO: per-sample parameters, global RNGs.

    Only the ops the evaluation strategy uses are implemented (flip, colour, crop, scale, rotate);
    the single geometric op is drawn with ``np.random.randint`` once per call, as in the reference.
    """

    PROB_FLIP = 0.5
    RATIO_SCALE = 1.2
    RATIO_ROTATE = 15.0
    RATIO_CROP_PAD = 0.125
    BRIGHTNESS = 1.0
    SATURATION = 2.0
    CONTRAST = 0.5
    _SUPPORTED = ("color", "crop", "flip", "scale", "rotate")

    def __init__(self, strategy: str = "color_crop_flip_scale_rotate"):
        ops = strategy.lower().split("_")
        bad = [op for op in ops if op not in self._SUPPORTED]
        if bad:
            raise YocoError(
                f"ReferenceDiffAug implements only {', '.join(self._SUPPORTED)}; got {bad} in "
                f"{strategy!r}. Use yoco.augment.diffaug for other strategies."
            )
        self.flip = "flip" in ops
        self.color = "color" in ops
        # The reference keeps the remaining ops in strategy order, duplicates included.
        self.strategy = [op for op in ops if op not in ("flip", "color")]

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if self.flip:
            coin = torch.rand(x.size(0), 1, 1, 1, device=x.device)
            x = torch.where(coin < self.PROB_FLIP, x.flip(3), x)
        if self.color:
            x = x + (torch.rand(x.size(0), 1, 1, 1, dtype=x.dtype, device=x.device) - 0.5) * self.BRIGHTNESS
            mean = x.mean(dim=1, keepdim=True)
            x = (x - mean) * (torch.rand(x.size(0), 1, 1, 1, dtype=x.dtype, device=x.device) * self.SATURATION) + mean
            mean = x.mean(dim=[1, 2, 3], keepdim=True)
            x = (x - mean) * (torch.rand(x.size(0), 1, 1, 1, dtype=x.dtype, device=x.device) + self.CONTRAST) + mean
        if self.strategy:
            op = self.strategy[np.random.randint(len(self.strategy))]
            x = getattr(self, f"_{op}")(x)
        return x.contiguous()

    def _crop(self, x: torch.Tensor) -> torch.Tensor:
        # Pad by one zero pixel, then gather with clamped indices: shifts beyond one pixel read the pad.
        sx, sy = int(x.size(2) * self.RATIO_CROP_PAD + 0.5), int(x.size(3) * self.RATIO_CROP_PAD + 0.5)
        tx = torch.randint(-sx, sx + 1, size=[x.size(0), 1, 1], device=x.device)
        ty = torch.randint(-sy, sy + 1, size=[x.size(0), 1, 1], device=x.device)
        gb, gx, gy = torch.meshgrid(
            torch.arange(x.size(0), dtype=torch.long, device=x.device),
            torch.arange(x.size(2), dtype=torch.long, device=x.device),
            torch.arange(x.size(3), dtype=torch.long, device=x.device),
            indexing="ij",
        )
        gx = torch.clamp(gx + tx + 1, 0, x.size(2) + 1)
        gy = torch.clamp(gy + ty + 1, 0, x.size(3) + 1)
        pad = F.pad(x, (1, 1, 1, 1))
        return pad.permute(0, 2, 3, 1).contiguous()[gb, gx, gy].permute(0, 3, 1, 2)

    def _affine(self, x: torch.Tensor, theta: list) -> torch.Tensor:
        theta = torch.tensor(theta, dtype=torch.float, device=x.device)  # host list -> device, per step
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        return F.grid_sample(x, grid, align_corners=False)

    def _scale(self, x: torch.Tensor) -> torch.Tensor:
        r = self.RATIO_SCALE
        sx = np.random.uniform(size=x.shape[0]) * (r - 1.0 / r) + 1.0 / r
        sy = np.random.uniform(size=x.shape[0]) * (r - 1.0 / r) + 1.0 / r
        return self._affine(x, [[[sx[i], 0, 0], [0, sy[i], 0]] for i in range(x.shape[0])])

    def _rotate(self, x: torch.Tensor) -> torch.Tensor:
        t = (np.random.uniform(size=x.shape[0]) - 0.5) * 2 * self.RATIO_ROTATE / 180 * float(np.pi)
        return self._affine(
            x, [[[np.cos(t[i]), np.sin(-t[i]), 0], [np.sin(t[i]), np.cos(t[i]), 0]] for i in range(x.shape[0])]
        )


def rand_bbox(size, lam: float) -> tuple[int, int, int, int]:
    """``misc/utils.py:rand_bbox``: a box of area ``(1 - lam)`` of the image, centre uniform, clipped.

    Note the reference's naming: ``W = size[2]`` (rows) and ``H = size[3]`` (columns).
    """
    W, H = size[2], size[3]
    cut = np.sqrt(1.0 - lam)
    cut_w, cut_h = int(W * cut), int(H * cut)
    cx, cy = np.random.randint(W), np.random.randint(H)
    x1, y1 = int(np.clip(cx - cut_w // 2, 0, W)), int(np.clip(cy - cut_h // 2, 0, H))
    x2, y2 = int(np.clip(cx + cut_w // 2, 0, W)), int(np.clip(cy + cut_h // 2, 0, H))
    return x1, y1, x2, y2


def topk_accuracy(output: torch.Tensor, target: torch.Tensor, topk=(1,)) -> list[torch.Tensor]:
    """``misc/utils.py:accuracy``: top-k accuracies in % as 0-d tensors (on the output's device)."""
    maxk = min(max(topk), output.shape[1])
    _, pred = output.topk(maxk, 1, True, True)
    pred = pred.t()
    correct = pred.eq(target.view(1, -1).expand_as(pred))
    return [correct[:k].reshape(-1).float().sum(0).mul_(100.0 / target.size(0)) for k in topk]


@dataclass
class ReferenceResult(AccuracyHistory):
    """Outcome of one reference-style training."""

    seed: int
    n_train: int
    accuracies: dict[int, float]  # 1-based epoch -> test accuracy in %
    steps: int  # optimiser steps taken
    train_s: float  # wall time of the training steps (data loading included, validation excluded)
    eval_s: float  # wall time of the validations


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def train_reference(
    model: torch.nn.Module,
    train_x: torch.Tensor,
    train_y: torch.Tensor,
    epochs: int,
    seed: int = 0,
    test_x: torch.Tensor | None = None,
    test_y: torch.Tensor | None = None,
    device: str | torch.device = "cpu",
    batch_size: int = 64,
    lr: float = 0.01,
    momentum: float = 0.9,
    weight_decay: float = 5e-4,
    strategy: str | None = "color_crop_flip_scale_rotate",
    mix_p: float = 0.5,
    eval_points: int = 4,
    eval_batch: int = 32,
) -> ReferenceResult:
    """Train one network as the reference's ``train.py:train`` does (reference-spec §4.2).

    Parameters
    ----------
    model : an initialised network (e.g. ``NetworkSpec.build(seed)``); trained in place on ``device``.
    train_x, train_y : the training images ``[N, 3, h, w]`` (normalised) and labels; kept on the CPU and
        copied to ``device`` batch by batch, as the reference's loader does.
    epochs : number of epochs ``E``; MultiStepLR milestones ``⌊2E/3⌋`` and ``⌊5E/6⌋``, γ 0.2.
    seed : seeds torch's and NumPy's global RNGs for this run (restored afterwards).
    test_x, test_y : the test set; validated every ``E // eval_points`` epochs with batch ``eval_batch``.
    strategy : DiffAug strategy, or None for none.
    mix_p : CutMix probability per batch.

    Returns
    -------
    ReferenceResult
    """
    if epochs < 1:
        raise YocoError(f"epochs must be at least 1, got {epochs}")
    if train_x.ndim != 4 or train_x.shape[0] != train_y.shape[0] or train_x.shape[0] == 0:
        raise YocoError(
            f"train_x must be a non-empty [N, C, h, w] batch with one label per image; got "
            f"{tuple(train_x.shape)} images and {tuple(train_y.shape)} labels"
        )
    device = torch.device(device)
    aug = ReferenceDiffAug(strategy) if strategy and strategy.lower() != "none" else None
    numpy_state = np.random.get_state()
    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        np.random.seed(seed % 2**32)
        try:
            return _train(
                model,
                train_x,
                train_y,
                epochs,
                seed,
                test_x,
                test_y,
                device,
                batch_size,
                lr,
                momentum,
                weight_decay,
                aug,
                mix_p,
                eval_points,
                eval_batch,
            )
        finally:
            np.random.set_state(numpy_state)


def _train(
    model,
    train_x,
    train_y,
    epochs,
    seed,
    test_x,
    test_y,
    device,
    batch_size,
    lr,
    momentum,
    weight_decay,
    aug,
    mix_p,
    eval_points,
    eval_batch,
) -> ReferenceResult:
    dataset = TensorDataset(train_x.detach().cpu().float(), train_y.detach().cpu().long())
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=True, num_workers=0, drop_last=False)
    model = model.to(device)
    criterion = torch.nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr, momentum=momentum, weight_decay=weight_decay)
    scheduler = torch.optim.lr_scheduler.MultiStepLR(
        optimizer, milestones=[2 * epochs // 3, 5 * epochs // 6], gamma=0.2
    )
    every = max(1, epochs // eval_points) if eval_points > 0 else epochs
    accuracies: dict[int, float] = {}
    steps, train_s, eval_s = 0, 0.0, 0.0
    for epoch in range(1, epochs + 1):
        _sync(device)
        t0 = time.perf_counter()
        model.train()
        for x, y in loader:
            x, y = x.to(device), y.to(device)
            if aug is not None:
                with torch.no_grad():
                    x = aug(x)
            if np.random.rand(1) < mix_p:
                lam = np.random.beta(1.0, 1.0)
                perm = torch.randperm(x.size(0)).to(device)  # misc/utils.py:random_indices
                y_b = y[perm]
                x1, y1, x2, y2 = rand_bbox(x.size(), lam)
                x[:, :, x1:x2, y1:y2] = x[perm, :, x1:x2, y1:y2]
                ratio = 1 - ((x2 - x1) * (y2 - y1) / (x.size()[-1] * x.size()[-2]))
                output = model(x)
                loss = criterion(output, y) * ratio + criterion(output, y_b) * (1.0 - ratio)
            else:
                output = model(x)
                loss = criterion(output, y)
            acc1, acc5 = topk_accuracy(output.data, y, topk=(1, 5))
            # The reference's AverageMeter updates: three host synchronisations per step.
            _ = loss.item(), acc1.item(), acc5.item()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            steps += 1
        _sync(device)
        train_s += time.perf_counter() - t0
        if test_x is not None and epoch % every == 0:
            t0 = time.perf_counter()
            accuracies[epoch] = _validate(model, test_x, test_y, device, eval_batch)
            eval_s += time.perf_counter() - t0
        scheduler.step()
    return ReferenceResult(
        seed=seed, n_train=len(dataset), accuracies=accuracies, steps=steps, train_s=train_s, eval_s=eval_s
    )


@torch.no_grad()
def _validate(model, test_x, test_y, device, batch) -> float:
    """``train.py:validate``: eval mode, a CPU loader with per-batch copies, top-1 in %."""
    model.eval()
    loader = DataLoader(
        TensorDataset(test_x.detach().cpu().float(), test_y.detach().cpu().long()), batch_size=batch, shuffle=False
    )
    correct, total = 0.0, 0
    for x, y in loader:
        x, y = x.to(device), y.to(device)
        acc1, _ = topk_accuracy(model(x), y, topk=(1, 5))
        correct += acc1.item() * y.size(0) / 100.0
        total += y.size(0)
    return 100.0 * correct / total
