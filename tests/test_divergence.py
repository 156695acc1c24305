"""Training that diverges is never recorded as a result (docs/errors.md, "Training that diverges").

Every trainer and condenser is driven to a non-finite loss with a finite but huge setting (1e30: the
flags refuse inf up front, so only the runtime check can catch these) on 8-pixel digits and networks of
width 8, so each case runs in seconds. The contract: exit status 2 with one line on stderr that names
the setting to lower, no traceback, nothing written at the output and an output that was already
there left as it was; in Python a :class:`yoco.errors.TrainingDiverged` (a ``YocoError``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch

import yoco
from yoco.cli import main
from yoco.condense import CondenseConfig, condense
from yoco.condense.experts import ExpertConfig, train_experts
from yoco.condense.mtt import MTTConfig, distill
from yoco.condense.state import snapshot_kept_finite
from yoco.data import class_images, load_real
from yoco.errors import TrainingDiverged, YocoError
from yoco.formation import mix_init
from yoco.train import NetworkSpec, TrainConfig, train_models

REPO = Path(__file__).resolve().parents[1]
HUGE = "1e30"


def _ok(argv):
    assert main([str(a) for a in argv]) == 0, argv


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    """Real digits (8 px), an IDC-style set of 2 images per class and factor 2 (80 decoded patches), a
    random selection of 1 image per class, and one ordinary dynamics run and expert file. The ordinary
    runs train with the defaults' rates, so they also show that the check does not fire on a sound
    training (every other test of the trainers and condensers shows it too)."""
    d = tmp_path_factory.mktemp("diverge")
    _ok(["data", "--dataset", "digits", "--image-size", "8", "--out", d / "digits.npz"])
    real = load_real("digits", npz=d / "digits.npz")
    torch.save([mix_init(class_images(real, 8), 2, 2), torch.arange(10).repeat_interleave(2)], d / "idc.pt")
    imp = ["import", "--format", "idc", "--path", d / "idc.pt", "--dataset", "digits", "--factor", "2"]
    _ok([*imp, "--out", d / "condensed.pt"])
    _ok(["decode", "--condensed", d / "condensed.pt", "--out", d / "decoded.pt"])
    _ok(["select", "--key", "random", "--ipc-to", "1", "--decoded", d / "decoded.pt", "--out", d / "sel.json"])
    pair = ["--decoded", d / "decoded.pt", "--real", d / "digits.npz"]
    _ok(["dynamics", *pair, "--reps", "1", "--epochs", "2", "--width", "8", "--device", "cpu", "--out-dir", d / "dyn"])
    _ok(["experts", "--real", d / "digits.npz", "--num-experts", "1", "--epochs", "2", "--width", "8"]
        + ["--device", "cpu", "--out", d / "ex.pt"])  # fmt: skip
    assert all(np.isfinite(np.load(d / "dyn/rep1.npz")["err_l2"]).flat)
    return d


def _tree(root: Path) -> dict[str, str]:
    """Every file under ``root`` (path -> content hash): what a command left behind, temporary files too."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in root.rglob("*") if p.is_file()
    }


@dataclass(frozen=True)
class Case:
    id: str
    argv: str  # {d}: the workspace, {out}: the output (a file, or a folder for --out-dir and MTT)
    names: tuple[str, ...]  # what the one line must contain: the flag to lower first
    existing: str | None = None  # an earlier output at the place: relative to {out}, "." = {out} itself


