"""Issue 19, categories 1 and 7: outputs go only to regular files, and refusals read as one clear line.

* A device node, FIFO or socket at an output path (or a link to one) is refused before any work,
  with one line naming the flag, the path and what it is; the node itself is unchanged (``--out
  /dev/null`` run as root used to replace /dev/null with a regular file).
* ``--out ""`` says the flag is empty (it used to say "--out . is a folder").
* A pickle that names code (``exec``, ``os.system``) is refused as such, even with ``trusted=True``,
  and nothing in it runs; a refused snapshot is one line without torch's colour codes.
* ``yoco.prune(dataset='CIFAR10')`` names the known datasets and the closest one.
* A full inode table is not called "disk full".

The contract of each case is that of tests/test_bad_input.py (docs/errors.md): exit status 2 and one
line on stderr (CLI) or a one-line YocoError (API), no traceback, nothing written.
"""

from __future__ import annotations

import errno
import os
import pickle
import re
import socket
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import yoco
from test_bad_input import _stderr_error_line, _tiny_set  # noqa: F401 - the shared one-line rule
from yoco.cli import main
from yoco.errors import YocoError

REPO = Path(__file__).resolve().parents[1]
ROOT = os.geteuid() == 0 if hasattr(os, "geteuid") else False


# ------------------------------------------------------------------------------------------- workspace
@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    """Digits at 8 px, a condensed and a decoded set: the inputs the output cases need."""
    from yoco.data import class_images, load_real
    from yoco.formation import mix_init

    d = tmp_path_factory.mktemp("io_cases")
    assert main(["data", "--dataset", "digits", "--image-size", "8", "--out", str(d / "digits.npz")]) == 0
    real = load_real("digits", npz=d / "digits.npz")
    torch.save([mix_init(class_images(real, 16), 4, 2), torch.arange(10).repeat_interleave(4)], d / "idc.pt")
    argv = ["import", "--format", "idc", "--path", str(d / "idc.pt"), "--dataset", "digits", "--factor", "2"]
    assert main([*argv, "--out", str(d / "condensed.pt")]) == 0
    assert main(["decode", "--condensed", str(d / "condensed.pt"), "--out", str(d / "decoded.pt")]) == 0
    return d


def _fifo(p: Path) -> Path:
    os.mkfifo(p)
    return p


def _chardev(p: Path) -> Path:
    if not ROOT:
        pytest.skip("making a device node needs root")
    os.mknod(p, 0o666 | stat.S_IFCHR, os.makedev(1, 3))  # the numbers of /dev/null
    return p


def _blockdev(p: Path) -> Path:
    if not ROOT:
        pytest.skip("making a device node needs root")
    os.mknod(p, 0o600 | stat.S_IFBLK, os.makedev(7, 200))  # a loop device number nothing uses
    return p


def _socket(p: Path) -> Path:
    if len(str(p)) > 100:
        pytest.skip("path too long for a unix socket")
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(p))
    s.close()  # the socket file stays
    return p


def _link_to(make):
    def run(p: Path) -> Path:
        target = make(p.with_name(p.name + ".target"))
        p.symlink_to(target)
        return p

    return run


# kind: (maker, the words the message must use)
SPECIAL = {
    "fifo": (_fifo, "FIFO"),
    "char-device": (_chardev, "character device"),
    "block-device": (_blockdev, "block device"),
    "socket": (_socket, "socket"),
    "link-to-fifo": (_link_to(_fifo), "a link to .*FIFO"),
    "link-to-char-device": (_link_to(_chardev), "a link to .*character device"),
}

# command line (formatted with d: workspace, out: the special path), the flag that must be named
D = "{d}"
COMMANDS = {
    "data": ("data --dataset digits --image-size 8 --out {out}", "--out"),
    "import": (f"import --format idc --path {D}/idc.pt --dataset digits --factor 2 --out {{out}}", "--out"),
    "decode": (f"decode --condensed {D}/condensed.pt --out {{out}}", "--out"),
    "prune": (
        f"prune --condensed {D}/condensed.pt --real {D}/digits.npz --key random --ipc-to 1 --epochs 1 --width 8 "
        "--device cpu --out {out}",
        "--out",
    ),
    "condense-out": (
        f"condense --real {D}/digits.npz --method idc --ipc 1 --factor 1 --outer 1 --device cpu --out {{out}}",
        "--out",
    ),
    "condense-snapshot": (
        f"condense --real {D}/digits.npz --method idc --ipc 1 --factor 1 --outer 1 --device cpu "
        f"--snapshot {{out}} --out {D}/never.pt",
        "--snapshot",
    ),
    "experts-out": (f"experts --real {D}/digits.npz --num-experts 1 --epochs 1 --device cpu --out {{out}}", "--out"),
    "experts-snapshot": (
        f"experts --real {D}/digits.npz --num-experts 1 --epochs 1 --device cpu --snapshot {{out}} --out {D}/never.pt",
        "--snapshot",
    ),
    "dynamics-out-dir": (
        f"dynamics --decoded {D}/decoded.pt --real {D}/digits.npz --reps 1 --width 8 --epochs 1 --device cpu "
        "--out-dir {out}",
        "--out-dir",
    ),
}


