"""What each importance score needs (paper Table 6) and what the reference code reads for it.

Kept apart from :mod:`yoco.scores`, which computes the scores with torch, so that Table 6 is built
without importing torch; ``yoco.scores`` re-exports the three names.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ScoreInfo:
    """What a score needs (paper Table 6) and what the reference code actually reads."""

    name: str  #: key in the score table
    method: str  #: row name in the paper's Table 6
    description: str
    needs_model: bool  #: paper Table 6 "Model"
    needs_dynamics: bool  #: paper Table 6 "Training Dynamics"
    training: str  #: paper Table 6 "Training Time": "early" or "full"
    needs_labels: bool  #: paper Table 6 "Label"
    code_reads: str  #: what the reference code reads (the dynamics always run 1000 epochs, §8 item 13)


#: Every score, in the order of the paper's Table 6.
SCORES: dict[str, ScoreInfo] = {
    s.name: s
    for s in (
        ScoreInfo(
            "features",
            "SSP",
            "penultimate features of the final model; k-means, keep the sample nearest to each centroid",
            True,
            False,
            "full",
            False,
            "final checkpoint of the 1000-epoch dynamics run (supervised features)",
        ),
        ScoreInfo(
            "entropy",
            "Entropy",
            "prediction entropy of the final model; keep the highest",
            True,
            False,
            "full",
            True,
            "final checkpoint of the 1000-epoch dynamics run",
        ),
        ScoreInfo(
            "accumulated_margin",
            "AUM",
            "sum of p_y - max other p over all epochs; keep the lowest",
            False,
            True,
            "full",
            True,
            "all 1000 epochs",
        ),
        ScoreInfo(
            "forgetting",
            "Forg.",
            "correct->wrong transitions over all epochs; keep the highest",
            False,
            True,
            "full",
            True,
            "all 1000 epochs",
        ),
        ScoreInfo(
            "el2n",
            "EL2N",
            "sum of ||onehot - p||_2 over epochs 0-9; keep the highest",
            False,
            True,
            "early",
            True,
            "epochs 0-9 of the 1000-epoch run",
        ),
        ScoreInfo(
            "lbpe",
            "Ours",
            "sum of ||onehot - p||_2 over the top-K accuracy epochs among the first E; keep the lowest, per class",
            False,
            True,
            "early",
            True,
            "K of the first E epochs of the 1000-epoch run",
        ),
    )
}


def table6_rows() -> list[dict[str, object]]:
    """Paper Table 6 as rows (method, model, training dynamics, training time, label, code reads)."""
    return [
        {
            "method": s.method,
            "model": s.needs_model,
            "training_dynamics": s.needs_dynamics,
            "training_time": s.training.capitalize(),
            "label": s.needs_labels,
            "code_reads": s.code_reads,
        }
        for s in SCORES.values()
    ]
