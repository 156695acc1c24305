"""Markdown tables of a run of every table and figure, for a results page (issue 18).

    python benchmarks/paper_report.py results/cifar10-cpu-full [--figures figures/cifar10-cpu-full]

Prints, from the run's own files only:

1. the run: commits, device, torch, yoco and Python versions, how the seeds were made, as recorded in the
   training rows (runs/, epochs/, fractions/) and report/provenance.html; the first and last job times
   (the modification times of the benchmark and log files: true on the machine that ran it, not in a copy);
2. the wall time per rule, from Snakemake's benchmark files (ROOT/benchmarks/RULE/...tsv), and the largest jobs;
3. the claims (claims.csv) per condenser, with a count of verdicts;
4. every row of every table CSV (ROOT/table1.csv ... table7.csv), our mean ± std beside the paper's value
   and the difference, cells shown as the report's table pages show them (yoco.report.cell_text);
5. a markdown image per PNG under --figures, and the numbers behind each figure (ROOT/figure_data).

Any part whose files are missing says so, so the script can also follow a run that has not finished.
"""

from __future__ import annotations

import argparse
import datetime as dt
import html
import math
import re
import sys
from pathlib import Path

import pandas as pd

# The helpers of the first results page (claims_report.py, beside this file) shape this page's tables too.
from claims_report import _fmt, claim_rows, job_times, markdown, verdict
from yoco.errors import YocoError
from yoco.figures import CONDENSER_LABELS
from yoco.published import KEY_COLUMNS, published
from yoco.report import FIGURE_TITLES, cell_text, figure_title, read_table_csv, table_title

#: Where the training rows of a run are: the tables' evaluations, Fig. 5's and Fig. 3's.
TRAINING_DIRS = ("runs", "epochs", "fractions")

#: Columns that say where a table row's paper value comes from; shown like the cell's coordinates.
_PAPER_WHERE = ("paper_dataset", "paper_ipc_from")


def _read_csv(path: Path, **kwargs) -> pd.DataFrame:
    try:
        return pd.read_csv(path, **kwargs)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise YocoError(f"{path} is not a CSV the workflow wrote ({exc}); rerun the job that writes it") from None


def _pm(mean: float, std: float) -> str:
    return "–" if mean is None or math.isnan(mean) else f"{mean:.2f} ± {std:.2f}"


def _counts(values: pd.Series) -> str:
    """``a (n), b (m)``: each value with how many rows carry it, most first."""
    counts = values.fillna("–").astype(str).value_counts()
    return ", ".join(f"{v} ({n})" for v, n in counts.items())


# 1. The run -------------------------------------------------------------------------------------------


def training_rows(root: Path) -> pd.DataFrame:
    """Every trained network's row in the run, with the folder (``runs``, ``epochs``, ``fractions``) it is in."""
    frames = [
        _read_csv(p).assign(_dir=d) for d in TRAINING_DIRS for p in sorted((root / d).rglob("*.csv")) if p.is_file()
    ]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["_dir"])


def page_environment(root: Path) -> dict[str, str]:
    """The package table of report/provenance.html (yoco.report.provenance_page): python, platform, torch, ..."""
    page = root / "report" / "provenance.html"
    if not page.is_file():
        return {}
    rows = re.findall(r"<tr><td>([^<]+)</td><td><code>([^<]*)</code></td></tr>", page.read_text(encoding="utf-8"))
    return dict(rows)


def config_sources(root: Path) -> str:
    """Which config files and --config values made the run, as report/config.html (yoco.report.config_page) says."""
    page = root / "report" / "config.html"
    if not page.is_file():
        return ""
    text = page.read_text(encoding="utf-8")
    files = re.search(r"the config files \((.*?)\) merged", text)
    values = re.search(r"<code>--config</code> values \(<code>(.*?)</code>\)", text)
    out = "config files " + (html.unescape(re.sub(r"</?code>", "`", files.group(1))) if files else "not named")
    return out + (f", `--config {html.unescape(values.group(1))}`" if values else ", no `--config` values")


