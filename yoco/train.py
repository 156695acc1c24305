"""The batched trainer: many small, independent trainings of one architecture at once.

YOCO's cost is thousands of short trainings of small networks on tiny sets (design.md §4). Trained one
at a time, each step is dominated by launch and host overhead. Here M models of one architecture are
trained together: their parameters are stacked (``torch.func.stack_module_state``) and one ``vmap``-ed
forward/backward serves all of them. Every model keeps its own

* initialisation (``nets.init_network`` with its seed),
* subset of the shared sample pool (subsets may differ; runs with equal subset sizes share a batch),
* shuffling, DiffAug and CutMix draws (counter-based, ``yoco.rng``: a model's draws do not depend on
  which other models share its batch, so a model trained alone gives the same weights),

and the optimiser (SGD with momentum and weight decay) acts element-wise, so stacking changes nothing
mathematically. Networks with BatchNorm cannot be ``vmap``-ed with running statistics; they take the
sequential path, which runs the same loop with ordinary modules, one model after another.

The recipe is the reference's (reference-spec §4.2 for evaluation, §2 for dynamics): SGD lr 0.01,
momentum 0.9, weight decay 5e-4, batch 64 with the last partial batch kept, MultiStepLR at ⌊2E/3⌋ and
⌊5E/6⌋ with γ 0.2 (stepped per epoch for evaluation, per iteration for dynamics), DiffAug
``color_crop_flip_scale_rotate`` per sample, CutMix with probability 0.5, validation at E/4, E/2, 3E/4, E.
"""
from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import torch
from torch.func import functional_call, stack_module_state, vmap

from . import augment, nets, rng
from .dynamics import per_sample_stats
from .errors import YocoError


