"""Condensed sets: the five original file formats, the canonical file, validation, normalisation."""

from __future__ import annotations

import hashlib

import pytest
import torch

from yoco import condensed as CS
from yoco.data import NORMALIZATION
from yoco.errors import YocoError

C, IPC, H = 3, 2, 8
CLASS_MAJOR = torch.tensor([0, 0, 1, 1, 2, 2])


def _pixels(seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(C * IPC, 3, H, H, generator=g)


def _pixel_set(**kw) -> CS.CondensedSet:
    args = dict(
        images=_pixels(),
        labels=CLASS_MAJOR.clone(),
        ipc=IPC,
        factor=2,
        value_space="pixel01",
        dataset="cifar10",
        condenser="idc",
    )
    args.update(kw)
    return CS.CondensedSet(**args)


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_idc_list_format(tmp_path):
    path = tmp_path / "data.pt"
    images = _pixels()
    torch.save([images, CLASS_MAJOR], path)
    cs = CS.load_condensed(path, "idc", "cifar10")
    assert (cs.ipc, cs.factor, cs.value_space, cs.num_classes) == (2, 2, "pixel01", 3)
    assert torch.equal(cs.images, images) and torch.equal(cs.labels, CLASS_MAJOR)
    # The file records no factor: the CIFAR default was assumed, and the provenance says so.
    assert cs.provenance == {"format": "idc", "source": str(path), "sha256": _sha(path), "factor_assumed": 2}
    assert cs.num_decoded == 24  # 3 classes x 2 ipc x 2^2 patches
    with pytest.raises(YocoError, match="ipc=5"):
        CS.load_condensed(path, "idc", "cifar10", ipc=5)


def test_dream_defaults_and_dtype_cast(tmp_path):
    path = tmp_path / "data.pt"
    # 12 px: ImageNet's default factor 3 leaves 4-px patches, the smallest a factor may leave.
    torch.save([torch.rand(6, 3, 12, 12, dtype=torch.float64), CLASS_MAJOR], path)
    cs = CS.load_condensed(path, "dream", "imagenet10")
    assert cs.factor == 3 and cs.condenser == "dream" and cs.images.dtype == torch.float32
    # integer pixel tensors are cast to float32, as the reference does
    torch.save([torch.ones(6, 3, H, H, dtype=torch.int64), CLASS_MAJOR], path)
    assert CS.load_condensed(path, "dream", "cifar100").images.dtype == torch.float32
    with pytest.raises(YocoError, match="pass factor="):
        CS.load_condensed(path, "idc", "digits")
    assert CS.load_condensed(path, "idc", "digits", factor=2).factor == 2


def test_mtt_folder_or_file(tmp_path):
    images = torch.randn(6, 3, H, H) * 2
    torch.save(images, tmp_path / "images_best.pt")
    torch.save(CLASS_MAJOR, tmp_path / "labels_best.pt")
    for path in (tmp_path, tmp_path / "images_best.pt"):
        cs = CS.load_condensed(path, "mtt", "cifar10")
        assert (cs.value_space, cs.factor, cs.ipc) == ("normalized", 1, 2)
        assert torch.equal(cs.images, images)
        assert cs.provenance["labels_sha256"] == _sha(tmp_path / "labels_best.pt")
    with pytest.raises(YocoError, match="factor must be 1"):
        CS.load_condensed(tmp_path, "mtt", "cifar10", factor=2)
    (tmp_path / "labels_best.pt").unlink()
    with pytest.raises(YocoError, match="labels_best.pt"):
        CS.load_condensed(tmp_path, "mtt", "cifar10")


def test_mtt_files_with_a_prefix(tmp_path):
    images = torch.randn(6, 3, H, H)
    torch.save(images, tmp_path / "mtt_images_best.pt")
    torch.save(CLASS_MAJOR, tmp_path / "mtt_labels_best.pt")
    for path in (tmp_path, tmp_path / "mtt_images_best.pt"):
        cs = CS.load_condensed(path, "mtt", "cifar10")
        assert torch.equal(cs.images, images)
        assert cs.provenance["labels_source"] == str(tmp_path / "mtt_labels_best.pt")
    # Two candidate pairs in one folder: the user must say which.
    torch.save(images, tmp_path / "zca_images_best.pt")
    with pytest.raises(YocoError, match="several image files"):
        CS.load_condensed(tmp_path, "mtt", "cifar10")
    (tmp_path / "mtt_labels_best.pt").unlink()
    with pytest.raises(YocoError, match="mtt_labels_best.pt"):
        CS.load_condensed(tmp_path / "mtt_images_best.pt", "mtt", "cifar10")


def test_sets_stored_in_another_class_order_become_class_major(tmp_path):
    # DSA's later experiment stored class by class in another order (labels 2, 0, 1, 2, 0, 1): the
    # reference does not require class-major files, so the importer sorts stably by label.
    path = tmp_path / "data.pt"
    shuffled = torch.tensor([2, 0, 1, 2, 0, 1])
    images = torch.arange(6.0).view(6, 1, 1, 1).expand(6, 3, H, H).contiguous()
    torch.save({"data": [[torch.zeros(6, 3, H, H), CLASS_MAJOR], [images, shuffled]]}, path)
    cs = CS.load_condensed(path, "dsa", "cifar10", dsa_experiment=-1)
    assert torch.equal(cs.labels, CLASS_MAJOR)
    # Class 0 was at file positions 1 and 4, class 1 at 2 and 5, class 2 at 0 and 3 (file order kept).
    assert cs.provenance["file_order"] == [1, 4, 2, 5, 0, 3]
    assert cs.images[:, 0, 0, 0].tolist() == [1.0, 4.0, 2.0, 5.0, 0.0, 3.0]
    assert "file_order" not in CS.load_condensed(path, "dsa", "cifar10").provenance


def test_dsa_experiment_choice(tmp_path):
    path = tmp_path / "data.pt"
    first, last = torch.zeros(6, 3, H, H), torch.ones(6, 3, H, H)
    torch.save(
        {
            "data": [[first, CLASS_MAJOR], [torch.full((6, 3, H, H), 0.5), CLASS_MAJOR], [last, CLASS_MAJOR]],
            "accs_all_exps": {"ConvNet": [0.5, 0.6, 0.7]},
        },
        path,
    )
    cs = CS.load_condensed(path, "dsa", "cifar10")  # YOCO: experiment 0
    assert torch.equal(cs.images, first) and cs.value_space == "normalized" and cs.factor == 1
    assert cs.provenance["dsa_experiment"] == 0
    assert torch.equal(CS.load_condensed(path, "dsa", "cifar10", dsa_experiment=-1).images, last)  # IDC: last
    with pytest.raises(YocoError, match="3 experiments"):
        CS.load_condensed(path, "dsa", "cifar10", dsa_experiment=3)


def test_kip_nhwc_and_one_hot(tmp_path):
    path = tmp_path / "data.pt"
    nhwc = torch.randn(6, H, H, 3)
    nhwc[4, 1, 6, 2] = 7.0  # image 4, row 1, column 6, blue channel
    one_hot = torch.zeros(6, 10)
    one_hot[torch.arange(6), CLASS_MAJOR] = 0.9  # learned labels: argmax decides
    one_hot[:, 9] = 0.1
    torch.save((nhwc, one_hot), path)
    cs = CS.load_condensed(path, "kip", "cifar10")
    assert cs.images.shape == (6, 3, H, H) and float(cs.images[4, 2, 1, 6]) == 7.0
    assert torch.equal(cs.labels, CLASS_MAJOR) and cs.value_space == "zca" and cs.factor == 1


def test_missing_file_names_layout_and_sources(tmp_path):
    with pytest.raises(YocoError) as err:
        CS.load_condensed(tmp_path / "idc" / "data.pt", "idc", "cifar10", ipc=10)
    msg = str(err.value)
    assert "'idc'" in msg and "raid/condensed_img" in msg and "mix_ipc10/data.pt" in msg
    assert "README" in msg and "yoco condense" in msg


def test_unknown_format_suggests_closest(tmp_path):
    with pytest.raises(YocoError, match="Did you mean 'dsa'"):
        CS.load_condensed(tmp_path / "x.pt", "dsaa", "cifar10")


def test_canonical_round_trip(tmp_path):
    cs = _pixel_set(provenance={"format": "idc", "source": "somewhere/data.pt", "sha256": "ab" * 32})
    path = cs.save(tmp_path / "out" / "set.pt")
    assert [p.name for p in path.parent.iterdir()] == ["set.pt"]
    back = CS.load_condensed(path, "canonical", "cifar10")
    assert torch.equal(back.images, cs.images) and torch.equal(back.labels, cs.labels)
    assert (back.ipc, back.factor, back.value_space, back.condenser) == (2, 2, "pixel01", "idc")
    assert back.provenance == cs.provenance
    with pytest.raises(YocoError, match="condensed from 'cifar10'"):
        CS.load_condensed(path, "canonical", "cifar100")
    torch.save([cs.images, cs.labels], tmp_path / "list.pt")
    with pytest.raises(YocoError, match="not a canonical"):
        CS.CondensedSet.load(tmp_path / "list.pt")


def test_save_idc_is_readable_as_idc(tmp_path):
    cs = _pixel_set()
    path = CS.save_idc(cs, tmp_path / "data.pt")
    raw = torch.load(path)
    assert isinstance(raw, list) and torch.equal(raw[0], cs.images) and torch.equal(raw[1], cs.labels)
    assert torch.equal(CS.load_condensed(path, "idc", "cifar10").images, cs.images)
    with pytest.raises(YocoError, match="pixel-space"):
        CS.save_idc(_pixel_set(value_space="normalized", factor=1), tmp_path / "x.pt")


def _nan_images():
    x = _pixels()
    x[3, 0, 0, 0] = float("nan")
    return x


@pytest.mark.parametrize(
    "kw, pattern",
    [
        (dict(images=_pixels()[:, 0]), "4-D"),
        (dict(images=_pixels().permute(0, 2, 3, 1)[:, :, :, :]), "channels-last .NHWC"),
        (dict(labels=torch.tensor([0, 1, 0, 1, 2, 2])), "block 0"),
        (dict(labels=torch.tensor([0, 0, 1, 2, 1, 2])), "block 1 .indices 2..3"),
        (dict(images=_nan_images()), "NaN"),
        (dict(images=_pixels() * 3), "value_space='normalized'"),
        (dict(ipc=4), "not classes x ipc"),
        (dict(value_space="normalized"), "factor 2 needs pixel-space"),
        (dict(value_space="pixels"), "Did you mean 'pixel01'"),
        (dict(labels=CLASS_MAJOR.float()), "int64"),
    ],
)
def test_validation_errors(kw, pattern):
    with pytest.raises(YocoError, match=pattern):
        _pixel_set(**kw).validate()


def test_pixel01_tolerates_small_overshoot():
    x = _pixels()
    x[0, 0, 0, 0], x[1, 0, 0, 0] = 1.05, -0.05  # IDC saves without a final clamp
    _pixel_set(images=x).validate()


def test_training_tensor_normalisation_by_hand():
    mean, std = NORMALIZATION["cifar10"]
    # pixel set, factor 1: 0.5 in the red channel -> (0.5 - 0.4914) / 0.2023 = 0.0086 / 0.2023 = 0.04251...
    pix = _pixel_set(images=torch.full((6, 3, H, H), 0.5), factor=1)
    t = CS.training_tensor(pix, mean, std)
    assert float(t[0, 0, 0, 0]) == pytest.approx(0.0086 / 0.2023, rel=1e-5)
    assert float(CS.training_tensor(pix, mean, std, double_normalize=False)[0, 0, 0, 0]) == pytest.approx(
        0.0425111, rel=1e-5
    )
    # already-normalised set with value 1.0 in the green channel: the reference normalises again,
    # (1 - 0.4822) / 0.1994 = 2.59679...; the corrected variant leaves it at 1.0.
    norm = _pixel_set(images=torch.ones(6, 3, H, H), factor=1, value_space="normalized", condenser="dsa")
    assert float(CS.training_tensor(norm, mean, std)[2, 1, 3, 3]) == pytest.approx(0.5178 / 0.1994, rel=1e-5)
    assert torch.equal(CS.training_tensor(norm, mean, std, double_normalize=False), torch.ones(6, 3, H, H))


def test_training_tensor_decodes_in_pixel_space_first():
    # h=7, f=2: decode pads one grey (0.5) pixel; the bottom-right pixel of patch k=3 samples only that
    # padding, so it must come out as normalise(0.5), not 0.5 (which padding after normalising would give).
    mean, std = (0.25, 0.5, 0.75), (0.5, 0.25, 0.125)
    cs = _pixel_set(images=torch.zeros(6, 3, 7, 7), factor=2)
    t = CS.training_tensor(cs, mean, std)
    assert t.shape == (24, 3, 7, 7)
    d = 3 * IPC  # class 0, position 3, image 0
    assert [float(v) for v in t[d, :, 6, 6]] == pytest.approx(
        [(0.5 - 0.25) / 0.5, (0.5 - 0.5) / 0.25, (0.5 - 0.75) / 0.125]
    )
    assert [float(v) for v in t[0, :, 0, 0]] == pytest.approx([-0.5, -2.0, -6.0])  # a zero pixel


def test_reference_paths():
    assert (
        str(CS.reference_path("idc", "cifar10", 10, root="r"))
        == "r/idc/cifar10/conv3in_grad_mse_nd2000_cut_niter2000_factor2_lr0.005_mix_ipc10/data.pt"
    )
    assert str(CS.reference_path("dsa", "cifar10", 10, root="r")) == "r/dsa/res_DSA_CIFAR10_ConvNet_ipc10/data.pt"
    assert str(CS.reference_path("kip", "cifar10", 10, root="r")) == "r/kip/kip_ipc10/data.pt"


def test_corrupt_file_is_reported(tmp_path):
    path = tmp_path / "data.pt"
    path.write_bytes(b"not a torch file")
    with pytest.raises(YocoError, match="could not read"):
        CS.load_condensed(path, "idc", "cifar10")


def test_non_tensor_pickles_need_trust(tmp_path):
    import numpy as np

    path = tmp_path / "data.pt"
    torch.save([np.zeros((6, 3, H, H), dtype=np.float32), CLASS_MAJOR], path)
    with pytest.raises(YocoError, match="trusted=True"):
        CS.load_condensed(path, "idc", "cifar10")
    cs = CS.load_condensed(path, "idc", "cifar10", trusted=True)
    assert cs.images.dtype == torch.float32 and cs.ipc == 2
    torch.save([[0.0] * 6, CLASS_MAJOR], path)
    with pytest.raises(YocoError, match="expected tensors"):
        CS.load_condensed(path, "idc", "cifar10")
