"""Stages that choose decoded patches: ``select`` (the workflow's selections, one JSON list per cell) and
``prune_file`` (``yoco.prune`` on a condensed file, dynamics included)."""

from __future__ import annotations

from .. import recipe
from ..errors import YocoError
from ..progress import log
from .inputs import (
    at_least,
    check_classes,
    check_geometry,
    check_outputs,
    check_resolution,
    identity,
    load_decoded,
    load_real,
    note_assumed_factor,
    read_scores,
    resolve_device,
)


def selection_record(sel_indices, key, rep, seed, decoded, ipc_from, factor, ipc_to, **extra) -> dict:
    """One record of a ``yoco select`` file: the selection, where it comes from, and the decoded set it indexes."""
    import numpy as np

    from ..selection import class_counts

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
        "identity": identity(decoded),
        **extra,
    }


def _same_pair(item):
    if isinstance(item, tuple):
        return item
    key, _, rep = str(item).rpartition("@")
    return (key, int(rep)) if rep.isdigit() else item


def parse_pairs(pairs, key=None, rep=1) -> list[tuple[str, int]]:
    """``KEY@REP`` items (or ``(key, rep)`` tuples) -> ``[(key, rep), ...]``; without them, ``[(key, rep)]``."""
    if pairs:
        from ..errors import refuse_duplicates

        refuse_duplicates(pairs, "--pairs", "give each once", key=_same_pair)
        out = []
        for item in pairs:
            if isinstance(item, tuple) and len(item) == 2:
                item = f"{item[0]}@{item[1]}"
            k, sep, r = str(item).rpartition("@")
            if not sep or not k or not r.isdigit() or int(r) < 1:
                raise YocoError(f"--pairs takes KEY@REP items such as yoco@1 (REP >= 1); got {item!r}")
            out.append((k, int(r)))
        return out
    if not key:
        raise YocoError("give --key KEY (with --rep) or --pairs KEY@REP ...")
    return [(key, at_least(rep, 1, "--rep"))]


def score_files(scores, score_reps=None) -> dict:
    """Rep -> score file. A single file serves every rep (a user pruning with one dynamics run)."""
    files = list(scores or [])
    if len(files) == 1 and not score_reps:
        return {None: files[0]}
    reps = score_reps or list(range(1, len(files) + 1))
    if len(reps) != len(files):
        raise YocoError(f"{len(files)} score files but {len(reps)} --score-reps; give one rep per file")
    if len(set(reps)) != len(reps):
        raise YocoError(f"--score-reps {' '.join(map(str, reps))} names a rep twice; give each file its own rep")
    return dict(zip(reps, files))


def select(
    decoded,
    ipc_to: int,
    out,
    *,
    key: str | None = None,
    rep: int = 1,
    pairs=None,
    scores=None,
    score_reps=None,
    ipc_from: int | None = None,
    seed_prefix: str = "",
    dataset: str | None = None,
    tie_breaking: str = "reference",
    ccs_random_within_strata: bool = False,
    ccs_cutoff: float | None = None,
) -> list[dict]:
    """``yoco select``: every (key, rep) selection of one cell of the decoded set at ``decoded`` (``pairs`` of
    ``KEY@REP``, or one ``key`` with ``rep``), ranked by the score files ``scores`` (one per rep, or one for
    all), into one JSON list at ``out``; returns the records."""
    from ..artefacts import check_rep
    from ..io import write_json
    from ..seeding import seed_from
    from ..selection import parse_key, select as choose, tie_decided

    check_outputs({"--out": out}, {"--decoded": decoded, "--scores": scores})
    pairs = parse_pairs(pairs, key, rep)
    rules = {k: parse_key(k) for k, _ in pairs}
    files = score_files(scores, score_reps)
    decoded_path = decoded
    decoded = load_decoded(decoded)
    ipc_from, factor = check_geometry(decoded, decoded_path, ipc_from=ipc_from, dataset=dataset, ipc_to=ipc_to)
    loaded: dict[str, tuple] = {}
    for k, r in pairs:
        if rules[k].method != "random":
            path = files.get(r, files.get(None))
            if path is None:
                raise YocoError(f"key {k!r} (rep {r}) needs a score file made by `yoco scores`: pass --scores")
            if path not in loaded:
                loaded[path] = read_scores(path, decoded, decoded_path)
            check_rep(
                loaded[path][1].get("rep"),
                r,
                f"score file {path}",
                f"pass the score file of rep {r} (yoco scores --dynamics .../rep{r}.npz)",
            )
    labels = decoded.labels.numpy()
    records = []
    for k, r in pairs:
        rule = rules[k]
        table = loaded[files.get(r, files.get(None))][0] if rule.method != "random" else {}
        seed = seed_from("select", seed_prefix, k, ipc_to, r)
        idx = choose(
            k,
            table,
            labels,
            ipc_from=ipc_from,
            ipc_to=ipc_to,
            factor=factor,
            seed=seed,
            dataset=decoded.dataset,
            ties=tie_breaking,
            ccs_random_within=ccs_random_within_strata,
            ccs_ratio=ccs_cutoff,
        )
        extra = {}
        if rule.method == "score":
            blocks = decoded.num_classes if rule.balance == "class" else None
            extra["tie_decided"] = tie_decided(table[rule.score], idx, blocks)
            extra["tie_breaking"] = tie_breaking
        records.append(selection_record(idx, k, r, seed, decoded, ipc_from, factor, ipc_to, **extra))
        log(f"{k} IPC {ipc_from}->{ipc_to} rep {r}: {len(idx)} patches")
    write_json(records, out)
    log(f"{len(records)} selections -> {out}")
    return records


