"""Markdown tables of a real-data claims run, for docs/results-cifar10-cpu.md.

    python benchmarks/claims_report.py results/cifar10-cpu

Prints, from the run's own files only: the machine and commit recorded in the run rows; the wall time of
every job (Snakemake's benchmark files); the claims (claims.csv); and every key's best and last accuracy,
mean ± std (ddof 0, as the tables) over its runs, beside the paper's number of the same cell (Tables 1,
2, 4, 5; the first table that prints the key), with the share of kept patches chosen by the tie rule.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import pandas as pd

from yoco.published import published


def _fmt(x: float, digits: int = 2) -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def job_times(root: Path) -> pd.DataFrame:
    """``job, s, max_rss_mb, cpu_s``: one row per Snakemake benchmark file under ROOT/benchmarks, its last
    measurement (``job`` is the file's path there, the rule's name first; ``cpu_s`` the CPU seconds of
    the job's processes, NaN where not recorded)."""
    rows = []
    for tsv in sorted((root / "benchmarks").rglob("*.tsv")):
        frame = pd.read_csv(tsv, sep="\t")
        rows.append(
            {
                "job": tsv.relative_to(root / "benchmarks").with_suffix("").as_posix(),
                "s": float(frame["s"].iloc[-1]),
                # Snakemake writes NA when a job ended before its first memory sample.
                "max_rss_mb": float(pd.to_numeric(frame["max_rss"], errors="coerce").iloc[-1]),
                "cpu_s": float(pd.to_numeric(frame.get("cpu_time", pd.Series([None])), errors="coerce").iloc[-1]),
            }
        )
    return pd.DataFrame(rows, columns=["job", "s", "max_rss_mb", "cpu_s"])


def paper_value(pub: pd.DataFrame, ipc_to: int, key: str) -> tuple[float, str]:
    hit = pub[
        (pub.dataset == "cifar10")
        & (pub.condenser == "idc")
        & (pub.ipc_from == 10)
        & (pub.ipc_to == ipc_to)
        & (pub.key == key)
        & (pub.network == "convnet")
        & pub.table.isin([1, 2, 4, 5])
    ]
    if hit.empty:
        return math.nan, ""
    first = hit.sort_values("table").iloc[0]
    return float(first.value), f"T{int(first.table)}"


def per_key(runs: pd.DataFrame) -> pd.DataFrame:
    pub = published()
    rows = []
    for (ipc_to, key), g in runs.groupby(["ipc_to", "key"], sort=True):
        share = (
            (pd.to_numeric(g.get("tie_decided"), errors="coerce") / g.n_selected).mean()
            if "tie_decided" in g
            else math.nan
        )
        value, table = paper_value(pub, int(ipc_to), key)
        rows.append(
            {
                "IPC_T": int(ipc_to),
                "key": key,
                "runs": len(g),
                "best": f"{g.best_acc.mean():.2f} ± {g.best_acc.std(ddof=0):.2f}",
                "last": f"{g.last_acc.mean():.2f} ± {g.last_acc.std(ddof=0):.2f}",
                "paper": f"{_fmt(value)} ({table})" if table else "–",
                "ties": "–" if math.isnan(share) else f"{100 * share:.0f} %",
            }
        )
    return pd.DataFrame(rows)


def verdict(holds: bool, significant: bool) -> str:
    """``holds*`` (diff > 2 se), ``holds`` (diff > 0) or ``FAILS``, as yoco.claims.format_claims reads a claim."""
    return "holds*" if significant else ("holds" if holds else "FAILS")


def claim_rows(claims: pd.DataFrame) -> pd.DataFrame:
    """claims.csv as the page shows it: B named with its condenser where that differs from A's."""
    return pd.DataFrame(
        {
            "claim": claims.claim,
            "ipc_to": claims.ipc_to,
            "A": claims.key_a,
            "B": claims.key_b.where(claims.condenser_b == claims.condenser_a, claims.key_b + "@" + claims.condenser_b),
            "diff ± se": [f"{d:+.2f} ± {s:.2f}" for d, s in zip(claims["diff"], claims.se)],
            "paper diff": claims.paper_diff.map(lambda x: _fmt(x)),
            "verdict": [verdict(h, s) for h, s in zip(claims.holds, claims.significant)],
        }
    )


def markdown(frame: pd.DataFrame) -> str:
    cols = list(frame.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path, help="the run's output_root, e.g. results/cifar10-cpu")
    a = parser.parse_args()
    runs = pd.concat([pd.read_csv(p) for p in sorted((a.root / "runs").rglob("*.csv"))], ignore_index=True)
    print(
        f"runs: {len(runs)} trainings; device {sorted(runs.device.unique())}; torch {sorted(runs.torch_version.unique())}; "
        f"commit {sorted(runs.git_commit.astype(str).unique())}; epochs {sorted(runs.epochs.unique())}\n"
    )
    times = job_times(a.root)
    if not times.empty:
        print(
            markdown(
                times.assign(
                    s=times.s.map(lambda s: f"{s:.0f}"), max_rss_mb=times.max_rss_mb.map(lambda m: _fmt(m, 0))
                )[["job", "s", "max_rss_mb"]]
            )
        )
        print(f"\nsum of job wall times: {times.s.sum() / 60:.1f} min\n")
    claims = pd.read_csv(a.root / "claims.csv")
    print(markdown(claim_rows(claims)))
    print()
    print(markdown(per_key(runs)))


if __name__ == "__main__":
    main()
