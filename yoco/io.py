"""File writing that never leaves a half-written output behind, and checks of where outputs go.

Every command checks its output location (:func:`check_output`) before it does any work, so a
mistyped ``--out`` costs seconds, not a training run; the write itself (:func:`atomic_path`) turns
every failure (disk full, read-only place, a folder in the way) into one :class:`YocoError` that
names the path and the cause.
"""

from __future__ import annotations

import errno
import json
import os
import secrets
import shutil
import stat
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from .errors import YocoError

# Below this much free space a failed write is reported as a full disk.
_LOW_SPACE_BYTES = 64 << 20

_CAUSES = {
    errno.ENOSPC: "no space left on the device (disk full)",
    errno.EDQUOT: "disk quota exceeded",
    errno.EFBIG: "file too large for this file system or for the file-size limit (ulimit -f)",
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.EISDIR: "it is a folder",
    errno.ENOTDIR: "a parent in the path is a file, not a folder",
    errno.ENAMETOOLONG: "the file name is too long",
}


def _no_inodes(folder: Path) -> bool:
    """Whether the file system holding ``folder`` has no file entries (inodes) left for new files."""
    try:
        st = os.statvfs(folder)
    except (OSError, AttributeError):
        return False
    # Some file systems (btrfs, many network ones) report f_files == 0: they have no inode limit.
    return st.f_files > 0 and st.f_favail == 0


# ENOSPC is also what the kernel says when the file system has bytes left but no inodes: "disk
# full" would send the user to free space that is already free.
_NO_INODES = "no free inodes left on the device (the file system can hold no more files; see `df -i`)"


def _cause(exc: BaseException, folder: Path) -> str:
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT) and _no_inodes(folder):
        return _NO_INODES
    if isinstance(exc, OSError) and exc.errno in _CAUSES:
        return _CAUSES[exc.errno]
    if isinstance(exc, OSError):
        return exc.strerror or str(exc)
    # torch's zip writer reports a short write as a RuntimeError ("unexpected pos N vs M"): find out why.
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        free = None
    if _no_inodes(folder):
        return _NO_INODES
    if free is not None and free < _LOW_SPACE_BYTES:
        return f"no space left on the device (disk full: {free // 1024} KiB free)"
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_FSIZE)
        if soft != resource.RLIM_INFINITY:
            return f"the file-size limit (ulimit -f, {soft} bytes) was reached"
    except (ImportError, OSError, ValueError):
        pass
    detail = " ".join(str(exc).split())[:200]
    return f"the write failed ({detail})"


def write_error(path: str | os.PathLike, exc: BaseException) -> YocoError:
    """One message for a failed write: the path, the cause and what to do."""
    path = Path(path)
    cause = _cause(exc, _existing_ancestor(path))
    fix = "delete files there" if cause == _NO_INODES else "free space"
    return YocoError(f"could not write {path}: {cause}; {fix} or choose another output location, then rerun")


_KINDS = (
    (stat.S_ISCHR, "character device"),
    (stat.S_ISBLK, "block device"),
    (stat.S_ISFIFO, "FIFO (named pipe)"),
    (stat.S_ISSOCK, "socket"),
)


def special_kind(path: Path) -> str | None:
    """What ``path`` is when it exists and is neither a regular file nor a folder (symlinks followed)."""
    try:
        mode = os.stat(path).st_mode
    except OSError:  # missing, a dangling link, or unreadable: the write itself will say
        return None
    return next((name for test, name in _KINDS if test(mode)), None)


def _refuse_special(path: Path, flag: str | None) -> None:
    """Refuse to write at a device, FIFO or socket (or a link to one).

    The atomic write renames a new file onto the path, which would replace the device node itself
    (as root, ``--out /dev/null`` would destroy /dev/null); writing into it instead would not be
    atomic and a FIFO would block. So outputs go to regular files only.
    """
    kind = special_kind(path)
    if kind is None:
        return
    link = f" (a link to {os.path.realpath(path)})" if os.path.islink(path) else ""
    what = f"{flag} {path}{link} is" if flag else f"could not write {path}: it{link} is"
    example = f", e.g. {flag} results/out" if flag else ""
    raise YocoError(
        f"{what} a {kind}, not a regular file; yoco writes outputs only to regular files (replacing it "
        f"would destroy the {kind.split(' (')[0]}): give the path of a file to create{example}"
    )


def _blank(path) -> bool:
    return isinstance(path, (str, bytes)) and not path.strip()


def _existing_ancestor(path: Path) -> Path:
    p = Path(os.path.abspath(path)).parent
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


