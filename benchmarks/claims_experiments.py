"""Targeted experiments behind docs/results-cifar10-cpu.md: why an ordering failed or surprised.

Each subcommand reads a finished `make claims-cpu` run (its config, decoded set, dynamics, scores and
selections), runs one experiment through the same code paths as the workflow (the ``yoco`` CLI, with
the arguments ``yoco.grid`` gives the rules), writes its raw rows under ``<root>/experiments/`` and
prints a markdown table::

    python benchmarks/claims_experiments.py ties               # tie share vs dynamics length (no training)
    python benchmarks/claims_experiments.py draws --reps 10    # random vs random_balance over 10 draws
    python benchmarks/claims_experiments.py epochs --epochs 1000 --keys random entropy el2n_easy yoco
    python benchmarks/claims_experiments.py condense --outer 40   # the claims on a longer condensation

``--npz`` must name the same data as the run (default: the mini CIFAR-10 of ../shared/data).
"""

from __future__ import annotations

import argparse
import math
import os
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from yoco import grid  # noqa: E402
from yoco.configcheck import merge_configs  # noqa: E402
from yoco.dynamics import Dynamics  # noqa: E402
from yoco.scores import score_table  # noqa: E402
from yoco.selection import parse_key, select, tie_decided  # noqa: E402

CONFIG = ROOT / "config" / "cifar10-cpu.yaml"
CK, DS, IPCF, NET = "idc", "cifar10", "10", "convnet"
SEED_PREFIX = f"{CK}/{DS}/{IPCF}"  # what workflow/rules/common.smk:seed_prefix gives the rules


def run_config(npz: str | None, *extra: dict) -> dict:
    base = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    cpu = yaml.safe_load(CONFIG.read_text())
    override = {"datasets": {DS: {"npz": npz}}} if npz else {}
    return merge_configs(base, cpu, override, *extra)


def cli(args: str, log: Path, out: Path | None = None) -> None:
    """Run one ``yoco`` command, unless its output ``out`` exists (a re-run only re-prints the tables)."""
    if out is not None and out.exists():
        return
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as out:
        proc = subprocess.run(
            [sys.executable, "-m", "yoco", *shlex.split(args)], cwd=ROOT, stdout=out, stderr=subprocess.STDOUT
        )
    if proc.returncode:
        sys.exit(f"yoco {args.split()[0]} failed; see {log}")


def mean_se(values: pd.Series) -> tuple[float, float]:
    v = values.to_numpy(dtype=float)
    return float(v.mean()), float(v.std(ddof=1) / math.sqrt(len(v))) if len(v) > 1 else float("nan")


# ------------------------------------------------------------------------------------------------ ties
def cmd_ties(a, config: dict) -> None:
    """Share of kept patches chosen by the tie rule when the dynamics are cut to their first T epochs."""
    root = Path(grid._root(config))
    d_dir = Path(grid.dynamics_dir(config, CK, DS, IPCF))
    labels = None
    rows = []
    for rep in grid.reps(config):
        full = Dynamics.load(d_dir / f"rep{rep}.npz")
        labels = full.labels
        for t in a.epochs:
            if t > full.num_epochs:
                continue
            cut = Dynamics(
                err_l2=full.err_l2[:t],
                correct=full.correct[:t],
                margin=full.margin[:t],
                labels=full.labels,
                num_classes=full.num_classes,
                loss=None if full.loss is None else full.loss[:t],
            )
            lbpe_e, lbpe_k = grid.lbpe(config, CK, DS)
            table = score_table(cut, min(lbpe_e, t), min(lbpe_k, t))
            for key in a.keys:
                rule = parse_key(key)
                for ipct in a.ipc_to:
                    idx = select(key, table, labels, int(IPCF), ipct, grid.factor(config, CK, DS), dataset=DS)
                    blocks = full.num_classes if rule.balance == "class" else None
                    rows.append(
                        {
                            "rep": rep,
                            "epochs": t,
                            "key": key,
                            "ipc_to": ipct,
                            "kept": len(idx),
                            "tie_decided": tie_decided(table[rule.score], idx, blocks),
                            "distinct_scores": len(np.unique(table[rule.score])),
                        }
                    )
    df = pd.DataFrame(rows)
    out = root / "experiments" / "ties.csv"
    out.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(out, index=False)
    df["share"] = 100 * df.tie_decided / df.kept
    view = df.groupby(["key", "ipc_to", "epochs"]).agg(share=("share", "mean"), distinct=("distinct_scores", "mean"))
    print(f"Tie-decided share of kept patches (mean over {df.rep.nunique()} dynamics reps) -> {out}\n")
    print("| key | IPC_T | " + " | ".join(f"{t} ep" for t in a.epochs) + " |")
    print("|---|---|" + "---|" * len(a.epochs))
    for (key, ipct), part in view.groupby(level=[0, 1]):
        cells = [
            f"{part.loc[(key, ipct, t), 'share']:.0f} % ({part.loc[(key, ipct, t), 'distinct']:.0f})"
            if (key, ipct, t) in part.index
            else "–"
            for t in a.epochs
        ]
        print(f"| {key} | {ipct} | " + " | ".join(cells) + " |")
    print("\n(in brackets: distinct score values among the 400 patches)")


