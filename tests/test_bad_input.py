"""Bad input never loses data, never dumps a traceback, never passes silently (issue 11, docs/errors.md).

Every case below is one bad input: a command line, a Python call, a config or an output location.
For each, the contract is checked, not just the error type:

* CLI: exit status 2, exactly one line on stderr (``yoco COMMAND: error: ...``) that names the input
  and the fix, no traceback; the workspace (every input and earlier output) is byte-for-byte and
  mode-for-mode unchanged, nothing is written at ``--out`` (no temporary file either), and a file
  already at ``--out`` is left untouched.
* API: a ``YocoError`` whose message is one line naming the input and the fix; writers leave the
  output path as it was.
* Config: a ``YocoError`` of one line naming the key, the value and what is allowed.

CLI cases run ``yoco.cli.main`` in-process (the same code path as the console script); a handful also
run as real subprocesses to prove that no traceback reaches stderr.
"""

from __future__ import annotations

import copy
import errno
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

import yoco
from yoco.cli import main
from yoco.errors import YocoError

REPO = Path(__file__).resolve().parents[1]
TRAIN = ["--width", "8", "--epochs", "2", "--device", "cpu"]


# ------------------------------------------------------------------------------------------- workspace
def _ok(argv):
    assert main([str(a) for a in argv]) == 0, argv


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    """A small digits pipeline (real data, two condensed sets, dynamics, scores, selections, runs)
    plus the bad files the cases feed in. The folder name has a space on purpose."""
    from yoco.data import class_images, load_real
    from yoco.formation import mix_init

    d = tmp_path_factory.mktemp("bad input")
    _ok(["data", "--dataset", "digits", "--image-size", "8", "--out", d / "digits.npz"])
    _ok(["data", "--dataset", "digits", "--image-size", "16", "--out", d / "digits16.npz"])
    real = load_real("digits", npz=d / "digits.npz")
    images = mix_init(class_images(real, 16), 4, 2)
    labels = torch.arange(10).repeat_interleave(4)
    torch.save([images, labels], d / "idc.pt")
    torch.save([images.flip(-1), labels], d / "dream.pt")
    _ok(
        [
            "import",
            "--format",
            "idc",
            "--path",
            d / "idc.pt",
            "--dataset",
            "digits",
            "--factor",
            "2",
            "--out",
            d / "condensed.pt",
        ]
    )
    _ok(
        [
            "import",
            "--format",
            "dream",
            "--path",
            d / "dream.pt",
            "--dataset",
            "digits",
            "--factor",
            "2",
            "--out",
            d / "dcondensed.pt",
        ]
    )
    _ok(["decode", "--condensed", d / "condensed.pt", "--out", d / "decoded.pt"])
    _ok(["decode", "--condensed", d / "dcondensed.pt", "--out", d / "ddecoded.pt"])
    _ok(
        [
            "dynamics",
            "--decoded",
            d / "decoded.pt",
            "--real",
            d / "digits.npz",
            "--reps",
            "2",
            "--out-dir",
            d / "dyn",
            *TRAIN,
        ]
    )
    _ok(
        [
            "scores",
            "--dynamics",
            d / "dyn/rep1.npz",
            "--model",
            d / "dyn/rep1.model.pt",
            "--decoded",
            d / "decoded.pt",
            "--real",
            d / "digits.npz",
            "--lbpe-epochs",
            "2",
            "--lbpe-top-k",
            "1",
            "--device",
            "cpu",
            "--out",
            d / "scores1.npz",
        ]
    )
    _ok(
        [
            "select",
            "--pairs",
            "yoco@1",
            "random@1",
            "--ipc-to",
            "1",
            "--decoded",
            d / "decoded.pt",
            "--scores",
            d / "scores1.npz",
            "--out",
            d / "sel.json",
        ]
    )
    _ok(["select", "--key", "random", "--ipc-to", "1", "--decoded", d / "ddecoded.pt", "--out", d / "dsel.json"])
    _ok(
        [
            "evaluate",
            "--decoded",
            d / "decoded.pt",
            "--real",
            d / "digits.npz",
            "--selections",
            d / "sel.json",
            "--keys",
            "random",
            "--inits",
            "1",
            "--eval-points",
            "1",
            "--width",
            "8",
            "--epochs",
            "1",
            "--device",
            "cpu",
            "--out",
            d / "runs.csv",
        ]
    )
    # a 16-px set (its real data would be 16 px; digits.npz is 8 px)
    torch.save([torch.rand(40, 3, 16, 16), labels], d / "px16.pt")
    _ok(
        [
            "import",
            "--format",
            "idc",
            "--path",
            d / "px16.pt",
            "--dataset",
            "digits",
            "--factor",
            "2",
            "--out",
            d / "p16condensed.pt",
        ]
    )
    _ok(["decode", "--condensed", d / "p16condensed.pt", "--out", d / "p16decoded.pt"])
    _bad_files(d, images, labels)
    return d


def _bad_files(d: Path, images, labels) -> None:
    torch.save([torch.rand(44, 3, 8, 8), torch.arange(11).repeat_interleave(4)], d / "c11.pt")
    torch.save([images.permute(0, 2, 3, 1).contiguous(), labels], d / "nhwc.pt")
    torch.save([(images * 255).round(), labels], d / "u8.pt")
    torch.save([images.numpy(), labels.numpy()], d / "numpy.pt")
    torch.save([images, labels.bool()], d / "boollab.pt")
    torch.save([images, labels.float() + 0.5], d / "fraclab.pt")
    torch.save([images[:39], labels[:39]], d / "uneven.pt")
    (d / "random.pt").write_bytes(np.random.default_rng(0).bytes(4000))
    (d / "trunc.pt").write_bytes((d / "idc.pt").read_bytes()[:3000])
    shutil.copy(d / "dyn/rep1.model.pt", d / "scores.pt")
    (d / "adir").mkdir()
    (d / "bad.json").write_text('[{"key": "yoco", "rep": 1,\n "indices": [1, 2,]}]')
    (d / "noidx.json").write_text(json.dumps([{"key": "yoco", "rep": 1}]))
    (d / "empty.json").write_text("[]")
    sel = json.loads((d / "sel.json").read_text())
    for name, change in {
        "negidx": lambda r: r["indices"].__setitem__(0, -3),
        "bigidx": lambda r: r["indices"].__setitem__(-1, 160),
        "floatidx": lambda r: r.__setitem__("indices", [float(i) for i in r["indices"]]),
        "otherhash": lambda r: r["identity"].__setitem__("decoded_sha256", "0" * 64),
    }.items():
        recs = copy.deepcopy(sel)
        for r in recs:
            change(r)
        (d / f"{name}.json").write_text(json.dumps(recs))
    np.savez(d / "obj.npz", err_l2=np.array([object()], dtype=object))
    with np.load(d / "digits.npz") as z:
        arrays = {k: z[k] for k in z.files}
    arrays["x_train"] = np.array([object()] * 3, dtype=object)
    np.savez(d / "objreal.npz", **arrays)
    with np.load(d / "dyn/rep1.npz") as z:
        arrays = {k: z[k] for k in z.files}
    arrays["err_l2"] = np.array([[object()]], dtype=object)
    np.savez(d / "objdyn.npz", **arrays)
    # dynamics recorded on another, smaller set (80 samples), with no identity recorded
    probs = np.full((2, 80, 10), 0.1)
    yoco.Dynamics.from_probs(probs, np.repeat(np.arange(10), 8)).save(d / "fakedyn80.npz")
    import pandas as pd

    runs = pd.read_csv(d / "runs.csv")
    runs.assign(decoded_sha256="f" * 64).to_csv(d / "runs_other.csv", index=False)


