"""Model-steps per second: the reference's one-model-at-a-time loop vs the batched trainer (issue 5).

Both styles train ConvNet-D3 (instance norm) on CIFAR-sized 32-px images, 10 classes, with the
evaluation recipe of reference-spec §4.2 (SGD 0.01/0.9/5e-4, batch 64, DiffAug
``color_crop_flip_scale_rotate`` per sample, CutMix p = 0.5, MultiStepLR per epoch), in one process on
one device, on the same class-balanced subsets of 40, 80, 200, 400 and 4 000 images:

(a) ``yoco.reference_loop.train_reference``: a faithful re-creation of the reference's ``train.py``
    loop (one model, a DataLoader over a CPU TensorDataset, a host-to-device copy per step, DiffAug
    with host-built affine matrices, CutMix decided on the host, three ``.item()`` per step);
(b) ``yoco.train.train_models``: ``--models`` models at once, everything on the device.

For each size it prints model-steps per second of both and their ratio, then the peak memory per
model of the batched step, then a projection of the wall time of Table 1's CIFAR-10 evaluations and
of all ConvNet evaluation trainings of Tables 1-5 (reference-spec §9.2 counts), and finally the line
``speedup <ratio>``: the geometric mean of the ratios over the 40-400-image subsets.

Timing: training steps only for both styles (``train_s``: the epoch loops; building the models, and
validation, are outside it; validation is timed separately and enters the projection, and the batched
trainer's set-up per call is printed). The batched trainer's torch.compile happens in the warm-up and
is reported there (a one-off per process and batch shape). Each size is
measured ``--repeats`` times, alternating the two styles so that both see the same machine load, and
the best rate of each is kept: on a shared machine the best is the least disturbed.

Usage::

    python benchmarks/throughput.py --quick                      # CPU, < 1 minute
    python benchmarks/throughput.py --device cuda                # GPU: 81 models, width 128
    python benchmarks/throughput.py --device cuda --tf32         # ... with TF32 matmuls and convolutions
"""

from __future__ import annotations

import argparse
import ctypes
import datetime
import math
import platform
import resource
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from yoco.data import NORMALIZATION  # noqa: E402
from yoco.reference_loop import train_reference  # noqa: E402
from yoco.train import (  # noqa: E402
    NetworkSpec,
    TrainConfig,
    estimate_step_memory,
    models_per_batch,
    resolve_engine,
    step_memory_per_model,
    train_models,
    use_compile,
)

SIZES = (40, 80, 200, 400, 4000)
SPEEDUP_SIZES = (40, 80, 200, 400)
EPOCHS = 1000
EVALS_PER_TRAINING = 4  # validations at E/4, E/2, 3E/4, E
TEST_IMAGES = 10_000  # CIFAR test set

# Evaluation trainings per (table, images per training), reference-spec §9.2. Table 1 CIFAR-10: cells
# 10->{1,2,5} and 50->{1,2,5,10} at 4 patches per image (factor 2), 81 trainings each; CIFAR-100:
# 10->{1,2,5}, 20->{1,2,5}, 50->{1,2,5,10}. Tables 2-5 count only trainings not shared with Table 1/2.
TABLE1_CIFAR10 = {40: 2 * 81, 80: 2 * 81, 200: 2 * 81, 400: 81}
TABLE1_CIFAR100 = {400: 3 * 81, 800: 3 * 81, 2000: 3 * 81, 4000: 81}
TABLES_2_TO_5 = {
    # T2, T4 (IPC_T 1: 40 patches for IDC/DREAM, 10 images for MTT/KIP/DSA; costed as 40), T3 (ResNet-10-BN
    # and DenseNet, costed at ConvNet rates: a lower bound), T5 (IPC_T 1/2/5: 60 trainings each).
    "Table 2": {40: 117},
    "Table 3 (ResNet/DenseNet at ConvNet rates)": {40: 126},
    "Table 4": {40: 198},
    "Table 5": {40: 60, 80: 60, 200: 60},
}


