"""The real-data edition (config/cifar10-cpu-full.yaml, issue 18): every table and figure on real CIFAR-10 on two
CPU cores with in-house IDC, DREAM, DSA and MTT. Its grid and the arithmetic of its header's budget, KIP's
absence and the caption that says why, a dry run of its DAG, and its shrunk CI form
(config/cifar10-cpu-full-ci.yaml) end to end.

Expected numbers come from the configs and the paper's table layouts (which keys each table reports, which
condensers each claim family covers), not from a run.
"""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
import time
import types
from pathlib import Path

import jinja2
import pandas as pd
import pytest
from test_lite import _load  # config.yaml with configs layered on it, as Snakemake merges them

from yoco import grid
from yoco.train import NetworkSpec, TrainConfig, use_compile

REPO = Path(__file__).resolve().parents[1]
CIFAR_MINI = REPO.parent / "shared" / "data" / "cifar10-mini.npz"
FULL = "cifar10-cpu-full.yaml"
CI = "cifar10-cpu-full-ci.yaml"

T1_KEYS = {"random", "ssp", "entropy", "accumulated_margin", "forgetting", "el2n", "ccs", "yoco"}
ABLATION = {"random", "random_balance", "yoco_imbalance", "yoco"}
REVERSED = {"accumulated_margin", "accumulated_margin_easy", "forgetting", "forgetting_easy", "el2n", "el2n_easy"}
REVERSED |= {"yoco"}
T5_KEYS = {f"{b}_{s}" for b in ("random", "ssp", "entropy", "accumulated_margin", "forgetting", "el2n", "yoco")
           for s in ("balance", "imbalance")}  # fmt: skip
INHOUSE = ("idc", "dream", "dsa", "mtt")


@pytest.fixture(scope="module")
def full():
    config = _load(FULL)
    grid.validate(config)
    return config


def _jobs(config) -> dict:
    return {(j.ck, j.ipct, j.net): j for j in grid.eval_jobs(config)}


def _keys(job) -> set[str]:
    return {k for k, _ in job.selections}


def _arg(args: str, flag: str) -> str:
    tokens = args.split()
    return tokens[tokens.index(flag) + 1]


# ------------------------------------------------------------------------------------------ the grid
def test_full_config_plans_every_table_and_figure_with_the_four_inhouse_condensers(full):
    assert grid.enabled_tables(full) == [1, 2, 3, 4, 5, 6, 7] and grid.enabled_figures(full) == [2, 3, 5, 7]
    root, figs = "results/cifar10-cpu-full", "figures/cifar10-cpu-full"
    assert grid.targets(full) == [f"{root}/table{n}.csv" for n in range(1, 8)] + [
        f"{figs}/fig{n}.{ext}" for n in (2, 3, 5, 7) for ext in ("png", "pdf")
    ]
    # Real 32-px CIFAR-10, the same 5 000 training images from torchvision as from the mini set.
    cifar = full["datasets"]["cifar10"]
    assert full["device"] == "cpu" and cifar["image_size"] == 32 and cifar["npz"] is None
    assert cifar["train_per_class"] == 500 and cifar["test_per_class"] == 280
    assert "--train-per-class 500" in grid.data_args(full, "cifar10")
    # Every condenser is made here: none waits for an authors' file; Fig. 3's full set is the real one.
    sources = {cs.ck: cs.source for cs in grid.condensed_sets(full)}
    assert sources == {"idc": "inhouse", "dream": "inhouse", "dsa": "inhouse", "mtt": "inhouse", "full": "real"}
    assert {ck for ck, _, _ in grid.dynamics_sets(full)} == {*INHOUSE, "full"}
    # The claims compare the four condensers' 10->1 cells (the IPC_F column takes part in none).
    runs = "results/cifar10-cpu-full/runs/{}/cifar10/ipc10/to1/convnet.csv"
    assert grid.claims_inputs(full) == [runs.format(ck) for ck in sorted(INHOUSE)]


def test_kip_is_left_out_and_table2s_caption_says_why(full):
    for n in (1, 2, 3, 4, 5):
        assert "kip" not in {m["condenser"] for m in full["tables"][f"table{n}"]["methods"]}
    assert full["condensers"]["kip"]["inhouse"] is False

    def caption(config, n):
        template = jinja2.Template((REPO / "workflow" / "report" / "caption.rst").read_text())
        job = types.SimpleNamespace(config=config, rule="table", wildcards=types.SimpleNamespace(number=str(n)))
        return template.render(snakemake=job)

    assert "KIP is left out" in caption(full, 2) and "no in-house condenser" in caption(full, 2)
    # Only Table 2 has a KIP column in the paper; the paper's grid lists it, so no sentence there.
    assert "KIP is left out" not in caption(full, 4)
    assert "KIP is left out" not in caption(_load(), 2)