EVAL = "--decoded {d}/decoded.pt --real {d}/digits.npz --width 8 --epochs 2 --inits 1 --device cpu --out {out}"
GM = "--real {d}/digits.npz --ipc 1 --outer 1 --net-epochs-data 16 --batch-real 8 --batch-net 8 --width 8"
GM += " --device cpu --out {out}"
MTT = "condense --method mtt --real {d}/digits.npz --ipc 1 --experts {d}/ex.pt --budget quick --syn-steps 2"
MTT += " --expert-epochs 1 --max-start-epoch 1 --device cpu --out {out}"
CASES = [
    # 40 selected patches are one batch a epoch, and a step's loss is taken before its update: the first
    # step's loss is finite, its update is not, so the loss of epoch 2 is the first that is not.
    Case("evaluate-lr", f"evaluate --selections {{d}}/sel.json {EVAL} --lr {HUGE}", ("--lr", r"epoch 2 of 2 \(loss nan\)")),
    Case("evaluate-weight-decay", f"evaluate --selections {{d}}/sel.json {EVAL} --weight-decay {HUGE}",
         ("--weight-decay",), existing="."),
    Case("evaluate-epochs-lr", f"evaluate-epochs --dynamics {{d}}/dyn/rep1.npz --ipc-to 1 --epochs-to 1 {EVAL} "
         f"--lr {HUGE}", ("--lr",)),
    Case("dynamics-lr", f"dynamics --decoded {{d}}/decoded.pt --real {{d}}/digits.npz --reps 2 --epochs 2 --width 8 "
         f"--device cpu --out-dir {{out}} --lr {HUGE}", ("--lr",), existing="rep1.npz"),
    Case("experts-lr", f"experts --real {{d}}/digits.npz --num-experts 2 --epochs 2 --width 8 --device cpu "
         f"--snapshot {{out}}.partial --out {{out}} --lr {HUGE}", ("MTT expert training", "--lr")),
    # One step of 1e30 leaves finite (huge) images; the second step's matching loss is not finite.
    Case("idc-lr-img", f"condense --method idc --inner 2 {GM} --lr-img {HUGE}", ("idc condensation", "inner step 2",
         "--lr-img")),
    # The network diverges in inner step 1; inner step 2's matching shows it, and the message names it.
    Case("idc-lr-net", f"condense --method idc --inner 2 {GM} --lr-net {HUGE}", ("its network", "--lr-net"),
         existing="."),
    Case("dream-lr-img", f"condense --method dream --inner 2 {GM} --lr-img {HUGE}", ("dream", "--lr-img")),
    Case("dream-lr-net", f"condense --method dream --inner 2 {GM} --lr-net {HUGE}", ("dream", "--lr-net")),
    Case("dsa-lr-img", f"condense --method dsa --inner 2 --syn-epochs 1 {GM} --lr-img {HUGE}", ("dsa", "--lr-img"),
         existing="."),
    Case("mtt-lr-img", f"{MTT} --iterations 2 --lr-img {HUGE}", ("mtt distillation", "--lr-img"),
         existing="images_best.pt"),
    # syn_lr runs away first: its own rate is named first.
    Case("mtt-lr-lr", f"{MTT} --iterations 4 --lr-lr {HUGE}", ("mtt distillation", r"lower lr_lr \(--lr-lr\)")),
]  # fmt: skip


def _run(argv: list[str], capsys) -> str:
    try:
        rc = main(argv)
    except SystemExit as exc:  # argparse's refusals
        rc = exc.code
    err = capsys.readouterr().err
    assert rc == 2, err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip() and not line.startswith("[yoco ")]
    assert len(lines) == 1 and re.match(r"^yoco [\w-]+: error: ", lines[0]), lines
    return lines[0]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_a_diverging_command_stops_with_one_line_and_writes_nothing(case, ws, tmp_path, capsys):
    out = tmp_path / "out" / "result"
    if case.existing:
        earlier = out if case.existing == "." else out / case.existing
        earlier.parent.mkdir(parents=True)
        earlier.write_bytes(b"an earlier result that must survive")
    before, inputs = _tree(tmp_path), _tree(ws)
    line = _run(case.argv.format(d=ws, out=out).split(), capsys)
    assert "diverged" in line and re.search(r"\((loss|synthetic|network|parameters)", line), line
    for name in case.names:
        assert re.search(name, line), f"{name!r} not in {line!r}"
    assert "with " in line and "1e+30" in line  # the value that diverged
    # Nothing new (no result, no snapshot, no temporary file), the earlier output as it was, inputs untouched.
    assert _tree(tmp_path) == before
    assert _tree(ws) == inputs


def test_infinite_rates_are_refused_before_any_work(ws, tmp_path, capsys):
    out = tmp_path / "runs.csv"
    for flag in ("--lr", "--weight-decay"):
        argv = f"evaluate --selections {ws}/sel.json {EVAL.format(d=ws, out=out)} {flag}=inf".split()
        line = _run(argv, capsys)
        assert f"argument {flag}: inf is not a finite number" in line
    line = _run(f"{MTT.format(d=ws, out=tmp_path / 'm')} --lr-img=inf".split(), capsys)
    assert "--lr-img: inf is not a finite number" in line
    assert not out.exists() and not (tmp_path / "m").exists()