def _snapshot(root: Path) -> dict:
    out = {}
    for p in sorted(root.rglob("*")):
        st = p.lstat()
        digest = hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
        out[str(p.relative_to(root))] = (digest, st.st_mode)
    return out


# ------------------------------------------------------------------------------------------- CLI cases
@dataclass
class Cli:
    id: str
    argv: str  # formatted with d (workspace) and out (a fresh output path); split on spaces
    expect: tuple[str, ...]  # regexes: the input named and the fix (case-insensitive)
    absent: tuple[str, ...] = ()
    sentinel: bool = True  # also run with a file already at --out, which must stay untouched
    out_suffix: str = ".out"


def _argv(case: Cli, d: Path, out: Path) -> list[str]:
    return [part.replace("{d}", str(d)).replace("{out}", str(out)) for part in case.argv.split()]


DEC, REAL = "--decoded {d}/decoded.pt", "--real {d}/digits.npz"
T = "--width 8 --epochs 1 --device cpu"

CLI_CASES = [
    # data
    Cli("data-unknown-dataset", "data --dataset cifar11 --out {out}", ("cifar11", "did you mean 'cifar10'")),
    Cli("data-image-size-0", "data --dataset digits --image-size 0 --out {out}", ("--image-size", ">= 1")),
    Cli(
        "data-npz-missing", "data --dataset digits --npz {d}/missing.npz --out {out}", ("missing.npz", "does not exist")
    ),
    Cli(
        "data-npz-object-arrays",
        "data --dataset digits --npz {d}/objreal.npz --out {out}",
        ("objreal.npz", "write it again with `yoco data`"),
    ),
    Cli("data-npz-is-folder", "data --dataset digits --npz {d}/adir --out {out}", ("adir", "is a folder")),
    Cli(
        "data-root-is-a-file",
        "data --dataset cifar10 --root {d}/idc.pt --out {out}",
        ("idc.pt", "download folder", "--root"),
    ),
    # condense
    Cli(
        "condense-factor-leaves-2px-patches",
        "condense --real {d}/digits.npz --method idc --ipc 1 --factor 4 --out {out}",
        ("--factor 4", "2x2 patches", "smaller factor"),
    ),
    Cli(
        "condense-dsa-with-factor-2",
        "condense --real {d}/digits.npz --method dsa --ipc 1 --factor 2 --out {out}",
        ("--method dsa", "--factor must be 1"),
    ),
    Cli(
        "condense-unknown-method",
        "condense --real {d}/digits.npz --method foo --ipc 1 --out {out}",
        ("--method", "invalid choice"),
    ),
    Cli(
        "condense-snapshot-is-folder",
        "condense --real {d}/digits.npz --method idc --ipc 1 --snapshot {d}/adir --out {out}",
        ("--snapshot", "is a folder"),
    ),
    Cli(
        "condense-real-is-not-real-data",
        "condense --real {d}/decoded.pt --method idc --ipc 1 --out {out}",
        ("decoded.pt", "yoco data"),
    ),
    Cli("condense-ipc-0", "condense --real {d}/digits.npz --method idc --ipc 0 --out {out}", ("--ipc", ">= 1")),
    # import
    Cli(
        "import-11-classes-as-digits",
        "import --format idc --path {d}/c11.pt --dataset digits --factor 2 --out {out}",
        ("11 classes", "digits has 10", "--dataset"),
    ),
    Cli(
        "import-10-classes-as-cifar100",
        "import --format idc --path {d}/idc.pt --dataset cifar100 --out {out}",
        ("10 classes", "cifar100 has 100", "--dataset"),
    ),
    Cli(
        "import-factor-leaves-1px-patches",
        "import --format idc --path {d}/idc.pt --dataset digits --factor 8 --out {out}",
        ("factor 8", "1x1 patches", "at most 2"),
    ),
    Cli(
        "import-nhwc",
        "import --format idc --path {d}/nhwc.pt --dataset digits --factor 2 --out {out}",
        ("channels-last", "permute"),
    ),
    Cli(
        "import-uint8-pixels",
        "import --format idc --path {d}/u8.pt --dataset digits --factor 2 --out {out}",
        ("8-bit", "divide the images by 255"),
    ),
    Cli(
        "import-random-bytes",
        "import --format idc --path {d}/random.pt --dataset digits --factor 2 --out {out}",
        ("random.pt", "not a torch file", "check the path"),
        absent=("trusted", "unsafe"),
    ),
    Cli(
        "import-numpy-pickle",
        "import --format idc --path {d}/numpy.pt --dataset digits --factor 2 --out {out}",
        ("numpy.pt", "numpy", "--allow-unsafe-unpickling", "run code"),
    ),
    Cli(
        "import-truncated",
        "import --format idc --path {d}/trunc.pt --dataset digits --factor 2 --out {out}",
        ("trunc.pt", "truncated"),
        absent=("trusted",),
    ),
    Cli(
        "import-path-is-folder",
        "import --format idc --path {d}/adir --dataset digits --factor 2 --out {out}",
        ("adir", "is a folder", "pass the file"),
    ),
    Cli(
        "import-path-missing",
        "import --format idc --path {d}/missing.pt --dataset digits --factor 2 --out {out}",
        ("missing.pt", "not found", "yoco condense"),
    ),
    Cli(
        "import-canonical-as-idc",
        "import --format idc --path {d}/condensed.pt --dataset digits --out {out}",
        ("canonical", "--format canonical"),
    ),
    Cli(
        "import-bool-labels",
        "import --format idc --path {d}/boollab.pt --dataset digits --factor 2 --out {out}",
        ("booleans", "class indices"),
    ),
    Cli(
        "import-fractional-labels",
        "import --format idc --path {d}/fraclab.pt --dataset digits --factor 2 --out {out}",
        ("fraclab.pt", "fractional", "whole class indices"),
    ),
    Cli(
        "import-uneven-classes",
        "import --format idc --path {d}/uneven.pt --dataset digits --factor 2 --out {out}",
        ("uneven.pt", "different numbers", "complete"),
    ),
    Cli(
        "import-ipc-mismatch",
        "import --format idc --path {d}/idc.pt --dataset digits --factor 2 --ipc 5 --out {out}",
        ("ipc=5", "--ipc 4"),
    ),
    Cli(
        "import-unknown-format",
        "import --format idcc --path {d}/idc.pt --dataset digits --out {out}",
        ("--format", "invalid choice"),
    ),
    Cli(
        "import-digits-without-factor",
        "import --format idc --path {d}/idc.pt --dataset digits --out {out}",
        ("digits", "--factor"),
    ),
    Cli(
        "import-real-under-another-name",
        "import --format real --path {d}/digits.npz --dataset cifar10 --out {out}",
        ("digits", "--dataset digits"),
    ),
    # decode and output locations
    Cli(
        "decode-out-is-a-folder",
        "decode --condensed {d}/condensed.pt --out {d}/adir",
        ("adir", "is a folder", "file name inside it"),
        sentinel=False,
    ),
    Cli(
        "decode-out-parent-is-a-file",
        "decode --condensed {d}/condensed.pt --out {d}/idc.pt/x.pt",
        ("idc.pt", "is a file, not a folder"),
        sentinel=False,
    ),
    Cli(
        "decode-out-read-only",
        "decode --condensed {d}/condensed.pt --out /sys/yoco-bad-input-test.pt",
        ("/sys", "cannot create files", "writable output location"),
        sentinel=False,
    ),
    Cli(
        "decode-out-overwrites-input",
        "decode --condensed {d}/condensed.pt --out {d}/condensed.pt",
        ("same file as --condensed", "another output path"),
        sentinel=False,
    ),
    Cli(
        "decode-out-is-the-current-folder",
        "decode --condensed {d}/condensed.pt --out .",
        ("--out \\.", "is a folder"),
        sentinel=False,
    ),
    Cli(
        "decode-twice",
        "decode --condensed {d}/decoded.pt --out {out}",
        ("already a decoded set", "condensed set it was"),
    ),
    Cli("decode-condensed-is-folder", "decode --condensed {d}/adir --out {out}", ("adir", "is a folder")),
    Cli("decode-condensed-missing", "decode --condensed {d}/missing.pt --out {out}", ("missing.pt", "yoco import")),
    Cli(
        "decode-original-format-file",
        "decode --condensed {d}/idc.pt --out {out}",
        ("idc.pt", "not a canonical", "yoco import --format"),
    ),
    # dynamics
    Cli(
        "dynamics-16px-set-8px-real",
        "dynamics --decoded {d}/p16decoded.pt " + REAL + " --out-dir {out} " + T,
        ("16x16", "8x8", "--image-size 16"),
    ),
    Cli(
        "dynamics-8px-set-16px-real",
        "dynamics " + DEC + " --real {d}/digits16.npz --out-dir {out} " + T,
        ("8x8", "16x16", "--image-size 8"),
    ),
    Cli(
        "dynamics-out-dir-is-a-file",
        "dynamics " + DEC + " " + REAL + " --out-dir {d}/idc.pt " + T,
        ("--out-dir", "is a file, not a folder"),
        sentinel=False,
    ),
    Cli("dynamics-reps-0", "dynamics " + DEC + " " + REAL + " --reps 0 --out-dir {out} " + T, ("--reps", ">= 1")),
    Cli(
        "dynamics-unknown-network",
        "dynamics " + DEC + " " + REAL + " --network convnett --out-dir {out} " + T,
        ("convnett", "did you mean 'convnet'"),
    ),
    Cli(
        "dynamics-dense-blocks-on-a-convnet",
        "dynamics " + DEC + " " + REAL + " --dense-blocks 1 2 4 3 --out-dir {out} " + T,
        ("--dense-blocks", "--network convnet has none", "leave it out"),
    ),
    Cli(
        "dynamics-unknown-diffaug-op",
        "dynamics " + DEC + " " + REAL + " --diffaug color_spin --out-dir {out} " + T,
        ("spin", "valid ops"),
    ),
    Cli(
        "dynamics-undecoded-set",
        "dynamics --decoded {d}/condensed.pt " + REAL + " --out-dir {out} " + T,
        ("not decoded", "yoco decode"),
    ),
    Cli(
        "dynamics-device-foo",
        "dynamics " + DEC + " " + REAL + " --out-dir {out} --width 8 --epochs 1 --device foo",
        ("--device 'foo'", "cpu, cuda"),
    ),
    Cli(
        "dynamics-cutmix-p-2",
        "dynamics " + DEC + " " + REAL + " --cutmix-p 2 --out-dir {out} " + T,
        ("--cutmix-p", "outside"),
    ),
    # scores
    Cli(
        "scores-dynamics-of-another-set",
        "scores --dynamics {d}/dyn/rep1.npz --model {d}/dyn/rep1.model.pt "
        "--decoded {d}/ddecoded.pt " + REAL + " --lbpe-epochs 2 --lbpe-top-k 1 --out {out}",
        ("does not belong", "condenser 'idc' vs 'dream'", "yoco dynamics --decoded"),
    ),
    Cli(
        "scores-full-set-dynamics",
        "scores --dynamics {d}/fakedyn80.npz --model {d}/dyn/rep1.model.pt "
        + DEC
        + " "
        + REAL
        + " --lbpe-epochs 2 --lbpe-top-k 1 --out {out}",
        ("fakedyn80.npz", "80 samples", "160", "record them"),
    ),
    Cli(
        "scores-model-refused-as-unsafe",
        "scores --dynamics {d}/dyn/rep1.npz --model {d}/numpy.pt "
        + DEC
        + " "
        + REAL
        + " --lbpe-epochs 2 --lbpe-top-k 1 --out {out}",
        ("numpy.pt", "not a model file", "pass the file yoco wrote"),
    ),
    Cli(
        "scores-model-of-another-rep",
        "scores --dynamics {d}/dyn/rep1.npz --model {d}/dyn/rep2.model.pt "
        + DEC
        + " "
        + REAL
        + " --lbpe-epochs 2 --lbpe-top-k 1 --out {out}",
        ("rep2.model.pt", "different runs", "beside the dynamics"),
    ),
    Cli(
        "scores-dynamics-object-arrays",
        "scores --dynamics {d}/objdyn.npz --model {d}/dyn/rep1.model.pt "
        + DEC
        + " "
        + REAL
        + " --lbpe-epochs 2 --lbpe-top-k 1 --out {out}",
        ("objdyn.npz", "not a readable dynamics file", "write it again"),
    ),
    Cli(
        "scores-top-k-above-epochs",
        "scores --dynamics {d}/dyn/rep1.npz --model {d}/dyn/rep1.model.pt "
        + DEC
        + " "
        + REAL
        + " --lbpe-epochs 2 --lbpe-top-k 3 --out {out}",
        ("--lbpe-top-k 3", "K <= E"),
    ),
    Cli(
        "scores-lbpe-epochs-beyond-dynamics",
        "scores --dynamics {d}/dyn/rep1.npz --model {d}/dyn/rep1.model.pt "
        + DEC
        + " "
        + REAL
        + " --lbpe-epochs 9 --lbpe-top-k 1 --out {out}",
        ("--lbpe-epochs 9", "only 2", "lower"),
    ),
    Cli(
        "scores-condenser-flag-disagrees",
        "scores --dynamics {d}/dyn/rep1.npz --model {d}/dyn/rep1.model.pt "
        + DEC
        + " "
        + REAL
        + " --condenser dream --lbpe-epochs 2 --lbpe-top-k 1 --out {out}",
        ("--condenser dream", "pass --condenser idc"),
    ),
    Cli(
        "scores-dynamics-is-a-folder",
        "scores --dynamics {d}/dyn --model {d}/dyn/rep1.model.pt "
        + DEC
        + " "
        + REAL
        + " --lbpe-epochs 2 --lbpe-top-k 1 --out {out}",
        ("is a folder", "rep1.npz"),
    ),
    Cli(
        "scores-model-missing",
        "scores --dynamics {d}/dyn/rep1.npz --model {d}/missing.pt "
        + DEC
        + " "
        + REAL
        + " --lbpe-epochs 2 --lbpe-top-k 1 --out {out}",
        ("missing.pt", "does not exist", "yoco dynamics"),
    ),
    # select
    Cli(
        "select-wrong-ipc-from",
        "select --key random --ipc-from 5 --ipc-to 1 " + DEC + " --out {out}",
        ("--ipc-from 5", "IPC 4", "--ipc-from 4"),
    ),
    Cli(
        "select-scores-given-as-pt",
        "select --key yoco --ipc-to 1 " + DEC + " --scores {d}/scores.pt --out {out}",
        ("scores.pt", "not a score file", "yoco scores"),
    ),
    Cli(
        "select-scores-of-another-set",
        "select --key yoco --ipc-to 1 --decoded {d}/ddecoded.pt --scores {d}/scores1.npz --out {out}",
        ("scores1.npz", "does not belong", "yoco scores --decoded"),
    ),
    Cli(
        "select-scores-object-npz",
        "select --key yoco --ipc-to 1 " + DEC + " --scores {d}/obj.npz --out {out}",
        ("obj.npz", "not a score file"),
    ),
    Cli(
        "select-ipc-to-above-ipc-from",
        "select --key random --ipc-to 5 " + DEC + " --out {out}",
        ("--ipc-to 5", "--ipc-to <= 4"),
    ),
    Cli(
        "select-unknown-key",
        "select --key yocco --ipc-to 1 " + DEC + " --scores {d}/scores1.npz --out {out}",
        ("yocco", "did you mean 'yoco'"),
    ),
    Cli("select-bad-pairs", "select --pairs yoco1 --ipc-to 1 " + DEC + " --out {out}", ("yoco1", "KEY@REP")),
    Cli("select-no-key", "select --ipc-to 1 " + DEC + " --out {out}", ("--key", "--pairs")),
    Cli(
        "select-dataset-disagrees",
        "select --key random --ipc-to 1 --dataset cifar100 " + DEC + " --out {out}",
        ("--dataset cifar100", "--dataset digits"),
    ),
    Cli(
        "select-score-rep-twice",
        "select --key yoco --ipc-to 1 " + DEC + " --score-reps 1 1 --scores {d}/scores1.npz {d}/scores1.npz "
        "--out {out}",
        ("--score-reps", "twice"),
    ),
    Cli("select-ipc-to-0", "select --key random --ipc-to 0 " + DEC + " --out {out}", ("--ipc-to", ">= 1")),
    Cli(
        "select-score-key-without-scores",
        "select --key yoco --ipc-to 1 " + DEC + " --out {out}",
        ("yoco", "pass --scores"),
    ),
    Cli(
        "select-ccs-cutoff-1",
        "select --key ccs --ipc-to 1 --ccs-cutoff 1 " + DEC + " --out {out}",
        ("--ccs-cutoff", "outside"),
    ),
    # evaluate
    Cli(
        "evaluate-selections-of-another-set",
        "evaluate " + DEC + " " + REAL + " --selections {d}/dsel.json --inits 1 " + T + " --out {out}",
        ("dsel.json", "does not belong", "condenser 'dream' vs 'idc'", "yoco select --decoded"),
    ),
    Cli(
        "evaluate-malformed-json",
        "evaluate " + DEC + " " + REAL + " --selections {d}/bad.json " + T + " --out {out}",
        ("bad.json", "not valid JSON", "line 2", "yoco select"),
    ),
    Cli(
        "evaluate-selection-without-indices",
        "evaluate " + DEC + " " + REAL + " --selections {d}/noidx.json " + T + " --out {out}",
        ("noidx.json", "lacks indices", "yoco select"),
    ),
    Cli(
        "evaluate-negative-index",
        "evaluate " + DEC + " " + REAL + " --selections {d}/negidx.json " + T + " --out {out}",
        ("negidx.json", "negative index -3", "count decoded samples from 0"),
    ),
    Cli(
        "evaluate-index-beyond-set",
        "evaluate " + DEC + " " + REAL + " --selections {d}/bigidx.json " + T + " --out {out}",
        ("bigidx.json", "index 160", "only 160 samples"),
    ),
    Cli(
        "evaluate-float-indices",
        "evaluate " + DEC + " " + REAL + " --selections {d}/floatidx.json " + T + " --out {out}",
        ("floatidx.json", "whole numbers"),
    ),
    Cli(
        "evaluate-no-selection",
        "evaluate " + DEC + " " + REAL + " --selections {d}/empty.json " + T + " --out {out}",
        ("empty.json", "hold no selection", "yoco select"),
    ),
    Cli(
        "evaluate-key-not-selected",
        "evaluate " + DEC + " " + REAL + " --selections {d}/sel.json --keys ssp " + T + " --out {out}",
        ("ssp", "rerun `yoco select`"),
    ),
    Cli(
        "evaluate-inits-0",
        "evaluate " + DEC + " " + REAL + " --selections {d}/sel.json --inits 0 " + T + " --out {out}",
        ("--inits", ">= 1"),
    ),
    Cli(
        "evaluate-selections-is-a-folder",
        "evaluate " + DEC + " " + REAL + " --selections {d}/adir " + T + " --out {out}",
        ("adir", "is a folder"),
    ),
    Cli(
        "evaluate-real-of-another-resolution",
        "evaluate " + DEC + " --real {d}/digits16.npz --selections {d}/sel.json " + T + " --out {out}",
        ("8x8", "16x16", "--image-size 8"),
    ),
    Cli(
        "evaluate-lr-0",
        "evaluate " + DEC + " " + REAL + " --selections {d}/sel.json --lr 0 " + T + " --out {out}",
        ("--lr", "outside"),
    ),
    # evaluate-fractions, evaluate-epochs
    Cli(
        "fractions-ratio-1.5",
        "evaluate-fractions " + DEC + " " + REAL + " --scores {d}/scores1.npz --fractions 1.5 " + T + " --out {out}",
        ("--fractions", "outside"),
    ),
    Cli(
        "fractions-unknown-order",
        "evaluate-fractions " + DEC + " " + REAL + " --scores {d}/scores1.npz --fractions 0.5 "
        "--orders easy medium " + T + " --out {out}",
        ("--orders", "medium", "easy and/or hard"),
    ),
    Cli(
        "fractions-scores-of-another-set",
        "evaluate-fractions --decoded {d}/ddecoded.pt "
        + REAL
        + " --scores {d}/scores1.npz --fractions 0.5 "
        + T
        + " --out {out}",
        ("scores1.npz", "does not belong"),
    ),
    Cli(
        "fractions-random-key",
        "evaluate-fractions " + DEC + " " + REAL + " --scores {d}/scores1.npz --fractions 0.5 "
        "--key random " + T + " --out {out}",
        ("--key random", "score key such as yoco"),
    ),
    Cli(
        "epochs-from-not-below-to",
        "evaluate-epochs " + DEC + " " + REAL + " --dynamics {d}/dyn/rep1.npz --ipc-to 1 "
        "--epochs-from 3 --epochs-to 2 " + T + " --out {out}",
        ("--epochs-from 3", "below --epochs-to 2"),
    ),
    Cli(
        "epochs-dynamics-of-another-set",
        "evaluate-epochs --decoded {d}/ddecoded.pt "
        + REAL
        + " --dynamics {d}/dyn/rep1.npz --ipc-to 1 --epochs-to 2 "
        + T
        + " --out {out}",
        ("rep1.npz", "does not belong", "yoco dynamics --decoded"),
    ),
    Cli(
        "epochs-dataset-disagrees",
        "evaluate-epochs " + DEC + " " + REAL + " --dynamics {d}/dyn/rep1.npz --ipc-to 1 "
        "--epochs-to 2 --dataset cifar10 " + T + " --out {out}",
        ("--dataset cifar10", "--dataset digits"),
    ),
    Cli(
        "epochs-from-beyond-dynamics",
        "evaluate-epochs " + DEC + " " + REAL + " --dynamics {d}/dyn/rep1.npz --ipc-to 1 "
        "--epochs-from 5 --epochs-to 9 " + T + " --out {out}",
        ("--epochs-from 5", "only 2", "lower it"),
    ),
    # prune
    Cli(
        "prune-device-foo",
        "prune --condensed {d}/condensed.pt --format canonical --ipc-to 1 --epochs 1 --width 8 "
        "--device foo --out {out}",
        ("--device 'foo'", "cpu, cuda"),
    ),
    Cli(
        "prune-11-classes-as-cifar10",
        "prune --condensed {d}/c11.pt --dataset cifar10 --ipc-to 1 --epochs 1 --width 8 --device cpu --out {out}",
        ("c11.pt", "11 classes", "cifar10 has 10"),
    ),
    Cli(
        "prune-own-dataset-without-statistics",
        "prune --condensed {d}/idc.pt --dataset mydata --factor 2 --ipc-to 1 "
        "--epochs 1 --width 8 --device cpu --out {out}",
        ("mydata", "--mean R G B and --std R G B"),
    ),
    Cli(
        "prune-mean-without-std",
        "prune --condensed {d}/idc.pt --dataset mydata --factor 2 --mean 0.5 0.5 0.5 --ipc-to 1 --out {out}",
        ("--mean", "--std"),
    ),
    Cli(
        "prune-negative-std",
        "prune --condensed {d}/idc.pt --dataset mydata --factor 2 --mean 0.5 0.5 0.5 "
        "--std 0.2 -0.2 0.2 --ipc-to 1 --out {out}",
        ("--std", "outside"),
    ),
    Cli(
        "prune-idc-without-dataset",
        "prune --condensed {d}/idc.pt --factor 2 --ipc-to 1 --out {out}",
        ("--format idc", "pass --dataset"),
    ),
    Cli(
        "prune-real-of-another-resolution",
        "prune --condensed {d}/condensed.pt --format canonical --real {d}/digits16.npz --ipc-to 1 --out {out}",
        ("8x8", "16x16", "--image-size 8"),
    ),
    Cli(
        "prune-ipc-to-above-ipc-from",
        "prune --condensed {d}/condensed.pt --format canonical --ipc-to 5 --epochs 1 "
        "--width 8 --device cpu --out {out}",
        ("ipc_to=5", "stored IPC 4"),
    ),
    Cli(
        "prune-unknown-key",
        "prune --condensed {d}/condensed.pt --format canonical --ipc-to 1 --key yocco --out {out}",
        ("yocco", "did you mean 'yoco'"),
    ),
    Cli(
        "prune-canonical-of-another-dataset",
        "prune --condensed {d}/condensed.pt --format canonical --dataset cifar10 --ipc-to 1 --out {out}",
        ("'digits', not 'cifar10'", "pass dataset 'digits'"),
    ),
    Cli(
        "prune-canonical-factor-disagrees",
        "prune --condensed {d}/condensed.pt --format canonical --factor 3 --ipc-to 1 --out {out}",
        ("factor 2", "factor=3", "leave it out"),
    ),
    # table, claims, figure data
    Cli("table-without-runs", "table --number 1 --out {out}", ("Table 1 needs --runs", "yoco evaluate")),
    Cli("table-runs-is-json", "table --number 1 --runs {d}/sel.json --out {out}", ("sel.json", "yoco evaluate")),
    Cli(
        "table-runs-binary",
        "table --number 1 --runs {d}/random.pt --out {out}",
        ("random.pt", "not a runs CSV", "yoco evaluate"),
    ),
    Cli(
        "table-runs-of-two-decoded-sets",
        "table --number 1 --runs {d}/runs.csv {d}/runs_other.csv --out {out}",
        ("different decoded sets", "one workflow"),
    ),
    Cli(
        "table-runs-match-no-row",
        "table --number 3 --runs {d}/runs.csv --out {out}",
        ("none of the runs", "Table 3", "--rows"),
    ),
    Cli("table-6-with-runs", "table --number 6 --runs {d}/runs.csv --out {out}", ("Table 6", "leave out --runs")),
    Cli("table-number-8", "table --number 8 --runs {d}/runs.csv --out {out}", ("--number", "invalid choice")),
    Cli(
        "table-rows-binary",
        "table --number 1 --runs {d}/runs.csv --rows {d}/random.pt --out {out}",
        ("--rows", "random.pt", "not a CSV"),
    ),
    Cli(
        "table-runs-folder", "table --number 1 --runs {d}/adir --out {out}", ("adir", "is a folder", "CSV files inside")
    ),
    Cli("claims-runs-missing", "claims --runs {d}/missing.csv --out {out}", ("missing.csv", "does not exist")),
    Cli(
        "claims-runs-of-two-decoded-sets",
        "claims --runs {d}/runs.csv {d}/runs_other.csv --out {out}",
        ("different decoded sets", "one workflow"),
    ),
    Cli(
        "fig2-without-selections",
        "figure-data --figure 2 --runs {d}/runs.csv --out {out}",
        ("figure 2", "--selections"),
    ),
    Cli(
        "fig2-selections-and-runs-of-two-sets",
        "figure-data --figure 2 --selections {d}/otherhash.json --runs {d}/runs.csv --out {out}",
        ("otherhash.json", "different decoded sets", "one workflow"),
    ),
    Cli(
        "fig7-two-dynamics",
        "figure-data --figure 7 --dynamics {d}/dyn/rep1.npz {d}/dyn/rep2.npz --out {out}",
        ("figure 7", "one --dynamics"),
    ),
    Cli(
        "fig7-dynamics-of-another-set",
        "figure-data --figure 7 --dynamics {d}/dyn/rep1.npz --decoded {d}/ddecoded.pt --out {out}",
        ("rep1.npz", "does not belong"),
    ),
    Cli("fig3-runs-binary", "figure-data --figure 3 --runs {d}/random.pt --out {out}", ("random.pt", "not a CSV")),
    Cli("unknown-command", "prunee --out {out}", ("prunee", "invalid choice")),
    Cli("missing-out", "decode --condensed {d}/condensed.pt", ("--out", "required"), sentinel=False),
]


