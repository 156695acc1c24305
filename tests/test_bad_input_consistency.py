"""Inputs that disagree with each other, and inputs that used to end in a traceback (issue 19, categories 4
and 6; docs/errors.md, "Inputs that must not repeat" and "Inputs that must fit the machine").

The contract is the one of tests/test_bad_input.py and its checks are reused: exit status 2 with one
line naming the input and the fix (CLI) or a one-line ``YocoError`` (API), no traceback, nothing written
at ``--out``, every input and earlier output unchanged. The cases here are the issue's examples plus
more of the same kind:

* the same file, pair or value given twice to a list flag (one argparse action, errors.refuse_duplicates);
* a hand-edited selection file (one reader, selection.read_selections): unknown field or key, a rep that
  is no whole number, a repeated index, counts that disagree, the same selection twice;
* a score or dynamics file of one rep used for another (artefacts.check_rep, artefacts.reps_of);
* images of another resolution than the named dataset's (data.check_resolution);
* LBPE's K above E, E above the dynamics, implausible --mean/--std (scores.check_lbpe, data.check_statistics);
* seeds outside 0..2**64-1, a device torch lacks, an empty test split, a network its images are too small
  for, a width or image size beyond the machine's memory (seeding, nets.check_network, train.check_trainable).
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch
import test_bad_input as base
from test_bad_input import DEC, IMAGES, LABELS, PRUNE, REAL, STATS, T, Cli, _dyn, _prune, ws  # noqa: F401  (ws: fixture)

import yoco
from yoco.errors import YocoError

SCORES = "--dynamics {d}/dyn/rep1.npz --model {d}/dyn/rep1.model.pt " + DEC + " " + REAL
PRUNE_CLI = "prune --condensed {d}/condensed.pt --format canonical --ipc-to 1 --device cpu --width 8"
EVAL = "evaluate " + DEC + " " + REAL + " --inits 1 " + T


# ------------------------------------------------------------------------------------------- workspace
@pytest.fixture(scope="module")
def cws(ws):  # noqa: F811  (the imported fixture)
    """The workspace of test_bad_input plus hand-edited and copied files that disagree with it."""
    sel = json.loads((ws / "sel.json").read_text())  # yoco@1 and random@1, IPC 4 -> 1, factor 2: 40 of 160
    assert [(r["key"], r["rep"], len(r["indices"])) for r in sel] == [("yoco", 1, 40), ("random", 1, 40)]

    def edited(name, change):
        recs = copy.deepcopy(sel)
        change(recs[0])
        (ws / f"{name}.json").write_text(json.dumps(recs))

    def unbalance(r):
        # One patch of class 0 (indices 0..15) traded for a class-1 patch (16..31) the record lacks.
        first = next(i for i in r["indices"] if i < 16)
        spare = next(i for i in range(16, 32) if i not in r["indices"])
        r["indices"] = sorted([i for i in r["indices"] if i != first] + [spare])
        del r["class_counts"]

    edited("sel-unknown-field", lambda r: r.__setitem__("n_selectd", 40))
    edited("sel-unknown-key", lambda r: r.__setitem__("key", "yocco"))
    edited("sel-fractional-rep", lambda r: r.__setitem__("rep", 1.5))
    edited("sel-string-rep", lambda r: r.__setitem__("rep", "1"))
    edited("sel-rep-0", lambda r: r.__setitem__("rep", 0))
    edited("sel-duplicate-index", lambda r: r["indices"].__setitem__(1, r["indices"][0]))
    edited("sel-one-short", lambda r: [r["indices"].pop(), r.pop("n_selected"), r.pop("class_counts")])
    edited("sel-n-selected", lambda r: r.__setitem__("n_selected", 41))
    edited("sel-class-counts", lambda r: r.__setitem__("class_counts", [5] + r["class_counts"][1:]))
    edited("sel-unbalanced", unbalance)
    edited("sel-ipc-to-above", lambda r: r.__setitem__("ipc_to", 5))
    (ws / "sel-twice-in-one-file.json").write_text(json.dumps(sel + sel[:1]))
    shutil.copy(ws / "sel.json", ws / "sel-copy.json")
    shutil.copy(ws / "scores1.npz", ws / "scores1-copy.npz")
    shutil.copy(ws / "dyn/rep1.npz", ws / "dyn-rep1-copy.npz")
    with np.load(ws / "digits.npz") as z:
        arrays = {k: z[k] for k in z.files}
    np.savez(ws / "no-test.npz", **{**arrays, "x_test": arrays["x_test"][:0], "y_test": arrays["y_test"][:0]})
    return ws


# ------------------------------------------------------------------------------------------- CLI cases
DUPLICATES = [
    Cli(
        "select-pairs-twice",
        "select --pairs random@1 random@1 --ipc-to 1 " + DEC + " --out {out}",
        ("--pairs random@1 is given twice", "duplicate records", "give each once"),
    ),
    Cli(
        "select-pairs-same-rep-spelt-twice",
        "select --pairs random@1 yoco@1 random@01 --ipc-to 1 " + DEC + " --out {out}",
        ("--pairs random@1 and random@01 are the same", "give each once"),
    ),
    Cli(
        "select-scores-twice",
        "select --pairs yoco@1 yoco@2 --ipc-to 1 " + DEC + " --scores {d}/scores1.npz {d}/scores1.npz --out {out}",
        ("--scores", "scores1.npz is given twice", "give each once"),
    ),
    Cli(
        "evaluate-selections-twice",
        EVAL + " --selections {d}/sel.json {d}/sel.json --out {out}",
        ("--selections", "sel.json is given twice", "give each once"),
    ),
    Cli(
        "evaluate-selections-one-file-by-two-paths",
        EVAL + " --selections {d}/sel.json {d}/adir/../sel.json --out {out}",
        ("--selections", "are the same", "give each once"),
    ),
    Cli(
        "evaluate-keys-twice",
        EVAL + " --selections {d}/sel.json --keys random random --out {out}",
        ("--keys random is given twice",),
    ),
    Cli(
        "fractions-twice",
        "evaluate-fractions "
        + DEC
        + " "
        + REAL
        + " --scores {d}/scores1.npz --fractions 0.5 0.5 "
        + T
        + " --out {out}",
        ("--fractions 0.5 is given twice", "duplicate records"),
    ),
    Cli(
        "fractions-same-value-spelt-twice",
        "evaluate-fractions "
        + DEC
        + " "
        + REAL
        + " --scores {d}/scores1.npz --fractions 0.5 0.50 "
        + T
        + " --out {out}",
        ("--fractions 0.5 is given twice",),
    ),
    Cli(
        "fractions-orders-twice",
        "evaluate-fractions "
        + DEC
        + " "
        + REAL
        + " --scores {d}/scores1.npz --fractions 0.5 --orders easy easy "
        + T
        + " --out {out}",
        ("--orders easy is given twice",),
    ),
    Cli(
        "epochs-dynamics-twice",
        "evaluate-epochs " + DEC + " " + REAL + " --dynamics {d}/dyn/rep1.npz {d}/dyn/rep1.npz --ipc-to 1 "
        "--epochs-to 2 " + T + " --out {out}",
        ("--dynamics", "rep1.npz is given twice"),
    ),
    Cli("table-runs-twice", "table --number 1 --runs {d}/runs.csv {d}/runs.csv --out {out}", ("--runs", "twice")),
    Cli("claims-runs-twice", "claims --runs {d}/runs.csv {d}/runs.csv --out {out}", ("--runs", "twice")),
    Cli(
        "fig7-epochs-twice",
        "figure-data --figure 7 --dynamics {d}/dyn/rep1.npz --epochs 0 1 0 --out {out}",
        ("--epochs 0 is given twice",),
    ),
    Cli(
        "mtt-experts-twice",
        "condense --real {d}/digits.npz --method mtt --ipc 1 --experts {d}/e.pt {d}/e.pt --out {out}",
        ("--experts", "e.pt is given twice"),
    ),
    # the same selection in two files, or twice in one: refused by the reader, not the flag
    Cli(
        "evaluate-selection-copied-to-another-file",
        EVAL + " --selections {d}/sel.json {d}/sel-copy.json --out {out}",
        ("sel-copy.json \\(record 1\\) repeats the selection yoco rep 1", "sel.json \\(record 1\\)", "once"),
    ),
    Cli(
        "evaluate-selection-twice-in-one-file",
        EVAL + " --selections {d}/sel-twice-in-one-file.json --out {out}",
        ("record 3\\) repeats the selection yoco rep 1", "record 1\\)"),
    ),
    Cli(
        "fig2-selection-copied-to-another-file",
        "figure-data --figure 2 --selections {d}/sel.json {d}/sel-copy.json --runs {d}/runs.csv --out {out}",
        ("sel-copy.json", "repeats the selection", "once"),
    ),
]

HAND_EDITED = [
    Cli(
        "selection-unknown-field",
        EVAL + " --selections {d}/sel-unknown-field.json --out {out}",
        (
            "sel-unknown-field.json \\(record 1\\)",
            "unknown field 'n_selectd'",
            "did you mean 'n_selected'",
            "yoco select",
        ),
    ),
    Cli(
        "selection-unknown-key",
        EVAL + " --selections {d}/sel-unknown-key.json --out {out}",
        ("sel-unknown-key.json \\(record 1\\)", "unknown pruning key 'yocco'", "did you mean 'yoco'"),
    ),
    Cli(
        "selection-fractional-rep",
        EVAL + " --selections {d}/sel-fractional-rep.json --out {out}",
        ("record 1\\): rep 1.5 is not a whole number >= 1", "yoco select"),
    ),
    Cli(
        "selection-string-rep",
        EVAL + " --selections {d}/sel-string-rep.json --out {out}",
        ("rep '1' is not a whole number",),
    ),
    Cli(
        "selection-rep-0", EVAL + " --selections {d}/sel-rep-0.json --out {out}", ("rep 0 is not a whole number >= 1",)
    ),
    Cli(
        "selection-duplicate-index",
        EVAL + " --selections {d}/sel-duplicate-index.json --out {out}",
        ("sel-duplicate-index.json", "more than once", "only SSP may repeat", "yoco select"),
    ),
    Cli(
        "selection-one-index-short",
        EVAL + " --selections {d}/sel-one-short.json --out {out}",
        ("sel-one-short.json", "keeps 39 patches", "C·IPC_T·f² = 10·1·2² = 40", "yoco select"),
    ),
    Cli(
        "selection-n-selected-disagrees",
        EVAL + " --selections {d}/sel-n-selected.json --out {out}",
        ("n_selected 41 but 40 indices", "yoco select"),
    ),
    Cli(
        "selection-class-counts-disagree",
        EVAL + " --selections {d}/sel-class-counts.json --out {out}",
        ("class_counts \\[5, 4", "select \\[4, 4", "yoco select"),
    ),
    Cli(
        "selection-balanced-key-unbalanced",
        EVAL + " --selections {d}/sel-unbalanced.json --out {out}",
        ("balanced key but keeps 3 patches of class 0", "IPC_T·f² = 4"),
    ),
    Cli(
        "selection-ipc-to-above-ipc-from",
        EVAL + " --selections {d}/sel-ipc-to-above.json --out {out}",
        ("ipc_to 5 exceeds ipc_from 4", "yoco select"),
    ),
    Cli(
        "fig2-hand-edited-counts",
        "figure-data --figure 2 --selections {d}/sel-class-counts.json --runs {d}/runs.csv --out {out}",
        ("sel-class-counts.json", "class_counts"),
    ),
]

REPS = [
    Cli(
        "select-rep1-scores-for-rep2",
        "select --pairs yoco@2 --score-reps 2 --ipc-to 1 " + DEC + " --scores {d}/scores1.npz --out {out}",
        ("scores1.npz comes from dynamics rep 1 but is used for rep 2", "score file of rep 2"),
    ),
    Cli(
        "select-one-score-file-for-rep2",
        "select --key yoco --rep 2 --ipc-to 1 " + DEC + " --scores {d}/scores1.npz --out {out}",
        ("scores1.npz comes from dynamics rep 1 but is used for rep 2",),
    ),
    Cli(
        "select-one-score-file-for-two-reps",
        "select --pairs yoco@1 yoco@2 --ipc-to 1 " + DEC + " --scores {d}/scores1.npz --out {out}",
        ("used for rep 2",),
    ),
    Cli(
        "fractions-one-rep-twice",
        "evaluate-fractions "
        + DEC
        + " "
        + REAL
        + " --scores {d}/scores1.npz {d}/scores1-copy.npz --fractions 0.5 "
        + T
        + " --out {out}",
        ("scores1.npz and .*scores1-copy.npz are both rep 1", "one file per rep"),
    ),
    Cli(
        "epochs-one-rep-twice",
        "evaluate-epochs " + DEC + " " + REAL + " --dynamics {d}/dyn/rep1.npz {d}/dyn-rep1-copy.npz --ipc-to 1 "
        "--epochs-to 2 " + T + " --out {out}",
        ("rep1.npz and .*dyn-rep1-copy.npz are both rep 1", "one file per rep"),
    ),
]

RESOLUTION = [
    Cli(
        "import-8px-as-cifar10",
        "import --format idc --path {d}/idc.pt --dataset cifar10 --out {out}",
        ("idc.pt has 8x8 images but cifar10 is 32x32", "--image-size 8"),
    ),
    Cli(
        "import-16px-as-cifar10",
        "import --format idc --path {d}/px16.pt --dataset cifar10 --out {out}",
        ("16x16 images but cifar10 is 32x32", "--image-size 16"),
    ),
    Cli(
        "import-8px-as-imagenet10",
        "import --format idc --path {d}/idc.pt --dataset imagenet10 --factor 2 --out {out}",
        ("8x8 images but imagenet10 is 224x224",),
    ),
    Cli(
        "import-8px-as-16px-digits",
        "import --format idc --path {d}/idc.pt --dataset digits --factor 2 --image-size 16 --out {out}",
        ("8x8 images but digits is 16x16", "--image-size 8"),
    ),
    Cli(
        "prune-8px-as-cifar10",
        "prune --condensed {d}/idc.pt --dataset cifar10 --ipc-to 1 --epochs 1 --width 8 --device cpu --out {out}",
        ("idc.pt has 8x8 images but cifar10 is 32x32", "--real"),
    ),
    Cli(
        "prune-16px-as-cifar10",
        "prune --condensed {d}/px16.pt --dataset cifar10 --factor 2 --ipc-to 1 --epochs 1 --width 8 --device cpu "
        "--out {out}",
        ("16x16 images but cifar10 is 32x32",),
    ),
]

PRUNE_FLAGS = [
    Cli(
        "prune-top-k-above-lbpe-epochs",
        PRUNE_CLI + " --epochs 4 --lbpe-epochs 2 --lbpe-top-k 3 --out {out}",
        ("--lbpe-top-k 3 exceeds --lbpe-epochs 2", "K <= E"),
    ),
    Cli(
        "prune-top-k-above-epochs",
        PRUNE_CLI + " --epochs 2 --lbpe-top-k 5 --out {out}",
        ("--lbpe-top-k 5 exceeds --lbpe-epochs 2",),
    ),
    Cli(
        "prune-lbpe-epochs-above-epochs",
        PRUNE_CLI + " --epochs 2 --lbpe-epochs 3 --lbpe-top-k 1 --out {out}",
        ("--lbpe-epochs 3", "only 2 epochs", "lower --lbpe-epochs"),
    ),
    Cli(
        "prune-mean-1e9",
        "prune --condensed {d}/idc.pt --dataset mydata --factor 2 --mean 1e9 0.5 0.5 --std 0.2 0.2 0.2 --ipc-to 1 "
        "--out {out}",
        ("--mean 1e\\+09 is outside \\[0, 1\\]", "divide by 255"),
    ),
    Cli(
        "prune-mean-of-0-255-pixels",
        "prune --condensed {d}/idc.pt --dataset mydata --factor 2 --mean 125.3 123 113.9 --std 63 62.1 66.7 "
        "--ipc-to 1 --out {out}",
        ("--mean 125.3 is outside", "divide by 255"),
    ),
    Cli(
        "prune-std-above-half",
        "prune --condensed {d}/idc.pt --dataset mydata --factor 2 --mean 0.5 0.5 0.5 --std 0.2 0.9 0.2 "
        "--ipc-to 1 --out {out}",
        ("--std 0.9 exceeds 0.5",),
    ),
    Cli(
        "prune-mean-nan",
        "prune --condensed {d}/idc.pt --dataset mydata --factor 2 --mean nan 0.5 0.5 --std 0.2 0.2 0.2 "
        "--ipc-to 1 --out {out}",
        ("--mean must be 3 finite numbers",),
    ),
    Cli(
        "prune-mean-with-canonical-set",
        PRUNE_CLI + " --epochs 1 --mean 0.5 -0.1 0.5 --std 0.2 0.2 0.2 --out {out}",
        ("--mean -0.1 is outside \\[0, 1\\]",),
    ),
]

# A width whose parameters alone exceed any machine: ConvNet-D3 of width 10**6 holds ~1.8e13 of them.
HUGE = "--width 1000000"
TRACEBACKS = [
    Cli(
        "prune-seed-above-2**64-1",
        PRUNE_CLI + " --epochs 1 --key random --seed 18446744073709551616 --out {out}",
        ("--seed", "above 18446744073709551615", "smaller"),
    ),
    Cli(
        "condense-seed-above-2**64-1",
        "condense --real {d}/digits.npz --method idc --ipc 1 --seed 99999999999999999999999 --out {out}",
        ("--seed", "above", "2\\*\\*64 - 1"),
    ),
    Cli(
        "experts-seed-negative",
        "experts --real {d}/digits.npz --num-experts 1 --seed -1 --out {out}",
        ("--seed", "below 0"),
    ),
    Cli(
        "dynamics-device-mps",
        "dynamics " + DEC + " " + REAL + " --out-dir {out} --width 8 --epochs 1 --device mps",
        ("--device mps", "no usable MPS", "--device cpu"),
    ),
    Cli(
        "prune-device-mps",
        PRUNE_CLI.replace("--device cpu", "--device mps") + " --epochs 1 --out {out}",
        ("--device mps", "--device cpu"),
    ),
    Cli(
        "evaluate-empty-test-split",
        "evaluate " + DEC + " --real {d}/no-test.npz --selections {d}/sel.json --inits 1 " + T + " --out {out}",
        ("no-test.npz has an empty test split", "yoco data --dataset digits"),
    ),
    Cli(
        "dynamics-empty-test-split",
        "dynamics " + DEC + " --real {d}/no-test.npz --out-dir {out} " + T,
        ("no-test.npz has an empty test split",),
    ),
    Cli(
        "condense-empty-test-split",
        "condense --real {d}/no-test.npz --method idc --ipc 1 --out {out}",
        ("no-test.npz has an empty test split",),
    ),
    Cli(
        "dynamics-resnetap10-on-8px",
        "dynamics " + DEC + " " + REAL + " --network resnetap10 --out-dir {out} " + T,
        ("resnetap10", "8x8 images to 1x1 feature maps", "--image-size 16", "--network convnet"),
    ),
    Cli(
        "evaluate-resnetap10-on-8px",
        EVAL + " --selections {d}/sel.json --network resnetap10 --out {out}",
        ("resnetap10", "1x1 feature maps"),
    ),
    Cli(
        "prune-resnetap10-on-8px",
        PRUNE_CLI + " --epochs 1 --network resnetap10 --out {out}",
        ("resnetap10", "1x1 feature maps"),
    ),
    Cli(
        "dynamics-width-beyond-memory",
        "dynamics " + DEC + " " + REAL + " --out-dir {out} --epochs 1 --device cpu " + HUGE,
        ("width 1000000", "GiB of memory", "smaller width \\(--width\\)"),
    ),
    Cli(
        "evaluate-width-beyond-memory",
        "evaluate " + DEC + " " + REAL + " --selections {d}/sel.json --epochs 1 --device cpu " + HUGE + " --out {out}",
        ("width 1000000", "--width"),
    ),
    Cli(
        "condense-width-beyond-memory",
        "condense --real {d}/digits.npz --method idc --ipc 1 --outer 1 --device cpu " + HUGE + " --out {out}",
        ("width 1000000", "--width"),
    ),
    Cli(
        "experts-width-beyond-memory",
        "experts --real {d}/digits.npz --num-experts 1 --epochs 1 --device cpu " + HUGE + " --out {out}",
        ("width 1000000", "--width"),
    ),
    Cli(
        "prune-width-beyond-memory",
        PRUNE_CLI.replace("--width 8", HUGE) + " --epochs 1 --out {out}",
        ("width 1000000", "--width"),
    ),
    Cli(
        "data-image-size-beyond-memory",
        "data --dataset digits --image-size 1000000 --out {out}",
        ("image size 1000000", "GiB of memory", "smaller --image-size"),
    ),
    Cli(
        "data-npz-resized-beyond-memory",
        "data --dataset digits --npz {d}/digits.npz --image-size 1000000 --out {out}",
        ("image size 1000000", "smaller --image-size"),
    ),
]

CLI_CASES = DUPLICATES + HAND_EDITED + REPS + RESOLUTION + PRUNE_FLAGS + TRACEBACKS


def test_every_category_has_at_least_twice_the_issues_examples_and_distinct_ids():
    ids = [f"cli:{c.id}" for c in CLI_CASES] + [f"api:{c[0]}" for c in API_CASES]
    assert len(ids) == len(set(ids))
    # the issue's examples: 3 duplicates, 1 rep, 4 hand edits, 1 resolution, 2 prune flags; 6 tracebacks
    assert len(DUPLICATES) >= 6 and len(REPS) >= 2 and len(HAND_EDITED) >= 8 and len(RESOLUTION) >= 2
    assert len(PRUNE_FLAGS) >= 4 and len(TRACEBACKS) + len(TRACEBACK_API) >= 12


@pytest.mark.parametrize("case", CLI_CASES, ids=lambda c: c.id)
def test_cli_inputs_that_disagree_or_cannot_run(case, cws, capsys):
    base.test_cli_bad_input(case, cws, capsys)


def test_no_traceback_reaches_stderr_of_a_real_process(cws, tmp_path):
    cases = {c.id: c for c in CLI_CASES}
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(base.REPO), os.environ.get("PYTHONPATH", "")]))
    for name in ("select-pairs-twice", "selection-duplicate-index", "prune-seed-above-2**64-1", "dynamics-device-mps"):
        out = tmp_path / "result.out"
        proc = subprocess.run(
            [sys.executable, "-m", "yoco", *base._argv(cases[name], cws, out)],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        assert proc.returncode == 2 and "Traceback" not in proc.stderr, (name, proc.stderr)
        assert len(base._stderr_error_line(proc.stderr)) == 1, proc.stderr
        assert not out.exists()


def test_a_training_step_beyond_memory_is_refused_before_it_runs(cws, tmp_path, capsys, monkeypatch):
    """One model that builds but whose step cannot fit: refused by its estimate, before the first step."""
    import yoco.memory

    monkeypatch.setattr(yoco.memory, "total_bytes", lambda device="cpu": 2**30)  # a 1 GiB machine
    out = tmp_path / "dyn"
    case = Cli(
        "dynamics-step-beyond-memory",
        "dynamics " + DEC + " " + REAL + " --out-dir {out} --epochs 1 --device cpu --width 2048 --batch-size 256",
        ("one convnet of width 2048 on 8x8 images in batches of 256", "1 GiB", "--batch-size"),
    )
    base._run_cli(case, cws, out, capsys)
    assert not out.exists()


def test_what_yoco_writes_passes_the_checks_it_reads_with(cws, tmp_path):
    """The reader refuses hand edits, not yoco's own files: a selection of every key kind reads back,
    SSP's repeated index included, and score files record their rep."""
    from yoco.pipeline import read_scores
    from yoco.selection import read_selections

    assert read_scores(cws / "scores1.npz")[1]["rep"] == 1
    records = read_selections([cws / "sel.json"])
    assert [r["key"] for r in records] == ["yoco", "random"]
    ssp = copy.deepcopy(records[0])
    ssp["key"] = "ssp_balance"
    ssp["indices"][1] = ssp["indices"][0]  # two centroids nearest one patch of class 0
    (tmp_path / "ssp.json").write_text(json.dumps([ssp]))
    assert read_selections([tmp_path / "ssp.json"])[0]["key"] == "ssp_balance"


