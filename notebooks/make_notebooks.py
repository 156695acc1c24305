"""Generate the figure notebooks (fig2/3/5/7.ipynb) from the sources below.

The notebooks are run by Snakemake's ``notebook:`` directive, which injects a ``snakemake`` object
as the first cell; each notebook reads one CSV (``snakemake.input[0]``, made by
``yoco figure-data``) and writes ``snakemake.output.png`` and ``snakemake.output.pdf``. They only
plot: the data are computed and tested in ``yoco/figures.py``.

Edit this file, not the .ipynb files, then run ``python notebooks/make_notebooks.py``; both are
committed so that diffs of the notebooks stay reviewable (cell ids are fixed, no outputs).
"""
from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent

SETUP = '''\
import matplotlib

matplotlib.use("Agg")  # headless: Snakemake runs notebooks without a display
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

METRIC = "best"  # "best" (max over the 4 validation points) or "last"; the paper does not say which
DATASET_NAMES = {"cifar10": "CIFAR-10", "cifar100": "CIFAR-100", "imagenet10": "ImageNet-10", "digits": "digits"}


def span(counts):
    """'3' or '2-3': the range of a count series, for captions."""
    lo, hi = int(counts.min()), int(counts.max())
    return f"{lo}" if lo == hi else f"{lo}-{hi}"


data = pd.read_csv(snakemake.input[0])
if data.empty:
    raise ValueError(f"{snakemake.input[0]} has no rows: nothing to plot. Check the rule that writes it.")
'''

SAVE = '''\
fig.savefig(snakemake.output.png, dpi=150, bbox_inches="tight")
fig.savefig(snakemake.output.pdf, bbox_inches="tight")
plt.close(fig)
'''

FIG2 = '''\
KEY_LABELS = {"yoco_imbalance": "LBPE only", "yoco": "LBPE + balanced"}
acc_col = f"accuracy_{METRIC}" if f"accuracy_{METRIC}" in data else next(c for c in data if c.startswith("accuracy_"))
cells = list(data.groupby(["dataset", "condenser", "ipc_from", "ipc_to"], sort=True))
keys = [k for k in KEY_LABELS if k in set(data["key"])] + sorted(set(data["key"]) - set(KEY_LABELS))
ncols = min(3, len(cells))
nrows = -(-len(cells) // ncols)
fig, axes = plt.subplots(nrows, ncols, figsize=(4.8 * ncols, 3.4 * nrows), squeeze=False)
width = 0.8 / len(keys)
for i, ((ds, ck, ipcf, ipct), cell) in enumerate(cells):
    ax = axes.flat[i]
    for j, key in enumerate(keys):
        sub = cell[cell["key"] == key]
        if sub.empty:
            continue
        per_class = sub.groupby("class")["count"]
        mean, lo, hi = per_class.mean(), per_class.min(), per_class.max()
        x = mean.index.to_numpy() + (j - (len(keys) - 1) / 2) * width
        acc = sub[acc_col].iloc[0]
        acc_text = "not run" if np.isnan(acc) else f"{acc:.2f} %"
        n_reps = sub["rep"].nunique()
        ax.bar(x, mean.to_numpy(), width, yerr=[mean - lo, hi - mean] if n_reps > 1 else None, capsize=2,
               label=f"{KEY_LABELS.get(key, key)}: {acc_text}")
    ax.set_title(f"({chr(97 + i)}) {DATASET_NAMES.get(ds, ds)} {ck.upper()} IPC {ipcf}\\u2192{ipct}", fontsize=10)
    ax.set_xlabel("class")
    ax.set_ylabel("selected patches")
    ax.set_xticks(sorted(cell["class"].unique()))
    ax.legend(fontsize=8, title=f"{METRIC} accuracy", title_fontsize=8)
for ax in axes.flat[len(cells):]:
    ax.axis("off")
n_sel = data.groupby(["dataset", "condenser", "ipc_from", "ipc_to", "key"])["rep"].nunique()
fig.suptitle(
    "Fig. 2: per-class counts of selected decoded patches, ranked by LBPE, without and with balanced construction\\n"
    f"bars: mean over {span(n_sel)} selections (whiskers: min-max); legend: mean {METRIC} test accuracy",
    fontsize=10,
)
fig.tight_layout()
'''

