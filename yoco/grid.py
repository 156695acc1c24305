"""The experiment grid: every file the workflow builds, derived from the config alone.

The Snakefile and the tests both call this module, so the DAG Snakemake builds and the job
counts the tests expect come from one place. Nothing here imports Snakemake, and nothing here
trains or reads data: it only turns the config (``config/config.yaml`` and friends) into lists
of datasets, condensed sets, dynamics runs, score files, selections, evaluation jobs, table rows
and figure jobs.

Vocabulary (reference-spec §10):

* ``ck``   condenser: ``idc``, ``dream``, ``mtt``, ``dsa``, ``kip``; ``full`` is the real training
  set used as if it were a condensed set (Fig. 3, "IPC5000"), with ``ipcf == "all"``.
* ``ds``   dataset (``cifar10``, ``cifar100``, ``imagenet10``, ``digits``).
* ``ipcf`` / ``ipct``  images per class before / after pruning.
* ``rep``  training-dynamics run (score keys) or random draw (random keys), 1..reps.
* ``net``  evaluation network.

A *cell* is one (condenser, dataset, IPC_F, IPC_T); an *evaluation job* is one cell trained on
one network, over every (key, rep) that any enabled table or figure needs for it, so work shared
by several tables (e.g. IDC CIFAR-10 10→1 appears in Tables 1–5) is trained once.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from . import errors
from .errors import YocoError
from .keys import METHODS, parse_key

# Where the authors publish the condensed tensors (reference-spec §1.1, §6.4).
YOCO_README = "https://github.com/he-y/you-only-condense-once (README, Google-Drive links)"
IDC_README = "https://github.com/snu-mllab/Efficient-Dataset-Condensation (README, Google-Drive links)"

FORMAT_HELP = {
    "idc": "a torch.save'd list [images float32 (C*IPC, 3, h, w) in [0, 1], labels int64 (C*IPC,)], class-major",
    "dream": "the IDC format (DREAM is an IDC fork): [images float32 (C*IPC, 3, h, w) in [0, 1], labels int64], class-major",
    "mtt": "images_best.pt, float (100, 3, 32, 32) in MTT's normalised space, with labels_best.pt (int64 (100,)) beside it",
    "dsa": "DSA's dict {'data': [[images, labels] per experiment], 'accs_all_exps': ...}; experiment 0 is used",
    "kip": "a tuple (images NHWC float (100, 32, 32, 3), labels (100, 10))",
    "real": "the real training set written by `yoco data`",
}

# The base pruning keys (reference-spec §3.9): random keys need no scores and no dynamics.
_BASE_KEYS = tuple(METHODS)

# In-house condensers (``yoco condense --method``). IDC and DREAM write the canonical file the DAG decodes
# directly; the others write their authors' format into a folder, which ``yoco import`` then reads
# exactly like a released file (so an in-house set and the authors' one take the same path downstream).
INHOUSE_CANONICAL = ("idc", "dream")
#: ck -> the file inside the in-house output folder that ``yoco import`` reads ("" = the folder itself).
INHOUSE_AUTHORS_FORMAT = {"dsa": "data.pt", "mtt": ""}
#: ck -> function(config, ds, ipcf) -> {flag name: path} of extra inputs of ``yoco condense`` (each is
#: passed as ``--<name> <path>`` and is a Snakemake input, so the rule that makes it runs first).
#: MTT distils from expert trajectories, one file per dataset shared by all its IPCs (rule experts).
CONDENSE_EXTRA_INPUTS: dict = {"mtt": lambda config, ds, ipcf: {"experts": experts_path(config, ds)}}
#: Why a condenser cannot run in-house (the missing-file message quotes it).
NO_INHOUSE_REASON = {
    "kip": (
        "kip has no in-house condenser (KIP's kernel-inducing-points optimisation needs a JAX/neural-tangents "
        "stack and hundreds of GPU-hours, so it stays external)"
    ),
}
# What a budget under `condensation.<ck>.<ds>` needs at least (the missing-budget message shows it).
_BUDGET_HINT = {
    "idc": "outer: ..., inner: ..., width: ...",
    "mtt": "iterations: ..., syn_steps: ..., expert_epochs: ..., max_start_epoch: ...",
}
# The budget keys that are not a `yoco condense` flag of their own: IDC's lr_img rule.
_LR_IMG_RULE = ("lr_img_base", "lr_img_ref_size")

TABLES = tuple(range(1, 8))
FIGURES = (2, 3, 5, 7)
FULL = "full"  # the real training set as a "condensed" set (Fig. 3)
FULL_IPC = "all"


# ----------------------------------------------------------------------------------------------
# Records
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True, order=True)
class CondensedSet:
    """One condensed set ``(ck, ds, ipcf)`` and where it comes from.

    ``source`` is ``"external"`` (an authors' file present at ``path``), ``"inhouse"`` (condensed by
    ``yoco condense``), ``"real"`` (the Fig. 3 full training set) or ``"missing"`` (neither; asking
    for it raises :func:`missing_condensed_error`).
    """

    ck: str
    ds: str
    ipcf: str
    source: str
    path: str | None


@dataclass(frozen=True, order=True)
class EvalJob:
    """One batched evaluation: a cell on one network, over ``selections`` = ((key, rep), ...)."""

    ck: str
    ds: str
    ipcf: str
    ipct: str
    net: str
    selections: tuple[tuple[str, int], ...]


# ----------------------------------------------------------------------------------------------
# Small helpers
# ----------------------------------------------------------------------------------------------
def _root(config: Mapping) -> str:
    return str(config["output_root"]).rstrip("/")


def _figroot(config: Mapping) -> str:
    return str(config["figures_root"]).rstrip("/")


_MEMO: dict[tuple[str, str], Any] = {}


def _memo(name: str, config: Mapping, compute):
    """Cache a derived list per config content: Snakemake asks for the same grid once per job."""
    key = (name, json.dumps(config, sort_keys=True, default=str))
    if key not in _MEMO:
        if len(_MEMO) > 256:
            _MEMO.clear()
        _MEMO[key] = compute()
    return _MEMO[key]


def _fail(where: str, message: str) -> YocoError:
    return YocoError(f"config {where}: {message}")


def key_base(key: str) -> str:
    """The base method of a pruning key (``forgetting_easy_balance`` → ``forgetting``)."""
    for base in sorted(_BASE_KEYS, key=len, reverse=True):
        if key == base or key.startswith(base + "_"):
            return base
    raise _unknown_key(key)


def needs_scores(key: str) -> bool:
    """Whether a key ranks by a score file (everything but ``random*``)."""
    return key_base(key) != "random"


def _all_keys() -> list[str]:
    out = []
    for base in _BASE_KEYS:
        for a in ("", "_easy", "_hard"):
            for b in ("", "_balance", "_imbalance"):
                out.append(base + a + b)
    return out


def _unknown_key(key: str) -> YocoError:
    guess = errors.closest(key, _all_keys())
    hint = f" Did you mean {guess!r}?" if guess else ""
    return YocoError(
        f"unknown pruning key {key!r}.{hint} A key is BASE[_easy|_hard][_balance|_imbalance] "
        f"with BASE one of {', '.join(_BASE_KEYS)} (reference-spec §3.9)."
    )


def check_key(key: str) -> None:
    """Raise :class:`YocoError` (naming the closest valid key) unless ``key`` is a pruning key: the grammar
    of :mod:`yoco.keys`, so the workflow accepts exactly what the library applies."""
    parse_key(key)
    key_base(key)


def _ipc(value: Any) -> str:
    return str(value)


# ----------------------------------------------------------------------------------------------
# Config lookups
# ----------------------------------------------------------------------------------------------
def enabled_tables(config: Mapping) -> list[int]:
    return [int(n) for n in config["enabled"]["tables"]]


def enabled_figures(config: Mapping) -> list[int]:
    return [int(n) for n in config["enabled"]["figures"]]


def reps(config: Mapping) -> list[int]:
    return list(range(1, int(config["reps"]) + 1))


def dynamics_reps(config: Mapping, ck: str) -> list[int]:
    """Reps a dynamics job trains: ``reps`` for condensed sets; for the (costly) full training set of
    Fig. 3 only as many as ``figures.fig3.reps`` uses."""
    if ck == FULL:
        return list(range(1, max(fig3_reps(config)) + 1))
    return reps(config)


def dataset_network(config: Mapping, ds: str) -> str:
    """The network a dataset trains by default (ConvNet-D3 for CIFAR, ResNetAP-10 for ImageNet-10)."""
    return str(_dataset(config, ds)["network"])


def _dataset(config: Mapping, ds: str) -> Mapping:
    if ds not in config["datasets"]:
        raise errors.unknown_choice("dataset", ds, config["datasets"])
    return config["datasets"][ds]


def _condenser(config: Mapping, ck: str) -> Mapping:
    if ck == FULL:
        return {"format": "real", "inhouse": False, "factor": {}}
    if ck not in config["condensers"]:
        raise errors.unknown_choice("condenser", ck, config["condensers"])
    return config["condensers"][ck]


def factor(config: Mapping, ck: str, ds: str) -> int:
    """Multi-formation factor f of a condensed set (1 for MTT/DSA/KIP and the real set)."""
    if ck == FULL:
        return 1
    table = _condenser(config, ck).get("factor", {})
    if ds not in table:
        raise _fail(f"condensers.{ck}.factor", f"no factor for dataset {ds!r}; add `{ds}: F`.")
    return int(table[ds])


def network_width(config: Mapping, net: str) -> int:
    if net not in config["networks"]:
        raise errors.unknown_choice("network", net, config["networks"])
    return int(config["networks"][net]["width"])


def _network_flags(config: Mapping, net: str) -> list[str]:
    """``--network``, ``--width`` and, where the config sets them, DenseNet's ``--dense-blocks``."""
    flags = ["--network", net, "--width", str(network_width(config, net))]
    blocks = config["networks"][net].get("blocks")
    return flags + (["--dense-blocks", *map(str, blocks)] if blocks else [])


