"""Training-time augmentation, batched over models and samples, on any device.

Everything here works on 5-D tensors ``x[M, B, C, H, W]``: ``M`` independent models (the batched
trainer stacks them), each with its own batch of ``B`` images. All randomness comes from the
counter-based generator :mod:`yoco.rng`, keyed by one seed per model and by ``counters`` that identify
the training step (for example ``(epoch, step)``). Hence

* model ``m``'s output depends only on ``(x[m], seeds[m], counters)``: a model augmented alone and the
  same model augmented inside a stack of 81 see identical draws;
* the same call gives the same result on every run, and CPU and CUDA draw the same parameters.

Each kind of draw uses its own purpose constant from :mod:`yoco.rng` followed by a sub-stream index,
i.e. keys of the form ``(purpose, sub, *counters)``, so no two draws share a stream.

Contents
--------
:func:`diffaug`
    Differentiable Siamese Augmentation as used by IDC and YOCO (reference-spec §4.3).
:func:`dsa_augment`
    DSA's original variant, which applies one op drawn from all listed ops (in-house DSA condensation).
:func:`cutmix`, :func:`mixed_cross_entropy`
    CutMix with the reference's box (``misc/utils.py:rand_bbox``) and loss (reference-spec §2, §4.2).
:func:`imagenet_augment`
    The ImageNet-10 per-sample tensor transforms (reference-spec §4.4).
:func:`normalize`
    Channel-wise normalisation for any number of leading axes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Sequence

import torch
import torch.nn.functional as F

from . import rng
from .errors import YocoError

__all__ = [
    "DIFFAUG_OPS",
    "DEFAULT_STRATEGY",
    "check_strategy",
    "diffaug",
    "dsa_augment",
    "DSA_STRATEGY",
    "cutmix",
    "mixed_cross_entropy",
    "imagenet_augment",
    "normalize",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
]

# DiffAug constants (IDC / YOCO misc/augment.py:DiffAug.__init__).
PROB_FLIP = 0.5
RATIO_SCALE = 1.2
RATIO_ROTATE = 15.0  # degrees
RATIO_CROP_PAD = 0.125
RATIO_CUTOUT = 0.5
BRIGHTNESS = 1.0
SATURATION = 2.0
CONTRAST = 0.5

#: Ops a DiffAug strategy may list. ``flip``, ``color`` and ``cutout`` are applied whenever listed;
#: exactly one of the remaining listed ops (``crop``, ``scale``, ``rotate``, ``translate``) is drawn per call.
DIFFAUG_OPS = ("color", "crop", "cutout", "flip", "rotate", "scale", "translate")
#: The strategy of CIFAR evaluation and training dynamics (``color_crop_cutout_flip_scale_rotate`` minus
#: cutout, because CutMix is on).
DEFAULT_STRATEGY = "color_crop_flip_scale_rotate"
#: DSA's CIFAR strategy (``DSA:main.py --dsa_strategy``); :func:`dsa_augment` applies one of its six ops.
DSA_STRATEGY = "color_crop_cutout_flip_scale_rotate"

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# AlexNet PCA lighting (misc/utils.py:Lighting, data.py:transform_imagenet).
_PCA_EIGVAL = (0.2175, 0.0188, 0.0045)
_PCA_EIGVEC = (
    (-0.5675, 0.7192, 0.4009),
    (-0.5808, -0.0045, -0.8140),
    (-0.5836, -0.6948, 0.4203),
)


# --------------------------------------------------------------------------------------------------
# Input checks shared by the public functions
# --------------------------------------------------------------------------------------------------


def _check_batch(x: torch.Tensor, seeds, counters, what: str) -> tuple[torch.Tensor, tuple[int, ...]]:
    """Validate ``x[M,B,C,H,W]``; return the seeds as int64 on ``x.device`` and the counters as ints."""
    if not isinstance(x, torch.Tensor) or x.dim() != 5:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise YocoError(
            f"{what} expects images of shape [models, batch, channels, height, width]; got {shape}. "
            "For a single model add the model axis with x.unsqueeze(0) and pass one seed."
        )
    if not x.is_floating_point():
        raise YocoError(f"{what} needs floating-point images, got dtype {x.dtype}; convert with x.float().")
    seeds = torch.as_tensor(seeds, dtype=torch.int64).to(x.device)
    if seeds.dim() != 1 or seeds.shape[0] != x.shape[0]:
        raise YocoError(f"{what} needs one seed per model: seeds of shape [{x.shape[0]}], got {tuple(seeds.shape)}.")
    try:
        counters = tuple(int(c) for c in counters)
    except (TypeError, ValueError):
        raise YocoError(f"counters must be a tuple of integers such as (epoch, step), got {counters!r}.") from None
    return seeds, counters


def _view(p: torch.Tensor) -> torch.Tensor:
    """``[M, n]`` per-image parameters -> ``[M, n, 1, 1, 1]`` to broadcast against ``[M, B, C, H, W]``."""
    return p[:, :, None, None, None]


# --------------------------------------------------------------------------------------------------
# DiffAug
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Plan:
    flip: bool
    color: bool
    cutout: bool
    choice: tuple[str, ...]  # candidates of the single drawn op, in strategy order, duplicates kept


@lru_cache(maxsize=64)
def _parse_strategy(strategy: str) -> _Plan:
    text = strategy.strip().lower()
    if text in ("", "none"):
        return _Plan(False, False, False, ())
    ops = text.split("_")
    bad = [op for op in ops if op not in DIFFAUG_OPS]
    if bad:
        raise YocoError(
            f"unknown DiffAug op(s) {', '.join(repr(b) for b in bad)} in strategy {strategy!r}. "
            f"A strategy joins ops with '_' (e.g. {DEFAULT_STRATEGY!r}); valid ops: {', '.join(DIFFAUG_OPS)}; "
            "use 'none' for no augmentation."
        )
    # Like the reference, repeated candidates are kept: "crop_crop_scale" draws crop with probability 2/3.
    choice = tuple(op for op in ops if op not in ("flip", "color", "cutout"))
    return _Plan("flip" in ops, "color" in ops, "cutout" in ops, choice)


def check_strategy(strategy: str, default: str = DEFAULT_STRATEGY) -> str:
    """Validate an augmentation strategy (ops joined by ``_``, or ``"none"``) before any image is seen."""
    if not isinstance(strategy, str):
        raise YocoError(f"strategy must be a string such as {default!r}, got {strategy!r}.")
    _parse_strategy(strategy)
    return strategy


def _translate(x: torch.Tensor, th: torch.Tensor, tw: torch.Tensor, pad: int) -> torch.Tensor:
    """Shift every image by integer offsets: ``out[i, j] = x[i + th, j + tw]``, 0 outside the image.

    Same result as the reference's zero pad plus clamped index gather; ``th``/``tw`` are int64
    ``[M, n]`` with ``n`` 1 or B and ``|th|, |tw| <= pad`` (a bound known without reading them, which
    would stall a GPU). One gather from the zero-padded images, with one flat index per output pixel
    shared by the channels: 1.4x faster than indexing an ``unfold`` view of all windows, whose
    backward materialises every window (30x slower; condensation differentiates through this), and
    5x faster than gathering rows then columns with full-size index tensors.
    """
    M, B, C, H, W = x.shape
    padded = F.pad(x, (pad, pad, pad, pad)).flatten(-2)  # [M, B, C, (H + 2p)(W + 2p)]
    rows = torch.arange(H, device=x.device)[:, None] + (th + pad)[..., None, None]  # [M, n, H, 1]
    cols = torch.arange(W, device=x.device)[None, :] + (tw + pad)[..., None, None]  # [M, n, 1, W]
    flat = (rows * (W + 2 * pad) + cols).flatten(-2)[:, :, None, :].expand(M, B, C, H * W)
    return padded.gather(-1, flat).view(M, B, C, H, W)


def _affine(x: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """``grid_sample`` every image with its own 2x3 ``theta`` (``[M, n, 2, 3]``, n = 1 or B).

    Bilinear, zero padding and ``align_corners=False``: the torch defaults the reference relied on,
    spelled out to pin them and silence the warning.
    """
    M, B, C, H, W = x.shape
    theta = theta.expand(M, B, 2, 3).reshape(M * B, 2, 3).to(x.dtype)
    grid = F.affine_grid(theta, [M * B, C, H, W], align_corners=False)
    out = F.grid_sample(x.reshape(M * B, C, H, W), grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return out.reshape(M, B, C, H, W)


def diffaug(
    x: torch.Tensor,
    seeds: torch.Tensor,
    counters: tuple[int, ...],
    strategy: str = DEFAULT_STRATEGY,
    shared: bool = False,
) -> torch.Tensor:
    """Differentiable Siamese Augmentation, batched over models (``misc/augment.py:DiffAug``).

    In order: flip (if listed) -> colour (brightness, saturation, contrast; if listed) -> one op
    drawn uniformly per model from the other listed ops (crop, scale, rotate, translate) -> cutout
    (if listed). Constants as in the reference: flip p = 0.5; brightness ``x + (u - 0.5)``;
    saturation ``(x - m_c) * 2u + m_c`` with ``m_c`` the per-pixel channel mean; contrast
    ``(x - m) * (u + 0.5) + m`` with ``m`` the image mean; crop an integer shift in
    ``[-s, s]``, ``s = int(0.125 H + 0.5)`` per axis, zeros moved in; translate the same shift along the
    width only; scale ``diag(s_x, s_y)``, ``s ~ U(1/1.2, 1.2)``; rotate by ``U(-15, 15)`` degrees;
    cutout a zeroed square of side ``int(0.5 H + 0.5)`` centred uniformly in
    ``[0, H + 1 - side mod 2)``, clipped. ``u ~ U[0, 1)`` independently for every draw.

    Parameters
    ----------
    x : Tensor ``[M, B, C, H, W]``
        Images (normalised, as in the reference) of ``M`` models' batches.
    seeds : int64 Tensor ``[M]``
        One seed per model.
    counters : tuple of int
        Identifies the call, e.g. ``(epoch, step)``; the same counters give the same draws.
    strategy : str, default ``"color_crop_flip_scale_rotate"``
        Ops joined by ``_`` (see :data:`DIFFAUG_OPS`); ``"none"`` or ``""`` returns ``x`` unchanged.
    shared : bool, default False
        False draws parameters per image (the reference's ``batch=False``: evaluation, dynamics and
        network updates); True draws one parameter set per model for its whole batch (``batch=True``:
        condensation, where the real and synthetic images of a matching step share the draw).

    Returns
    -------
    Tensor ``[M, B, C, H, W]``
        Differentiable with respect to ``x``.

    Notes
    -----
    The single op is drawn per model and per call, as the reference draws it per call. To stay
    vectorised, the shift ops (crop/translate) are computed with one gather and the affine ops
    (scale/rotate) with one ``grid_sample`` for all models, and each model keeps the result of its own
    op (``torch.where``); there is no Python loop over models or samples.
    """
    seeds, counters = _check_batch(x, seeds, counters, "diffaug")
    plan = _parse_strategy(check_strategy(strategy))
    M, B, C, H, W = x.shape
    n = 1 if shared else B  # images that get their own parameters

    if plan.flip:
        coin = rng.uniform(seeds, (rng.FLIP, 0, *counters), (n,))
        x = torch.where(_view(coin < PROB_FLIP), x.flip(-1), x)

    if plan.color:
        u = rng.uniform(seeds, (rng.COLOR, 0, *counters), (n, 3)).to(x.dtype)
        x = x + _view(u[..., 0] - 0.5) * BRIGHTNESS
        mean = x.mean(dim=-3, keepdim=True)
        x = (x - mean) * _view(u[..., 1] * SATURATION) + mean
        mean = x.mean(dim=(-3, -2, -1), keepdim=True)
        x = (x - mean) * _view(u[..., 2] + CONTRAST) + mean

    if plan.choice:
        x = _one_geometric_op(x, seeds, counters, plan.choice, n)

    if plan.cutout:
        side_h, side_w = int(H * RATIO_CUTOUT + 0.5), int(W * RATIO_CUTOUT + 0.5)
        # Centre in [0, H + (1 - side % 2)), i.e. inclusive upper bound H - side % 2.
        ch = rng.integers(seeds, (rng.CUTOUT, 0, *counters), (n,), 0, H - side_h % 2)
        cw = rng.integers(seeds, (rng.CUTOUT, 1, *counters), (n,), 0, W - side_w % 2)
        rows = torch.arange(H, device=x.device) - (ch - side_h // 2)[..., None]  # offset inside the box
        cols = torch.arange(W, device=x.device) - (cw - side_w // 2)[..., None]
        in_rows = (rows >= 0) & (rows < side_h)  # [M, n, H]
        in_cols = (cols >= 0) & (cols < side_w)  # [M, n, W]
        # Clipping the box to the image equals the reference's clamped scatter: the box always
        # overlaps the image, so the clamped indices land inside it.
        keep = ~(in_rows[:, :, :, None] & in_cols[:, :, None, :])
        x = x * keep[:, :, None].to(x.dtype)
    return x


def dsa_augment(
    x: torch.Tensor,
    seeds: torch.Tensor,
    counters: tuple[int, ...],
    strategy: str = DSA_STRATEGY,
    shared: bool = False,
) -> torch.Tensor:
    """DSA's own DiffAugment (``DSA:utils.py:DiffAugment``, ``aug_mode='S'``): ONE listed op per call.

    IDC's :func:`diffaug` applies flip, colour and cutout whenever they are listed and draws one
    geometric op; DSA instead draws a single op uniformly from *all* listed ops (with
    ``color_crop_cutout_flip_scale_rotate`` each of the six has probability 1/6) and applies only
    that one. The op is drawn per model and per call; its parameters are then exactly those of
    :func:`diffaug` with that op alone (same constants, same draws), shared by the whole batch when
    ``shared`` (DSA's Siamese call: the real and synthetic images of a class) or per image otherwise
    (DSA's network updates). Arguments and shapes as in :func:`diffaug`.
    """
    seeds, counters = _check_batch(x, seeds, counters, "dsa_augment")
    check_strategy(strategy, DSA_STRATEGY)
    text = strategy.strip().lower()
    if text in ("", "none"):
        return x
    ops = text.split("_")  # repeated ops are kept, as DSA's `strategy.split('_')` keeps them
    pick = rng.integers(seeds, (rng.CHOICE, 1, *counters), (), 0, len(ops) - 1)  # [M]

    def drew(op: str) -> torch.Tensor:
        hit = torch.zeros_like(pick, dtype=torch.bool)
        for k, name in enumerate(ops):
            if name == op:
                hit |= pick == k
        return hit

    distinct = list(dict.fromkeys(ops))
    if len(distinct) == 1:
        return diffaug(x, seeds, counters, distinct[0], shared)
    if _reading_is_free(x.device):
        # Draws depend only on (seed, counters), so augmenting a model's rows alone gives its values.
        out = torch.empty_like(x)
        for op in distinct:
            rows = drew(op).nonzero().squeeze(1)
            if len(rows):
                out[rows] = diffaug(x[rows], seeds[rows], counters, op, shared)
        return out
    out = x
    for op in distinct:
        out = torch.where(_view(drew(op)[:, None]), diffaug(x, seeds, counters, op, shared), out)
    return out


def _reading_is_free(device: torch.device) -> bool:
    """Whether the host may read drawn values without stalling the device (a CPU has nothing to stall)."""
    return device.type == "cpu"


def _one_geometric_op(
    x: torch.Tensor, seeds: torch.Tensor, counters: tuple[int, ...], choice: tuple[str, ...], n: int
) -> torch.Tensor:
    M, B, C, H, W = x.shape
    if len(choice) == 1:
        op_of_model = [choice[0]]
        pick = None
    else:
        pick = rng.integers(seeds, (rng.CHOICE, 0, *counters), (), 0, len(choice) - 1)  # [M]
        op_of_model = list(dict.fromkeys(choice))  # distinct ops, strategy order

    def chosen(ops: tuple[str, ...]) -> torch.Tensor | None:
        """Bool ``[M]``: which models drew one of ``ops`` (None when every model did)."""
        if pick is None:
            return None
        hit = torch.zeros(M, dtype=torch.bool, device=x.device)
        for k, op in enumerate(choice):
            if op in ops:
                hit |= pick == k
        return hit

    shift_ops = tuple(op for op in op_of_model if op in ("crop", "translate"))
    affine_ops = tuple(op for op in op_of_model if op in ("scale", "rotate"))
    th = tw = theta = None
    sh, sw = int(H * RATIO_CROP_PAD + 0.5), int(W * RATIO_CROP_PAD + 0.5)
    if shift_ops:
        th = rng.integers(seeds, (rng.CROP, 0, *counters), (n,), -sh, sh)
        tw = rng.integers(seeds, (rng.CROP, 1, *counters), (n,), -sw, sw)
        if "translate" in shift_ops:
            # translate only moves along the width (reference translate_fn).
            is_translate = chosen(("translate",))
            if is_translate is None:
                th = torch.zeros_like(th)
            else:
                th = torch.where(is_translate[:, None], torch.zeros_like(th), th)
    if affine_ops:
        theta = x.new_zeros(M, n, 2, 3, dtype=torch.float32)
        if "scale" in affine_ops:
            lo = 1.0 / RATIO_SCALE
            s = lo + rng.uniform(seeds, (rng.SCALE, 0, *counters), (n, 2)) * (RATIO_SCALE - lo)
            scale = torch.zeros_like(theta)
            scale[..., 0, 0] = s[..., 0]
            scale[..., 1, 1] = s[..., 1]
            theta = scale
        if "rotate" in affine_ops:
            u = rng.uniform(seeds, (rng.ROTATE, 0, *counters), (n,))
            a = (u - 0.5) * 2 * RATIO_ROTATE / 180 * math.pi
            cos, sin, zero = torch.cos(a), torch.sin(a), torch.zeros_like(a)
            rot = torch.stack([torch.stack([cos, -sin, zero], -1), torch.stack([sin, cos, zero], -1)], -2)
            is_rotate = chosen(("rotate",))
            if "scale" not in affine_ops or is_rotate is None:
                theta = rot
            else:
                theta = torch.where(is_rotate[:, None, None, None], rot, theta)

    if _reading_is_free(x.device) and shift_ops and affine_ops:
        # Reading the draws costs nothing on the CPU: shift only the models that drew a shift and warp
        # only the others (per-image ops, so the values equal the select-from-both path below).
        hit = chosen(shift_ops)
        shifted_models, warped_models = hit.nonzero().squeeze(1), (~hit).nonzero().squeeze(1)
        out = torch.empty_like(x)
        if len(shifted_models):
            out[shifted_models] = _translate(x[shifted_models], th[shifted_models], tw[shifted_models], max(sh, sw))
        if len(warped_models):
            out[warped_models] = _affine(x[warped_models], theta[warped_models])
        return out
    # Elsewhere (CUDA) reading them would stall the device: compute every listed op for all models and
    # let each model keep its own.
    out = x
    if shift_ops:
        shifted = _translate(x, th, tw, max(sh, sw))
        hit = chosen(shift_ops)
        out = shifted if hit is None else torch.where(_view(hit[:, None]), shifted, out)
    if affine_ops:
        warped = _affine(x, theta)
        hit = chosen(affine_ops)
        out = warped if hit is None else torch.where(_view(hit[:, None]), warped, out)
    return out


# --------------------------------------------------------------------------------------------------
# CutMix
# --------------------------------------------------------------------------------------------------


def cutmix(
    x: torch.Tensor,
    y: torch.Tensor,
    seeds: torch.Tensor,
    counters: tuple[int, ...],
    p: float = 0.5,
    beta: float = 1.0,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """CutMix per model, as in the reference trainers (``train.py``, ``ccs/core/training/Trainer.py``).

    For each model independently: with probability ``p`` draw ``lam ~ Beta(beta, beta)``, a random
    permutation of its batch (the partners) and the reference's box (``misc/utils.py:rand_bbox``):
    ``cut = sqrt(1 - lam)``, half-sides ``int(H cut) // 2`` and ``int(W cut) // 2`` around a centre
    uniform in ``{0..H-1} x {0..W-1}``, clipped to the image; then paste the partners' pixels into the
    box. (The box side is therefore ``2 * (int(H cut) // 2)`` before clipping, as in the reference.)

    Parameters
    ----------
    x : Tensor ``[M, B, C, H, W]``
    y : int Tensor ``[M, B]``
        Labels.
    seeds : int64 Tensor ``[M]``
    counters : tuple of int
        Identifies the step, e.g. ``(epoch, step)``.
    p : float, default 0.5
        Mixing probability per batch (0.5 for CIFAR, 1.0 for ImageNet evaluation).
    beta : float, default 1.0
        Only 1.0 (``lam ~ U(0, 1)``, the value every YOCO run uses) is supported: a general Beta draw
        needs rejection sampling, which the counter-based generator cannot do per model.

    Returns
    -------
    x_mixed : Tensor ``[M, B, C, H, W]``
    y_partner : Tensor ``[M, B]``
        The partners' labels; equal to ``y`` for models that did not mix.
    ratio : float32 Tensor ``[M]``
        ``1 - box area / (H W)``, the weight of ``y`` in the loss; 1 for models that did not mix.
    """
    seeds, counters = _check_batch(x, seeds, counters, "cutmix")
    M, B, C, H, W = x.shape
    y = torch.as_tensor(y, device=x.device)
    if tuple(y.shape) != (M, B):
        raise YocoError(f"cutmix needs labels of shape [models, batch] = [{M}, {B}], got {tuple(y.shape)}.")
    if not 0.0 <= float(p) <= 1.0:
        raise YocoError(f"cutmix probability p must lie in [0, 1], got {p!r}.")
    if float(beta) != 1.0:
        raise YocoError(f"cutmix supports only beta = 1.0 (lam ~ U(0, 1), the reference's setting), got {beta!r}.")
    u = rng.uniform(seeds, (rng.CUTMIX, 0, *counters), (2,))
    mix = u[:, 0] < float(p)  # the reference's `np.random.rand(1) < mix_p`
    lam = u[:, 1].to(torch.float64)  # Beta(1, 1)
    cut = torch.sqrt(1.0 - lam)
    half_h = torch.floor(H * cut).to(torch.int64) // 2
    half_w = torch.floor(W * cut).to(torch.int64) // 2
    ch = rng.integers(seeds, (rng.CUTMIX, 1, *counters), (), 0, H - 1)
    cw = rng.integers(seeds, (rng.CUTMIX, 2, *counters), (), 0, W - 1)
    h1, h2 = (ch - half_h).clamp(0, H), (ch + half_h).clamp(0, H)
    w1, w2 = (cw - half_w).clamp(0, W), (cw + half_w).clamp(0, W)
    perm = rng.permutation(seeds, (rng.CUTMIX, 3, *counters), B)  # [M, B]

    rows = torch.arange(H, device=x.device)
    cols = torch.arange(W, device=x.device)
    in_box = ((rows >= h1[:, None]) & (rows < h2[:, None]))[:, :, None] & (
        (cols >= w1[:, None]) & (cols < w2[:, None])
    )[:, None, :]  # [M, H, W]
    in_box = in_box & mix[:, None, None]
    # Plain indexing copies whole images; take_along_dim would first expand perm to x's shape.
    models = torch.arange(M, device=x.device)[:, None]
    partner = x[models, perm]
    x_mixed = torch.where(in_box[:, None, None], partner, x)
    y_partner = torch.where(mix[:, None], y[models, perm], y)
    area = ((h2 - h1) * (w2 - w1)).to(torch.float32)
    ratio = torch.where(mix, 1.0 - area / float(H * W), torch.ones_like(area))
    return x_mixed, y_partner, ratio


def mixed_cross_entropy(
    logits: torch.Tensor, y: torch.Tensor, y_partner: torch.Tensor, ratio: torch.Tensor
) -> torch.Tensor:
    """CutMix loss per model: ``ratio * CE(logits, y) + (1 - ratio) * CE(logits, y_partner)``.

    Each cross-entropy is the mean over the model's batch, as ``nn.CrossEntropyLoss()`` in the
    reference. ``logits`` is ``[M, B, num_classes]``, labels ``[M, B]``, ``ratio`` ``[M]``; returns ``[M]``.
    """
    if logits.dim() != 3:
        raise YocoError(f"logits must have shape [models, batch, classes], got {tuple(logits.shape)}.")
    M, B, K = logits.shape
    for name, t in (("y", y), ("y_partner", y_partner)):
        if tuple(t.shape) != (M, B):
            raise YocoError(f"{name} must have shape [{M}, {B}], got {tuple(t.shape)}.")
    if tuple(torch.as_tensor(ratio).shape) != (M,):
        raise YocoError(f"ratio must have shape [{M}], got {tuple(torch.as_tensor(ratio).shape)}.")
    flat = logits.reshape(M * B, K)
    ce_a = F.cross_entropy(flat, y.reshape(-1), reduction="none").reshape(M, B).mean(1)
    ce_b = F.cross_entropy(flat, y_partner.reshape(-1), reduction="none").reshape(M, B).mean(1)
    ratio = ratio.to(ce_a.dtype)
    return ratio * ce_a + (1.0 - ratio) * ce_b


# --------------------------------------------------------------------------------------------------
# Normalisation and ImageNet-10 transforms
# --------------------------------------------------------------------------------------------------


def normalize(
    x: torch.Tensor, mean: Sequence[float] | torch.Tensor, std: Sequence[float] | torch.Tensor
) -> torch.Tensor:
    """``(x - mean) / std`` per channel; the channel axis is ``-3``, any leading axes are allowed."""
    if x.dim() < 3:
        raise YocoError(f"normalize expects [..., channels, height, width], got shape {tuple(x.shape)}.")
    mean = torch.as_tensor(mean, dtype=x.dtype, device=x.device).reshape(-1)
    std = torch.as_tensor(std, dtype=x.dtype, device=x.device).reshape(-1)
    c = x.shape[-3]
    if mean.numel() != c or std.numel() != c:
        raise YocoError(
            f"normalize got {mean.numel()} means and {std.numel()} stds for {c} channels; give one per channel."
        )
    if bool((std <= 0).any()):
        raise YocoError(f"normalize needs positive stds, got {std.tolist()}.")
    return (x - mean[:, None, None]) / std[:, None, None]


def _resample_axis(x: torch.Tensor, start: torch.Tensor, length: torch.Tensor, out: int, dim: int) -> torch.Tensor:
    """Bilinear resize of the window ``[start, start + length)`` of axis ``dim`` (-2 or -1) to ``out``.

    Reproduces ``F.interpolate(mode="bilinear", align_corners=False)`` applied to the cropped tensor,
    including its clamping at the window's edges (it never reads outside the crop). ``start`` and
    ``length`` are int64 ``[M, B]``.
    """
    M, B, C = x.shape[:3]
    o = torch.arange(out, device=x.device, dtype=torch.float64)
    scale = length.to(torch.float64)[..., None] / out  # [M, B, 1]
    src = ((o + 0.5) * scale - 0.5).clamp(min=0.0)
    i0 = torch.floor(src).to(torch.int64)
    i0 = torch.minimum(i0, length[..., None] - 1)
    i1 = torch.minimum(i0 + 1, length[..., None] - 1)
    w1 = (src - i0.to(torch.float64)).to(x.dtype)
    i0, i1 = i0 + start[..., None], i1 + start[..., None]
    if dim == -2:
        shape = (M, B, C, out, x.shape[-1])
        idx = lambda i: i[:, :, None, :, None].expand(shape)  # noqa: E731
        w = w1[:, :, None, :, None]
    else:
        shape = (M, B, C, x.shape[-2], out)
        idx = lambda i: i[:, :, None, None, :].expand(shape)  # noqa: E731
        w = w1[:, :, None, None, :]
    a, b = x.gather(dim, idx(i0)), x.gather(dim, idx(i1))
    return a + (b - a) * w


def _random_resized_crop(x: torch.Tensor, seeds, counters, scale=(0.5, 1.0), ratio=(3 / 4, 4 / 3), attempts=10):
    """torchvision ``RandomResizedCrop`` (bilinear) per image, output size = input size.

    The 10 rejection-sampling attempts are drawn for every image at once and the first valid one is
    taken; when none is valid the crop falls back to the centred crop of clamped aspect ratio, as in
    torchvision. Crops are never larger than the image, so the resize only upsamples and torchvision's
    antialias flag makes no difference.
    """
    M, B, C, H, W = x.shape
    u = rng.uniform(seeds, (rng.IMAGENET, 0, *counters), (B, attempts, 4)).to(torch.float64)
    area = H * W * (scale[0] + (scale[1] - scale[0]) * u[..., 0])
    log_lo, log_hi = math.log(ratio[0]), math.log(ratio[1])
    aspect = torch.exp(log_lo + (log_hi - log_lo) * u[..., 1])
    # torch.round and Python's round both round half to even.
    w = torch.round(torch.sqrt(area * aspect)).to(torch.int64)
    h = torch.round(torch.sqrt(area / aspect)).to(torch.int64)
    ok = (w > 0) & (w <= W) & (h > 0) & (h <= H)  # [M, B, attempts]
    top = torch.floor(u[..., 2] * (H - h + 1).clamp(min=1)).to(torch.int64)
    left = torch.floor(u[..., 3] * (W - w + 1).clamp(min=1)).to(torch.int64)
    first = torch.argmax(ok.to(torch.int8), dim=-1, keepdim=True)  # first valid attempt (0 if none)
    pick = lambda t: t.gather(-1, first).squeeze(-1)  # noqa: E731
    h, w, top, left = pick(h), pick(w), pick(top), pick(left)
    # Fallback: torchvision's centre crop with the aspect ratio clamped into `ratio`.
    in_ratio = W / H
    if in_ratio < min(ratio):
        fw, fh = W, int(round(W / min(ratio)))
    elif in_ratio > max(ratio):
        fh, fw = H, int(round(H * max(ratio)))
    else:
        fw, fh = W, H
    none = ~ok.any(-1)
    h = torch.where(none, torch.full_like(h, fh), h)
    w = torch.where(none, torch.full_like(w, fw), w)
    top = torch.where(none, torch.full_like(top, (H - fh) // 2), top)
    left = torch.where(none, torch.full_like(left, (W - fw) // 2), left)
    x = _resample_axis(x, top, h, H, dim=-2)
    return _resample_axis(x, left, w, W, dim=-1)


def imagenet_augment(
    x: torch.Tensor,
    seeds: torch.Tensor,
    counters: tuple[int, ...],
    mean: Sequence[float] = IMAGENET_MEAN,
    std: Sequence[float] = IMAGENET_STD,
) -> torch.Tensor:
    """The ImageNet-10 training transforms of the reference, per image (reference-spec §4.4).

    RandomResizedCrop (scale 0.5-1, aspect 3/4-4/3, bilinear, output size = input size) -> horizontal
    flip (p = 0.5) -> colour jitter (brightness, contrast and saturation, each ``img.lerp(target, a)``
    with ``a ~ U(-0.4, 0.4)`` toward black, the mean grey level and the greyscale image respectively,
    in a random order per image) -> PCA lighting (``a ~ N(0, 0.1)`` per eigenvector) -> Normalize.
    The reference's Resize(224) + CenterCrop(224) is a no-op on its 224-px tensors and is omitted.

    Parameters
    ----------
    x : Tensor ``[M, B, 3, H, W]``
        Images in pixel space [0, 1].
    seeds : int64 Tensor ``[M]``
    counters : tuple of int
    mean, std : sequences of 3 floats
        Normalisation applied last (ImageNet statistics by default).

    Returns
    -------
    Tensor ``[M, B, 3, H, W]``, normalised.

    Notes
    -----
    Differences from torchvision/the reference, all in how randomness is drawn, not in the
    distributions: draws come from :mod:`yoco.rng` instead of global generators; the crop's 10
    rejection-sampling attempts are drawn in parallel (the first valid one is used, exactly as the
    sequential loop would); the normal draws of the lighting use Box-Muller on counter-based uniforms.
    """
    seeds, counters = _check_batch(x, seeds, counters, "imagenet_augment")
    M, B, C, H, W = x.shape
    if C != 3:
        raise YocoError(f"imagenet_augment needs RGB images (3 channels), got {C}.")
    x = _random_resized_crop(x, seeds, counters)

    coin = rng.uniform(seeds, (rng.IMAGENET, 1, *counters), (B,))
    x = torch.where(_view(coin < 0.5), x.flip(-1), x)

    # Colour jitter: alphas in U(-0.4, 0.4) for (brightness, contrast, saturation), applied in a
    # random order per image.
    alpha = (rng.uniform(seeds, (rng.IMAGENET, 2, *counters), (B, 3)) * 0.8 - 0.4).to(x.dtype)
    order = torch.argsort(rng.bits(seeds, (rng.IMAGENET, 3, *counters), (B, 3)), dim=-1, stable=True)
    gray_w = torch.tensor((0.299, 0.587, 0.114), dtype=x.dtype, device=x.device)[:, None, None]
    for step in range(3):
        op = _view(order[..., step])
        gray = (x * gray_w).sum(dim=-3, keepdim=True)  # [M, B, 1, H, W]
        targets = (
            torch.zeros_like(x),  # brightness: toward black
            gray.mean(dim=(-2, -1), keepdim=True).expand_as(x),  # contrast: toward the mean grey
            gray.expand_as(x),  # saturation: toward the greyscale image
        )
        new = x
        for k, target in enumerate(targets):
            moved = torch.lerp(x, target, _view(alpha[..., k]))
            new = torch.where(op == k, moved, new)
        x = new

    # PCA lighting: rgb[c] = sum_k eigvec[c, k] * a_k * eigval_k, a ~ N(0, 0.1).
    u = rng.uniform(seeds, (rng.IMAGENET, 4, *counters), (B, 3, 2)).to(torch.float64)
    normal = torch.sqrt(-2.0 * torch.log1p(-u[..., 0])) * torch.cos(2 * math.pi * u[..., 1])  # [M, B, 3]
    a = (0.1 * normal).to(x.dtype)
    eigval = torch.tensor(_PCA_EIGVAL, dtype=x.dtype, device=x.device)
    eigvec = torch.tensor(_PCA_EIGVEC, dtype=x.dtype, device=x.device)
    rgb = (a * eigval) @ eigvec.T  # [M, B, 3]
    x = x + rgb[..., None, None]
    return normalize(x, mean, std)
