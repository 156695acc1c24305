"""The Snakemake workflow: lint, dry runs of the paper grid with job counts derived from the paper,
and early, clear failures for bad configs and missing condensed files.

Snakemake runs are subprocesses (the venv's ``snakemake``); they are all started at once on first
use so that the file stays fast on a 2-core machine. The grid's own functions are tested in-process.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from yoco import grid
from yoco.configcheck import merge_configs
from yoco.errors import YocoError

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))
TABLES = [f"results/table{n}.csv" for n in range(1, 8)]
FIGURES = [f"figures/fig{n}.{ext}" for n in (2, 3, 5, 7) for ext in ("png", "pdf")]

BAD_KEY = """
tables:
  table2:
    cells: [{dataset: cifar10, ipc_from: 10, ipc_to: [1]}]
    methods:
      - {condenser: idc, keys: [random, forgeting_easy]}
"""
MALFORMED = "reps: three\n"


def _load(name: str) -> dict:
    return yaml.safe_load((REPO / "config" / name).read_text())


@pytest.fixture(scope="module")
def paper():
    return _load("config.yaml")


@pytest.fixture(scope="module")
def external(tmp_path_factory):
    """An external_root holding stand-in files for MTT, DSA and KIP at the reference's paths (§1.1)."""
    root = tmp_path_factory.mktemp("raid")
    for rel in (
        "mtt/ConvNet_baseline/images_best.pt",
        "dsa/res_DSA_CIFAR10_ConvNet_ipc10/data.pt",
        "kip/kip_ipc10/data.pt",
    ):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(b"")
    return root


