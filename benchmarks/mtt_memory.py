"""Peak memory and time of one MTT distillation iteration, measured on the CPU and projected to the paper.

One iteration unrolls ``syn_steps`` student steps on ``batch_syn`` synthetic images and back-propagates
through all of them, so the graph holds every step's activations and gradient graph. This script

1. measures the peak memory of one iteration (loss, unrolled steps, backward to the images and the step
   size) at small sizes: ConvNet-D3 widths 32 and 128 on 32-pixel images, ``syn_steps`` 2-8,
   ``batch_syn`` 10-40, with and without ``checkpoint=True``;
2. fits ``peak = a + b * syn_steps * batch_syn + c * batch_syn + d * syn_steps`` per width and projects
   MTT's CIFAR-10 IPC 10 setting (width 128, 100 images, ``syn_steps`` 30, ``batch_syn`` 100);
3. times one iteration at the paper's width and batch with few steps and counts its floating-point
   operations, for a GPU-hour projection of 5000 iterations (an estimate: no GPU was measured).

How memory is measured
    ``torch.profiler`` with ``profile_memory=True`` records every allocation and free of the CPU tensor
    allocator inside the profiled block; the peak of their running sum is the largest amount of tensor
    memory the iteration held on top of what existed before it (the images, the experts). This is the
    CPU counterpart of ``torch.cuda.max_memory_allocated`` and, unlike the process's resident size
    (``ru_maxrss``), it is not blurred by malloc's caching or by memory the process touched earlier.
    Tensor sizes do not depend on the device, so the numbers carry over to a GPU, except for cuDNN
    workspaces and the caching allocator's rounding (a few percent).

Usage::

    python benchmarks/mtt_memory.py            # about 5 minutes on 2 CPU cores
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from yoco import nets  # noqa: E402
from yoco.condense.experts import Experts, flat_parameters  # noqa: E402
from yoco.condense.mtt import MTT, MTTConfig  # noqa: E402
from yoco.data import RealData  # noqa: E402

GB = 1024**3


def fake_setting(width: int, n_images: int, size: int = 32, classes: int = 10):
    """Random 'experts' (two checkpoints) and a tiny real set of the right shape: memory needs no training."""
    net = nets.init_network("convnet", classes, 0, image_size=size, width=width, depth=3)
    p0 = flat_parameters(net)
    traj = torch.stack([p0, p0 + 0.01 * torch.randn_like(p0), p0 + 0.02 * torch.randn_like(p0)])[None]
    experts = Experts(
        trajectories=traj,
        epochs_done=[2],
        identity={"num_classes": classes, "image_size": size, "num_experts": 1, "seed": 0, "zca": False},
        config={"net": "convnet", "width": width, "depth": 3},
        param_names=[n for n, _ in net.named_parameters()],
        param_shapes=[list(p.shape) for p in net.parameters()],
        test_acc=[None],
    )
    per = math.ceil(n_images / classes)
    rng = np.random.default_rng(0)
    real = RealData(
        "cifar10",
        rng.integers(0, 256, (classes * per, size, size, 3), dtype=np.uint8),
        np.repeat(np.arange(classes), per),
        rng.integers(0, 256, (classes, size, size, 3), dtype=np.uint8),
        np.arange(classes),
        [str(c) for c in range(classes)],
        (0.5, 0.5, 0.5),
        (0.25, 0.25, 0.25),
    )
    return real, experts, per


def one_iteration(width: int, steps: int, batch: int, checkpoint: bool, profile: bool = True):
    """(peak bytes, seconds, flops) of one iteration with ``batch`` synthetic images."""
    real, experts, ipc = fake_setting(width, batch)
    cfg = MTTConfig(syn_steps=steps, expert_epochs=1, max_start_epoch=1, batch_syn=0, checkpoint=checkpoint)
    mtt = MTT(real, experts, ipc, cfg, 0, torch.device("cpu"))
    images = torch.randn(real.num_classes * ipc, 3, 32, 32, requires_grad=True)
    syn_lr = torch.tensor(0.01, requires_grad=True)
    if not profile:
        t0 = time.perf_counter()
        loss, _, _ = mtt.loss(images, syn_lr, 0)
        torch.autograd.grad(loss, (images, syn_lr))
        return None, time.perf_counter() - t0, None
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as prof_ctx

    with prof_ctx(activities=[ProfilerActivity.CPU], profile_memory=True, with_flops=True) as prof:
        loss, _, _ = mtt.loss(images, syn_lr, 0)
        torch.autograd.grad(loss, (images, syn_lr))
    events = prof.profiler.kineto_results.events()
    mem = sorted((e.start_ns(), e.nbytes()) for e in events if e.name() == "[memory]")
    running = np.cumsum([b for _, b in mem])
    flops = sum(e.flops for e in prof.events() if e.flops)
    return float(running.max()) if len(running) else 0.0, None, flops


def fit(rows):
    """Least squares ``peak = a + b * steps * batch + c * batch + d * steps``; returns (coefs, max rel. error)."""
    x = np.array([[1.0, s * b, b, s] for s, b, _ in rows])
    y = np.array([p for _, _, p in rows])
    coef, *_ = np.linalg.lstsq(x, y, rcond=None)
    return coef, float((np.abs(x @ coef - y) / y).max())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--widths", type=int, nargs="+", default=[32, 128])
    p.add_argument("--budget-gib", type=float, default=24.0)
    p.add_argument("--time-steps", type=int, default=2, help="unrolled steps of the timed paper-size iteration")
    args = p.parse_args()
    torch.manual_seed(0)
    grid = [(2, 10), (4, 10), (8, 10), (2, 20), (4, 20), (2, 40)]
    for checkpoint in (False, True):
        for w in args.widths:
            rows = []
            for steps, batch in grid:
                peak, _, _ = one_iteration(w, steps, batch, checkpoint)
                rows.append((steps, batch, peak))
                print(
                    f"checkpoint={checkpoint} width {w:3d} syn_steps {steps} batch {batch:3d}: "
                    f"peak {peak / 2**20:8.1f} MiB",
                    flush=True,
                )
            (a, b, c, d), err = fit(rows)
            proj = a + b * 30 * 100 + c * 100 + d * 30
            print(
                f"  fit: {a / 2**20:.1f} MiB + {b / 2**20:.3f} MiB x steps x batch + {c / 2**20:.3f} MiB x batch "
                f"+ {d / 2**20:.3f} MiB x steps (max rel. error {err:.1%}); at 30 steps x 100 images: "
                f"{proj / GB:.2f} GiB ({'fits' if proj < args.budget_gib * GB else 'does NOT fit'} "
                f"{args.budget_gib:g} GiB)",
                flush=True,
            )
    _, _, flops = one_iteration(128, args.time_steps, 100, False)
    _, secs, _ = one_iteration(128, args.time_steps, 100, False, profile=False)
    scale = 30 / args.time_steps
    print(
        f"timing: width 128, {args.time_steps} steps x 100 images: {secs:.1f} s on this CPU, "
        f"{flops / 1e9:.1f} GFLOP counted; paper iteration ~{secs * scale:.0f} s CPU, "
        f"~{flops * scale / 1e12:.2f} TFLOP; 5000 iterations = {flops * scale * 5000 / 1e15:.1f} PFLOP"
    )


if __name__ == "__main__":
    main()
