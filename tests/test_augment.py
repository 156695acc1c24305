"""DiffAug, CutMix and the ImageNet transforms (reference-spec §4.3, §4.4, §2): each op's definition,
per-model independence of the batched randomness, determinism and differentiability."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from yoco import augment as A
from yoco import rng
from yoco.errors import YocoError

SEEDS = torch.tensor([11, 22, 33, 44])
STEP = (3, 5)  # (epoch, step)


def _images(m=4, b=6, c=3, h=32, w=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(m, b, c, h, w, generator=g)


def _shift(img, dy, dx):
    """img shifted so that out[i, j] = img[i + dy, j + dx], zeros moved in (the crop definition)."""
    out = torch.zeros_like(img)
    H, W = img.shape[-2:]
    rs, re = max(0, -dy), min(H, H - dy)
    cs, ce = max(0, -dx), min(W, W - dx)
    out[..., rs:re, cs:ce] = img[..., rs + dy : re + dy, cs + dx : ce + dx]
    return out


# ---------------------------------------------------------------- DiffAug: each op


def test_flip_leaves_each_image_unchanged_or_exactly_mirrored():
    x = _images(b=16)
    out = A.diffaug(x, SEEDS, STEP, "flip")
    flipped = torch.tensor([torch.equal(out[m, b], x[m, b].flip(-1)) for m in range(4) for b in range(16)])
    same = torch.tensor([torch.equal(out[m, b], x[m, b]) for m in range(4) for b in range(16)])
    assert torch.all(flipped ^ same)
    assert 0 < int(flipped.sum()) < 64  # p = 0.5 per image: 64 images are never all alike


def test_crop_is_an_integer_shift_within_4_pixels_with_zeros_moved_in():
    x = _images(b=8)
    out = A.diffaug(x, SEEDS, STEP, "crop")
    s = int(0.125 * 32 + 0.5)  # 4
    shifts = []
    for m in range(4):
        for b in range(8):
            found = [
                (dy, dx)
                for dy in range(-s, s + 1)
                for dx in range(-s, s + 1)
                if torch.equal(out[m, b], _shift(x[m, b], dy, dx))
            ]
            assert len(found) == 1, (m, b)
            shifts.append(found[0])
    assert len(set(shifts)) > 1  # per-image parameters


def test_translate_shifts_along_the_width_only():
    x = _images(b=8)
    out = A.diffaug(x, SEEDS, STEP, "translate")
    for m in range(4):
        for b in range(8):
            assert any(torch.equal(out[m, b], _shift(x[m, b], 0, dx)) for dx in range(-4, 5))


def test_color_on_a_flat_image_adds_one_brightness_constant_per_image():
    # On a flat image the saturation and contrast steps are identities (every mean equals the
    # value), so only the brightness x + (u - 0.5), u ~ U[0, 1), is left.
    x = torch.full((4, 8, 3, 8, 8), 0.25)
    out = A.diffaug(x, SEEDS, STEP, "color")
    delta = out - x
    per_image = delta.flatten(2)
    assert torch.allclose(per_image, per_image[..., :1].expand_as(per_image), atol=1e-6)
    assert torch.all(per_image[..., 0] >= -0.5) and torch.all(per_image[..., 0] < 0.5)
    assert per_image[..., 0].unique().numel() > 1
    shared = A.diffaug(x, SEEDS, STEP, "color", shared=True).flatten(2)
    assert torch.allclose(shared, shared[:, :1, :1].expand_as(shared), atol=1e-6)  # one draw per model


def test_color_on_a_grey_image_is_brightness_then_contrast():
    # Grey pixels (equal channels): saturation is the identity, so
    # out - mean(out) = (x - mean(x)) * k with k in [0.5, 1.5), and mean(out) - mean(x) in [-0.5, 0.5).
    g = torch.Generator().manual_seed(1)
    grey = torch.rand(4, 5, 1, 8, 8, generator=g).expand(4, 5, 3, 8, 8).contiguous()
    out = A.diffaug(grey, SEEDS, STEP, "color")
    mx, mo = grey.mean(dim=(-3, -2, -1), keepdim=True), out.mean(dim=(-3, -2, -1), keepdim=True)
    k = ((out - mo) / (grey - mx)).flatten(2)
    assert torch.allclose(k, k[..., :1].expand_as(k), atol=1e-4)
    assert torch.all(k >= 0.5 - 1e-5) and torch.all(k < 1.5)
    b = (mo - mx).flatten()
    assert torch.all(b >= -0.5) and torch.all(b < 0.5)


def test_cutout_zeroes_one_clipped_16_pixel_square_per_image():
    x = torch.rand(4, 8, 3, 32, 32) + 1.0  # strictly positive, so zeros are the cutout
    out = A.diffaug(x, SEEDS, STEP, "cutout")
    full_squares = 0
    for m in range(4):
        for b in range(8):
            zero = out[m, b] == 0
            assert torch.all(zero == zero[0])  # same pixels in every channel
            assert torch.equal(out[m, b][~zero], x[m, b][~zero])
            rows = zero[0].any(1).nonzero().flatten()
            cols = zero[0].any(0).nonzero().flatten()
            h, w = len(rows), len(cols)
            assert 1 <= h <= 16 and 1 <= w <= 16
            assert int(zero[0].sum()) == h * w  # a rectangle
            assert rows[-1] - rows[0] + 1 == h and cols[-1] - cols[0] + 1 == w
            # A clipped square is shorter than 16 only where it touches the image border.
            assert h == 16 or rows[0] == 0 or rows[-1] == 31
            assert w == 16 or cols[0] == 0 or cols[-1] == 31
            full_squares += h * w == 256
    assert full_squares > 0


@pytest.mark.parametrize("op", ["scale", "rotate"])
def test_scale_and_rotate_keep_the_centre_of_a_flat_image(op):
    # |scale - 1| <= 0.2 and |angle| <= 15 degrees map the central 16x16 pixels inside the image,
    # where bilinear sampling of a constant returns the constant.
    x = torch.ones(4, 6, 3, 32, 32)
    out = A.diffaug(x, SEEDS, STEP, op)
    assert torch.allclose(out[..., 8:24, 8:24], torch.ones(()), atol=1e-5)
    assert not torch.allclose(out, x)  # zeros enter at the border for most draws


def test_one_geometric_op_is_drawn_per_model():
    # Every op uses its own stream, so with "crop_scale_rotate" each model's whole batch must equal the
    # result of exactly one single-op strategy with the same seeds and counters.
    x = _images(m=24, b=3, h=16, w=16)
    seeds = torch.arange(100, 124)
    combined = A.diffaug(x, seeds, STEP, "crop_scale_rotate")
    singles = {op: A.diffaug(x, seeds, STEP, op) for op in ("crop", "scale", "rotate")}
    picked = []
    for m in range(24):
        hits = [op for op, y in singles.items() if torch.equal(combined[m], y[m])]
        assert len(hits) == 1, (m, hits)
        picked.append(hits[0])
    assert set(picked) == {"crop", "scale", "rotate"}


@pytest.mark.parametrize("strategy", ["color_crop_flip_scale_rotate", "translate_rotate", "crop_scale_cutout"])
@pytest.mark.parametrize("shared", [False, True])
def test_cpu_path_warps_only_what_each_model_drew_with_the_same_values(monkeypatch, strategy, shared):
    """On the CPU each model's drawn op runs on that model alone; the GPU path computes every listed
    op for all models and selects. Per-image ops, so the two must agree exactly."""
    x = torch.randn(12, 5, 3, 16, 16, requires_grad=True)
    seeds = torch.arange(12) * 7 + 1
    weights = torch.randn(12, 5, 3, 16, 16)  # a loss that weighs every output pixel differently
    for step in range(4):
        cpu_path = A.diffaug(x, seeds, (2, step), strategy, shared=shared)
        (cpu_grad,) = torch.autograd.grad((cpu_path * weights).sum(), x)
        monkeypatch.setattr(A, "_reading_is_free", lambda device: False)
        select_path = A.diffaug(x, seeds, (2, step), strategy, shared=shared)
        (select_grad,) = torch.autograd.grad((select_path * weights).sum(), x)
        monkeypatch.undo()
        assert torch.equal(cpu_path, select_path)
        # Condensation differentiates through DiffAug: the gradients must agree too.
        torch.testing.assert_close(cpu_grad, select_grad)


def test_shared_parameters_are_the_same_for_the_whole_batch():
    one = _images(m=4, b=1)
    x = one.expand(4, 6, 3, 32, 32).contiguous()  # the same image six times per model
    shared = A.diffaug(x, SEEDS, STEP, A.DEFAULT_STRATEGY + "_cutout", shared=True)
    assert torch.equal(shared, shared[:, :1].expand_as(shared))
    per_image = A.diffaug(x, SEEDS, STEP, A.DEFAULT_STRATEGY, shared=False)
    assert not torch.equal(per_image, per_image[:, :1].expand_as(per_image))


# ---------------------------------------------------------------- DiffAug: batching, determinism, autograd


@pytest.mark.parametrize("shared", [False, True])
def test_models_in_a_stack_are_augmented_as_if_alone(shared):
    x = _images(m=3, b=5)
    seeds = torch.tensor([5, 6, 7])
    strategy = "color_crop_cutout_flip_scale_rotate"
    together = A.diffaug(x, seeds, STEP, strategy, shared)
    alone = torch.cat([A.diffaug(x[i : i + 1], seeds[i : i + 1], STEP, strategy, shared) for i in range(3)])
    assert torch.equal(together, alone)


def test_diffaug_is_deterministic_and_keyed_by_seed_and_counters():
    x = _images()
    a = A.diffaug(x, SEEDS, STEP)
    assert torch.equal(a, A.diffaug(x, SEEDS, STEP))
    assert not torch.equal(a, A.diffaug(x, SEEDS, (3, 6)))
    assert not torch.equal(a, A.diffaug(x, SEEDS + 1, STEP))
    assert torch.equal(A.diffaug(x, SEEDS, STEP, "none"), x)


def test_diffaug_is_differentiable_in_the_images():
    # Condensation backpropagates through DiffAug into the synthetic images.
    x = torch.randn(2, 1, 3, 5, 5, dtype=torch.float64, requires_grad=True)
    seeds = torch.tensor([1, 2])
    for strategy in ("color_crop_cutout_flip", "scale_rotate"):
        assert torch.autograd.gradcheck(lambda t, strategy=strategy: A.diffaug(t, seeds, STEP, strategy, True), (x,))
    big = _images().requires_grad_(True)
    A.diffaug(big, SEEDS, STEP, "color_crop_cutout_flip_scale_rotate").square().sum().backward()
    assert torch.isfinite(big.grad).all() and big.grad.abs().sum() > 0


# ---------------------------------------------------------------- DSA's DiffAugment (one op of all listed)


def test_dsa_augment_applies_exactly_one_listed_op_per_model_uniformly():
    # DSA (aug_mode 'S') draws one op from all six, flip/colour/cutout included, and applies only it:
    # every model's batch equals the single-op diffaug of exactly one op, and each op is about 1/6.
    m = 240
    x = _images(m=m, b=2, h=8, w=8)
    seeds = torch.arange(1000, 1000 + m)
    ops = A.DSA_STRATEGY.split("_")
    out = A.dsa_augment(x, seeds, STEP, A.DSA_STRATEGY, shared=True)
    singles = {op: A.diffaug(x, seeds, STEP, op, shared=True) for op in ops}
    counts = dict.fromkeys(ops, 0)
    for i in range(m):
        hits = [op for op, y in singles.items() if torch.equal(out[i], y[i])]
        # A draw that leaves the batch unchanged (flip's coin, a zero shift) matches several ops;
        # such models are not counted.
        assert len(hits) >= 1, i
        if len(hits) == 1:
            counts[hits[0]] += 1
    # 240 draws, p = 1/6: 40 expected per op; 15..65 is beyond 4 standard deviations (5.8).
    assert all(15 <= n <= 65 for n in counts.values()), counts
    # Colour alone is never combined with a shift: a model that drew colour has no zero border rows.
    colour_only = [i for i in range(m) if torch.equal(out[i], singles["color"][i])]
    assert colour_only and all(not torch.equal(out[i], singles["crop"][i]) for i in colour_only)


@pytest.mark.parametrize("shared", [False, True])
def test_dsa_augment_paths_agree_and_models_are_independent(monkeypatch, shared):
    x = torch.randn(12, 4, 3, 16, 16, requires_grad=True)
    seeds = torch.arange(12) * 5 + 3
    cpu_path = A.dsa_augment(x, seeds, (1, 2), shared=shared)
    monkeypatch.setattr(A, "_reading_is_free", lambda device: False)
    select_path = A.dsa_augment(x, seeds, (1, 2), shared=shared)
    monkeypatch.undo()
    assert torch.equal(cpu_path, select_path)
    alone = torch.cat([A.dsa_augment(x[i : i + 1], seeds[i : i + 1], (1, 2), shared=shared) for i in range(12)])
    assert torch.equal(cpu_path, alone)
    cpu_path.square().sum().backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_dsa_augment_siamese_draw_is_shared_by_the_batch():
    # The Siamese call: a class's real and synthetic images get one parameter set. Identical images
    # in one model's batch must therefore stay identical; per-image draws (network updates) differ.
    x = _images(m=6, b=1).expand(6, 5, 3, 32, 32).contiguous()
    seeds = torch.arange(6) + 40
    shared = A.dsa_augment(x, seeds, STEP, shared=True)
    assert torch.equal(shared, shared[:, :1].expand_as(shared))
    per_image = A.dsa_augment(x, seeds, STEP, shared=False)
    assert not torch.equal(per_image, per_image[:, :1].expand_as(per_image))
    assert torch.equal(A.dsa_augment(x, seeds, STEP, "none"), x)
    with pytest.raises(YocoError, match="blur"):
        A.dsa_augment(x, seeds, STEP, "color_blur")


def test_diffaug_input_errors_name_the_fix():
    x = _images(m=2, b=2, h=8, w=8)
    with pytest.raises(YocoError, match="valid ops: color, crop, cutout, flip, rotate, scale, translate"):
        A.diffaug(x, SEEDS[:2], STEP, "color_crop_blur")
    with pytest.raises(YocoError, match="unsqueeze"):
        A.diffaug(x[0], SEEDS[:1], STEP)
    with pytest.raises(YocoError, match="one seed per model"):
        A.diffaug(x, SEEDS, STEP)


# ---------------------------------------------------------------- CutMix


def _labelled(m=4, b=6, h=32, w=32):
    # Image b of every model is the constant b + 1, so pasted pixels reveal their source.
    values = torch.arange(1, b + 1, dtype=torch.float32)
    x = values[None, :, None, None, None].expand(m, b, 3, h, w).contiguous()
    y = torch.arange(b).expand(m, b).contiguous()
    return x, y


def test_cutmix_with_p0_changes_nothing():
    x, y = _labelled()
    xm, yp, ratio = A.cutmix(x, y, SEEDS, STEP, p=0.0)
    assert torch.equal(xm, x) and torch.equal(yp, y) and torch.equal(ratio, torch.ones(4))


def test_cutmix_with_p1_pastes_one_box_from_a_permutation_and_ratio_is_its_area():
    x, y = _labelled()
    xm, yp, ratio = A.cutmix(x, y, SEEDS, STEP, p=1.0)
    for m in range(4):
        assert sorted(yp[m].tolist()) == list(range(6))  # partners form a permutation
        box = None
        for b in range(6):
            partner = int(yp[m, b])
            from_partner = xm[m, b, 0] == partner + 1
            assert torch.all((xm[m, b, 0] == b + 1) | from_partner)  # only own or partner pixels
            assert torch.all(xm[m, b] == xm[m, b, :1])  # all channels alike
            if partner != b:
                box = from_partner if box is None else box
                assert torch.equal(from_partner, box)  # one box per model
        assert box is not None
        area = int(box.sum())
        assert ratio[m].item() == pytest.approx(1 - area / (32 * 32), abs=1e-7)
        assert ratio[m] < 1


def test_cutmix_box_follows_rand_bbox():
    # Recompute the reference's box from the same draws: cut = sqrt(1 - lam); half-sides int(32 cut) // 2
    # around the centre; clipped to [0, 32].
    x, y = _labelled(m=4, b=4, h=32, w=24)
    _, _, ratio = A.cutmix(x, y, SEEDS, STEP, p=1.0)
    lam = rng.uniform(SEEDS, (rng.CUTMIX, 0, *STEP), (2,))[:, 1].double()
    ch = rng.integers(SEEDS, (rng.CUTMIX, 1, *STEP), (), 0, 31)
    cw = rng.integers(SEEDS, (rng.CUTMIX, 2, *STEP), (), 0, 23)
    for m in range(4):
        cut = math.sqrt(1.0 - lam[m].item())
        hh, hw = int(32 * cut) // 2, int(24 * cut) // 2
        rows = min(int(ch[m]) + hh, 32) - max(int(ch[m]) - hh, 0)
        cols = min(int(cw[m]) + hw, 24) - max(int(cw[m]) - hw, 0)
        assert ratio[m].item() == pytest.approx(1 - rows * cols / (32 * 24), abs=1e-7)


def test_cutmix_mixes_about_p_of_the_models_and_models_are_independent():
    x, y = _labelled(m=64, b=4, h=8, w=8)
    seeds = torch.arange(64)
    _, yp, ratio = A.cutmix(x, y, seeds, STEP, p=0.5)
    mixed = ~torch.all(yp == y, dim=1) | (ratio < 1)
    assert 16 <= int(mixed.sum()) <= 48
    alone = [A.cutmix(x[i : i + 1], y[i : i + 1], seeds[i : i + 1], STEP, p=0.5) for i in (0, 17, 40)]
    together = A.cutmix(x, y, seeds, STEP, p=0.5)
    for i, (xa, ya, ra) in zip((0, 17, 40), alone):
        assert torch.equal(together[0][i], xa[0]) and torch.equal(together[1][i], ya[0])
        assert torch.equal(together[2][i], ra[0])


def test_cutmix_rejects_unsupported_arguments():
    x, y = _labelled(m=2, b=2, h=8, w=8)
    with pytest.raises(YocoError, match="beta"):
        A.cutmix(x, y, SEEDS[:2], STEP, beta=0.5)
    with pytest.raises(YocoError, match=r"\[2, 2\]"):
        A.cutmix(x, y[:, :1], SEEDS[:2], STEP)


def test_mixed_cross_entropy_equals_the_hand_formula():
    # Two classes with logits (0, ln 3): p = (1/4, 3/4), so CE(class 0) = ln 4 and CE(class 1) = ln 4/3.
    logits = torch.tensor([0.0, math.log(3.0)]).expand(2, 5, 2)
    y = torch.zeros(2, 5, dtype=torch.long)
    yp = torch.ones(2, 5, dtype=torch.long)
    ratio = torch.tensor([0.25, 1.0])
    loss = A.mixed_cross_entropy(logits, y, yp, ratio)
    expected = [0.25 * math.log(4) + 0.75 * math.log(4 / 3), math.log(4)]
    assert loss.tolist() == pytest.approx(expected, abs=1e-6)


# ---------------------------------------------------------------- ImageNet transforms and normalize


def test_normalize_works_on_any_leading_axes():
    x = torch.tensor([0.485, 0.456, 0.406])[:, None, None].expand(2, 3, 3, 4, 4)
    assert torch.allclose(A.normalize(x, A.IMAGENET_MEAN, A.IMAGENET_STD), torch.zeros(()), atol=1e-7)
    ones = A.normalize(torch.ones(5, 3, 2, 2), (0.0, 0.5, 1.0), (1.0, 0.5, 2.0))
    assert ones[:, :, 0, 0].unique(dim=0).tolist() == [[1.0, 1.0, 0.0]]
    with pytest.raises(YocoError, match="one per channel"):
        A.normalize(torch.ones(1, 3, 2, 2), (0.0,), (1.0,))


def test_resized_crop_resampling_equals_interpolate_on_the_crop():
    x = torch.rand(1, 1, 3, 20, 24)
    t = lambda v: torch.tensor([[v]])  # noqa: E731
    out = A._resample_axis(x, t(3), t(11), 20, -2)
    out = A._resample_axis(out, t(5), t(13), 24, -1)
    ref = F.interpolate(x[0, :, :, 3:14, 5:18], size=(20, 24), mode="bilinear", align_corners=False)
    assert torch.allclose(out[0], ref, atol=1e-6)


def test_imagenet_augment_on_a_flat_grey_image():
    # Crop, flip, contrast and saturation leave a flat grey image flat and grey; brightness scales it by
    # (1 - a), a in [-0.4, 0.4); lighting then adds one constant per channel. So every output channel
    # is constant, and before lighting the value was in (0.3, 0.7].
    x = torch.full((2, 3, 3, 32, 32), 0.5)
    out = A.imagenet_augment(x, SEEDS[:2], STEP)
    pixel = out * torch.tensor(A.IMAGENET_STD)[:, None, None] + torch.tensor(A.IMAGENET_MEAN)[:, None, None]
    flat = pixel.flatten(3)
    assert torch.allclose(flat, flat[..., :1].expand_as(flat), atol=1e-5)
    # Lighting moves channel values by eigvec @ (a * eigval); |a| < 0.5 except with negligible chance.
    assert torch.all(flat[..., 0] > 0.3 - 0.2) and torch.all(flat[..., 0] < 0.7 + 0.2)


def test_imagenet_augment_batches_models_independently_and_deterministically():
    x = torch.rand(3, 2, 3, 32, 32)
    seeds = torch.tensor([1, 2, 3])
    together = A.imagenet_augment(x, seeds, STEP)
    alone = torch.cat([A.imagenet_augment(x[i : i + 1], seeds[i : i + 1], STEP) for i in range(3)])
    assert torch.equal(together, alone)
    assert torch.equal(together, A.imagenet_augment(x, seeds, STEP))
    assert not torch.equal(together, A.imagenet_augment(x, seeds, (0, 0)))
    assert together.shape == x.shape