def lbpe(config: Mapping, ck: str, ds: str) -> tuple[int, int]:
    """(E, K) of LBPE for a condensed set (reference-spec §3 table; DSA's E is a quirk switch)."""
    if ck == FULL:
        spec = config["figures"]["fig3"]["full_dataset"]["lbpe"]
        return int(spec["epochs"]), int(spec["top_k"])
    spec = _condenser(config, ck).get("lbpe", {}).get(ds)
    if spec is None:
        raise _fail(
            f"condensers.{ck}.lbpe", f"no LBPE settings for dataset {ds!r}; add `{ds}: {{epochs: E, top_k: K}}`."
        )
    epochs = spec.get("epochs")
    if epochs is None and ck == "dsa":
        epochs = config["quirks"]["dsa_lbpe_epochs"]
    if epochs is None:
        raise _fail(f"condensers.{ck}.lbpe.{ds}", "missing `epochs`.")
    return int(epochs), int(spec["top_k"])


def _recipe(config: Mapping, stage: str, ds: str, ck: str | None = None) -> dict:
    """Training settings of ``stage`` (dynamics | evaluate) for a dataset, overrides merged."""
    recipe = dict(config["training"][stage])
    recipe.update(config["training"].get("overrides", {}).get(ds, {}).get(stage, {}))
    if ck == FULL:
        recipe.update(config["figures"]["fig3"]["full_dataset"].get(stage, {}))
    return recipe


def dynamics_network(config: Mapping, ck: str, ds: str) -> str:
    return str(_recipe(config, "dynamics", ds, ck).get("network") or dataset_network(config, ds))


def _flags(recipe: Mapping, names: Iterable[str]) -> list[str]:
    out = []
    for name in names:
        out += ["--" + name.replace("_", "-"), str(recipe[name])]
    return out


_TRAIN_FLAGS = ("batch_size", "lr", "momentum", "weight_decay", "cutmix_p", "diffaug")


def _quirk_flag(config: Mapping, name: str) -> str:
    flag = name.replace("_", "-")
    return f"--{flag}" if config["quirks"][name] else f"--no-{flag}"


def dynamics_args(config: Mapping, ck: str, ds: str) -> str:
    """CLI arguments of ``yoco dynamics`` beyond the paths (reps, epochs, network, recipe, quirks)."""
    recipe = _recipe(config, "dynamics", ds, ck)
    net = dynamics_network(config, ck, ds)
    args = ["--reps", str(len(dynamics_reps(config, ck))), "--epochs", str(recipe["epochs"])]
    args += _network_flags(config, net)
    args += _flags(recipe, _TRAIN_FLAGS) + _switches(recipe) + [_quirk_flag(config, "double_normalize")]
    return " ".join(args + _run_flags(config, net))


def _run_flags(config: Mapping, net: str) -> list[str]:
    """How training jobs run (``training.run``): models per batch, torch.compile and the engine of
    ``net``; not recipe."""
    run = config["training"].get("run") or {}
    flags = ["--max-models", str(run["max_models"])] if run.get("max_models") else []
    engine = (run.get("engine") or {}).get(net)
    if engine:
        flags += ["--engine", str(engine)]
    if run.get("compile") is not None:
        flags.append("--compile" if run["compile"] else "--no-compile")
    return flags


def _switches(recipe: Mapping) -> list[str]:
    """On/off recipe entries that are plain CLI flags."""
    return ["--imagenet-transforms"] if recipe.get("imagenet_transforms") else []


