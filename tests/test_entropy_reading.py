"""benchmarks/entropy_reading.py: the nearest-real distance of (a) and the se of a difference, on hand-built
points whose distances are read off by hand."""

import math
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from yoco.errors import YocoError

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
try:
    import entropy_reading as er
finally:
    sys.path.pop(0)


def _images(points):
    """2-D points as [n, 1, 1, 2] "images": their L2 distance is the distance of the points."""
    return torch.tensor(points, dtype=torch.float32).reshape(len(points), 1, 1, 2)


# Real images, classes interleaved (labels need not be class-major): class 0 at (0, 0) and (3, 4),
# class 1 at (10, 0) and (10, 1).
REAL = _images([[0, 0], [10, 0], [3, 4], [10, 1]])
REAL_Y = np.array([0, 1, 0, 1])


def test_nearest_real_of_the_same_class():
    queries = _images([[0, 1], [3, 0], [0, 0], [10, 0.5]])
    labels = np.array([0, 0, 1, 1])
    d = er.nearest_distances(queries, labels, REAL, REAL_Y)
    # (0,1)->(0,0): 1; (3,0)->(0,0): 3, not (3,4): 4; class 1's (0,0) sits on class 0's (0,0) but its own
    # class is 10 away; (10,0.5) is 0.5 from both class-1 images.
    np.testing.assert_allclose(d, [1, 3, 10, 0.5])


def test_nearest_other_real_image_excludes_itself():
    d = er.nearest_distances(REAL, REAL_Y, REAL, REAL_Y, exclude_self=True)
    # class 0: (0,0) and (3,4) are 5 apart (a 3-4-5 triangle); class 1: 1 apart.
    np.testing.assert_allclose(d, [5, 1, 5, 1])
    # Without the exclusion every image finds itself.
    np.testing.assert_allclose(er.nearest_distances(REAL, REAL_Y, REAL, REAL_Y), [0, 0, 0, 0])


def test_nearest_distance_refuses_what_it_cannot_compare():
    with pytest.raises(YocoError, match="class 2 has no reference"):
        er.nearest_distances(_images([[0, 0]]), np.array([2]), REAL, REAL_Y)
    with pytest.raises(YocoError, match="class 0 has no reference"):  # one image of its class: no "other"
        er.nearest_distances(REAL[:2], REAL_Y[:2], REAL[:2], REAL_Y[:2], exclude_self=True)
    with pytest.raises(YocoError, match="same images"):
        er.nearest_distances(REAL[:3], REAL_Y[:3], REAL, REAL_Y, exclude_self=True)


def test_difference_and_its_standard_error():
    # a = (1, 3): mean 2, sd sqrt(2), se 1; b = (0, 0, 0): se 0 -> 2 ± 1. b = (1, 2, 3): mean 2, se 1/sqrt(3).
    assert er.diff_se([1, 3], [0, 0, 0]) == pytest.approx((2, 1))
    assert er.diff_se([1, 3], [1, 2, 3]) == pytest.approx((0, math.sqrt(1 + 1 / 3)))


def test_formation_floor_is_the_resolution_lost_by_the_formation():
    from yoco.data import RealData

    # 2 classes x 4 images of 4x4 px (factor 2 needs 4 per class). Class 0's first image is black on its left
    # half and white on its right; every other image is one flat colour, which the formation keeps exactly.
    x = np.zeros((8, 4, 4, 3), dtype=np.uint8)
    x[0, :, 2:] = 255
    x[1:4] = 255
    real = RealData(
        name="cifar10",
        x_train=x,
        y_train=np.repeat([0, 1], 4),
        x_test=x[:2],
        y_test=np.array([0, 1]),
        class_names=["a", "b"],
        mean=(0.5, 0.5, 0.5),
        std=(0.25, 0.25, 0.25),
    )
    d = er.formation_floor(real, 2)
    # Each row 0 0 1 1 goes to 0 1 (nearest, every second pixel) and back to 0 .25 .75 1 (bilinear,
    # align_corners=False): 0.25² twice per row, 4 rows, 3 channels = 1.5, over std 0.25 once normalised.
    # Its nearest real image is its source (the white ones are farther); flat images come back unchanged.
    np.testing.assert_allclose(d, [math.sqrt(1.5) / 0.25, 0, 0, 0, 0, 0, 0, 0], atol=1e-6)
