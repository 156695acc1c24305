# Importance scores per dynamics run (reference-spec §3): LBPE top-K, EL2N, forgetting, AUM,
# entropy, k-means (SSP) and CCS inputs.


rule scores:
    input:
        dynamics=f"{ROOT}/dynamics/{{ck}}/{{ds}}/ipc{{ipcf}}/rep{{rep}}.npz",
        model=f"{ROOT}/dynamics/{{ck}}/{{ds}}/ipc{{ipcf}}/rep{{rep}}.model.pt",
        decoded=f"{ROOT}/decoded/{{ck}}/{{ds}}/ipc{{ipcf}}.pt",
        real=f"{ROOT}/real/{{ds}}.npz",
    output:
        f"{ROOT}/scores/{{ck}}/{{ds}}/ipc{{ipcf}}/rep{{rep}}.npz",
    params:
        cli=CLI,
        lbpe_epochs=lambda wc: grid.lbpe(config, wc.ck, wc.ds)[0],
        lbpe_top_k=lambda wc: grid.lbpe(config, wc.ck, wc.ds)[1],
        quirks=grid.scores_args(config),
        device=grid.device_args(config),
    log:
        f"{LOGS}/scores/{{ck}}/{{ds}}/ipc{{ipcf}}/rep{{rep}}.log",
    benchmark:
        f"{BENCH}/scores/{{ck}}/{{ds}}/ipc{{ipcf}}/rep{{rep}}.tsv"
    threads: config["threads"]["training"]
    resources:
        mem_mb=mem_mb("training"),
        runtime=runtime("light"),
        gpu=GPU,
    conda:
        "../../environment.yml"
    shell:
        "{params.cli} scores --dynamics {input.dynamics:q} --model {input.model:q} --decoded {input.decoded:q}"
        " --real {input.real:q}"
        " --condenser {wildcards.ck} --dataset {wildcards.ds} --lbpe-epochs {params.lbpe_epochs}"
        " --lbpe-top-k {params.lbpe_top_k} {params.quirks} {params.device} --out {output:q} > {log:q} 2>&1"
