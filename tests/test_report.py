"""`snakemake --report` (what `make report` runs): every table and figure, with its caption, in one HTML file;
each table readable in the page, the merged configuration and provenance beside them (checked in a real
headless Chromium by tools/check_report.py when one is installed)."""

from __future__ import annotations

import base64
import json
import re

import shutil
import subprocess
import sys

import pytest
import yaml

from conftest import REPO, snakemake_test_config

pytestmark = pytest.mark.slow

TABLES = [f"table{n}.csv" for n in range(1, 8)]
PAGES = [f"table{n}.html" for n in range(1, 8)] + ["config.html", "provenance.html"]
FIGURES = [f"fig{n}.png" for n in (2, 3, 5, 7)]


def _results(html: str) -> dict[str, dict]:
    """The report's result records (path -> name, caption, mime type, data), parsed from the page's data."""
    records = {}
    for match in re.finditer(r'"([^"]+\.(?:csv|png|html))": (\{"name": )', html):
        record, _ = json.JSONDecoder().raw_decode(html, match.start(2))
        records[match.group(1)] = record
    return records


@pytest.fixture(scope="module")
def report_html(test_config_run):
    out = test_config_run / "report.html"
    proc = snakemake_test_config(test_config_run, "--report", str(out))
    assert proc.returncode == 0, proc.stderr[-5000:]
    return out


@pytest.fixture(scope="module")
def report(report_html):
    return _results(report_html.read_text())


def test_report_holds_every_table_and_figure(report):
    names = sorted(r["name"] for r in report.values())
    assert names == sorted(TABLES + PAGES + FIGURES)


def test_tables_are_listed_by_name_and_shown_as_pages_beside_their_csvs(report):
    by_category = {}
    for record in report.values():
        by_category.setdefault(record["mime_type"], []).append(record)
    pages = {r["labels"]["table"]: r for r in by_category["text/html"] if "table" in r["labels"]}
    csvs = {r["labels"]["table"]: r for r in by_category["text/csv"]}
    assert sorted(pages) == sorted(csvs) and len(pages) == 7
    assert sorted(pages)[0] == "Table 1: YOCO against the pruning baselines"  # a name, not "1"
    for label, page in pages.items():
        assert page["job_properties"]["rule"] == "table_page"
        assert page["data_uri"].startswith("data:text/html")
        assert label.split(":")[0] in page["caption"]


def test_the_merged_configuration_is_in_the_report(report, test_config_run):
    config = next(r for r in report.values() if r["name"] == "config.html")
    html = base64.b64decode(config["data_uri"].split("base64,", 1)[1]).decode()
    assert f"output_root: {test_config_run}/results" in html
    merged = yaml.safe_load((test_config_run / "results/report/config.yaml").read_text())
    test_yaml = yaml.safe_load((REPO / "config/test.yaml").read_text())
    # test.yaml's values over config.yaml's, then --config's: what every job of the run saw.
    assert merged["reps"] == test_yaml["reps"] and merged["output_root"] == f"{test_config_run}/results"
    assert merged["datasets"]["cifar10"]["num_classes"] == 10  # from config/config.yaml, under test.yaml
    assert "config/config.yaml</code>, <code>config/test.yaml" in html


def test_captions_point_only_at_places_the_report_has(report):
    for record in report.values():
        caption = record["caption"]
        assert "System Message" not in caption, f"{record['name']}: docutils error in the caption"
        # Snakemake 9.27's report has no "Rules" panel; the config and versions are a category of ours.
        assert "under <em>Rules</em>" not in caption and "<em>Configuration</em>" not in caption
        for target in re.findall(r"javascript:app\.showCategory\('([^']+)'\)", caption):
            assert target.replace("%20", " ") in {"Tables", "Table CSVs", "Figures", "Configuration", "Claims"}


def test_the_report_reads_right_in_a_headless_browser(report_html, tmp_path):
    """tools/check_report.py clicks through the report in Chromium: every table shown in the page with the
    CSV's values, the merged config present, every caption's link leading somewhere."""
    if not any(shutil.which(b) for b in ("chromium", "chromium-browser", "google-chrome")):
        pytest.skip("no Chromium installed (apt-get install chromium); the browser check needs one")
    proc = subprocess.run(
        [sys.executable, str(REPO / "tools/check_report.py"), str(report_html), "--timeout", "120"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-2000:]
    assert "0 failed" in proc.stdout and "match the CSV" in proc.stdout


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
