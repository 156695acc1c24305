"""Stages up to a decoded set: cache real data, condense (IDC, DREAM, DSA, MTT and its experts), import, decode."""

from __future__ import annotations

from ..errors import YocoError
from ..progress import log
from .inputs import check_classes, check_factor, check_outputs, check_resolution, load_real, note_assumed_factor
from .inputs import resolve_device

# Options of `condense` that override one CondenseConfig field each (keyword -> field).
CONDENSE_OVERRIDES = {
    "outer": "outer",
    "inner": "inner",
    "net_epochs_data": "n_data",
    "syn_epochs": "syn_epochs",
    "batch_real": "batch_real",
    "batch_net": "batch_net",
    "lr_img": "lr_img",
    "lr_net": "lr_net",
    "width": "width",
}
# What `condense` writes per method: IDC/DREAM the canonical file; DSA and MTT the authors' formats, so
# that the files are interchangeable with the released ones (`yoco import` reads both).
CONDENSE_WRITES = {"idc": "canonical", "dream": "canonical", "dsa": "dsa", "mtt": "mtt"}
# Options of `condense` that only the gradient-matching methods read.
_MATCHING_ONLY = ("outer", "inner", "net_epochs_data", "width")


def data(
    dataset: str,
    out,
    *,
    npz=None,
    root="data",
    image_size: int | None = None,
    test_per_class: int | None = None,
    train_per_class: int | None = None,
):
    """``yoco data``: cache a real dataset as one npz; returns the :class:`~yoco.data.RealData`."""
    from ..data import load_real as load, save_real_npz

    check_outputs({"--out": out}, {"--npz": npz})
    real = load(
        dataset,
        root=root,
        npz=npz,
        image_size=image_size,
        test_per_class=test_per_class,
        train_per_class=train_per_class,
    )
    save_real_npz(real, out)
    log(f"{dataset}: {len(real.y_train)} train / {len(real.y_test)} test images -> {out}")
    return real


def condense(
    real,
    method: str,
    ipc: int,
    out,
    *,
    factor: int | None = None,
    seed: int = 0,
    snapshot=None,
    device: str = "auto",
    outer: int | None = None,
    inner: int | None = None,
    net_epochs_data: int | None = None,
    syn_epochs: int | None = None,
    batch_real: int | None = None,
    batch_net: int | None = None,
    lr_img: float | None = None,
    lr_net: float | None = None,
    width: int | None = None,
    experts=None,
    budget: str = "paper",
    iterations: int | None = None,
    syn_steps: int | None = None,
    expert_epochs: int | None = None,
    max_start_epoch: int | None = None,
    lr_lr: float | None = None,
    lr_teacher: float | None = None,
    batch_syn: int | None = None,
    checkpoint_steps: bool = False,
) -> None:
    """``yoco condense``: condense the real data at ``real`` in-house and write ``out`` in the method's format."""
    if method not in CONDENSE_WRITES:
        from ..errors import unknown_choice

        raise unknown_choice("method", method, CONDENSE_WRITES)
    if method == "mtt":
        return _condense_mtt(
            real,
            ipc,
            out,
            factor=factor,
            seed=seed,
            snapshot=snapshot,
            device=device,
            experts=experts,
            budget=budget,
            checkpoint_steps=checkpoint_steps,
            matching=dict(outer=outer, inner=inner, net_epochs_data=net_epochs_data, width=width),
            overrides=dict(
                iterations=iterations,
                syn_steps=syn_steps,
                expert_epochs=expert_epochs,
                max_start_epoch=max_start_epoch,
                lr_img=lr_img,
                lr_lr=lr_lr,
                lr_teacher=lr_teacher,
                batch_syn=batch_syn,
            ),
        )
    from ..condense import CondenseConfig, condense as run, default_factor
    from ..progress import Progress

    check_outputs({"--out": out, "--snapshot": snapshot}, {"--real": real})
    device = resolve_device(device)
    data = load_real(real)
    factor = default_factor(method) if factor is None else factor
    if method == "dsa" and factor != 1:
        raise YocoError(f"--method dsa condenses whole images: --factor must be 1 (or left out), got {factor}")
    check_factor(factor, data.image_size)
    try:
        config = CondenseConfig.paper(data.name, ipc, method)
    except YocoError:
        # No published recipe for this dataset (digits, ...): the method's CIFAR settings, shrunk by the options.
        config = CondenseConfig.fallback(method, ipc)
    given = dict(outer=outer, inner=inner, net_epochs_data=net_epochs_data, syn_epochs=syn_epochs)
    given.update(batch_real=batch_real, batch_net=batch_net, lr_img=lr_img, lr_net=lr_net, width=width)
    config = config.replace(
        **{field: given[name] for name, field in CONDENSE_OVERRIDES.items() if given[name] is not None}
    )

    with Progress(f"condense {method}") as progress:

        def report(info: dict) -> None:
            total = info["outer_total"]
            progress.advance(info["outer"], total, f"loss {info['match_loss']:.4g}", begin=f"{total} outer iterations")

        cs = run(
            data,
            method=method,
            ipc=ipc,
            factor=factor,
            config=config,
            seed=seed,
            device=device,
            snapshot_path=snapshot,
            progress=report,
        )
        history = cs.provenance["loss_history"]
        progress.finish(f"loss {history[-1]:.4g}" if history else None)
    if CONDENSE_WRITES[method] == "dsa":
        from ..condensed import save_dsa

        save_dsa(cs, out)
    else:
        cs.save(out)
    log(f"condensed {method} IPC {ipc} ({CONDENSE_WRITES[method]} format) -> {out}")