@pytest.fixture(scope="module")
def runs(tmp_path_factory, external):
    """Start every Snakemake invocation concurrently; each test waits for the one it needs."""
    tmp = tmp_path_factory.mktemp("configs")
    (tmp / "bad_key.yaml").write_text(BAD_KEY)
    (tmp / "malformed.yaml").write_text(MALFORMED)
    empty = tmp / "no_external_files"
    empty.mkdir()
    out = tmp / "out"
    fake = f"external_root={external}"
    commands = {
        "lint": ["--lint"],
        "table1": [
            "results/table1.csv",
            "-n",
            "--cores",
            "8",
            "--quiet",
            "rules",
            "--config",
            f"external_root={empty}",
        ],
        "everything": [*TABLES, *FIGURES, "-n", "--cores", "8", "--quiet", "rules", "--config", fake],
        "missing": [
            "results/table2.csv",
            "-n",
            "--cores",
            "8",
            "--quiet",
            "rules",
            "--config",
            f"external_root={empty}",
        ],
        # Not a dry run: a bad key must stop Snakemake before any job writes anything.
        "bad_key": [
            "results/table2.csv",
            "--cores",
            "1",
            "--configfile",
            str(tmp / "bad_key.yaml"),
            "--config",
            f"output_root={out}",
            fake,
        ],
        "malformed": ["-n", "--cores", "1", "--configfile", str(tmp / "malformed.yaml")],
        # Its own output root, so a quickstart already run in this checkout does not change the counts.
        "quickstart": [
            "-n",
            "--cores",
            "2",
            "--quiet",
            "rules",
            "--configfile",
            "config/quickstart.yaml",
            "--config",
            f"output_root={tmp}/qs/results",
            f"figures_root={tmp}/qs/figures",
        ],
    }
    procs = {
        name: subprocess.Popen(
            [SNAKEMAKE, *args], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        for name, args in commands.items()
    }
    results = {}

    def get(name):
        if name not in results:
            text, _ = procs[name].communicate(timeout=300)
            results[name] = (procs[name].returncode, text)
        return results[name]

    get.out = out
    yield get
    for p in procs.values():
        if p.poll() is None:
            p.kill()


def _job_counts(text: str) -> dict[str, int]:
    """The 'Job stats' table of a dry run as {rule: count}."""
    block = text[text.index("Job stats:") :]
    counts = {}
    for line in block.splitlines()[3:]:
        m = re.match(r"^(\w+)\s+(\d+)$", line.strip())
        if not m:
            break
        counts[m.group(1)] = int(m.group(2))
    return counts


# ------------------------------------------------------------------------------------ Snakemake runs
def test_lint_is_clean(runs):
    rc, text = runs("lint")
    assert rc == 0, text
    assert "Lints for" not in text, text
    assert "Congratulations" in text


def test_table1_dry_run_matches_the_paper_grid(runs, paper):
    rc, text = runs("table1")
    assert rc == 0, text
    reps = 3
    # Table 1 cells (§5): CIFAR-10 10→{1,2,5}, 50→{1,2,5,10}; CIFAR-100 10/20→{1,2,5}, 50→{1,2,5,10};
    # ImageNet-10 10/20→{1,2,5}.
    cifar_cells, imagenet_cells = 3 + 4 + 3 + 3 + 4, 3 + 3
    cells = cifar_cells + imagenet_cells
    assert cells == 23
    idc_sets, dream_sets = 2 + 3 + 2, 2 + 3  # IPC_F values per dataset; DREAM only for CIFAR
    idc_keys = 8  # the 9 methods minus DREAM's random row
    # A cell's evaluation covers every key any enabled table or figure needs there, so IDC
    # CIFAR-10 10→T also carries Tables 2, 4, 5 and Fig. 2's keys, and DREAM CIFAR-10 10→1 carries
    # Tables 2 and 4 (which need DREAM dynamics).
    t2_t4_t5_extra_10to1 = 2 + 3 + (14 - 2)  # random_balance, yoco_imbalance; *_easy ×3; Table 5's others
    t5_extra_10to2_10to5 = 2 * 14
    fig2_extra = 6 - 1  # yoco_imbalance on Fig. 2's other five cells
    dream_10to1_extra = 3 + 6  # Table 2's other three keys, Table 4's six non-yoco keys
    unpruned = idc_sets  # the "IPC_F Acc." column: 1 selection each
    selections = (
        reps
        * (
            cells * idc_keys
            + cifar_cells * 1
            + t2_t4_t5_extra_10to1
            + t5_extra_10to2_10to5
            + fig2_extra
            + dream_10to1_extra
        )
        + unpruned
    )
    expected = {
        "real_data": 3,
        "condense": idc_sets + dream_sets,  # no authors' files present: all in-house
        "decode": idc_sets + dream_sets,
        "dynamics": idc_sets + 1,  # + DREAM CIFAR-10 IPC10
        "scores": (idc_sets + 1) * reps,
        # One select job per cell writes all of that cell's selections.
        "select": cells + cifar_cells + unpruned,
        "evaluate": cells + cifar_cells + unpruned,  # IDC cells, DREAM-random cells, IPC_F column
        "table_rows": 1,
        "table": 1,
    }
    expected["total"] = sum(expected.values())
    assert selections == 787
    # Those of the dry run's cells (Tables 2 and 4 also select from MTT/KIP/DSA sets, not built here).
    assert len([s for s in grid.selections(paper) if s[0] in ("idc", "dream")]) == selections
    assert _job_counts(text) == expected


def test_every_table_and_figure_dry_runs(runs):
    rc, text = runs("everything")
    assert rc == 0, text
    counts = _job_counts(text)
    # §9.1: 33 dynamics runs for the tables = 11 sets × 3 reps, plus Fig. 3's full training set.
    assert counts["dynamics"] == 11 and counts["dynamics_full"] == 1
    assert counts["scores"] == 11 * 3 + 1
    # Table 1's 47 jobs + MTT and KIP 10→1 (Table 2) + ResNet-10-BN and DenseNet (Table 3) + DSA (Table 4).
    assert counts["evaluate"] == 47 + 2 + 2 + 1
    assert counts["import_condensed"] == 3 + 1  # MTT, DSA, KIP + the real set of Fig. 3
    assert counts["evaluate_fractions"] == 3 and counts["evaluate_epochs"] == 1
    assert counts["table"] == 7 and counts["table_rows"] == 6  # Table 6 has no rows
    assert counts["figure_data"] == 4
    assert all(counts[f"fig{n}"] == 1 for n in (2, 3, 5, 7))


def test_missing_external_file_names_path_format_and_source(runs):
    rc, text = runs("missing")
    assert rc != 0
    # Table 2 needs MTT and KIP; MTT is distilled in-house, KIP's file has to be there.
    assert re.search(r"kip/kip_ipc10/data\.pt' does not exist", text), text
    assert "no in-house condenser" in text and "format:" in text
    assert "Google-Drive" in text


def test_unknown_key_fails_before_any_job(runs):
    rc, text = runs("bad_key")
    assert rc != 0
    assert "forgeting_easy" in text and "forgetting_easy" in text  # the closest valid key
    assert "tables.table2" in text
    assert not Path(runs.out).exists()


def test_malformed_config_fails_schema_validation(runs):
    rc, text = runs("malformed")
    assert rc != 0
    # One line naming the key, the value and what is allowed (yoco.configcheck), not the schema dumped.
    assert "config key reps = 'three': expected an integer" in text
    assert len(text.splitlines()) < 10, text


def test_quickstart_dry_runs_on_digits_only(runs):
    rc, text = runs("quickstart")
    assert rc == 0, text
    counts = _job_counts(text)
    assert counts["real_data"] == 1  # digits only: no CIFAR download
    assert counts["condense"] == 4  # IDC and DREAM at IPC_F 10 and 20
    # DSA IPC_F 10 (Table 4) and MTT IPC_F 10 (Tables 2 and 4) in-house, in their authors' formats,
    # then imported like released files; MTT's one experts file first.
    assert counts["condense_authors_format"] == 2 and counts["import_condensed"] == 3  # + the real set
    assert counts["experts"] == 1
    # IDC 10 and 20, DREAM 10 (Tables 2 and 4), MTT and DSA 10 (Tables 2 and 4).
    assert counts["dynamics"] == 5
    assert counts["table"] == 7 and all(counts[f"fig{n}"] == 1 for n in (2, 3, 5, 7))
    # What `make report` shows beside them: each table as a page, the merged config, provenance.
    assert counts["table_page"] == 7 and counts["config_page"] == 1 and counts["provenance_page"] == 1


# ------------------------------------------------------------------------------------ grid, in-process
def test_table_rows_follow_the_paper(paper):
    rows = {n: grid.table_rows(n, paper) for n in range(1, 8)}
    # Table 1: 17 CIFAR cells × 9 methods + 6 ImageNet cells × 8 (no DREAM) + 7 IPC_F-column rows.
    assert len(rows[1]) == 17 * 9 + 6 * 8 + 7
    assert rows[7].equals(rows[1])
    assert len(rows[2]) == 4 * 4 and len(rows[3]) == 7 * 3 and len(rows[4]) == 4 * 7
    assert len(rows[5]) == 3 * 14 and len(rows[6]) == 0
    assert list(rows[1].columns) == ["dataset", "condenser", "ipc_from", "ipc_to", "key", "network"]
    imagenet = rows[1][rows[1].dataset == "imagenet10"]
    assert set(imagenet.network) == {"resnetap10"} and "dream" not in set(imagenet.condenser)
    unpruned = rows[1][rows[1].ipc_from == rows[1].ipc_to]
    assert len(unpruned) == 7 and set(unpruned.key) == {"random"} and set(unpruned.condenser) == {"idc"}


def test_condensed_set_sources(paper, tmp_path):
    config = merge_configs(paper, {"external_root": str(tmp_path)})
    assert grid.condensed_set(config, "idc", "cifar10", 10).source == "inhouse"
    assert grid.condensed_set(config, "kip", "cifar10", 10).source == "missing"
    off = merge_configs(config, {"condensers": {"mtt": {"inhouse": False}}})
    assert grid.condensed_set(off, "mtt", "cifar10", 10).source == "missing"
    with pytest.raises(YocoError, match="images_best.pt"):
        grid.condensed_file(off, "mtt", "cifar10", "10")
    path = tmp_path / "idc/cifar10/conv3in_grad_mse_nd2000_cut_niter2000_factor2_lr0.005_mix_ipc10/data.pt"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"")
    cs = grid.condensed_set(config, "idc", "cifar10", 10)
    assert (cs.source, cs.path) == ("external", str(path))
    assert grid.condensed_file(config, "idc", "cifar10", "10").endswith("imported/idc/cifar10/ipc10.pt")
    assert grid.condensed_file(config, "idc", "cifar10", "50").endswith("condensed/idc/cifar10/ipc50.pt")


