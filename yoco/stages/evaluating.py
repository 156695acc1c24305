"""Stages that train networks on selections: ``evaluate`` (the tables), ``evaluate_fractions`` (Fig. 3),
``evaluate_epochs`` (Fig. 5). Each writes one row per (selection, init) to a runs CSV."""

from __future__ import annotations

from ..errors import YocoError
from ..progress import log
from .inputs import (
    TrainOptions,
    at_least,
    check_dynamics_belong,
    check_geometry,
    check_outputs,
    identity,
    load_decoded_real,
    read_scores,
    resolve_device,
    train_options,
)


def selections_from_json(paths, keys=None, decoded=None, decoded_path=None) -> list:
    """The :class:`~yoco.evaluate.Selection` of every record of ``yoco select`` files (those of ``keys``),
    checked against the decoded set when given (:func:`yoco.selection.read_selections`)."""
    import numpy as np

    from ..evaluate import Selection
    from ..selection import read_selections

    sels = []
    for rec in read_selections(paths, decoded, decoded_path):
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


def _inputs(decoded, real, out, train: TrainOptions, inits: int, eval_points: int):
    """The checks every evaluating stage makes before any work; returns the decoded and real sets."""
    at_least(inits, 1, "--inits")
    at_least(eval_points, 0, "--eval-points")
    check_outputs({"--out": out}, {"--decoded": decoded, "--real": real})
    train.check()
    resolve_device(train.device)
    sets = load_decoded_real(decoded, real)
    train.check_spec(train.spec(sets[0]))
    return sets


def _train(selections, decoded, real, out, inits: int, eval_points: int, train: TrainOptions, name: str):
    """Train ``inits`` networks per selection and write their rows to ``out``; returns the rows."""
    from ..evaluate import evaluate_selections
    from ..io import write_csv
    from ..pipeline import test_tensors, training_pool
    from ..progress import Progress
    from ..train import TrainConfig

    pool_x, pool_y = training_pool(decoded, real, train.double_normalize)
    test_x, test_y = test_tensors(real)
    spec = train.spec(decoded)
    config = TrainConfig(**train.config_fields(), eval_points=eval_points)
    log(f"evaluate: {len(selections)} selections x {inits} inits of {spec.name}, {train.epochs} epochs")
    with Progress(name) as progress:
        runs = evaluate_selections(
            selections,
            pool_x,
            pool_y,
            test_x,
            test_y,
            spec,
            config,
            inits=inits,
            device=resolve_device(train.device),
            progress=progress,
        )
    # Every row names the decoded set it trained on, so tables never mix runs of two sets in a cell.
    ident = identity(decoded)
    for column in ("factor", "n_decoded", "decoded_sha256"):
        runs[column] = ident[column]
    write_csv(runs, out)
    for key, group in runs.groupby("key", sort=False):
        log(
            f"  {key}: best {group.best_acc.mean():.2f} ± {group.best_acc.std(ddof=0):.2f}  "
            f"last {group.last_acc.mean():.2f}  ({len(group)} runs)"
        )
    return runs


def evaluate(
    decoded,
    real,
    selections,
    out,
    *,
    keys=None,
    inits: int = 3,
    eval_points: int = 4,
    train: TrainOptions | dict | None = None,
):
    """``yoco evaluate``: train ``inits`` networks on every selection of the ``yoco select`` files
    ``selections`` (those of ``keys``); returns the runs written to ``out``."""
    train = train_options(train)
    decoded_path = decoded
    decoded, data = _inputs(decoded, real, out, train, inits, eval_points)
    sels = selections_from_json(selections, keys, decoded, decoded_path)
    if keys and {s.key for s in sels} != set(keys):
        missing = sorted(set(keys) - {s.key for s in sels})
        raise YocoError(f"the selection files hold no selections for {missing}; rerun `yoco select` for them")
    if not sels:
        raise YocoError(f"--selections {' '.join(selections)} hold no selection; make them with `yoco select`")
    return _train(sels, decoded, data, out, inits, eval_points, train, "evaluate")


