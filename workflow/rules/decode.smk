# Multi-formation decode into N_F = C·IPC_F·f² patches (reference-spec §1.3).


rule decode:
    input:
        condensed_input,
    output:
        f"{ROOT}/decoded/{{ck}}/{{ds}}/ipc{{ipcf}}.pt",
    params:
        cli=CLI,
    log:
        f"{LOGS}/decode/{{ck}}/{{ds}}/ipc{{ipcf}}.log",
    threads: config["threads"]["light"]
    resources:
        mem_mb=mem_mb("light"),
        runtime=runtime("light"),
    conda:
        "../../environment.yml"
    shell:
        "{params.cli} decode --condensed {input:q} --out {output:q} > {log:q} 2>&1"
