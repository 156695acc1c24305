"""yoco.report: the HTML pages the Snakemake report shows for a table, the merged config and provenance."""

from __future__ import annotations

import subprocess
import sys
from html.parser import HTMLParser

import pytest
import yaml

from yoco import report
from yoco.cli import main
from yoco.errors import YocoError


class _Cells(HTMLParser):
    """Header labels (with the CSV column under each), rows of cell texts and cell classes of a page's table."""

    def __init__(self):
        super().__init__()
        self.heads, self.rows, self.classes, self.title = [], [], [], ""
        self._in, self._text, self._cls, self._small = None, "", "", ""

    def handle_starttag(self, tag, attrs):
        if tag in ("th", "td", "h1"):
            self._in, self._text, self._small, self._cls = tag, "", "", dict(attrs).get("class", "")
        elif tag == "small":
            self._in_small = True
            self._small = ""
        elif tag == "tr":
            self._row, self._row_cls = [], []

    def handle_data(self, data):
        if getattr(self, "_in_small", False):
            self._small += data
        elif self._in:
            self._text += data

    def handle_endtag(self, tag):
        if tag == "small":
            self._in_small = False
        elif tag == "h1":
            self.title, self._in = self._text, None
        elif tag == "th":
            self.heads.append((self._text.strip(), self._small.strip() or self._text.strip()))
            self._in = None
        elif tag == "td":
            self._row.append(self._text.strip())
            self._row_cls.append(self._cls)
            self._in = None
        elif tag == "tr" and self._row:
            self.rows.append(self._row)
            self.classes.append(self._row_cls)


def _parse(page: str) -> _Cells:
    cells = _Cells()
    cells.feed(page)
    return cells


HEADER = [
    "dataset",
    "condenser",
    "ipc_from",
    "ipc_to",
    "key",
    "network",
    "n_runs",
    "mean_best",
    "std_best",
    "mean_last",
    "published",
    "diff_best",
    "paper_dataset",
    "paper_ipc_from",
]


def _row(key, mean, published, diff, std="0.5"):
    values = ["digits", "idc", "10", "1", key, "convnet", "4", mean, std, "30.0", published, diff, "cifar10", "10"]
    return dict(zip(HEADER, values))


def test_table_page_puts_ours_the_paper_and_the_difference_beside_the_cell():
    rows = [_row("yoco", "40.281234", "42.28", "-1.998766"), _row("random", "30.5", "28.23", "2.27")]
    page = _parse(report.table_page(HEADER, rows, 1, source="results/x/table1.csv"))
    assert page.title == "Table 1: YOCO against the pruning baselines"
    labels = [label for label, _ in page.heads]
    columns = [column for _, column in page.heads]
    # The cell's coordinates, then the comparison, then the rest in the CSV's order; every CSV column once.
    assert columns[:10] == [*HEADER[:6], "mean_best", "std_best", "published", "diff_best"]
    assert sorted(columns) == sorted(HEADER)
    assert labels[6:10] == ["ours", "± std", "paper", "ours − paper"]
    assert page.rows[0][6:10] == ["40.28", "0.50", "42.28", "-2.00"]
    assert page.rows[1][6:10] == ["30.50", "0.50", "28.23", "+2.27"]
    assert "neg" in page.classes[0][9] and "pos" in page.classes[1][9]
    # Integers (IPC, run counts) stay as written.
    assert page.rows[0][2:4] == ["10", "1"] and page.rows[0][columns.index("n_runs")] == "4"


def test_table_page_shows_a_missing_number_as_a_dash_and_escapes_text():
    rows = [_row("yoco", "", "", ""), {**_row("<b>x</b>", "nan", "42.28", ""), "network": "a&b"}]
    html = report.table_page(HEADER, rows, 2)
    page = _parse(html)
    assert page.rows[0][6:10] == ["–", "0.50", "–", "–"]
    assert page.rows[1][4] == "<b>x</b>" and "<b>x</b>" not in html  # shown as text, never as markup
    assert page.rows[1][5] == "a&b"
    assert "2 rows, 1 with a published value" in html


