"""Ordering claims: which pairs are tested, the difference, its standard error and the paper's side."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from yoco.claims import claims, format_claims
from yoco.errors import YocoError
from yoco.published import published


def runs_of(key, per_rep, condenser="idc", ipc_to=1, dataset="cifar10", network="convnet"):
    """3 reps x 3 inits; init i of every rep gets per_rep[i-1] (so the 9 values are per_rep x 3)."""
    return pd.DataFrame(
        [
            dict(
                dataset=dataset,
                condenser=condenser,
                ipc_from=10,
                ipc_to=ipc_to,
                key=key,
                network=network,
                rep=rep,
                init=init,
                best_acc=v,
                last_acc=v - 1.0,
            )
            for rep in (1, 2, 3)
            for init, v in zip((1, 2, 3), per_rep)
        ]
    )


@pytest.fixture
def runs():
    return pd.concat(
        [
            runs_of("yoco", [41.0, 42.0, 43.0]),
            runs_of("random", [29.0, 30.0, 31.0]),
            runs_of("random_balance", [39.5, 41.5, 43.5]),
            runs_of("el2n", [16.0, 17.0, 18.0]),
            runs_of("el2n_easy", [33.0, 33.0, 33.0]),
            runs_of("el2n_balance", [18.0, 18.5, 19.0]),
            runs_of("random", [30.0, 31.0, 32.0], condenser="dream"),
            # ignored: another dataset and another network
            runs_of("yoco", [1.0, 1.0, 1.0], dataset="cifar100"),
            runs_of("random", [99.0, 99.0, 99.0], network="densenet"),
        ],
        ignore_index=True,
    )


def pick(df, claim, key_a, key_b, condenser_b="idc"):
    hit = df[(df.claim == claim) & (df.key_a == key_a) & (df.key_b == key_b) & (df.condenser_b == condenser_b)]
    assert len(hit) == 1
    return hit.iloc[0]


def test_exactly_the_testable_pairs(runs):
    df = claims(runs, published())
    got = sorted(zip(df.claim, df.condenser_a, df.key_a, df.condenser_b, df.key_b))
    assert got == sorted(
        [
            ("easy_beats_hard", "idc", "el2n_easy", "idc", "el2n"),
            ("balance_beats_imbalance", "idc", "random_balance", "idc", "random"),  # alias of random_imbalance
            ("balance_beats_imbalance", "idc", "el2n_balance", "idc", "el2n"),  # alias of el2n_imbalance
            ("yoco_beats_baseline", "idc", "yoco", "idc", "random"),
            ("yoco_beats_baseline", "idc", "yoco", "dream", "random"),
            ("yoco_beats_baseline", "idc", "yoco", "idc", "el2n"),
            ("yoco_best_in_ablation", "idc", "yoco", "idc", "random"),
            ("yoco_best_in_ablation", "idc", "yoco", "idc", "random_balance"),
        ]
    )
    assert (df.ipc_to == 1).all() and (df.n_a == 9).all() and (df.n_b == 9).all()


def test_difference_and_standard_error(runs):
    df = claims(runs, published())
    r = pick(df, "yoco_beats_baseline", "yoco", "random")
    # Each side is {-1, 0, +1} around its mean, three times: ddof-1 variance = 6 / 8.
    assert r.ours_a == pytest.approx(42.0) and r.ours_b == pytest.approx(30.0)
    assert r["diff"] == pytest.approx(12.0)
    assert r.se == pytest.approx(math.sqrt(0.75 / 9 + 0.75 / 9))
    assert r.holds and r.significant
    assert (r.paper_a, r.paper_b) == (42.28, 28.23)  # Table 1
    assert r.paper_diff == pytest.approx(14.05)

    r = pick(df, "yoco_best_in_ablation", "yoco", "random_balance")
    # random_balance is {-2, 0, +2} around 41.5: ddof-1 variance 24 / 8 = 3.
    assert r["diff"] == pytest.approx(0.5)
    assert r.se == pytest.approx(math.sqrt(0.75 / 9 + 3.0 / 9))
    assert r.holds and not r.significant  # 0.5 < 2 * 0.645
    assert (r.paper_a, r.paper_b) == (42.28, 30.19)  # Table 2, not Table 5's 30.05

    r = pick(df, "yoco_beats_baseline", "yoco", "random", condenser_b="dream")
    assert r["diff"] == pytest.approx(11.0) and r.paper_b == 30.87

    r = pick(df, "balance_beats_imbalance", "el2n_balance", "el2n")
    assert r["diff"] == pytest.approx(18.5 - 17.0)
    assert (r.paper_a, r.paper_b) == (18.43, 16.95)  # Table 5, IPC 1

    r = pick(df, "easy_beats_hard", "el2n_easy", "el2n")
    assert r["diff"] == pytest.approx(16.0)
    assert r.se == pytest.approx(math.sqrt(0.0 + 0.75 / 9))
    assert (r.paper_a, r.paper_b) == (33.11, 16.95)  # Table 4


def test_a_failing_claim_and_last_metric():
    runs = pd.concat([runs_of("yoco", [20.0, 20.0, 20.0], ipc_to=2), runs_of("random", [25.0, 25.0, 25.0], ipc_to=2)])
    df = claims(runs, published(), metric="last")
    r = pick(df, "yoco_beats_baseline", "yoco", "random")
    assert r["diff"] == pytest.approx(-5.0) and not r.holds and not r.significant
    assert r.se == pytest.approx(0.0)
    assert (r.paper_a, r.paper_b) == (46.67, 37.10)  # Table 1, IPC 10 -> 2
    # Table 2 covers only 10 -> 1: the ablation claim at IPC 2 has no paper values.
    r = pick(df, "yoco_best_in_ablation", "yoco", "random")
    assert math.isnan(r.paper_a) and math.isnan(r.paper_diff)


def test_single_run_has_no_standard_error():
    runs = pd.concat([runs_of("yoco", [40.0, 41.0, 42.0]).iloc[:1], runs_of("random", [30.0, 31.0, 32.0])])
    r = pick(claims(runs), "yoco_beats_baseline", "yoco", "random")
    assert r.n_a == 1 and math.isnan(r.se) and r.holds and not r.significant


def test_exact_key_preferred_over_alias():
    runs = pd.concat(
        [
            runs_of("random_balance", [35.0, 35.0, 35.0]),
            runs_of("random", [30.0, 30.0, 30.0]),
            runs_of("random_imbalance", [34.0, 34.0, 34.0]),
        ]
    )
    r = pick(claims(runs), "balance_beats_imbalance", "random_balance", "random_imbalance")
    assert r["diff"] == pytest.approx(1.0)


def test_format_and_errors(runs):
    df = claims(runs, published())
    text = format_claims(df)
    assert "holds*" in text and "random@dream" in text
    assert "8/8 claims hold" in text
    assert format_claims(df.iloc[:0]).startswith("no claim could be tested")
    with pytest.raises(YocoError, match="metric"):
        claims(runs, metric="mean")
    with pytest.raises(YocoError, match="published table lacks"):
        claims(runs, pd.DataFrame({"table": [1]}))
    assert claims(runs.iloc[:0]).empty


def test_tie_share_of_each_side(runs):
    # el2n: 40 patches kept per run, of which the tie rule chose 10 in rep 1, 30 in rep 2, 20 in rep 3:
    # mean share (10 + 30 + 20) / 3 / 40 = 0.5. el2n_easy: none. Random runs carry no count.
    runs = runs.copy()
    runs["n_selected"] = 40
    runs["tie_decided"] = float("nan")
    el2n = runs.key == "el2n"
    runs.loc[el2n, "tie_decided"] = runs.loc[el2n, "rep"].map({1: 10, 2: 30, 3: 20})
    runs.loc[runs.key == "el2n_easy", "tie_decided"] = 0
    df = claims(runs, published())
    row = pick(df, "easy_beats_hard", "el2n_easy", "el2n")
    assert row.ties_a == 0.0 and row.ties_b == pytest.approx(0.5)
    assert math.isnan(pick(df, "yoco_beats_baseline", "yoco", "random").ties_b)
    assert " 50%" in format_claims(df)
    # Runs made before the column existed: NaN shares, the report shows dashes.
    assert claims(runs.drop(columns=["tie_decided"]), published()).ties_a.isna().all()