def _condense_mtt(
    real, ipc, out, *, factor, seed, snapshot, device, experts, budget, checkpoint_steps, matching, overrides
) -> None:
    """`condense(method="mtt")`: distil with the experts of `yoco experts`, write MTT's two files."""
    from ..condense.experts import Experts
    from ..condense.mtt import MTTConfig, distill, mtt_paths, save_mtt
    from ..progress import Progress

    for name in _MATCHING_ONLY:
        if matching[name] is not None:
            raise YocoError(f"--{name.replace('_', '-')} is a gradient-matching flag; MTT does not read it (drop it)")
    if factor not in (None, 1):
        raise YocoError(f"--method mtt distils whole images: --factor must be 1 (or left out), got {factor}")
    if not experts:
        raise YocoError("--method mtt needs --experts FILE (written by `yoco experts`)")
    from ..io import check_output, same_file

    for path in mtt_paths(out):
        check_output(path, "--out")
        for src in [real, *experts]:
            if same_file(src, path):
                raise YocoError(f"--out {path} is the input {src}; choose another output folder")
    check_outputs({"--snapshot": snapshot}, {"--real": real, "--experts": experts})
    device = resolve_device(device)
    data = load_real(real)
    loaded = [Experts.load(p) for p in experts]
    try:
        config = MTTConfig.paper(data.name, ipc) if budget == "paper" else MTTConfig.quick()
    except YocoError:
        config = MTTConfig()  # no published setting for this dataset/IPC: CIFAR-10 IPC 10's, changed by the options
    config = config.replace(**{k: v for k, v in overrides.items() if v is not None})
    if checkpoint_steps:
        config = config.replace(checkpoint=True)
    with Progress("condense mtt") as progress:

        def report(info: dict) -> None:
            total = info["iterations"]
            status = f"loss {info['loss']:.4g}, syn_lr {info['syn_lr']:.4g}"
            progress.advance(info["iteration"], total, status, begin=f"{total} iterations")

        result = distill(data, loaded, ipc, config, seed=seed, device=device, snapshot_path=snapshot, progress=report)
        progress.finish(f"loss {result.loss_history[-1]:.4g}" if result.loss_history else None)
    img, lab = save_mtt(result, out)
    log(f"MTT IPC {ipc} ({result.value_space}, syn_lr {result.syn_lr:.5f}) -> {img} + {lab.name}")


