"""Stages that turn runs into results: the paper's tables, its ordering claims, the figures' data and the
pages of ``snakemake --report``. None of them trains, and none imports torch."""

from __future__ import annotations

from ..errors import YocoError
from ..progress import log
from .inputs import check_dynamics_belong, check_outputs, load_decoded, read_csvs, stand_ins


def table(number: int, out, *, runs=(), rows=None, metric: str = "best", stand_in=()):
    """``yoco table``: Table ``number`` of the paper from the run CSVs ``runs`` of ``yoco evaluate`` (its row
    keys from the CSV ``rows`` when given), written to ``out``; returns the frame."""
    from .. import tables
    from ..io import write_csv

    check_outputs({"--out": out}, {"--runs": list(runs), "--rows": rows})
    if number == 6:
        if runs:
            raise YocoError("Table 6 lists what each method needs and reads no runs; leave out --runs")
        frame = tables.table6()
    else:
        if not runs:
            raise YocoError(
                f"Table {number} needs --runs: the run CSVs written by `yoco evaluate` "
                "(e.g. --runs results/runs/idc/cifar10/ipc10/to1/convnet.csv)"
            )
        frames = tables.read_runs(runs)
        row_frame = None
        if rows:
            row_frame = read_csvs([rows], "--rows", "pass the rows CSV the workflow's table_rows rule writes")
        frame = tables.build_table(number, frames, rows=row_frame, metric=metric, stand_ins=stand_ins(stand_in))
        if not (frame["n_runs"] > 0).any():
            raise YocoError(
                f"none of the runs in --runs belong to a row of Table {number}; pass the run CSVs of "
                "this table's cells (or --rows naming the cells you ran)"
            )
    write_csv(frame, out)
    log(f"table {number}: {len(frame)} rows -> {out}")
    return frame


def claims(runs, out, *, metric: str = "best", dataset: str = "cifar10", ipc_from: int = 10, network="convnet"):
    """``yoco claims``: the paper's ordering claims tested on the run CSVs ``runs``, written to ``out``; the
    report goes to stdout (the workflow shows it at the end of a run). Returns the frame."""
    from .. import tables
    from ..claims import claims as test_claims, format_claims
    from ..io import write_csv

    check_outputs({"--out": out}, {"--runs": list(runs)})
    frame = test_claims(tables.read_runs(runs), metric=metric, dataset=dataset, ipc_from=ipc_from, network=network)
    write_csv(frame, out)
    print(format_claims(frame), flush=True)
    log(f"claims: {len(frame)} rows -> {out}")
    return frame


def check_selections_match_runs(sels: list[dict], runs, sel_paths, run_paths) -> None:
    """Fig. 2 puts selections next to the accuracies of their cell: both must come from one decoded set."""
    if "decoded_sha256" not in runs.columns:
        return
    for rec in sels:
        ident = rec.get("identity") or {}
        cell = runs[
            (runs["dataset"].astype(str) == str(rec["dataset"]))
            & (runs["condenser"].astype(str) == str(rec["condenser"]))
            & (runs["ipc_from"] == rec["ipc_from"])
            & (runs["ipc_to"] == rec["ipc_to"])
        ]
        hashes = set(cell["decoded_sha256"].dropna().astype(str))
        if ident.get("decoded_sha256") and hashes and hashes != {ident["decoded_sha256"]}:
            raise YocoError(
                f"--selections {' '.join(sel_paths)} and --runs {' '.join(run_paths)} come from different "
                f"decoded sets for {rec['dataset']}/{rec['condenser']} IPC {rec['ipc_from']}->"
                f"{rec['ipc_to']}; pass the files of one workflow"
            )


def figure_data(
    figure: int,
    out,
    *,
    selections=(),
    runs=(),
    dynamics=(),
    decoded=(),
    epochs=(0, 89, 999),
    topk=(),
    stand_in=(),
):
    """``yoco figure-data``: the CSV a figure notebook plots (Figs. 2, 3, 5, 7), written to ``out``."""
    import numpy as np

    from .. import figures
    from ..io import write_csv

    given = {"selections": list(selections), "runs": list(runs), "dynamics": list(dynamics)}
    check_outputs(
        {"--out": out}, {**{f"--{k}": v for k, v in given.items()}, "--decoded": list(decoded), "--topk": list(topk)}
    )
    if figure not in (2, 3, 5, 7):
        raise YocoError(f"--figure {figure}: yoco makes the data of figures 2, 3, 5 and 7; pick one of them")
    needs = {2: ("selections", "runs"), 3: ("runs",), 5: ("runs",), 7: ("dynamics",)}[figure]
    for name in needs:
        if not given[name]:
            raise YocoError(f"figure {figure} needs --{name}; see `yoco figure-data --help`")
    if figure == 2:
        from ..selection import read_selections

        sels = read_selections(selections)
        frame = read_csvs(runs, "--runs")
        check_selections_match_runs(sels, frame, selections, runs)
        frame = figures.fig2_data(sels, frame, stand_ins=stand_ins(stand_in))
    elif figure == 3:
        frame = figures.fig3_data(read_csvs(runs, "--runs"), stand_ins=stand_ins(stand_in))
    elif figure == 5:
        top = read_csvs(topk, "--topk") if topk else None
        frame = figures.fig5_data(read_csvs(runs, "--runs"), top, stand_ins=stand_ins(stand_in))
    else:
        from ..dynamics import Dynamics

        if len(dynamics) != 1:
            raise YocoError(f"figure 7 plots one dynamics run; pass one --dynamics file, got {len(dynamics)}")
        dyn = Dynamics.load(dynamics[0])
        if decoded:
            check_dynamics_belong(dyn, dynamics[0], load_decoded(decoded[0]), decoded[0])
        bad = [e for e in epochs if e < 0]
        if bad:
            raise YocoError(f"--epochs {' '.join(map(str, bad))} are negative; epochs count from 0")
        kept = [e for e in epochs if e < dyn.num_epochs] or [dyn.num_epochs - 1]
        frame = figures.fig7_data(dyn.err_l2, np.asarray(dyn.labels), kept)
    write_csv(frame, out)
    log(f"figure {figure} data: {len(frame)} rows -> {out}")
    return frame


def report_page(kind: str, out, *, csv=None, number=None, config=None, configfile=(), overrides="", runs=()) -> str:
    """``yoco report-page``: one HTML page of ``snakemake --report``, written to ``out``: ``kind="table"`` a table
    CSV of ``yoco table`` (``csv``, its ``number``) beside the paper, ``"config"`` the merged ``config`` YAML
    (merged from ``configfile`` with the command line's ``overrides``), ``"provenance"`` the commits, versions
    and devices of the ``runs`` CSVs. Returns the page."""
    from .. import report
    from ..io import atomic_path

    inputs = {"table": {"--csv": csv}, "config": {"--config": config}, "provenance": {"--runs": list(runs)}}
    if kind not in inputs:
        raise YocoError(f"report page kind {kind!r} is not one of table, config, provenance; pick one of them")
    check_outputs({"--out": out}, inputs[kind])
    if kind == "table":
        header, rows = report.read_table_csv(csv)
        page = report.table_page(header, rows, number, source=csv)
    elif kind == "config":
        from ..io import require_file

        text = require_file(config, "--config", "pass the merged config YAML the workflow writes").read_text()
        page = report.config_page(text, list(configfile), overrides, config)
    else:
        page = report.provenance_page(
            report.run_provenance(list(runs)), report.environment(), report.git_state(), len(runs)
        )
    with atomic_path(out) as tmp:
        tmp.write_text(page, encoding="utf-8")
    log(f"report page ({kind}) -> {out}")
    return page
