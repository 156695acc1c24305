"""The CLI end to end on tiny digits: every stage reads the previous stage's files."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch

from yoco.cli import main
from yoco.data import class_images, load_real
from yoco.formation import mix_init
from yoco.tables import RUN_COLUMNS

TRAIN = ["--width", "8", "--epochs", "3", "--device", "cpu"]


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    assert main(["data", "--dataset", "digits", "--image-size", "8", "--out", str(d / "digits.npz")]) == 0
    real = load_real("digits", npz=d / "digits.npz")
    # An IDC-format file ([images, targets]) as the authors release them: IPC 4, factor 2.
    images = mix_init(class_images(real, 16), 4, 2)
    torch.save([images, torch.arange(10).repeat_interleave(4)], d / "idc.pt")
    assert (
        main(
            [
                "import",
                "--format",
                "idc",
                "--path",
                str(d / "idc.pt"),
                "--dataset",
                "digits",
                "--factor",
                "2",
                "--out",
                str(d / "condensed.pt"),
            ]
        )
        == 0
    )
    assert main(["decode", "--condensed", str(d / "condensed.pt"), "--out", str(d / "decoded.pt")]) == 0
    assert (
        main(
            [
                "dynamics",
                "--decoded",
                str(d / "decoded.pt"),
                "--real",
                str(d / "digits.npz"),
                "--reps",
                "2",
                "--out-dir",
                str(d / "dyn"),
                *TRAIN,
            ]
        )
        == 0
    )
    for rep in (1, 2):
        assert (
            main(
                [
                    "scores",
                    "--dynamics",
                    str(d / f"dyn/rep{rep}.npz"),
                    "--model",
                    str(d / f"dyn/rep{rep}.model.pt"),
                    "--decoded",
                    str(d / "decoded.pt"),
                    "--real",
                    str(d / "digits.npz"),
                    "--lbpe-epochs",
                    "3",
                    "--lbpe-top-k",
                    "2",
                    "--device",
                    "cpu",
                    "--out",
                    str(d / f"scores{rep}.npz"),
                ]
            )
            == 0
        )
    return d


def test_dynamics_and_scores_files(chain):
    with np.load(chain / "dyn/rep1.npz") as f:
        assert f["err_l2"].shape == (3, 160)  # 3 epochs x (10 classes * 4 IPC * 2^2 patches)
    with np.load(chain / "scores1.npz") as f:
        assert {"lbpe", "el2n", "forgetting", "accumulated_margin", "entropy", "features"} <= set(f.files)
        assert f["lbpe"].shape == (160,)


@pytest.mark.parametrize("key,per_class", [("yoco", [4] * 10), ("random_balance", [4] * 10), ("ssp_balance", [4] * 10)])
def test_select_writes_a_balanced_selection(chain, key, per_class):
    out = chain / f"{key}.json"
    assert (
        main(
            [
                "select",
                "--key",
                key,
                "--ipc-to",
                "1",
                "--decoded",
                str(chain / "decoded.pt"),
                "--scores",
                str(chain / "scores1.npz"),
                "--out",
                str(out),
            ]
        )
        == 0
    )
    (rec,) = json.loads(out.read_text())
    assert rec["class_counts"] == per_class
    assert rec["ipc_from"] == 4 and rec["factor"] == 2 and rec["n_selected"] == 40
    if key == "yoco":
        # The kept patches whose LBPE a rejected patch of the same class shares (the tie rule's picks).
        with np.load(chain / "scores1.npz") as f:
            lbpe = f["lbpe"]
        kept = set(rec["indices"])
        expected = sum(
            1
            for i in kept
            if np.isin(lbpe[i], [lbpe[j] for j in range(i // 16 * 16, i // 16 * 16 + 16) if j not in kept])
        )
        assert rec["tie_breaking"] == "reference" and rec["tie_decided"] == expected
    else:
        assert "tie_decided" not in rec


def test_select_is_reproducible_and_global_keys_keep_the_total(chain):
    for name in ("a", "b"):
        assert (
            main(
                [
                    "select",
                    "--key",
                    "random",
                    "--ipc-to",
                    "2",
                    "--decoded",
                    str(chain / "decoded.pt"),
                    "--rep",
                    "2",
                    "--out",
                    str(chain / f"r_{name}.json"),
                ]
            )
            == 0
        )
    (a,), (b,) = (json.loads((chain / f"r_{n}.json").read_text()) for n in "ab")
    assert a["indices"] == b["indices"] and a["seed"] == b["seed"]
    assert sum(a["class_counts"]) == 10 * 2 * 4


def test_one_select_job_for_a_whole_cell_then_evaluate(chain):
    cell = chain / "cell.json"
    pairs = [f"{k}@{r}" for k in ("yoco", "random_balance", "el2n") for r in (1, 2)]
    assert (
        main(
            [
                "select",
                "--pairs",
                *pairs,
                "--ipc-to",
                "1",
                "--decoded",
                str(chain / "decoded.pt"),
                "--scores",
                str(chain / "scores1.npz"),
                str(chain / "scores2.npz"),
                "--out",
                str(cell),
            ]
        )
        == 0
    )
    records = json.loads(cell.read_text())
    assert [(r["key"], r["rep"]) for r in records] == [
        (k, r) for k in ("yoco", "random_balance", "el2n") for r in (1, 2)
    ]
    # rep 2 of a score key ranks by rep 2's scores, so the two reps' yoco selections differ in general,
    # while each is balanced.
    assert all(r["class_counts"] == [4] * 10 for r in records if r["key"] != "el2n")
    runs_csv = chain / "runs.csv"
    assert (
        main(
            [
                "evaluate",
                "--decoded",
                str(chain / "decoded.pt"),
                "--real",
                str(chain / "digits.npz"),
                "--selections",
                str(cell),
                "--keys",
                "yoco",
                "random_balance",
                "--inits",
                "2",
                "--eval-points",
                "1",
                *TRAIN,
                "--out",
                str(runs_csv),
            ]
        )
        == 0
    )
    runs = pd.read_csv(runs_csv)
    assert len(runs) == 2 * 2 * 2  # keys x reps x inits
    assert runs.seed.nunique() == len(runs)
    assert runs.best_acc.between(0, 100).all() and (runs.n_selected == 40).all()
    # Score keys carry their selection's tie count into every run row; random keys have none.
    ties = {(r["key"], r["rep"]): r.get("tie_decided") for r in records}
    yoco_runs = runs[runs.key == "yoco"]
    assert yoco_runs.tie_decided.tolist() == [ties[("yoco", rep)] for rep in yoco_runs.rep]
    assert runs[runs.key == "random_balance"].tie_decided.isna().all()
    assert set(RUN_COLUMNS) <= set(runs.columns)  # what the tables read, plus provenance
    # How they ran: the CPU engine, eager (seconds of training do not repay a compilation).
    assert (runs.engine == "loop").all() and not runs.compiled.any()


def test_errors_name_the_fix(chain, capsys):
    assert (
        main(
            [
                "select",
                "--key",
                "forgeting_easy",
                "--ipc-to",
                "1",
                "--decoded",
                str(chain / "decoded.pt"),
                "--scores",
                str(chain / "scores1.npz"),
                "--out",
                str(chain / "x.json"),
            ]
        )
        == 2
    )
    assert "forgetting_easy" in capsys.readouterr().err
    assert main(["decode", "--condensed", str(chain / "missing.pt"), "--out", str(chain / "y.pt")]) == 2
    assert "yoco import" in capsys.readouterr().err
    assert not (chain / "x.json").exists() and not (chain / "y.pt").exists()


def test_help_lists_every_subcommand():
    out = subprocess.run([sys.executable, "-m", "yoco", "--help"], capture_output=True, text=True, check=True).stdout
    for cmd in ("data", "condense", "import", "decode", "dynamics", "scores", "select", "evaluate", "prune", "table"):
        assert cmd in out


def test_prune_command_on_an_idc_file(chain):
    # A set named cifar10 must have CIFAR's 32 px (docs/errors.md): the 8-px file, upsampled.
    images, labels = torch.load(chain / "idc.pt")
    torch.save([torch.nn.functional.interpolate(images, size=32), labels], chain / "idc32.pt")
    out = chain / "keep.json"
    assert (
        main(
            [
                "prune",
                "--condensed",
                str(chain / "idc32.pt"),
                "--format",
                "idc",
                "--dataset",
                "cifar10",
                "--ipc-to",
                "1",
                "--epochs",
                "2",
                "--width",
                "8",
                "--device",
                "cpu",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    rec = json.loads(out.read_text())
    counts = np.bincount(np.asarray(rec["indices"]) // 16, minlength=10)
    assert counts.tolist() == [4] * 10 and rec["factor"] == 2 and rec["ipc_from"] == 4


def test_prune_command_on_digits_and_on_a_users_own_dataset(chain):
    """`yoco prune` from the shell on the quickstart's own kind of set (digits) and on a dataset yoco
    does not know, given its statistics and factor."""
    common = ["--ipc-to", "1", "--epochs", "2", "--width", "8", "--device", "cpu"]
    # A canonical file records dataset (digits) and factor; digits' statistics are computed at the set's
    # resolution, so they equal those of the real-data cache: the same training, the same selection.
    own, given = chain / "keep_digits.json", chain / "keep_digits_real.json"
    assert (
        main(["prune", "--condensed", str(chain / "condensed.pt"), "--format", "canonical", *common, "--out", str(own)])
        == 0
    )
    assert (
        main(
            [
                "prune",
                "--condensed",
                str(chain / "condensed.pt"),
                "--format",
                "canonical",
                "--real",
                str(chain / "digits.npz"),
                *common,
                "--out",
                str(given),
            ]
        )
        == 0
    )
    a, b = json.loads(own.read_text()), json.loads(given.read_text())
    assert a["indices"] == b["indices"] and a["dataset"] == "digits" and a["factor"] == 2
    assert np.bincount(np.asarray(a["indices"]) // 16, minlength=10).tolist() == [4] * 10
    # Any other dataset: its name, the factor of the file and per-channel statistics on the command line.
    mine = chain / "keep_mine.json"
    assert (
        main(
            [
                "prune",
                "--condensed",
                str(chain / "idc.pt"),
                "--format",
                "idc",
                "--dataset",
                "mydata",
                "--factor",
                "2",
                "--mean",
                "0.5",
                "0.5",
                "0.5",
                "--std",
                "0.3",
                "0.3",
                "0.3",
                *common,
                "--out",
                str(mine),
            ]
        )
        == 0
    )
    rec = json.loads(mine.read_text())
    assert rec["dataset"] == "mydata" and rec["n_decoded"] == 160 and len(rec["indices"]) == 40