def _lstat_all(folder: Path) -> dict:
    """Every entry of ``folder``: what it is and which inode/device it names (devices are never read)."""
    out = {}
    for p in sorted(folder.iterdir()):
        st = p.lstat()
        digest = p.read_bytes() if stat.S_ISREG(st.st_mode) else None
        out[p.name] = (st.st_mode, st.st_ino, st.st_rdev, os.readlink(p) if p.is_symlink() else None, digest)
    return out


def _cli_refused(argv: list[str], capsys) -> str:
    try:
        rc = main(argv)
    except SystemExit as exc:
        rc = exc.code
    err = capsys.readouterr().err
    assert rc == 2, (argv, rc, err)
    assert "Traceback" not in err
    lines = _stderr_error_line(err)
    assert len(lines) == 1 and re.match(r"^yoco[ \w-]*: error: ", lines[0]), lines
    return lines[0]


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize("kind", sorted(SPECIAL))
def test_an_output_that_is_not_a_regular_file_is_refused_before_any_work(command, kind, ws, tmp_path, capsys):
    make, words = SPECIAL[kind]
    template, flag = COMMANDS[command]
    place = tmp_path / "place"
    place.mkdir()
    special = make(place / "out.bin")
    before, ws_before = _lstat_all(place), _lstat_all(ws)
    argv = [a.replace("{d}", str(ws)).replace("{out}", str(special)) for a in template.split()]
    line = _cli_refused(argv, capsys)
    assert f"{flag} {special}" in line, line
    fix = (
        ("not a folder", "give a folder") if flag == "--out-dir" else ("not a regular file", "give the path of a file")
    )
    assert re.search(words, line) and all(f in line for f in fix), line
    assert _lstat_all(place) == before, "the node (and the link) must be unchanged, and nothing written beside it"
    assert _lstat_all(ws) == ws_before


@pytest.mark.parametrize("kind", ["fifo", "char-device", "socket"])
def test_a_special_file_among_the_dynamics_outputs_is_refused_before_training(kind, ws, tmp_path, capsys):
    out = tmp_path / "dyn"
    out.mkdir()
    SPECIAL[kind][0](out / "rep2.model.pt")
    before = _lstat_all(out)
    argv = "dynamics --decoded {d}/decoded.pt --real {d}/digits.npz --reps 2 --width 8 --epochs 1 --device cpu"
    line = _cli_refused([a.replace("{d}", str(ws)) for a in argv.split()] + ["--out-dir", str(out)], capsys)
    assert "rep2.model.pt" in line and "not a regular file" in line
    assert _lstat_all(out) == before


EMPTY = [
    ("data --dataset digits --image-size 8 --out", "--out"),
    ("decode --condensed {d}/condensed.pt --out", "--out"),
    ("import --format idc --path {d}/idc.pt --dataset digits --factor 2 --out", "--out"),
    ("dynamics --decoded {d}/decoded.pt --real {d}/digits.npz --reps 1 --device cpu --out-dir", "--out-dir"),
    ("experts --real {d}/digits.npz --num-experts 1 --device cpu --out {d}/never.pt --snapshot", "--snapshot"),
    (
        "condense --real {d}/digits.npz --method idc --ipc 1 --factor 1 --device cpu --out {d}/never.pt --snapshot",
        "--snapshot",
    ),
]


