"""Seeds derived from a job's identity, so every random draw is reproducible from its wildcards."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from .errors import YocoError

if TYPE_CHECKING:
    import torch


def seed_from(*parts: object) -> int:
    """A 31-bit seed from any sequence of identifying values (dataset, condenser, rep, key, ...).

    Uses SHA-256 of the parts' text rather than Python's ``hash`` because the latter is salted
    per process and would make seeds differ between runs.
    """
    text = "\x1f".join(str(p) for p in parts)
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little") & 0x7FFFFFFF


#: Seeds are what torch.manual_seed and numpy's generators both take: 0 to 2**64 - 1.
MAX_SEED = 2**64 - 1


def check_seed(seed, name: str = "seed") -> int:
    """``seed`` as an int, or a YocoError naming it unless it is a whole number in [0, 2**64 - 1]."""
    import numpy as np

    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= int(seed) <= MAX_SEED:
        raise YocoError(f"{name} must be a whole number from 0 to 2**64 - 1 = {MAX_SEED}, got {seed!r}.")
    return int(seed)


def generator(seed: int, device: str | torch.device = "cpu") -> torch.Generator:
    """A torch.Generator on ``device`` seeded with ``seed``."""
    import torch  # here, not above: the workflow derives its seeds while building the DAG, without torch

    g = torch.Generator(device=device)
    g.manual_seed(int(seed))
    return g
