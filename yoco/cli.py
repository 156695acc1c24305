"""``yoco``: one subcommand per pipeline stage, each reading and writing files.

The Snakemake rules call these as one-liners; users without Snakemake can call them by hand.
Every output is written under a temporary name and renamed when complete.
"""

from __future__ import annotations

import argparse
import ctypes
import math
import sys
from pathlib import Path

from .errors import YocoError

DIFFAUG_DEFAULT = "color_crop_flip_scale_rotate"


def _tune_allocator() -> None:
    """Keep glibc from returning and re-mapping the training loop's buffers (1.7x on CPU, design.md §4)."""
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return
    M_TRIM_THRESHOLD, M_MMAP_MAX = -1, -4
    libc.mallopt(M_MMAP_MAX, 0)
    libc.mallopt(M_TRIM_THRESHOLD, 1 << 30)


def _log(msg: str) -> None:
    from .progress import log

    log(msg)


def _device(name: str):
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


# ----------------------------------------------------------------------------------------------- checks
# Every command checks its flags, its output location and that its inputs belong together before any
# work (docs/errors.md), so a mistake costs seconds, not a training run.
def _int_at_least(low: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"{value} is below {low}; give a whole number >= {low}")
        return value

    parse.__name__ = "int"
    return parse


def _float_in(low: float, high: float, low_open: bool = False, high_open: bool = False):
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if math.isinf(value):
            # An infinite rate or decay would only diverge at the first step; say so before any work.
            raise argparse.ArgumentTypeError(f"{text} is not a finite number; give one in {_interval()}")
        too_low = value <= low if low_open else value < low
        too_high = value >= high if high_open else value > high
        if value != value or too_low or too_high:
            raise argparse.ArgumentTypeError(f"{text} is outside {_interval()}")
        return value

    def _interval() -> str:
        return f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open or math.isinf(high) else ']'}"

    parse.__name__ = "float"
    return parse