def job_span(root: Path) -> tuple[dt.datetime, dt.datetime] | None:
    """(first job's start, last job's end), UTC, from file times: a benchmark file is written when its job
    ends, ``s`` seconds after it started; a log's last write is its job's end."""
    starts, ends = [], []
    for tsv in (root / "benchmarks").rglob("*.tsv"):
        end = tsv.stat().st_mtime
        ends.append(end)
        starts.append(end - float(_read_csv(tsv, sep="\t")["s"].iloc[-1]))
    for log in (root / "logs").rglob("*"):
        if log.is_file():
            ends.append(log.stat().st_mtime)
            starts.append(log.stat().st_mtime)
    if not ends:
        return None
    utc = dt.timezone.utc
    return dt.datetime.fromtimestamp(min(starts), utc), dt.datetime.fromtimestamp(max(ends), utc)


def run_section(root: Path) -> str:
    rows = training_rows(root)
    env = page_environment(root)
    out = []
    if rows.empty:
        out.append("No training rows (runs/, epochs/, fractions/): no evaluation has finished.")
    else:
        per_dir = ", ".join(f"{(rows._dir == d).sum()} in {d}/" for d in TRAINING_DIRS if (rows._dir == d).any())
        facts = [("trained networks", f"{len(rows)} ({per_dir})")]
        for col, name in (
            ("git_commit", "commit"),
            ("device", "device"),
            ("torch_version", "torch"),
            ("yoco_version", "yoco"),
            ("engine", "engine"),
            ("compiled", "compiled"),
            ("network", "networks"),
        ):
            if col in rows:
                facts.append((name, _counts(rows[col])))
        if "epochs" in rows and "network" in rows:
            per_net = rows.groupby(rows.network.astype(str))["epochs"].agg(lambda e: "/".join(map(str, sorted(set(e)))))
            facts.append(("training epochs", ", ".join(f"{n} {e}" for n, e in per_net.items())))
        if "seed" in rows:
            facts.append(
                (
                    "seeds",
                    f"{rows.seed.nunique()} distinct over {len(rows)} trainings: each derived from the training's "
                    "identity (yoco.evaluate.run_seed: dataset, condenser, IPCs, key, rep, network, init), no "
                    "global seed",
                )
            )
        out.append(markdown(pd.DataFrame(facts, columns=["", " "])))
    if env:
        keep = ["python", "platform", "torch", "numpy", "snakemake", "yoco"]
        shown = ", ".join(f"{k} {env[k]}" for k in keep if k in env)
        out.append(f"Environment of the job that wrote report/provenance.html: {shown}.")
    else:
        out.append("No report/provenance.html: the Python version and platform are not recorded.")
    sources = config_sources(root)
    if sources:
        out.append(f"Configuration (report/config.html; the merged YAML is report/config.yaml): {sources}.")
    span = job_span(root)
    if span:
        first, last = span
        minutes = (last - first).total_seconds() / 60
        out.append(
            f"Jobs from {first:%Y-%m-%d %H:%M:%S} to {last:%Y-%m-%d %H:%M:%S} UTC ({minutes:.1f} min), from the "
            "modification times of the benchmark and log files (true for the run's own checkout, not for a copy)."
        )
    return "\n\n".join(out)


# 2. Wall time per rule --------------------------------------------------------------------------------


def rule_times(times: pd.DataFrame) -> pd.DataFrame:
    """Per rule (the first folder of a benchmark file's path): jobs, sum and max of s, max RSS; longest first."""
    rules = times.assign(rule=times.job.str.split("/").str[0])
    grouped = rules.groupby("rule").agg(
        jobs=("s", "size"),
        sum_s=("s", "sum"),
        max_s=("s", "max"),
        max_rss_mb=("max_rss_mb", "max"),
        cpu_s=("cpu_s", lambda c: c.sum(min_count=1)),
    )
    return grouped.sort_values("sum_s", ascending=False, kind="stable").reset_index()


