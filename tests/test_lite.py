"""The real-data check (config/cifar10-lite.yaml): its grid, the `yoco claims` command, and the
whole DAG on real CIFAR-10 in the shrunk CPU form (config/cifar10-lite-ci.yaml), ending in claims.csv.

Expected numbers are derived from the configs and the claim definitions (yoco.claims), not read
off a run: which keys each cell trains, how many claim rows each IPC_T can test, and the mean
difference and standard error of hand-made runs.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from yoco import grid
from yoco.cli import main as cli_main
from yoco.errors import YocoError
from yoco.published import published

REPO = Path(__file__).resolve().parents[1]
CIFAR_MINI = REPO.parent / "shared" / "data" / "cifar10-mini.npz"
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))

T1_KEYS = ["random", "ssp", "entropy", "accumulated_margin", "forgetting", "el2n", "ccs", "yoco"]
HARD_FIRST = ["accumulated_margin", "forgetting", "el2n"]
T5_BASES = ["random", "ssp", "entropy", "accumulated_margin", "forgetting", "el2n", "yoco"]


def _load(*names: str) -> dict:
    """config/config.yaml with each named config layered on it, as Snakemake does (mappings merge)."""

    def merge(base, over):
        out = dict(base)
        for k, v in over.items():
            out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
        return out

    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    for name in names:
        config = merge(config, yaml.safe_load((REPO / "config" / name).read_text()))
    return config


@pytest.fixture(scope="module")
def lite():
    return _load("cifar10-lite.yaml")


# ------------------------------------------------------------------------------------------ the grid
def test_lite_trains_the_cells_its_comments_cost(lite):
    grid.validate(lite)
    jobs = {(j.ck, j.ds, j.ipcf, j.ipct, j.net): j for j in grid.eval_jobs(lite)}
    assert set(jobs) == {("idc", "cifar10", "10", t, "convnet") for t in ("1", "2", "5", "10")}
    keys = {t: {k for k, _ in jobs[("idc", "cifar10", "10", t, "convnet")].selections} for t in ("1", "2", "5")}
    t5 = {f"{b}_{s}" for b in T5_BASES for s in ("balance", "imbalance")}
    # 10->1 carries Table 1, Table 2's two extra keys, Table 4's easy-first keys and Table 5.
    assert keys["1"] == set(T1_KEYS) | {"random_balance", "yoco_imbalance"} | {f"{x}_easy" for x in HARD_FIRST} | t5
    assert len(keys["1"]) == 25
    assert keys["2"] == keys["5"] == set(T1_KEYS) | t5 and len(keys["2"]) == 22
    # Every key: 3 selections (reps / random draws); the IPC_F column: 1 selection of all patches.
    assert all(sorted({r for _, r in j.selections}) == ([1] if j.ipct == "10" else [1, 2, 3]) for j in jobs.values())
    # The cost arithmetic in the config's comments: model-steps per epoch, batch 64, 3 inits, f = 2
    # (4 patches per image): 40 patches at IPC_T 1 -> 1 batch, 80 -> 2, 200 -> 4, 400 -> 7.
    inits = lite["training"]["evaluate"]["inits"]
    steps = sum(len(j.selections) * inits * math.ceil(10 * int(j.ipct) * 4 / 64) for j in jobs.values())
    assert steps == 225 + 396 + 792 + 21 == 1434
    assert grid.dynamics_sets(lite) == [("idc", "cifar10", "10")]
    assert "dream" not in {s.ck for s in grid.condensed_sets(lite)}


def test_lite_writes_its_own_root_and_checks_the_claims(lite):
    assert lite["output_root"] == "results/cifar10-lite" and lite["figures_root"] == "figures/cifar10-lite"
    assert lite["device"] == "cuda" and lite["networks"]["convnet"]["width"] == 128
    root = "results/cifar10-lite/runs/idc/cifar10/ipc10"
    # The unpruned IPC_F column (to10) takes part in no claim.
    assert grid.claims_inputs(lite) == [f"{root}/to{t}/convnet.csv" for t in (1, 2, 5)]
    assert grid.claims_targets(lite) == ["results/cifar10-lite/claims.csv"]


def test_ci_form_is_the_same_grid_shrunk(lite):
    ci = _load("cifar10-lite.yaml", "cifar10-lite-ci.yaml")
    grid.validate(ci)
    shape = lambda c: [(j.ck, j.ds, j.ipcf, j.ipct, j.net, j.selections) for j in grid.eval_jobs(c)]  # noqa: E731
    assert shape(ci) == shape(lite)
    assert ci["reps"] == 3 and ci["training"]["evaluate"]["inits"] == 3
    assert ci["device"] == "cpu" and ci["datasets"]["cifar10"]["image_size"] == 8
    assert [Path(p).name for p in grid.claims_inputs(ci)] == ["convnet.csv"] * 3


def test_cpu_config_runs_the_issue_grid_on_two_cores():
    """config/cifar10-cpu.yaml: the IPC_F 10 cells of Tables 1, 2, 4, 5 at IPC_T 1 and 2, 3 x 3 runs per key,
    on the CPU, with the budget its header and docs/results-cifar10-cpu.md account for."""
    cpu = _load("cifar10-cpu.yaml")
    grid.validate(cpu)
    assert cpu["device"] == "cpu" and cpu["datasets"]["cifar10"]["image_size"] == 32
    assert cpu["threads"]["training"] == 2 and cpu["networks"]["convnet"]["width"] == 32
    jobs = {j.ipct: j for j in grid.eval_jobs(cpu)}
    assert set(jobs) == {"1", "2", "10"}
    keys = {t: {k for k, _ in jobs[t].selections} for t in ("1", "2")}
    t5 = {f"{b}_{s}" for b in T5_BASES for s in ("balance", "imbalance")}
    assert keys["1"] == set(T1_KEYS) | {"random_balance", "yoco_imbalance"} | {f"{x}_easy" for x in HARD_FIRST} | t5
    assert keys["2"] == set(T1_KEYS) | t5
    assert cpu["reps"] == 3 and cpu["training"]["evaluate"]["inits"] == 3
    # 25 + 22 keys x 9 runs + the unpruned column's 3: the 426 trainings of the results page.
    assert sum(len(j.selections) for j in jobs.values()) * cpu["training"]["evaluate"]["inits"] == 426
    assert grid.claims_targets(cpu) == ["results/cifar10-cpu/claims.csv"]
    assert cpu["condensers"]["idc"]["lbpe"]["cifar10"] == {"epochs": 100, "top_k": 10}
    assert cpu["training"]["dynamics"]["epochs"] >= cpu["condensers"]["idc"]["lbpe"]["cifar10"]["epochs"]


def test_claims_target_only_where_claims_can_be_tested():
    # The paper's grid has CIFAR-10 IPC_F 10 cells; the digits configs have none.
    assert grid.claims_targets(_load()) == ["results/claims.csv"]
    for name in ("quickstart.yaml", "test.yaml"):
        config = _load(name)
        assert grid.claims_targets(config) == [] and grid.claims_inputs(config) == []
        with pytest.raises(YocoError, match="cifar10 IPC_F 10"):
            grid.claims_inputs(config, required=True)


# ------------------------------------------------------------------------------------------ the CLI
def _runs(key: str, values: list[float], ipc_to: int = 1) -> list[dict]:
    """3 reps x 3 inits; init i of every rep scores values[i - 1]."""
    return [
        dict(
            dataset="cifar10",
            condenser="idc",
            ipc_from=10,
            ipc_to=ipc_to,
            key=key,
            network="convnet",
            rep=rep,
            init=init,
            best_acc=v,
            last_acc=v - 2.0,
        )
        for rep in (1, 2, 3)
        for init, v in zip((1, 2, 3), values)
    ]


def test_yoco_claims_command_writes_and_prints_the_table(tmp_path, capsys):
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    pd.DataFrame(_runs("yoco", [41.0, 42.0, 43.0])).to_csv(a, index=False)
    pd.DataFrame(_runs("random", [29.0, 30.0, 31.0]) + _runs("el2n", [44.0, 44.0, 44.0])).to_csv(b, index=False)
    out = tmp_path / "claims.csv"
    assert cli_main(["claims", "--runs", str(a), str(b), "--out", str(out)]) == 0
    df = pd.read_csv(out)
    # yoco vs random is testable twice (Table 1's baseline, Table 2's ablation), yoco vs el2n once.
    assert sorted(zip(df.claim, df.key_b)) == [
        ("yoco_beats_baseline", "el2n"),
        ("yoco_beats_baseline", "random"),
        ("yoco_best_in_ablation", "random"),
    ]
    r = df[(df.claim == "yoco_beats_baseline") & (df.key_b == "random")].iloc[0]
    # Means 42 and 30; each side's 9 values deviate by -1, 0, +1 three times: var (ddof 1) = 6/8, so
    # se = sqrt(2 * 0.75 / 9) = sqrt(1/6).
    assert (r.n_a, r.n_b, r.ours_a, r.ours_b, r["diff"]) == (9, 9, 42.0, 30.0, 12.0)
    assert r.se == pytest.approx(math.sqrt(1 / 6))
    assert bool(r.holds) and bool(r.significant)
    pub = published(1)

    def paper(key):
        cell = (pub.dataset == "cifar10") & (pub.condenser == "idc") & (pub.ipc_from == 10) & (pub.ipc_to == 1)
        return pub[cell & (pub.key == key)].value.iloc[0]

    assert (r.paper_a, r.paper_b) == pytest.approx((paper("yoco"), paper("random")))
    e = df[df.key_b == "el2n"].iloc[0]
    # el2n's runs are constant (var 0): se = sqrt(0.75 / 9); diff -2 < 0, the claim fails.
    assert e["diff"] == -2.0 and e.se == pytest.approx(math.sqrt(0.75 / 9)) and not e.holds and not e.significant
    printed = capsys.readouterr().out
    assert "FAILS" in printed and "holds*" in printed
    assert "2/3 claims hold (diff > 0), 2/3 by more than 2 standard errors" in printed
    # last_acc is best_acc - 2 on both sides: the same differences.
    assert cli_main(["claims", "--runs", str(a), str(b), "--metric", "last", "--out", str(out)]) == 0
    assert pd.read_csv(out)["diff"].tolist() == df["diff"].tolist()


def test_yoco_claims_command_rejects_a_missing_runs_file(tmp_path, capsys):
    assert cli_main(["claims", "--runs", str(tmp_path / "nope.csv"), "--out", str(tmp_path / "c.csv")]) == 2
    assert "does not exist" in capsys.readouterr().err


# ------------------------------------------------------------------------------------------ end to end
@pytest.fixture(scope="module")
def lite_run(tmp_path_factory):
    """config/cifar10-lite.yaml + cifar10-lite-ci.yaml through Snakemake on a slice of the mini CIFAR-10.

    The slice (the first 64 training images of each class, as many as IDC's real batch; the first 500
    lossless test images) keeps
    the 624 evaluation trainings' test passes and the data preparation small; it is handed over with
    the documented `--config 'datasets={cifar10: {npz: ...}}'` override.
    """
    if not CIFAR_MINI.exists():
        pytest.skip("../shared/data/cifar10-mini.npz not present")
    out = tmp_path_factory.mktemp("lite")
    with np.load(CIFAR_MINI) as z:
        keep = np.concatenate([np.flatnonzero(z["y_train"] == c)[:64] for c in range(10)])
        keep.sort()  # the original order, so IDC's mix initialisation takes each class's first images
        test = np.arange(500)
        assert not z["test_is_jpeg"][test].any()
        np.savez(
            out / "cifar10-slice.npz",
            x_train=z["x_train"][keep],
            y_train=z["y_train"][keep],
            x_test=z["x_test"][test],
            y_test=z["y_test"][test],
            class_names=z["class_names"],
        )
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    # --force-use-threads: the `run:` rules (table_rows) then run in-process; by default Snakemake
    # spawns a fresh Snakemake per such job, ~5-10 s of re-parsing each on 2 cores.
    cmd = [
        SNAKEMAKE,
        "--cores",
        "2",
        "--force-use-threads",
        "--configfile",
        "config/cifar10-lite.yaml",
        "config/cifar10-lite-ci.yaml",
        "--config",
        f"output_root={out}/results",
        f"figures_root={out}/figures",
        f"datasets={{cifar10: {{npz: {out}/cifar10-slice.npz}}}}",
    ]
    start = time.monotonic()
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-5000:]
    return out / "results", proc.stdout + proc.stderr, time.monotonic() - start


@pytest.mark.slow
def test_lite_ci_runs_end_to_end_into_claims(lite_run):
    results, log, _ = lite_run
    df = pd.read_csv(results / "claims.csv")
    assert list(df.columns) == [
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
    # Score keys carry the share of their kept patches that the tie rule chose; random/SSP/CCS do not.
    for side in ("a", "b"):
        scored = ~df[f"key_{side}"].str.startswith(("random", "ssp", "ccs"))
        assert df[f"ties_{side}"][scored].between(0, 1).all() and df[f"ties_{side}"][~scored].isna().all()
    # Rows per IPC_T, from the claim definitions and the keys the config trains: Table 4's three
    # easy-vs-hard pairs (10->1 only), Table 5's seven balance pairs, Table 1's seven IDC baselines
    # (DREAM random is not run), Table 2's three ablation pairs (random_balance and yoco_imbalance
    # are also Table 5 keys at 10->2 and 10->5): 20 + 17 + 17.
    expected = {1: 3 + 7 + 7 + 3, 2: 7 + 7 + 3, 5: 7 + 7 + 3}
    assert df.groupby("ipc_to").size().to_dict() == expected
    assert set(df.key_b[df.claim == "yoco_beats_baseline"]) == set(T1_KEYS) - {"yoco"}
    assert (df.condenser_b == "idc").all() and (df.dataset == "cifar10").all() and (df.ipc_from == 10).all()
    # Every run of the 3 x 3 is there; every key is its own (no alias stands in for a missing key).
    assert (df.n_a == 9).all() and (df.n_b == 9).all()
    assert set(df.key_b[df.claim == "balance_beats_imbalance"]) == {f"{b}_imbalance" for b in T5_BASES}
    assert df[["ours_a", "ours_b"]].stack().between(0, 100).all()
    assert np.allclose(df["diff"], df.ours_a - df.ours_b)
    assert (df.se > 0).all() and np.isfinite(df.se).all()
    assert (df.holds == (df["diff"] > 0)).all() and (df.significant == (df["diff"] > 2 * df.se)).all()
    # The paper has every Table 1, 4 and 5 number here; Table 2 only at 10->1.
    t2 = df.table == 2
    assert df.loc[~t2 | (df.ipc_to == 1), ["paper_a", "paper_b"]].notna().all().all()
    assert df.loc[t2 & (df.ipc_to != 1), ["paper_a", "paper_b"]].isna().all().all()
    # The report is printed at the end of the run, not only logged.
    assert "claims hold (diff > 0)" in log and "yoco_beats_baseline" in log
    for n in (1, 2, 4, 5, 7):
        assert len(pd.read_csv(results / f"table{n}.csv")) > 0


@pytest.mark.slow
def test_lite_ci_reads_the_npz_given_on_the_command_line(lite_run):
    results, _, seconds = lite_run
    with np.load(results / "real" / "cifar10.npz") as z:
        # The slice, resized to the CI config's 8 px.
        assert z["x_train"].shape == (640, 8, 8, 3) and z["x_test"].shape == (500, 8, 8, 3)
    print(f"cifar10-lite-ci end to end: {seconds:.0f} s")
