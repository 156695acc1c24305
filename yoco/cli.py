"""``yoco``: one subcommand per pipeline stage, each reading and writing files.

The Snakemake rules call these as one-liners; users without Snakemake can call them by hand.
Every output is written under a temporary name and renamed when complete.
"""
from __future__ import annotations

import argparse
import ctypes
import json
import sys
import time
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
    print(f"[yoco {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def _device(name: str):
    import torch

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise YocoError(f"--device {name} was requested but no CUDA device is visible; use --device cpu or auto")
    return name


# ----------------------------------------------------------------------------------------------- arguments
def _add_train_args(p: argparse.ArgumentParser, epochs_default: int = 1000) -> None:
    g = p.add_argument_group("training recipe (reference-spec §4.2)")
    g.add_argument("--network", default="convnet", help="convnet | resnetap10 | resnet10bn | densenet")
    g.add_argument("--width", type=int, default=None,
                   help="ConvNet channels / ResNet first-stage channels / DenseNet growth (default: the paper's)")
    g.add_argument("--depth", type=int, default=3, help="ConvNet depth (3 in the paper)")
    g.add_argument("--epochs", type=int, default=epochs_default)
    g.add_argument("--batch-size", type=int, default=64)
    g.add_argument("--lr", type=float, default=0.01)
    g.add_argument("--momentum", type=float, default=0.9)
    g.add_argument("--weight-decay", type=float, default=5e-4)
    g.add_argument("--cutmix-p", type=float, default=0.5)
    g.add_argument("--diffaug", default=DIFFAUG_DEFAULT, help="DiffAug strategy, or 'none'")
    g.add_argument("--imagenet-transforms", action="store_true",
                   help="ImageNet-10's per-image RandomResizedCrop/flip/jitter/lighting before DiffAug (§4.4)")
    g.add_argument("--engine", default="auto", help="auto | stacked | loop | vmap | sequential (yoco/train.py)")
    g.add_argument("--compile", action=argparse.BooleanOptionalAction, default=None,
                   help="torch.compile each model's forward (loop engine; default: only CPU trainings long "
                        "enough to repay ~20 s of compiling per batch shape, yoco/train.py:use_compile)")
    g.add_argument("--tf32", action=argparse.BooleanOptionalAction, default=None,
                   help="allow TF32 on CUDA (default: torch's defaults, as the reference ran)")
    g.add_argument("--max-models", type=int, default=None, help="bound on models trained in one batch")
    g.add_argument("--double-normalize", action=argparse.BooleanOptionalAction, default=True,
                   help="normalise already-normalised MTT/DSA/KIP sets again, as the reference does (§8 item 9)")
    g.add_argument("--device", default="auto", help="cpu | cuda | cuda:N | auto")


def _train_fields(a) -> dict:
    """The TrainConfig fields the training flags set (the schedule and validation are per command)."""
    return dict(epochs=a.epochs, batch_size=a.batch_size, lr=a.lr, momentum=a.momentum,
                weight_decay=a.weight_decay, cutmix_p=a.cutmix_p,
                augment=None if a.diffaug in ("none", "") else a.diffaug, max_models=a.max_models,
                imagenet_transforms=a.imagenet_transforms, engine=a.engine, compile=a.compile, tf32=a.tf32)


def _spec(a, decoded):
    from .train import NetworkSpec

    return NetworkSpec(name=a.network, num_classes=decoded.num_classes, image_size=decoded.images.shape[-1],
                       width=a.width, depth=a.depth)


def _load_decoded(path):
    from .condensed import CondensedSet

    if not Path(path).exists():
        raise YocoError(f"decoded set {path} does not exist; make it with `yoco decode --condensed FILE --out {path}`")
    return CondensedSet.load(path)


def _load_real(path):
    from .data import load_real

    if not Path(path).exists():
        raise YocoError(f"real data {path} does not exist; make it with `yoco data --dataset NAME --out {path}`")
    name = Path(path).stem
    return load_real(name, npz=path)


# ----------------------------------------------------------------------------------------------- commands
def cmd_data(a) -> None:
    from .data import load_real, save_real_npz

    real = load_real(a.dataset, root=a.root, npz=a.npz, image_size=a.image_size, test_per_class=a.test_per_class)
    save_real_npz(real, a.out)
    _log(f"{a.dataset}: {len(real.y_train)} train / {len(real.y_test)} test images -> {a.out}")


def cmd_condense(a) -> None:
    from .condense import CondenseConfig, condense

    real = _load_real(a.real)
    try:
        config = CondenseConfig.paper(real.name, a.ipc, a.method)
    except YocoError:
        # No published recipe for this dataset (digits, ...): IDC's CIFAR settings, shrunk by the flags below.
        config = CondenseConfig()
    overrides = {k: v for k, v in dict(outer=a.outer, inner=a.inner, n_data=a.net_epochs_data, lr_img=a.lr_img,
                                         width=a.width).items() if v is not None}
    config = config.replace(**overrides)
    cs = condense(real, method=a.method, ipc=a.ipc, factor=a.factor, config=config, seed=a.seed,
                  device=_device(a.device), snapshot_path=a.snapshot,
                  progress=lambda info: _log(" ".join(f"{k}={v}" for k, v in info.items())))
    cs.save(a.out)
    _log(f"condensed {a.method} IPC {a.ipc} -> {a.out}")


def cmd_import(a) -> None:
    from .condensed import load_condensed

    if a.format == "real":
        from .pipeline import real_as_condensed

        cs = real_as_condensed(_load_real(a.path), per_class=a.ipc)
    else:
        cs = load_condensed(a.path, a.format, a.dataset, ipc=a.ipc, factor=a.factor)
    cs.save(a.out)
    _log(f"imported {a.format} set {a.path}: {len(cs.labels)} images, IPC {cs.ipc}, factor {cs.factor} -> {a.out}")


def cmd_decode(a) -> None:
    from .condensed import CondensedSet
    from .pipeline import decode_set

    if not Path(a.condensed).exists():
        raise YocoError(f"condensed set {a.condensed} does not exist; import it with `yoco import` or make it with `yoco condense`")
    decoded = decode_set(CondensedSet.load(a.condensed))
    decoded.save(a.out)
    _log(f"decoded {len(decoded.labels)} patches -> {a.out}")


def cmd_dynamics(a) -> None:
    from .pipeline import dynamics_config, save_model, train_dynamics

    decoded, real = _load_decoded(a.decoded), _load_real(a.real)
    spec = _spec(a, decoded)
    config = dynamics_config(**_train_fields(a))
    reps = list(range(1, a.reps + 1))
    out = Path(a.out_dir)
    _log(f"dynamics: {len(reps)} reps x {a.epochs} epochs of {spec.name} on {len(decoded.labels)} patches")
    results = train_dynamics(decoded, real, spec, config, reps=reps, seed_prefix=a.seed_prefix,
                             double_normalize=a.double_normalize, device=_device(a.device), progress=_log)
    for rep, (dyn, state) in zip(reps, results):
        dyn.save(out / f"rep{rep}.npz")
        save_model(state, spec, out / f"rep{rep}.model.pt")
        _log(f"rep {rep}: seed {dyn.meta['seed']}, final test accuracy {dyn.meta['final_test_acc']:.2f}%")


def cmd_scores(a) -> None:
    from .dynamics import Dynamics
    from .pipeline import compute_scores, load_model, save_scores, training_pool

    decoded, real = _load_decoded(a.decoded), _load_real(a.real)
    dyn = Dynamics.load(a.dynamics)
    device = _device(a.device)
    model = load_model(a.model, device)
    pool_x, _ = training_pool(decoded, real, a.double_normalize)
    table = compute_scores(dyn, model, pool_x, a.lbpe_epochs, a.lbpe_top_k, device=device,
                           lbpe_epoch_ties=a.lbpe_epoch_ties)
    save_scores(table, a.out, condenser=a.condenser, dataset=a.dataset, lbpe_epochs=a.lbpe_epochs,
                lbpe_top_k=a.lbpe_top_k, lbpe_epoch_ties=a.lbpe_epoch_ties, dynamics=str(a.dynamics),
                seed=dyn.meta.get("seed"))
    _log(f"scores {sorted(k for k in table if k != 'features')} -> {a.out}")


def _selection_record(sel_indices, key, rep, seed, decoded, ipc_from, factor, ipc_to, **extra) -> dict:
    import numpy as np

    from .selection import class_counts

    idx = np.asarray(sel_indices, dtype=np.int64)
    return {"key": key, "rep": int(rep), "seed": int(seed), "dataset": decoded.dataset,
            "condenser": decoded.condenser, "ipc_from": int(ipc_from), "ipc_to": int(ipc_to), "factor": int(factor),
            "indices": idx.tolist(), "n_selected": int(idx.size),
            "class_counts": class_counts(idx, decoded.labels.numpy(), decoded.num_classes).tolist(), **extra}


def _parse_pairs(a) -> list[tuple[str, int]]:
    if a.pairs:
        pairs = []
        for item in a.pairs:
            key, sep, rep = item.rpartition("@")
            if not sep or not rep.isdigit():
                raise YocoError(f"--pairs takes KEY@REP items such as yoco@1; got {item!r}")
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
    return dict(zip(reps, files))


def cmd_select(a) -> None:
    """Every (key, rep) selection of one cell into one JSON list (one record per selection)."""
    from .io import write_json
    from .pipeline import load_scores, source_geometry
    from .seeding import seed_from
    from .selection import parse_key, select, tie_decided

    decoded = _load_decoded(a.decoded)
    ipc_from, factor = source_geometry(decoded)
    if a.ipc_from is not None and a.ipc_from != ipc_from:
        raise YocoError(f"--ipc-from {a.ipc_from} but the decoded set was stored at IPC {ipc_from}")
    pairs = _parse_pairs(a)
    files = _score_files(a)
    loaded: dict[str, dict] = {}
    labels = decoded.labels.numpy()
    records = []
    for key, rep in pairs:
        rule = parse_key(key)
        scores = {}
        if rule.method != "random":
            path = files.get(rep, files.get(None))
            if path is None:
                raise YocoError(f"key {key!r} (rep {rep}) needs a score file made by `yoco scores`: pass --scores")
            scores = loaded.setdefault(path, load_scores(path))
        seed = seed_from("select", a.seed_prefix, key, a.ipc_to, rep)
        idx = select(key, scores, labels, ipc_from=ipc_from, ipc_to=a.ipc_to, factor=factor, seed=seed,
                     dataset=a.dataset or decoded.dataset, ties=a.tie_breaking,
                     ccs_random_within=a.ccs_random_within_strata, ccs_ratio=a.ccs_cutoff)
        extra = {}
        if rule.method == "score":
            blocks = decoded.num_classes if rule.balance == "class" else None
            extra["tie_decided"] = tie_decided(scores[rule.score], idx, blocks)
            extra["tie_breaking"] = a.tie_breaking
        records.append(_selection_record(idx, key, rep, seed, decoded, ipc_from, factor, a.ipc_to, **extra))
        _log(f"{key} IPC {ipc_from}->{a.ipc_to} rep {rep}: {len(idx)} patches")
    write_json(records, a.out)
    _log(f"{len(records)} selections -> {a.out}")


def _read_selection_files(paths) -> list[dict]:
    records = []
    for p in paths:
        if not Path(p).exists():
            raise YocoError(f"selection file {p} does not exist; make it with `yoco select`")
        records.extend(json.loads(Path(p).read_text()))
    return records


def _selections_from_json(paths, keys=None):
    import numpy as np

    from .evaluate import Selection

    sels = []
    for rec in _read_selection_files(paths):
        if keys and rec["key"] not in keys:
            continue
        sels.append(Selection(key=rec["key"], rep=rec["rep"], indices=np.asarray(rec["indices"], dtype=np.int64),
                              dataset=rec["dataset"], condenser=rec["condenser"], ipc_from=rec["ipc_from"],
                              ipc_to=rec["ipc_to"], factor=rec["factor"], seed=rec["seed"],
                              tie_decided=rec.get("tie_decided")))
    return sels


def _evaluate(a, selections, decoded, real):
    from .evaluate import evaluate_selections
    from .io import write_csv
    from .pipeline import test_tensors, training_pool

    pool_x, pool_y = training_pool(decoded, real, a.double_normalize)
    test_x, test_y = test_tensors(real)
    spec = _spec(a, decoded)
    from .train import TrainConfig

    config = TrainConfig(**_train_fields(a), eval_points=a.eval_points)
    _log(f"evaluate: {len(selections)} selections x {a.inits} inits of {spec.name}, {a.epochs} epochs")
    runs = evaluate_selections(selections, pool_x, pool_y, test_x, test_y, spec, config, inits=a.inits,
                               device=_device(a.device), progress=_log)
    write_csv(runs, a.out)
    for key, group in runs.groupby("key", sort=False):
        _log(f"  {key}: best {group.best_acc.mean():.2f} ± {group.best_acc.std(ddof=0):.2f}  "
             f"last {group.last_acc.mean():.2f}  ({len(group)} runs)")


def cmd_evaluate(a) -> None:
    selections = _selections_from_json(a.selections, a.keys)
    if a.keys and {s.key for s in selections} != set(a.keys):
        missing = sorted(set(a.keys) - {s.key for s in selections})
        raise YocoError(f"the selection files hold no selections for {missing}; rerun `yoco select` for them")
    _evaluate(a, selections, _load_decoded(a.decoded), _load_real(a.real))


def cmd_evaluate_fractions(a) -> None:
    """Fig. 3: easy-first vs hard-first selections keeping (1 - ratio) of every class."""
    from .evaluate import Selection
    from .pipeline import load_scores, source_geometry
    from .selection import keep_fraction, parse_key

    decoded = _load_decoded(a.decoded)
    ipc_from, factor = source_geometry(decoded)
    score_name = parse_key(a.key).score
    labels = decoded.labels.numpy()
    sels = []
    for rep, path in enumerate(a.scores, start=1):
        scores = load_scores(path)
        if score_name not in scores:
            raise YocoError(f"{path} has no {score_name!r} score; recompute it with `yoco scores`")
        for ratio in a.fractions:
            for order in a.orders:
                idx = keep_fraction(scores[score_name], labels, 1.0 - ratio, order)
                sels.append(Selection(key=f"{a.key}_{order}", rep=rep, indices=idx, dataset=decoded.dataset,
                                      condenser=decoded.condenser, ipc_from=ipc_from, ipc_to=0, factor=factor,
                                      extra={"fraction_pruned": ratio, "order": order}))
    _evaluate(a, sels, decoded, _load_real(a.real))


def cmd_evaluate_epochs(a) -> None:
    """Fig. 5: balanced easy-first selections by the LBPE of one epoch alone."""
    from .dynamics import Dynamics
    from .evaluate import Selection
    from .pipeline import source_geometry
    from .selection import select_single_epoch

    decoded = _load_decoded(a.decoded)
    ipc_from, factor = source_geometry(decoded)
    sels = []
    for rep, path in enumerate(a.dynamics, start=1):
        dyn = Dynamics.load(path)
        last = min(a.epochs_to, dyn.num_epochs)
        for epoch in range(a.epochs_from, last):
            idx = select_single_epoch(dyn, epoch, ipc_from, a.ipc_to, factor)
            sels.append(Selection(key=a.key, rep=rep, indices=idx, dataset=decoded.dataset, condenser=decoded.condenser,
                                  ipc_from=ipc_from, ipc_to=a.ipc_to, factor=factor, extra={"lbpe_epoch": epoch}))
    _evaluate(a, sels, decoded, _load_real(a.real))


def cmd_prune(a) -> None:
    import numpy as np

    from .api import prune
    from .condensed import load_condensed
    from .io import write_json

    cs = load_condensed(a.condensed, a.format, a.dataset)
    idx = prune(cs.images, cs.labels, a.ipc_to, factor=cs.factor, key=a.key, seed=a.seed, epochs=a.epochs,
                network=a.network, width=a.width, device=_device(a.device), value_space=cs.value_space,
                dataset=cs.dataset)
    write_json({"key": a.key, "ipc_from": cs.ipc, "ipc_to": a.ipc_to, "factor": cs.factor, "seed": a.seed,
                "indices": np.asarray(idx).tolist()}, a.out)
    _log(f"kept {len(idx)} of {cs.num_decoded} decoded patches -> {a.out}")


def cmd_table(a) -> None:
    from . import tables
    from .io import write_csv

    if a.number == 6:
        frame = tables.table6()
    else:
        runs = tables.read_runs(a.runs)
        rows = None
        if a.rows:
            import pandas as pd

            rows = pd.read_csv(a.rows)
        frame = tables.build_table(a.number, runs, rows=rows, metric=a.metric)
    write_csv(frame, a.out)
    _log(f"table {a.number}: {len(frame)} rows -> {a.out}")


def cmd_claims(a) -> None:
    from . import tables
    from .claims import claims, format_claims
    from .io import write_csv

    frame = claims(tables.read_runs(a.runs), metric=a.metric, dataset=a.dataset, ipc_from=a.ipc_from,
                   network=a.network)
    write_csv(frame, a.out)
    # The report goes to stdout (the workflow shows it at the end of a run); the log line to stderr.
    print(format_claims(frame), flush=True)
    _log(f"claims: {len(frame)} rows -> {a.out}")


def cmd_figure_data(a) -> None:
    import numpy as np
    import pandas as pd

    from . import figures
    from .io import write_csv

    if a.figure == 2:
        sels = _read_selection_files(a.selections)
        runs = pd.concat([pd.read_csv(p) for p in a.runs], ignore_index=True)
        frame = figures.fig2_data(sels, runs)
    elif a.figure == 3:
        frame = figures.fig3_data(pd.concat([pd.read_csv(p) for p in a.runs], ignore_index=True))
    elif a.figure == 5:
        frame = figures.fig5_data(pd.concat([pd.read_csv(p) for p in a.runs], ignore_index=True))
    elif a.figure == 7:
        from .dynamics import Dynamics

        dyn = Dynamics.load(a.dynamics[0])
        epochs = [e for e in a.epochs if e < dyn.num_epochs] or [dyn.num_epochs - 1]
        frame = figures.fig7_data(dyn.err_l2, np.asarray(dyn.labels), epochs)
    else:
        raise YocoError(f"figure {a.figure} has no data; choose 2, 3, 5 or 7")
    write_csv(frame, a.out)
    _log(f"figure {a.figure} data: {len(frame)} rows -> {a.out}")


# ----------------------------------------------------------------------------------------------- parser
def _evaluate_parser(sub, name: str, help: str, func) -> argparse.ArgumentParser:
    """A subcommand that trains ``--inits`` networks per selection: the arguments all three share."""
    p = sub.add_parser(name, help=help)
    p.add_argument("--decoded", required=True)
    p.add_argument("--real", required=True)
    p.add_argument("--inits", type=int, default=3)
    p.add_argument("--eval-points", type=int, default=4)
    p.add_argument("--out", required=True)
    _add_train_args(p)
    p.set_defaults(func=func)
    return p


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="yoco", description=(
        "You Only Condense Once: prune condensed datasets by LBPE score, easy samples first, classes balanced."))
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("data", help="cache a real dataset (CIFAR via torchvision, an npz, ImageNet-10, digits)")
    p.add_argument("--dataset", required=True)
    p.add_argument("--npz", default=None)
    p.add_argument("--root", default="data")
    p.add_argument("--image-size", type=int, default=None)
    p.add_argument("--test-per-class", type=int, default=None,
                   help="keep the first N test images of every class (a smaller test split for CPU runs)")
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_data)

    p = sub.add_parser("condense", help="condense a real dataset in-house with IDC or DREAM")
    p.add_argument("--real", required=True)
    p.add_argument("--method", choices=["idc", "dream"], required=True)
    p.add_argument("--ipc", type=int, required=True)
    p.add_argument("--factor", type=int, default=2)
    p.add_argument("--outer", type=int, default=None)
    p.add_argument("--inner", type=int, default=None)
    p.add_argument("--net-epochs-data", type=int, default=None, help="real samples per network update (n_data)")
    p.add_argument("--lr-img", type=float, default=None)
    p.add_argument("--width", type=int, default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--snapshot", default=None, help="resume from / save snapshots to this file")
    p.add_argument("--device", default="auto")
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_condense)

    p = sub.add_parser("import", help="convert an external condensed file (idc, dream, mtt, dsa, kip) to the canonical "
                       "form; `--format real` takes a real training set (an npz of `yoco data`) whole")
    p.add_argument("--format", required=True)
    p.add_argument("--path", required=True)
    p.add_argument("--dataset", required=True)
    p.add_argument("--ipc", type=int, default=None)
    p.add_argument("--factor", type=int, default=None)
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("decode", help="multi-formation decode of a condensed set into its patches")
    p.add_argument("--condensed", required=True)
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_decode)

    p = sub.add_parser("dynamics", help="train on every decoded patch and record per-epoch dynamics (all reps at once)")
    p.add_argument("--decoded", required=True)
    p.add_argument("--real", required=True)
    p.add_argument("--reps", type=int, default=3)
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
    p.add_argument("--lbpe-epochs", type=int, required=True)
    p.add_argument("--lbpe-top-k", type=int, required=True)
    p.add_argument("--lbpe-epoch-ties", choices=["latest", "earliest", "torch"], default="latest",
                   help="which of equally accurate epochs LBPE sums: latest (the paper's Algorithm 1), "
                        "earliest, or torch.topk's undefined order (the reference code)")
    p.add_argument("--double-normalize", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument("--device", default="auto")
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_scores)

    p = sub.add_parser("select", help="select decoded patches by pruning keys (yoco, el2n_easy, random_balance, ...)")
    p.add_argument("--key", default=None, help="one pruning key (with --rep)")
    p.add_argument("--pairs", nargs="+", default=None, metavar="KEY@REP", help="several selections, e.g. yoco@1 yoco@2")
    p.add_argument("--ipc-from", type=int, default=None)
    p.add_argument("--ipc-to", type=int, required=True)
    p.add_argument("--decoded", required=True)
    p.add_argument("--scores", nargs="+", default=None, help="score files (made by `yoco scores`), one per rep")
    p.add_argument("--score-reps", type=int, nargs="+", default=None, help="the rep of each --scores file (default 1, 2, ...)")
    p.add_argument("--rep", type=int, default=1)
    p.add_argument("--seed-prefix", default="")
    p.add_argument("--dataset", default=None)
    p.add_argument("--tie-breaking", choices=["reference", "index", "random"], default="reference",
                   help="order of equal scores: reference (one stable descending sort; easy keeps the highest "
                        "indices, hard the lowest), index (ascending index both ways), random (seeded)")
    p.add_argument("--ccs-random-within-strata", action=argparse.BooleanOptionalAction, default=False)
    p.add_argument("--ccs-cutoff", type=float, default=None,
                   help="CCS hard cut-off ratio for cells outside the reference's table (reference-spec §3.8)")
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_select)

    p = _evaluate_parser(sub, "evaluate", "train networks on selections (inits x selections, batched)", cmd_evaluate)
    p.add_argument("--selections", nargs="+", required=True)
    p.add_argument("--keys", nargs="+", default=None, help="train only these keys of the selection files")

    p = _evaluate_parser(sub, "evaluate-fractions", "Fig. 3: easy- vs hard-first at pruning ratios",
                         cmd_evaluate_fractions)
    p.add_argument("--scores", nargs="+", required=True, help="one score file per rep")
    p.add_argument("--key", default="yoco")
    p.add_argument("--fractions", type=float, nargs="+", required=True, help="pruning ratios, e.g. 0.1 ... 0.9")
    p.add_argument("--orders", nargs="+", default=["easy", "hard"])

    p = _evaluate_parser(sub, "evaluate-epochs", "Fig. 5: selections by the LBPE of single epochs", cmd_evaluate_epochs)
    p.add_argument("--dynamics", nargs="+", required=True, help="one dynamics file per rep")
    p.add_argument("--key", default="yoco")
    p.add_argument("--ipc-from", type=int, default=None)
    p.add_argument("--ipc-to", type=int, required=True)
    p.add_argument("--epochs-from", type=int, default=0)
    p.add_argument("--epochs-to", type=int, required=True)
    p.add_argument("--dataset", default=None)

    p = sub.add_parser("prune", help="apply YOCO to your own condensed set (trains the dynamics itself)")
    p.add_argument("--condensed", required=True)
    p.add_argument("--format", default="idc")
    p.add_argument("--dataset", default="cifar10")
    p.add_argument("--ipc-to", type=int, required=True)
    p.add_argument("--key", default="yoco")
    p.add_argument("--epochs", type=int, default=1000, help="epochs of the dynamics run")
    p.add_argument("--network", default="convnet")
    p.add_argument("--width", type=int, default=None, help="network width (default: the paper's)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto")
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_prune)

    p = sub.add_parser("table", help="aggregate run CSVs into one of the paper's tables")
    p.add_argument("--number", type=int, required=True, choices=[1, 2, 3, 4, 5, 6, 7])
    p.add_argument("--runs", nargs="*", default=[])
    p.add_argument("--rows", default=None, help="CSV of the table's row keys (from the workflow's grid)")
    p.add_argument("--metric", choices=["best", "last"], default="best")
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_table)

    p = sub.add_parser("figure-data", help="the CSV a figure notebook plots")
    p.add_argument("--figure", type=int, required=True, choices=[2, 3, 5, 7])
    p.add_argument("--selections", nargs="*", default=[])
    p.add_argument("--runs", nargs="*", default=[])
    p.add_argument("--dynamics", nargs="*", default=[])
    p.add_argument("--decoded", nargs="*", default=[])
    p.add_argument("--epochs", type=int, nargs="*", default=[0, 89, 999])
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_figure_data)

    p = sub.add_parser("claims", help="test the paper's ordering claims (Tables 1, 2, 4, 5) on run CSVs; "
                       "see yoco.claims")
    p.add_argument("--runs", nargs="+", required=True, help="run CSVs written by `yoco evaluate`")
    p.add_argument("--metric", choices=["best", "last"], default="best")
    p.add_argument("--dataset", default="cifar10", help="the setting of the claims (the paper: cifar10, 10, convnet)")
    p.add_argument("--ipc-from", type=int, default=10)
    p.add_argument("--network", default="convnet")
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_claims)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _tune_allocator()
    try:
        args.func(args)
    except YocoError as err:
        print(f"yoco {args.command}: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
