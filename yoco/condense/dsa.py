"""DSA: dataset condensation with differentiable Siamese augmentation (``DSA:main.py``, method DSA).

Zhao & Bilen (ICML 2021), the code of ``VICO-UoE/DatasetCondensation`` run as
``python main.py --method DSA --init real --dsa_strategy color_crop_cutout_flip_scale_rotate``.
The same gradient matching as IDC, with these differences (:meth:`CondenseConfig.dsa`):

* ``S`` holds whole images (factor 1) in the *normalised* space, initialised with ``ipc`` random real
  images of each class; it is never clamped.
* Every outer iteration draws a fresh ConvNet and takes ``inner`` (DSA's ``outer_loop``) matching
  steps; each matches every class on ``batch_real`` random real images against all the class's
  synthetic images, with one DSA augmentation draw per class shared by both
  (:func:`yoco.augment.dsa_augment`), and then takes ONE step of the images' SGD on the loss summed
  over classes (``image_step="summed"``).
* The distance is DSA's layer-wise cosine ``'ours'`` over every parameter (``match_fc``).
* Between two matching steps (not after the last) the network trains for ``syn_epochs`` (DSA's
  ``inner_loop``) epochs on the current synthetic set, shuffled, in batches of ``batch_net``, with
  per-image DSA augmentation and plain SGD, instead of IDC's training on real data with CutMix.

Everything else (networks, real batches, the batched matching over classes, snapshots, resume) is
IDC's machinery. The reference's draws come from unseeded global generators; here every draw is
counter-based, keyed like IDC's (see :mod:`yoco.condense.idc`).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .. import rng
from .idc import _INIT_PICK, _SYN_AUG, _SYN_ORDER, IDC


class DSA(IDC):
    """One DSA condensation run: IDC's loop with DSA's initialisation, distance and network updates."""

    method = "dsa"
    value_space = "normalized"

    def initial_pick(self, c: int, idx: torch.Tensor, need: int) -> torch.Tensor:
        """``ipc`` random real images of the class (DSA's ``get_images(c, ipc)`` with ``--init real``)."""
        pick = rng.permutation(self.class_seeds[c : c + 1], (rng.CONDENSE, _INIT_PICK), idx.numel())
        return pick[0, :need]

    def initial_images(self) -> torch.Tensor:
        # factor 1: mix_init places the picked images as they are; DSA's S lives in normalised space.
        return self.pool.normalize(super().initial_images())

    def begin_outer(self, net, it: int) -> None:
        """DSA never clamps its (normalised) synthetic images."""

    def syn_inputs(self, x: torch.Tensor) -> torch.Tensor:
        return x  # already normalised

    def net_update(self, net, opt, it: int, ot: int) -> None:
        """``syn_epochs`` epochs on the synthetic set (DSA's ``epoch('train', ..., aug=True)`` loop).

        Skipped after the last matching step of an outer iteration, as the reference breaks out of
        its loop before training there. The set is a detached copy taken once, as the reference's
        ``TensorDataset(copy.deepcopy(image_syn.detach()))``.
        """
        cfg = self.cfg
        if ot == cfg.inner - 1 or cfg.syn_epochs == 0:
            return
        syn = self.images.detach().clone()
        targets = self.targets.to(syn.device)
        n, bs = syn.shape[0], cfg.batch_net
        for epoch in range(cfg.syn_epochs):
            order = rng.permutation(self.seed_t, (rng.CONDENSE, _SYN_ORDER, it, ot, epoch), n)[0]
            for b in range(math.ceil(n / bs)):
                idx = order[b * bs : (b + 1) * bs]
                with torch.no_grad():
                    x = self.augment(
                        syn[idx][None], self.seed_t, (rng.CONDENSE, _SYN_AUG, it, ot, epoch, b), cfg.net_aug, False
                    )[0]
                loss = F.cross_entropy(net(x), targets[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
