"""Real datasets: digits (embedded), npz caches, CIFAR from ../shared/data, ImageNet-10 trees."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from yoco import data as Dt
from yoco.errors import YocoError

# Same file as the `cifar_mini` fixture of conftest.py, which skips the test when it is absent.
CIFAR_MINI = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "cifar10-mini.npz"


def test_digits_shapes_split_and_classes():
    d = Dt.load_real("digits")
    # sklearn's digits: 178 182 177 183 181 182 181 179 174 180 images per class. round(0.3 * n) go to
    # test: 53 55 53 55 54 55 54 54 52 54 = 539; the other 1797 - 539 = 1258 train.
    assert d.x_train.shape == (1258, 16, 16, 3) and d.x_train.dtype == np.uint8
    assert d.x_test.shape == (539, 16, 16, 3)
    np.testing.assert_array_equal(np.bincount(d.y_test), [53, 55, 53, 55, 54, 55, 54, 54, 52, 54])
    np.testing.assert_array_equal(np.bincount(d.y_train), [125, 127, 124, 128, 127, 127, 127, 125, 122, 126])
    assert d.y_train.dtype == np.int64
    assert d.class_names == [str(c) for c in range(10)]
    assert d.num_classes == 10 and d.image_size == 16
    # grey digits replicated to three identical channels
    assert np.array_equal(d.x_train[..., 0], d.x_train[..., 2])


def test_digits_is_deterministic_and_keeps_dataset_order():
    from sklearn.datasets import load_digits

    a, b = Dt.load_real("digits", image_size=8), Dt.load_real("digits", image_size=8)
    assert np.array_equal(a.x_train, b.x_train) and np.array_equal(a.y_test, b.y_test)
    # At 8x8 no resizing happens: pixel = round(v / 16 * 255). Every raw image must reappear once,
    # train and test each in the original order.
    raw = load_digits()
    expected = np.round(raw.images / 16.0 * 255.0).astype(np.uint8)
    both = np.concatenate([a.x_train[..., 0], a.x_test[..., 0]])
    assert sorted(map(bytes, both)) == sorted(map(bytes, expected))
    train_pos = [
        next(i for i in range(len(expected)) if np.array_equal(expected[i], x) and raw.target[i] == y)
        for x, y in zip(a.x_train[:20, :, :, 0], a.y_train[:20])
    ]
    assert train_pos == sorted(train_pos)


def test_digits_normalisation_is_train_statistics():
    d = Dt.load_real("digits")
    v = d.x_train.astype(np.float64) / 255
    assert d.mean == pytest.approx((v.mean(),) * 3)
    assert d.std == pytest.approx((v.std(),) * 3)


def test_npz_round_trip(tmp_path):
    d = Dt.load_real("digits", image_size=8)
    path = Dt.save_real_npz(d, tmp_path / "sub" / "digits.npz")
    assert [p.name for p in path.parent.iterdir()] == ["digits.npz"]  # no temporary left behind
    e = Dt.load_real("digits", npz=path)
    for key in ("x_train", "y_train", "x_test", "y_test"):
        assert np.array_equal(getattr(d, key), getattr(e, key))
    assert e.class_names == d.class_names and e.mean == d.mean and e.std == d.std
    with pytest.raises(YocoError, match="holds dataset 'digits'"):
        Dt.load_real("cifar10", npz=path)
    with pytest.raises(YocoError, match="does not exist"):
        Dt.load_real("digits", npz=tmp_path / "nope.npz")


def test_test_per_class_keeps_the_first_test_images_of_each_class():
    full = Dt.load_real("digits", image_size=8)
    d = Dt.load_real("digits", image_size=8, test_per_class=3)
    np.testing.assert_array_equal(np.bincount(d.y_test), [3] * 10)
    # The first 3 of each class in dataset order, in dataset order overall; train is untouched.
    expected = np.sort(np.concatenate([np.flatnonzero(full.y_test == c)[:3] for c in range(10)]))
    np.testing.assert_array_equal(d.x_test, full.x_test[expected])
    np.testing.assert_array_equal(d.y_test, full.y_test[expected])
    assert np.array_equal(d.x_train, full.x_train)
    with pytest.raises(YocoError, match="class 8 has only 52"):
        Dt.load_real("digits", test_per_class=53)


def test_train_per_class_keeps_the_first_training_images_of_each_class(tmp_path):
    from yoco import grid
    from yoco.cli import main

    full = Dt.load_real("digits", image_size=8)
    d = Dt.load_real("digits", image_size=8, train_per_class=4)
    np.testing.assert_array_equal(np.bincount(d.y_train), [4] * 10)
    expected = np.sort(np.concatenate([np.flatnonzero(full.y_train == c)[:4] for c in range(10)]))
    np.testing.assert_array_equal(d.x_train, full.x_train[expected])
    np.testing.assert_array_equal(d.y_train, full.y_train[expected])
    assert np.array_equal(d.x_test, full.x_test) and np.array_equal(d.y_test, full.y_test)
    # The smallest training class (8) has 122 images, see test_digits_shapes_split_and_classes.
    with pytest.raises(YocoError, match="train_per_class=123, but class 8 has only 122 train images"):
        Dt.load_real("digits", train_per_class=123)
    # The config key reaches `yoco data` through the workflow's arguments, and the cache holds the cut.
    config = {"datasets": {"digits": {"image_size": 8, "train_per_class": 4, "test_per_class": 3}}}
    args = grid.data_args(config, "digits").split()
    assert args[args.index("--train-per-class") + 1] == "4"
    assert main(["data", *args, "--out", str(tmp_path / "d.npz")]) == 0
    cached = Dt.load_real("digits", npz=tmp_path / "d.npz")
    assert np.array_equal(cached.x_train, d.x_train) and np.array_equal(np.bincount(cached.y_test), [3] * 10)
    # A per-image extra of a split (the mini CIFAR-10's test_is_jpeg) is cut with its images.
    flags = np.arange(len(full.y_test)) % 2 == 1
    Dt.save_real_npz(Dt.RealData(**{**vars(full), "extras": {"test_is_jpeg": flags}}), tmp_path / "e.npz")
    cut = Dt.load_real("digits", npz=tmp_path / "e.npz", test_per_class=3, train_per_class=4)
    first3 = np.sort(np.concatenate([np.flatnonzero(full.y_test == c)[:3] for c in range(10)]))
    np.testing.assert_array_equal(cut.extras["test_is_jpeg"], flags[first3])


def test_cifar_from_shared_npz(cifar_mini):
    d = Dt.load_real("cifar10", npz=CIFAR_MINI)
    assert d.x_train.shape == (5000, 32, 32, 3) and d.x_test.shape == (3000, 32, 32, 3)
    assert d.class_names[0] == "airplane" and d.class_names[9] == "truck"
    assert (d.mean, d.std) == Dt.NORMALIZATION["cifar10"]
    assert np.array_equal(np.bincount(d.y_train), [500] * 10)
    assert d.extras["test_is_jpeg"].shape == (3000,)
    imgs = Dt.class_images(d, per_class=3)
    assert len(imgs) == 10 and imgs[4].shape == (3, 3, 32, 32)
    first_deer = cifar_mini["x_train"][np.flatnonzero(cifar_mini["y_train"] == 4)[:3]]
    torch.testing.assert_close(imgs[4], torch.from_numpy(first_deer).permute(0, 3, 1, 2).float() / 255)
    small = Dt.load_real("cifar10", npz=CIFAR_MINI, image_size=16)
    assert small.x_train.shape == (5000, 16, 16, 3) and small.x_test.shape == (3000, 16, 16, 3)


def test_class_images_errors_when_too_few():
    d = Dt.load_real("digits", image_size=8)
    with pytest.raises(YocoError, match="class 8"):
        Dt.class_images(d, per_class=123)  # class 8 has only 122 training images
    assert [len(t) for t in Dt.class_images(d)] == list(np.bincount(d.y_train))


def test_to_tensor():
    x = np.zeros((1, 2, 2, 3), dtype=np.uint8)
    x[0, 1, 0, 2] = 255
    x[0, 0, 1, 0] = 51
    t = Dt.to_tensor(x)
    assert t.shape == (1, 3, 2, 2) and t.dtype == torch.float32
    assert float(t[0, 2, 1, 0]) == 1.0 and float(t[0, 0, 0, 1]) == pytest.approx(0.2)
    with pytest.raises(YocoError, match="uint8"):
        Dt.to_tensor(x.astype(np.float32))


def test_imagenet_missing_tree_explains_layout(tmp_path):
    with pytest.raises(YocoError) as err:
        Dt.load_real("imagenet10", root=tmp_path)
    msg = str(err.value)
    assert "train/<wnid>" in msg and "val/<wnid>" in msg and "n02869837" in msg and "n01773797" in msg


def test_imagenet_tree_labels_follow_wnid_order(tmp_path):
    from PIL import Image

    for split in ("train", "val"):
        for label, wnid in enumerate(Dt.IMAGENET10_WNIDS):
            folder = tmp_path / split / wnid
            folder.mkdir(parents=True)
            # 12x8 image whose colour names its class; Resize(8) + CenterCrop(8) keeps the colour
            Image.new("RGB", (12, 8), (label * 20, 0, 0)).save(folder / "a.png")
    d = Dt.load_real("imagenet10", root=tmp_path, image_size=8)
    assert d.x_train.shape == (10, 8, 8, 3) and d.x_test.shape == (10, 8, 8, 3)
    np.testing.assert_array_equal(d.y_train, np.arange(10))
    np.testing.assert_array_equal(d.x_test[:, 4, 4, 0], np.arange(10) * 20)
    assert d.class_names[6] == "vacuum cleaner"
    assert (d.mean, d.std) == Dt.NORMALIZATION["imagenet10"]


def test_unknown_dataset_suggests_closest():
    with pytest.raises(YocoError, match="cifar10"):
        Dt.load_real("cifar-10")
