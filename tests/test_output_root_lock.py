"""Issue 19, category 3: two workflows on one output folder.

Snakemake locks its working directory only: ``snakemake -d a`` and ``snakemake -d b`` with one absolute
``output_root`` ran the same jobs on the same files, and the one that was stopped deleted shared
outputs. The Snakefile now locks ``output_root`` and ``figures_root`` (yoco/runlock.py) before the
first job; the second run is refused with a message naming the first.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from yoco import runlock
from yoco.errors import YocoError

REPO = Path(__file__).resolve().parents[1]

HOLD = """
import sys, time
sys.path.insert(0, {repo!r})
from yoco import runlock
lock = runlock.acquire({root!r}, "holder command")
print("held", flush=True)
sys.stdin.readline()
"""


def _holder(root: Path) -> subprocess.Popen:
    """Another process holding the lock of ``root`` until its stdin is closed."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD.format(repo=str(REPO), root=str(root))],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_a_second_holder_is_refused_with_the_first_named(tmp_path):
    root = tmp_path / "results"
    holder = _holder(root)
    try:
        with pytest.raises(YocoError) as info:
            runlock.acquire(root, "me")
        message = str(info.value)
        assert "\n" not in message and f"output folder {root} is in use by another workflow" in message
        assert f"pid {holder.pid} on host {socket.gethostname()}" in message and "holder command" in message
        assert f"kill {holder.pid}" in message and f"delete {root / runlock.LOCK_NAME}" in message
        assert json.loads((root / runlock.LOCK_NAME).read_text())["pid"] == holder.pid  # untouched
    finally:
        holder.stdin.close()
        holder.wait(timeout=60)
    # The holder ended without releasing: the kernel dropped its flock, so the file is taken over.
    lock = runlock.acquire(root, "me")
    assert lock.notes and "took over" in lock.notes[0] and f"pid {holder.pid}" in lock.notes[0]
    assert json.loads((root / runlock.LOCK_NAME).read_text())["pid"] == os.getpid()
    runlock.release(lock)
    assert not (root / runlock.LOCK_NAME).exists()


def test_release_deletes_the_file_and_can_be_called_twice(tmp_path):
    lock = runlock.acquire(tmp_path, "cmd")
    record = json.loads((tmp_path / runlock.LOCK_NAME).read_text())
    assert record["pid"] == os.getpid() and record["cwd"] == os.getcwd() and record["command"] == "cmd"
    assert record["host"] == socket.gethostname() and record["started"]
    assert not lock.notes
    runlock.release(lock)
    runlock.release(lock)
    assert list(tmp_path.iterdir()) == []


def test_a_refused_second_root_releases_the_first(tmp_path):
    holder = _holder(tmp_path / "figures")
    try:
        with pytest.raises(YocoError, match="figures is in use"):
            runlock.acquire_roots([tmp_path / "results", tmp_path / "figures"], "me")
        assert not (tmp_path / "results" / runlock.LOCK_NAME).exists()
    finally:
        holder.stdin.close()
        holder.wait(timeout=60)


def test_one_folder_named_twice_is_locked_once(tmp_path):
    locks = runlock.acquire_roots([tmp_path, f"{tmp_path}/", tmp_path / "." / ""], "me")
    assert len(locks) == 1
    runlock.release_all(locks)


def _no_flock(monkeypatch):
    import fcntl

    def flock(fd, op):
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(fcntl, "flock", flock)


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


