"""The batched trainer: many small, independent trainings of one architecture at once.

YOCO's cost is thousands of short trainings of small networks on tiny sets (design.md §4). Trained one
at a time, each step is dominated by launch and host overhead. Here M models of one architecture are
trained together as one program. Every model keeps its own

* initialisation (``nets.init_network`` with its seed),
* subset of the shared sample pool (subsets may differ; runs with equal subset sizes share a batch),
* shuffling, DiffAug and CutMix draws (counter-based, ``yoco.rng``: a model's draws do not depend on
  which other models share its batch, so a model trained alone gives the same weights),

and the optimiser (SGD with momentum and weight decay) acts element-wise, so stacking changes nothing
mathematically. Four engines run the models (``TrainConfig.engine``; ``auto`` picks per device, see
:func:`resolve_engine`):

``stacked`` (CUDA default for the paper's ConvNet)
    ConvNets with instance norm: the M networks *are* one network with M times the channels, grouped
    convolutions (``groups=M``), a group norm with one group per channel, and a batched matmul for the
    M classifiers. Every operator is one native kernel for all models; no ``vmap``.
``vmap`` (CUDA default for other networks without BatchNorm)
    Parameters stacked with ``torch.func.stack_module_state`` and one ``vmap``-ed forward/backward.
``loop`` (CPU default)
    Each model's forward runs on its own with plain kernels (on a CPU they beat grouped ones), and its
    backward follows at once, while its activations are in the cache. For long trainings each model's
    forward is ``torch.compile``-d (``TrainConfig.compile``), which fuses the norm, ReLU and pooling
    passes that dominate a CPU step.
``sequential``
    BatchNorm networks cannot be ``vmap``-ed with running statistics: ordinary modules, one model after
    another, in the same loop.

The loop keeps everything on the device: the pool, the indices, augmentation and CutMix, the learning
rate (a Python float, so setting it never synchronises), and it reads nothing back to the host until a
validation point. Models are trained in chunks sized from the memory one model's training step needs
(:func:`step_memory_per_model`: measured on CUDA, estimated on the CPU).

The recipe is the reference's (reference-spec §4.2 for evaluation, §2 for dynamics): SGD lr 0.01,
momentum 0.9, weight decay 5e-4, batch 64 with the last partial batch kept, MultiStepLR at ⌊2E/3⌋ and
⌊5E/6⌋ with γ 0.2 (stepped per epoch for evaluation, per iteration for dynamics), DiffAug
``color_crop_flip_scale_rotate`` per sample, CutMix with probability 0.5, validation at E/4, E/2, 3E/4, E.
``benchmarks/throughput.py`` measures this trainer against a re-creation of the reference's loop
(:mod:`yoco.reference_loop`).
"""

from __future__ import annotations

import contextlib
import copy
import functools
import math
import time
import warnings
from dataclasses import dataclass, field, replace
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch.func import functional_call, stack_module_state, vmap

from . import augment, nets, recipe, rng
from .dynamics import per_sample_stats
from .optim import SGD, all_finite
from .errors import YocoError, diverged, unknown_choice
from .progress import Progress

ENGINES = ("auto", "stacked", "vmap", "loop", "sequential")


