"""Figure data (yoco/figures.py); the notebooks that draw it are tested in test_notebooks.py."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from yoco.errors import YocoError
from yoco.figures import dataset_label, fig2_data, fig2_paper_accuracy, fig3_data, fig5_data, fig7_data, zero_crossing


def selection(key, rep, counts, ipc_to=1):
    indices = list(range(sum(counts)))
    return dict(
        key=key,
        rep=rep,
        dataset="cifar10",
        condenser="idc",
        ipc_from=10,
        ipc_to=ipc_to,
        factor=2,
        indices=indices,
        class_counts=counts,
        seed=7,
    )


def run_rows(key, values, network="convnet", ipc_to=1):
    return pd.DataFrame(
        [
            dict(
                dataset="cifar10",
                condenser="idc",
                ipc_from=10,
                ipc_to=ipc_to,
                key=key,
                network=network,
                rep=1,
                init=i + 1,
                best_acc=v,
                last_acc=v - 2,
            )
            for i, v in enumerate(values)
        ]
    )


# ---------------------------------------------------------------------------------------- fig 2
def test_fig2_counts_and_legend_accuracy():
    sels = [
        selection("yoco_imbalance", 1, [3, 0, 5]),
        selection("yoco", 1, [4, 4, 4]),
        selection("el2n", 1, [1, 1, 1]),
    ]  # not a Fig. 2 key: ignored
    runs = pd.concat([run_rows("yoco", [50.0, 52.0, 54.0]), run_rows("yoco", [10.0, 10.0, 10.0], network="resnet10bn")])
    df = fig2_data(sels, runs)
    assert list(df.columns) == [
        "dataset",
        "condenser",
        "ipc_from",
        "ipc_to",
        "key",
        "rep",
        "class",
        "count",
        "accuracy_best",
        "paper_accuracy",
    ]
    assert len(df) == 6
    imb = df[df.key == "yoco_imbalance"]
    assert list(imb["count"]) == [3, 0, 5] and list(imb["class"]) == [0, 1, 2]
    assert imb["accuracy_best"].isna().all()  # no runs of yoco_imbalance
    # The ConvNet runs (CIFAR's evaluation network) give the accuracy, not the ResNet ones.
    assert np.allclose(df.loc[df.key == "yoco", "accuracy_best"], 52.0)
    last = fig2_data(sels, runs, metric="last")
    assert np.allclose(last.loc[last.key == "yoco", "accuracy_last"], 50.0)
    # The paper's Table 5 at IDC CIFAR-10 10->1: LBPE imbalanced 37.63, balanced 42.28.
    assert np.allclose(imb["paper_accuracy"], 37.63)
    assert np.allclose(df.loc[df.key == "yoco", "paper_accuracy"], 42.28)


def test_fig2_paper_accuracy_sources():
    # Table 5 covers IDC CIFAR-10 10 -> 1, 2, 5 (imbalanced / balanced LBPE).
    assert fig2_paper_accuracy("cifar10", "idc", 10, 2, "yoco_imbalance") == pytest.approx(42.99)
    assert fig2_paper_accuracy("cifar10", "idc", 10, 2, "yoco") == pytest.approx(46.67)
    # Elsewhere the balanced selection is Table 1's YOCO; ImageNet-10 10 -> 1 imbalanced is 53.91 - 19.37 (Sec. 4.3.2).
    assert fig2_paper_accuracy("cifar100", "idc", 10, 1, "yoco") == pytest.approx(22.57)
    assert fig2_paper_accuracy("imagenet10", "idc", 10, 1, "yoco_imbalance") == pytest.approx(34.54)
    assert math.isnan(fig2_paper_accuracy("cifar100", "idc", 10, 1, "yoco_imbalance"))
    assert math.isnan(fig2_paper_accuracy("digits", "idc", 10, 1, "yoco"))
    assert math.isnan(fig2_paper_accuracy("cifar10", "idc", 10, 1, "el2n"))


def test_fig2_rejects_inconsistent_selections():
    bad = selection("yoco", 1, [4, 4, 4])
    bad["indices"] = bad["indices"][:-1]
    with pytest.raises(YocoError, match="inconsistent"):
        fig2_data([bad], None)
    incomplete = selection("yoco", 1, [4, 4, 4])
    del incomplete["class_counts"]
    with pytest.raises(YocoError, match="class_counts"):
        fig2_data([incomplete], None)


# ---------------------------------------------------------------------------------------- fig 3
def fig3_runs():
    rows = []
    for ck, ipcf in (("idc", 10), ("full", 5000)):
        for frac in (0.1, 0.5, 0.9):
            for order in ("easy", "hard"):
                for rep in (1, 2):
                    # easy loses to hard at small ratios and wins at large ones
                    acc = 50 + (20 * (frac - 0.3) if order == "easy" else 0.0) + rep
                    rows.append(
                        dict(
                            dataset="cifar10",
                            condenser=ck,
                            ipc_from=ipcf,
                            ipc_to=0,
                            key="yoco",
                            network="convnet",
                            fraction=frac,
                            order=order,
                            rep=rep,
                            init=1,
                            best_acc=acc,
                            last_acc=acc - 1,
                        )
                    )
    return pd.DataFrame(rows)


def test_fig3_columns_labels_and_fraction_conventions():
    df = fig3_data(fig3_runs())
    assert list(df.columns) == [
        "dataset",
        "dataset_label",
        "fraction_pruned",
        "order",
        "rep",
        "init",
        "best_acc",
        "last_acc",
    ]
    assert set(df["dataset_label"]) == {"IDC IPC10", "Full IPC5000"}
    assert dataset_label("dream", 50) == "DREAM IPC50"
    assert dataset_label("full", "all") == "Full"
    kept = fig3_runs().drop(columns="fraction").assign(fraction_kept=0.75)
    assert np.allclose(fig3_data(kept)["fraction_pruned"], 0.25)
    with pytest.raises(YocoError, match="order"):
        fig3_data(fig3_runs().assign(order="middle"))
    with pytest.raises(YocoError, match="fraction_pruned"):
        fig3_data(fig3_runs().drop(columns="fraction"))


def test_zero_crossing():
    assert zero_crossing([0.1, 0.2, 0.3], [-2.0, -1.0, 1.0]) == pytest.approx(0.25)
    assert zero_crossing([0.3, 0.1, 0.2], [1.0, -2.0, -1.0]) == pytest.approx(0.25)  # unsorted input
    assert zero_crossing([0.0, 1.0, 2.0], [1.0, -1.0, 3.0]) == pytest.approx(1.25)  # first rise through 0
    assert math.isnan(zero_crossing([0.1, 0.2], [1.0, 2.0]))
    assert math.isnan(zero_crossing([0.1, 0.2], [-1.0, -2.0]))
    # the synthetic Fig. 3 data: easy - hard = 20 (f - 0.3) crosses at f = 0.3
    df = fig3_data(fig3_runs())
    m = df[df.dataset_label == "IDC IPC10"].groupby(["fraction_pruned", "order"])["best_acc"].mean().unstack()
    assert zero_crossing(m.index, m["easy"] - m["hard"]) == pytest.approx(0.3)


# ---------------------------------------------------------------------------------------- fig 5, 7
def fig5_runs():
    return pd.DataFrame(
        [
            dict(
                dataset="cifar10",
                condenser="idc",
                ipc_from=10,
                ipc_to=1,
                key="yoco_balance",
                network="convnet",
                lbpe_epoch=e,
                rep=1,
                init=i,
                best_acc=20 + e + i,
                last_acc=19 + e + i,
            )
            for e in (5, 0, 9)
            for i in (1, 2)
        ]
    )


def test_fig5_sorted_by_epoch():
    df = fig5_data(fig5_runs())
    assert list(df["lbpe_epoch"]) == [0, 0, 5, 5, 9, 9]
    assert "network" not in df and "key" in df
    with pytest.raises(YocoError, match="lbpe_epoch"):
        fig5_data(fig5_runs().drop(columns="lbpe_epoch"))


def test_fig7_sorted_per_class():
    err = np.array([[3.0, 1.0, 2.0, 5.0, 4.0], [0.5, 0.4, 0.3, 0.2, 0.1]])
    labels = [0, 0, 1, 1, 1]
    df = fig7_data(err, labels)  # default epochs: the first and the last (89 does not exist here)
    assert sorted(df["epoch"].unique()) == [0, 1]
    e0c1 = df[(df.epoch == 0) & (df["class"] == 1)]
    assert list(e0c1["lbpe"]) == [2.0, 4.0, 5.0] and list(e0c1["rank"]) == [0, 1, 2]
    e1c0 = df[(df.epoch == 1) & (df["class"] == 0)]
    assert list(e1c0["lbpe"]) == [0.4, 0.5]
    assert len(fig7_data(err, labels, epochs=[1])) == 5
    with pytest.raises(YocoError, match="outside 0..1"):
        fig7_data(err, labels, epochs=[2])
    with pytest.raises(YocoError, match="labels"):
        fig7_data(err, labels[:-1])
