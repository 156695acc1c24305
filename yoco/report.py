"""The pages of ``snakemake --report`` that Snakemake cannot draw itself.

Snakemake's report shows a CSV only as a download and has no place for the run's configuration or
its software. Each function here renders one self-contained HTML page (inline style, no script, no
network) that the report embeds and shows in the page:

* :func:`table_page`: one of the paper's tables, row by row, our value beside the paper's and
  their difference first, the CSV's other columns after;
* :func:`config_page`: the run's merged configuration (every config file and ``--config`` value
  applied), as the YAML a rerun can take with ``--configfile``;
* :func:`provenance_page`: what made the numbers: the commit, torch and yoco versions and devices
  recorded in every runs CSV, and the packages of the environment that wrote the page.

Nothing here imports torch: a page costs the workflow a fraction of a second.
"""

from __future__ import annotations

import csv
import html
import importlib.metadata
import math
import platform
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from .errors import YocoError

#: The report's name for each table (the paper's subject of the table; captions give the details).
TABLE_TITLES = {
    1: "YOCO against the pruning baselines",
    2: "the two rules one at a time",
    3: "other evaluation networks",
    4: "hard-first metrics reversed",
    5: "balanced against imbalanced selection",
    6: "what each pruning method needs",
    7: "Table 1 with standard deviations",
}

#: The subject of each figure, as the paper's caption states it, for the report's list of figures.
FIGURE_TITLES = {
    2: "balanced and imbalanced selection by LBPE",
    3: "sample importance rules, condensed against full datasets",
    5: "accuracy of the selection made with LBPE at single epochs",
    7: "LBPE scores at different epochs",
}

#: A table's cell coordinates (yoco.published.KEY_COLUMNS), which lead every row.
_KEY_COLUMNS = ("dataset", "condenser", "ipc_from", "ipc_to", "key", "network")

#: The comparison a reader looks at first, in this order, each with its header and what it means.
_COMPARISON = {
    "mean_best": ("ours", "our mean accuracy (%), best validation point, over n_runs runs"),
    "std_best": ("± std", "standard deviation of our runs"),
    "published": ("paper", "the paper's accuracy (%) for the cell named by paper_dataset and paper_ipc_from"),
    "published_std": ("paper ± std", "the paper's standard deviation (Table 7)"),
    "diff_best": ("ours − paper", "our mean minus the paper's value, in points"),
}

#: The packages whose versions decide the numbers or the pages (requirements.txt pins them all).
PACKAGES = (
    "torch",
    "torchvision",
    "numpy",
    "scipy",
    "scikit-learn",
    "pandas",
    "matplotlib",
    "seaborn",
    "pyyaml",
    "snakemake",
    "papermill",
    "nbconvert",
    "ipykernel",
    "yoco",
)

#: Columns of a runs CSV (yoco.tables.RUN_COLUMNS and yoco.evaluate) that say how a number was made.
_PROVENANCE_COLUMNS = ("git_commit", "yoco_version", "torch_version", "device", "engine", "compiled")

