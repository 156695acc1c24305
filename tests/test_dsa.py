"""In-house DSA condensation: the 'ours' distance, batched matching, initialisation, network updates,
DSA's file format and resume."""

from __future__ import annotations

import math

import pytest
import torch

from yoco import condense as cd
from yoco import nets
from yoco.condensed import load_condensed, save_dsa
from yoco.errors import YocoError

from test_condense import C, H, _inputs, _toy_real


def _dsa(**kw) -> cd.CondenseConfig:
    base = dict(width=8, outer=2, inner=3, syn_epochs=2, batch_real=8, batch_net=4, snapshot_every=1)
    base.update(kw)
    return cd.CondenseConfig.dsa(10).replace(**base)


# --- the 'ours' distance ------------------------------------------------------------------------------


def test_ours_distance_on_a_hand_computed_fixture():
    # A conv gradient [out=2, in=1, 1, 2]: rows (1, 0) vs (0, 1) are orthogonal (cost 1); rows (1, 1) vs
    # (2, 2) are parallel (cost 1 - 4 / (sqrt(2) sqrt(8) + 1e-6) = 1 - 4 / (4 + 1e-6)).
    g_r = torch.tensor([[[[1.0, 0.0]]], [[[1.0, 1.0]]]], dtype=torch.float64)
    g_s = torch.tensor([[[[0.0, 1.0]]], [[[2.0, 2.0]]]], dtype=torch.float64)
    expected = 1.0 + (1.0 - 4.0 / (4.0 + 1e-6))
    assert cd.gradient_distance(g_r, g_s, "ours").item() == pytest.approx(expected, rel=1e-12)
    # A linear layer [out=2, in=2] is taken row by row as it is: the same numbers.
    assert cd.gradient_distance(g_r.view(2, 2), g_s.view(2, 2), "ours").item() == pytest.approx(expected, rel=1e-12)
    # Opposite rows cost 1 + |r|^2 / (|r|^2 + 1e-6) each (|r|^2 = 1 and 2); 1-D tensors cost nothing.
    opposite = (1 + 1 / (1 + 1e-6)) + (1 + 2 / (2 + 1e-6))
    assert cd.gradient_distance(g_r, -g_r, "ours").item() == pytest.approx(opposite, rel=1e-12)
    assert cd.gradient_distance(torch.tensor([1.0, 2.0]), torch.tensor([-5.0, 0.0]), "ours").item() == 0.0
    # Scale-invariant per row, unlike mse.
    g = torch.randn(4, 3, 3, 3, dtype=torch.float64)
    assert cd.gradient_distance(g, 7.0 * g, "ours").item() == pytest.approx(0.0, abs=1e-6)


def test_dsa_matches_every_weight_tensor_including_the_classifier():
    net = nets.init_network("convnet", C, 0, image_size=H, width=8, depth=3)
    params = dict(net.named_parameters())
    names = cd.matched_parameters(net, fc=True)
    assert sorted(params[n].dim() for n in names) == [2, 4, 4, 4]  # three conv kernels + the linear layer
    assert set(cd.matched_parameters(net)) < set(names)


