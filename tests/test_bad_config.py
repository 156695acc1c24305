"""Issue 19, categories 5 and 6 (config part): configs that used to pass the dry run, and config files
that ended in a traceback.

Each case is checked as the Snakefile checks a config (schema, grid, then the values:
``yoco.configcheck.check_values``): one ``YocoError`` line naming the key, the value and the fix. A
handful run through ``snakemake -n`` to show the workflow stops with that line, no traceback and
nothing created.
"""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from test_bad_input import _DELETE, _config  # noqa: F401 - config.yaml + test.yaml, with changes
from yoco.errors import YocoError

REPO = Path(__file__).resolve().parents[1]
SCHEMA = REPO / "workflow/schemas/config.schema.yaml"


def _check(config):
    from yoco import grid
    from yoco.configcheck import check_schema, check_values

    check_schema(config, SCHEMA)
    grid.validate(config)
    check_values(config)


def _cell(ds="digits", ipc_from=10, ipc_to=(1,)):
    return [{"dataset": ds, "ipc_from": ipc_from, "ipc_to": list(ipc_to)}]


def _yaml(text, name="my config.yaml"):
    def run(tmp):
        from yoco.configcheck import load_yaml

        path = tmp / name
        path.write_bytes(text) if isinstance(text, bytes) else path.write_text(text)
        return load_yaml(path)

    return run


def _existing_file_as(key):
    def run(tmp):
        (tmp / "taken").write_text("a file")
        return _check(_config(**{key: str(tmp / "taken")}))

    return run


HOME = os.path.expanduser("~")

