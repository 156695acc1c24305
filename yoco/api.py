"""``yoco.prune``: the two rules applied to your own condensed set, without a workflow."""

from __future__ import annotations


import numpy as np
import torch

from . import recipe
from .condensed import CondensedSet
from .data import NORMALIZATION, NUM_CLASSES, RealData, check_resolution, check_statistics
from .dynamics import Dynamics
from .errors import TrainingDiverged, YocoError, closest
from .pipeline import compute_scores, decode_set, dynamics_config, train_dynamics, training_pool
from .scores import check_lbpe, lbpe_defaults
from .seeding import check_seed
from .selection import parse_key, select
from .train import NetworkSpec

# The datasets whose normalisation yoco.prune knows by name (other datasets pass mean= and std=).
KNOWN_DATASETS = (*NORMALIZATION, "digits")


def prune(
    images,
    labels,
    ipc_to: int,
    factor: int = 1,
    key: str = "yoco",
    dynamics: Dynamics | None = None,
    seed: int = 0,
    *,
    epochs: int = recipe.EPOCHS,
    lbpe_epochs: int | None = None,
    lbpe_top_k: int | None = None,
    network: str = "convnet",
    width: int | None = None,
    value_space: str = "pixel01",
    dataset: str | None = None,
    mean=None,
    std=None,
    device: str | torch.device = "cpu",
    image_size: int | None = None,
) -> np.ndarray:
    """Prune a condensed set to ``ipc_to`` images per class; return indices into its decoded set.

    Parameters
    ----------
    images : Tensor or array ``[C·IPC_F, 3, h, w]``
        The stored condensed images, class-major (``labels[c·IPC_F:(c+1)·IPC_F] == c``), pixels in
        [0, 1] for ``value_space="pixel01"``.
    labels : Tensor or array of int ``[C·IPC_F]``
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
        Seeds the dynamics run and any random draw of the selection (0 to 2**64 - 1).
    lbpe_epochs, lbpe_top_k : int
        LBPE's E and K (default E = min(100, epochs), K = min(10, E): the IDC CIFAR-10 setting); K <= E,
        and E no more than the epochs of the dynamics.
    dataset : str, optional
        The real dataset the set was condensed from: ``cifar10``, ``cifar100``, ``imagenet10`` or
        ``digits`` give the normalisation (and the class count is checked against it). For any other
        dataset leave it out and pass ``mean`` and ``std``.
    mean, std : 3 floats each
        Per-channel normalisation of your real dataset (pixels in [0, 1]: means in [0, 1], stds in
        (0, 0.5]); override the named dataset's.
    image_size : int, optional
        The side of the real images the set was condensed from, when it is not the named dataset's own
        (32 for CIFAR, 224 for ImageNet-10): a set condensed from downscaled CIFAR-10, say.

    Returns
    -------
    np.ndarray
        Sorted indices into the decoded set (``yoco.decode(images, IPC_F, factor)``).

    Raises
    ------
    YocoError
        Every bad input, before any training: shapes, labels, types, the class count of a named
        dataset, dynamics of another set, an unknown device.
    """
    ipc_to = _positive_int(ipc_to, "ipc_to")
    factor = _positive_int(factor, "factor")
    epochs = _positive_int(epochs, "epochs")
    if lbpe_top_k is not None:
        lbpe_top_k = _positive_int(lbpe_top_k, "lbpe_top_k")
    if lbpe_epochs is not None:
        lbpe_epochs = _positive_int(lbpe_epochs, "lbpe_epochs")
    if image_size is not None:
        image_size = _positive_int(image_size, "image_size")
    check_seed(seed, "seed")
    if dynamics is not None and not isinstance(dynamics, Dynamics):
        raise YocoError(
            f"dynamics must be a yoco.Dynamics (Dynamics.from_probs(probs, labels) or Dynamics.load(path)) "
            f"or None, got {type(dynamics).__name__}."
        )
    if dataset is not None and not isinstance(dataset, str):
        raise YocoError(f"dataset must be a name such as 'cifar10' or None, got {type(dataset).__name__}.")
    device = _device(device)
    images = _as_images(images)
    labels = _as_labels(labels)
    num_classes = int(labels.max()) + 1
    if dataset in NUM_CLASSES and num_classes != NUM_CLASSES[dataset]:
        raise YocoError(
            f"the labels name {num_classes} classes but {dataset} has {NUM_CLASSES[dataset]}; pass the "
            "dataset the set was condensed from, or dataset=None with mean= and std= for your own."
        )
    if len(labels) % num_classes:
        raise YocoError(
            f"{len(labels)} images cannot form equal class-major blocks for {num_classes} classes; "
            "every class needs the same number of stored images"
        )
    ipc_from = len(labels) // num_classes
    if dataset is not None:
        check_resolution(
            int(images.shape[-1]), dataset, "the set", image_size, "pass image_size= the side its real data had"
        )
    cs = CondensedSet(
        images=images,
        labels=labels,
        ipc=ipc_from,
        factor=factor,
        value_space=value_space,
        dataset=dataset or "",
        condenser="user",
        provenance={"format": "in-memory"},
    ).validate()
    if ipc_to > ipc_from:
        raise YocoError(f"ipc_to={ipc_to} exceeds the stored IPC {ipc_from}; pruning can only shrink the set")
    rule = parse_key(key)
    trains = rule.method != "random" and (dynamics is None or rule.method in ("entropy", "ssp"))
    if trains or mean is not None or std is not None:
        # Only a training run normalises; given statistics are checked either way.
        mean, std = _normalisation(dataset, mean, std, int(images.shape[-1]))
    decoded = decode_set(cs)
    if dynamics is not None:
        _check_dynamics(dynamics, decoded, num_classes)
    scores: dict = {}
    if rule.method != "random":
        spec = NetworkSpec(name=network, num_classes=num_classes, image_size=images.shape[-1], width=width)
        # Defaults adapt to the run's length; values given are checked as `yoco scores` checks them.
        available = epochs if trains else dynamics.num_epochs
        lbpe_epochs, lbpe_top_k = lbpe_defaults(available, lbpe_epochs, lbpe_top_k)
        check_lbpe(lbpe_epochs, lbpe_top_k, available, source="the dynamics run")
        model = None
        if trains:
            stats = _stats_only(dataset or "", mean, std, images.shape[-1], num_classes)
            try:
                ((dynamics, state),) = train_dynamics(
                    decoded, stats, spec, dynamics_config(epochs), reps=(1,), seed_prefix=f"prune/{seed}", device=device
                )
            except TrainingDiverged as err:
                raise _prune_diverged(err, decoded, stats, value_space) from None
            model = spec.build(0)
            model.load_state_dict(state)
        if model is not None:
            pool_x, _ = training_pool(decoded, stats)
            scores = compute_scores(dynamics, model, pool_x, lbpe_epochs, lbpe_top_k, device=device)
        else:
            from .scores import score_table

            scores = score_table(dynamics, lbpe_epochs=lbpe_epochs, lbpe_top_k=lbpe_top_k)
    return select(
        key, scores, decoded.labels.numpy(), ipc_from=ipc_from, ipc_to=ipc_to, factor=factor, seed=seed, dataset=dataset
    )