def test_inhouse_dsa_is_condensed_then_imported(paper, tmp_path):
    config = merge_configs(paper, {"external_root": str(tmp_path)})
    cs = grid.condensed_set(config, "dsa", "cifar10", 10)
    assert cs.source == "inhouse" and cs.path.endswith("condensed/dsa/cifar10/ipc10/data.pt")
    assert grid.condensed_file(config, "dsa", "cifar10", "10").endswith("imported/dsa/cifar10/ipc10.pt")
    assert grid.import_input(config, "dsa", "cifar10", "10").endswith("condensed/dsa/cifar10/ipc10")
    assert "--format dsa --path " in grid.import_args(config, "dsa", "cifar10", "10")
    # The paper's budget (config.yaml): DSA:main.py's CIFAR-10 IPC 10 settings, factor 1.
    args = grid.condense_args(config, "dsa", "cifar10", "10")
    for flag in ("--factor 1", "--outer 1001", "--inner 10", "--syn-epochs 50", "--batch-real 256"):
        assert flag in args, args
    assert "--batch-net 256" in args and "--lr-img 0.1" in args and "--lr-net 0.01" in args
    # The authors' file wins when present; external-only when switched off.
    released = tmp_path / "dsa/res_DSA_CIFAR10_ConvNet_ipc10/data.pt"
    released.parent.mkdir(parents=True)
    released.write_bytes(b"")
    assert grid.condensed_set(config, "dsa", "cifar10", 10).source == "external"
    released.unlink()
    off = merge_configs(config, {"condensers": {"dsa": {"inhouse": False}}})
    assert grid.condensed_set(off, "dsa", "cifar10", 10).source == "missing"
    with pytest.raises(YocoError, match=r"condensers\.dsa\.inhouse: false"):
        grid.condensed_file(off, "dsa", "cifar10", "10")


