"""Importance scores on hand-computed fixtures, k-means, and CCS stratified sampling."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from yoco import scores as S
from yoco import seeding
from yoco.dynamics import Dynamics
from yoco.errors import YocoError

# 3 epochs x 4 samples x 2 classes, labels [0, 0, 1, 1]; P_Y[t, i] = p_t(label of i).
P_Y = np.array([[0.9, 0.4, 0.7, 0.4], [0.2, 0.7, 0.8, 0.9], [0.6, 0.3, 0.9, 0.1]])
LABELS = np.array([0, 0, 1, 1])
R2 = math.sqrt(2)


@pytest.fixture
def dyn() -> Dynamics:
    probs = np.empty((3, 4, 2))
    for i, y in enumerate(LABELS):
        probs[:, i, y] = P_Y[:, i]
        probs[:, i, 1 - y] = 1 - P_Y[:, i]
    return Dynamics.from_probs(probs, LABELS)


def make(correct, err=None) -> Dynamics:
    """Dynamics with a given correctness pattern [E, N] (other arrays irrelevant)."""
    c = np.asarray(correct, bool)
    e = np.zeros(c.shape, np.float32) if err is None else np.asarray(err, np.float32)
    return Dynamics(e, c, np.zeros(c.shape, np.float32), np.zeros(c.shape[1], np.int64), 2)


# ---------------------------------------------------------------- LBPE
def test_lbpe_per_epoch_is_error_norm(dyn):
    # Two classes: ||onehot - p|| = sqrt(2)(1 - p_y).
    np.testing.assert_allclose(S.lbpe_per_epoch(dyn), R2 * (1 - P_Y), rtol=1e-6)


def test_top_k_epochs_by_training_accuracy_with_ties(dyn):
    # Correct iff p_y > 0.5: epoch counts are [2, 3, 2].
    assert S.top_k_epochs(dyn, epochs=3, k=1).tolist() == [1]
    # Epochs 0 and 2 tie at 2 correct. Algorithm 1 keeps argsort(ACC)[-k:] of a stable ascending sort,
    # [0, 2, 1][-2:], so the later epoch 2 wins (the default); "earliest" keeps epoch 0.
    assert S.top_k_epochs(dyn, epochs=3, k=2).tolist() == [1, 2]
    assert S.top_k_epochs(dyn, epochs=3, k=2, ties="earliest").tolist() == [1, 0]
    assert S.top_k_epochs(dyn, epochs=3, k=3).tolist() == [1, 2, 0]
    # Only epochs 0..E-1 are candidates.
    assert S.top_k_epochs(dyn, epochs=1, k=1).tolist() == [0]
    counts = make([[1, 0, 0], [1, 1, 0], [1, 1, 0], [0, 0, 0], [1, 1, 1]])  # counts [1, 2, 2, 0, 3]
    assert S.top_k_epochs(counts, epochs=4, k=2).tolist() == [2, 1]
    assert S.top_k_epochs(counts, epochs=5, k=2).tolist() == [4, 2]
    assert S.top_k_epochs(counts, epochs=5, k=2, ties="earliest").tolist() == [4, 1]


def test_top_k_epoch_ties_of_the_issue_example():
    # Accuracies [5, 7, 7, 7, 3, 7, 1], K = 2. A stable ascending argsort is [6, 4, 0, 1, 2, 3, 5]; its
    # last two, Algorithm 1's choice, are epochs 3 and 5. The lowest-index rule keeps 1 and 2.
    acc = np.array([5, 7, 7, 7, 3, 7, 1])
    d = make((np.arange(7)[None, :] < acc[:, None]).astype(bool))  # epoch t: acc[t] of 7 samples correct
    assert d.epoch_correct.tolist() == acc.tolist()
    assert sorted(S.top_k_epochs(d, epochs=7, k=2).tolist()) == [3, 5]
    assert sorted(S.top_k_epochs(d, epochs=7, k=2, ties="earliest").tolist()) == [1, 2]
    # torch.topk leaves the order among ties undefined: whatever it picks must be two epochs with 7.
    picked = S.top_k_epochs(d, epochs=7, k=2, ties="torch")
    assert len(set(picked.tolist())) == 2 and (acc[picked] == 7).all()
    with pytest.raises(YocoError, match="epoch tie rule"):
        S.top_k_epochs(d, epochs=7, k=2, ties="newest")


def test_lbpe_sums_the_top_k_epochs(dyn):
    # Top-2 epochs are 1 and then 2 (the later of the tied epochs 0 and 2):
    # sqrt(2) * ((1-.2)+(1-.6), (1-.7)+(1-.3), (1-.8)+(1-.9), (1-.9)+(1-.1)).
    expected = R2 * np.array([1.2, 1.0, 0.3, 1.0])
    np.testing.assert_allclose(S.lbpe(dyn, epochs=3, top_k=2), expected, rtol=1e-6)
    np.testing.assert_allclose(S.lbpe(dyn, epochs=3, top_k=2, reduce="mean"), expected / 2, rtol=1e-6)
    np.testing.assert_allclose(S.score_table(dyn, 3, 2)["lbpe"], expected, rtol=1e-6)
    # With epoch 0 instead of 2: (1-.2)+(1-.9), (1-.7)+(1-.4), (1-.8)+(1-.7), (1-.9)+(1-.4).
    earliest = R2 * np.array([0.9, 0.9, 0.5, 0.7])
    np.testing.assert_allclose(S.lbpe(dyn, epochs=3, top_k=2, epoch_ties="earliest"), earliest, rtol=1e-6)
    np.testing.assert_allclose(S.score_table(dyn, 3, 2, lbpe_epoch_ties="earliest")["lbpe"], earliest, rtol=1e-6)
    np.testing.assert_allclose(S.lbpe(dyn, epochs=1, top_k=1), R2 * (1 - P_Y[0]), rtol=1e-6)


def test_lbpe_loss_variant_picks_lowest_mean_loss_epochs():
    err = [[1.0, 1.0], [2.0, 2.0], [4.0, 4.0]]
    d = make([[1, 1], [0, 0], [0, 0]], err)  # accuracy prefers epoch 0
    d.loss = np.array([[3.0, 3.0], [1.0, 1.0], [2.0, 2.0]], np.float32)  # loss prefers epoch 1, then 2
    np.testing.assert_allclose(S.lbpe(d, 3, 1), [1.0, 1.0])
    np.testing.assert_allclose(S.lbpe(d, 3, 1, epoch_selection="loss"), [2.0, 2.0])
    np.testing.assert_allclose(S.lbpe(d, 3, 2, epoch_selection="loss"), [6.0, 6.0])
    d.loss = None
    with pytest.raises(YocoError, match="Dynamics.loss"):
        S.lbpe(d, 3, 1, epoch_selection="loss")


def test_lbpe_rejects_impossible_epoch_settings(dyn):
    with pytest.raises(YocoError, match="E=100"):
        S.lbpe(dyn, epochs=100, top_k=10)
    with pytest.raises(YocoError, match="K=4"):
        S.lbpe(dyn, epochs=3, top_k=4)
    with pytest.raises(YocoError, match="Did you mean 'sum'"):
        S.lbpe(dyn, 3, 1, reduce="summ")


# ---------------------------------------------------------------- other dynamics scores
def test_el2n_sums_first_ten_epochs(dyn):
    # Only 3 epochs recorded: all of them. sqrt(2) * sum_t (1 - p_y).
    np.testing.assert_allclose(S.el2n(dyn), R2 * np.array([1.3, 1.6, 0.6, 1.6]), rtol=1e-6)
    err = np.arange(12, dtype=np.float32)[:, None].repeat(2, axis=1)  # epoch t has error t
    np.testing.assert_allclose(S.el2n(make(np.zeros((12, 2)), err)), [45.0, 45.0])  # 0 + ... + 9


def test_forgetting_counts_correct_to_wrong(dyn):
    # Correctness (p_y > .5): s0 T,F,T -> 1; s1 F,T,F -> 1; s2 T,T,T -> 0; s3 F,T,F -> 1.
    assert S.forgetting(dyn).tolist() == [1, 1, 0, 1]
    pattern = np.array([[1, 1, 0], [0, 1, 0], [1, 1, 0], [0, 1, 1], [1, 1, 1]]).astype(bool)
    # Columns: T,F,T,F,T -> 2; T,T,T,T,T -> 0 (starting correct is no event); F,F,F,T,T -> 0.
    assert S.forgetting(make(pattern)).tolist() == [2, 0, 0]
    assert S.forgetting(make(pattern[:1])).tolist() == [0, 0, 0]


def test_accumulated_margin_sums_probability_margins(dyn):
    # Margin 2 p_y - 1 per epoch: s0 .8-.6+.2, s1 -.2+.4-.4, s2 .4+.6+.8, s3 -.2+.8-.8.
    np.testing.assert_allclose(S.accumulated_margin(dyn), [0.4, -0.2, 1.8, -0.2], atol=1e-6)


def test_entropy_by_hand():
    p = np.array([[0.5, 0.5, 0.0], [1.0, 0.0, 0.0], [0.2, 0.5, 0.3]])
    expected = [math.log(2), 0.0, -(0.2 * math.log(0.2) + 0.5 * math.log(0.5) + 0.3 * math.log(0.3))]
    np.testing.assert_allclose(S.entropy(p), expected, atol=1e-8)
    np.testing.assert_allclose(S.entropy(torch.tensor(p)), expected, atol=1e-8)
    with pytest.raises(YocoError, match="softmax"):
        S.entropy(np.array([[2.0, -1.0]]))


def test_score_table(dyn):
    table = S.score_table(dyn, lbpe_epochs=3, lbpe_top_k=2)
    assert {"lbpe", "el2n", "forgetting", "accumulated_margin"} <= set(table)
    np.testing.assert_allclose(table["lbpe"], S.lbpe(dyn, 3, 2))
    assert table["forgetting"].tolist() == [1, 1, 0, 1]
    assert all(v.shape == (4,) for v in table.values())


def test_lbpe_settings_table():
    assert S.LBPE_SETTINGS[("idc", "cifar10")] == (100, 10)
    assert S.LBPE_SETTINGS[("idc", "cifar100")] == (200, 10)
    assert S.LBPE_SETTINGS[("idc", "imagenet10")] == (200, 10)
    assert S.LBPE_SETTINGS[("dream", "cifar10")] == (200, 10)
    assert S.LBPE_SETTINGS[("mtt", "cifar10")] == (10, 3)
    assert S.LBPE_SETTINGS[("kip", "cifar10")] == (50, 3)
    assert S.lbpe_setting("dsa", "cifar10") == (10, 3)
    assert S.lbpe_setting("dsa", "cifar10", dsa_epochs=S.DSA_SCORE_SCRIPT_EPOCHS) == (100, 3)
    with pytest.raises(YocoError, match="mtt/cifar10"):
        S.lbpe_setting("mtt", "cifar100")


def test_scores_registry_matches_paper_table6():
    rows = {r["method"]: r for r in S.table6_rows()}
    assert list(rows) == ["SSP", "Entropy", "AUM", "Forg.", "EL2N", "Ours"]
    expect = {  # model, dynamics, time, label (paper Table 6)
        "SSP": (True, False, "Full", False),
        "Entropy": (True, False, "Full", True),
        "AUM": (False, True, "Full", True),
        "Forg.": (False, True, "Full", True),
        "EL2N": (False, True, "Early", True),
        "Ours": (False, True, "Early", True),
    }
    for name, (model, dynamics, time, label) in expect.items():
        r = rows[name]
        assert (r["model"], r["training_dynamics"], r["training_time"], r["label"]) == (model, dynamics, time, label)
    assert "1000" in S.SCORES["lbpe"].code_reads  # the code never trains "early" only


# ---------------------------------------------------------------- k-means (SSP)
def _init(seed: int, n: int, k: int) -> list[int]:
    """The documented initialisation: k points drawn with replacement by a CPU generator."""
    return torch.randint(n, (k,), generator=seeding.generator(seed)).tolist()


def test_kmeans_recovers_separated_blobs():
    centres = np.array([[0.0, 0.0], [10.0, 10.0], [-10.0, 10.0]])
    offsets = np.array([[0.5, 0.0], [-0.5, 0.0], [0.0, 0.5], [0.0, -0.5]])
    x = (centres[:, None, :] + offsets[None]).reshape(12, 2)
    blob = np.repeat(np.arange(3), 4)
    # A seed whose initial points fall in three different blobs: Lloyd then converges to the blobs.
    seed = next(s for s in range(1000) if len({blob[i] for i in _init(s, 12, 3)}) == 3)
    res = S.kmeans(x, 3, seed=seed)
    np.testing.assert_allclose(np.sort(res.centroids, axis=0), np.sort(centres, axis=0), atol=1e-6)
    # Each blob forms one cluster.
    assert all(len(set(res.labels[blob == b])) == 1 for b in range(3))
    assert len(set(res.labels)) == 3
    again = S.kmeans(torch.tensor(x, dtype=torch.float32), 3, seed=seed)
    np.testing.assert_array_equal(again.centroids, res.centroids)
    np.testing.assert_array_equal(again.labels, res.labels)


def test_kmeans_empty_cluster_becomes_zero_vector():
    x = np.array([[10.0, 0.0], [12.0, 0.0], [17.0, 0.0]])
    # A seed that draws the same point twice: both centroids coincide, every point goes to the first
    # (ties -> first), the second is empty and becomes 0; then all points stay with the mean (13, 0),
    # which is nearer than the origin, and the shift is 0.
    seed = next(s for s in range(1000) if len(set(_init(s, 3, 2))) == 1)
    res = S.kmeans(x, 2, seed=seed)
    np.testing.assert_allclose(res.centroids, [[13.0, 0.0], [0.0, 0.0]], atol=1e-6)
    assert res.n_iter == 2
    # Nearest samples: (13, 0) -> (12, 0) = index 1; origin -> (10, 0) = index 0.
    assert S.nearest_to_centroids(x, res.centroids).tolist() == [1, 0]


def test_nearest_to_centroids_keeps_duplicates():
    x = np.array([[0.0, 0.0], [1.0, 0.0], [5.0, 5.0]])
    c = np.array([[0.9, 0.0], [1.2, 0.1], [4.0, 4.0]])
    assert S.nearest_to_centroids(x, c).tolist() == [1, 1, 2]


def test_kmeans_rejects_bad_cluster_count():
    with pytest.raises(YocoError, match="n_clusters"):
        S.kmeans(np.zeros((3, 2)), 4, seed=0)


# ---------------------------------------------------------------- CCS
def test_ccs_cutoff_table():
    assert len(S.CCS_CUTOFF) == 23
    assert S.ccs_cutoff("cifar10", 10, 1) == 0.3
    assert S.ccs_cutoff("cifar10", 10, 5) == 0.0
    assert S.ccs_cutoff("cifar10", 50, 10) == 0.1
    assert S.ccs_cutoff("cifar100", 10, 2) == 0.4
    assert S.ccs_cutoff("cifar100", 20, 5) == 0.3
    assert S.ccs_cutoff("cifar100", 50, 10) == 0.3
    assert S.ccs_cutoff("imagenet10", 10, 5) == 0.1
    assert S.ccs_cutoff("imagenet10", 20, 5) == 0.2
    with pytest.raises(YocoError, match=r"cifar10 10->1.*imagenet10 20->5"):
        S.ccs_cutoff("cifar10", 10, 10)


# Seven scores: strata=4 over [0, 2.0002) has width 0.50005, so the bins hold
# {0, .1, .2, .3} (indices 0-3), {1.0}, {1.1}, {2.0}: sizes [4, 1, 1, 1].
CCS_SCORES = np.array([0.0, 0.1, 0.2, 0.3, 1.0, 1.1, 2.0])


def test_stratified_sampling_allocation_by_hand():
    # Budget 5: bins 1, 2, 3 (size 1) get min(1, 5//4), min(1, 4//3), min(1, 3//2) = 1 each; bin 0 gets
    # min(4, 2//1) = 2 and takes its two hardest, .3 and .2.
    assert S.stratified_sampling(CCS_SCORES, 5, strata=4).tolist() == [2, 3, 4, 5, 6]
    # Budget 2: 2//4 = 0, 2//3 = 0, then min(1, 2//2) = 1 for bin 3, min(4, 1//1) = 1 for bin 0.
    assert S.stratified_sampling(CCS_SCORES, 2, strata=4).tolist() == [3, 6]
    # Index order does not matter: permuting the input permutes the answer.
    perm = np.array([6, 2, 4, 0, 5, 1, 3])
    got = S.stratified_sampling(CCS_SCORES[perm], 5, strata=4)
    assert sorted(perm[got].tolist()) == [2, 3, 4, 5, 6]


def test_stratified_sampling_ties_and_random_within():
    # One stratum of equal scores: deterministic selection takes the lowest indices.
    assert S.stratified_sampling(np.ones(6), 2, strata=1).tolist() == [0, 1]
    a = S.stratified_sampling(CCS_SCORES, 5, strata=4, random_within=True, seed=3)
    b = S.stratified_sampling(CCS_SCORES, 5, strata=4, random_within=True, seed=3)
    assert a.tolist() == b.tolist()
    # The allocation is unchanged: bins 1-3 whole, two members of bin 0.
    assert {4, 5, 6} <= set(a.tolist()) and len(set(a.tolist()) & {0, 1, 2, 3}) == 2


def test_ccs_select_drops_hardest_and_may_return_fewer():
    # ratio .5 drops int(3.5) = 3 hardest (2.0, 1.1, 1.0); only 4 remain for a budget of 5.
    assert S.ccs_select(CCS_SCORES, 5, 0.5).tolist() == [0, 1, 2, 3]
    # ratio .2 drops int(1.4) = 1 sample, 2.0. The other six fall alone into bins 0, 4, 9, 13, 45, 49
    # of width 1.1·1.0001/50; the 44 empty bins come first and get 0, then the singletons in bin order
    # get min(1, 3//6) = 0, 3//5 = 0, 3//4 = 0, 3//3 = 1, 2//2 = 1, 1//1 = 1: .3, 1.0 and 1.1.
    assert S.ccs_select(CCS_SCORES, 3, 0.2).tolist() == [3, 4, 5]
    with pytest.raises(YocoError, match="ratio"):
        S.ccs_select(CCS_SCORES, 3, 1.0)