def times_section(root: Path, largest: int = 12) -> str:
    times = job_times(root) if (root / "benchmarks").is_dir() else pd.DataFrame()
    if times.empty:
        return "No benchmark files (ROOT/benchmarks): no measured job has finished."
    per_rule = rule_times(times)
    total = per_rule.sum_s.sum()
    shown = pd.DataFrame(
        {
            "rule": per_rule.rule,
            "jobs": per_rule.jobs,
            "sum s": per_rule.sum_s.map(lambda s: f"{s:.0f}"),
            "share": (per_rule.sum_s / total).map(lambda f: f"{100 * f:.0f} %"),
            "max s": per_rule.max_s.map(lambda s: f"{s:.0f}"),
            "max RSS MB": per_rule.max_rss_mb.map(lambda m: _fmt(m, 0)),
            # CPU seconds per wall second, not "cores busy": torch's threads spinning at a barrier count
            # as CPU time, so on a shared machine this overstates the work done.
            "CPU s / s": (per_rule.cpu_s / per_rule.sum_s).map(lambda c: _fmt(c, 1)),
        }
    )
    top = times.sort_values("s", ascending=False, kind="stable").head(largest)
    top_shown = pd.DataFrame(
        {"job": top.job, "s": top.s.map(lambda s: f"{s:.0f}"), "max RSS MB": top.max_rss_mb.map(lambda m: _fmt(m, 0))}
    )
    return "\n\n".join(
        [
            markdown(shown),
            f"Total: {len(times)} jobs with a benchmark file, {total:.0f} s = {total / 60:.1f} min of job wall time"
            + (f", {times.cpu_s.sum():.0f} CPU-s" if times.cpu_s.notna().any() else "")
            + " (jobs without one, the light ones, take seconds each).",
            f"The {len(top)} largest jobs:",
            markdown(top_shown),
        ]
    )


# 3. Claims --------------------------------------------------------------------------------------------


def claim_counts(claims: pd.DataFrame) -> pd.DataFrame:
    """Per condenser (A's): claims, each verdict's count, and how many the paper's own numbers support."""
    verdicts = pd.Series([verdict(h, s) for h, s in zip(claims.holds, claims.significant)], index=claims.index)
    rows = []
    for ck, g in claims.groupby("condenser_a", sort=False):
        v = verdicts[g.index]
        rows.append(
            {
                "condenser": ck,
                "claims": len(g),
                "holds*": int((v == "holds*").sum()),
                "holds": int((v == "holds").sum()),
                "FAILS": int((v == "FAILS").sum()),
                "paper agrees": f"{int((g.paper_diff > 0).sum())}/{int(g.paper_diff.notna().sum())}",
            }
        )
    return pd.DataFrame(rows, columns=["condenser", "claims", "holds*", "holds", "FAILS", "paper agrees"])


def claims_section(root: Path) -> str:
    path = root / "claims.csv"
    if not path.is_file():
        return "No claims.csv: the run has not reached its claims job."
    claims = _read_csv(path)
    if claims.empty:
        return "claims.csv has no rows: no pair of keys had runs on both sides."
    out = [
        "`holds*`: diff > 2 se; `holds`: diff > 0; `paper agrees`: the paper's own numbers order the pair the same "
        "way (of the pairs it prints).",
        markdown(claim_counts(claims)),
    ]
    for ck, g in claims.groupby("condenser_a", sort=False):
        out.append(f"#### {CONDENSER_LABELS.get(ck, ck)}")
        out.append(markdown(claim_rows(g)))
    return "\n\n".join(out)


# 4. Tables --------------------------------------------------------------------------------------------


