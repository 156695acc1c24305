"""Errors that tell the user what went wrong and how to fix it."""

from __future__ import annotations

import difflib
from typing import Iterable


class YocoError(ValueError):
    """Base class of every error raised on bad user input."""


def closest(name: str, choices: Iterable[str]) -> str | None:
    """The valid choice nearest to ``name``, or None when nothing is close."""
    choices = list(choices)
    # Compared in lower case, so 'CIFAR10' finds 'cifar10' (difflib alone sees only the digits agree).
    lower = {str(c).lower(): c for c in choices}
    matches = difflib.get_close_matches(str(name).lower(), list(lower), n=1, cutoff=0.5)
    return lower[matches[0]] if matches else None


def unknown_choice(kind: str, name: str, choices: Iterable[str]) -> YocoError:
    """An error for an unknown registry key that lists the valid keys and the closest one."""
    choices = sorted(choices)
    guess = closest(name, choices)
    hint = f" Did you mean {guess!r}?" if guess else ""
    return YocoError(f"unknown {kind} {name!r}.{hint} Valid {kind}s: {', '.join(choices)}.")


def refuse_duplicates(values: Iterable, what: str, fix: str, key=None) -> None:
    """Raise unless every value is distinct: the same input twice would make the same records twice.

    ``key`` maps a value to what makes it the same (a file's identity, a parsed ``KEY@REP``); the
    message names the value as given: ``--fractions 0.5 is given twice, ...``.
    """
    seen: dict = {}
    for value in values:
        k = value if key is None else key(value)
        if k in seen:
            first = seen[k]
            same = f"{value} is given twice" if str(first) == str(value) else f"{first} and {value} are the same"
            raise YocoError(f"{what} {same}, which would make duplicate records; {fix}")
        seen[k] = value


class TrainingDiverged(YocoError):
    """A training or condensation reached a non-finite loss or parameter (NaN or inf).

    Its result would be meaningless (chance accuracy, NaN scores or images), so the trainers and
    condensers stop instead of returning it, and the commands write nothing (docs/errors.md,
    "Training that diverges").
    """


def diverged(
    what: str, where: str, value: float | str, settings: Iterable[tuple[str, object, str | None]]
) -> TrainingDiverged:
    """The error of a run that diverged: ``what`` (e.g. "training") diverged ``where`` (e.g. "at epoch
    3 of 15") with a non-finite ``value`` (a loss, or a phrase such as "parameters not finite"), naming
    the ``settings`` to lower as ``(name, value, CLI flag or None)``, the likeliest cause first."""
    if isinstance(value, str):
        seen = value
    else:
        seen = f"loss {float(value)}"
    settings = list(settings)
    used = " and ".join(f"{name} {val:g}" if isinstance(val, float) else f"{name} {val}" for name, val, _ in settings)
    fixes = " or ".join(f"{name} ({flag})" if flag else name for name, _, flag in settings)
    return TrainingDiverged(f"{what} diverged {where} ({seen}) with {used}; lower {fixes} and rerun")
