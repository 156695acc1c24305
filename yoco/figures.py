"""Data behind Figures 2, 3, 5 and 7, as tidy frames the figure notebooks only have to plot.

Each ``figN_data`` function turns runs, selections or dynamics into a long CSV-ready frame; the
notebooks in ``notebooks/`` read that CSV and draw. Keeping the computation here means it is tested
and reusable without Jupyter.

* Fig. 2, class histograms with and without balanced construction: :func:`fig2_data`.
* Fig. 3, easy-first vs hard-first as the pruning ratio grows: :func:`fig3_data`, with
  :func:`zero_crossing` for the turning point (the paper's: 24 %, 38 %, 72 % for IDC IPC10, IPC50
  and the full CIFAR-10 set).
* Fig. 5, accuracy of selections made with LBPE from a single epoch: :func:`fig5_data`, beside
  the selection with LBPE averaged over the top-K epochs that the paper argues for.
* Fig. 7, per-class LBPE distributions at a few epochs: :func:`fig7_data`.

Where a figure has several runs per point (selections x network initialisations), every run keeps
its row and carries its point's ``n_runs``, ``mean_*`` and ``std_*`` (ddof 0, as the tables), so
a notebook draws the mean and its band without computing anything. Stand-in datasets
(``datasets.<ds>.stands_for``, e.g. the quickstart's digits for CIFAR-10) get the paper's values
of the cell they stand for, as the tables do (:func:`yoco.published.paper_cell`).

Epochs: the dynamics arrays, the config and ``lbpe_epoch`` count from 0; the paper writes
LBPE_1 for the first epoch and LBPE_1000 for the last. Figs. 5 and 7 carry both,
``lbpe_epoch`` (from 0) and ``epoch`` (from 1, the paper's numbering, which both notebooks draw).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from yoco.errors import YocoError
from yoco.published import DEFAULT_NETWORK, FIG3_TURNING_POINTS, paper_cell, published
from yoco.tables import METRICS, check_runs

#: Display names of condensers in figure labels.
CONDENSER_LABELS = {
    "idc": "IDC",
    "dream": "DREAM",
    "mtt": "MTT",
    "dsa": "DSA",
    "kip": "KIP",
    "full": "Full",
    "real": "Full",
}

_CELL = ["dataset", "condenser", "ipc_from", "ipc_to"]

#: Fig. 2's two selections under their Table 5 names: LBPE ranking without and with balanced construction.
_FIG2_TABLE5_KEYS = {"yoco_imbalance": "yoco_imbalance", "yoco": "yoco_balance"}

#: Accuracies the paper states in its text but prints in no table. Sec. 4.3.2: on ImageNet-10
#: 10 -> 1 "the balanced construction boosts the accuracy by 19.37 %", from Table 1's 53.91 (yoco).
_FIG2_TEXT_VALUES = {("imagenet10", "idc", 10, 1, "yoco_imbalance"): round(53.91 - 19.37, 2)}
_SELECTION_FIELDS = ("key", "rep", "dataset", "condenser", "ipc_from", "ipc_to", "class_counts")


def _need(df: pd.DataFrame, cols: Iterable[str], what: str) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise YocoError(f"{what} lacks column(s) {', '.join(missing)}; it needs {', '.join(cols)}.")


def _pick_network(cell_runs: pd.DataFrame, dataset: str, network: str | None) -> str | None:
    """The network whose runs give a panel's accuracy: the one asked for, else the dataset's
    evaluation network, else the only one present."""
    nets = sorted(cell_runs["network"].unique())
    if network is not None:
        return network
    if not nets:
        return None
    default = DEFAULT_NETWORK.get(dataset)
    if default in nets:
        return default
    if len(nets) == 1:
        return nets[0]
    raise YocoError(f"runs of {dataset} use several networks ({', '.join(nets)}); pass network= to choose one.")


def fig2_data(
    selection_jsons: Sequence[Mapping[str, object]],
    runs: pd.DataFrame | None,
    *,
    keys: Sequence[str] = ("yoco_imbalance", "yoco"),
    metric: str = "best",
    network: str | None = None,
    stand_ins: Mapping[str, Mapping] | None = None,
) -> pd.DataFrame:
    """Per-class counts of selected patches, with and without balanced construction (Fig. 2).

    Parameters
    ----------
    selection_jsons : sequence of dict
        Selections as written by ``yoco select``: at least ``key, rep, dataset, condenser,
        ipc_from, ipc_to, class_counts`` (counts of selected decoded patches per class, in class
        order). Selections of keys not in ``keys`` are ignored.
    runs : pandas.DataFrame or None
        Evaluation runs; the legend accuracy of a (cell, key) is the mean of its runs. Cells
        without runs get NaN.
    keys : sequence of str
        The keys compared; the paper's are LBPE without (``yoco_imbalance``) and with (``yoco``)
        balanced construction.
    metric : {"best", "last"}
        Which accuracy; names the ``accuracy_{metric}`` column.
    network : str, optional
        Network of the accuracies; by default the dataset's evaluation network
        (ConvNet for CIFAR, ResNetAP-10 for ImageNet-10) or the only one run.
    stand_ins : mapping, optional
        Datasets standing in for one of the paper's (:func:`yoco.published.paper_cell`): their
        panels get the published accuracy of the cell they stand for.

    Returns
    -------
    pandas.DataFrame
        ``dataset, condenser, ipc_from, ipc_to, key, rep, class, count, accuracy_{metric}, n_runs,
        paper_accuracy, paper_dataset, paper_ipc_from``, one row per selection and class.
        ``n_runs`` counts the runs behind the accuracy; ``paper_accuracy`` is the published accuracy
        of the same selection (:func:`fig2_paper_accuracy`) in the paper's cell
        ``paper_dataset``/``paper_ipc_from``, NaN where the paper has none.
    """
    if metric not in METRICS:
        raise YocoError(f"metric must be one of {METRICS}, got {metric!r}.")
    runs = check_runs(runs)
    rows = []
    for i, sel in enumerate(selection_jsons):
        missing = [f for f in _SELECTION_FIELDS if f not in sel]
        if missing:
            raise YocoError(
                f"selection #{i} lacks field(s) {', '.join(missing)}; pass the JSON written by 'yoco select'."
            )
        if sel["key"] not in keys:
            continue
        counts = [int(c) for c in sel["class_counts"]]
        if "indices" in sel and sum(counts) != len(sel["indices"]):
            raise YocoError(
                f"selection #{i} ({sel['key']}, rep {sel['rep']}): class_counts sum to {sum(counts)} "
                f"but it has {len(sel['indices'])} indices; the file is inconsistent, re-run 'yoco select'."
            )
        for cls, n in enumerate(counts):
            rows.append(
                dict(
                    dataset=str(sel["dataset"]),
                    condenser=str(sel["condenser"]),
                    ipc_from=int(sel["ipc_from"]),
                    ipc_to=int(sel["ipc_to"]),
                    key=str(sel["key"]),
                    rep=int(sel["rep"]),
                    **{"class": cls},
                    count=n,
                )
            )
    acc_col = f"accuracy_{metric}"
    out = pd.DataFrame(rows, columns=_CELL + ["key", "rep", "class", "count"])
    if out.empty:
        for col, dtype in ((acc_col, float), ("n_runs", int), ("paper_accuracy", float), ("paper_dataset", str)):
            out[col] = pd.Series(dtype=dtype)
        out["paper_ipc_from"] = pd.Series(dtype="Int64")
        return out
    info = {}
    for cell, _ in out.groupby(_CELL, sort=False):
        cell_runs = runs[(runs[_CELL] == pd.Series(cell, index=_CELL)).all(axis=1)]
        net = _pick_network(cell_runs, cell[0], network)
        ds, ck, ipcf, ipct = cell
        where = paper_cell(ds, int(ipcf), int(ipct), stand_ins)
        for key in keys:
            hit = cell_runs[(cell_runs["network"] == net) & (cell_runs["key"] == key)]
            info[(*cell, key)] = (
                float(hit[f"{metric}_acc"].mean()) if len(hit) else math.nan,
                len(hit),
                fig2_paper_accuracy(where[0], ck, where[1], where[2], key) if where else math.nan,
                where[0] if where else "",
                where[1] if where else pd.NA,
            )
    per_row = [info[(r.dataset, r.condenser, r.ipc_from, r.ipc_to, r.key)] for r in out.itertuples()]
    for i, col in enumerate((acc_col, "n_runs", "paper_accuracy", "paper_dataset", "paper_ipc_from")):
        out[col] = [v[i] for v in per_row]
    out["paper_ipc_from"] = out["paper_ipc_from"].astype("Int64")
    return out.sort_values(_CELL + ["key", "rep", "class"], kind="stable").reset_index(drop=True)


def fig2_paper_accuracy(dataset: str, condenser: str, ipc_from: int, ipc_to: int, key: str) -> float:
    """The published accuracy of one Fig. 2 selection, NaN where the paper gives none.

    The figure's own legend values cannot be read from the paper's text; the same selections are
    Table 5's ``yoco_imbalance`` and ``yoco_balance`` rows (IDC CIFAR-10), else Table 1's ``yoco``
    for the balanced one, and for ImageNet-10 10 -> 1 the imbalanced accuracy the text implies.

    Examples
    --------
    >>> fig2_paper_accuracy("cifar10", "idc", 10, 1, "yoco_imbalance")
    37.63
    >>> fig2_paper_accuracy("imagenet10", "idc", 10, 1, "yoco_imbalance")
    34.54
    """
    text = _FIG2_TEXT_VALUES.get((dataset, condenser, int(ipc_from), int(ipc_to), key))
    if text is not None:
        return text
    table5_key = _FIG2_TABLE5_KEYS.get(key)
    if table5_key is None:
        return math.nan
    pub = published()
    cell = (
        (pub["dataset"] == dataset)
        & (pub["condenser"] == condenser)
        & (pub["ipc_from"] == int(ipc_from))
        & (pub["ipc_to"] == int(ipc_to))
    )
    for table, name in ((5, table5_key), (1, "yoco" if key == "yoco" else None)):
        hit = pub[cell & (pub["table"] == table) & (pub["key"] == name)]
        if len(hit):
            return float(hit["value"].iloc[0])
    return math.nan


def dataset_label(condenser: str, ipc_from: int | str) -> str:
    """Label of one Fig. 3 curve, e.g. ``"IDC IPC10"`` or, for the real training set, ``"Full IPC5000"``."""
    name = CONDENSER_LABELS.get(str(condenser), str(condenser))
    try:
        return f"{name} IPC{int(ipc_from)}"
    except (TypeError, ValueError):  # e.g. "all" for the whole real training set
        return name


def fig3_data(runs: pd.DataFrame, stand_ins: Mapping[str, Mapping] | None = None) -> pd.DataFrame:
    """Accuracy after easy-first and hard-first pruning at each pruning ratio (Fig. 3).

    Parameters
    ----------
    runs : pandas.DataFrame
        Rows of ``yoco evaluate-fractions``: ``dataset, condenser, ipc_from, order`` (``easy`` or
        ``hard``), ``rep, init, best_acc, last_acc`` and the pruning ratio as ``fraction_pruned``
        or ``fraction`` (the fraction of the set removed, Fig. 3's x-axis). A ``fraction_kept``
        column is accepted too and converted.
    stand_ins : mapping, optional
        Datasets standing in for one of the paper's (:func:`yoco.published.paper_cell`): their
        panels get the turning point the paper gives for the set they stand for.

    Returns
    -------
    pandas.DataFrame
        ``dataset, dataset_label, fraction_pruned, order, rep, init, best_acc, last_acc``, one row
        per run, then per point (panel, ratio, order) ``n_runs, mean_best, std_best, mean_last,
        std_last`` (std ddof 0), per panel our ``turning_point_best``/``turning_point_last`` (the
        :func:`zero_crossing` of mean easy − mean hard, in percent; NaN where there is none) and
        ``paper_turning_point`` (percent; NaN where the paper gives none) with ``paper_dataset``.
    """
    runs = runs.copy()
    if "fraction_pruned" not in runs.columns:
        if "fraction" in runs.columns:
            runs["fraction_pruned"] = runs["fraction"]
        elif "fraction_kept" in runs.columns:
            runs["fraction_pruned"] = 1.0 - runs["fraction_kept"].astype(float)
    _need(
        runs,
        ["dataset", "condenser", "ipc_from", "fraction_pruned", "order", "rep", "init", "best_acc", "last_acc"],
        "Fig. 3 runs",
    )
    bad = sorted(set(runs["order"]) - {"easy", "hard"})
    if bad:
        raise YocoError(f"Fig. 3 order must be 'easy' or 'hard', found {', '.join(map(str, bad))}.")
    fr = runs["fraction_pruned"].astype(float)
    if ((fr < 0) | (fr >= 1)).any():
        raise YocoError("fraction_pruned must lie in [0, 1): it is the fraction of the set removed, e.g. 0.1 ... 0.9.")
    out = pd.DataFrame(
        {
            "dataset": runs["dataset"].astype(str),
            "dataset_label": [dataset_label(c, i) for c, i in zip(runs["condenser"], runs["ipc_from"])],
            "fraction_pruned": fr.round(6),
            "order": runs["order"].astype(str),
            "rep": runs["rep"].astype(int),
            "init": runs["init"].astype(int),
            "best_acc": runs["best_acc"].astype(float),
            "last_acc": runs["last_acc"].astype(float),
        }
    )
    papers = {
        (str(ds), dataset_label(ck, ipcf)): fig3_paper_turning_point(str(ds), str(ck), ipcf, stand_ins)
        for ds, ck, ipcf in zip(runs["dataset"], runs["condenser"], runs["ipc_from"])
    }
    panel = ["dataset", "dataset_label"]
    out = _with_point_stats(out, panel + ["fraction_pruned", "order"])
    turning = {}
    for (ds, label), g in out.groupby(panel, sort=False):
        for m in METRICS:
            means = g.groupby(["fraction_pruned", "order"])[f"mean_{m}"].first().unstack("order")
            if {"easy", "hard"} <= set(means.columns):
                diff = (means["easy"] - means["hard"]).dropna()
                turning[(ds, label, m)] = 100 * zero_crossing(diff.index.to_numpy(), diff.to_numpy())
            else:
                turning[(ds, label, m)] = math.nan
    for m in METRICS:
        out[f"turning_point_{m}"] = [turning[(d, lab, m)] for d, lab in zip(out["dataset"], out["dataset_label"])]
    out["paper_turning_point"] = [papers[(d, lab)][1] for d, lab in zip(out["dataset"], out["dataset_label"])]
    out["paper_dataset"] = [papers[(d, lab)][0] for d, lab in zip(out["dataset"], out["dataset_label"])]
    order = ["dataset", "dataset_label", "fraction_pruned", "order", "rep", "init"]
    return out.sort_values(order, kind="stable").reset_index(drop=True)


def fig3_paper_turning_point(
    dataset: str, condenser: str, ipc_from: object, stand_ins: Mapping[str, Mapping] | None = None
) -> tuple[str, float]:
    """``(paper_dataset, turning point in percent)`` the paper gives for one Fig. 3 set, NaN if none.

    The full training set (condenser ``full``/``real``, any IPC_F) is the paper's "IPC5000".

    Examples
    --------
    >>> fig3_paper_turning_point("cifar10", "idc", 50)
    ('cifar10', 38.0)
    >>> fig3_paper_turning_point("digits", "idc", 20, {"digits": {"dataset": "cifar10", "ipc_from": {20: 50}}})
    ('cifar10', 38.0)
    """
    full = condenser in ("full", "real")
    try:
        ipcf = None if full else int(ipc_from)
    except (TypeError, ValueError):
        ipcf = None
    where = paper_cell(dataset, ipcf, None, stand_ins)
    if where is None:
        return "", math.nan
    key = (where[0], "full", None) if full else (where[0], condenser, where[1])
    return where[0], float(FIG3_TURNING_POINTS.get(key, math.nan))


def _with_point_stats(out: pd.DataFrame, point: list[str]) -> pd.DataFrame:
    """Each run row with its point's ``n_runs`` and ``mean_*``/``std_*`` (ddof 0, as the tables)."""
    grouped = out.groupby(point, sort=False)
    out = out.assign(n_runs=grouped["best_acc"].transform("size").astype(int))
    for m in METRICS:
        col = grouped[f"{m}_acc"]
        out[f"mean_{m}"] = col.transform("mean")
        out[f"std_{m}"] = col.transform(lambda v: float(np.std(v.to_numpy(), ddof=0)))
    return out


def zero_crossing(x: Sequence[float], y: Sequence[float]) -> float:
    """The first ``x`` where ``y`` changes sign from negative to non-negative, by linear interpolation.

    In Fig. 3, ``y`` is easy-first minus hard-first accuracy against the pruning ratio ``x``; the
    crossing is the "turning point" from preferring hard samples to preferring easy ones.

    Returns
    -------
    float
        NaN when ``y`` never goes from below zero to zero or above (it may start above zero,
        which means easy-first wins from the smallest ratio on).

    Examples
    --------
    >>> zero_crossing([0.1, 0.2, 0.3], [-2.0, -1.0, 1.0])
    0.25
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if x.shape != y.shape:
        raise YocoError(f"x and y must have the same length, got {x.shape} and {y.shape}.")
    order = np.argsort(x, kind="stable")
    x, y = x[order], y[order]
    for i in range(len(x) - 1):
        if y[i] < 0 <= y[i + 1]:
            return float(x[i] + (x[i + 1] - x[i]) * (-y[i]) / (y[i + 1] - y[i]))
    return math.nan


def fig5_data(
    runs: pd.DataFrame,
    topk_runs: pd.DataFrame | None = None,
    *,
    stand_ins: Mapping[str, Mapping] | None = None,
) -> pd.DataFrame:
    """Accuracy of selections made with the LBPE score of one epoch (Fig. 5), beside the top-K average.

    Parameters
    ----------
    runs : pandas.DataFrame
        Rows of ``yoco evaluate-epochs``: ``lbpe_epoch`` (the training epoch whose LBPE selected
        the set, counted from 0 like the dynamics arrays), ``rep, init, best_acc, last_acc`` and,
        for the caption, ``dataset, condenser, ipc_from, ipc_to, key`` when present.
    topk_runs : pandas.DataFrame, optional
        Evaluation runs (``yoco evaluate``) of the same cell: those of the same key on the same
        network are the selection the paper argues for, LBPE averaged over the top-K epochs; their
        mean is Fig. 5's reference line. Needs the context columns in ``runs``.
    stand_ins : mapping, optional
        Datasets standing in for one of the paper's (:func:`yoco.published.paper_cell`).

    Returns
    -------
    pandas.DataFrame
        ``dataset, condenser, ipc_from, ipc_to, key`` (those present), ``lbpe_epoch`` (from 0),
        ``epoch`` (``lbpe_epoch + 1``: the paper's LBPE_t, counted from 1), ``rep, init,
        best_acc, last_acc``, the epoch's ``n_runs, mean_best, std_best, mean_last, std_last``
        (ddof 0), the top-K selection's ``topk_n_runs, topk_mean_best, topk_std_best,
        topk_mean_last, topk_std_last`` (NaN and 0 runs without ``topk_runs``), and
        ``paper_topk`` (the paper's accuracy of that selection, :func:`fig5_paper_topk`) with
        ``paper_dataset``, ``paper_ipc_from``; sorted by epoch.
    """
    _need(runs, ["lbpe_epoch", "rep", "init", "best_acc", "last_acc"], "Fig. 5 runs")
    context = [c for c in _CELL + ["key"] if c in runs.columns]
    out = runs[context + ["lbpe_epoch", "rep", "init", "best_acc", "last_acc"]].copy()
    out["lbpe_epoch"] = out["lbpe_epoch"].astype(int)
    if (out["lbpe_epoch"] < 0).any():
        raise YocoError("lbpe_epoch must be >= 0: it counts training epochs from 0, as the dynamics arrays do.")
    out.insert(out.columns.get_loc("lbpe_epoch") + 1, "epoch", out["lbpe_epoch"] + 1)
    for c in ("rep", "init"):
        out[c] = out[c].astype(int)
    for c in ("best_acc", "last_acc"):
        out[c] = out[c].astype(float)
    out = out.sort_values(context + ["lbpe_epoch", "rep", "init"], kind="stable").reset_index(drop=True)
    out = _with_point_stats(out, context + ["lbpe_epoch"])
    cells = out[context].drop_duplicates() if context else pd.DataFrame(index=[0])
    if len(cells) > 1:
        raise YocoError(
            "Fig. 5 runs mix several cells or keys ("
            + "; ".join(" ".join(map(str, r)) for r in cells.itertuples(index=False))
            + "); pass the runs of one `yoco evaluate-epochs` job."
        )
    cell = cells.iloc[0].to_dict() if context else {}
    ref = _topk_runs(topk_runs, cell, runs)
    out["topk_n_runs"] = len(ref)
    for m in METRICS:
        vals = ref[f"{m}_acc"].to_numpy(dtype=float)
        out[f"topk_mean_{m}"] = float(vals.mean()) if len(vals) else math.nan
        out[f"topk_std_{m}"] = float(np.std(vals, ddof=0)) if len(vals) else math.nan
    where = None
    if set(_CELL + ["key"]) <= set(cell):
        where = paper_cell(str(cell["dataset"]), int(cell["ipc_from"]), int(cell["ipc_to"]), stand_ins)
    out["paper_topk"] = (
        fig5_paper_topk(where[0], str(cell["condenser"]), where[1], where[2], str(cell["key"])) if where else math.nan
    )
    out["paper_dataset"] = where[0] if where else ""
    out["paper_ipc_from"] = pd.array([where[1] if where else pd.NA] * len(out), dtype="Int64")
    return out


def _topk_runs(topk_runs: pd.DataFrame | None, cell: Mapping, runs: pd.DataFrame) -> pd.DataFrame:
    """The runs of Fig. 5's cell, key and network among ``topk_runs`` (empty without them)."""
    if topk_runs is None or topk_runs.empty:
        return pd.DataFrame(columns=["best_acc", "last_acc"])
    missing = [c for c in _CELL + ["key"] if c not in cell]
    if missing:
        raise YocoError(
            f"Fig. 5 runs lack column(s) {', '.join(missing)}, so the top-K runs cannot be matched to "
            "them; pass the CSV written by `yoco evaluate-epochs`."
        )
    ref = check_runs(topk_runs)
    hit = (ref[_CELL] == pd.Series({c: cell[c] for c in _CELL})).all(axis=1) & (ref["key"] == cell["key"])
    if "network" in runs.columns:
        hit &= ref["network"].isin(set(runs["network"].astype(str)))
    return ref[hit]


def fig5_paper_topk(dataset: str, condenser: str, ipc_from: int, ipc_to: int, key: str) -> float:
    """The published accuracy of Fig. 5's top-K-averaged selection, NaN where the paper has none.

    The same selection is the cell's ``key`` in Table 1 (``yoco``: 42.28 % at IDC CIFAR-10 10 → 1),
    else in Tables 2, 4 or 5 on the dataset's evaluation network.

    Examples
    --------
    >>> fig5_paper_topk("cifar10", "idc", 10, 1, "yoco")
    42.28
    """
    pub = published()
    net = DEFAULT_NETWORK.get(dataset)
    hit = pub[
        (pub["dataset"] == dataset)
        & (pub["condenser"] == condenser)
        & (pub["ipc_from"] == int(ipc_from))
        & (pub["ipc_to"] == int(ipc_to))
        & (pub["key"] == key)
        & (pub["network"] == net)
    ]
    for table in (1, 2, 4, 5):
        values = hit.loc[hit["table"] == table, "value"]
        if len(values):
            return float(values.iloc[0])
    return math.nan


def fig7_data(err_l2: np.ndarray, labels: Sequence[int], epochs: Sequence[int] | None = None) -> pd.DataFrame:
    """Each class's LBPE values at a few epochs, sorted ascending (Fig. 7).

    Parameters
    ----------
    err_l2 : array of shape [E, N]
        Per-epoch LBPE (``||onehot(y) - softmax||_2``) of every decoded sample, as stored by the
        dynamics job; row ``t`` is training epoch ``t + 1``.
    labels : sequence of int, length N
        Class of each decoded sample.
    epochs : sequence of int, optional
        Epochs to show, counted from 0 like the rows of ``err_l2`` (and ``lbpe_epoch`` of Fig. 5).
        The paper's ``LBPE_90`` is epoch 89 here, its ``LBPE_1000`` epoch 999. Default: 0, 89 and
        the last epoch (the ones the paper's text discusses), keeping those that exist.

    Returns
    -------
    pandas.DataFrame
        ``class, lbpe_epoch, epoch, rank, lbpe``: ``lbpe_epoch`` counts from 0 like ``epochs``,
        ``epoch`` from 1 as the paper's LBPE_t (and Fig. 5's ``epoch``); ``rank`` 0 is the
        class's smallest value at that epoch.
    """
    err = np.asarray(err_l2, dtype=float)
    labels = np.asarray(labels, dtype=int)
    if err.ndim != 2:
        raise YocoError(f"err_l2 must be a 2-D [epochs, samples] array, got shape {err.shape}.")
    n_epochs, n = err.shape
    if labels.shape != (n,):
        raise YocoError(f"labels must have one entry per sample ({n}), got shape {labels.shape}.")
    if epochs is None:
        epochs = sorted({e for e in (0, 89, n_epochs - 1) if 0 <= e < n_epochs})
    bad = [e for e in epochs if not 0 <= int(e) < n_epochs]
    if bad:
        raise YocoError(
            f"epochs {bad} are outside 0..{n_epochs - 1} (epochs count from 0; the dynamics hold {n_epochs})."
        )
    frames = []
    for e in epochs:
        for c in np.unique(labels):
            vals = np.sort(err[int(e), labels == c], kind="stable")
            frames.append(
                pd.DataFrame(
                    {
                        "class": int(c),
                        "lbpe_epoch": int(e),
                        "epoch": int(e) + 1,
                        "rank": np.arange(len(vals)),
                        "lbpe": vals,
                    }
                )
            )
    return pd.concat(frames, ignore_index=True)


__all__ = [
    "CONDENSER_LABELS",
    "dataset_label",
    "fig2_data",
    "fig2_paper_accuracy",
    "fig3_data",
    "fig3_paper_turning_point",
    "fig5_data",
    "fig5_paper_topk",
    "fig7_data",
    "zero_crossing",
]
