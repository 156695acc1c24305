"""In-house condensation (IDC, DREAM): initialisation, gradient matching, optimiser, outputs, resume."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from yoco import condense as cd
from yoco import nets
from yoco.formation import decode as decode_images
from yoco.condensed import CondensedSet, load_condensed, save_idc
from yoco.data import RealData
from yoco.errors import YocoError

C, N_PER_CLASS, H = 3, 20, 16


def _toy_real(seed: int = 0) -> RealData:
    """3 classes x 20 images of 16 px; labels interleaved so a class's first images are not the dataset's."""
    g = np.random.default_rng(seed)
    n = C * N_PER_CLASS
    y = np.arange(n, dtype=np.int64) % C
    base = np.array([[200, 40, 40], [40, 200, 40], [40, 40, 200]], dtype=np.float64)[y]
    x = base[:, None, None, :] + g.normal(0, 40, size=(n, H, H, 3))
    x = np.clip(x, 0, 255).astype(np.uint8)
    return RealData(
        name="toy",
        x_train=x,
        y_train=y,
        x_test=x[:6],
        y_test=y[:6],
        class_names=["r", "g", "b"],
        mean=(0.5, 0.5, 0.5),
        std=(0.25, 0.25, 0.25),
    )


def _tiny(**kw) -> cd.CondenseConfig:
    base = dict(
        width=8,
        outer=2,
        inner=2,
        n_data=16,
        batch_real=8,
        batch_net=8,
        lr_img=0.01,
        kmeans_iter=10,
        dream_interval=1,
        snapshot_every=1,
    )
    base.update(kw)
    return cd.CondenseConfig(**base)


def _net(seed: int = 0, classes: int = C) -> torch.nn.Module:
    return nets.init_network("convnet", classes, seed, image_size=H, width=8, depth=3)


# --- initialisation -----------------------------------------------------------------------------


def test_mix_init_equals_downsampled_first_real_images():
    real = _toy_real()
    ipc, f = 2, 2
    s = cd.initial_images(real, "idc", ipc, f, _tiny())
    assert s.shape == (C * ipc, 3, H, H)
    half = H // f
    for c in range(C):
        first = np.flatnonzero(real.y_train == c)[: ipc * f * f]  # dataset order within the class
        for m in range(ipc):
            for i in range(f):
                for j in range(f):
                    k = i * f + j
                    img = torch.from_numpy(real.x_train[first[k * ipc + m]]).permute(2, 0, 1).float() / 255
                    # nearest 16 -> 8 keeps the even rows and columns
                    want = img[:, ::2, ::2]
                    got = s[c * ipc + m, :, i * half : (i + 1) * half, j * half : (j + 1) * half]
                    assert torch.equal(got, want)


def test_dream_kmeans_init_places_real_images_of_the_class():
    real = _toy_real()
    ipc, f = 1, 2
    s = cd.initial_images(real, "dream", ipc, f, _tiny(batch_real=4), seed=3)
    for c in range(C):
        pool = torch.from_numpy(real.x_train[real.y_train == c]).permute(0, 3, 1, 2).float()[:, :, ::2, ::2] / 255
        for i in range(f):
            for j in range(f):
                patch = s[c * ipc, :, i * 8 : (i + 1) * 8, j * 8 : (j + 1) * 8]
                assert (pool - patch).abs().flatten(1).max(1).values.min() == 0, "patch is not a real image of c"


def test_nearest_to_centroids_picks_the_central_sample_of_each_cluster():
    # Two clusters {0, 0.1, 0.3} and {10, 10.1, 10.2}: centroids 0.1333 and 10.1; nearest samples 1 and 4.
    feats = torch.tensor([[0.0], [0.1], [0.3], [10.0], [10.1], [10.2]])
    picked = set(cd.nearest_to_centroids(feats, 2, seed=0, max_iter=50).tolist())
    assert picked == {1, 4}
    with pytest.raises(YocoError, match="batch_real"):
        cd.nearest_to_centroids(feats, 7, seed=0)


# --- gradient matching -----------------------------------------------------------------------------


def test_gradient_distance_and_matched_parameters():
    a, b = torch.tensor([[1.0, 2.0]]), torch.tensor([[0.0, 4.0]])
    assert cd.gradient_distance(a, b, "mse").item() == 1 + 4
    assert cd.gradient_distance(a, b, "l1").item() == 1 + 2
    names = cd.matched_parameters(_net())
    params = dict(_net().named_parameters())
    assert len(names) == 3 and all(params[n].dim() == 4 for n in names)  # the three conv kernels only


def _inputs(seed: int, k: int = C, n_real: int = 6, n_syn: int = 5):
    g = torch.Generator().manual_seed(seed)
    real = torch.randn(k, n_real, 3, H, H, generator=g)
    syn = torch.randn(k, n_syn, 3, H, H, generator=g)
    return real, syn


@pytest.mark.parametrize("metric", ["mse", "l1"])
def test_batched_matching_equals_per_class_loop(metric):
    net = _net(1)
    real, syn = _inputs(2)
    s1 = syn.clone().requires_grad_(True)
    s2 = syn.clone().requires_grad_(True)
    batched = cd.match_loss(net, real, s2, metric=metric, batched=True)
    batched.sum().backward()
    assert all(p.grad is None for p in net.parameters())  # torch.func works on detached copies
    loop = cd.match_loss(net, list(real), list(s1.unbind(0)), metric=metric, batched=False)
    loop.sum().backward()
    assert loop.shape == batched.shape == (C,)
    torch.testing.assert_close(batched, loop, rtol=1e-4, atol=1e-7)
    # l1 differentiates |g_r - g_s| through its sign, so allow float noise relative to the largest entry.
    torch.testing.assert_close(s2.grad, s1.grad, rtol=1e-3, atol=1e-4 * s1.grad.abs().max().item())
    assert s1.grad.abs().sum() > 0


def test_matching_loss_is_zero_for_identical_inputs_and_labels_matter():
    net = _net(2)
    real, _ = _inputs(3)
    for batched in (True, False):
        same = cd.match_loss(net, real, real.clone(), batched=batched)
        assert torch.all(same.abs() < 1e-10)
    # The same images under another label give another gradient, hence a positive distance.
    swapped = cd.match_loss(net, real, real.clone(), classes=[1, 2, 0], batched=True)
    direct = cd.match_loss(net, real[[1, 2, 0]], real.clone(), classes=[1, 2, 0], batched=True)
    assert torch.all(swapped == 0) and torch.all(direct > 0)


def test_matching_loss_falls_on_a_fixed_network():
    net = _net(4)
    real, syn = _inputs(5, n_syn=4)
    syn = syn.requires_grad_(True)
    opt = torch.optim.SGD([syn], lr=20.0, momentum=0.5)
    losses = []
    for _ in range(8):
        loss = cd.match_loss(net, real, syn).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0], losses


# --- optimiser and decode ---------------------------------------------------------------------------


def test_image_sgd_per_class_coasting_equals_sequential_torch_sgd():
    k, ipc = 4, 3
    g = torch.Generator().manual_seed(0)
    s0 = torch.randn(k * ipc, 2, generator=g)
    grads = [torch.randn(k * ipc, 2, generator=g) for _ in range(2)]  # two inner steps
    # The reference: one torch SGD over the whole tensor, one step per class with that class's gradient.
    ref = s0.clone().requires_grad_(True)
    opt = torch.optim.SGD([ref], lr=0.1, momentum=0.5)
    for gr in grads:
        for c in range(k):
            ref.grad = torch.zeros_like(ref)
            ref.grad[c * ipc : (c + 1) * ipc] = gr[c * ipc : (c + 1) * ipc]
            opt.step()
    ours = s0.clone().requires_grad_(True)
    sgd = cd.ImageSGD(ours, lr=0.1, momentum=0.5, num_classes=k)
    for gr in grads:
        sgd.coast(list(range(k)))
        sgd.step(gr)
        sgd.coast([k - 1 - c for c in range(k)])
    torch.testing.assert_close(ours.detach(), ref.detach(), rtol=1e-6, atol=1e-6)


def test_bound_plan_and_decode_classes():
    assert cd.bound_plan(20, 3, 128) == [(3, 12), (2, 3), (1, 5)]  # 108 + 12 + 5 = 125 (spec §6.1)
    assert cd.bound_plan(10, 3, 128) == [(3, 10)]  # 90 patches fit: the same as the single decode
    blocks = torch.rand(2, 20, 3, 9, 9)
    out = cd.decode_classes(blocks, 3, "bound", 128)
    assert out.shape == (2, 125, 3, 9, 9)
    # the first 108 patches of class 1 are the factor-3 decode of its first 12 images
    torch.testing.assert_close(out[1, :108], decode_images(blocks[1, :12], 12, 3))
    torch.testing.assert_close(out[1, 120:], blocks[1, 15:])  # factor 1 = the images themselves
    single = cd.decode_classes(blocks[:, :4], 3, "single")
    torch.testing.assert_close(single.flatten(0, 1), decode_images(blocks[:, :4].flatten(0, 1), 4, 3))


# --- whole runs ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("image_step", ["per_class", "summed"])
def test_batched_run_equals_loop_run(image_step):
    real = _toy_real()
    cfg = _tiny(outer=1, inner=2, image_step=image_step)
    a = cd.condense(real, "idc", 2, 2, cfg, seed=7)
    b = cd.condense(real, "idc", 2, 2, cfg.replace(batched=False), seed=7)
    torch.testing.assert_close(a.images, b.images, rtol=1e-4, atol=1e-5)
    init = cd.initial_images(real, "idc", 2, 2, cfg)
    assert (a.images - init).abs().max() > 1e-3  # the images did move


def test_condense_outputs_round_trip_through_the_idc_loader(tmp_path):
    real = _toy_real()
    cs = cd.condense(real, "idc", 2, 2, _tiny(outer=1), seed=1)
    assert cs.images.shape == (C * 2, 3, H, H) and cs.labels.tolist() == [0, 0, 1, 1, 2, 2]
    assert (cs.value_space, cs.condenser, cs.dataset, cs.factor) == ("pixel01", "idc", "toy", 2)
    assert len(cs.provenance["loss_history"]) == 1 and cs.provenance["seed"] == 1
    back = load_condensed(save_idc(cs, tmp_path / "data.pt"), "idc", "toy", factor=2)
    assert torch.equal(back.images, cs.images) and torch.equal(back.labels, cs.labels)
    assert back.ipc == 2
    again = CondensedSet.load(cs.save(tmp_path / "set.pt"))
    assert torch.equal(again.images, cs.images) and again.provenance["config"]["width"] == 8


@pytest.mark.parametrize("method", ["idc", "dream"])
def test_resumed_run_equals_uninterrupted_run(tmp_path, method):
    real = _toy_real()
    cfg = _tiny(outer=3)
    full = cd.condense(real, method, 1, 2, cfg, seed=5)

    class Stop(Exception):
        pass

    def stop_after_two(info):
        if info["outer"] == 2:
            raise Stop

    snap = tmp_path / "snap.pt"
    with pytest.raises(Stop):
        cd.condense(real, method, 1, 2, cfg, seed=5, snapshot_path=snap, progress=stop_after_two)
    assert torch.load(snap, weights_only=False)["next_outer"] == 2
    seen = []
    resumed = cd.condense(real, method, 1, 2, cfg, seed=5, snapshot_path=snap, progress=seen.append)
    assert [s["outer"] for s in seen] == [3]  # only the missing iteration ran
    assert torch.equal(resumed.images, full.images)
    assert resumed.provenance["loss_history"] == full.provenance["loss_history"]
    with pytest.raises(YocoError, match="seed"):
        cd.condense(real, method, 1, 2, cfg, seed=6, snapshot_path=snap)
    with pytest.raises(YocoError, match="lr_img"):
        cd.condense(real, method, 1, 2, cfg.replace(lr_img=1.0), seed=5, snapshot_path=snap)


def test_seed_controls_the_run():
    real = _toy_real()
    cfg = _tiny(outer=1, inner=1)
    a = cd.condense(real, "idc", 1, 2, cfg, seed=0).images
    assert torch.equal(a, cd.condense(real, "idc", 1, 2, cfg, seed=0).images)
    assert not torch.equal(a, cd.condense(real, "idc", 1, 2, cfg, seed=1).images)


# --- configuration ----------------------------------------------------------------------------------


def test_paper_presets():
    c10 = cd.CondenseConfig.paper("cifar10", 10)
    assert (c10.outer, c10.inner, c10.n_data, c10.early, c10.metric) == (2000, 100, 2000, 0, "mse")
    assert (c10.net, c10.width, c10.batch_real, c10.batch_syn_max, c10.mix_p) == ("convnet", 128, 64, 128, 0.5)
    assert c10.lr_img == pytest.approx(0.005) and c10.mom_img == 0.5
    assert cd.CondenseConfig.paper("cifar100", 50).lr_img == pytest.approx(0.025)
    assert cd.CondenseConfig.paper("cifar10", 20).lr_img == pytest.approx(0.01)
    inet = cd.CondenseConfig.paper("imagenet10", 20)
    assert (inet.net, inet.outer, inet.n_data, inet.early, inet.metric, inet.mix_p, inet.decode) == (
        "resnetap10",
        500,
        500,
        10,
        "l1",
        1.0,
        "bound",
    )
    assert inet.lr_img == pytest.approx(0.006)
    assert cd.CondenseConfig.paper("imagenet10", 10).decode == "single"
    assert cd.CondenseConfig.paper("cifar10", 10, "dream").batch_real == 128
    assert cd.CondenseConfig.from_dict(c10.to_dict()) == c10


def test_bad_settings_name_the_problem():
    with pytest.raises(YocoError, match="did you mean 'mse'|Did you mean 'mse'"):
        cd.CondenseConfig(metric="mes")
    with pytest.raises(YocoError, match="inner"):
        cd.CondenseConfig(inner=0)
    with pytest.raises(YocoError, match="Valid CondenseConfig fields"):
        cd.CondenseConfig().replace(niter=5)
    with pytest.raises(YocoError, match="condensation method"):
        cd.condense(_toy_real(), "dc", 1, 2, _tiny())
    with pytest.raises(YocoError, match="needs 24"):
        cd.condense(_toy_real(), "idc", 6, 2, _tiny())  # 6 x 2^2 = 24 > 20 images per class
    with pytest.raises(YocoError, match="batch_real"):
        cd.condense(_toy_real(), "dream", 1, 2, _tiny(batch_real=32))
    with pytest.raises(YocoError, match="paper condensation dataset"):
        cd.condense(_toy_real(), "idc", 1, 2)  # no preset for the toy set


def test_overshooting_output_is_clamped_and_recorded():
    # A large image step pushes pixels past the CondensedSet's pixel tolerance; the set stays valid.
    cs = cd.condense(_toy_real(), "idc", 1, 2, _tiny(outer=3, lr_img=0.05), seed=5)
    assert cs.provenance["clamped_output"] is True
    assert cs.images.min() >= 0 and cs.images.max() <= 1
    assert cd.condense(_toy_real(), "idc", 1, 2, _tiny(outer=1), seed=5).provenance["clamped_output"] is False
