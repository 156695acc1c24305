"""Condense digits with IDC (IPC 10, factor 2) on the CPU and compare it with its baselines.

Three training sets with the same storage budget (10 stored 16x16 images per class):

* the IDC-condensed set, decoded into its 10 x 4 = 40 patches per class;
* its own starting point, the "mix" initialisation (the first 40 real images of each class,
  downsampled into the 2x2 grids), decoded the same way;
* a random subset of 10 full-size real training images per class.

Each trains a ConvNet-D3 (instance norm) from 3 seeds with the reference recipe, shortened (SGD 0.01 /
0.9 / 5e-4, batch 64, DiffAug color_crop_flip_scale_rotate, CutMix 0.5, MultiStepLR at 2/3 and
5/6), through ``yoco.train.train_models``; the script prints the test accuracy (mean ± std over
seeds, last epoch) of each on the 539 held-out digits.

Usage::

    python benchmarks/condense_digits.py                    # about 5 minutes on 2 CPU cores
    python benchmarks/condense_digits.py --image-steps per_class summed
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from yoco import condense as cd  # noqa: E402
from yoco.augment import normalize  # noqa: E402
from yoco.data import load_real, to_tensor  # noqa: E402
from yoco.formation import decode  # noqa: E402
from yoco.train import NetworkSpec, TrainConfig, train_models  # noqa: E402


def evaluate(name, x_pixels, y, real, spec, tcfg, seeds, device):
    """Train one network per seed on ``x_pixels`` (pixel space) and return the test accuracies."""
    pool = normalize(x_pixels, real.mean, real.std)
    test_x = normalize(to_tensor(real.x_test), real.mean, real.std)
    test_y = torch.as_tensor(real.y_test)
    t0 = time.perf_counter()
    res = train_models(spec, pool, y, [np.arange(len(y))] * len(seeds), seeds, tcfg, test_x, test_y, device=device)
    accs = np.array([r.last_acc for r in res])
    print(
        f"  {name:34s} {len(y):4d} images: {accs.mean():6.2f} ± {accs.std():4.2f} %  "
        f"(runs {', '.join(f'{a:.2f}' for a in accs)}; {time.perf_counter() - t0:.0f} s)",
        flush=True,
    )
    return accs


def _report(info: dict) -> None:
    if info["outer"] % 10 == 0 or info["outer"] == info["outer_total"]:
        print(
            f"  outer {info['outer']}/{info['outer_total']}: matching loss {info['match_loss']:.3f} "
            f"({info['seconds']:.0f} s)",
            flush=True,
        )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--device", default="cpu")
    p.add_argument("--ipc", type=int, default=10)
    p.add_argument("--factor", type=int, default=2)
    p.add_argument("--outer", type=int, default=40, help="outer iterations of the condensation")
    p.add_argument("--inner", type=int, default=10, help="inner steps per outer iteration")
    p.add_argument("--width", type=int, default=32, help="ConvNet width for condensation and evaluation")
    p.add_argument("--epochs", type=int, default=300, help="evaluation epochs (the paper uses 1000)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--image-steps", nargs="+", default=["per_class"], choices=cd.IMAGE_STEPS)
    args = p.parse_args()

    torch.manual_seed(0)  # nothing below draws from it; set so that a stray draw could not vary
    real = load_real("digits", image_size=16)
    c, ipc, f = real.num_classes, args.ipc, args.factor
    spec = NetworkSpec("convnet", c, real.image_size, width=args.width, depth=3)
    tcfg = TrainConfig(epochs=args.epochs, eval_points=1)
    seeds = [args.seed + 1, args.seed + 2, args.seed + 3]
    decoded_y = torch.arange(c).repeat_interleave(ipc * f * f)
    print(
        f"digits: {len(real.y_train)} train / {len(real.y_test)} test images of 16 px; IPC {ipc}, factor {f}; "
        f"evaluation ConvNet-D3 width {args.width}, {args.epochs} epochs, seeds {seeds}"
    )

    results = {}
    for step in args.image_steps:
        cfg = cd.CondenseConfig.quick(ipc).replace(
            width=args.width, outer=args.outer, inner=args.inner, image_step=step
        )
        t0 = time.perf_counter()
        cs = cd.condense(real, "idc", ipc, f, cfg, seed=args.seed, device=args.device, progress=_report)
        hist = cs.provenance["loss_history"]
        print(
            f"condensed ({step} image steps): {args.outer} x {args.inner} steps in {time.perf_counter() - t0:.0f} s; "
            f"matching loss per class {hist[0]:.3f} (outer 1) -> {np.mean(hist[-5:]):.3f} (mean of last 5)",
            flush=True,
        )
        results[f"IDC condensed, {step}"] = decode(cs.images, ipc, f)

    init = cd.initial_images(real, "idc", ipc, f, cd.CondenseConfig.quick(ipc))
    results["mix initialisation"] = decode(init, ipc, f)
    rng = np.random.default_rng(args.seed)
    subset = np.concatenate([rng.choice(np.flatnonzero(real.y_train == k), ipc, replace=False) for k in range(c)])
    print("test accuracy (last epoch):")
    for name, x in results.items():
        evaluate(name, x, decoded_y, real, spec, tcfg, seeds, args.device)
    evaluate(
        f"random real, {ipc} per class",
        to_tensor(real.x_train[subset]),
        torch.as_tensor(real.y_train[subset]),
        real,
        spec,
        tcfg,
        seeds,
        args.device,
    )


if __name__ == "__main__":
    main()
