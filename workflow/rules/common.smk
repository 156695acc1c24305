# Shared set-up: the grid module, paths, wildcard constraints and resource helpers.
import os
import shlex

import yaml

from yoco import grid  # noqa: E402
from yoco.configcheck import check_values  # noqa: E402
from yoco.errors import YocoError  # noqa: E402


def _quote_papermill_paths():
    """Quote the notebook paths of the papermill command the `notebook:` directive runs.

    Snakemake 9 (snakemake/notebook.py, since it prefers papermill) passes the output notebook to
    papermill unquoted: the executed notebook under an output root with a space, or the notebook
    copy in a checkout with one, is split into two arguments and the figure job fails. Every other
    command of this workflow quotes its paths ({x:q}); this makes the notebook jobs do the same, and
    does nothing once Snakemake quotes them itself.

    It also runs papermill as `python -m yoco.notebook` (papermill with the kernel's channels
    encrypted): plain papermill cannot ask for that, and ipykernel then warns at every figure job that
    its kernel "is running over TCP without encryption".
    """
    from snakemake import notebook

    run = notebook.JupyterNotebook._execute_cmd
    if getattr(run, "quotes_papermill_paths", False):
        return

    def execute(self, cmd, **kwargs):
        if cmd.startswith("papermill ") and "--version" not in cmd:
            cmd = f"python -m yoco.notebook {cmd.removeprefix('papermill ')}"
            cmd = cmd.replace(" {fname_out}", " {fname_out:q}")
            fname = kwargs.get("fname")
            if fname and cmd.endswith(f" {fname}"):
                cmd = f"{cmd[: -len(fname)]}{{fname:q}}"
        return run(self, cmd, **kwargs)

    execute.quotes_papermill_paths = True
    notebook.JupyterNotebook._execute_cmd = execute


_quote_papermill_paths()

# Semantic checks (names, keys, epochs) before any job is scheduled; a bad config stops here.
try:
    grid.validate(config)
    check_values(config)  # output folders, the cli command, the datasets' classes and images per class
except YocoError as error:
    raise WorkflowError(f"invalid config: {error}") from None

ROOT = config["output_root"].rstrip("/")
FIGROOT = config["figures_root"].rstrip("/")
LOGS = f"{ROOT}/logs"
BENCH = f"{ROOT}/benchmarks"
CLI = config["cli"]
REPS = grid.reps(config)
GPU = grid.uses_gpu(config)
CAPTION = "../report/caption.rst"  # of every table and figure in `snakemake --report`


wildcard_constraints:
    ck="idc|dream|mtt|dsa|kip|full",
    ds="[a-z][a-z0-9]*",
    ipcf=r"\d+|all",
    ipct=r"\d+",
    rep=r"\d+",
    key="[a-z0-9_]+",
    net="convnet|resnet10bn|densenet|resnetap10",
    number="[1-7]",


def mem_mb(kind):
    return config["resources"][kind]["mem_mb"]


def runtime(kind):
    return config["resources"][kind]["runtime"]


def seed_prefix(wildcards):
    """Identity of a condensed set, hashed by the CLI into every seed of the jobs that use it."""
    return f"{wildcards.ck}/{wildcards.ds}/{wildcards.ipcf}"


# Input and parameter functions of the rules (kept here, as the Snakemake style guide asks).


def import_source(wildcards):
    """The authors' file, the real set (ck=full) or an in-house authors'-format folder (DSA); a missing
    file stops the DAG with a YocoError."""
    return grid.import_input(config, wildcards.ck, wildcards.ds, wildcards.ipcf)


def condense_inputs(wildcards):
    return grid.condense_inputs(config, wildcards.ck, wildcards.ds, wildcards.ipcf)


def condensed_input(wildcards):
    return grid.condensed_file(config, wildcards.ck, wildcards.ds, wildcards.ipcf)


def selection_input(wildcards):
    return grid.selection_inputs(config, wildcards.ck, wildcards.ds, wildcards.ipcf, wildcards.ipct)


def scores_flag(wildcards, input):
    # Paths are quoted here and with {x:q} in every shell command: a space in a path must never split it.
    return f"--scores {_quoted(input.scores)}" if "scores" in input.keys() else ""


def _quoted(paths):
    return " ".join(shlex.quote(str(p)) for p in ([paths] if isinstance(paths, str) else paths))


def evaluate_selections(wildcards):
    return grid.eval_selection_paths(config, wildcards.ck, wildcards.ds, wildcards.ipcf, wildcards.ipct, wildcards.net)


def fig3_scores(wildcards):
    return [grid.score_path(config, wildcards.ck, wildcards.ds, wildcards.ipcf, r) for r in grid.fig3_reps(config)]


def fig5_dynamics(wildcards):
    d = grid.dynamics_dir(config, wildcards.ck, wildcards.ds, wildcards.ipcf)
    return [f"{d}/rep{r}.npz" for r in config["figures"]["fig5"]["reps"]]