def test_inhouse_mtt_distils_from_shared_experts_then_imports(paper, tmp_path):
    config = merge_configs(paper, {"external_root": str(tmp_path)})
    cs = grid.condensed_set(config, "mtt", "cifar10", 10)
    # MTT's format is a folder (images_best.pt + labels_best.pt), which yoco import reads.
    assert cs.source == "inhouse" and cs.path.endswith("condensed/mtt/cifar10/ipc10")
    assert grid.condensed_file(config, "mtt", "cifar10", "10").endswith("imported/mtt/cifar10/ipc10.pt")
    assert "--format mtt --path " in grid.import_args(config, "mtt", "cifar10", "10")
    # One experts file per dataset, an input of every IPC's distillation.
    experts = grid.experts_path(config, "cifar10")
    assert experts.endswith("experts/cifar10/experts.pt")
    for ipc in ("10", "50"):
        assert grid.condense_inputs(config, "mtt", "cifar10", ipc)["experts"] == experts
    # The paper's settings (MTT:distill.py and buffer.py, CIFAR-10 IPC 10; docs/deviations.md).
    args = grid.condense_args(config, "mtt", "cifar10", "10").split()
    for flag, value in [("--iterations", "5000"), ("--syn-steps", "30"), ("--expert-epochs", "2"),
                        ("--max-start-epoch", "20"), ("--lr-img", "1000"), ("--lr-lr", "0.0001"),
                        ("--lr-teacher", "0.01"), ("--batch-syn", "0"), ("--experts", experts),
                        ("--factor", "1")]:  # fmt: skip
        assert args[args.index(flag) + 1] == value, (flag, args)
    ex = grid.experts_args(config, "cifar10").split()
    for flag, value in [("--num-experts", "100"), ("--epochs", "50"), ("--width", "128"), ("--batch", "256")]:
        assert ex[ex.index(flag) + 1] == value, (flag, ex)
    assert "--zca" in ex  # a boolean budget key is a bare switch
    assert "--zca" not in grid.experts_args(merge_configs(config, {"experts": {"cifar10": {"zca": False}}}), "cifar10")
    # Budgets are checked before any job: a missing experts budget, and a distillation that reads
    # expert epochs the experts never reach (max_start_epoch - 1 + expert_epochs > epochs).
    no_experts = {k: v for k, v in config.items() if k != "experts"}
    with pytest.raises(YocoError, match=r"config experts: .*'cifar10'.*condensers\.mtt\.inhouse: false"):
        grid.validate(no_experts)
    short = merge_configs(config, {"experts": {"cifar10": {"epochs": 20}}})
    with pytest.raises(YocoError, match=r"condensation\.mtt\.cifar10: .*epoch 21.*experts\.cifar10\.epochs is 20"):
        grid.validate(short)
    grid.validate(merge_configs(config, {"experts": {"cifar10": {"epochs": 21}}}))