def test_dsa_batched_matching_equals_per_class_reference_loop():
    # The reference: for each class, autograd.grad of every parameter, then sum of distance_wb.
    net = nets.init_network("convnet", C, 1, image_size=H, width=8, depth=3)
    real, syn = _inputs(2)
    s1 = syn.clone().requires_grad_(True)
    s2 = syn.clone().requires_grad_(True)
    theta = list(net.parameters())
    ref = []
    for c in range(C):
        y_r = torch.full((real.shape[1],), c)
        y_s = torch.full((syn.shape[1],), c)
        g_r = torch.autograd.grad(torch.nn.functional.cross_entropy(net(real[c]), y_r), theta)
        g_s = torch.autograd.grad(torch.nn.functional.cross_entropy(net(s1[c]), y_s), theta, create_graph=True)
        ref.append(sum(cd.gradient_distance(a.detach(), b, "ours") for a, b in zip(g_r, g_s)))
    ref = torch.stack(ref)
    ref.sum().backward()
    batched = cd.match_loss(net, real, s2, metric="ours", batched=True, fc=True)
    batched.sum().backward()
    torch.testing.assert_close(batched, ref, rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(s2.grad, s1.grad, rtol=1e-3, atol=1e-4 * s1.grad.abs().max().item())
    assert s1.grad.abs().sum() > 0


# --- whole runs ---------------------------------------------------------------------------------------


def test_dsa_initialises_from_random_real_images_in_normalised_space():
    real = _toy_real()
    init = cd.initial_images(real, "dsa", 3, config=_dsa(), seed=4)
    assert init.shape == (C * 3, 3, H, H)
    mean = torch.tensor(real.mean).view(1, 3, 1, 1)
    std = torch.tensor(real.std).view(1, 3, 1, 1)
    pixels = init * std + mean
    x = torch.from_numpy(real.x_train).permute(0, 3, 1, 2).float() / 255
    for i in range(C * 3):
        match = ((x - pixels[i]).abs().flatten(1).max(1).values < 1e-5).nonzero().flatten().tolist()
        assert len(match) == 1 and int(real.y_train[match[0]]) == i // 3  # one real image of its class
    firsts = [int(((x - pixels[c * 3]).abs().flatten(1).max(1).values < 1e-5).nonzero()) for c in range(C)]
    assert firsts != [c for c in range(C)]  # not the first images of each class: a random draw
    assert not torch.equal(init, cd.initial_images(real, "dsa", 3, config=_dsa(), seed=5))


def test_dsa_batched_run_equals_loop_run_and_moves_the_images():
    real = _toy_real()
    cfg = _dsa(outer=1)
    a = cd.condense(real, "dsa", 2, config=cfg, seed=7)
    b = cd.condense(real, "dsa", 2, config=cfg.replace(batched=False), seed=7)
    torch.testing.assert_close(a.images, b.images, rtol=1e-4, atol=1e-5)
    init = cd.initial_images(real, "dsa", 2, config=cfg, seed=7)
    assert (a.images - init).abs().max() > 1e-3
    assert (a.value_space, a.factor, a.condenser) == ("normalized", 1, "dsa")
    assert a.labels.tolist() == [0, 0, 1, 1, 2, 2]


def test_network_trains_on_the_synthetic_set_between_matching_steps_only():
    real = _toy_real()
    # One matching step per outer iteration: the reference breaks before any network update, so the
    # number of synthetic epochs cannot matter.
    one = [cd.condense(real, "dsa", 2, config=_dsa(inner=1, syn_epochs=e), seed=2).images for e in (1, 5)]
    assert torch.equal(one[0], one[1])
    # Two matching steps: the second sees a network trained on S, so the epochs change the result.
    two = [cd.condense(real, "dsa", 2, config=_dsa(inner=2, syn_epochs=e), seed=2).images for e in (1, 5)]
    assert not torch.equal(two[0], two[1])


def test_summed_image_step_is_one_torch_sgd_step_per_matching_step():
    # inner=1, one outer iteration: S moves by exactly -lr * gradient of the class-summed loss.
    real = _toy_real()
    cfg = _dsa(outer=1, inner=1, lr_img=0.5)
    runner = cd._prepare(real, "dsa", 2, None, cfg, 9, "cpu")
    start = runner.initial_images().requires_grad_(True)
    runner.images = start
    net = runner.network(0)
    loss = runner.class_losses(net, list(range(C)), 0, 0, batched=False).sum()
    (grad,) = torch.autograd.grad(loss, start)
    out = cd.condense(real, "dsa", 2, config=cfg, seed=9).images
    torch.testing.assert_close(out, (start - 0.5 * grad).detach(), rtol=1e-4, atol=1e-6)


def test_dsa_file_round_trips_through_the_dsa_loader(tmp_path):
    real = _toy_real()
    cs = cd.condense(real, "dsa", 2, config=_dsa(outer=1), seed=1)
    path = save_dsa(cs, tmp_path / "res_DSA_TOY_ConvNet_ipc2.pt")
    raw = torch.load(path, weights_only=True)  # plain tensors, lists and strings only
    assert set(raw) >= {"data", "accs_all_exps"} and len(raw["data"]) == 1
    images, labels = raw["data"][0]
    assert images.dtype == torch.float32 and labels.dtype == torch.int64
    back = load_condensed(path, "dsa", "toy")
    assert torch.equal(back.images, cs.images) and torch.equal(back.labels, cs.labels)
    assert (back.ipc, back.factor, back.value_space) == (2, 1, "normalized")
    with pytest.raises(YocoError, match="DSA format"):
        save_dsa(cd.condense(real, "idc", 1, 2, _dsa(outer=1, aug_mode="idc"), seed=1), tmp_path / "x.pt")


def test_dsa_resumed_run_equals_uninterrupted_run(tmp_path):
    real = _toy_real()
    cfg = _dsa(outer=3)
    full = cd.condense(real, "dsa", 2, config=cfg, seed=5)

    class Stop(Exception):
        pass

    def stop_after_two(info):
        if info["outer"] == 2:
            raise Stop

    snap = tmp_path / "snap.pt"
    with pytest.raises(Stop):
        cd.condense(real, "dsa", 2, config=cfg, seed=5, snapshot_path=snap, progress=stop_after_two)
    seen = []
    resumed = cd.condense(real, "dsa", 2, config=cfg, seed=5, snapshot_path=snap, progress=seen.append)
    assert [s["outer"] for s in seen] == [3]
    assert torch.equal(resumed.images, full.images)
    assert resumed.provenance["loss_history"] == full.provenance["loss_history"]
    with pytest.raises(YocoError, match="syn_epochs"):
        cd.condense(real, "dsa", 2, config=cfg.replace(syn_epochs=3), seed=5, snapshot_path=snap)


# --- configuration ------------------------------------------------------------------------------------


def test_dsa_paper_settings():
    p = cd.CondenseConfig.paper("cifar10", 10, "dsa")
    # DSA:main.py defaults and get_loops(10); Iteration 1000 + the reference's final pass.
    assert (p.outer, p.inner, p.syn_epochs) == (1001, 10, 50)
    assert (p.lr_img, p.mom_img, p.lr_net, p.mom_net, p.wd_net) == (0.1, 0.5, 0.01, 0.0, 0.0)
    assert (p.batch_real, p.batch_net, p.n_data, p.mix_p) == (256, 256, 0, 0.0)
    assert (p.metric, p.match_fc, p.aug_mode, p.image_step) == ("ours", True, "dsa", "summed")
    assert p.match_aug == p.net_aug == "color_crop_cutout_flip_scale_rotate"
    assert (p.net, p.width, p.depth) == ("convnet", 128, 3)
    assert (cd.CondenseConfig.paper("cifar10", 50, "dsa").inner, cd.CondenseConfig.dsa(50).syn_epochs) == (50, 10)
    assert cd.CondenseConfig.dsa(1).inner == 1
    with pytest.raises(YocoError, match="get_loops"):
        cd.CondenseConfig.dsa(3)
    with pytest.raises(YocoError, match="paper DSA condensation dataset"):
        cd.CondenseConfig.paper("imagenet10", 10, "dsa")
    q = cd.CondenseConfig.quick(10, "dsa")
    assert q.metric == "ours" and q.outer * q.inner < p.outer * p.inner
    with pytest.raises(YocoError, match="factor 1"):
        cd.condense(_toy_real(), "dsa", 2, 2, _dsa())
    assert math.isclose(cd.CondenseConfig.fallback("dsa", 7).lr_img, 0.1)


# --- command line -------------------------------------------------------------------------------------


def test_cli_condense_dsa_writes_dsa_format_resumes_and_reports_progress(tmp_path, capsys):
    from yoco.cli import main

    npz = tmp_path / "digits.npz"
    assert main(["data", "--dataset", "digits", "--image-size", "8", "--out", str(npz)]) == 0
    common = ["condense", "--real", str(npz), "--method", "dsa", "--ipc", "2", "--inner", "2", "--syn-epochs", "1"]
    common += ["--batch-real", "8", "--batch-net", "16", "--width", "8", "--seed", "3"]
    capsys.readouterr()
    assert main([*common, "--outer", "2", "--out", str(tmp_path / "straight.pt")]) == 0
    err = capsys.readouterr().err
    assert "condense dsa: started" in err and "condense dsa: done | loss" in err and "(dsa format)" in err
    straight = load_condensed(tmp_path / "straight.pt", "dsa", "digits")
    assert (straight.ipc, straight.factor, straight.value_space) == (2, 1, "normalized")
    # Interrupted after one outer iteration, then extended to two from the snapshot: the same file.
    snap = ["--snapshot", str(tmp_path / "snap.pt")]
    assert main([*common, "--outer", "1", *snap, "--out", str(tmp_path / "first.pt")]) == 0
    capsys.readouterr()
    assert main([*common, "--outer", "2", *snap, "--out", str(tmp_path / "resumed.pt")]) == 0
    assert "resumed at 50.0%" in capsys.readouterr().err
    resumed = load_condensed(tmp_path / "resumed.pt", "dsa", "digits")
    assert torch.equal(resumed.images, straight.images)
    assert main([*common, "--factor", "2", "--out", str(tmp_path / "bad.pt")]) == 2
    assert "--factor must be 1" in capsys.readouterr().err
