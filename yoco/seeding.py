"""Seeds derived from a job's identity, so every random draw is reproducible from its wildcards."""

from __future__ import annotations

import hashlib

import torch


def seed_from(*parts: object) -> int:
    """A 31-bit seed from any sequence of identifying values (dataset, condenser, rep, key, ...).

    Uses SHA-256 of the parts' text rather than Python's ``hash`` because the latter is salted
    per process and would make seeds differ between runs.
    """
    text = "\x1f".join(str(p) for p in parts)
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little") & 0x7FFFFFFF


def generator(seed: int, device: str | torch.device = "cpu") -> torch.Generator:
    """A torch.Generator on ``device`` seeded with ``seed``."""
    g = torch.Generator(device=device)
    g.manual_seed(int(seed))
    return g
