# Condensed sets (reference-spec §1.1, §6). Each set comes from exactly one place, decided by
# yoco.grid.condensed_set: the authors' file when it is on disk (imported to imported/), else
# in-house IDC/DREAM condensation (condensed/), else a YocoError naming the expected path, the
# format and where the authors publish it.


rule condense:
    input:
        real=f"{ROOT}/real/{{ds}}.npz",
    output:
        f"{ROOT}/condensed/{{ck}}/{{ds}}/ipc{{ipcf}}.pt",
    wildcard_constraints:
        ck="idc|dream",
        ipcf=r"\d+",
    params:
        cli=CLI,
        args=lambda wc: grid.condense_args(config, wc.ck, wc.ds, wc.ipcf),
        device=grid.device_args(config),
    log:
        f"{LOGS}/condense/{{ck}}/{{ds}}/ipc{{ipcf}}.log",
    benchmark:
        f"{BENCH}/condense/{{ck}}/{{ds}}/ipc{{ipcf}}.tsv"
    threads: config["threads"]["condense"]
    resources:
        mem_mb=mem_mb("condense"),
        runtime=runtime("condense"),
        gpu=GPU,
    conda:
        "../../environment.yml"
    shell:
        "{params.cli} condense --real {input.real:q} {params.args} {params.device} --out {output:q} > {log:q} 2>&1"


rule import_condensed:
    input:
        import_source,
    output:
        f"{ROOT}/imported/{{ck}}/{{ds}}/ipc{{ipcf}}.pt",
    params:
        cli=CLI,
        args=lambda wc: grid.import_args(config, wc.ck, wc.ds, wc.ipcf),
    log:
        f"{LOGS}/import/{{ck}}/{{ds}}/ipc{{ipcf}}.log",
    threads: config["threads"]["light"]
    resources:
        mem_mb=mem_mb("light"),
        runtime=runtime("light"),
    conda:
        "../../environment.yml"
    shell:
        "{params.cli} import {params.args} --out {output:q} > {log:q} 2>&1"