def _stderr_error_line(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.strip() and not line.startswith("[yoco ")]


def _run_cli(case: Cli, d: Path, out: Path, capsys) -> str:
    try:
        rc = main(_argv(case, d, out))
    except SystemExit as exc:  # argparse errors exit through SystemExit
        rc = exc.code
    err = capsys.readouterr().err
    assert rc == 2, f"{case.id}: exit status {rc}\n{err}"
    assert "Traceback" not in err
    lines = _stderr_error_line(err)
    assert len(lines) == 1, f"{case.id}: expected one error line, got {lines}"
    assert re.match(r"^yoco[ \w-]*: error: ", lines[0]), lines[0]
    for pattern in case.expect:
        assert re.search(pattern, lines[0], re.IGNORECASE), f"{case.id}: {pattern!r} not in {lines[0]!r}"
    for word in case.absent:
        assert word not in lines[0], f"{case.id}: {word!r} should not be in {lines[0]!r}"
    return lines[0]


def test_the_table_is_large_and_its_ids_distinct():
    ids = (
        [f"cli:{c.id}" for c in CLI_CASES]
        + [f"api:{c[0]}" for c in API_CASES]
        + [f"config:{c[0]}" for c in CONFIG_CASES]
    )
    assert len(ids) == len(set(ids))
    assert len(ids) >= 80


