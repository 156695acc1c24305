"""Pruning-key grammar, the selection primitive, and select() counts for every method."""

from __future__ import annotations

import numpy as np
import pytest

from yoco import selection as sel
from yoco.dynamics import Dynamics
from yoco.errors import YocoError


# ---------------------------------------------------------------- key grammar (reference-spec §3.9)
@pytest.mark.parametrize(
    "key, method, score, order, balance, difficulty",
    [
        ("yoco", "score", "lbpe", "easy", "class", "easy"),
        ("yoco_imbalance", "score", "lbpe", "easy", "global", "easy"),
        ("yoco_hard", "score", "lbpe", "hard", "class", "hard"),
        ("el2n", "score", "el2n", "hard", "global", "hard"),
        ("el2n_easy", "score", "el2n", "easy", "global", "easy"),
        ("el2n_balance", "score", "el2n", "hard", "class", "hard"),
        ("forgetting", "score", "forgetting", "hard", "global", "hard"),
        ("forgetting_easy", "score", "forgetting", "easy", "global", "easy"),
        ("forgetting_easy_balance", "score", "forgetting", "easy", "class", "easy"),
        ("forgetting_balance_easy", "score", "forgetting", "easy", "class", "easy"),
        # AUM: low is hard, so the default (hard) keeps the lowest values and _easy the highest.
        ("accumulated_margin", "score", "accumulated_margin", "easy", "global", "hard"),
        ("accumulated_margin_easy", "score", "accumulated_margin", "hard", "global", "easy"),
        ("accumulated_margin_imbalance_hard", "score", "accumulated_margin", "easy", "global", "hard"),
        ("entropy", "score", "entropy", "hard", "global", "hard"),
        ("entropy_balance", "score", "entropy", "hard", "class", "hard"),
        ("ssp", "ssp", "features", None, "global", None),
        ("ssp_balance", "ssp", "features", None, "class", None),
        ("ssp_easy", "ssp", "features", None, "global", None),  # order has no effect on k-means
        ("random", "random", None, None, "global", None),
        ("random_balance", "random", None, None, "class", None),
        ("random_imbalance", "random", None, None, "global", None),
        ("ccs", "ccs", "el2n", None, "global", None),
        ("ccs_balance", "ccs", "el2n", None, "global", None),  # ccs ignores every suffix
        ("ccs_easy_balance", "ccs", "el2n", None, "global", None),
    ],
)
def test_parse_key_table(key, method, score, order, balance, difficulty):
    rule = sel.parse_key(key)
    assert (rule.key, rule.method, rule.score, rule.order, rule.balance, rule.difficulty) == (
        key,
        method,
        score,
        order,
        balance,
        difficulty,
    )


def test_methods_lists_base_keys():
    assert set(sel.methods()) == {"random", "ssp", "entropy", "accumulated_margin", "forgetting", "el2n", "ccs", "yoco"}


@pytest.mark.parametrize(
    "key, guess", [("forgeting", "forgetting"), ("yocoo_balance", "yoco_balance"), ("el2m_easy", "el2n_easy")]
)
def test_unknown_key_names_closest_match_and_valid_keys(key, guess):
    with pytest.raises(YocoError) as info:
        sel.parse_key(key)
    msg = str(info.value)
    assert f"Did you mean {guess!r}" in msg and "accumulated_margin" in msg and "yoco" in msg


@pytest.mark.parametrize(
    "key", ["el2n_easy_hard", "yoco_balance_imbalance", "xrandomx", "random_", "_balance", "random balance"]
)
def test_malformed_keys_are_rejected(key):
    with pytest.raises(YocoError):
        sel.parse_key(key)


# ---------------------------------------------------------------- select_by_score
# Two class blocks of four: block 0 = [5, 1, 4, 1], block 1 (indices 4-7) = [2, 2, 0, 3].
SCORES = np.array([5, 1, 4, 1, 2, 2, 0, 3], dtype=float)