def prune_file(
    condensed,
    ipc_to: int,
    out,
    *,
    format: str = "idc",
    dataset: str | None = None,
    factor: int | None = None,
    mean=None,
    std=None,
    real=None,
    key: str = "yoco",
    epochs: int = recipe.EPOCHS,
    lbpe_epochs: int | None = None,
    lbpe_top_k: int | None = None,
    network: str = "convnet",
    width: int | None = None,
    seed: int = 0,
    device: str = "auto",
    allow_unsafe_unpickling: bool = False,
) -> dict:
    """``yoco prune``: :func:`yoco.prune` on the condensed file ``condensed`` (its dynamics trained here),
    the kept decoded indices written to ``out`` as JSON; returns the record."""
    import numpy as np

    from ..api import KNOWN_DATASETS, prune
    from ..condensed import load_condensed
    from ..io import write_json
    from ..selection import parse_key

    check_outputs({"--out": out}, {"--condensed": condensed, "--real": real})
    device = resolve_device(device)
    if parse_key(key).method != "random":
        from ..scores import check_lbpe, lbpe_defaults

        # yoco.prune's defaults, checked here to name the flags.
        e, k = lbpe_defaults(epochs, lbpe_epochs, lbpe_top_k)
        check_lbpe(e, k, epochs, "--lbpe-epochs", "--lbpe-top-k", "the dynamics run (--epochs)")
    if (mean is None) != (std is None):
        raise YocoError("pass both --mean and --std (3 values each), or neither")
    if format != "canonical" and dataset is None:
        raise YocoError(
            f"--format {format} files do not record their dataset; pass --dataset (cifar10, cifar100, "
            "imagenet10, digits, or your own dataset's name with --mean and --std)"
        )
    cs = load_condensed(condensed, format, dataset, factor=factor, trusted=allow_unsafe_unpickling)
    note_assumed_factor(cs, condensed, format)
    check_classes(cs, cs.dataset, condensed)
    if real is None:
        check_resolution(cs, condensed, None, "pass --real with its real data made at that size")
    if mean is not None:
        from ..data import check_statistics

        check_statistics(mean, std, "--mean", "--std")
    image_size = None
    if real is not None:
        from ..artefacts import check_real

        data = load_real(real)
        check_real(cs, data, f"--condensed {condensed}", f"--real {real}")
        image_size = data.image_size
        if mean is None:
            mean, std = data.mean, data.std
    known = cs.dataset if cs.dataset in KNOWN_DATASETS else None
    if known is None and mean is None:
        raise YocoError(
            f"no normalisation is known for dataset {cs.dataset!r}; pass --mean R G B and --std R G B of "
            "your real training images (pixels in [0, 1]), or --real with a `yoco data` file"
        )
    idx = prune(
        cs.images,
        cs.labels,
        ipc_to,
        factor=cs.factor,
        key=key,
        seed=seed,
        epochs=epochs,
        lbpe_epochs=lbpe_epochs,
        lbpe_top_k=lbpe_top_k,
        network=network,
        width=width,
        device=device,
        value_space=cs.value_space,
        dataset=known,
        mean=mean,
        std=std,
        image_size=image_size,
    )
    record = {
        "key": key,
        "dataset": cs.dataset,
        "condenser": cs.condenser,
        "ipc_from": cs.ipc,
        "ipc_to": ipc_to,
        "factor": cs.factor,
        "seed": seed,
        "n_decoded": cs.num_decoded,
        "indices": np.asarray(idx).tolist(),
    }
    write_json(record, out)
    log(f"kept {len(idx)} of {cs.num_decoded} decoded patches -> {out}")
    return record
