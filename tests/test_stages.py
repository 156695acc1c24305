"""The stages from Python (yoco/stages/): the README's example runs, and a stage makes the same checks, messages
and files as its `yoco` subcommand, which only parses flags."""

from __future__ import annotations

import ast
import inspect
import json
import re

import pandas as pd
import pytest

from conftest import REPO
from yoco import stages
from yoco.cli import main
from yoco.errors import YocoError


def _readme_example() -> str:
    text = (REPO / "README.md").read_text()
    contributing = text[text.index("## Contributing") :]
    return re.search(r"```python\n(.*?)```", contributing, re.S).group(1)


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    """The README's Contributing example, run as written in a folder of its own."""
    import os

    d = tmp_path_factory.mktemp("stages")
    cwd = os.getcwd()
    os.chdir(d)
    try:
        scope: dict = {}
        exec(compile(_readme_example(), "README.md (Contributing)", "exec"), scope)
    finally:
        os.chdir(cwd)
    return d, scope


def test_the_readme_example_runs_every_stage_from_python(chain):
    d, scope = chain
    # ipc=8 real images per class, factor 1, pruned to IPC 2: 2 of every class's 8 patches, 10 classes.
    (record,) = scope["records"]
    assert record["key"] == "yoco" and record["ipc_from"] == 8 and record["ipc_to"] == 2
    assert record["class_counts"] == [2] * 10 and record["n_selected"] == 20
    assert json.loads((d / "selections.json").read_text()) == scope["records"]
    # One selection x one init: one row, naming the decoded set the selection indexes.
    runs = pd.read_csv(d / "runs.csv")
    assert len(runs) == 1 and runs["decoded_sha256"][0] == record["identity"]["decoded_sha256"]
    assert (d / "dyn" / "rep1.npz").is_file() and (d / "dyn" / "rep1.model.pt").is_file()


def test_a_stage_writes_the_bytes_its_command_writes(chain, tmp_path):
    d, _ = chain
    args = ["--decoded", str(d / "decoded.pt"), "--ipc-to", "2", "--key", "yoco", "--scores", str(d / "scores.npz")]
    assert main(["select", *args, "--out", str(tmp_path / "cli.json")]) == 0
    stages.select(d / "decoded.pt", 2, tmp_path / "py.json", key="yoco", scores=[d / "scores.npz"])
    assert (tmp_path / "py.json").read_bytes() == (tmp_path / "cli.json").read_bytes()


def test_a_stage_refuses_with_the_message_its_command_prints(chain, tmp_path, capsys):
    d, _ = chain
    # IPC 8 stored: pruning to 9 cannot shrink the set.
    with pytest.raises(YocoError) as err:
        stages.select(d / "decoded.pt", 9, tmp_path / "py.json", key="random_balance")
    assert "--ipc-to 9 exceeds the stored IPC 8" in str(err.value)
    capsys.readouterr()
    code = main(
        ["select", "--decoded", str(d / "decoded.pt"), "--ipc-to", "9", "--key", "random_balance"]
        + ["--out", str(tmp_path / "cli.json")]
    )
    assert code == 2
    assert capsys.readouterr().err.strip() == f"yoco select: error: {err.value}"
    assert not (tmp_path / "py.json").exists() and not (tmp_path / "cli.json").exists()


def test_train_options_name_the_unknown_option():
    with pytest.raises(YocoError, match="train= has no option widht"):
        stages.dynamics("decoded.pt", "real.npz", "dyn", train={"widht": 8})


def test_every_command_only_parses_and_calls_its_stage():
    import yoco.cli as cli

    commands = {name: f for name, f in vars(cli).items() if name.startswith("cmd_")}
    assert len(commands) == 16, sorted(commands)
    for name, func in commands.items():
        lines = inspect.getsource(func).splitlines()
        assert len(lines) <= 25, f"{name} is {len(lines)} lines: its work belongs in yoco/stages/"
    # A command reaches files only through its stage: the command line imports no loader or writer.
    imported = {
        node.module or ""
        for node in ast.walk(ast.parse(inspect.getsource(cli)))
        if isinstance(node, ast.ImportFrom) and node.level == 1
    }
    assert imported <= {"", "errors", "io", "seeding", "stages", "stages.condensing", "stages.inputs"}, imported


def test_nothing_in_the_library_imports_the_command_line():
    offenders = []
    for path in (REPO / "yoco").rglob("*.py"):
        if path.name in ("cli.py", "__main__.py"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[-1] == "cli":
                offenders.append(str(path.relative_to(REPO)))
            if isinstance(node, ast.Import) and any(a.name == "yoco.cli" for a in node.names):
                offenders.append(str(path.relative_to(REPO)))
    assert not offenders, f"these import yoco.cli, above them in the layering: {offenders}"


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda d: stages.dynamics(d / "decoded.pt", d / "digits.npz", d / "x", reps=0), "--reps 0 is below 1"),
        (lambda d: stages.select(d / "decoded.pt", 1, d / "x.json", key="random", rep=0), "--rep 0 is below 1"),
        (
            lambda d: stages.evaluate(d / "decoded.pt", d / "digits.npz", [d / "selections.json"], d / "x", inits=0),
            "--inits 0 is below 1",
        ),
        (
            lambda d: stages.evaluate_fractions(d / "decoded.pt", d / "digits.npz", [d / "scores.npz"], [0.0], d / "x"),
            "--fractions 0.0 is outside (0, 1)",
        ),
        (
            lambda d: stages.evaluate_epochs(d / "decoded.pt", d / "digits.npz", [], 1, 2, d / "x", epochs_from=-1),
            "--epochs-from -1 is below 0",
        ),
    ],
)
def test_a_stage_refuses_what_its_flag_type_refuses(chain, call, message):
    """The command line's flag types refuse these before a stage runs; a Python caller gets the same words
    from the stage instead of an empty run (reps=0) or a record of rep 0."""
    d, _ = chain
    with pytest.raises(YocoError) as err:
        call(d)
    assert str(err.value).startswith(message)
    assert not (d / "x").exists() and not (d / "x.json").exists()


def _stage_of(command: str):
    return getattr(stages, {"import": "import_set", "prune": "prune_file"}.get(command, command.replace("-", "_")))


def _subparsers(parser):
    import argparse

    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return sub.choices


def test_a_stage_called_without_an_option_runs_what_the_command_runs_without_its_flag():
    """Defaults reproduce the reference code in both doors: every optional flag's default is the stage
    keyword's (the training flags: TrainOptions' fields)."""
    import dataclasses

    from yoco.cli import build_parser
    from yoco.stages import TrainOptions

    train_defaults = {f.name: f.default for f in dataclasses.fields(TrainOptions)}
    checked = 0
    for command, sub in _subparsers(build_parser()).items():
        parsers = _subparsers(sub).items() if command == "report-page" else [(None, sub)]
        for kind, parser in parsers:
            params = inspect.signature(_stage_of(command)).parameters
            for action in parser._actions:
                if action.required or action.dest in ("help", "kind"):
                    continue
                if action.dest in params:
                    expected = params[action.dest].default
                else:
                    assert action.dest in train_defaults, f"yoco {command} --{action.dest} reaches no keyword"
                    expected = train_defaults[action.dest]
                default = action.default
                same = list(default) == list(expected) if isinstance(default, list) else default == expected
                assert same, f"yoco {command} {kind or ''} --{action.dest}: flag {default!r}, stage {expected!r}"
                checked += 1
    assert checked > 100