# ----------------------------------------------------------------------------------------------- draws
def cmd_draws(a, config: dict) -> None:
    """More random draws: is a random-vs-random_balance difference more than the spread of draws?"""
    root = Path(grid._root(config))
    exp = root / "experiments" / "draws"
    decoded = grid.decoded_path(config, CK, DS, IPCF)
    real = grid.real_path(config, DS)
    frames = []
    for ipct in a.ipc_to:
        sel = exp / f"to{ipct}.json"
        pairs = " ".join(f"{k}@{r}" for k in a.keys for r in range(1, a.reps + 1))
        cli(
            f"select --pairs {pairs} --ipc-from {IPCF} --ipc-to {ipct} --decoded {shlex.quote(decoded)}"
            f" --seed-prefix {SEED_PREFIX} --dataset {DS} {grid.select_args(config)} --out {shlex.quote(str(sel))}",
            exp / f"select-to{ipct}.log",
            sel,
        )
        runs = exp / f"to{ipct}.csv"
        cli(
            f"evaluate --decoded {shlex.quote(decoded)} --real {shlex.quote(real)} --selections {shlex.quote(str(sel))}"
            f" {grid.evaluate_args(config, DS, NET)} {grid.device_args(config)} --out {shlex.quote(str(runs))}",
            exp / f"evaluate-to{ipct}.log",
            runs,
        )
        frames.append(pd.read_csv(runs))
    df = pd.concat(frames)
    dag = pd.concat(pd.read_csv(grid.runs_path(config, CK, DS, IPCF, t, NET)) for t in a.ipc_to)
    # The first reps are the DAG's own runs (same seeds): they must reproduce its numbers exactly.
    same = df.merge(dag, on=["ipc_to", "key", "rep", "init"], suffixes=("", "_dag"))
    if len(same):
        worst = (same.best_acc - same.best_acc_dag).abs().max()
        print(f"{len(same)} runs shared with the DAG; largest best_acc difference {worst:.4f}\n")
    print("| IPC_T | key | draws x inits | best acc mean ± se (over draws) | last acc mean ± se |")
    print("|---|---|---|---|---|")
    for (ipct, key), part in df.groupby(["ipc_to", "key"]):
        per_draw = part.groupby("rep")[["best_acc", "last_acc"]].mean()
        m, se = mean_se(per_draw.best_acc)
        ml, sel_ = mean_se(per_draw.last_acc)
        print(
            f"| {ipct} | {key} | {part.rep.nunique()} x {part.init.nunique()} | {m:.2f} ± {se:.2f} | {ml:.2f} ± {sel_:.2f} |"
        )
    if len(a.keys) >= 2:
        print()
        for ipct, part in df.groupby("ipc_to"):
            per = part.groupby(["key", "rep"]).best_acc.mean().unstack(0)
            base = a.keys[0]
            for other in a.keys[1:]:
                diff = per[other].mean() - per[base].mean()
                se = math.sqrt(per[other].var(ddof=1) / len(per) + per[base].var(ddof=1) / len(per))
                spread = per.groupby(np.arange(len(per)) // 3)[[other, base]].mean()
                batches = (spread[other] - spread[base]).round(2).tolist()
                print(
                    f"IPC_T {ipct}: {other} - {base} = {diff:+.2f} ± {se:.2f} over {len(per)} draws"
                    f" (by batches of 3 draws, as one table cell sees them: {batches})"
                )


# ---------------------------------------------------------------------------------------------- epochs
def cmd_epochs(a, config: dict) -> None:
    """The DAG's own selections trained for longer: does the evaluation budget change the ordering?"""
    root = Path(grid._root(config))
    exp = root / "experiments" / f"epochs{a.epochs}"
    decoded = grid.decoded_path(config, CK, DS, IPCF)
    real = grid.real_path(config, DS)
    longer = merge_configs(config, {"training": {"evaluate": {"epochs": a.epochs}}})
    print(f"| IPC_T | key | {config['training']['evaluate']['epochs']} epochs (DAG) | {a.epochs} epochs |")
    print("|---|---|---|---|")
    for ipct in a.ipc_to:
        runs = exp / f"to{ipct}.csv"
        cli(
            f"evaluate --decoded {shlex.quote(decoded)} --real {shlex.quote(real)}"
            f" --selections {shlex.quote(grid.selection_path(config, CK, DS, IPCF, ipct))} --keys {' '.join(a.keys)}"
            f" {grid.evaluate_args(longer, DS, NET)} {grid.device_args(config)} --out {shlex.quote(str(runs))}",
            exp / f"evaluate-to{ipct}.log",
            runs,
        )
        df = pd.read_csv(runs)
        dag = pd.read_csv(grid.runs_path(config, CK, DS, IPCF, ipct, NET))
        for key in a.keys:
            short, long_ = dag[dag.key == key].best_acc, df[df.key == key].best_acc
            print(
                f"| {ipct} | {key} | {short.mean():.2f} ± {short.std(ddof=0):.2f}"
                f" | {long_.mean():.2f} ± {long_.std(ddof=0):.2f} |"
            )


# -------------------------------------------------------------------------------------------- condense
def cmd_condense(a, config: dict) -> None:
    """The same grid on a longer IDC condensation (a new output root; the DAG of the variant)."""
    name = f"condense{a.outer}x{a.inner}"
    base_root = grid._root(config)
    variant = {
        "output_root": f"{base_root}-{name}",
        "figures_root": f"{config['figures_root']}-{name}",
        "condensation": {CK: {DS: {"outer": a.outer, "inner": a.inner}}},
        "enabled": {"tables": [1, 2, 4, 5]},
        "tables": {
            "table1": {
                "cells": [{"dataset": DS, "ipc_from": int(IPCF), "ipc_to": a.ipc_to}],
                "methods": [{"condenser": CK, "keys": a.keys}],
                "unpruned": True,
            },
            "table2": {
                "cells": [{"dataset": DS, "ipc_from": int(IPCF), "ipc_to": a.ipc_to}],
                "methods": [{"condenser": CK, "keys": ["random_balance", "yoco_imbalance", "yoco"]}],
            },
            "table4": {
                "cells": [{"dataset": DS, "ipc_from": int(IPCF), "ipc_to": a.ipc_to}],
                "methods": [{"condenser": CK, "keys": ["el2n_easy", "forgetting_easy", "yoco"]}],
            },
            "table5": {
                "cells": [{"dataset": DS, "ipc_from": int(IPCF), "ipc_to": a.ipc_to}],
                "methods": [{"condenser": CK, "keys": ["random_balance", "entropy_balance", "yoco_balance"]}],
            },
        },
    }
    out_root = Path(variant["output_root"])
    out_root.mkdir(parents=True, exist_ok=True)
    extra = out_root / "variant.yaml"
    extra.write_text(yaml.safe_dump(variant, sort_keys=False))
    cmd = ["snakemake", "--cores", str(a.cores), "--configfile", str(CONFIG), str(extra)]
    if a.npz:
        cmd += ["--config", f"datasets={{{DS}: {{npz: {a.npz}}}}}"]
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    with open(out_root / "snakemake.log", "w") as log:
        if subprocess.run(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env).returncode:
            sys.exit(f"the variant's DAG failed; see {out_root / 'snakemake.log'}")
    varied = merge_configs(config, variant)
    print(f"| IPC_T | key | {base_root} (outer {config['condensation'][CK][DS]['outer']}) | {name} |")
    print("|---|---|---|---|")
    for ipct in a.ipc_to:
        old = pd.read_csv(grid.runs_path(config, CK, DS, IPCF, ipct, NET))
        new = pd.read_csv(grid.runs_path(varied, CK, DS, IPCF, ipct, NET))
        for key in sorted(set(new.key)):
            o, n = old[old.key == key].best_acc, new[new.key == key].best_acc
            print(f"| {ipct} | {key} | {o.mean():.2f} ± {o.std(ddof=0):.2f} | {n.mean():.2f} ± {n.std(ddof=0):.2f} |")
    for path in (f"{base_root}/table1.csv", f"{variant['output_root']}/table1.csv"):
        table = pd.read_csv(path)
        print(f"\n{path}:\n{table.to_string(index=False)}")


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--npz", default=str(ROOT.parent / "shared" / "data" / "cifar10-mini.npz"))
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("ties")
    t.add_argument("--epochs", type=int, nargs="+", default=[30, 100, 150, 300, 500])
    t.add_argument("--keys", nargs="+", default=["forgetting_easy", "forgetting", "forgetting_balance", "yoco"])
    t.add_argument("--ipc-to", type=int, nargs="+", default=[1, 2])
    d = sub.add_parser("draws")
    d.add_argument("--reps", type=int, default=10)
    d.add_argument("--keys", nargs="+", default=["random_imbalance", "random_balance"])
    d.add_argument("--ipc-to", type=int, nargs="+", default=[1, 2])
    e = sub.add_parser("epochs")
    e.add_argument("--epochs", type=int, default=1000)
    e.add_argument("--keys", nargs="+", default=["random", "random_balance", "entropy", "entropy_balance", "el2n_easy"])
    e.add_argument("--ipc-to", type=int, nargs="+", default=[1])
    c = sub.add_parser("condense")
    c.add_argument("--outer", type=int, default=40)
    c.add_argument("--inner", type=int, default=20)
    c.add_argument("--keys", nargs="+", default=["random", "entropy", "el2n", "forgetting", "yoco"])
    c.add_argument("--ipc-to", type=int, nargs="+", default=[1])
    c.add_argument("--cores", type=int, default=2)
    a = p.parse_args(argv)
    if a.npz and not Path(a.npz).exists():
        a.npz = None  # torchvision's CIFAR-10, as `make claims-cpu` without NPZ
    config = run_config(a.npz)
    {"ties": cmd_ties, "draws": cmd_draws, "epochs": cmd_epochs, "condense": cmd_condense}[a.cmd](a, config)


if __name__ == "__main__":
    main()
