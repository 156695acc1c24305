# Condensed sets (reference-spec §1.1, §6). Each set comes from exactly one place, decided by
# yoco.grid.condensed_set: the authors' file when it is on disk (imported to imported/), else
# in-house condensation when `condensers.<ck>.inhouse` is true (IDC/DREAM: a canonical file under
# condensed/; DSA and MTT: their authors' formats in a folder under condensed/, then imported like
# a released file), else a YocoError naming the expected path, the format and where the authors
# publish it. A new in-house method plugs in through yoco.grid: INHOUSE_AUTHORS_FORMAT (the file its
# `yoco condense --out` writes), CONDENSE_EXTRA_INPUTS (MTT: the experts file of rule experts) and
# its budget under `condensation:` in the config.
# A condensation runs for hours at the paper's budget: it snapshots to snapshots/ (outside its
# outputs, so Snakemake keeps the file when the job is killed) and a rerun of the workflow continues
# from there; the snapshot goes when the job succeeds (yoco.grid.snapshot_path).


rule condense:
    input:
        unpack(condense_inputs),
    output:
        f"{ROOT}/condensed/{{ck}}/{{ds}}/ipc{{ipcf}}.pt",
    wildcard_constraints:
        ck="|".join(grid.INHOUSE_CANONICAL),
        ipcf=r"\d+",
    params:
        cli=CLI,
        args=lambda wc: grid.condense_args(config, wc.ck, wc.ds, wc.ipcf),
        snapshot=lambda wc: grid.condense_snapshot(config, wc.ck, wc.ds, wc.ipcf),
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
        "{params.cli} condense --real {input.real:q} {params.args} {params.device} "
        "--snapshot {params.snapshot:q} --out {output:q} > {log:q} 2>&1 && rm -f {params.snapshot:q}"


rule condense_authors_format:
    input:
        unpack(condense_inputs),
    output:
        directory(f"{ROOT}/condensed/{{ck}}/{{ds}}/ipc{{ipcf}}"),
    wildcard_constraints:
        ck="|".join(grid.INHOUSE_AUTHORS_FORMAT),
        ipcf=r"\d+",
    params:
        cli=CLI,
        args=lambda wc: grid.condense_args(config, wc.ck, wc.ds, wc.ipcf),
        out=lambda wc: grid.condense_out(config, wc.ck, wc.ds, wc.ipcf),
        snapshot=lambda wc: grid.condense_snapshot(config, wc.ck, wc.ds, wc.ipcf),
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
        "mkdir -p {output:q} && {params.cli} condense --real {input.real:q} {params.args} {params.device} "
        "--snapshot {params.snapshot:q} --out {params.out:q} > {log:q} 2>&1 && rm -f {params.snapshot:q}"


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
