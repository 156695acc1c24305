"""Multi-formation decode, its index maps and IDC's mix initialisation (reference-spec §1.3, §1.4)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from yoco import formation as D
from yoco.errors import YocoError


def _code(c, k, m):
    # A value in [0, 1] that names (class, position, stored image) uniquely for small indices.
    return (100 * c + 10 * k + m) / 1000.0


def _encoded_stored(classes: int, ipc: int, factor: int, side: int) -> torch.Tensor:
    """Stored images whose position k of image (c, m) is the constant _code(c, k, m)."""
    s = side // factor
    x = torch.empty(classes * ipc, 3, side, side)
    for c in range(classes):
        for m in range(ipc):
            for i in range(factor):
                for j in range(factor):
                    x[c * ipc + m, :, i * s : (i + 1) * s, j * s : (j + 1) * s] = _code(c, i * factor + j, m)
    return x


def test_decoded_patches_carry_their_own_c_k_m():
    classes, ipc, f, h = 3, 2, 2, 8
    out = D.decode(_encoded_stored(classes, ipc, f, h), ipc, f)
    assert out.shape == (classes * ipc * f * f, 3, h, h)
    for d in range(len(out)):
        c, k, m = D.locate(d, ipc, f)
        # A constant crop stays constant under bilinear resizing.
        torch.testing.assert_close(out[d], torch.full((3, h, h), _code(c, k, m)), atol=1e-6, rtol=0)


def test_decode_f3_order_and_golden_index():
    ipc, f, h = 2, 3, 9
    out = D.decode(_encoded_stored(2, ipc, f, h), ipc, f)
    # d = c*ipc*f^2 + k*ipc + m: class 1, position 4 (centre), image 1 -> 18 + 8 + 1 = 27.
    assert D.decoded_index(1, 4, 1, ipc, f) == 27
    assert float(out[27, 0, 0, 0]) == pytest.approx(_code(1, 4, 1), abs=1e-6)
    # Consecutive indices are the same position of consecutive stored images.
    assert float(out[26, 0, 5, 5]) == pytest.approx(_code(1, 4, 0), abs=1e-6)


def test_bilinear_resize_matches_hand_computation():
    # 4x4 image, f=2: the top-left 2x2 crop has rows [0, 0] and [1, 1]. Resizing 2 -> 4 with
    # align_corners=False samples source rows -0.25 (clamped to 0), 0.25, 0.75, 1.25 (clamped to 1),
    # i.e. 0, 0.25, 0.75, 1.
    img = torch.zeros(1, 3, 4, 4)
    img[:, :, 1, 0:2] = 1.0
    out = D.decode(img, ipc=1, factor=2)
    expected_rows = torch.tensor([0.0, 0.25, 0.75, 1.0])
    torch.testing.assert_close(out[0, 0], expected_rows[:, None].expand(4, 4), atol=1e-6, rtol=0)


def test_padding_with_grey_when_side_not_divisible():
    # h=7, f=3: pad 2 pixels of 0.5 to 9, crops of 3. The last crop (k=8) holds one real pixel at its
    # top-left and padding elsewhere; after resizing to 7 the corner pixels sample source pixels 0 and 2.
    img = torch.ones(1, 3, 7, 7)
    out = D.decode(img, ipc=1, factor=3)
    assert out.shape == (9, 3, 7, 7)
    torch.testing.assert_close(out[0], torch.ones(3, 7, 7))  # k=0 lies fully inside the image
    assert float(out[8, 0, 0, 0]) == 1.0
    assert float(out[8, 0, 6, 6]) == 0.5
    assert float(out[2, 0, 0, 6]) == 0.5  # k=2: right column block, padded columns
    assert float(out[2, 0, 6, 0]) == 1.0  # but its rows are all real
    assert float(out[6, 0, 6, 0]) == 0.5  # k=6: bottom row block


def test_factor_one_is_a_copy():
    x = torch.rand(4, 3, 5, 5)
    y = D.decode(x, ipc=2, factor=1)
    assert torch.equal(x, y) and y.data_ptr() != x.data_ptr()


def test_inverse_maps_round_trip_for_every_index():
    classes, ipc, f = 4, 3, 3
    n = classes * ipc * f * f
    d = np.arange(n)
    c, k, m = D.locate(d, ipc, f, num_classes=classes)
    np.testing.assert_array_equal(D.decoded_index(c, k, m, ipc, f), d)
    np.testing.assert_array_equal(D.stored_index(d, ipc, f), c * ipc + m)
    labels = D.decoded_labels(classes, ipc, f)
    assert labels.dtype == np.int64
    np.testing.assert_array_equal(labels, c)
    blocks = D.class_blocks(classes, ipc, f)
    assert blocks[1] == range(27, 54)
    for cls, block in enumerate(blocks):
        assert set(np.flatnonzero(labels == cls)) == set(block)


def test_scalar_locate_and_stored_index():
    # ipc 10, f 2 (CIFAR-10 IPC 10): d = 47 -> class 1 (40 per class), r = 7 -> k 0, m 7.
    assert D.locate(47, 10, 2) == (1, 0, 7)
    assert D.stored_index(47, 10, 2) == 17
    assert D.locate(75, 10, 2) == (1, 3, 5)


@pytest.mark.parametrize(
    "call",
    [
        lambda: D.decode(torch.rand(3, 8, 8), 1, 2),  # rank
        lambda: D.decode(torch.rand(5, 3, 8, 8), 2, 2),  # not classes x ipc
        lambda: D.decode(torch.rand(2, 3, 8, 6), 1, 2),  # not square
        lambda: D.decode(torch.zeros(2, 3, 8, 8, dtype=torch.uint8), 1, 2),  # integer pixels
        lambda: D.decode(torch.rand(2, 3, 8, 8), 1, 0),  # factor
        lambda: D.decode(torch.rand(2, 3, 8, 8), 0, 2),  # ipc
        lambda: D.decoded_index(0, 4, 0, 2, 2),  # k out of range
        lambda: D.decoded_index(0, 0, 2, 2, 2),  # m out of range
        lambda: D.locate(-1, 2, 2),
        lambda: D.locate(8, 1, 2, num_classes=2),
    ],
)
def test_bad_input_raises_yoco_error(call):
    with pytest.raises(YocoError):
        call()


def _constant_real(classes: int, n: int, side: int) -> list[torch.Tensor]:
    return [
        torch.arange(n, dtype=torch.float32).add(100 * c).div(1000).view(n, 1, 1, 1).expand(n, 3, side, side).clone()
        for c in range(classes)
    ]


def test_mix_init_then_decode_gives_back_the_real_images():
    classes, ipc, f, h = 2, 2, 2, 8
    real = _constant_real(classes, ipc * f * f + 1, h)  # one surplus image that must be ignored
    stored = D.mix_init(real, ipc, f)
    assert stored.shape == (classes * ipc, 3, h, h)
    out = D.decode(stored, ipc, f)
    for d in range(len(out)):
        c, k, m = D.locate(d, ipc, f)
        # position k of stored image m holds real image k*ipc + m of the class
        expected = (100 * c + k * ipc + m) / 1000
        torch.testing.assert_close(out[d], torch.full((3, h, h), expected), atol=1e-6, rtol=0)


def test_mix_init_uneven_sizes_align_with_padded_crops():
    # h=8, f=3: positions 3, 3, 2 pixels (8 // 3 = 2, one extra for the first 8 % 3 = 2); decode pads
    # one pixel to 9 and crops 3, so every crop starts where its position starts.
    ipc, f, h = 1, 3, 8
    real = _constant_real(1, 9, h)
    stored = D.mix_init(real, ipc, f)
    bounds = [0, 3, 6, 8]
    for i in range(3):
        for j in range(3):
            region = stored[0, :, bounds[i] : bounds[i + 1], bounds[j] : bounds[j + 1]]
            assert torch.all(region == (i * 3 + j) / 1000)
    out = D.decode(stored, ipc, f)
    for k in range(9):
        assert float(out[k, 0, 0, 0]) == pytest.approx(k / 1000, abs=1e-7)
    torch.testing.assert_close(out[4], torch.full((3, h, h), 4 / 1000))  # the centre touches no padding


def test_mix_init_downsamples_with_nearest_neighbour():
    # Nearest 4 -> 2 takes source pixels floor(dst * 2) = 0 and 2 in each direction.
    img = torch.arange(16, dtype=torch.float32).view(1, 1, 4, 4).expand(4, 3, 4, 4).clone() / 16
    stored = D.mix_init([img], ipc=1, factor=2)
    expected = torch.tensor([[0.0, 2.0], [8.0, 10.0]]) / 16
    torch.testing.assert_close(stored[0, 0, 0:2, 0:2], expected)
    torch.testing.assert_close(stored[0, 1, 2:4, 2:4], expected)  # position 3 = real image 3, same content


def test_mix_init_needs_enough_images():
    with pytest.raises(YocoError, match="needs 8"):
        D.mix_init(_constant_real(2, 7, 8), ipc=2, factor=2)
