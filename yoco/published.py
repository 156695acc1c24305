"""The numbers the paper publishes, as one long table.

``yoco/data/published.csv`` holds every accuracy printed in Tables 1, 2, 3, 4, 5 and 7 of
He, Xiao & Zhou, "You Only Condense Once" (NeurIPS 2023), transcribed from the paper text. One row
is one printed number:

========== =====================================================================================
column     meaning
========== =====================================================================================
table      1, 2, 3, 4, 5 or 7 (Table 7 is Table 1 with standard deviations; Table 6 has no numbers)
dataset    ``cifar10``, ``cifar100`` or ``imagenet10``
condenser  condensed set the pruning starts from: ``idc``, ``dream``, ``mtt``, ``dsa``, ``kip``
ipc_from   IPC_F, images per class of the condensed set
ipc_to     IPC_T, images per class after pruning (``ipc_to == ipc_from`` for key ``full``)
key        pruning key in the reference code's grammar (``yoco``, ``el2n_easy``, ``ssp_balance``, ...);
           ``full`` is Table 1's "IPC_F Acc." column (the unpruned condensed set)
network    evaluation network: ``convnet``, ``resnet10bn``, ``densenet``, ``resnetap10``
value      published top-1 test accuracy in percent
std        published standard deviation (Table 7 only; NaN elsewhere)
========== =====================================================================================

Derived rows are left out on purpose: Table 1's "Avg." and "Diff." rows and Table 5's printed
gains can be recomputed from the rows kept (the tests do so, which checks the transcription).
Mind that the paper's "Diff." is method - ours for CIFAR (negative) but ours - method for
ImageNet-10 (positive) (reference-spec §8 item 26); ``yoco.tables`` always reports our measured
mean minus the published value.
Table 1's DREAM column is the ``random`` key with condenser ``dream``; ImageNet-10 has no DREAM
number, so Table 1 has 23 cells x 9 methods - 6 = 201 method rows plus 7 ``full`` rows.

Known inconsistencies inside the paper are kept as printed (reference-spec §8 items 26-27): IDC
CIFAR-10 10->1 LBPE without balancing is 39.38 in Table 2 but 37.63 in Table 5, and random with
balancing is 30.19 in Table 2 but 30.05 in Table 5.
"""

from __future__ import annotations

import functools
import importlib.resources
import math
from collections.abc import Mapping

import pandas as pd

from yoco.errors import YocoError

#: Columns that identify one published cell; tables and runs are merged on these.
KEY_COLUMNS = ["dataset", "condenser", "ipc_from", "ipc_to", "key", "network"]

#: Tables that print accuracies. Table 6 is qualitative (see ``yoco.tables.build_table(6)``).
NUMERIC_TABLES = (1, 2, 3, 4, 5, 7)

#: Evaluation network of Tables 1, 2, 4, 5 and 7 for each dataset (Table 3 adds two CIFAR networks).
DEFAULT_NETWORK = {"cifar10": "convnet", "cifar100": "convnet", "imagenet10": "resnetap10"}

#: The datasets the paper reports on; another dataset has a published number only through a stand-in.
PAPER_DATASETS = ("cifar10", "cifar100", "imagenet10")

#: Fig. 3's turning points (pruning ratio in percent where easy-first starts to beat hard-first), as
#: Sec. 4.4 states them: IDC CIFAR-10 IPC_F 10 and 50, and the full CIFAR-10 training set ("IPC5000",
#: IPC_F ``None`` here). The paper gives no turning point for any other set.
FIG3_TURNING_POINTS = {("cifar10", "idc", 10): 24.0, ("cifar10", "idc", 50): 38.0, ("cifar10", "full", None): 72.0}

#: The paper's column/row labels for the pruning keys, for printing.
PAPER_LABELS = {
    "full": "IPC_F Acc.",
    "random": "Random",
    "ssp": "SSP",
    "entropy": "Entropy",
    "accumulated_margin": "AUM",
    "forgetting": "Forg.",
    "el2n": "EL2N",
    "ccs": "CCS",
    "yoco": "Ours",
}


@functools.lru_cache(maxsize=1)
def _load() -> pd.DataFrame:
    path = importlib.resources.files("yoco").joinpath("data/published.csv")
    with path.open("r", encoding="utf-8") as fh:
        df = pd.read_csv(fh, dtype={"dataset": str, "condenser": str, "key": str, "network": str})
    df["table"] = df["table"].astype(int)
    df["ipc_from"] = df["ipc_from"].astype(int)
    df["ipc_to"] = df["ipc_to"].astype(int)
    df["value"] = df["value"].astype(float)
    df["std"] = df["std"].astype(float)
    return df


def _check_table(table: object) -> int:
    try:
        number = int(table)  # accepts "1" from a CLI as well as 1
    except (TypeError, ValueError):
        raise YocoError(f"table must be one of {NUMERIC_TABLES}, got {table!r}.") from None
    if number == 6:
        raise YocoError(
            "Table 6 prints no numbers (it lists which components each pruning method needs); "
            "use yoco.tables.build_table(6) for it."
        )
    if number not in NUMERIC_TABLES:
        raise YocoError(f"the paper has no numeric Table {number}; choose one of {NUMERIC_TABLES}.")
    return number