def test_each_table_exercises_its_claim_at_10_to_1_with_3_x_3_runs_per_key(full):
    jobs = _jobs(full)
    assert set(jobs) == {
        ("idc", "1", "convnet"),
        ("idc", "10", "convnet"),  # Table 1's IPC_F column
        ("idc", "1", "resnet10bn"),
        ("idc", "1", "densenet"),
        ("dream", "1", "convnet"),
        ("mtt", "1", "convnet"),
        ("dsa", "1", "convnet"),
    }
    # IDC 10->1 carries Tables 1, 2, 3 (ConvNet), 4 and 5; DREAM Table 1's random and Tables 2 and 4;
    # MTT Tables 2 and 4; DSA Table 4; the two other networks Table 3's keys.
    assert _keys(jobs["idc", "1", "convnet"]) == T1_KEYS | ABLATION | REVERSED | T5_KEYS
    assert len(_keys(jobs["idc", "1", "convnet"])) == 25
    assert _keys(jobs["dream", "1", "convnet"]) == ABLATION | REVERSED and len(ABLATION | REVERSED) == 10
    assert _keys(jobs["mtt", "1", "convnet"]) == ABLATION | REVERSED
    assert _keys(jobs["dsa", "1", "convnet"]) == REVERSED
    assert _keys(jobs["idc", "1", "resnet10bn"]) == _keys(jobs["idc", "1", "densenet"]) == {"random", "yoco"}
    assert jobs["idc", "10", "convnet"].selections == (("random", 1),)
    for job in jobs.values():
        args = grid.evaluate_args(full, job.ds, job.net)
        assert _arg(args, "--inits") == "3"
        if job.ipct != job.ipcf:
            assert all(sorted(r for k2, r in job.selections if k2 == k) == [1, 2, 3] for k in _keys(job))
    # Table 3's DenseNet trains fewer epochs (networks.densenet.evaluate); the ConvNets the paper's recipe.
    conv, dense = grid.evaluate_args(full, "cifar10", "convnet"), grid.evaluate_args(full, "cifar10", "densenet")
    assert (_arg(conv, "--epochs"), _arg(conv, "--eval-points")) == ("200", "2")
    assert (_arg(dense, "--epochs"), _arg(dense, "--eval-points"), _arg(dense, "--width")) == ("40", "1", "8")
    assert _arg(grid.evaluate_args(full, "cifar10", "resnet10bn"), "--width") == "16"
    # LBPE's windows fit the 300-epoch dynamics (DSA's E is quirks.dsa_lbpe_epochs).
    assert {ck: grid.lbpe(full, ck, "cifar10") for ck in INHOUSE} == {
        "idc": (100, 10),
        "dream": (200, 10),
        "mtt": (10, 3),
        "dsa": (10, 3),
    }


def test_figures_have_at_least_3_runs_per_point(full):
    figs = full["figures"]
    # Fig. 2's legend reads Table 2's runs of its two keys: 3 selections x 3 inits each.
    job = _jobs(full)["idc", "1", "convnet"]
    assert figs["fig2"]["condenser"] == "idc" and set(figs["fig2"]["keys"]) <= _keys(job)
    assert figs["fig2"]["cells"] == [{"dataset": "cifar10", "ipc_from": 10, "ipc_to": 1}]
    # Fig. 3: per (set, ratio, order), selections from len(reps) dynamics runs x inits; Fig. 5 per epoch.
    assert len(figs["fig3"]["reps"]) * figs["fig3"]["inits"] >= 3
    assert len(figs["fig5"]["reps"]) * figs["fig5"]["inits"] >= 3
    assert grid.fig3_jobs(full) == [("idc", "cifar10", "10"), ("full", "cifar10", "all")]
    assert grid.fig5_job(full) == ("idc", "cifar10", "10", "1")
    # Fig. 7: the first epoch, LBPE_90 and the last epoch of the dynamics.
    assert figs["fig7"]["epochs"] == [0, 89, full["training"]["dynamics"]["epochs"] - 1]


