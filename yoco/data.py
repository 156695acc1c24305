"""Real datasets: CIFAR-10/100 (torchvision), ImageNet-10 (ImageFolder tree) and sklearn's digits.

Every dataset is held in one in-memory form, :class:`RealData`: uint8 NHWC images, int64 labels,
class names and the normalisation the reference uses for it (reference-spec §7). The same form is
cached as an ``.npz`` file (:func:`save_real_npz`) in the layout of ``../shared/data/README.md``, so
workflow rules read real data without re-downloading or re-decoding JPEGs.

Digits (the quickstart dataset) is not in the paper. It is built here as follows, deterministically:
the 1 797 8x8 images (values 0-16) are scaled to [0, 1], bilinearly resized to ``image_size``
(default 16, ``align_corners=False``), replicated to 3 channels and rounded to uint8 0-255. The split
is stratified: for each class, a fixed-seed permutation (``numpy.random.default_rng(0)``) puts
``round(0.3 * n_class)`` images in the test set (539 in total) and the rest in train (1 258); both
splits keep the original dataset order. Its mean/std are the per-channel statistics of the train split.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .io import atomic_path
from .errors import YocoError, unknown_choice

DATASETS = ("cifar10", "cifar100", "imagenet10", "digits")

#: Classes of each known dataset: a condensed set named after one of them must have as many.
NUM_CLASSES = {"cifar10": 10, "cifar100": 100, "imagenet10": 10, "digits": 10}

# Normalisation of the reference (`data.py` MEANS/STDS). CIFAR-100 reuses the CIFAR-10 statistics.
NORMALIZATION: dict[str, tuple[tuple[float, float, float], tuple[float, float, float]]] = {
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010)),
    "cifar100": ((0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010)),
    "imagenet10": ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
}

# The first 10 lines of the reference's misc/class100.txt (phase 0, dseed 0), labels 0-9 in this order;
# names from the standard ILSVRC synset list (gyromitra and window screen checked against it).
IMAGENET10_WNIDS = (
    "n02869837",
    "n01749939",
    "n02488291",
    "n02107142",
    "n13037406",
    "n02091831",
    "n04517823",
    "n04589890",
    "n03062245",
    "n01773797",
)
IMAGENET10_NAMES = (
    "bonnet",
    "green mamba",
    "langur",
    "Doberman",
    "gyromitra",
    "Saluki",
    "vacuum cleaner",
    "window screen",
    "cocktail shaker",
    "garden spider",
)
IMAGENET10_SIZE = 224

#: The resolution a dataset's condensed sets have unless its real data was made at another size
#: (``yoco data --image-size``): CIFAR's own 32 px, ImageNet-10's 224 (its Resize + CenterCrop). Digits
#: has none of its own (8 px natively, 16 by default, any size by the config).
NATIVE_SIZE = {"cifar10": 32, "cifar100": 32, "imagenet10": IMAGENET10_SIZE}

DIGITS_SPLIT_SEED = 0
DIGITS_TEST_FRACTION = 0.3
DIGITS_DEFAULT_SIZE = 16

_IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")


@dataclass
class RealData:
    """A real dataset held in memory.

    Attributes
    ----------
    name : str
        Dataset key (``cifar10``, ``cifar100``, ``imagenet10``, ``digits``).
    x_train, x_test : ndarray uint8 [N, H, W, 3]
        Images, RGB, channels last.
    y_train, y_test : ndarray int64 [N]
        Class indices.
    class_names : list of str
    mean, std : tuple of 3 floats
        Per-channel normalisation applied to pixel values in [0, 1] before a network sees them.
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: list[str]
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    extras: dict = field(default_factory=dict)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def image_size(self) -> int:
        return int(self.x_train.shape[1])

    def validate(self) -> "RealData":
        """Check shapes, dtypes and label ranges; raise :class:`YocoError` naming the problem."""
        for split in ("train", "test"):
            x, y = getattr(self, f"x_{split}"), getattr(self, f"y_{split}")
            if not isinstance(x, np.ndarray) or x.dtype != np.uint8 or x.ndim != 4 or x.shape[-1] != 3:
                raise YocoError(
                    f"{self.name}: x_{split} must be a uint8 array [N, H, W, 3] (RGB, channels last), got "
                    f"{getattr(x, 'dtype', type(x))} {getattr(x, 'shape', '')}."
                )
            if x.shape[1] != x.shape[2]:
                raise YocoError(f"{self.name}: x_{split} images must be square, got {x.shape[1]}x{x.shape[2]}.")
            if not isinstance(y, np.ndarray) or y.ndim != 1 or len(y) != len(x):
                raise YocoError(f"{self.name}: y_{split} must be a 1-D array with one label per image.")
            if len(y) and (y.min() < 0 or y.max() >= self.num_classes):
                raise YocoError(
                    f"{self.name}: y_{split} holds labels outside [0, {self.num_classes}) "
                    f"({len(self.class_names)} class names given)."
                )
        if self.x_train.shape[1:] != self.x_test.shape[1:]:
            raise YocoError(f"{self.name}: train and test images differ in shape.")
        for split in ("train", "test"):
            # Every consumer trains on the train split and measures accuracy on the test split.
            if len(getattr(self, f"y_{split}")) == 0:
                raise YocoError(
                    f"{self.name}: the {split} split is empty (0 images); write the real data again with "
                    f"`yoco data --dataset {self.name}` (its --test-per-class, if given, must be >= 1)."
                )
        check_statistics(self.mean, self.std, f"{self.name}: mean", f"{self.name}: std")
        return self


