"""MTT's expert trajectories (``MTT:buffer.py``): networks trained on the real data, kept after every epoch.

Matching training trajectories (:mod:`yoco.condense.mtt`) needs, for many independently initialised
ConvNet-D3s trained on the whole real training set, their parameters at the start and after every
epoch. The recipe is ``buffer.py``'s defaults: 50 epochs of SGD with learning rate 0.01, no momentum,
no weight decay, batches of 256 (shuffled, the last partial batch kept), cross-entropy, and DSA
augmentation ``color_crop_cutout_flip_scale_rotate`` in DSA's single-op mode
(:func:`yoco.augment.dsa_augment`: one op per model and call, parameters per image, as MTT calls
``DiffAugment`` with ``seed=-1``).
The images are ZCA-whitened (``--zca``, MTT's CIFAR-10 setting; :mod:`yoco.condense.zca`) or
normalised with the dataset's mean and std.

Why not :func:`yoco.train.train_models`
    The batched trainer runs a whole training and returns the final weights; experts need the
    parameters after every epoch and must resume in the middle of a training. This module therefore has
    its own small epoch loop, but runs it on the trainer's engines (:func:`yoco.train.build_ensemble`),
    so all experts of a chunk still train at once as one program.

Randomness
    Expert ``i`` is initialised from ``seed_from(seed, "mtt-expert", i)`` and all its draws (shuffling,
    the augmentation op and its parameters) are counter-based on that seed and ``(epoch, batch)``, so an
    expert's trajectory does not depend on which experts share its chunk, nor on interruptions: a
    resumed run ends with the same file as an uninterrupted one.

File
    One ``torch.save`` dictionary (:class:`Experts`): ``trajectories`` float32 ``[N, E + 1, P]``, every
    expert's parameters flattened in ``named_parameters`` order (the order of MTT's per-epoch lists,
    concatenated as ``distill.py`` does before use), ``epochs_done`` per expert, the identity of the real
    data and the recipe. A file with ``epochs_done < E`` is a snapshot that the next run continues.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F

from .. import nets, rng
from ..augment import DSA_STRATEGY, check_strategy, dsa_augment
from ..data import RealData
from ..errors import YocoError, diverged, unknown_choice
from ..io import atomic_path
from ..optim import SGD, all_finite
from ..seeding import seed_from
from ..train import ENGINES, NetworkSpec, TrainConfig, build_ensemble, models_per_batch, resolve_engine
from .config import Settings, check_int
from .state import snapshot_kept_finite
from .zca import ZCA

log = logging.getLogger("yoco.condense")

EXPERTS_FORMAT = "yoco-mtt-experts"
EXPERTS_VERSION = 1

# Fields that change no parameter value (only speed and bookkeeping): a snapshot resumes with others.
_RESUMABLE_FIELDS = ("engine", "snapshot_every")


@dataclass(frozen=True)
class ExpertConfig(Settings):
    """The recipe of the expert trainings (``MTT:buffer.py`` defaults).

    Attributes
    ----------
    epochs : int
        Training epochs per expert (``--train_epochs`` 50); ``epochs + 1`` checkpoints are kept.
    lr, weight_decay : float
        Constant SGD learning rate (``--lr_teacher`` 0.01) and L2 (``--l2`` 0). MTT's momentum is 0 and
        its ``--decay`` is off; both are fixed here (no optimiser state, so resuming needs none).
    batch : int
        Batch size (``--batch_train`` 256).
    augment : str
        DSA strategy (single-op mode, :func:`yoco.augment.dsa_augment`); ``"none"`` trains without augmentation.
    zca : bool
        ZCA-whiten the images (``--zca``); otherwise normalise them with the dataset's mean and std.
    net, width, depth : str, int, int
        The expert network (MTT: ConvNet, width 128, depth 3, instance norm).
    engine : str
        The trainer engine (:data:`yoco.train.ENGINES`); changes speed, not the result beyond rounding.
    snapshot_every : int
        Write the file every this many epochs of a chunk (and when a chunk ends).
    """

    epochs: int = 50
    lr: float = 0.01
    weight_decay: float = 0.0
    batch: int = 256
    augment: str = DSA_STRATEGY
    zca: bool = False
    net: str = "convnet"
    width: int = 128
    depth: int = 3
    engine: str = "auto"
    snapshot_every: int = 1

    def __post_init__(self):
        for name in ("epochs", "batch", "width", "depth", "snapshot_every"):
            check_int(f"ExpertConfig.{name}", getattr(self, name))
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise YocoError(f"ExpertConfig.lr must be a finite number > 0, got {self.lr!r}.")
        if not (math.isfinite(self.weight_decay) and self.weight_decay >= 0):
            raise YocoError(f"ExpertConfig.weight_decay must be a finite number >= 0, got {self.weight_decay!r}.")
        if self.net not in nets.NETWORKS:
            raise unknown_choice("network", self.net, nets.NETWORKS)
        if nets.uses_batchnorm(self.net):
            raise YocoError(
                f"MTT experts need a network without BatchNorm (the student is functional); got {self.net!r}."
            )
        if self.engine not in ENGINES:
            raise unknown_choice("engine", self.engine, ENGINES)
        check_strategy(self.augment)

    @classmethod
    def paper(cls) -> "ExpertConfig":
        """MTT's CIFAR-10 experts: 50 epochs, lr 0.01, batch 256, DSA, ZCA (the IPC 10 setting's buffers)."""
        return cls(zca=True)

    @classmethod
    def quick(cls) -> "ExpertConfig":
        """A CPU budget for the 16-pixel digits quickstart (not a paper setting): width 32, 15 epochs."""
        return cls(epochs=15, width=32, batch=128)


def real_fingerprint(real: RealData) -> str:
    """A short hash of the training images and labels: experts and distillation must share them."""
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(real.x_train).tobytes())
    h.update(np.ascontiguousarray(real.y_train, dtype=np.int64).tobytes())
    return h.hexdigest()[:16]


class Space:
    """The value space experts and distillation share: ZCA-whitened pixels, or mean/std-normalised ones."""

    def __init__(self, real: RealData, zca: bool, device: torch.device):
        self.zca = ZCA.fit(_pixels(real.x_train, device)) if zca else None
        self.mean = torch.tensor(real.mean, dtype=torch.float32, device=device).view(1, 3, 1, 1)
        self.std = torch.tensor(real.std, dtype=torch.float32, device=device).view(1, 3, 1, 1)

    def __call__(self, x01: torch.Tensor) -> torch.Tensor:
        return self.zca(x01) if self.zca is not None else (x01 - self.mean) / self.std

    @property
    def name(self) -> str:
        return "zca" if self.zca is not None else "normalized"


def _pixels(x_uint8_nhwc: np.ndarray, device) -> torch.Tensor:
    x = torch.from_numpy(np.ascontiguousarray(x_uint8_nhwc)).to(device)
    return x.permute(0, 3, 1, 2).to(torch.float32).div_(255.0).contiguous()


@dataclass
class Experts:
    """Expert trajectories and what they were trained on (see the module docstring for the file)."""

    trajectories: torch.Tensor  # float32 [N, E + 1, P], CPU
    epochs_done: list[int]
    identity: dict[str, Any]
    config: dict[str, Any]
    param_names: list[str]
    param_shapes: list[list[int]]
    test_acc: list[float | None]

    @property
    def num_experts(self) -> int:
        return int(self.trajectories.shape[0])

    @property
    def epochs(self) -> int:
        return int(self.trajectories.shape[1]) - 1

    @property
    def zca(self) -> bool:
        return bool(self.identity["zca"])

    @property
    def complete(self) -> bool:
        return all(e == self.epochs for e in self.epochs_done)

    def save(self, path: str | Path) -> Path:
        payload = {
            "format": EXPERTS_FORMAT,
            "version": EXPERTS_VERSION,
            **{f.name: getattr(self, f.name) for f in dataclasses.fields(self)},
        }
        with atomic_path(Path(path)) as tmp:
            torch.save(payload, tmp)
        return Path(path)

    @classmethod
    def load(cls, path: str | Path) -> "Experts":
        path = Path(path)
        if not path.exists():
            raise YocoError(f"expert file {path} does not exist; train experts with `yoco experts --out {path}`.")
        from ..condensed import _torch_load  # one clean line per refused file (torch's own text spans paragraphs)

        state = _torch_load(
            path, "cpu", trusted=False, what="yoco experts", offer_trust=False, fix="write it again with `yoco experts`"
        )
        if not isinstance(state, dict) or state.get("format") != EXPERTS_FORMAT:
            raise YocoError(f"{path} is not an expert file of `yoco experts`; pass the file it wrote.")
        return cls(**{f.name: state[f.name] for f in dataclasses.fields(cls)})


def flat_parameters(module: torch.nn.Module) -> torch.Tensor:
    """Every parameter of ``module`` flattened and concatenated in ``named_parameters`` order."""
    return torch.cat([p.detach().reshape(-1) for p in module.parameters()])


def expert_seed(seed: int, i: int) -> int:
    return seed_from(seed, "mtt-expert", i)


def _identity(real: RealData, num_experts: int, cfg: ExpertConfig, seed: int) -> dict[str, Any]:
    return {
        "dataset": real.name,
        "real_fingerprint": real_fingerprint(real),
        "num_classes": real.num_classes,
        "image_size": real.image_size,
        "n_train": int(len(real.y_train)),
        "num_experts": int(num_experts),
        "seed": int(seed),
        "zca": bool(cfg.zca),
    }


def _check_resumable(old: Experts, identity: dict, cfg: ExpertConfig, path: Path) -> None:
    for k, v in identity.items():
        if old.identity.get(k) != v:
            raise YocoError(
                f"expert snapshot {path} was made with {k}={old.identity.get(k)!r}, this run has {k}={v!r}; "
                "use the same settings to resume, or delete the file to start afresh."
            )
    mine = cfg.to_dict()
    for k, v in mine.items():
        if k not in _RESUMABLE_FIELDS and old.config.get(k) != v:
            raise YocoError(
                f"expert snapshot {path} was made with {k}={old.config.get(k)!r}, this run has {k}={v!r}; "
                "resume with the same value or delete the file."
            )


def train_experts(
    real: RealData,
    num_experts: int,
    config: ExpertConfig | None = None,
    seed: int = 0,
    device: str | torch.device = "cpu",
    snapshot_path: str | Path | None = None,
    progress: Callable[[dict], None] | None = None,
) -> Experts:
    """Train ``num_experts`` experts on ``real``'s training set and return their trajectories.

    Parameters
    ----------
    real : RealData
    num_experts : int
        MTT trains 100 for CIFAR-10 (``--num_experts``).
    config : ExpertConfig, optional
        Default :meth:`ExpertConfig.paper`.
    seed : int
        Seeds every expert (``seed_from(seed, "mtt-expert", i)``).
    device : str or torch.device
    snapshot_path : path, optional
        The file is written every ``snapshot_every`` epochs; if it exists (same data, seed and recipe)
        the run continues from it and ends with the same trajectories as an uninterrupted run.
    progress : callable, optional
        Called after every epoch of a chunk with ``{"experts", "models", "epoch", "epochs",
        "expert_epochs_done", "expert_epochs_total", "seconds"}`` (``models`` experts train in the chunk).
    """
    if not isinstance(real, RealData):
        raise YocoError(f"real must be a yoco.data.RealData, got {type(real).__name__}.")
    real.validate()
    cfg = ExpertConfig.paper() if config is None else config
    check_int("num_experts", num_experts)
    check_int("seed", seed, minimum=0)
    device = torch.device(device)
    spec = NetworkSpec(cfg.net, real.num_classes, real.image_size, cfg.width, cfg.depth)
    identity = _identity(real, num_experts, cfg, seed)
    path = Path(snapshot_path) if snapshot_path is not None else None
    seeds = [expert_seed(seed, i) for i in range(num_experts)]

    probe = spec.build(0)
    names = [n for n, _ in probe.named_parameters()]
    shapes = [list(p.shape) for _, p in probe.named_parameters()]
    if path is not None and path.exists():
        ex = Experts.load(path)
        _check_resumable(ex, identity, cfg, path)
        log.info("resuming expert training from %s (%s epochs done)", path, ex.epochs_done)
    else:
        traj = torch.zeros(num_experts, cfg.epochs + 1, sum(math.prod(s) for s in shapes))
        for i, s in enumerate(seeds):
            traj[i, 0] = flat_parameters(spec.build(s))
        ex = Experts(traj, [0] * num_experts, identity, cfg.to_dict(), names, shapes, [None] * num_experts)

    space = Space(real, cfg.zca, device)
    pool_x = space(_pixels(real.x_train, device))
    pool_y = torch.from_numpy(np.asarray(real.y_train, dtype=np.int64)).to(device)
    test_x = space(_pixels(real.x_test, device)) if len(real.y_test) else None
    test_y = torch.from_numpy(np.asarray(real.y_test, dtype=np.int64)).to(device)

    tcfg = TrainConfig(
        epochs=cfg.epochs, batch_size=cfg.batch, lr=cfg.lr, momentum=0.0, weight_decay=cfg.weight_decay,
        augment=None, cutmix_p=0.0, engine=cfg.engine,
    )  # fmt: skip
    engine = resolve_engine(spec, tcfg, device)
    todo = [i for i in range(num_experts) if ex.epochs_done[i] < cfg.epochs]
    by_start: dict[int, list[int]] = {}
    for i in todo:
        by_start.setdefault(ex.epochs_done[i], []).append(i)
    t0 = time.perf_counter()
    with snapshot_kept_finite(path):
        for start, ids in sorted(by_start.items()):
            chunk = models_per_batch(spec, tcfg, len(ids), device)
            for c0 in range(0, len(ids), chunk):
                _train_chunk(
                    ex,
                    ids[c0 : c0 + chunk],
                    seeds,
                    start,
                    spec,
                    cfg,
                    engine,
                    device,
                    pool_x,
                    pool_y,
                    path,
                    t0,
                    progress,
                )
                if test_x is not None:
                    _test(ex, ids[c0 : c0 + chunk], spec, seeds, engine, device, test_x, test_y)
                if path is not None:
                    ex.save(path)
    return ex


def _load_models(ex: Experts, ids: list[int], seeds: list[int], spec: NetworkSpec, epoch: int) -> list[torch.nn.Module]:
    models = []
    for i in ids:
        m = spec.build(seeds[i])
        torch.nn.utils.vector_to_parameters(ex.trajectories[i, epoch].clone(), m.parameters())
        models.append(m)
    return models


def _train_chunk(ex, ids, seeds, start, spec, cfg, engine, device, pool_x, pool_y, path, t0, progress) -> None:
    ens = build_ensemble(_load_models(ex, ids, seeds, spec, start), engine, device)
    opt = SGD(ens.parameters(), lr=cfg.lr, momentum=0.0, weight_decay=cfg.weight_decay)
    seed_t = torch.tensor([seeds[i] for i in ids], dtype=torch.int64, device=device)
    n, bs = pool_y.numel(), cfg.batch

    # The summed loss of an epoch's steps, kept on the device (one small kernel per step, no host read)
    # and read with the epoch's parameters, which are copied to the host anyway: a NaN or inf stops the
    # run before that epoch is recorded (docs/errors.md, "Training that diverges").
    epoch_loss = torch.zeros((), device=device)

    def loss_of(y, logits, models):
        # ``logits`` are the models in ``models``' (the loop engine steps one model at a time); the
        # summed per-model mean cross-entropy gives every model its own gradient.
        ys = y[models]
        loss = F.cross_entropy(logits.flatten(0, 1), ys.flatten(), reduction="none").view(ys.shape).mean(1).sum()
        epoch_loss.add_(loss.detach())
        return loss

    for epoch in range(start, cfg.epochs):
        epoch_loss.zero_()
        order = rng.permutation(seed_t, (rng.SHUFFLE, epoch), n)
        for b in range(math.ceil(n / bs)):
            idx = order[:, b * bs : (b + 1) * bs]
            x, y = pool_x[idx], pool_y[idx]
            with torch.no_grad():
                x = dsa_augment(x, seed_t, (epoch, b), cfg.augment)
            opt.zero_grad(set_to_none=True)
            ens.forward_backward(x, lambda logits, models, y=y: loss_of(y, logits, models))
            opt.step()
        rows = []
        for k in range(len(ids)):
            sd = ens.state_dict(k)
            rows.append(torch.cat([sd[name].reshape(-1) for name in ex.param_names]))
        loss = float(epoch_loss)
        if not (math.isfinite(loss) and all_finite(rows)):
            settings = [("lr", cfg.lr, "--lr")] + (
                [("weight_decay", cfg.weight_decay, None)] if cfg.weight_decay else []
            )
            seen = loss if not math.isfinite(loss) else "parameters not finite"
            raise diverged(
                f"MTT expert training (experts {ids[0]}-{ids[-1]})",
                f"at epoch {epoch + 1} of {cfg.epochs}",
                seen,
                settings,
            )
        for i, row in zip(ids, rows):
            ex.trajectories[i, epoch + 1] = row
            ex.epochs_done[i] = epoch + 1
        done = epoch + 1
        if path is not None and (done % cfg.snapshot_every == 0) and done < cfg.epochs:
            ex.save(path)
        info = {
            "experts": f"{ids[0]}-{ids[-1]}",
            "models": len(ids),
            "epoch": done,
            "epochs": cfg.epochs,
            # Over every expert of the run (earlier chunks and a resumed snapshot included): a progress
            # bar's position, in expert-epochs.
            "expert_epochs_done": sum(ex.epochs_done),
            "expert_epochs_total": len(ex.epochs_done) * cfg.epochs,
            "seconds": time.perf_counter() - t0,
        }
        log.info("mtt experts %s: epoch %d/%d (%.1f s)", info["experts"], done, cfg.epochs, info["seconds"])
        if progress is not None:
            progress(info)


@torch.no_grad()
def _test(ex, ids, spec, seeds, engine, device, test_x, test_y, batch: int = 500) -> None:
    ens = build_ensemble(_load_models(ex, ids, seeds, spec, ex.epochs), engine, device)
    correct = torch.zeros(len(ids), dtype=torch.float64, device=device)
    for s in range(0, test_y.numel(), batch):
        logits = ens.eval_forward(test_x[s : s + batch])
        correct += (logits.argmax(-1) == test_y[s : s + batch]).sum(-1)
    for k, i in enumerate(ids):
        ex.test_acc[i] = float(correct[k]) * 100.0 / test_y.numel()
