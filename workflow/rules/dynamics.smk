# Training dynamics (reference-spec §2): all reps of one decoded set in one batched job, keeping
# per-epoch arrays over the decoded set and the last model of each rep.


rule dynamics:
    input:
        decoded=f"{ROOT}/decoded/{{ck}}/{{ds}}/ipc{{ipcf}}.pt",
        real=f"{ROOT}/real/{{ds}}.npz",
    output:
        expand(
            f"{ROOT}/dynamics/{{{{ck}}}}/{{{{ds}}}}/ipc{{{{ipcf}}}}/rep{{rep}}.{{ext}}",
            rep=REPS,
            ext=["npz", "model.pt"],
        ),
    wildcard_constraints:
        ck="idc|dream|mtt|dsa|kip",
    params:
        cli=CLI,
        out_dir=lambda wc: grid.dynamics_dir(config, wc.ck, wc.ds, wc.ipcf),
        args=lambda wc: grid.dynamics_args(config, wc.ck, wc.ds),
        seed_prefix=seed_prefix,
        device=grid.device_args(config),
    log:
        f"{LOGS}/dynamics/{{ck}}/{{ds}}/ipc{{ipcf}}.log",
    benchmark:
        f"{BENCH}/dynamics/{{ck}}/{{ds}}/ipc{{ipcf}}.tsv"
    threads: config["threads"]["training"]
    resources:
        mem_mb=mem_mb("training"),
        runtime=runtime("training"),
        gpu=GPU,
    conda:
        "../../environment.yml"
    shell:
        "{params.cli} dynamics --decoded {input.decoded:q} --real {input.real:q} {params.args}"
        " --seed-prefix {params.seed_prefix:q} {params.device} --out-dir {params.out_dir:q} > {log:q} 2>&1"


# The full training set of Fig. 3 trains only the reps that figure uses, with its own recipe
# (grid.dynamics_args reads figures.fig3.full_dataset for ck=full).
use rule dynamics as dynamics_full with:
    output:
        expand(
            f"{ROOT}/dynamics/{{{{ck}}}}/{{{{ds}}}}/ipc{{{{ipcf}}}}/rep{{rep}}.{{ext}}",
            rep=grid.dynamics_reps(config, grid.FULL),
            ext=["npz", "model.pt"],
        ),
    wildcard_constraints:
        ck=grid.FULL,
        ipcf=grid.FULL_IPC,