@pytest.mark.parametrize("value", ["", " "], ids=["empty", "blank"])
@pytest.mark.parametrize("template, flag", EMPTY, ids=[e[0].split()[0] + e[1] for e in EMPTY])
def test_an_empty_output_path_is_called_empty(template, flag, value, ws, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # "" used to become "." (this folder): nothing may appear here
    before = _lstat_all(ws)
    line = _cli_refused([a.replace("{d}", str(ws)) for a in template.split()] + [value], capsys)
    assert f"{flag} is empty" in line and "e.g." in line, line
    assert "is a folder" not in line and " . " not in line, line
    assert list(tmp_path.iterdir()) == [] and _lstat_all(ws) == before


# ------------------------------------------------------------------------------------------- API writers
WRITERS = {
    "write_json": lambda p: __import__("yoco.io", fromlist=["write_json"]).write_json({"a": 1}, p),
    "CondensedSet.save": lambda p: _tiny_set().save(p),
    "Dynamics.save": lambda p: yoco.Dynamics.from_probs(np.full((2, 4, 2), 0.5), np.array([0, 0, 1, 1])).save(p),
}


@pytest.mark.parametrize("writer", sorted(WRITERS))
@pytest.mark.parametrize("kind", ["fifo", "char-device", "socket", "link-to-fifo"])
def test_library_writers_refuse_a_path_that_is_not_a_regular_file(writer, kind, tmp_path):
    special = SPECIAL[kind][0](tmp_path / "out.bin")
    before = _lstat_all(tmp_path)
    with pytest.raises(YocoError) as info:
        WRITERS[writer](special)
    message = str(info.value)
    assert "\n" not in message and f"could not write {special}" in message and "not a regular file" in message
    assert re.search(SPECIAL[kind][1], message), message
    assert _lstat_all(tmp_path) == before


def test_a_fifo_made_while_the_output_is_written_is_not_replaced(tmp_path):
    """The last guard: the check just before the rename, for a node that appeared meanwhile."""
    from yoco.io import atomic_path

    path = tmp_path / "out.json"
    with pytest.raises(YocoError, match="FIFO"):
        with atomic_path(path) as tmp:
            tmp.write_text("{}")
            os.mkfifo(path)
    assert stat.S_ISFIFO(path.lstat().st_mode)
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]  # no temporary file left


def test_through_a_link_to_a_regular_file_the_target_is_written_and_the_link_kept(tmp_path):
    from yoco.io import check_output, write_json

    target = tmp_path / "real.json"
    target.write_text("old")
    link = tmp_path / "link.json"
    link.symlink_to(target)
    check_output(link)
    write_json({"a": 1}, link)
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert target.read_text().strip().startswith("{") and '"a": 1' in target.read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.json", "real.json"]


# ------------------------------------------------------------------------------------------- full disks
STATVFS = os.statvfs_result((4096, 4096, 1000, 500, 500, 100, 0, 0, 0, 255))  # bytes free, no inodes free
STATVFS_INODES = os.statvfs_result((4096, 4096, 1000, 500, 500, 100, 50, 50, 0, 255))
STATVFS_NO_LIMIT = os.statvfs_result((4096, 4096, 1000, 500, 500, 0, 0, 0, 0, 255))  # btrfs-style f_files 0


@pytest.mark.parametrize(
    "error, vfs, expect, absent",
    [
        (errno.ENOSPC, STATVFS, ("no free inodes", "df -i", "delete files"), ("disk full",)),
        (errno.EDQUOT, STATVFS, ("no free inodes",), ("disk full",)),
        (errno.ENOSPC, STATVFS_INODES, ("disk full", "free space"), ("inode",)),
        (errno.ENOSPC, STATVFS_NO_LIMIT, ("disk full",), ("inode",)),
        (errno.EDQUOT, STATVFS_INODES, ("quota exceeded",), ("inode", "disk full")),
        (None, STATVFS, ("no free inodes",), ("disk full",)),  # torch's zip writer: RuntimeError, no errno
    ],
    ids=["enospc-no-inodes", "edquot-no-inodes", "enospc-bytes", "enospc-no-inode-limit", "quota", "torch-short-write"],
)
def test_a_full_inode_table_is_not_called_a_full_disk(error, vfs, expect, absent, tmp_path, monkeypatch):
    def full(obj, path, *args, **kwargs):
        Path(path).write_bytes(b"partial")
        if error is None:
            raise RuntimeError("[enforce fail at inline_container.cc:626] . unexpected pos 64 vs 0")
        raise OSError(error, os.strerror(error))

    monkeypatch.setattr(torch, "save", full)
    monkeypatch.setattr(os, "statvfs", lambda path: vfs)
    with pytest.raises(YocoError) as info:
        _tiny_set().save(tmp_path / "set.pt")
    message = str(info.value)
    assert "\n" not in message and f"could not write {tmp_path / 'set.pt'}" in message
    message = message.replace(str(tmp_path), "")  # the test's own folder name says "inode"
    for word in expect:
        assert word in message, message
    for word in absent:
        assert word not in message, message
    assert list(tmp_path.iterdir()) == []