@pytest.mark.parametrize("case", CLI_CASES, ids=lambda c: c.id)
def test_cli_bad_input(case, ws, capsys):
    out = ws.parent / f"out {case.id}" / f"result{case.out_suffix}"
    before = _snapshot(ws)
    _run_cli(case, ws, out, capsys)
    assert not out.exists() and not out.parent.exists(), "nothing may be written at the output path"
    assert _snapshot(ws) == before, "inputs and earlier outputs must be unchanged, and no temporary file left"
    if case.sentinel:
        # An earlier output at the same place: a file at --out, or a file inside --out-dir.
        earlier = out / "rep1.npz" if "--out-dir" in case.argv else out
        earlier.parent.mkdir(parents=True)
        earlier.write_bytes(b"an earlier result that must survive")
        before = _snapshot(out.parent)
        _run_cli(case, ws, out, capsys)
        assert _snapshot(out.parent) == before, "a pre-existing output must be left untouched"
        shutil.rmtree(out.parent)


# A few cases again as real processes: the console entry point must not let a traceback through.
SUBPROCESS_CASES = [
    "evaluate-selections-of-another-set",
    "prune-device-foo",
    "evaluate-malformed-json",
    "scores-model-refused-as-unsafe",
    "decode-out-is-a-folder",
    "table-without-runs",
]


