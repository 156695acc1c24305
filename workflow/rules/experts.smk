# MTT's expert trajectories (reference-spec §6; yoco/condense/experts.py): N ConvNets trained on the
# real training set, their parameters kept after every epoch. One file per dataset, shared by every
# in-house MTT condensation of that dataset (grid.CONDENSE_EXTRA_INPUTS makes it their input); the
# budget is `experts.<ds>` in the config, every key a `yoco experts` flag (zca: true -> --zca).
# Resumable like a condensation (condense.smk): a killed job continues from its snapshot.


rule experts:
    input:
        real=f"{ROOT}/real/{{ds}}.npz",
    output:
        f"{ROOT}/experts/{{ds}}/experts.pt",
    params:
        cli=CLI,
        args=lambda wc: grid.experts_args(config, wc.ds),
        snapshot=lambda wc: grid.experts_snapshot(config, wc.ds),
        device=grid.device_args(config),
    log:
        f"{LOGS}/experts/{{ds}}.log",
    benchmark:
        f"{BENCH}/experts/{{ds}}.tsv"
    threads: config["threads"]["condense"]
    resources:
        mem_mb=mem_mb("condense"),
        runtime=runtime("condense"),
        gpu=GPU,
    conda:
        "../../environment.yml"
    shell:
        "{params.cli} experts --real {input.real:q} {params.args} {params.device} "
        "--snapshot {params.snapshot:q} --out {output:q} > {log:q} 2>&1 && rm -f {params.snapshot:q}"
