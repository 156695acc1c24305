"""The lint of the code a contributor touches: `ruff check` with the settings of pyproject.toml."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

from conftest import REPO

LINTED = ["yoco", "tests", "benchmarks", "notebooks"]


def _ruff() -> str:
    found = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    assert found, "ruff is missing: `pip install -r requirements.txt` installs it"
    return found


def test_ruff_is_configured_in_pyproject():
    ruff = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["ruff"]
    assert ruff["line-length"] == 120
    assert {"E4", "E7", "E9", "F"} <= set(ruff["lint"]["select"])


def test_ruff_check_is_clean_on_the_code_and_the_notebooks():
    proc = subprocess.run(
        [_ruff(), "check", "--no-cache", "--output-format", "concise", *LINTED],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, f"ruff check {' '.join(LINTED)}:\n{proc.stdout}{proc.stderr}"
    assert (
        "notebooks/fig3.ipynb"
        in subprocess.run(
            [_ruff(), "check", "--no-cache", "--show-files", *LINTED],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=300,
        ).stdout
    ), "ruff must lint the notebooks too"


def test_ruff_format_leaves_the_code_and_the_notebooks_unchanged():
    # One formatter, so that a diff shows what changed and not whose editor saved the file.
    proc = subprocess.run(
        [_ruff(), "format", "--check", "--no-cache", *LINTED], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, f"run `ruff format {' '.join(LINTED)}`:\n{proc.stdout}{proc.stderr}"


def test_ruff_format_check_notices_unformatted_code(tmp_path):
    ugly = tmp_path / "ugly.py"
    ugly.write_text("x = {'a':1}\n")
    proc = subprocess.run(
        [_ruff(), "format", "--check", "--no-cache", "--config", str(REPO / "pyproject.toml"), str(ugly)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1 and "ugly.py" in proc.stdout


def test_ruff_catches_an_unused_import(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import os\n")
    proc = subprocess.run(
        [_ruff(), "check", "--no-cache", "--config", str(REPO / "pyproject.toml"), str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1 and "F401" in proc.stdout