def evaluate_fractions(
    decoded,
    real,
    scores,
    fractions,
    out,
    *,
    key: str = "yoco",
    orders=("easy", "hard"),
    inits: int = 3,
    eval_points: int = 4,
    train: TrainOptions | dict | None = None,
):
    """``yoco evaluate-fractions`` (Fig. 3): easy-first vs hard-first selections keeping (1 - ratio) of every
    class, for each ratio of ``fractions`` and each score file of ``scores`` (one per rep)."""
    from ..artefacts import reps_of
    from ..evaluate import Selection
    from ..selection import ORDERS, keep_fraction, parse_key

    train = train_options(train)
    outside = [f for f in fractions if isinstance(f, bool) or not isinstance(f, (int, float)) or not 0 < f < 1]
    if outside:
        raise YocoError(f"--fractions {' '.join(map(str, outside))} is outside (0, 1)")
    bad = [o for o in orders if o not in ORDERS]
    if bad:
        raise YocoError(f"--orders takes easy and/or hard, got {' '.join(bad)}")
    score_name = parse_key(key).score
    if score_name is None or score_name == "features":
        raise YocoError(f"--key {key} ranks by no per-sample score; Fig. 3 needs a score key such as yoco or el2n")
    decoded_path = decoded
    decoded, data = _inputs(decoded, real, out, train, inits, eval_points)
    ipc_from, factor = check_geometry(decoded, decoded_path)
    labels = decoded.labels.numpy()
    read = [read_scores(path, decoded, decoded_path) for path in scores]
    tables = [table for table, _ in read]
    for path, table in zip(scores, tables):
        if score_name not in table:
            raise YocoError(f"{path} has no {score_name!r} score; recompute it with `yoco scores`")
    reps = reps_of([meta.get("rep") for _, meta in read], list(scores), "score files")
    sels = []
    for rep, table in zip(reps, tables):
        for ratio in fractions:
            for order in orders:
                idx = keep_fraction(table[score_name], labels, 1.0 - ratio, order)
                sels.append(
                    Selection(
                        key=f"{key}_{order}",
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
    return _train(sels, decoded, data, out, inits, eval_points, train, "evaluate-fractions")


def evaluate_epochs(
    decoded,
    real,
    dynamics,
    ipc_to: int,
    epochs_to: int,
    out,
    *,
    key: str = "yoco",
    ipc_from: int | None = None,
    epochs_from: int = 0,
    dataset: str | None = None,
    inits: int = 3,
    eval_points: int = 4,
    train: TrainOptions | dict | None = None,
):
    """``yoco evaluate-epochs`` (Fig. 5): balanced easy-first selections by the LBPE of one epoch alone, for
    each epoch in ``[epochs_from, epochs_to)`` of each dynamics file of ``dynamics`` (one per rep)."""
    from ..artefacts import reps_of
    from ..dynamics import Dynamics
    from ..evaluate import Selection
    from ..selection import select_single_epoch

    train = train_options(train)
    at_least(epochs_from, 0, "--epochs-from")
    if epochs_from >= epochs_to:
        raise YocoError(f"--epochs-from {epochs_from} must be below --epochs-to {epochs_to}")
    decoded_path = decoded
    decoded, data = _inputs(decoded, real, out, train, inits, eval_points)
    ipc_from, factor = check_geometry(decoded, decoded_path, ipc_from=ipc_from, dataset=dataset, ipc_to=ipc_to)
    runs = [Dynamics.load(path) for path in dynamics]
    for path, dyn in zip(dynamics, runs):
        check_dynamics_belong(dyn, path, decoded, decoded_path)
        if epochs_from >= dyn.num_epochs:
            raise YocoError(
                f"--epochs-from {epochs_from} but dynamics {path} recorded only {dyn.num_epochs} "
                f"epochs (0..{dyn.num_epochs - 1}); lower it"
            )
    sels = []
    reps = reps_of([dyn.meta.get("rep") for dyn in runs], list(dynamics), "dynamics files")
    for rep, dyn in zip(reps, runs):
        last = min(epochs_to, dyn.num_epochs)
        for epoch in range(epochs_from, last):
            idx = select_single_epoch(dyn, epoch, ipc_from, ipc_to, factor)
            sels.append(
                Selection(
                    key=key,
                    rep=rep,
                    indices=idx,
                    dataset=decoded.dataset,
                    condenser=decoded.condenser,
                    ipc_from=ipc_from,
                    ipc_to=ipc_to,
                    factor=factor,
                    extra={"lbpe_epoch": epoch},
                )
            )
    return _train(sels, decoded, data, out, inits, eval_points, train, "evaluate-epochs")