def tune_allocator() -> None:
    """The CLI's glibc setting (design.md §4): keep the loop's buffers mapped (1.7x on the CPU)."""
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return
    libc.mallopt(-4, 0)  # M_MMAP_MAX
    libc.mallopt(-1, 1 << 30)  # M_TRIM_THRESHOLD


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def load_pool(path: str, n_test: int, seed: int = 0):
    """Normalised CIFAR-10 (train, test) from the mini archive, or random images when it is absent."""
    mean, std = NORMALIZATION["cifar10"]
    mean_t, std_t = torch.tensor(mean)[:, None, None], torch.tensor(std)[:, None, None]
    p = Path(path)
    if p.is_file():
        d = np.load(p)
        to = lambda a: (torch.from_numpy(a).permute(0, 3, 1, 2).float() / 255 - mean_t) / std_t  # noqa: E731
        keep = np.flatnonzero(~d["test_is_jpeg"])[:n_test] if "test_is_jpeg" in d else np.arange(n_test)
        if len(keep) < n_test:
            keep = np.arange(min(n_test, len(d["y_test"])))
        return (
            to(d["x_train"]),
            torch.from_numpy(d["y_train"]).long(),
            to(d["x_test"][keep]),
            torch.from_numpy(d["y_test"][keep]).long(),
            f"CIFAR-10 ({p})",
        )
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(5000) % 10
    yt = torch.arange(n_test) % 10
    return (
        torch.randn(5000, 3, 32, 32, generator=g),
        y,
        torch.randn(n_test, 3, 32, 32, generator=g),
        yt,
        f"random normal images ({path} not found)",
    )


def balanced_subset(labels: np.ndarray, n: int, seed: int) -> np.ndarray:
    """``n`` indices, ``n / C`` per class, drawn without replacement (as an IPC_T selection is balanced)."""
    classes = np.unique(labels)
    per = n // len(classes)
    rng = np.random.default_rng(seed)
    out = [rng.choice(np.flatnonzero(labels == c), size=per, replace=False) for c in classes]
    return np.sort(np.concatenate(out))


