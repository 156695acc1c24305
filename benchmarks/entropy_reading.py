"""Test the entropy reading (issue 18, item 4): is entropy below random where the condensed images are near real?

docs/results-cifar10-cpu.md read entropy's place below random on lightly condensed IDC as "on near-real
patches the highest-entropy patches are confusing ones". This script measures, for each condensed set of a
finished run (IDC, DREAM, DSA, MTT) and for IDC condensed 3x longer (made here through the ``yoco`` CLI
with the arguments ``yoco.grid`` gives the workflow's rules, same seeds):

  (a) distance to real: for each decoded patch, at the resolution evaluation trains on and in the normalised
      pixel space, the L2 distance to its nearest real training image of the same class; beside the same
      statistic for the real training images themselves (nearest *other* real image of the class) and, for a
      multi-formation set, for real images taken through the formation (IDC's mix initialisation: downscaled
      by f, decoded back), the distance a set that condensation never moved would have;
  (b) accuracy over random real: the config's evaluation recipe on the whole decoded set (1 selection x N
      inits) and on random real images of the same images per class (``random_balance``: IPC_F of each
      class, N random draws x 1 init), the storage budget the condensed set stands for;
  (c) entropy - random at IPC_F -> IPC_T: the workflow's ``entropy`` and ``random`` selections (one per
      score rep / random draw) x the config's inits, and how many classes the entropy selections leave empty;
  (d) the same pair class-balanced (``entropy_balance - random_balance``): whether entropy is below random
      within classes too, or only through the class counts of a global hard-first selection.

Runs of the DAG are reused where they are the same runs (same decoded set, key, rep, init and epochs: the
seeds derive from those), so a finished ``make paper-cpu`` root pays only for what it did not evaluate.
Everything this script writes goes under ``ROOT/entropy_reading/`` (``--quick``: ``.../quick/``); a command
whose output exists is not rerun, so a second call only re-prints the tables::

    python benchmarks/entropy_reading.py --configfile config/cifar10-cpu-full.yaml   # root of make paper-cpu
    python benchmarks/entropy_reading.py --configfile config/cifar10-cpu-full.yaml --sets idc dream --skip-long
    python benchmarks/entropy_reading.py --configfile config/quickstart.yaml --quick  # smoke check on digits
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from yoco import grid  # noqa: E402
from yoco.configcheck import merge_configs  # noqa: E402
from yoco.augment import normalize  # noqa: E402
from yoco.condensed import CondensedSet, training_tensor  # noqa: E402
from yoco.data import load_real, npz_dataset_name, to_tensor  # noqa: E402
from yoco.errors import YocoError  # noqa: E402
from yoco.formation import decode, mix_init  # noqa: E402
from yoco.pipeline import dynamics_seed, source_geometry  # noqa: E402
from yoco.seeding import seed_from  # noqa: E402

LONG = "idc_long"
SETS = ("idc", LONG, "dream", "dsa", "mtt")
# (c) the pair of the reading; (d) the same pair class-balanced (IPC_T·f² patches of every class), which
# takes away what global hard-first entropy does to the class counts and leaves the choice within classes.
PAIRS = {"c": ("entropy", "random"), "d": ("entropy_balance", "random_balance")}


# ------------------------------------------------------------------------------------------------ (a)
def nearest_distances(
    x: torch.Tensor, y: np.ndarray, ref_x: torch.Tensor, ref_y: np.ndarray, exclude_self: bool = False
) -> np.ndarray:
    """L2 distance of every image of ``x`` to its nearest image of ``ref_x`` with the same label.

    ``exclude_self``: ``x`` *is* ``ref_x`` (same rows, same order) and an image's own row does not count,
    so the result is the distance to the nearest *other* image of its class (the real-to-real reference).
    Images are compared as flat vectors, one class at a time (a class of 500 CIFAR images is a 500 x 500
    matrix, never the whole set's).
    """
    y, ref_y = np.asarray(y), np.asarray(ref_y)
    if exclude_self and (x.shape != ref_x.shape or not np.array_equal(y, ref_y)):
        raise YocoError("exclude_self needs x and ref_x to be the same images with the same labels")
    if x.shape[1:] != ref_x.shape[1:]:
        raise YocoError(f"images of shape {tuple(x.shape[1:])} cannot be compared with {tuple(ref_x.shape[1:])}")
    out = np.full(len(y), np.nan)
    flat, ref_flat = x.reshape(len(x), -1).double(), ref_x.reshape(len(ref_x), -1).double()
    for c in np.unique(y):
        rows, refs = np.flatnonzero(y == c), np.flatnonzero(ref_y == c)
        if len(refs) - int(exclude_self) < 1:
            raise YocoError(f"class {c} has no reference image to compare with")
        d = torch.cdist(flat[rows], ref_flat[refs])
        if exclude_self:
            d.fill_diagonal_(math.inf)
        out[rows] = d.min(dim=1).values.numpy()
    return out


def real_normalised(real) -> tuple[torch.Tensor, np.ndarray]:
    return normalize(to_tensor(real.x_train), real.mean, real.std), np.asarray(real.y_train)


def formation_floor(real, factor: int) -> np.ndarray:
    """Nearest-real distances of real images taken through a factor-``factor`` formation (IDC's mix init,
    then decode): how far an unmoved multi-formation set is from real images by resolution alone."""
    labels = np.asarray(real.y_train)
    per_class = [to_tensor(real.x_train[labels == c]) for c in range(real.num_classes)]
    ipc = min(len(p) for p in per_class) // factor**2
    patches = decode(mix_init(per_class, ipc, factor), ipc, factor)
    patch_labels = np.repeat(np.arange(real.num_classes), ipc * factor**2)
    ref_x, ref_y = real_normalised(real)
    return nearest_distances(normalize(patches, real.mean, real.std), patch_labels, ref_x, ref_y)


def distance_to_real(decoded: CondensedSet, real) -> np.ndarray:
    """(a) for one decoded set. Each set is taken to the normalised space once (``double_normalize`` off):
    MTT and DSA are stored normalised, and the workflow's double-normalisation quirk (a second affine map
    applied only at training) would add its own distance to what condensation did to the images."""
    x = training_tensor(decoded, real.mean, real.std, double_normalize=False)
    ref_x, ref_y = real_normalised(real)
    return nearest_distances(x, decoded.labels.numpy(), ref_x, ref_y)


# --------------------------------------------------------------------------------------------- helpers
def mean_se(v) -> tuple[float, float]:
    v = np.asarray(v, dtype=float)
    return float(v.mean()), float(v.std(ddof=1) / math.sqrt(len(v))) if len(v) > 1 else float("nan")


def diff_se(a, b) -> tuple[float, float]:
    """Difference of means and its standard error sqrt(se_a^2 + se_b^2) (README, "Reading the standard error")."""
    (ma, sa), (mb, sb) = mean_se(a), mean_se(b)
    return ma - mb, math.sqrt(sa**2 + sb**2)


def fail(message: str) -> None:
    """Bad input: one line naming the problem and the fix, exit 2 (as the ``yoco`` CLI)."""
    print(f"entropy_reading: error: {message}", file=sys.stderr)
    sys.exit(2)


class Runner:
    """Runs ``yoco`` commands as the workflow's rules do (threads as the rule's class), skipping a command
    whose output exists, and logs each under the output folder."""

    def __init__(self, config: dict):
        self.config = config

    def __call__(self, args: str, log: Path, output: Path, threads: str = "training") -> None:
        if output.exists():
            print(f"  (kept) {output}", flush=True)
            return
        log.parent.mkdir(parents=True, exist_ok=True)
        output.parent.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ, OMP_NUM_THREADS=str(self.config["threads"][threads]))
        t0 = time.time()
        with open(log, "w") as fh:
            proc = subprocess.run(
                [sys.executable, "-m", "yoco", *shlex.split(args)], stdout=fh, stderr=subprocess.STDOUT, env=env
            )
        if proc.returncode:
            sys.exit(f"entropy_reading: `yoco {args.split()[0]}` failed (exit {proc.returncode}); see {log}")
        print(f"  yoco {args.split()[0]} -> {output} ({time.time() - t0:.0f} s)", flush=True)


def q(path) -> str:
    return shlex.quote(str(path))


def sha(decoded_path: str) -> str:
    return CondensedSet.load(decoded_path).provenance["identity"]["decoded_sha256"]


def dag_rows(path: str, decoded_sha: str, key: str, reps, inits, epochs: int) -> pd.DataFrame | None:
    """The DAG's runs of ``key`` when it holds every (rep, init) on this decoded set at these epochs:
    the same runs (their seeds derive from key, rep and init), so they are read, not retrained."""
    if not os.path.exists(path):
        return None
    df = pd.read_csv(path)
    df = df[(df.key == key) & (df.decoded_sha256 == decoded_sha) & (df.epochs == epochs)]
    want = {(r, i) for r in reps for i in inits}
    have = set(zip(df.rep.astype(int), df.init.astype(int)))
    if not want <= have:
        return None
    return df[[(int(r), int(i)) in want for r, i in zip(df.rep, df.init)]]


def evaluate(run, config, ds, net, decoded, real, keys, reps, ipcf, ipct, inits, seed_prefix, scores, out, dag):
    """Runs of ``keys`` (every rep, inits 1..inits) on a decoded set: the DAG's where it has them (``dag``:
    its runs CSV and selections JSON), else ``yoco select`` + ``yoco evaluate`` with the rules' arguments.
    Returns the runs, the selection seeds and the selection records (class counts) by (key, rep)."""
    sha_ = sha(decoded)
    epochs = int(grid._recipe(config, "evaluate", ds)["epochs"])
    frames, todo, records = [], [], {}
    for key in keys:
        rows = dag_rows(dag[0], sha_, key, reps, range(1, inits + 1), epochs) if dag else None
        if rows is None:
            todo.append(key)
        else:
            print(f"  {key}: {len(rows)} runs of the DAG ({dag[0]})")
            frames.append(rows.assign(source="dag"))
            records.update({(r["key"], r["rep"]): r for r in json.loads(Path(dag[1]).read_text())})
    sel_seeds = {(k, r): seed_from("select", seed_prefix, k, ipct, r) for k in keys for r in reps}
    if todo:
        sel, csv = out.with_suffix(".json"), out.with_suffix(".csv")
        pairs = " ".join(f"{k}@{r}" for k in todo for r in reps)
        score_flags = ""
        if any(grid.needs_scores(k) for k in todo):
            score_flags = f"--scores {' '.join(q(scores[r]) for r in reps)} --score-reps {' '.join(map(str, reps))}"
        run(
            f"select --pairs {pairs} --ipc-from {ipcf} --ipc-to {ipct} --decoded {q(decoded)} {score_flags}"
            f" --seed-prefix {q(seed_prefix)} --dataset {ds} {grid.select_args(config)} --out {q(sel)}",
            out.parent / "logs" / f"{out.name}.select.log",
            sel,
            threads="light",
        )
        mine = {(r["key"], r["rep"]): r for r in json.loads(sel.read_text())}
        if not {(k, r) for k in todo for r in reps} <= set(mine):
            fail(f"{sel} (kept from an earlier call) lacks some of {todo}; delete it and {csv} to rerun them")
        # The workflow's rule would draw the same selections: the seeds derive from the same identity.
        assert all(mine[p]["seed"] == sel_seeds[p] for p in mine if p in sel_seeds), "selection seeds differ"
        records.update(mine)
        run(
            f"evaluate --decoded {q(decoded)} --real {q(real)} --selections {q(sel)} --keys {' '.join(todo)}"
            f" {grid.evaluate_args(config, ds, net, inits=inits)} {grid.device_args(config)} --out {q(csv)}",
            out.parent / "logs" / f"{out.name}.evaluate.log",
            csv,
        )
        frames.append(pd.read_csv(csv).assign(source="here"))
    runs = pd.concat(frames, ignore_index=True)
    if set(keys) - set(runs.key):
        fail(
            f"{out.with_suffix('.csv')} (kept from an earlier call) lacks {sorted(set(keys) - set(runs.key))}; delete it"
        )
    return runs, sel_seeds, records


# ---------------------------------------------------------------------------------------------- stages
def make_long(run, config, long_cfg, ds, ipcf, er: Path) -> tuple[str, dict[int, str]]:
    """IDC condensed for 3x the outer iterations through condense -> decode -> dynamics -> scores, with the
    rules' arguments and seeds (its seeds are the light set's: same condense seed, same seed prefix)."""
    folder = er / LONG
    real = grid.real_path(config, ds)
    condensed, decoded, dyn = folder / "condensed.pt", folder / "decoded.pt", folder / "dynamics"
    args = grid.condense_args(long_cfg, "idc", ds, ipcf)
    print(f"  condense {args}")
    run(
        f"condense --real {q(real)} {args} {grid.device_args(config)} --out {q(condensed)}",
        folder / "logs" / "condense.log",
        condensed,
        threads="condense",
    )
    run(f"decode --condensed {q(condensed)} --out {q(decoded)}", folder / "logs" / "decode.log", decoded, "light")
    reps = grid.reps(config)
    prefix = f"idc/{ds}/{ipcf}"
    run(
        f"dynamics --decoded {q(decoded)} --real {q(real)} {grid.dynamics_args(long_cfg, 'idc', ds)}"
        f" --seed-prefix {q(prefix)} {grid.device_args(config)} --out-dir {q(dyn)}",
        folder / "logs" / "dynamics.log",
        dyn / f"rep{reps[-1]}.model.pt",
    )
    epochs, top_k = grid.lbpe(long_cfg, "idc", ds)
    scores = {}
    for rep in reps:
        scores[rep] = str(folder / "scores" / f"rep{rep}.npz")
        run(
            f"scores --dynamics {q(dyn / f'rep{rep}.npz')} --model {q(dyn / f'rep{rep}.model.pt')}"
            f" --decoded {q(decoded)} --real {q(real)} --condenser idc --dataset {ds} --lbpe-epochs {epochs}"
            f" --lbpe-top-k {top_k} {grid.scores_args(config)} {grid.device_args(config)} --out {q(scores[rep])}",
            folder / "logs" / f"scores-rep{rep}.log",
            Path(scores[rep]),
        )
    return str(decoded), scores


def real_decoded(run, config, ds, er: Path) -> str:
    """The real training set as a decoded set (Fig. 3's "full" set: the DAG's when it made one)."""
    path = grid.decoded_path(config, grid.FULL, ds, grid.FULL_IPC)
    if os.path.exists(path):
        return path
    imported, decoded = er / "real" / "imported.pt", er / "real" / "decoded.pt"
    run(
        f"import {grid.import_args(config, grid.FULL, ds, grid.FULL_IPC)} --out {q(imported)}",
        er / "real" / "import.log",
        imported,
        "light",
    )
    run(f"decode --condensed {q(imported)} --out {q(decoded)}", er / "real" / "decode.log", decoded, "light")
    return str(decoded)


def quick_config(config: dict, ds: str) -> dict:
    """``--quick``: evaluation and dynamics epochs cut to a tenth (the dynamics, retrained only for
    idc_long, keep IDC's LBPE window E)."""
    ev = grid._recipe(config, "evaluate", ds)
    dyn = grid._recipe(config, "dynamics", ds)
    lbpe_e = grid.lbpe(config, "idc", ds)[0]
    return merge_configs(
        config,
        {
            "training": {
                "evaluate": {"epochs": max(2, int(ev["epochs"]) // 10)},
                "dynamics": {"epochs": max(lbpe_e, int(dyn["epochs"]) // 10)},
            }
        },
    )


def fmt(m: float, s: float, sign: bool = False) -> str:
    return f"{m:+.2f} ± {s:.2f}" if sign else f"{m:.2f} ± {s:.2f}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--configfile", default="config/cifar10-cpu-full.yaml", help="the run's config (on config.yaml)")
    p.add_argument("--root", default=None, help="the run's output root (default: the config's output_root)")
    p.add_argument("--sets", nargs="+", default=list(SETS), choices=SETS, help="condensed sets to measure")
    p.add_argument("--skip-long", action="store_true", help=f"leave out {LONG} (its condensation is the costly part)")
    p.add_argument("--measures", nargs="+", default=list("abcd"), choices=list("abcd"), help="(d): (c) balanced")
    p.add_argument("--ipc-from", type=int, default=10)
    p.add_argument("--ipc-to", type=int, default=1)
    p.add_argument("--seeds", type=int, default=3, help="(b): inits of the condensed set = random real draws")
    p.add_argument("--long-outer", type=int, default=None, help=f"{LONG}'s outer iterations (default: 3x IDC's)")
    p.add_argument("--quick", action="store_true", help="a tenth of the epochs, under entropy_reading/quick/")
    a = p.parse_args(argv)
    t_start = time.time()
    if not os.path.isfile(a.configfile):
        p.error(f"--configfile {a.configfile} does not exist; pass the config the run was made with")
    if a.seeds < 2:
        p.error(f"--seeds {a.seeds}: a standard error needs at least 2 runs per side; pass --seeds 2 or more")
    if not 1 <= a.ipc_to < a.ipc_from:
        p.error(f"--ipc-to {a.ipc_to} must lie in [1, --ipc-from {a.ipc_from}): pruning keeps fewer images per class")

    config = merge_configs(
        yaml.safe_load((REPO / "config" / "config.yaml").read_text()), yaml.safe_load(open(a.configfile))
    )
    root = Path(a.root or config["output_root"]).resolve()
    config["output_root"] = str(root)
    ipcf, ipct = str(a.ipc_from), a.ipc_to
    idc_sets = [cs for cs in grid.condensed_sets(config) if cs.ck == "idc" and cs.ipcf == ipcf]
    if not idc_sets:
        fail(f"the config has no IDC set at IPC_F {ipcf}; pass --ipc-from of one it has")
    ds = idc_sets[0].ds
    real_path = grid.real_path(config, ds)
    if not os.path.exists(real_path):
        fail(f"no real data at {real_path}; pass --root of a finished run of {a.configfile}")
    sets = [s for s in a.sets if not (a.skip_long and s == LONG)]
    net = grid.dataset_network(config, ds)
    er = root / "entropy_reading" / ("quick" if a.quick else "")
    long_outer = a.long_outer or 3 * int(grid.condense_budget(config, "idc", ds)["outer"])
    long_cfg = merge_configs(config, {"condensation": {"idc": {ds: {"outer": long_outer}}}})
    if a.quick:
        config, long_cfg = quick_config(config, ds), quick_config(long_cfg, ds)
    run = Runner(config)
    reps, inits = grid.reps(config), int(grid._recipe(config, "evaluate", ds)["inits"])
    ev_epochs = grid._recipe(config, "evaluate", ds)["epochs"]
    print(
        f"root {root}; dataset {ds}, IPC {ipcf}->{ipct}, {net}; evaluation {ev_epochs} epochs; "
        f"(c) {len(reps)} reps x {inits} inits; (b) {a.seeds} seeds; writing under {er}"
    )

    real = load_real(npz_dataset_name(real_path) or ds, npz=real_path)
    rows, seeds_out = [], []
    if "a" in a.measures:
        ref_x, ref_y = real_normalised(real)
        real_ref = nearest_distances(ref_x, ref_y, ref_x, ref_y, exclude_self=True)
        floors = {}

    if "b" in a.measures:
        real_dec = real_decoded(run, config, ds, er)
        full_prefix = f"{grid.FULL}/{ds}/{grid.FULL_IPC}"
        per_class = source_geometry(CondensedSet.load(real_dec))[0]
        rr, rr_seeds, _ = evaluate(
            run, config, ds, net, real_dec, real_path, ["random_balance"], list(range(1, a.seeds + 1)), per_class,
            a.ipc_from, 1, full_prefix, {}, er / "b" / "random_real", None,
        )  # fmt: skip
        seeds_out.append(("random real", rr_seeds, rr))

    for s in sets:
        t0 = time.time()
        ck = "idc" if s == LONG else s
        print(f"\n== {s}", flush=True)
        if s == LONG:
            decoded, scores = make_long(run, config, long_cfg, ds, ipcf, er)
            dyn_seeds = [dynamics_seed(f"idc/{ds}/{ipcf}", r) for r in reps]
            print(f"  condense seed {seed_from('condense', 'idc', ds, ipcf)}, dynamics seeds {dyn_seeds} (IDC's)")
        else:
            decoded = grid.decoded_path(config, ck, ds, ipcf)
            scores = {r: grid.score_path(config, ck, ds, ipcf, r) for r in reps}
            missing = [p for p in [decoded, *scores.values()] if not os.path.exists(p)]
            if missing:
                print(f"  no {missing[0]}: left out (is {ck} at IPC {ipcf} in the run's tables?)")
                continue
        # The DAG's runs are the same runs only on its own decoded set at its own epochs.
        dag_ok = s != LONG and not a.quick
        dec = CondensedSet.load(decoded)
        row = {"set": s, "patches": len(dec.labels)}
        if "a" in a.measures:
            d = distance_to_real(dec, real)
            f = grid.factor(config, ck, ds)
            if f > 1 and f not in floors:
                floors[f] = formation_floor(real, f)
            row.update(dist=d.mean(), dist_sd=d.std(ddof=1), ratio=d.mean() / real_ref.mean())
            row["floor"] = floors[f].mean() if f > 1 else np.nan
        if "b" in a.measures:
            cond, c_seeds, _ = evaluate(
                run, config, ds, net, decoded, real_path, ["random"], [1], ipcf, a.ipc_from, a.seeds,
                f"{ck}/{ds}/{ipcf}", scores, er / s / "b_unpruned",
                (grid.runs_path(config, ck, ds, ipcf, a.ipc_from, net),
                 grid.selection_path(config, ck, ds, ipcf, a.ipc_from)) if dag_ok else None,
            )  # fmt: skip
            seeds_out.append((f"{s} unpruned", c_seeds, cond))
            per_draw = rr.groupby("rep").best_acc.mean()
            (cm, cs), (rm, rs) = mean_se(cond.best_acc), mean_se(per_draw)
            dm, dse = diff_se(cond.best_acc, per_draw)
            row.update(acc=cm, acc_se=cs, real_acc=rm, real_acc_se=rs, b=dm, b_se=dse)
        for m in [m for m in "cd" if m in a.measures]:
            hi, lo = PAIRS[m]
            runs, c_seeds, records = evaluate(
                run, config, ds, net, decoded, real_path, [hi, lo], reps, ipcf, ipct, inits,
                f"{ck}/{ds}/{ipcf}", scores, er / s / f"{m}_to{ipct}",
                (grid.runs_path(config, ck, ds, ipcf, ipct, net),
                 grid.selection_path(config, ck, ds, ipcf, ipct)) if dag_ok else None,
            )  # fmt: skip
            seeds_out.append((f"{s} {ipcf}->{ipct} ({m})", c_seeds, runs))
            e, r = runs[runs.key == hi].best_acc, runs[runs.key == lo].best_acc
            dm, dse = diff_se(e, r)
            row.update({f"{m}_entropy": e.mean(), f"{m}_random": r.mean(), m: dm, f"{m}_se": dse, f"n_{m}": len(e)})
            if m == "c":
                # Global hard-first entropy may take a whole class out of a 10->1 selection.
                row["empty_classes"] = np.mean([(np.asarray(records[hi, r]["class_counts"]) == 0).sum() for r in reps])
        row["wall_s"] = time.time() - t0
        rows.append(row)

    if not rows:
        fail("no condensed set of --sets is in the run; pass --sets of sets it made")
    df = pd.DataFrame(rows)
    er.mkdir(parents=True, exist_ok=True)
    df.to_csv(er / "summary.csv", index=False)

    print("\n## Seeds (every random draw; the evaluation seeds are the `seed` column of each runs CSV)\n")
    for name, sel, runs in seeds_out:
        sel_txt = ", ".join(f"{k}@{r}: {v}" for (k, r), v in sel.items())
        print(f"- {name}: selection seeds {sel_txt}; run seeds {sorted(map(int, runs.seed))}")

    print(f"\n## Entropy reading ({ds}, IPC {ipcf}->{ipct}, {net}, best test accuracy in %)\n")
    head = ["condenser", "patches"]
    if "a" in a.measures:
        head.append("(a) nearest real, mean L2 (/ real↔real)")
    if "b" in a.measures:
        head += [f"(b) all patches ({a.seeds} inits)", f"random real {ipcf}/class ({a.seeds} draws)", "(b) difference"]
    if "c" in a.measures:
        head += ["entropy", "random", f"(c) entropy − random ({len(reps)}x{inits} runs each)", "classes entropy drops"]
    if "d" in a.measures:
        head += ["(d) entropy_balance − random_balance"]
    print("| " + " | ".join(head) + " |\n|" + "---|" * len(head))
    for r in df.to_dict("records"):
        cells = [r["set"], str(r["patches"])]
        if "a" in a.measures:
            cells.append(
                f"{r['dist']:.1f} ({r['ratio']:.2f})"
                + (f", floor {r['floor']:.1f}" if r["floor"] == r["floor"] else "")
            )
        if "b" in a.measures:
            cells += [fmt(r["acc"], r["acc_se"]), fmt(r["real_acc"], r["real_acc_se"]), fmt(r["b"], r["b_se"], True)]
        if "c" in a.measures:
            cells += [f"{r['c_entropy']:.2f}", f"{r['c_random']:.2f}", fmt(r["c"], r["c_se"], True)]
            cells.append(f"{r['empty_classes']:.1f}")
        if "d" in a.measures:
            cells.append(f"{fmt(r['d'], r['d_se'], True)} ({r['d_entropy']:.2f} vs {r['d_random']:.2f})")
        print("| " + " | ".join(cells) + " |")
    if "a" in a.measures:
        print(
            f"\n(a) in the normalised pixel space ({real.x_train.shape[1]} px, 3 channels): real training image to the "
            f"nearest other real one of its class {real_ref.mean():.1f} (sd {real_ref.std(ddof=1):.1f}, "
            f"{len(real_ref)} images); floor = real images through the set's formation (mix init, decode) to the "
            "nearest real one, the distance of a multi-formation set that condensation did not move."
        )
    print(
        "(b)-(d): mean ± se; the se of a difference is sqrt(se_a² + se_b²) over the runs of each side. "
        f"Classes entropy drops: classes without a patch in an entropy {ipcf}->{ipct} selection, mean over reps."
    )
    print(f"\nrows -> {er / 'summary.csv'}; wall time {time.time() - t_start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
