"""The two tie quirks of the config, followed to the selections they change.

``quirks.tie_breaking`` and ``quirks.lbpe_epoch_ties`` reach a selection in three hops: the rules put
``grid.select_args(config)`` / ``grid.scores_args(config)`` into the shell commands of ``select`` and
``scores`` (checked on a dry run of config/test.yaml), those flags are parsed by ``yoco select`` /
``yoco scores``, and the selections differ as the definitions of docs/deviations.md ("Ties") say
(checked by running the CLI with the flags the grid builds, on fixtures whose ties are known).
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from yoco import grid
from yoco.artefacts import decoded_identity
from yoco.cli import main
from yoco.condensed import CondensedSet
from yoco.configcheck import merge_configs
from yoco.dynamics import Dynamics
from yoco.pipeline import read_scores, save_model, save_scores
from yoco.train import NetworkSpec

REPO = Path(__file__).resolve().parents[1]
C, IPC_F, FACTOR = 10, 2, 2
BLOCK = IPC_F * FACTOR * FACTOR  # 8 decoded patches per class
N = C * BLOCK


def paper_config(**quirks) -> dict:
    """config/config.yaml with some quirks changed, checked as the Snakefile checks it."""
    from snakemake.utils import validate as schema_validate

    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config["quirks"] = {**config["quirks"], **quirks}
    schema_validate(config, str(REPO / "workflow" / "schemas" / "config.schema.yaml"))
    grid.validate(config)
    return config


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("ties")
    assert main(["data", "--dataset", "digits", "--image-size", "8", "--out", str(d / "digits.npz")]) == 0
    g = torch.Generator().manual_seed(0)
    CondensedSet(
        images=torch.rand(C * IPC_F, 3, 8, 8, generator=g),
        labels=torch.arange(C).repeat_interleave(IPC_F),
        ipc=IPC_F,
        factor=FACTOR,
        value_space="pixel01",
        dataset="digits",
        condenser="idc",
    ).save(d / "condensed.pt")
    assert main(["decode", "--condensed", str(d / "condensed.pt"), "--out", str(d / "decoded.pt")]) == 0
    identity = decoded_identity(CondensedSet.load(d / "decoded.pt"))
    # Positions 0 and 1 of every class block score 5, the other six tie at 0.
    tied = np.where(np.arange(N) % BLOCK < 2, 5.0, 0.0)
    save_scores({"forgetting": tied, "lbpe": tied}, d / "tied.npz", identity=identity)
    return d, identity


def select(files, config, pairs, scores):
    """``yoco select`` with the quirk flags the select rule builds from ``config``."""
    d, _ = files
    out = d / "sel.json"
    argv = ["select", "--pairs", *pairs, "--ipc-to", "1", "--decoded", str(d / "decoded.pt")]
    argv += ["--scores", str(scores), "--seed-prefix", "idc/digits", "--dataset", "digits"]
    argv += shlex.split(grid.select_args(config)) + ["--out", str(out)]
    assert main(argv) == 0
    return {r["key"]: r for r in json.loads(out.read_text())}


ZEROS = [i for i in range(N) if i % BLOCK >= 2]  # the 60 tied patches, ascending
FIVES = [i for i in range(N) if i % BLOCK < 2]


def per_class(positions):
    return sorted(c * BLOCK + p for c in range(C) for p in positions)


def tie_rules():
    from yoco.selection import TIES

    assert set(TIES) == {"reference", "index", "random"}  # every rule is checked below
    return TIES


def test_tie_breaking_reaches_the_selections(files):
    d, _ = files
    keys = ["forgetting@1", "forgetting_easy@1", "yoco@1"]
    got = {rule: select(files, paper_config(tie_breaking=rule), keys, d / "tied.npz") for rule in tie_rules()}
    for rule, recs in got.items():
        assert {r["tie_breaking"] for r in recs.values()} == {rule}
        # Hard keeps 40 of 80: the 20 fives by score, 20 of the 60 zeros by the tie rule; easy keeps 40
        # zeros (20 rejected zeros remain); balanced easy keeps 4 of each class's 6 zeros.
        assert [recs[k]["tie_decided"] for k in ("forgetting", "forgetting_easy", "yoco")] == [20, 40, 40]
        assert set(FIVES) <= set(recs["forgetting"]["indices"])
        assert recs["yoco"]["class_counts"] == [4] * C
    ref, index, rand = got["reference"], got["index"], got["random"]
    # reference: one stable descending sort; hard keeps its head (lowest tied indices), easy its tail.
    assert ref["forgetting"]["indices"] == sorted(FIVES + ZEROS[:20])
    assert ref["forgetting_easy"]["indices"] == ZEROS[-40:]
    assert ref["yoco"]["indices"] == per_class([4, 5, 6, 7])
    # index: ascending index in both directions.
    assert index["forgetting"]["indices"] == sorted(FIVES + ZEROS[:20])
    assert index["forgetting_easy"]["indices"] == ZEROS[:40]
    assert index["yoco"]["indices"] == per_class([2, 3, 4, 5])
    # random: a seeded draw among the tied, neither index order, the same draw on every run.
    for key in ("forgetting", "forgetting_easy", "yoco"):
        assert rand[key]["indices"] not in (ref[key]["indices"], index[key]["indices"]), key
    again = select(files, paper_config(tie_breaking="random"), keys, d / "tied.npz")
    assert {k: r["indices"] for k, r in again.items()} == {k: r["indices"] for k, r in rand.items()}


# LBPE epoch ties: 4 epochs; epochs 0, 1 and 3 are equally accurate (50 of 80 correct), epoch 2 is worse.
# K = 2 of E = 4: "latest" (Algorithm 1) sums epochs 3 and 1, "earliest" epochs 0 and 1. The error of
# epoch 0 rises with the position in a class block, that of epoch 3 falls, so yoco (the lowest LBPE
# per class) keeps the first four positions under "earliest" and the last four under "latest".
EPOCH_CORRECT = (50, 50, 20, 50)


def _dynamics(identity) -> Dynamics:
    pos = (np.arange(N) % BLOCK).astype(np.float32)
    err = np.stack([pos / 8, np.full(N, 0.5), np.full(N, 0.25), 1 - pos / 8]).astype(np.float32)
    correct = np.zeros((4, N), bool)
    for t, k in enumerate(EPOCH_CORRECT):
        correct[t, :k] = True
    labels = np.repeat(np.arange(C), BLOCK)
    return Dynamics(err, correct, np.zeros((4, N), np.float32), labels, C, meta={"identity": identity})


def test_lbpe_epoch_ties_reach_the_scores_and_the_selections(files):
    d, identity = files
    dyn = _dynamics(identity)
    dyn.save(d / "rep1.npz")
    spec = NetworkSpec("convnet", C, 8, width=4)
    save_model(spec.build(0).state_dict(), spec, d / "rep1.model.pt", identity=identity)
    lbpe, kept = {}, {}
    for rule in ("latest", "earliest", "torch"):
        config = paper_config(lbpe_epoch_ties=rule)
        out = d / f"scores_{rule}.npz"
        argv = ["scores", "--dynamics", str(d / "rep1.npz"), "--model", str(d / "rep1.model.pt")]
        argv += ["--decoded", str(d / "decoded.pt"), "--real", str(d / "digits.npz"), "--condenser", "idc"]
        argv += ["--dataset", "digits", "--lbpe-epochs", "4", "--lbpe-top-k", "2", "--device", "cpu"]
        argv += shlex.split(grid.scores_args(config)) + ["--out", str(out)]
        assert main(argv) == 0
        table, meta = read_scores(out)
        assert meta["lbpe_epoch_ties"] == rule
        lbpe[rule] = table["lbpe"]
        kept[rule] = select(files, paper_config(), ["yoco@1"], out)["yoco"]["indices"]
    np.testing.assert_allclose(lbpe["latest"], dyn.err_l2[3] + dyn.err_l2[1])
    np.testing.assert_allclose(lbpe["earliest"], dyn.err_l2[0] + dyn.err_l2[1])
    # "torch": whatever torch.topk returns among the tied epochs, as the reference code called it.
    picked = torch.topk(torch.tensor(EPOCH_CORRECT, dtype=torch.float64), 2).indices.tolist()
    assert set(picked) <= {0, 1, 3}
    np.testing.assert_allclose(lbpe["torch"], dyn.err_l2[picked].sum(axis=0), rtol=1e-6)
    assert kept["latest"] == per_class([4, 5, 6, 7])
    assert kept["earliest"] == per_class([0, 1, 2, 3])


@pytest.mark.slow
def test_the_rules_pass_the_config_quirks_to_the_cli(tmp_path):
    # Both quirks at a non-default value: the select and scores commands of a dry run of config/test.yaml
    # must carry exactly the flags the grid builds from the merged config.
    overlay = {"quirks": {"tie_breaking": "random", "lbpe_epoch_ties": "earliest"}}
    (tmp_path / "quirks.yaml").write_text(yaml.safe_dump(overlay))
    base = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    test = yaml.safe_load((REPO / "config" / "test.yaml").read_text())
    merged = merge_configs(base, test, overlay)
    root = tmp_path / "results"
    snakemake = str(Path(sys.executable).with_name("snakemake"))
    proc = subprocess.run(
        [
            snakemake,
            "-n",
            "-p",
            "--cores",
            "1",
            "--configfile",
            "config/test.yaml",
            str(tmp_path / "quirks.yaml"),
            "--config",
            f"output_root={root}",
            f"figures_root={tmp_path}/figures",
            "--",
            f"{root}/selections/idc/digits/ipc10/to1.json",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    text = proc.stdout + proc.stderr
    commands = [line for line in text.splitlines() if "-m yoco select " in line or "-m yoco scores " in line]
    selects = [c for c in commands if " select " in c]
    scores = [c for c in commands if " scores " in c]
    assert selects and scores, text[-3000:]
    assert all(grid.select_args(merged) in c for c in selects)
    assert all(grid.scores_args(merged) in c for c in scores)
    assert "--tie-breaking random" in grid.select_args(merged)
    assert "--lbpe-epoch-ties earliest" in grid.scores_args(merged)
