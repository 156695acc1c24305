"""What every stage does before its work: check the outputs, load the inputs, check that they belong together.

Messages name each input by its ``yoco`` flag (``--decoded``, ``--real``, ...), which is also the keyword
the stage function takes (``decoded=``, ``real=``): the workflow, the command line and a Python caller
then read the same message for the same mistake (docs/errors.md).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path

from .. import recipe
from ..errors import YocoError
from ..progress import log


def resolve_device(name: str):
    """``--device``: cpu, cuda, cuda:N, mps or auto (CUDA when visible), checked before any work."""
    import torch

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError):
        raise YocoError(f"--device {name!r} is not a device; use cpu, cuda, cuda:N or auto") from None
    if device.type not in ("cpu", "cuda", "mps"):
        raise YocoError(f"--device {name!r} is not supported; use cpu, cuda, cuda:N or auto")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise YocoError(f"--device {name} was requested but no CUDA device is visible; use --device cpu or auto")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise YocoError(f"--device {name}: this torch has no usable MPS (Apple GPU) backend; use --device cpu or auto")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise YocoError(
            f"--device {name}: only {torch.cuda.device_count()} CUDA device(s) are visible; use --device cuda:0 or auto"
        )
    return name


def at_least(value, low: int, flag: str | None = None) -> int:
    """A whole number >= ``low``: the check of a ``yoco`` flag's type (``--reps``, ``--inits``), made again
    for Python callers with the same words (``flag`` first when given)."""
    import numbers

    named = f"{flag} " if flag else ""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise YocoError(f"{named}{value!r} is not a whole number")
    if value < low:
        raise YocoError(f"{named}{value} is below {low}; give a whole number >= {low}")
    return int(value)


def check_outputs(outputs: dict, inputs: dict | None = None) -> None:
    """Check a stage's output locations (flag -> path) before any work; an output may not overwrite an input.

    ``inputs`` maps each input flag to a path or a list of paths; ``None`` entries are skipped.
    """
    from ..io import check_output, check_output_dir, same_file

    for flag, value in outputs.items():
        if value is None:
            continue
        check_output_dir(value, flag) if flag == "--out-dir" else check_output(value, flag)
        for name, paths in (inputs or {}).items():
            for path in _as_list(paths):
                if path is not None and same_file(path, value):
                    raise YocoError(
                        f"{flag} {value} is the same file as {name} {path}; writing it would destroy "
                        "an input: choose another output path"
                    )


def _as_list(value) -> list:
    return list(value) if isinstance(value, (list, tuple)) else [value]


# ----------------------------------------------------------------------------------------------- training
@dataclass(frozen=True)
class TrainOptions:
    """The training recipe of the stages that train networks (dynamics, evaluate*): the ``yoco`` flags of
    the same names, with the same defaults (reference-spec §4.2)."""

    network: str = "convnet"
    width: int | None = None
    depth: int = 3
    dense_blocks: tuple | list | None = None
    epochs: int = recipe.EPOCHS
    batch_size: int = recipe.BATCH_SIZE
    lr: float = recipe.LR
    momentum: float = recipe.MOMENTUM
    weight_decay: float = recipe.WEIGHT_DECAY
    cutmix_p: float = recipe.CUTMIX_P
    diffaug: str = recipe.DIFFAUG
    imagenet_transforms: bool = False
    engine: str = "auto"
    compile: bool | None = None
    tf32: bool | None = None
    max_models: int | None = None
    double_normalize: bool = True
    device: str = "auto"

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    def config_fields(self) -> dict:
        """The TrainConfig fields the options set (the schedule and validation are per stage)."""
        return dict(
            epochs=self.epochs,
            batch_size=self.batch_size,
            lr=self.lr,
            momentum=self.momentum,
            weight_decay=self.weight_decay,
            cutmix_p=self.cutmix_p,
            augment=None if self.diffaug in ("none", "") else self.diffaug,
            max_models=self.max_models,
            imagenet_transforms=self.imagenet_transforms,
            engine=self.engine,
            compile=self.compile,
            tf32=self.tf32,
        )

    def check(self) -> None:
        """The options that can be checked without data: network, recipe, DiffAug strategy."""
        from ..nets import NETWORKS
        from ..train import TrainConfig

        if self.network not in NETWORKS:
            from ..errors import unknown_choice

            raise unknown_choice("network", self.network, NETWORKS)
        if self.dense_blocks and self.network != "densenet":
            raise YocoError(
                f"--dense-blocks sets DenseNet's dense blocks; --network {self.network} has none (leave it out)"
            )
        if self.diffaug not in ("none", ""):
            from ..augment import _parse_strategy

            _parse_strategy(self.diffaug)
        TrainConfig(**self.config_fields())

    def spec(self, decoded):
        """The network trained on ``decoded``."""
        from ..train import NetworkSpec

        return NetworkSpec(
            name=self.network,
            num_classes=decoded.num_classes,
            image_size=decoded.images.shape[-1],
            width=self.width,
            depth=self.depth,
            blocks=self.dense_blocks,
        )

    def check_spec(self, spec) -> None:
        """A bad width, depth or image size for the network fails before the data are trained on."""
        from ..train import TrainConfig, check_trainable

        check_trainable(spec, TrainConfig(**self.config_fields()), resolve_device(self.device))


def train_options(train: TrainOptions | dict | None) -> TrainOptions:
    """``train=`` of a stage: a :class:`TrainOptions`, a dict of its fields, or None for the defaults."""
    if train is None:
        return TrainOptions()
    if isinstance(train, TrainOptions):
        return train
    if isinstance(train, dict):
        unknown = sorted(set(train) - set(TrainOptions.names()))
        if unknown:
            raise YocoError(
                f"train= has no option {', '.join(unknown)}; the options are {', '.join(TrainOptions.names())}"
            )
        return TrainOptions(**train)
    raise YocoError(f"train= must be a yoco.stages.TrainOptions or a dict of its fields, got {type(train).__name__}")


# ----------------------------------------------------------------------------------------------- sets
def check_factor(factor: int, side: int, flag: str = "--factor") -> None:
    from ..condensed import MIN_PATCH_SIDE

    patch = -(-side // factor)
    if factor > 1 and patch < MIN_PATCH_SIDE:
        raise YocoError(
            f"{flag} {factor} cuts {side}x{side} images into {patch}x{patch} patches, too small to be "
            f"images (at least {MIN_PATCH_SIDE}x{MIN_PATCH_SIDE}); use a smaller factor (IDC/DREAM: 2 on "
            "CIFAR, 3 on ImageNet)"
        )


def check_resolution(cs, path, image_size, fix: str) -> None:
    """A set named after a known dataset must have its resolution (or the one its real data was made at)."""
    from ..data import check_resolution as check

    check(int(cs.images.shape[-1]), cs.dataset, str(path), image_size, fix)


def check_classes(cs, dataset: str, path) -> None:
    """A set named after a known dataset must have that dataset's number of classes."""
    from ..data import NUM_CLASSES

    if dataset in NUM_CLASSES and cs.num_classes != NUM_CLASSES[dataset]:
        raise YocoError(
            f"{path} holds {cs.num_classes} classes but {dataset} has {NUM_CLASSES[dataset]}; pass the "
            "--dataset the set was condensed from"
        )