FIG3 = '''\
# Turning points read from the paper's text (Sec. 4.4) for CIFAR-10.
PAPER_TURNING = {("cifar10", "IDC IPC10"): 0.24, ("cifar10", "IDC IPC50"): 0.38, ("cifar10", "Full IPC5000"): 0.72,
                 ("cifar10", "Full"): 0.72}
acc = f"{METRIC}_acc"


def zero_crossing(x, y):
    """First x where y goes from < 0 to >= 0, linearly interpolated (same rule as yoco.figures.zero_crossing,
    repeated so that the notebook needs only pandas and matplotlib)."""
    for i in range(len(x) - 1):
        if y[i] < 0 <= y[i + 1]:
            return x[i] + (x[i + 1] - x[i]) * (-y[i]) / (y[i + 1] - y[i])
    return float("nan")


def ipc_of(label):
    return int(label.rsplit("IPC", 1)[-1]) if "IPC" in label else 0


panels = sorted(data.groupby(["dataset", "dataset_label"]).groups, key=lambda k: (k[0], ipc_of(k[1])))
fig, axes = plt.subplots(2, len(panels), figsize=(4.6 * len(panels), 6.4), squeeze=False, sharex=True,
                         gridspec_kw={"height_ratios": [2, 1.3]})
for i, (ds, label) in enumerate(panels):
    sub = data[(data["dataset"] == ds) & (data["dataset_label"] == label)]
    means = sub.groupby(["order", "fraction_pruned"])[acc].mean().unstack("order")
    ax = axes[0, i]
    for order, style in (("easy", "-"), ("hard", "--")):
        if order in means:
            ax.plot(100 * means.index, means[order], style, color="C0" if order == "easy" else "C3",
                    label=f"{order}-first")
    n_runs = sub.groupby(["order", "fraction_pruned"]).size()
    ax.set_title(f"{DATASET_NAMES.get(ds, ds)} {label}\\n{span(n_runs)} runs per point", fontsize=10)
    ax.set_ylabel(f"{METRIC} test accuracy (%)")
    ax.legend(fontsize=8)
    ax = axes[1, i]
    if {"easy", "hard"} <= set(means.columns):
        diff = (means["easy"] - means["hard"]).dropna()
        x = 100 * diff.index.to_numpy()
        y = diff.to_numpy()
        ax.plot(x, y, "o-", color="k", label="easy \\u2212 hard")
        ax.fill_between(x, 0, y, where=y >= 0, color="0.8", interpolate=True, label="prefer easy")
        ax.fill_between(x, 0, y, where=y < 0, color="C0", alpha=0.3, interpolate=True, label="prefer hard")
        turn = zero_crossing(x, y)
        if not np.isnan(turn):
            ax.axvline(turn, color="k", lw=0.8)
            ax.annotate(f"ours: {turn:.0f} %", (turn, 0), xytext=(4, 6), textcoords="offset points", fontsize=8)
        paper = PAPER_TURNING.get((ds, label))
        if paper is not None:
            ax.axvline(100 * paper, color="C2", ls=":", lw=1)
            ax.annotate(f"paper: {100 * paper:.0f} %", (100 * paper, 0), xytext=(4, -12),
                        textcoords="offset points", fontsize=8, color="C2")
    ax.axhline(0, color="0.4", lw=0.8)
    ax.set_xlabel("pruning ratio (%)")
    ax.set_ylabel("accuracy difference")
    ax.legend(fontsize=7)
fig.suptitle("Fig. 3: easy-first vs hard-first pruning as the pruning ratio grows", fontsize=11)
fig.tight_layout()
'''