def evaluate_args(config: Mapping, ds: str, net: str, ck: str | None = None, inits: int | None = None) -> str:
    """CLI arguments shared by ``yoco evaluate``, ``evaluate-fractions`` and ``evaluate-epochs``.

    ``networks.<net>.evaluate`` replaces recipe entries for every evaluation on ``net``: a CPU config
    trains Table 3's DenseNet (a DenseNet-121 layout, ~20x a width-32 ConvNet step on two cores) for
    fewer epochs than the ConvNets it is compared with, and says so.
    """
    recipe = _recipe(config, "evaluate", ds, ck)
    if net in config["networks"]:
        recipe.update(config["networks"][net].get("evaluate") or {})
    inits = recipe["inits"] if inits is None else inits
    args = _network_flags(config, net) + [
        "--inits",
        str(inits),
        "--epochs",
        str(recipe["epochs"]),
        "--eval-points",
        str(recipe["eval_points"]),
    ]
    args += _flags(recipe, _TRAIN_FLAGS) + _switches(recipe) + [_quirk_flag(config, "double_normalize")]
    return " ".join(args + _run_flags(config, net))


def select_args(config: Mapping) -> str:
    """Quirk switches that ``yoco select`` honours (tie-breaking, CCS within-stratum sampling)."""
    return " ".join(
        ["--tie-breaking", str(config["quirks"]["tie_breaking"]), _quirk_flag(config, "ccs_random_within_strata")]
    )


def scores_args(config: Mapping) -> str:
    """Quirk switches that ``yoco scores`` honours (the entropy/SSP forward pass sees the same inputs; the
    order of equally accurate epochs in LBPE's top K)."""
    return " ".join(
        [_quirk_flag(config, "double_normalize"), "--lbpe-epoch-ties", str(config["quirks"]["lbpe_epoch_ties"])]
    )


def device_args(config: Mapping) -> str:
    return f"--device {config['device']}"


def uses_gpu(config: Mapping) -> int:
    """1 when training rules should hold a GPU (``resources: gpu``), else 0."""
    return int(str(config["device"]).startswith("cuda"))


def condense_budget(config: Mapping, ck: str, ds: str) -> Mapping:
    """The in-house budget ``condensation.<ck>.<ds>`` of the config, or a YocoError saying where to add it."""
    budget = (config.get("condensation") or {}).get(ck, {}).get(ds)
    if budget is None:
        raise _fail(
            f"condensation.{ck}",
            f"no in-house budget for dataset {ds!r}; add `{ds}: {{{_BUDGET_HINT.get(ck, _BUDGET_HINT['idc'])}}}` "
            f"(see config/config.yaml), or set `condensers.{ck}.inhouse: false` and provide the authors' file.",
        )
    return budget


def experts_budget(config: Mapping, ds: str) -> Mapping:
    """The expert-training budget ``experts.<ds>`` of in-house MTT, or a YocoError saying where to add it."""
    budget = (config.get("experts") or {}).get(ds)
    if budget is None:
        raise _fail(
            "experts",
            f"no expert budget for dataset {ds!r}, which in-house MTT needs; add `{ds}: {{num_experts: ..., "
            "epochs: ..., zca: ...}` (see config/config.yaml), or set `condensers.mtt.inhouse: false`.",
        )
    return budget


def experts_path(config: Mapping, ds: str) -> str:
    """MTT's expert trajectories of a dataset (``yoco experts``), shared by every in-house MTT IPC."""
    return f"{_root(config)}/experts/{ds}/experts.pt"


def snapshot_path(config: Mapping, stage: str, name: str, args: str, ds: str) -> str:
    """Where a resumable job (condensation, experts) keeps its snapshot, outside Snakemake's outputs.

    Snakemake deletes a failed job's outputs but not this file, so a killed job (a SLURM time limit, a
    lost node, Ctrl-C) continues from its last snapshot when the workflow is run again. The name holds
    a digest of the job's arguments and its dataset's settings: a changed budget starts afresh under a
    new name instead of failing on a snapshot of other settings. The rule deletes it on success.
    """
    key = json.dumps([args, _dataset(config, ds)], sort_keys=True, default=str)
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    return f"{_root(config)}/snapshots/{stage}/{name}.{digest}.pt"


def condense_snapshot(config: Mapping, ck: str, ds: str, ipcf: str) -> str:
    """The snapshot of an in-house condensation (:func:`snapshot_path`)."""
    return snapshot_path(config, "condense", f"{ck}/{ds}/ipc{ipcf}", condense_args(config, ck, ds, ipcf), ds)


def experts_snapshot(config: Mapping, ds: str) -> str:
    """The snapshot of MTT's expert training of a dataset (:func:`snapshot_path`)."""
    return snapshot_path(config, "experts", ds, experts_args(config, ds), ds)


def _budget_flags(budget: Mapping, skip: tuple[str, ...] = ()) -> list[str]:
    """Every budget key as its CLI flag (``syn_steps`` -> ``--syn-steps``); a boolean is a switch."""
    args: list[str] = []
    for key, value in budget.items():
        if key in skip:
            continue
        flag = f"--{key.replace('_', '-')}"
        if isinstance(value, bool):
            args += [flag] if value else []
        else:
            args += [flag, str(value)]
    return args


def experts_args(config: Mapping, ds: str) -> str:
    """CLI arguments of ``yoco experts`` without ``--real``/``--out``: the budget ``experts.<ds>`` and a seed."""
    from .seeding import seed_from

    args = _budget_flags(experts_budget(config, ds)) + ["--seed", str(seed_from("experts", ds))]
    return shlex.join(args)


def condense_inputs(config: Mapping, ck: str, ds: str, ipcf: str) -> dict[str, str]:
    """Inputs of an in-house condensation: the real set, plus the method's extra inputs (MTT: experts)."""
    extra = CONDENSE_EXTRA_INPUTS.get(ck)
    return {"real": real_path(config, ds), **(extra(config, ds, ipcf) if extra else {})}


def condense_args(config: Mapping, ck: str, ds: str, ipcf: str) -> str:
    """CLI arguments of ``yoco condense`` without ``--real``/``--out`` (budget of reference-spec §6).

    Every key of the budget becomes its flag (``syn_epochs`` -> ``--syn-epochs``), except IDC's
    ``lr_img_base``/``lr_img_ref_size``, which give ``--lr-img`` by IDC's rule; extra inputs
    (:data:`CONDENSE_EXTRA_INPUTS`) follow as ``--<name> <path>``.
    """
    budget = condense_budget(config, ck, ds)
    from .seeding import seed_from

    args = ["--method", ck, "--ipc", str(ipcf), "--factor", str(factor(config, ck, ds))]
    args += _budget_flags(budget, skip=_LR_IMG_RULE)
    if "lr_img_base" in budget:
        size = int(_dataset(config, ds)["image_size"])
        # IDC's tune_lr_img: base × IPC/10 × (size/reference size)².
        lr_img = float(budget["lr_img_base"]) * int(ipcf) / 10 * (size / float(budget["lr_img_ref_size"])) ** 2
        args += ["--lr-img", f"{lr_img:.6g}"]
    args += ["--seed", str(seed_from("condense", ck, ds, ipcf))]
    extra = condense_inputs(config, ck, ds, ipcf)
    for name, path in extra.items():
        if name != "real":
            args += [f"--{name.replace('_', '-')}", path]
    return shlex.join(args)


