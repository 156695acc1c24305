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


def _cause(exc: BaseException, folder: Path) -> str:
    if isinstance(exc, OSError) and exc.errno in _CAUSES:
        return _CAUSES[exc.errno]
    if isinstance(exc, OSError):
        return exc.strerror or str(exc)
    # torch's zip writer reports a short write as a RuntimeError ("unexpected pos N vs M"): find out why.
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        free = None
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
    return YocoError(
        f"could not write {path}: {_cause(exc, _existing_ancestor(path))}; free space or "
        "choose another output location, then rerun"
    )


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
    path = Path(path)
    if str(path) == "":
        raise YocoError(f"{flag} is empty; give the file to write, e.g. {flag} results/out.csv")
    if path.is_dir():
        raise YocoError(f"{flag} {path} is a folder; give a file name inside it, e.g. {flag} {path / 'out'}")
    folder = Path(os.path.abspath(path)).parent
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
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise YocoError(f"{flag} {path} is a file, not a folder; give a folder (it is created if missing)")
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
    """
    path = Path(path)
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
