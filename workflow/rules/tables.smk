# Tables 1-7: the rows each table reports (from the config), aggregated from the run CSVs next to
# the published values.


rule table_rows:
    output:
        f"{ROOT}/tables/table{{number}}_rows.csv",
    params:
        # The rows as CSV text: a config change that alters a table's rows reruns this rule.
        rows=lambda wc: grid.table_rows(int(wc.number), config).to_csv(index=False),
    log:
        f"{LOGS}/table_rows/table{{number}}.log",
    localrule: True
    run:
        write_atomically(output[0], params.rows)
        write_atomically(log[0], f"{len(params.rows.splitlines()) - 1} rows\n")


rule table:
    input:
        unpack(table_input),
    output:
        f"{ROOT}/table{{number}}.csv",
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
        "{params.cli} table --number {wildcards.number} {params.flags} --out {output} > {log} 2>&1"