def test_the_headers_training_counts_and_compile_choices(full):
    """The header's budget counts 717 trainings and says which jobs torch.compile (the trainer's rule)."""
    inits = full["training"]["evaluate"]["inits"]
    jobs = _jobs(full)
    table_models = {key: len(job.selections) * inits for key, job in jobs.items()}
    assert sum(table_models.values()) == 225 + 3 + 18 + 18 + 90 + 90 + 63 == 507
    fig3, fig5 = full["figures"]["fig3"], full["figures"]["fig5"]
    ratios = fig3["pruning_ratios"]
    fig3_models = len(grid.fig3_jobs(full)) * len(ratios) * len(fig3["orders"]) * len(fig3["reps"]) * fig3["inits"]
    fig5_models = len(fig5["reps"]) * (fig5["epochs_to"] - fig5["epochs_from"]) * fig5["inits"]
    assert (fig3_models, fig5_models) == (60, 150) and 507 + 60 + 150 == 717

    def compiled(net: str, passes: int) -> bool:
        spec = NetworkSpec(net, 10, 32, width=full["networks"][net]["width"])
        return use_compile(spec, TrainConfig(), "loop", "cpu", passes)

    epochs = full["training"]["evaluate"]["epochs"]
    images = {"idc": 40, "dream": 40, "mtt": 10, "dsa": 10}  # 10->1: f^2 patches per kept image
    passes = {key: table_models[key] * epochs * images[key[0]] for key in jobs if key[2] == "convnet"}
    passes["idc", "10", "convnet"] = 3 * epochs * 400
    assert {key for key, n in passes.items() if compiled("convnet", n)} == {("idc", "1", "convnet")}
    # Fig. 5: 150 x 200 epochs x 40 patches; Fig. 3 on IDC: 3 inits x 2 orders x 400 (0.9 + 0.7 + ... + 0.1)
    # patches x 200 epochs; on the 5 000-image set the same x 12.5 at 8 epochs.
    kept = sum(1 - r for r in ratios)
    assert math.isclose(kept, 2.5)
    assert compiled("convnet", fig5_models * epochs * 40)
    assert compiled("convnet", round(3 * 2 * 400 * kept * epochs))
    assert not compiled("convnet", round(3 * 2 * 5000 * kept * fig3["full_dataset"]["evaluate"]["epochs"]))


# ------------------------------------------------------------------------------------------ the CI form
def test_ci_form_is_the_same_grid_shrunk(full):
    ci = _load(FULL, CI)
    grid.validate(ci)
    shape = lambda c: [(j.ck, j.ds, j.ipcf, j.ipct, j.net, j.selections) for j in grid.eval_jobs(c)]  # noqa: E731
    assert shape(ci) == shape(full)
    for n in (1, 2, 3, 4, 5, 7):
        assert grid.table_rows(n, ci).equals(grid.table_rows(n, full))
    assert [(cs.ck, cs.source) for cs in grid.condensed_sets(ci)] == [
        (cs.ck, cs.source) for cs in grid.condensed_sets(full)
    ]
    assert grid.dynamics_sets(ci) == grid.dynamics_sets(full) and grid.fig3_jobs(ci) == grid.fig3_jobs(full)
    for fig, keys in {"fig2": ("cells", "keys"), "fig3": ("pruning_ratios", "orders", "reps", "inits")}.items():
        assert all(ci["figures"][fig][k] == full["figures"][fig][k] for k in keys)
    assert (ci["figures"]["fig5"]["reps"], ci["figures"]["fig5"]["inits"]) == ([1, 2, 3], 1)
    assert ci["reps"] == 3 and ci["training"]["evaluate"]["inits"] == 3
    assert ci["device"] == "cpu" and ci["datasets"]["cifar10"]["image_size"] == 8
    assert ci["output_root"] == "results/cifar10-cpu-full-ci"


# ------------------------------------------------------------------------------------------ the DAG
def _snakemake(*args: str, timeout: int) -> subprocess.CompletedProcess:
    bindir = Path(sys.executable).parent
    env = dict(os.environ, PATH=f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}")
    cmd = [str(bindir / "snakemake"), *args]
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)


