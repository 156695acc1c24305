# Selections (reference-spec §1.4, §3.9): indices into the decoded set for every key × rep of one
# cell (rep = the dynamics run for score keys, the random draw for random keys), in one job.


rule select:
    input:
        unpack(selection_input),
    output:
        f"{ROOT}/selections/{{ck}}/{{ds}}/ipc{{ipcf}}/to{{ipct}}.json",
    params:
        cli=CLI,
        scores=scores_flag,
        pairs=lambda wc: grid.select_pairs_args(config, wc.ck, wc.ds, wc.ipcf, wc.ipct),
        seed_prefix=seed_prefix,
        quirks=grid.select_args(config),
    log:
        f"{LOGS}/select/{{ck}}/{{ds}}/ipc{{ipcf}}/to{{ipct}}.log",
    threads: config["threads"]["light"]
    resources:
        mem_mb=mem_mb("light"),
        runtime=runtime("light"),
    conda:
        "../../environment.yml"
    shell:
        "{params.cli} select {params.pairs} --ipc-from {wildcards.ipcf} --ipc-to {wildcards.ipct}"
        " --decoded {input.decoded:q} {params.scores} --seed-prefix {params.seed_prefix:q}"
        " --dataset {wildcards.ds} {params.quirks} --out {output:q} > {log:q} 2>&1"