@pytest.mark.parametrize(
    "holder, refused, words",
    [
        (lambda: {"pid": os.getppid(), "host": socket.gethostname()}, True, ("in use", "if no such process runs")),
        (lambda: {"pid": _dead_pid(), "host": socket.gethostname()}, False, ("took over",)),
        (lambda: {"pid": 1, "host": "another-node"}, True, ("another-node", "delete")),
        (lambda: {}, True, ("in use",)),  # unreadable record: assume it runs
    ],
    ids=["live-here", "dead-here", "other-host", "garbled"],
)
def test_without_flock_the_file_alone_decides(holder, refused, words, tmp_path, monkeypatch):
    _no_flock(monkeypatch)
    path = tmp_path / runlock.LOCK_NAME
    record = holder()
    path.write_text(json.dumps(record) if record else "not json")
    before = path.read_text()
    if refused:
        with pytest.raises(YocoError) as info:
            runlock.acquire(tmp_path, "me")
        assert all(w in str(info.value) for w in words), str(info.value)
        assert path.read_text() == before
    else:
        lock = runlock.acquire(tmp_path, "me")
        assert all(w in lock.notes[0] for w in words)
        runlock.release(lock)
        assert not path.exists()


# ------------------------------------------------------------------------------------------- two workflows
def _snakemake(workdir: Path, root: Path, figures: Path, target: Path, **kw) -> subprocess.Popen:
    bindir = Path(sys.executable).parent
    env = dict(os.environ, PATH=f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}")
    cmd = [
        str(bindir / "snakemake"),
        "-s",
        str(REPO / "Snakefile"),
        "-d",
        str(workdir),
        "--cores",
        "1",
        "--configfile",
        str(REPO / "config/test.yaml"),
        "--config",
        f"output_root={root}",
        f"figures_root={figures}",
        "--",
        str(target),
    ]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)


def _files(root: Path) -> dict:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_a_second_workflow_on_the_same_output_root_is_refused_and_the_first_finishes(tmp_path):
    """Two ``snakemake -d`` folders, one absolute output_root; the first is paused (SIGSTOP to its
    whole process group, job included) while it holds the lock, so the second meets it mid-run."""
    root, figures = tmp_path / "shared results", tmp_path / "shared figures"
    target = root / "real" / "digits.npz"
    (root / "earlier").mkdir(parents=True)
    (root / "earlier" / "result.csv").write_text("an earlier result\n")
    first = _snakemake(tmp_path / "a", root, figures, target, start_new_session=True)
    lock = root / runlock.LOCK_NAME
    try:
        deadline = time.time() + 300
        while not lock.exists() and first.poll() is None and time.time() < deadline:
            time.sleep(0.05)
        os.killpg(first.pid, signal.SIGSTOP)
        assert lock.exists(), "the first run never took the lock"
        holder = json.loads(lock.read_text())
        assert holder["pid"] == first.pid and holder["cwd"] == str(tmp_path / "a")
        before = _files(root)

        second = _snakemake(tmp_path / "b", root, figures, target)
        out, _ = second.communicate(timeout=300)
        assert second.returncode != 0, out
        assert "Traceback" not in out
        lines = [line for line in out.splitlines() if "is in use by another workflow" in line]
        assert len(lines) == 1, out
        assert f"pid {first.pid}" in lines[0] and str(tmp_path / "a") in lines[0] and "delete" in lines[0]
        assert _files(root) == before, "the refused run must not touch the shared folder"
        assert not list((tmp_path / "b").glob(".snakemake/locks/*")), "the refused run released its own lock"
    finally:
        os.killpg(first.pid, signal.SIGCONT)
    out, _ = first.communicate(timeout=600)
    assert first.returncode == 0, out[-3000:]
    assert target.exists() and (root / "earlier" / "result.csv").read_text() == "an earlier result\n"
    assert not lock.exists() and not (figures / runlock.LOCK_NAME).exists(), "released when the run ended"


def test_a_dry_run_takes_no_lock(tmp_path):
    root = tmp_path / "results"
    holder = _holder(root)
    try:
        bindir = Path(sys.executable).parent
        env = dict(os.environ, PATH=f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}")
        proc = subprocess.run(
            [str(bindir / "snakemake"), "-n", "--cores", "1", "-s", str(REPO / "Snakefile"), "-d", str(tmp_path / "w"),
             "--configfile", str(REPO / "config/test.yaml"), "--config", f"output_root={root}",
             f"figures_root={tmp_path}/figures"],
            env=env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr[-2000:]
    finally:
        holder.stdin.close()
        holder.wait(timeout=60)