def experts(
    real,
    num_experts: int,
    out,
    *,
    epochs: int | None = None,
    zca: bool | None = None,
    lr: float | None = None,
    batch: int | None = None,
    width: int | None = None,
    seed: int = 0,
    snapshot=None,
    snapshot_every: int | None = None,
    device: str = "auto",
):
    """``yoco experts``: train MTT's expert trajectories on the real data at ``real``; returns the experts."""
    from ..condense.experts import ExpertConfig, train_experts
    from ..progress import Progress

    check_outputs({"--out": out, "--snapshot": snapshot}, {"--real": real})
    device = resolve_device(device)
    data = load_real(real)
    overrides = dict(epochs=epochs, lr=lr, batch=batch, width=width, zca=zca, snapshot_every=snapshot_every)
    config = ExpertConfig().replace(**{k: v for k, v in overrides.items() if v is not None})
    with Progress("experts") as progress:

        def report(info: dict) -> None:
            progress.advance(
                info["expert_epochs_done"],
                info["expert_epochs_total"],
                f"experts {info['experts']}, epoch {info['epoch']}/{info['epochs']}",
                step=info["models"],  # one epoch of every expert in the chunk
                begin=f"{num_experts} experts x {info['epochs']} epochs",
            )

        ex = train_experts(data, num_experts, config, seed=seed, device=device, snapshot_path=snapshot, progress=report)
        progress.finish()
    ex.save(out)
    accs = [x for x in ex.test_acc if x is not None]
    acc = f", mean test accuracy {sum(accs) / len(accs):.2f}%" if accs else ""
    log(f"{num_experts} MTT experts x {config.epochs} epochs ({'ZCA' if config.zca else 'normalised'}){acc} -> {out}")
    return ex


def import_set(
    format: str,
    path,
    dataset: str,
    out,
    *,
    ipc: int | None = None,
    factor: int | None = None,
    image_size: int | None = None,
    allow_unsafe_unpickling: bool = False,
):
    """``yoco import``: an external condensed file (or, ``format="real"``, a real training set) as a canonical
    condensed set at ``out``; returns the set."""
    from ..condensed import load_condensed

    check_outputs({"--out": out}, {"--path": path})
    if format == "real":
        from ..pipeline import real_as_condensed

        real = load_real(path)
        if dataset != real.name:
            raise YocoError(f"--path {path} holds {real.name!r}, not --dataset {dataset!r}; pass --dataset {real.name}")
        cs = real_as_condensed(real, per_class=ipc)
    else:
        cs = load_condensed(path, format, dataset, ipc=ipc, factor=factor, trusted=allow_unsafe_unpickling)
        check_classes(cs, dataset, path)
        check_resolution(
            cs, path, image_size, f"pass --image-size {cs.images.shape[-1]} if its real data was made at that size"
        )
        note_assumed_factor(cs, path, format)
    cs.save(out)
    log(f"imported {format} set {path}: {len(cs.labels)} images, IPC {cs.ipc}, factor {cs.factor} -> {out}")
    return cs


def decode(condensed, out):
    """``yoco decode``: the multi-formation decode of the condensed set at ``condensed``; returns the decoded set."""
    from ..condensed import CondensedSet
    from ..io import require_file
    from ..pipeline import decode_set

    check_outputs({"--out": out}, {"--condensed": condensed})
    require_file(condensed, "condensed set", "import it with `yoco import` or make it with `yoco condense`")
    cs = CondensedSet.load(condensed)
    if "decoded_from" in cs.provenance:
        raise YocoError(
            f"--condensed {condensed} is already a decoded set; pass the condensed set it was "
            "decoded from (decoding twice would cut patches of patches)"
        )
    decoded = decode_set(cs)
    decoded.save(out)
    log(f"decoded {len(decoded.labels)} patches -> {out}")
    return decoded