def test_table6_keeps_the_papers_column_order_and_says_nothing_is_measured():
    header = ["Method", "key", "model", "training_dynamics"]
    rows = [{"Method": "SSP", "key": "ssp", "model": "✓", "training_dynamics": ""}]
    html = report.table_page(header, rows, 6)
    page = _parse(html)
    assert [c for _, c in page.heads] == header
    assert page.rows == [["SSP", "ssp", "✓", "–"]]
    assert "nothing in this table is measured" in html


def test_table_title_names_every_table_and_rejects_others():
    assert [report.table_title(n).split(":")[0] for n in range(1, 8)] == [f"Table {n}" for n in range(1, 8)]
    with pytest.raises(YocoError, match="Table 8"):
        report.table_title(8)


def test_config_page_shows_the_yaml_verbatim_and_where_it_came_from():
    text = yaml.safe_dump({"output_root": "results/q", "note": "<a & b>"}, sort_keys=False)
    html = report.config_page(
        text, ["config/config.yaml", "config/quickstart.yaml"], "output_root='x'", "results/q/report/config.yaml"
    )
    assert "config/config.yaml</code>, <code>config/quickstart.yaml" in html
    assert "output_root=&#x27;x&#x27;" in html and "results/q/report/config.yaml" in html
    pre = html.split("<pre><code>", 1)[1].split("</code></pre>", 1)[0]
    import html as html_lib

    assert yaml.safe_load(html_lib.unescape(pre)) == {"output_root": "results/q", "note": "<a & b>"}


def test_run_provenance_counts_the_networks_of_each_commit_and_version(tmp_path):
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    head = "key,git_commit,yoco_version,torch_version,device,engine,compiled\n"
    a.write_text(head + "yoco,abc1234,0.1.0,2.14.1,cpu,loop,False\n" * 3)
    b.write_text(head + "yoco,abc1234,0.1.0,2.14.1,cpu,loop,False\nyoco,def5678,0.1.0,2.14.1,cpu,loop,True\n")
    runs = report.run_provenance([a, b])
    assert [(r["git_commit"], r["compiled"], n) for r, n in runs] == [("abc1234", "False", 4), ("def5678", "True", 1)]
    html = report.provenance_page(runs, {"python": "3.11.7", "torch": "2.14.1"}, "abc1234", 2)
    assert "abc1234" in html and "def5678" in html and "2.14.1" in html and "the 2 runs CSVs" in html
    with pytest.raises(YocoError, match="does not exist"):
        report.run_provenance([tmp_path / "missing.csv"])


def test_environment_lists_the_pinned_packages_and_git_state_names_a_commit():
    env = report.environment()
    assert env["python"] == sys.version.split()[0]
    assert set(report.PACKAGES) <= set(env) and env["pyyaml"] == yaml.__version__
    state = report.git_state()
    assert state == "unknown" or len(state.split()[0]) >= 7


def test_cli_writes_the_table_page_and_fails_in_one_line_on_a_missing_csv(tmp_path, capsys):
    csv_path = tmp_path / "table1.csv"
    csv_path.write_text(",".join(HEADER) + "\n" + ",".join(_row("yoco", "40.0", "42.28", "-2.28").values()) + "\n")
    out = tmp_path / "report" / "table1.html"
    assert main(["report-page", "table", "--csv", str(csv_path), "--number", "1", "--out", str(out)]) == 0
    assert _parse(out.read_text()).rows[0][6:10] == ["40.00", "0.50", "42.28", "-2.28"]
    capsys.readouterr()
    assert main(["report-page", "table", "--csv", str(tmp_path / "nope.csv"), "--number", "1", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "nope.csv does not exist" in err


def test_cli_report_page_without_a_kind_is_a_usage_error():
    proc = subprocess.run([sys.executable, "-m", "yoco", "report-page"], capture_output=True, text=True)
    assert proc.returncode == 2 and "KIND" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_figure_title_names_the_four_figures_and_rejects_others():
    assert [report.figure_title(n).split(":")[0] for n in (2, 3, 5, 7)] == [
        "Figure 2",
        "Figure 3",
        "Figure 5",
        "Figure 7",
    ]
    with pytest.raises(YocoError, match="Figures 2, 3, 5 and 7"):
        report.figure_title(4)