def test_mtt_budget_mistakes_name_the_key(paper):
    from yoco.configcheck import check_schema

    schema = REPO / "workflow" / "schemas" / "config.schema.yaml"
    check_schema(paper, schema)
    cases = [
        ({"condensation": {"mtt": {"cifar10": {"outer": 3}}}}, r"unknown key 'outer' under condensation\.mtt\.cifar10"),
        ({"experts": {"cifar10": {"zca": "yes"}}}, r"experts\.cifar10\.zca = 'yes': expected true or false"),
        ({"condensation": {"dsa": {"cifar10": {"syn_steps": 3}}}}, r"Did you mean 'syn_epochs'"),
    ]
    for change, message in cases:
        with pytest.raises(YocoError, match=message):
            check_schema(merge_configs(paper, change), schema)


def test_kip_stays_external_and_budgets_are_checked(paper, tmp_path):
    config = merge_configs(paper, {"external_root": str(tmp_path)})
    with pytest.raises(YocoError, match="JAX/neural-tangents") as err:
        grid.condensed_file(config, "kip", "cifar10", "10")
    assert "kip/kip_ipc10/data.pt" in str(err.value) and "NHWC" in str(err.value)
    with pytest.raises(YocoError, match=r"condensers\.kip\.inhouse.*JAX"):
        grid.validate(merge_configs(config, {"condensers": {"kip": {"inhouse": True}}}))
    no_budget = dict(config)
    no_budget["condensation"] = {k: v for k, v in config["condensation"].items() if k != "dsa"}
    with pytest.raises(YocoError, match=r"condensation\.dsa.*cifar10"):
        grid.validate(no_budget)


def test_condense_lr_img_follows_idc_scaling(paper):
    # §6.1: 0.005 × IPC/10 at 32 px → 0.025 for IPC 50; ImageNet 0.003 × IPC/10 → 0.006 for IPC 20.
    assert "--lr-img 0.025 " in grid.condense_args(paper, "idc", "cifar10", "50")
    assert "--lr-img 0.006 " in grid.condense_args(paper, "idc", "imagenet10", "20")


def test_lbpe_settings_per_condenser(paper):
    assert grid.lbpe(paper, "idc", "cifar10") == (100, 10)
    assert grid.lbpe(paper, "dream", "cifar10") == (200, 10)
    assert grid.lbpe(paper, "dsa", "cifar10") == (10, 3)  # quirks.dsa_lbpe_epochs
    assert grid.lbpe(merge_configs(paper, {"quirks": {"dsa_lbpe_epochs": 100}}), "dsa", "cifar10") == (100, 3)


def test_validate_rejects_epochs_outside_the_dynamics(paper):
    bad = merge_configs(paper, {"figures": {"fig7": {"epochs": [0, 1000]}}})
    with pytest.raises(YocoError, match="fig7.epochs"):
        grid.validate(bad)
    grid.validate(paper)
    grid.validate(merge_configs(paper, _load("quickstart.yaml")))
    grid.validate(merge_configs(paper, _load("test.yaml")))


def test_run_settings_reach_every_training_command(paper):
    # Unset: the trainer decides (batch from free memory, compile only long CPU trainings).
    for args in (grid.evaluate_args(paper, "cifar10", "convnet"), grid.dynamics_args(paper, "idc", "cifar10")):
        assert "--max-models" not in args and "compile" not in args
    shared = merge_configs(paper, {"training": {"run": {"max_models": 40, "compile": False}}})
    grid.validate(shared)
    for args in (
        grid.evaluate_args(shared, "cifar10", "convnet").split(),
        grid.dynamics_args(shared, "idc", "cifar10").split(),
    ):
        assert args[args.index("--max-models") + 1] == "40" and "--no-compile" in args
    assert (
        "--compile"
        in grid.evaluate_args(
            merge_configs(paper, {"training": {"run": {"compile": True}}}), "cifar10", "convnet"
        ).split()
    )
    # The Snakefile validates against the schema before any job; so does this, in-process.
    from snakemake.exceptions import WorkflowError
    from snakemake.utils import validate as schema_validate

    schema = str(REPO / "workflow" / "schemas" / "config.schema.yaml")
    schema_validate(shared, schema)
    with pytest.raises(WorkflowError, match="max_models"):
        schema_validate(merge_configs(paper, {"training": {"run": {"max_models": 0}}}), schema)