def test_select_by_score_balanced():
    # The reference sorts all scores once, descending and stably: [0 (5), 2 (4), 7 (3), 4 (2), 5 (2),
    # 1 (1), 3 (1), 6 (0)]. Each class keeps the tail (easy) or the head (hard) of its sub-sequence.
    # Easy: block 0's sub-sequence is 0, 2, 1, 3 -> 1, 3; block 1's is 7, 4, 5, 6 -> 5, 6 (of the tied 2s
    # at 4 and 5, the later one, because it comes later in the descending sort).
    assert sel.select_by_score(SCORES, 2, "easy", "class", blocks=2).tolist() == [1, 3, 5, 6]
    # Hard: the heads 0, 2 and 7, 4 (of the tied 2s, the earlier one).
    assert sel.select_by_score(SCORES, 2, "hard", "class", blocks=2).tolist() == [0, 2, 4, 7]
    # ties="index" takes the lower index of the tied 2s in both directions.
    assert sel.select_by_score(SCORES, 2, "easy", "class", blocks=2, ties="index").tolist() == [1, 3, 4, 6]
    assert sel.select_by_score(SCORES, 2, "hard", "class", blocks=2, ties="index").tolist() == [0, 2, 4, 7]


def test_select_by_score_global():
    assert sel.select_by_score(SCORES, 3, "easy", "global").tolist() == [1, 3, 6]
    assert sel.select_by_score(SCORES, 3, "hard", "global").tolist() == [0, 2, 7]
    # n = 4 easy: the tail of the descending sort is 5 (2), 1, 3, 6: the later of the tied 2s.
    assert sel.select_by_score(SCORES, 4, "easy", "global").tolist() == [1, 3, 5, 6]
    assert sel.select_by_score(SCORES, 4, "easy", "global", ties="index").tolist() == [1, 3, 4, 6]


def test_ties_follow_the_reference_sort():
    flat = np.zeros(6)
    # One stable descending sort of equal scores is 0..5: hard keeps its head, easy its tail.
    assert sel.select_by_score(flat, 2, "hard", "global").tolist() == [0, 1]
    assert sel.select_by_score(flat, 2, "easy", "global").tolist() == [4, 5]
    assert sel.select_by_score(flat, 2, "easy", "global", ties="index").tolist() == [0, 1]
    assert sel.select_by_score(flat, 2, "hard", "global", ties="index").tolist() == [0, 1]


def test_issue_example_easy_first_ties_keep_the_highest_indices():
    # 400 decoded patches of 10 classes, all LBPE 0, IPC_F 10 -> IPC_T 1 with f = 2: 4 per class. The
    # reference's descending sort of equal scores is 0..399; class 0's sub-sequence 0..39 and its
    # tail of 4 is 36..39.
    labels = np.repeat(np.arange(10), 40)
    keep = sel.select("yoco", {"lbpe": np.zeros(400)}, labels, 10, 1, 2)
    assert keep[:4].tolist() == [36, 37, 38, 39]
    assert keep.tolist() == [c * 40 + k for c in range(10) for k in range(36, 40)]
    assert sel.select("yoco", {"lbpe": np.zeros(400)}, labels, 10, 1, 2, ties="index")[:4].tolist() == [0, 1, 2, 3]


# Two classes, IPC_F 2, f = 1 (4 decoded samples), IPC_T 1: global keys keep 2, balanced keys 1 per class.
LABELS4 = np.array([0, 0, 1, 1])