def inhouse_dir(config: Mapping, ck: str, ds: str, ipcf: str) -> str:
    """The folder an authors'-format in-house condensation writes (DSA: its ``data.pt``; MTT: its two files)."""
    return f"{_root(config)}/condensed/{ck}/{ds}/ipc{ipcf}"


def condense_out(config: Mapping, ck: str, ds: str, ipcf: str) -> str:
    """``--out`` of ``yoco condense`` for an authors'-format condenser: its file in :func:`inhouse_dir`."""
    name = INHOUSE_AUTHORS_FORMAT[ck]
    folder = inhouse_dir(config, ck, ds, ipcf)
    return f"{folder}/{name}" if name else folder


def data_args(config: Mapping, ds: str) -> str:
    """CLI arguments of ``yoco data`` for a dataset (npz path, download root, image size, test subset)."""
    spec = _dataset(config, ds)
    args = ["--dataset", ds]
    if spec.get("npz"):
        args += ["--npz", str(spec["npz"])]
    if spec.get("root"):
        args += ["--root", str(spec["root"])]
    if spec.get("image_size"):
        args += ["--image-size", str(spec["image_size"])]
    if spec.get("test_per_class"):
        args += ["--test-per-class", str(spec["test_per_class"])]
    if spec.get("train_per_class"):
        args += ["--train-per-class", str(spec["train_per_class"])]
    # A shell command line: paths with spaces stay one argument.
    return shlex.join(args)


# ----------------------------------------------------------------------------------------------
# Paths
# ----------------------------------------------------------------------------------------------
def real_path(config, ds):
    return f"{_root(config)}/real/{ds}.npz"


def condensed_path(config, ck, ds, ipcf):
    return f"{_root(config)}/condensed/{ck}/{ds}/ipc{ipcf}.pt"


def decoded_path(config, ck, ds, ipcf):
    return f"{_root(config)}/decoded/{ck}/{ds}/ipc{ipcf}.pt"


def dynamics_dir(config, ck, ds, ipcf):
    return f"{_root(config)}/dynamics/{ck}/{ds}/ipc{ipcf}"


def dynamics_paths(config, ck, ds, ipcf) -> list[str]:
    d = dynamics_dir(config, ck, ds, ipcf)
    rs = dynamics_reps(config, ck)
    return [f"{d}/rep{r}.npz" for r in rs] + [f"{d}/rep{r}.model.pt" for r in rs]


def score_path(config, ck, ds, ipcf, rep):
    return f"{_root(config)}/scores/{ck}/{ds}/ipc{ipcf}/rep{rep}.npz"


def selection_path(config, ck, ds, ipcf, ipct):
    """All selections of one cell (every key × rep any table or figure needs) in one JSON list.

    One job per cell rather than per (key, rep): each `yoco select` process pays the start-up of
    Python and torch, which dominated the quickstart with hundreds of tiny jobs.
    """
    return f"{_root(config)}/selections/{ck}/{ds}/ipc{ipcf}/to{ipct}.json"


def runs_path(config, ck, ds, ipcf, ipct, net):
    return f"{_root(config)}/runs/{ck}/{ds}/ipc{ipcf}/to{ipct}/{net}.csv"


def fractions_path(config, ck, ds, ipcf):
    return f"{_root(config)}/fractions/{ck}/{ds}/ipc{ipcf}.csv"


def epochs_path(config, ck, ds, ipcf, ipct):
    return f"{_root(config)}/epochs/{ck}/{ds}/ipc{ipcf}/to{ipct}.csv"


def table_path(config, number):
    return f"{_root(config)}/table{number}.csv"


def table_rows_path(config, number):
    return f"{_root(config)}/tables/table{number}_rows.csv"


def figure_data_path(config, number):
    return f"{_root(config)}/figure_data/fig{number}.csv"


def figure_paths(config, number) -> list[str]:
    return [f"{_figroot(config)}/fig{number}.png", f"{_figroot(config)}/fig{number}.pdf"]


# ----------------------------------------------------------------------------------------------
# Condensed sets and their sources
# ----------------------------------------------------------------------------------------------
def external_path(config: Mapping, ck: str, ds: str, ipcf: str) -> str | None:
    """Where the authors' file for ``(ck, ds, ipcf)`` is expected (reference-spec §1.1 layout)."""
    template = _condenser(config, ck).get("external", {}).get(ds)
    if not template:
        return None
    path = str(template).format(ipc=ipcf, ds=ds)
    return path if os.path.isabs(path) else os.path.join(str(config["external_root"]), path)


def condensed_set(config: Mapping, ck: str, ds: str, ipcf: str) -> CondensedSet:
    """Decide where a condensed set comes from: the authors' file, in-house condensation, or nowhere.

    The authors' file wins when it is on disk (the published numbers were computed from it); else
    IDC and DREAM are condensed in-house (when ``condensers.<ck>.inhouse`` is true); else the set is
    ``missing``.
    """
    ipcf = _ipc(ipcf)
    if ck == FULL:
        return CondensedSet(ck, ds, ipcf, "real", real_path(config, ds))
    spec = _condenser(config, ck)
    path = external_path(config, ck, ds, ipcf)
    if path is not None and os.path.exists(path):
        return CondensedSet(ck, ds, ipcf, "external", path)
    if spec.get("inhouse"):
        if ck in INHOUSE_AUTHORS_FORMAT:
            return CondensedSet(ck, ds, ipcf, "inhouse", condense_out(config, ck, ds, ipcf))
        return CondensedSet(ck, ds, ipcf, "inhouse", None)
    return CondensedSet(ck, ds, ipcf, "missing", path)