def test_no_traceback_reaches_stderr_of_a_real_process(ws, tmp_path):
    cases = {c.id: c for c in CLI_CASES}
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    for name in SUBPROCESS_CASES:
        case = cases[name]
        out = tmp_path / name / "result.out"
        proc = subprocess.run(
            [sys.executable, "-m", "yoco", *_argv(case, ws, out)], capture_output=True, text=True, env=env, timeout=120
        )
        assert proc.returncode == 2, (name, proc.stderr)
        assert "Traceback" not in proc.stderr
        lines = _stderr_error_line(proc.stderr)
        assert len(lines) == 1 and lines[0].startswith("yoco "), (name, proc.stderr)
        assert not out.exists()


# ------------------------------------------------------------------------------------------- write failures
def _limited(limit_bytes: int):
    def apply():
        import resource

        resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))

    return apply


@pytest.mark.parametrize(
    "argv, name",
    [
        (["decode", "--condensed", "{d}/condensed.pt"], "decoded.pt"),  # torch's zip writer: "unexpected pos"
        (["data", "--dataset", "digits", "--image-size", "8"], "digits.npz"),  # numpy: EFBIG
    ],
)
def test_a_write_that_fails_part_way_is_one_message_and_leaves_nothing(ws, tmp_path, argv, name):
    """A file-size limit stands in for a full disk: the write stops part-way, as on a full disk."""
    out = tmp_path / name
    out.write_bytes(b"old")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    cmd = [sys.executable, "-m", "yoco", *[a.replace("{d}", str(ws)) for a in argv], "--out", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120, preexec_fn=_limited(20_000))
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    (line,) = _stderr_error_line(proc.stderr)
    assert f"could not write {out}" in line and ("file-size limit" in line or "too large" in line), line
    assert out.read_bytes() == b"old"  # the earlier file is untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]  # no temporary file left