CASES = [
    # --- duplicate keys: YAML's "last one wins" silently dropped the first
    (
        "dup-top-level",
        _yaml("reps: 2\ndevice: cpu\nreps: 3\n"),
        ("line 3", "'reps' is given twice", "line 1", "delete one"),
    ),
    (
        "dup-nested",
        _yaml("training:\n  dynamics:\n    epochs: 3\n    lr: 0.1\n    epochs: 30\n"),
        ("line 5", "'epochs' is given twice", "first on line 3"),
    ),
    ("dup-flow-mapping", _yaml("networks: {convnet: {width: 8, width: 16}}\n"), ("'width' is given twice",)),
    (
        "dup-in-a-list-item",
        _yaml("tables:\n  table1:\n    cells:\n      - {dataset: digits, ipc_from: 10, dataset: cifar10}\n"),
        ("line 4", "'dataset' is given twice"),
    ),
    ("dup-integer-key", _yaml("ccs: {10: 0.3, 10: 0.5}\n"), ("10 is given twice",)),
    # --- non-finite numbers: inf >= 1 passed the schema, nan compares false with every bound
    ("inf-top-level", lambda tmp: _check(_config(reps=math.inf)), ("reps = inf", "not a finite number")),
    (
        "inf-learning-rate",
        lambda tmp: _check(_config(training__dynamics__lr=math.inf)),
        ("training.dynamics.lr = inf", "finite"),
    ),
    (
        "nan-learning-rate",
        lambda tmp: _check(_config(training__dynamics__lr=math.nan)),
        ("training.dynamics.lr = nan", "finite"),
    ),
    (
        "minus-inf-in-a-list",
        lambda tmp: _check(_config(figures__fig7__epochs=[0, -math.inf])),
        (r"figures.fig7.epochs\[1\] = -inf", "finite"),
    ),
    (
        "nan-condensation-step",
        lambda tmp: _check(_config(condensation__idc__digits__lr_img_base=math.nan)),
        ("condensation.idc.digits.lr_img_base = nan",),
    ),
    ("yaml-dot-inf", lambda tmp: _check(_config(**{"reps": _yaml("x: .inf\n")(tmp)["x"]})), ("reps = inf",)),
    # --- output folders
    ("output-root-slash", lambda tmp: _check(_config(output_root="/")), ("output_root = '/'", "file-system root")),
    ("output-root-double-slash", lambda tmp: _check(_config(output_root="//")), ("file-system root",)),
    ("output-root-slash-dot", lambda tmp: _check(_config(output_root="/./")), ("file-system root",)),
    ("figures-root-slash", lambda tmp: _check(_config(figures_root="/")), ("figures_root = '/'", "file-system root")),
    (
        "output-root-tilde",
        lambda tmp: _check(_config(output_root="~/results")),
        ("output_root = '~/results'", "not expanded", re.escape(f"{HOME}/results")),
    ),
    ("output-root-bare-tilde", lambda tmp: _check(_config(output_root="~")), ("output_root = '~'", "full path")),
    ("figures-root-tilde", lambda tmp: _check(_config(figures_root="~/figs")), ("figures_root", "not expanded")),
    (
        "external-root-tilde-user",
        lambda tmp: _check(_config(external_root="~root/raid")),
        ("external_root = '~root/raid'", "full path"),
    ),
    (
        "dataset-npz-tilde",
        lambda tmp: _check(_config(datasets__digits__npz="~/digits.npz")),
        ("datasets.digits.npz", "not expanded"),
    ),
    ("output-root-is-a-file", _existing_file_as("output_root"), ("output_root", "existing file, not a folder")),
    ("figures-root-is-a-file", _existing_file_as("figures_root"), ("figures_root", "existing file, not a folder")),
    # --- datasets
    (
        "ipc-from-above-digits",
        lambda tmp: _check(_config(tables__table1__cells=_cell(ipc_from=200))),
        ("ipc_from 200 for digits", "122 training images per class", "at most 122"),
    ),
    (
        "ipc-from-above-cifar100",
        lambda tmp: _check(
            _config(
                datasets__cifar100={"num_classes": 100, "image_size": 32, "root": "r", "network": "convnet"},
                tables__table1__cells=_cell("cifar100", 600),
                condensers__idc__factor={"digits": 2, "cifar100": 2},
                condensers__idc__lbpe={"digits": {"epochs": 4, "top_k": 2}, "cifar100": {"epochs": 4, "top_k": 2}},
            )
        ),
        ("ipc_from 600 for cifar100", "500 training images per class"),
    ),
    (
        "ipc-from-above-an-npz",
        lambda tmp: _check(
            _config(datasets__digits__npz=str(_small_npz(tmp)), tables__table1__cells=_cell(ipc_from=10))
        ),
        ("ipc_from 10 for digits", "7 training images per class", "small.npz"),
    ),
    (
        "num-classes-digits-12",
        lambda tmp: _check(_config(datasets__digits__num_classes=12)),
        ("datasets.digits.num_classes = 12", "digits has 10 classes", "num_classes: 10"),
    ),
    (
        "num-classes-cifar10-100",
        lambda tmp: _check(
            _config(datasets__cifar10={"num_classes": 100, "image_size": 32, "root": "r", "network": "convnet"})
        ),
        ("datasets.cifar10.num_classes = 100", "cifar10 has 10 classes"),
    ),
    # --- the command the rules run
    (
        "cli-yocoo",
        lambda tmp: _check(_config(cli="yocoo")),
        ("cli = 'yocoo'", "not a command on PATH", "Did you mean 'yoco'"),
    ),
    ("cli-pyhton", lambda tmp: _check(_config(cli="pyhton -m yoco")), ("'pyhton' is not a command", "python -m yoco")),
    (
        "cli-module-misspelt",
        lambda tmp: _check(_config(cli="python -m yocoo")),
        ("does not run the yoco", "python -m yoco"),
    ),
    ("cli-another-program", lambda tmp: _check(_config(cli="ls")), ("cli = 'ls'", "does not run the yoco")),
    ("cli-unbalanced-quote", lambda tmp: _check(_config(cli="python -m 'yoco")), ("cli = ", "quotation")),
    ("cli-blank", lambda tmp: _check(_config(cli="  ")), ("cli = '  ' is empty",)),
    # --- config files that ended in a traceback
    (
        "configfile-missing",
        lambda tmp: _yaml("")(tmp) and None or _load(tmp / "nope.yaml"),
        ("nope.yaml does not exist",),
    ),
    ("configfile-binary", _yaml(bytes(range(256)) * 4, "bin.yaml"), ("bin.yaml", "not UTF-8 text", "YAML text file")),
    ("configfile-nul-bytes", _yaml(b"reps: 2\n\x00\x00\x00", "nul.yaml"), ("nul.yaml is not text", "YAML text file")),
    ("configfile-is-a-folder", lambda tmp: _load(tmp), ("is a folder",)),
    ("configfile-empty-name", lambda tmp: _load(""), ("config file name is empty",)),
]


