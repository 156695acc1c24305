from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
CIFAR_MINI = SHARED_DATA / "cifar10-mini.npz"


@pytest.fixture(autouse=True)
def _seeded_global_generators():
    """Every test starts from the same global torch and numpy state, so a draw a test forgot to seed is
    the same draw in every run and in any test order (an unseeded finite difference once failed CI one
    run in twenty)."""
    import torch

    torch.manual_seed(0)
    np.random.seed(0)


@pytest.fixture
def cifar_mini():
    """Real CIFAR-10 (5 000 train, 3 000 test) when ../shared/data is present; skipped otherwise."""
    if not CIFAR_MINI.exists():
        pytest.skip("../shared/data/cifar10-mini.npz not present")
    return np.load(CIFAR_MINI)


def snakemake_test_config(out: Path, *extra: str, targets: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    """Snakemake on config/test.yaml with its outputs under ``out`` (results/, figures/); ``targets``
    (default: everything) come first, as ``extra`` follows ``--config``'s values."""
    bindir = Path(sys.executable).parent
    env = dict(os.environ, PATH=f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}")
    cmd = [
        str(bindir / "snakemake"),
        *targets,
        "--cores",
        "2",
        "--configfile",
        "config/test.yaml",
        "--config",
        f"output_root={out}/results",
        f"figures_root={out}/figures",
        *extra,
    ]
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="session")
def test_config_run(tmp_path_factory) -> Path:
    """The whole DAG of config/test.yaml, run once per session and shared by the end-to-end, notebook
    and report tests (about two minutes on 2 cores). Returns the folder holding results/ and figures/, and
    terminal.txt: what Snakemake printed."""
    out = tmp_path_factory.mktemp("e2e")
    proc = snakemake_test_config(out)
    assert proc.returncode == 0, proc.stderr[-5000:]
    (out / "terminal.txt").write_text(proc.stdout + proc.stderr)
    return out