def _tiny_set():
    """A valid two-class, two-per-class condensed set of 8-px images: something to write."""
    from yoco.condensed import CondensedSet

    return CondensedSet(
        images=torch.rand(4, 3, 8, 8),
        labels=torch.tensor([0, 0, 1, 1]),
        ipc=2,
        factor=1,
        value_space="pixel01",
        dataset="digits",
        condenser="idc",
    )


def test_disk_full_is_named_as_such(tmp_path, monkeypatch):
    cs = _tiny_set()

    def full(obj, path, *args, **kwargs):
        Path(path).write_bytes(b"partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(torch, "save", full)
    with pytest.raises(YocoError) as info:
        cs.save(tmp_path / "set.pt")
    assert "could not write" in str(info.value) and "disk full" in str(info.value) and "\n" not in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_outputs_get_the_mode_a_plain_open_gives(tmp_path):
    from yoco.io import write_json

    old = os.umask(0o022)
    try:
        write_json({"a": 1}, tmp_path / "a.json")
        os.umask(0o002)
        write_json({"a": 1}, tmp_path / "b.json")
        with open(tmp_path / "plain", "w"):
            pass
    finally:
        os.umask(old)
    assert (tmp_path / "a.json").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "b.json").stat().st_mode & 0o777 == 0o664
    assert (tmp_path / "plain").stat().st_mode & 0o777 == 0o664


# ------------------------------------------------------------------------------------------- API cases
def _set(num_classes=3, ipc=4, size=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(num_classes * ipc, 3, size, size, generator=g), torch.arange(num_classes).repeat_interleave(ipc)


IMAGES, LABELS = _set()
STATS = dict(mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))
PRUNE = dict(ipc_to=1, factor=2, epochs=1, width=8, **STATS)
DEC_LABELS = np.repeat(np.arange(3), 16)


def _dyn(labels=DEC_LABELS, classes=3, n=None):
    n = len(labels) if n is None else n
    probs = np.full((2, n, classes), 1.0 / classes)
    return yoco.Dynamics.from_probs(probs, labels)


def _prune(**kw):
    args = dict(images=IMAGES, labels=LABELS, **PRUNE)
    args.update(kw)
    return lambda tmp: yoco.prune(**args)


def _write_pt(obj):
    def make(tmp):
        path = tmp / "set.pt"
        torch.save(obj, path)
        return path

    return make


def _bytes_file(tmp):
    path = tmp / "random.pt"
    path.write_bytes(np.random.default_rng(1).bytes(3000))
    return path


