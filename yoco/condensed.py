"""Condensed datasets: one in-memory form, readers for the original file formats, one canonical file.

Every condenser publishes its own on-disk layout (reference-spec §1.1). :func:`load_condensed` reads
each of them into a :class:`CondensedSet` (float32 images ``[C*ipc, 3, h, w]``, class-major int64
labels, ``ipc``, multi-formation ``factor``, the ``value_space`` the pixels live in, and provenance),
which is then saved in one canonical format (:meth:`CondensedSet.save`). Downstream code never
sees the original formats.

Value spaces:

* ``pixel01``: un-normalised pixels, about [0, 1] (IDC, DREAM; IDC's saved tensors may slightly
  exceed [0, 1] because it clamps only at the start of each outer iteration, reference-spec §6.1);
* ``normalized``: already CIFAR-normalised (MTT without ZCA, DSA);
* ``zca``: ZCA-whitened (KIP, MTT with ``--zca``).
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from . import formation as _decode
from .augment import normalize
from .io import atomic_path
from .errors import YocoError, unknown_choice

VALUE_SPACES = ("pixel01", "normalized", "zca")
FORMATS = ("idc", "dream", "mtt", "dsa", "kip", "canonical")

# pixel01 sets may overshoot [0, 1] a little (see module docstring); beyond this they are not pixels.
PIXEL01_TOLERANCE = 0.1

# Smallest patch side a multi-formation factor may leave: below it a "patch" is a few pixels, never an
# image (CIFAR 32 px, f=2: 16; the 8-px digits of the CI configs, f=2: 4).
MIN_PATCH_SIDE = 4

# Multi-formation factor of the published IDC/DREAM sets (reference-spec §1.1).
DEFAULT_FACTOR = {"cifar10": 2, "cifar100": 2, "imagenet10": 3}

# Where the reference code expects each released file, relative to its raid/condensed_img/ folder.
REFERENCE_LAYOUT = {
    "idc": "idc/{dataset}/conv3in_grad_mse_nd2000_cut_niter2000_factor2_lr0.005_mix_ipc{ipc}/data.pt "
    "(ImageNet-10: idc/imagenet10/resnet10apin_grad_l1_ely10_nd500_cut_factor3_mix_ipc{ipc}/data.pt), "
    "a list [images (C*ipc, 3, h, w) in [0, 1], targets (C*ipc,)]",
    "dream": "dream/{dataset}/ipc{ipc}/data.pt, a list [images (C*ipc, 3, h, w) in [0, 1], targets (C*ipc,)]",
    "mtt": "mtt/ConvNet_baseline/images_best.pt with labels_best.pt beside it (pass the folder or the images "
    "file; a prefix such as mtt_images_best.pt + mtt_labels_best.pt works too)",
    "dsa": "dsa/res_DSA_CIFAR10_ConvNet_ipc10/data.pt, a dict {'data': [[images, labels] per experiment], ...}",
    "kip": "kip/kip_ipc10/data.pt, a pair (images NHWC (N, 32, 32, 3), labels one-hot (N, 10))",
    "canonical": "a file written by CondensedSet.save (e.g. by `yoco condense`)",
}

_CANONICAL_TAG = "yoco-condensed-set"
_CANONICAL_VERSION = 1


@dataclass
class CondensedSet:
    """A condensed dataset as stored (not decoded).

    Attributes
    ----------
    images : Tensor float32 [C*ipc, 3, h, w]
        Stored images, class-major.
    labels : Tensor int64 [C*ipc]
        ``labels[c*ipc:(c+1)*ipc] == c``.
    ipc : int
        Stored images per class (IPC_F).
    factor : int
        Multi-formation factor ``f``: each stored image decodes into ``f**2`` patches
        (:func:`yoco.formation.decode`). 1 for sets without multi-formation.
    value_space : {"pixel01", "normalized", "zca"}
        What the pixel values mean (see the module docstring).
    dataset : str
        Real dataset the set was condensed from (``cifar10``, ...).
    condenser : str
        ``idc``, ``dream``, ``mtt``, ``dsa``, ``kip`` or an in-house name.
    provenance : dict
        ``format``, ``source`` (path read), ``sha256`` (of that file) and format-specific entries.
    """

    images: torch.Tensor
    labels: torch.Tensor
    ipc: int
    factor: int
    value_space: str
    dataset: str
    condenser: str
    provenance: dict = field(default_factory=dict)

    @property
    def num_classes(self) -> int:
        return len(self.labels) // self.ipc if self.ipc else 0

    @property
    def num_decoded(self) -> int:
        """Size ``N_F = C*ipc*f**2`` of the decoded set that scores and selections index."""
        return len(self.labels) * self.factor * self.factor

    def decoded(self) -> torch.Tensor:
        """The decoded patches in this set's value space (pixel01 sets only when ``factor > 1``)."""
        return _decode.decode(self.images, self.ipc, self.factor)

    def decoded_labels(self) -> torch.Tensor:
        """Labels of :meth:`decoded`, int64, on the images' device."""
        labels = _decode.decoded_labels(self.num_classes, self.ipc, self.factor)
        return torch.as_tensor(labels, device=self.images.device)

    def validate(self) -> "CondensedSet":
        """Raise :class:`YocoError` with a fix hint unless the set is well formed; return ``self``."""
        x, y = self.images, self.labels
        if not isinstance(x, torch.Tensor) or not isinstance(y, torch.Tensor):
            raise YocoError("images and labels must be torch tensors.")
        if x.dim() != 4:
            raise YocoError(
                f"condensed images must be 4-D [C*ipc, 3, h, w], got shape {tuple(x.shape)}; "
                "KIP-style channels-last images must be permuted with images.permute(0, 3, 1, 2)."
            )
        if x.shape[1] != 3 and x.shape[-1] == 3:
            raise YocoError(
                f"condensed images are channels-last (NHWC, shape {tuple(x.shape)}); the layout is "
                "[C*ipc, 3, h, w]: permute them with images.permute(0, 3, 1, 2)."
            )
        if x.shape[1] != 3:
            raise YocoError(
                f"condensed images must have 3 channels in dimension 1, got shape {tuple(x.shape)}; "
                "grey images must be replicated to 3 channels (images.expand(-1, 3, -1, -1))."
            )
        if x.shape[2] != x.shape[3]:
            raise YocoError(
                f"condensed images must be square, got {x.shape[2]}x{x.shape[3]}; crop or resize them to a square side."
            )
        if x.dtype != torch.float32:
            raise YocoError(f"condensed images must be float32, got {x.dtype}; use images.float().")
        if y.dtype == torch.bool:
            raise YocoError(
                f"labels are booleans ({tuple(y.shape)}), not class indices; pass int64 class indices "
                "0..C-1 (labels.long() if True/False really are classes 1/0)."
            )
        if y.dim() != 1 or y.dtype != torch.int64:
            raise YocoError(
                f"labels must be a 1-D int64 tensor of class indices, got {y.dtype} {tuple(y.shape)}; "
                "one-hot labels must be converted with labels.argmax(1)."
            )
        if len(y) != len(x):
            raise YocoError(f"{len(x)} images but {len(y)} labels; they must match one to one.")
        if isinstance(self.ipc, bool) or not isinstance(self.ipc, int) or self.ipc < 1:
            raise YocoError(f"ipc must be a positive integer, got {self.ipc!r}.")
        if isinstance(self.factor, bool) or not isinstance(self.factor, int) or self.factor < 1:
            raise YocoError(f"factor must be a positive integer, got {self.factor!r}.")
        if len(x) == 0 or len(x) % self.ipc:
            raise YocoError(
                f"{len(x)} images are not classes x ipc for ipc={self.ipc}; condensed sets hold the same "
                "number of images for every class, so pass the ipc the set was made with."
            )
        ipc = self.ipc
        for c in range(len(y) // ipc):
            block = y[c * ipc : (c + 1) * ipc]
            if not bool((block == c).all()):
                found = sorted(set(block.tolist()))
                raise YocoError(
                    f"labels are not class-major: block {c} (indices {c * ipc}..{(c + 1) * ipc - 1}) should all be "
                    f"class {c} but holds {found}. Condensed sets must store class c at indices "
                    f"c*ipc..(c+1)*ipc-1; reorder with a stable sort by label (order = labels.argsort(stable=True))."
                )
        if self.value_space not in VALUE_SPACES:
            raise unknown_choice("value space", self.value_space, VALUE_SPACES)
        if not bool(torch.isfinite(x).all()):
            bad = int((~torch.isfinite(x)).flatten(1).any(1).sum())
            raise YocoError(f"{bad} condensed images contain NaN or inf; the source file is corrupt or diverged.")
        if self.value_space == "pixel01":
            lo, hi = float(x.min()), float(x.max())
            if lo >= 0 and 1 + PIXEL01_TOLERANCE < hi <= 255 and bool((x == x.round()).all()):
                raise YocoError(
                    f"the images hold whole numbers in [{lo:.0f}, {hi:.0f}], i.e. 8-bit pixels; this format "
                    "stores pixels in [0, 1]: divide the images by 255 (images / 255) and save the file again."
                )
            if lo < -PIXEL01_TOLERANCE or hi > 1 + PIXEL01_TOLERANCE:
                raise YocoError(
                    f"value_space 'pixel01' expects pixels in about [0, 1], but they span [{lo:.3g}, {hi:.3g}]; "
                    "if the set is already normalised it is not an IDC/DREAM pixel set: import it with "
                    "--format mtt or dsa, or pass value_space='normalized' (or 'zca' if whitened) to the API."
                )
        if self.factor > 1 and self.value_space != "pixel01":
            raise YocoError(
                f"factor {self.factor} needs pixel-space images: decoding pads with the pixel value 0.5 "
                f"and must happen before normalisation, but value_space is {self.value_space!r}. "
                "Use factor=1 for normalised or whitened sets (as the reference does for MTT/DSA/KIP)."
            )
        side = int(x.shape[-1])
        patch = -(-side // self.factor)
        if self.factor > 1 and patch < MIN_PATCH_SIDE:
            largest = max(f for f in range(1, side + 1) if -(-side // f) >= MIN_PATCH_SIDE)
            raise YocoError(
                f"factor {self.factor} cuts {side}x{side} images into {patch}x{patch} patches, too small to be "
                f"images (at least {MIN_PATCH_SIDE}x{MIN_PATCH_SIDE}); pass the factor the set was condensed "
                f"with (IDC/DREAM: 2 on CIFAR, 3 on ImageNet; at most {largest} for {side}-px images)."
            )
        if not isinstance(self.dataset, str) or not isinstance(self.condenser, str):
            raise YocoError("dataset and condenser must be strings (e.g. 'cifar10', 'idc').")
        return self

    def to_dict(self) -> dict:
        """Plain-value dict of the canonical file (tensors on the CPU)."""
        return {
            "format": _CANONICAL_TAG,
            "version": _CANONICAL_VERSION,
            "images": self.images.detach().cpu().contiguous(),
            "labels": self.labels.detach().cpu().contiguous(),
            "ipc": int(self.ipc),
            "factor": int(self.factor),
            "value_space": self.value_space,
            "dataset": self.dataset,
            "condenser": self.condenser,
            "provenance": dict(self.provenance),
        }

    def save(self, path: str | os.PathLike) -> Path:
        """Validate and write the canonical file atomically (temporary file, then ``os.replace``)."""
        self.validate()
        return _atomic_torch_save(self.to_dict(), Path(path))

    @classmethod
    def load(cls, path: str | os.PathLike, map_location: str | torch.device = "cpu") -> "CondensedSet":
        """Read a file written by :meth:`save`."""
        path = Path(path)
        if path.is_dir():
            raise YocoError(
                f"{path} is a folder, not a condensed-set file; pass the .pt file written by "
                "`yoco import`, `yoco condense` or `yoco decode`."
            )
        if not path.is_file():
            raise _missing(path, "canonical", None, None)
        obj = _torch_load(path, map_location, trusted=False, what="canonical YOCO condensed set", offer_trust=False)
        if not isinstance(obj, dict) or obj.get("format") != _CANONICAL_TAG:
            raise YocoError(
                f"{path} is not a canonical YOCO condensed set; read original files with "
                "load_condensed(path, fmt=...) using their format (idc, dream, mtt, dsa, kip), or "
                "`yoco import --format FORMAT` on the command line."
            )
        if obj.get("version") != _CANONICAL_VERSION:
            raise YocoError(
                f"{path} has canonical version {obj.get('version')}, this library reads {_CANONICAL_VERSION}; "
                "write it again with this version (yoco import / yoco decode)."
            )
        missing = [
            k for k in ("images", "labels", "ipc", "factor", "value_space", "dataset", "condenser") if k not in obj
        ]
        if missing:
            raise YocoError(
                f"{path} is an incomplete canonical condensed set (missing {', '.join(missing)}); "
                "write it again with `yoco import` or `yoco decode`."
            )
        return cls(
            images=obj["images"],
            labels=obj["labels"],
            ipc=int(obj["ipc"]),
            factor=int(obj["factor"]),
            value_space=obj["value_space"],
            dataset=obj["dataset"],
            condenser=obj["condenser"],
            provenance=dict(obj.get("provenance", {})),
        ).validate()


def _atomic_torch_save(obj, path: Path) -> Path:
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)
    return path


def sha256_file(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# Globals that torch.load(weights_only=True) itself accepts: a file naming only these is a plain
# tensor file, so a refusal means corruption, not foreign objects.
_SAFE_GLOBAL_PREFIXES = ("torch.", "collections.OrderedDict", "builtins.")

# Globals whose use in a pickle is to run code or to reach something that does: no data file names
# them, so such a file is an attack (or an accident) and is refused even with trusted=True.
_CODE_MODULES = frozenset(
    "os posix nt subprocess sys shutil importlib runpy pty socket ctypes multiprocessing pickle _pickle "
    "marshal code codeop webbrowser platform signal commands popen2 asyncio pdb timeit operator".split()
)
_CODE_BUILTINS = frozenset(
    "exec eval compile open __import__ getattr setattr delattr globals locals vars input breakpoint "
    "execfile apply file reload exit quit help".split()
)


def _runs_code(name: str) -> bool:
    module, _, attr = name.rpartition(".")
    module = "builtins" if module == "__builtin__" else module
    return module.split(".")[0] in _CODE_MODULES or (module == "builtins" and attr in _CODE_BUILTINS)


def _pickle_globals(path: Path) -> tuple[set[str] | None, str]:
    """The globals (classes, functions) a torch file's pickle names, read without unpickling anything.

    Returns ``(globals, "")``, or ``(globals, why)`` when the file holds no complete readable pickle
    (random bytes, truncated, another format): ``globals`` then holds those named before the break
    (``None`` if the file could not be opened), so a bare pickle of ``exec`` is still recognised.
    Handles torch's zip format (``*/data.pkl``) and the legacy one (pickles back to back).
    """
    import io
    import pickletools
    import zipfile

    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as z:
                name = next((n for n in z.namelist() if n.endswith("data.pkl")), None)
                if name is None:
                    return None, "a zip archive without torch's data.pkl"
                data, pickles = z.read(name), 1
        else:
            # legacy: magic number, protocol, system info, then the object
            data, pickles = path.read_bytes(), 4
            if data[:2] == b"PK":
                return None, "a zip archive cut short (torch files are zip archives): the file is truncated"
    except (OSError, zipfile.BadZipFile, RuntimeError) as exc:
        return None, f"unreadable: {exc}"
    found: set[str] = set()
    strings: list[str] = []
    stream = io.BytesIO(data)
    try:
        for _ in range(pickles):
            for op, arg, _pos in pickletools.genops(stream):
                if op.name in ("GLOBAL", "INST"):
                    found.add(str(arg).replace(" ", "."))
                elif op.name == "STACK_GLOBAL" and len(strings) >= 2:
                    found.add(f"{strings[-2]}.{strings[-1]}")
                elif isinstance(arg, str):
                    strings.append(arg)
    except Exception as exc:  # pickletools raises ValueError, EOFError, struct.error ... on anything not a pickle
        return found, f"no valid pickle at byte {stream.tell()}: {exc}"
    return found, ""


def _refuse_code(path: Path, found: set[str] | None, what: str) -> None:
    code = sorted(g for g in found or () if _runs_code(g))
    if code:
        raise YocoError(
            f"{path} holds code that would run when it is loaded ({', '.join(code[:3])}), not {what} data; "
            "yoco refuses it, even with trusted=True or --allow-unsafe-unpickling, and ran nothing: delete "
            "the file and get it again from a source you trust."
        )


def _plain(text: str) -> str:
    """An exception's text as one line without terminal colour codes (torch colours its advice)."""
    return " ".join(re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", text).split())


def _torch_load(
    path: Path,
    map_location,
    trusted: bool,
    what: str = "torch",
    offer_trust: bool = True,
    fix: str | None = None,
):
    """``torch.load`` that refuses arbitrary pickles unless ``trusted``, with one clear message per failure.

    weights_only refuses arbitrary pickles (loading one can run code). torch reports refused objects
    and plain corruption alike, so the file is inspected (without unpickling) to tell them apart:
    only a valid pickle that names non-tensor objects gets the hint about ``trusted=True``, and a
    pickle that names code-running functions (``exec``, ``os.system``) is refused outright. ``fix``
    ends the message for a corrupt or foreign file.
    """
    from .io import special_kind

    kind = special_kind(path)
    if kind:  # reading a FIFO would block forever, a device read endlessly
        raise YocoError(f"{path} is a {kind}, not a {what} file; pass a regular file.")
    if trusted:
        # weights_only=False would run whatever the pickle names: look before loading.
        _refuse_code(path, _pickle_globals(path)[0], what)
    try:
        return torch.load(path, map_location=map_location, weights_only=not trusted)
    except IsADirectoryError:
        raise YocoError(f"{path} is a folder, not a {what} file; pass the file itself.") from None
    except (
        pickle.UnpicklingError,
        RuntimeError,
        EOFError,
        OSError,
        ValueError,
        AttributeError,
        ModuleNotFoundError,
        TypeError,
    ) as exc:
        found, why = _pickle_globals(path)
        _refuse_code(path, found, what)
        foreign = (
            sorted(g for g in found if not g.startswith(_SAFE_GLOBAL_PREFIXES))
            if found and not why and not trusted
            else []
        )
        detail = why or _plain(str(exc))[-160:]
        if foreign and offer_trust:
            raise YocoError(
                f"{path} holds Python objects other than tensors ({', '.join(foreign[:3])}); yoco does not "
                "unpickle them by default because unpickling can run arbitrary code. If you trust the file's "
                "source, load it with trusted=True (command line: --allow-unsafe-unpickling), which lets the "
                "file run code on this machine; or save it again holding tensors only."
            ) from None
        if foreign:
            raise YocoError(
                f"{path} is not a {what} file written by yoco (it holds Python objects other than "
                f"tensors: {', '.join(foreign[:3])}); {fix or 'pass the file yoco wrote'}."
            ) from None
        raise YocoError(
            f"could not read {path} as a {what} file; it is truncated, corrupt or not a torch file "
            f"({detail[:160]}); {fix or 'check the path and the format'}."
        ) from None


def _missing(path: Path, fmt: str, dataset: str | None, ipc: int | None) -> YocoError:
    layout = REFERENCE_LAYOUT[fmt]
    if dataset is not None:
        layout = layout.replace("{dataset}", dataset)
    if ipc is not None:
        layout = layout.replace("{ipc}", str(ipc))
    return YocoError(
        f"condensed set not found: {path} (format {fmt!r}). The reference code keeps this format under "
        f"raid/condensed_img/ as {layout}. The authors publish these files via the Google-Drive links in the "
        "READMEs of YOCO (he-y/you-only-condense-once) and IDC (snu-mllab/Efficient-Dataset-Condensation); "
        "IDC and DREAM sets can instead be condensed in-house with `yoco condense`."
    )


def _images_labels(images, labels, path: Path, fmt: str) -> tuple[torch.Tensor, torch.Tensor]:
    # Files read with trusted=True may hold numpy arrays instead of tensors.
    images = torch.from_numpy(images) if isinstance(images, np.ndarray) else images
    labels = torch.from_numpy(labels) if isinstance(labels, np.ndarray) else labels
    if not isinstance(images, torch.Tensor) or not isinstance(labels, torch.Tensor):
        raise YocoError(
            f"{path} ({fmt}): expected tensors for images and labels, got "
            f"{type(images).__name__} and {type(labels).__name__}."
        )
    # The reference casts non-float tensors to float32 (reference-spec §1.2 step 1); we also bring
    # float16/float64 to the one dtype every later stage expects.
    images = images.detach().to(torch.float32).contiguous()
    labels = labels.detach()
    if fmt == "kip":
        images, labels = _kip_layout(images, labels, path)
    if labels.dtype == torch.bool:
        raise YocoError(f"{path} ({fmt}): labels are booleans, not class indices; save int64 class indices 0..C-1.")
    if labels.dim() != 1:
        raise YocoError(
            f"{path} ({fmt}): labels must be 1-D class indices, got shape {tuple(labels.shape)}; "
            "one-hot labels must be converted with labels.argmax(1)."
        )
    if labels.is_floating_point() and not bool((labels == labels.round()).all()):
        raise YocoError(f"{path} ({fmt}): labels must be whole class indices, got fractional values.")
    return images, labels.to(torch.int64)


def _infer_ipc(labels: torch.Tensor, path: Path, fmt: str) -> int:
    if labels.dim() != 1 or len(labels) == 0:
        raise YocoError(f"{path}: labels must be a non-empty 1-D tensor, got shape {tuple(labels.shape)}.")
    if int(labels.min()) < 0:
        raise YocoError(f"{path}: labels must be class indices >= 0.")
    counts = torch.bincount(labels)
    if not bool((counts == counts[0]).all()):
        raise YocoError(
            f"{path}: classes hold different numbers of images ({counts.tolist()}); a condensed set has "
            f"the same number per class, class-major; check that the file is complete and is in format {fmt!r}."
        )
    return int(counts[0])


def load_condensed(
    path: str | os.PathLike,
    fmt: str,
    dataset: str | None,
    ipc: int | None = None,
    factor: int | None = None,
    *,
    dsa_experiment: int = 0,
    condenser: str | None = None,
    trusted: bool = False,
) -> CondensedSet:
    """Read a condensed set from one of the original on-disk formats (reference-spec §1.1).

    Parameters
    ----------
    path : path
        The file (for ``mtt``: the folder, or ``images_best.pt`` with ``labels_best.pt`` beside it).
    fmt : {"idc", "dream", "mtt", "dsa", "kip", "canonical"}
        ``idc``/``dream``: list ``[images, targets]``, pixel space, multi-formation.
        ``mtt``: ``images_best.pt`` + ``labels_best.pt``, normalised, factor 1 (``zca`` when the
        ``meta.json`` that ``yoco condense --method mtt`` writes beside them says so).
        ``dsa``: dict ``{'data': [[images, labels], ...]}``, normalised, factor 1.
        ``kip``: ``(images NHWC, labels one-hot)``, ZCA space, factor 1.
        ``canonical``: a file written by :meth:`CondensedSet.save`.
    dataset : str
        Real dataset the set belongs to (``cifar10``, ``cifar100``, ``imagenet10``, ...). For
        ``canonical`` files it may be None (the file records it); given, it must match.
    ipc : int, optional
        Images per class; inferred from the labels when omitted, checked when given.
    factor : int, optional
        Multi-formation factor for ``idc``/``dream`` (default 2 for CIFAR, 3 for ImageNet-10; required
        for other datasets). ``mtt``/``dsa``/``kip`` always use 1, as the reference forces.
    dsa_experiment : int
        Which experiment of a DSA file to use: 0 as YOCO does (default), -1 for IDC's choice (the last).
    condenser : str, optional
        Name recorded in the set; defaults to ``fmt``.
    trusted : bool
        Allow full unpickling for files that hold more than tensors (only for files you trust).

    Returns
    -------
    CondensedSet
        Validated; ``provenance`` records the format, source path(s) and their SHA-256.
    """
    if fmt not in FORMATS:
        raise unknown_choice("condensed format", fmt, FORMATS)
    path = Path(path)
    if fmt == "canonical":
        cs = CondensedSet.load(path)
        if dataset is not None and cs.dataset != dataset:
            raise YocoError(
                f"{path} was condensed from {cs.dataset!r}, not {dataset!r}; pass dataset "
                f"{cs.dataset!r} (or leave it out: canonical files record it)."
            )
        _check_requested(cs, ipc, factor, path)
        return cs

    provenance: dict = {"format": fmt}
    mtt_space = None
    if fmt == "mtt":
        img_path, lab_path = _mtt_paths(path, dataset, ipc)
        images = _torch_load(img_path, "cpu", trusted)
        labels = _torch_load(lab_path, "cpu", trusted)
        provenance.update(
            source=str(img_path),
            sha256=sha256_file(img_path),
            labels_source=str(lab_path),
            labels_sha256=sha256_file(lab_path),
        )
        mtt_space = _mtt_value_space(img_path)
    else:
        if path.is_dir():
            raise YocoError(
                f"{path} is a folder, not a file of format {fmt!r}; pass the file itself "
                f"(the reference layout: {REFERENCE_LAYOUT[fmt]})."
            )
        if not path.is_file():
            raise _missing(path, fmt, dataset, ipc)
        obj = _torch_load(path, "cpu", trusted)
        provenance.update(source=str(path), sha256=sha256_file(path))
        images, labels = _unpack(obj, fmt, path, dsa_experiment)
        if fmt == "dsa":
            provenance["dsa_experiment"] = int(dsa_experiment)

    images, labels = _images_labels(images, labels, path, fmt)

    if fmt in ("idc", "dream"):
        value_space = "pixel01"
        if factor is None:
            if dataset not in DEFAULT_FACTOR:
                raise YocoError(
                    f"no default multi-formation factor for dataset {dataset!r}; pass factor= (command line: "
                    f"--factor), the factor the set was condensed with (defaults exist for {', '.join(DEFAULT_FACTOR)})."
                )
            factor = DEFAULT_FACTOR[dataset]
            # The file does not record its factor; say which one was assumed (the CLI logs it).
            provenance["factor_assumed"] = int(factor)
    else:
        value_space = "zca" if fmt == "kip" else "normalized"
        if mtt_space is not None:
            # An in-house set says whether its experts were whitened; the authors' file does not.
            value_space = provenance["value_space_recorded"] = mtt_space
        if factor not in (None, 1):
            raise YocoError(f"{fmt} sets are not multi-formation sets; factor must be 1 (or omitted), got {factor}.")
        factor = 1

    inferred = _infer_ipc(labels, path, fmt)
    if ipc is not None and ipc != inferred:
        raise YocoError(
            f"{path}: labels give {inferred} images per class, but ipc={ipc} was requested; pass "
            f"ipc={inferred} (command line: --ipc {inferred}) or leave it out."
        )
    images, labels = _class_major(images, labels, provenance)
    return CondensedSet(
        images=images,
        labels=labels,
        ipc=inferred,
        factor=int(factor),
        value_space=value_space,
        dataset=dataset,
        condenser=condenser or fmt,
        provenance=provenance,
    ).validate()


def _mtt_paths(path: Path, dataset: str, ipc: int | None) -> tuple[Path, Path]:
    """The images and labels files of an MTT set: ``[prefix]images_best.pt`` + ``[prefix]labels_best.pt``.

    MTT itself writes ``images_best.pt``; copies in the wild carry a prefix (``mtt_images_best.pt``).
    A folder is searched for exactly one such pair; a file names its images, and the labels file is
    the same name with ``images`` replaced by ``labels``.
    """
    if path.is_dir():
        plain = path / "images_best.pt"
        found = [plain] if plain.is_file() else sorted(path.glob("*images_best.pt"))
        if len(found) > 1:
            raise YocoError(
                f"{path} (mtt) holds several image files ({', '.join(p.name for p in found)}); "
                f"pass the one to use, e.g. --condensed {found[0]}."
            )
        img_path = found[0] if found else plain
    else:
        img_path = path
    head, sep, tail = img_path.name.rpartition("images")
    if not sep:
        raise YocoError(
            f"{img_path} (mtt): the images file should be named [prefix]images_best.pt, with "
            "[prefix]labels_best.pt beside it (MTT's distill.py layout)."
        )
    lab_path = img_path.with_name(head + "labels" + tail)
    for p in (img_path, lab_path):
        if not p.is_file():
            raise _missing(p, "mtt", dataset, ipc)
    return img_path, lab_path


def _mtt_value_space(img_path: Path) -> str | None:
    """The value space ``yoco condense --method mtt`` wrote to ``[prefix]meta.json`` beside the images."""
    meta = img_path.with_name(img_path.name[: -len("images_best.pt")] + "meta.json")
    if not img_path.name.endswith("images_best.pt") or not meta.is_file():
        return None
    try:
        space = json.loads(meta.read_text()).get("value_space")
    except (ValueError, OSError, AttributeError):
        return None  # a foreign meta.json: the file is read like the authors' one
    return space if space in ("normalized", "zca") else None


def _class_major(images: torch.Tensor, labels: torch.Tensor, provenance: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """Reorder a set stored in another class order into the class-major layout every stage assumes.

    The reference never checks the layout (IDC even rebuilt class-major labels over DSA files), but a
    DSA file's later experiments or a user's set need not be stored class by class. A stable sort by
    label keeps each class's images in file order; ``provenance['file_order']`` maps every stored
    index back to its position in the file.
    """
    if bool((labels[1:] >= labels[:-1]).all()):
        return images, labels
    order = torch.argsort(labels, stable=True)
    provenance["file_order"] = order.tolist()
    return images[order].contiguous(), labels[order].contiguous()


def _check_requested(cs: CondensedSet, ipc, factor, path: Path) -> None:
    if ipc is not None and ipc != cs.ipc:
        raise YocoError(
            f"{path} holds ipc {cs.ipc}, but ipc={ipc} was requested; leave it out (canonical files record it)."
        )
    if factor is not None and factor != cs.factor:
        raise YocoError(
            f"{path} holds factor {cs.factor}, but factor={factor} was requested; leave it out "
            "(canonical files record it)."
        )


def _unpack(obj, fmt: str, path: Path, dsa_experiment: int):
    """The (images, labels) pair inside one file of format ``fmt``."""
    if isinstance(obj, dict) and obj.get("format") == _CANONICAL_TAG:
        raise YocoError(
            f"{path} is a canonical YOCO condensed set (written by yoco), not a file of format {fmt!r}; read it "
            "with format 'canonical' (command line: --format canonical)."
        )
    if fmt in ("idc", "dream", "kip"):
        if isinstance(obj, (list, tuple)) and len(obj) == 2:
            return obj[0], obj[1]
        raise YocoError(
            f"{path} ({fmt}) should hold a 2-element list/tuple [images, labels], got {type(obj).__name__}"
            f"{' of length ' + str(len(obj)) if isinstance(obj, (list, tuple)) else ''}."
        )
    # dsa
    if not isinstance(obj, dict) or "data" not in obj:
        raise YocoError(
            f"{path} (dsa) should hold a dict with key 'data' = [[images, labels] per experiment], "
            f"got {type(obj).__name__}."
        )
    experiments = obj["data"]
    n = len(experiments)
    if not -n <= dsa_experiment < n:
        raise YocoError(f"{path} (dsa) holds {n} experiments; dsa_experiment={dsa_experiment} is out of range.")
    exp = experiments[dsa_experiment]
    if not isinstance(exp, (list, tuple)) or len(exp) != 2:
        raise YocoError(f"{path} (dsa): experiment {dsa_experiment} should be [images, labels].")
    return exp[0], exp[1]


def _kip_layout(images: torch.Tensor, labels: torch.Tensor, path: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """KIP stores channels-last images and one-hot (or learned) label rows."""
    if images.dim() != 4 or images.shape[-1] != 3:
        raise YocoError(f"{path} (kip): images should be NHWC (N, h, w, 3), got {tuple(images.shape)}.")
    images = images.permute(0, 3, 1, 2).contiguous()
    if labels.dim() == 2:
        # YOCO takes argmax over the label columns (reference-spec §1.1, §8 item 10); float rows are
        # learned labels, so argmax is taken before any integer cast.
        labels = labels.argmax(dim=1)
    return images, labels


def training_tensor(cs: CondensedSet, mean, std, double_normalize: bool = True) -> torch.Tensor:
    """The decoded, normalised tensor a network trains on (reference-spec §1.2 steps 2 and 4).

    Parameters
    ----------
    cs : CondensedSet
    mean, std : sequence of 3 floats
        The real dataset's normalisation (``yoco.data.NORMALIZATION`` or ``RealData.mean/std``).
    double_normalize : bool
        Reference behaviour (default True): ``Normalize(mean, std)`` is applied to every set,
        including MTT/DSA/KIP sets that are already normalised or whitened (reference-spec §8 item 9).
        False gives the corrected behaviour: only ``pixel01`` sets are normalised, others pass
        through unchanged.

    Returns
    -------
    Tensor [C*ipc*f**2, 3, h, w] on the images' device
        Index ``d`` is decoded patch ``d`` (:mod:`yoco.formation`): decoding happens in pixel space
        first (it pads with the pixel value 0.5), then normalisation.
    """
    cs.validate()
    x = cs.decoded()
    if not double_normalize and cs.value_space != "pixel01":
        return x
    return normalize(x, mean, std)


def save_idc(cs: CondensedSet, path: str | os.PathLike) -> Path:
    """Write ``[images, targets]`` in IDC's ``data.pt`` format, readable by the original IDC/YOCO code.

    Only pixel-space sets qualify: the original tools assume IDC files are un-normalised.
    """
    cs.validate()
    if cs.value_space != "pixel01":
        raise YocoError(
            f"the IDC format holds pixel-space images; this set is {cs.value_space!r}. Save it with "
            "CondensedSet.save instead."
        )
    return _atomic_torch_save(
        [cs.images.detach().cpu().contiguous(), cs.labels.detach().cpu().contiguous()], Path(path)
    )


def save_dsa(cs: CondensedSet, path: str | os.PathLike, accs: dict | None = None) -> Path:
    """Write DSA's result file (``DSA:main.py``): ``{'data': [[images, labels]], 'accs_all_exps': ...}``.

    Interchangeable with the authors' ``res_DSA_CIFAR10_ConvNet_ipc10.pt``: one experiment, images
    ``[C*ipc, 3, h, w]`` float32 in the normalised space, class-major int64 labels. ``accs_all_exps``
    maps the evaluation network to its accuracies (default ``{'ConvNet': []}``: none were measured);
    ``yoco`` adds the set's provenance under a key of its own, which DSA's and YOCO's loaders ignore.
    """
    cs.validate()
    if cs.value_space != "normalized" or cs.factor != 1:
        raise YocoError(
            f"the DSA format holds normalised whole images (factor 1); this set is {cs.value_space!r} with "
            f"factor {cs.factor}. Save it with CondensedSet.save instead."
        )
    images = cs.images.detach().cpu().to(torch.float32).contiguous()
    labels = cs.labels.detach().cpu().to(torch.int64).contiguous()
    payload = {
        "data": [[images, labels]],
        "accs_all_exps": dict(accs) if accs is not None else {"ConvNet": []},
        "yoco_provenance": json.dumps(cs.provenance, default=str, sort_keys=True),
    }
    return _atomic_torch_save(payload, Path(path))


def reference_path(fmt: str, dataset: str, ipc: int, root: str | os.PathLike = "raid/condensed_img") -> Path:
    """Where the reference code expects a released set (reference-spec §1.1), below ``root``."""
    if fmt not in FORMATS or fmt == "canonical":
        raise unknown_choice("released-set format", fmt, [f for f in FORMATS if f != "canonical"])
    root = Path(root)
    if fmt == "idc":
        if dataset == "imagenet10":
            return root / f"idc/imagenet10/resnet10apin_grad_l1_ely10_nd500_cut_factor3_mix_ipc{ipc}/data.pt"
        return root / f"idc/{dataset}/conv3in_grad_mse_nd2000_cut_niter2000_factor2_lr0.005_mix_ipc{ipc}/data.pt"
    if fmt == "dream":
        return root / f"dream/{dataset}/ipc{ipc}/data.pt"
    if fmt == "mtt":
        return root / "mtt/ConvNet_baseline/images_best.pt"
    if fmt == "dsa":
        return root / f"dsa/res_DSA_{dataset.upper()}_ConvNet_ipc{ipc}/data.pt"
    return root / f"kip/kip_ipc{ipc}/data.pt"


__all__ = [
    "CondensedSet",
    "load_condensed",
    "training_tensor",
    "save_idc",
    "save_dsa",
    "reference_path",
    "sha256_file",
    "VALUE_SPACES",
    "FORMATS",
    "DEFAULT_FACTOR",
    "REFERENCE_LAYOUT",
]