def missing_condensed_error(config: Mapping, ck: str, ds: str, ipcf: str) -> YocoError:
    """The error for a condensed set that is neither on disk nor condensable in-house."""
    path = external_path(config, ck, ds, ipcf)
    fmt = _condenser(config, ck).get("format", ck)
    where = IDC_README if ck in ("dsa", "kip") else f"{YOCO_README}; DSA and KIP sets: {IDC_README}"
    if ck in INHOUSE_CANONICAL or ck in INHOUSE_AUTHORS_FORMAT:
        why = f"in-house condensation is switched off (`condensers.{ck}.inhouse: false`; set it to true to condense it)"
    else:
        why = NO_INHOUSE_REASON.get(ck, f"{ck} has no in-house condenser")
    if path is None:
        return YocoError(
            f"no source for the {ck} condensed set of {ds} IPC {ipcf} ({why}): set "
            f"`condensers.{ck}.external.{ds}` to the file's path (format: {FORMAT_HELP.get(fmt, fmt)})."
        )
    return YocoError(
        f"the {ck} condensed set of {ds} IPC {ipcf} is needed but {path!r} does not exist, and {why}. "
        f"Put the authors' file there (format: {FORMAT_HELP.get(fmt, fmt)}; published via {where}), or "
        f"change `external_root` / `condensers.{ck}.external.{ds}` in the config, or drop the rows that "
        f"use {ck} from `tables`."
    )


def imported_path(config, ck, ds, ipcf):
    return f"{_root(config)}/imported/{ck}/{ds}/ipc{ipcf}.pt"


def condensed_file(config: Mapping, ck: str, ds: str, ipcf: str) -> str:
    """The canonical condensed file that ``decode`` reads, or the error that says how to provide it.

    In-house sets are written by ``yoco condense`` under ``condensed/``; external files (and the real
    training set of Fig. 3) are converted by ``yoco import`` under ``imported/``. Keeping the two
    apart means each file has exactly one producing rule.
    """
    cs = condensed_set(config, ck, ds, ipcf)
    if cs.source == "inhouse" and ck not in INHOUSE_AUTHORS_FORMAT:
        return condensed_path(config, ck, ds, ipcf)
    if cs.source in ("external", "real", "inhouse"):
        return imported_path(config, ck, ds, ipcf)
    raise missing_condensed_error(config, ck, ds, ipcf)


def import_input(config: Mapping, ck: str, ds: str, ipcf: str) -> str:
    """The input of ``yoco import``: the authors' file, the real set, or an in-house authors'-format folder."""
    cs = condensed_set(config, ck, ds, ipcf)
    if cs.source in ("external", "real"):
        return cs.path
    if cs.source == "inhouse" and ck in INHOUSE_AUTHORS_FORMAT:
        return inhouse_dir(config, ck, ds, ipcf)
    raise missing_condensed_error(config, ck, ds, ipcf)


def import_args(config: Mapping, ck: str, ds: str, ipcf: str) -> str:
    """CLI arguments of ``yoco import`` for an external (or the real) set, without ``--out``."""
    cs = condensed_set(config, ck, ds, ipcf)
    if cs.source not in ("external", "real") and not (cs.source == "inhouse" and ck in INHOUSE_AUTHORS_FORMAT):
        raise missing_condensed_error(config, ck, ds, ipcf)
    fmt = _condenser(config, ck).get("format", ck)
    args = ["--format", fmt, "--path", cs.path, "--dataset", ds, "--factor", str(factor(config, ck, ds))]
    if ipcf != FULL_IPC:
        args += ["--ipc", ipcf]
    size = _dataset(config, ds).get("image_size")
    if size and fmt != "real":
        # The set must have the resolution its real data is made at (yoco data --image-size).
        args += ["--image-size", str(size)]
    return shlex.join(args)


def condensed_sets(config: Mapping) -> list[CondensedSet]:
    """Every condensed set the enabled tables and figures need, sorted."""
    keys = {(j.ck, j.ds, j.ipcf) for j in eval_jobs(config)}
    keys |= set(dynamics_sets(config))
    return sorted(condensed_set(config, *k) for k in keys)


def real_datasets(config: Mapping) -> list[str]:
    """Real datasets to prepare (for condensation, test sets and Fig. 3's full training set)."""
    return sorted({cs.ds for cs in condensed_sets(config)})


# ----------------------------------------------------------------------------------------------
# Requirements of tables and figures
# ----------------------------------------------------------------------------------------------
def _table_spec(config: Mapping, number: int) -> Mapping:
    name = f"table{number}"
    if name not in config["tables"]:
        raise _fail("tables", f"table {number} is enabled but `tables.{name}` is not defined.")
    return config["tables"][name]


def _cells(spec: Mapping, where: str) -> list[tuple[str, str, str]]:
    out = []
    for cell in spec.get("cells", []):
        for ipct in cell["ipc_to"]:
            if int(ipct) >= int(cell["ipc_from"]):
                raise _fail(where, f"ipc_to {ipct} must be below ipc_from {cell['ipc_from']} for {cell['dataset']}.")
            out.append((str(cell["dataset"]), _ipc(cell["ipc_from"]), _ipc(ipct)))
    return out


def table_rows(number: int, config: Mapping):
    """Rows of Table ``number``: one per (dataset, condenser, ipc_from, ipc_to, key, network).

    Table 7 is Table 1 with standard deviations, so it has Table 1's rows. Table 6 (which methods
    need a model, dynamics, labels) has no runs and therefore no rows. The "IPC_F Acc." column of
    Table 1 (``unpruned: true``) appears as rows with ``ipc_to == ipc_from`` and key ``random``,
    which selects every decoded patch (reference-spec §5).
    """
    if number == 7:
        return table_rows(1, config)
    return _memo(f"table_rows{number}", config, lambda: _table_rows(number, config)).copy()


def _table_rows(number: int, config: Mapping):
    import pandas as pd

    columns = ["dataset", "condenser", "ipc_from", "ipc_to", "key", "network"]
    if number not in TABLES:
        raise errors.unknown_choice("table", str(number), [str(t) for t in TABLES])
    spec = _table_spec(config, number)
    where = f"tables.table{number}"
    rows = []
    cells = _cells(spec, where)
    for ds, ipcf, ipct in cells:
        for method in spec.get("methods", []):
            if method.get("datasets") and ds not in method["datasets"]:
                continue
            nets = spec.get("networks") or [dataset_network(config, ds)]
            for key in method["keys"]:
                for net in nets:
                    rows.append((ds, method["condenser"], ipcf, ipct, key, net))
    if spec.get("unpruned"):
        seen = []
        for ds, ipcf, _ in cells:
            for method in spec.get("methods", []):
                if method.get("datasets") and ds not in method["datasets"]:
                    continue
                if method.get("unpruned", True) and (ds, method["condenser"], ipcf) not in seen:
                    seen.append((ds, method["condenser"], ipcf))
                    for net in spec.get("networks") or [dataset_network(config, ds)]:
                        rows.append((ds, method["condenser"], ipcf, ipcf, "random", net))
    return pd.DataFrame(rows, columns=columns)