def table_markdown(header: list[str], rows: list[dict[str, str]]) -> str:
    """One table CSV as markdown, rows in the CSV's order: the coordinates that vary, then runs, ours
    (mean ± std, best validation point), the paper's value (± its std in Table 7) and ours − paper.
    Coordinates that are the same in every row are named once above the table."""
    where = [c for c in (*KEY_COLUMNS, *_PAPER_WHERE) if c in header]
    fixed = [c for c in where if len({r.get(c, "") for r in rows}) == 1]
    # Table 1's "row": cell, or the paper's derived Avg. and Diff. rows (yoco.tables.table1_summary).
    if any(r.get("row", "cell") != "cell" for r in rows):
        where.insert(0, "row")
    out = []
    if fixed and rows:
        out.append("In every row: " + ", ".join(f"{c} {cell_text(c, rows[0].get(c))}" for c in fixed) + ".")
    if "mean_best" not in header:  # Table 6: what each method needs, nothing measured
        out.append(markdown(pd.DataFrame([[cell_text(c, r.get(c)) for c in header] for r in rows], columns=header)))
        return "\n\n".join(out)
    varying = [c for c in where if c not in fixed]
    shown = []
    diffs = []
    for r in rows:
        ours = cell_text("mean_best", r.get("mean_best"))
        if ours != "–" and cell_text("std_best", r.get("std_best")) != "–":  # Avg. and Diff. rows have no std
            ours = f"{ours} ± {cell_text('std_best', r.get('std_best'))}"
        paper = cell_text("published", r.get("published"))
        if paper != "–" and cell_text("published_std", r.get("published_std")) != "–":
            paper = f"{paper} ± {cell_text('published_std', r.get('published_std'))}"
        diff = r.get("diff_best")
        if r.get("row", "cell") == "cell" and cell_text("diff_best", diff) != "–":
            diffs.append(float(diff))
        shown.append(
            [cell_text(c, r.get(c)) for c in varying]
            + [cell_text("n_runs", r.get("n_runs")), ours, paper, cell_text("diff_best", diff)]
        )
    out.append(markdown(pd.DataFrame(shown, columns=varying + ["runs", "ours", "paper", "ours − paper"])))
    cells = [r for r in rows if r.get("row", "cell") == "cell"]
    run = sum(cell_text("mean_best", r.get("mean_best")) != "–" for r in cells)
    with_paper = sum(cell_text("published", r.get("published")) != "–" for r in cells)
    summary = f"{len(cells)} cells, {run} run, {with_paper} with a paper value"
    if len(cells) < len(rows):
        summary += f" (and {len(rows) - len(cells)} Avg./Diff. rows)"
    if diffs:
        summary += (
            f"; ours − paper over the {len(diffs)} cells with both: mean {sum(diffs) / len(diffs):+.2f}, "
            f"from {min(diffs):+.2f} to {max(diffs):+.2f} points"
        )
    out.append(summary + ".")
    return "\n\n".join(out)


def kip_note(rows: list[dict[str, str]], number: int) -> str:
    """A line when the paper prints KIP cells in this table and the CSV has no KIP row."""
    pub = published()
    n_paper = int(((pub.table == number) & (pub.condenser == "kip")).sum())
    if not n_paper or any(r.get("condenser") == "kip" for r in rows):
        return ""
    return (
        f"KIP: absent. The paper's {n_paper} KIP cells of this table have no row: the project has no in-house "
        "KIP condenser (kernel inducing points need a JAX/neural-tangents stack), and the authors' KIP file is "
        "not part of a clean clone."
    )


def tables_section(root: Path) -> str:
    out = []
    for number in range(1, 8):
        path = root / f"table{number}.csv"
        out.append(f"### {table_title(number)}")
        if not path.is_file():
            out.append(f"No table{number}.csv (the table is not enabled, or its job has not run).")
            continue
        header, rows = read_table_csv(path)
        out.append(table_markdown(header, rows))
        note = kip_note(rows, number)
        if note:
            out.append(note)
    return "\n\n".join(out)


# 5. Figures -------------------------------------------------------------------------------------------


def _need(frame: pd.DataFrame, columns: list[str], name: str) -> str:
    missing = [c for c in columns if c not in frame.columns]
    return (
        f"{name} lacks column(s) {', '.join(missing)}: written by an older yoco; rerun its figure_data job."
        if missing
        else ""
    )