def check_output(path: str | os.PathLike, flag: str = "--out") -> Path:
    """Raise :class:`YocoError` unless a file can be written at ``path``; touch nothing.

    Checked: ``path`` is not a folder; no parent is a file; the nearest existing folder accepts a
    new file (probed by creating and deleting one, which also catches read-only mounts and root's
    own limits that ``os.access`` does not see).
    """
    # Path("") is "." (the current folder): test the string as given.
    if _blank(path):
        raise YocoError(f"{flag} is empty; give the file to write, e.g. {flag} results/out.csv")
    path = Path(path)
    _refuse_special(path, flag)
    if path.is_dir():
        raise YocoError(f"{flag} {path} is a folder; give a file name inside it, e.g. {flag} {path / 'out'}")
    # Through a link the file is written where the link points (as open() would).
    folder = Path(os.path.realpath(path)).parent
    while not folder.exists():
        if folder == folder.parent:
            break
        folder = folder.parent
    if not folder.is_dir():
        raise YocoError(
            f"{flag} {path}: {folder} is a file, not a folder; choose an output path whose parents are folders"
        )
    _probe(folder, path, flag)
    return path


def check_output_dir(path: str | os.PathLike, flag: str = "--out-dir") -> Path:
    """Like :func:`check_output`, for a folder that will receive several files."""
    if _blank(path):
        raise YocoError(f"{flag} is empty; give the folder to write into, e.g. {flag} results/out")
    path = Path(path)
    if path.exists() and not path.is_dir():
        kind = special_kind(path) or "file"
        link = f" (a link to {os.path.realpath(path)})" if os.path.islink(path) else ""
        raise YocoError(f"{flag} {path}{link} is a {kind}, not a folder; give a folder (it is created if missing)")
    probe_target = path / ".probe"
    check_output(probe_target, flag)
    return path


def _probe(folder: Path, path: Path, flag: str) -> None:
    probe = folder / f".yoco-write-test.{secrets.token_hex(4)}"
    try:
        fd = os.open(probe, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except OSError as exc:
        raise YocoError(
            f"{flag} {path}: cannot create files in {folder} ({_cause(exc, folder)}); choose a writable output location"
        ) from None
    os.close(fd)
    os.unlink(probe)


def same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """Whether two paths name the same existing file."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def file_key(path: str | os.PathLike):
    """What makes two paths the same file: device and inode when it exists (links, ``./a`` vs ``a``),
    else the normalised absolute path."""
    try:
        st = os.stat(path)
        return (st.st_dev, st.st_ino)
    except (OSError, ValueError):
        return os.path.abspath(path)


def require_file(path: str | os.PathLike, what: str, how_to_make: str) -> Path:
    """``path`` as a Path if it is an existing file; otherwise a YocoError naming what it should be."""
    path = Path(path)
    if path.is_dir():
        raise YocoError(f"{what} {path} is a folder, not a file; pass the file itself ({how_to_make})")
    if not path.exists():
        raise YocoError(f"{what} {path} does not exist; {how_to_make}")
    return path


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only if the block succeeds.

    An interrupted job therefore leaves either the old file or none, never a truncated one, and
    Snakemake reruns exactly the unfinished jobs. The file gets the mode a plain ``open()`` would
    give (``0o666`` less the umask), so collaborators can read a shared results folder. A failed
    write (disk full, read-only place, a folder at ``path``) raises one :class:`YocoError` naming
    the path and the cause; the old file, if any, is left untouched.

    Only a regular file (or nothing) is ever replaced: a device, FIFO or socket at ``path`` is refused
    before and again just before the rename. Through a symbolic link, the file it points to is
    written and the link kept.
    """
    if _blank(path):
        raise YocoError("the output path is empty; give the file to write")
    path = Path(path)
    _refuse_special(path, None)
    if path.is_symlink():
        path = Path(os.path.realpath(path))
    if path.is_dir():
        raise write_error(path, IsADirectoryError(errno.EISDIR, "Is a directory"))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp_path = path.parent / f".{path.name}.{secrets.token_hex(4)}.tmp{''.join(path.suffixes)}"
        fd = os.open(tmp_path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666)
    except (FileExistsError, NotADirectoryError) as exc:
        raise write_error(path, OSError(errno.ENOTDIR, str(exc))) from None
    except OSError as exc:
        raise write_error(path, exc) from None
    # Created by os.open with 0o666, so the umask applies (mkstemp would force 0o600); writers
    # truncate and reuse this file, keeping its mode.
    os.close(fd)
    try:
        try:
            yield tmp_path
            _refuse_special(path, None)  # a FIFO or device may have appeared while the output was made
            os.replace(tmp_path, path)
        except YocoError:
            raise
        except (OSError, RuntimeError) as exc:
            raise write_error(path, exc) from None
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_json(obj, path: str | os.PathLike) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=1, sort_keys=True) + "\n")
    return Path(path)


def write_csv(frame, path: str | os.PathLike) -> Path:
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)
    return Path(path)
