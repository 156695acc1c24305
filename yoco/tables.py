"""Tables 1-7 of the paper, rebuilt from our evaluation runs and set beside the published numbers.

Every evaluation job writes one CSV row per trained network (the *runs* table, columns
:data:`RUN_COLUMNS`). A table cell is a ``(dataset, condenser, ipc_from, ipc_to, key, network)``
combination (:data:`yoco.published.KEY_COLUMNS`); the paper averages 3 selections (training-dynamics
runs, or random draws for the random keys) x 3 network initialisations = 9 runs per cell
(paper §4.2 and the Table 7 note). :func:`build_table` reports, per cell,

* ``mean_best``/``std_best`` and ``mean_last``/``std_last``: mean and standard deviation (ddof 0, as
  the reference ``test.py`` uses ``np.std``) over all runs of the cell. Whether the paper reports the
  best of the four validation points or the last one cannot be determined from the code
  (reference-spec §4.5), so both are kept and ``metric`` picks the one compared with the paper;
* ``rep_means_best``/``rep_means_last``: the mean of each selection (rep) as ``"1:42.10;2:41.95;..."``,
  and ``rep_std_best``/``rep_std_last``, the std (ddof 0) of those per-rep means. The published
  stds are very small (e.g. 37.52 ± 0.00), which may mean they are stds of per-rep means rather
  than over all 9 runs; both conventions are therefore available for Table 7;
* ``published`` (and ``published_std`` for Table 7) and ``diff_{metric} = mean_{metric} - published``.

Rows with a published value but no runs are kept (NaN means, ``n_runs`` 0) so a reader sees what
was not run.

Table 1's "IPC_F Acc." column (the unpruned condensed set) is key ``full`` in ``published.csv``.
The workflow evaluates it as key ``random`` with ``ipc_to == ipc_from`` (a random selection of every
decoded patch, reference-spec §5); both spellings name the same cell here (:func:`merge_key`).

Table 6 has no runs: it is the paper's list of the components each pruning method needs, with a
column saying what the reference code really does (its dynamics always run 1000 epochs, so
"Early" in the paper means "uses only early epochs of a full run", reference-spec §5 and §8 item 13).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from yoco.errors import YocoError
from yoco.published import KEY_COLUMNS, NUMERIC_TABLES, paper_cell, published

# The row coordinates a stand-in dataset maps onto the paper's grid (build_table's stand_ins).
_PAPER_AXES = ("dataset", "ipc_from", "ipc_to")

#: Columns of a runs CSV (one row per trained network), as written by ``yoco evaluate``.
RUN_COLUMNS = [
    "dataset",
    "condenser",
    "ipc_from",
    "ipc_to",
    "key",
    "network",
    "rep",
    "init",
    "seed",
    "n_selected",
    "best_acc",
    "last_acc",
    "epochs",
    "wall_s",
    "device",
    "torch_version",
    "yoco_version",
    "git_commit",
]

#: The columns :func:`build_table` needs; the others are provenance.
REQUIRED_RUN_COLUMNS = KEY_COLUMNS + ["rep", "init", "best_acc", "last_acc"]

METRICS = ("best", "last")
TABLES = (1, 2, 3, 4, 5, 6, 7)

#: Table 6 of the paper ("Components required for each dataset pruning method"), plus what the
#: reference code does. ``training`` is the paper's "Training Time" column: how much training the
#: method's model or dynamics need. ``reference_code`` records where the code departs from it.
#: Used as the implementation's own declaration too for a method that ``yoco.scores.SCORES`` lacks,
#: or whose entry lacks the fields ``needs_model``, ``needs_dynamics``, ``training``, ``needs_labels``.
METHOD_METADATA: dict[str, dict[str, object]] = {
    "ssp": {
        "method": "SSP",
        "needs_model": True,
        "needs_dynamics": False,
        "training": "full",
        "needs_labels": False,
        "reference_code": (
            "k-means on the penultimate features of the last checkpoint (epoch 1000) of the dynamics "
            "run, nearest sample to each centroid; the model is trained with labels"
        ),
    },
    "entropy": {
        "method": "Entropy",
        "needs_model": True,
        "needs_dynamics": False,
        "training": "full",
        "needs_labels": True,
        "reference_code": "prediction entropy of the last checkpoint (epoch 1000) of the dynamics run",
    },
    "accumulated_margin": {
        "method": "AUM",
        "needs_model": False,
        "needs_dynamics": True,
        "training": "full",
        "needs_labels": True,
        "reference_code": "probability margin summed over all 1000 epochs of the dynamics run",
    },
    "forgetting": {
        "method": "Forg.",
        "needs_model": False,
        "needs_dynamics": True,
        "training": "full",
        "needs_labels": True,
        "reference_code": "per-sample forgetting events over all 1000 epochs of the dynamics run",
    },
    "el2n": {
        "method": "EL2N",
        "needs_model": False,
        "needs_dynamics": True,
        "training": "early",
        "needs_labels": True,
        "reference_code": "error L2 norm summed over epochs 0-9, taken from a full 1000-epoch dynamics run",
    },
    "yoco": {
        "method": "Ours",
        "needs_model": False,
        "needs_dynamics": True,
        "training": "early",
        "needs_labels": True,
        "reference_code": (
            "LBPE summed over the top-K accuracy epochs among the first E (E=100 CIFAR-10, 200 "
            "otherwise), taken from a full 1000-epoch dynamics run"
        ),
    },
}

#: Table 6's entries for "needed" and "not needed" (the paper prints a tick or leaves the cell blank).
TICK, CROSS = "✓", "✗"

#: Epochs the reference code trains every dynamics run for, whatever the method (spec §2, §8 item 13).
REFERENCE_DYNAMICS_EPOCHS = 1000

_TABLE6_FIELDS = ("needs_model", "needs_dynamics", "training", "needs_labels")
# Names another module may use for the same method in its registry.
_SCORE_ALIASES = {
    "ssp": ("ssp", "features", "kmeans"),
    "entropy": ("entropy",),
    "accumulated_margin": ("accumulated_margin", "aum"),
    "forgetting": ("forgetting",),
    "el2n": ("el2n",),
    "yoco": ("yoco", "lbpe", "LBPE"),
}


# --------------------------------------------------------------------------------------------
# runs
# --------------------------------------------------------------------------------------------
def read_runs(paths: Iterable[str | os.PathLike]) -> pd.DataFrame:
    """Concatenate runs CSVs (one row per trained network) into one validated frame.

    Parameters
    ----------
    paths : iterable of path-like
        CSVs written by ``yoco evaluate``. Empty files (header only) are fine.

    Returns
    -------
    pandas.DataFrame
        The rows of all files, checked by :func:`check_runs`.
    """
    frames = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            raise YocoError(f"runs file {str(p)!r} is a folder; pass the CSV files inside it (e.g. {str(p)}/*.csv).")
        if not p.exists():
            raise YocoError(f"runs file {str(p)!r} does not exist; run the evaluation that writes it first.")
        try:
            frame = pd.read_csv(p)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as exc:
            raise YocoError(
                f"runs file {str(p)!r} is not a runs CSV ({' '.join(str(exc).split())[:100]}); pass "
                "the CSV files written by `yoco evaluate`."
            ) from None
        missing = [c for c in REQUIRED_RUN_COLUMNS if c not in frame.columns]
        if missing:
            raise YocoError(
                f"runs file {str(p)!r} lacks column(s) {', '.join(missing)}; pass the CSV files "
                "written by `yoco evaluate` (one row per trained network)."
            )
        frames.append(frame)
    if not frames:
        return check_runs(pd.DataFrame(columns=RUN_COLUMNS))
    return check_runs(pd.concat(frames, ignore_index=True))


def check_runs(runs: pd.DataFrame | None) -> pd.DataFrame:
    """Validate a runs frame and normalise its key dtypes.

    Exact duplicates of one trained network (same cell, key, network, rep and init, e.g. a CSV
    passed twice) are dropped; duplicates that disagree on an accuracy raise, because they mean two
    different trainings claim the same identity.

    Parameters
    ----------
    runs : pandas.DataFrame or None
        ``None`` is treated as "no runs".

    Returns
    -------
    pandas.DataFrame
        A copy with ``ipc_from``, ``ipc_to``, ``rep``, ``init`` as int and accuracies as float.

    Raises
    ------
    YocoError
        Missing columns, accuracies outside [0, 100], or conflicting duplicates.
    """
    if runs is None:
        runs = pd.DataFrame(columns=RUN_COLUMNS)
    missing = [c for c in REQUIRED_RUN_COLUMNS if c not in runs.columns]
    if missing:
        raise YocoError(
            f"runs table lacks column(s) {', '.join(missing)}; it must have one row per trained network "
            f"with at least {', '.join(REQUIRED_RUN_COLUMNS)} (as written by 'yoco evaluate')."
        )
    runs = runs.copy()
    for c in ("dataset", "condenser", "key", "network"):
        runs[c] = runs[c].astype(str)
    for c in ("ipc_from", "ipc_to", "rep", "init", "best_acc", "last_acc"):
        values = pd.to_numeric(runs[c], errors="coerce")
        if values.isna().any():
            bad = runs[c][values.isna()].iloc[0]
            raise YocoError(
                f"runs table has an empty or non-numeric {c} ({bad!r}); it must be written by "
                "'yoco evaluate' (one complete row per trained network)."
            )
        runs[c] = values
    for c in ("ipc_from", "ipc_to", "rep", "init"):
        if not (runs[c] == runs[c].round()).all():
            raise YocoError(f"runs table has a fractional {c}; it must be written by 'yoco evaluate'.")
        runs[c] = runs[c].astype(int)
    for c in ("best_acc", "last_acc"):
        runs[c] = runs[c].astype(float)
        bad = runs[(runs[c] < 0) | (runs[c] > 100)]
        if not bad.empty:
            raise YocoError(
                f"{c} must be a percentage in [0, 100]; found {bad[c].iloc[0]!r} "
                f"(key {bad['key'].iloc[0]!r}). Multiply fractions by 100."
            )
    if "decoded_sha256" in runs.columns:
        # One cell's runs must all train on the same decoded set; two sets mean files from two workflows.
        known = runs.dropna(subset=["decoded_sha256"])
        mixed = known.groupby(KEY_COLUMNS, sort=False)["decoded_sha256"].nunique()
        mixed = mixed[mixed > 1]
        if not mixed.empty:
            cell = dict(zip(KEY_COLUMNS, mixed.index[0]))
            raise YocoError(
                "runs of one cell come from different decoded sets: "
                + ", ".join(f"{c}={v}" for c, v in cell.items())
                + "; pass only the runs CSVs of one workflow (one condensed set per cell)."
            )
    ident = KEY_COLUMNS + ["rep", "init"]
    runs = runs.drop_duplicates(subset=ident + ["best_acc", "last_acc"])
    clash = runs[runs.duplicated(subset=ident, keep=False)]
    if not clash.empty:
        row = clash.iloc[0]
        raise YocoError(
            "two runs rows claim the same training but disagree on accuracy: "
            + ", ".join(f"{c}={row[c]}" for c in ident)
            + ". Remove the stale runs CSV."
        )
    return runs.reset_index(drop=True)


def merge_key(df: pd.DataFrame) -> pd.Series:
    """The key a row is matched on: ``full`` for an unpruned cell, else the row's own key.

    An unpruned cell (``ipc_to == ipc_from``) may be spelled ``full`` (published.csv) or ``random``
    (the workflow, which selects every patch at random); both mean "the whole condensed set".
    """
    unpruned = (df["ipc_to"] == df["ipc_from"]) & df["key"].isin(["full", "random"])
    return df["key"].where(~unpruned, "full")


def _check_rows(rows: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in KEY_COLUMNS if c not in rows.columns]
    if missing:
        raise YocoError(f"rows lack column(s) {', '.join(missing)}; rows must have {', '.join(KEY_COLUMNS)}.")
    rows = rows[KEY_COLUMNS].copy()
    for c in ("dataset", "condenser", "key", "network"):
        rows[c] = rows[c].astype(str)
    for c in ("ipc_from", "ipc_to"):
        values = pd.to_numeric(rows[c], errors="coerce")
        if values.isna().any() or not (values == values.round()).all():
            raise YocoError(
                f"rows have a missing or non-integer {c}; the rows CSV must list whole IPC values "
                "(write it with the workflow's table_rows rule)."
            )
        rows[c] = values.astype(int)
    return rows.drop_duplicates().reset_index(drop=True)


def _rep_summary(group: pd.DataFrame, col: str) -> tuple[str, float]:
    means = group.groupby("rep")[col].mean().sort_index()
    text = ";".join(f"{rep}:{m:.2f}" for rep, m in means.items())
    return text, float(np.std(means.to_numpy(), ddof=0))


def aggregate_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """Per-cell statistics of a runs frame (one row per ``KEY_COLUMNS`` combination present).

    Returns
    -------
    pandas.DataFrame
        ``KEY_COLUMNS`` plus ``n_runs, n_reps, mean_best, std_best, mean_last, std_last,
        rep_means_best, rep_std_best, rep_means_last, rep_std_last`` (stds with ddof 0).
    """
    runs = check_runs(runs)
    out = []
    for cell, g in runs.groupby(KEY_COLUMNS, sort=False):
        rec = dict(zip(KEY_COLUMNS, cell))
        rec["n_runs"] = len(g)
        rec["n_reps"] = g["rep"].nunique()
        for m in METRICS:
            col = f"{m}_acc"
            rec[f"mean_{m}"] = float(g[col].mean())
            rec[f"std_{m}"] = float(np.std(g[col].to_numpy(), ddof=0))
            rec[f"rep_means_{m}"], rec[f"rep_std_{m}"] = _rep_summary(g, col)
        out.append(rec)
    stat_cols = ["n_runs", "n_reps"] + [f"{s}_{m}" for m in METRICS for s in ("mean", "std", "rep_means", "rep_std")]
    stats = pd.DataFrame(out, columns=KEY_COLUMNS + stat_cols)
    # An empty frame comes out as object columns, which would not merge with integer row keys.
    dtypes = {"ipc_from": int, "ipc_to": int, "n_runs": int, "n_reps": int}
    dtypes.update({f"{s}_{m}": float for m in METRICS for s in ("mean", "std", "rep_std")})
    return stats.astype(dtypes)


# --------------------------------------------------------------------------------------------
# tables
# --------------------------------------------------------------------------------------------
def build_table(
    number: int,
    runs: pd.DataFrame | None = None,
    rows: pd.DataFrame | None = None,
    metric: str = "best",
    stand_ins: Mapping[str, Mapping] | None = None,
) -> pd.DataFrame:
    """One of the paper's tables, from our runs, next to the published numbers.

    Parameters
    ----------
    number : int
        1, 2, 3, 4, 5, 6 or 7. Table 7 is Table 1 with the published standard deviations.
        Table 6 needs no runs (see :func:`table6`).
    runs : pandas.DataFrame, optional
        One row per trained network (:data:`RUN_COLUMNS`; at least
        :data:`REQUIRED_RUN_COLUMNS`), accuracies in percent. Rows of other cells are ignored.
    rows : pandas.DataFrame, optional
        The table's row keys (:data:`yoco.published.KEY_COLUMNS`), e.g. from
        ``yoco.grid.table_rows(number, config)``. ``None`` uses the published grid of the table.
        Rows absent from the paper get ``published`` NaN (e.g. the digits quickstart).
    metric : {"best", "last"}
        Which accuracy is compared with the paper: names the ``diff_best``/``diff_last`` column.
    stand_ins : mapping, optional
        Datasets that stand in for one of the paper's, ``{"digits": {"dataset": "cifar10",
        "ipc_from": {20: 50}}}``: their rows get the published number of the paper's cell with that
        dataset and IPC_F (unmapped IPC_F values stay; an unpruned row's IPC_T follows its IPC_F), so
        a quickstart table shows the paper beside it. ``paper_dataset``/``paper_ipc_from`` say which
        cell ``published`` comes from.

    Returns
    -------
    pandas.DataFrame
        One row per row key, in the order of ``rows``: ``KEY_COLUMNS``, the statistics of
        :func:`aggregate_runs` (NaN and ``n_runs`` 0 where nothing was run), ``published``
        (plus ``published_std`` for Table 7; NaN where the paper prints no number for the row),
        ``diff_{metric}``, and ``paper_dataset`` and ``paper_ipc_from`` (the paper's cell the row is
        compared with; empty only where the row's dataset is neither one of the paper's nor a
        stand-in for one). Table 1 also has a first column ``row`` and the paper's "Avg." and
        "Diff." rows (:func:`table1_summary`).

    Raises
    ------
    YocoError
        Unknown table number or metric, or malformed runs/rows.
    """
    try:
        number = int(number)
    except (TypeError, ValueError):
        raise YocoError(f"table number must be one of {TABLES}, got {number!r}.") from None
    if number not in TABLES:
        raise YocoError(f"the paper has no Table {number}; choose one of {TABLES}.")
    if metric not in METRICS:
        raise YocoError(f"metric must be one of {METRICS}, got {metric!r}.")
    if number == 6:
        return table6()

    pub = published(number)
    rows = _check_rows(pub if rows is None else rows)
    stats = aggregate_runs(check_runs(runs))
    # Match on merge_key so that "full" and "random" at ipc_to == ipc_from meet; keep rows' spelling.
    on = [c for c in KEY_COLUMNS if c != "key"] + ["_mkey"]
    table = rows.assign(_mkey=merge_key(rows))
    table = table.merge(stats.assign(_mkey=merge_key(stats)).drop(columns="key"), on=on, how="left")
    table["n_runs"] = table["n_runs"].fillna(0).astype(int)
    table["n_reps"] = table["n_reps"].fillna(0).astype(int)

    # The paper's cell each row is compared with: its own, or its stand-in's.
    paper = _paper_cells(table, stand_ins or {})
    pub_cols = pub.assign(_mkey=merge_key(pub))[on + ["value", "std"]]
    pub_cols = pub_cols.rename(columns={"value": "published", "std": "published_std"})
    if number != 7:
        pub_cols = pub_cols.drop(columns="published_std")
    pub_cols = pub_cols.rename(columns={c: f"_p_{c}" for c in ("dataset", "ipc_from", "ipc_to")})
    table = table.join(paper).merge(pub_cols, on=[f"_p_{c}" if c in _PAPER_AXES else c for c in on], how="left")
    # Named wherever the row maps onto the paper's grid, printed number or not (``published`` says
    # which): a column of whole numbers without gaps reads back as integers, not floats.
    table["paper_dataset"] = table["_p_dataset"].fillna("").astype(str)
    table["paper_ipc_from"] = table["_p_ipc_from"].astype("Int64")
    table = table.drop(columns=["_mkey", *(f"_p_{c}" for c in _PAPER_AXES)])
    table[f"diff_{metric}"] = table[f"mean_{metric}"] - table["published"]
    last = ["paper_dataset", "paper_ipc_from"]
    table = table[[c for c in table.columns if c not in last] + last]
    return table1_summary(table, metric) if number == 1 else table


def _paper_cells(table: pd.DataFrame, stand_ins: Mapping[str, Mapping]) -> pd.DataFrame:
    """``_p_dataset, _p_ipc_from, _p_ipc_to``: where in the paper's grid each row's number is looked up
    (missing where the row's dataset is neither the paper's nor a stand-in for one)."""
    for name in stand_ins:  # a malformed stand-in fails even when no row uses it
        paper_cell(name, None, None, stand_ins)
    cells = [
        paper_cell(ds, int(f), int(t), stand_ins) or (None, None, None)
        for ds, f, t in zip(table["dataset"], table["ipc_from"], table["ipc_to"])
    ]
    out = pd.DataFrame(cells, columns=["_p_dataset", "_p_ipc_from", "_p_ipc_to"], index=table.index)
    out["_p_dataset"] = out["_p_dataset"].astype(object)
    for c in ("_p_ipc_from", "_p_ipc_to"):
        out[c] = out[c].astype("Int64")
    return out


#: The ``row`` column of Table 1: a measured cell, or one of the paper's derived rows.
TABLE1_ROWS = ("cell", "Avg.", "Diff.")

_STAT_COLUMNS = [f"{s}_{m}" for m in METRICS for s in ("std", "rep_std")]


def table1_summary(table: pd.DataFrame, metric: str = "best") -> pd.DataFrame:
    """Table 1 with the paper's "Avg." and "Diff." rows added after each (dataset, IPC_F) block.

    The paper prints, per dataset and IPC_F and per method column, the average over the pruned
    IPC_T rows ("Avg.") and that average minus Ours' ("Diff."; Ours prints "-"). The same is done
    here to our means and, beside them, to the published numbers:

    * ``Avg.``: one row per (dataset, condenser, IPC_F, key, network) with two or more pruned rows
      (IPC_T < IPC_F): ``mean_best``/``mean_last`` and ``published`` are the plain means over those IPC_T
      (NaN when any of them is missing, so a partial average never passes for the paper's);
      ``n_runs`` sums the runs behind them, ``n_reps`` is their smallest rep count.
    * ``Diff.``: each Avg. row minus Ours' (key ``yoco`` of the same dataset, IPC_F and network: the
      same condenser's where there is one, else IDC's, which is the paper's "Ours" column), for
      ``mean_*`` and for ``published``, when both average over the same IPC_T. Always method − Ours:
      the paper prints that sign for CIFAR but Ours − method for ImageNet-10 (reference-spec §8
      item 26), so there its printed Diff. is the negative of ``published`` here.

    ``diff_{metric}`` is ``mean_{metric} − published`` on every row; ``ipc_to`` and the stds are
    empty on the derived rows. The frame gets a first column ``row`` (:data:`TABLE1_ROWS`).

    Parameters
    ----------
    table : pandas.DataFrame
        Table 1 as :func:`build_table` makes it before this step.
    metric : {"best", "last"}
        Names the ``diff_{metric}`` column.
    """
    table = table.assign(row="cell")
    columns = ["row"] + [c for c in table.columns if c != "row"]
    pruned = table[table["ipc_to"] < table["ipc_from"]]
    method = ["dataset", "condenser", "ipc_from", "key", "network"]
    avgs = []
    for keys, g in pruned.groupby(method, sort=False):
        if len(g) < 2:  # an average of one row is that row; the paper averages 3 or 4
            continue
        rec = dict(zip(method, keys))
        rec.update(
            row="Avg.",
            ipc_to=pd.NA,
            _ipcs=tuple(sorted(g["ipc_to"])),
            n_runs=int(g["n_runs"].sum()),
            n_reps=int(g["n_reps"].min()),
            mean_best=g["mean_best"].mean(skipna=False),
            mean_last=g["mean_last"].mean(skipna=False),
            published=g["published"].mean(skipna=False),
            paper_dataset=g["paper_dataset"].iloc[0],
            paper_ipc_from=g["paper_ipc_from"].iloc[0],
        )
        avgs.append(rec)
    diffs = []
    for rec in avgs:
        ours = _ours(avgs, rec)
        if ours is None or ours is rec or ours["_ipcs"] != rec["_ipcs"]:
            continue
        diff = dict(rec, row="Diff.", n_runs=rec["n_runs"] + ours["n_runs"], n_reps=min(rec["n_reps"], ours["n_reps"]))
        for c in ("mean_best", "mean_last", "published"):
            diff[c] = rec[c] - ours[c]
        diffs.append(diff)
    extra = pd.DataFrame(avgs + diffs, columns=[*columns, "_ipcs"]).drop(columns="_ipcs")
    for c in _STAT_COLUMNS:
        extra[c] = np.nan
    extra[f"diff_{metric}"] = extra[f"mean_{metric}"] - extra["published"]
    # The paper's layout: each (dataset, IPC_F) block's cells, then its Avg. rows, then its Diff. rows.
    kind = {k: i for i, k in enumerate(TABLE1_ROWS)}
    both = pd.concat([table[columns], extra[columns]], ignore_index=True)
    block = both.groupby(["dataset", "ipc_from"], sort=False).ngroup()
    both = both.assign(_block=block, _kind=both["row"].map(kind), _pos=np.arange(len(both)))
    both = both.sort_values(["_block", "_kind", "_pos"], kind="stable").drop(columns=["_block", "_kind", "_pos"])
    both = both.reset_index(drop=True)
    for c in ("ipc_to", "paper_ipc_from"):
        both[c] = both[c].astype("Int64")
    for c in ("n_runs", "n_reps"):
        both[c] = both[c].astype(int)
    return both


def _ours(avgs: list[dict], rec: dict) -> dict | None:
    """The Avg. row of Ours (key ``yoco``) that ``rec`` is compared with, or None."""
    same = [
        a
        for a in avgs
        if a["key"] == "yoco"
        and (a["dataset"], a["ipc_from"], a["network"]) == (rec["dataset"], rec["ipc_from"], rec["network"])
    ]
    for condenser in (rec["condenser"], "idc"):
        hit = [a for a in same if a["condenser"] == condenser]
        if hit:
            return hit[0]
    return same[0] if len(same) == 1 else None


def table6(scores: Mapping[str, object] | None = None) -> pd.DataFrame:
    """Table 6: the components each pruning method needs.

    Parameters
    ----------
    scores : mapping, optional
        A registry name -> object or dict with fields ``needs_model``, ``needs_dynamics``,
        ``training`` (``"full"``/``"early"``/``"none"``) and ``needs_labels``. By default
        ``yoco.scores.SCORES``; for a method the registry lacks, or whose entry lacks those fields,
        the implementation columns come from :data:`METHOD_METADATA`.

    Returns
    -------
    pandas.DataFrame
        One row per method of the paper's Table 6 (SSP, Entropy, AUM, Forg., EL2N, Ours), columns
        ``method, key`` then the paper's entries ``model, training_dynamics, training_time, label``,
        the implementation's ``needs_model, needs_dynamics, training, needs_labels``,
        ``metadata_source``, ``matches_paper``, ``reference_dynamics_epochs`` (always 1000) and
        ``reference_code``.
    """
    source = "yoco.scores.SCORES"
    if scores is None:
        # yoco.scores re-exports this registry; its torch-free home keeps the table job light.
        from yoco.score_info import SCORES as scores  # noqa: N811 (it fills the parameter)
    out = []
    for key, meta in METHOD_METADATA.items():
        impl = _score_fields(scores, key) if scores is not None else None
        rec = {
            "method": meta["method"],
            "key": key,
            "model": _tick(meta["needs_model"]),
            "training_dynamics": _tick(meta["needs_dynamics"]),
            "training_time": str(meta["training"]).capitalize(),
            "label": _tick(meta["needs_labels"]),
        }
        fields = impl if impl is not None else {f: meta[f] for f in _TABLE6_FIELDS}
        rec.update({f: fields[f] for f in _TABLE6_FIELDS})
        rec["metadata_source"] = source if impl is not None else "yoco.tables.METHOD_METADATA (paper Table 6)"
        rec["matches_paper"] = all(
            (str(fields[f]).lower() == str(meta[f]).lower()) if f == "training" else bool(fields[f]) == bool(meta[f])
            for f in _TABLE6_FIELDS
        )
        rec["reference_dynamics_epochs"] = REFERENCE_DYNAMICS_EPOCHS
        rec["reference_code"] = meta["reference_code"]
        out.append(rec)
    return pd.DataFrame(out)


def _tick(needed: object) -> str:
    """The paper's tick, or a cross where it leaves the cell blank: an empty CSV field reads as NaN."""
    return TICK if needed else CROSS


def _score_fields(scores: Mapping[str, object], key: str) -> dict[str, object] | None:
    """The Table-6 fields of ``key`` in a score registry, or None when absent or incomplete."""
    for name in _SCORE_ALIASES[key]:
        if name in scores:
            entry = scores[name]
            get = entry.get if isinstance(entry, Mapping) else (lambda f, e=entry: getattr(e, f, None))
            fields = {f: get(f) for f in _TABLE6_FIELDS}
            if all(v is not None for v in fields.values()):
                return fields
    return None


__all__ = [
    "METHOD_METADATA",
    "METRICS",
    "NUMERIC_TABLES",
    "REFERENCE_DYNAMICS_EPOCHS",
    "REQUIRED_RUN_COLUMNS",
    "RUN_COLUMNS",
    "TABLE1_ROWS",
    "TABLES",
    "aggregate_runs",
    "build_table",
    "check_runs",
    "merge_key",
    "read_runs",
    "table1_summary",
    "table6",
]