# ------------------------------------------------------------------------------------------- API cases
def _set10(size):
    g = torch.Generator().manual_seed(1)
    return torch.rand(20, 3, size, size, generator=g), torch.arange(10).repeat_interleave(2)


def _prune10(size, **kw):
    images, labels = _set10(size)
    return lambda tmp: yoco.prune(images, labels, 1, factor=1, epochs=1, width=8, **kw)


def _select(**kw):
    args = dict(ipc_from=4, ipc_to=1, factor=2, seed=0)
    args.update(kw)
    return lambda tmp: yoco.select("random", {}, np.repeat(np.arange(3), 16), **args)


def _selection_file(change):
    def run(tmp):
        from yoco.selection import read_selections

        rec = {
            "key": "random",
            "rep": 1,
            "seed": 0,
            "dataset": "digits",
            "condenser": "idc",
            "ipc_from": 4,
            "ipc_to": 1,
            "factor": 1,
            "indices": [0, 4, 8],
            "identity": {"n_decoded": 12},
        }
        change(rec)
        (tmp / "sel.json").write_text(json.dumps([rec]))
        return read_selections([tmp / "sel.json"])

    return run


def _no_test_split(tmp):
    real = yoco.load_real("digits", image_size=8)
    np.savez(
        tmp / "real.npz",
        x_train=real.x_train,
        y_train=real.y_train,
        x_test=real.x_test[:0],
        y_test=real.y_test[:0],
        class_names=np.array(real.class_names),
    )
    return yoco.load_real("digits", npz=tmp / "real.npz")


