"""Stages from a decoded set to its scores: training dynamics (every rep at once), then every score of one rep."""

from __future__ import annotations

from pathlib import Path

from ..errors import YocoError
from ..progress import log
from .inputs import (
    TrainOptions,
    at_least,
    check_dynamics_belong,
    check_outputs,
    identity,
    load_decoded_real,
    resolve_device,
    train_options,
)


def dynamics(
    decoded, real, out_dir, *, reps: int = 3, seed_prefix: str = "", train: TrainOptions | dict | None = None
) -> list:
    """``yoco dynamics``: train on every patch of the decoded set at ``decoded`` once per rep and write
    ``rep{r}.npz`` (the dynamics) and ``rep{r}.model.pt`` (the final network) into ``out_dir``.

    Returns the :class:`~yoco.dynamics.Dynamics` of each rep.
    """
    from ..io import check_output
    from ..pipeline import dynamics_config, save_model, train_dynamics
    from ..progress import Progress

    train = train_options(train)
    at_least(reps, 1, "--reps")
    check_outputs({"--out-dir": out_dir})
    for rep in range(1, reps + 1):  # a FIFO or device among the files it will write: refused now, not after training
        for name in (f"rep{rep}.npz", f"rep{rep}.model.pt"):
            check_output(Path(out_dir) / name, "--out-dir")
    train.check()
    device = resolve_device(train.device)
    decoded, data = load_decoded_real(decoded, real)
    spec = train.spec(decoded)
    train.check_spec(spec)
    config = dynamics_config(**train.config_fields())
    reps = list(range(1, reps + 1))
    out = Path(out_dir)
    ident = identity(decoded)
    log(f"dynamics: {len(reps)} reps x {train.epochs} epochs of {spec.name} on {len(decoded.labels)} patches")
    with Progress("dynamics") as progress:
        results = train_dynamics(
            decoded,
            data,
            spec,
            config,
            reps=reps,
            seed_prefix=seed_prefix,
            double_normalize=train.double_normalize,
            device=device,
            progress=progress,
        )
    for rep, (dyn, state) in zip(reps, results):
        dyn.save(out / f"rep{rep}.npz")
        save_model(state, spec, out / f"rep{rep}.model.pt", identity=ident, seed=dyn.meta["seed"])
        log(f"rep {rep}: seed {dyn.meta['seed']}, final test accuracy {dyn.meta['final_test_acc']:.2f}%")
    return [dyn for dyn, _ in results]


def scores(
    dynamics,
    model,
    decoded,
    real,
    out,
    *,
    lbpe_epochs: int,
    lbpe_top_k: int,
    condenser: str = "",
    dataset: str = "",
    lbpe_epoch_ties: str = "latest",
    double_normalize: bool = True,
    device: str = "auto",
) -> dict:
    """``yoco scores``: every importance score of one dynamics run (``dynamics``, with its final network
    ``model``) on the decoded set at ``decoded``, written to ``out``; returns the score table."""
    from ..artefacts import check_belong
    from ..dynamics import Dynamics
    from ..pipeline import compute_scores, read_model, save_scores, training_pool
    from ..scores import check_lbpe

    check_outputs({"--out": out}, {"--dynamics": dynamics, "--model": model, "--decoded": decoded, "--real": real})
    device = resolve_device(device)
    check_lbpe(lbpe_epochs, lbpe_top_k, None, "--lbpe-epochs", "--lbpe-top-k")
    decoded_path = decoded
    decoded, data = load_decoded_real(decoded, real)
    for flag, value, recorded in (
        ("--condenser", condenser, decoded.condenser),
        ("--dataset", dataset, decoded.dataset),
    ):
        if value and value != recorded:
            raise YocoError(
                f"{flag} {value} but --decoded {decoded_path} is {recorded!r}; pass {flag} {recorded} (or leave it out)"
            )
    dyn = Dynamics.load(dynamics)
    check_dynamics_belong(dyn, dynamics, decoded, decoded_path)
    check_lbpe(lbpe_epochs, lbpe_top_k, dyn.num_epochs, "--lbpe-epochs", "--lbpe-top-k", f"dynamics {dynamics}")
    net, recorded = read_model(model, device)
    check_belong(
        identity(decoded),
        recorded["identity"],
        f"--decoded {decoded_path}",
        f"--model {model}",
        "pass the model of the same dynamics run",
    )
    spec = recorded["spec"]
    if (spec.num_classes, spec.image_size) != (decoded.num_classes, int(decoded.images.shape[-1])):
        raise YocoError(
            f"--model {model} classifies {spec.num_classes} classes of {spec.image_size}-px images but "
            f"--decoded {decoded_path} has {decoded.num_classes} classes of {decoded.images.shape[-1]} px; "
            "pass the model of this set's dynamics run"
        )
    if recorded["seed"] is not None and dyn.meta.get("seed") is not None and recorded["seed"] != dyn.meta["seed"]:
        raise YocoError(
            f"--model {model} (seed {recorded['seed']}) and --dynamics {dynamics} (seed "
            f"{dyn.meta['seed']}) come from different runs; pass the rep*.model.pt beside the dynamics file"
        )
    pool_x, _ = training_pool(decoded, data, double_normalize)
    table = compute_scores(dyn, net, pool_x, lbpe_epochs, lbpe_top_k, device=device, lbpe_epoch_ties=lbpe_epoch_ties)
    save_scores(
        table,
        out,
        condenser=decoded.condenser,
        dataset=decoded.dataset,
        lbpe_epochs=lbpe_epochs,
        lbpe_top_k=lbpe_top_k,
        lbpe_epoch_ties=lbpe_epoch_ties,
        dynamics=str(dynamics),
        rep=dyn.meta.get("rep"),
        seed=dyn.meta.get("seed"),
        identity=identity(decoded),
    )
    log(f"scores {sorted(k for k in table if k != 'features')} -> {out}")
    return table
