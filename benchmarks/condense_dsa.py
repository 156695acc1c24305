"""DSA condensation quality check on the CPU, and a projection of the paper's DSA budget.

Quality (default): condense digits (or a CIFAR-10 npz) with in-house DSA at IPC 10 from several
condensation seeds, and compare each condensed set with random real images of the same count (10 per
class, one random subset per seed). Every set trains a ConvNet-D3 (instance norm) from 3 training seeds
with the reference recipe, shortened, through ``yoco.train.train_models``; DSA sets are already
normalised and are not normalised again. The script prints, per seed, the mean test accuracy over the
training seeds, then the mean and standard error over the seeds, and the paired difference.

Step (``--step``): time the parts of one DSA outer iteration at the paper's CIFAR-10 IPC 10 settings
(ConvNet-D3 width 128, 32 px, batch_real 256, 10 matching steps, 9 x 50 synthetic epochs) and project
1001 outer iterations; the projection assumes the parts scale linearly.

Usage::

    python benchmarks/condense_dsa.py                          # digits, 3 seeds, ~10 min on 2 shared cores
    python benchmarks/condense_dsa.py --data ../shared/data/cifar10-mini.npz --outer 10 --width 64
    python benchmarks/condense_dsa.py --step --data ../shared/data/cifar10-mini.npz
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
from yoco.train import NetworkSpec, TrainConfig, train_models  # noqa: E402


def _load(data: str):
    if data == "digits":
        return load_real("digits", image_size=16)
    return load_real("cifar10", npz=data)


def evaluate(x_normalised, y, real, spec, tcfg, seeds, device) -> float:
    test_x = normalize(to_tensor(real.x_test), real.mean, real.std)
    res = train_models(
        spec, x_normalised, y, [np.arange(len(y))] * len(seeds), seeds, tcfg, test_x, torch.as_tensor(real.y_test),
        device=device,
    )  # fmt: skip
    return float(np.mean([r.last_acc for r in res]))


def quality(args) -> None:
    real = _load(args.data)
    c, ipc = real.num_classes, args.ipc
    spec = NetworkSpec("convnet", c, real.image_size, width=args.width, depth=3)
    tcfg = TrainConfig(epochs=args.epochs, eval_points=1)
    train_seeds = [101, 102, 103]
    cfg = cd.CondenseConfig.quick(ipc, "dsa").replace(
        width=args.width, outer=args.outer, inner=args.inner, syn_epochs=args.syn_epochs, batch_real=args.batch_real
    )
    print(
        f"{real.name}: {len(real.y_train)} train / {len(real.y_test)} test images of {real.image_size} px; DSA IPC {ipc}: "
        f"{cfg.outer} outer x {cfg.inner} matching steps, {cfg.syn_epochs} synthetic epochs between them, "
        f"batch_real {cfg.batch_real}, width {cfg.width}, lr_img {cfg.lr_img}; evaluation ConvNet-D3 width "
        f"{args.width}, {args.epochs} epochs, training seeds {train_seeds}",
        flush=True,
    )
    dsa, rand = [], []
    for seed in range(args.seeds):
        t0 = time.perf_counter()
        cs = cd.condense(real, "dsa", ipc, config=cfg, seed=seed, device=args.device)
        hist = cs.provenance["loss_history"]
        t_cond = time.perf_counter() - t0
        acc_dsa = evaluate(cs.images, cs.labels, real, spec, tcfg, train_seeds, args.device)
        g = np.random.default_rng(seed)
        subset = np.concatenate([g.choice(np.flatnonzero(real.y_train == k), ipc, replace=False) for k in range(c)])
        x = normalize(to_tensor(real.x_train[subset]), real.mean, real.std)
        acc_rand = evaluate(x, torch.as_tensor(real.y_train[subset]), real, spec, tcfg, train_seeds, args.device)
        dsa.append(acc_dsa)
        rand.append(acc_rand)
        print(
            f"  seed {seed}: DSA {acc_dsa:.2f} %  random real {acc_rand:.2f} %  (condensed in {t_cond:.0f} s, "
            f"loss {hist[0]:.3f} -> {np.mean(hist[-3:]):.3f})",
            flush=True,
        )
    dsa, rand = np.array(dsa), np.array(rand)
    se = lambda a: a.std(ddof=1) / np.sqrt(len(a)) if len(a) > 1 else float("nan")  # noqa: E731
    diff = dsa - rand
    print(f"DSA condensed:      {dsa.mean():.2f} ± {se(dsa):.2f} % (mean ± s.e. over {len(dsa)} seeds)")
    print(f"random real images: {rand.mean():.2f} ± {se(rand):.2f} %")
    print(
        f"paired difference:  {diff.mean():+.2f} ± {se(diff):.2f} points; DSA ahead on {int((diff > 0).sum())}/{len(diff)}"
    )


def step(args) -> None:
    real = _load(args.data)
    cfg = cd.CondenseConfig.dsa(10)
    runner = cd._prepare(real, "dsa", 10, 1, cfg, 0, args.device)
    runner.images = runner.initial_images().to(runner.device).requires_grad_(True)
    runner.opt = cd.ImageSGD(runner.images, cfg.lr_img, cfg.mom_img, runner.C)
    net = runner.network(0)
    opt = runner.net_optimizer(net)
    runner.image_update(net, 0, 0)  # warm-up
    t0 = time.perf_counter()
    for r in range(args.repeats):
        runner.image_update(net, 0, r + 1)
    match = (time.perf_counter() - t0) / args.repeats
    one_epoch = cfg.replace(syn_epochs=1)
    runner.cfg = one_epoch
    t0 = time.perf_counter()
    for r in range(args.repeats):
        runner.net_update(net, opt, 0, r)
    epoch = (time.perf_counter() - t0) / args.repeats
    outer = cfg.inner * match + (cfg.inner - 1) * cfg.syn_epochs * epoch
    print(
        f"{real.name}, {args.device}, torch {torch.__version__}, {torch.get_num_threads()} threads: one matching step "
        f"(10 classes x (256 real + 10 synthetic), batched) {match:.2f} s; one synthetic epoch (100 images) {epoch:.3f} s"
    )
    print(
        f"one outer iteration = 10 x {match:.2f} + 9 x 50 x {epoch:.3f} = {outer:.1f} s; "
        f"1001 outer iterations: {1001 * outer / 3600:.1f} h"
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default="digits", help="'digits' or a CIFAR-10 npz (yoco data / shared mini set)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--step", action="store_true", help="time one outer iteration at the paper's settings")
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--ipc", type=int, default=10)
    p.add_argument("--seeds", type=int, default=3, help="condensation seeds (and random subsets)")
    p.add_argument("--outer", type=int, default=20)
    p.add_argument("--inner", type=int, default=5)
    p.add_argument("--syn-epochs", type=int, default=10)
    p.add_argument("--batch-real", type=int, default=64)
    p.add_argument("--width", type=int, default=32)
    p.add_argument("--epochs", type=int, default=300)
    args = p.parse_args()
    torch.manual_seed(0)  # nothing below draws from it
    step(args) if args.step else quality(args)


if __name__ == "__main__":
    main()
