"""IDC: gradient matching of multi-formation synthetic images (``IDC:condense.py:condense``, spec §6.1).

A synthetic tensor ``S`` of ``C*ipc`` stored images, each holding ``f x f`` patches, starts from the
"mix" initialisation. Every *outer* iteration draws a fresh network (ImageNet-10: pre-trained for
``early`` epochs on real data) and clamps ``S`` to [0, 1]. Every *inner* step then

a. matches, class by class, the gradient of the cross-entropy w.r.t. the network's conv kernels on a
   real batch of that class with the one on the class's decoded synthetic patches (same DiffAug draw
   for both), and after each class takes one step of a single SGD optimiser (momentum 0.5) over the
   whole of ``S``;
b. trains the network on ``n_data`` real samples (DiffAug per sample plus CutMix).

Per-class steps versus one summed step
    The reference steps the optimiser once per class (``image_step="per_class"``, the default). The
    matching loss of class ``c`` depends only on class ``c``'s rows of ``S``, and between two of its
    own steps those rows move only by momentum. So all classes' gradients can be computed at once, on
    rows advanced by the momentum-only steps they would have taken, and the result equals the
    sequential loop up to float rounding (:class:`~yoco.condense.matching.ImageSGD`).
    ``image_step="summed"`` is the other reading of the algorithm, one step per inner step with the
    sum over classes; it is not the reference behaviour and is kept as a named switch for comparison.

Randomness
    The original code is unseeded. Here every draw is counter-based (:mod:`yoco.rng`) and keyed by
    ``(seed, outer iteration, inner step, class, batch)``, and network ``it`` is initialised from
    ``seed_from(seed, "condense-net", it)``: a run is a pure function of its inputs.
"""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path
from typing import Any, Callable

import torch

from .. import augment, nets, rng
from ..data import RealData
from ..errors import TrainingDiverged, YocoError, diverged, unknown_choice
from ..formation import decode as decode_images, mix_init
from ..optim import SGD, all_finite
from ..seeding import seed_from
from .config import DECODES, CondenseConfig
from .matching import ImageSGD, match_loss
from .state import RealPool, load_snapshot, save_snapshot

log = logging.getLogger("yoco.condense")

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
_SYN_ORDER = 11  # DSA: shuffles of the synthetic set in the network updates
_SYN_AUG = 12  # DSA: per-image augmentation of those updates
_INIT_PICK = 13  # DSA: which real images initialise the synthetic set


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