CONSISTENCY_API = [
    (
        "prune-8px-as-cifar10",
        _prune10(8, dataset="cifar10"),
        ("the set has 8x8 images", "cifar10 is 32x32", "image_size="),
    ),
    (
        "prune-16px-as-imagenet10",
        _prune10(16, dataset="imagenet10"),
        ("16x16", "imagenet10 is 224x224", "image_size="),
    ),
    (
        "prune-image-size-disagrees",
        _prune10(8, dataset="cifar10", image_size=16),
        ("8x8", "cifar10 is 16x16", "the resolution given"),
    ),
    ("prune-top-k-above-lbpe-epochs", _prune(lbpe_epochs=2, lbpe_top_k=3), ("lbpe_top_k=3 exceeds lbpe_epochs=2",)),
    ("prune-lbpe-epochs-above-epochs", _prune(lbpe_epochs=3), ("lbpe_epochs=3", "only 1 epochs")),
    (
        "prune-lbpe-epochs-above-given-dynamics",
        _prune(dynamics=_dyn(), lbpe_epochs=5, lbpe_top_k=1),
        ("lbpe_epochs=5", "only 2 epochs"),
    ),
    ("prune-mean-1e9", _prune(mean=(1e9, 0.5, 0.5)), ("mean 1e\\+09 is outside \\[0, 1\\]", "255")),
    ("prune-std-of-0-255-pixels", _prune(std=(63.0, 62.1, 66.7)), ("std 63 exceeds 0.5", "255")),
    ("prune-std-negative", _prune(std=(0.2, -0.2, 0.2)), ("std -0.2 must be positive",)),
    (
        "read-selection-unknown-field",
        _selection_file(lambda r: r.__setitem__("indicies", r["indices"])),
        ("unknown field 'indicies'", "did you mean 'indices'"),
    ),
    (
        "read-selection-duplicate-index",
        _selection_file(lambda r: r.__setitem__("indices", [0, 0, 8])),
        ("index 0 more than once",),
    ),
    (
        "read-selection-index-beyond-recorded-set",
        _selection_file(lambda r: r.__setitem__("indices", [0, 4, 12])),
        ("index 12", "only 12 samples"),
    ),
    (
        "read-selection-wrong-count",
        _selection_file(lambda r: r.__setitem__("indices", [0, 4])),
        ("keeps 2 patches", "= 3"),
    ),
    ("read-selection-rep-true", _selection_file(lambda r: r.__setitem__("rep", True)), ("rep True is not a whole",)),
]

