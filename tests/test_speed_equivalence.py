"""Issue 5: the fast trainer learns what the reference loop learns, and its speed machinery is sound.

* The batched trainer (``yoco.train.train_models``) and the re-created reference loop
  (``yoco.reference_loop.train_reference``) train the same recipe on the same digits subset; their mean
  test accuracies must agree within noise. Their random streams differ (counter-based vs torch's global
  generator), so only the distributions can be compared.
* The three engines (stacked ConvNet, vmap, sequential modules) compute the same SGD steps.
* No host synchronisation in the step loop; TF32 switch restored; memory estimate by hand.
"""

from __future__ import annotations

import inspect
import math
import re
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from yoco import augment
from yoco import train as T
from yoco.data import load_real, to_tensor
from yoco.errors import YocoError
from yoco.reference_loop import ReferenceDiffAug, rand_bbox, topk_accuracy, train_reference
from yoco.train import NetworkSpec, TrainConfig, estimate_step_memory, models_per_batch, train_models

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def one_thread():
    """Run single-threaded: on a shared 2-core machine OpenMP threads that spin while the other core
    is busy make small steps 10x slower; one thread keeps these tests fast and their timing stable."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _digits():
    d = load_real("digits", image_size=16)
    x = augment.normalize(to_tensor(d.x_train), d.mean, d.std)
    xt = augment.normalize(to_tensor(d.x_test), d.mean, d.std)
    return x, torch.from_numpy(d.y_train), xt, torch.from_numpy(d.y_test)


def test_batched_trainer_matches_reference_loop_accuracy(one_thread):
    """Eager and compiled (the CPU path of paper-length trainings) both learn what the reference learns."""
    x, y, xt, yt = _digits()
    rng = np.random.default_rng(0)
    labels = y.numpy()
    subset = np.sort(np.concatenate([rng.choice(np.flatnonzero(labels == c), 20, replace=False) for c in range(10)]))
    spec = NetworkSpec("convnet", 10, 16, width=16, depth=3)
    runs, epochs = 8, 30
    ref = [
        train_reference(
            spec.build(s), x[subset], y[subset], epochs, seed=s, test_x=xt, test_y=yt, eval_points=1
        ).last_acc
        for s in range(runs)
    ]
    for compiled in (False, True):
        results = train_models(
            spec,
            x,
            y,
            [subset] * runs,
            list(range(100, 100 + runs)),
            TrainConfig(epochs=epochs, eval_points=1, compile=compiled),
            test_x=xt,
            test_y=yt,
        )
        assert results[0].settings["compiled"] is compiled
        ours = [r.last_acc for r in results]
        # Both must actually learn (chance is 10 %), else agreeing would mean nothing.
        assert min(np.mean(ref), np.mean(ours)) > 50, (compiled, ref, ours)
        pooled_se = math.sqrt(np.var(ref, ddof=1) / runs + np.var(ours, ddof=1) / runs)
        assert abs(np.mean(ours) - np.mean(ref)) < 3 * pooled_se + 1.0, (compiled, ref, ours)


def _pool(n=24, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, 8, 8, generator=g), torch.arange(n) % 3


def _weights(result):
    return torch.cat([v.flatten() for _, v in sorted(result.state_dict.items())])


@pytest.mark.parametrize("engine", ["vmap", "loop", "sequential"])
def test_stacked_engine_equals_other_engines(engine):
    """Stacked (grouped convs, M·C-group norm, bmm) == vmap == per-model loop == plain modules."""
    spec = NetworkSpec("convnet", 3, 8, width=4, depth=3)
    x, y = _pool()
    subsets = [np.arange(0, 16), np.arange(8, 24)]

    def run(eng):
        cfg = TrainConfig(epochs=2, batch_size=8, eval_points=1, engine=eng)
        return train_models(spec, x, y, subsets, [3, 4], cfg, test_x=x, test_y=y, keep_state=True)

    stacked, other = run("stacked"), run(engine)
    assert stacked[0].settings["engine"] == "stacked" and other[0].settings["engine"] == engine
    for a, b in zip(stacked, other):
        torch.testing.assert_close(_weights(a), _weights(b), rtol=1e-4, atol=1e-5)
        assert a.accuracies == b.accuracies


def test_stacked_engine_model_in_a_batch_equals_model_alone():
    spec = NetworkSpec("convnet", 3, 8, width=4, depth=3)
    x, y = _pool()
    cfg = TrainConfig(epochs=2, batch_size=8, eval_points=0, engine="stacked")
    subsets, seeds = [np.arange(0, 16), np.arange(8, 24), np.arange(4, 20)], [11, 22, 33]
    together = train_models(spec, x, y, subsets, seeds, cfg, keep_state=True)
    for i in range(3):
        alone = train_models(spec, x, y, [subsets[i]], [seeds[i]], cfg, keep_state=True)[0]
        torch.testing.assert_close(_weights(together[i]), _weights(alone), rtol=1e-4, atol=1e-5)


def test_compiled_training_equals_eager_training():
    """torch.compile fuses kernels (other rounding), nothing else: same weights and accuracies."""
    spec = NetworkSpec("convnet", 3, 8, width=4, depth=3)
    x, y = _pool()
    subsets, seeds = [np.arange(0, 16), np.arange(8, 24)], [5, 6]

    def run(compiled):
        cfg = TrainConfig(epochs=2, batch_size=8, eval_points=1, compile=compiled)
        return train_models(spec, x, y, subsets, seeds, cfg, test_x=x, test_y=y, keep_state=True)

    eager, compiled = run(False), run(True)
    assert [r.settings["compiled"] for r in eager + compiled] == [False, False, True, True]
    for a, b in zip(eager, compiled):
        torch.testing.assert_close(_weights(a), _weights(b), rtol=1e-4, atol=1e-5)
        assert a.accuracies == b.accuracies


class _BackwardFails(torch.autograd.Function):
    """Identity whose backward fails, as a compiled backward does when its C++ build fails."""

    @staticmethod
    def forward(ctx, x):
        return x.clone()

    @staticmethod
    def backward(ctx, grad):
        raise RuntimeError("CppCompileError: C++ compiler failed on the backward graph")


@pytest.mark.parametrize("fails_in", ["forward", "backward"])
def test_failed_compilation_warns_and_trains_eagerly(monkeypatch, fails_in):
    """No working C++ compiler (say): the first call says so and training goes on, as if compile=False.
    The backward compiles at its first call, so a failure there must not leave gradients behind."""

    def broken(spec, training):
        base = spec.build(0).to("meta").train(training)

        def forward(params, buffers, x):
            if fails_in == "forward":
                raise RuntimeError("InvalidCxxCompiler: No working C++ compiler found")
            return _BackwardFails.apply(torch.func.functional_call(base, (params, buffers), (x,)))

        return forward

    monkeypatch.setattr(T, "compiled_forward", broken)
    spec = NetworkSpec("convnet", 3, 8, width=4, depth=3)
    x, y = _pool()

    def run(compiled):
        config = TrainConfig(epochs=2, batch_size=8, eval_points=1, compile=compiled)
        return train_models(spec, x, y, [np.arange(16)] * 2, [7, 8], config, test_x=x, test_y=y, keep_state=True)

    with pytest.warns(UserWarning, match="torch.compile failed.*C\\+\\+ compiler.*compile=False") as caught:
        fallback = run(True)
    # Once per failing mode: training and validation, or training only (validation has no backward).
    assert len(caught) == (2 if fails_in == "forward" else 1)
    eager = run(False)
    for a, b in zip(fallback, eager):
        assert a.settings["compiled"] is False
        assert torch.equal(_weights(a), _weights(b)) and a.accuracies == b.accuracies


def test_compile_is_automatic_only_for_long_cpu_trainings():
    paper = NetworkSpec("convnet", 10, 32, width=128, depth=3)
    auto = TrainConfig()
    # One cell of Table 1 on the CPU: 81 models x 1000 epochs x 40 images: hours eager, so compile.
    assert T.use_compile(paper, auto, "loop", "cpu", 81 * 1000 * 40)
    # The CLI leaves the width unset for the paper's default (128 for ConvNet).
    assert T.use_compile(NetworkSpec("convnet", 10, 32, width=None), auto, "loop", "cpu", 81 * 1000 * 40)
    # A quickstart-sized call (width 16, 16 px, 15 epochs): seconds, so compiling would not pay.
    small = NetworkSpec("convnet", 10, 16, width=16, depth=3)
    assert not T.use_compile(small, TrainConfig(epochs=15), "loop", "cpu", 9 * 15 * 400)
    # Never automatically on CUDA or for other engines; an explicit choice wins.
    assert not T.use_compile(paper, auto, "loop", "cuda", 81 * 1000 * 40)
    assert not T.use_compile(paper, auto, "stacked", "cpu", 81 * 1000 * 40)
    assert not T.use_compile(paper, TrainConfig(compile=False), "loop", "cpu", 81 * 1000 * 40)
    assert T.use_compile(small, TrainConfig(compile=True), "loop", "cpu", 1)
    # compile=True picks the engine that has a compiled path, and refuses those that have none.
    assert T.resolve_engine(paper, TrainConfig(compile=True), "cuda") == "loop"
    with pytest.raises(YocoError, match="no compiled path"):
        TrainConfig(compile=True, engine="stacked")
    with pytest.raises(YocoError, match="BatchNorm.*drop --compile"):
        T.resolve_engine(NetworkSpec("resnet10bn", 3, 8), TrainConfig(compile=True))


def test_auto_engine_choice_and_errors():
    conv = NetworkSpec("convnet", 3, 8, width=4)
    # Launch-bound GPU: few large kernels; compute-bound CPU: plain per-model kernels.
    assert T.resolve_engine(conv, TrainConfig(), "cuda") == "stacked"
    assert T.resolve_engine(NetworkSpec("resnetap10", 3, 32), TrainConfig(), "cuda") == "vmap"
    assert T.resolve_engine(conv, TrainConfig(), "cpu") == "loop"
    assert T.resolve_engine(conv, TrainConfig(engine="stacked"), "cpu") == "stacked"
    assert T.resolve_engine(NetworkSpec("resnet10bn", 3, 8), TrainConfig(), "cuda") == "sequential"
    with pytest.raises(YocoError, match="BatchNorm"):
        T.resolve_engine(NetworkSpec("resnet10bn", 3, 8), TrainConfig(engine="vmap"))
    with pytest.raises(YocoError, match="stacked"):
        T.resolve_engine(NetworkSpec("resnetap10", 3, 32), TrainConfig(engine="stacked"))
    with pytest.raises(YocoError, match="Did you mean 'vmap'"):
        TrainConfig(engine="vamp")


def test_validation_in_chunks_counts_the_same():
    spec = NetworkSpec("convnet", 3, 8, width=4)
    x, y = _pool(30)
    big, small = (
        train_models(
            spec,
            x,
            y,
            [np.arange(30)] * 2,
            [1, 2],
            TrainConfig(epochs=2, batch_size=8, eval_points=2, eval_batch=b),
            test_x=x,
            test_y=y,
        )
        for b in (500, 7)
    )
    assert [r.accuracies for r in big] == [r.accuracies for r in small]
    assert all(r.eval_s > 0 and r.steps == 2 * 4 for r in big)


def test_no_host_synchronisation_in_the_step_loop():
    """Reading a device value on the host inside the loop stalls a GPU every step."""
    src = inspect.getsource(T._train_chunk)
    loop = src[src.index("for b in range(iters):") : src.index("iteration += 1")]
    for call in (".item(", ".tolist(", ".cpu(", ".numpy(", "torch.cuda.synchronize"):
        assert call not in loop, f"{call} in the step loop"
    # Python's float()/int()/bool() on a tensor read it back too (tensor.float() is only a cast).
    assert not re.search(r"(?<![.\w])(float|int|bool)\(", loop)


def test_tf32_switch_is_recorded_and_restored():
    spec = NetworkSpec("convnet", 3, 8, width=4)
    x, y = _pool()
    before = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    r = train_models(spec, x, y, [np.arange(8)], [1], TrainConfig(epochs=1, eval_points=0, tf32=True))[0]
    assert r.settings["tf32_matmul"] is True and r.settings["tf32_cudnn"] is True
    assert (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32) == before
    r = train_models(spec, x, y, [np.arange(8)], [1], TrainConfig(epochs=1, eval_points=0))[0]
    assert r.settings["tf32_matmul"] == before[0]


def test_step_memory_estimate_by_hand_and_models_per_batch():
    # ConvNet-D3, width 4, 8 px, 3 classes. Activation elements per image, module by module:
    # block 1: conv, norm, relu 4*8*8 = 256 each, pool 4*4*4 = 64 -> 832; block 2: 3*64 + 16 = 208;
    # block 3: 3*16 + 4 = 52; classifier 3. Total 1095.
    # Parameters: convs 4*3*9+4 = 112, 2 x (4*4*9+4 = 148); norms 3 x 8; classifier 4*3+3 = 15 -> 447.
    spec = NetworkSpec("convnet", 3, 8, width=4, depth=3)
    cfg = TrainConfig(batch_size=64)
    expected = 4 * (3 * 1095 * 64 + 4 * 447)
    assert estimate_step_memory(spec, cfg) == expected
    # The loop engine holds one model's activations at a time: a model adds 12 copies of its parameters
    # and 6 of its batch of images (3 * 8 * 8 floats each), the fit to measured RSS in train.py.
    assert estimate_step_memory(spec, cfg, "loop") == 4 * (12 * 447 + 6 * 192 * 64)
    assert models_per_batch(spec, cfg, 10, "cpu") == 10  # 4 GiB hold thousands of these
    assert models_per_batch(spec, TrainConfig(max_models=3), 10, "cpu") == 3
    huge = NetworkSpec("convnet", 10, 256, width=256, depth=3)
    stacked = TrainConfig(engine="stacked")
    assert models_per_batch(huge, stacked, 10, "cpu") == max(
        1, min(10, 4 * 2**30 // estimate_step_memory(huge, stacked))
    )
    # CPU default (loop): the budget less one model's activations, over the per-model state and inputs.
    paper = NetworkSpec("convnet", 10, 32, width=128, depth=3)
    activations = estimate_step_memory(paper, cfg) - 4 * 4 * sum(p.numel() for p in paper.build(0).parameters())
    # Measured (benchmarks/README.md): 17 MiB per added model at width 128; the estimate must not be below.
    assert 17 * 2**20 <= estimate_step_memory(paper, cfg, "loop") < 20 * 2**20
    per_model = estimate_step_memory(paper, cfg, "loop")
    assert 0 < activations < 2**30 and per_model < estimate_step_memory(paper, cfg) / 10
    assert models_per_batch(paper, cfg, 1000, "cpu") == (4 * 2**30 - activations) // per_model


def test_reference_diffaug_crop_is_an_integer_shift_with_zeros_moved_in():
    torch.manual_seed(0)
    np.random.seed(0)
    x = torch.rand(16, 3, 32, 32) + 1.0  # strictly positive, so moved-in zeros are recognisable
    out = ReferenceDiffAug("crop")(x)
    for img, src in zip(out, x):
        # The shift is at most int(0.125 * 32 + 0.5) = 4 pixels per axis; exactly one shift must fit.
        fits = []
        for dh in range(-4, 5):
            for dw in range(-4, 5):
                want = torch.zeros_like(src)
                hs, ws = slice(max(0, -dh), 32 - max(0, dh)), slice(max(0, -dw), 32 - max(0, dw))
                hd, wd = slice(max(0, dh), 32 - max(0, -dh)), slice(max(0, dw), 32 - max(0, -dw))
                want[:, hs, ws] = src[:, hd, wd]
                if torch.equal(img, want):
                    fits.append((dh, dw))
        assert len(fits) == 1


def test_reference_cutmix_box_and_accuracy_helpers():
    np.random.seed(1)
    # lam = 0.75 -> cut ratio sqrt(0.25) = 0.5 -> a 16 x 16 box on 32 px, clipped at the border.
    for _ in range(50):
        x1, y1, x2, y2 = rand_bbox((8, 3, 32, 32), 0.75)
        assert 0 <= x1 <= x2 <= 32 and 0 <= y1 <= y2 <= 32
        assert x2 - x1 <= 16 and y2 - y1 <= 16
        if 0 < x1 and x2 < 32:
            assert x2 - x1 == 16
    out = torch.tensor([[0.1, 0.9, 0.0], [0.8, 0.15, 0.05], [0.2, 0.3, 0.5]])
    top1, top2 = topk_accuracy(out, torch.tensor([1, 1, 0]), topk=(1, 2))
    # Row 0 right at rank 1; row 1's label is its rank 2; row 2's label 0 is its rank 3.
    assert top1.item() == pytest.approx(100 / 3) and top2.item() == pytest.approx(200 / 3)


def test_reference_loop_leaves_global_rng_untouched_and_is_repeatable():
    spec = NetworkSpec("convnet", 3, 8, width=4)
    x, y = _pool()
    torch.manual_seed(123)
    np.random.seed(123)
    state_t, state_n = torch.get_rng_state(), np.random.get_state()[1].copy()
    a = train_reference(spec.build(0), x, y, 2, seed=5, test_x=x, test_y=y, batch_size=8, eval_points=2)
    b = train_reference(spec.build(0), x, y, 2, seed=5, test_x=x, test_y=y, batch_size=8, eval_points=2)
    assert torch.equal(torch.get_rng_state(), state_t) and np.array_equal(np.random.get_state()[1], state_n)
    assert a.accuracies == b.accuracies and sorted(a.accuracies) == [1, 2]
    assert a.steps == 2 * 3  # 24 images in batches of 8, 2 epochs


def test_throughput_benchmark_smoke(capsys, one_thread):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import throughput
    finally:
        sys.path.pop(0)
    rc = throughput.main(
        [
            "--device",
            "cpu",
            "--sizes",
            "40,80",
            "--width",
            "4",
            "--models",
            "2",
            "--steps",
            "1",
            "--repeats",
            "1",
            "--test-images",
            "20",
            "--data",
            str(ROOT / "no-such-file.npz"),
        ]
    )
    lines = capsys.readouterr().out.strip().splitlines()
    assert rc == 0
    assert lines[-1].startswith("speedup ") and float(lines[-1].split()[1]) > 0
    assert any(line.startswith("Table 1 CIFAR-10") for line in lines)