def test_imagenet_recipes_use_the_tensor_transforms(paper):
    assert "--imagenet-transforms" in grid.evaluate_args(paper, "imagenet10", "resnetap10")
    assert "--imagenet-transforms" in grid.dynamics_args(paper, "idc", "imagenet10")
    assert "--imagenet-transforms" not in grid.evaluate_args(paper, "cifar10", "convnet")
    # Evaluation on ImageNet-10: CutMix on every batch and no DiffAug (reference-spec §4.2).
    args = grid.evaluate_args(paper, "imagenet10", "resnetap10").split()
    assert args[args.index("--cutmix-p") + 1] == "1.0" and args[args.index("--diffaug") + 1] == "none"


def test_resumable_jobs_snapshot_outside_their_outputs_under_a_name_per_setting(paper):
    path = grid.condense_snapshot(paper, "idc", "cifar10", "10")
    assert re.fullmatch(re.escape(grid._root(paper)) + r"/snapshots/condense/idc/cifar10/ipc10\.[0-9a-f]{12}\.pt", path)
    assert grid.condense_snapshot(paper, "idc", "cifar10", "10") == path  # a rerun finds it again
    # Another budget or another real dataset must not resume a snapshot of the old one: a new name.
    longer = merge_configs(paper, {"condensation": {"idc": {"cifar10": {"outer": 7}}}})
    other_data = merge_configs(paper, {"datasets": {"cifar10": {"npz": "elsewhere.npz"}}})
    assert (
        len(
            {
                path,
                grid.condense_snapshot(longer, "idc", "cifar10", "10"),
                grid.condense_snapshot(other_data, "idc", "cifar10", "10"),
            }
        )
        == 3
    )
    assert grid.condense_snapshot(paper, "idc", "cifar10", "50") != path
    ex = grid.experts_snapshot(paper, "cifar10")
    assert "/snapshots/experts/cifar10." in ex and ex != grid.experts_snapshot(
        merge_configs(paper, {"experts": {"cifar10": {"num_experts": 3}}}), "cifar10"
    )
    # The paper's 100 experts snapshot every 5 epochs, not every epoch (each write is the whole file).
    assert "--snapshot-every 5" in grid.experts_args(paper, "cifar10")
    # The rules pass the path and delete the file only after the job succeeded.
    for rule in ("condense", "experts"):
        text = (REPO / "workflow" / "rules" / f"{rule}.smk").read_text()
        assert text.count("--snapshot {params.snapshot:q}") == text.count("&& rm -f {params.snapshot:q}") >= 1


def test_the_config_page_command_parses_when_no_config_value_is_given_on_the_command_line():
    """`make quickstart` passes no --config: the page's --overrides is then empty and must stay an argument."""
    import shlex

    from yoco.cli import build_parser

    proc = subprocess.run(
        [SNAKEMAKE, "-n", "-p", "--cores", "1", "--configfile", "config/quickstart.yaml", "--forcerun", "config_page"]
        + ["results/quickstart/report/config.html"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    command = next(line for line in proc.stdout.splitlines() if " report-page config " in line)
    words = shlex.split(command.split("&& ", 2)[-1].split(" > ")[0])
    args = build_parser().parse_args(words[1:])
    assert args.overrides == "" and args.out == "results/quickstart/report/config.html"


def test_building_the_dag_imports_neither_torch_nor_the_iri_grammars(tmp_path):
    """Every `snakemake` start (each run, dry run, report and SLURM submission) parses the Snakefile before
    any job can start; importing torch there (to check the pruning keys or derive seeds) or jsonschema's
    IRI format checker (rfc3987-syntax compiles ~40 grammars) cost ~3.5 s of each start."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", SNAKEMAKE, "-n", "--cores", "1", "--configfile", "config/quickstart.yaml",
         "--config", f"output_root={tmp_path}/results", f"figures_root={tmp_path}/figures"],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    imported = {line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")}
    assert "jsonschema" in imported and "yoco.grid" in imported  # the check below sees the DAG build's imports
    assert not imported & {"torch", "rfc3987_syntax.syntax_helpers"}  # the latter compiles the grammars
