"""Figure data (yoco/figures.py); the notebooks that draw it are tested in test_notebooks.py."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from yoco.errors import YocoError
from yoco.figures import (
    dataset_label,
    fig2_data,
    fig2_paper_accuracy,
    fig3_data,
    fig3_paper_turning_point,
    fig5_data,
    fig5_paper_topk,
    fig7_data,
    zero_crossing,
)

#: The quickstart's digits: CIFAR-10's stand-in, IPC_F 20 for 50 (config/quickstart.yaml).
DIGITS = {"digits": {"dataset": "cifar10", "ipc_from": {20: 50}}}


def selection(key, rep, counts, ipc_to=1, dataset="cifar10", ipc_from=10):
    indices = list(range(sum(counts)))
    return dict(
        key=key,
        rep=rep,
        dataset=dataset,
        condenser="idc",
        ipc_from=ipc_from,
        ipc_to=ipc_to,
        factor=2,
        indices=indices,
        class_counts=counts,
        seed=7,
    )


def run_rows(key, values, network="convnet", ipc_to=1, dataset="cifar10", ipc_from=10):
    return pd.DataFrame(
        [
            dict(
                dataset=dataset,
                condenser="idc",
                ipc_from=ipc_from,
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
        "n_runs",
        "paper_accuracy",
        "paper_dataset",
        "paper_ipc_from",
    ]
    assert len(df) == 6
    assert list(df.loc[df.key == "yoco", "n_runs"].unique()) == [3]  # the three ConvNet runs
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


def test_fig2_stand_in_panels_carry_the_papers_accuracy():
    # digits 10 -> 1 stands for IDC CIFAR-10 10 -> 1 (Table 5: 37.63 imbalanced, 42.28 balanced) and
    # digits 20 -> 1 for CIFAR-10 50 -> 1, where only the balanced one is published (Table 1: 38.77).
    sels, runs = [], []
    for ipcf in (10, 20):
        sels += [selection(k, 1, [4, 4, 4], dataset="digits", ipc_from=ipcf) for k in ("yoco_imbalance", "yoco")]
        runs.append(run_rows("yoco", [60.0, 62.0], dataset="digits", ipc_from=ipcf))
    df = fig2_data(sels, pd.concat(runs), stand_ins=DIGITS)
    paper = df.groupby(["ipc_from", "key"])["paper_accuracy"].first()
    assert paper[(10, "yoco_imbalance")] == pytest.approx(37.63) and paper[(10, "yoco")] == pytest.approx(42.28)
    assert math.isnan(paper[(20, "yoco_imbalance")]) and paper[(20, "yoco")] == pytest.approx(38.77)
    assert set(df["paper_dataset"]) == {"cifar10"}
    assert dict(df.groupby("ipc_from")["paper_ipc_from"].first()) == {10: 10, 20: 50}
    # Without the stand-in digits has no published number and no paper cell.
    plain = fig2_data(sels, pd.concat(runs))
    assert plain["paper_accuracy"].isna().all() and (plain["paper_dataset"] == "").all()


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
        "n_runs",
        "mean_best",
        "std_best",
        "mean_last",
        "std_last",
        "turning_point_best",
        "turning_point_last",
        "paper_turning_point",
        "paper_dataset",
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


def test_fig3_several_runs_per_point_mean_std_and_turning_points():
    # fig3_runs: 2 reps per point, accuracies 50 + easy bonus + rep, so each point's mean is its rep-1.5
    # value and its std (ddof 0) is 0.5; easy - hard = 20 (f - 0.3) crosses zero at 30 %.
    df = fig3_data(fig3_runs())
    assert (df["n_runs"] == 2).all()
    assert np.allclose(df["std_best"], 0.5) and np.allclose(df["std_last"], 0.5)
    point = df[(df.dataset_label == "IDC IPC10") & (df.fraction_pruned == 0.9) & (df.order == "easy")]
    assert np.allclose(point["mean_best"], 50 + 20 * 0.6 + 1.5) and np.allclose(point["mean_last"], 50 + 12 + 0.5)
    assert np.allclose(df["turning_point_best"], 30.0) and np.allclose(df["turning_point_last"], 30.0)
    # The paper's turning points: IDC CIFAR-10 IPC10 24 %, the full set ("IPC5000") 72 %.
    paper = df.groupby("dataset_label")["paper_turning_point"].first()
    assert dict(paper) == {"Full IPC5000": 72.0, "IDC IPC10": 24.0}
    # Three runs with accuracies 1, 2, 6 at one point: mean 3, population std sqrt(14/3).
    three = fig3_runs()
    sel = (three.condenser == "idc") & (three.fraction == 0.5) & (three.order == "hard") & (three.rep == 1)
    odd = pd.concat([three[~sel], three[sel].assign(best_acc=1.0), three[sel].assign(best_acc=2.0, init=2)])
    odd = pd.concat([odd, three[sel].assign(best_acc=6.0, init=3)])
    odd = odd[~((odd.condenser == "idc") & (odd.fraction == 0.5) & (odd.order == "hard") & (odd.rep == 2))]
    got = fig3_data(odd)
    p = got[(got.dataset_label == "IDC IPC10") & (got.fraction_pruned == 0.5) & (got.order == "hard")]
    assert list(p["n_runs"]) == [3, 3, 3] and np.allclose(p["mean_best"], 3.0)
    assert np.allclose(p["std_best"], math.sqrt(14 / 3))


def test_fig3_paper_turning_points_through_a_stand_in():
    # The quickstart's middle panel, digits IPC20, stands for CIFAR-10 IPC50: the paper's 38 %.
    assert fig3_paper_turning_point("digits", "idc", 20, DIGITS) == ("cifar10", 38.0)
    assert fig3_paper_turning_point("digits", "idc", 10, DIGITS) == ("cifar10", 24.0)
    assert fig3_paper_turning_point("digits", "full", "all", DIGITS) == ("cifar10", 72.0)
    name, value = fig3_paper_turning_point("digits", "idc", 20)  # no stand-in: no paper value
    assert name == "" and math.isnan(value)
    assert math.isnan(fig3_paper_turning_point("cifar10", "dream", 10)[1])  # the paper gives IDC's only
    runs = fig3_runs().assign(dataset="digits", ipc_from=lambda d: d.ipc_from.where(d.condenser != "idc", 20))
    df = fig3_data(runs, stand_ins=DIGITS)
    assert dict(df.groupby("dataset_label")["paper_turning_point"].first()) == {"Full IPC5000": 72.0, "IDC IPC20": 38.0}


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


def test_fig5_and_fig7_number_epochs_as_the_paper_does():
    # Both figures count from 1 (the paper's LBPE_1 ... LBPE_1000); lbpe_epoch keeps the 0-based index
    # of the dynamics arrays and the config.
    df5 = fig5_data(fig5_runs())
    assert list(df5["epoch"]) == [1, 1, 6, 6, 10, 10] and (df5["epoch"] == df5["lbpe_epoch"] + 1).all()
    err = np.zeros((90, 4))
    df7 = fig7_data(err, [0, 0, 1, 1], epochs=[0, 89])
    assert sorted(df7["epoch"].unique()) == [1, 90] and sorted(df7["lbpe_epoch"].unique()) == [0, 89]
    # The same dynamics epoch gets the same number in both figures.
    assert set(df5.loc[df5.lbpe_epoch == 0, "epoch"]) == set(df7.loc[df7.lbpe_epoch == 0, "epoch"]) == {1}


def test_fig5_several_runs_per_epoch_and_the_top_k_line():
    # fig5_runs: 2 inits per epoch, best = 20 + e + init: mean 21.5 + e, std (ddof 0) 0.5.
    topk = pd.concat(
        [
            run_rows("yoco_balance", [40.0, 44.0, 48.0]),  # the cell's top-K selection: mean 44, std sqrt(32/3)
            run_rows("yoco_balance", [10.0], network="resnet10bn"),  # another network: not Fig. 5's
            run_rows("el2n", [90.0]),  # another key
            run_rows("yoco_balance", [90.0], ipc_to=2),  # another cell
        ]
    )
    df = fig5_data(fig5_runs(), topk)
    assert (df["n_runs"] == 2).all() and np.allclose(df["std_best"], 0.5)
    assert np.allclose(df["mean_best"], 21.5 + df["lbpe_epoch"]) and np.allclose(
        df["mean_last"], 20.5 + df["lbpe_epoch"]
    )
    assert (df["topk_n_runs"] == 3).all()
    assert np.allclose(df["topk_mean_best"], 44.0) and np.allclose(df["topk_std_best"], math.sqrt(32 / 3))
    assert np.allclose(df["topk_mean_last"], 42.0)
    # yoco_balance at IDC CIFAR-10 10 -> 1 is Table 5's balanced LBPE: 42.28.
    assert np.allclose(df["paper_topk"], 42.28) and set(df["paper_dataset"]) == {"cifar10"}
    # Without top-K runs the line is missing, not zero.
    bare = fig5_data(fig5_runs())
    assert (bare["topk_n_runs"] == 0).all() and bare["topk_mean_best"].isna().all()
    # A stand-in gets the cell it stands for: digits 20 -> 1 is CIFAR-10 50 -> 1, Table 1's yoco 38.77.
    digits = fig5_runs().assign(dataset="digits", ipc_from=20, key="yoco")
    got = fig5_data(digits, stand_ins=DIGITS)
    assert np.allclose(got["paper_topk"], 38.77) and (got["paper_ipc_from"] == 50).all()
    assert fig5_paper_topk("cifar10", "idc", 10, 1, "yoco") == pytest.approx(42.28)
    assert math.isnan(fig5_paper_topk("cifar10", "idc", 10, 1, "el2n_balance_hard"))
    with pytest.raises(YocoError, match="several cells"):
        fig5_data(pd.concat([fig5_runs(), fig5_runs().assign(ipc_to=2)]))


def test_fig7_sorted_per_class():
    err = np.array([[3.0, 1.0, 2.0, 5.0, 4.0], [0.5, 0.4, 0.3, 0.2, 0.1]])
    labels = [0, 0, 1, 1, 1]
    df = fig7_data(err, labels)  # default epochs: the first and the last (89 does not exist here)
    assert sorted(df["lbpe_epoch"].unique()) == [0, 1]
    e0c1 = df[(df.lbpe_epoch == 0) & (df["class"] == 1)]
    assert list(e0c1["lbpe"]) == [2.0, 4.0, 5.0] and list(e0c1["rank"]) == [0, 1, 2]
    e1c0 = df[(df.lbpe_epoch == 1) & (df["class"] == 0)]
    assert list(e1c0["lbpe"]) == [0.4, 0.5]
    assert len(fig7_data(err, labels, epochs=[1])) == 5
    with pytest.raises(YocoError, match="outside 0..1"):
        fig7_data(err, labels, epochs=[2])
    with pytest.raises(YocoError, match="labels"):
        fig7_data(err, labels[:-1])


def test_figure_data_cli_passes_stand_ins_and_top_k_runs(tmp_path):
    # `yoco figure-data --figure 5` as the workflow calls it for the quickstart: digits IPC_F 20 stands for
    # CIFAR-10 50 (Table 1's yoco at 50 -> 1: 38.77), the cell's yoco runs give the top-K line.
    from yoco.cli import main

    runs = fig5_runs().assign(dataset="digits", ipc_from=20, key="yoco")
    topk = run_rows("yoco", [30.0, 34.0], dataset="digits", ipc_from=20)
    runs.to_csv(tmp_path / "epochs.csv", index=False)
    topk.to_csv(tmp_path / "runs.csv", index=False)
    out = tmp_path / "fig5.csv"
    args = ["figure-data", "--figure", "5", "--runs", str(tmp_path / "epochs.csv")]
    main([*args, "--topk", str(tmp_path / "runs.csv"), "--stand-in", "digits=cifar10:20=50", "--out", str(out)])
    back = pd.read_csv(out)
    assert np.allclose(back["paper_topk"], 38.77) and (back["paper_ipc_from"] == 50).all()
    assert np.allclose(back["topk_mean_best"], 32.0) and (back["topk_n_runs"] == 2).all()
    assert list(back["epoch"]) == [1, 1, 6, 6, 10, 10]