class IDC:
    """One IDC condensation run (``IDC:condense.py:condense``); see :func:`yoco.condense.condense`.

    Subclasses change the algorithm through hooks: :meth:`initial_pick` (which real images fill the
    mixed grid), :meth:`initial_images`, :meth:`begin_outer` (IDC: clamp ``S``), :meth:`begin_inner`
    (work before an inner step's matching), :meth:`real_batch`, :meth:`syn_inputs` (how ``S`` becomes
    network input) and :meth:`net_update` (step b).
    """

    method = "idc"
    #: The space ``S`` lives in (:data:`yoco.condensed.VALUE_SPACES`).
    value_space = "pixel01"

    def __init__(self, real: RealData, ipc: int, factor: int, cfg: CondenseConfig, seed: int, device: torch.device):
        self.real, self.ipc, self.factor, self.cfg = real, ipc, factor, cfg
        self.seed, self.device = int(seed), device
        self.C = real.num_classes
        self.size = real.image_size
        self.pool = RealPool(real, device)
        self.seed_t = torch.tensor([self.seed], dtype=torch.int64, device=device)
        # One independent stream per class, so the batched path (all classes in one diffaug call, one
        # seed per "model") and the loop path (one class per call) draw identical parameters.
        self.class_seeds = rng.bits(self.seed_t, (rng.CONDENSE, _CLASS_SEEDS), (self.C,))[0] & 0x7FFFFFFF
        self.targets = torch.arange(self.C, dtype=torch.int64).repeat_interleave(ipc)
        self.images: torch.Tensor | None = None
        self.opt: ImageSGD | None = None
        self.start_scale = 0.0
        self.scale_before = torch.zeros(())

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

    def augment(self, x: torch.Tensor, seeds, counters: tuple[int, ...], strategy: str, shared: bool) -> torch.Tensor:
        """The run's DiffAug: IDC's :func:`yoco.augment.diffaug` or DSA's :func:`yoco.augment.dsa_augment`."""
        fn = augment.dsa_augment if self.cfg.aug_mode == "dsa" else augment.diffaug
        return fn(x, seeds, counters, strategy=strategy, shared=shared)

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
                x = self.augment(
                    x[None], self.seed_t, (rng.CONDENSE, aug_purpose) + counters + (b,), self.cfg.net_aug, False
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

    def initial_pick(self, c: int, idx: torch.Tensor, need: int) -> torch.Tensor:
        """Positions in class ``c``'s real images (``idx``) of the ``need`` images of its mixed grid."""
        return torch.arange(need, device=idx.device)

    def initial_images(self) -> torch.Tensor:
        need = self.ipc * self.factor**2
        chosen = []
        for c, idx in enumerate(self.pool.class_idx):
            if idx.numel() < need:
                raise YocoError(
                    f"{self.real.name}: class {c} has {idx.numel()} training images, but ipc={self.ipc} "
                    f"with factor={self.factor} needs {need}; lower ipc or factor."
                )
            chosen.append(self.pool.images(idx[self.initial_pick(c, idx, need)]))
        return mix_init(chosen, self.ipc, self.factor)

    # --- matching -----------------------------------------------------------------------------------
    def begin_outer(self, net, it: int) -> None:
        """Work at the start of outer iteration ``it`` (IDC: clamp ``S`` to [0, 1])."""
        with torch.no_grad():
            self.images.clamp_(0.0, 1.0)

    def begin_inner(self, net, it: int, ot: int) -> None:
        """Work before inner step ``ot``'s matching (IDC: none)."""

    def real_batch(self, net, c: int, it: int, ot: int) -> torch.Tensor:
        """IDC: ``batch_real`` random real images of class ``c``, a fresh draw per inner step."""
        idx = self.pool.class_idx[c]
        pick = rng.permutation(self.class_seeds[c : c + 1], (rng.CONDENSE, _REAL_BATCH, it, ot), idx.numel())
        return self.pool.images(idx[pick[0, : self.cfg.batch_real]])

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

    def syn_inputs(self, x: torch.Tensor) -> torch.Tensor:
        """Network input of synthetic images (IDC: ``S`` is in pixel space, so normalise it)."""
        return self.pool.normalize(x)

    def class_losses(self, net, classes: list[int], it: int, ot: int, batched: bool) -> torch.Tensor:
        """Matching losses of a contiguous range of classes, with the shared DiffAug draw."""
        real = self.pool.normalize(torch.stack([self.real_batch(net, c, it, ot) for c in classes]))
        syn = self.syn_inputs(self.syn_batch(classes, it, ot))
        n = real.shape[1]
        both = torch.cat([real, syn], dim=1)
        seeds = self.class_seeds[classes[0] : classes[-1] + 1]
        both = self.augment(both, seeds, (rng.CONDENSE, _MATCH_AUG, it, ot), self.cfg.match_aug, True)
        cfg = self.cfg
        return match_loss(net, both[:, :n], both[:, n:], classes, cfg.metric, batched=batched, fc=cfg.match_fc)

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

    # --- divergence ---------------------------------------------------------------------------------
    def diverged(self, net, it: int, ot: int, value: float | str) -> TrainingDiverged:
        """The error of a run whose matching loss or images became non-finite at inner step ``ot`` of
        outer iteration ``it``, naming the rate to lower first.

        A NaN loss makes that step's image update NaN too, so the cause is read from the state the step
        started from: the images' step ``lr_img`` is named first when ``S`` had grown to more than 100
        times its largest value at the start (a step that huge diverges at the next one), or when the
        network is still finite; ``lr_net`` alone when only the network had been lost (only its own
        updates change it). DSA's network trains on ``S`` itself, so exploding images take the network
        with them: hence the growth test before the network's.
        """
        cfg = self.cfg
        img = ("lr_img", cfg.lr_img, "--lr-img")
        net_rates = [("lr_net", cfg.lr_net, "--lr-net")] + ([("wd_net", cfg.wd_net, None)] if cfg.wd_net else [])
        seen = value if isinstance(value, str) else f"loss {value}"
        scale = float(self.scale_before)
        seen += f"; before the step the largest pixel was {scale:.3g}, {self.start_scale:.3g} at the start"
        grew = not scale <= 100 * self.start_scale  # NaN and inf grew too
        net_ok = all_finite(net.parameters())
        if not net_ok and "network" not in seen:
            seen += ", and the network was not finite"
        if grew or net_ok:
            what, settings = f"{self.method} condensation", [img] + ([] if net_ok else net_rates)
        else:
            what, settings = f"{self.method} condensation (its network's training)", net_rates
        return diverged(what, f"at outer iteration {it + 1} of {cfg.outer}, inner step {ot + 1}", seen, settings)

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
        save_snapshot(
            path,
            self.identity(),
            self.cfg.to_dict(),
            next_outer=next_outer,
            loss_history=list(history),
            images=self.images.detach().cpu().clone(),
            targets=self.targets.clone(),
            optimizer=self.opt.state_dict(),
        )

    def load_snapshot(self, path: Path) -> tuple[int, list[float]]:
        state = load_snapshot(path, self.identity(), self.cfg.to_dict())
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
        # The scale of S the run starts from, for the divergence message (one read, before any step).
        self.start_scale = float(self.images.detach().abs().max())
        t0 = time.perf_counter()
        for it in range(start, cfg.outer):
            net = self.network(it)
            net_opt = self.net_optimizer(net)
            if cfg.early:
                self.pretrain(net, net_opt, it)
            self.begin_outer(net, it)
            total = 0.0
            for ot in range(cfg.inner):
                self.begin_inner(net, it, ot)
                # For the divergence message only: a reduction on the device, read only if the run diverges.
                self.scale_before = self.images.detach().abs().amax()
                step = self.image_update(net, it, ot)
                # Divergence (docs/errors.md): the loss is on the host already (image_update reads it),
                # so this check costs nothing.
                if not math.isfinite(step):
                    raise self.diverged(net, it, ot, step)
                total += step
                self.net_update(net, net_opt, it, ot)
            # The last step's update is in no loss yet: check S itself before it is saved or returned
            # (one reduction per outer iteration, whose inner steps read the device anyway).
            if not all_finite([self.images]):
                raise self.diverged(net, it, cfg.inner - 1, "synthetic images not finite")
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