@dataclass(frozen=True)
class NetworkSpec:
    """Which network to train: a name of ``nets.NETWORKS`` plus its size parameters."""

    name: str = "convnet"
    num_classes: int = 10
    image_size: int = 32
    width: int = 128
    depth: int = 3
    # DenseNet's bottlenecks per dense block; None: DenseNet-121's (nets.build_network).
    blocks: tuple[int, ...] | None = None

    def __post_init__(self):
        if self.blocks is not None:  # a list (from a model file or a caller) would make the spec unhashable
            object.__setattr__(self, "blocks", tuple(int(b) for b in self.blocks))

    def build(self, seed: int) -> torch.nn.Module:
        return nets.init_network(
            self.name,
            self.num_classes,
            seed,
            image_size=self.image_size,
            width=self.width,
            depth=self.depth,
            blocks=self.blocks,
        )


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters of one training run (the reference's defaults), plus how to run it."""

    epochs: int = recipe.EPOCHS
    batch_size: int = recipe.BATCH_SIZE
    lr: float = recipe.LR
    momentum: float = recipe.MOMENTUM
    weight_decay: float = recipe.WEIGHT_DECAY
    gamma: float = 0.2
    # "epoch": evaluation runs step MultiStepLR once per epoch; "iteration": the dynamics runs step it
    # every iteration with milestones at 2/3 and 5/6 of all iterations (reference-spec §2).
    schedule: str = "epoch"
    augment: str | None = recipe.DIFFAUG
    # ImageNet-10: the reference's per-image tensor transforms (RandomResizedCrop, flip, colour jitter,
    # PCA lighting; reference-spec §4.4) before DiffAug. The pool must be normalised with ImageNet's
    # statistics; the transforms run in pixel space and normalise again.
    imagenet_transforms: bool = False
    cutmix_p: float = recipe.CUTMIX_P
    # Validation every epochs // eval_points epochs (the reference's num_val = 4); 0 = only at the end.
    eval_points: int = 4
    eval_batch: int = 500
    # Upper bound on models trained in one batch; None = as many as memory allows.
    max_models: int | None = None
    # How the models run (module docstring): "auto" picks stacked > vmap > sequential.
    engine: str = "auto"
    # TF32 on CUDA: None keeps torch's defaults (cuDNN convolutions TF32, matmuls full fp32: what the
    # reference ran with), True allows TF32 for both (faster on Ampere and newer), False forbids it.
    tf32: bool | None = None
    # channels-last activations for the stacked engine (a layout choice; results equal up to rounding).
    channels_last: bool = False
    # torch.compile each model's forward and backward, and its validation forward (the loop engine):
    # fuses the norm, ReLU and pooling passes that dominate a CPU step (about 2x less time per ConvNet
    # step, 1.4x per validation batch, benchmarks/README.md) at a one-off cost of ~20 s per training and
    # ~6 s per validation batch shape on two cores. None = auto (see :func:`use_compile`).
    compile: bool | None = None

    def __post_init__(self):
        if self.epochs < 1:
            raise YocoError(f"epochs must be at least 1, got {self.epochs}")
        if self.batch_size < 1:
            raise YocoError(f"batch_size must be at least 1, got {self.batch_size}")
        # A finite number, or the run diverges at its first step (a finite but huge one is caught
        # while training, _check_divergence).
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise YocoError(f"lr must be a finite number > 0, got {self.lr}; e.g. the reference's 0.01 (CLI --lr)")
        if not (math.isfinite(self.weight_decay) and self.weight_decay >= 0):
            raise YocoError(
                f"weight_decay must be a finite number >= 0, got {self.weight_decay}; e.g. the reference's "
                "5e-4 (CLI --weight-decay)"
            )
        if self.schedule not in ("epoch", "iteration"):
            raise YocoError(f"schedule must be 'epoch' or 'iteration', got {self.schedule!r}")
        if not 0.0 <= self.cutmix_p <= 1.0:
            raise YocoError(f"cutmix_p is a probability in [0, 1], got {self.cutmix_p}")
        if self.engine not in ENGINES:
            raise unknown_choice("engine", self.engine, ENGINES)
        if self.eval_batch < 1:
            raise YocoError(f"eval_batch must be at least 1, got {self.eval_batch}")
        if self.compile and self.engine not in ("auto", "loop"):
            raise YocoError(
                f"compile=True compiles the 'loop' engine's per-model forward; the {self.engine!r} "
                f"engine has no compiled path (use engine='loop' or 'auto', or compile=None)"
            )
        if self.max_models is not None and self.max_models < 1:
            raise YocoError(f"max_models must be at least 1 (or None for 'as many as fit'), got {self.max_models}")

    def eval_epochs(self) -> list[int]:
        """1-based epochs after which the test accuracy is measured."""
        if self.eval_points <= 0:
            return [self.epochs]
        every = max(1, self.epochs // self.eval_points)
        points = list(range(every, self.epochs + 1, every))
        if points[-1] != self.epochs:
            points.append(self.epochs)
        return points

    def lr_at(self, epoch: int, iteration: int, iters_per_epoch: int) -> float:
        """Learning rate for 0-based ``epoch`` and global 0-based ``iteration`` (MultiStepLR semantics)."""
        if self.schedule == "epoch":
            total, t = self.epochs, epoch
        else:
            total, t = self.epochs * iters_per_epoch, iteration
        milestones = (2 * total) // 3, (5 * total) // 6
        return self.lr * self.gamma ** sum(t >= m for m in milestones)


class AccuracyHistory:
    """Best and last of a run's validations (``accuracies``: 1-based epoch -> test accuracy in %)."""

    accuracies: dict[int, float]

    @property
    def best_acc(self) -> float:
        return max(self.accuracies.values()) if self.accuracies else float("nan")

    @property
    def last_acc(self) -> float:
        return self.accuracies[max(self.accuracies)] if self.accuracies else float("nan")


@dataclass
class TrainResult(AccuracyHistory):
    """Outcome of one trained network."""

    seed: int
    n_train: int
    accuracies: dict[int, float]  # 1-based epoch -> test accuracy in %
    wall_s: float  # wall time of the batch this run was trained in (setup, training and validation)
    models_in_batch: int
    state_dict: dict[str, torch.Tensor] | None = None
    # Per-epoch training dynamics over the pool (only with record_dynamics): err_l2, correct, margin [E, P].
    dynamics: dict[str, np.ndarray] | None = None
    eval_s: float = 0.0  # part of wall_s spent in validation
    train_s: float = 0.0  # part of wall_s spent in the training steps (setup and validation excluded)
    steps: int = 0  # optimiser steps this run took
    # How the batch ran: engine, device, TF32 and layout settings in force (for benchmark records).
    settings: dict[str, object] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------------
# Engines: M networks behind one interface (forward_backward on [M,B,...], eval_forward on a shared x)
# --------------------------------------------------------------------------------------------------


class _Ensemble:
    """The engines' common step: ``train_forward`` of all models, then one backward (the loop engine
    overrides it). Every engine also has ``eval_forward``, ``parameters`` and ``state_dict``."""

    def forward_backward(self, x: torch.Tensor, loss_of: Callable[[torch.Tensor, slice], torch.Tensor]) -> torch.Tensor:
        """One training forward of all models on ``x[M, B, ...]`` and the backward of their summed losses.

        ``loss_of(logits, models)`` is the summed loss of the models in the slice ``models`` given their
        logits. Returns the (detached) logits ``[M, B, K]``.
        """
        logits = self.train_forward(x)
        loss_of(logits, slice(None)).backward()
        return logits.detach()


def _model_step(
    forward: Callable[[torch.Tensor], torch.Tensor],
    i: int,
    x: torch.Tensor,
    loss_of: Callable[[torch.Tensor, slice], torch.Tensor],
) -> torch.Tensor:
    """Model ``i``'s forward on its batch ``x[i]`` and at once its backward, while its activations are
    still in the cache (the per-model engines); returns its detached logits ``[1, B, K]``."""
    logits = forward(x[i]).unsqueeze(0)
    loss_of(logits, slice(i, i + 1)).backward()
    return logits.detach()


def _stackable(model: torch.nn.Module) -> bool:
    """A ConvNet whose layers act on every channel separately (instance norm or none): stackable."""
    return type(model) is nets.ConvNet and model.norm in ("instance", "none")


class _StackedConvNet(_Ensemble):
    """M ConvNets as one ConvNet with M·width channels.

    Instance norm, ReLU and average pooling act on every channel on its own, and a convolution with
    ``groups=M`` applies model m's kernels to model m's channels only. So with the M batches laid side
    by side along the channel axis (``[B, M·C, H, W]``), one grouped convolution, one group norm with
    M·width groups, one ReLU and one pooling per layer compute all M networks, and a batched matmul
    their classifiers. Unlike ``vmap``, which reaches the same grouped convolution through per-operator
    batching rules, every step here is a single native kernel with no layout shuffling in between
    (1.4x less CPU time per step for ConvNet-D3 width 32, benchmarks/README.md).

    For evaluation all models see the same images, so the first layer is an ordinary convolution with
    the M kernels concatenated (no copies of the input).
    """

    def __init__(self, models: list[torch.nn.Module], device, channels_last: bool = False):
        base = models[0]
        self.depth = base.depth
        self.eps = [n.eps for n in base.layers["norm"]] if base.norm == "instance" else None
        params, _ = stack_module_state([m.to(device) for m in models])  # leaf tensors [M, ...]
        self.params = params
        self.m = len(models)
        self.channels_last = channels_last

    def parameters(self) -> list[torch.Tensor]:
        return list(self.params.values())

    def _forward(self, h: torch.Tensor, shared_input: bool) -> torch.Tensor:
        p, m = self.params, self.m
        n = h.shape[0]
        if self.channels_last:
            h = h.contiguous(memory_format=torch.channels_last)
        for d in range(self.depth):
            w = p[f"layers.conv.{d}.weight"]
            h = F.conv2d(
                h,
                w.flatten(0, 1),
                p[f"layers.conv.{d}.bias"].flatten(),
                padding=1,
                groups=1 if (d == 0 and shared_input) else m,
            )
            if self.eps is not None:
                h = F.group_norm(
                    h,
                    h.shape[1],
                    p[f"layers.norm.{d}.weight"].flatten(),
                    p[f"layers.norm.{d}.bias"].flatten(),
                    self.eps[d],
                )
            h = F.avg_pool2d(F.relu(h), kernel_size=2, stride=2)
        # [n, M·C, h, w] -> [M, n, C·h·w]: each model's features in the ConvNet's own flatten order.
        feat = h.reshape(n, m, -1).transpose(0, 1)
        return torch.baddbmm(p["classifier.bias"].unsqueeze(1), feat, p["classifier.weight"].transpose(1, 2))

    def train_forward(self, x: torch.Tensor) -> torch.Tensor:
        m, b = x.shape[:2]
        return self._forward(x.transpose(0, 1).reshape(b, m * x.shape[2], *x.shape[3:]), shared_input=False)

    @torch.no_grad()
    def eval_forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._forward(x, shared_input=True)

    def state_dict(self, i: int) -> dict[str, torch.Tensor]:
        return {k: v[i].detach().cpu().clone() for k, v in self.params.items()}


class _VmapEnsemble(_Ensemble):
    """M networks as one functional module: stacked parameters, vmapped forward."""

    def __init__(self, models: list[torch.nn.Module], device, channels_last: bool = False):
        params, buffers = stack_module_state([m.to(device) for m in models])
        self.params = params
        self.buffers = buffers
        self.base = copy.deepcopy(models[0]).to("meta")

        def call(p, b, x):
            return functional_call(self.base, (p, b), (x,))

        self._train = vmap(call)
        self._shared = vmap(call, in_dims=(0, 0, None))

    def parameters(self) -> list[torch.Tensor]:
        return list(self.params.values())

    def train_forward(self, x: torch.Tensor) -> torch.Tensor:
        self.base.train()
        return self._train(self.params, self.buffers, x)

    @torch.no_grad()
    def eval_forward(self, x: torch.Tensor) -> torch.Tensor:
        self.base.eval()
        return self._shared(self.params, self.buffers, x)

    def state_dict(self, i: int) -> dict[str, torch.Tensor]:
        out = {k: v[i].detach().cpu().clone() for k, v in self.params.items()}
        out.update({k: v[i].detach().cpu().clone() for k, v in self.buffers.items()})
        return out


class _LoopEnsemble(_Ensemble):
    """M models with plain per-model kernels, each model's forward followed at once by its backward.

    The CPU engine: a step there is compute-bound, and plain per-model kernels beat grouped ones
    (benchmarks/README.md). Each model keeps its own leaf parameters (one optimiser steps all of them),
    and its backward runs right after its forward, while its activations are still in the cache: 1.25x
    faster per model-step than M forwards followed by one backward, and one model's activations alive
    at a time instead of M. The gradients are the same, since model m's parameters only see model m's
    loss.

    With ``compiled`` (the training and the validation :func:`compiled_forward` of the architecture)
    every forward (and so every training backward) runs through ``torch.compile``; if compiling
    fails (no C++ compiler, say), the first call warns and the ensemble goes on eagerly.
    """

    def __init__(
        self,
        models: list[torch.nn.Module],
        device,
        channels_last: bool = False,
        compiled: tuple[Callable, Callable] | None = None,
    ):
        self.params = [
            {k: v.detach().to(device).clone().requires_grad_() for k, v in m.named_parameters()} for m in models
        ]
        self.buffers = [{k: v.detach().to(device).clone() for k, v in m.named_buffers()} for m in models]
        self.base = copy.deepcopy(models[0]).to("meta")
        self.m = len(models)
        self._compiled = dict(zip(("train", "eval"), compiled)) if compiled else {}
        self._proven: set[str] = set()  # modes whose compiled forward has run once

    @property
    def compiled(self) -> bool:
        return "train" in self._compiled

    def parameters(self) -> list[torch.Tensor]:
        return [p for params in self.params for p in params.values()]

    def _eager(self, training: bool, i: int, x: torch.Tensor) -> torch.Tensor:
        self.base.train(training)
        return functional_call(self.base, (self.params[i], self.buffers[i]), (x,))

    def _guarded(self, mode: str, i: int, run: Callable[[Callable], torch.Tensor]) -> torch.Tensor:
        """``run(forward)`` with the compiled forward of ``mode`` until it has worked once, eagerly after
        a failure. A failing first training step (the backward compiles at its first call) leaves no
        gradient behind: it is retried eagerly from scratch."""
        fn = self._compiled.get(mode)
        if fn is None:
            return run(functools.partial(self._eager, mode == "train", i))
        if mode in self._proven:
            return run(lambda x: fn(self.params[i], self.buffers[i], x))
        try:
            out = run(lambda x: fn(self.params[i], self.buffers[i], x))
        except Exception as err:  # noqa: BLE001 - any compiler failure: fall back, say why
            first_line = (str(err).splitlines() or [""])[0][:200]
            warnings.warn(
                f"torch.compile failed ({type(err).__name__}: {first_line}); "
                f"going on without compiling (set compile=False to skip the attempt)"
            )
            del self._compiled[mode]
            for param in self.params[i].values():
                param.grad = None
            return run(functools.partial(self._eager, mode == "train", i))
        self._proven.add(mode)
        return out

    def forward_backward(self, x: torch.Tensor, loss_of: Callable[[torch.Tensor, slice], torch.Tensor]) -> torch.Tensor:
        return torch.cat(
            [self._guarded("train", i, lambda forward, i=i: _model_step(forward, i, x, loss_of)) for i in range(self.m)]
        )

    @torch.no_grad()
    def eval_forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([self._guarded("eval", i, lambda forward: forward(x)) for i in range(self.m)])

    def state_dict(self, i: int) -> dict[str, torch.Tensor]:
        out = {k: v.detach().cpu().clone() for k, v in self.params[i].items()}
        out.update({k: v.detach().cpu().clone() for k, v in self.buffers[i].items()})
        return out


class _SequentialEnsemble(_Ensemble):
    """The same interface for networks that cannot be vmapped (BatchNorm): ordinary modules in a loop,
    each model's backward right after its forward (as in the loop engine)."""

    def __init__(self, models: list[torch.nn.Module], device, channels_last: bool = False):
        self.models = [m.to(device) for m in models]

    def parameters(self) -> list[torch.Tensor]:
        return [p for m in self.models for p in m.parameters()]

    def forward_backward(self, x: torch.Tensor, loss_of: Callable[[torch.Tensor, slice], torch.Tensor]) -> torch.Tensor:
        for m in self.models:
            m.train()
        return torch.cat([_model_step(m, i, x, loss_of) for i, m in enumerate(self.models)])

    @torch.no_grad()
    def eval_forward(self, x: torch.Tensor) -> torch.Tensor:
        for m in self.models:
            m.eval()
        return torch.stack([m(x) for m in self.models])

    def state_dict(self, i: int) -> dict[str, torch.Tensor]:
        return {k: v.detach().cpu().clone() for k, v in self.models[i].state_dict().items()}


_ENGINE_CLASSES = {
    "stacked": _StackedConvNet,
    "vmap": _VmapEnsemble,
    "loop": _LoopEnsemble,
    "sequential": _SequentialEnsemble,
}


def build_ensemble(models: list[torch.nn.Module], engine: str, device, channels_last: bool = False) -> _Ensemble:
    """The object ``train_models`` trains ``models`` with under ``engine`` (see :func:`resolve_engine`).

    For training loops that need what ``train_models`` does not offer, such as MTT's expert
    trajectories (:mod:`yoco.condense.experts`: parameters after every epoch, resuming mid-run). It has
    ``forward_backward(x[M, B, ...], loss_of)``, ``eval_forward(x)``, ``parameters()`` (for
    :class:`yoco.optim.SGD`) and ``state_dict(i)``.
    """
    if engine not in _ENGINE_CLASSES:
        raise unknown_choice("engine", engine, tuple(_ENGINE_CLASSES))
    return _ENGINE_CLASSES[engine](models, device, channels_last=channels_last)


def resolve_engine(spec: NetworkSpec, config: TrainConfig, device: str | torch.device = "cpu") -> str:
    """The engine ``train_models`` uses for ``spec`` under ``config`` on ``device``.

    ``auto``: BatchNorm networks -> ``sequential``; on CUDA, instance-norm ConvNets -> ``stacked`` and
    other networks -> ``vmap`` (a step is launch-bound there, so fewer, larger kernels win); on the CPU
    -> ``loop`` (a step is compute-bound there, and plain per-model kernels beat grouped ones:
    benchmarks/README.md). ``compile=True`` -> ``loop`` on every device (the engine with a compiled path).
    """
    if nets.uses_batchnorm(spec.name):
        if config.engine not in ("auto", "sequential"):
            raise YocoError(
                f"{spec.name} has BatchNorm layers, which only the 'sequential' engine can train; "
                f"set engine='auto' or 'sequential' (got {config.engine!r})"
            )
        if config.compile:
            raise YocoError(
                f"{spec.name} has BatchNorm layers and trains with the 'sequential' engine, which "
                f"has no compiled path; set compile=None or False (CLI: drop --compile)"
            )
        return "sequential"
    if config.engine == "stacked" and not _stackable(spec.build(0)):
        raise YocoError(
            f"the 'stacked' engine handles ConvNets with instance or no normalisation, not "
            f"{spec.name!r}; use engine='auto', 'vmap' or 'loop'"
        )
    if config.engine != "auto":
        return config.engine
    if torch.device(device).type != "cuda" or config.compile:
        return "loop"
    return "stacked" if _stackable(spec.build(0)) else "vmap"


# Eager CPU seconds per (sample pass x first-layer activation element): 35 ms for a ConvNet-D3 step of
# 64 images at width 32 and 32 px on two cores (benchmarks/README.md). Only decides whether compiling pays.
_EAGER_CPU_S_PER_ELEMENT = 1.7e-8
# compile=None compiles a call whose eager training would take this long: the one-off compilation
# (~20 s per batch shape on two cores, less from inductor's on-disk cache) then costs a few percent.
COMPILE_PAYS_AFTER_S = 600.0


def use_compile(spec: NetworkSpec, config: TrainConfig, engine: str, device, sample_passes: int) -> bool:
    """Whether a ``train_models`` call compiles its forwards; ``sample_passes``: the training samples it
    pushes through a network in all (models x epochs x samples per model, summed over its runs).

    ``config.compile`` True or False decides. None (auto): only the ``loop`` engine on the CPU, and
    only when the call's estimated eager time is at least ``COMPILE_PAYS_AFTER_S``: the paper's
    1 000-epoch trainings compile, tests and the quickstart stay eager. On CUDA the stacked engine
    already runs one kernel per layer for all models, so auto never compiles there.
    """
    if config.compile is not None:
        return config.compile and engine == "loop"
    if engine != "loop" or torch.device(device).type != "cpu":
        return False
    width = nets.DEFAULT_WIDTH[spec.name] if spec.width is None else spec.width
    eager_s = sample_passes * width * spec.image_size**2 * _EAGER_CPU_S_PER_ELEMENT
    return eager_s >= COMPILE_PAYS_AFTER_S


@functools.lru_cache(maxsize=None)
def compiled_forward(spec: NetworkSpec, training: bool = True):
    """``torch.compile`` of one model's functional forward ``(params, buffers, x) -> logits``, in
    training or in evaluation mode.

    One per architecture, mode and process, so that every chunk reuses the compiled graphs (one per
    batch shape: ``dynamic=False`` keeps the kernels specialised, which measured faster than dynamic
    shapes). The graphs reach inductor's on-disk cache, so the next job with the same shapes compiles
    in ~2 s. Called under ``torch.no_grad`` (validation), it compiles an inference graph.
    """
    import torch._dynamo.config as dynamo_config

    # One graph per (architecture, mode, batch size); the default limit of 8 would silently fall back
    # to eager. (Named cache_size_limit before torch 2.6.)
    limit = "recompile_limit" if hasattr(dynamo_config, "recompile_limit") else "cache_size_limit"
    setattr(dynamo_config, limit, max(getattr(dynamo_config, limit), 64))
    base = spec.build(0).to("meta").train(training)

    def forward(params: dict, buffers: dict, x: torch.Tensor) -> torch.Tensor:
        # Channels-last activations: oneDNN's convolutions and inductor's fused norm/pool kernels both
        # run faster on them on the CPU (ConvNet-D3 step 8.3 -> 7.6 ms); the layout changes no value.
        return functional_call(base, (params, buffers), (x.contiguous(memory_format=torch.channels_last),))

    return torch.compile(forward, dynamic=False)


@contextlib.contextmanager
def _tf32(flag: bool | None):
    """Set TF32 for the duration of a training (None: leave torch's settings alone)."""
    if flag is None:
        yield
        return
    old = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = bool(flag)
    torch.backends.cudnn.allow_tf32 = bool(flag)
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = old


def _accuracy(ens, test_x: torch.Tensor, test_y: torch.Tensor, batch: int) -> torch.Tensor:
    """Test accuracy in % of every model, ``[M]`` float64 on the device; one forward serves all models."""
    correct = None
    for s in range(0, test_x.shape[0], batch):
        logits = ens.eval_forward(test_x[s : s + batch])
        hits = (logits.argmax(-1) == test_y[s : s + batch]).sum(-1)
        correct = hits if correct is None else correct + hits
    return correct.double() * (100.0 / test_x.shape[0])


def _eval_chunk(config: TrainConfig) -> int:
    """Images per validation forward, bounded so that validation needs no more memory than training.

    A training step keeps about two floats per activation element of *every* layer for its batch; a
    forward without autograd keeps about two tensors of the *largest* layer alive. For ConvNet-D3 the
    largest layer holds a quarter of all activation elements, so four training batches per model fit
    in the footprint that chunking sized for training.
    """
    return max(1, min(config.eval_batch, 4 * config.batch_size))


# --------------------------------------------------------------------------------------------------
# Memory: how many models fit
# --------------------------------------------------------------------------------------------------


# The loop engine's per-model memory, as multiples of one copy of a model's parameters and of its batch
# of input images: fitted to the measured growth of max RSS per added model (ConvNet-D3, batch 64, 32
# px: 4.9 MiB at width 32, 17 MiB at width 128; benchmarks/README.md) and rounded up. Parameters:
# weights, gradients, momentum, weight-decay temporaries, the initial modules and allocator slack;
# inputs: the gathered batch and the DiffAug and CutMix results.
_LOOP_PARAM_COPIES = 12
_INPUT_COPIES = 6
# Engines whose step runs each model's backward right after its forward.
_ONE_MODEL_AT_A_TIME = ("loop", "sequential")


@functools.lru_cache(maxsize=32)
def _step_memory_terms(spec: NetworkSpec, config: TrainConfig) -> tuple[int, int, int]:
    """Bytes of one model's step: (activations, one copy of the parameters, one batch of input images).

    Cached: :func:`models_per_batch` needs it twice per call (the per-model figure and the fixed one),
    and the probe builds a network and runs a forward."""
    # The parameters are counted on the meta device (shapes without memory, no forward pass).
    with torch.device("meta"):
        n_params = sum(p.numel() for p in spec.build(0).parameters())
    elements = _activation_elements(spec)
    return 4 * 3 * elements * config.batch_size, 4 * n_params, 4 * 3 * spec.image_size**2 * config.batch_size


def _counted_elements(spec: NetworkSpec, device: str) -> int:
    """Output elements of every module of the network, per image, from a forward pass of two images."""
    with torch.device(device), torch.random.fork_rng(devices=[]):
        probe = spec.build(0)
    elements = 0

    def hook(_module, _inputs, output):
        nonlocal elements
        if isinstance(output, torch.Tensor):
            elements += output.numel()

    handles = [m.register_forward_hook(hook) for m in probe.modules() if m is not probe]
    with torch.no_grad():
        probe.eval()
        probe(torch.zeros(2, 3, spec.image_size, spec.image_size, device=device))
    for h in handles:
        h.remove()
    return elements // 2


def _activation_elements(spec: NetworkSpec) -> int:
    """Activation elements per image of the network at its width.

    Every layer's channel count is a multiple of the width (ConvNet's channels, the ResNets' stages,
    DenseNet's growth rate and its halving transitions), so the count is affine in the width: real
    passes of 1-, 2- and 3-wide networks on the CPU give it exactly, in milliseconds, and show when it
    is not. A pass on the meta
    device would need no memory but imports torch's decompositions (~1.5 s for every training job);
    it is kept for images too large for even a narrow real pass.
    """
    width = spec.width or nets.DEFAULT_WIDTH[spec.name]
    if 2 * 4 * 32 * spec.image_size**2 * 4 > 2**30:
        return _counted_elements(spec, "meta")
    if width <= 2:
        return _counted_elements(replace(spec, width=width), "cpu")
    one, two, three = (_counted_elements(replace(spec, width=w), "cpu") for w in (1, 2, 3))
    if three - two != two - one:  # not affine after all (DenseNet blocks of odd length round its halvings)
        return _counted_elements(spec, "meta")
    return one + (two - one) * (width - 1)


def estimate_step_memory(spec: NetworkSpec, config: TrainConfig, engine: str = "stacked") -> int:
    """Analytic bytes one model adds to a batched training step (the CPU's figure; no device needed).

    ``stacked``/``vmap`` keep every model's activations until the one backward: 3 floats per
    activation element of the batch (the outputs autograd keeps for the backward pass plus the
    gradient being formed), plus 4 copies of the parameters (weights, gradients, momentum, update
    temporaries). Measured on the CPU (max RSS growth per added model, ConvNet-D3, batch 64, 32 px): 57
    MiB at width 32 and 205 MiB at width 128, i.e. 1.6 floats per element; the factor 3 leaves a
    margin for allocator fragmentation (benchmarks/README.md).

    ``loop`` and ``sequential`` run each model's backward right after its forward, so one model's
    activations are alive at a time (a fixed cost, :func:`models_per_batch` sets it aside once): a
    model adds its parameter state and its batch of augmented inputs (``_LOOP_PARAM_COPIES``,
    ``_INPUT_COPIES``).
    """
    activations, params, inputs = _step_memory_terms(spec, config)
    if engine in _ONE_MODEL_AT_A_TIME:
        return _LOOP_PARAM_COPIES * params + _INPUT_COPIES * inputs
    return activations + 4 * params


@functools.lru_cache(maxsize=32)
def _measured_step_memory(spec: NetworkSpec, config: TrainConfig, device_str: str) -> int:
    device = torch.device(device_str)
    probe_models = 2
    n = config.batch_size
    g = torch.Generator().manual_seed(0)
    pool_x = torch.randn(n, 3, spec.image_size, spec.image_size, generator=g).to(device)
    pool_y = (torch.arange(n) % spec.num_classes).to(device)
    probe = TrainConfig(
        epochs=1,
        batch_size=n,
        augment=config.augment,
        cutmix_p=config.cutmix_p,
        eval_points=0,
        engine=config.engine,
        tf32=config.tf32,
        channels_last=config.channels_last,
    )
    torch.cuda.synchronize(device)
    base = torch.cuda.memory_allocated(device)
    torch.cuda.reset_peak_memory_stats(device)
    _train_chunk(
        spec,
        pool_x,
        pool_y,
        [np.arange(n)] * probe_models,
        list(range(probe_models)),
        probe,
        None,
        None,
        device,
        False,
        False,
        resolve_engine(spec, config, device),
        None,
        check=False,  # one step measures memory; the training itself checks its losses
    )
    torch.cuda.synchronize(device)
    # The probe's pool is part of `base`; the peak above it is what the two models' step added
    # (activations, parameters, gradients, momentum, cuDNN workspace: counted twice, a safe margin).
    peak = torch.cuda.max_memory_allocated(device) - base
    return int(max(peak, 1) / probe_models)


def step_memory_per_model(spec: NetworkSpec, config: TrainConfig, device="cpu") -> int:
    """Peak bytes one model adds to a batched training step.

    On CUDA this is measured once per (network, recipe, device): two models train one step and
    ``torch.cuda.max_memory_allocated`` gives the peak (cached). Elsewhere it is
    :func:`estimate_step_memory`.
    """
    device = torch.device(device)
    if device.type == "cuda":
        return _measured_step_memory(spec, config, str(device))
    return estimate_step_memory(spec, config, resolve_engine(spec, config, device))


_SMALLER = "choose a smaller width (--width), image size (--image-size) or --batch-size"


def _one_model(spec: NetworkSpec, config: TrainConfig) -> str:
    width = spec.width or nets.DEFAULT_WIDTH[spec.name]
    return f"one {spec.name} of width {width} on {spec.image_size}x{spec.image_size} images in batches of {config.batch_size}"


def check_trainable(spec: NetworkSpec, config: TrainConfig, device="cpu") -> None:
    """Refuse, before anything is allocated, a network that cannot take its images or whose training
    step cannot fit in memory (:func:`yoco.nets.check_network`; on the CPU also one model's step by
    :func:`estimate_step_memory`; CUDA's is measured by :func:`models_per_batch`)."""
    from .memory import check_fits

    nets.check_network(
        spec.name, spec.num_classes, spec.image_size, spec.width or nets.DEFAULT_WIDTH[spec.name], spec.depth
    )
    if torch.device(device).type != "cuda":
        engine = resolve_engine(spec, config, device)
        # The loop engines hold one model's activations besides each model's state; stacked counts them.
        held = _step_memory_terms(spec, config)[0] if engine in _ONE_MODEL_AT_A_TIME else 0
        check_fits(estimate_step_memory(spec, config, engine) + held, _one_model(spec, config), _SMALLER)


def models_per_batch(spec: NetworkSpec, config: TrainConfig, n_models: int, device) -> int:
    """How many models to train at once: the config's bound, else what memory comfortably holds.

    CUDA: 60 % of the free memory divided by the measured per-model peak of a training step. CPU: a
    4 GiB budget (so several jobs fit side by side on a 24 GiB machine), less the one model's
    activations the ``loop`` and ``sequential`` engines hold at a time, divided by the estimate.
    """
    device = torch.device(device)
    if config.max_models:
        return max(1, min(config.max_models, n_models))
    try:
        per_model = step_memory_per_model(spec, config, device)
    except torch.OutOfMemoryError:
        raise YocoError(f"{_one_model(spec, config)} does not fit in the memory of {device}; {_SMALLER}") from None
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        budget = 0.6 * free
    else:
        budget = 4 * 2**30
        if resolve_engine(spec, config, device) in _ONE_MODEL_AT_A_TIME:
            budget -= _step_memory_terms(spec, config)[0]
    return int(max(1, min(n_models, budget // max(per_model, 1))))


# --------------------------------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------------------------------


def train_models(
    spec: NetworkSpec,
    pool_x: torch.Tensor,
    pool_y: torch.Tensor,
    subsets: Sequence[np.ndarray],
    seeds: Sequence[int],
    config: TrainConfig,
    test_x: torch.Tensor | None = None,
    test_y: torch.Tensor | None = None,
    device: str | torch.device = "cpu",
    record_dynamics: bool = False,
    keep_state: bool = False,
    progress: Progress | None = None,
) -> list[TrainResult]:
    """Train one network per (subset, seed) pair, batching as many as fit.

    Parameters
    ----------
    spec : which network (all runs share the architecture).
    pool_x, pool_y : the sample pool ``[P, 3, h, w]`` (already normalised) and its labels ``[P]``.
    subsets : per run, the indices into the pool it trains on (duplicates allowed, as SSP produces).
    seeds : per run, the seed of its initialisation and of all its random draws.
    config : the training recipe (and engine, TF32 and layout settings).
    test_x, test_y : the test set (normalised); without it no accuracy is measured.
    device : where to train; the pool and test set are moved there once.
    record_dynamics : record per-epoch err_l2 / correct / margin of every pool sample from the training
        forward pass (before the update, on augmented inputs, as the reference logs them). Requires
        every subset to be the whole pool.
    keep_state : return each final model's state_dict (on the CPU).
    progress : a :class:`yoco.progress.Progress` to report to: started here with the call's model-steps as
        its total, updated every step (models done, epoch, the latest mean test accuracy), finished
        at the end. It reads nothing from the device, so it costs no synchronisation.

    Returns
    -------
    One ``TrainResult`` per run, in the order given.
    """
    if len(subsets) != len(seeds):
        raise YocoError(f"got {len(subsets)} subsets but {len(seeds)} seeds; give one seed per run")
    if pool_x.ndim != 4 or pool_x.shape[0] != pool_y.shape[0]:
        raise YocoError(
            f"pool_x must be [P, C, h, w] with one label per image; got {tuple(pool_x.shape)} "
            f"images and {tuple(pool_y.shape)} labels"
        )
    device = torch.device(device)
    pool_x = pool_x.to(device, torch.float32)
    pool_y = pool_y.to(device, torch.int64)
    subsets = [np.asarray(s, dtype=np.int64) for s in subsets]
    for i, s in enumerate(subsets):
        if s.size == 0:
            raise YocoError(f"run {i} has an empty subset; a selection must keep at least one sample")
        outside = s[(s < 0) | (s >= pool_x.shape[0])]
        if outside.size:
            raise YocoError(
                f"run {i} selects index {int(outside[0])} outside the pool of {pool_x.shape[0]} samples "
                f"(valid: 0 to {pool_x.shape[0] - 1}); select from the same decoded set the pool was built from"
            )
        if record_dynamics and not np.array_equal(np.sort(s), np.arange(pool_x.shape[0])):
            raise YocoError("record_dynamics needs every run to train on the whole pool (dynamics are per pool sample)")
    if test_x is not None:
        test_x = test_x.to(device, torch.float32)
        test_y = test_y.to(device, torch.int64)

    check_trainable(spec, config, device)
    engine = resolve_engine(spec, config, device)
    compiled = use_compile(spec, config, engine, device, config.epochs * sum(len(s) for s in subsets))
    results: list[TrainResult | None] = [None] * len(subsets)
    by_size: dict[int, list[int]] = {}
    for i, s in enumerate(subsets):
        by_size.setdefault(len(s), []).append(i)
    tracker = _ProgressTracker(progress, subsets, config) if progress is not None else None
    with _tf32(config.tf32):
        for size, runs in sorted(by_size.items()):
            chunk = models_per_batch(spec, config, len(runs), device)
            for start in range(0, len(runs), chunk):
                ids = runs[start : start + chunk]
                out = _train_chunk(
                    spec,
                    pool_x,
                    pool_y,
                    [subsets[i] for i in ids],
                    [int(seeds[i]) for i in ids],
                    config,
                    test_x,
                    test_y,
                    device,
                    record_dynamics,
                    keep_state,
                    engine,
                    tracker,
                    compiled,
                )
                for i, r in zip(ids, out):
                    results[i] = r
    if tracker is not None:
        tracker.finish(results)
    return results  # type: ignore[return-value]


class _ProgressTracker:
    """What :func:`train_models` tells its :class:`~yoco.progress.Progress`, in model-steps (one model's
    optimiser step): a step of a 40-image run costs about what one of a 64-image batch does where
    steps are launch-bound (CUDA), so the ETA weighs runs by steps, not by images."""

    def __init__(self, progress: Progress, subsets: Sequence[np.ndarray], config: TrainConfig):
        self.progress = progress
        self.epochs = config.epochs
        self.n_models = len(subsets)
        self.steps_before = 0  # model-steps of the finished chunks
        self.models_done = 0
        total = config.epochs * sum(math.ceil(len(s) / config.batch_size) for s in subsets)
        progress.start(total, status=f"{self.n_models} models x {config.epochs} epochs ({total:,} model-steps)")

    def begin_chunk(self, m: int, iters: int) -> None:
        self.m, self.iters = m, iters
        self.accuracy: tuple[int, float] | None = None

    def epoch(self, epoch: int) -> None:
        """Epoch ``epoch`` (0-based) of the current chunk begins: a new status text."""
        parts = [f"models {self.models_done}/{self.n_models} done"]
        if self.m < self.n_models:
            parts.append(f"{self.m} in training")
        parts.append(f"epoch {epoch + 1}/{self.epochs}")
        if self.accuracy is not None:
            parts.append(f"mean test acc {self.accuracy[1]:.2f}% (epoch {self.accuracy[0]})")
        self.progress.update(self.done(epoch, 0), status=", ".join(parts))

    def step(self, epoch: int, b: int) -> None:
        self.progress.update(self.done(epoch, b + 1))

    def validated(self, epoch: int, accuracies: Sequence[float]) -> None:
        self.accuracy = (epoch + 1, float(np.mean(accuracies)))

    def done(self, epoch: int, steps_in_epoch: int) -> int:
        return self.steps_before + self.m * (epoch * self.iters + steps_in_epoch)

    def end_chunk(self) -> None:
        self.steps_before += self.m * self.epochs * self.iters
        self.models_done += self.m

    def finish(self, results: Sequence[TrainResult]) -> None:
        last = [r.last_acc for r in results if r.accuracies]
        status = f"{self.n_models} models"
        if last:
            status += f", mean final test acc {np.mean(last):.2f}%"
        self.progress.finish(status)


def _cutmix_loss(y, y_partner, ratio, sink: torch.Tensor, logits: torch.Tensor, models: slice) -> torch.Tensor:
    """Summed CutMix loss of the models in ``models`` (``loss_of`` of :meth:`_Ensemble.forward_backward`),
    also added to ``sink`` (the epoch's slot of the divergence check, :func:`_check_divergence`)."""
    loss = augment.mixed_cross_entropy(logits, y[models], y_partner[models], ratio[models]).sum()
    sink.add_(loss.detach())
    return loss


def _check_epochs(config: TrainConfig, device: torch.device) -> set[int]:
    """1-based epochs after which :func:`_train_chunk` reads its divergence check.

    On the CPU every epoch: nothing is queued there, so the read costs nothing and a diverged run stops
    at once. Elsewhere (CUDA) a read drains the queue of launched kernels, and a read per step would
    stall every step of a launch-bound loop: so only at the validation points (which read the device
    anyway) and the quarter points, at most eight reads per training, the last at its end.
    """
    if device.type == "cpu":
        return set(range(1, config.epochs + 1))
    return set(config.eval_epochs()) | {max(1, math.ceil(config.epochs * k / 4)) for k in range(1, 5)}


def _check_divergence(epoch_loss: torch.Tensor, done: int, config: TrainConfig, ens=None) -> None:
    """Stop with :class:`~yoco.errors.TrainingDiverged` if an epoch up to ``done`` (1-based) summed a
    non-finite loss, or, with ``ens`` (the end of a training), if a final parameter is not finite."""
    seen = epoch_loss[:done]
    bad = (~torch.isfinite(seen)).nonzero()
    where, value = None, None
    if bad.numel():
        first = int(bad[0, 0])
        where, value = f"at epoch {first + 1} of {config.epochs}", float(seen[first])
    elif ens is not None and not all_finite(ens.parameters()):
        where, value = f"in its last step (epoch {config.epochs})", "parameters not finite"
    if where is not None:
        raise diverged(
            "training",
            where,
            value,
            [("lr", config.lr, "--lr"), ("weight_decay", config.weight_decay, "--weight-decay")],
        )


def _train_chunk(
    spec,
    pool_x,
    pool_y,
    subsets,
    seeds,
    config,
    test_x,
    test_y,
    device,
    record_dynamics,
    keep_state,
    engine,
    tracker=None,
    compiled=False,
    check=True,
) -> list[TrainResult]:
    t0 = time.perf_counter()
    m = len(seeds)
    n = len(subsets[0])
    models = [spec.build(s) for s in seeds]
    if compiled:
        ens = _LoopEnsemble(models, device, compiled=(compiled_forward(spec, True), compiled_forward(spec, False)))
    else:
        ens = _ENGINE_CLASSES[engine](models, device, channels_last=config.channels_last)
    opt = SGD(ens.parameters(), lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay)
    seed_t = torch.tensor(seeds, dtype=torch.int64, device=device)
    subset_t = torch.as_tensor(np.stack(subsets), device=device)
    bs = config.batch_size
    iters = math.ceil(n / bs)
    eval_at = set(config.eval_epochs()) if test_x is not None else set()
    eval_chunk = _eval_chunk(config)
    accs: list[dict[int, float]] = [{} for _ in range(m)]
    eval_s = 0.0
    if record_dynamics:
        p = pool_x.shape[0]
        dyn = {
            "err_l2": torch.zeros(m, config.epochs, p, device=device),
            "correct": torch.zeros(m, config.epochs, p, dtype=torch.bool, device=device),
            "margin": torch.zeros(m, config.epochs, p, device=device),
        }
        rows = torch.arange(m, device=device).unsqueeze(1)
    lr_now = config.lr
    # Divergence (docs/errors.md, "Training that diverges"): every step adds its summed loss to its
    # epoch's slot here, one small kernel and no host read (NaN and inf survive any sum, so a non-finite
    # slot marks the epoch where a run diverged); the slots are read after the epochs of _check_epochs.
    epoch_loss = torch.zeros(config.epochs, device=device)
    check_at = _check_epochs(config, device)
    in_mean = torch.tensor(augment.IMAGENET_MEAN, device=device).view(3, 1, 1)
    in_std = torch.tensor(augment.IMAGENET_STD, device=device).view(3, 1, 1)
    iteration = 0
    if tracker is not None:
        tracker.begin_chunk(m, iters)
    t_loop = time.perf_counter()
    # Nothing in this loop reads a device value on the host: the lr is a Python float, the counters are
    # Python ints, and results stay on the device until a validation point.
    for epoch in range(config.epochs):
        if tracker is not None:
            tracker.epoch(epoch)
        order = subset_t.gather(1, rng.permutation(seed_t, (rng.SHUFFLE, epoch), n))
        for b in range(iters):
            lr = config.lr_at(epoch, iteration, iters)
            if lr != lr_now:
                for group in opt.param_groups:
                    group["lr"] = lr
                lr_now = lr
            idx = order[:, b * bs : (b + 1) * bs]
            x = pool_x[idx]
            y = pool_y[idx]
            if config.imagenet_transforms:
                x = augment.imagenet_augment(x * in_std + in_mean, seed_t, (epoch, b))
            if config.augment:
                x = augment.diffaug(x, seed_t, (epoch, b), config.augment)
            if config.cutmix_p > 0:
                x, y_partner, ratio = augment.cutmix(x, y, seed_t, (epoch, b), p=config.cutmix_p)
            else:
                y_partner, ratio = y, torch.ones(m, device=device)
            opt.zero_grad(set_to_none=True)
            logits = ens.forward_backward(x, functools.partial(_cutmix_loss, y, y_partner, ratio, epoch_loss[epoch]))
            opt.step()
            if record_dynamics:
                probs = torch.softmax(logits.float().flatten(0, 1), dim=-1)
                err, correct, margin, _ = (t.view(m, -1) for t in per_sample_stats(probs, y.flatten()))
                dyn["err_l2"][:, epoch][rows, idx] = err
                dyn["correct"][:, epoch][rows, idx] = correct
                dyn["margin"][:, epoch][rows, idx] = margin
            iteration += 1
            if tracker is not None:
                tracker.step(epoch, b)
        if epoch + 1 in eval_at:
            te = time.perf_counter()
            acc = _accuracy(ens, test_x, test_y, eval_chunk).tolist()
            eval_s += time.perf_counter() - te
            for i in range(m):
                accs[i][epoch + 1] = acc[i]
            if tracker is not None:
                tracker.validated(epoch, acc)
        if check and epoch + 1 in check_at:
            _check_divergence(epoch_loss, epoch + 1, config)
    if check:
        # The last step's update is in no loss: a non-finite parameter it left is caught here.
        _check_divergence(epoch_loss, config.epochs, config, ens)
    if device.type == "cuda":
        torch.cuda.synchronize(device)  # so that wall_s covers the queued work
    if tracker is not None:
        tracker.end_chunk()
    wall = time.perf_counter() - t0
    train_s = time.perf_counter() - t_loop - eval_s
    settings = {
        "engine": engine,
        "device": str(device),
        "channels_last": config.channels_last,
        "compiled": getattr(ens, "compiled", False),
        "tf32_matmul": torch.backends.cuda.matmul.allow_tf32,
        "tf32_cudnn": torch.backends.cudnn.allow_tf32,
    }
    out = []
    for i in range(m):
        out.append(
            TrainResult(
                seed=seeds[i],
                n_train=n,
                accuracies=accs[i],
                wall_s=wall,
                models_in_batch=m,
                state_dict=ens.state_dict(i) if keep_state else None,
                dynamics={k: v[i].cpu().numpy() for k, v in dyn.items()} if record_dynamics else None,
                eval_s=eval_s,
                train_s=train_s,
                steps=config.epochs * iters,
                settings=dict(settings),
            )
        )
    return out
