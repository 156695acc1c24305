"""The figure notebooks: sources without outputs, runnable by a person (parameters cell, the quickstart's CSVs
by default) and by the workflow (Snakemake's notebook: directive, through papermill)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pandas as pd
import pytest
import yaml

from conftest import REPO

NOTEBOOKS = REPO / "notebooks"
FIGURES = ("fig2", "fig3", "fig5", "fig7")
PNG_MAGIC, PDF_MAGIC = b"\x89PNG\r\n\x1a\n", b"%PDF-"


def _read(name: str) -> nbformat.NotebookNode:
    return nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)


def _parameters(nb: nbformat.NotebookNode) -> dict[str, object]:
    """The values the parameters cell assigns (plain literals, as papermill requires)."""
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    values: dict[str, object] = {}
    exec(cell.source, {}, values)
    return values


def _assert_figure_files(png: Path, pdf: Path) -> None:
    assert png.read_bytes()[:8] == PNG_MAGIC, png
    assert pdf.read_bytes()[:5] == PDF_MAGIC, pdf
    assert png.stat().st_size > 10_000 and pdf.stat().st_size > 5_000


def test_the_figure_notebooks_are_the_only_ones_and_have_no_generator():
    assert sorted(p.name for p in NOTEBOOKS.iterdir() if p.suffix == ".ipynb") == [f"{n}.ipynb" for n in FIGURES]
    assert not list(NOTEBOOKS.glob("*.py")), "the .ipynb files are the source: no generator script"


@pytest.mark.parametrize("name", FIGURES)
def test_notebook_is_committed_without_outputs(name):
    nb = _read(name)
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, (
                f"{name}.ipynb holds outputs: run `jupyter nbconvert --clear-output --inplace notebooks/*.ipynb`"
            )
    assert "widgets" not in nb.metadata
    assert nb.metadata["kernelspec"]["name"] == "python3"


@pytest.mark.parametrize("name", FIGURES)
def test_parameters_cell_comes_first_and_names_the_quickstarts_files(name):
    nb = _read(name)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert "parameters" in code[0].metadata.get("tags", []), "the first code cell must be tagged 'parameters'"
    quickstart = yaml.safe_load((REPO / "config/quickstart.yaml").read_text())
    params = _parameters(nb)
    assert params["csv"] == f"{quickstart['output_root']}/figure_data/{name}.csv"
    assert params["png"] == f"{quickstart['figures_root']}/{name}.png"
    assert params["pdf"] == f"{quickstart['figures_root']}/{name}.pdf"


@pytest.mark.slow
def test_notebooks_run_standalone_in_jupyter_after_the_quickstart(test_config_run, tmp_path):
    """`jupyter nbconvert --execute notebooks/figN.ipynb` in a checkout whose quickstart has run (here: the test
    config's CSVs put where the quickstart writes them): each notebook writes its figure, no Snakemake involved."""
    checkout = tmp_path / "checkout"
    (checkout / "notebooks").mkdir(parents=True)
    (checkout / "Snakefile").touch()
    data = checkout / "results/quickstart/figure_data"
    data.mkdir(parents=True)
    for name in FIGURES:
        shutil.copy(NOTEBOOKS / f"{name}.ipynb", checkout / "notebooks")
        shutil.copy(test_config_run / f"results/figure_data/{name}.csv", data)
    cmd = [
        sys.executable,
        "-m",
        "jupyter",
        "nbconvert",
        "--to",
        "notebook",
        "--execute",
        "--output-dir",
        str(tmp_path / "executed"),
        *(str(checkout / f"notebooks/{n}.ipynb") for n in FIGURES),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-5000:]
    for name in FIGURES:
        _assert_figure_files(checkout / f"figures/quickstart/{name}.png", checkout / f"figures/quickstart/{name}.pdf")


@pytest.mark.slow
@pytest.mark.parametrize("name", FIGURES)
def test_notebooks_ran_in_the_workflow_through_papermill_on_snakemakes_files(test_config_run, name):
    """The test config's run executed each notebook with papermill (no nbconvert fallback), and the notebook
    wrote the files the rule named, not its defaults."""
    png, pdf = test_config_run / f"figures/{name}.png", test_config_run / f"figures/{name}.pdf"
    _assert_figure_files(png, pdf)
    executed = nbformat.read(test_config_run / f"results/logs/figures/{name}.ipynb", as_version=4)
    assert "papermill" in executed.metadata, "Snakemake ran the notebook without papermill"
    printed = "".join(out.get("text", "") for c in executed.cells if c.cell_type == "code" for out in c.outputs)
    assert f"wrote {png} and {pdf}" in printed, printed


@pytest.mark.slow
def test_notebook_stops_on_an_empty_csv(tmp_path):
    import papermill
    from papermill.exceptions import PapermillExecutionError

    csv = tmp_path / "empty.csv"
    pd.DataFrame(columns=["lbpe_epoch", "rep", "init", "best_acc", "last_acc"]).to_csv(csv, index=False)
    with pytest.raises(PapermillExecutionError, match="no rows"):
        papermill.execute_notebook(
            str(NOTEBOOKS / "fig5.ipynb"),
            str(tmp_path / "out.ipynb"),
            progress_bar=False,
            parameters={"csv": str(csv), "png": str(tmp_path / "x.png"), "pdf": str(tmp_path / "x.pdf")},
        )
    assert not (tmp_path / "x.png").exists()


def _checkout_after_quickstart(test_config_run, root: Path) -> Path:
    """A checkout whose quickstart has run: the notebooks and the test config's figure CSVs where the
    quickstart writes them."""
    (root / "notebooks").mkdir(parents=True)
    (root / "Snakefile").touch()
    data = root / "results/quickstart/figure_data"
    data.mkdir(parents=True)
    for name in FIGURES:
        shutil.copy(NOTEBOOKS / f"{name}.ipynb", root / "notebooks")
        shutil.copy(test_config_run / f"results/figure_data/{name}.csv", data)
    return root


def _files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


@pytest.mark.slow
def test_the_readmes_notebook_commands_print_no_warning_and_write_only_under_results_and_figures(
    test_config_run, tmp_path
):
    """README: `jupyter nbconvert --to html --execute --output-dir results/quickstart/notebooks ...` (with the
    Jupyter config `make env` installs) and `python -m yoco.notebook ... -p ...` run without ipykernel's
    TCP warning and nbconvert's missing-alt-text warning, and write nowhere but results/ and figures/."""
    checkout = _checkout_after_quickstart(test_config_run, tmp_path / "checkout")
    before = _files(checkout)
    env = dict(os.environ, JUPYTER_CONFIG_PATH=str(REPO / "config/jupyter"), PYTHONPATH=str(REPO))
    bindir = Path(sys.executable).parent
    commands = [
        [str(bindir / "jupyter"), "nbconvert", "--to", "html", "--execute", "--output-dir",
         "results/quickstart/notebooks", "notebooks/fig3.ipynb"],
        [sys.executable, "-m", "yoco.notebook", "notebooks/fig3.ipynb", "results/quickstart/notebooks/fig3-last.ipynb",
         "-p", "metric", "last", "-p", "png", "figures/quickstart/fig3-last.png",
         "-p", "pdf", "figures/quickstart/fig3-last.pdf"],
    ]  # fmt: skip
    for cmd in commands:
        proc = subprocess.run(cmd, cwd=checkout, env=env, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr[-5000:]
        assert "WARNING" not in proc.stderr and "Warning" not in proc.stderr, proc.stderr
    new = _files(checkout) - before
    assert all(f.startswith(("results/", "figures/")) for f in new), sorted(new)
    _assert_figure_files(checkout / "figures/quickstart/fig3.png", checkout / "figures/quickstart/fig3.pdf")
    _assert_figure_files(checkout / "figures/quickstart/fig3-last.png", checkout / "figures/quickstart/fig3-last.pdf")
    html = (checkout / "results/quickstart/notebooks/fig3.html").read_text()
    images = re.findall(r"<img\b[^>]*>", html)
    assert images and all(re.search(r'\balt="Fig\. 3', img) for img in images), [i[:120] for i in images]


def test_yoco_notebook_reads_papermill_values_and_names_a_missing_notebook(tmp_path, capsys):
    from yoco.notebook import _value, main

    assert [_value(v) for v in ("last", "3", "0.5", "True", "None")] == ["last", 3, 0.5, True, None]
    assert main([str(tmp_path / "nope.ipynb"), str(tmp_path / "out.ipynb")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "nope.ipynb does not exist" in err
