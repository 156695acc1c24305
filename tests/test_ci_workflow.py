"""The GitHub Actions workflow of conda users: valid (jactionlint, actionlint's checks and more), and running the
README's commands, so that what CI proves is what a user types."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from conftest import REPO

WORKFLOWS = sorted((REPO / ".github/workflows").glob("*.yml"))


def _linter() -> str:
    found = shutil.which("jactionlint", path=str(Path(sys.executable).parent)) or shutil.which("jactionlint")
    assert found, "jactionlint is missing: `pip install -r requirements.txt` installs it"
    return found


def _readme_commands() -> set[str]:
    """Every command line of the README's fenced shell blocks, without trailing comments."""
    blocks = re.findall(r"```bash\n(.*?)```", (REPO / "README.md").read_text(), flags=re.S)
    return {line.split("  #", 1)[0].strip() for block in blocks for line in block.splitlines() if line.strip()}


def _steps(path: Path) -> list[dict]:
    return [step for job in yaml.safe_load(path.read_text())["jobs"].values() for step in job["steps"]]


def test_there_is_a_workflow():
    assert [p.name for p in WORKFLOWS] == ["conda.yml"]


def test_workflows_pass_jactionlint_at_its_strictest():
    proc = subprocess.run(
        [_linter(), "--no-color", "--no-hints", "--profile", "pedantic", "--strict-exit", *map(str, WORKFLOWS)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_linter_would_catch_a_broken_workflow(tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text((REPO / ".github/workflows/conda.yml").read_text().replace("runs-on:", "run-on:"))
    proc = subprocess.run(
        [_linter(), "--no-color", "--no-hints", str(broken)], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode != 0 and "runs-on" in proc.stdout


def test_workflow_builds_the_conda_environment_and_runs_the_readmes_commands():
    steps = _steps(REPO / ".github/workflows/conda.yml")
    micromamba = next(s for s in steps if s.get("uses", "").startswith("mamba-org/setup-micromamba@"))
    assert micromamba["with"]["environment-file"] == "environment.yml"
    assert micromamba["with"]["cache-environment"] is True
    runs = [line.strip() for s in steps if "run" in s for line in s["run"].splitlines() if line.strip()]
    assert runs, "the workflow runs nothing"
    readme = _readme_commands()
    missing = [r for r in runs if r not in readme]
    assert not missing, f"commands the README does not show: {missing}"
    assert any(r.startswith("make test") for r in runs) and any(r.startswith("make quickstart") for r in runs)
    assert any(r.startswith("make report") for r in runs)


def test_workflow_keeps_the_figures_and_the_report():
    steps = _steps(REPO / ".github/workflows/conda.yml")
    upload = next(s for s in steps if s.get("uses", "").startswith("actions/upload-artifact@"))
    paths = upload["with"]["path"].split()
    assert "figures/quickstart/" in paths and "results/quickstart/report.html" in paths
    assert upload["with"]["if-no-files-found"] == "error"