class _Distinct(argparse.Action):
    """A list flag whose entries must all differ: the same file, pair or value given twice would make the
    same records twice (docs/errors.md, "Inputs that must not repeat"). ``same`` says what makes two
    entries the same (a file's identity for paths, the parsed KEY@REP for pairs)."""

    def __init__(self, *args, same=None, **kwargs):
        self.same = same
        super().__init__(*args, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        from .errors import refuse_duplicates

        try:
            refuse_duplicates(values, option_string, "give each once", key=self.same)
        except YocoError as err:
            parser.error(str(err))
        setattr(namespace, self.dest, values)


def _same_file(path: str):
    from .io import file_key

    return file_key(path)


def _same_pair(item: str):
    key, _, rep = item.rpartition("@")
    return (key, int(rep)) if rep.isdigit() else item


POSITIVE = _int_at_least(1)
NON_NEGATIVE = _int_at_least(0)


def SEED(text: str) -> int:
    """A seed torch and numpy both take: 0 to 2**64 - 1 (larger ones overflow inside torch)."""
    from .seeding import MAX_SEED

    value = NON_NEGATIVE(text)
    if value > MAX_SEED:
        raise argparse.ArgumentTypeError(
            f"{value} is above {MAX_SEED} (2**64 - 1), the largest seed; give a smaller one"
        )
    return value


SEED.__name__ = "int"
FRACTION = _float_in(0.0, 1.0, low_open=True, high_open=True)
PROBABILITY = _float_in(0.0, 1.0)
POSITIVE_FLOAT = _float_in(0.0, float("inf"), low_open=True)
NON_NEGATIVE_FLOAT = _float_in(0.0, float("inf"))


def _outputs(a, *flags: str, inputs: tuple[str, ...] = ()) -> None:
    """Check the output locations of a command before any work; an output may not overwrite an input."""
    from .io import check_output, check_output_dir, same_file

    for flag in flags:
        value = getattr(a, flag.lstrip("-").replace("-", "_"))
        if value is None:
            continue
        check_output_dir(value, flag) if flag == "--out-dir" else check_output(value, flag)
        for name in inputs:
            for path in _as_list(getattr(a, name.lstrip("-").replace("-", "_"), None)):
                if path is not None and same_file(path, value):
                    raise YocoError(
                        f"{flag} {value} is the same file as {name} {path}; writing it would destroy "
                        "an input: choose another output path"
                    )


def _as_list(value) -> list:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _check_training(a) -> None:
    """The training flags that can be checked without data: network, recipe, DiffAug strategy."""
    from .nets import NETWORKS
    from .train import TrainConfig

    if a.network not in NETWORKS:
        from .errors import unknown_choice

        raise unknown_choice("network", a.network, NETWORKS)
    if a.dense_blocks and a.network != "densenet":
        raise YocoError(f"--dense-blocks sets DenseNet's dense blocks; --network {a.network} has none (leave it out)")
    if a.diffaug not in ("none", ""):
        from .augment import _parse_strategy

        _parse_strategy(a.diffaug)
    TrainConfig(**_train_fields(a))


def _check_spec(spec, a) -> None:
    """A bad width, depth or image size for the network fails before the data are trained on."""
    from .train import TrainConfig, check_trainable

    check_trainable(spec, TrainConfig(**_train_fields(a)), _device(a.device))


def _check_factor(factor: int, side: int, flag: str = "--factor") -> None:
    from .condensed import MIN_PATCH_SIDE

    patch = -(-side // factor)
    if factor > 1 and patch < MIN_PATCH_SIDE:
        raise YocoError(
            f"{flag} {factor} cuts {side}x{side} images into {patch}x{patch} patches, too small to be "
            f"images (at least {MIN_PATCH_SIDE}x{MIN_PATCH_SIDE}); use a smaller factor (IDC/DREAM: 2 on "
            "CIFAR, 3 on ImageNet)"
        )


def _check_resolution(cs, path, image_size, fix: str) -> None:
    """A set named after a known dataset must have its resolution (or the one its real data was made at)."""
    from .data import check_resolution

    check_resolution(int(cs.images.shape[-1]), cs.dataset, str(path), image_size, fix)


def _check_classes(cs, dataset: str, path) -> None:
    """A set named after a known dataset must have that dataset's number of classes."""
    from .data import NUM_CLASSES

    if dataset in NUM_CLASSES and cs.num_classes != NUM_CLASSES[dataset]:
        raise YocoError(
            f"{path} holds {cs.num_classes} classes but {dataset} has {NUM_CLASSES[dataset]}; pass the "
            "--dataset the set was condensed from"
        )


# ----------------------------------------------------------------------------------------------- arguments
def _add_train_args(p: argparse.ArgumentParser, epochs_default: int = 1000) -> None:
    g = p.add_argument_group("training recipe (reference-spec §4.2)")
    g.add_argument("--network", default="convnet", help="convnet | resnetap10 | resnet10bn | densenet")
    g.add_argument(
        "--width",
        type=POSITIVE,
        default=None,
        help="ConvNet channels / ResNet first-stage channels / DenseNet growth (default: the paper's)",
    )
    g.add_argument("--depth", type=POSITIVE, default=3, help="ConvNet depth (3 in the paper)")
    g.add_argument(
        "--dense-blocks",
        type=POSITIVE,
        nargs=4,
        default=None,
        metavar="N",
        help="DenseNet's bottlenecks per dense block (default: DenseNet-121's 6 12 24 16)",
    )
    g.add_argument("--epochs", type=POSITIVE, default=epochs_default)
    g.add_argument("--batch-size", type=POSITIVE, default=64)
    g.add_argument("--lr", type=POSITIVE_FLOAT, default=0.01)
    g.add_argument("--momentum", type=PROBABILITY, default=0.9)
    g.add_argument("--weight-decay", type=NON_NEGATIVE_FLOAT, default=5e-4)
    g.add_argument("--cutmix-p", type=PROBABILITY, default=0.5)
    g.add_argument("--diffaug", default=DIFFAUG_DEFAULT, help="DiffAug strategy, or 'none'")
    g.add_argument(
        "--imagenet-transforms",
        action="store_true",
        help="ImageNet-10's per-image RandomResizedCrop/flip/jitter/lighting before DiffAug (§4.4)",
    )
    g.add_argument("--engine", default="auto", help="auto | stacked | loop | vmap | sequential (yoco/train.py)")
    g.add_argument(
        "--compile",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="torch.compile each model's forward (loop engine; default: only CPU trainings long "
        "enough to repay ~20 s of compiling per batch shape, yoco/train.py:use_compile)",
    )
    g.add_argument(
        "--tf32",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="allow TF32 on CUDA (default: torch's defaults, as the reference ran)",
    )
    g.add_argument("--max-models", type=POSITIVE, default=None, help="bound on models trained in one batch")
    g.add_argument(
        "--double-normalize",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="normalise already-normalised MTT/DSA/KIP sets again, as the reference does (§8 item 9)",
    )
    g.add_argument("--device", default="auto", help="cpu | cuda | cuda:N | auto")


def _train_fields(a) -> dict:
    """The TrainConfig fields the training flags set (the schedule and validation are per command)."""
    return dict(
        epochs=a.epochs,
        batch_size=a.batch_size,
        lr=a.lr,
        momentum=a.momentum,
        weight_decay=a.weight_decay,
        cutmix_p=a.cutmix_p,
        augment=None if a.diffaug in ("none", "") else a.diffaug,
        max_models=a.max_models,
        imagenet_transforms=a.imagenet_transforms,
        engine=a.engine,
        compile=a.compile,
        tf32=a.tf32,
    )


def _spec(a, decoded):
    from .train import NetworkSpec

    return NetworkSpec(
        name=a.network,
        num_classes=decoded.num_classes,
        image_size=decoded.images.shape[-1],
        width=a.width,
        depth=a.depth,
        blocks=a.dense_blocks,
    )


def _load_decoded(path):
    from .condensed import CondensedSet
    from .io import require_file

    require_file(path, "decoded set", f"make it with `yoco decode --condensed FILE --out {path}`")
    decoded = CondensedSet.load(path)
    if "decoded_from" not in decoded.provenance:
        raise YocoError(
            f"--decoded {path} is a condensed set that was not decoded; decode it first "
            f"(yoco decode --condensed {path} --out DECODED) and pass DECODED"
        )
    return decoded


def _load_real(path):
    from .data import DATASETS, load_real, npz_dataset_name
    from .io import require_file

    require_file(path, "real data", f"make it with `yoco data --dataset NAME --out {path}`")
    name = npz_dataset_name(path) or Path(path).stem
    if name not in DATASETS:
        raise YocoError(
            f"real data {path} names no known dataset ({name!r}); write it with `yoco data --dataset "
            f"NAME` (one of {', '.join(DATASETS)})"
        )
    return load_real(name, npz=path)


def _identity(decoded) -> dict:
    from .artefacts import decoded_identity

    return decoded_identity(decoded)


def _check_decoded_real(a, decoded, real) -> None:
    from .artefacts import check_real

    check_real(decoded, real, f"--decoded {a.decoded}", f"--real {a.real}")


def _check_dynamics_belong(dyn, path, decoded, decoded_path) -> None:
    """Dynamics must have been recorded on exactly this decoded set."""
    from .artefacts import check_belong, check_count

    fix = f"record them on this set (yoco dynamics --decoded {decoded_path})"
    check_belong(_identity(decoded), dyn.meta.get("identity"), f"--decoded {decoded_path}", f"dynamics {path}", fix)
    check_count(len(decoded.labels), dyn.num_samples, f"--decoded {decoded_path}", f"dynamics {path}", fix)
    import numpy as np

    if dyn.num_classes != decoded.num_classes or not np.array_equal(dyn.labels, decoded.labels.numpy()):
        raise YocoError(
            f"dynamics {path} label the samples differently from --decoded {decoded_path}; they come "
            f"from different sets; {fix}"
        )


def _read_scores(path, decoded, decoded_path) -> tuple[dict, dict]:
    """A score file and what it records, checked to rank exactly this decoded set's samples."""
    from .artefacts import check_belong, check_count
    from .pipeline import read_scores

    table, meta = read_scores(path)
    fix = f"compute the scores on this set (yoco scores --decoded {decoded_path})"
    check_belong(_identity(decoded), meta.get("identity"), f"--decoded {decoded_path}", f"score file {path}", fix)
    for name, values in table.items():
        if values.ndim == 0:
            raise YocoError(f"score file {path} holds a single number as {name!r}, not one score per sample; {fix}")
        check_count(len(decoded.labels), len(values), f"--decoded {decoded_path}", f"score file {path} ({name})", fix)
    return table, meta


# ----------------------------------------------------------------------------------------------- commands
def cmd_data(a) -> None:
    from .data import load_real, save_real_npz

    _outputs(a, "--out", inputs=("--npz",))
    real = load_real(
        a.dataset,
        root=a.root,
        npz=a.npz,
        image_size=a.image_size,
        test_per_class=a.test_per_class,
        train_per_class=a.train_per_class,
    )
    save_real_npz(real, a.out)
    _log(f"{a.dataset}: {len(real.y_train)} train / {len(real.y_test)} test images -> {a.out}")


# Flags of `yoco condense` that override one CondenseConfig field each (flag dest -> field).
CONDENSE_OVERRIDES = {
    "outer": "outer",
    "inner": "inner",
    "net_epochs_data": "n_data",
    "syn_epochs": "syn_epochs",
    "batch_real": "batch_real",
    "batch_net": "batch_net",
    "lr_img": "lr_img",
    "lr_net": "lr_net",
    "width": "width",
}
# What `yoco condense --out` writes per method: IDC/DREAM the canonical file; DSA and MTT the authors'
# formats, so that the files are interchangeable with the released ones (`yoco import` reads both).
CONDENSE_WRITES = {"idc": "canonical", "dream": "canonical", "dsa": "dsa", "mtt": "mtt"}


def cmd_condense(a) -> None:
    from .condense import CondenseConfig, condense, default_factor
    from .progress import Progress

    if a.method == "mtt":
        return _condense_mtt(a)
    _outputs(a, "--out", "--snapshot", inputs=("--real",))
    device = _device(a.device)
    real = _load_real(a.real)
    factor = default_factor(a.method) if a.factor is None else a.factor
    if a.method == "dsa" and factor != 1:
        raise YocoError(f"--method dsa condenses whole images: --factor must be 1 (or left out), got {factor}")
    _check_factor(factor, real.image_size)
    try:
        config = CondenseConfig.paper(real.name, a.ipc, a.method)
    except YocoError:
        # No published recipe for this dataset (digits, ...): the method's CIFAR settings, shrunk by the flags.
        config = CondenseConfig.fallback(a.method, a.ipc)
    overrides = {field: getattr(a, dest) for dest, field in CONDENSE_OVERRIDES.items() if getattr(a, dest) is not None}
    config = config.replace(**overrides)

    with Progress(f"condense {a.method}") as progress:

        def report(info: dict) -> None:
            total = info["outer_total"]
            progress.advance(info["outer"], total, f"loss {info['match_loss']:.4g}", begin=f"{total} outer iterations")

        cs = condense(
            real,
            method=a.method,
            ipc=a.ipc,
            factor=factor,
            config=config,
            seed=a.seed,
            device=device,
            snapshot_path=a.snapshot,
            progress=report,
        )
        history = cs.provenance["loss_history"]
        progress.finish(f"loss {history[-1]:.4g}" if history else None)
    if CONDENSE_WRITES[a.method] == "dsa":
        from .condensed import save_dsa

        save_dsa(cs, a.out)
    else:
        cs.save(a.out)
    _log(f"condensed {a.method} IPC {a.ipc} ({CONDENSE_WRITES[a.method]} format) -> {a.out}")


def cmd_experts(a) -> None:
    from .condense.experts import ExpertConfig, train_experts
    from .progress import Progress

    _outputs(a, "--out", "--snapshot", inputs=("--real",))
    device = _device(a.device)
    real = _load_real(a.real)
    overrides = dict(epochs=a.epochs, lr=a.lr, batch=a.batch, width=a.width, zca=a.zca, snapshot_every=a.snapshot_every)
    config = ExpertConfig().replace(**{k: v for k, v in overrides.items() if v is not None})
    with Progress("experts") as progress:

        def report(info: dict) -> None:
            progress.advance(
                info["expert_epochs_done"],
                info["expert_epochs_total"],
                f"experts {info['experts']}, epoch {info['epoch']}/{info['epochs']}",
                step=info["models"],  # one epoch of every expert in the chunk
                begin=f"{a.num_experts} experts x {info['epochs']} epochs",
            )

        ex = train_experts(
            real, a.num_experts, config, seed=a.seed, device=device, snapshot_path=a.snapshot, progress=report
        )
        progress.finish()
    ex.save(a.out)
    accs = [x for x in ex.test_acc if x is not None]
    acc = f", mean test accuracy {sum(accs) / len(accs):.2f}%" if accs else ""
    _log(
        f"{a.num_experts} MTT experts x {config.epochs} epochs ({'ZCA' if config.zca else 'normalised'}){acc} -> {a.out}"
    )


# Flags of `yoco condense` that only the gradient-matching methods read.
_MATCHING_ONLY = ("outer", "inner", "net_epochs_data", "width")


def _condense_mtt(a) -> None:
    """`yoco condense --method mtt`: distil with the experts of `yoco experts`, write MTT's two files."""
    from .condense.experts import Experts
    from .condense.mtt import MTTConfig, distill, mtt_paths, save_mtt
    from .progress import Progress

    for name in _MATCHING_ONLY:
        if getattr(a, name) is not None:
            raise YocoError(f"--{name.replace('_', '-')} is a gradient-matching flag; MTT does not read it (drop it)")
    if a.factor not in (None, 1):
        raise YocoError(f"--method mtt distils whole images: --factor must be 1 (or left out), got {a.factor}")
    if not a.experts:
        raise YocoError("--method mtt needs --experts FILE (written by `yoco experts`)")
    from .io import check_output, same_file

    for path in mtt_paths(a.out):
        check_output(path, "--out")
        for src in [a.real, *a.experts]:
            if same_file(src, path):
                raise YocoError(f"--out {path} is the input {src}; choose another output folder")
    _outputs(a, "--snapshot", inputs=("--real", "--experts"))
    device = _device(a.device)
    real = _load_real(a.real)
    experts = [Experts.load(p) for p in a.experts]
    try:
        config = MTTConfig.paper(real.name, a.ipc) if a.budget == "paper" else MTTConfig.quick()
    except YocoError:
        config = MTTConfig()  # no published setting for this dataset/IPC: CIFAR-10 IPC 10's, changed by the flags
    overrides = dict(
        iterations=a.iterations,
        syn_steps=a.syn_steps,
        expert_epochs=a.expert_epochs,
        max_start_epoch=a.max_start_epoch,
        lr_img=a.lr_img,
        lr_lr=a.lr_lr,
        lr_teacher=a.lr_teacher,
        batch_syn=a.batch_syn,
    )
    config = config.replace(**{k: v for k, v in overrides.items() if v is not None})
    if a.checkpoint_steps:
        config = config.replace(checkpoint=True)
    with Progress("condense mtt") as progress:

        def report(info: dict) -> None:
            total = info["iterations"]
            status = f"loss {info['loss']:.4g}, syn_lr {info['syn_lr']:.4g}"
            progress.advance(info["iteration"], total, status, begin=f"{total} iterations")

        result = distill(
            real, experts, a.ipc, config, seed=a.seed, device=device, snapshot_path=a.snapshot, progress=report
        )
        progress.finish(f"loss {result.loss_history[-1]:.4g}" if result.loss_history else None)
    img, lab = save_mtt(result, a.out)
    _log(f"MTT IPC {a.ipc} ({result.value_space}, syn_lr {result.syn_lr:.5f}) -> {img} + {lab.name}")


def cmd_import(a) -> None:
    from .condensed import load_condensed

    _outputs(a, "--out", inputs=("--path",))
    if a.format == "real":
        from .pipeline import real_as_condensed

        real = _load_real(a.path)
        if a.dataset != real.name:
            raise YocoError(
                f"--path {a.path} holds {real.name!r}, not --dataset {a.dataset!r}; pass --dataset {real.name}"
            )
        cs = real_as_condensed(real, per_class=a.ipc)
    else:
        cs = load_condensed(a.path, a.format, a.dataset, ipc=a.ipc, factor=a.factor, trusted=a.allow_unsafe_unpickling)
        _check_classes(cs, a.dataset, a.path)
        _check_resolution(
            cs, a.path, a.image_size, f"pass --image-size {cs.images.shape[-1]} if its real data was made at that size"
        )
        if "factor_assumed" in cs.provenance:
            _log(
                f"{a.path} records no multi-formation factor: assuming {cs.factor}, the {a.format} default for "
                f"{a.dataset} (pass --factor to choose another)"
            )
    cs.save(a.out)
    _log(f"imported {a.format} set {a.path}: {len(cs.labels)} images, IPC {cs.ipc}, factor {cs.factor} -> {a.out}")


def cmd_decode(a) -> None:
    from .condensed import CondensedSet
    from .io import require_file
    from .pipeline import decode_set

    _outputs(a, "--out", inputs=("--condensed",))
    require_file(a.condensed, "condensed set", "import it with `yoco import` or make it with `yoco condense`")
    cs = CondensedSet.load(a.condensed)
    if "decoded_from" in cs.provenance:
        raise YocoError(
            f"--condensed {a.condensed} is already a decoded set; pass the condensed set it was "
            "decoded from (decoding twice would cut patches of patches)"
        )
    decoded = decode_set(cs)
    decoded.save(a.out)
    _log(f"decoded {len(decoded.labels)} patches -> {a.out}")


def cmd_dynamics(a) -> None:
    from .pipeline import dynamics_config, save_model, train_dynamics
    from .progress import Progress

    from .io import check_output

    _outputs(a, "--out-dir")
    for rep in range(1, a.reps + 1):  # a FIFO or device among the files it will write: refused now, not after training
        for name in (f"rep{rep}.npz", f"rep{rep}.model.pt"):
            check_output(Path(a.out_dir) / name, "--out-dir")
    _check_training(a)
    device = _device(a.device)
    decoded, real = _load_decoded(a.decoded), _load_real(a.real)
    _check_decoded_real(a, decoded, real)
    spec = _spec(a, decoded)
    _check_spec(spec, a)
    config = dynamics_config(**_train_fields(a))
    reps = list(range(1, a.reps + 1))
    out = Path(a.out_dir)
    identity = _identity(decoded)
    _log(f"dynamics: {len(reps)} reps x {a.epochs} epochs of {spec.name} on {len(decoded.labels)} patches")
    with Progress("dynamics") as progress:
        results = train_dynamics(
            decoded,
            real,
            spec,
            config,
            reps=reps,
            seed_prefix=a.seed_prefix,
            double_normalize=a.double_normalize,
            device=device,
            progress=progress,
        )
    for rep, (dyn, state) in zip(reps, results):
        dyn.save(out / f"rep{rep}.npz")
        save_model(state, spec, out / f"rep{rep}.model.pt", identity=identity, seed=dyn.meta["seed"])
        _log(f"rep {rep}: seed {dyn.meta['seed']}, final test accuracy {dyn.meta['final_test_acc']:.2f}%")


def cmd_scores(a) -> None:
    from .artefacts import check_belong
    from .dynamics import Dynamics
    from .pipeline import compute_scores, read_model, save_scores, training_pool
    from .scores import check_lbpe

    _outputs(a, "--out", inputs=("--dynamics", "--model", "--decoded", "--real"))
    device = _device(a.device)
    check_lbpe(a.lbpe_epochs, a.lbpe_top_k, None, "--lbpe-epochs", "--lbpe-top-k")
    decoded, real = _load_decoded(a.decoded), _load_real(a.real)
    _check_decoded_real(a, decoded, real)
    for flag, value, recorded in (
        ("--condenser", a.condenser, decoded.condenser),
        ("--dataset", a.dataset, decoded.dataset),
    ):
        if value and value != recorded:
            raise YocoError(
                f"{flag} {value} but --decoded {a.decoded} is {recorded!r}; pass {flag} {recorded} (or leave it out)"
            )
    dyn = Dynamics.load(a.dynamics)
    _check_dynamics_belong(dyn, a.dynamics, decoded, a.decoded)
    check_lbpe(a.lbpe_epochs, a.lbpe_top_k, dyn.num_epochs, "--lbpe-epochs", "--lbpe-top-k", f"dynamics {a.dynamics}")
    model, recorded = read_model(a.model, device)
    check_belong(
        _identity(decoded),
        recorded["identity"],
        f"--decoded {a.decoded}",
        f"--model {a.model}",
        "pass the model of the same dynamics run",
    )
    spec = recorded["spec"]
    if (spec.num_classes, spec.image_size) != (decoded.num_classes, int(decoded.images.shape[-1])):
        raise YocoError(
            f"--model {a.model} classifies {spec.num_classes} classes of {spec.image_size}-px images but "
            f"--decoded {a.decoded} has {decoded.num_classes} classes of {decoded.images.shape[-1]} px; "
            "pass the model of this set's dynamics run"
        )
    if recorded["seed"] is not None and dyn.meta.get("seed") is not None and recorded["seed"] != dyn.meta["seed"]:
        raise YocoError(
            f"--model {a.model} (seed {recorded['seed']}) and --dynamics {a.dynamics} (seed "
            f"{dyn.meta['seed']}) come from different runs; pass the rep*.model.pt beside the dynamics file"
        )
    pool_x, _ = training_pool(decoded, real, a.double_normalize)
    table = compute_scores(
        dyn, model, pool_x, a.lbpe_epochs, a.lbpe_top_k, device=device, lbpe_epoch_ties=a.lbpe_epoch_ties
    )
    save_scores(
        table,
        a.out,
        condenser=decoded.condenser,
        dataset=decoded.dataset,
        lbpe_epochs=a.lbpe_epochs,
        lbpe_top_k=a.lbpe_top_k,
        lbpe_epoch_ties=a.lbpe_epoch_ties,
        dynamics=str(a.dynamics),
        rep=dyn.meta.get("rep"),
        seed=dyn.meta.get("seed"),
        identity=_identity(decoded),
    )
    _log(f"scores {sorted(k for k in table if k != 'features')} -> {a.out}")


def _selection_record(sel_indices, key, rep, seed, decoded, ipc_from, factor, ipc_to, **extra) -> dict:
    import numpy as np

    from .selection import class_counts

    idx = np.asarray(sel_indices, dtype=np.int64)
    return {
        "key": key,
        "rep": int(rep),
        "seed": int(seed),
        "dataset": decoded.dataset,
        "condenser": decoded.condenser,
        "ipc_from": int(ipc_from),
        "ipc_to": int(ipc_to),
        "factor": int(factor),
        "indices": idx.tolist(),
        "n_selected": int(idx.size),
        "class_counts": class_counts(idx, decoded.labels.numpy(), decoded.num_classes).tolist(),
        "identity": _identity(decoded),
        **extra,
    }


def _parse_pairs(a) -> list[tuple[str, int]]:
    if a.pairs:
        pairs = []
        for item in a.pairs:
            key, sep, rep = item.rpartition("@")
            if not sep or not key or not rep.isdigit() or int(rep) < 1:
                raise YocoError(f"--pairs takes KEY@REP items such as yoco@1 (REP >= 1); got {item!r}")
            pairs.append((key, int(rep)))
        return pairs
    if not a.key:
        raise YocoError("give --key KEY (with --rep) or --pairs KEY@REP ...")
    return [(a.key, a.rep)]


def _score_files(a) -> dict[int, str]:
    """Rep -> score file. A single file serves every rep (a user pruning with one dynamics run)."""
    files = list(a.scores or [])
    if len(files) == 1 and not a.score_reps:
        return {None: files[0]}
    reps = a.score_reps or list(range(1, len(files) + 1))
    if len(reps) != len(files):
        raise YocoError(f"{len(files)} score files but {len(reps)} --score-reps; give one rep per file")
    if len(set(reps)) != len(reps):
        raise YocoError(f"--score-reps {' '.join(map(str, reps))} names a rep twice; give each file its own rep")
    return dict(zip(reps, files))


def _check_geometry_flags(a, decoded) -> tuple[int, int]:
    """``(IPC_F, f)`` of the decoded set; flags that restate them (or its dataset) must agree."""
    from .pipeline import source_geometry

    ipc_from, factor = source_geometry(decoded)
    if getattr(a, "ipc_from", None) is not None and a.ipc_from != ipc_from:
        raise YocoError(
            f"--ipc-from {a.ipc_from} but --decoded {a.decoded} was stored at IPC {ipc_from}; pass "
            f"--ipc-from {ipc_from} (or leave it out)"
        )
    if getattr(a, "dataset", None) and a.dataset != decoded.dataset:
        raise YocoError(
            f"--dataset {a.dataset} but --decoded {a.decoded} was condensed from {decoded.dataset!r}; "
            f"pass --dataset {decoded.dataset} (or leave it out)"
        )
    if getattr(a, "ipc_to", None) is not None and a.ipc_to > ipc_from:
        raise YocoError(
            f"--ipc-to {a.ipc_to} exceeds the stored IPC {ipc_from} of --decoded {a.decoded}; "
            f"pruning only shrinks: choose --ipc-to <= {ipc_from}"
        )
    return ipc_from, factor


def cmd_select(a) -> None:
    """Every (key, rep) selection of one cell into one JSON list (one record per selection)."""
    from .artefacts import check_rep
    from .io import write_json
    from .seeding import seed_from
    from .selection import parse_key, select, tie_decided

    _outputs(a, "--out", inputs=("--decoded", "--scores"))
    pairs = _parse_pairs(a)
    rules = {key: parse_key(key) for key, _ in pairs}
    files = _score_files(a)
    decoded = _load_decoded(a.decoded)
    ipc_from, factor = _check_geometry_flags(a, decoded)
    loaded: dict[str, dict] = {}
    for key, rep in pairs:
        if rules[key].method != "random":
            path = files.get(rep, files.get(None))
            if path is None:
                raise YocoError(f"key {key!r} (rep {rep}) needs a score file made by `yoco scores`: pass --scores")
            if path not in loaded:
                loaded[path] = _read_scores(path, decoded, a.decoded)
            check_rep(
                loaded[path][1].get("rep"),
                rep,
                f"score file {path}",
                f"pass the score file of rep {rep} (yoco scores --dynamics .../rep{rep}.npz)",
            )
    labels = decoded.labels.numpy()
    records = []
    for key, rep in pairs:
        rule = rules[key]
        scores = loaded[files.get(rep, files.get(None))][0] if rule.method != "random" else {}
        seed = seed_from("select", a.seed_prefix, key, a.ipc_to, rep)
        idx = select(
            key,
            scores,
            labels,
            ipc_from=ipc_from,
            ipc_to=a.ipc_to,
            factor=factor,
            seed=seed,
            dataset=decoded.dataset,
            ties=a.tie_breaking,
            ccs_random_within=a.ccs_random_within_strata,
            ccs_ratio=a.ccs_cutoff,
        )
        extra = {}
        if rule.method == "score":
            blocks = decoded.num_classes if rule.balance == "class" else None
            extra["tie_decided"] = tie_decided(scores[rule.score], idx, blocks)
            extra["tie_breaking"] = a.tie_breaking
        records.append(_selection_record(idx, key, rep, seed, decoded, ipc_from, factor, a.ipc_to, **extra))
        _log(f"{key} IPC {ipc_from}->{a.ipc_to} rep {rep}: {len(idx)} patches")
    write_json(records, a.out)
    _log(f"{len(records)} selections -> {a.out}")


def _read_selection_files(paths, decoded=None, decoded_path=None) -> list[dict]:
    """Selection records of ``yoco select`` files, checked (yoco.selection.read_selections)."""
    from .selection import read_selections

    return read_selections(paths, decoded, decoded_path)


def _selections_from_json(paths, keys=None, decoded=None, decoded_path=None):
    import numpy as np

    from .evaluate import Selection

    sels = []
    for rec in _read_selection_files(paths, decoded, decoded_path):
        if keys and rec["key"] not in keys:
            continue
        sels.append(
            Selection(
                key=rec["key"],
                rep=rec["rep"],
                indices=np.asarray(rec["indices"], dtype=np.int64),
                dataset=rec["dataset"],
                condenser=rec["condenser"],
                ipc_from=rec["ipc_from"],
                ipc_to=rec["ipc_to"],
                factor=rec["factor"],
                seed=rec["seed"],
                tie_decided=rec.get("tie_decided"),
            )
        )
    return sels


def _evaluate_inputs(a):
    """The checks every evaluating command makes before any work; returns the decoded and real sets."""
    _outputs(a, "--out", inputs=("--decoded", "--real"))
    _check_training(a)
    _device(a.device)
    decoded, real = _load_decoded(a.decoded), _load_real(a.real)
    _check_decoded_real(a, decoded, real)
    _check_spec(_spec(a, decoded), a)
    return decoded, real


def _evaluate(a, selections, decoded, real):
    from .evaluate import evaluate_selections
    from .io import write_csv
    from .pipeline import test_tensors, training_pool
    from .progress import Progress

    pool_x, pool_y = training_pool(decoded, real, a.double_normalize)
    test_x, test_y = test_tensors(real)
    spec = _spec(a, decoded)
    from .train import TrainConfig

    config = TrainConfig(**_train_fields(a), eval_points=a.eval_points)
    _log(f"evaluate: {len(selections)} selections x {a.inits} inits of {spec.name}, {a.epochs} epochs")
    with Progress(a.command) as progress:
        runs = evaluate_selections(
            selections,
            pool_x,
            pool_y,
            test_x,
            test_y,
            spec,
            config,
            inits=a.inits,
            device=_device(a.device),
            progress=progress,
        )
    # Every row names the decoded set it trained on, so tables never mix runs of two sets in a cell.
    identity = _identity(decoded)
    for column in ("factor", "n_decoded", "decoded_sha256"):
        runs[column] = identity[column]
    write_csv(runs, a.out)
    for key, group in runs.groupby("key", sort=False):
        _log(
            f"  {key}: best {group.best_acc.mean():.2f} ± {group.best_acc.std(ddof=0):.2f}  "
            f"last {group.last_acc.mean():.2f}  ({len(group)} runs)"
        )


def cmd_evaluate(a) -> None:
    decoded, real = _evaluate_inputs(a)
    selections = _selections_from_json(a.selections, a.keys, decoded, a.decoded)
    if a.keys and {s.key for s in selections} != set(a.keys):
        missing = sorted(set(a.keys) - {s.key for s in selections})
        raise YocoError(f"the selection files hold no selections for {missing}; rerun `yoco select` for them")
    if not selections:
        raise YocoError(f"--selections {' '.join(a.selections)} hold no selection; make them with `yoco select`")
    _evaluate(a, selections, decoded, real)


def cmd_evaluate_fractions(a) -> None:
    """Fig. 3: easy-first vs hard-first selections keeping (1 - ratio) of every class."""
    from .artefacts import reps_of
    from .evaluate import Selection
    from .selection import ORDERS, keep_fraction, parse_key

    bad = [o for o in a.orders if o not in ORDERS]
    if bad:
        raise YocoError(f"--orders takes easy and/or hard, got {' '.join(bad)}")
    score_name = parse_key(a.key).score
    if score_name is None or score_name == "features":
        raise YocoError(f"--key {a.key} ranks by no per-sample score; Fig. 3 needs a score key such as yoco or el2n")
    decoded, real = _evaluate_inputs(a)
    ipc_from, factor = _check_geometry_flags(a, decoded)
    labels = decoded.labels.numpy()
    read = [_read_scores(path, decoded, a.decoded) for path in a.scores]
    tables = [table for table, _ in read]
    for path, scores in zip(a.scores, tables):
        if score_name not in scores:
            raise YocoError(f"{path} has no {score_name!r} score; recompute it with `yoco scores`")
    reps = reps_of([meta.get("rep") for _, meta in read], list(a.scores), "score files")
    sels = []
    for rep, scores in zip(reps, tables):
        for ratio in a.fractions:
            for order in a.orders:
                idx = keep_fraction(scores[score_name], labels, 1.0 - ratio, order)
                sels.append(
                    Selection(
                        key=f"{a.key}_{order}",
                        rep=rep,
                        indices=idx,
                        dataset=decoded.dataset,
                        condenser=decoded.condenser,
                        ipc_from=ipc_from,
                        ipc_to=0,
                        factor=factor,
                        extra={"fraction_pruned": ratio, "order": order},
                    )
                )
    _evaluate(a, sels, decoded, real)


def cmd_evaluate_epochs(a) -> None:
    """Fig. 5: balanced easy-first selections by the LBPE of one epoch alone."""
    from .artefacts import reps_of
    from .dynamics import Dynamics
    from .evaluate import Selection
    from .selection import select_single_epoch

    if a.epochs_from >= a.epochs_to:
        raise YocoError(f"--epochs-from {a.epochs_from} must be below --epochs-to {a.epochs_to}")
    decoded, real = _evaluate_inputs(a)
    ipc_from, factor = _check_geometry_flags(a, decoded)
    runs = [Dynamics.load(path) for path in a.dynamics]
    for path, dyn in zip(a.dynamics, runs):
        _check_dynamics_belong(dyn, path, decoded, a.decoded)
        if a.epochs_from >= dyn.num_epochs:
            raise YocoError(
                f"--epochs-from {a.epochs_from} but dynamics {path} recorded only {dyn.num_epochs} "
                f"epochs (0..{dyn.num_epochs - 1}); lower it"
            )
    sels = []
    reps = reps_of([dyn.meta.get("rep") for dyn in runs], list(a.dynamics), "dynamics files")
    for rep, dyn in zip(reps, runs):
        last = min(a.epochs_to, dyn.num_epochs)
        for epoch in range(a.epochs_from, last):
            idx = select_single_epoch(dyn, epoch, ipc_from, a.ipc_to, factor)
            sels.append(
                Selection(
                    key=a.key,
                    rep=rep,
                    indices=idx,
                    dataset=decoded.dataset,
                    condenser=decoded.condenser,
                    ipc_from=ipc_from,
                    ipc_to=a.ipc_to,
                    factor=factor,
                    extra={"lbpe_epoch": epoch},
                )
            )
    _evaluate(a, sels, decoded, real)


def cmd_prune(a) -> None:
    import numpy as np

    from .api import prune
    from .condensed import load_condensed
    from .io import write_json
    from .selection import parse_key

    _outputs(a, "--out", inputs=("--condensed", "--real"))
    device = _device(a.device)
    if parse_key(a.key).method != "random":
        from .scores import check_lbpe

        # The defaults of yoco.prune: E = min(100, --epochs), K = min(10, E).
        lbpe_epochs = min(100, a.epochs) if a.lbpe_epochs is None else a.lbpe_epochs
        lbpe_top_k = min(10, lbpe_epochs) if a.lbpe_top_k is None else a.lbpe_top_k
        check_lbpe(lbpe_epochs, lbpe_top_k, a.epochs, "--lbpe-epochs", "--lbpe-top-k", "the dynamics run (--epochs)")
    if (a.mean is None) != (a.std is None):
        raise YocoError("pass both --mean and --std (3 values each), or neither")
    if a.format == "canonical" or a.dataset is not None:
        dataset = a.dataset
    else:
        raise YocoError(
            f"--format {a.format} files do not record their dataset; pass --dataset (cifar10, cifar100, "
            "imagenet10, digits, or your own dataset's name with --mean and --std)"
        )
    cs = load_condensed(a.condensed, a.format, dataset, factor=a.factor, trusted=a.allow_unsafe_unpickling)
    if "factor_assumed" in cs.provenance:
        _log(
            f"{a.condensed} records no multi-formation factor: assuming {cs.factor}, the {a.format} default for "
            f"{cs.dataset} (pass --factor to choose another)"
        )
    _check_classes(cs, cs.dataset, a.condensed)
    if a.real is None:
        _check_resolution(cs, a.condensed, None, "pass --real with its real data made at that size")
    if a.mean is not None:
        from .data import check_statistics

        check_statistics(a.mean, a.std, "--mean", "--std")
    mean, std, image_size = a.mean, a.std, None
    if a.real is not None:
        from .artefacts import check_real

        real = _load_real(a.real)
        check_real(cs, real, f"--condensed {a.condensed}", f"--real {a.real}")
        image_size = real.image_size
        if mean is None:
            mean, std = real.mean, real.std
    known = cs.dataset if cs.dataset in ("cifar10", "cifar100", "imagenet10", "digits") else None
    if known is None and mean is None:
        raise YocoError(
            f"no normalisation is known for dataset {cs.dataset!r}; pass --mean R G B and --std R G B of "
            "your real training images (pixels in [0, 1]), or --real with a `yoco data` file"
        )
    idx = prune(
        cs.images,
        cs.labels,
        a.ipc_to,
        factor=cs.factor,
        key=a.key,
        seed=a.seed,
        epochs=a.epochs,
        lbpe_epochs=a.lbpe_epochs,
        lbpe_top_k=a.lbpe_top_k,
        network=a.network,
        width=a.width,
        device=device,
        value_space=cs.value_space,
        dataset=known,
        mean=mean,
        std=std,
        image_size=image_size,
    )
    write_json(
        {
            "key": a.key,
            "dataset": cs.dataset,
            "condenser": cs.condenser,
            "ipc_from": cs.ipc,
            "ipc_to": a.ipc_to,
            "factor": cs.factor,
            "seed": a.seed,
            "n_decoded": cs.num_decoded,
            "indices": np.asarray(idx).tolist(),
        },
        a.out,
    )
    _log(f"kept {len(idx)} of {cs.num_decoded} decoded patches -> {a.out}")


def _read_csvs(paths, flag: str, fix: str = "pass the CSV written by `yoco evaluate`"):
    """Concatenated CSVs written by yoco (runs of `yoco evaluate`), each checked to be readable."""
    import pandas as pd

    from .io import require_file

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


def cmd_table(a) -> None:
    from . import tables
    from .io import write_csv

    _outputs(a, "--out", inputs=("--runs", "--rows"))
    if a.number == 6:
        if a.runs:
            raise YocoError("Table 6 lists what each method needs and reads no runs; leave out --runs")
        frame = tables.table6()
    else:
        if not a.runs:
            raise YocoError(
                f"Table {a.number} needs --runs: the run CSVs written by `yoco evaluate` "
                "(e.g. --runs results/runs/idc/cifar10/ipc10/to1/convnet.csv)"
            )
        runs = tables.read_runs(a.runs)
        rows = None
        if a.rows:
            rows = _read_csvs([a.rows], "--rows", "pass the rows CSV the workflow's table_rows rule writes")
        frame = tables.build_table(a.number, runs, rows=rows, metric=a.metric, stand_ins=_stand_ins(a.stand_in))
        if not (frame["n_runs"] > 0).any():
            raise YocoError(
                f"none of the runs in --runs belong to a row of Table {a.number}; pass the run CSVs of "
                "this table's cells (or --rows naming the cells you ran)"
            )
    write_csv(frame, a.out)
    _log(f"table {a.number}: {len(frame)} rows -> {a.out}")


def _stand_ins(specs: list[str]) -> dict[str, dict]:
    """``--stand-in digits=cifar10:20=50,10=10`` -> ``{"digits": {"dataset": "cifar10", "ipc_from": {20: 50, 10: 10}}}``."""
    out: dict[str, dict] = {}
    for spec in specs:
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


def cmd_claims(a) -> None:
    from . import tables
    from .claims import claims, format_claims
    from .io import write_csv

    _outputs(a, "--out", inputs=("--runs",))
    frame = claims(tables.read_runs(a.runs), metric=a.metric, dataset=a.dataset, ipc_from=a.ipc_from, network=a.network)
    write_csv(frame, a.out)
    # The report goes to stdout (the workflow shows it at the end of a run); the log line to stderr.
    print(format_claims(frame), flush=True)
    _log(f"claims: {len(frame)} rows -> {a.out}")


def _check_selections_match_runs(sels: list[dict], runs, sel_paths, run_paths) -> None:
    """Fig. 2 puts selections next to the accuracies of their cell: both must come from one decoded set."""
    if "decoded_sha256" not in runs.columns:
        return
    for rec in sels:
        ident = rec.get("identity") or {}
        cell = runs[
            (runs["dataset"].astype(str) == str(rec["dataset"]))
            & (runs["condenser"].astype(str) == str(rec["condenser"]))
            & (runs["ipc_from"] == rec["ipc_from"])
            & (runs["ipc_to"] == rec["ipc_to"])
        ]
        hashes = set(cell["decoded_sha256"].dropna().astype(str))
        if ident.get("decoded_sha256") and hashes and hashes != {ident["decoded_sha256"]}:
            raise YocoError(
                f"--selections {' '.join(sel_paths)} and --runs {' '.join(run_paths)} come from different "
                f"decoded sets for {rec['dataset']}/{rec['condenser']} IPC {rec['ipc_from']}->"
                f"{rec['ipc_to']}; pass the files of one workflow"
            )


def cmd_figure_data(a) -> None:
    import numpy as np

    from . import figures
    from .io import write_csv

    _outputs(a, "--out", inputs=("--selections", "--runs", "--dynamics", "--decoded", "--topk"))
    needs = {2: ("selections", "runs"), 3: ("runs",), 5: ("runs",), 7: ("dynamics",)}[a.figure]
    for name in needs:
        if not getattr(a, name):
            raise YocoError(f"figure {a.figure} needs --{name}; see `yoco figure-data --help`")
    if a.figure == 2:
        sels = _read_selection_files(a.selections)
        runs = _read_csvs(a.runs, "--runs")
        _check_selections_match_runs(sels, runs, a.selections, a.runs)
        frame = figures.fig2_data(sels, runs, stand_ins=_stand_ins(a.stand_in))
    elif a.figure == 3:
        frame = figures.fig3_data(_read_csvs(a.runs, "--runs"), stand_ins=_stand_ins(a.stand_in))
    elif a.figure == 5:
        topk = _read_csvs(a.topk, "--topk") if a.topk else None
        frame = figures.fig5_data(_read_csvs(a.runs, "--runs"), topk, stand_ins=_stand_ins(a.stand_in))
    else:
        from .dynamics import Dynamics

        if len(a.dynamics) != 1:
            raise YocoError(f"figure 7 plots one dynamics run; pass one --dynamics file, got {len(a.dynamics)}")
        dyn = Dynamics.load(a.dynamics[0])
        if a.decoded:
            _check_dynamics_belong(dyn, a.dynamics[0], _load_decoded(a.decoded[0]), a.decoded[0])
        bad = [e for e in a.epochs if e < 0]
        if bad:
            raise YocoError(f"--epochs {' '.join(map(str, bad))} are negative; epochs count from 0")
        epochs = [e for e in a.epochs if e < dyn.num_epochs] or [dyn.num_epochs - 1]
        frame = figures.fig7_data(dyn.err_l2, np.asarray(dyn.labels), epochs)
    write_csv(frame, a.out)
    _log(f"figure {a.figure} data: {len(frame)} rows -> {a.out}")


def cmd_report_page(a) -> None:
    from . import report

    _outputs(a, "--out", inputs={"table": ("--csv",), "config": ("--config",), "provenance": ("--runs",)}[a.kind])
    if a.kind == "table":
        header, rows = report.read_table_csv(a.csv)
        page = report.table_page(header, rows, a.number, source=a.csv)
    elif a.kind == "config":
        from .io import require_file

        text = require_file(a.config, "--config", "pass the merged config YAML the workflow writes").read_text()
        page = report.config_page(text, a.configfile, a.overrides, a.config)
    else:
        page = report.provenance_page(
            report.run_provenance(a.runs), report.environment(), report.git_state(), len(a.runs)
        )
    from .io import atomic_path

    with atomic_path(a.out) as tmp:
        tmp.write_text(page, encoding="utf-8")
    _log(f"report page ({a.kind}) -> {a.out}")


# ----------------------------------------------------------------------------------------------- parser
def _evaluate_parser(sub, name: str, help: str, func) -> argparse.ArgumentParser:
    """A subcommand that trains ``--inits`` networks per selection: the arguments all three share."""
    p = sub.add_parser(name, help=help)
    p.add_argument("--decoded", required=True)
    p.add_argument("--real", required=True)
    p.add_argument("--inits", type=POSITIVE, default=3)
    p.add_argument("--eval-points", type=NON_NEGATIVE, default=4)
    p.add_argument("--out", required=True)
    _add_train_args(p)
    p.set_defaults(func=func)
    return p


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="yoco",
        description=(
            "You Only Condense Once: prune condensed datasets by LBPE score, easy samples first, classes balanced."
        ),
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("data", help="cache a real dataset (CIFAR via torchvision, an npz, ImageNet-10, digits)")
    p.add_argument("--dataset", required=True)
    p.add_argument("--npz", default=None)
    p.add_argument("--root", default="data")
    p.add_argument("--image-size", type=POSITIVE, default=None)
    p.add_argument(
        "--test-per-class",
        type=POSITIVE,
        default=None,
        help="keep the first N test images of every class (a smaller test split for CPU runs)",
    )
    p.add_argument(
        "--train-per-class",
        type=POSITIVE,
        default=None,
        help="keep the first N training images of every class (500: torchvision's CIFAR-10 = the mini set)",
    )
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_data)

    p = sub.add_parser(
        "condense",
        help="condense a real dataset in-house with IDC, DREAM (canonical file), DSA or MTT (the authors' formats)",
    )
    p.add_argument("--real", required=True)
    p.add_argument("--method", choices=list(CONDENSE_WRITES), required=True)
    p.add_argument("--ipc", type=POSITIVE, required=True)
    p.add_argument(
        "--factor", type=POSITIVE, default=None, help="multi-formation factor (default: IDC/DREAM 2, DSA/MTT 1)"
    )
    p.add_argument("--outer", type=POSITIVE, default=None, help="outer iterations (IDC niter, DSA Iteration + 1)")
    p.add_argument("--inner", type=POSITIVE, default=None, help="matching steps per outer iteration (DSA outer_loop)")
    p.add_argument("--net-epochs-data", type=POSITIVE, default=None, help="real samples per network update (n_data)")
    p.add_argument(
        "--syn-epochs", type=POSITIVE, default=None, help="DSA: epochs on the synthetic set per network update"
    )
    p.add_argument("--batch-real", type=POSITIVE, default=None, help="real images per class in a matching step")
    p.add_argument("--batch-net", type=POSITIVE, default=None, help="batch size of the network updates")
    p.add_argument("--lr-img", type=POSITIVE_FLOAT, default=None)
    p.add_argument("--lr-net", type=POSITIVE_FLOAT, default=None)
    p.add_argument("--width", type=POSITIVE, default=None)
    p.add_argument("--seed", type=SEED, default=0)
    p.add_argument("--snapshot", default=None, help="resume from / save snapshots to this file")
    p.add_argument("--device", default="auto")
    p.add_argument("--out", required=True)
    _add_mtt_flags(p)
    p.set_defaults(func=cmd_condense)

    p = sub.add_parser("experts", help="train MTT's expert trajectories on a real dataset (parameters every epoch)")
    p.add_argument("--real", required=True, help="npz of `yoco data`")
    p.add_argument("--num-experts", type=POSITIVE, required=True)
    p.add_argument("--epochs", type=POSITIVE, default=None, help="epochs per expert (MTT: 50)")
    p.add_argument("--zca", action="store_true", default=None, help="ZCA-whiten the images (MTT's CIFAR setting)")
    p.add_argument("--lr", type=POSITIVE_FLOAT, default=None, help="SGD learning rate (MTT: 0.01)")
    p.add_argument("--batch", type=POSITIVE, default=None, help="batch size (MTT: 256)")
    p.add_argument("--width", type=POSITIVE, default=None, help="ConvNet width (MTT: 128)")
    p.add_argument("--seed", type=SEED, default=0)
    p.add_argument("--snapshot", default=None, help="resume from / save the unfinished trajectories to this file")
    p.add_argument(
        "--snapshot-every",
        type=POSITIVE,
        default=None,
        help="write --snapshot every this many epochs (default 1; the paper's 100 experts are ~6.5 GB a write)",
    )
    p.add_argument("--device", default="auto")
    p.add_argument("--out", required=True, help="the expert file (.pt)")
    p.set_defaults(func=cmd_experts)

    p = sub.add_parser(
        "import",
        help="convert an external condensed file (idc, dream, mtt, dsa, kip) to the canonical "
        "form; `--format real` takes a real training set (an npz of `yoco data`) whole",
    )
    p.add_argument("--format", required=True, choices=["idc", "dream", "mtt", "dsa", "kip", "canonical", "real"])
    p.add_argument("--path", required=True)
    p.add_argument("--dataset", required=True)
    p.add_argument("--ipc", type=POSITIVE, default=None)
    p.add_argument(
        "--factor",
        type=POSITIVE,
        default=None,
        help="multi-formation factor (idc/dream; default 2 for CIFAR, 3 for ImageNet-10)",
    )
    p.add_argument(
        "--image-size",
        type=POSITIVE,
        default=None,
        help="the side of the real images the set was condensed from, when `yoco data --image-size` "
        "changed it (default: the dataset's own, 32 for CIFAR, 224 for ImageNet-10; digits: unchecked)",
    )
    _add_unsafe_flag(p)
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("decode", help="multi-formation decode of a condensed set into its patches")
    p.add_argument("--condensed", required=True)
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_decode)

    p = sub.add_parser("dynamics", help="train on every decoded patch and record per-epoch dynamics (all reps at once)")
    p.add_argument("--decoded", required=True)
    p.add_argument("--real", required=True)
    p.add_argument("--reps", type=POSITIVE, default=3)
    p.add_argument("--seed-prefix", default="")
    p.add_argument("--out-dir", required=True)
    _add_train_args(p)
    p.set_defaults(func=cmd_dynamics)

    p = sub.add_parser("scores", help="every importance score of one dynamics run")
    p.add_argument("--dynamics", required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--decoded", required=True)
    p.add_argument("--real", required=True)
    p.add_argument("--condenser", default="")
    p.add_argument("--dataset", default="")
    p.add_argument("--lbpe-epochs", type=POSITIVE, required=True)
    p.add_argument("--lbpe-top-k", type=POSITIVE, required=True)
    p.add_argument(
        "--lbpe-epoch-ties",
        choices=["latest", "earliest", "torch"],
        default="latest",
        help="which of equally accurate epochs LBPE sums: latest (the paper's Algorithm 1), "
        "earliest, or torch.topk's undefined order (the reference code)",
    )
    p.add_argument("--double-normalize", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument("--device", default="auto")
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_scores)

    p = sub.add_parser("select", help="select decoded patches by pruning keys (yoco, el2n_easy, random_balance, ...)")
    p.add_argument("--key", default=None, help="one pruning key (with --rep)")
    p.add_argument(
        "--pairs",
        nargs="+",
        default=None,
        action=_Distinct,
        same=_same_pair,
        metavar="KEY@REP",
        help="several selections, e.g. yoco@1 yoco@2",
    )
    p.add_argument("--ipc-from", type=POSITIVE, default=None)
    p.add_argument("--ipc-to", type=POSITIVE, required=True)
    p.add_argument("--decoded", required=True)
    p.add_argument(
        "--scores",
        nargs="+",
        default=None,
        action=_Distinct,
        same=_same_file,
        help="score files (made by `yoco scores`), one per rep",
    )
    p.add_argument(
        "--score-reps",
        type=POSITIVE,
        nargs="+",
        default=None,
        action=_Distinct,
        help="the rep of each --scores file (default 1, 2, ...)",
    )
    p.add_argument("--rep", type=POSITIVE, default=1)
    p.add_argument("--seed-prefix", default="")
    p.add_argument("--dataset", default=None)
    p.add_argument(
        "--tie-breaking",
        choices=["reference", "index", "random"],
        default="reference",
        help="order of equal scores: reference (one stable descending sort; easy keeps the highest "
        "indices, hard the lowest), index (ascending index both ways), random (seeded)",
    )
    p.add_argument("--ccs-random-within-strata", action=argparse.BooleanOptionalAction, default=False)
    p.add_argument(
        "--ccs-cutoff",
        type=_float_in(0.0, 1.0, high_open=True),
        default=None,
        help="CCS hard cut-off ratio for cells outside the reference's table (reference-spec §3.8)",
    )
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_select)

    p = _evaluate_parser(sub, "evaluate", "train networks on selections (inits x selections, batched)", cmd_evaluate)
    p.add_argument("--selections", nargs="+", required=True, action=_Distinct, same=_same_file)
    p.add_argument(
        "--keys", nargs="+", default=None, action=_Distinct, help="train only these keys of the selection files"
    )

    p = _evaluate_parser(
        sub, "evaluate-fractions", "Fig. 3: easy- vs hard-first at pruning ratios", cmd_evaluate_fractions
    )
    p.add_argument(
        "--scores", nargs="+", required=True, action=_Distinct, same=_same_file, help="one score file per rep"
    )
    p.add_argument("--key", default="yoco")
    p.add_argument(
        "--fractions",
        type=FRACTION,
        nargs="+",
        required=True,
        action=_Distinct,
        help="pruning ratios, e.g. 0.1 ... 0.9",
    )
    p.add_argument("--orders", nargs="+", default=["easy", "hard"], action=_Distinct)

    p = _evaluate_parser(sub, "evaluate-epochs", "Fig. 5: selections by the LBPE of single epochs", cmd_evaluate_epochs)
    p.add_argument(
        "--dynamics", nargs="+", required=True, action=_Distinct, same=_same_file, help="one dynamics file per rep"
    )
    p.add_argument("--key", default="yoco")
    p.add_argument("--ipc-from", type=POSITIVE, default=None)
    p.add_argument("--ipc-to", type=POSITIVE, required=True)
    p.add_argument("--epochs-from", type=NON_NEGATIVE, default=0)
    p.add_argument("--epochs-to", type=POSITIVE, required=True)
    p.add_argument("--dataset", default=None)

    p = sub.add_parser("prune", help="apply YOCO to your own condensed set (trains the dynamics itself)")
    p.add_argument("--condensed", required=True)
    p.add_argument(
        "--format",
        default="idc",
        choices=["idc", "dream", "mtt", "dsa", "kip", "canonical"],
        help="file format; canonical = a file written by yoco (records its dataset and factor)",
    )
    p.add_argument(
        "--dataset",
        default=None,
        help="cifar10 | cifar100 | imagenet10 | digits, or your own dataset's name (then give --mean/--std)",
    )
    p.add_argument(
        "--factor",
        type=POSITIVE,
        default=None,
        help="multi-formation factor of the stored images (idc/dream; default 2 for CIFAR, 3 for ImageNet-10)",
    )
    p.add_argument(
        "--mean",
        type=float,
        nargs=3,
        default=None,
        metavar=("R", "G", "B"),
        help="per-channel mean of your real images (pixels in [0, 1]); default: the named dataset's",
    )
    p.add_argument(
        "--std",
        type=POSITIVE_FLOAT,
        nargs=3,
        default=None,
        metavar=("R", "G", "B"),
        help="per-channel std of your real images; default: the named dataset's",
    )
    p.add_argument("--real", default=None, help="a `yoco data` file: its mean/std, classes and resolution are used")
    p.add_argument("--ipc-to", type=POSITIVE, required=True)
    p.add_argument("--key", default="yoco")
    p.add_argument("--epochs", type=POSITIVE, default=1000, help="epochs of the dynamics run")
    p.add_argument("--lbpe-epochs", type=POSITIVE, default=None, help="LBPE's E (default min(100, --epochs))")
    p.add_argument("--lbpe-top-k", type=POSITIVE, default=None, help="LBPE's K (default min(10, E))")
    p.add_argument("--network", default="convnet")
    p.add_argument("--width", type=POSITIVE, default=None, help="network width (default: the paper's)")
    p.add_argument("--seed", type=SEED, default=0)
    p.add_argument("--device", default="auto")
    _add_unsafe_flag(p)
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_prune)

    p = sub.add_parser("table", help="aggregate run CSVs into one of the paper's tables")
    p.add_argument("--number", type=int, required=True, choices=[1, 2, 3, 4, 5, 6, 7])
    p.add_argument("--runs", nargs="*", default=[], action=_Distinct, same=_same_file)
    p.add_argument("--rows", default=None, help="CSV of the table's row keys (from the workflow's grid)")
    p.add_argument("--metric", choices=["best", "last"], default="best")
    p.add_argument(
        "--stand-in",
        action="append",
        default=[],
        metavar="OURS=PAPER[:IPC=PAPER_IPC,...]",
        help="compare a stand-in dataset's rows with the paper's cells of another, e.g. digits=cifar10:20=50",
    )
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_table)

    p = sub.add_parser("figure-data", help="the CSV a figure notebook plots")
    p.add_argument("--figure", type=int, required=True, choices=[2, 3, 5, 7])
    for flag in ("--selections", "--runs", "--dynamics", "--decoded"):
        p.add_argument(flag, nargs="*", default=[], action=_Distinct, same=_same_file)
    p.add_argument("--epochs", type=NON_NEGATIVE, nargs="*", default=[0, 89, 999], action=_Distinct)
    p.add_argument(
        "--topk",
        nargs="*",
        default=[],
        action=_Distinct,
        same=_same_file,
        help="Fig. 5: runs CSVs of `yoco evaluate` holding the cell's top-K-averaged selection (its reference line)",
    )
    p.add_argument(
        "--stand-in",
        action="append",
        default=[],
        metavar="OURS=PAPER[:IPC=PAPER_IPC,...]",
        help="give a stand-in dataset the paper's values of another (Figs. 2, 3, 5), e.g. digits=cifar10:20=50",
    )
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_figure_data)

    p = sub.add_parser(
        "claims", help="test the paper's ordering claims (Tables 1, 2, 4, 5) on run CSVs; see yoco.claims"
    )
    p.add_argument(
        "--runs",
        nargs="+",
        required=True,
        action=_Distinct,
        same=_same_file,
        help="run CSVs written by `yoco evaluate`",
    )
    p.add_argument("--metric", choices=["best", "last"], default="best")
    p.add_argument("--dataset", default="cifar10", help="the setting of the claims (the paper: cifar10, 10, convnet)")
    p.add_argument("--ipc-from", type=POSITIVE, default=10)
    p.add_argument("--network", default="convnet")
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_claims)

    p = sub.add_parser(
        "report-page",
        help="an HTML page of `snakemake --report`: a table (ours beside the paper), the merged config, provenance",
    )
    kinds = p.add_subparsers(dest="kind", required=True, metavar="KIND", parser_class=_Parser)
    k = kinds.add_parser("table", help="a table CSV of `yoco table`, row by row")
    k.add_argument("--csv", required=True)
    k.add_argument("--number", type=int, required=True, choices=[1, 2, 3, 4, 5, 6, 7])
    k.add_argument("--out", required=True)
    k = kinds.add_parser("config", help="the run's merged configuration")
    k.add_argument("--config", required=True, help="the merged config as YAML")
    k.add_argument("--configfile", nargs="*", default=[], help="the config files it was merged from, in order")
    k.add_argument("--overrides", default="", help="the command line's --config values")
    k.add_argument("--out", required=True)
    k = kinds.add_parser("provenance", help="commits, versions and devices of the runs, and this environment")
    k.add_argument("--runs", nargs="*", default=[], help="the runs CSVs of the tables")
    k.add_argument("--out", required=True)
    p.set_defaults(func=cmd_report_page)
    return parser


