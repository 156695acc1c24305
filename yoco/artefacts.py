"""What identifies an artefact, and the checks that artefacts read together belong together.

Every file downstream of a condensed set (decoded set, dynamics, model, scores, selections, run rows)
carries the *identity* of the decoded set it indexes:

* ``dataset``, ``condenser``: where the set comes from;
* ``ipc_from``, ``factor``: its stored geometry (IPC_F, multi-formation factor f);
* ``n_decoded``: the number of decoded samples every index refers to (``C·IPC_F·f²``);
* ``decoded_sha256``: a hash of the decoded images and labels themselves, so two sets of the same
  shape (IDC vs DREAM, or two condensation seeds) are still told apart.

A command that reads two or more artefacts compares their identities (:func:`check_belong`) before
any work, so scores of one set can never rank the patches of another.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

import numpy as np

from .errors import YocoError

IDENTITY_KEYS = ("dataset", "condenser", "ipc_from", "factor", "n_decoded", "decoded_sha256")


def tensor_sha256(*arrays) -> str:
    """SHA-256 over the dtype, shape and bytes of each tensor or array, in order."""
    h = hashlib.sha256()
    for a in arrays:
        # A tensor is recognised without importing torch: commands that only compare identities
        # (figure-data, tables) then start without torch's second of import time.
        is_tensor = type(a).__module__.startswith("torch") and hasattr(a, "detach")
        arr = a.detach().cpu().contiguous().numpy() if is_tensor else np.ascontiguousarray(a)
        h.update(f"{arr.dtype.str}{arr.shape}".encode())
        h.update(arr.tobytes())
    return h.hexdigest()


def make_identity(
    dataset: str, condenser: str, ipc_from: int, factor: int, n_decoded: int, decoded_sha256: str
) -> dict:
    return {
        "dataset": str(dataset),
        "condenser": str(condenser),
        "ipc_from": int(ipc_from),
        "factor": int(factor),
        "n_decoded": int(n_decoded),
        "decoded_sha256": str(decoded_sha256),
    }


def decoded_identity(decoded) -> dict:
    """The identity of a decoded set (a ``CondensedSet`` written by ``yoco decode``).

    Read from its provenance when recorded there at decode time, else computed from its content.
    """
    stored = decoded.provenance.get("identity")
    if isinstance(stored, Mapping) and all(k in stored for k in IDENTITY_KEYS):
        return {k: stored[k] for k in IDENTITY_KEYS}
    origin = decoded.provenance.get("decoded_from")
    if not isinstance(origin, Mapping):
        raise YocoError(
            "this condensed set was not produced by `yoco decode`; decode it first "
            "(yoco decode --condensed FILE --out DECODED)"
        )
    return make_identity(
        decoded.dataset,
        decoded.condenser,
        origin["ipc"],
        origin["factor"],
        len(decoded.labels),
        tensor_sha256(decoded.images, decoded.labels),
    )


def short(identity: Mapping | None) -> str:
    """A readable one-line form of an identity, for messages."""
    if not identity:
        return "no recorded identity"
    parts = [
        f"{identity.get('dataset')}/{identity.get('condenser')} IPC {identity.get('ipc_from')} "
        f"factor {identity.get('factor')}, {identity.get('n_decoded')} decoded samples"
    ]
    if identity.get("decoded_sha256"):
        parts.append(f"hash {str(identity['decoded_sha256'])[:12]}")
    return ", ".join(parts)


def check_belong(
    reference: Mapping | None, other: Mapping | None, reference_name: str, other_name: str, fix: str
) -> None:
    """Raise :class:`YocoError` unless ``other`` was made from the decoded set ``reference`` names.

    Fields missing on either side are not compared (files written by hand may record only some of
    them); any field present on both must agree.
    """
    if not reference or not other:
        return
    for key in IDENTITY_KEYS:
        if key in reference and key in other and reference[key] != other[key]:
            raise YocoError(
                f"{other_name} does not belong to {reference_name}: {key} {_show(other[key])} vs "
                f"{_show(reference[key])} ({short(other)} vs {short(reference)}); {fix}"
            )


def _show(value) -> str:
    text = str(value)
    return repr(text[:12] + "...") if len(text) > 40 else repr(value)


def check_count(n_expected: int, n_found: int, reference_name: str, other_name: str, fix: str) -> None:
    """Raise unless an artefact covers exactly the decoded set's samples."""
    if int(n_expected) != int(n_found):
        raise YocoError(
            f"{other_name} covers {n_found} samples but {reference_name} has {n_expected}; "
            f"they come from different sets; {fix}"
        )


def check_real(decoded, real, decoded_name: str, real_name: str) -> None:
    """Raise unless the real data is the dataset the decoded set was condensed from, at its resolution."""
    if decoded.dataset and real.name and decoded.dataset != real.name:
        raise YocoError(
            f"{decoded_name} was condensed from {decoded.dataset!r} but {real_name} holds "
            f"{real.name!r}; pass the real data of {decoded.dataset!r} (yoco data --dataset "
            f"{decoded.dataset})"
        )
    if decoded.num_classes != real.num_classes:
        raise YocoError(
            f"{decoded_name} has {decoded.num_classes} classes but {real_name} ({real.name}) has "
            f"{real.num_classes}; import the set with the --dataset it was condensed from"
        )
    size, real_size = int(decoded.images.shape[-1]), int(real.image_size)
    if size != real_size:
        raise YocoError(
            f"{decoded_name} holds {size}x{size} images but {real_name} has {real_size}x{real_size}; "
            f"make the real data at the set's resolution (yoco data --dataset {real.name} "
            f"--image-size {size})"
        )


def check_rep(recorded, rep: int, name: str, fix: str) -> None:
    """Raise unless an artefact of one dynamics run (scores, dynamics) serves the rep it records.

    Files that record no rep (written before reps were recorded, or by hand) are not compared, as
    with the identity fields."""
    if recorded is not None and int(recorded) != int(rep):
        raise YocoError(f"{name} comes from dynamics rep {recorded} but is used for rep {rep}; {fix}")


def reps_of(recorded: list, names: list[str], what: str) -> list[int]:
    """The rep of each file of a per-rep list (``--scores``, ``--dynamics``): the rep it records, else its
    position (1, 2, ...); two files of one rep would make the same records twice."""
    reps = [int(r) if r is not None else i for i, r in enumerate(recorded, start=1)]
    seen: dict[int, str] = {}
    for rep, name in zip(reps, names):
        if rep in seen:
            raise YocoError(
                f"{what} {seen[rep]} and {name} are both rep {rep}, which would make duplicate records; "
                "pass one file per rep"
            )
        seen[rep] = name
    return reps
