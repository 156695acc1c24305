"""The stages between a condensed set and its scores, shared by the CLI, the workflow and ``yoco.prune``.

A decoded set is itself a valid condensed set with factor 1 and ``ipc = IPC_F·f²`` (its labels are still
class-major equal blocks), so it is stored as a :class:`~yoco.condensed.CondensedSet` whose provenance
remembers the geometry it was decoded from (needed to count ``IPC_T·f²`` patches per class).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import torch

from . import recipe
from . import scores as _scores
from .artefacts import check_real, decoded_identity, make_identity, tensor_sha256
from .augment import normalize
from .condensed import CondensedSet, training_tensor
from .data import RealData, to_tensor
from .dynamics import Dynamics
from .errors import YocoError
from .io import atomic_path
from .progress import Progress
from .seeding import seed_from
from .train import NetworkSpec, TrainConfig, train_models


def decode_set(cs: CondensedSet) -> CondensedSet:
    """Decode a condensed set once (reference-spec §1.3); the result indexes every score and selection."""
    cs.validate()
    images, labels = cs.decoded(), cs.decoded_labels()
    provenance = dict(cs.provenance)
    provenance["decoded_from"] = {"ipc": cs.ipc, "factor": cs.factor}
    # Every artefact made from this set carries this identity; commands compare them (yoco.artefacts).
    provenance["identity"] = make_identity(
        cs.dataset, cs.condenser, cs.ipc, cs.factor, len(labels), tensor_sha256(images, labels)
    )
    return CondensedSet(
        images=images,
        labels=labels,
        ipc=cs.ipc * cs.factor**2,
        factor=1,
        value_space=cs.value_space,
        dataset=cs.dataset,
        condenser=cs.condenser,
        provenance=provenance,
    ).validate()


def real_as_condensed(real: RealData, per_class: int | None = None) -> CondensedSet:
    """The real training set as a factor-1 "condensed" set, for Fig. 3's full-data curve.

    Selections count per class in equal class blocks, so every class keeps its first ``per_class``
    images in dataset order (default: as many as the smallest class has; CIFAR's classes are equal,
    digits' differ by a few images).
    """
    labels = np.asarray(real.y_train)
    counts = np.bincount(labels, minlength=real.num_classes)
    n = int(counts.min()) if per_class is None else int(per_class)
    if n < 1 or n > counts.min():
        raise YocoError(f"per_class must lie in [1, {int(counts.min())}] (the smallest class), got {n}")
    order = np.concatenate([np.flatnonzero(labels == c)[:n] for c in range(real.num_classes)])
    images = to_tensor(real.x_train[order])
    return CondensedSet(
        images=images,
        labels=torch.as_tensor(labels[order], dtype=torch.int64),
        ipc=n,
        factor=1,
        value_space="pixel01",
        dataset=real.name,
        condenser="full",
        provenance={"format": "real", "per_class": n},
    ).validate()


def source_geometry(decoded: CondensedSet) -> tuple[int, int]:
    """``(IPC_F, f)`` of the stored set a decoded set came from."""
    origin = decoded.provenance.get("decoded_from")
    if origin is None:
        raise YocoError(
            "this condensed set was not produced by `yoco decode`; decode it first "
            "(yoco decode --condensed FILE --out DECODED)"
        )
    return int(origin["ipc"]), int(origin["factor"])


def test_tensors(real: RealData, device: str | torch.device = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """The real test split, normalised with the dataset's statistics."""
    x = normalize(to_tensor(real.x_test), real.mean, real.std)
    return x.to(device), torch.as_tensor(real.y_test, dtype=torch.int64, device=device)


def training_pool(
    decoded: CondensedSet, real: RealData, double_normalize: bool = True
) -> tuple[torch.Tensor, torch.Tensor]:
    """The decoded patches as the networks see them (normalised; see ``training_tensor``) and their labels."""
    check_real(decoded, real, "the decoded set", "the real data")
    return training_tensor(decoded, real.mean, real.std, double_normalize=double_normalize), decoded.labels.clone()


def dynamics_config(epochs: int = recipe.EPOCHS, **overrides) -> TrainConfig:
    """The recipe of the dynamics runs (reference-spec §2): the evaluation recipe with a per-iteration schedule."""
    return TrainConfig(epochs=epochs, schedule="iteration", eval_points=1, **overrides)


def dynamics_seed(seed_prefix: str, rep: int) -> int:
    return seed_from("dynamics", seed_prefix, rep)


def train_dynamics(
    decoded: CondensedSet,
    real: RealData,
    spec: NetworkSpec,
    config: TrainConfig,
    reps=(1, 2, 3),
    seed_prefix: str = "",
    double_normalize: bool = True,
    device: str | torch.device = "cpu",
    progress: Progress | None = None,
) -> list[tuple[Dynamics, dict]]:
    """Train one network per rep on every decoded patch, recording per-epoch dynamics.

    Returns ``(Dynamics, final state_dict)`` per rep; the reps train together in one batch, reporting to
    ``progress`` (a :class:`yoco.progress.Progress`) when given.
    """
    pool_x, pool_y = training_pool(decoded, real, double_normalize)
    test_x, test_y = test_tensors(real) if len(real.y_test) else (None, None)
    everything = np.arange(pool_x.shape[0])
    seeds = [dynamics_seed(seed_prefix, r) for r in reps]
    results = train_models(
        spec,
        pool_x,
        pool_y,
        [everything] * len(seeds),
        seeds,
        config,
        test_x=test_x,
        test_y=test_y,
        device=device,
        record_dynamics=True,
        keep_state=True,
        progress=progress,
    )
    identity = decoded_identity(decoded)
    out = []
    for rep, seed, res in zip(reps, seeds, results):
        meta = {
            "rep": int(rep),
            "seed": int(seed),
            "epochs": config.epochs,
            "network": spec.name,
            "width": spec.width,
            "final_test_acc": res.last_acc,
            "dataset": decoded.dataset,
            "condenser": decoded.condenser,
            "wall_s": res.wall_s,
            "identity": identity,
        }
        dyn = Dynamics(
            err_l2=res.dynamics["err_l2"],
            correct=res.dynamics["correct"],
            margin=res.dynamics["margin"],
            labels=pool_y.numpy(),
            num_classes=decoded.num_classes,
            meta=meta,
        )
        out.append((dyn, res.state_dict))
    return out


def save_model(
    state_dict: dict, spec: NetworkSpec, path: str | os.PathLike, identity: dict | None = None, seed: int | None = None
) -> Path:
    """The final model of a dynamics run, with the identity of the decoded set it trained on and its seed."""
    with atomic_path(path) as tmp:
        torch.save(
            {"state_dict": state_dict, "spec": spec.__dict__, "identity": dict(identity or {}), "seed": seed}, tmp
        )
    return Path(path)


def read_model(path: str | os.PathLike, device: str | torch.device = "cpu") -> tuple[torch.nn.Module, dict]:
    """A model file written by :func:`save_model`: the network (eval mode) and what it records.

    The second value holds ``identity`` (of the decoded set it trained on), ``seed`` (of its
    dynamics run; both empty/None when the file predates them) and the ``NetworkSpec``.
    """
    from .condensed import _torch_load

    path = Path(path)
    fix = "pass the rep*.model.pt file written by `yoco dynamics`"
    if path.is_dir():
        raise YocoError(f"model file {path} is a folder; {fix}")
    if not path.is_file():
        raise YocoError(f"model file {path} does not exist; {fix}")
    blob = _torch_load(path, device, trusted=False, what="model", offer_trust=False)
    if (
        not isinstance(blob, dict)
        or not isinstance(blob.get("state_dict"), dict)
        or not isinstance(blob.get("spec"), dict)
    ):
        raise YocoError(f"{path} is not a model file written by `yoco dynamics` (no state_dict and spec); {fix}")
    try:
        spec = NetworkSpec(**blob["spec"])
        model = spec.build(0).to(device)
        model.load_state_dict(blob["state_dict"])
    except (TypeError, RuntimeError, KeyError) as exc:
        raise YocoError(
            f"{path} does not hold a network this version can rebuild ({' '.join(str(exc).split())[:160]}); {fix}"
        ) from None
    return model.eval(), {"identity": dict(blob.get("identity") or {}), "seed": blob.get("seed"), "spec": spec}


def load_model(path: str | os.PathLike, device: str | torch.device = "cpu") -> torch.nn.Module:
    return read_model(path, device)[0]


@torch.no_grad()
def model_outputs(model: torch.nn.Module, x: torch.Tensor, batch: int = 256, device: str | torch.device = "cpu"):
    """Softmax probabilities and embedding features of clean inputs (eval mode, batch 256, reference-spec §3.5–3.6)."""
    model = model.to(device).eval()
    probs, feats = [], []
    for s in range(0, x.shape[0], batch):
        xb = x[s : s + batch].to(device)
        f = model.embed(xb)
        probs.append(torch.softmax(model(xb), dim=-1).cpu())
        feats.append(f.flatten(1).cpu())
    return torch.cat(probs), torch.cat(feats)


def compute_scores(
    dyn: Dynamics,
    model: torch.nn.Module,
    pool_x: torch.Tensor,
    lbpe_epochs: int,
    lbpe_top_k: int,
    device: str | torch.device = "cpu",
    *,
    lbpe_epoch_ties: str = "latest",
) -> dict[str, np.ndarray]:
    """Every score of one dynamics run: the dynamics-based table plus entropy and SSP features."""
    if lbpe_epochs > dyn.num_epochs:
        raise YocoError(
            f"LBPE needs the first {lbpe_epochs} epochs but the dynamics ran only {dyn.num_epochs}; "
            f"lower lbpe_epochs or record longer dynamics"
        )
    table = dict(
        _scores.score_table(dyn, lbpe_epochs=lbpe_epochs, lbpe_top_k=lbpe_top_k, lbpe_epoch_ties=lbpe_epoch_ties)
    )
    probs, feats = model_outputs(model, pool_x, device=device)
    table["entropy"] = _scores.entropy(probs)
    table["features"] = feats.numpy().astype(np.float32)
    return table


def save_scores(table: dict[str, np.ndarray], path: str | os.PathLike, **meta) -> Path:
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.savez_compressed(
            fh,
            **{k: np.asarray(v) for k, v in table.items()},
            __meta__=np.array(json.dumps(meta, sort_keys=True, default=str)),
        )
    return Path(path)


def load_scores(path: str | os.PathLike) -> dict[str, np.ndarray]:
    return read_scores(path)[0]


def read_scores(path: str | os.PathLike) -> tuple[dict[str, np.ndarray], dict]:
    """A score file written by :func:`save_scores`: the score table and its metadata (identity, ...)."""
    import zipfile

    path = Path(path)
    fix = "compute it with `yoco scores` (an .npz file)"
    if path.is_dir():
        raise YocoError(f"score file {path} is a folder, not a file; {fix}")
    if not path.exists():
        raise YocoError(f"score file {path} does not exist; compute it with `yoco scores` first")
    try:
        with np.load(path, allow_pickle=False) as f:
            if not isinstance(f, np.lib.npyio.NpzFile) or "__meta__" not in f.files:
                raise YocoError(
                    f"{path} is not a score file written by `yoco scores` (it has no score metadata); {fix}"
                )
            meta = json.loads(str(f["__meta__"]))
            table = {k: f[k] for k in f.files if k != "__meta__"}
    except YocoError:
        raise
    except (ValueError, OSError, EOFError, KeyError, zipfile.BadZipFile) as exc:
        raise YocoError(f"{path} is not a readable score file ({' '.join(str(exc).split())[:120]}); {fix}") from None
    if not isinstance(meta, dict):
        raise YocoError(f"{path} has malformed score metadata; {fix}")
    return table, meta