def measure(args, device: torch.device):
    spec = NetworkSpec("convnet", 10, 32, args.width, 3)
    pool_x, pool_y, test_x, test_y, source = load_pool(args.data, args.test_images)
    labels = pool_y.numpy()
    base_cfg = TrainConfig(
        epochs=1, eval_points=0, tf32=args.tf32, channels_last=args.channels_last, engine=args.engine
    )
    m = min(args.models, models_per_batch(spec, base_cfg, args.models, device))
    sizes = [s for s in args.sizes if s <= len(labels)]
    engine = resolve_engine(spec, base_cfg, device)
    if args.compile is None:
        # What the trainer does in a paper-length job: one cell's 81 models x 1000 epochs of the smallest size.
        paper = TrainConfig(epochs=EPOCHS, engine=args.engine)
        args.compile = use_compile(spec, paper, engine, device, 81 * EPOCHS * min(sizes))
    print(
        f"# data: {source}; ConvNet-D3 width {args.width}; {m} models per batch "
        f"(asked {args.models}); engine {engine}; compiled {args.compile}; tf32 {args.tf32}; "
        f"channels_last {args.channels_last}"
    )

    def reference(n: int, epochs: int, rep: int, with_test: bool = False):
        sub = balanced_subset(labels, n, seed=rep)
        model = spec.build(rep)
        return train_reference(
            model,
            pool_x[sub],
            pool_y[sub],
            epochs,
            seed=rep,
            device=device,
            test_x=test_x if with_test else None,
            test_y=test_y if with_test else None,
            eval_points=1,
        )

    def ours(n: int, epochs: int, rep: int, with_test: bool = False):
        subs = [balanced_subset(labels, n, seed=1000 * rep + k) for k in range(m)]
        cfg = TrainConfig(
            epochs=epochs,
            eval_points=1,
            max_models=m,
            tf32=args.tf32,
            channels_last=args.channels_last,
            engine=args.engine,
            compile=args.compile,
        )
        sync(device)
        t0 = time.perf_counter()
        res = train_models(
            spec,
            pool_x,
            pool_y,
            subs,
            [1000 * rep + k for k in range(m)],
            cfg,
            test_x=test_x if with_test else None,
            test_y=test_y if with_test else None,
            device=device,
        )
        sync(device)
        return res, time.perf_counter() - t0 - res[0].train_s - res[0].eval_s

    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        cuda_base = torch.cuda.memory_allocated(device)
    # Warm-up: kernels, cuDNN autotuning (the reference sets cudnn.benchmark), allocator pools, and the
    # compiled graphs of every batch shape (a one-off per process, reported, not in the rates).
    reference(sizes[0], 1, 99)
    t_warm = time.perf_counter()
    for n in sizes:
        ours(n, 1, 99)
    print(
        f"# batched warm-up over the {len(sizes)} sizes: {time.perf_counter() - t_warm:.1f} s"
        + (
            " (includes torch.compile of every batch shape; ~2 s per shape from inductor's on-disk cache)"
            if args.compile
            else ""
        ),
        flush=True,
    )

    rows, setups = [], []
    print(f"{'images':>7} {'steps':>6} {'reference':>12} {'batched':>12} {'ratio':>7}   (model-steps per second)")
    for n in sizes:
        iters = math.ceil(n / 64)
        epochs = max(args.epochs, math.ceil(args.steps / iters))
        best_ref = best_ours = 0.0
        for rep in range(args.repeats):
            r = reference(n, epochs, rep)
            best_ref = max(best_ref, r.steps / r.train_s)
            res, setup = ours(n, epochs, rep)
            setups.append(setup)
            best_ours = max(best_ours, m * res[0].steps / res[0].train_s)
        rows.append((n, best_ref, best_ours))
        print(
            f"{n:>7} {epochs * iters:>6} {best_ref:>12.1f} {best_ours:>12.1f} {best_ours / best_ref:>6.2f}x", flush=True
        )

    print(
        f"# batched set-up per call (build, initialise and stack {m} models; outside the rates): "
        f"{1000 * float(np.median(setups)):.0f} ms"
    )

    # Memory per model of the batched step.
    rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    est = estimate_step_memory(spec, base_cfg, engine)
    if device.type == "cuda":
        peak = (torch.cuda.max_memory_allocated(device) - cuda_base) / m
        probe = step_memory_per_model(spec, base_cfg, device)
        print(
            f"# memory per model in the batch: {peak / 2**20:.0f} MiB peak (torch.cuda.max_memory_allocated, "
            f"{m} models); probe used by models_per_batch {probe / 2**20:.0f} MiB; analytic estimate "
            f"{est / 2**20:.0f} MiB"
        )
    else:
        print(
            f"# memory per model in the batch: max RSS grew {(rss1 - rss0) / 1024 / m:.0f} MiB per model "
            f"over the runs ({m} models; includes the reference's one model"
            + ("; the loop engine holds one model's activations at a time, a fixed part" if engine == "loop" else "")
            + f"); analytic estimate used by models_per_batch {est / 2**20:.0f} MiB"
        )

    # Validation cost, for the projection: one validation of each style on the test images.
    n_eval = sizes[0]
    r = reference(n_eval, 1, 0, with_test=True)
    ref_eval_per_image = r.eval_s / len(test_y)
    ours(n_eval, 1, 0, with_test=True)  # warm-up: compiles the validation batch shapes, if compiling
    res, _ = ours(n_eval, 1, 0, with_test=True)
    ours_eval_per_image = res[0].eval_s / len(test_y) / m  # per model
    print(
        f"# validation: reference {len(test_y) / r.eval_s:.0f} images/s; batched "
        f"{m * len(test_y) / res[0].eval_s:.0f} model-images/s"
    )
    return rows, ref_eval_per_image, ours_eval_per_image, m


def rate_at(rows, n: int, style: int) -> float:
    """Measured rate for ``n`` images; sizes not measured use the nearest measured size at or below
    (all sizes above 400 run full batches of 64, so their per-step cost is that of the largest)."""
    known = {r[0]: r[style] for r in rows}
    if n in known:
        return known[n]
    below = [s for s in known if s <= n]
    return known[max(below)] if below else known[min(known)]


