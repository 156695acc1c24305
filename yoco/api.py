"""``yoco.prune``: the two rules applied to your own condensed set, without a workflow."""
from __future__ import annotations

import numpy as np
import torch

from .condensed import CondensedSet
from .data import NORMALIZATION, RealData
from .dynamics import Dynamics
from .errors import YocoError
from .pipeline import compute_scores, decode_set, dynamics_config, train_dynamics, training_pool
from .selection import parse_key, select
from .train import NetworkSpec


def prune(images, labels, ipc_to: int, factor: int = 1, key: str = "yoco", dynamics: Dynamics | None = None,
          seed: int = 0, *, epochs: int = 1000, lbpe_epochs: int | None = None, lbpe_top_k: int = 10,
          network: str = "convnet", width: int | None = None, value_space: str = "pixel01", dataset: str = "cifar10",
          mean=None, std=None, device: str | torch.device = "cpu") -> np.ndarray:
    """Prune a condensed set to ``ipc_to`` images per class; return indices into its decoded set.

    Parameters
    ----------
    images : Tensor or array ``[C·IPC_F, 3, h, w]``
        The stored condensed images, class-major (``labels[c·IPC_F:(c+1)·IPC_F] == c``).
    labels : Tensor or array ``[C·IPC_F]``
    ipc_to : int
        Target images per class. The selection unit is the decoded patch: a balanced selection keeps
        ``ipc_to · factor²`` patches per class (reference-spec §1.4).
    factor : int
        Multi-formation factor of the stored images (IDC/DREAM on CIFAR: 2; MTT, DSA, KIP: 1).
    key : str
        Pruning key in the paper's grammar; ``"yoco"`` = lowest LBPE first, balanced (``yoco.methods()``).
    dynamics : Dynamics, optional
        Training dynamics over the decoded set. Without them a ConvNet is trained here on the decoded
        set for ``epochs`` epochs (the reference trains 1000), and the scores come from that run.
    seed : int
        Seeds the dynamics run and any random draw of the selection.
    lbpe_epochs, lbpe_top_k : int
        LBPE's E and K (default E = min(100, epochs), K = 10: the IDC CIFAR-10 setting).
    mean, std : normalisation of the real dataset (default: the named dataset's).

    Returns
    -------
    np.ndarray
        Sorted indices into the decoded set (``yoco.decode(images, IPC_F, factor)``).
    """
    images = torch.as_tensor(np.asarray(images) if not isinstance(images, torch.Tensor) else images, dtype=torch.float32)
    labels = torch.as_tensor(np.asarray(labels) if not isinstance(labels, torch.Tensor) else labels, dtype=torch.int64)
    if labels.ndim != 1 or len(labels) == 0:
        raise YocoError(f"labels must be a non-empty 1-D array of class indices, got shape {tuple(labels.shape)}")
    num_classes = int(labels.max()) + 1
    if len(labels) % num_classes:
        raise YocoError(f"{len(labels)} images cannot form equal class-major blocks for {num_classes} classes; "
                        "every class needs the same number of stored images")
    ipc_from = len(labels) // num_classes
    cs = CondensedSet(images=images, labels=labels, ipc=ipc_from, factor=factor, value_space=value_space,
                      dataset=dataset, condenser="user", provenance={"format": "in-memory"}).validate()
    if ipc_to > ipc_from:
        raise YocoError(f"ipc_to={ipc_to} exceeds the stored IPC {ipc_from}; pruning can only shrink the set")
    decoded = decode_set(cs)
    if mean is None or std is None:
        if dataset not in NORMALIZATION:
            raise YocoError(f"no normalisation known for dataset {dataset!r}; pass mean= and std= (3 values each)")
        mean, std = NORMALIZATION[dataset]
    rule = parse_key(key)
    scores: dict = {}
    if rule.method != "random":
        spec = NetworkSpec(name=network, num_classes=num_classes, image_size=images.shape[-1], width=width)
        if lbpe_epochs is None:
            lbpe_epochs = min(100, epochs if dynamics is None else dynamics.num_epochs)
        model = None
        stats = _stats_only(dataset, mean, std, images.shape[-1], num_classes)
        if dynamics is None or rule.method in ("entropy", "ssp"):
            (dynamics, state), = train_dynamics(decoded, stats, spec, dynamics_config(epochs), reps=(1,),
                                                seed_prefix=f"prune/{seed}", device=device)
            model = spec.build(0)
            model.load_state_dict(state)
        if dynamics.num_samples != len(decoded.labels):
            raise YocoError(f"the dynamics cover {dynamics.num_samples} samples but the decoded set has "
                            f"{len(decoded.labels)}; record them on yoco.decode(images, ipc, factor)")
        if model is not None:
            pool_x, _ = training_pool(decoded, stats)
            scores = compute_scores(dynamics, model, pool_x, min(lbpe_epochs, dynamics.num_epochs),
                                    min(lbpe_top_k, dynamics.num_epochs), device=device)
        else:
            from .scores import score_table

            scores = score_table(dynamics, lbpe_epochs=min(lbpe_epochs, dynamics.num_epochs),
                                 lbpe_top_k=min(lbpe_top_k, dynamics.num_epochs))
    return select(key, scores, decoded.labels.numpy(), ipc_from=ipc_from, ipc_to=ipc_to, factor=factor,
                  seed=seed, dataset=dataset)


def _stats_only(name, mean, std, size, num_classes) -> RealData:
    """A RealData holding only normalisation statistics: ``prune`` needs no real images."""
    empty = np.zeros((0, size, size, 3), dtype=np.uint8)
    return RealData(name=name, x_train=empty, y_train=np.zeros(0, np.int64), x_test=empty,
                    y_test=np.zeros(0, np.int64), class_names=[str(c) for c in range(num_classes)],
                    mean=tuple(mean), std=tuple(std))