def _load(path):
    from yoco.configcheck import load_yaml

    return load_yaml(path)


def _small_npz(tmp) -> Path:
    """A digits cache with 7 training images in its smallest class (ipc_from 10 cannot be condensed)."""
    path = tmp / "small.npz"
    y = np.repeat(np.arange(10), 8)[1:]  # class 0 has 7
    np.savez(
        path,
        x_train=np.zeros((len(y), 8, 8, 3), np.uint8),
        y_train=y,
        x_test=np.zeros((10, 8, 8, 3), np.uint8),
        y_test=np.arange(10),
    )
    return path


def test_the_table_covers_each_kind_many_times():
    ids = [c[0] for c in CASES]
    assert len(ids) == len(set(ids)) and len(ids) >= 30


@pytest.mark.parametrize("name, call, expect", CASES, ids=[c[0] for c in CASES])
def test_a_bad_config_is_one_line_naming_key_and_fix(name, call, expect, tmp_path):
    folders = sorted(p for p in tmp_path.rglob("*") if p.is_dir())
    with pytest.raises(YocoError) as info:
        call(tmp_path)
    message = str(info.value)
    assert "\n" not in message, message
    for pattern in expect:
        assert re.search(pattern, message), f"{name}: {pattern!r} not in {message!r}"
    # nothing made (the files a case writes as its input are not outputs): no folder, none named '~'
    assert sorted(p for p in tmp_path.rglob("*") if p.is_dir()) == folders
    assert not (Path.cwd() / "~").exists()


def test_the_shipped_configs_pass():
    from yoco.configcheck import main

    assert main([str(REPO / "config/test.yaml")]) == 0
    assert main([str(REPO / "config/quickstart.yaml")]) == 0
    assert main([str(REPO / "config/cifar10-lite.yaml"), str(REPO / "config/cifar10-lite-ci.yaml")]) == 0


def test_a_yaml_merge_that_overrides_a_key_is_not_a_duplicate(tmp_path):
    from yoco.configcheck import load_yaml

    path = tmp_path / "merge.yaml"
    path.write_text("base: &b {width: 8, depth: 3}\nnet:\n  <<: *b\n  width: 16\n")
    assert load_yaml(path)["net"] == {"width": 16, "depth": 3}


def test_config_layers_merge_mappings_and_replace_everything_else():
    # Snakemake's --configfile layering: a later layer updates nested mappings key by key, and replaces
    # scalars and lists whole (a list is never concatenated); the layers themselves are left as they were.
    from yoco.configcheck import merge_configs

    base = {"training": {"epochs": 1000, "lr": 0.01}, "seeds": [0, 1, 2], "root": "results"}
    over = {"training": {"epochs": 300}, "seeds": [7]}
    last = {"root": "results/cpu", "training": {"run": {"compile": False}}}
    assert merge_configs(base, over, last) == {
        "training": {"epochs": 300, "lr": 0.01, "run": {"compile": False}},
        "seeds": [7],
        "root": "results/cpu",
    }
    assert base["training"] == {"epochs": 1000, "lr": 0.01} and over == {"training": {"epochs": 300}, "seeds": [7]}
    assert merge_configs() == {}