@dataclass(frozen=True)
class NetworkSpec:
    """Which network to train: a name of ``nets.NETWORKS`` plus its size parameters."""

    name: str = "convnet"
    num_classes: int = 10
    image_size: int = 32
    width: int | None = None  # None: the paper's width of that network (nets.DEFAULT_WIDTH)
    depth: int = 3

    def build(self, seed: int) -> torch.nn.Module:
        return nets.init_network(self.name, self.num_classes, seed, image_size=self.image_size,
                                 width=self.width, depth=self.depth)


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters of one training run (the reference's defaults)."""

    epochs: int = 1000
    batch_size: int = 64
    lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 5e-4
    gamma: float = 0.2
    # "epoch": evaluation runs step MultiStepLR once per epoch; "iteration": the dynamics runs step it
    # every iteration with milestones at 2/3 and 5/6 of all iterations (reference-spec §2).
    schedule: str = "epoch"
    augment: str | None = "color_crop_flip_scale_rotate"
    cutmix_p: float = 0.5
    # Validation every epochs // eval_points epochs (the reference's num_val = 4); 0 = only at the end.
    eval_points: int = 4
    eval_batch: int = 500
    # Upper bound on models trained in one batch; None = as many as memory allows.
    max_models: int | None = None

    def __post_init__(self):
        if self.epochs < 1:
            raise YocoError(f"epochs must be at least 1, got {self.epochs}")
        if self.batch_size < 1:
            raise YocoError(f"batch_size must be at least 1, got {self.batch_size}")
        if self.schedule not in ("epoch", "iteration"):
            raise YocoError(f"schedule must be 'epoch' or 'iteration', got {self.schedule!r}")
        if not 0.0 <= self.cutmix_p <= 1.0:
            raise YocoError(f"cutmix_p is a probability in [0, 1], got {self.cutmix_p}")

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


@dataclass
class TrainResult:
    """Outcome of one trained network."""

    seed: int
    n_train: int
    accuracies: dict[int, float]  # 1-based epoch -> test accuracy in %
    wall_s: float  # wall time of the batch this run was trained in
    models_in_batch: int
    state_dict: dict[str, torch.Tensor] | None = None
    # Per-epoch training dynamics over the pool (only with record_dynamics): err_l2, correct, margin [E, P].
    dynamics: dict[str, np.ndarray] | None = None

    @property
    def best_acc(self) -> float:
        return max(self.accuracies.values()) if self.accuracies else float("nan")

    @property
    def last_acc(self) -> float:
        return self.accuracies[max(self.accuracies)] if self.accuracies else float("nan")


class _VmapEnsemble:
    """M networks as one functional module: stacked parameters, vmapped forward."""

    def __init__(self, models: list[torch.nn.Module], device):
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


class _SequentialEnsemble:
    """The same interface for networks that cannot be vmapped (BatchNorm): ordinary modules in a loop."""

    def __init__(self, models: list[torch.nn.Module], device):
        self.models = [m.to(device) for m in models]

    def parameters(self) -> list[torch.Tensor]:
        return [p for m in self.models for p in m.parameters()]

    def train_forward(self, x: torch.Tensor) -> torch.Tensor:
        for m in self.models:
            m.train()
        return torch.stack([m(x[i]) for i, m in enumerate(self.models)])

    @torch.no_grad()
    def eval_forward(self, x: torch.Tensor) -> torch.Tensor:
        for m in self.models:
            m.eval()
        return torch.stack([m(x) for m in self.models])

    def state_dict(self, i: int) -> dict[str, torch.Tensor]:
        return {k: v.detach().cpu().clone() for k, v in self.models[i].state_dict().items()}


def _accuracy(ens, test_x: torch.Tensor, test_y: torch.Tensor, batch: int) -> torch.Tensor:
    correct = None
    for s in range(0, test_x.shape[0], batch):
        logits = ens.eval_forward(test_x[s:s + batch])
        hits = (logits.argmax(-1) == test_y[s:s + batch]).sum(-1)
        correct = hits if correct is None else correct + hits
    return correct.double() * (100.0 / test_x.shape[0])


def models_per_batch(spec: NetworkSpec, config: TrainConfig, n_models: int, device) -> int:
    """How many models to train at once: the config's bound, else what memory comfortably holds.

    The estimate is the measured rule of thumb of benchmarks/README.md: activations of one training
    step dominate (about 12 floats per activation element for forward, backward and augmentation).
    """
    if config.max_models:
        return max(1, min(config.max_models, n_models))
    probe = spec.build(0)
    elements = 0

    def hook(_module, _inputs, output):
        nonlocal elements
        if isinstance(output, torch.Tensor):
            elements += output.numel()

    handles = [m.register_forward_hook(hook) for m in probe.modules() if m is not probe]
    with torch.no_grad():
        probe(torch.zeros(1, 3, spec.image_size, spec.image_size))
    for h in handles:
        h.remove()
    n_params = sum(p.numel() for p in probe.parameters())
    per_model = 4 * (12 * elements * config.batch_size + 4 * n_params)
    device = torch.device(device)
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        budget = 0.6 * free
    else:
        budget = 4 * 2 ** 30  # keep CPU jobs within a few GiB so several can run side by side
    return int(max(1, min(n_models, budget // max(per_model, 1))))


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
    progress: Callable[[str], None] | None = None,
) -> list[TrainResult]:
    """Train one network per (subset, seed) pair, batching as many as fit.

    Parameters
    ----------
    spec : which network (all runs share the architecture).
    pool_x, pool_y : the sample pool ``[P, 3, h, w]`` (already normalised) and its labels ``[P]``.
    subsets : per run, the indices into the pool it trains on (duplicates allowed, as SSP produces).
    seeds : per run, the seed of its initialisation and of all its random draws.
    config : the training recipe.
    test_x, test_y : the test set (normalised); without it no accuracy is measured.
    record_dynamics : record per-epoch err_l2 / correct / margin of every pool sample from the training
        forward pass (before the update, on augmented inputs, as the reference logs them). Requires
        every subset to be the whole pool.
    keep_state : return each final model's state_dict (on the CPU).
    progress : called with a short status line after every validation.

    Returns
    -------
    One ``TrainResult`` per run, in the order given.
    """
    if len(subsets) != len(seeds):
        raise YocoError(f"got {len(subsets)} subsets but {len(seeds)} seeds; give one seed per run")
    if pool_x.ndim != 4 or pool_x.shape[0] != pool_y.shape[0]:
        raise YocoError(f"pool_x must be [P, C, h, w] with one label per image; got {tuple(pool_x.shape)} "
                        f"images and {tuple(pool_y.shape)} labels")
    device = torch.device(device)
    pool_x = pool_x.to(device, torch.float32)
    pool_y = pool_y.to(device, torch.int64)
    subsets = [np.asarray(s, dtype=np.int64) for s in subsets]
    for i, s in enumerate(subsets):
        if s.size == 0:
            raise YocoError(f"run {i} has an empty subset; a selection must keep at least one sample")
        if s.min() < 0 or s.max() >= pool_x.shape[0]:
            raise YocoError(f"run {i} selects index {int(s.max())} outside the pool of {pool_x.shape[0]} samples")
        if record_dynamics and not np.array_equal(np.sort(s), np.arange(pool_x.shape[0])):
            raise YocoError("record_dynamics needs every run to train on the whole pool (dynamics are per pool sample)")
    if test_x is not None:
        test_x = test_x.to(device, torch.float32)
        test_y = test_y.to(device, torch.int64)

    results: list[TrainResult | None] = [None] * len(subsets)
    by_size: dict[int, list[int]] = {}
    for i, s in enumerate(subsets):
        by_size.setdefault(len(s), []).append(i)
    sequential = nets.uses_batchnorm(spec.name)
    for size, runs in sorted(by_size.items()):
        chunk = 1 if sequential else models_per_batch(spec, config, len(runs), device)
        for start in range(0, len(runs), chunk):
            ids = runs[start:start + chunk]
            out = _train_chunk(spec, pool_x, pool_y, [subsets[i] for i in ids], [int(seeds[i]) for i in ids],
                               config, test_x, test_y, device, record_dynamics, keep_state, sequential, progress)
            for i, r in zip(ids, out):
                results[i] = r
    return results  # type: ignore[return-value]


def _train_chunk(spec, pool_x, pool_y, subsets, seeds, config, test_x, test_y, device,
                 record_dynamics, keep_state, sequential, progress) -> list[TrainResult]:
    t0 = time.perf_counter()
    m = len(seeds)
    n = len(subsets[0])
    models = [spec.build(s) for s in seeds]
    ens = (_SequentialEnsemble if sequential else _VmapEnsemble)(models, device)
    opt = torch.optim.SGD(ens.parameters(), lr=config.lr, momentum=config.momentum,
                          weight_decay=config.weight_decay)
    seed_t = torch.tensor(seeds, dtype=torch.int64, device=device)
    subset_t = torch.as_tensor(np.stack(subsets), device=device)
    bs = config.batch_size
    iters = math.ceil(n / bs)
    eval_at = set(config.eval_epochs()) if test_x is not None else set()
    accs: list[dict[int, float]] = [{} for _ in range(m)]
    if record_dynamics:
        p = pool_x.shape[0]
        dyn = {"err_l2": torch.zeros(m, config.epochs, p, device=device),
               "correct": torch.zeros(m, config.epochs, p, dtype=torch.bool, device=device),
               "margin": torch.zeros(m, config.epochs, p, device=device)}
        rows = torch.arange(m, device=device).unsqueeze(1)
    iteration = 0
    for epoch in range(config.epochs):
        order = subset_t.gather(1, rng.permutation(seed_t, (rng.SHUFFLE, epoch), n))
        for b in range(iters):
            lr = config.lr_at(epoch, iteration, iters)
            for group in opt.param_groups:
                group["lr"] = lr
            idx = order[:, b * bs:(b + 1) * bs]
            x = pool_x[idx]
            y = pool_y[idx]
            if config.augment:
                x = augment.diffaug(x, seed_t, (epoch, b), config.augment)
            if config.cutmix_p > 0:
                x, y_partner, ratio = augment.cutmix(x, y, seed_t, (epoch, b), p=config.cutmix_p)
            else:
                y_partner, ratio = y, torch.ones(m, device=device)
            logits = ens.train_forward(x)
            loss = augment.mixed_cross_entropy(logits, y, y_partner, ratio).sum()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if record_dynamics:
                probs = torch.softmax(logits.detach().float().flatten(0, 1), dim=-1)
                err, correct, margin, _ = (t.view(m, -1) for t in per_sample_stats(probs, y.flatten()))
                dyn["err_l2"][:, epoch][rows, idx] = err
                dyn["correct"][:, epoch][rows, idx] = correct
                dyn["margin"][:, epoch][rows, idx] = margin
            iteration += 1
        if epoch + 1 in eval_at:
            acc = _accuracy(ens, test_x, test_y, config.eval_batch).tolist()
            for i in range(m):
                accs[i][epoch + 1] = acc[i]
            if progress:
                progress(f"epoch {epoch + 1}/{config.epochs}: {m} models of {n} samples, "
                         f"test accuracy {np.mean(acc):.2f}% (mean)")
    wall = time.perf_counter() - t0
    out = []
    for i in range(m):
        out.append(TrainResult(
            seed=seeds[i], n_train=n, accuracies=accs[i], wall_s=wall, models_in_batch=m,
            state_dict=ens.state_dict(i) if keep_state else None,
            dynamics={k: v[i].cpu().numpy() for k, v in dyn.items()} if record_dynamics else None,
        ))
    return out