FIG5 = '''\
acc = f"{METRIC}_acc"
stats = data.groupby("lbpe_epoch")[acc].agg(["mean", "std", "count"])
fig, ax = plt.subplots(figsize=(7, 3.8))
ax.scatter(data["lbpe_epoch"], data[acc], s=6, color="0.7", label="single runs")
ax.plot(stats.index, stats["mean"], color="C0", label="mean")
ax.fill_between(stats.index, stats["mean"] - stats["std"].fillna(0), stats["mean"] + stats["std"].fillna(0),
                color="C0", alpha=0.2, label="\\u00b1 1 std")
ax.set_xlabel("training epoch t whose LBPE$_t$ score selects the samples (0 = first epoch)")
ax.set_ylabel(f"{METRIC} test accuracy (%)")
ax.legend(fontsize=8)
what = []
for col in ("dataset", "condenser", "ipc_from", "ipc_to", "key"):
    if col in data:
        vals = sorted(map(str, data[col].unique()))
        what.append(f"{col}={'/'.join(vals)}")
ax.set_title(
    "Fig. 5: accuracy of the set selected with LBPE from a single epoch\\n"
    + ", ".join(what) + f"; {span(stats['count'])} runs per epoch",
    fontsize=10,
)
fig.tight_layout()
'''

FIG7 = '''\
epochs = sorted(data["epoch"].unique())
classes = sorted(data["class"].unique())
fig, axes = plt.subplots(1, len(epochs), figsize=(4.2 * len(epochs), 3.6), squeeze=False, sharey=True)
cmap = plt.get_cmap("tab10" if len(classes) <= 10 else "viridis")
for ax, epoch in zip(axes[0], epochs):
    sub = data[data["epoch"] == epoch]
    for k, c in enumerate(classes):
        cls = sub[sub["class"] == c].sort_values("rank")
        ax.plot(cls["rank"], cls["lbpe"], color=cmap(k if len(classes) <= 10 else k / max(1, len(classes) - 1)),
                lw=1, label=f"class {c}")
    # data count epochs from 0; the paper writes LBPE_1 for the first epoch
    ax.set_title(f"LBPE$_{{{epoch + 1}}}$ (epoch index {epoch})", fontsize=10)
    ax.set_xlabel("rank within class (ascending)")
    ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
axes[0, 0].set_ylabel("LBPE score")
if len(classes) <= 10:
    axes[0, -1].legend(fontsize=7, ncol=2)
fig.suptitle(f"Fig. 7: per-class LBPE scores, sorted, at epochs {', '.join(str(e + 1) for e in epochs)} "
             f"({len(classes)} classes, {data.groupby(['epoch', 'class']).size().max()} samples per class)", fontsize=10)
fig.tight_layout()
'''

NOTEBOOKS = {
    "fig2": ("Figure 2: balanced vs imbalanced selection",
             "Per-class counts of decoded patches kept by LBPE ranking without (`yoco_imbalance`) and with "
             "(`yoco`) balanced construction, one panel per condensed set and IPC_F\u2192IPC_T, with the "
             "accuracies of both in the legend. Input: `yoco figure-data --figure 2`.", FIG2),
    "fig3": ("Figure 3: sample-importance rules depend on dataset size",
             "Accuracy after pruning easy-first and hard-first at ratios 10-90 %, and their difference; the "
             "zero crossing is the turning point (paper: 24 %, 38 %, 72 % for IDC IPC10, IPC50 and full "
             "CIFAR-10). Input: `yoco figure-data --figure 3`.", FIG3),
    "fig5": ("Figure 5: LBPE from single epochs",
             "Accuracy of the set selected with the LBPE score of one training epoch, for each epoch. "
             "Input: `yoco figure-data --figure 5`.", FIG5),
    "fig7": ("Figure 7: LBPE distributions per class",
             "Each class's LBPE scores sorted ascending, one panel per epoch. Input: `yoco figure-data --figure 7`.",
             FIG7),
}


def build(name: str) -> nbformat.NotebookNode:
    """The notebook ``name`` (``fig2``, ``fig3``, ``fig5`` or ``fig7``)."""
    title, text, body = NOTEBOOKS[name]
    nb = new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    nb.cells = [
        new_markdown_cell(f"# {title}\n\n{text}\n\nGenerated by `notebooks/make_notebooks.py`; edit that file."),
        new_code_cell(SETUP),
        new_code_cell(body),
        new_code_cell(SAVE),
    ]
    for i, cell in enumerate(nb.cells):
        cell.id = f"{name}-{i}"  # fixed ids keep regenerated files identical
    return nb


def main() -> None:
    for name in NOTEBOOKS:
        nbformat.write(build(name), HERE / f"{name}.ipynb")


if __name__ == "__main__":
    main()