@pytest.mark.parametrize(
    "key, score, values, expected",
    [
        # forgetting_easy keeps the tail of the descending sort [1, 0, 2, 3] -> 2, 3 (not 0, 2).
        ("forgetting_easy", "forgetting", [0, 1, 0, 0], [2, 3]),
        # forgetting (hard) keeps the head of [0, 1, 3, 2] -> 0, 1.
        ("forgetting", "forgetting", [1, 1, 0, 1], [0, 1]),
        # Balanced: class 0's sub-sequence of [0, 1, 2, 3] (all tied) is 0, 1 -> easy tail 1; class 1 -> 3.
        ("forgetting_easy_balance", "forgetting", [0, 0, 0, 0], [1, 3]),
        ("forgetting_balance", "forgetting", [0, 0, 0, 0], [0, 2]),
        # AUM: low is hard, so the reference flips use_hard: the default keeps the tail of the descending
        # sort [0, 1, 2, 3] of [.5, .2, .2, .2] -> 2, 3; _easy keeps the head -> 0, 1.
        ("accumulated_margin", "accumulated_margin", [0.5, 0.2, 0.2, 0.2], [2, 3]),
        ("accumulated_margin_easy", "accumulated_margin", [0.5, 0.2, 0.2, 0.2], [0, 1]),
        # Balanced AUM, class 1 tied: tail of its sub-sequence (2, 3) -> 3; class 0 keeps its lowest, 1.
        ("accumulated_margin_balance", "accumulated_margin", [0.5, 0.2, 0.7, 0.7], [1, 3]),
        # EL2N and entropy keep the highest: head among ties.
        ("el2n", "el2n", [0.3, 0.9, 0.9, 0.9], [1, 2]),
        ("entropy", "entropy", [0.3, 0.9, 0.9, 0.9], [1, 2]),
        ("yoco_imbalance", "lbpe", [0.3, 0.9, 0.3, 0.3], [2, 3]),
    ],
)
def test_every_score_key_breaks_ties_as_the_reference(key, score, values, expected):
    keep = sel.select(key, {score: np.asarray(values, float)}, LABELS4, ipc_from=2, ipc_to=1, factor=1)
    assert keep.tolist() == expected


def test_random_ties_are_seeded_and_only_reorder_tied_scores():
    values = np.array([0, 0, 0, 0, 0, 0, 5, 5] * 4, float)  # 4 classes x 8; ties everywhere
    labels = np.repeat(np.arange(4), 8)
    picks = {
        tuple(sel.select("forgetting_easy_balance", {"forgetting": values}, labels, 8, 2, 1, seed=s, ties="random"))
        for s in range(6)
    }
    assert len(picks) > 1  # the seed changes the tie order
    for p in picks:
        assert (values[list(p)] == 0).all()  # never a 5 while a 0 is left
    again = sel.select("forgetting_easy_balance", {"forgetting": values}, labels, 8, 2, 1, seed=3, ties="random")
    assert (
        again.tolist()
        == sel.select(
            "forgetting_easy_balance", {"forgetting": values}, labels, 8, 2, 1, seed=3, ties="random"
        ).tolist()
    )


def test_tie_decided_counts_kept_slots_the_score_could_not_choose():
    # Easy keeps 2 of [0, 1, 0, 0]: both kept 0s share their score with the rejected 0 -> 2.
    assert sel.tie_decided([0, 1, 0, 0], [2, 3]) == 2
    # Easy keeps 2 of [1, 0, 0, 2]: the kept 0s share no score with a rejected sample -> 0.
    assert sel.tie_decided([1, 0, 0, 2], [1, 2]) == 0
    # Per class block: block 0 [0, 0] keeps 1 of 2 tied -> 1; block 1 [1, 2] keeps 1 -> 0.
    assert sel.tie_decided([0, 0, 1, 2], [1, 2], blocks=2) == 1
    # The same selection seen globally: 0 at index 0 is rejected and shares the kept 0's score.
    assert sel.tie_decided([0, 0, 1, 2], [1, 2]) == 1


def test_select_by_score_validation():
    with pytest.raises(YocoError, match="blocks"):
        sel.select_by_score(SCORES, 2, "easy", "class")
    with pytest.raises(YocoError, match="equal class blocks"):
        sel.select_by_score(SCORES, 1, "easy", "class", blocks=3)
    with pytest.raises(YocoError, match="per class"):
        sel.select_by_score(SCORES, 5, "easy", "class", blocks=2)
    with pytest.raises(YocoError, match="order"):
        sel.select_by_score(SCORES, 1, "lowest", "global")
    with pytest.raises(YocoError, match="NaN"):
        sel.select_by_score([0.0, np.nan], 1, "easy", "global")