TRACEBACK_API = [
    ("select-seed-none", _select(seed=None), ("seed must be a whole number", "got None")),
    ("select-seed-negative", _select(seed=-1), ("seed", "got -1")),
    ("select-seed-above-2**64-1", _select(seed=2**64), ("2\\*\\*64 - 1", "got 18446744073709551616")),
    ("select-seed-float", _select(seed=0.5), ("seed", "got 0.5")),
    ("prune-seed-above-2**64-1", _prune(seed=2**64, key="random"), ("seed", "2\\*\\*64 - 1")),
    ("prune-device-mps", _prune(device="mps"), ("'mps'", "no usable MPS", "'cpu'")),
    ("load-real-empty-test-split", _no_test_split, ("real.npz has an empty test split", "yoco data")),
    (
        "build-resnetap10-on-8px",
        lambda tmp: yoco.nets.build_network("resnetap10", 10, image_size=8, width=4),
        ("resnetap10", "1x1 feature maps"),
    ),
    (
        "build-densenet-on-4px",
        lambda tmp: yoco.nets.build_network("densenet", 10, image_size=4, width=4),
        ("densenet cannot take 4x4 images", "Output size is too small", "larger images"),
    ),
    (
        "build-width-beyond-memory",
        lambda tmp: yoco.nets.build_network("convnet", 10, image_size=8, width=10**6),
        ("width 1000000", "GiB", "smaller width"),
    ),
    (
        "load-real-image-size-beyond-memory",
        lambda tmp: yoco.load_real("digits", image_size=10**6),
        ("image size 1000000", "smaller --image-size"),
    ),
    ("prune-resnetap10-on-8px", _prune(network="resnetap10"), ("resnetap10", "1x1 feature maps")),
]

