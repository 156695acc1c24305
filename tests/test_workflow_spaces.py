"""The test config runs from a checkout whose path, and both output roots, contain spaces.

Unquoted paths once turned ``> {log}`` under ``output_root: /data/my results`` into a write to
``/data/my``, overwriting a file outside the output root (issue 11). This runs a part of the test
config that uses every kind of rule (real data, in-house condensation, import of the real set, decode,
dynamics, scores, selections, evaluations of all three kinds, table rows, a table, figure data and a
figure notebook) and checks that nothing outside the two roots changed, decoy files named like the
pieces a split path would produce included.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))

pytestmark = pytest.mark.slow


def _copy_checkout(dest: Path) -> None:
    try:
        files = (
            subprocess.run(
                ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                cwd=REPO,
                capture_output=True,
                check=True,
            )
            .stdout.decode()
            .split("\0")
        )
    except (OSError, subprocess.CalledProcessError):
        files = None
    if files is None:
        shutil.copytree(
            REPO,
            dest,
            ignore=shutil.ignore_patterns(".git", ".venv", "results", "figures", ".snakemake", "__pycache__"),
        )
        return
    for name in filter(None, files):
        src = REPO / name
        if src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)


def _snapshot(base: Path, skip: list[Path]) -> dict:
    out = {}
    for p in sorted(base.rglob("*")):
        if any(p == s or s in p.parents for s in skip) or "__pycache__" in p.parts:
            continue
        out[str(p.relative_to(base))] = hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
    return out


def test_a_run_with_spaces_in_every_path_writes_only_inside_its_roots(tmp_path):
    base = tmp_path  # no space up to here, so a split path lands in base
    checkout = base / "my checkout"
    checkout.mkdir(parents=True)
    _copy_checkout(checkout)
    results, figures = base / "out dir" / "my results", base / "out dir" / "my figs"
    results.parent.mkdir()
    # Decoys where a path split at its first space would write: "<base>/out ..." and "<base>/my ...".
    for decoy in (base / "out", base / "my"):
        decoy.write_text("must survive\n")
    skip = [results, figures, checkout / ".snakemake"]
    before = _snapshot(base, skip)

    targets = [results / "table2.csv", results / "figure_data" / "fig3.csv", figures / "fig5.png"]
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    env.pop("PYTHONPATH", None)  # the jobs import yoco from the checkout copy (`python -m yoco` in its folder)
    proc = subprocess.run(
        [
            SNAKEMAKE,
            "--cores",
            "2",
            *map(str, targets),
            "--configfile",
            "config/test.yaml",
            "--config",
            f"output_root={results}",
            f"figures_root={figures}",
        ],
        cwd=checkout,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    after = _snapshot(base, skip)
    changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
    assert not changed, f"files outside the output roots were written or changed: {changed}"
    assert proc.returncode == 0, proc.stderr[-5000:]
    table = pd.read_csv(results / "table2.csv")
    assert len(table) > 0 and (table.n_runs > 0).all()
    assert len(pd.read_csv(results / "figure_data" / "fig3.csv")) > 0
    assert (figures / "fig5.png").stat().st_size > 1000
    assert (results / "logs" / "figures" / "fig5.ipynb").exists()  # the executed notebook is kept too
    for rule in (
        "real_data",
        "condense",
        "import",
        "decode",
        "dynamics",
        "scores",
        "select",
        "evaluate",
        "evaluate_fractions",
        "evaluate_epochs",
        "table_rows",
        "table",
        "figure_data",
    ):
        assert (results / "logs" / rule).is_dir(), f"no {rule} job ran: the test no longer covers it"
    assert not list(base.rglob("*.tmp*")), "a temporary file was left behind"