# ------------------------------------------------------------------------------------------- the API
def _pool(n=24, classes=3, size=8):
    g = torch.Generator().manual_seed(0)
    return torch.randn(n, 3, size, size, generator=g), torch.arange(n) % classes


@pytest.mark.parametrize(
    "net,engine", [("convnet", "loop"), ("convnet", "stacked"), ("convnet", "vmap"), ("resnet10bn", "sequential")]
)
@pytest.mark.parametrize("field", ["lr", "weight_decay"])
def test_train_models_raises_on_every_engine(net, engine, field):
    x, y = _pool()
    spec = NetworkSpec(net, 3, 8, width=4, depth=1)
    cfg = TrainConfig(epochs=3, batch_size=8, engine=engine, **{field: 1e30})
    with pytest.raises(TrainingDiverged, match=r"epoch 1 of 3 \(loss nan\) .*lower lr \(--lr\) or weight_decay"):
        train_models(spec, x, y, [np.arange(24)] * 2, [1, 2], cfg, test_x=x, test_y=y)


def test_the_trainer_reads_its_check_every_epoch_on_the_cpu_and_rarely_on_a_gpu():
    from yoco.train import _check_epochs

    assert _check_epochs(TrainConfig(epochs=15, eval_points=2), torch.device("cpu")) == set(range(1, 16))
    # CUDA: the validations (7, 14, 15: every 15 // 2 epochs and the end) and the quarter points
    # (ceil(15 k / 4) = 4, 8, 12, 15); never a read per step.
    assert _check_epochs(TrainConfig(epochs=15, eval_points=2), torch.device("cuda")) == {4, 7, 8, 12, 14, 15}
    assert _check_epochs(TrainConfig(epochs=1000), torch.device("cuda")) == {250, 500, 750, 1000}


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("engine", ["stacked", "vmap", "loop"])
def test_train_models_on_cuda_raises_at_the_epoch_it_diverged(engine):
    x, y = _pool()
    spec = NetworkSpec("convnet", 3, 8, width=4, depth=1)
    # 24 samples in batches of 8: step 1's update diverges, step 2's loss (epoch 1) is the first lost.
    cfg = TrainConfig(epochs=8, batch_size=8, engine=engine)
    ok = train_models(spec, x, y, [np.arange(24)] * 2, [1, 2], cfg, test_x=x, test_y=y, device="cuda")
    assert all(np.isfinite(r.last_acc) for r in ok)
    with pytest.raises(TrainingDiverged, match=r"at epoch 1 of 8 \(loss nan\)"):
        train_models(spec, x, y, [np.arange(24)] * 2, [1, 2], dataclasses.replace(cfg, lr=1e30), device="cuda")


def test_a_last_step_that_diverges_is_caught_by_the_parameter_check():
    # One step in all: its loss is computed before the update, so only the final parameters show it.
    x, y = _pool(n=8)
    cfg = TrainConfig(epochs=1, batch_size=8, lr=1e30, weight_decay=1e30, cutmix_p=0.0)
    with pytest.raises(TrainingDiverged, match=r"in its last step .*parameters not finite"):
        train_models(NetworkSpec("convnet", 3, 8, width=4, depth=1), x, y, [np.arange(8)], [1], cfg)


def test_non_finite_rates_are_refused_by_every_config():
    for make in (
        lambda: TrainConfig(lr=math.inf),
        lambda: TrainConfig(weight_decay=math.nan),
        lambda: CondenseConfig(lr_img=math.inf),
        lambda: CondenseConfig(wd_net=math.inf),
        lambda: ExpertConfig(lr=math.nan),
        lambda: MTTConfig(lr_img=math.inf),
        lambda: MTTConfig(lr_lr=math.inf),
    ):
        with pytest.raises(YocoError, match="finite number"):
            make()


def test_prune_names_its_input_not_a_rate_it_does_not_take():
    # "Normalised" images of absurd scale: up to 0.5e30, normalised again with digits' std 0.376 (as every
    # normalised set is, docs/deviations.md #1) -> inputs up to 1.33e30.
    images = (torch.rand(20, 3, 8, 8) - 0.5) * 1e30
    labels = torch.arange(10).repeat_interleave(2)
    with pytest.raises(
        TrainingDiverged, match=r"prune: .*value_space='normalized'.*\[-1\.3\de\+30, 1\.3\de\+30\]"
    ) as err:
        yoco.prune(images, labels, 1, key="el2n", epochs=2, width=8, dataset="digits", value_space="normalized")
    assert "--lr" not in str(err.value)


