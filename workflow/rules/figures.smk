# Figures 2, 3, 5, 7: `yoco figure-data` writes one CSV per figure; a notebook (run headless by
# the notebook: directive) reads only that CSV and writes the PNG and PDF. The PNGs go into
# `snakemake --report` with their captions (workflow/report/caption.rst).


rule figure_data:
    input:
        unpack(figure_data_input),
    output:
        f"{ROOT}/figure_data/fig{{number}}.csv",
    wildcard_constraints:
        number="[2357]",
    params:
        cli=CLI,
        flags=figure_data_flags,
        args=lambda wc: grid.figure_args(config, int(wc.number)),
    log:
        f"{LOGS}/figure_data/fig{{number}}.log",
    localrule: True
    threads: config["threads"]["light"]
    resources:
        mem_mb=mem_mb("light"),
        runtime=runtime("light"),
    conda:
        "../../environment.yml"
    shell:
        "{params.cli} figure-data --figure {wildcards.number} {params.flags} {params.args} --out {output:q} > {log:q} 2>&1"


rule fig2:
    input:
        csv=f"{ROOT}/figure_data/fig2.csv",
    output:
        png=report(f"{FIGROOT}/fig2.png", caption=CAPTION, category="Figures", labels=figure_label(2)),
        pdf=f"{FIGROOT}/fig2.pdf",
    log:
        notebook=f"{LOGS}/figures/fig2.ipynb",
    localrule: True
    conda:
        "../../environment.yml"
    notebook:
        "../../notebooks/fig2.ipynb"


rule fig3:
    input:
        csv=f"{ROOT}/figure_data/fig3.csv",
    output:
        png=report(f"{FIGROOT}/fig3.png", caption=CAPTION, category="Figures", labels=figure_label(3)),
        pdf=f"{FIGROOT}/fig3.pdf",
    log:
        notebook=f"{LOGS}/figures/fig3.ipynb",
    localrule: True
    conda:
        "../../environment.yml"
    notebook:
        "../../notebooks/fig3.ipynb"


rule fig5:
    input:
        csv=f"{ROOT}/figure_data/fig5.csv",
    output:
        png=report(f"{FIGROOT}/fig5.png", caption=CAPTION, category="Figures", labels=figure_label(5)),
        pdf=f"{FIGROOT}/fig5.pdf",
    log:
        notebook=f"{LOGS}/figures/fig5.ipynb",
    localrule: True
    conda:
        "../../environment.yml"
    notebook:
        "../../notebooks/fig5.ipynb"


rule fig7:
    input:
        csv=f"{ROOT}/figure_data/fig7.csv",
    output:
        png=report(f"{FIGROOT}/fig7.png", caption=CAPTION, category="Figures", labels=figure_label(7)),
        pdf=f"{FIGROOT}/fig7.pdf",
    log:
        notebook=f"{LOGS}/figures/fig7.ipynb",
    localrule: True
    conda:
        "../../environment.yml"
    notebook:
        "../../notebooks/fig7.ipynb"