def to_tensor(x_uint8_nhwc) -> torch.Tensor:
    """uint8 images [N, H, W, 3] (numpy or torch) -> float32 tensor [N, 3, H, W] in [0, 1]."""
    x = torch.as_tensor(np.asarray(x_uint8_nhwc) if not isinstance(x_uint8_nhwc, torch.Tensor) else x_uint8_nhwc)
    if x.dtype != torch.uint8 or x.dim() != 4:
        raise YocoError(f"to_tensor expects uint8 images [N, H, W, C], got {x.dtype} with shape {tuple(x.shape)}.")
    return x.permute(0, 3, 1, 2).to(torch.float32).div_(255.0).contiguous()


def _from_float01(x: torch.Tensor) -> np.ndarray:
    """float [N, C, H, W] in [0, 1] -> uint8 [N, H, W, C], rounding to nearest."""
    return (x.clamp(0, 1) * 255.0).round().to(torch.uint8).permute(0, 2, 3, 1).contiguous().numpy()


def _resize_uint8(x: np.ndarray, size: int) -> np.ndarray:
    """Bilinear resize of uint8 NHWC images to ``size x size`` (antialiased when shrinking)."""
    if x.shape[1] == size and x.shape[2] == size:
        return x
    out = []
    # Chunks keep the float copy small for 50 000-image sets.
    for start in range(0, len(x), 4096):
        t = to_tensor(x[start : start + 4096])
        shrink = size < max(t.shape[-2:])
        t = F.interpolate(t, size=(size, size), mode="bilinear", align_corners=False, antialias=shrink)
        out.append(_from_float01(t))
    return np.concatenate(out) if out else x[:, :size, :size]


def check_resolution(side: int, dataset: str, what: str, image_size: int | None = None, fix: str = "") -> None:
    """Raise unless images of ``side`` px belong to ``dataset``: at ``image_size`` when the real data was
    made at that size, else at the dataset's own resolution (:data:`NATIVE_SIZE`; digits has none)."""
    expected = image_size if image_size is not None else NATIVE_SIZE.get(dataset)
    if expected is None or int(side) == int(expected):
        return
    whose = f"{dataset}'s own resolution" if image_size is None else "the resolution given"
    raise YocoError(
        f"{what} has {side}x{side} images but {dataset} is {expected}x{expected} ({whose}); pass the set "
        f"condensed from {dataset} at {expected} px{', or ' + fix if fix else ''}"
    )


#: Plausible per-channel statistics of pixels in [0, 1]: a mean inside [0, 1], a std in (0, 0.5] (the
#: most a variable in [0, 1] can spread).
_MAX_STD = 0.5