def test_the_output_check_names_exhausted_inodes_before_any_work(tmp_path, monkeypatch, capsys):
    real_open = os.open

    def no_inode(path, flags, *args):
        if ".yoco-write-test." in str(path):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_open(path, flags, *args)

    monkeypatch.setattr(os, "open", no_inode)
    monkeypatch.setattr(os, "statvfs", lambda path: STATVFS)
    line = _cli_refused(["data", "--dataset", "digits", "--image-size", "8", "--out", str(tmp_path / "d.npz")], capsys)
    assert "no free inodes" in line and "disk full" not in line
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------------------------------- unsafe pickles
class _Call:
    """Pickles as a call of ``fn(*args)``: what a malicious file does."""

    def __init__(self, fn, *args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return self.fn, self.args


def _marker_code(marker: Path) -> str:
    return f"open({str(marker)!r}, 'w').write('ran')"


def _raw_pickle(payload):
    def make(p: Path):
        p.write_bytes(pickle.dumps(payload, protocol=4))

    return make


def _torch_pickle(payload):
    def make(p: Path):
        torch.save(payload, p)

    return make


def _payloads(marker: Path):
    code = _marker_code(marker)
    return {
        "raw-exec": _raw_pickle(_Call(exec, code)),  # the example: a pickle of builtins.exec only
        "raw-eval": _raw_pickle(_Call(eval, code)),
        "torch-exec": _torch_pickle(_Call(exec, code)),
        "torch-os-system": _torch_pickle(_Call(os.system, f"touch {marker}")),
        "torch-subprocess": _torch_pickle(_Call(subprocess.call, ["touch", str(marker)])),
        "torch-exec-in-a-list": _torch_pickle([torch.zeros(2), _Call(exec, code)]),
        "raw-import": _raw_pickle(_Call(__import__, "os")),
        "raw-getattr": _raw_pickle(_Call(getattr, "text", "upper")),
    }


PAYLOADS = sorted(_payloads(Path("x")))


def _loaders(tmp):
    from yoco.condense.experts import Experts
    from yoco.condense.state import load_snapshot

    return {
        "load_condensed": lambda p: yoco.load_condensed(p, "idc", "cifar10", factor=2),
        "load_condensed-trusted": lambda p: yoco.load_condensed(p, "idc", "cifar10", factor=2, trusted=True),
        "condensation-snapshot": lambda p: load_snapshot(p, {}, {}),
        "expert-file": lambda p: Experts.load(p),
    }


@pytest.mark.parametrize("loader", ["load_condensed", "load_condensed-trusted", "condensation-snapshot", "expert-file"])
@pytest.mark.parametrize("payload", PAYLOADS)
def test_a_pickle_of_code_is_refused_as_code_and_nothing_runs(payload, loader, tmp_path):
    marker = tmp_path / "RAN"
    path = tmp_path / "set.pt"
    _payloads(marker)[payload](path)
    with pytest.raises(YocoError) as info:
        _loaders(tmp_path)[loader](path)
    message = str(info.value)
    assert "\n" not in message and str(path) in message
    assert "holds code that would run" in message and "refuses it" in message, message
    assert "If you trust" not in message, "a file of code must not be offered trusted=True"
    assert not marker.exists(), "the payload ran"


@pytest.mark.parametrize("payload", ["raw-exec", "torch-os-system"])
@pytest.mark.parametrize("allow", [False, True], ids=["safe", "allow-unsafe"])
def test_yoco_import_refuses_a_pickle_of_code_even_when_allowed(payload, allow, tmp_path, capsys):
    marker = tmp_path / "RAN"
    path = tmp_path / "data.pt"
    _payloads(marker)[payload](path)
    argv = ["import", "--format", "idc", "--path", str(path), "--dataset", "cifar10", "--factor", "2"]
    line = _cli_refused(
        [*argv, *(["--allow-unsafe-unpickling"] if allow else []), "--out", str(tmp_path / "o.pt")], capsys
    )
    assert "holds code" in line and "trusted" not in line.split("refuses")[0]
    assert not marker.exists() and not (tmp_path / "o.pt").exists()


def test_a_file_of_numpy_arrays_still_gets_the_trust_hint(tmp_path):
    """Not code, just objects other than tensors: the user may trust it (docs/errors.md)."""
    path = tmp_path / "numpy.pt"
    torch.save([np.zeros((4, 3, 8, 8), np.float32), np.arange(4) // 2], path)
    with pytest.raises(YocoError, match="trusted=True"):
        yoco.load_condensed(path, "idc", "cifar10", factor=2)


# A refused snapshot: torch's refusal of a file of numpy objects spans paragraphs and colours its advice.
SNAPSHOTS = {
    "numpy-objects": lambda p: torch.save({"format": "yoco-condense-snapshot", "x": np.zeros(3)}, p),
    "random-bytes": lambda p: p.write_bytes(np.random.default_rng(0).bytes(3000)),
    "truncated": lambda p: p.write_bytes(_zip_bytes()[:500]),
    "empty": lambda p: p.write_bytes(b""),
    "a-fifo": lambda p: os.mkfifo(p),
}


def _zip_bytes():
    import io

    buf = io.BytesIO()
    torch.save({"format": "yoco-condense-snapshot", "x": torch.zeros(100)}, buf)
    return buf.getvalue()


@pytest.mark.parametrize("kind", sorted(SNAPSHOTS))
@pytest.mark.parametrize("loader", ["condensation-snapshot", "expert-file"])
def test_a_refused_snapshot_is_one_clean_line(kind, loader, tmp_path):
    path = tmp_path / "snap.pt"
    SNAPSHOTS[kind](path)
    with pytest.raises(YocoError) as info:
        _loaders(tmp_path)[loader](path)
    message = str(info.value)
    assert "\n" not in message and "\x1b" not in message and len(message) < 450, message
    assert str(path) in message and ("delete it" in message or "write it again" in message or "regular file" in message)
    assert "weights_only" not in message and "WeightsUnpickler" not in message, message


def test_a_refused_snapshot_through_the_cli_is_one_line(ws, tmp_path, capsys):
    snap = tmp_path / "snap.pt"
    SNAPSHOTS["numpy-objects"](snap)
    argv = "experts --real {d}/digits.npz --num-experts 1 --epochs 1 --width 8 --device cpu --snapshot"
    line = _cli_refused(
        [a.replace("{d}", str(ws)) for a in argv.split()] + [str(snap), "--out", str(tmp_path / "e.pt")], capsys
    )
    assert str(snap) in line and "write it again" in line and "\x1b" not in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["snap.pt"]


def test_no_traceback_or_colour_reaches_a_real_process(ws, tmp_path):
    fifo = _fifo(tmp_path / "fifo")
    snap = tmp_path / "snap.pt"
    SNAPSHOTS["numpy-objects"](snap)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    for argv in (
        ["decode", "--condensed", f"{ws}/condensed.pt", "--out", str(fifo)],
        [
            "experts",
            "--real",
            f"{ws}/digits.npz",
            "--num-experts",
            "1",
            "--epochs",
            "1",
            "--width",
            "8",
            "--device",
            "cpu",
            "--snapshot",
            str(snap),
            "--out",
            str(tmp_path / "e.pt"),
        ],
    ):
        proc = subprocess.run(
            [sys.executable, "-m", "yoco", *argv], capture_output=True, text=True, env=env, timeout=300
        )
        assert proc.returncode == 2 and "Traceback" not in proc.stderr and "\x1b" not in proc.stderr, proc.stderr
        assert len(_stderr_error_line(proc.stderr)) == 1, proc.stderr
    assert stat.S_ISFIFO(fifo.lstat().st_mode)


# ------------------------------------------------------------------------------------------- prune(dataset=)
@pytest.mark.parametrize(
    "name, guess",
    [
        ("CIFAR10", "cifar10"),
        ("cifar-10", "cifar10"),
        ("Digits", "digits"),
        ("CIFAR100", "cifar100"),
        ("imagenet", "imagenet10"),
        ("mnist", None),
        ("svhn", None),
    ],
)
def test_prune_names_the_known_datasets_and_the_closest(name, guess):
    images = torch.rand(4, 3, 8, 8)
    with pytest.raises(YocoError) as info:
        yoco.prune(images, torch.tensor([0, 0, 1, 1]), ipc_to=1, factor=1, epochs=1, width=8, dataset=name)
    message = str(info.value)
    assert "\n" not in message
    assert f"no normalisation is known for dataset {name!r}" in message
    assert "Known datasets: cifar10, cifar100, digits, imagenet10" in message and "mean= and std=" in message
    assert (f"Did you mean {guess!r}?" in message) if guess else ("Did you mean" not in message)
    assert ")s" not in message  # the old message pluralised a whole phrase
