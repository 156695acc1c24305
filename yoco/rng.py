"""Counter-based random numbers: one independent stream per model, computed on any device.

The batched trainer draws augmentation, CutMix and shuffling randomness for many models at once.
With a single ``torch.Generator`` a model's draws would depend on which other models share its
batch. Here every number is a hash of (model seed, counters, element index), so

* a model trained alone and the same model trained inside a batch of 81 see identical draws;
* CPU and CUDA produce bit-identical numbers (only integer arithmetic is involved);
* no host synchronisation or per-model generator call is needed inside the training loop.

The hash is a 32-bit avalanche mixer evaluated in int64 with every product kept below 2**63,
so torch never relies on signed overflow.
"""

from __future__ import annotations

import torch

_MASK32 = 0xFFFFFFFF
# Odd multipliers below 2**31 so that (value < 2**32) * multiplier < 2**63.
_M1 = 0x7FEB352D
_M2 = 0x2C1B3C6D
_GOLDEN = 0x1E3779B9

# Purposes: every kind of draw gets its own counter so that streams never overlap.
SHUFFLE = 1
FLIP = 2
COLOR = 3
CHOICE = 4
CROP = 5
SCALE = 6
ROTATE = 7
CUTOUT = 8
CUTMIX = 9
IMAGENET = 10
SUBSET = 11
CONDENSE = 12


def _mix(x: torch.Tensor) -> torch.Tensor:
    x = ((x ^ (x >> 16)) * _M1) & _MASK32
    x = ((x ^ (x >> 15)) * _M2) & _MASK32
    return x ^ (x >> 16)


def _key(seeds: torch.Tensor, counters: tuple[int, ...]) -> torch.Tensor:
    h = _mix(seeds.to(torch.int64) & _MASK32)
    for c in counters:
        h = _mix(h ^ ((int(c) * _GOLDEN) & _MASK32))
    return h


def bits(seeds: torch.Tensor, counters: tuple[int, ...], shape: tuple[int, ...]) -> torch.Tensor:
    """Uniform 32-bit integers (int64 tensor) of shape ``[len(seeds), *shape]``."""
    seeds = torch.as_tensor(seeds, dtype=torch.int64)
    n = 1
    for s in shape:
        n *= int(s)
    h = _key(seeds, counters).unsqueeze(1)
    j = torch.arange(n, device=seeds.device, dtype=torch.int64)
    out = _mix(_mix(h ^ ((j * _GOLDEN) & _MASK32)) ^ h)
    return out.reshape(seeds.shape[0], *shape)


def uniform(seeds: torch.Tensor, counters: tuple[int, ...], shape: tuple[int, ...]) -> torch.Tensor:
    """Uniform floats in [0, 1) (float32, 24 random bits) of shape ``[len(seeds), *shape]``."""
    return (bits(seeds, counters, shape) >> 8).to(torch.float32) * (1.0 / (1 << 24))


def integers(
    seeds: torch.Tensor, counters: tuple[int, ...], shape: tuple[int, ...], low: int, high: int
) -> torch.Tensor:
    """Uniform integers in [low, high] inclusive (int64), ``[len(seeds), *shape]``."""
    span = int(high) - int(low) + 1
    return bits(seeds, counters, shape) % span + int(low)


def permutation(seeds: torch.Tensor, counters: tuple[int, ...], n: int) -> torch.Tensor:
    """One random permutation of ``range(n)`` per seed: int64 ``[len(seeds), n]``."""
    return torch.argsort(bits(seeds, counters, (n,)), dim=1, stable=True)