# ---------------------------------------------------------------- select(): counts and behaviour
# C = 3 classes, IPC_F = 2, f = 2: blocks of 8 decoded patches, N = 24. IPC_T = 1: 4 per class, 12 total.
C, IPCF, F, IPCT = 3, 2, 2, 1
LAB = np.repeat(np.arange(C), IPCF * F * F)
# Class 0 is entirely easier than class 1, which is easier than class 2 (within a class: reversed).
RAMP = np.concatenate([np.arange(8)[::-1] + 10 * c for c in range(C)]).astype(float)
TABLE = {"lbpe": RAMP, "el2n": RAMP, "forgetting": RAMP, "accumulated_margin": RAMP, "entropy": RAMP}


def counts(idx):
    return sel.class_counts(idx, LAB, C).tolist()


def test_yoco_keeps_lowest_lbpe_per_class():
    idx = sel.select("yoco", TABLE, LAB, IPCF, IPCT, F)
    assert counts(idx) == [4, 4, 4]
    # Inside each block the scores run backwards, so the last four positions are the easiest.
    assert idx.tolist() == [4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23]


def test_imbalanced_keeps_global_count():
    # 12 lowest overall: all 8 of class 0, then the 4 easiest of class 1.
    idx = sel.select("yoco_imbalance", TABLE, LAB, IPCF, IPCT, F)
    assert counts(idx) == [8, 4, 0] and idx.tolist() == list(range(8)) + [12, 13, 14, 15]
    # el2n (hard): the 12 highest: all of class 2 and the 4 hardest of class 1.
    assert counts(sel.select("el2n", TABLE, LAB, IPCF, IPCT, F)) == [0, 4, 8]


def test_aum_flip_in_select():
    assert counts(sel.select("accumulated_margin", TABLE, LAB, IPCF, IPCT, F)) == [8, 4, 0]
    assert counts(sel.select("accumulated_margin_easy", TABLE, LAB, IPCF, IPCT, F)) == [0, 4, 8]
    assert counts(sel.select("accumulated_margin_balance", TABLE, LAB, IPCF, IPCT, F)) == [4, 4, 4]


def test_random_counts_and_seed():
    a = sel.select("random_balance", {}, LAB, IPCF, IPCT, F, seed=5)
    assert counts(a) == [4, 4, 4] and len(set(a.tolist())) == 12
    assert a.tolist() == sel.select("random_balance", {}, LAB, IPCF, IPCT, F, seed=5).tolist()
    g = sel.select("random", {}, LAB, IPCF, IPCT, F, seed=5)
    assert len(g) == 12 and len(set(g.tolist())) == 12 and np.all(np.diff(g) > 0)


def test_ssp_counts():
    rng = np.random.default_rng(0)
    feats = rng.normal(size=(24, 3)).astype(np.float32)
    b = sel.select("ssp_balance", {"features": feats}, LAB, IPCF, IPCT, F, seed=1)
    assert len(b) == 12 and counts(b) == [4, 4, 4]  # IPC_T·f² nearest-to-centroid picks per class
    g = sel.select("ssp", {"features": feats}, LAB, IPCF, IPCT, F, seed=1)
    assert len(g) == 12 and np.all(np.diff(g) >= 0)  # duplicates allowed
    assert g.tolist() == sel.select("ssp", {"features": feats}, LAB, IPCF, IPCT, F, seed=1).tolist()


def test_ssp_keeps_duplicates():
    # Class blocks of identical features: every centroid's nearest sample is the block's first index.
    feats = np.repeat(np.eye(3, dtype=np.float32), 8, axis=0)
    idx = sel.select("ssp_balance", {"features": feats}, LAB, IPCF, IPCT, F)
    assert idx.tolist() == [0] * 4 + [8] * 4 + [16] * 4