def note_assumed_factor(cs, path, format: str) -> None:
    """Say when a file recorded no factor and the format's default was taken."""
    if "factor_assumed" in cs.provenance:
        log(
            f"{path} records no multi-formation factor: assuming {cs.factor}, the {format} default for "
            f"{cs.dataset} (pass --factor to choose another)"
        )


def load_decoded(path):
    """A decoded set written by ``yoco decode`` (refused: a missing file, a set that was not decoded)."""
    from ..condensed import CondensedSet
    from ..io import require_file

    require_file(path, "decoded set", f"make it with `yoco decode --condensed FILE --out {path}`")
    decoded = CondensedSet.load(path)
    if "decoded_from" not in decoded.provenance:
        raise YocoError(
            f"--decoded {path} is a condensed set that was not decoded; decode it first "
            f"(yoco decode --condensed {path} --out DECODED) and pass DECODED"
        )
    return decoded


def load_real(path):
    """Real data written by ``yoco data``, named after a known dataset."""
    from ..data import DATASETS, load_real as load, npz_dataset_name
    from ..io import require_file

    require_file(path, "real data", f"make it with `yoco data --dataset NAME --out {path}`")
    name = npz_dataset_name(path) or Path(path).stem
    if name not in DATASETS:
        raise YocoError(
            f"real data {path} names no known dataset ({name!r}); write it with `yoco data --dataset "
            f"NAME` (one of {', '.join(DATASETS)})"
        )
    return load(name, npz=path)


def identity(decoded) -> dict:
    from ..artefacts import decoded_identity

    return decoded_identity(decoded)