API_CASES = CONSISTENCY_API + TRACEBACK_API


@pytest.mark.parametrize("name, call, expect", API_CASES, ids=[c[0] for c in API_CASES])
def test_api_inputs_that_disagree_or_cannot_run(name, call, expect, tmp_path):
    import yoco.nets  # noqa: F401  (yoco.nets in the lambdas)

    base.test_api_bad_input(name, call, expect, tmp_path)


def test_defaults_adapt_where_values_given_are_checked():
    """yoco.prune's LBPE defaults follow a short run (E = min(100, epochs), K = min(10, E)): a 2-epoch run
    needs no flags, while K = 3 given for it is refused above."""
    idx = yoco.prune(IMAGES, LABELS, **{**PRUNE, "epochs": 2})
    assert len(idx) == 3 * 1 * 2**2  # 3 classes x IPC_T 1 x f^2


def test_seed_bounds_are_those_torch_and_numpy_take():
    from yoco.seeding import MAX_SEED, check_seed

    assert check_seed(MAX_SEED) == 2**64 - 1 and check_seed(np.uint64(7)) == 7
    torch.Generator().manual_seed(MAX_SEED)  # the largest accepted seed is one torch takes
    np.random.default_rng(MAX_SEED)
    with pytest.raises(YocoError):
        check_seed(MAX_SEED + 1)
    assert STATS["mean"] == (0.5, 0.5, 0.5)  # the statistics the prune cases start from are plausible


