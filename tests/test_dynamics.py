"""Dynamics container: statistics derived from softmax histories, validation, persistence."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from yoco.dynamics import Dynamics, per_sample_stats
from yoco.errors import YocoError

# 3 epochs x 4 samples x 2 classes; labels class-major [0, 0, 1, 1]. Values are p(label).
P_Y = np.array([[0.9, 0.4, 0.7, 0.4], [0.2, 0.7, 0.8, 0.9], [0.6, 0.3, 0.9, 0.1]])
LABELS = np.array([0, 0, 1, 1])


def two_class_probs() -> np.ndarray:
    probs = np.empty((3, 4, 2))
    for i, y in enumerate(LABELS):
        probs[:, i, y] = P_Y[:, i]
        probs[:, i, 1 - y] = 1 - P_Y[:, i]
    return probs


def test_two_class_statistics_by_hand():
    dyn = Dynamics.from_probs(two_class_probs(), LABELS)
    # Two classes: onehot - p = (1 - p_y, -(1 - p_y)) up to order, so the norm is sqrt(2)(1 - p_y).
    np.testing.assert_allclose(dyn.err_l2, math.sqrt(2) * (1 - P_Y), rtol=1e-6)
    # Correct iff p_y > 0.5.
    np.testing.assert_array_equal(dyn.correct, P_Y > 0.5)
    # Margin p_y - p_other = 2 p_y - 1.
    np.testing.assert_allclose(dyn.margin, 2 * P_Y - 1, atol=1e-6)
    np.testing.assert_allclose(dyn.loss, -np.log(P_Y), rtol=1e-6)
    np.testing.assert_array_equal(dyn.epoch_correct, [2, 3, 2])
    np.testing.assert_allclose(dyn.train_accuracy, [0.5, 0.75, 0.5])
    assert dyn.err_l2.dtype == np.float32 and dyn.correct.dtype == bool and dyn.labels.dtype == np.int64
    assert (dyn.num_epochs, dyn.num_samples, dyn.num_classes) == (3, 4, 2)


def test_three_class_sample_by_hand():
    p = torch.tensor([[0.2, 0.5, 0.3], [0.1, 0.1, 0.8]], dtype=torch.float64)
    err, cor, mar, loss = per_sample_stats(p, torch.tensor([0, 2]))
    # Sample 0, y = 0: e = (0.8, -0.5, -0.3); wrong (argmax 1); margin 0.2 - 0.5.
    # Sample 1, y = 2: e = (-0.1, -0.1, 0.2); right; margin 0.8 - 0.1.
    np.testing.assert_allclose(err.numpy(), [math.sqrt(0.64 + 0.25 + 0.09), math.sqrt(0.01 + 0.01 + 0.04)])
    assert cor.tolist() == [False, True]
    np.testing.assert_allclose(mar.numpy(), [-0.3, 0.7])
    np.testing.assert_allclose(loss.numpy(), [-math.log(0.2), -math.log(0.8)])


def test_from_logits_equals_from_probs_of_softmax():
    logits = torch.tensor([[[2.0, 0.0, -1.0], [0.0, 3.0, 1.0]]])  # 1 epoch, 2 samples, 3 classes
    labels = torch.tensor([0, 2])
    a = Dynamics.from_logits(logits, labels)
    b = Dynamics.from_probs(torch.softmax(logits.double(), -1), labels.numpy())
    np.testing.assert_allclose(a.err_l2, b.err_l2)
    np.testing.assert_array_equal(a.correct, [[True, False]])


@pytest.mark.parametrize(
    "probs, labels, match",
    [
        (np.full((2, 3, 2), 3.0), [0, 1, 1], "from_logits"),  # logits passed as probabilities
        (np.full((2, 3, 2), 0.5), [0, 1, 2], "out of range"),  # label 2 with 2 classes
        (np.full((2, 3, 2), 0.5), [0, 1], "labels has 2"),  # N mismatch
        (np.full((3, 2), 0.5), [0, 1, 1], r"\[epochs, samples, classes\]"),
    ],
)
def test_from_probs_rejects_bad_input(probs, labels, match):
    with pytest.raises(YocoError, match=match):
        Dynamics.from_probs(probs, np.asarray(labels))


def test_constructor_rejects_mismatched_arrays():
    e = np.zeros((2, 3), np.float32)
    with pytest.raises(YocoError, match="correct has shape"):
        Dynamics(e, np.zeros((3, 3), bool), e, np.zeros(3, np.int64), 2)
    with pytest.raises(YocoError, match="labels has 4"):
        Dynamics(e, e > 0, e, np.zeros(4, np.int64), 2)
    with pytest.raises(YocoError, match=r"lie in \[0, 2\)"):
        Dynamics(e, e > 0, e, np.array([0, 1, 2]), 2)


def test_save_load_roundtrip_is_atomic(tmp_path):
    dyn = Dynamics.from_probs(two_class_probs(), LABELS, meta={"seed": 7, "epochs": 3})
    path = dyn.save(tmp_path / "sub" / "dynamics.npz")
    assert sorted(p.name for p in path.parent.iterdir()) == ["dynamics.npz"]  # no temp file left behind
    back = Dynamics.load(path)
    for name in ("err_l2", "correct", "margin", "labels", "loss"):
        np.testing.assert_array_equal(getattr(back, name), getattr(dyn, name))
    assert back.num_classes == 2 and back.meta == {"seed": 7, "epochs": 3}


def test_load_errors(tmp_path):
    with pytest.raises(YocoError, match="does not exist"):
        Dynamics.load(tmp_path / "missing.npz")
    np.savez(tmp_path / "other.npz", x=np.zeros(2))
    with pytest.raises(YocoError, match="not a dynamics file"):
        Dynamics.load(tmp_path / "other.npz")