def check_statistics(mean, std, mean_name: str = "mean", std_name: str = "std") -> None:
    """Raise unless ``mean`` and ``std`` are 3 finite per-channel statistics of pixels in [0, 1].

    A mean of 0-255 pixels (e.g. 125.3) or one typed with a stray exponent (1e9) would normalise every
    image to a constant and train on nothing, so the message says which value is off and why.
    """
    import math

    for name, values in ((mean_name, mean), (std_name, std)):
        try:
            t = tuple(float(v) for v in values)
        except (TypeError, ValueError):
            raise YocoError(f"{name} must be 3 numbers (one per RGB channel), got {values!r}.") from None
        if len(t) != 3 or not all(math.isfinite(v) for v in t):
            raise YocoError(f"{name} must be 3 finite numbers (one per RGB channel), got {values!r}.")
        if name == mean_name:
            bad = [v for v in t if not 0.0 <= v <= 1.0]
            if bad:
                raise YocoError(
                    f"{name} {bad[0]:g} is outside [0, 1]: statistics are of pixels in [0, 1] (for 0-255 "
                    "statistics divide by 255)."
                )
        else:
            bad = [v for v in t if not 0.0 < v <= _MAX_STD]
            if bad:
                why = "must be positive" if bad[0] <= 0 else f"exceeds {_MAX_STD}, the most pixels in [0, 1] can spread"
                raise YocoError(
                    f"{name} {bad[0]:g} {why}: statistics are of pixels in [0, 1] (for 0-255 statistics divide by 255)."
                )


def _check_resize_memory(n_images: int, size: int) -> None:
    """A size whose images cannot be held at all is refused before the resize allocates them."""
    from .memory import check_fits

    # The uint8 result plus one float chunk of the resize (4096 images, 4 bytes a value).
    nbytes = n_images * 3 * size * size + min(n_images, 4096) * 3 * size * size * 4
    check_fits(nbytes, f"image size {size} ({n_images} images of {size}x{size})", "choose a smaller --image-size")


def _check_size(image_size) -> None:
    if image_size is not None and (
        isinstance(image_size, bool) or not isinstance(image_size, (int, np.integer)) or image_size < 1
    ):
        raise YocoError(f"image_size must be a positive integer or None, got {image_size!r}.")