@pytest.fixture(scope="module")
def real8():
    return load_real("digits", image_size=8)


def test_condense_and_experts_and_distill_raise_and_leave_no_snapshot(real8, tmp_path):
    snap = tmp_path / "snap.pt"
    cfg = CondenseConfig.fallback("idc", 1).replace(outer=1, inner=2, n_data=16, batch_real=8, batch_net=8, width=8)
    with pytest.raises(TrainingDiverged, match=r"idc condensation diverged at outer iteration 1 of 1, inner step 2"):
        condense(real8, "idc", ipc=1, factor=2, config=cfg.replace(lr_img=1e30), snapshot_path=snap)
    with pytest.raises(TrainingDiverged, match=r"MTT expert training .* epoch 1 of 2"):
        train_experts(real8, 1, ExpertConfig(epochs=2, width=8, lr=1e30), snapshot_path=snap)
    experts = train_experts(real8, 1, ExpertConfig(epochs=2, width=8))
    mtt = MTTConfig(syn_steps=2, expert_epochs=1, max_start_epoch=1, iterations=2, lr_img=1e30, lr_lr=1e-5)
    # Iteration 1's loss is taken before its update, which leaves huge but finite images: iteration 2 is lost.
    with pytest.raises(TrainingDiverged, match=r"mtt distillation diverged at iteration 2 of 2 .* lower lr_img"):
        distill(real8, experts, 1, mtt, snapshot_path=snap)
    assert list(tmp_path.iterdir()) == []


def test_a_snapshot_the_run_resumed_from_is_kept_and_named(tmp_path):
    # The runs never save a non-finite value, so a snapshot that was there before holds finite progress:
    # it stays, and the message says to delete it before trying other settings (it would refuse them).
    old = tmp_path / "old.pt"
    old.write_bytes(b"finite progress")
    with pytest.raises(TrainingDiverged, match=rf"diverged .*; the snapshot {re.escape(str(old))} holds the finite"):
        with snapshot_kept_finite(old):
            raise TrainingDiverged("training diverged at epoch 3 (loss nan) with lr 1; lower lr")
    assert old.read_bytes() == b"finite progress"
    new = tmp_path / "new.pt"
    with pytest.raises(TrainingDiverged, match=r"^training diverged at epoch 3 \(loss nan\) with lr 1; lower lr$"):
        with snapshot_kept_finite(new):
            new.write_bytes(b"made by this run")
            raise TrainingDiverged("training diverged at epoch 3 (loss nan) with lr 1; lower lr")
    assert not new.exists()
    with snapshot_kept_finite(new):  # other errors and success: nothing touched
        new.write_bytes(b"kept")
    assert new.read_bytes() == b"kept"


# ------------------------------------------------------------------------------------------- the quickstart
@pytest.mark.slow
def test_the_quickstart_mtt_budget_stays_finite_on_its_experts(tmp_path):
    """config/quickstart.yaml's experts and MTT jobs, run as the workflow runs them (grid's arguments):
    the distillation's loss stays finite at every iteration (about three CPU-minutes)."""
    from yoco import grid
    from yoco.configcheck import load_yaml, merge_configs

    config = merge_configs(load_yaml(REPO / "config/config.yaml"), load_yaml(REPO / "config/quickstart.yaml"))
    _ok(["data", *grid.data_args(config, "digits").split(), "--out", tmp_path / "digits.npz"])
    real = ["--real", str(tmp_path / "digits.npz"), "--device", "cpu"]
    experts = grid.experts_args(config, "digits").split()
    _ok(["experts", *real, *experts, "--out", tmp_path / "experts.pt"])
    args = grid.condense_args(config, "mtt", "digits", "10").split()
    args[args.index("--experts") + 1] = str(tmp_path / "experts.pt")
    _ok(["condense", *real, *args, "--out", tmp_path / "mtt"])
    history = json.loads((tmp_path / "mtt/meta.json").read_text())["loss_history"]
    assert len(history) == config["condensation"]["mtt"]["digits"]["iterations"]
    assert all(math.isfinite(v) for v in history)
    assert torch.isfinite(torch.load(tmp_path / "mtt/images_best.pt")).all()
    shutil.rmtree(tmp_path / "mtt")
