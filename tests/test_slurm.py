"""The cluster path: the test config through the shipped SLURM profile, on a single-node SLURM started here.

For each of a cluster with accounting (slurmdbd on MariaDB: the plugin polls ``sacct``) and one without
(the plugin must be told ``--slurm-status-command squeue``, as the README says), the test starts munged,
slurmctld and slurmd (tests/slurm_cluster.py), runs ``config/test.yaml`` through
``workflow/profiles/slurm`` with only the account and the partitions overridden on the command line, and
checks that every job that is not a ``localrule`` went through sbatch and completed in the partition the
profile gives its rule, that every localrule ran on the submit host, and that the tables equal a local
run's byte for byte. It stops the daemons it started.

Slow (minutes: every job starts Snakemake again inside SLURM) and in need of root and Debian's SLURM
packages, so it runs only when asked: ``.ci/run`` installs the packages (``.ci/install-slurm``) and runs
it with ``YOCO_TEST_SLURM=1``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import REPO
from slurm_cluster import SlurmCluster, skip_reason

PROFILE = REPO / "workflow" / "profiles" / "slurm"
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))
TABLES = [f"table{n}.csv" for n in range(1, 8)]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        os.environ.get("YOCO_TEST_SLURM") != "1",
        reason="starts SLURM daemons and takes minutes: set YOCO_TEST_SLURM=1 (.ci/run does)",
    ),
]


def _snakemake(out: Path, *extra: str, env: dict | None = None, timeout: float = 1500) -> subprocess.CompletedProcess:
    env = dict(os.environ if env is None else env)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    cmd = [
        SNAKEMAKE,
        "--configfile",
        "config/test.yaml",
        "--config",
        f"output_root={out}/results",
        f"figures_root={out}/figures",
        *extra,
    ]
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)


def _jobs(output: str) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """From Snakemake's output: rule of every remote job, rule of every local job, and the SLURM job id
    each remote job was submitted as (Snakemake job id -> ...)."""
    remote, local = {}, {}
    for kind, rule, body in re.findall(r"^(localrule|rule) (\w+):\n((?:    .*\n)+)", output, re.M):
        jobid = re.search(r"^    jobid: (\d+)$", body, re.M).group(1)
        (local if kind == "localrule" else remote)[jobid] = rule
    submitted = {}
    for jobid, slurm_id in re.findall(r"^Job (\d+) has been submitted with SLURM jobid (\d+)", output, re.M):
        assert jobid not in submitted, f"job {jobid} was submitted twice (a failed first attempt?)"
        submitted[jobid] = slurm_id
    return remote, local, submitted


def _profile_overrides(account: str, cpu: str, gpu: str) -> tuple[list[str], dict[str, str]]:
    """The shipped profile's account and partitions replaced, as command-line arguments, and the
    partition each rule's jobs must land in."""
    profile = yaml.safe_load((PROFILE / "config.yaml").read_text())
    defaults = dict(profile["default-resources"], slurm_account=account, slurm_partition=cpu)
    rule_partition = {}
    set_resources = []
    for rule, resources in profile["set-resources"].items():
        for key, value in resources.items():
            if key == "slurm_partition":
                assert value == "CHANGE_ME_gpu", f"profile: {rule} asks for partition {value!r}"
                value = rule_partition[rule] = gpu
            set_resources.append(f"{rule}:{key}={value}")
    args = ["--default-resources", *(f"{k}={v}" for k, v in defaults.items()), "--set-resources", *set_resources]
    return args, rule_partition


@pytest.fixture(scope="module")
def local_run(test_config_run):
    """The local run of config/test.yaml (conftest) and the rules of the jobs it ran."""
    remote, local, _ = _jobs((test_config_run / "terminal.txt").read_text())
    return test_config_run, sorted([*remote.values(), *local.values()])


@pytest.mark.parametrize("accounting", [True, False], ids=["accounting", "no-accounting"])
def test_the_test_config_through_the_slurm_profile_equals_a_local_run(accounting, local_run, tmp_path):
    reason = skip_reason(accounting)
    if reason:
        pytest.skip(reason)
    local_out, local_jobs = local_run
    out = tmp_path / "slurm"
    with SlurmCluster(accounting=accounting) as cluster:
        overrides, rule_partition = _profile_overrides(cluster.account, *cluster.partitions)
        extra = [
            "--profile",
            str(PROFILE),
            *overrides,
            # Speed only: the plugin's first status check after 2 s instead of 40 (a test job lasts seconds),
            # and SLURM's log files out of the checkout.
            "--slurm-init-seconds-before-status-checks",
            "2",
            "--slurm-logdir",
            str(tmp_path / "slurm-logs"),
        ]
        if not accounting:
            # Without accounting sacct fails, and the plugin, polling it, would wait forever (README).
            extra += ["--slurm-status-command", "squeue"]
        proc = _snakemake(out, *extra, env=cluster.env())
        output = proc.stdout + proc.stderr
        assert proc.returncode == 0, output[-6000:] + "\n" + cluster.logs()
        remote, local, submitted = _jobs(output)
        records = cluster.job_records(submitted.values())
    assert not cluster.still_running(), f"daemons left running: {cluster.still_running()}"

    # Every job that is not a localrule went through sbatch, once, and SLURM ran it to success in the
    # partition the profile gives its rule (with accounting: under the account given).
    assert remote and set(submitted) == set(remote), (sorted(remote), sorted(submitted))
    assert not set(submitted) & set(local)
    assert {"real_data", "table", "table_rows"} <= set(local.values())  # localrules stay on the submit host
    for jobid, slurm_id in submitted.items():
        rule = remote[jobid]
        rec = records.get(slurm_id)
        assert rec is not None, f"SLURM has no record of job {slurm_id} ({rule})\n{cluster.logs()}"
        assert rec["state"] == "COMPLETED" and rec["exit"] == "0:0", (rule, rec)
        assert rec["partition"] == rule_partition.get(rule, cluster.partitions[0]), (rule, rec)
        if accounting:
            assert rec["account"] == cluster.account, (rule, rec)
    # The same jobs as the local run, and the same tables to the byte.
    assert sorted([*remote.values(), *local.values()]) == local_jobs
    for name in TABLES:
        ours, theirs = out / "results" / name, local_out / "results" / name
        assert ours.read_bytes() == theirs.read_bytes(), f"{name} differs between SLURM and the local run"
    # A training job's log, written on the node, shows its progress.
    evaluate_logs = list((out / "results" / "logs" / "evaluate").rglob("*.log"))
    assert evaluate_logs and all("evaluate: done" in p.read_text() for p in evaluate_logs)
