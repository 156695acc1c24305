"""Importance scores of decoded training samples (reference-spec §3.1–3.8).

Every score is a pure function of a :class:`~yoco.dynamics.Dynamics` (or of the final model's outputs),
indexed by decoded sample, and returned as a numpy array ``[N]``. :func:`score_table` computes the
dynamics-based ones at once; :data:`SCORES` lists every score with what it needs (paper Table 6).

Fidelity notes (reference-spec §8 items 11–17):

* LBPE uses softmax probabilities and the L2 norm of the error vector (it is EL2N evaluated at other
  epochs), summed over the top-K epochs by *training-batch* accuracy among the first E.
* EL2N is the sum of the first 10 epochs of the same single run.
* Forgetting and AUM read all recorded epochs; AUM is on probabilities, summed.
* CCS keeps the hardest members of each stratum deterministically (the reference default).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import torch

from . import seeding
from .dynamics import Dynamics
from .errors import YocoError, unknown_choice
from .score_info import SCORES, ScoreInfo, table6_rows

__all__ = [
    "LBPE_SETTINGS",
    "DSA_SCORE_SCRIPT_EPOCHS",
    "lbpe_setting",
    "lbpe_per_epoch",
    "EPOCH_TIES",
    "top_k_epochs",
    "lbpe",
    "el2n",
    "forgetting",
    "accumulated_margin",
    "entropy",
    "KMeansResult",
    "kmeans",
    "nearest_to_centroids",
    "score_table",
    "ScoreInfo",
    "SCORES",
    "table6_rows",
    "CCS_CUTOFF",
    "ccs_cutoff",
    "stratified_sampling",
    "ccs_select",
]

# --------------------------------------------------------------------------- LBPE settings (§3 table)
#: (condenser, dataset) -> (E, K): LBPE is summed over the K epochs with the highest training accuracy
#: among epochs 0..E-1 (``generate_importance_score.py`` L74-129, ``argument.py`` L303-358).
#: DSA: the evaluation reads ``...-ep10.pickle`` (E = 10, used here) while the score script writes
#: ``stop_epoch = 100``; which one produced the published numbers is unknown (reference-spec §8 item 2).
#: ``lbpe_setting("dsa", "cifar10", dsa_epochs=DSA_SCORE_SCRIPT_EPOCHS)`` selects the other reading.
LBPE_SETTINGS: dict[tuple[str, str], tuple[int, int]] = {
    ("idc", "cifar10"): (100, 10),
    ("idc", "cifar100"): (200, 10),
    ("idc", "imagenet10"): (200, 10),
    ("dream", "cifar10"): (200, 10),
    ("mtt", "cifar10"): (10, 3),
    ("dsa", "cifar10"): (10, 3),
    ("kip", "cifar10"): (50, 3),
}
#: E written by the reference score script for DSA (the switch value of the DSA mismatch).
DSA_SCORE_SCRIPT_EPOCHS = 100


def lbpe_setting(condenser: str, dataset: str, *, dsa_epochs: int = 10) -> tuple[int, int]:
    """``(E, K)`` of :data:`LBPE_SETTINGS` for a condensed set.

    Parameters
    ----------
    condenser, dataset : str
        e.g. ``"idc"``, ``"cifar10"``.
    dsa_epochs : {10, 100}
        E for DSA: 10 is what the reference evaluation reads, 100 what its score script wrote.
    """
    key = (str(condenser).lower(), str(dataset).lower())
    if key not in LBPE_SETTINGS:
        raise unknown_choice("LBPE setting (condenser/dataset)", "/".join(key), ["/".join(k) for k in LBPE_SETTINGS])
    E, K = LBPE_SETTINGS[key]
    if key[0] == "dsa":
        if dsa_epochs not in (10, DSA_SCORE_SCRIPT_EPOCHS):
            raise YocoError(
                f"dsa_epochs must be 10 (reference evaluation) or {DSA_SCORE_SCRIPT_EPOCHS} "
                f"(reference score script), got {dsa_epochs}."
            )
        E = int(dsa_epochs)
    return E, K


# --------------------------------------------------------------------------- dynamics-based scores
def _check_dynamics(dyn: Any) -> Dynamics:
    if not isinstance(dyn, Dynamics):
        raise YocoError(
            f"expected a yoco.dynamics.Dynamics, got {type(dyn).__name__}; build one with "
            "Dynamics.from_probs / Dynamics.load."
        )
    return dyn


def lbpe_per_epoch(dyn: Dynamics) -> np.ndarray:
    """float64 [E, N]: ``LBPE_t(i) = ‖onehot(y_i) − p_t(i)‖₂`` for every recorded epoch (§3.1).

    Every row is a single-epoch score (Fig. 5, Fig. 7).
    """
    return _check_dynamics(dyn).err_l2.astype(np.float64)


def lbpe_defaults(available: int, lbpe_epochs: int | None = None, lbpe_top_k: int | None = None) -> tuple[int, int]:
    """LBPE's E and K where not given, following the run's length: E = min(100, available), K = min(10, E)
    (the IDC CIFAR-10 setting on a 1000-epoch run). Shared by ``yoco.prune`` and ``yoco prune``."""
    if lbpe_epochs is None:
        lbpe_epochs = min(100, available)
    if lbpe_top_k is None:
        lbpe_top_k = min(10, lbpe_epochs)
    return lbpe_epochs, lbpe_top_k


def check_lbpe(
    lbpe_epochs: int,
    lbpe_top_k: int,
    available: int | None = None,
    epochs_name: str = "lbpe_epochs",
    top_k_name: str = "lbpe_top_k",
    source: str = "the dynamics",
) -> None:
    """LBPE's E and K against each other and against the epochs the dynamics ran (``available``).

    Shared by ``yoco scores``, ``yoco prune`` and ``yoco.prune``, which name them as flags (``--lbpe-top-k
    3``) or as keywords (``lbpe_top_k=3``)."""

    def show(name: str, value: int) -> str:
        return f"{name} {value}" if name.startswith("--") else f"{name}={value}"

    if lbpe_top_k > lbpe_epochs:
        raise YocoError(
            f"{show(top_k_name, lbpe_top_k)} exceeds {show(epochs_name, lbpe_epochs)}; LBPE sums the top K of "
            f"the first E epochs, so K <= E: lower {top_k_name} or raise {epochs_name}"
        )
    if available is not None and lbpe_epochs > available:
        raise YocoError(
            f"{show(epochs_name, lbpe_epochs)} but {source} recorded only {available} epochs; lower "
            f"{epochs_name} or record longer dynamics"
        )


def _check_epochs(dyn: Dynamics, epochs: int, k: int) -> tuple[int, int]:
    epochs, k = int(epochs), int(k)
    if not 1 <= epochs <= dyn.num_epochs:
        raise YocoError(
            f"LBPE epochs E={epochs} must lie in [1, {dyn.num_epochs}] (the recorded epochs); "
            "record more epochs or lower E."
        )
    if not 1 <= k <= epochs:
        raise YocoError(f"top-K K={k} must lie in [1, E={epochs}].")
    return epochs, k


#: How the K best epochs are chosen among epochs of equal training accuracy (docs/deviations.md, "Ties").
EPOCH_TIES = ("latest", "earliest", "torch")


def _top_k(values: np.ndarray, k: int, ties: str = "latest") -> np.ndarray:
    """Indices of the k largest values, best first; ``ties`` orders equal values.

    "latest": the paper's Algorithm 1, ``argsort(ACC)[-k:]`` with a stable ascending sort, so among equal
    values the later epochs are kept. "earliest": the lower index first. "torch": ``torch.topk`` as the
    reference code calls it, whose order among ties PyTorch leaves undefined.
    """
    if ties not in EPOCH_TIES:
        raise unknown_choice("epoch tie rule", ties, EPOCH_TIES)
    v = values.astype(np.float64)
    idx = np.arange(v.shape[0])
    if ties == "torch":
        return torch.topk(torch.from_numpy(v), k).indices.numpy().astype(np.int64)
    if ties == "latest":
        return np.lexsort((idx, v))[::-1][:k].astype(np.int64)
    return np.lexsort((idx, -v))[:k].astype(np.int64)


def top_k_epochs(dyn: Dynamics, epochs: int, k: int, *, ties: str = "latest") -> np.ndarray:
    """The K epochs with the highest training accuracy among epochs ``0 … epochs−1``.

    Accuracy is ``dyn.epoch_correct`` (augmented training batches before each update, §3.1), which on
    a few hundred samples takes few distinct values, so ties between epochs are common.

    Returns
    -------
    np.ndarray int64 [K]
        Epoch indices, best first. Among equal accuracies ``ties`` decides (:func:`_top_k`); the
        default "latest" is the paper's Algorithm 1, because the reference's ``torch.topk`` does not
        define an order.
    """
    dyn = _check_dynamics(dyn)
    epochs, k = _check_epochs(dyn, epochs, k)
    return _top_k(dyn.epoch_correct[:epochs], k, ties)


def lbpe(
    dyn: Dynamics,
    epochs: int,
    top_k: int,
    *,
    reduce: str = "sum",
    epoch_selection: str = "accuracy",
    epoch_ties: str = "latest",
) -> np.ndarray:
    """LBPE score (key ``yoco``): the error norm over the top-K epochs (§3.1).

    Parameters
    ----------
    dyn : Dynamics
    epochs : int
        E: candidate epochs are ``0 … E−1``.
    top_k : int
        K.
    reduce : {"sum", "mean"}
        The reference sums (``"sum"``); the mean gives the identical ranking.
    epoch_selection : {"accuracy", "loss"}
        ``"accuracy"`` (the paper and the reference default): the K epochs with the highest training
        accuracy. ``"loss"``: the reference's unused ``--use-loss`` variant, the K epochs with the lowest
        mean cross-entropy (needs ``dyn.loss``).
    epoch_ties : {"latest", "earliest", "torch"}
        Which epochs win among equal accuracies (:func:`top_k_epochs`).

    Returns
    -------
    np.ndarray float64 [N]
        Low = easy; YOCO keeps the lowest.
    """
    dyn = _check_dynamics(dyn)
    epochs, top_k = _check_epochs(dyn, epochs, top_k)
    if epoch_selection == "accuracy":
        chosen = _top_k(dyn.epoch_correct[:epochs], top_k, epoch_ties)
    elif epoch_selection == "loss":
        if dyn.loss is None:
            raise YocoError(
                "epoch_selection='loss' needs per-sample losses (Dynamics.loss); record them "
                "in the trainer or build the dynamics with Dynamics.from_probs."
            )
        mean_loss = dyn.loss[:epochs].astype(np.float64).mean(axis=1)
        chosen = _top_k(-mean_loss, top_k, epoch_ties)
    else:
        raise unknown_choice("epoch selection", epoch_selection, ["accuracy", "loss"])
    total = dyn.err_l2[chosen].astype(np.float64).sum(axis=0)
    if reduce == "sum":
        return total
    if reduce == "mean":
        return total / top_k
    raise unknown_choice("reduction", reduce, ["sum", "mean"])


def el2n(dyn: Dynamics, epochs: int = 10) -> np.ndarray:
    """EL2N (§3.2): sum of the error norm over epochs ``0 … 9`` of the same single run.

    Unlike the original EL2N there is no averaging over initialisations. When fewer than ``epochs``
    epochs were recorded (tiny CPU configurations) all recorded epochs are used. High = hard.
    """
    dyn = _check_dynamics(dyn)
    if int(epochs) < 1:
        raise YocoError(f"EL2N epochs must be at least 1, got {epochs}.")
    return dyn.err_l2[: int(epochs)].astype(np.float64).sum(axis=0)


def forgetting(dyn: Dynamics) -> np.ndarray:
    """Forgetting events (§3.3): correct→wrong transitions of each sample over all recorded epochs.

    The previous-correctness state starts at 0 (wrong), so epoch 0 never counts. This is per-sample
    correctness, not the paper's "mini-batch accuracy" wording. Returns int64 [N]; high = hard.
    """
    c = _check_dynamics(dyn).correct
    if c.shape[0] < 2:
        return np.zeros(c.shape[1], dtype=np.int64)
    return np.logical_and(c[:-1], ~c[1:]).sum(axis=0, dtype=np.int64)


def accumulated_margin(dyn: Dynamics) -> np.ndarray:
    """AUM (§3.4): sum over all recorded epochs of ``p_y − max_{k≠y} p_k`` (probabilities, summed).

    Low = hard. Returns float64 [N].
    """
    return _check_dynamics(dyn).margin.astype(np.float64).sum(axis=0)


def entropy(probs: Any) -> np.ndarray:
    """Prediction entropy (§3.5): ``−Σ_k p_k log(p_k + 1e−10)``.

    Parameters
    ----------
    probs : array or tensor [N, C]
        Softmax outputs of the final (epoch-1000) model over the decoded set, eval mode.

    Returns
    -------
    np.ndarray float64 [N]
        High = uncertain (hard); the reference keeps the highest.
    """
    p = probs.detach().cpu().numpy() if isinstance(probs, torch.Tensor) else np.asarray(probs)
    if p.ndim != 2:
        raise YocoError(f"entropy expects softmax probabilities [samples, classes], got shape {p.shape}.")
    p = p.astype(np.float64)
    if not np.all(np.isfinite(p)) or np.any(p < -1e-6) or np.any(np.abs(p.sum(axis=1) - 1) > 1e-2):
        raise YocoError(
            "entropy expects probabilities (non-negative rows summing to 1): pass "
            "torch.softmax(logits, dim=-1), not logits."
        )
    return -(p * np.log(p + 1e-10)).sum(axis=1)


# --------------------------------------------------------------------------- k-means (SSP, §3.6)
class KMeansResult(NamedTuple):
    """Outcome of :func:`kmeans`."""

    centroids: np.ndarray  #: [K, D] final centroids (zero vector for a cluster that ended empty)
    labels: np.ndarray  #: int64 [N] assignment of the last iteration (as ``fit_predict`` returns)
    n_iter: int  #: Lloyd iterations run


_CHUNK = 4096


def _sq_dist_argmin(x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """Index of the nearest row of ``c`` for every row of ``x`` (squared Euclidean, first on ties)."""
    c_sq = (c * c).sum(dim=1)
    out = []
    for start in range(0, x.shape[0], _CHUNK):
        xb = x[start : start + _CHUNK]
        # ||x||^2 is constant per row, so it does not change the argmin; kept for readable distances.
        d = (xb * xb).sum(dim=1, keepdim=True) - 2.0 * (xb @ c.T) + c_sq[None, :]
        out.append(d.argmin(dim=1))
    return torch.cat(out)


def _to_feature_tensor(features: Any, device: str | torch.device | None) -> torch.Tensor:
    x = features if isinstance(features, torch.Tensor) else torch.as_tensor(np.asarray(features))
    if x.ndim != 2:
        raise YocoError(f"features must be [samples, dims], got shape {tuple(x.shape)}.")
    if not torch.is_floating_point(x) or x.dtype in (torch.float16, torch.bfloat16):
        x = x.to(torch.float32)
    if device is not None:
        x = x.to(device)
    if not bool(torch.isfinite(x).all()):
        raise YocoError("features contain NaN or inf.")
    return x


def kmeans(
    features: Any,
    n_clusters: int,
    seed: int,
    max_iter: int = 100,
    tol: float = 1e-4,
    *,
    device: str | torch.device | None = None,
) -> KMeansResult:
    """Lloyd k-means reproducing ``fast_pytorch_kmeans.KMeans(n_clusters, mode='euclidean')`` defaults.

    * Initial centroids: ``n_clusters`` data points drawn uniformly **with replacement**, namely
      ``features[torch.randint(N, (n_clusters,), generator=seeding.generator(seed))]`` (the CPU
      generator, so the draw is the same on every device). The reference was unseeded.
    * Each iteration assigns every point to its nearest centroid, recomputes each centroid as the mean of
      its points (an empty cluster's centroid becomes the **zero vector**, the library's NaN→0), and stops
      once the summed squared centroid shift is ≤ ``tol`` or after ``max_iter`` iterations.

    Parameters
    ----------
    features : array or tensor [N, D]
    n_clusters : int
        1 ≤ n_clusters ≤ N.
    seed : int
    max_iter, tol : library defaults 100 and 1e-4.
    device : optional
        Where to compute; defaults to the device of ``features`` (CPU for numpy input).

    Returns
    -------
    KMeansResult
        ``centroids`` [K, D] and the last iteration's ``labels`` [N] (computed before the final update,
        as ``fit_predict`` returns them), as numpy arrays, and ``n_iter``.
    """
    x = _to_feature_tensor(features, device)
    n, k = x.shape[0], int(n_clusters)
    if not 1 <= k <= n:
        raise YocoError(f"n_clusters must lie in [1, {n}] (the number of samples), got {n_clusters}.")
    if int(max_iter) < 1:
        raise YocoError(f"max_iter must be at least 1, got {max_iter}.")
    init = torch.randint(n, (k,), generator=seeding.generator(int(seed)))
    centroids = x[init.to(x.device)].clone()
    closest = torch.zeros(n, dtype=torch.int64, device=x.device)
    it = 0
    for it in range(1, int(max_iter) + 1):
        closest = _sq_dist_argmin(x, centroids)
        # One-hot matmul rather than index_add_: deterministic on CUDA as well.
        sums = torch.zeros_like(centroids)
        counts = torch.zeros(k, dtype=x.dtype, device=x.device)
        for start in range(0, n, _CHUNK):
            onehot = torch.nn.functional.one_hot(closest[start : start + _CHUNK], k).to(x.dtype)
            sums += onehot.T @ x[start : start + _CHUNK]
            counts += onehot.sum(dim=0)
        new = torch.where(counts[:, None] > 0, sums / counts.clamp_min(1)[:, None], torch.zeros_like(sums))
        shift = float(((new - centroids) ** 2).sum())
        centroids = new
        if shift <= tol:
            break
    return KMeansResult(centroids.cpu().numpy(), closest.cpu().numpy().astype(np.int64), it)


def nearest_to_centroids(features: Any, centroids: Any, *, device: str | torch.device | None = None) -> np.ndarray:
    """For every centroid, the index of the nearest sample (squared Euclidean; first index on ties).

    Duplicates are kept, as in the reference: two centroids may share their nearest sample, so the
    result can hold fewer distinct indices than centroids. Returns int64 [K] in centroid order.
    """
    x = _to_feature_tensor(features, device)
    c = _to_feature_tensor(centroids, x.device).to(x.dtype)
    if c.shape[1] != x.shape[1]:
        raise YocoError(f"centroids have {c.shape[1]} dims but features have {x.shape[1]}.")
    return _sq_dist_argmin(c, x).cpu().numpy().astype(np.int64)


# --------------------------------------------------------------------------- table of scores
def score_table(
    dynamics: Dynamics, lbpe_epochs: int = 100, lbpe_top_k: int = 10, *, lbpe_epoch_ties: str = "latest"
) -> dict[str, np.ndarray]:
    """Every dynamics-based score of one run, keyed by score name.

    Parameters
    ----------
    dynamics : Dynamics
    lbpe_epochs, lbpe_top_k : int
        E and K of LBPE (see :data:`LBPE_SETTINGS`; defaults are IDC CIFAR-10's).
    lbpe_epoch_ties : {"latest", "earliest", "torch"}
        Which of equally accurate epochs LBPE sums (:func:`top_k_epochs`).

    Returns
    -------
    dict
        ``'lbpe'``, ``'el2n'``, ``'forgetting'``, ``'accumulated_margin'``: arrays [N]. Model-based
        scores (``'entropy'``, ``'features'``) are added by the caller from the final checkpoint.
    """
    dyn = _check_dynamics(dynamics)
    return {
        "lbpe": lbpe(dyn, lbpe_epochs, lbpe_top_k, epoch_ties=lbpe_epoch_ties),
        "el2n": el2n(dyn),
        "forgetting": forgetting(dyn),
        "accumulated_margin": accumulated_margin(dyn),
    }


# --------------------------------------------------------------------------- CCS (§3.8)
#: Hard cut-off ratio r per (dataset, IPC_F, IPC_T) (``argument.py`` L369-399); nothing else exists.
CCS_CUTOFF: dict[tuple[str, int, int], float] = {
    ("cifar10", 10, 1): 0.3,
    ("cifar10", 10, 2): 0.1,
    ("cifar10", 10, 5): 0.0,
    ("cifar10", 50, 1): 0.3,
    ("cifar10", 50, 2): 0.3,
    ("cifar10", 50, 5): 0.3,
    ("cifar10", 50, 10): 0.1,
    ("cifar100", 10, 1): 0.5,
    ("cifar100", 10, 2): 0.4,
    ("cifar100", 10, 5): 0.2,
    ("cifar100", 20, 1): 0.5,
    ("cifar100", 20, 2): 0.5,
    ("cifar100", 20, 5): 0.3,
    ("cifar100", 50, 1): 0.5,
    ("cifar100", 50, 2): 0.5,
    ("cifar100", 50, 5): 0.5,
    ("cifar100", 50, 10): 0.3,
    ("imagenet10", 10, 1): 0.3,
    ("imagenet10", 10, 2): 0.2,
    ("imagenet10", 10, 5): 0.1,
    ("imagenet10", 20, 1): 0.3,
    ("imagenet10", 20, 2): 0.3,
    ("imagenet10", 20, 5): 0.2,
}


def ccs_cutoff(dataset: str, ipc_from: int, ipc_to: int) -> float:
    """CCS hard cut-off ratio ``r`` for ``(dataset, IPC_F, IPC_T)``.

    The reference returns None (and then crashes) outside its table; here that is a YocoError that
    lists the supported cells.
    """
    key = (str(dataset).lower(), int(ipc_from), int(ipc_to))
    if key not in CCS_CUTOFF:
        cells = ", ".join(f"{d} {f}->{t}" for d, f, t in CCS_CUTOFF)
        raise YocoError(
            f"CCS has no hard cut-off ratio for {key[0]} IPC {key[1]}->{key[2]}; the reference "
            f"defines it only for: {cells}. Use another pruning key for this cell."
        )
    return CCS_CUTOFF[key]


def _descending(scores: np.ndarray) -> np.ndarray:
    """Indices by descending score; equal scores keep ascending index order.

    This is the stable model of the reference's ``torch.argsort(descending=True)``, which is itself not
    stable for 17 or more entries (docs/deviations.md, "Ties"): no index rule can match its order
    among ties, so we fix one that can be stated.
    """
    return np.lexsort((np.arange(scores.shape[0]), -scores))


def _as_scores(scores: Any, name: str = "scores") -> np.ndarray:
    s = scores.detach().cpu().numpy() if isinstance(scores, torch.Tensor) else np.asarray(scores)
    if s.ndim != 1:
        raise YocoError(f"{name} must be 1-D [samples], got shape {s.shape}.")
    s = s.astype(np.float64)
    if not np.all(np.isfinite(s)):
        raise YocoError(f"{name} contain NaN or inf.")
    return s


def stratified_sampling(
    scores: Any, budget: int, strata: int = 50, random_within: bool = False, seed: int = 0
) -> np.ndarray:
    """Coverage-centric stratified sampling (``CoresetSelection.stratified_sampling``, §3.8 steps 3–4).

    1. ``strata`` equal-width bins ``[min + k·step, min + (k+1)·step)`` with
       ``step = (max·1.0001 − min) / strata``.
    2. Budget allocation: visit the bins in ascending order of size (equal sizes: lower bin first; the
       reference's ``torch.argsort`` leaves that order unspecified) and give each
       ``min(size, ⌊remaining budget / remaining bins⌋)``.
    3. Within a bin: its first members in descending-score order, i.e. the hardest, deterministically
       (the reference default, ``strata_fixed_select = False``), or a seeded random subset when
       ``random_within`` is True (original CCS).

    Parameters
    ----------
    scores : array [N]
        Difficulty scores (EL2N for CCS).
    budget : int
        Number of samples requested.
    strata : int
    random_within : bool
    seed : int
        Seed of ``numpy.random.default_rng`` when ``random_within``.

    Returns
    -------
    np.ndarray int64
        Sorted indices into ``scores``. May hold fewer than ``budget`` (as the reference).
    """
    s = _as_scores(scores)
    budget, strata = int(budget), int(strata)
    if budget < 0:
        raise YocoError(f"budget must be non-negative, got {budget}.")
    if strata < 1:
        raise YocoError(f"strata must be at least 1, got {strata}.")
    if s.size == 0 or budget == 0:
        return np.zeros(0, dtype=np.int64)
    lo, mx = float(s.min()), float(s.max())
    hi = mx * 1.0001
    if mx <= 0:
        # EL2N is positive, so the reference never meets this; its max·1.0001 would then exclude the
        # maximum (or make every bin empty), so widen the range just enough to hold every score.
        hi = mx + max(abs(mx), mx - lo, 1.0) * 1e-4
    step = (hi - lo) / strata
    members = []
    for k in range(strata):
        start, end = lo + k * step, lo + (k + 1) * step
        members.append(np.flatnonzero((s >= start) & (s < end)))
    sizes = np.array([m.size for m in members], dtype=np.int64)
    alloc = np.zeros(strata, dtype=np.int64)
    remaining = budget
    for i, b in enumerate(np.argsort(sizes, kind="stable")):
        take = min(int(sizes[b]), remaining // (strata - i))
        alloc[b] = take
        remaining -= take
    rng = np.random.default_rng(int(seed)) if random_within else None
    chosen = []
    for b in range(strata):
        pool = members[b]
        if alloc[b] == 0:
            continue
        if rng is not None:
            chosen.append(rng.permutation(pool)[: alloc[b]])
        else:
            chosen.append(pool[_descending(s[pool])][: alloc[b]])
    if not chosen:
        return np.zeros(0, dtype=np.int64)
    return np.sort(np.concatenate(chosen)).astype(np.int64)


def ccs_select(
    el2n_scores: Any, n_total: int, ratio: float, *, strata: int = 50, random_within: bool = False, seed: int = 0
) -> np.ndarray:
    """CCS selection (§3.8): drop the ``int(ratio·N)`` hardest, then stratified sampling of ``n_total``.

    Parameters
    ----------
    el2n_scores : array [N]
        EL2N scores of the decoded set (high = hard).
    n_total : int
        Budget ``int(IPC_T/IPC_F · N_F)``.
    ratio : float
        Hard cut-off ratio r (:func:`ccs_cutoff`).
    strata, random_within, seed
        See :func:`stratified_sampling`.

    Returns
    -------
    np.ndarray int64
        Sorted indices into the decoded set; may hold fewer than ``n_total`` (as the reference).
    """
    s = _as_scores(el2n_scores, "el2n_scores")
    if not 0.0 <= float(ratio) < 1.0:
        raise YocoError(f"CCS cut-off ratio must lie in [0, 1), got {ratio}.")
    order = _descending(s)  # hardest first; equal scores: lower index counts as harder
    kept = order[int(float(ratio) * s.size) :]
    picked = stratified_sampling(s[kept], n_total, strata=strata, random_within=random_within, seed=seed)
    return np.sort(kept[picked]).astype(np.int64)