def test_a_downscaled_cifar10_set_is_accepted_when_its_size_is_said(cws, tmp_path, capsys):
    """The resolution check refuses a set that disagrees with its dataset, not CIFAR-10 made small on
    purpose (the lite configs run CIFAR-10 at 8 px): --image-size, --real or image_size= say so."""
    from yoco.cli import main

    with np.load(cws / "digits.npz") as z:  # 8-px images standing in for CIFAR-10 at 8 px
        arrays = {k: z[k] for k in z.files}
    np.savez(tmp_path / "cifar10-8px.npz", **{**arrays, "name": np.array("cifar10")})
    argv = ["--path", cws / "idc.pt", "--dataset", "cifar10", "--image-size", "8", "--out", tmp_path / "set.pt"]
    assert main(["import", "--format", "idc", *map(str, argv)]) == 0
    out = tmp_path / "keep.json"
    prune = ["prune", "--condensed", cws / "idc.pt", "--dataset", "cifar10", "--real", tmp_path / "cifar10-8px.npz"]
    assert main([*map(str, prune), "--key", "random", "--ipc-to", "1", "--out", str(out)]) == 0
    assert len(json.loads(out.read_text())["indices"]) == 10 * 1 * 2**2
    images, labels = _set10(8)
    assert len(yoco.prune(images, labels, 1, key="random", dataset="cifar10", image_size=8)) == 10
    capsys.readouterr()
