# Pages of `snakemake --report` that Snakemake cannot draw itself (yoco/report.py): each table row by
# row (Snakemake offers a CSV only as a download), the run's merged configuration and the provenance of
# its numbers (Snakemake 9's report lists neither). Part of `all`, because the report needs every file
# it shows to exist; each page takes well under a second.
import os

import yaml


def _configfiles():
    """The config files in the order they were merged: the Snakefile's default first (the `configfile:`
    directive), then each --configfile; relative to the working directory where they lie below it."""
    paths = [DEFAULT_CONFIG, *map(str, workflow.overwrite_configfiles)]
    here = os.getcwd()
    rel = [os.path.relpath(p, here) if os.path.abspath(p).startswith(here + os.sep) else str(p) for p in paths]
    return list(dict.fromkeys(rel))


def _one_node_per_rule():
    """Draw the report's rule graph with one node per rule, in columns by depth.

    Snakemake 9.27's report (snakemake/report/rulegraph_spec.py) draws the job graph collapsed per
    topological level, one node per rule per level, all in one column: a rule whose jobs sit at several
    depths appears once per depth. Here decode follows an import of a released set at one depth and an
    in-house condensation at another (and dynamics, scores, ... follow it), so the home page was a tall
    column with decode, dynamics and import_condensed several times. This draws the rule graph itself
    (what `snakemake --rulegraph` shows): a rule's column is its longest chain of upstream rules, and the
    columns run left to right. Anything unexpected (a cycle between rules, a Snakemake that changed the
    function) falls back to Snakemake's own drawing.
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
    columns = {}
    for r in sorted(rules, key=lambda r: (depth[r], r)):
        columns.setdefault(depth[r], []).append(r)
    nodes, index = [], {}
    for d, names in columns.items():
        for row, r in enumerate(names):
            index[r] = len(nodes)
            nodes.append({"rule": r, "fx": 10 + 190 * d, "fy": 40 * row})
    links = [
        {
            "source": index[p],
            "target": index[r],
            "sourcerule": p,
            "targetrule": r,
            "value": 1,
        }
        for r in rules
        for p in sorted(parents[r])
    ]
    xmax = max(n["fx"] for n in nodes)
    ymax = max(n["fy"] for n in nodes)
    return {"nodes": nodes, "links": links, "links_direct": []}, xmax, ymax


_one_node_per_rule()

REPORT_CONFIGFILES = _configfiles()
_args = workflow.config_settings.config_args or []
REPORT_OVERRIDES = _args if isinstance(_args, str) else " ".join(map(str, _args))
REPORT_PAGES = [f"{ROOT}/report/table{n}.html" for n in grid.enabled_tables(config)] + [
    f"{ROOT}/report/config.html",
    f"{ROOT}/report/provenance.html",
]


rule table_page:
    input:
        f"{ROOT}/table{{number}}.csv",
    output:
        report(f"{ROOT}/report/table{{number}}.html", caption=CAPTION, category="Tables", labels=table_label),
    params:
        cli=CLI,
    log:
        f"{LOGS}/report/table{{number}}.log",
    localrule: True
    conda:
        "../../environment.yml"
    shell:
        "{params.cli} report-page table --csv {input:q} --number {wildcards.number} --out {output:q} > {log:q} 2>&1"


rule config_page:
    output:
        yaml=f"{ROOT}/report/config.yaml",
        html=report(
            f"{ROOT}/report/config.html",
            caption=CAPTION,
            category="Configuration",
            labels={"page": "configuration of this run (merged)"},
        ),
    params:
        cli=CLI,
        # The merged config as a parameter: any change to it (a config file, a --config value) reruns
        # this job, so the page always shows the config of the outputs beside it.
        config=lambda wc: yaml.safe_dump(dict(config), sort_keys=False, allow_unicode=True),
        configfiles=REPORT_CONFIGFILES,
        overrides=REPORT_OVERRIDES,
        root=ROOT,
    log:
        f"{LOGS}/report/config.log",
    localrule: True
    conda:
        "../../environment.yml"
    shell:
        "printf '%s' {params.config:q} > {output.yaml:q}.tmp && mv {output.yaml:q}.tmp {output.yaml:q}"
        " && {params.cli} report-page config --config {output.yaml:q} --configfile {params.configfiles:q}"
        " --overrides {params.overrides:q} --root {params.root:q} --out {output.html:q} > {log:q} 2>&1"


rule provenance_page:
    input:
        provenance_runs,
    output:
        report(
            f"{ROOT}/report/provenance.html",
            caption=CAPTION,
            category="Configuration",
            labels={"page": "provenance: software versions and commits"},
        ),
    params:
        cli=CLI,
    log:
        f"{LOGS}/report/provenance.log",
    localrule: True
    conda:
        "../../environment.yml"
    shell:
        "{params.cli} report-page provenance --runs {input:q} --out {output:q} > {log:q} 2>&1"