def fig2_numbers(df: pd.DataFrame) -> str:
    """Patches per class of each selection (mean over its reps), its accuracy and the paper's."""
    missing = _need(df, ["condenser", "ipc_from", "ipc_to", "key", "rep", "class", "count"], "fig2.csv")
    if missing:
        return missing
    acc = next((c for c in df.columns if c.startswith("accuracy_")), None)
    rows = []
    for (ck, ipcf, ipct, key), g in df.groupby(["condenser", "ipc_from", "ipc_to", "key"], sort=False):
        per_class = g.groupby("class")["count"].mean()
        first = g.iloc[0]
        runs = f" ({int(first.n_runs)} runs)" if "n_runs" in g and pd.notna(first.n_runs) else ""
        rows.append(
            {
                "set": f"{ck} {ipcf}→{ipct}",
                "key": key,
                "reps": g.rep.nunique(),
                "patches per class (mean over reps)": " ".join(f"{c:g}" for c in per_class.round(1)),
                "min–max": f"{g['count'].min()}–{g['count'].max()}",
                "accuracy": (_fmt(float(first[acc])) + runs) if acc else "–",
                "paper": _fmt(float(first.paper_accuracy)) if "paper_accuracy" in g else "–",
            }
        )
    return markdown(pd.DataFrame(rows))


def fig3_numbers(df: pd.DataFrame) -> str:
    """Easy-first and hard-first accuracy per pruning ratio of each set, and the turning points."""
    missing = _need(df, ["dataset_label", "fraction_pruned", "order", "best_acc"], "fig3.csv")
    if missing:
        return missing
    out = []
    for label, g in df.groupby("dataset_label", sort=False):
        stats = g.groupby(["fraction_pruned", "order"])["best_acc"].agg(
            mean="mean", std=lambda v: float(v.std(ddof=0)), n="size"
        )
        rows = []
        for ratio in sorted(g.fraction_pruned.unique()):
            easy = stats.loc[(ratio, "easy")] if (ratio, "easy") in stats.index else None
            hard = stats.loc[(ratio, "hard")] if (ratio, "hard") in stats.index else None
            rows.append(
                {
                    "pruned": f"{100 * ratio:.0f} %",
                    "easy-first": "–" if easy is None else f"{_pm(easy['mean'], easy['std'])} ({int(easy['n'])})",
                    "hard-first": "–" if hard is None else f"{_pm(hard['mean'], hard['std'])} ({int(hard['n'])})",
                    "easy − hard": "–" if easy is None or hard is None else f"{easy['mean'] - hard['mean']:+.2f}",
                }
            )
        ours = g.turning_point_best.iloc[0] if "turning_point_best" in g else math.nan
        paper = g.paper_turning_point.iloc[0] if "paper_turning_point" in g else math.nan
        out.append(f"{label}: turning point (easy − hard crosses 0) {_fmt(ours, 0)} %, paper {_fmt(paper, 0)} %.")
        out.append(markdown(pd.DataFrame(rows)))
    return "\n\n".join(out)


def fig5_numbers(df: pd.DataFrame) -> str:
    """Accuracy of the selection by each single epoch's LBPE, beside the top-K-averaged selection's line."""
    missing = _need(df, ["lbpe_epoch", "best_acc"], "fig5.csv")
    if missing:
        return missing
    epoch = df["epoch"] if "epoch" in df else df["lbpe_epoch"] + 1
    per = (
        df.assign(_epoch=epoch)
        .groupby("_epoch")["best_acc"]
        .agg(mean="mean", std=lambda v: float(v.std(ddof=0)), n="size")
    )
    out = []
    line = math.nan
    if "topk_mean_best" in df and pd.notna(df.topk_mean_best.iloc[0]):
        line = float(df.topk_mean_best.iloc[0])
        out.append(
            f"Top-K line: {_pm(line, float(df.topk_std_best.iloc[0]))} ({int(df.topk_n_runs.iloc[0])} runs); "
            f"paper {_fmt(float(df.paper_topk.iloc[0])) if 'paper_topk' in df else '–'}."
        )
    else:
        out.append("No top-K line in fig5.csv (no runs of the top-K-averaged selection).")
    best = per["mean"].idxmax()
    summary = (
        f"Epochs {per.index.min()}–{per.index.max()} (counted from 1, as the paper's LBPE_t); best single epoch "
        f"{best}: {_pm(per.loc[best, 'mean'], per.loc[best, 'std'])}; mean of the first five epochs "
        f"{per['mean'].iloc[:5].mean():.2f}, of the last five {per['mean'].iloc[-5:].mean():.2f}"
    )
    if not math.isnan(line):
        summary += f"; {int((per['mean'] >= line).sum())} of {len(per)} epochs reach the top-K line"
    out.append(summary + ".")
    table = pd.DataFrame(
        {
            "epoch": per.index,
            "runs": per.n.astype(int),
            "best acc": [_pm(m, s) for m, s in zip(per["mean"], per["std"])],
        }
    )
    out.append(markdown(table))
    return "\n\n".join(out)


