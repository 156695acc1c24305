"""yoco.prune and the public API names."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import yoco
from yoco.errors import YocoError


def _condensed(num_classes=3, ipc=4, size=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    images = torch.rand(num_classes * ipc, 3, size, size, generator=g)
    labels = torch.arange(num_classes).repeat_interleave(ipc)
    return images, labels


def test_public_api_names():
    assert {"random", "ssp", "entropy", "accumulated_margin", "forgetting", "el2n", "ccs", "yoco"} <= set(
        yoco.methods()
    )
    for name in ("decode", "Dynamics", "score_table", "select", "prune"):
        assert callable(getattr(yoco, name))


def test_prune_with_given_dynamics_keeps_the_lowest_lbpe_per_class():
    images, labels = _condensed()
    n = 3 * 4 * 4  # decoded patches: C * IPC_F * f^2
    dec_labels = np.repeat(np.arange(3), 16)
    # Two epochs; the probability of the true class rises with the index inside each class block,
    # so the easiest (lowest LBPE) patches are the last ones of every block.
    p_true = np.tile(np.linspace(0.4, 0.95, 16), 3)
    probs = np.full((2, n, 3), 0.0)
    for i, y in enumerate(dec_labels):
        probs[:, i, :] = (1 - p_true[i]) / 2
        probs[:, i, y] = p_true[i]
    dyn = yoco.Dynamics.from_probs(probs, dec_labels)
    idx = yoco.prune(images, labels, ipc_to=1, factor=2, dynamics=dyn, lbpe_epochs=2, lbpe_top_k=1)
    expected = np.concatenate([c * 16 + np.arange(12, 16) for c in range(3)])
    assert np.array_equal(idx, expected)


def test_prune_trains_its_own_dynamics_and_is_reproducible():
    images, labels = _condensed()
    # Three classes: not CIFAR-10, so the set's own dataset statistics are given.
    kw = dict(ipc_to=1, factor=2, epochs=3, width=8, mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))
    a = yoco.prune(images, labels, seed=1, **kw)
    b = yoco.prune(images, labels, seed=1, **kw)
    assert np.array_equal(a, b)
    counts = np.bincount(a // 16, minlength=3)
    assert counts.tolist() == [4, 4, 4]  # balanced: IPC_T * f^2 per class


def test_prune_rejects_bad_input():
    images, labels = _condensed()
    with pytest.raises(YocoError, match="exceeds"):
        yoco.prune(images, labels, ipc_to=5, factor=2, epochs=1, width=8)
    with pytest.raises(YocoError, match="Did you mean 'yoco'"):
        yoco.prune(images, labels, ipc_to=1, factor=2, key="yocco", epochs=1, width=8)
    with pytest.raises(YocoError, match="4-D"):
        yoco.prune(images[0], labels, ipc_to=1, factor=2, epochs=1, width=8)