def load_decoded_real(decoded_path, real_path):
    """The decoded set and the real data it was condensed from, checked to belong together."""
    from ..artefacts import check_real

    decoded, real = load_decoded(decoded_path), load_real(real_path)
    check_real(decoded, real, f"--decoded {decoded_path}", f"--real {real_path}")
    return decoded, real


def check_dynamics_belong(dyn, path, decoded, decoded_path) -> None:
    """Dynamics must have been recorded on exactly this decoded set."""
    import numpy as np

    from ..artefacts import check_belong, check_count

    fix = f"record them on this set (yoco dynamics --decoded {decoded_path})"
    check_belong(identity(decoded), dyn.meta.get("identity"), f"--decoded {decoded_path}", f"dynamics {path}", fix)
    check_count(len(decoded.labels), dyn.num_samples, f"--decoded {decoded_path}", f"dynamics {path}", fix)
    if dyn.num_classes != decoded.num_classes or not np.array_equal(dyn.labels, decoded.labels.numpy()):
        raise YocoError(
            f"dynamics {path} label the samples differently from --decoded {decoded_path}; they come "
            f"from different sets; {fix}"
        )


def read_scores(path, decoded, decoded_path) -> tuple[dict, dict]:
    """A score file and what it records, checked to rank exactly this decoded set's samples."""
    from ..artefacts import check_belong, check_count
    from ..pipeline import read_scores as read

    table, meta = read(path)
    fix = f"compute the scores on this set (yoco scores --decoded {decoded_path})"
    check_belong(identity(decoded), meta.get("identity"), f"--decoded {decoded_path}", f"score file {path}", fix)
    for name, values in table.items():
        if values.ndim == 0:
            raise YocoError(f"score file {path} holds a single number as {name!r}, not one score per sample; {fix}")
        check_count(len(decoded.labels), len(values), f"--decoded {decoded_path}", f"score file {path} ({name})", fix)
    return table, meta


def check_geometry(decoded, decoded_path, ipc_from=None, dataset=None, ipc_to=None) -> tuple[int, int]:
    """``(IPC_F, f)`` of the decoded set; options that restate them (or its dataset) must agree."""
    from ..pipeline import source_geometry

    stored, factor = source_geometry(decoded)
    if ipc_from is not None and ipc_from != stored:
        raise YocoError(
            f"--ipc-from {ipc_from} but --decoded {decoded_path} was stored at IPC {stored}; pass "
            f"--ipc-from {stored} (or leave it out)"
        )
    if dataset and dataset != decoded.dataset:
        raise YocoError(
            f"--dataset {dataset} but --decoded {decoded_path} was condensed from {decoded.dataset!r}; "
            f"pass --dataset {decoded.dataset} (or leave it out)"
        )
    if ipc_to is not None and ipc_to > stored:
        raise YocoError(
            f"--ipc-to {ipc_to} exceeds the stored IPC {stored} of --decoded {decoded_path}; "
            f"pruning only shrinks: choose --ipc-to <= {stored}"
        )
    return stored, factor


def read_csvs(paths, flag: str, fix: str = "pass the CSV written by `yoco evaluate`"):
    """Concatenated CSVs written by yoco (runs of `yoco evaluate`), each checked to be readable."""
    import pandas as pd

    from ..io import require_file

    frames = []
    for p in paths:
        require_file(p, f"{flag} file", fix)
        try:
            frames.append(pd.read_csv(p))
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as exc:
            raise YocoError(
                f"{flag} file {p} is not a CSV written by yoco ({' '.join(str(exc).split())[:100]}); {fix}"
            ) from None
    return pd.concat(frames, ignore_index=True)


def stand_ins(specs: list[str]) -> dict[str, dict]:
    """``--stand-in digits=cifar10:20=50,10=10`` -> ``{"digits": {"dataset": "cifar10", "ipc_from": {20: 50, 10: 10}}}``."""
    out: dict[str, dict] = {}
    for spec in specs or []:
        ours, sep, paper = spec.partition("=")
        paper_ds, _, ipcs = paper.partition(":")
        try:
            ipc_from = {int(k): int(v) for k, v in (p.split("=") for p in ipcs.split(",") if p)}
        except ValueError:
            ipc_from = None
        if not sep or not ours or not paper_ds or ipc_from is None:
            raise YocoError(
                f"--stand-in {spec!r}: write OURS=PAPER_DATASET[:IPC=PAPER_IPC,...], e.g. digits=cifar10:20=50"
            )
        out[ours] = {"dataset": paper_ds, "ipc_from": ipc_from}
    return out