def _requirements(config: Mapping) -> dict[tuple[str, str, str, str, str], set[tuple[str, int]]]:
    """(ck, ds, ipcf, ipct, net) → {(key, rep)} over every enabled table and figure."""
    need: dict[tuple, set] = {}
    all_reps = reps(config)
    tables = set(enabled_tables(config))
    if 7 in tables:
        tables.add(1)
    for number in sorted(tables - {6, 7}):
        for r in table_rows(number, config).itertuples(index=False):
            unpruned = r.ipc_to == r.ipc_from
            cell = (r.condenser, r.dataset, r.ipc_from, r.ipc_to, r.network)
            # The unpruned column keeps every patch; one "draw" suffices, the inits still vary.
            need.setdefault(cell, set()).update((r.key, rep) for rep in ([1] if unpruned else all_reps))
    if 2 in enabled_figures(config):
        fig = config["figures"]["fig2"]
        for cell in fig["cells"]:
            ds = str(cell["dataset"])
            key = (fig["condenser"], ds, _ipc(cell["ipc_from"]), _ipc(cell["ipc_to"]), dataset_network(config, ds))
            need.setdefault(key, set()).update((k, rep) for k in fig["keys"] for rep in all_reps)
    if 5 in enabled_figures(config):
        # Fig. 5's reference line: the same cell and key selected with LBPE over the top-K epochs, as
        # Table 1 evaluates it (most configs' Table 1 has the cell already).
        ck, ds, ipcf, ipct = fig5_job(config)
        fig = config["figures"]["fig5"]
        need.setdefault((ck, ds, ipcf, ipct, dataset_network(config, ds)), set()).update(
            (fig["key"], rep) for rep in all_reps
        )
    return need


def eval_jobs(config: Mapping) -> list[EvalJob]:
    """Every batched evaluation job, sorted; each lists its (key, rep) selections, sorted."""
    return list(
        _memo(
            "eval_jobs",
            config,
            lambda: sorted(EvalJob(*cell, tuple(sorted(sel))) for cell, sel in _requirements(config).items()),
        )
    )


def eval_job(config: Mapping, ck: str, ds: str, ipcf: str, ipct: str, net: str) -> EvalJob:
    jobs = _memo("eval_job_index", config, lambda: {(j.ck, j.ds, j.ipcf, j.ipct, j.net): j for j in eval_jobs(config)})
    if (ck, ds, ipcf, ipct, net) in jobs:
        return jobs[(ck, ds, ipcf, ipct, net)]
    raise YocoError(
        f"no table or figure of this config evaluates {ck} {ds} IPC {ipcf}→{ipct} on {net}; "
        f"add the cell to a table in `tables` (or request one of the targets of `snakemake --list-target-rules`)."
    )


def selections(config: Mapping) -> list[tuple[str, str, str, str, str, int]]:
    """Every selection as (ck, ds, ipcf, ipct, key, rep), sorted and de-duplicated over networks."""
    out = set()
    for job in eval_jobs(config):
        for key, rep in job.selections:
            out.add((job.ck, job.ds, job.ipcf, job.ipct, key, rep))
    return sorted(out)


def selection_cells(config: Mapping) -> list[tuple[str, str, str, str]]:
    """(ck, ds, ipcf, ipct) of every selection file."""
    return sorted({s[:4] for s in selections(config)})


def cell_pairs(config: Mapping, ck: str, ds: str, ipcf: str, ipct: str) -> list[tuple[str, int]]:
    """(key, rep) of every selection of one cell, over all networks evaluated there."""
    pairs = sorted((key, rep) for c, d, f, t, key, rep in selections(config) if (c, d, f, t) == (ck, ds, ipcf, ipct))
    if not pairs:
        raise YocoError(f"no table or figure of this config selects from {ck} {ds} IPC {ipcf}→{ipct}.")
    return pairs


def _fig3_sets(config: Mapping) -> list[tuple[str, str, str]]:
    fig = config["figures"]["fig3"]
    sets = [(fig["condenser"], str(fig["dataset"]), _ipc(i)) for i in fig["ipc_from"]]
    if fig["full_dataset"]["enabled"]:
        sets.append((FULL, str(fig["dataset"]), FULL_IPC))
    return sets


def dynamics_sets(config: Mapping) -> list[tuple[str, str, str]]:
    """Condensed sets that need training dynamics (and score files): (ck, ds, ipcf), sorted."""
    return list(_memo("dynamics_sets", config, lambda: _dynamics_sets(config)))


def _dynamics_sets(config: Mapping) -> list[tuple[str, str, str]]:
    out = {(ck, ds, ipcf) for ck, ds, ipcf, _, key, _ in selections(config) if needs_scores(key)}
    figs = enabled_figures(config)
    if 3 in figs:
        out |= set(_fig3_sets(config))
    for number in (5, 7):
        if number in figs:
            fig = config["figures"][f"fig{number}"]
            out.add((fig["condenser"], str(fig["dataset"]), _ipc(fig["ipc_from"])))
    return sorted(out)


def score_files(config: Mapping) -> list[str]:
    return [score_path(config, *s, rep) for s in dynamics_sets(config) for rep in dynamics_reps(config, s[0])]


def selection_inputs(config: Mapping, ck: str, ds: str, ipcf: str, ipct: str) -> dict[str, object]:
    """Inputs of a cell's ``yoco select``: the decoded set, plus every rep's score file if a key needs scores."""
    inputs: dict[str, object] = {"decoded": decoded_path(config, ck, ds, ipcf)}
    score_reps = _score_reps(cell_pairs(config, ck, ds, ipcf, ipct))
    if score_reps:
        inputs["scores"] = [score_path(config, ck, ds, ipcf, rep) for rep in score_reps]
    return inputs


def _score_reps(pairs: list[tuple[str, int]]) -> list[int]:
    """The reps whose score files a cell's selections read, in the order the select rule passes them."""
    return sorted({rep for key, rep in pairs if needs_scores(key)})


def select_pairs_args(config: Mapping, ck: str, ds: str, ipcf: str, ipct: str) -> str:
    """``--pairs key@rep ...`` and, when scores are used, ``--score-reps`` in the order of the score inputs."""
    pairs = cell_pairs(config, ck, ds, ipcf, ipct)
    args = ["--pairs", *[f"{key}@{rep}" for key, rep in pairs]]
    score_reps = _score_reps(pairs)
    if score_reps:
        args += ["--score-reps", *[str(r) for r in score_reps]]
    cutoff = ccs_cutoff(config, ds, ipcf, ipct)
    if cutoff is not None and any(key_base(key) == "ccs" for key, _ in pairs):
        args += ["--ccs-cutoff", str(cutoff)]
    return " ".join(args)


def ccs_cutoff(config: Mapping, ds: str, ipcf: str, ipct: str) -> float | None:
    """The config's CCS cut-off for a cell outside the reference's table (None: use the table)."""
    table = _dataset(config, ds).get("ccs_cutoff") or {}
    row = table.get(int(ipcf), table.get(str(ipcf), {}))
    value = row.get(int(ipct), row.get(str(ipct)))
    return None if value is None else float(value)