def projection(rows, ref_eval, ours_eval, width: int) -> None:
    def hours(table: dict[int, int], style: int) -> float:
        eval_per_image = ref_eval if style == 1 else ours_eval
        total = 0.0
        for n, trainings in table.items():
            steps = EPOCHS * math.ceil(n / 64)
            total += trainings * (steps / rate_at(rows, n, style) + EVALS_PER_TRAINING * TEST_IMAGES * eval_per_image)
        return total / 3600

    print(
        f"# projection at the measured rates (ConvNet-D3 width {width}): 1000 epochs per training, 4 validations "
        "on 10 000 test images, one style run "
        "after another on this device (the reference's scripts ran several processes per GPU; not modelled)"
    )
    print(f"{'':44} {'reference':>10} {'batched':>10}   (hours)")
    tables = {
        "Table 1 CIFAR-10 (567 trainings, 1.70 M steps)": TABLE1_CIFAR10,
        "Table 1 CIFAR-100 (810 trainings, 17.7 M steps)": TABLE1_CIFAR100,
        **TABLES_2_TO_5,
    }
    total = [0.0, 0.0]
    for name, table in tables.items():
        h = hours(table, 1), hours(table, 2)
        total = [total[0] + h[0], total[1] + h[1]]
        print(f"{name:44} {h[0]:>10.1f} {h[1]:>10.1f}")
    print(f"{'Tables 1-5, ConvNet evaluations':44} {total[0]:>10.1f} {total[1]:>10.1f}")
    print(
        "# not included: ImageNet-10 (ResNetAP-10, 224 px; 432 trainings), the IPC_F column, the 33 dynamics "
        "runs (1.66 M ConvNet steps, 3 models per batch). CIFAR-100 sizes 800/2000 use the largest measured "
        "size's rate, and CIFAR-100's 100 classes are costed as 10."
    )


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument(
        "--quick", action="store_true", help="CPU smoke run (< 1 min): sizes 40-400, width 32, 8 models, few steps"
    )
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    p.add_argument(
        "--models",
        type=int,
        default=None,
        help="models the batched trainer trains at once (default 81 on GPU, 8 on CPU)",
    )
    p.add_argument("--width", type=int, default=None, help="ConvNet width (default 128; --quick 32)")
    p.add_argument("--epochs", type=int, default=None, help="minimum epochs per measurement (default 1)")
    p.add_argument(
        "--steps", type=int, default=None, help="minimum optimiser steps per measurement (default 40; --quick 6)"
    )
    p.add_argument(
        "--sizes",
        type=lambda s: [int(v) for v in s.split(",")],
        default=None,
        help="comma-separated subset sizes (default 40,80,200,400,4000; --quick 40,80,200,400)",
    )
    p.add_argument("--repeats", type=int, default=None, help="measurements per size, best kept (default 3; --quick 2)")
    p.add_argument(
        "--data",
        default=str(ROOT.parent / "shared" / "data" / "cifar10-mini.npz"),
        help="CIFAR-10 .npz (../shared/data layout); random images when missing",
    )
    p.add_argument("--test-images", type=int, default=None, help="test images for the validation timing")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--tf32", action="store_true", help="allow TF32 matmuls and convolutions (CUDA)")
    p.add_argument("--channels-last", action="store_true", help="channels-last activations (stacked engine)")
    p.add_argument("--engine", default="auto", help="auto | stacked | loop | vmap (the batched trainer's engine)")
    p.add_argument(
        "--compile",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="torch.compile the loop engine's forwards (default: as the trainer decides for a "
        "paper-length job: on for the CPU, off for CUDA)",
    )
    args = p.parse_args(argv)

    tune_allocator()
    if args.threads:
        torch.set_num_threads(args.threads)
    name = "cuda" if args.device == "auto" and torch.cuda.is_available() else args.device
    device = torch.device("cpu" if name == "auto" else name)
    gpu = device.type == "cuda"
    if gpu and not torch.cuda.is_available():
        print(f"--device {args.device}: no CUDA device is visible; use --device cpu", file=sys.stderr)
        return 2
    q = args.quick
    args.models = args.models or (81 if gpu else 8)
    args.width = args.width or (32 if q else 128)
    args.epochs = args.epochs or 1
    args.steps = args.steps or (6 if q else 40)
    args.sizes = args.sizes or list(SPEEDUP_SIZES if q else SIZES)
    args.repeats = args.repeats or (2 if q else 3)
    args.test_images = args.test_images or (200 if q else 1000)
    args.tf32 = True if args.tf32 else None
    torch.backends.cudnn.benchmark = True  # as the reference's train.py/test.py set it

    what = torch.cuda.get_device_name(device) if gpu else (platform.processor() or platform.machine())
    print(
        f"# throughput.py {datetime.date.today()}  torch {torch.__version__}  device {device} ({what})  "
        f"threads {torch.get_num_threads()}  python {platform.python_version()}"
    )
    print(f"# command: {' '.join([Path(sys.argv[0]).name] + (argv if argv is not None else sys.argv[1:]))}")
    t0 = time.perf_counter()
    rows, ref_eval, ours_eval, _ = measure(args, device)
    projection(rows, ref_eval, ours_eval, args.width)
    ratios = [o / r for n, r, o in rows if n in SPEEDUP_SIZES]
    print(f"# total benchmark time {time.perf_counter() - t0:.0f} s")
    if not ratios:
        print("speedup nan  (no 40-400-image size measured)")
        return 1
    print(f"speedup {math.exp(sum(map(math.log, ratios)) / len(ratios)):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
