"""Per-epoch training dynamics over the decoded training set.

The reference code logs, for every iteration of a 1000-epoch training run, the float16 log-softmax of
the augmented batch (reference-spec §2) and derives every score from that log afterwards. Each decoded
sample appears exactly once per epoch, so the same information fits in a few ``[E, N]`` arrays that the
trainer can fill online (reference-spec §2, "Recommendation"):

* ``err_l2[t, i]  = ‖onehot(y_i) − p_t(i)‖₂``          (LBPE_t, EL2N, §3.1–3.2)
* ``correct[t, i] = argmax p_t(i) == y_i``            (forgetting, top-K epoch choice, §3.1, §3.3)
* ``margin[t, i]  = p_t(i)_y − max_{k≠y} p_t(i)_k``   (accumulated margin, §3.4)

``p_t(i)`` is the softmax output of the *training* forward pass of epoch ``t`` (train mode, augmented
and possibly CutMixed input, before that iteration's optimiser step), exactly what the reference logs.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .io import atomic_path
from .errors import YocoError

__all__ = ["Dynamics", "per_sample_stats"]

# Softmax outputs reconstructed from float16 log-softmax (as the reference does) sum to 1 only up to
# ~1e-3; raw logits almost never sum to 1 within this tolerance.
_PROB_SUM_TOL = 1e-2


def _as_numpy(x: Any, name: str) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    try:
        return np.asarray(x)
    except Exception as exc:  # pragma: no cover - exotic inputs
        raise YocoError(f"{name} must be a numpy array or torch tensor, got {type(x).__name__}.") from exc


def _as_tensor(x: Any, name: str) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        return x
    try:
        return torch.as_tensor(np.asarray(x))
    except Exception as exc:  # pragma: no cover - exotic inputs
        raise YocoError(f"{name} must be a numpy array or torch tensor, got {type(x).__name__}.") from exc


def per_sample_stats(
    probs: torch.Tensor, labels: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-sample error norm, correctness, margin and cross-entropy of one batch of softmax outputs.

    Runs on the tensors' device and dtype, so a trainer can call it inside its loop on the GPU and
    scatter the results into the ``[E, N]`` arrays of a :class:`Dynamics`.

    Parameters
    ----------
    probs : torch.Tensor, shape [B, C]
        Softmax probabilities (``torch.softmax(logits, -1)``).
    labels : torch.Tensor, shape [B]
        Integer class labels (the dataset labels, not CutMix partners: the reference re-reads the
        labels from the class-ordered dataset, §2).

    Returns
    -------
    err_l2 : torch.Tensor [B]
        ``‖onehot(y) − p‖₂``.
    correct : torch.Tensor [B] bool
        ``argmax p == y`` (first maximal class on ties, as ``torch.argmax``).
    margin : torch.Tensor [B]
        ``p_y − max_{k≠y} p_k``. The reference zeroes ``p_y`` and takes the maximum, which is the same
        thing for non-negative probabilities.
    loss : torch.Tensor [B]
        ``−log p_y`` (only needed for the reference's unused ``--use-loss`` epoch choice).
    """
    labels = labels.to(device=probs.device, dtype=torch.int64)
    rows = torch.arange(probs.shape[0], device=probs.device)
    p_y = probs[rows, labels]
    onehot = torch.nn.functional.one_hot(labels, probs.shape[1]).to(probs.dtype)
    err_l2 = torch.linalg.vector_norm(onehot - probs, dim=1)
    correct = probs.argmax(dim=1) == labels
    others = probs.clone()
    others[rows, labels] = 0
    margin = p_y - others.max(dim=1).values
    # The floor only prevents -log(0) = inf when a float16 log-softmax underflowed to probability 0.
    loss = -torch.log(p_y.clamp_min(torch.finfo(probs.dtype).tiny))
    return err_l2, correct, margin, loss


