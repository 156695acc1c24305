"""The batched trainer: batching must not change what any single model learns."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from yoco.errors import YocoError
from yoco.train import NetworkSpec, TrainConfig, train_models

SPEC = NetworkSpec(name="convnet", num_classes=3, image_size=8, width=4, depth=3)


def _pool(n=24, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, 8, 8, generator=g)
    y = torch.arange(n) % 3
    return x, y


def _weights(result):
    return torch.cat([v.flatten() for k, v in sorted(result.state_dict.items())])


def test_a_model_trained_in_a_batch_equals_the_same_model_trained_alone():
    x, y = _pool()
    cfg = TrainConfig(epochs=2, batch_size=8, eval_points=0)
    subsets = [np.arange(0, 16), np.arange(8, 24), np.arange(4, 20)]
    seeds = [11, 22, 33]
    together = train_models(SPEC, x, y, subsets, seeds, cfg, keep_state=True)
    for i in range(3):
        alone = train_models(SPEC, x, y, [subsets[i]], [seeds[i]], cfg, keep_state=True)[0]
        torch.testing.assert_close(_weights(together[i]), _weights(alone), rtol=1e-4, atol=1e-5)


def test_vmap_path_equals_plain_module_training():
    """The stacked functional path computes the same SGD steps as an ordinary nn.Module loop."""
    from yoco import train as T

    x, y = _pool()
    cfg = TrainConfig(epochs=1, batch_size=8, eval_points=0)
    subset = np.arange(24)
    vm = train_models(SPEC, x, y, [subset], [5], cfg, keep_state=True)[0]
    original = T.nets.uses_batchnorm
    T.nets.uses_batchnorm = lambda name: True  # force the sequential (plain module) path
    try:
        seq = train_models(SPEC, x, y, [subset], [5], cfg, keep_state=True)[0]
    finally:
        T.nets.uses_batchnorm = original
    torch.testing.assert_close(_weights(vm), _weights(seq), rtol=1e-4, atol=1e-5)


def test_same_seed_same_weights_and_accuracy_different_seed_differs():
    x, y = _pool()
    cfg = TrainConfig(epochs=2, batch_size=8, eval_points=2)
    a, b, c = train_models(SPEC, x, y, [np.arange(24)] * 3, [7, 7, 8], cfg, test_x=x, test_y=y, keep_state=True)
    assert torch.equal(_weights(a), _weights(b))
    assert a.accuracies == b.accuracies
    assert not torch.equal(_weights(a), _weights(c))


def test_validation_points_and_best_last():
    cfg = TrainConfig(epochs=1000)
    assert cfg.eval_epochs() == [250, 500, 750, 1000]
    assert TrainConfig(epochs=10, eval_points=4).eval_epochs() == [2, 4, 6, 8, 10]
    x, y = _pool()
    res = train_models(
        SPEC, x, y, [np.arange(24)], [1], TrainConfig(epochs=4, batch_size=8, eval_points=2), test_x=x, test_y=y
    )[0]
    assert sorted(res.accuracies) == [2, 4]
    assert res.best_acc == max(res.accuracies.values())
    assert res.last_acc == res.accuracies[4]
    assert all(0 <= v <= 100 for v in res.accuracies.values())


def test_learning_rate_schedule_multistep():
    cfg = TrainConfig(epochs=1000, lr=0.01, gamma=0.2)
    assert cfg.lr_at(665, 0, 7) == pytest.approx(0.01)
    assert cfg.lr_at(666, 0, 7) == pytest.approx(0.002)
    assert cfg.lr_at(833, 0, 7) == pytest.approx(0.0004)
    it = TrainConfig(epochs=3, schedule="iteration")  # 3 epochs x 2 iterations = 6: milestones at 4 and 5
    assert [round(it.lr_at(0, i, 2) / 0.01, 6) for i in range(6)] == [1, 1, 1, 1, 0.2, 0.04]


def test_training_learns_a_separable_problem():
    g = torch.Generator().manual_seed(3)
    y = torch.arange(60) % 3
    x = torch.randn(60, 3, 8, 8, generator=g) * 0.1
    # A left-half step in the class's own channel: a pattern that survives instance normalisation.
    x[torch.arange(60), y, :, :4] += 2.0
    cfg = TrainConfig(epochs=30, batch_size=16, augment=None, cutmix_p=0.0, eval_points=1)
    res = train_models(SPEC, x, y, [np.arange(60)], [0], cfg, test_x=x, test_y=y)[0]
    assert res.last_acc > 90


def test_dynamics_recording_covers_every_sample_once_per_epoch():
    x, y = _pool()
    cfg = TrainConfig(epochs=3, batch_size=10, eval_points=0, schedule="iteration")
    res = train_models(SPEC, x, y, [np.arange(24)] * 2, [1, 2], cfg, record_dynamics=True)
    for r in res:
        err = r.dynamics["err_l2"]
        assert err.shape == (3, 24)
        # ||onehot - p|| lies in (0, sqrt(2)); an unwritten slot would stay exactly 0.
        assert (err > 0).all() and (err < np.sqrt(2)).all()
        margin = r.dynamics["margin"]
        assert ((margin > 0) == r.dynamics["correct"]).all()


def test_bad_inputs_give_clear_errors():
    x, y = _pool()
    cfg = TrainConfig(epochs=1)
    with pytest.raises(YocoError, match="one seed per run"):
        train_models(SPEC, x, y, [np.arange(4)], [1, 2], cfg)
    with pytest.raises(YocoError, match="index 99 outside the pool"):
        train_models(SPEC, x, y, [np.array([0, 99])], [1], cfg)
    # The message names the offending index, not the largest one.
    with pytest.raises(YocoError, match="index -1 outside the pool"):
        train_models(SPEC, x, y, [np.array([-1, 2])], [1], cfg)
    with pytest.raises(YocoError, match="whole pool"):
        train_models(SPEC, x, y, [np.arange(4)], [1], cfg, record_dynamics=True)
    with pytest.raises(YocoError, match="cutmix_p"):
        TrainConfig(cutmix_p=1.5)


def test_batchnorm_networks_take_the_sequential_path():
    spec = NetworkSpec(name="resnet10bn", num_classes=3, image_size=8)
    x, y = _pool(12)
    cfg = TrainConfig(epochs=1, batch_size=6, eval_points=1)
    res = train_models(spec, x, y, [np.arange(12)] * 2, [1, 2], cfg, test_x=x, test_y=y, keep_state=True)
    assert [(r.settings["engine"], r.models_in_batch) for r in res] == [("sequential", 2)] * 2
    assert all(0 <= r.last_acc <= 100 for r in res)
    # Each model keeps its own modules (BatchNorm statistics included): trained alone, the same weights.
    alone = train_models(spec, x, y, [np.arange(12)], [2], cfg, keep_state=True)[0]
    for k, v in alone.state_dict.items():
        torch.testing.assert_close(res[1].state_dict[k], v, rtol=1e-5, atol=1e-6)


def test_imagenet_transforms_are_applied_and_seeded():
    x, y = _pool(12)
    base = dict(epochs=1, batch_size=6, eval_points=0, augment=None, cutmix_p=1.0)
    with_tf = TrainConfig(imagenet_transforms=True, **base)
    a, b = (train_models(SPEC, x, y, [np.arange(12)], [3], with_tf, keep_state=True)[0] for _ in range(2))
    plain = train_models(SPEC, x, y, [np.arange(12)], [3], TrainConfig(**base), keep_state=True)[0]
    assert torch.equal(_weights(a), _weights(b))
    assert not torch.equal(_weights(a), _weights(plain))


@pytest.mark.parametrize(
    "name, size, width, blocks",
    [
        ("convnet", 16, 16, None),
        ("convnet", 32, 128, None),
        ("resnet10bn", 32, 32, None),
        ("resnetap10", 32, 5, None),
        ("densenet", 32, 12, None),
        ("densenet", 16, 12, (2, 2, 2, 2)),
        ("densenet", 16, 7, (1, 3, 5, 2)),  # odd blocks round DenseNet's halvings: not affine in the width
    ],
)
def test_activation_count_from_narrow_real_passes_equals_the_meta_device_count(name, size, width, blocks):
    """The step-memory estimate (and so the chunk sizes) must not change with how activations are counted."""
    from yoco.train import _activation_elements, _counted_elements

    spec = NetworkSpec(name, 10, size, width, blocks=blocks)
    assert _activation_elements(spec) == _counted_elements(spec, "meta")
