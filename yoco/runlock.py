"""One workflow at a time per output folder.

Snakemake locks its working directory (``.snakemake/locks``), not the folders it writes: two runs
started from different folders (``snakemake -d``) on one absolute ``output_root`` run the same jobs on
the same files, and a run that is stopped deletes a shared file as "output of a failed job". So the
Snakefile locks ``output_root`` (and ``figures_root``) itself, in ``onstart`` (only runs that execute
jobs: not dry runs, ``--lint`` or ``--report``), and releases the lock in ``onsuccess``/``onerror``.

The lock is ``ROOT/.yoco-workflow.lock``, created by the run that holds it and deleted when it ends.
While held it is also ``flock``-ed by the Snakemake process, and the kernel drops that lock when the
process ends however it ends (``kill -9`` too): a file left behind by a dead run is then taken over
automatically, and the run says so. Where the file system has no ``flock`` (some cluster file systems),
the file alone decides: a leftover from a dead process on this host is taken over; one from another
host is refused with the instruction to delete it once that run is known to be gone. The file records
the holder (pid, host, folder, start time, command) for the message a refused run prints.
"""

from __future__ import annotations

import errno
import json
import os
import socket
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from .errors import YocoError

LOCK_NAME = ".yoco-workflow.lock"

# flock(2) is not offered by every file system (Lustre without -o flock, some NFS set-ups).
_NO_FLOCK = {errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL}


@dataclass
class RootLock:
    """A held lock: the file, its descriptor (kept open while held) and whether flock backs it."""

    path: Path
    fd: int
    flocked: bool
    record: dict
    notes: list[str] = field(default_factory=list)


def _record(command: str) -> dict:
    return {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "cwd": os.getcwd(),
        "started": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "command": command,
    }


def _read(fd: int) -> dict | None:
    os.lseek(fd, 0, os.SEEK_SET)
    text = b""
    while chunk := os.read(fd, 65536):
        text += chunk
    if not text.strip():
        return None
    try:
        data = json.loads(text)
        return data if isinstance(data, dict) else {}
    except ValueError:
        return {}


def _alive(pid) -> bool:
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, ValueError, TypeError, OverflowError):
        return True  # someone else's process, or a record we cannot read: assume it runs
    return True


def _who(holder: dict | None) -> str:
    if not holder:
        return "another run (it recorded nothing yet)"
    return (
        f"pid {holder.get('pid', '?')} on host {holder.get('host', '?')}, started {holder.get('started', '?')} "
        f"in {holder.get('cwd', '?')} ({holder.get('command', '?')})"
    )


def _refusal(root: str, path: Path, holder: dict | None, flocked: bool) -> YocoError:
    here = holder and holder.get("host") == socket.gethostname()
    wait = f"Wait for it to finish (or stop it: kill {holder.get('pid')})" if here else "Wait for it to finish"
    stale = (
        f"if that run is gone (say its machine crashed), delete {path} and start again"
        if flocked
        else f"if no such process runs any more, delete {path} and start again"
    )
    return YocoError(
        f"output folder {root} is in use by another workflow: {_who(holder)}; two runs on one folder would "
        f"overwrite and delete each other's files. {wait}, or give this run another output_root/figures_root; "
        f"{stale}"
    )


def acquire(root: str | os.PathLike, command: str = "") -> RootLock:
    """Lock ``root`` for this process, or raise :class:`YocoError` naming the run that holds it."""
    root = str(root)
    Path(root).mkdir(parents=True, exist_ok=True)
    path = Path(root) / LOCK_NAME
    for _ in range(100):
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        flocked = True
        try:
            import fcntl

            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read(fd)
            os.close(fd)
            raise _refusal(root, path, holder, True) from None
        except (ImportError, OSError) as exc:
            if isinstance(exc, OSError) and exc.errno not in _NO_FLOCK:
                os.close(fd)
                raise YocoError(f"cannot lock {path} ({exc.strerror}); check that {root} is writable") from None
            flocked = False
        # The holder before us may have deleted the file between our open and our flock: then we
        # locked a file nobody else will look at, so start again on the one now at the path.
        try:
            same = os.path.samestat(os.fstat(fd), os.stat(path))
        except FileNotFoundError:
            same = False
        if not same:
            os.close(fd)
            continue
        notes = []
        holder = _read(fd)
        if holder is not None and holder.get("pid") != os.getpid():
            if not flocked and not (holder.get("host") == socket.gethostname() and not _alive(holder.get("pid"))):
                os.close(fd)
                raise _refusal(root, path, holder, False)
            notes.append(f"took over the lock of {root} left by a run that ended without releasing it: {_who(holder)}")
        record = _record(command)
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, (json.dumps(record) + "\n").encode())
        os.fsync(fd)
        return RootLock(path, fd, flocked, record, notes)
    raise YocoError(f"could not lock {path}: it keeps being replaced; is another workflow starting on {root}?")


def release(lock: RootLock) -> None:
    """Delete the lock file (when it is still ours) and drop the lock; safe to call twice."""
    if lock.fd < 0:
        return
    try:
        if os.path.samestat(os.fstat(lock.fd), os.stat(lock.path)):
            os.unlink(lock.path)  # while still flock-ed, so no one can lock the file being deleted
    except OSError:
        pass
    os.close(lock.fd)
    lock.fd = -1


def acquire_roots(roots, command: str = "") -> list[RootLock]:
    """Lock each distinct folder of ``roots``; on a refusal, release those already taken and raise."""
    held: list[RootLock] = []
    seen: set[str] = set()
    try:
        for root in roots:
            key = os.path.realpath(str(root))
            if key in seen:
                continue
            seen.add(key)
            held.append(acquire(root, command))
    except BaseException:
        release_all(held)
        raise
    return held


def release_all(locks: list[RootLock]) -> None:
    for lock in locks:
        release(lock)


def command_line() -> str:
    return " ".join(os.path.basename(a) if i == 0 else a for i, a in enumerate(sys.argv))