def test_ccs_select_through_key():
    lab = np.repeat([0, 1], 10)  # CIFAR-10-like cell 10 -> 1 with f = 1 and two classes: N = 20
    el2n = np.arange(20, dtype=float)
    # r = .3 drops the 6 hardest (14..19); 0..13 fall alone into 14 of 50 bins; budget 2 goes to the
    # last two singleton bins visited (2//2 = 1, then 1//1 = 1): 12 and 13.
    assert sel.select("ccs", {"el2n": el2n}, lab, 10, 1, 1, dataset="cifar10").tolist() == [12, 13]
    with pytest.raises(YocoError, match="dataset="):
        sel.select("ccs", {"el2n": el2n}, lab, 10, 1, 1)
    with pytest.raises(YocoError, match="cut-off"):  # 10 -> 10 is no CCS cell
        sel.select("ccs", {"el2n": el2n}, lab, 10, 10, 1, dataset="cifar10")


def test_select_validation():
    with pytest.raises(YocoError, match=r"scores\['entropy'\].*yoco.scores.entropy"):
        sel.select("entropy", {"lbpe": RAMP}, LAB, IPCF, IPCT, F)
    with pytest.raises(YocoError, match="features"):
        sel.select("ssp", TABLE, LAB, IPCF, IPCT, F)
    with pytest.raises(YocoError, match="class-major"):
        sel.select("yoco", TABLE, LAB[::-1], IPCF, IPCT, F)
    with pytest.raises(YocoError, match="3 class blocks of 8 .* ipc_from 5"):
        sel.select("yoco", TABLE, LAB, 5, IPCT, F)  # 24 patches are not blocks of 5·2² = 20
    with pytest.raises(YocoError, match="must not exceed"):
        sel.select("yoco", TABLE, LAB, IPCF, 3, F)
    with pytest.raises(YocoError, match="24 samples"):
        sel.select("yoco", {"lbpe": RAMP[:10]}, LAB, IPCF, IPCT, F)
    with pytest.raises(YocoError, match="Did you mean 'yoco'"):
        sel.select("yocco", TABLE, LAB, IPCF, IPCT, F)


# ---------------------------------------------------------------- figure helpers
def test_keep_fraction_per_class_with_unsorted_labels():
    labels = np.array([1, 0, 1, 0, 1, 0, 1, 0, 1, 0])  # 5 per class, interleaved (real data layout)
    scores = np.arange(10, dtype=float)
    # Half of 5 is 2.5 -> 3 (half-up) per class. Easy: lowest scores per class.
    assert sel.keep_fraction(scores, labels, 0.5, "easy").tolist() == [0, 1, 2, 3, 4, 5]
    assert sel.keep_fraction(scores, labels, 0.5, "hard").tolist() == [4, 5, 6, 7, 8, 9]
    assert sel.keep_fraction(scores, labels, 0.2, "easy").tolist() == [0, 1]
    assert sel.keep_fraction(scores, labels, 0.3, "hard", balance="global").tolist() == [7, 8, 9]
    with pytest.raises(YocoError, match="fraction"):
        sel.keep_fraction(scores, labels, 0.0, "easy")


def test_select_single_epoch():
    err = np.zeros((2, 8), np.float32)
    err[1] = [3, 1, 2, 0, 0, 5, 6, 1]
    dyn = Dynamics(err, err > 0, err, np.repeat([0, 1], 4), 2)
    # Two classes, IPC_F = 4, f = 1, IPC_T = 2: the two lowest of epoch 1 per class are (3, 1), (4, 7).
    assert sel.select_single_epoch(dyn, 1, 4, 2, 1).tolist() == [1, 3, 4, 7]
    # All tied at epoch 0: each class keeps the tail of the reference's descending sort.
    assert sel.select_single_epoch(dyn, 0, 4, 2, 1).tolist() == [2, 3, 6, 7]
    assert sel.select_single_epoch(dyn, 0, 4, 2, 1, ties="index").tolist() == [0, 1, 4, 5]
    with pytest.raises(YocoError, match="epoch 2"):
        sel.select_single_epoch(dyn, 2, 4, 2, 1)
