# Pages of `snakemake --report` that Snakemake cannot draw itself (yoco/report.py): each table row by
# row (Snakemake offers a CSV only as a download), the run's merged configuration and the provenance of
# its numbers (Snakemake 9's report lists neither). Part of `all`, because the report needs every file
# it shows to exist; each page takes well under a second. Helpers: common.smk.
REPORT_CONFIGFILES = _configfiles()
REPORT_OVERRIDES = _config_overrides()
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
    log:
        f"{LOGS}/report/config.log",
    localrule: True
    conda:
        "../../environment.yml"
    shell:
        "printf '%s' {params.config:q} > {output.yaml:q}.tmp && mv {output.yaml:q}.tmp {output.yaml:q}"
        " && {params.cli} report-page config --config {output.yaml:q} --configfile {params.configfiles:q}"
        " --overrides={params.overrides:q} --out {output.html:q} > {log:q} 2>&1"


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