def eval_selection_paths(config: Mapping, ck: str, ds: str, ipcf: str, ipct: str, net: str) -> list[str]:
    eval_job(config, ck, ds, ipcf, ipct, net)  # fails clearly for a cell no table evaluates
    return [selection_path(config, ck, ds, ipcf, ipct)]


def eval_keys(config: Mapping, ck: str, ds: str, ipcf: str, ipct: str, net: str) -> list[str]:
    """The keys one (cell, network) job trains: the cell's selection file may hold more (other networks)."""
    return sorted({key for key, _ in eval_job(config, ck, ds, ipcf, ipct, net).selections})


# ----------------------------------------------------------------------------------------------
# Figures
# ----------------------------------------------------------------------------------------------
def fig3_jobs(config: Mapping) -> list[tuple[str, str, str]]:
    """(ck, ds, ipcf) of every ``yoco evaluate-fractions`` job."""
    return _fig3_sets(config) if 3 in enabled_figures(config) else []


def fig3_args(config: Mapping, ck: str, ds: str) -> str:
    fig = config["figures"]["fig3"]
    net = _recipe(config, "evaluate", ds, ck).get("network") or dataset_network(config, ds)
    args = [
        "--key",
        fig["key"],
        "--fractions",
        *[str(p) for p in fig["pruning_ratios"]],
        "--orders",
        *fig["orders"],
        evaluate_args(config, ds, net, ck=ck, inits=fig["inits"]),
    ]
    return " ".join(args)


def fig3_reps(config: Mapping) -> list[int]:
    return [int(r) for r in config["figures"]["fig3"]["reps"]]


def fig5_job(config: Mapping) -> tuple[str, str, str, str] | None:
    if 5 not in enabled_figures(config):
        return None
    fig = config["figures"]["fig5"]
    return fig["condenser"], str(fig["dataset"]), _ipc(fig["ipc_from"]), _ipc(fig["ipc_to"])


def fig5_args(config: Mapping) -> str:
    fig = config["figures"]["fig5"]
    ds = str(fig["dataset"])
    args = [
        "--key",
        fig["key"],
        "--ipc-from",
        _ipc(fig["ipc_from"]),
        "--ipc-to",
        _ipc(fig["ipc_to"]),
        "--epochs-from",
        str(fig["epochs_from"]),
        "--epochs-to",
        str(fig["epochs_to"]),
        "--dataset",
        ds,
        evaluate_args(config, ds, dataset_network(config, ds), inits=fig["inits"]),
    ]
    return " ".join(args)


def figure_inputs(config: Mapping, number: int) -> dict[str, list[str]]:
    """Named inputs of ``yoco figure-data --figure N`` (see ``workflow/rules/figures.smk``)."""
    if number == 2:
        fig = config["figures"]["fig2"]
        sels, runs = [], []
        for cell in fig["cells"]:
            ds, ipcf, ipct = str(cell["dataset"]), _ipc(cell["ipc_from"]), _ipc(cell["ipc_to"])
            sels.append(selection_path(config, fig["condenser"], ds, ipcf, ipct))
            runs.append(runs_path(config, fig["condenser"], ds, ipcf, ipct, dataset_network(config, ds)))
        return {"selections": sels, "runs": runs}
    if number == 3:
        return {"runs": [fractions_path(config, *s) for s in fig3_jobs(config)]}
    if number == 5:
        ck, ds, ipcf, ipct = fig5_job(config)
        return {
            "runs": [epochs_path(config, ck, ds, ipcf, ipct)],
            "topk": [runs_path(config, ck, ds, ipcf, ipct, dataset_network(config, ds))],
        }
    if number == 7:
        fig = config["figures"]["fig7"]
        ck, ds, ipcf = fig["condenser"], str(fig["dataset"]), _ipc(fig["ipc_from"])
        d = dynamics_dir(config, ck, ds, ipcf)
        return {"dynamics": [f"{d}/rep{fig['rep']}.npz"], "decoded": [decoded_path(config, ck, ds, ipcf)]}
    raise errors.unknown_choice("figure", str(number), [str(f) for f in FIGURES])


def figure_args(config: Mapping, number: int) -> str:
    if number == 7:
        return "--epochs " + " ".join(str(e) for e in config["figures"]["fig7"]["epochs"])
    # Figs. 2, 3 and 5 print the paper's values, a stand-in dataset's those of the set it stands for.
    return stand_in_args(config)


# ----------------------------------------------------------------------------------------------
# Targets
# ----------------------------------------------------------------------------------------------
def stand_in_args(config: Mapping) -> str:
    """``yoco table --stand-in`` flags: datasets whose rows are compared with another's published cells
    (``datasets.<ds>.stands_for``, e.g. the quickstart's digits for CIFAR-10)."""
    args: list[str] = []
    for ds, spec in sorted(config["datasets"].items()):
        target = spec.get("stands_for")
        if target:
            ipcs = ",".join(f"{k}={v}" for k, v in sorted((target.get("ipc_from") or {}).items()))
            args += ["--stand-in", f"{ds}={target['dataset']}" + (f":{ipcs}" if ipcs else "")]
    return shlex.join(args)


def table_inputs(config: Mapping, number: int) -> list[str]:
    """Run CSVs that Table ``number`` aggregates (none for Table 6)."""
    if number == 6:
        return []
    rows = table_rows(number, config)
    cells = sorted({(r.condenser, r.dataset, r.ipc_from, r.ipc_to, r.network) for r in rows.itertuples(index=False)})
    return [runs_path(config, *c) for c in cells]


# The setting of the paper's ordering claims (yoco.claims): CIFAR-10, IPC_F 10, ConvNet-D3, on the
# runs of Tables 1, 2, 4 and 5 (Table 7 reports Table 1's runs).
CLAIMS_SETTING = ("cifar10", "10", "convnet")
CLAIMS_TABLES = (1, 2, 4, 5)


def claims_path(config: Mapping) -> str:
    return f"{_root(config)}/claims.csv"


def claims_inputs(config: Mapping, required: bool = False) -> list[str]:
    """Run CSVs the ordering claims compare, sorted: the enabled tables' pruned CIFAR-10 IPC_F 10
    ConvNet cells (the unpruned IPC_F column takes part in no claim).

    With ``required``, a config that evaluates no such cell raises :class:`YocoError` instead of
    returning ``[]`` (the ``claims`` rule asks for this, so a request for ``claims.csv`` fails clearly).
    """
    ds, ipcf, net = CLAIMS_SETTING
    tables = set(enabled_tables(config))
    if 7 in tables:
        tables.add(1)
    paths = set()
    for number in sorted(tables & set(CLAIMS_TABLES)):
        for r in table_rows(number, config).itertuples(index=False):
            if (r.dataset, r.ipc_from, r.network) == (ds, ipcf, net) and r.ipc_to != r.ipc_from:
                paths.add(runs_path(config, r.condenser, r.dataset, r.ipc_from, r.ipc_to, r.network))
    if required and not paths:
        raise YocoError(
            f"no enabled table ({', '.join(f'table{n}' for n in CLAIMS_TABLES)}) evaluates a {ds} IPC_F {ipcf} cell "
            f"on {net}, so the paper's claims have no runs to compare; enable one (see config/cifar10-lite.yaml)."
        )
    return sorted(paths)