def _stats(x_uint8: np.ndarray) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and (population) std of uint8 NHWC images, in [0, 1] units."""
    v = x_uint8.reshape(-1, x_uint8.shape[-1]).astype(np.float64) / 255.0
    return tuple(float(a) for a in v.mean(0)), tuple(float(a) for a in v.std(0))


def load_real(
    name: str,
    root: str | os.PathLike = "data",
    npz: str | os.PathLike | None = None,
    image_size: int | None = None,
    test_per_class: int | None = None,
    train_per_class: int | None = None,
) -> RealData:
    """Load a real dataset.

    Parameters
    ----------
    name : {"cifar10", "cifar100", "imagenet10", "digits"}
    root : path
        CIFAR: torchvision download/cache folder. ImageNet-10: the ImageNet folder holding ``train/`` and
        ``val/`` with one sub-folder per wnid (see :data:`IMAGENET10_WNIDS`). Unused for digits.
    npz : path, optional
        Read the dataset from a cache written by :func:`save_real_npz` (or in the layout of
        ``../shared/data/README.md``) instead of the original source.
    image_size : int, optional
        Side of the returned images. Digits: default 16. ImageNet-10: Resize + CenterCrop size, default
        224. CIFAR / npz: by default the stored size; otherwise a bilinear resize (for small CPU runs).
    test_per_class : int, optional
        Keep only the first ``test_per_class`` test images of every class, in dataset order (a smaller
        test split for CPU runs: validation of hundreds of small networks costs as much as their
        training on the full 10 000 CIFAR test images).
    train_per_class : int, optional
        Keep only the first ``train_per_class`` training images of every class, in dataset order. With
        500, torchvision's CIFAR-10 gives the 5 000 images of ``../shared/data``'s mini set, so a CPU
        config costs the same from either source (MTT's experts and Fig. 3's full set scale with it).

    Returns
    -------
    RealData
    """
    if name not in DATASETS:
        raise unknown_choice("dataset", name, DATASETS)
    _check_size(image_size)
    if npz is not None:
        data = _load_npz(name, Path(npz))
    elif name in ("cifar10", "cifar100"):
        data = _load_cifar(name, Path(root))
    elif name == "imagenet10":
        data = _load_imagenet10(Path(root), image_size or IMAGENET10_SIZE)
    else:
        data = _load_digits(image_size or DIGITS_DEFAULT_SIZE)
    if image_size is not None and image_size != data.image_size:
        _check_resize_memory(len(data.x_train) + len(data.x_test), image_size)
        data.x_train = _resize_uint8(data.x_train, image_size)
        data.x_test = _resize_uint8(data.x_test, image_size)
    if test_per_class is not None:
        data = _first_images_per_class(data, test_per_class, "test")
    if train_per_class is not None:
        data = _first_images_per_class(data, train_per_class, "train")
    return data.validate()


def _first_images_per_class(data: RealData, per_class: int, split: str) -> RealData:
    """Keep the first ``per_class`` images of every class of ``split`` ("train" or "test")."""
    if isinstance(per_class, bool) or not isinstance(per_class, (int, np.integer)) or per_class < 1:
        raise YocoError(f"{split}_per_class must be a positive integer, got {per_class!r}.")
    x, y = getattr(data, f"x_{split}"), getattr(data, f"y_{split}")
    counts = np.bincount(y, minlength=data.num_classes)
    if counts.min() < per_class:
        raise YocoError(
            f"{data.name}: {split}_per_class={per_class}, but class {int(counts.argmin())} has only "
            f"{int(counts.min())} {split} images; lower it or leave it unset."
        )
    # Within a class the first images in dataset order; across classes, dataset order is kept.
    rank = np.zeros(len(y), dtype=np.int64)
    for c in range(data.num_classes):
        members = np.flatnonzero(y == c)
        rank[members] = np.arange(len(members))
    keep = np.flatnonzero(rank < per_class)
    setattr(data, f"x_{split}", x[keep])
    setattr(data, f"y_{split}", y[keep])
    # Per-image extras of the split (the mini set's test_is_jpeg) follow their images.
    for name, values in data.extras.items():
        if name.startswith(f"{split}_") and np.ndim(values) >= 1 and len(values) == len(y):
            data.extras[name] = np.asarray(values)[keep]
    return data


def _load_cifar(name: str, root: Path) -> RealData:
    try:
        from torchvision import datasets
    except ImportError as exc:  # pragma: no cover - torchvision is a declared dependency
        raise YocoError("loading CIFAR needs torchvision; install it or pass npz= with a cached copy.") from exc
    cls = datasets.CIFAR10 if name == "cifar10" else datasets.CIFAR100
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise YocoError(
            f"cannot use {root} as the {name} download folder ({exc.strerror or exc}); pass --root "
            "(config: datasets.<name>.root) naming a folder you can write to."
        ) from None
    try:
        train = cls(str(root), train=True, download=True)
        test = cls(str(root), train=False, download=True)
    except Exception as exc:  # network or checksum failures surface as many exception types
        raise YocoError(
            f"could not download or read {name} into {root} ({exc}). Run once with internet access, "
            f"copy torchvision's {name} files into {root}, or pass npz= with a cache written by save_real_npz."
        ) from exc
    mean, std = NORMALIZATION[name]
    return RealData(
        name=name,
        x_train=np.ascontiguousarray(train.data, dtype=np.uint8),
        y_train=np.asarray(train.targets, dtype=np.int64),
        x_test=np.ascontiguousarray(test.data, dtype=np.uint8),
        y_test=np.asarray(test.targets, dtype=np.int64),
        class_names=list(train.classes),
        mean=mean,
        std=std,
    )


def npz_dataset_name(path: str | os.PathLike) -> str | None:
    """The dataset name a real-data cache records (``name`` key), or None when it records none."""
    with _open_npz(Path(path), "real-data cache", "write it with `yoco data`") as z:
        return str(z["name"]) if "name" in z.files else None


def _open_npz(path: Path, what: str, fix: str):
    """``np.load`` of an npz archive, with a YocoError for every way it can fail to be one."""
    import zipfile

    if path.is_dir():
        raise YocoError(f"{what} {path} is a folder, not a file; pass the .npz file ({fix}).")
    if not path.is_file():
        raise YocoError(f"{what} {path} does not exist; {fix}.")
    try:
        z = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise YocoError(
            f"{what} {path} is not a readable .npz archive ({' '.join(str(exc).split())[:120]}); {fix}."
        ) from None
    if not isinstance(z, np.lib.npyio.NpzFile):
        raise YocoError(f"{what} {path} holds a single array, not an .npz archive; {fix}.")
    return z


def _load_npz(name: str, path: Path) -> RealData:
    if not path.is_file() and not path.is_dir():
        raise YocoError(
            f"real-data cache {path} does not exist; write it with yoco.data.save_real_npz or point npz= at "
            "an archive with keys x_train, y_train, x_test, y_test, class_names."
        )
    try:
        return _read_npz(name, path)
    except (ValueError, KeyError, OSError, EOFError) as exc:
        if isinstance(exc, YocoError):
            raise
        # np.load reads members lazily: object (pickled) arrays and corrupt members fail here.
        raise YocoError(
            f"real-data cache {path} has an unreadable entry ({' '.join(str(exc).split())[:120]}); "
            "write it again with `yoco data` (arrays only, no pickled objects)."
        ) from None


def _read_npz(name: str, path: Path) -> RealData:
    fix = "write it with `yoco data` (keys x_train, y_train, x_test, y_test, class_names)"
    with _open_npz(path, "real-data cache", fix) as z:
        missing = [k for k in ("x_train", "y_train", "x_test", "y_test", "class_names") if k not in z.files]
        if missing:
            raise YocoError(f"{path} lacks the keys {missing}; expected x_train, y_train, x_test, y_test, class_names.")
        stored_name = str(z["name"]) if "name" in z.files else None
        if stored_name is not None and stored_name != name:
            raise YocoError(f"{path} holds dataset {stored_name!r}, not {name!r}; pass name={stored_name!r}.")
        x_train, x_test = z["x_train"], z["x_test"]
        for split, x in (("train", x_train), ("test", x_test)):
            if x.shape[:1] == (0,):
                raise YocoError(
                    f"real-data cache {path} has an empty {split} split (0 images); every command trains on "
                    f"the train split and measures accuracy on the test split: write it again with `yoco data "
                    f"--dataset {stored_name or name}`."
                )
        if "mean" in z.files and "std" in z.files:
            mean = tuple(float(v) for v in z["mean"])
            std = tuple(float(v) for v in z["std"])
        elif name in NORMALIZATION:
            mean, std = NORMALIZATION[name]
        else:
            mean, std = _stats(x_train)
        extras = {
            k: z[k]
            for k in z.files
            if k not in ("x_train", "y_train", "x_test", "y_test", "class_names", "mean", "std", "name")
        }
        return RealData(
            name=name,
            x_train=np.ascontiguousarray(x_train),
            y_train=z["y_train"].astype(np.int64),
            x_test=np.ascontiguousarray(x_test),
            y_test=z["y_test"].astype(np.int64),
            class_names=[str(c) for c in z["class_names"]],
            mean=mean,
            std=std,
            extras=extras,
        )


def save_real_npz(data: RealData, path: str | os.PathLike) -> Path:
    """Write ``data`` to an uncompressed ``.npz`` atomically (temporary file, then ``os.replace``).

    Keys: ``x_train``, ``y_train``, ``x_test``, ``y_test``, ``class_names`` (the layout of
    ``../shared/data/README.md``) plus ``name``, ``mean``, ``std`` and any ``extras``
    (e.g. ``test_is_jpeg``). Read it back with ``load_real(name, npz=path)``.
    """
    data.validate()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = dict(data.extras)
    arrays.update(
        x_train=data.x_train,
        y_train=data.y_train.astype(np.int64),
        x_test=data.x_test,
        y_test=data.y_test.astype(np.int64),
        class_names=np.asarray(data.class_names, dtype=str),
        name=np.asarray(data.name),
        mean=np.asarray(data.mean, dtype=np.float64),
        std=np.asarray(data.std, dtype=np.float64),
    )
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, **arrays)
    return path


def _load_digits(size: int) -> RealData:
    from sklearn.datasets import load_digits

    raw = load_digits()
    _check_resize_memory(len(raw.images), size)
    x = torch.as_tensor(raw.images, dtype=torch.float32).div_(16.0).unsqueeze(1)  # [N, 1, 8, 8] in [0, 1]
    if size != x.shape[-1]:
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=size < x.shape[-1])
    images = _from_float01(x.expand(-1, 3, -1, -1))
    labels = np.asarray(raw.target, dtype=np.int64)

    rng = np.random.default_rng(DIGITS_SPLIT_SEED)
    test_idx = []
    for c in range(10):
        idx = np.flatnonzero(labels == c)
        n_test = int(round(DIGITS_TEST_FRACTION * len(idx)))
        test_idx.append(rng.permutation(idx)[:n_test])
    is_test = np.zeros(len(labels), dtype=bool)
    is_test[np.concatenate(test_idx)] = True
    # Boolean masks keep both splits in the original dataset order (mix init takes the first images).
    x_train, y_train = images[~is_test], labels[~is_test]
    x_test, y_test = images[is_test], labels[is_test]
    mean, std = _stats(x_train)
    return RealData(
        name="digits",
        x_train=x_train,
        y_train=y_train,
        x_test=x_test,
        y_test=y_test,
        class_names=[str(c) for c in range(10)],
        mean=mean,
        std=std,
    )


def _imagenet_layout_hint(root: Path) -> str:
    return (
        f"ImageNet-10 expects an ImageNet folder {root} with {root}/train/<wnid>/*.JPEG and "
        f"{root}/val/<wnid>/*.JPEG (validation images sorted into class sub-folders) for the 10 wnids "
        f"{', '.join(IMAGENET10_WNIDS)}. Pass root= (config: imagenet_dir) pointing at it."
    )


def _load_imagenet10(root: Path, size: int) -> RealData:
    from PIL import Image
    from torchvision import transforms

    for split in ("train", "val"):
        missing = [w for w in IMAGENET10_WNIDS if not (root / split / w).is_dir()]
        if missing:
            raise YocoError(
                f"ImageNet-10 class folders missing under {root / split}: {', '.join(missing)}. "
                + _imagenet_layout_hint(root)
            )
    # The reference keeps Resize(224)+CenterCrop(224) uint8 images in memory (reference-spec §7).
    tf = transforms.Compose([transforms.Resize(size), transforms.CenterCrop(size)])
    splits = {}
    for split in ("train", "val"):
        xs, ys = [], []
        for label, wnid in enumerate(IMAGENET10_WNIDS):
            # Sorted file names reproduce ImageFolder's order within a class.
            files = sorted(p for p in (root / split / wnid).iterdir() if p.suffix.lower() in _IMAGE_EXTENSIONS)
            if not files:
                raise YocoError(f"no images in {root / split / wnid}. " + _imagenet_layout_hint(root))
            for p in files:
                with Image.open(p) as im:
                    xs.append(np.asarray(tf(im.convert("RGB")), dtype=np.uint8))
            ys.extend([label] * len(files))
        splits[split] = (np.stack(xs), np.asarray(ys, dtype=np.int64))
    mean, std = NORMALIZATION["imagenet10"]
    return RealData(
        name="imagenet10",
        x_train=splits["train"][0],
        y_train=splits["train"][1],
        x_test=splits["val"][0],
        y_test=splits["val"][1],
        class_names=list(IMAGENET10_NAMES),
        mean=mean,
        std=std,
    )


def class_images(
    data: RealData, per_class: int | None = None, device: str | torch.device | None = None
) -> list[torch.Tensor]:
    """The first ``per_class`` training images of each class, in dataset order, as float [n, 3, H, W].

    This is the real-image source of IDC's "mix" initialisation (:func:`yoco.formation.mix_init`).
    ``per_class=None`` returns all images of each class.
    """
    if per_class is not None and (
        isinstance(per_class, bool) or not isinstance(per_class, (int, np.integer)) or per_class < 1
    ):
        raise YocoError(f"per_class must be a positive integer or None, got {per_class!r}.")
    out = []
    for c in range(data.num_classes):
        idx = np.flatnonzero(data.y_train == c)
        if per_class is not None:
            if len(idx) < per_class:
                raise YocoError(
                    f"{data.name}: class {c} ({data.class_names[c]}) has only {len(idx)} training images, "
                    f"{per_class} requested; lower ipc or factor."
                )
            idx = idx[:per_class]
        t = to_tensor(data.x_train[idx])
        out.append(t.to(device) if device is not None else t)
    return out