def table_input(wildcards):
    number = int(wildcards.number)
    if number == 6:
        return {}
    return {
        "rows": grid.table_rows_path(config, number),
        "runs": grid.table_inputs(config, number),
    }


def table_flags(wildcards, input):
    if "rows" not in input.keys():
        return ""
    return f"--rows {_quoted(input.rows)} --runs {_quoted(input.runs)} {grid.stand_in_args(config)}"


def table_label(wildcards):
    """``Table N: subject``: how the report lists a table's page and its CSV (not a bare number)."""
    from yoco.report import table_title

    return {"table": table_title(int(wildcards.number))}


def figure_label(number):
    """``Figure N: subject``: how the report lists a figure (not a bare number)."""
    from yoco.report import figure_title

    return {"figure": figure_title(number)}


def provenance_runs(wildcards):
    """Every runs CSV the enabled tables aggregate: their rows record commit, versions and device."""
    return sorted({p for n in grid.enabled_tables(config) for p in grid.table_inputs(config, n)})


def figure_data_input(wildcards):
    return grid.figure_inputs(config, int(wildcards.number))


def figure_data_flags(wildcards, input):
    names = grid.figure_inputs(config, int(wildcards.number)).keys()
    return " ".join(f"--{name} {_quoted(input[name])}" for name in names)


# The report (workflow/rules/report.smk): where the config came from, and its rule graph.


def _configfiles():
    """The config files in the order they were merged: the Snakefile's default first (the `configfile:`
    directive), then each --configfile; relative to the working directory where they lie below it."""
    paths = [DEFAULT_CONFIG, *map(str, workflow.overwrite_configfiles)]
    here = os.getcwd()
    rel = [os.path.relpath(p, here) if os.path.abspath(p).startswith(here + os.sep) else str(p) for p in paths]
    return list(dict.fromkeys(rel))


def _config_overrides():
    """The command line's --config values, as typed (KEY=VALUE ...)."""
    args = workflow.config_settings.config_args or []
    return args if isinstance(args, str) else " ".join(map(str, args))


def _one_node_per_rule():
    """Draw the report's rule graph with one node per rule, upstream rules first.

    Snakemake 9.27's report (snakemake/report/rulegraph_spec.py) draws the job graph collapsed per
    topological level, one node per rule per level, all in one column; a rule whose jobs sit at several
    depths appears once per depth. Here decode runs 2 jobs after the real data for in-house IDC/DREAM
    (condense), 3 for DSA (condense_authors_format, import_condensed) and 4 for MTT (experts first), and
    dynamics, scores, select and evaluate follow each, so the home page was a tall column with decode,
    dynamics and import_condensed several times. This draws the rule graph itself (what `snakemake
    --rulegraph` shows), ordered by each rule's longest chain of upstream rules. Anything unexpected (a
    cycle between rules, a Snakemake that changed the function) falls back to Snakemake's own drawing.
    """
    from snakemake.report import html_reporter

    original = html_reporter.rulegraph_spec
    if getattr(original, "one_node_per_rule", False):
        return

    def spec(dag):
        try:
            return _rule_graph_spec(dag)
        except Exception:
            return original(dag)

    spec.one_node_per_rule = True
    html_reporter.rulegraph_spec = spec


def _rule_graph_spec(dag):
    rules, parents = [], {}
    for level in dag.toposorted():
        for job in level:
            name = job.rule.name
            if name not in parents:
                rules.append(name)
                parents[name] = set()
            parents[name].update(dep.rule.name for dep in dag.dependencies[job] if dep.rule.name != name)
    depth = {}
    for _ in range(len(rules) + 1):  # longest-path depths; no fixed point within len(rules) rounds: a cycle
        new = {r: 1 + max((depth.get(p, 0) for p in parents[r]), default=-1) for r in rules}
        if new == depth:
            break
        depth = new
    else:
        raise ValueError("the rules form a cycle")
    # Snakemake's own drawing: one column, upstream rules first; 28 px apart instead of 50, so that the
    # quickstart's two dozen rules fit beside the description on one screen.
    order = sorted(rules, key=lambda r: (depth[r], r))
    index = {r: i for i, r in enumerate(order)}
    nodes = [{"rule": r, "fx": 10, "fy": 28 * i} for i, r in enumerate(order)]
    links, direct = [], []
    for r in order:
        for p in sorted(parents[r]):
            link = {"source": index[p], "target": index[r], "sourcerule": p, "targetrule": r, "value": 1}
            # Neighbours are joined by a straight line, others by an arc (as Snakemake draws them).
            (direct if index[r] - index[p] == 1 else links).append(link)
    return {"nodes": nodes, "links": links, "links_direct": direct}, 100, max(n["fy"] for n in nodes)


_one_node_per_rule()
