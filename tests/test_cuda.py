"""CUDA paths, run only where a GPU is visible (the lent GPU machine); skipped elsewhere."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from yoco import rng
from yoco.train import NetworkSpec, TrainConfig, train_models

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")

SPEC = NetworkSpec(name="convnet", num_classes=3, image_size=16, width=8)


def _pool():
    g = torch.Generator().manual_seed(0)
    return torch.randn(48, 3, 16, 16, generator=g), torch.arange(48) % 3


def test_counter_based_draws_are_identical_on_cpu_and_cuda():
    seeds = torch.tensor([1, 2, 3])
    cpu = rng.bits(seeds, (5, 7), (100,))
    gpu = rng.bits(seeds.cuda(), (5, 7), (100,)).cpu()
    assert torch.equal(cpu, gpu)


@pytest.mark.parametrize("engine", ["stacked", "vmap", "loop"])
def test_cuda_training_matches_cpu_training(engine):
    x, y = _pool()
    cfg = TrainConfig(epochs=2, batch_size=16, eval_points=1, engine=engine, tf32=False)
    subsets = [np.arange(0, 32), np.arange(16, 48)]
    cpu = train_models(SPEC, x, y, subsets, [1, 2], cfg, test_x=x, test_y=y, keep_state=True)
    gpu = train_models(SPEC, x, y, subsets, [1, 2], cfg, test_x=x, test_y=y, keep_state=True, device="cuda")
    for a, b in zip(cpu, gpu):
        for k in a.state_dict:
            torch.testing.assert_close(a.state_dict[k], b.state_dict[k], rtol=1e-3, atol=1e-4)


def test_batchnorm_networks_train_on_cuda():
    x, y = _pool()
    spec = NetworkSpec(name="resnet10bn", num_classes=3, image_size=16, width=8)
    res = train_models(
        spec,
        x,
        y,
        [np.arange(48)],
        [0],
        TrainConfig(epochs=1, batch_size=16, eval_points=1),
        test_x=x,
        test_y=y,
        device="cuda",
    )
    assert 0 <= res[0].last_acc <= 100
