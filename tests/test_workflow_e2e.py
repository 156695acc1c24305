"""The whole DAG on a tiny config: every table and figure is produced, and reruns redo only what is missing."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from conftest import snakemake_test_config as _snakemake

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def run(test_config_run):
    return test_config_run


def test_every_table_is_written_with_runs_in_range(run):
    results = run / "results"
    for n in range(1, 8):
        table = pd.read_csv(results / f"table{n}.csv")
        assert len(table) > 0, f"table{n} is empty"
        if n == 6:
            continue
        assert {"dataset", "condenser", "ipc_from", "ipc_to", "key", "network", "mean_best", "n_runs"} <= set(
            table.columns
        )
        ran = table.dropna(subset=["mean_best"])
        assert len(ran) == len(table), f"table{n} has rows without runs"
        assert ran.mean_best.between(0, 100).all() and ran.mean_last.between(0, 100).all()
    t1 = pd.read_csv(results / "table1.csv")
    # test.yaml: 8 IDC keys + DREAM random at 10→1, plus the unpruned IPC_F column; 2 reps x 2 inits each.
    assert set(t1.key) == {"random", "ssp", "entropy", "accumulated_margin", "forgetting", "el2n", "ccs", "yoco"}
    pruned = t1[t1.ipc_to == 1]
    assert (pruned.n_runs == 4).all()
    t3 = pd.read_csv(results / "table3.csv")
    assert set(t3.network) == {"convnet", "resnet10bn", "densenet"}


def test_inhouse_mtt_goes_experts_then_distillation_then_import(run):
    import json

    from yoco.condensed import CondensedSet

    results = run / "results"
    assert (results / "experts" / "digits" / "experts.pt").is_file()
    folder = results / "condensed" / "mtt" / "digits" / "ipc10"
    assert {"images_best.pt", "labels_best.pt", "meta.json"} <= {p.name for p in folder.iterdir()}
    # test.yaml trains normalised experts: the set is in the test images' space, and import says so.
    assert json.loads((folder / "meta.json").read_text())["value_space"] == "normalized"
    cs = CondensedSet.load(results / "imported" / "mtt" / "digits" / "ipc10.pt")
    assert (cs.condenser, cs.ipc, cs.factor, cs.value_space) == ("mtt", 10, 1, "normalized")
    # Table 2's MTT rows, with the paper's CIFAR-10 numbers beside them (digits stands in for CIFAR-10).
    t2 = pd.read_csv(results / "table2.csv")
    mtt = t2[t2.condenser == "mtt"].set_index("key")
    assert set(mtt.index) == {"random", "yoco"} and (mtt.n_runs == 4).all()
    assert mtt.loc["random", "published"] == pytest.approx(19.75) and mtt.loc["yoco", "published"] == pytest.approx(
        22.02
    )
    assert set(mtt.paper_dataset) == {"cifar10"}


def test_every_run_row_traces_to_its_seed(run):
    runs = pd.concat([pd.read_csv(p) for p in (run / "results" / "runs").rglob("*.csv")])
    assert runs.seed.notna().all()
    assert not runs.duplicated(["dataset", "condenser", "ipc_from", "ipc_to", "key", "network", "rep", "init"]).any()


def test_every_figure_is_rendered(run):
    for n in (2, 3, 5, 7):
        for ext in ("png", "pdf"):
            path = run / "figures" / f"fig{n}.{ext}"
            assert path.exists() and path.stat().st_size > 1000, path


def test_rerun_after_losing_an_output_redoes_only_that_job(run):
    (run / "results" / "table3.csv").unlink()
    proc = _snakemake(run, "-n", "--quiet", "rules")
    assert proc.returncode == 0, proc.stderr[-3000:]
    planned = proc.stdout + proc.stderr
    assert "table " in planned or "table\n" in planned
    for heavy in ("condense", "dynamics", "evaluate", "scores"):
        assert f"\n{heavy} " not in planned, planned
    assert _snakemake(run).returncode == 0
    assert (run / "results" / "table3.csv").exists()
    assert not list(run.rglob("*.tmp*")), "a temporary file was left behind"


def test_training_progress_goes_to_the_job_logs_not_the_terminal(run):
    logs = [
        log
        for stage in ("evaluate", "evaluate_fractions", "evaluate_epochs", "dynamics")
        for log in (run / "results" / "logs" / stage).rglob("*.log")
    ]
    assert logs
    for log in logs:
        text = log.read_text()
        assert ": started, " in text and ": done | " in text, log
    terminal = (run / "terminal.txt").read_text()
    assert ": started, " not in terminal and "ETA" not in terminal  # Snakemake's own lines only


def test_the_full_run_leaves_no_snapshot_behind(run):
    assert not list((run / "results" / "snapshots").rglob("*.pt"))


def test_a_killed_expert_job_resumes_from_its_snapshot_when_the_workflow_reruns(tmp_path, monkeypatch):
    """A job killed mid-way (Ctrl-C, a SLURM time limit) leaves its snapshot where the rule looks for it,
    and the rerun continues from there to the same trajectories as an uninterrupted run."""
    import shlex

    import torch
    import yaml

    from conftest import REPO
    from yoco import grid, progress
    from yoco.cli import main
    from yoco.condense.experts import Experts

    config = yaml.safe_load((REPO / "config/config.yaml").read_text())
    for key, value in yaml.safe_load((REPO / "config/test.yaml").read_text()).items():
        config[key] = (
            {**config[key], **value} if isinstance(value, dict) and isinstance(config.get(key), dict) else value
        )
    config["output_root"] = f"{tmp_path}/results"
    real = f"{tmp_path}/results/real/digits.npz"
    assert _snakemake(tmp_path, targets=(real,)).returncode == 0
    snapshot = Path(grid.experts_snapshot(config, "digits"))
    job = ["experts", "--real", real, *shlex.split(grid.experts_args(config, "digits")), "--device", "cpu"]
    # In-process runs take the rule's thread count: CPU kernels sum in another order on another number
    # of threads, so only runs on equal counts are bit-identical (the rule always runs on its own).
    threads = torch.get_num_threads()
    torch.set_num_threads(config["threads"]["condense"])
    try:
        # The job as the rule runs it, stopped by Ctrl-C after its second of 3 epochs (a snapshot every epoch).
        reports = []

        def interrupted(self, *args, **kwargs):
            reports.append(args)
            if len(reports) == 2:
                raise KeyboardInterrupt

        with monkeypatch.context() as m:
            m.setattr(progress.Progress, "advance", interrupted)
            assert main([*job, "--snapshot", str(snapshot), "--out", str(tmp_path / "never.pt")]) == 130
        assert Experts.load(snapshot).epochs_done == [2, 2] and not (tmp_path / "never.pt").exists()

        experts = tmp_path / "results/experts/digits/experts.pt"
        proc = _snakemake(tmp_path, targets=(str(experts),))
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert "experts: resumed at 66.7%" in (tmp_path / "results/logs/experts/digits.log").read_text()
        assert not snapshot.exists()  # the rule removes it once the output is written
        assert main([*job, "--out", str(tmp_path / "uninterrupted.pt")]) == 0
    finally:
        torch.set_num_threads(threads)
    resumed, whole = Experts.load(experts), Experts.load(tmp_path / "uninterrupted.pt")
    assert resumed.complete and torch.equal(resumed.trajectories, whole.trajectories)
