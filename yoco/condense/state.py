"""What every condensation run shares: the real pool on the device, and resumable snapshots.

A run is a pure function of its inputs (every draw is counter-based, :mod:`yoco.rng`), so a snapshot
needs no generator state: the synthetic tensor, the optimiser's momentum and the next outer iteration
are enough to resume bit-identically.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch


from ..data import RealData
from ..errors import TrainingDiverged, YocoError
from ..io import atomic_path

SNAPSHOT_FORMAT = "yoco-condense-snapshot"
SNAPSHOT_VERSION = 1

# Config fields that do not change the result (only speed, memory or bookkeeping), so a snapshot may be
# resumed with other values. ``outer`` may grow to extend a finished run.
_RESUMABLE_FIELDS = ("outer", "batched", "class_chunk", "snapshot_every", "feature_batch")


class RealPool:
    """The real training set on ``device``: uint8 NCHW (memory) converted per batch to [0, 1] floats."""

    def __init__(self, real: RealData, device: torch.device):
        self.x = torch.from_numpy(np.ascontiguousarray(real.x_train)).to(device).permute(0, 3, 1, 2).contiguous()
        self.y = torch.from_numpy(np.asarray(real.y_train, dtype=np.int64)).to(device)
        self.class_idx = [
            torch.from_numpy(np.flatnonzero(real.y_train == c)).to(device) for c in range(real.num_classes)
        ]
        self.mean = torch.tensor(real.mean, dtype=torch.float32, device=device).view(1, 3, 1, 1)
        self.std = torch.tensor(real.std, dtype=torch.float32, device=device).view(1, 3, 1, 1)

    def images(self, idx: torch.Tensor) -> torch.Tensor:
        return self.x[idx].to(torch.float32).div_(255.0)

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


def save_snapshot(path: Path, identity: dict[str, Any], config: dict[str, Any], **state: Any) -> None:
    """Write a snapshot: the run's identity and config, then ``state`` (tensors, counters)."""
    payload = {"format": SNAPSHOT_FORMAT, "version": SNAPSHOT_VERSION, **identity, "config": config, **state}
    with atomic_path(path) as tmp:  # an interrupted save never leaves a truncated snapshot
        torch.save(payload, tmp)


def load_snapshot(path: Path, identity: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    """Read a snapshot and check it belongs to this run (same identity, same result-changing config)."""
    from ..condensed import _torch_load  # one clean line per refused file (torch's own text spans paragraphs)

    state = _torch_load(
        path, "cpu", trusted=False, what="condensation snapshot", offer_trust=False, fix="delete it to start afresh"
    )
    if not isinstance(state, dict) or state.get("format") != SNAPSHOT_FORMAT:
        raise YocoError(f"{path} is not a yoco condensation snapshot; delete it or pass another snapshot_path.")
    for k, v in identity.items():
        if state.get(k) != v:
            raise YocoError(
                f"snapshot {path} was made with {k}={state.get(k)!r}, this run has {k}={v!r}; "
                "use the same settings to resume, or delete the snapshot to start afresh."
            )
    theirs = dict(state["config"])
    for k in config:
        if k not in _RESUMABLE_FIELDS and theirs.get(k) != config[k]:
            raise YocoError(
                f"snapshot {path} was made with config {k}={theirs.get(k)!r}, this run has "
                f"{k}={config[k]!r}; resume with the same value or delete the snapshot."
            )
    return state


@contextlib.contextmanager
def snapshot_kept_finite(path: Path | None) -> Iterator[None]:
    """Where a run that diverges leaves its snapshot (docs/errors.md, "Training that diverges").

    The runs check before every save, so a snapshot never holds a non-finite value. One this run
    created is removed when it diverges (resuming it with the same settings would only diverge again);
    one it resumed from was the user's and stays, holding the finite progress made before, and the
    message says to delete it before trying other settings (it refuses to resume with them).
    """
    fresh = path is not None and not path.exists()
    try:
        yield
    except TrainingDiverged as err:
        if path is None or not path.exists():
            raise
        if fresh:
            path.unlink(missing_ok=True)
            raise
        raise TrainingDiverged(
            f"{err}; the snapshot {path} holds the finite progress made before with these settings: delete it "
            "to start again with others"
        ) from None