API_CASES = [
    ("prune-fractional-labels", _prune(labels=LABELS.float() + 0.25), ("fractional", "whole class indices")),
    ("prune-bool-labels", _prune(labels=torch.tensor([False] * 6 + [True] * 6)), ("booleans", "class indices")),
    ("prune-negative-labels", _prune(labels=LABELS - 1), ("labels", ">= 0")),
    ("prune-one-hot-labels", _prune(labels=torch.eye(3)[LABELS]), ("1-D", "argmax")),
    ("prune-interleaved-labels", _prune(labels=torch.arange(3).repeat(4)), ("not class-major", "stable sort")),
    (
        "prune-dynamics-interleaved",
        _prune(dynamics=_dyn(np.tile(np.arange(3), 16))),
        ("labels are not the decoded set's", "yoco.decode"),
    ),
    (
        "prune-dynamics-other-class-count",
        _prune(dynamics=_dyn(np.repeat(np.arange(4), 12), classes=4)),
        ("4 classes", "3", "recorded on this set"),
    ),
    ("prune-dynamics-other-size", _prune(dynamics=_dyn(np.repeat(np.arange(3), 8))), ("24 samples", "48")),
    ("prune-dynamics-dict", _prune(dynamics={"lbpe": np.zeros(48)}), ("dynamics must be a yoco.Dynamics", "dict")),
    ("prune-ipc-to-string", _prune(ipc_to="1"), ("ipc_to", "'1'", "ipc_to=1")),
    ("prune-factor-float", _prune(factor=2.0), ("factor", "2.0", "positive integer")),
    ("prune-device-foo", _prune(device="foo"), ("'foo'", "'cpu'")),
    (
        "prune-cifar10-with-3-classes",
        _prune(dataset="cifar10", mean=None, std=None),
        ("3 classes", "cifar10 has 10", "mean= and std="),
    ),
    ("prune-no-dataset-no-statistics", _prune(mean=None, std=None), ("dataset=", "mean= and std=")),
    ("prune-mean-without-std", _prune(std=None), ("mean=", "std=")),
    ("prune-std-zero", _prune(std=(0.2, 0.0, 0.2)), ("std", "positive")),
    ("prune-uint8-pixels", _prune(images=(IMAGES * 255).round()), ("8-bit", "images / 255")),
    ("prune-nhwc-images", _prune(images=IMAGES.permute(0, 2, 3, 1)), ("channels-last", "permute")),
    ("prune-factor-too-large", _prune(factor=4), ("factor 4", "2x2 patches", "at most 2")),
    ("prune-images-of-strings", _prune(images=[["a"]] * 12), ("images", "numeric")),
    ("prune-ipc-to-above-ipc-from", _prune(ipc_to=5), ("ipc_to=5", "stored IPC 4")),
    ("prune-unknown-key", _prune(key="yocco"), ("yocco", "Did you mean 'yoco'")),
    ("prune-ccs-without-dataset", _prune(key="ccs", dynamics=_dyn()), ("ccs", "dataset=", "ccs_ratio=")),
    (
        "decode-nhwc",
        lambda tmp: yoco.decode(IMAGES.permute(0, 2, 3, 1).contiguous(), 4, 2),
        ("channels-last", "permute"),
    ),
    (
        "select-wrong-ipc-from",
        lambda tmp: yoco.select("random", {}, DEC_LABELS, ipc_from=2, ipc_to=1, factor=2),
        ("3 class blocks of 16", "ipc_from 2", "IPC_F·f² = 16"),
    ),
    (
        "select-bool-labels",
        lambda tmp: yoco.select("random", {}, np.zeros(48, bool), ipc_from=4, ipc_to=1, factor=2),
        ("booleans", "class indices"),
    ),
    (
        "select-fractional-labels",
        lambda tmp: yoco.select("random", {}, DEC_LABELS + 0.5, ipc_from=4, ipc_to=1, factor=2),
        ("whole class indices",),
    ),
    ("score-table-of-a-dict", lambda tmp: yoco.score_table({"err_l2": np.zeros((2, 4))}), ("Dynamics", "from_probs")),
    (
        "load-condensed-random-bytes",
        lambda tmp: yoco.load_condensed(_bytes_file(tmp), "idc", "cifar10"),
        ("random.pt", "not a torch file"),
    ),
    (
        "load-condensed-numpy-pickle",
        lambda tmp: yoco.load_condensed(_write_pt([IMAGES.numpy(), LABELS.numpy()])(tmp), "idc", "cifar10"),
        ("numpy", "trusted=True", "run code"),
    ),
    ("load-condensed-folder", lambda tmp: yoco.load_condensed(tmp, "idc", "cifar10"), ("is a folder", "file itself")),
    ("load-canonical-folder", lambda tmp: yoco.CondensedSet.load(tmp), ("is a folder", ".pt file")),
    (
        "load-real-object-arrays",
        lambda tmp: yoco.load_real("digits", npz=_object_npz(tmp)),
        ("unreadable entry", "yoco data"),
    ),
    (
        "dynamics-load-object-arrays",
        lambda tmp: yoco.Dynamics.load(_object_npz(tmp, "err_l2")),
        ("not a dynamics file|not a readable dynamics file", "Dynamics.save"),
    ),
    ("read-runs-of-a-json-file", lambda tmp: _read_runs_json(tmp), ("runs.json", "yoco evaluate")),
    ("check-output-folder", lambda tmp: _check_output(tmp), ("is a folder", "file name inside it")),
    (
        "write-json-under-a-file",
        lambda tmp: _write_under_file(tmp),
        ("could not write", "a parent in the path is a file"),
    ),
    ("save-set-onto-a-folder", lambda tmp: _save_onto_folder(tmp), ("could not write", "it is a folder")),
    ("save-invalid-set-over-a-file", lambda tmp: _save_invalid_over_file(tmp), ("labels are not class-major",)),
]


def _object_npz(tmp, key="x_train"):
    path = tmp / "obj.npz"
    np.savez(
        path,
        **{
            key: np.array([object()], dtype=object),
            "y_train": np.zeros(1),
            "x_test": np.zeros(1),
            "y_test": np.zeros(1),
            "class_names": np.array(["a"]),
        },
    )
    return path


def _read_runs_json(tmp):
    from yoco.tables import read_runs

    path = tmp / "runs.json"
    path.write_text(json.dumps([{"key": "yoco", "indices": [1, 2]}]))
    return read_runs([path])


def _check_output(tmp):
    from yoco.io import check_output

    return check_output(tmp)


def _write_under_file(tmp):
    from yoco.io import write_json

    (tmp / "file").write_text("x")
    return write_json({}, tmp / "file" / "out.json")


def _save_onto_folder(tmp):
    (tmp / "folder.pt").mkdir()
    yoco.CondensedSet(
        images=IMAGES, labels=LABELS, ipc=4, factor=1, value_space="pixel01", dataset="x", condenser="idc"
    ).save(tmp / "folder.pt")


def _save_invalid_over_file(tmp):
    (tmp / "set.pt").write_bytes(b"an earlier result")
    yoco.CondensedSet(
        images=IMAGES,
        labels=torch.arange(3).repeat(4),
        ipc=4,
        factor=1,
        value_space="pixel01",
        dataset="x",
        condenser="idc",
    ).save(tmp / "set.pt")


