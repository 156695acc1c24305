"""The paper's pruning keys (reference-spec §3.9): what ``forgetting_easy_balance`` or ``yoco`` means.

The grammar alone, without torch: the workflow checks every key of a config while it builds its DAG,
and importing torch for that cost each Snakemake start ~1.5 s. :mod:`yoco.selection` applies a parsed
key to a score table.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import YocoError, closest

ORDERS = ("easy", "hard")
BALANCES = ("class", "global")

#: Base pruning keys of the paper (§3.9) and what each does by default.
METHODS: dict[str, str] = {
    "random": "uniform random patches (seeded); global unless _balance",
    "ssp": "k-means on final-model features, keep the patch nearest each centroid; global unless _balance",
    "entropy": "final-model prediction entropy, keep the highest (hard); global",
    "accumulated_margin": "AUM over all epochs, keep the lowest (hard); _easy keeps the highest; global",
    "forgetting": "forgetting events over all epochs, keep the most (hard); global",
    "el2n": "EL2N over epochs 0-9, keep the highest (hard); global",
    "ccs": "EL2N with a hard cut-off, then 50-strata coverage sampling; suffixes are ignored",
    "yoco": "LBPE over the top-K accuracy epochs, keep the lowest (easy), balanced per class",
}

# (method, score key, default difficulty, default balance) per base key.
_DEFAULTS: dict[str, tuple[str, str | None, str | None, str]] = {
    "random": ("random", None, None, "global"),
    "ssp": ("ssp", "features", None, "global"),
    "entropy": ("score", "entropy", "hard", "global"),
    "accumulated_margin": ("score", "accumulated_margin", "hard", "global"),
    "forgetting": ("score", "forgetting", "hard", "global"),
    "el2n": ("score", "el2n", "hard", "global"),
    "ccs": ("ccs", "el2n", None, "global"),
    "yoco": ("score", "lbpe", "easy", "class"),
}
# Scores where a high value means easy: keeping the hard samples means keeping the lowest values (§3.4).
_HIGH_IS_EASY = frozenset({"accumulated_margin"})

_ORDER_SUFFIXES = {"_hard": "hard", "_easy": "easy"}
_BALANCE_SUFFIXES = {"_imbalance": "global", "_balance": "class"}


def methods() -> list[str]:
    """The base pruning keys (each may take ``_easy``/``_hard`` and ``_balance``/``_imbalance``)."""
    return list(METHODS)


@dataclass(frozen=True)
class SelectionRule:
    """A parsed pruning key.

    Attributes
    ----------
    key : str
        The key as given, e.g. ``"forgetting_easy_balance"``.
    method : {"score", "random", "ssp", "ccs"}
    score : str or None
        Score-table entry read (``None`` for random).
    order : {"easy", "hard"} or None
        Passed to :func:`select_by_score`: "easy" keeps the lowest score values, "hard" the highest.
        ``None`` for random, ssp and ccs.
    balance : {"class", "global"}
    difficulty : {"easy", "hard"} or None
        Which samples the key keeps in the paper's sense. Equal to ``order`` except for
        ``accumulated_margin``, where a low value means hard.
    """

    key: str
    method: str
    score: str | None
    order: str | None
    balance: str
    difficulty: str | None


def _unknown_key(key: str, base: str) -> YocoError:
    guess = closest(base, METHODS)
    suffix = key[len(base) :]
    hint = f" Did you mean {guess + suffix!r}?" if guess else ""
    return YocoError(
        f"unknown pruning key {key!r}.{hint} Valid base keys: {', '.join(sorted(METHODS))}; each may end "
        "in _easy or _hard and in _balance or _imbalance, in either order (e.g. 'forgetting_easy_balance')."
    )


def parse_key(key: str) -> SelectionRule:
    """Parse a paper pruning key (§3.9) into a :class:`SelectionRule`.

    Grammar: ``BASE [_easy|_hard] [_balance|_imbalance]`` with the two optional suffixes in either
    order. Parsing is by exact tokens from the end of the key (the reference used substring
    ``replace``, which also accepted keys such as ``xrandomx``). Rules:

    * ``yoco`` defaults to easy + balanced; ``el2n``, ``forgetting``, ``entropy``,
      ``accumulated_margin`` to hard + global; ``random``, ``ssp`` to global.
    * ``accumulated_margin``: low AUM is hard, so "hard" keeps the lowest values (the reference flips
      ``use_hard`` for this key).
    * ``_easy``/``_hard`` have no effect on ``random`` and ``ssp``.
    * ``ccs`` ignores every suffix (the reference replaces the whole key by ``el2n`` and forces
      global selection).
    """
    if not isinstance(key, str) or not key:
        raise YocoError(f"pruning key must be a non-empty string, got {key!r}.")
    suffixes = {
        **{t: ("order", v) for t, v in _ORDER_SUFFIXES.items()},
        **{t: ("balance", v) for t, v in _BALANCE_SUFFIXES.items()},
    }
    base, order, balance = key, None, None
    while token := next((t for t in suffixes if base.endswith(t) and len(base) > len(t)), None):
        kind, value = suffixes[token]
        if kind == "order":
            if order is not None:
                raise YocoError(f"pruning key {key!r} has two order suffixes; use one of _easy or _hard.")
            order = value
        else:
            if balance is not None:
                raise YocoError(f"pruning key {key!r} has two balance suffixes; use one of _balance or _imbalance.")
            balance = value
        base = base[: -len(token)]
    if base not in _DEFAULTS:
        raise _unknown_key(key, base)
    method, score, default_difficulty, default_balance = _DEFAULTS[base]
    if method == "ccs":
        return SelectionRule(key, "ccs", score, None, "global", None)
    balance = balance or default_balance
    if method in ("random", "ssp"):
        return SelectionRule(key, method, score, None, balance, None)
    difficulty = order or default_difficulty
    score_order = difficulty
    if score in _HIGH_IS_EASY:
        score_order = "easy" if difficulty == "hard" else "hard"
    return SelectionRule(key, method, score, score_order, balance, difficulty)
