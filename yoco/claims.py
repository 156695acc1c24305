"""The paper's ordering claims, checked on our runs.

The paper's conclusions are orderings ("A beats B") more than absolute accuracies, and orderings
are what a reproduction should be judged on: absolute numbers move with hardware, seeds and the
unknown best-vs-last convention (reference-spec §4.5), an ordering that flips is a finding.
:func:`claims` tests four families, each on CIFAR-10 with IPC_F 10 and each IPC_T that was run:

``easy_beats_hard`` (Table 4, Rule 1)
    For AUM, forgetting and EL2N, the reversed (easy-first) key ``X_easy`` beats the original
    hard-first ``X``. Condensers IDC, DREAM, MTT, DSA.
``balance_beats_imbalance`` (Table 5, Rule 2)
    For every method X, ``X_balance`` beats ``X_imbalance``. IDC.
``yoco_beats_baseline`` (Table 1)
    ``yoco`` beats random selection from IDC, random selection from DREAM and every pruning
    baseline (SSP, entropy, AUM, forgetting, EL2N, CCS). IDC.
``yoco_best_in_ablation`` (Table 2)
    ``yoco`` (LBPE + balanced) beats ``random``, ``random_balance`` and ``yoco_imbalance``.
    Condensers IDC, DREAM, MTT, KIP.

A claim row is produced only when runs of both sides exist. ``diff = ours_a - ours_b`` with
``ours`` the mean over all runs (3 selections x 3 inits); ``se`` is the standard error of that
difference, ``sqrt(var_a/n_a + var_b/n_b)`` with ddof-1 variances, treating the 9 runs of a side as
independent (they are not quite: runs of one selection share it, so ``se`` is optimistic).
``holds`` is ``diff > 0``; ``significant`` is ``diff > 2 se``.

Key aliases: Table 5's ``X_imbalance`` is the same selection rule as Table 1's ``X`` for every
method that is imbalanced by default, and ``yoco_balance`` is ``yoco``. When the exact key was not
run, the alias's runs are used and ``key_a``/``key_b`` name the key actually used.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from yoco.errors import YocoError
from yoco.published import published as _published
from yoco.tables import METRICS, check_runs

_HARD_FIRST = ("accumulated_margin", "forgetting", "el2n")
_TABLE5_METHODS = ("random", "ssp", "entropy", "accumulated_margin", "forgetting", "el2n", "yoco")
_TABLE1_BASELINES = (
    ("idc", "random"),
    ("dream", "random"),
    ("idc", "ssp"),
    ("idc", "entropy"),
    ("idc", "accumulated_margin"),
    ("idc", "forgetting"),
    ("idc", "el2n"),
    ("idc", "ccs"),
)
_TABLE2_OTHERS = ("random", "random_balance", "yoco_imbalance")


def _claim_specs() -> list[dict[str, object]]:
    """Every (claim, table, condenser_a, key_a, condenser_b, key_b) the paper makes."""
    specs = []
    for ck in ("idc", "dream", "mtt", "dsa"):
        for x in _HARD_FIRST:
            specs.append(
                dict(claim="easy_beats_hard", table=4, condenser_a=ck, key_a=f"{x}_easy", condenser_b=ck, key_b=x)
            )
    for x in _TABLE5_METHODS:
        specs.append(
            dict(
                claim="balance_beats_imbalance",
                table=5,
                condenser_a="idc",
                key_a=f"{x}_balance",
                condenser_b="idc",
                key_b=f"{x}_imbalance",
            )
        )
    for ck_b, key_b in _TABLE1_BASELINES:
        specs.append(
            dict(claim="yoco_beats_baseline", table=1, condenser_a="idc", key_a="yoco", condenser_b=ck_b, key_b=key_b)
        )
    for ck in ("idc", "dream", "mtt", "kip"):
        for key_b in _TABLE2_OTHERS:
            specs.append(
                dict(claim="yoco_best_in_ablation", table=2, condenser_a=ck, key_a="yoco", condenser_b=ck, key_b=key_b)
            )
    return specs


def _aliases(key: str) -> list[str]:
    """Keys that select with the same rule as ``key`` (the exact key first)."""
    if key == "yoco_balance":
        return [key, "yoco"]
    if key.endswith("_imbalance"):
        base = key[: -len("_imbalance")]
        # Every base key except yoco is imbalanced by default (reference-spec §3.9).
        if base in _TABLE5_METHODS and base != "yoco":
            return [key, base]
    return [key]


def claims(
    runs: pd.DataFrame,
    published: pd.DataFrame | None = None,
    *,
    metric: str = "best",
    dataset: str = "cifar10",
    ipc_from: int = 10,
    network: str = "convnet",
) -> pd.DataFrame:
    """Test the paper's ordering claims on our runs.

    Parameters
    ----------
    runs : pandas.DataFrame
        One row per trained network (see :data:`yoco.tables.RUN_COLUMNS`).
    published : pandas.DataFrame, optional
        The published numbers, as returned by :func:`yoco.published.published` (all tables);
        ``None`` loads them.
    metric : {"best", "last"}
        Accuracy compared (``best_acc`` or ``last_acc``).
    dataset, ipc_from, network : str, int, str
        The setting the claims are made on: CIFAR-10, IPC_F 10, ConvNet in the paper. Another
        dataset (e.g. the digits quickstart) gives rows with NaN paper values.

    Returns
    -------
    pandas.DataFrame
        One row per claim, IPC_T and pair whose two sides both have runs, with columns ``claim,
        table, dataset, ipc_from, ipc_to, network, condenser_a, key_a, condenser_b, key_b, n_a, n_b,
        ours_a, ours_b, diff, se, paper_a, paper_b, paper_diff, holds, significant, ties_a, ties_b``.
    """
    if metric not in METRICS:
        raise YocoError(f"metric must be one of {METRICS}, got {metric!r}.")
    runs = check_runs(runs)
    pub = _published() if published is None else published
    needed = ("table", "dataset", "condenser", "ipc_from", "ipc_to", "key", "network", "value")
    missing = [c for c in needed if c not in pub.columns]
    if missing:
        raise YocoError(f"published table lacks column(s) {', '.join(missing)}; pass yoco.published.published().")
    col = f"{metric}_acc"
    runs = runs[(runs["dataset"] == dataset) & (runs["ipc_from"] == int(ipc_from)) & (runs["network"] == network)]
    groups = {k: g[col].to_numpy(dtype=float) for k, g in runs.groupby(["condenser", "ipc_to", "key"])}
    tie_share = _tie_share(runs)

    def side(ck: str, ipct: int, key: str) -> tuple[str, np.ndarray] | None:
        for k in _aliases(key):
            if (ck, ipct, k) in groups:
                return k, groups[(ck, ipct, k)]
        return None

    def paper(table: int, ck: str, ipct: int, key: str) -> float:
        hit = pub[
            (pub["table"] == table)
            & (pub["dataset"] == dataset)
            & (pub["condenser"] == ck)
            & (pub["ipc_from"] == int(ipc_from))
            & (pub["ipc_to"] == ipct)
            & (pub["key"] == key)
            & (pub["network"] == network)
        ]
        return float(hit["value"].iloc[0]) if len(hit) else math.nan

    out = []
    for ipct in sorted(runs["ipc_to"].unique()):
        ipct = int(ipct)
        for spec in _claim_specs():
            a = side(spec["condenser_a"], ipct, spec["key_a"])
            b = side(spec["condenser_b"], ipct, spec["key_b"])
            if a is None or b is None:
                continue
            (key_a, va), (key_b, vb) = a, b
            diff = float(va.mean() - vb.mean())
            se = (
                math.sqrt(va.var(ddof=1) / len(va) + vb.var(ddof=1) / len(vb))
                if len(va) > 1 and len(vb) > 1
                else math.nan
            )
            pa = paper(spec["table"], spec["condenser_a"], ipct, spec["key_a"])
            pb = paper(spec["table"], spec["condenser_b"], ipct, spec["key_b"])
            out.append(
                dict(
                    claim=spec["claim"],
                    table=spec["table"],
                    dataset=dataset,
                    ipc_from=int(ipc_from),
                    ipc_to=ipct,
                    network=network,
                    condenser_a=spec["condenser_a"],
                    key_a=key_a,
                    condenser_b=spec["condenser_b"],
                    key_b=key_b,
                    n_a=len(va),
                    n_b=len(vb),
                    ours_a=float(va.mean()),
                    ours_b=float(vb.mean()),
                    diff=diff,
                    se=se,
                    paper_a=pa,
                    paper_b=pb,
                    paper_diff=pa - pb,
                    holds=diff > 0,
                    significant=bool(diff > 2 * se) if not math.isnan(se) else False,
                    ties_a=tie_share.get((spec["condenser_a"], ipct, key_a), math.nan),
                    ties_b=tie_share.get((spec["condenser_b"], ipct, key_b), math.nan),
                )
            )
    columns = [
        "claim",
        "table",
        "dataset",
        "ipc_from",
        "ipc_to",
        "network",
        "condenser_a",
        "key_a",
        "condenser_b",
        "key_b",
        "n_a",
        "n_b",
        "ours_a",
        "ours_b",
        "diff",
        "se",
        "paper_a",
        "paper_b",
        "paper_diff",
        "holds",
        "significant",
        "ties_a",
        "ties_b",
    ]
    return pd.DataFrame(out, columns=columns)


def _tie_share(runs: pd.DataFrame) -> dict[tuple, float]:
    """(condenser, ipc_to, key) -> mean share of the kept patches that the tie rule chose.

    Each run row carries its selection's ``tie_decided`` (absent from runs made before it existed and
    for keys without a score ranking, e.g. random, SSP, CCS); a share near 1 means the score hardly
    decided the selection (docs/deviations.md, "Ties").
    """
    if "tie_decided" not in runs.columns:
        return {}
    share = pd.to_numeric(runs["tie_decided"], errors="coerce") / runs["n_selected"].astype(float)
    frame = runs.assign(_share=share).dropna(subset=["_share"])
    return {k: float(g["_share"].mean()) for k, g in frame.groupby(["condenser", "ipc_to", "key"])}


def _side_label(ck: str, key: str, other_ck: str) -> str:
    return f"{key}@{ck}" if ck != other_ck else key


def format_claims(df: pd.DataFrame) -> str:
    """A plain-text report of :func:`claims`, one line per claim row, for printing or logs.

    A verdict column reads ``holds*`` (diff > 2 se), ``holds`` (diff > 0) or ``FAILS``; "ties A/B" is the
    share of each side's kept patches chosen by the tie rule.
    """
    if df.empty:
        return "no claim could be tested: no pair of keys had runs on both sides."

    def num(x: float) -> str:
        return "   -  " if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:6.2f}"

    def tie(x: float) -> str:
        return "   -" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:3.0f}%"

    head = (
        f"{'claim':<24} {'T':>1} {'ck':<5} {'IPC':>5}  {'A':<26} {'B':<26} {'ours A':>6} {'ours B':>6} "
        f"{'diff':>6} {'se':>6}  {'paper A':>7} {'paper B':>7} {'p.diff':>6}  {'ties A/B':>9}  verdict"
    )
    lines = [head, "-" * len(head)]
    for r in df.itertuples(index=False):
        verdict = "holds*" if r.significant else ("holds" if r.holds else "FAILS")
        a = _side_label(r.condenser_a, r.key_a, r.condenser_a)
        b = _side_label(r.condenser_b, r.key_b, r.condenser_a)
        lines.append(
            f"{r.claim:<24} {r.table:>1} {r.condenser_a:<5} {r.ipc_from:>2}->{r.ipc_to:<2} {a:<26} {b:<26} "
            f"{num(r.ours_a)} {num(r.ours_b)} {num(r.diff)} {num(r.se)}  {num(r.paper_a):>7} {num(r.paper_b):>7} "
            f"{num(r.paper_diff)}  {tie(r.ties_a)}/{tie(r.ties_b)}  {verdict}"
        )
    n = len(df)
    lines.append("-" * len(head))
    lines.append(
        f"{int(df['holds'].sum())}/{n} claims hold (diff > 0), {int(df['significant'].sum())}/{n} by more than "
        f"2 standard errors; the paper's own numbers agree with {int((df['paper_diff'] > 0).sum())}/"
        f"{int(df['paper_diff'].notna().sum())} of them."
    )
    return "\n".join(lines)


__all__ = ["claims", "format_claims"]