@pytest.mark.parametrize("name, call, expect", API_CASES, ids=[c[0] for c in API_CASES])
def test_api_bad_input(name, call, expect, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    # Files the case itself makes as input count as pre-existing: build them, then snapshot.
    with pytest.raises(YocoError) as info:
        call(work)
    message = str(info.value)
    assert "\n" not in message, message
    for pattern in expect:
        assert re.search(pattern, message), f"{name}: {pattern!r} not in {message!r}"
    leftovers = [p.name for p in work.rglob("*") if ".tmp" in p.name]
    assert not leftovers, leftovers
    if name == "save-invalid-set-over-a-file":
        assert (work / "set.pt").read_bytes() == b"an earlier result"
    if name in ("write-json-under-a-file", "save-set-onto-a-folder"):
        assert sorted(p.name for p in work.iterdir()) in (["file"], ["folder.pt"])
        assert not any((work / "folder.pt").iterdir()) if (work / "folder.pt").exists() else True


def test_the_unsafe_hint_is_only_for_valid_pickles_of_other_objects(tmp_path):
    with pytest.raises(YocoError) as corrupt:
        yoco.load_condensed(_bytes_file(tmp_path), "idc", "cifar10")
    assert "trusted" not in str(corrupt.value)
    path = _write_pt([IMAGES.numpy(), LABELS.numpy()])(tmp_path)
    with pytest.raises(YocoError, match="trusted=True"):
        yoco.load_condensed(path, "idc", "cifar10", factor=2)
    assert yoco.load_condensed(path, "idc", "cifar10", trusted=True, factor=2).ipc == 4


# ------------------------------------------------------------------------------------------- config cases
def _config(**changes) -> dict:
    from yoco.configcheck import merge_configs

    config = merge_configs(
        yaml.safe_load((REPO / "config/config.yaml").read_text()),
        yaml.safe_load((REPO / "config/test.yaml").read_text()),
    )
    for dotted, value in changes.items():
        node = config
        *parents, last = dotted.split("__")
        for p in parents:
            node = node[int(p)] if isinstance(node, list) else node[p]
        if value is _DELETE:
            del node[last]
        else:
            node[last] = value
    return config


_DELETE = object()


def _check(config):
    from yoco import grid
    from yoco.configcheck import check_schema

    check_schema(config, REPO / "workflow/schemas/config.schema.yaml")
    grid.validate(config)


def _yaml_file(text):
    def run(tmp):
        from yoco.configcheck import load_yaml

        path = tmp / "my config.yaml"
        path.write_text(text)
        return load_yaml(path)

    return run


CONFIG_CASES = [
    (
        "config-unknown-top-level-key",
        lambda tmp: _check(_config(tabels={})),
        ("unknown key 'tabels'", "Did you mean 'tables'", "Allowed keys"),
    ),
    (
        "config-unknown-nested-key",
        lambda tmp: _check(_config(training__dynamics__epoch=3)),
        ("unknown key 'epoch'", "training.dynamics", "Did you mean 'epochs'"),
    ),
    ("config-reps-0", lambda tmp: _check(_config(reps=0)), ("reps = 0", ">= 1")),
    (
        "config-blocks-on-a-convnet",
        lambda tmp: _check(_config(networks__convnet__blocks=[1, 2, 4, 3])),
        ("networks.convnet.blocks", "DenseNet's dense blocks", "Remove it"),
    ),
    (
        "config-engine-for-an-unknown-network",
        lambda tmp: _check(_config(training__run={"engine": {"convnett": "stacked"}})),
        ("convnett", "Did you mean 'convnet'"),
    ),
    (
        "config-unknown-engine",
        lambda tmp: _check(_config(training__run={"engine": {"convnet": "stacks"}})),
        ("training.run.engine.convnet = 'stacks'", "stacked"),
    ),
    (
        "config-densenet-three-blocks",
        lambda tmp: _check(_config(networks__densenet__blocks=[1, 2, 4])),
        ("networks.densenet.blocks", "at least 4"),
    ),
    (
        "config-ipc-from-string",
        lambda tmp: _check(_config(tables__table1__cells=[{"dataset": "digits", "ipc_from": "x", "ipc_to": [1]}])),
        (r"tables.table1.cells\[0\].ipc_from = 'x'", "expected an integer"),
    ),
    ("config-device-gpu", lambda tmp: _check(_config(device="gpu")), ("device = 'gpu'", "cpu, cuda")),
    ("config-missing-required-key", lambda tmp: _check(_config(external_root=_DELETE)), ("external_root", "required")),
    (
        "config-figure-4",
        lambda tmp: _check(_config(enabled__figures=[4])),
        (r"enabled.figures\[0\] = 4", "allowed values"),
    ),
    (
        "config-empty-output-root",
        lambda tmp: _check(_config(output_root="")),
        ("output_root = ''", "must not be empty"),
    ),
    (
        "config-empty-ipc-to",
        lambda tmp: _check(_config(tables__table1__cells=[{"dataset": "digits", "ipc_from": 10, "ipc_to": []}])),
        ("ipc_to = \\[\\]", "at least 1"),
    ),
    (
        "config-unknown-pruning-key",
        lambda tmp: _check(_config(figures__fig3__key="yocco")),
        ("figures.fig3.key", "Did you mean 'yoco'"),
    ),
    (
        "config-fig7-epoch-outside-dynamics",
        lambda tmp: _check(_config(figures__fig7__epochs=[0, 99])),
        ("figures.fig7.epochs", r"\[99\]", "outside the dynamics run"),
    ),
    (
        "config-unknown-dataset-in-a-table",
        lambda tmp: _check(_config(tables__table2__cells=[{"dataset": "digitz", "ipc_from": 10, "ipc_to": [1]}])),
        ("digitz", "Did you mean 'digits'"),
    ),
    (
        "config-malformed-yaml",
        _yaml_file("reps: 2\nfoo: [1, 2\nbar: 3\n"),
        ("my config.yaml, line 3, column 4", "not valid YAML", "brackets"),
    ),
    ("config-yaml-tab-indent", _yaml_file("figures:\n\tfig2: {}\n"), ("line 2", "tabs are not allowed")),
    ("config-yaml-is-a-list", _yaml_file("- a\n- b\n"), ("my config.yaml", "key: value")),
]


@pytest.mark.parametrize("name, call, expect", CONFIG_CASES, ids=[c[0] for c in CONFIG_CASES])
def test_config_bad_input(name, call, expect, tmp_path):
    with pytest.raises(YocoError) as info:
        call(tmp_path)
    message = str(info.value)
    assert "\n" not in message, message
    for pattern in expect:
        assert re.search(pattern, message), f"{name}: {pattern!r} not in {message!r}"


def _snakemake(args, cwd):
    snakemake = str(Path(sys.executable).with_name("snakemake"))
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    return subprocess.run([snakemake, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_snakemake_prints_one_line_for_a_schema_error():
    proc = _snakemake(["-n", "--cores", "1", "--configfile", "config/test.yaml", "--config", "tabels={}"], REPO)
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert "Traceback" not in out
    lines = [line for line in out.splitlines() if "unknown key 'tabels'" in line]
    assert len(lines) == 1 and "Did you mean 'tables'" in lines[0]
    assert len(out.splitlines()) < 10, out  # not the schema dumped


def test_the_default_config_is_found_beside_the_snakefile(tmp_path):
    # From another folder: config/config.yaml is read from the checkout, test.yaml layers on it.
    proc = _snakemake(
        ["-s", str(REPO / "Snakefile"), "-n", "--cores", "1", "--configfile", str(REPO / "config/test.yaml")], tmp_path
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "required property" not in proc.stderr


def test_configcheck_names_file_line_and_key(tmp_path, capsys):
    from yoco.configcheck import main as configcheck

    bad = tmp_path / "bad.yaml"
    bad.write_text("reps: 2\ntables: {table1: {cells: [\n")
    assert configcheck([str(bad)]) == 2
    assert "bad.yaml, line" in capsys.readouterr().err
    good = tmp_path / "good.yaml"
    good.write_text("reps: 0\n")
    assert configcheck([str(good)]) == 2
    assert "reps = 0: must be >= 1" in capsys.readouterr().err
    assert configcheck([str(REPO / "config/test.yaml")]) == 0


def test_readme_says_how_to_resume_an_interrupted_run():
    readme = (REPO / "README.md").read_text()
    section = readme.split("### Interrupted runs", 1)[1].split("\n## ", 1)[0]
    assert "--rerun-incomplete" in section and "--unlock" in section
    assert "docs/errors.md" in section and (REPO / "docs/errors.md").exists()


def test_every_path_in_every_shell_command_is_quoted():
    """{input}, {output}, {log} (and path params) are written {x:q}, so a space never splits a path;
    params holding several flags are quoted where they are built (shlex)."""
    unquoted = re.compile(r"\{(input|output|log)(\.\w+)?\}|'\{params\.\w+\}'")
    shells = []
    for smk in sorted((REPO / "workflow" / "rules").glob("*.smk")):
        for block in re.findall(r"\n    shell:\n((?:        .*\n)+)", smk.read_text()):
            shells.append((smk.name, block))
            assert not unquoted.search(block), f"{smk.name}: unquoted path in {block.strip()}"
    assert len(shells) >= 12  # every shell rule of the workflow was looked at


def test_an_assumed_factor_is_said(ws, tmp_path, capsys):
    """An IDC file records no factor: the default for the dataset is used, and the command says so."""
    assert (
        main(
            [
                "import",
                "--format",
                "idc",
                "--path",
                str(ws / "idc.pt"),
                "--dataset",
                "cifar10",
                "--image-size",  # an 8-px set: CIFAR-10 made at 8 px (yoco data --image-size 8)
                "8",
                "--out",
                str(tmp_path / "set.pt"),
            ]
        )
        == 0
    )
    assert "records no multi-formation factor: assuming 2" in capsys.readouterr().err