def _prune_diverged(err: TrainingDiverged, decoded, stats, value_space: str) -> TrainingDiverged:
    """The divergence of prune's own dynamics run, told in prune's terms: its recipe is the reference's
    (lr 0.01, no argument changes it), so what diverged is the input, most likely its scale."""
    pool_x, _ = training_pool(decoded, stats)
    lo, hi = float(pool_x.min()), float(pool_x.max())
    detail = str(err).split(" with ", 1)[0]
    return TrainingDiverged(
        f"prune: the ConvNet trained for the dynamics diverged on these images ({detail}); its recipe is the "
        f"reference's, so check the images: value_space={value_space!r} and the mean and std give network "
        f"inputs in [{lo:.3g}, {hi:.3g}] (normalised pixels lie within a few units of 0); pass pixels in "
        "[0, 1] with value_space='pixel01', or your dataset's mean= and std="
    )


def _positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise YocoError(f"{name} must be a positive integer, got {value!r} ({type(value).__name__}); e.g. {name}=1.")
    return int(value)


def _device(device) -> torch.device:
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise YocoError(f"device {device!r} is not a torch device; use 'cpu', 'cuda' or 'cuda:N'.") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise YocoError(f"device {device!r} was requested but no CUDA device is visible; use device='cpu'.")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise YocoError(
            f"device {device!r}: only {torch.cuda.device_count()} CUDA device(s) are visible; use 'cuda:0' or 'cpu'."
        )
    if dev.type not in ("cpu", "cuda", "mps"):
        raise YocoError(f"device {device!r} is not supported; use 'cpu', 'cuda' or 'cuda:N'.")
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise YocoError(f"device {device!r}: this torch has no usable MPS (Apple GPU) backend; use 'cpu'.")
    return dev


