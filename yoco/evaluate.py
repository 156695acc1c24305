"""The evaluation protocol: every selection is trained with several network initialisations.

The paper averages "over three different training dynamics, each evaluated with three different network
initialisations" (reference-spec §4.5): per pruning key, 3 selections (one per dynamics rep, or 3 random
draws) × 3 inits = 9 runs. All runs of one cell and network are handed to the batched trainer at once.
"""

from __future__ import annotations

import platform
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
import torch

from . import __version__
from .progress import Progress
from .seeding import seed_from
from .train import NetworkSpec, TrainConfig, train_models


@dataclass(frozen=True)
class Selection:
    """One selection of decoded patches: what a ``yoco select`` JSON file holds."""

    key: str
    rep: int
    indices: np.ndarray
    dataset: str = ""
    condenser: str = ""
    ipc_from: int = 0
    ipc_to: int = 0
    factor: int = 1
    seed: int = 0
    extra: dict | None = None  # columns that identify figure variants (fraction, order, lbpe_epoch)
    tie_decided: int | None = None  # kept patches the tie rule chose (yoco.selection.tie_decided); None: no score


def run_seed(selection: Selection, network: str, init: int) -> int:
    """The seed of one evaluation run, derived from everything that identifies it."""
    extra = tuple(sorted((selection.extra or {}).items()))
    return seed_from(
        "evaluate",
        selection.dataset,
        selection.condenser,
        selection.ipc_from,
        selection.ipc_to,
        selection.key,
        selection.rep,
        network,
        init,
        *extra,
    )


def git_commit() -> str:
    """The commit of the checkout this package runs from, or 'unknown' outside a git checkout."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=5,
        )
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def evaluate_selections(
    selections: Sequence[Selection],
    pool_x: torch.Tensor,
    pool_y: torch.Tensor,
    test_x: torch.Tensor,
    test_y: torch.Tensor,
    spec: NetworkSpec,
    config: TrainConfig,
    inits: int = 3,
    device: str | torch.device = "cpu",
    progress: Progress | None = None,
) -> pd.DataFrame:
    """Train ``inits`` networks on every selection; one row per trained network.

    The rows carry ``yoco.tables.RUN_COLUMNS`` plus how they ran (``models_in_batch``, ``engine``,
    ``compiled``) and any figure columns (``Selection.extra``); ``yoco.tables.aggregate_runs`` turns
    them into means and stds. ``progress`` (a :class:`yoco.progress.Progress`) follows the training.
    """
    runs = [(s, init) for s in selections for init in range(1, inits + 1)]
    seeds = [run_seed(s, spec.name, init) for s, init in runs]
    results = train_models(
        spec,
        pool_x,
        pool_y,
        [s.indices for s, _ in runs],
        seeds,
        config,
        test_x=test_x,
        test_y=test_y,
        device=device,
        progress=progress,
    )
    device_name = (
        torch.cuda.get_device_name(device) if torch.device(device).type == "cuda" else platform.processor() or "cpu"
    )
    commit = git_commit()
    rows = []
    for (sel, init), seed, res in zip(runs, seeds, results):
        row = {
            "dataset": sel.dataset,
            "condenser": sel.condenser,
            "ipc_from": sel.ipc_from,
            "ipc_to": sel.ipc_to,
            "key": sel.key,
            "network": spec.name,
            "rep": sel.rep,
            "init": init,
            "seed": seed,
            "n_selected": len(sel.indices),
            "tie_decided": sel.tie_decided,
            "best_acc": res.best_acc,
            "last_acc": res.last_acc,
            "epochs": config.epochs,
            "wall_s": round(res.wall_s, 3),
            "models_in_batch": res.models_in_batch,
            "engine": res.settings.get("engine"),
            "compiled": res.settings.get("compiled"),
            "device": device_name,
            "torch_version": torch.__version__,
            "yoco_version": __version__,
            "git_commit": commit,
        }
        row.update(sel.extra or {})
        rows.append(row)
    return pd.DataFrame(rows)