def test_the_tables_of_classes_match_the_data_module():
    from yoco.configcheck import NUM_CLASSES, TRAIN_IMAGES_PER_CLASS
    from yoco.data import NUM_CLASSES as DATA_CLASSES
    from yoco.data import load_real

    assert NUM_CLASSES == DATA_CLASSES and set(TRAIN_IMAGES_PER_CLASS) == set(DATA_CLASSES)
    digits = load_real("digits", image_size=8)
    assert TRAIN_IMAGES_PER_CLASS["digits"] == np.bincount(digits.y_train).min()


def test_configcheck_reports_a_missing_or_binary_file_in_one_line(tmp_path, capsys):
    from yoco.configcheck import main

    (tmp_path / "bin.yaml").write_bytes(bytes(range(256)))
    for name in ("nope.yaml", "bin.yaml"):
        assert main([str(tmp_path / name)]) == 2
        err = capsys.readouterr().err
        assert "Traceback" not in err and len(err.strip().splitlines()) == 1 and name in err, err


# ------------------------------------------------------------------------------------------- through Snakemake
def _snakemake_n(tmp: Path, *extra: str, configfiles=("config/test.yaml",)):
    bindir = Path(sys.executable).parent
    env = dict(os.environ, PATH=f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}")
    cmd = [str(bindir / "snakemake"), "-n", "--cores", "1", "-s", str(REPO / "Snakefile"), "-d", str(tmp / "wd")]
    cmd += ["--configfile", *map(str, configfiles)]  # one flag: a repeated --configfile replaces the earlier
    cmd += ["--config", f"output_root={tmp}/results", f"figures_root={tmp}/figures", *extra]
    return subprocess.run(cmd, cwd=tmp, env=env, capture_output=True, text=True, timeout=300)


def _dup_file(tmp):
    path = tmp / "dup.yaml"
    path.write_text((REPO / "config/test.yaml").read_text() + "\nreps: 3\n")
    return path


def _big_ipc_file(tmp):
    path = tmp / "big.yaml"
    path.write_text("tables: {table1: {cells: [{dataset: digits, ipc_from: 300, ipc_to: [1]}]}}\n")
    return path


SNAKEMAKE_CASES = [
    ("duplicate-key", lambda tmp: {"configfiles": (_dup_file(tmp),)}, "'reps' is given twice"),
    ("output-root-slash", lambda tmp: {"extra": ("output_root=/",)}, "file-system root"),
    ("output-root-tilde", lambda tmp: {"extra": ("output_root=~/yoco-results",)}, "not expanded"),
    ("inf-via-config", lambda tmp: {"extra": ("reps=inf",)}, "reps = inf: not a finite number"),
    ("cli-misspelt", lambda tmp: {"extra": ("cli=yocoo",)}, "'yocoo' is not a command on PATH"),
    (
        "ipc-from-too-large",
        lambda tmp: {"configfiles": ("config/test.yaml", _big_ipc_file(tmp))},
        "ipc_from 300 for digits",
    ),
]


@pytest.mark.parametrize("name, case, expect", SNAKEMAKE_CASES, ids=[c[0] for c in SNAKEMAKE_CASES])
def test_the_dry_run_stops_with_one_line(name, case, expect, tmp_path):
    kw = case(tmp_path)
    configfiles = ("config/test.yaml",) if "configfiles" not in kw else kw["configfiles"]
    proc = _snakemake_n(
        tmp_path, *kw.get("extra", ()), configfiles=[REPO / f if isinstance(f, str) else f for f in configfiles]
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out[-2000:]
    assert "Traceback" not in out
    assert len([line for line in out.splitlines() if expect in line]) == 1, out[-2000:]
    assert not (tmp_path / "results").exists() and not (tmp_path / "wd" / "~").exists()
