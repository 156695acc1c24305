"""YOCO: prune condensed datasets by the two rules of "You Only Condense Once" (NeurIPS 2023).

Public API::

    yoco.methods()  # pruning keys
    yoco.decode(images, ipc, factor)  # multi-formation decode
    yoco.Dynamics.from_probs(probs, labels)  # training dynamics from softmax outputs
    yoco.score_table(dynamics, lbpe_epochs=E, lbpe_top_k=K)
    yoco.select(key, scores, labels, ipc_from=F, ipc_to=T, factor=f, seed=0)
    yoco.prune(images, labels, ipc_to, factor=f, key="yoco", dynamics=None, seed=0)
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

# Resolved on first use so that `yoco --help` and light imports do not pay for torch.
_EXPORTS = {
    "methods": "selection",
    "select": "selection",
    "parse_key": "selection",
    "decode": "formation",
    "Dynamics": "dynamics",
    "score_table": "scores",
    "prune": "api",
    "CondensedSet": "condensed",
    "load_condensed": "condensed",
    "load_real": "data",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        module = importlib.import_module(f".{_EXPORTS[name]}", __name__)
        value = getattr(module, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'yoco' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + __all__)
