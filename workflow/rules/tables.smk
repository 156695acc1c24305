# Tables 1-7: the rows each table reports (from the config), aggregated from the run CSVs next to
# the published values.


rule table_rows:
    output:
        f"{ROOT}/tables/table{{number}}_rows.csv",
    params:
        # The rows as CSV text: a config change that alters a table's rows reruns this rule. A shell
        # rule rather than `run:`, which would start a whole Snakemake process per table.
        rows=lambda wc: grid.table_rows(int(wc.number), config).to_csv(index=False),
    log:
        f"{LOGS}/table_rows/table{{number}}.log",
    localrule: True
    conda:
        "../../environment.yml"
    shell:
        "printf '%s' {params.rows:q} > {output:q}.tmp && mv {output:q}.tmp {output:q}"
        " && echo \"$(($(wc -l < {output:q}) - 1)) rows\" > {log:q}"


rule table:
    input:
        unpack(table_input),
    output:
        # The CSV as a download; the report shows its rows in the page under Tables (rule table_page).
        report(f"{ROOT}/table{{number}}.csv", caption=CAPTION, category="Table CSVs", labels=table_label),
    params:
        cli=CLI,
        flags=table_flags,
    log:
        f"{LOGS}/table/table{{number}}.log",
    localrule: True
    threads: config["threads"]["light"]
    resources:
        mem_mb=mem_mb("light"),
        runtime=runtime("light"),
    conda:
        "../../environment.yml"
    shell:
        "{params.cli} table --number {wildcards.number} {params.flags} --out {output:q} > {log:q} 2>&1"


rule claims:
    # The paper's ordering claims (yoco.claims) tested on the CIFAR-10 IPC_F 10 runs. The report is
    # printed as well as logged, so a run ends with its verdicts on screen.
    input:
        runs=lambda wildcards: grid.claims_inputs(config, required=True),
    output:
        report(f"{ROOT}/claims.csv", caption=CAPTION, category="Claims", labels={"claims": "CIFAR-10 IPC_F 10"}),
    params:
        cli=CLI,
    log:
        f"{LOGS}/claims.log",
    localrule: True
    threads: config["threads"]["light"]
    resources:
        mem_mb=mem_mb("light"),
        runtime=runtime("light"),
    conda:
        "../../environment.yml"
    shell:
        "{params.cli} claims --runs {input.runs:q} --out {output:q} > {log:q} 2>&1 && cat {log:q}"