def fig7_numbers(df: pd.DataFrame) -> str:
    """Each class's LBPE range at each epoch shown, and the range of all classes together."""
    missing = _need(df, ["class", "epoch", "lbpe_epoch", "lbpe"], "fig7.csv")
    if missing:
        return missing
    epochs = sorted(df.epoch.unique())
    cols = {}
    for e in epochs:
        at = df[df.epoch == e]
        per = at.groupby("class")["lbpe"].agg(["min", "median", "max"])
        per.loc["all"] = [at.lbpe.min(), at.lbpe.median(), at.lbpe.max()]
        cols[f"epoch {e}: min–max (median)"] = [
            f"{r['min']:.3f}–{r['max']:.3f} ({r['median']:.3f})" for _, r in per.iterrows()
        ]
    return markdown(pd.DataFrame({"class": [str(i) for i in per.index], **cols}))


FIGURE_NUMBERS = {2: fig2_numbers, 3: fig3_numbers, 5: fig5_numbers, 7: fig7_numbers}


def figures_section(root: Path, figures: Path | None, link_dir: str | None) -> str:
    out = []
    pngs = {}
    if figures is not None:
        for png in sorted(figures.glob("*.png")):
            m = re.fullmatch(r"fig(\d+)", png.stem)
            if m and int(m.group(1)) in FIGURE_TITLES:
                pngs[int(m.group(1))] = png
    for number in sorted(FIGURE_TITLES):
        out.append(f"### {figure_title(number)}")
        if number in pngs:
            link = f"{link_dir.rstrip('/')}/{pngs[number].name}" if link_dir else pngs[number].as_posix()
            out.append(f"![{figure_title(number)}]({link})")
        elif figures is not None:
            out.append(f"No fig{number}.png under {figures}.")
        data = root / "figure_data" / f"fig{number}.csv"
        if data.is_file():
            frame = _read_csv(data)
            out.append(FIGURE_NUMBERS[number](frame) if len(frame) else f"figure_data/fig{number}.csv has no rows.")
        else:
            out.append(f"No figure_data/fig{number}.csv (the figure is not enabled, or its job has not run).")
    return "\n\n".join(out)


def report(root: Path, figures: Path | None = None, link_dir: str | None = None, largest: int = 12) -> str:
    """The whole markdown: the run, wall time per rule, claims, tables, figures."""
    if not root.is_dir():
        raise YocoError(f"{root} is not a folder; pass the run's output_root, e.g. results/cifar10-cpu-full")
    if figures is not None and not figures.is_dir():
        raise YocoError(
            f"--figures {figures} is not a folder; pass the run's figures_root, e.g. figures/cifar10-cpu-full"
        )
    parts = [
        ("## The run", run_section(root)),
        ("## Wall time per rule", times_section(root, largest)),
        ("## Claims per condenser", claims_section(root)),
        ("## Every table, beside the paper", tables_section(root)),
        ("## Figures", figures_section(root, figures, link_dir)),
    ]
    return "\n\n".join(f"{title}\n\n{body}" for title, body in parts) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path, help="the run's output_root, e.g. results/cifar10-cpu-full")
    parser.add_argument("--figures", type=Path, help="the run's figures_root, e.g. figures/cifar10-cpu-full")
    parser.add_argument(
        "--link-dir",
        help="folder the image lines point to, e.g. where the page's PNGs are committed (default: --figures)",
    )
    parser.add_argument("--largest", type=int, default=12, help="how many of the longest jobs to list (default 12)")
    a = parser.parse_args(argv)
    try:
        text = report(a.root, a.figures, a.link_dir, a.largest)
    except YocoError as exc:
        print(f"paper_report: {exc}", file=sys.stderr)
        return 2
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