def _add_mtt_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("MTT (--method mtt; --out is a folder or a [prefix]images_best.pt file)")
    g.add_argument(
        "--experts",
        nargs="+",
        default=None,
        action=_Distinct,
        same=_same_file,
        help="expert file(s) of `yoco experts`",
    )
    g.add_argument("--budget", choices=["paper", "quick"], default="paper", help="paper: CIFAR-10 IPC 10's setting")
    g.add_argument("--iterations", type=POSITIVE, default=None)
    g.add_argument("--syn-steps", type=POSITIVE, default=None)
    g.add_argument("--expert-epochs", type=POSITIVE, default=None)
    g.add_argument("--max-start-epoch", type=POSITIVE, default=None)
    g.add_argument("--lr-lr", type=NON_NEGATIVE_FLOAT, default=None)
    g.add_argument("--lr-teacher", type=POSITIVE_FLOAT, default=None, help="initial learnable step size")
    g.add_argument("--batch-syn", type=NON_NEGATIVE, default=None, help="synthetic images per step (0 = all)")
    g.add_argument(
        "--checkpoint-steps", action="store_true", help="recompute each unrolled step in the backward (less memory)"
    )


def _add_unsafe_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--allow-unsafe-unpickling",
        action="store_true",
        help="UNSAFE: let a file that holds Python objects other than tensors run code while loading; "
        "only for files from a source you trust",
    )


class _Parser(argparse.ArgumentParser):
    """argparse with the error contract of every yoco command: one line on stderr, exit status 2."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def main(argv: list[str] | None = None) -> int:
    """Run one command. Exit status: 0 done, 2 bad input (one line on stderr), 130 interrupted (docs/errors.md)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    _tune_allocator()
    try:
        args.func(args)
    except YocoError as err:
        # One line, whatever the message carries from below (torch and numpy messages span lines).
        print(f"yoco {args.command}: error: {' '.join(str(err).split())}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            f"yoco {args.command}: interrupted; outputs are written only when complete, so rerun the command",
            file=sys.stderr,
        )
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