# eq=False: a generated __eq__ would compare numpy arrays and raise on truth testing.
@dataclass(eq=False)
class Dynamics:
    """Training dynamics of one run: per-epoch statistics of every decoded training sample.

    The constructor only converts and checks; the trainer fills the arrays itself (see
    :func:`per_sample_stats`). Use :meth:`from_probs` / :meth:`from_logits` to build one from full
    softmax / logit histories.

    Parameters
    ----------
    err_l2 : array [E, N] float32
        ``‖onehot(y) − softmax‖₂`` per epoch and sample.
    correct : array [E, N] bool
        Whether the argmax prediction equals the label.
    margin : array [E, N] float32
        ``p_y − max_{k≠y} p_k`` (on probabilities, as the reference, not on logits as the AUM paper).
    labels : array [N] int64
        Class labels of the decoded set.
    num_classes : int
        Number of classes ``C``.
    meta : dict
        JSON-serialisable provenance (seed, epochs, condenser, ...).
    loss : array [E, N] float32 or None
        Optional per-sample cross-entropy ``−log p_y``; only the ``epoch_selection="loss"`` variant of
        :func:`yoco.scores.lbpe` reads it.
    """

    err_l2: np.ndarray
    correct: np.ndarray
    margin: np.ndarray
    labels: np.ndarray
    num_classes: int
    meta: dict = field(default_factory=dict)
    loss: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.err_l2 = _as_numpy(self.err_l2, "err_l2").astype(np.float32, copy=False)
        self.correct = _as_numpy(self.correct, "correct").astype(bool, copy=False)
        self.margin = _as_numpy(self.margin, "margin").astype(np.float32, copy=False)
        labels = _as_numpy(self.labels, "labels")
        if labels.ndim != 1:
            raise YocoError(f"labels must be 1-D [N], got shape {labels.shape}.")
        if labels.size and not np.issubdtype(labels.dtype, np.integer):
            if not np.all(labels == np.round(labels)):
                raise YocoError("labels must be integer class indices; pass argmax of one-hot labels.")
        self.labels = labels.astype(np.int64, copy=False)
        self.num_classes = int(self.num_classes)
        if self.meta is None:
            self.meta = {}
        if not isinstance(self.meta, dict):
            raise YocoError(f"meta must be a dict, got {type(self.meta).__name__}.")
        if self.err_l2.ndim != 2:
            raise YocoError(f"err_l2 must be 2-D [epochs, samples], got shape {self.err_l2.shape}.")
        shape = self.err_l2.shape
        arrays = {"correct": self.correct, "margin": self.margin}
        if self.loss is not None:
            self.loss = _as_numpy(self.loss, "loss").astype(np.float32, copy=False)
            arrays["loss"] = self.loss
        for name, arr in arrays.items():
            if arr.shape != shape:
                raise YocoError(
                    f"{name} has shape {arr.shape} but err_l2 has {shape}; all per-epoch "
                    "arrays must be [epochs, samples]."
                )
        if self.labels.shape[0] != shape[1]:
            raise YocoError(f"labels has {self.labels.shape[0]} entries but the dynamics cover {shape[1]} samples.")
        if self.num_classes < 2:
            raise YocoError(f"num_classes must be at least 2, got {self.num_classes}.")
        if self.labels.size and (self.labels.min() < 0 or self.labels.max() >= self.num_classes):
            raise YocoError(
                f"labels must lie in [0, {self.num_classes}); found values in "
                f"[{self.labels.min()}, {self.labels.max()}]."
            )

    # ------------------------------------------------------------------ shape and derived views
    @property
    def num_epochs(self) -> int:
        """Number of recorded epochs ``E``."""
        return int(self.err_l2.shape[0])

    @property
    def num_samples(self) -> int:
        """Number of decoded training samples ``N``."""
        return int(self.err_l2.shape[1])

    @property
    def epoch_correct(self) -> np.ndarray:
        """int64 [E]: correctly classified samples per epoch (the reference's ``correct_num``).

        This is the accuracy on the augmented, partly CutMixed training batches measured before each
        update (reference-spec §3.1, §8 item 12), not a clean evaluation.
        """
        return self.correct.sum(axis=1, dtype=np.int64)

    @property
    def train_accuracy(self) -> np.ndarray:
        """float64 [E]: ``epoch_correct / N``."""
        return self.epoch_correct / float(self.num_samples)

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_probs(
        cls, probs: Any, labels: Any, *, num_classes: int | None = None, meta: dict | None = None
    ) -> "Dynamics":
        """Build dynamics from a full softmax history.

        Parameters
        ----------
        probs : array or tensor [E, N, C]
            Softmax probabilities of every sample at every epoch.
        labels : array or tensor [N]
            Integer labels in ``[0, C)``.
        num_classes : int, optional
            Defaults to ``C`` = ``probs.shape[2]``.
        meta : dict, optional
            Provenance stored with the dynamics.
        """
        p = _as_tensor(probs, "probs")
        y = _as_tensor(labels, "labels")
        if p.ndim != 3:
            raise YocoError(f"probs must be [epochs, samples, classes], got shape {tuple(p.shape)}.")
        if y.ndim != 1:
            raise YocoError(f"labels must be 1-D [samples], got shape {tuple(y.shape)}.")
        E, N, C = p.shape
        if y.shape[0] != N:
            raise YocoError(
                f"probs cover {N} samples (axis 1) but labels has {y.shape[0]}; "
                "probs must be [epochs, samples, classes]."
            )
        if num_classes is not None and int(num_classes) != C:
            raise YocoError(f"num_classes={num_classes} but probs has {C} classes on its last axis.")
        if not (torch.is_floating_point(p)):
            raise YocoError("probs must be floating point softmax probabilities.")
        if y.is_floating_point():
            if not torch.equal(y, torch.round(y)):
                raise YocoError("labels must be integer class indices.")
        y = y.to(torch.int64)
        if N and (int(y.min()) < 0 or int(y.max()) >= C):
            raise YocoError(
                f"label out of range: labels must lie in [0, {C}) for {C} classes, found "
                f"[{int(y.min())}, {int(y.max())}]."
            )
        # float64 so that sums of many epochs are not limited by float32 rounding of single terms.
        p = p.to(torch.float64)
        if not bool(torch.isfinite(p).all()):
            raise YocoError("probs contain NaN or inf.")
        if bool((p < -1e-6).any()) or bool(((p.sum(-1) - 1).abs() > _PROB_SUM_TOL).any()):
            raise YocoError(
                "probs are not probabilities (negative values or rows not summing to 1): "
                "pass softmax probabilities or use Dynamics.from_logits."
            )
        err = torch.empty(E, N, dtype=torch.float64)
        cor = torch.empty(E, N, dtype=torch.bool)
        mar = torch.empty(E, N, dtype=torch.float64)
        los = torch.empty(E, N, dtype=torch.float64)
        for t in range(E):
            err[t], cor[t], mar[t], los[t] = per_sample_stats(p[t], y)
        return cls(
            err_l2=err.numpy(),
            correct=cor.numpy(),
            margin=mar.numpy(),
            labels=y.numpy(),
            num_classes=C,
            meta=dict(meta or {}),
            loss=los.numpy(),
        )

    @classmethod
    def from_logits(
        cls, logits: Any, labels: Any, *, num_classes: int | None = None, meta: dict | None = None
    ) -> "Dynamics":
        """Build dynamics from a full logit history ``[E, N, C]`` (softmax is applied here)."""
        z = _as_tensor(logits, "logits")
        if z.ndim != 3:
            raise YocoError(f"logits must be [epochs, samples, classes], got shape {tuple(z.shape)}.")
        if not torch.is_floating_point(z):
            z = z.to(torch.float64)
        if not bool(torch.isfinite(z).all()):
            raise YocoError("logits contain NaN or inf.")
        probs = torch.softmax(z.to(torch.float64), dim=-1)
        return cls.from_probs(probs, labels, num_classes=num_classes, meta=meta)

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | os.PathLike) -> Path:
        """Write the dynamics to an ``.npz`` file atomically (temp file + ``os.replace``).

        A crashed or killed job therefore never leaves a truncated file that a later step would trust.
        """
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            meta_json = json.dumps(self.meta, sort_keys=True)
        except TypeError as exc:
            raise YocoError(f"meta must be JSON-serialisable to be saved: {exc}.") from exc
        arrays = dict(
            err_l2=self.err_l2,
            correct=self.correct,
            margin=self.margin,
            labels=self.labels,
            num_classes=np.int64(self.num_classes),
            meta=np.array(meta_json),
        )
        if self.loss is not None:
            arrays["loss"] = self.loss
        with atomic_path(path) as tmp, open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Dynamics":
        """Read dynamics written by :meth:`save`."""
        import zipfile

        path = Path(path)
        if path.is_dir():
            raise YocoError(
                f"dynamics file {str(path)!r} is a folder; pass one rep's file inside it (e.g. "
                f"{str(path / 'rep1.npz')!r})."
            )
        if not path.exists():
            raise YocoError(f"dynamics file {str(path)!r} does not exist; run the dynamics step first.")
        try:
            with np.load(path, allow_pickle=False) as data:
                if not isinstance(data, np.lib.npyio.NpzFile):
                    raise YocoError(
                        f"{str(path)!r} holds a single array, not a dynamics file; write it with "
                        "Dynamics.save (yoco dynamics)."
                    )
                required = ("err_l2", "correct", "margin", "labels", "num_classes")
                missing = [k for k in required if k not in data.files]
                if missing:
                    raise YocoError(
                        f"{str(path)!r} is not a dynamics file (missing {', '.join(missing)}); "
                        "write it with Dynamics.save."
                    )
                meta = json.loads(str(data["meta"])) if "meta" in data.files else {}
                return cls(
                    err_l2=data["err_l2"],
                    correct=data["correct"],
                    margin=data["margin"],
                    labels=data["labels"],
                    num_classes=int(data["num_classes"]),
                    meta=meta,
                    loss=data["loss"] if "loss" in data.files else None,
                )
        except YocoError:
            raise
        except (ValueError, OSError, EOFError, KeyError, zipfile.BadZipFile) as exc:
            # Object (pickled) arrays, a corrupt archive or broken JSON metadata.
            raise YocoError(
                f"{str(path)!r} is not a readable dynamics file ({' '.join(str(exc).split())[:120]}); "
                "write it again with Dynamics.save (yoco dynamics)."
            ) from None
