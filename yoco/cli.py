"""``yoco``: one subcommand per pipeline stage, each reading and writing files.

The Snakemake rules call these as one-liners; users without Snakemake can call them by hand. Each
subcommand's work lives in :mod:`yoco.stages`, in the function of the same name (``yoco import`` is
``stages.import_set``, ``yoco prune`` is ``stages.prune_file``), which takes the flags as keywords
(``--out-dir`` is ``out_dir=``; the training recipe is one ``train=`` :class:`~yoco.stages.TrainOptions`).
This module only parses the flags, each command's parser declared beside it, and prints a
:class:`~yoco.errors.YocoError` as one line with exit status 2 (docs/errors.md).
"""

from __future__ import annotations

import argparse
import ctypes
import math
import sys

from . import stages
from .errors import YocoError
from .stages.condensing import CONDENSE_WRITES
from .stages.inputs import TrainOptions, at_least


def _tune_allocator() -> None:
    """Keep glibc from returning and re-mapping the training loop's buffers (1.7x on CPU, design.md §4)."""
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return
    M_TRIM_THRESHOLD, M_MMAP_MAX = -1, -4
    libc.mallopt(M_MMAP_MAX, 0)
    libc.mallopt(M_TRIM_THRESHOLD, 1 << 30)


# ----------------------------------------------------------------------------------------------- flag types
# Flags are checked as they are parsed, so a mistake costs seconds, not a training run; the checks that
# need files (outputs, inputs that must belong together) are the stages' (docs/errors.md).
def _int_at_least(low: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        try:
            return at_least(value, low)  # the words a stage refuses a Python caller's value with
        except YocoError as err:
            raise argparse.ArgumentTypeError(str(err)) from None

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


# ----------------------------------------------------------------------------------------------- commands
def _add_train_args(p: argparse.ArgumentParser) -> None:
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
    g.add_argument("--epochs", type=POSITIVE, default=TrainOptions.epochs)
    g.add_argument("--batch-size", type=POSITIVE, default=TrainOptions.batch_size)
    g.add_argument("--lr", type=POSITIVE_FLOAT, default=TrainOptions.lr)
    g.add_argument("--momentum", type=PROBABILITY, default=TrainOptions.momentum)
    g.add_argument("--weight-decay", type=NON_NEGATIVE_FLOAT, default=TrainOptions.weight_decay)
    g.add_argument("--cutmix-p", type=PROBABILITY, default=TrainOptions.cutmix_p)
    g.add_argument("--diffaug", default=TrainOptions.diffaug, help="DiffAug strategy, or 'none'")
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


def _training_parser(sub, name: str, help: str) -> argparse.ArgumentParser:
    """A subcommand that trains ``--inits`` networks per selection: the arguments all three share."""
    p = sub.add_parser(name, help=help)
    p.add_argument("--decoded", required=True)
    p.add_argument("--real", required=True)
    p.add_argument("--inits", type=POSITIVE, default=3)
    p.add_argument("--eval-points", type=NON_NEGATIVE, default=4)
    p.add_argument("--out", required=True)
    _add_train_args(p)
    return p


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


def _keywords(a, train: bool = False) -> dict:
    """The parsed flags as the keywords of the command's stage function; with ``train`` the training
    recipe's flags become its one ``train=`` option."""
    kw = {k: v for k, v in vars(a).items() if k not in ("command", "func")}
    if train:
        kw["train"] = TrainOptions(**{name: kw.pop(name) for name in TrainOptions.names()})
    return kw


_COMMANDS: list = []  # (add its parser, run it), in the order of `yoco --help`


def _command(add_parser):
    """Register a subcommand: ``add_parser(sub)`` declares its flags, the decorated function runs it."""

    def register(run):
        _COMMANDS.append((add_parser, run))
        return run

    return register


def _data_parser(sub) -> argparse.ArgumentParser:
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
    return p


@_command(_data_parser)
def cmd_data(a) -> None:
    stages.data(**_keywords(a))


def _condense_parser(sub) -> argparse.ArgumentParser:
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
    return p


@_command(_condense_parser)
def cmd_condense(a) -> None:
    stages.condense(**_keywords(a))


def _experts_parser(sub) -> argparse.ArgumentParser:
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
    return p


@_command(_experts_parser)
def cmd_experts(a) -> None:
    stages.experts(**_keywords(a))


def _import_parser(sub) -> argparse.ArgumentParser:
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
    return p


@_command(_import_parser)
def cmd_import(a) -> None:
    stages.import_set(**_keywords(a))


def _decode_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("decode", help="multi-formation decode of a condensed set into its patches")
    p.add_argument("--condensed", required=True)
    p.add_argument("--out", required=True)
    return p


@_command(_decode_parser)
def cmd_decode(a) -> None:
    stages.decode(**_keywords(a))


def _dynamics_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("dynamics", help="train on every decoded patch and record per-epoch dynamics (all reps at once)")
    p.add_argument("--decoded", required=True)
    p.add_argument("--real", required=True)
    p.add_argument("--reps", type=POSITIVE, default=3)
    p.add_argument("--seed-prefix", default="")
    p.add_argument("--out-dir", required=True)
    _add_train_args(p)
    return p


@_command(_dynamics_parser)
def cmd_dynamics(a) -> None:
    stages.dynamics(**_keywords(a, train=True))


def _scores_parser(sub) -> argparse.ArgumentParser:
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
    return p


@_command(_scores_parser)
def cmd_scores(a) -> None:
    stages.scores(**_keywords(a))


def _select_parser(sub) -> argparse.ArgumentParser:
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
    return p


@_command(_select_parser)
def cmd_select(a) -> None:
    stages.select(**_keywords(a))


def _evaluate_parser(sub) -> argparse.ArgumentParser:
    p = _training_parser(sub, "evaluate", "train networks on selections (inits x selections, batched)")
    p.add_argument("--selections", nargs="+", required=True, action=_Distinct, same=_same_file)
    p.add_argument(
        "--keys", nargs="+", default=None, action=_Distinct, help="train only these keys of the selection files"
    )

    return p


@_command(_evaluate_parser)
def cmd_evaluate(a) -> None:
    stages.evaluate(**_keywords(a, train=True))


def _evaluate_fractions_parser(sub) -> argparse.ArgumentParser:
    p = _training_parser(sub, "evaluate-fractions", "Fig. 3: easy- vs hard-first at pruning ratios")
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

    return p


@_command(_evaluate_fractions_parser)
def cmd_evaluate_fractions(a) -> None:
    stages.evaluate_fractions(**_keywords(a, train=True))


def _evaluate_epochs_parser(sub) -> argparse.ArgumentParser:
    p = _training_parser(sub, "evaluate-epochs", "Fig. 5: selections by the LBPE of single epochs")
    p.add_argument(
        "--dynamics", nargs="+", required=True, action=_Distinct, same=_same_file, help="one dynamics file per rep"
    )
    p.add_argument("--key", default="yoco")
    p.add_argument("--ipc-from", type=POSITIVE, default=None)
    p.add_argument("--ipc-to", type=POSITIVE, required=True)
    p.add_argument("--epochs-from", type=NON_NEGATIVE, default=0)
    p.add_argument("--epochs-to", type=POSITIVE, required=True)
    p.add_argument("--dataset", default=None)

    return p


@_command(_evaluate_epochs_parser)
def cmd_evaluate_epochs(a) -> None:
    stages.evaluate_epochs(**_keywords(a, train=True))


def _prune_parser(sub) -> argparse.ArgumentParser:
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
    p.add_argument("--epochs", type=POSITIVE, default=TrainOptions.epochs, help="epochs of the dynamics run")
    p.add_argument("--lbpe-epochs", type=POSITIVE, default=None, help="LBPE's E (default min(100, --epochs))")
    p.add_argument("--lbpe-top-k", type=POSITIVE, default=None, help="LBPE's K (default min(10, E))")
    p.add_argument("--network", default="convnet")
    p.add_argument("--width", type=POSITIVE, default=None, help="network width (default: the paper's)")
    p.add_argument("--seed", type=SEED, default=0)
    p.add_argument("--device", default="auto")
    _add_unsafe_flag(p)
    p.add_argument("--out", required=True)
    return p


@_command(_prune_parser)
def cmd_prune(a) -> None:
    stages.prune_file(**_keywords(a))


def _table_parser(sub) -> argparse.ArgumentParser:
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
    return p


@_command(_table_parser)
def cmd_table(a) -> None:
    stages.table(**_keywords(a))


def _figure_data_parser(sub) -> argparse.ArgumentParser:
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
    return p


@_command(_figure_data_parser)
def cmd_figure_data(a) -> None:
    stages.figure_data(**_keywords(a))


def _claims_parser(sub) -> argparse.ArgumentParser:
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
    return p


@_command(_claims_parser)
def cmd_claims(a) -> None:
    stages.claims(**_keywords(a))


def _report_page_parser(sub) -> argparse.ArgumentParser:
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
    return p


@_command(_report_page_parser)
def cmd_report_page(a) -> None:
    stages.report_page(**_keywords(a))


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="yoco",
        description=(
            "You Only Condense Once: prune condensed datasets by LBPE score, easy samples first, classes balanced."
        ),
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add_parser, run in _COMMANDS:
        add_parser(sub).set_defaults(func=run)
    return parser


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