def published(table: int | None = None) -> pd.DataFrame:
    """The published accuracies, optionally of one table.

    Parameters
    ----------
    table : int, optional
        1, 2, 3, 4, 5 or 7. ``None`` returns every table.

    Returns
    -------
    pandas.DataFrame
        Columns ``table, dataset, condenser, ipc_from, ipc_to, key, network, value, std``, in the
        order the numbers appear in the paper. A fresh copy: callers may modify it.

    Raises
    ------
    YocoError
        For table 6 (qualitative) or a table the paper does not have.
    """
    df = _load()
    if table is not None:
        df = df[df["table"] == _check_table(table)]
    return df.reset_index(drop=True).copy()


def paper_cell(
    dataset: str, ipc_from: int | None, ipc_to: int | None = None, stand_ins: Mapping[str, Mapping] | None = None
) -> tuple[str, int | None, int | None] | None:
    """The paper's cell a row of ours is compared with: its own, or that of the dataset it stands in for.

    Parameters
    ----------
    dataset, ipc_from, ipc_to : str, int, int
        Our row's coordinates (``ipc_from`` ``None`` for a full training set; ``ipc_to`` may be left out).
    stand_ins : mapping, optional
        ``{"digits": {"dataset": "cifar10", "ipc_from": {20: 50}}}`` (``datasets.<ds>.stands_for``):
        a stand-in's IPC_F values map as given (unmapped ones stay) and an unpruned row
        (``ipc_to == ipc_from``) keeps ``ipc_to`` equal to the mapped IPC_F.

    Returns
    -------
    tuple or None
        ``(paper_dataset, paper_ipc_from, paper_ipc_to)``; None when the dataset is neither one of
        :data:`PAPER_DATASETS` nor a stand-in for one.

    Examples
    --------
    >>> paper_cell("digits", 20, 1, {"digits": {"dataset": "cifar10", "ipc_from": {20: 50}}})
    ('cifar10', 50, 1)
    >>> paper_cell("digits", 20, 1) is None
    True
    """
    spec = (stand_ins or {}).get(dataset)
    if spec is None:
        return (dataset, ipc_from, ipc_to) if dataset in PAPER_DATASETS else None
    if not isinstance(spec, Mapping) or "dataset" not in spec:
        raise YocoError(f"stand-in {dataset!r} must name the paper's dataset, e.g. {{'dataset': 'cifar10'}}.")
    target = str(spec["dataset"])
    if target not in PAPER_DATASETS:
        raise YocoError(f"stand-in {dataset!r} names {target!r}; the paper's datasets are {', '.join(PAPER_DATASETS)}.")
    if ipc_from is None:
        return target, None, ipc_to
    ipc_map = {int(k): int(v) for k, v in (spec.get("ipc_from") or {}).items()}
    mapped = ipc_map.get(int(ipc_from), int(ipc_from))
    unpruned = ipc_to is not None and int(ipc_to) == int(ipc_from)
    return target, mapped, (mapped if unpruned else ipc_to)


def lookup(
    table: int,
    key: str,
    *,
    dataset: str = "cifar10",
    condenser: str = "idc",
    ipc_from: int = 10,
    ipc_to: int = 1,
    network: str | None = None,
    column: str = "value",
) -> float:
    """One published number.

    Parameters
    ----------
    table : int
        1, 2, 3, 4, 5 or 7.
    key : str
        Pruning key, e.g. ``"yoco"``, ``"el2n_easy"``, ``"ssp_balance"``, ``"full"``.
    dataset, condenser, ipc_from, ipc_to : str, str, int, int
        The cell; the defaults are the paper's most used setting, IDC CIFAR-10 10 -> 1.
    network : str, optional
        Needed only where a cell has several networks (Table 3); defaults to
        :data:`DEFAULT_NETWORK` of the dataset.
    column : {"value", "std"}
        ``"std"`` is available for Table 7 only (NaN elsewhere).

    Returns
    -------
    float
        The number as printed (accuracy in percent).

    Raises
    ------
    YocoError
        When the paper prints no such number; the message lists what the cell does have.

    Examples
    --------
    >>> lookup(1, "yoco")
    42.28
    >>> lookup(3, "yoco", network="densenet")
    34.29
    """
    if column not in ("value", "std"):
        raise YocoError(f"column must be 'value' or 'std', got {column!r}.")
    if network is None:
        if dataset not in DEFAULT_NETWORK:
            raise YocoError(f"unknown dataset {dataset!r}; pass network= or use one of {sorted(DEFAULT_NETWORK)}.")
        network = DEFAULT_NETWORK[dataset]
    df = published(table)
    cell = df[
        (df["dataset"] == dataset)
        & (df["condenser"] == condenser)
        & (df["ipc_from"] == int(ipc_from))
        & (df["ipc_to"] == int(ipc_to))
        & (df["network"] == network)
    ]
    hit = cell[cell["key"] == key]
    if hit.empty:
        where = f"Table {table}, {dataset} {condenser} IPC {ipc_from}->{ipc_to} on {network}"
        if cell.empty:
            raise YocoError(
                f"{where}: the paper prints no number for this cell. Check the cell against published({table})."
            )
        raise YocoError(f"{where}: no key {key!r}. Keys printed there: {', '.join(cell['key'])}.")
    value = float(hit[column].iloc[0])
    if column == "std" and math.isnan(value):
        raise YocoError(f"Table {table} prints no standard deviation for {key!r}; only Table 7 has them.")
    return value
