"""MTT: dataset distillation by matching training trajectories (``MTT:distill.py``, Cazenavette et al. 2022).

The synthetic set ``S`` (``ipc`` images per class, initialised from random real images of the class, in
the experts' value space) and a learnable step size ``syn_lr`` (initialised to ``lr_teacher``) are
trained so that a student network trained on ``S`` follows an expert's trajectory. Every iteration

1. draws an expert and a start epoch ``t < max_start_epoch``; the student starts at the expert's
   parameters ``theta_t`` and the target is ``theta_{t + expert_epochs}``;
2. takes ``syn_steps`` SGD steps on minibatches of ``batch_syn`` images of ``S`` (a fresh permutation
   whenever the previous one is used up; DSA augmentation with a fresh draw per step),
   ``theta <- theta - syn_lr * grad CE(theta; DSA(S_batch))``, keeping the graph of every step;
3. the loss ``||theta_end - theta_{t+M}||^2 / ||theta_t - theta_{t+M}||^2`` is back-propagated through
   all steps to ``S`` and ``syn_lr``, which take one SGD step each (``lr_img`` and ``lr_lr``, momentum
   0.5).

The student is one flat parameter vector evaluated with :func:`torch.func.functional_call` (MTT's
``ReparamModule`` in today's PyTorch), so the unrolled steps form a single differentiable graph. That
graph holds the activations and the gradient graph of every step: memory grows linearly in
``syn_steps`` and ``batch_syn`` (benchmarks/README.md). ``checkpoint=True`` keeps only the parameter
vector of every step and recomputes each step during the backward (:func:`torch.utils.checkpoint`), at
about one extra forward and gradient per step; the gradients are the same.

Differences from ``distill.py``
    The run is seeded (counter-based draws keyed by ``(seed, iteration, step)``, :mod:`yoco.rng`) and
    resumable from a snapshot; the expert is drawn uniformly per iteration (``--load_all``; without it
    MTT walks through a shuffled file of experts); there is no evaluation during distillation, so the
    written ``images_best.pt`` is the final iterate rather than the best-evaluated one; a zero-length
    expert segment (``theta_t == theta_{t+M}``, where MTT divides by zero) gives the unnormalised
    distance instead of NaN.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch.func import functional_call

from .. import nets, rng
from ..augment import DSA_STRATEGY, check_strategy, dsa_augment
from ..data import RealData
from ..errors import TrainingDiverged, YocoError, diverged
from ..io import atomic_path
from ..optim import all_finite
from .config import Settings, check_int
from .experts import Experts, Space, _pixels, real_fingerprint
from .state import load_snapshot, save_snapshot, snapshot_kept_finite

log = logging.getLogger("yoco.condense")

# Sub-purposes of the counter-based draws (under rng.CONDENSE; IDC uses 1-10).
_INIT = 21
_EXPERT = 22
_START = 23
_BATCH = 24
_AUG = 25

# Config fields that change no value of the result: a snapshot may be resumed with other values.
# ``iterations`` may grow to extend a finished run; checkpointing recomputes the same numbers.
MTT_RESUMABLE_FIELDS = ("iterations", "snapshot_every", "checkpoint")


@dataclass(frozen=True)
class MTTConfig(Settings):
    """Budgets and hyper-parameters of an MTT distillation (``distill.py`` flags in brackets).

    The defaults are MTT's CIFAR-10 IPC 10 setting (:meth:`paper`; see docs/deviations.md for where
    the numbers come from). ``batch_syn`` 0 means the whole synthetic set per step (MTT's default).
    ``checkpoint`` trades time for memory (module docstring).
    """

    syn_steps: int = 30  # [--syn_steps] N
    expert_epochs: int = 2  # [--expert_epochs] M
    max_start_epoch: int = 20  # [--max_start_epoch] T+
    lr_img: float = 1000.0  # [--lr_img]
    lr_lr: float = 1e-4  # [--lr_lr]
    lr_teacher: float = 0.01  # [--lr_teacher]: the initial syn_lr
    iterations: int = 5000  # [--Iteration]
    batch_syn: int = 0  # [--batch_syn] (None in MTT = all)
    mom_img: float = 0.5
    mom_lr: float = 0.5
    augment: str = DSA_STRATEGY  # [--dsa_strategy]; "none" = [--no_aug]
    checkpoint: bool = False
    snapshot_every: int = 50

    def __post_init__(self):
        for name in ("syn_steps", "expert_epochs", "max_start_epoch", "iterations", "snapshot_every"):
            check_int(f"MTTConfig.{name}", getattr(self, name))
        check_int("MTTConfig.batch_syn (0 = all images)", self.batch_syn, minimum=0)
        for name in ("lr_img", "lr_teacher"):
            if not (math.isfinite(getattr(self, name)) and getattr(self, name) > 0):
                raise YocoError(f"MTTConfig.{name} must be a finite number > 0, got {getattr(self, name)!r}.")
        if not (math.isfinite(self.lr_lr) and self.lr_lr >= 0):
            raise YocoError(f"MTTConfig.lr_lr must be a finite number >= 0, got {self.lr_lr!r}.")
        for name in ("mom_img", "mom_lr"):
            if not 0 <= getattr(self, name) < 1:
                raise YocoError(f"MTTConfig.{name} must lie in [0, 1), got {getattr(self, name)!r}.")
        check_strategy(self.augment)

    @classmethod
    def paper(cls, dataset: str = "cifar10", ipc: int = 10) -> "MTTConfig":
        """MTT's CIFAR-10 IPC 10 setting: N 30, M 2, T+ 20, lr_img 1000, lr_lr 1e-4, 5000 iterations (ZCA experts)."""
        if (dataset, ipc) != ("cifar10", 10):
            raise YocoError(
                f"the paper's MTT setting is known here for cifar10 IPC 10 only, not {dataset} IPC {ipc}; "
                "pass an MTTConfig (CLI: the budget flags) for other settings."
            )
        return cls()

    @classmethod
    def quick(cls) -> "MTTConfig":
        """A CPU budget for the 16-pixel digits quickstart (not a paper setting; experts of ExpertConfig.quick)."""
        return cls(syn_steps=10, expert_epochs=2, max_start_epoch=5, iterations=200, lr_img=1000.0, lr_lr=1e-5)


def trajectory_loss(end: torch.Tensor, start: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``||end - target||^2 / ||start - target||^2`` (MTT divides both by the parameter count first).

    A zero-length segment (``start == target``) returns the numerator alone: zero when the student
    stayed at the target, instead of MTT's 0/0.
    """
    num = (end - target).pow(2).sum()
    den = (start - target).pow(2).sum()
    return num / torch.where(den > 0, den, torch.ones_like(den))


@dataclass
class MTTResult:
    """A finished distillation: images ``[C*ipc, 3, h, w]`` in the experts' space, class-major labels."""

    images: torch.Tensor
    labels: torch.Tensor
    syn_lr: float
    value_space: str
    loss_history: list[float]
    provenance: dict


class Student:
    """The expert architecture as a function of one flat parameter vector (MTT's ``ReparamModule``)."""

    def __init__(self, experts: Experts, device: torch.device):
        cfg, ident = experts.config, experts.identity
        self.base = nets.init_network(
            cfg["net"], ident["num_classes"], 0, image_size=ident["image_size"], width=cfg["width"], depth=cfg["depth"]
        ).to(device)
        names = [n for n, _ in self.base.named_parameters()]
        if names != list(experts.param_names):
            raise YocoError("the expert file's parameter layout does not match this network; retrain the experts.")
        self.names = names
        self.shapes = [tuple(s) for s in experts.param_shapes]
        self.numels = [math.prod(s) for s in self.shapes]
        self.base.train()

    def __call__(self, flat: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        params = {n: t.view(s) for n, t, s in zip(self.names, flat.split(self.numels), self.shapes)}
        return functional_call(self.base, params, (x,))

    def step(self, flat: torch.Tensor, x: torch.Tensor, y: torch.Tensor, syn_lr: torch.Tensor) -> torch.Tensor:
        """One student SGD step, differentiable w.r.t. ``flat``, ``x`` and ``syn_lr``."""
        ce = F.cross_entropy(self(flat, x), y)
        grad = torch.autograd.grad(ce, flat, create_graph=True)[0]
        return flat - syn_lr * grad


def _concat_experts(experts: Sequence[Experts]) -> Experts:
    first = experts[0]
    for e in experts:
        if not e.complete:
            raise YocoError(
                f"an expert file is unfinished (epochs done {sorted(set(e.epochs_done))} of {e.epochs}); "
                "rerun `yoco experts` with the same arguments to finish it."
            )
        for k in ("dataset", "real_fingerprint", "zca", "num_classes", "image_size"):
            if e.identity[k] != first.identity[k]:
                raise YocoError(
                    f"expert files differ in {k} ({e.identity[k]!r} vs {first.identity[k]!r}); pass files of one run setting."
                )
        for k in ("net", "width", "depth", "epochs"):
            if e.config[k] != first.config[k]:
                raise YocoError(
                    f"expert files differ in {k} ({e.config[k]!r} vs {first.config[k]!r}); pass files of one recipe."
                )
    if len(experts) == 1:
        return first
    return dataclasses.replace(
        first,
        trajectories=torch.cat([e.trajectories for e in experts]),
        epochs_done=[d for e in experts for d in e.epochs_done],
        test_acc=[a for e in experts for a in e.test_acc],
        identity={
            **first.identity,
            "num_experts": sum(e.num_experts for e in experts),
            "seed": [e.identity["seed"] for e in experts],
        },
    )


class MTT:
    """One MTT distillation run; see :func:`distill`."""

    method = "mtt"

    def __init__(self, real: RealData, experts: Experts, ipc: int, cfg: MTTConfig, seed: int, device: torch.device):
        self.real, self.experts, self.ipc, self.cfg = real, experts, ipc, cfg
        self.seed, self.device = int(seed), device
        self.C = real.num_classes
        self.seed_t = torch.tensor([self.seed], dtype=torch.int64, device=device)
        self.student = Student(experts, device)
        self.labels = torch.arange(self.C, dtype=torch.int64).repeat_interleave(ipc)
        self.labels_dev = self.labels.to(device)
        self.n = self.C * ipc
        self.batch = cfg.batch_syn or self.n

    def initial_images(self, space: Space) -> torch.Tensor:
        """``ipc`` random real images of every class (``--pix_init real``), in the experts' space."""
        out = []
        for c in range(self.C):
            idx = np.flatnonzero(self.real.y_train == c)
            if len(idx) < self.ipc:
                raise YocoError(
                    f"{self.real.name}: class {c} has {len(idx)} training images, fewer than ipc={self.ipc}."
                )
            pick = rng.permutation(self.seed_t, (rng.CONDENSE, _INIT, c), len(idx))[0, : self.ipc].cpu().numpy()
            out.append(space(_pixels(self.real.x_train[idx[pick]], self.device)))
        return torch.cat(out)

    def segment(self, it: int) -> tuple[int, int]:
        """The expert and the start epoch of iteration ``it``."""
        e = int(rng.integers(self.seed_t, (rng.CONDENSE, _EXPERT, it), (), 0, self.experts.num_experts - 1)[0])
        t = int(rng.integers(self.seed_t, (rng.CONDENSE, _START, it), (), 0, self.cfg.max_start_epoch - 1)[0])
        return e, t

    def batches(self, it: int) -> list[torch.Tensor]:
        """The synthetic minibatch of every step: chunks of a permutation, the last chunk first (MTT pops)."""
        out: list[torch.Tensor] = []
        chunks: list[torch.Tensor] = []
        r = 0
        while len(out) < self.cfg.syn_steps:
            if not chunks:
                perm = rng.permutation(self.seed_t, (rng.CONDENSE, _BATCH, it, r), self.n)[0]
                chunks = list(torch.split(perm, self.batch))
                r += 1
            out.append(chunks.pop())
        return out

    def unroll(self, start: torch.Tensor, images: torch.Tensor, syn_lr: torch.Tensor, it: int) -> torch.Tensor:
        """The student's parameters after ``syn_steps`` steps on ``images`` from ``start`` (one graph)."""
        flat = start.detach().clone().requires_grad_(True)
        for s, idx in enumerate(self.batches(it)):
            if self.cfg.checkpoint:
                flat = torch.utils.checkpoint.checkpoint(
                    self._step, flat, images, syn_lr, idx, it, s, use_reentrant=False, determinism_check="none"
                )
            else:
                flat = self._step(flat, images, syn_lr, idx, it, s)
        return flat

    def _step(self, flat, images, syn_lr, idx, it: int, s: int) -> torch.Tensor:
        x = dsa_augment(images[idx].unsqueeze(0), self.seed_t, (_AUG, it, s), self.cfg.augment)[0]
        return self.student.step(flat, x, self.labels_dev[idx], syn_lr)

    def loss(self, images: torch.Tensor, syn_lr: torch.Tensor, it: int) -> tuple[torch.Tensor, int, int]:
        e, t = self.segment(it)
        traj = self.experts.trajectories[e]
        start = traj[t].to(self.device)
        target = traj[t + self.cfg.expert_epochs].to(self.device)
        end = self.unroll(start, images, syn_lr, it)
        return trajectory_loss(end, start, target), e, t

    def identity(self) -> dict[str, Any]:
        ex = self.experts.identity
        return {
            "method": self.method,
            "dataset": self.real.name,
            "ipc": self.ipc,
            "seed": self.seed,
            "num_classes": self.C,
            "image_size": self.real.image_size,
            "real_fingerprint": ex["real_fingerprint"],
            "experts": {k: ex[k] for k in ("num_experts", "seed", "zca")},
            "expert_config": dict(self.experts.config),
        }

    def diverged(
        self, it: int, loss: float, lr_range: tuple[float, float], images_before: torch.Tensor, start_scale: float
    ) -> TrainingDiverged:
        """The error of iteration ``it``, whose loss, images or learnable step size is not finite.

        Once one of them is NaN the next update makes them all NaN, so the cause is read from the run
        before it: ``lr_range``, the lowest and highest ``syn_lr`` after the earlier iterations, and the
        largest pixel before this one against ``start_scale``. A step size that left (0, 10 x
        lr_teacher] turned the student's unrolled training into a runaway (a negative one ascends its
        loss), and its rate ``lr_lr`` is named first: that is how the paper budget (lr_lr 1e-4) diverges
        on 2-epoch digits experts, syn_lr flipping sign from the first iteration and reaching 1.9e6 by
        the ninth, while lr_lr 1e-5 (distill.py's default, the quickstart's) with the same lr_img 1000
        stays finite. Otherwise the images' rate ``lr_img`` is named first.
        """
        cfg = self.cfg
        scale = float(images_before.detach().abs().max())
        low, high = lr_range
        img, lr = ("lr_img", cfg.lr_img, "--lr-img"), ("lr_lr", cfg.lr_lr, "--lr-lr")
        seen = (
            f"loss {loss}; syn_lr had ranged over [{low:.3g}, {high:.3g}] from lr_teacher {cfg.lr_teacher:g}, "
            f"the largest pixel reached {scale:.3g} from {start_scale:.3g}"
        )
        runaway = low <= 0 or high > 10 * cfg.lr_teacher
        return diverged(
            "mtt distillation", f"at iteration {it + 1} of {cfg.iterations}", seen, [lr, img] if runaway else [img, lr]
        )

    def run(self, snapshot_path: Path | None, progress: Callable[[dict], None] | None) -> MTTResult:
        cfg = self.cfg
        space = Space(self.real, self.experts.zca, self.device)
        config = {k: v for k, v in cfg.to_dict().items() if k not in MTT_RESUMABLE_FIELDS}
        start, history = 0, []
        buf_img = buf_lr = None
        if snapshot_path is not None and snapshot_path.exists():
            state = load_snapshot(snapshot_path, self.identity(), config)
            images = state["images"].to(self.device)
            syn_lr = state["syn_lr"].to(self.device)
            buf_img = None if state["buf_img"] is None else state["buf_img"].to(self.device)
            buf_lr = None if state["buf_lr"] is None else state["buf_lr"].to(self.device)
            start, history = int(state["next_iteration"]), list(state["loss_history"])
            log.info("resuming mtt distillation from %s at iteration %d", snapshot_path, start)
        else:
            images = self.initial_images(space)
            syn_lr = torch.tensor(cfg.lr_teacher, dtype=torch.float32, device=self.device)
        t0 = time.perf_counter()
        # Where the run starts from, for the divergence message (one read, before any step).
        lr_before, start_scale = float(syn_lr), float(images.abs().max())
        lr_range = (lr_before, lr_before)
        for it in range(start, cfg.iterations):
            images_before = images  # the update makes a new tensor: this one is only kept alive
            images.requires_grad_(True)
            syn_lr.requires_grad_(True)
            loss, e, t = self.loss(images, syn_lr, it)
            g_img, g_lr = torch.autograd.grad(loss, (images, syn_lr))
            with torch.no_grad():
                # torch.optim.SGD's momentum (dampening 0): the first step's buffer is the gradient.
                buf_img = g_img if buf_img is None else buf_img * cfg.mom_img + g_img
                buf_lr = g_lr if buf_lr is None else buf_lr * cfg.mom_lr + g_lr
                images = (images - cfg.lr_img * buf_img).detach()
                syn_lr = (syn_lr - cfg.lr_lr * buf_lr).detach()
            value = float(loss.detach())
            # Divergence (docs/errors.md): read after the update is queued, where this loop reads the
            # device anyway, so the check adds no stall; a non-finite loss, image or syn_lr stops the
            # run before it is saved, logged as a result or returned.
            if not (math.isfinite(value) and all_finite([images, syn_lr])):
                raise self.diverged(it, value, lr_range, images_before, start_scale)
            lr_before = float(syn_lr)
            lr_range = (min(lr_range[0], lr_before), max(lr_range[1], lr_before))
            history.append(value)
            done = it + 1
            if snapshot_path is not None and (done % cfg.snapshot_every == 0 or done == cfg.iterations):
                save_snapshot(
                    snapshot_path,
                    self.identity(),
                    config,
                    next_iteration=done,
                    loss_history=list(history),
                    images=images.cpu().clone(),
                    syn_lr=syn_lr.cpu().clone(),
                    buf_img=buf_img.cpu().clone(),
                    buf_lr=buf_lr.cpu().clone(),
                )
            info = {
                "method": self.method,
                "iteration": done,
                "iterations": cfg.iterations,
                "loss": history[-1],
                "syn_lr": lr_before,
                "expert": e,
                "start_epoch": t,
                "seconds": time.perf_counter() - t0,
            }
            log.info(
                "mtt iteration %d/%d: loss %.4f syn_lr %.5f (%.1f s)",
                done,
                cfg.iterations,
                info["loss"],
                info["syn_lr"],
                info["seconds"],
            )
            if progress is not None:
                progress(info)
        provenance = {
            "source": "yoco.condense.mtt",
            "condenser": self.method,
            "seed": self.seed,
            "config": cfg.to_dict(),
            "identity": self.identity(),
            "iterations_done": cfg.iterations,
            "syn_lr": float(syn_lr),
            "value_space": space.name,
        }
        return MTTResult(images.cpu(), self.labels.clone(), float(syn_lr), space.name, history, provenance)


def distill(
    real: RealData,
    experts: Experts | Sequence[Experts],
    ipc: int = 10,
    config: MTTConfig | None = None,
    seed: int = 0,
    device: str | torch.device = "cpu",
    snapshot_path: str | Path | None = None,
    progress: Callable[[dict], None] | None = None,
) -> MTTResult:
    """Distil ``real`` into ``ipc`` images per class by matching the trajectories of ``experts``.

    Parameters
    ----------
    real : RealData
        The training set the experts were trained on (checked by fingerprint).
    experts : Experts or a sequence of them
        Finished expert files of one recipe (:func:`yoco.condense.experts.train_experts`); several are
        concatenated. Their ZCA switch decides the value space of the result.
    ipc : int
    config : MTTConfig, optional
        Default :meth:`MTTConfig.paper` (cifar10 IPC 10).
    seed : int
        Seeds the initial images, the expert and start-epoch draws, the minibatches and DSA.
    snapshot_path : path, optional
        Snapshots every ``snapshot_every`` iterations; an existing one is resumed and the run ends with
        the same images as an uninterrupted one.
    progress : callable, optional
        Called after every iteration with ``{"method", "iteration", "iterations", "loss", "syn_lr",
        "expert", "start_epoch", "seconds"}``.
    """
    if not isinstance(real, RealData):
        raise YocoError(f"real must be a yoco.data.RealData, got {type(real).__name__}.")
    real.validate()
    experts = _concat_experts([experts] if isinstance(experts, Experts) else list(experts))
    if experts.identity["real_fingerprint"] != real_fingerprint(real) or experts.identity["dataset"] != real.name:
        raise YocoError(
            f"the experts were trained on other data ({experts.identity['dataset']}, fingerprint "
            f"{experts.identity['real_fingerprint']}) than {real.name} here; train experts on this --real."
        )
    check_int("ipc", ipc)
    check_int("seed", seed, minimum=0)
    cfg = MTTConfig.paper(real.name, int(ipc)) if config is None else config
    last = cfg.max_start_epoch - 1 + cfg.expert_epochs
    if last > experts.epochs:
        raise YocoError(
            f"max_start_epoch {cfg.max_start_epoch} with expert_epochs {cfg.expert_epochs} needs expert "
            f"checkpoints up to epoch {last}, but the experts were trained for {experts.epochs} epochs; "
            "lower them or train longer experts."
        )
    if cfg.batch_syn > real.num_classes * ipc:
        raise YocoError(
            f"batch_syn {cfg.batch_syn} exceeds the {real.num_classes * ipc} synthetic images; lower it or use 0 (all)."
        )
    runner = MTT(real, experts, int(ipc), cfg, int(seed), torch.device(device))
    snapshot = Path(snapshot_path) if snapshot_path is not None else None
    with snapshot_kept_finite(snapshot):
        return runner.run(snapshot, progress)


def mtt_paths(out: str | Path) -> tuple[Path, Path]:
    """Where :func:`save_mtt` writes: ``out/images_best.pt`` and ``out/labels_best.pt``, or, when ``out``
    names a ``[prefix]images_best.pt`` file, that file and the ``labels`` file beside it."""
    out = Path(out)
    if out.name.endswith("images_best.pt"):
        return out, out.with_name(out.name[: -len("images_best.pt")] + "labels_best.pt")
    return out / "images_best.pt", out / "labels_best.pt"


def save_mtt(result: MTTResult, out: str | Path) -> tuple[Path, Path]:
    """Write MTT's ``images_best.pt`` + ``labels_best.pt`` (and ``meta.json`` with the provenance).

    Images as MTT saves ``image_syn`` (float32 ``[C*ipc, 3, h, w]`` in the experts' value space),
    labels int64 class-major. Each file is written atomically, the images last, so a folder with an
    images file always has its labels (the loader, :func:`yoco.condensed.load_condensed` with
    ``fmt="mtt"``, looks for the images).
    """
    img_path, lab_path = mtt_paths(out)
    img_path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(lab_path) as tmp:
        torch.save(result.labels.detach().cpu().contiguous(), tmp)
    meta = {**result.provenance, "loss_history": result.loss_history}
    with atomic_path(img_path.with_name(img_path.name[: -len("images_best.pt")] + "meta.json")) as tmp:
        Path(tmp).write_text(json.dumps(meta, indent=1, default=str))
    with atomic_path(img_path) as tmp:
        torch.save(result.images.detach().cpu().float().contiguous(), tmp)
    return img_path, lab_path
