# Evaluation (reference-spec §4): one batched job per (cell, network) over every key × rep × init
# that the enabled tables and figures need; one CSV row per trained network.


rule evaluate:
    input:
        decoded=f"{ROOT}/decoded/{{ck}}/{{ds}}/ipc{{ipcf}}.pt",
        real=f"{ROOT}/real/{{ds}}.npz",
        selections=evaluate_selections,
    output:
        f"{ROOT}/runs/{{ck}}/{{ds}}/ipc{{ipcf}}/to{{ipct}}/{{net}}.csv",
    params:
        cli=CLI,
        args=lambda wc: grid.evaluate_args(config, wc.ds, wc.net),
        only_keys=lambda wc: " ".join(grid.eval_keys(config, wc.ck, wc.ds, wc.ipcf, wc.ipct, wc.net)),
        device=grid.device_args(config),
    log:
        f"{LOGS}/evaluate/{{ck}}/{{ds}}/ipc{{ipcf}}/to{{ipct}}/{{net}}.log",
    benchmark:
        f"{BENCH}/evaluate/{{ck}}/{{ds}}/ipc{{ipcf}}/to{{ipct}}/{{net}}.tsv"
    threads: config["threads"]["training"]
    resources:
        mem_mb=mem_mb("training"),
        runtime=runtime("training"),
        gpu=GPU,
    conda:
        "../../environment.yml"
    shell:
        "{params.cli} evaluate --decoded {input.decoded:q} --real {input.real:q} --selections {input.selections:q}"
        " --keys {params.only_keys} {params.args} {params.device} --out {output:q} > {log:q} 2>&1"


rule evaluate_fractions:
    # Fig. 3: easy-first vs hard-first over pruning ratios; selections are made inside the job.
    input:
        decoded=f"{ROOT}/decoded/{{ck}}/{{ds}}/ipc{{ipcf}}.pt",
        real=f"{ROOT}/real/{{ds}}.npz",
        scores=fig3_scores,
    output:
        f"{ROOT}/fractions/{{ck}}/{{ds}}/ipc{{ipcf}}.csv",
    params:
        cli=CLI,
        args=lambda wc: grid.fig3_args(config, wc.ck, wc.ds),
        device=grid.device_args(config),
    log:
        f"{LOGS}/evaluate_fractions/{{ck}}/{{ds}}/ipc{{ipcf}}.log",
    benchmark:
        f"{BENCH}/evaluate_fractions/{{ck}}/{{ds}}/ipc{{ipcf}}.tsv"
    threads: config["threads"]["training"]
    resources:
        mem_mb=mem_mb("training"),
        runtime=runtime("training"),
        gpu=GPU,
    conda:
        "../../environment.yml"
    shell:
        "{params.cli} evaluate-fractions --decoded {input.decoded:q} --real {input.real:q} --scores {input.scores:q}"
        " {params.args} {params.device}"
        " --out {output:q} > {log:q} 2>&1"


rule evaluate_epochs:
    # Fig. 5: selections by single-epoch LBPE for every epoch in [epochs_from, epochs_to).
    input:
        decoded=f"{ROOT}/decoded/{{ck}}/{{ds}}/ipc{{ipcf}}.pt",
        real=f"{ROOT}/real/{{ds}}.npz",
        dynamics=fig5_dynamics,
    output:
        f"{ROOT}/epochs/{{ck}}/{{ds}}/ipc{{ipcf}}/to{{ipct}}.csv",
    params:
        cli=CLI,
        args=lambda wc: grid.fig5_args(config),
        device=grid.device_args(config),
    log:
        f"{LOGS}/evaluate_epochs/{{ck}}/{{ds}}/ipc{{ipcf}}/to{{ipct}}.log",
    benchmark:
        f"{BENCH}/evaluate_epochs/{{ck}}/{{ds}}/ipc{{ipcf}}/to{{ipct}}.tsv"
    threads: config["threads"]["training"]
    resources:
        mem_mb=mem_mb("training"),
        runtime=runtime("training"),
        gpu=GPU,
    conda:
        "../../environment.yml"
    shell:
        "{params.cli} evaluate-epochs --decoded {input.decoded:q} --real {input.real:q} --dynamics {input.dynamics:q}"
        " {params.args} {params.device} --out {output:q} > {log:q} 2>&1"
