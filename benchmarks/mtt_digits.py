"""Distil digits with MTT (IPC 10) on the CPU and compare the set with random real images of the same count.

For each distillation seed: train experts once (shared), distil ``ExpertConfig.quick`` /
``MTTConfig.quick`` budgets, and train ConvNet-D3s on (a) the distilled set and (b) its own starting
point, 10 random real images per class (the same count). Both live in the experts' value space
(normalised, or ZCA-whitened with ``--zca``) and the test set is mapped into it; evaluation is the
reference recipe shortened (``yoco.train.train_models``: SGD 0.01/0.9/5e-4, DiffAug, CutMix 0.5), the
same for both sets. The script prints the mean test accuracy and its standard error over the seeds,
and the paired difference (distilled minus its initialisation) with its standard error.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/mtt_digits.py                  # about 15 minutes on 2 CPU cores
    python benchmarks/mtt_digits.py --data ../shared/data/cifar10-mini.npz --iterations 100
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from yoco.condense.experts import ExpertConfig, Space, _pixels, train_experts  # noqa: E402
from yoco.condense.mtt import MTT, MTTConfig, distill  # noqa: E402
from yoco.data import load_real  # noqa: E402
from yoco.train import NetworkSpec, TrainConfig, train_models  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default="digits", help="'digits' (16 px) or an npz of `yoco data`")
    p.add_argument("--ipc", type=int, default=10)
    p.add_argument("--experts", type=int, default=5)
    p.add_argument("--expert-epochs-total", type=int, default=15, help="epochs per expert")
    p.add_argument("--iterations", type=int, default=150)
    p.add_argument("--width", type=int, default=32)
    p.add_argument("--zca", action="store_true")
    p.add_argument("--epochs", type=int, default=200, help="evaluation epochs")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--eval-seeds", type=int, default=2, help="evaluation networks per set")
    args = p.parse_args()

    if args.data == "digits":
        real = load_real("digits", image_size=16)
    else:
        real = load_real("cifar10", npz=args.data)
    dev = torch.device("cpu")
    t0 = time.perf_counter()
    ecfg = ExpertConfig.quick().replace(epochs=args.expert_epochs_total, width=args.width, zca=args.zca)
    experts = train_experts(real, args.experts, ecfg, seed=100)
    accs = [a for a in experts.test_acc if a is not None]
    print(
        f"{real.name}: {len(real.y_train)} train / {len(real.y_test)} test, {real.image_size} px; "
        f"{args.experts} experts x {ecfg.epochs} epochs (width {args.width}, {'ZCA' if args.zca else 'normalised'}) "
        f"in {time.perf_counter() - t0:.0f} s, expert test accuracy {np.mean(accs):.2f} %",
        flush=True,
    )
    space = Space(real, args.zca, dev)
    test_x = space(_pixels(real.x_test, dev))
    test_y = torch.as_tensor(real.y_test)
    spec = NetworkSpec("convnet", real.num_classes, real.image_size, width=args.width, depth=3)
    tcfg = TrainConfig(epochs=args.epochs, eval_points=1)
    cfg = MTTConfig.quick().replace(iterations=args.iterations)
    print(f"MTT: {cfg}", flush=True)

    def evaluate(x, y, seed):
        seeds = [1000 * seed + k for k in range(args.eval_seeds)]
        res = train_models(spec, x, y, [np.arange(len(y))] * len(seeds), seeds, tcfg, test_x, test_y, device=dev)
        return float(np.mean([r.last_acc for r in res]))

    rows = []
    for seed in args.seeds:
        t1 = time.perf_counter()
        result = distill(real, experts, args.ipc, cfg, seed=seed)
        t_distill = time.perf_counter() - t1
        init = MTT(real, experts, args.ipc, cfg, seed, dev).initial_images(space)
        a_mtt = evaluate(result.images, result.labels, seed)
        a_init = evaluate(init, result.labels, seed)
        hist = result.loss_history
        rows.append((a_mtt, a_init))
        print(
            f"seed {seed}: distilled {a_mtt:.2f} % vs its random-real initialisation {a_init:.2f} % "
            f"(loss {np.mean(hist[:10]):.3f} first 10 -> {np.mean(hist[-10:]):.3f} last 10, syn_lr "
            f"{result.syn_lr:.4f}; distillation {t_distill:.0f} s, {t_distill / cfg.iterations:.2f} s/iteration)",
            flush=True,
        )
    r = np.array(rows)
    n = len(r)
    se = r.std(0, ddof=1) / np.sqrt(n) if n > 1 else np.zeros(2)
    diff = r[:, 0] - r[:, 1]
    se_d = diff.std(ddof=1) / np.sqrt(n) if n > 1 else 0.0
    print(
        f"over {n} seeds (x {args.eval_seeds} evaluation networks each): MTT {r[:, 0].mean():.2f} ± {se[0]:.2f} %, "
        f"random real {r[:, 1].mean():.2f} ± {se[1]:.2f} % (mean ± standard error); paired difference "
        f"{diff.mean():+.2f} ± {se_d:.2f} points"
    )


if __name__ == "__main__":
    main()