_STYLE = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 1.2em; color: #1e293b; }
h1 { font-size: 1.25em; margin: 0 0 .4em; }
h2 { font-size: 1.05em; margin: 1.4em 0 .4em; }
p.note { max-width: 60em; color: #475569; margin: .3em 0 .8em; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { border-bottom: 1px solid #e2e8f0; padding: .25em .6em; text-align: left; vertical-align: top; }
th { white-space: nowrap; }
thead th { position: sticky; top: 0; background: #f1f5f9; border-bottom: 2px solid #94a3b8; }
th small { display: block; font-weight: normal; color: #64748b; font-family: ui-monospace, monospace; }
td.num { text-align: right; white-space: nowrap; }
th.cmp, td.cmp { background: #f8fafc; }
td.ours { font-weight: 600; }
td.pos { color: #15803d; }
td.neg { color: #b91c1c; }
tbody tr:hover td { background: #fef9c3; }
pre { background: #f8fafc; border: 1px solid #e2e8f0; padding: .8em; overflow: auto; font-size: 13px; }
code { font-family: ui-monospace, monospace; }
"""


def table_title(number: int) -> str:
    """``Table N: subject``, the name of a table's page in the report."""
    if number not in TABLE_TITLES:
        raise YocoError(f"there is no Table {number}; the paper's tables are 1 to 7")
    return f"Table {number}: {TABLE_TITLES[number]}"


def figure_title(number: int) -> str:
    """``Figure N: subject``, the name of a figure in the report."""
    if number not in FIGURE_TITLES:
        raise YocoError(f"there is no Figure {number} in this project; it draws Figures 2, 3, 5 and 7")
    return f"Figure {number}: {FIGURE_TITLES[number]}"


def read_table_csv(path: str | Path) -> tuple[list[str], list[dict[str, str]]]:
    """A table CSV as its header and its rows of strings, exactly as written (no type guessing)."""
    path = Path(path)
    if not path.is_file():
        raise YocoError(f"--csv {path} does not exist; pass a table CSV written by `yoco table`")
    try:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            rows = list(reader)
            header = list(reader.fieldnames or [])
    except (UnicodeDecodeError, csv.Error) as exc:
        raise YocoError(f"--csv {path} is not a CSV written by `yoco table` ({exc}); pass the table's CSV") from None
    if not header:
        raise YocoError(f"--csv {path} is empty; pass a table CSV written by `yoco table`")
    return header, rows


_FLOAT = re.compile(r"[-+]?\d*\.\d+(e[-+]?\d+)?", re.IGNORECASE)


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def cell_text(column: str, text: str | None) -> str:
    """How a table page shows one cell of ``column``: a float to two decimals (a difference signed), any
    other number or text as written, a blank or NaN as a dash. The markdown of the results pages
    (benchmarks/paper_report.py) shows cells the same way."""
    text = "" if text is None else str(text).strip()
    if text == "" or text.lower() == "nan":
        return "–"
    value = _number(text)
    # Written as a float: accuracies and their spreads read best at two decimals.
    if value is not None and _FLOAT.fullmatch(text):
        return f"{value:+.2f}" if column.startswith("diff") else f"{value:.2f}"
    return text


def _cell(column: str, text: str) -> str:
    """One ``<td>``: the text of :func:`cell_text`, numbers right-aligned, differences coloured."""
    text = "" if text is None else str(text).strip()
    classes = ["cmp"] if column in _COMPARISON else []
    value = _number(text)
    if text == "" or text.lower() == "nan" or value is not None:
        classes.append("num")
    if column.startswith("diff") and value and _FLOAT.fullmatch(text):
        classes.append("pos" if value > 0 else "neg")
    if column == "mean_best":
        classes.append("ours")
    return f'<td class="{" ".join(classes)}">{html.escape(cell_text(column, text))}</td>'


def _column_order(header: Sequence[str]) -> list[str]:
    """The cell's coordinates, then ours, the paper's and the difference, then every other column; a
    table without measurements (Table 6) keeps the paper's order."""
    comparison = [c for c in _COMPARISON if c in header]
    if not comparison:
        return list(header)
    lead = [c for c in _KEY_COLUMNS if c in header]
    return lead + comparison + [c for c in header if c not in lead and c not in comparison]


def _page(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
        f"<h1>{html.escape(title)}</h1>\n{body}</body>\n</html>\n"
    )


def table_page(header: Sequence[str], rows: Iterable[Mapping[str, str]], number: int, source: str = "") -> str:
    """One table of the paper as an HTML page: a row per CSV row, every CSV column, nothing rounded away
    but float digits beyond the second.

    Parameters
    ----------
    header, rows
        The table CSV (:func:`read_table_csv`).
    number
        The paper's table number (1-7), for the title.
    source
        The CSV's path, named under the title so the reader can find the file the page shows.
    """
    title = table_title(number)
    rows = list(rows)
    columns = _column_order(header)
    heads = []
    for c in columns:
        label, meaning = _COMPARISON.get(c, (c, ""))
        cls = ' class="cmp"' if c in _COMPARISON else ""
        tip = f' title="{html.escape(meaning)}"' if meaning else ""
        sub = f"<small>{html.escape(c)}</small>" if label != c else ""
        heads.append(f"<th{cls}{tip}>{html.escape(label)}{sub}</th>")
    body_rows = "\n".join("<tr>" + "".join(_cell(c, row.get(c, "")) for c in columns) + "</tr>" for row in rows)
    if "published" in header:
        with_paper = sum(_number(r.get("published", "")) is not None for r in rows)
        note = (
            f"{len(rows)} rows, {with_paper} with a published value. <b>ours</b>: our mean accuracy (%) over "
            "<code>n_runs</code> runs (selections × initialisations), at the best validation point; "
            "<b>paper</b>: the paper's number for the cell named by <code>paper_dataset</code> and "
            "<code>paper_ipc_from</code> (a stand-in dataset is compared with the paper's CIFAR-10 cells); "
            "<b>ours − paper</b> in points. A dash: no such number (the paper has no such cell, or the "
            "cell was not run). Point at a header for its meaning."
        )
    else:
        note = f"{len(rows)} rows, as the paper lists them; nothing in this table is measured."
    src = f" The file: <code>{html.escape(source)}</code>." if source else ""
    body = (
        f'<p class="note">{note}{src}</p>\n'
        f"<table>\n<thead><tr>{''.join(heads)}</tr></thead>\n<tbody>\n{body_rows}\n</tbody>\n</table>\n"
    )
    return _page(title, body)


def config_page(config_yaml: str, configfiles: Sequence[str] = (), overrides: str = "", path: str = "") -> str:
    """The run's merged configuration as a page: where it came from, then the YAML itself."""
    files = ", ".join(f"<code>{html.escape(f)}</code>" for f in configfiles) or "none recorded"
    parts = [
        f'<p class="note">Every value the run\'s jobs saw: the config files ({files}) merged in that order',
        f", then the command line's <code>--config</code> values (<code>{html.escape(overrides)}</code>)"
        if overrides
        else ", with no <code>--config</code> values on the command line",
        ". Schema defaults are filled in."
        + (
            f" The same YAML is the file <code>{html.escape(path)}</code>; <code>snakemake --configfile</code> "
            "that file sets up exactly this configuration again."
            if path
            else ""
        )
        + "</p>\n",
        f"<pre><code>{html.escape(config_yaml)}</code></pre>\n",
    ]
    return _page("Configuration of this run (merged)", "".join(parts))


def git_state(folder: str | Path | None = None) -> str:
    """``<commit>`` of the checkout at ``folder`` (this package's by default), ``+local changes`` when
    tracked files differ from it, or ``unknown`` outside a git checkout."""
    where = Path(folder) if folder else Path(__file__).resolve().parent
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=where, capture_output=True, text=True, timeout=5
        )
        if head.returncode != 0 or not head.stdout.strip():
            return "unknown"
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=where,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return head.stdout.strip() + (" +local changes" if dirty.stdout.strip() else "")


def environment() -> dict[str, str]:
    """Python, the platform and the version of each of :data:`PACKAGES` ("not installed" if absent)."""
    env = {"python": sys.version.split()[0], "platform": platform.platform()}
    for name in PACKAGES:
        try:
            env[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            env[name] = "not installed"
    return env


def run_provenance(paths: Iterable[str | Path]) -> list[tuple[dict[str, str], int]]:
    """The distinct (commit, yoco, torch, device, engine, compiled) combinations of the runs CSVs'
    rows, each with how many trained networks it made, most first."""
    counts: Counter = Counter()
    for path in paths:
        path = Path(path)
        if not path.is_file():
            raise YocoError(f"--runs {path} does not exist; pass the runs CSVs written by `yoco evaluate`")
        with open(path, newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                counts[tuple(row.get(c, "") or "" for c in _PROVENANCE_COLUMNS)] += 1
    return [(dict(zip(_PROVENANCE_COLUMNS, key)), n) for key, n in counts.most_common()]


def provenance_page(
    runs: Sequence[tuple[Mapping[str, str], int]], env: Mapping[str, str], commit: str, n_files: int
) -> str:
    """What made the numbers: the runs CSVs' own records, then the environment that wrote this page."""
    if runs:
        heads = "".join(f"<th>{html.escape(c)}</th>" for c in _PROVENANCE_COLUMNS) + "<th>trained networks</th>"
        rows = "\n".join(
            "<tr>"
            + "".join(f"<td>{html.escape(str(rec.get(c, '')) or '–')}</td>" for c in _PROVENANCE_COLUMNS)
            + f'<td class="num">{n}</td></tr>'
            for rec, n in runs
        )
        recorded = f"<table>\n<thead><tr>{heads}</tr></thead>\n<tbody>\n{rows}\n</tbody>\n</table>\n"
    else:
        recorded = '<p class="note">This run trained no evaluation networks (no runs CSV).</p>\n'
    env_rows = "\n".join(
        f"<tr><td>{html.escape(k)}</td><td><code>{html.escape(v)}</code></td></tr>" for k, v in env.items()
    )
    body = (
        '<h2>Recorded with every trained network</h2>\n<p class="note">Every evaluation writes one row per '
        "trained network into its runs CSV (<code>runs/…/{network}.csv</code>) with the commit of the checkout, "
        f"the yoco and torch versions, the device and the training engine; the {n_files} runs CSVs of this "
        "run's tables hold these combinations.</p>\n"
        f"{recorded}"
        '<h2>Environment of the job that wrote this page</h2>\n<p class="note">The job runs after the last '
        "evaluation of the tables, in the same environment as the run's other jobs. Commit of the checkout: "
        f"<code>{html.escape(commit)}</code> (<q>+local changes</q>: tracked files differed from it).</p>\n"
        f"<table>\n<thead><tr><th>package</th><th>version</th></tr></thead>\n<tbody>\n{env_rows}\n"
        "</tbody>\n</table>\n"
    )
    return _page("Provenance: software versions and commits", body)


__all__ = [
    "PACKAGES",
    "TABLE_TITLES",
    "cell_text",
    "config_page",
    "environment",
    "git_state",
    "provenance_page",
    "read_table_csv",
    "run_provenance",
    "table_page",
    "table_title",
]