def claims_targets(config: Mapping) -> list[str]:
    """``[claims_path]`` when the config runs something the claims compare, else ``[]`` (rule all)."""
    return [claims_path(config)] if claims_inputs(config) else []


def targets(config: Mapping) -> list[str]:
    """Every final output of the config: the enabled tables and figures."""
    out = [table_path(config, n) for n in enabled_tables(config)]
    for n in enabled_figures(config):
        out += figure_paths(config, n)
    return out


# ----------------------------------------------------------------------------------------------
# Validation
# ----------------------------------------------------------------------------------------------
def validate(config: Mapping) -> None:
    """Check what the JSON schema cannot: names that refer to each other, keys, epochs in range.

    Raises :class:`YocoError` naming the config entry and the fix, before any job is scheduled.
    """
    for n in enabled_tables(config):
        if n not in TABLES:
            raise errors.unknown_choice("table", str(n), [str(t) for t in TABLES])
    for n in enabled_figures(config):
        if n not in FIGURES:
            raise errors.unknown_choice("figure", str(n), [str(f) for f in FIGURES])
    tables = set(enabled_tables(config)) | ({1} if 7 in enabled_tables(config) else set())
    for number in sorted(tables - {6, 7}):
        spec = _table_spec(config, number)
        where = f"tables.table{number}"
        for ds, _, _ in _cells(spec, where):
            try:
                _dataset(config, ds)
            except YocoError as e:
                raise _fail(f"{where}.cells", f"{e} Add it under datasets: or fix the name.") from None
        for method in spec.get("methods", []):
            _condenser(config, method["condenser"])
            for key in method["keys"]:
                try:
                    check_key(key)
                except YocoError as e:
                    raise _fail(f"{where} ({method['condenser']})", str(e)) from None
        for net in spec.get("networks") or []:
            network_width(config, net)
    for net in (config["training"].get("run") or {}).get("engine") or {}:
        network_width(config, net)
    for net, settings in config["networks"].items():
        if settings.get("blocks") and net != "densenet":
            raise _fail(f"networks.{net}.blocks", f"sets DenseNet's dense blocks; {net} has none. Remove it.")
    figs = enabled_figures(config)
    if 2 in figs:
        for key in config["figures"]["fig2"]["keys"]:
            try:
                check_key(key)
            except YocoError as e:
                raise _fail("figures.fig2.keys", str(e)) from None
    for number in (3, 5):
        if number in figs:
            try:
                check_key(config["figures"][f"fig{number}"]["key"])
            except YocoError as e:
                raise _fail(f"figures.fig{number}.key", str(e)) from None
    for ck, spec in config["condensers"].items():
        if spec.get("inhouse") and ck not in INHOUSE_CANONICAL and ck not in INHOUSE_AUTHORS_FORMAT:
            why = NO_INHOUSE_REASON.get(ck, f"{ck} has no in-house condenser")
            raise _fail(
                f"condensers.{ck}.inhouse",
                f"true, but {why}; set it to false and provide the authors' file under `condensers.{ck}.external`.",
            )
    for cs in condensed_sets(config):
        if cs.source == "inhouse":
            condense_budget(config, cs.ck, cs.ds)
            if cs.ck == "mtt":
                _check_mtt_budget(config, cs.ds)
    for job in eval_jobs(config):
        _dataset(config, job.ds)
        factor(config, job.ck, job.ds)
        network_width(config, job.net)
    for ck, ds, ipcf in dynamics_sets(config):
        factor(config, ck, ds)
        epochs, top_k = lbpe(config, ck, ds)
        total = int(_recipe(config, "dynamics", ds, ck)["epochs"])
        if not 0 < top_k <= epochs <= total:
            raise _fail(
                f"condensers.{ck}.lbpe.{ds}",
                f"need 0 < top_k ({top_k}) <= epochs ({epochs}) <= dynamics epochs ({total}).",
            )
    total_by_set = {s: int(_recipe(config, "dynamics", s[1], s[0])["epochs"]) for s in dynamics_sets(config)}
    if 7 in figs:
        fig = config["figures"]["fig7"]
        total = total_by_set[(fig["condenser"], str(fig["dataset"]), _ipc(fig["ipc_from"]))]
        bad = [e for e in fig["epochs"] if not 0 <= int(e) < total]
        if bad:
            raise _fail("figures.fig7.epochs", f"epochs {bad} are outside the dynamics run (0..{total - 1}).")
        if int(fig["rep"]) not in reps(config):
            raise _fail("figures.fig7.rep", f"rep {fig['rep']} is not in 1..{config['reps']}.")
    if 5 in figs:
        fig = config["figures"]["fig5"]
        total = total_by_set[(fig["condenser"], str(fig["dataset"]), _ipc(fig["ipc_from"]))]
        if not 0 <= int(fig["epochs_from"]) < int(fig["epochs_to"]) <= total:
            raise _fail("figures.fig5", f"need 0 <= epochs_from < epochs_to <= dynamics epochs ({total}).")
        bad = [r for r in fig["reps"] if int(r) not in reps(config)]
        if bad:
            raise _fail("figures.fig5.reps", f"reps {bad} are not in 1..{config['reps']}.")
    if 3 in figs:
        bad = [r for r in fig3_reps(config) if r not in reps(config)]
        if bad:
            raise _fail("figures.fig3.reps", f"reps {bad} are not in 1..{config['reps']}.")
        bad = [p for p in config["figures"]["fig3"]["pruning_ratios"] if not 0 < float(p) < 1]
        if bad:
            raise _fail("figures.fig3.pruning_ratios", f"ratios {bad} must lie strictly between 0 and 1.")


def _check_mtt_budget(config: Mapping, ds: str) -> None:
    """The distillation reads expert checkpoints up to max_start_epoch - 1 + expert_epochs: train that far."""
    budget, experts = condense_budget(config, "mtt", ds), experts_budget(config, ds)
    last = int(budget["max_start_epoch"]) - 1 + int(budget["expert_epochs"])
    if last > int(experts["epochs"]):
        raise _fail(
            f"condensation.mtt.{ds}",
            f"max_start_epoch {budget['max_start_epoch']} with expert_epochs {budget['expert_epochs']} reads expert "
            f"epoch {last}, but experts.{ds}.epochs is {experts['epochs']}; lower them or raise the experts' epochs.",
        )
