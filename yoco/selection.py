"""Selection rules: which decoded patches a pruned set keeps (reference-spec §1.4, §3.9).

One function, :func:`select_by_score`, does every score-based selection with an explicit ``order``
("easy" keeps the lowest scores, "hard" the highest) and ``balance`` ("class": the same number from
every contiguous class block; "global": any class mix). The paper's pruning keys
(``forgetting_easy_balance``, ``yoco``, ``ccs`` ...) are parsed by :func:`parse_key` into a
:class:`SelectionRule`, and :func:`select` applies a key to a score table.

Counting (§1.4), with ``f`` the multi-formation factor and ``N_F = C·IPC_F·f²`` decoded patches:
balanced keeps ``IPC_T·f²`` patches per class, global keeps ``IPC_T/IPC_F·N_F = C·IPC_T·f²`` in total.
The selection unit is the decoded patch, never the stored condensed image.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import torch

from . import scores as _scores
from . import seeding
from .dynamics import Dynamics
from .errors import YocoError, closest
from .keys import BALANCES, METHODS, ORDERS, SelectionRule, methods, parse_key

__all__ = [
    "METHODS",
    "methods",
    "SelectionRule",
    "parse_key",
    "select_by_score",
    "select",
    "keep_fraction",
    "select_single_epoch",
    "class_counts",
    "tie_decided",
]

TIES = ("reference", "index", "random")

# How to obtain each score when the table lacks it.
_HOW_TO = {
    "lbpe": "compute it with yoco.scores.score_table(dynamics, lbpe_epochs=E, lbpe_top_k=K)",
    "el2n": "compute it with yoco.scores.score_table(dynamics, ...)",
    "forgetting": "compute it with yoco.scores.score_table(dynamics, ...)",
    "accumulated_margin": "compute it with yoco.scores.score_table(dynamics, ...)",
    "entropy": "add scores['entropy'] = yoco.scores.entropy(softmax of the final dynamics model over the decoded set)",
    "features": "add scores['features'] = the final dynamics model's embeddings of the decoded set [N, D]",
}


# --------------------------------------------------------------------------- the selection primitive
def _as_score_array(scores: Any, name: str = "scores") -> np.ndarray:
    s = scores.detach().cpu().numpy() if isinstance(scores, torch.Tensor) else np.asarray(scores)
    if s.ndim != 1:
        raise YocoError(f"{name} must be 1-D [samples], got shape {s.shape}.")
    if not np.issubdtype(s.dtype, np.number) and s.dtype != bool:
        raise YocoError(f"{name} must be numeric, got dtype {s.dtype}.")
    s = s.astype(np.float64)
    if not np.all(np.isfinite(s)):
        raise YocoError(f"{name} contain NaN or inf; recompute them.")
    return s


def _rank(s: np.ndarray, n: int, order: str, ties: str, seed: int = 0) -> np.ndarray:
    """The positions of the ``n`` kept entries of ``s``."""
    idx = np.arange(s.shape[0])
    if ties == "reference":
        # The reference's head/tail rule on one descending sort (reference-spec §3.9), made stable: among
        # equal scores hard keeps the lowest indices and easy the highest. The reference's own
        # torch.argsort(descending=True) is not stable: on the CPU (torch 2.1 and 2.14 alike) any vector
        # of 17 or more entries comes out with about half of its tied pairs reversed, so its choice among
        # ties cannot be reproduced by an index rule; this one agrees with it whenever no tie straddles
        # the cut (tie_decided == 0). docs/deviations.md, "Ties"; benchmarks/tie_order.py measures it.
        desc = np.lexsort((idx, -s))
        return desc[:n] if order == "hard" else desc[desc.shape[0] - n :]
    # Primary key: score (ascending for easy, descending for hard); secondary: ascending index, or a
    # seeded random order, which does not favour any patch position of the position-major layout.
    second = idx if ties == "index" else np.random.default_rng(seed).permutation(s.shape[0])
    return np.lexsort((second, s if order == "easy" else -s))[:n]


def select_by_score(
    scores: Any,
    n_per_class_or_total: int,
    order: str = "easy",
    balance: str = "class",
    blocks: int | None = None,
    *,
    ties: str = "reference",
    seed: int = 0,
) -> np.ndarray:
    """Keep the easiest or hardest samples by score, per class block or globally.

    Parameters
    ----------
    scores : array [N]
    n_per_class_or_total : int
        Samples kept per class block (``balance="class"``, ``IPC_T·f²``) or in total
        (``balance="global"``, ``C·IPC_T·f²``).
    order : {"easy", "hard"}
        "easy" keeps the lowest scores, "hard" the highest.
    balance : {"class", "global"}
        "class" splits ``[0, N)`` into ``blocks`` contiguous equal blocks (the decoded class blocks
        ``[c·IPC_F·f², (c+1)·IPC_F·f²)``, §1.4) and selects inside each.
    blocks : int
        Number of class blocks ``C``; required for ``balance="class"``.
    ties : {"reference", "index", "random"}
        How equal scores are ordered (docs/deviations.md, "Ties"). "reference" (default): the reference's
        single descending sort, whose head (hard) or tail (easy) is kept, taken as a stable sort, so
        among tied scores hard keeps the lowest indices and easy the highest. (The reference's
        ``torch.argsort`` is not stable for 17 or more entries; its order among ties is a scramble that
        no rule here reproduces, and this one gives its selection whenever no tie straddles the cut.)
        "index": ascending index in both
        directions. "random": a random order drawn from ``seed``. In the position-major decoded layout
        (reference-spec §1.3) both index rules pick tied patches by the position they were cut from.
    seed : int
        Seed of the tie order for ``ties="random"``; unused otherwise.

    Returns
    -------
    np.ndarray int64
        Sorted indices.
    """
    s = _as_score_array(scores)
    n = int(n_per_class_or_total)
    if order not in ORDERS:
        raise YocoError(f"order must be one of {ORDERS}, got {order!r}.")
    if balance not in BALANCES:
        raise YocoError(f"balance must be one of {BALANCES}, got {balance!r}.")
    if ties not in TIES:
        raise YocoError(f"ties must be one of {TIES}, got {ties!r}.")
    if n < 0:
        raise YocoError(f"number of samples to keep must be non-negative, got {n}.")
    N = s.shape[0]
    if balance == "global":
        if n > N:
            raise YocoError(f"cannot keep {n} of {N} samples.")
        return np.sort(_rank(s, n, order, ties, seeding.seed_from("ties", seed))).astype(np.int64)
    if blocks is None or int(blocks) < 1:
        raise YocoError("balance='class' needs blocks = the number of contiguous class blocks (classes).")
    blocks = int(blocks)
    if N % blocks:
        raise YocoError(f"{N} samples do not split into {blocks} equal class blocks.")
    size = N // blocks
    if n > size:
        raise YocoError(f"cannot keep {n} samples per class from class blocks of {size}.")
    out = [
        c * size + _rank(s[c * size : (c + 1) * size], n, order, ties, seeding.seed_from("ties", seed, c))
        for c in range(blocks)
    ]
    return np.sort(np.concatenate(out)).astype(np.int64) if out else np.zeros(0, dtype=np.int64)


def tie_decided(scores: Any, indices: Any, blocks: int | None = None) -> int:
    """How many kept samples were chosen by the tie rule rather than by their score.

    A kept sample counts when a rejected sample of the same selection unit (its class block, or the
    whole set when ``blocks`` is None) has exactly the same score: the score alone could not choose
    between them, the tie rule did. Zero means the selection is the same under every tie rule.
    Integer scores of short dynamics runs (forgetting counts) tie massively, and then an index-based
    rule picks patches by the position they were cut from (docs/deviations.md, "Ties").
    """
    s = _as_score_array(scores)
    kept = np.zeros(s.shape[0], dtype=bool)
    kept[np.asarray(indices, dtype=np.int64)] = True
    units = (
        [slice(0, s.shape[0])]
        if blocks is None
        else [slice(c * (s.shape[0] // int(blocks)), (c + 1) * (s.shape[0] // int(blocks))) for c in range(int(blocks))]
    )
    decided = 0
    for unit in units:
        values, chosen = s[unit], kept[unit]
        rejected = np.unique(values[~chosen])
        decided += int(np.isin(values[chosen], rejected).sum())
    return decided


def class_counts(indices: Any, labels: Any, num_classes: int | None = None) -> np.ndarray:
    """Selected samples per class (duplicates counted), int64 [C] (Fig. 2 histograms)."""
    y = np.asarray(labels, dtype=np.int64)
    idx = np.asarray(indices, dtype=np.int64)
    c = int(num_classes) if num_classes is not None else int(y.max()) + 1
    return np.bincount(y[idx], minlength=c).astype(np.int64)


# --------------------------------------------------------------------------- keys -> indices
def _positive_int(value: Any, name: str) -> int:
    try:
        ok = not isinstance(value, bool) and int(value) == value and int(value) >= 1
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise YocoError(f"{name} must be a positive integer, got {value!r}.")
    return int(value)


def _class_blocks(labels: Any, ipc_from: int, factor: int) -> tuple[int, int]:
    """Check class-major labels; return (number of classes, patches per class)."""
    y = labels.detach().cpu().numpy() if isinstance(labels, torch.Tensor) else np.asarray(labels)
    if y.ndim != 1 or y.size == 0:
        raise YocoError(f"labels must be a non-empty 1-D array [N], got shape {y.shape}.")
    if y.dtype == bool:
        raise YocoError("labels are booleans, not class indices; pass integer class indices 0..C-1 of the decoded set.")
    if not np.issubdtype(y.dtype, np.number) or not np.all(np.isfinite(y)) or not np.all(y == np.round(y)):
        raise YocoError(
            f"labels must be whole class indices, got dtype {y.dtype} with non-integer values; pass "
            "integer class indices 0..C-1 of the decoded set."
        )
    y = y.astype(np.int64)
    per_class = ipc_from * factor * factor
    blocks = _block_size(y)
    if blocks is not None and blocks != per_class:
        C = y.size // blocks
        raise YocoError(
            f"the labels form {C} class blocks of {blocks} decoded samples, but ipc_from {ipc_from} and "
            f"factor {factor} give IPC_F·f² = {per_class}; pass the ipc_from and factor the set was "
            f"condensed with (IPC_F·f² = {blocks})."
        )
    if y.size % per_class:
        raise YocoError(
            f"{y.size} decoded samples is not a multiple of IPC_F·f² = {ipc_from}·{factor}² = "
            f"{per_class}; check ipc_from and factor."
        )
    C = y.size // per_class
    if not np.array_equal(y, np.repeat(np.arange(C), per_class)):
        raise YocoError(
            f"labels are not class-major: expected {C} contiguous blocks of {per_class} "
            "patches labelled 0, 1, ... in order (the decoded layout, reference-spec §1.3). "
            "Decode with yoco's decoder or reorder the set class by class."
        )
    return C, per_class


def _block_size(y: np.ndarray) -> int | None:
    """The common block size when ``y`` is 0, 0, ..., 1, 1, ... in equal blocks, else None."""
    counts = np.bincount(y) if y.min() >= 0 else None
    if counts is None or counts[0] == 0 or not np.all(counts == counts[0]):
        return None
    b = int(counts[0])
    return b if np.array_equal(y, np.repeat(np.arange(counts.size), b)) else None


def _get_score(scores: Mapping[str, Any], name: str, key: str, n: int) -> Any:
    if not isinstance(scores, Mapping):
        raise YocoError(
            f"scores must be a mapping of score name -> array (see yoco.scores.score_table), "
            f"got {type(scores).__name__}."
        )
    if name not in scores:
        raise YocoError(f"pruning key {key!r} needs scores[{name!r}], which is missing; {_HOW_TO[name]}.")
    value = scores[name]
    rows = value.shape[0] if hasattr(value, "shape") else len(value)
    if rows != n:
        raise YocoError(f"scores[{name!r}] has {rows} rows but the decoded set has {n} samples.")
    return value


def select(
    key: str,
    scores: Mapping[str, Any],
    labels: Any,
    ipc_from: int,
    ipc_to: int,
    factor: int,
    seed: int = 0,
    dataset: str | None = None,
    *,
    ties: str = "reference",
    ccs_random_within: bool = False,
    ccs_ratio: float | None = None,
    device: str | torch.device | None = None,
) -> np.ndarray:
    """Apply a pruning key to a decoded condensed set.

    Parameters
    ----------
    key : str
        A paper pruning key (:func:`parse_key`), e.g. ``"yoco"``, ``"el2n_easy"``, ``"random_balance"``.
    scores : mapping
        As returned by :func:`yoco.scores.score_table`, plus ``'entropy'`` [N] and ``'features'`` [N, D]
        when those keys are used.
    labels : array [N]
        Class-major labels of the decoded set (``C`` blocks of ``IPC_F·f²``).
    ipc_from, ipc_to : int
        IPC_F and IPC_T (``ipc_to <= ipc_from``).
    factor : int
        Multi-formation factor f.
    seed : int
        Seed of ``random`` (``numpy.random.default_rng``) and of the ``ssp`` k-means.
    dataset : str, optional
        ``cifar10``, ``cifar100`` or ``imagenet10``; required by ``ccs`` (cut-off table).
    ties : {"reference", "index", "random"}
        Tie-breaking of score-based keys (see :func:`select_by_score`; ``random`` draws from ``seed``).
    ccs_random_within : bool
        CCS only: sample at random within each stratum (the original CCS) instead of the reference's
        deterministic hardest-first (reference-spec §3.8 step 4).
    ccs_ratio : float, optional
        CCS only: the hard cut-off ratio, for cells outside the reference's table (default: the table).
    device : optional
        Where ``ssp`` runs k-means.

    Returns
    -------
    np.ndarray int64
        Sorted indices into the decoded set. ``ssp`` may repeat an index (kept as in the reference);
        ``ccs`` may return fewer than ``C·IPC_T·f²``.
    """
    rule = parse_key(key)
    ipc_from = _positive_int(ipc_from, "ipc_from")
    ipc_to = _positive_int(ipc_to, "ipc_to")
    factor = _positive_int(factor, "factor")
    seed = seeding.check_seed(seed, "seed")
    if ipc_to > ipc_from:
        raise YocoError(f"ipc_to ({ipc_to}) must not exceed ipc_from ({ipc_from}): pruning only shrinks.")
    C, block = _class_blocks(labels, ipc_from, factor)
    N = C * block
    per_class = ipc_to * factor * factor
    # int(IPC_T/IPC_F · N_F) in the reference; written exactly to avoid float rounding.
    total = C * per_class
    n_keep = per_class if rule.balance == "class" else total

    if rule.method == "score":
        values = _get_score(scores, rule.score, key, N)
        return select_by_score(values, n_keep, rule.order, rule.balance, blocks=C, ties=ties, seed=seed)

    if rule.method == "random":
        rng = np.random.default_rng(int(seed))
        if rule.balance == "global":
            return np.sort(rng.choice(N, size=total, replace=False)).astype(np.int64)
        picks = [c * block + rng.choice(block, size=per_class, replace=False) for c in range(C)]
        return np.sort(np.concatenate(picks)).astype(np.int64)

    if rule.method == "ssp":
        feats = _get_score(scores, "features", key, N)
        if rule.balance == "global":
            km = _scores.kmeans(feats, total, seed=seeding.seed_from("ssp", seed), device=device)
            return np.sort(_scores.nearest_to_centroids(feats, km.centroids, device=device))
        picks = []
        for c in range(C):
            part = feats[c * block : (c + 1) * block]
            km = _scores.kmeans(part, per_class, seed=seeding.seed_from("ssp", seed, c), device=device)
            picks.append(c * block + _scores.nearest_to_centroids(part, km.centroids, device=device))
        return np.sort(np.concatenate(picks)).astype(np.int64)

    # ccs
    if ccs_ratio is not None:
        ratio = float(ccs_ratio)
    elif dataset is None:
        raise YocoError(
            "pruning key 'ccs' needs dataset= (cifar10, cifar100 or imagenet10) to look up its "
            "hard cut-off ratio, or ccs_ratio= for another dataset."
        )
    else:
        ratio = _scores.ccs_cutoff(dataset, ipc_from, ipc_to)
    el2n = _get_score(scores, "el2n", key, N)
    return _scores.ccs_select(el2n, total, ratio, random_within=ccs_random_within, seed=seed)


# --------------------------------------------------------------------------- figure helpers
def keep_fraction(
    scores: Any,
    labels: Any,
    fraction: float,
    order: str,
    balance: str = "class",
    *,
    ties: str = "reference",
    seed: int = 0,
) -> np.ndarray:
    """Keep a fraction of the samples by score (Fig. 3: easy-first vs hard-first at each ratio).

    Classes are found from the label values (not contiguous blocks), so this also works on a real
    training set such as full CIFAR-10. With ``balance="class"`` each class keeps
    ``round(n_c·fraction)`` samples; with ``"global"`` the set keeps ``round(N·fraction)``. Rounding is
    half-up.

    Returns
    -------
    np.ndarray int64
        Sorted indices.
    """
    s = _as_score_array(scores)
    y = labels.detach().cpu().numpy() if isinstance(labels, torch.Tensor) else np.asarray(labels)
    if y.shape != s.shape:
        raise YocoError(f"labels have shape {y.shape} but scores have {s.shape}.")
    fraction = float(fraction)
    if not 0.0 < fraction <= 1.0:
        raise YocoError(f"fraction must lie in (0, 1], got {fraction}.")

    def _n(count: int) -> int:
        return int(np.floor(count * fraction + 0.5))

    if balance == "global":
        return select_by_score(s, _n(s.size), order, "global", ties=ties, seed=seed)
    if balance != "class":
        raise YocoError(f"balance must be one of {BALANCES}, got {balance!r}.")
    out = []
    for c in np.unique(y):
        members = np.flatnonzero(y == c)
        out.append(
            members[
                select_by_score(
                    s[members], _n(members.size), order, "global", ties=ties, seed=seeding.seed_from(seed, int(c))
                )
            ]
        )
    return np.sort(np.concatenate(out)).astype(np.int64)


def select_single_epoch(
    dyn: Dynamics, epoch: int, ipc_from: int, ipc_to: int, factor: int, *, ties: str = "reference", seed: int = 0
) -> np.ndarray:
    """Balanced easy-first selection by one epoch's error norm ``LBPE_t`` alone (Fig. 5).

    Keeps the ``IPC_T·f²`` patches of every class with the lowest ``err_l2[epoch]``.
    """
    if not isinstance(dyn, Dynamics):
        raise YocoError(f"expected a yoco.dynamics.Dynamics, got {type(dyn).__name__}.")
    if not 0 <= int(epoch) < dyn.num_epochs:
        raise YocoError(f"epoch {epoch} is outside the recorded epochs 0..{dyn.num_epochs - 1}.")
    ipc_from = _positive_int(ipc_from, "ipc_from")
    ipc_to = _positive_int(ipc_to, "ipc_to")
    factor = _positive_int(factor, "factor")
    if ipc_to > ipc_from:
        raise YocoError(f"ipc_to ({ipc_to}) must not exceed ipc_from ({ipc_from}).")
    C, _ = _class_blocks(dyn.labels, ipc_from, factor)
    return select_by_score(
        dyn.err_l2[int(epoch)], ipc_to * factor * factor, "easy", "class", blocks=C, ties=ties, seed=seed
    )


# --------------------------------------------------------------------------- selection files
#: Fields every record of a selection file holds (``yoco select`` writes them), and those it may hold.
SELECTION_FIELDS = ("key", "rep", "indices", "dataset", "condenser", "ipc_from", "ipc_to", "factor", "seed")
OPTIONAL_SELECTION_FIELDS = ("n_selected", "class_counts", "identity", "tie_decided", "tie_breaking")


def read_selections(paths, decoded=None, decoded_name: str | None = None) -> list[dict]:
    """The records of selection files written by ``yoco select``, each checked before anything trains on it.

    The one reader of selection files (``yoco evaluate``, ``yoco figure-data``): a hand-edited record is
    refused, naming the file, the record and the fix, when a field is unknown or missing, the key is no
    pruning key, a number is not a whole number (``rep``, ``ipc_from``, ``ipc_to``, ``factor``, ``seed``),
    an index repeats (only SSP's nearest-to-centroid picks may repeat one), or the counts disagree: the
    indices against ``n_selected`` and ``class_counts``, and against the ``C·IPC_T·f²`` a key keeps
    (``IPC_T·f²`` in every class for balanced keys; CCS may keep fewer). The same selection (cell, key,
    rep) twice, from one file or two, is refused too. With ``decoded`` (a decoded ``CondensedSet``), every
    record must index that set (:func:`yoco.artefacts.check_belong`).
    """
    import json
    from pathlib import Path

    from .artefacts import decoded_identity
    from .io import require_file

    reference = decoded_identity(decoded) if decoded is not None else None
    records, names = [], []
    for p in paths:
        require_file(p, "selection file", "make it with `yoco select`")
        try:
            data = json.loads(Path(p).read_text())
        except json.JSONDecodeError as exc:
            raise YocoError(
                f"selection file {p} is not valid JSON (line {exc.lineno}, column {exc.colno}: "
                f"{exc.msg}); write it again with `yoco select`"
            ) from None
        except (UnicodeDecodeError, OSError) as exc:
            raise YocoError(
                f"selection file {p} cannot be read as text ({exc}); pass the JSON written by `yoco select`"
            ) from None
        data = [data] if isinstance(data, dict) else data
        if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
            raise YocoError(
                f"selection file {p} holds no list of selection records; pass the JSON written by `yoco select`"
            )
        for i, rec in enumerate(data):
            where = f"selection file {p} (record {i + 1})"
            _check_record(rec, where, reference, decoded_name)
            records.append(rec)
            names.append(where)
    _refuse_repeated(
        [(r["dataset"], r["condenser"], r["ipc_from"], r["factor"], r["ipc_to"], r["key"], r["rep"]) for r in records],
        names,
    )
    return records


def _refuse_repeated(cells: list, names: list[str]) -> None:
    """The same selection (cell, key, rep) twice would be trained and recorded twice."""
    seen: dict = {}
    for cell, name in zip(cells, names):
        if cell in seen:
            ds, ck, ipcf, _, ipct, key, rep = cell
            raise YocoError(
                f"{name} repeats the selection {key} rep {rep} ({ds}/{ck} IPC {ipcf}->{ipct}) of {seen[cell]}, "
                "which would train and record it twice; pass each selection file once"
            )
        seen[cell] = name


def _whole(rec: dict, field: str, low: int, where: str) -> int:
    value = rec[field]
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise YocoError(f"{where}: {field} {value!r} is not a whole number >= {low}; write it again with `yoco select`")
    return value


def _check_record(rec: dict, where: str, reference: dict | None, decoded_name: str | None) -> None:
    from .artefacts import check_belong

    unknown = [f for f in rec if f not in SELECTION_FIELDS + OPTIONAL_SELECTION_FIELDS]
    if unknown:
        guess = closest(unknown[0], SELECTION_FIELDS + OPTIONAL_SELECTION_FIELDS)
        hint = f" (did you mean {guess!r}?)" if guess else ""
        raise YocoError(
            f"{where} has the unknown field {unknown[0]!r}{hint}; a selection record holds "
            f"{', '.join(SELECTION_FIELDS)} (and {', '.join(OPTIONAL_SELECTION_FIELDS)}): write it again with "
            "`yoco select`"
        )
    missing = [f for f in SELECTION_FIELDS if f not in rec]
    if missing:
        raise YocoError(f"{where} lacks {', '.join(missing)}; write it again with `yoco select`")
    try:
        rule = parse_key(rec["key"])
    except YocoError as err:
        raise YocoError(f"{where}: {err}") from None
    rep, ipc_from, ipc_to, factor = (_whole(rec, f, 1, where) for f in ("rep", "ipc_from", "ipc_to", "factor"))
    _whole(rec, "seed", 0, where)
    if ipc_to > ipc_from:
        raise YocoError(f"{where}: ipc_to {ipc_to} exceeds ipc_from {ipc_from}; write it again with `yoco select`")
    idx = rec["indices"]
    if not isinstance(idx, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in idx):
        raise YocoError(f"{where}: indices must be a list of whole numbers; write it again with `yoco select`")
    key = rec["key"]
    if not idx:
        raise YocoError(f"{where} ({key}) selects nothing; a selection must keep at least one sample")
    if min(idx) < 0:
        raise YocoError(
            f"{where} ({key}) holds the negative index {min(idx)}; indices count decoded "
            "samples from 0: write it again with `yoco select`"
        )
    if reference is not None:
        identity = rec.get("identity") or {k: rec[k] for k in ("dataset", "condenser", "ipc_from", "factor")}
        check_belong(
            reference,
            identity,
            f"--decoded {decoded_name}",
            where,
            f"select from this set (yoco select --decoded {decoded_name})",
        )
    identity = rec.get("identity") if isinstance(rec.get("identity"), Mapping) else {}
    n = reference["n_decoded"] if reference is not None else identity.get("n_decoded")
    if n is not None and max(idx) >= n:
        named = f"--decoded {decoded_name}" if reference is not None else "the decoded set it records"
        raise YocoError(
            f"{where} ({key}) holds index {max(idx)}, but {named} has only {n} samples (0..{n - 1}); "
            "select from this set"
        )
    if rule.method != "ssp" and len(set(idx)) != len(idx):
        twice = next(v for v in idx if idx.count(v) > 1)
        raise YocoError(
            f"{where} ({key}) selects index {twice} more than once; only SSP may repeat a patch: write it "
            "again with `yoco select`"
        )
    _check_counts(rec, rule, idx, n, ipc_from, ipc_to, factor, where)


def _check_counts(rec, rule, idx, n, ipc_from, ipc_to, factor, where) -> None:
    """The indices against the counts the record states and the counts its key keeps."""
    fix = "write it again with `yoco select`"
    key = rec["key"]
    if "n_selected" in rec and rec["n_selected"] != len(idx):
        raise YocoError(f"{where} ({key}): n_selected {rec['n_selected']!r} but {len(idx)} indices; {fix}")
    block, per_class = ipc_from * factor * factor, ipc_to * factor * factor
    classes = n // block if n is not None and n % block == 0 else None
    counts = rec.get("class_counts")
    if counts is not None:
        if not isinstance(counts, list) or not all(isinstance(c, int) and not isinstance(c, bool) for c in counts):
            raise YocoError(f"{where} ({key}): class_counts must be a list of whole numbers; {fix}")
        classes = classes or len(counts)
        found = np.bincount(np.asarray(idx) // block, minlength=classes).tolist()
        if found != counts:
            raise YocoError(
                f"{where} ({key}): class_counts {counts} but the indices select {found} per class "
                f"(blocks of IPC_F·f² = {block}); {fix}"
            )
    if classes is None:
        return
    total = classes * per_class
    if rule.method == "ccs":
        if len(idx) > total:
            raise YocoError(
                f"{where} ({key}) keeps {len(idx)} patches, more than C·IPC_T·f² = {classes}·{ipc_to}·{factor}² = "
                f"{total}; {fix}"
            )
        return
    if len(idx) != total:
        raise YocoError(
            f"{where} ({key}) keeps {len(idx)} patches, but IPC {ipc_from}->{ipc_to} keeps C·IPC_T·f² = "
            f"{classes}·{ipc_to}·{factor}² = {total}; {fix}"
        )
    if rule.balance == "class":
        found = np.bincount(np.asarray(idx) // block, minlength=classes)
        if not np.all(found == per_class):
            c = int(np.flatnonzero(found != per_class)[0])
            raise YocoError(
                f"{where} ({key}) is a balanced key but keeps {int(found[c])} patches of class {c}, not "
                f"IPC_T·f² = {per_class}; {fix}"
            )
