# YOCO companion: every table and figure of "You Only Condense Once" (NeurIPS 2023).
#
#   snakemake --cores 8 results/table1.csv                 # one table of the paper's grid
#   snakemake --cores 8                                    # everything enabled in the config
#   snakemake --cores 2 --configfile config/quickstart.yaml  # the CPU quickstart on digits
#   snakemake --profile workflow/profiles/gpu --configfile config/cifar10-lite.yaml  # real CIFAR-10,
#                                          # ~10 min on one GPU, ends with the paper's claims checked
#
# The grid (which condensed sets, dynamics, scores, selections and evaluations a target needs) is
# computed by yoco/grid.py from the config; the rules below only wire files to `yoco` commands.

import os
import sys

from snakemake.utils import min_version, validate

min_version("9.0")

# Import yoco from this checkout even when the package is not installed.
sys.path.insert(0, workflow.basedir)

from yoco.configcheck import check_schema, load_yaml  # noqa: E402
from yoco.errors import YocoError  # noqa: E402
from yoco import runlock  # noqa: E402

# The default config sits beside this Snakefile, wherever snakemake is started from (-s path/Snakefile).
DEFAULT_CONFIG = os.path.join(workflow.basedir, "config", "config.yaml")
SCHEMA = os.path.join(workflow.basedir, "workflow", "schemas", "config.schema.yaml")
try:
    load_yaml(DEFAULT_CONFIG)  # malformed YAML: one line naming the file, line and column
except YocoError as error:
    raise WorkflowError(str(error)) from None


configfile: DEFAULT_CONFIG


# Snakemake reads every --configfile with a YAML loader that lets a repeated key silently replace the
# first; read them again strictly, so that a duplicate stops the run with its file and line.
try:
    for _path in workflow.configfiles:
        load_yaml(_path)
except YocoError as error:
    raise WorkflowError(str(error)) from None

# One line naming the key, the value and what is allowed (Snakemake's validate would print the schema).
try:
    check_schema(config, SCHEMA)
except YocoError as error:
    raise WorkflowError(str(error)) from None
validate(config, "workflow/schemas/config.schema.yaml")


report: "workflow/report/workflow.rst"  # `snakemake --report`: captions in workflow/report/


include: "workflow/rules/common.smk"


include: "workflow/rules/data.smk"
include: "workflow/rules/experts.smk"
include: "workflow/rules/condense.smk"
include: "workflow/rules/decode.smk"
include: "workflow/rules/dynamics.smk"
include: "workflow/rules/scores.smk"
include: "workflow/rules/select.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/tables.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/report.smk"


rule all:
    input:
        grid.targets(config),
        grid.claims_targets(config),  # claims.csv, when the config runs cells the claims compare
        REPORT_PAGES,  # what `snakemake --report` shows beside them: tables in the page, config, provenance
    default_target: True


# One workflow at a time per output folder (yoco/runlock.py): Snakemake's own lock covers only the
# working directory. Taken before the first job, not by dry runs, --lint or --report.
ROOT_LOCKS = []


onstart:
    try:
        ROOT_LOCKS.extend(runlock.acquire_roots([config["output_root"], config["figures_root"]], runlock.command_line()))
    except YocoError as error:
        raise WorkflowError(str(error)) from None
    for _lock in ROOT_LOCKS:
        for _note in _lock.notes:
            print(f"yoco: {_note}", file=sys.stderr)


onsuccess:
    runlock.release_all(ROOT_LOCKS)


onerror:
    runlock.release_all(ROOT_LOCKS)
