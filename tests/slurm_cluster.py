"""A private single-node SLURM for tests: munged, slurmctld and slurmd (and, with accounting, mariadbd and
slurmdbd) started in a temporary directory and stopped again.

It stays out of the way of any SLURM or MUNGE on the machine: its own munge key and socket, its own
ports, its own state and log files, and its configuration found through ``SLURM_CONF`` (set by
:meth:`SlurmCluster.env`). It needs root (slurmd starts every job as its owner) and Debian's packages
``slurm-wlm munge`` (plus ``slurmdbd mariadb-server`` for accounting), which ``.ci/install-slurm``
installs.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

PACKAGES = "slurm-wlm munge slurmdbd mariadb-server"
_BASE = ("munged", "munge", "slurmctld", "slurmd", "sbatch", "srun", "squeue", "sinfo", "scontrol", "scancel")
_ACCOUNTING = ("mariadbd", "mariadb-install-db", "mariadb", "slurmdbd", "sacctmgr", "sacct")
# Daemons live in /usr/sbin, which a non-login PATH may lack.
_SEARCH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin", "/usr/bin"])


def _which(name: str) -> str | None:
    return shutil.which(name, path=_SEARCH)


def skip_reason(accounting: bool) -> str | None:
    """Why a cluster cannot be started here, or None."""
    if os.name != "posix" or os.geteuid() != 0:
        return "needs root: slurmd starts every job as its owner (CI runs .ci/run as root)"
    missing = [n for n in _BASE + (_ACCOUNTING if accounting else ()) if _which(n) is None]
    if missing:
        return (
            f"SLURM is not installed ({', '.join(missing)} not found): run `bash .ci/install-slurm` as root "
            f"(Debian packages {PACKAGES})"
        )
    return None


def _free_ports(n: int) -> list[int]:
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


class SlurmCluster:
    """One node (this machine) in two partitions, ``cpu`` and ``gpu``; with ``accounting`` a slurmdbd on a
    private MariaDB, the cluster registered and ``account`` created for root."""

    name = "yococi"

    def __init__(self, accounting: bool, account: str = "yoco_test", partitions=("cpu", "gpu")):
        self.accounting = accounting
        self.account = account
        self.partitions = partitions
        self.started: list[tuple[str, int]] = []  # (daemon, pid), in start order
        self._mariadb: subprocess.Popen | None = None
        # munged wants every directory above its socket searchable by all, which pytest's 0700 tmp dirs
        # are not: a directory of our own in /tmp.
        self.root = Path(tempfile.mkdtemp(prefix="yoco-slurm-"))
        self.root.chmod(0o755)
        for d in ("etc", "run", "state", "spool", "log", "bin", "db"):
            (self.root / d).mkdir()
        (self.root / "etc").chmod(0o700)
        self.ctld_port, self.slurmd_port, self.dbd_port, self.db_port = _free_ports(4)
        self.conf = self.root / "etc" / "slurm.conf"
        self.munge_socket = self.root / "run" / "munge.sock"

    # --- environment --------------------------------------------------------------------------------
    def env(self, base: dict | None = None) -> dict:
        """An environment whose SLURM commands talk to this cluster."""
        env = dict(os.environ if base is None else base)
        env["SLURM_CONF"] = str(self.conf)
        env["PATH"] = os.pathsep.join([str(self.root / "bin"), env.get("PATH", ""), "/usr/sbin", "/sbin"])
        return env

    def run(self, *cmd: str, timeout: float = 30, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(
            [_which(cmd[0]) or cmd[0], *cmd[1:]],
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=check,
        )

    def log(self, name: str, tail: int = 40) -> str:
        path = self.root / "log" / f"{name}.log"
        lines = path.read_text(errors="replace").splitlines() if path.exists() else []
        return f"--- {path} (last {tail} lines)\n" + "\n".join(lines[-tail:])

    def logs(self) -> str:
        names = ["munged", "slurmctld", "slurmd"] + (["mariadb", "slurmdbd"] if self.accounting else [])
        return "\n".join(self.log(n) for n in names)

    # --- start --------------------------------------------------------------------------------------
    def __enter__(self) -> SlurmCluster:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> None:
        t0 = time.monotonic()
        self._start_munge()
        if self.accounting:
            self._start_database()
            self._write_slurmdbd_conf()
        self._write_slurm_conf()
        self._write_srun_shim()
        if self.accounting:
            self._daemon("slurmdbd", [_which("slurmdbd")], self.root / "run" / "slurmdbd.pid")
            self._wait(
                lambda: self.run("sacctmgr", "-n", "list", "cluster", timeout=15, check=False).returncode == 0,
                "slurmdbd to answer sacctmgr",
            )
            self.run("sacctmgr", "-i", "add", "cluster", self.name)
            self.run("sacctmgr", "-i", "add", "account", self.account, f"cluster={self.name}")
            self.run("sacctmgr", "-i", "add", "user", "root", f"account={self.account}", f"cluster={self.name}")
        self._daemon("slurmctld", [_which("slurmctld"), "-i"], self.root / "run" / "slurmctld.pid")
        self._daemon("slurmd", [_which("slurmd")], self.root / "run" / "slurmd.pid")
        self._wait(self._node_idle, "the node to come up idle")
        self.start_seconds = time.monotonic() - t0

    def _start_munge(self) -> None:
        key = self.root / "etc" / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o600)
        pid = self.root / "run" / "munged.pid"
        self._daemon(
            "munged",
            [
                _which("munged"),
                f"--key-file={key}",
                f"--socket={self.munge_socket}",
                f"--pid-file={pid}",
                f"--log-file={self.root / 'log' / 'munged.log'}",
                f"--seed-file={self.root / 'etc' / 'munged.seed'}",
            ],
            pid,
        )

        def credentials_work() -> bool:
            cred = subprocess.run(
                [_which("munge"), "-n", "-S", str(self.munge_socket)], capture_output=True, timeout=10
            )
            return cred.returncode == 0

        self._wait(credentials_work, "munged to issue credentials")

    def _start_database(self) -> None:
        db, sock = self.root / "db", self.root / "run" / "mysqld.sock"
        subprocess.run(
            [
                _which("mariadb-install-db"),
                "--no-defaults",
                f"--datadir={db}",
                "--user=root",
                "--auth-root-authentication-method=socket",
                "--skip-test-db",
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        log = open(self.root / "log" / "mariadb.log", "w")
        self._mariadb = subprocess.Popen(
            [
                _which("mariadbd"),
                "--no-defaults",
                f"--datadir={db}",
                f"--socket={sock}",
                f"--port={self.db_port}",
                "--bind-address=127.0.0.1",
                f"--pid-file={self.root / 'run' / 'mysqld.pid'}",
                "--user=root",
                "--skip-name-resolve",
                "--innodb-buffer-pool-size=64M",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.started.append(("mariadbd", self._mariadb.pid))

        def answers() -> bool:
            if self._mariadb.poll() is not None:
                raise RuntimeError(f"mariadbd exited with {self._mariadb.returncode}\n{self.log('mariadb')}")
            return sock.exists() and self._sql("SELECT 1", check=False).returncode == 0

        self._wait(answers, "MariaDB to accept connections")
        self._sql(
            "CREATE USER 'slurm'@'127.0.0.1' IDENTIFIED BY 'slurm'; "
            "GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';"
        )

    def _sql(self, statement: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(
            [
                _which("mariadb"),
                "--no-defaults",
                "-S",
                str(self.root / "run" / "mysqld.sock"),
                "-u",
                "root",
                "-e",
                statement,
            ],
            capture_output=True,
            text=True,
            timeout=30,
            check=check,
        )

    def _write_slurmdbd_conf(self) -> None:
        path = self.root / "etc" / "slurmdbd.conf"  # slurmdbd reads it beside SLURM_CONF
        path.write_text(
            "\n".join(
                [
                    "AuthType=auth/munge",
                    f"AuthInfo=socket={self.munge_socket}",
                    "DbdHost=localhost",
                    "DbdAddr=127.0.0.1",
                    f"DbdPort={self.dbd_port}",
                    "SlurmUser=root",
                    f"PidFile={self.root / 'run' / 'slurmdbd.pid'}",
                    f"LogFile={self.root / 'log' / 'slurmdbd.log'}",
                    "StorageType=accounting_storage/mysql",
                    "StorageHost=127.0.0.1",
                    f"StoragePort={self.db_port}",
                    "StorageUser=slurm",
                    "StoragePass=slurm",
                    "StorageLoc=slurm_acct_db",
                    "",
                ]
            )
        )
        path.chmod(0o600)  # slurmdbd refuses a config others can read

    def _write_slurm_conf(self) -> None:
        # This machine as SLURM sees it (CPUs, sockets, memory), under the name slurmd will register with.
        node = subprocess.run(
            [_which("slurmd"), "-C"], capture_output=True, text=True, timeout=30, check=True
        ).stdout.splitlines()[0]
        node = re.sub(r"RealMemory=(\d+)", lambda m: f"RealMemory={int(m.group(1)) * 9 // 10}", node)
        host = node.split()[0].split("=", 1)[1]
        r = self.root
        lines = [
            f"ClusterName={self.name}",
            f"SlurmctldHost={host}(127.0.0.1)",
            "SlurmUser=root",
            "SlurmdUser=root",
            f"SlurmctldPort={self.ctld_port}",
            f"SlurmdPort={self.slurmd_port}",
            "AuthType=auth/munge",
            f"AuthInfo=socket={self.munge_socket}",
            "CredType=cred/munge",
            f"StateSaveLocation={r / 'state'}",
            f"SlurmdSpoolDir={r / 'spool'}",
            f"SlurmctldPidFile={r / 'run' / 'slurmctld.pid'}",
            f"SlurmdPidFile={r / 'run' / 'slurmd.pid'}",
            f"SlurmctldLogFile={r / 'log' / 'slurmctld.log'}",
            f"SlurmdLogFile={r / 'log' / 'slurmd.log'}",
            "SlurmctldDebug=info",
            "SlurmdDebug=info",
            # No cgroups in containers: track job processes by parent id, bind nothing.
            "ProctrackType=proctrack/linuxproc",
            "TaskPlugin=task/none",
            "MpiDefault=none",
            "SchedulerType=sched/backfill",
            "SelectType=select/cons_tres",
            "SelectTypeParameters=CR_CPU_Memory",
            "ReturnToService=2",
            "JobAcctGatherType=jobacct_gather/none",
            "JobCompType=jobcomp/none",
        ]
        if self.accounting:
            lines += [
                "AccountingStorageType=accounting_storage/slurmdbd",
                "AccountingStorageHost=localhost",
                f"AccountingStoragePort={self.dbd_port}",
                # With MUNGE, the "password" names the munge socket for talking to slurmdbd.
                f"AccountingStoragePass={self.munge_socket}",
            ]
        else:
            lines.append("AccountingStorageType=accounting_storage/none")
        lines.append(f"{node} NodeAddr=127.0.0.1 State=UNKNOWN")
        for i, part in enumerate(self.partitions):
            lines.append(f"PartitionName={part} Nodes=ALL {'Default=YES ' if i == 0 else ''}MaxTime=INFINITE State=UP")
        self.conf.write_text("\n".join(lines) + "\n")

    def _write_srun_shim(self) -> None:
        # The SLURM executor's job step (snakemake-executor-plugin-slurm-jobstep) strips every SLURM_*
        # variable but the job's identity from the environment of the `srun` it runs inside each job,
        # SLURM_CONF included. Clusters keep slurm.conf where srun finds it without the variable
        # (/etc/slurm, or slurmd's configless cache); this private one is found only through it.
        shim = self.root / "bin" / "srun"
        shim.write_text(f'#!/bin/sh\nSLURM_CONF={self.conf} exec {_which("srun")} "$@"\n')
        shim.chmod(0o755)

    def _daemon(self, name: str, cmd: list, pidfile: Path) -> None:
        """Start a daemon that forks into the background and writes ``pidfile``."""
        proc = subprocess.run(cmd, env=self.env(), capture_output=True, text=True, timeout=60)
        if proc.returncode != 0:
            raise RuntimeError(f"{name} failed to start ({proc.returncode}): {proc.stderr}\n{self.logs()}")
        self._wait(lambda: pidfile.exists() and pidfile.read_text().strip().isdigit(), f"{name} to write {pidfile}")
        self.started.append((name, int(pidfile.read_text().strip())))

    def _node_idle(self) -> bool:
        out = self.run("sinfo", "-h", "-o", "%T", timeout=15, check=False)
        return out.returncode == 0 and "idle" in out.stdout.split()

    def _wait(self, ready, what: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if ready():
                    return
            except subprocess.TimeoutExpired:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}\n{self.logs()}")

    # --- stop ---------------------------------------------------------------------------------------
    def stop(self) -> None:
        """Cancel what is left in the queue, then stop every daemon this cluster started, newest first."""
        if any(name == "slurmctld" for name, _ in self.started):
            self.run("scancel", "--user=root", timeout=15, check=False)
        survivors = []
        self.stopped = list(self.started)
        for name, pid in reversed(self.started):
            if not _stop_process(pid, self._mariadb if name == "mariadbd" else None):
                survivors.append(f"{name} ({pid})")
        self.started = []
        if survivors:
            raise RuntimeError(f"could not stop {', '.join(survivors)}")
        shutil.rmtree(self.root, ignore_errors=True)

    def still_running(self) -> list[str]:
        """The daemons this cluster started and :meth:`stop` stopped that still run (none, it should be)."""
        return [f"{name} ({pid})" for name, pid in getattr(self, "stopped", []) if _running(pid)]

    # --- what SLURM recorded ------------------------------------------------------------------------
    def job_records(self, ids) -> dict[str, dict]:
        """Per SLURM job id: its final ``state``, ``exit`` code, ``partition`` and ``account`` (None where the
        cluster does not record it). With accounting from sacct; without, from slurmctld's log, which
        outlives the jobs' MinJobAge."""
        ids = [str(i) for i in ids]
        if self.accounting:
            out = self.run(
                "sacct", "-X", "-n", "-P", "-j", ",".join(ids), "--format=JobIDRaw,State,ExitCode,Partition,Account"
            ).stdout
            return {
                f[0]: {"state": f[1], "exit": f[2], "partition": f[3], "account": f[4]}
                for f in (line.split("|") for line in out.splitlines() if line)
            }
        text = (self.root / "log" / "slurmctld.log").read_text()
        records = {}
        for i in ids:
            started = re.search(rf"(?:Allocate JobId={i} .*Partition=(\S+)|Started JobId={i} in (\S+) on)", text)
            exit_ = re.search(rf"_job_complete: JobId={i} WEXITSTATUS (\d+)", text)
            done = re.search(rf"_job_complete: JobId={i} done", text)
            if started:
                records[i] = {
                    "state": "COMPLETED" if done and exit_ and exit_.group(1) == "0" else "FAILED",
                    "exit": f"{exit_.group(1)}:0" if exit_ else "?",
                    "partition": started.group(1) or started.group(2),
                    "account": None,
                }
        return records


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie is gone for our purposes
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def _stop_process(pid: int, popen: subprocess.Popen | None, grace: float = 20) -> bool:
    """SIGTERM, then SIGKILL after ``grace`` seconds; True once the process is gone."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if popen is not None and popen.poll() is not None:
                break
            if popen is None and not _running(pid):
                break
            time.sleep(0.1)
        else:
            continue
        break
    if popen is not None:
        try:
            popen.wait(timeout=5)
        except subprocess.TimeoutExpired:
            return False
        return True
    return not _running(pid)
