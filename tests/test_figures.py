"""Figure data (yoco/figures.py) and the figure notebooks, executed headless on tiny CSVs."""
from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest

from yoco.errors import YocoError
from yoco.figures import dataset_label, fig2_data, fig3_data, fig5_data, fig7_data, zero_crossing

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO / "notebooks"


def selection(key, rep, counts, ipc_to=1):
    indices = list(range(sum(counts)))
    return dict(key=key, rep=rep, dataset="cifar10", condenser="idc", ipc_from=10, ipc_to=ipc_to, factor=2,
                indices=indices, class_counts=counts, seed=7)


def run_rows(key, values, network="convnet", ipc_to=1):
    return pd.DataFrame([dict(dataset="cifar10", condenser="idc", ipc_from=10, ipc_to=ipc_to, key=key, network=network,
                              rep=1, init=i + 1, best_acc=v, last_acc=v - 2) for i, v in enumerate(values)])


# ---------------------------------------------------------------------------------------- fig 2
def test_fig2_counts_and_legend_accuracy():
    sels = [selection("yoco_imbalance", 1, [3, 0, 5]), selection("yoco", 1, [4, 4, 4]),
            selection("el2n", 1, [1, 1, 1])]  # not a Fig. 2 key: ignored
    runs = pd.concat([run_rows("yoco", [50.0, 52.0, 54.0]), run_rows("yoco", [10.0, 10.0, 10.0], network="resnet10bn")])
    df = fig2_data(sels, runs)
    assert list(df.columns) == ["dataset", "condenser", "ipc_from", "ipc_to", "key", "rep", "class", "count",
                                "accuracy_best"]
    assert len(df) == 6
    imb = df[df.key == "yoco_imbalance"]
    assert list(imb["count"]) == [3, 0, 5] and list(imb["class"]) == [0, 1, 2]
    assert imb["accuracy_best"].isna().all()  # no runs of yoco_imbalance
    # The ConvNet runs (CIFAR's evaluation network) give the accuracy, not the ResNet ones.
    assert np.allclose(df.loc[df.key == "yoco", "accuracy_best"], 52.0)
    last = fig2_data(sels, runs, metric="last")
    assert np.allclose(last.loc[last.key == "yoco", "accuracy_last"], 50.0)


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
                    rows.append(dict(dataset="cifar10", condenser=ck, ipc_from=ipcf, ipc_to=0, key="yoco",
                                     network="convnet", fraction=frac, order=order, rep=rep, init=1,
                                     best_acc=acc, last_acc=acc - 1))
    return pd.DataFrame(rows)


def test_fig3_columns_labels_and_fraction_conventions():
    df = fig3_data(fig3_runs())
    assert list(df.columns) == ["dataset", "dataset_label", "fraction_pruned", "order", "rep", "init", "best_acc",
                                "last_acc"]
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
    return pd.DataFrame([dict(dataset="cifar10", condenser="idc", ipc_from=10, ipc_to=1, key="yoco_balance",
                              network="convnet", lbpe_epoch=e, rep=1, init=i, best_acc=20 + e + i, last_acc=19 + e + i)
                         for e in (5, 0, 9) for i in (1, 2)])


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


# ---------------------------------------------------------------------------------------- notebooks
def _make_notebooks_module():
    spec = importlib.util.spec_from_file_location("make_notebooks", NOTEBOOKS / "make_notebooks.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("name", ["fig2", "fig3", "fig5", "fig7"])
def test_committed_notebooks_match_generator(name):
    committed = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    built = _make_notebooks_module().build(name)
    assert [c.source for c in committed.cells] == [c.source for c in built.cells]


def _figure_csvs(tmp_path: Path) -> dict[str, Path]:
    sels = [selection(k, r, c, ipc_to=t) for t in (1, 2) for r in (1, 2)
            for k, c in (("yoco_imbalance", [3 * t, 0, 5 * t]), ("yoco", [4 * t] * 3))]
    frames = {
        "fig2": fig2_data(sels, run_rows("yoco", [50.0, 52.0])),
        "fig3": fig3_data(fig3_runs()),
        "fig5": fig5_data(fig5_runs()),
        "fig7": fig7_data(np.random.default_rng(0).random((3, 12)), np.repeat(np.arange(3), 4)),
    }
    paths = {}
    for name, df in frames.items():
        paths[name] = tmp_path / f"{name}.csv"
        df.to_csv(paths[name], index=False)
    return paths


@pytest.fixture(scope="module")
def kernel(tmp_path_factory):
    """One Python kernel shared by the notebook tests (a kernel start costs seconds on 2 cores);
    each notebook begins with ``%reset -f``, so none sees another's variables."""
    from jupyter_client.manager import KernelManager

    km = KernelManager(kernel_name="python3")
    km.start_kernel(cwd=str(tmp_path_factory.mktemp("kernel")))
    yield km
    km.shutdown_kernel(now=True)


@pytest.mark.parametrize("name", ["fig2", "fig3", "fig5", "fig7"])
def test_notebook_executes_headless(name, kernel, tmp_path):
    from nbclient import NotebookClient

    csv = _figure_csvs(tmp_path)[name]
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    png, pdf = tmp_path / f"{name}.png", tmp_path / f"{name}.pdf"
    # Snakemake's notebook: directive injects a `snakemake` object as the first cell; mimic it.
    stub = (
        "%reset -f\n"
        "from types import SimpleNamespace\n"
        f"snakemake = SimpleNamespace(input=[{str(csv)!r}], output=SimpleNamespace(png={str(png)!r}, pdf={str(pdf)!r}),"
        " params=SimpleNamespace(), wildcards=SimpleNamespace(), log=[])\n"
    )
    nb.cells.insert(0, nbformat.v4.new_code_cell(stub))
    NotebookClient(nb, km=kernel, timeout=120).execute()
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert pdf.read_bytes()[:5] == b"%PDF-"
    assert png.stat().st_size > 5000 and pdf.stat().st_size > 1000


def test_notebook_refuses_empty_data(kernel, tmp_path):
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    csv = tmp_path / "empty.csv"
    pd.DataFrame(columns=["lbpe_epoch", "rep", "init", "best_acc", "last_acc"]).to_csv(csv, index=False)
    nb = nbformat.read(NOTEBOOKS / "fig5.ipynb", as_version=4)
    stub = (f"%reset -f\nfrom types import SimpleNamespace\nsnakemake = SimpleNamespace(input=[{str(csv)!r}], "
            f"output=SimpleNamespace(png='x.png', pdf='x.pdf'))\n")
    nb.cells.insert(0, nbformat.v4.new_code_cell(stub))
    with pytest.raises(CellExecutionError, match="no rows"):
        NotebookClient(nb, km=kernel, timeout=120).execute()