def _as_images(images) -> torch.Tensor:
    if not isinstance(images, torch.Tensor):
        try:
            arr = np.asarray(images)
        except (TypeError, ValueError):
            arr = None
        if arr is None or arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
            raise YocoError(f"images must be a numeric tensor or array [C*IPC, 3, h, w], got {type(images).__name__}.")
        images = torch.from_numpy(np.ascontiguousarray(arr))
    if images.dtype == torch.bool:
        raise YocoError("images are booleans; pass pixel values in [0, 1] (float).")
    return images.detach().to(torch.float32)


def _as_labels(labels) -> torch.Tensor:
    y = labels.detach().cpu().numpy() if isinstance(labels, torch.Tensor) else labels
    try:
        y = np.asarray(y)
    except (TypeError, ValueError):
        raise YocoError(f"labels must be a 1-D array of class indices, got {type(labels).__name__}.") from None
    if y.ndim != 1 or y.size == 0:
        raise YocoError(
            f"labels must be a non-empty 1-D array of class indices, got shape {tuple(y.shape)}; "
            "one-hot labels must be converted with labels.argmax(1)."
        )
    if y.dtype == bool:
        raise YocoError("labels are booleans, not class indices; pass integer class indices 0..C-1.")
    if not np.issubdtype(y.dtype, np.number):
        raise YocoError(f"labels must be integer class indices, got dtype {y.dtype}.")
    if not np.all(np.isfinite(y)) or not np.all(y == np.round(y)):
        raise YocoError(
            "labels hold fractional or non-finite values; pass whole class indices 0..C-1 "
            "(learned soft labels: take labels.argmax(1) of the label rows)."
        )
    if y.min() < 0:
        raise YocoError(f"labels must be class indices >= 0, found {int(y.min())}.")
    return torch.from_numpy(y.astype(np.int64))


def _normalisation(dataset: str | None, mean, std, size: int):
    if mean is None and std is None:
        if dataset is None:
            raise YocoError(
                "pass dataset= (cifar10, cifar100, imagenet10 or digits) or, for your own dataset, "
                "mean= and std= (3 values each, for pixels in [0, 1])."
            )
        if dataset in NORMALIZATION:
            return NORMALIZATION[dataset]
        if dataset == "digits":
            from .data import load_real

            real = load_real("digits", image_size=size)
            return real.mean, real.std
        known = sorted(KNOWN_DATASETS)
        guess = closest(dataset, known)
        hint = f" Did you mean {guess!r}?" if guess else ""
        raise YocoError(
            f"no normalisation is known for dataset {dataset!r}.{hint} Known datasets: {', '.join(known)}; "
            "for another dataset pass mean= and std= (3 values each, for pixels in [0, 1])."
        )
    if mean is None or std is None:
        raise YocoError("pass both mean= and std= (3 values each), or neither to use the named dataset's.")
    check_statistics(mean, std, "mean", "std")
    return tuple(float(x) for x in mean), tuple(float(x) for x in std)


def _check_dynamics(dynamics: Dynamics, decoded: CondensedSet, num_classes: int) -> None:
    n = len(decoded.labels)
    if dynamics.num_samples != n:
        raise YocoError(
            f"the dynamics cover {dynamics.num_samples} samples but the decoded set has "
            f"{n}; record them on yoco.decode(images, ipc, factor)"
        )
    if dynamics.num_classes != num_classes:
        raise YocoError(
            f"the dynamics have {dynamics.num_classes} classes but the labels name {num_classes}; "
            "pass the dynamics recorded on this set"
        )
    if not np.array_equal(np.asarray(dynamics.labels), decoded.labels.numpy()):
        raise YocoError(
            "the dynamics' labels are not the decoded set's (class c at decoded indices "
            "c*IPC_F*f^2 .. (c+1)*IPC_F*f^2 - 1); record them on yoco.decode(images, ipc, factor) "
            "in its order, with yoco.formation.decoded_labels(C, ipc, factor) as labels"
        )


def _stats_only(name, mean, std, size, num_classes) -> RealData:
    """A RealData holding only normalisation statistics: ``prune`` needs no real images."""
    empty = np.zeros((0, size, size, 3), dtype=np.uint8)
    return RealData(
        name=name,
        x_train=empty,
        y_train=np.zeros(0, np.int64),
        x_test=empty,
        y_test=np.zeros(0, np.int64),
        class_names=[str(c) for c in range(num_classes)],
        mean=tuple(mean),
        std=tuple(std),
    )
