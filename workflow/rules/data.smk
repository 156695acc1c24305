# Real datasets (reference-spec §7): torchvision/ImageFolder download, or an npz given in the config.


rule real_data:
    output:
        f"{ROOT}/real/{{ds}}.npz",
    params:
        cli=CLI,
        args=lambda wc: grid.data_args(config, wc.ds),
    log:
        f"{LOGS}/real_data/{{ds}}.log",
    localrule: True
    threads: config["threads"]["light"]
    resources:
        mem_mb=mem_mb("light"),
        runtime=runtime("light"),
    conda:
        "../../environment.yml"
    shell:
        "{params.cli} data {params.args} --out {output:q} > {log:q} 2>&1"