def test_dry_run_plans_the_headers_79_jobs(tmp_path, full):
    # Its own working directory: no .snakemake/ state shared with a run in the checkout.
    proc = _snakemake(
        "-n",
        "--cores",
        "2",
        "-s",
        str(REPO / "Snakefile"),
        "-d",
        str(tmp_path / "wd"),
        "--configfile",
        str(REPO / "config" / FULL),
        "--config",
        f"output_root={tmp_path}/results",
        f"figures_root={tmp_path}/figures",
        timeout=300,
    )
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    stats = dict(re.findall(r"^(\w+)\s+(\d+)$", proc.stdout.split("Job stats:")[1], flags=re.M))
    counts = {rule: int(n) for rule, n in stats.items() if rule != "total"}
    assert counts == {
        "real_data": 1,
        "condense": 2,  # IDC and DREAM write the canonical file
        "experts": 1,
        "condense_authors_format": 2,  # DSA and MTT write their authors' formats...
        "import_condensed": 3,  # ...which are imported, like Fig. 3's full training set
        "decode": 5,
        "dynamics": 4,
        "dynamics_full": 1,
        "scores": 4 * 3 + 1,  # 3 reps per condensed set, 1 for the full set (fig3.reps)
        "select": len(grid.selection_cells(full)),  # the four 10->1 cells and the IPC_F column
        "evaluate": 7,
        "evaluate_fractions": 2,
        "evaluate_epochs": 1,
        "table_rows": 6,  # Table 7 shares Table 1's rows
        "table": 7,
        "claims": 1,
        "figure_data": 4,
        "fig2": 1,
        "fig3": 1,
        "fig5": 1,
        "fig7": 1,
        "table_page": 7,  # the report's page per table
        "config_page": 1,
        "provenance_page": 1,
        "all": 1,
    }
    assert sum(counts.values()) == 79


@pytest.fixture(scope="module")
def ci_run(tmp_path_factory):
    """config/cifar10-cpu-full.yaml + cifar10-cpu-full-ci.yaml through Snakemake on the mini CIFAR-10 (its
    first 64 training and 50 test images of each class, by the CI config's train/test_per_class)."""
    if not CIFAR_MINI.exists():
        pytest.skip("../shared/data/cifar10-mini.npz not present")
    out = tmp_path_factory.mktemp("cpu-full")
    start = time.monotonic()
    proc = _snakemake(
        "--cores",
        "2",
        "--force-use-threads",
        "--configfile",
        f"config/{FULL}",
        f"config/{CI}",
        "--config",
        f"output_root={out}/results",
        f"figures_root={out}/figures",
        f"datasets={{cifar10: {{npz: {CIFAR_MINI}}}}}",
        timeout=900,
    )
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-5000:]
    return out, time.monotonic() - start


@pytest.mark.slow
def test_ci_form_runs_end_to_end_into_every_table_figure_and_claim(ci_run):
    out, seconds = ci_run
    results = out / "results"
    for n in (1, 2, 3, 4, 5, 6, 7):
        assert len(pd.read_csv(results / f"table{n}.csv")) > 0
    for n in (2, 3, 5, 7):
        assert (out / "figures" / f"fig{n}.png").stat().st_size > 0
    # Table 3: both keys on all three networks; Table 2: no KIP column.
    t3 = pd.read_csv(results / "table3.csv")
    assert set(zip(t3.network, t3.key)) == {
        (n, k) for n in ("convnet", "resnet10bn", "densenet") for k in ("random", "yoco")
    }
    assert set(pd.read_csv(results / "table2.csv").condenser) == {"idc", "dream", "mtt"}
    # Claims per condenser: easy-first on all four sets (3 pairs each), the ablation on IDC, DREAM and MTT
    # (3 each), balance (7 pairs) and the baselines (IDC's 6 + CCS + DREAM random) on IDC.
    claims = pd.read_csv(results / "claims.csv")
    per = claims.groupby(["claim", "condenser_a"]).size().to_dict()
    assert per == {
        **{("easy_beats_hard", ck): 3 for ck in INHOUSE},
        **{("yoco_best_in_ablation", ck): 3 for ck in ("idc", "dream", "mtt")},
        ("balance_beats_imbalance", "idc"): 7,
        ("yoco_beats_baseline", "idc"): 8,
    }
    assert (claims.n_a == 9).all() and (claims.n_b == 9).all()
    # 3 runs per figure point: Fig. 3 per (set, ratio, order), Fig. 5 per epoch.
    for name in ("idc/cifar10/ipc10", "full/cifar10/ipcall"):
        fractions = pd.read_csv(results / "fractions" / f"{name}.csv")
        assert (fractions.groupby(["fraction_pruned", "order"]).size() == 3).all()
        assert fractions.groupby(["fraction_pruned", "order"]).ngroups == 10
    epochs = pd.read_csv(results / "epochs/idc/cifar10/ipc10/to1.csv")
    assert epochs.groupby("lbpe_epoch").size().to_dict() == {e: 3 for e in range(4)}
    print(f"cifar10-cpu-full-ci end to end: {seconds:.0f} s")
