"""Time one inner step of IDC condensation: batched vs per-class matching, plus the network update.

One inner step (reference-spec §6.1 step 2) = gradient matching of every class with an optimiser step
on the synthetic images (a) + training the network on ``n_data`` real samples (b). This script times
(a) with the reference's per-class loop and with the batched ``torch.func`` path (both with the
reference's per-class optimiser steps, and the batched path also with one summed step), times (b),
and projects the hours of a paper-scale run (outer x inner steps; CIFAR-10 IPC 10: 2000 x 100).

Usage::

    python benchmarks/condense_step.py --data ../shared/data/cifar10-mini.npz --device cuda
    python benchmarks/condense_step.py --data digits --device cpu

The paper's CIFAR-10 settings are used (ConvNet-D3 width 128, batch_real 64, n_data 2000, IPC 10,
factor 2) whatever the data; ``--width``, ``--ipc`` and ``--method`` change them.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from yoco import condense as cd  # noqa: E402
from yoco.data import load_real  # noqa: E402


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _time(fn, device, repeats: int) -> float:
    fn(0)  # warm-up: allocator, vmap tracing, cuDNN algorithm choice
    _sync(device)
    t0 = time.perf_counter()
    for r in range(repeats):
        fn(r + 1)
    _sync(device)
    return (time.perf_counter() - t0) / repeats


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument(
        "--data",
        default="../shared/data/cifar10-mini.npz",
        help="path of a CIFAR-10 npz (../shared/data layout) or 'digits'",
    )
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--method", default="idc", choices=cd.METHODS)
    p.add_argument("--ipc", type=int, default=10)
    p.add_argument("--factor", type=int, default=2)
    p.add_argument("--width", type=int, default=128)
    p.add_argument("--repeats", type=int, default=3, help="timed inner steps per variant (after one warm-up)")
    p.add_argument("--outer", type=int, default=2000, help="outer iterations of the projected run")
    p.add_argument("--inner", type=int, default=100, help="inner steps per outer iteration of the projected run")
    args = p.parse_args()

    device = torch.device(args.device)
    if args.data == "digits":
        real = load_real("digits", image_size=16)
    else:
        real = load_real("cifar10", npz=args.data)
    cfg = cd.CondenseConfig.paper("cifar10", args.ipc, args.method).replace(width=args.width)
    if args.data == "digits":
        cfg = cfg.replace(batch_real=min(cfg.batch_real, 64))
    print(
        f"device {device} ({torch.cuda.get_device_name(device) if device.type == 'cuda' else os.cpu_count()} "
        f"{'' if device.type == 'cuda' else 'CPU cores'}), torch {torch.__version__}, threads {torch.get_num_threads()}"
    )
    print(
        f"data {args.data}: {len(real.y_train)} images of {real.image_size}px, {real.num_classes} classes; "
        f"{args.method} IPC {args.ipc} factor {args.factor}, ConvNet width {cfg.width}, batch_real {cfg.batch_real}, "
        f"n_data {cfg.n_data}"
    )

    runner = cd._prepare(real, args.method, args.ipc, args.factor, cfg, 0, device)
    runner.images = runner.initial_images().to(device).requires_grad_(True)
    runner.opt = cd.ImageSGD(runner.images, cfg.lr_img, cfg.mom_img, runner.C)
    net = runner.network(0)
    net_opt = runner.net_optimizer(net)
    if args.method == "dream":
        runner.dream_query(net, 0, 0)

    def matching(variant):
        def step(r):
            runner.cfg = variant
            runner.image_update(net, 0, r)

        return step

    variants = {
        "per-class loop (reference)": cfg.replace(batched=False, image_step="per_class"),
        "batched, per-class steps (default)": cfg.replace(batched=True, image_step="per_class"),
        "batched, one summed step": cfg.replace(batched=True, image_step="summed"),
    }
    times = {name: _time(matching(v), device, args.repeats) for name, v in variants.items()}
    runner.cfg = cfg
    t_net = _time(lambda r: runner.net_update(net, net_opt, 0, r), device, args.repeats)
    t_query = None
    if args.method == "dream":
        t_query = _time(lambda r: runner.dream_query(net, 0, r), device, max(1, args.repeats // 2))

    loop = times["per-class loop (reference)"]
    fast = times["batched, per-class steps (default)"]
    print("\nmatching phase of one inner step (all classes):")
    for name, t in times.items():
        print(f"  {name:38s} {t * 1000:9.1f} ms")
    print(f"  speed-up batched / loop: {loop / fast:.2f}x")
    print(f"network update ({cfg.n_data} samples, {-(-cfg.n_data // cfg.batch_net)} batches): {t_net * 1000:.1f} ms")
    step_loop, step_fast = loop + t_net, fast + t_net
    if t_query is not None:
        # DREAM re-clusters every dream_interval inner steps.
        step_loop += t_query / cfg.dream_interval
        step_fast += t_query / cfg.dream_interval
        print(f"DREAM k-means query (all classes): {t_query * 1000:.1f} ms, every {cfg.dream_interval} steps")
    print(
        f"inner step: loop {step_loop * 1000:.1f} ms, batched {step_fast * 1000:.1f} ms "
        f"(ratio {step_loop / step_fast:.2f}x)"
    )
    steps = args.outer * args.inner
    print(
        f"projected {args.outer} x {args.inner} = {steps} inner steps: loop {step_loop * steps / 3600:.1f} h, "
        f"batched {step_fast * steps / 3600:.1f} h on this device"
    )
    if real.num_classes != 10 or real.image_size != 32:
        print("(projection uses this data's classes and image size, not CIFAR-10's)")


if __name__ == "__main__":
    main()
