"""`snakemake --report` (what `make report` runs): every table and figure, with its caption, in one HTML file."""

from __future__ import annotations

import base64
import json
import re

import pytest

from conftest import snakemake_test_config

pytestmark = pytest.mark.slow

TABLES = [f"table{n}.csv" for n in range(1, 8)]
FIGURES = [f"fig{n}.png" for n in (2, 3, 5, 7)]


def _results(html: str) -> dict[str, dict]:
    """The report's result records (path -> name, caption, mime type, data), parsed from the page's data."""
    records = {}
    for match in re.finditer(r'"([^"]+\.(?:csv|png))": (\{"name": )', html):
        record, _ = json.JSONDecoder().raw_decode(html, match.start(2))
        records[match.group(1)] = record
    return records


@pytest.fixture(scope="module")
def report(test_config_run):
    out = test_config_run / "report.html"
    proc = snakemake_test_config(test_config_run, "--report", str(out))
    assert proc.returncode == 0, proc.stderr[-5000:]
    return _results(out.read_text())


def test_report_holds_every_table_and_figure(report):
    names = sorted(r["name"] for r in report.values())
    assert names == sorted(TABLES + FIGURES)


def test_figures_are_embedded_images_with_captions(report, test_config_run):
    for path, record in report.items():
        if not path.endswith(".png"):
            continue
        assert record["mime_type"] == "image/png"
        data = base64.b64decode(record["data_uri"].split("base64,", 1)[1])
        assert data == (test_config_run / "figures" / record["name"]).read_bytes()
        number = record["name"][3]
        assert f"Figure {number}" in record["caption"]


def test_table_captions_name_the_table_the_paper_and_the_config(report, test_config_run):
    for record in report.values():
        if not record["name"].endswith(".csv"):
            continue
        number = record["name"][5]
        caption = record["caption"]
        assert f"Table {number}" in caption
        assert f"{test_config_run}/results" in caption, "the caption must name the run's output root"
        if number != "6":
            assert "published" in caption and "42.28" in caption, "the paper's number must stand beside ours"
