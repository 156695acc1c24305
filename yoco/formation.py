"""Multi-formation decode: stored condensed images -> the decoded training patches.

IDC-style condensed sets store ``f x f`` small images ("patches") inside every stored image. YOCO
scores, selects and trains on the decoded patches, never on the stored images (reference-spec §1.3,
§1.4), so every index in this project refers to the *decoded* set. This module is the single place
that fixes how the two index spaces relate.

Layout (identical to ``IDC:condense.py:Synthesizer.decode_zoom`` and YOCO's ``utils/img_loader.py``):

* stored images are class-major: stored image ``g = c*ipc + m`` is image ``m`` of class ``c``;
* patch position ``k = i*f + j`` is row ``i``, column ``j`` (row-major);
* decoded index ``d = c*ipc*f**2 + k*ipc + m``: consecutive decoded indices are the *same position of
  consecutive stored images*, not the ``f**2`` patches of one image.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from .errors import YocoError

# Pixel-space grey used by the reference to pad images whose side is not a multiple of the factor.
PAD_VALUE = 0.5


def _check_geometry(ipc: int, factor: int) -> None:
    if isinstance(ipc, bool) or not isinstance(ipc, (int, np.integer)) or ipc < 1:
        raise YocoError(f"ipc must be a positive integer (images per class), got {ipc!r}.")
    if isinstance(factor, bool) or not isinstance(factor, (int, np.integer)) or factor < 1:
        raise YocoError(
            f"factor must be a positive integer (patches per side; 1 = no multi-formation), got {factor!r}."
        )


def _check_images(images: torch.Tensor, ipc: int, factor: int) -> None:
    _check_geometry(ipc, factor)
    if not isinstance(images, torch.Tensor):
        raise YocoError(f"images must be a torch.Tensor [N, C, h, w], got {type(images).__name__}.")
    if images.dim() != 4:
        raise YocoError(
            f"images must be 4-D [N, channels, h, w], got shape {tuple(images.shape)}; "
            "add a batch dimension with images.unsqueeze(0) for a single image."
        )
    if not images.is_floating_point():
        raise YocoError(
            f"images must be floating point (pixel values in [0, 1]), got {images.dtype}; "
            "convert uint8 images with yoco.data.to_tensor."
        )
    n, ch, h, w = images.shape
    if ch not in (1, 3) and w in (1, 3):
        raise YocoError(
            f"images look channels-last (NHWC, shape {tuple(images.shape)}); decode takes [N, channels, h, w]: "
            "permute them with images.permute(0, 3, 1, 2)."
        )
    if h != w:
        raise YocoError(f"images must be square for multi-formation decode, got {h}x{w}.")
    if n % ipc != 0:
        raise YocoError(
            f"{n} stored images are not a whole number of classes of ipc={ipc}; "
            "pass the ipc the set was condensed with (stored images = classes x ipc)."
        )
    if factor > h:
        raise YocoError(f"factor {factor} is larger than the image side {h}; use a factor <= {h}.")


def decode(images: torch.Tensor, ipc: int, factor: int) -> torch.Tensor:
    """Decode stored multi-formation images into their patches, each resized to the stored size.

    Parameters
    ----------
    images : Tensor, shape [C*ipc, channels, h, h]
        Stored condensed images, class-major, in pixel space (the padding value 0.5 is a pixel-space
        grey, so decode before normalising).
    ipc : int
        Stored images per class.
    factor : int
        Patches per side ``f``; ``1`` returns an unchanged copy.

    Returns
    -------
    Tensor, shape [C*ipc*f**2, channels, h, h]
        Decoded patch ``d = c*ipc*f**2 + k*ipc + m`` is position ``k = i*f + j`` of stored image
        ``c*ipc + m``, bilinearly resized (``align_corners=False``) back to ``h x h``.

    Notes
    -----
    When ``h mod f != 0`` the images are first padded on the right and bottom by ``f - h mod f``
    pixels of value 0.5, and the crops have side ``ceil(h / f)``; the last row/column of patches
    therefore contains grey padding (ImageNet 224 with f=3: one pixel).
    """
    _check_images(images, ipc, factor)
    if factor == 1:
        return images.clone()
    n, ch, h, _ = images.shape
    classes = n // ipc
    rem = h % factor
    if rem:
        images = F.pad(images, (0, factor - rem, 0, factor - rem), value=PAD_VALUE)
    s = math.ceil(h / factor)
    f2 = factor * factor
    out = images.new_empty((n * f2, ch, h, h))
    # One class at a time bounds the peak memory of the crop/resize intermediates (ImageNet-10 IPC 20
    # decodes to 1800 images of 224 px); bilinear resizing is per sample, so batching changes nothing.
    for c in range(classes):
        block = images[c * ipc : (c + 1) * ipc]
        crops = [block[:, :, i * s : (i + 1) * s, j * s : (j + 1) * s] for i in range(factor) for j in range(factor)]
        # torch.cat over positions gives [k=0: m=0..ipc-1, k=1: ...], i.e. d = k*ipc + m within the class.
        patches = torch.cat(crops, dim=0)
        out[c * ipc * f2 : (c + 1) * ipc * f2] = F.interpolate(
            patches, size=(h, h), mode="bilinear", align_corners=False
        )
    return out


def _as_int_array(x, what: str) -> np.ndarray:
    arr = np.asarray(x)
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.integer):
        raise YocoError(f"{what} must be integer(s), got dtype {arr.dtype}.")
    return arr.astype(np.int64)


def _scalar_or_array(arr: np.ndarray):
    return int(arr) if arr.ndim == 0 else arr


def decoded_index(c, k, m, ipc: int, factor: int):
    """Decoded index ``d = c*ipc*f**2 + k*ipc + m`` (vectorised over numpy arrays).

    Parameters
    ----------
    c, k, m : int or array of int
        Class, patch position (``k = i*f + j``, row-major) and stored image within the class.
    ipc, factor : int
        Stored images per class and patches per side.

    Returns
    -------
    int or ndarray of int64
        An int when all inputs are scalars, otherwise the broadcast array.
    """
    _check_geometry(ipc, factor)
    c, k, m = _as_int_array(c, "c"), _as_int_array(k, "k"), _as_int_array(m, "m")
    f2 = factor * factor
    if np.any(c < 0):
        raise YocoError("class indices c must be >= 0.")
    if np.any((k < 0) | (k >= f2)):
        raise YocoError(f"patch positions k must lie in [0, {f2}) for factor {factor}.")
    if np.any((m < 0) | (m >= ipc)):
        raise YocoError(f"stored-image indices m must lie in [0, {ipc}) for ipc {ipc}.")
    return _scalar_or_array(c * ipc * f2 + k * ipc + m)


def locate(d, ipc: int, factor: int, num_classes: int | None = None):
    """Inverse of :func:`decoded_index`: decoded index ``d`` -> ``(c, k, m)``.

    Parameters
    ----------
    d : int or array of int
        Decoded indices.
    ipc, factor : int
        Stored images per class and patches per side.
    num_classes : int, optional
        When given, indices beyond the decoded set (``>= num_classes*ipc*f**2``) are rejected.

    Returns
    -------
    tuple (c, k, m)
        Class, row-major patch position and stored image within the class; ints or int64 arrays.
    """
    _check_geometry(ipc, factor)
    d = _as_int_array(d, "decoded index d")
    per_class = ipc * factor * factor
    if np.any(d < 0):
        raise YocoError("decoded indices must be >= 0.")
    if num_classes is not None and np.any(d >= num_classes * per_class):
        raise YocoError(
            f"decoded indices must be < {num_classes * per_class} "
            f"(= {num_classes} classes x ipc {ipc} x factor {factor}^2)."
        )
    c, r = np.divmod(d, per_class)
    k, m = np.divmod(r, ipc)
    return _scalar_or_array(c), _scalar_or_array(k), _scalar_or_array(m)


def stored_index(d, ipc: int, factor: int):
    """Global stored image ``g = c*ipc + m`` from which decoded patch ``d`` was cut."""
    c, _, m = locate(d, ipc, factor)
    return _scalar_or_array(np.asarray(c) * ipc + np.asarray(m))


def decoded_labels(num_classes: int, ipc: int, factor: int) -> np.ndarray:
    """Labels of the decoded set: class ``c`` repeated ``ipc*f**2`` times, classes in order (int64)."""
    _check_geometry(ipc, factor)
    if num_classes < 1:
        raise YocoError(f"num_classes must be >= 1, got {num_classes}.")
    return np.repeat(np.arange(num_classes, dtype=np.int64), ipc * factor * factor)


def class_blocks(num_classes: int, ipc: int, factor: int) -> list[range]:
    """Decoded index range of each class, ``[c*ipc*f**2, (c+1)*ipc*f**2)``.

    The balanced selector partitions the decoded set by these blocks, never by looking at labels
    (reference-spec §1.4).
    """
    _check_geometry(ipc, factor)
    if num_classes < 1:
        raise YocoError(f"num_classes must be >= 1, got {num_classes}.")
    n = ipc * factor * factor
    return [range(c * n, (c + 1) * n) for c in range(num_classes)]


def mix_init(real_images_per_class: list[torch.Tensor], ipc: int, factor: int) -> torch.Tensor:
    """IDC's "mix" initialisation of a multi-formation condensed set.

    Stored image ``m`` of class ``c`` holds, at position ``k = i*f + j``, real image ``k*ipc + m`` of
    that class (dataset order) downsampled with nearest-neighbour interpolation
    (``IDC:condense.py:Synthesizer.init``, reference-spec §1.3).

    Parameters
    ----------
    real_images_per_class : list of Tensor [n_c, channels, h, h]
        Real images of each class in dataset order, float pixel values (e.g. from
        :func:`yoco.data.class_images`); every class needs ``n_c >= ipc*f**2``; extra images are
        ignored.
    ipc, factor : int
        Stored images per class and patches per side.

    Returns
    -------
    Tensor [C*ipc, channels, h, h]
        Class-major stored images. Position sizes are ``h // f`` plus one pixel for the first
        ``h mod f`` rows/columns (ImageNet 224, f=3: 75, 75, 74). When ``h mod f`` is 0 or ``f - 1``
        (CIFAR 32/f=2, ImageNet 224/f=3) these positions coincide with the crops of :func:`decode`;
        otherwise (e.g. h=7, f=3: sizes 3, 2, 2 vs crops of 3) they do not, as in the reference.
    """
    _check_geometry(ipc, factor)
    if not isinstance(real_images_per_class, (list, tuple)) or not real_images_per_class:
        raise YocoError("real_images_per_class must be a non-empty list with one tensor per class.")
    need = ipc * factor * factor
    first = real_images_per_class[0]
    for c, imgs in enumerate(real_images_per_class):
        if not isinstance(imgs, torch.Tensor) or imgs.dim() != 4:
            raise YocoError(
                f"class {c}: expected a tensor [n, channels, h, w], got {getattr(imgs, 'shape', type(imgs))}."
            )
        if not imgs.is_floating_point():
            raise YocoError(f"class {c}: images must be float pixel values; convert uint8 with yoco.data.to_tensor.")
        if imgs.shape[1:] != first.shape[1:]:
            raise YocoError(
                f"class {c}: image shape {tuple(imgs.shape[1:])} differs from class 0's {tuple(first.shape[1:])}."
            )
        if imgs.shape[0] < need:
            raise YocoError(
                f"class {c} has {imgs.shape[0]} real images, but mix init with ipc={ipc}, factor={factor} needs "
                f"{need} (ipc x factor^2); lower ipc or factor, or provide more images."
            )
    _, ch, h, w = first.shape
    if h != w:
        raise YocoError(f"real images must be square, got {h}x{w}.")
    if factor > h:
        raise YocoError(f"factor {factor} is larger than the image side {h}.")
    s, rem = divmod(h, factor)
    sizes = [s + 1 if i < rem else s for i in range(factor)]
    starts = [sum(sizes[:i]) for i in range(factor)]
    out = first.new_empty((len(real_images_per_class) * ipc, ch, h, h))
    for c, imgs in enumerate(real_images_per_class):
        for i in range(factor):
            for j in range(factor):
                k = i * factor + j
                part = F.interpolate(imgs[k * ipc : (k + 1) * ipc], size=(sizes[i], sizes[j]), mode="nearest")
                out[c * ipc : (c + 1) * ipc, :, starts[i] : starts[i] + sizes[i], starts[j] : starts[j] + sizes[j]] = (
                    part
                )
    return out
