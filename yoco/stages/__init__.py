"""Every step of the pipeline as a function: what one ``yoco`` subcommand (and one workflow job) does.

A stage takes the paths of its inputs and outputs plus keyword options, and does the whole step: it
checks its options and output locations, loads its inputs, checks that they belong together (one decoded
set, one dynamics run), does the work, records the provenance and writes its outputs atomically. The
``yoco`` command line only parses flags into these keywords (``--out-dir`` is ``out_dir=``) and prints a
:class:`~yoco.errors.YocoError` as one line with exit status 2, so a stage run from Python makes the same
checks, the same messages and the same bytes as the command::

    from yoco import stages

    stages.decode("condensed.pt", "decoded.pt")
    stages.select("decoded.pt", 1, "sel.json", key="random_balance")

The stages that train (``dynamics``, ``evaluate*``) take ``train=``: a :class:`TrainOptions` or a dict of
its fields, the flags of the training recipe.

========================  ===================================  ============================
stage group               functions                            module
========================  ===================================  ============================
inputs, identity checks   ``load_decoded``, ``load_real``,     :mod:`yoco.stages.inputs`
                          ``check_outputs``, ``TrainOptions``
condensation              ``data``, ``condense``, ``experts``, :mod:`yoco.stages.condensing`
                          ``import_set``, ``decode``
dynamics and scores       ``dynamics``, ``scores``             :mod:`yoco.stages.scoring`
selection                 ``select``, ``prune_file``           :mod:`yoco.stages.selecting`
evaluation                ``evaluate``, ``evaluate_fractions``,:mod:`yoco.stages.evaluating`
                          ``evaluate_epochs``
results                   ``table``, ``claims``,               :mod:`yoco.stages.results`
                          ``figure_data``, ``report_page``
========================  ===================================  ============================

Heavy imports (torch, pandas) happen inside the functions, so that importing the stages (and starting
``yoco``) stays cheap.
"""

from __future__ import annotations

from .condensing import condense, data, decode, experts, import_set
from .evaluating import evaluate, evaluate_epochs, evaluate_fractions
from .inputs import TrainOptions, check_outputs, load_decoded, load_real
from .results import claims, figure_data, report_page, table
from .scoring import dynamics, scores
from .selecting import prune_file, select

__all__ = [
    "TrainOptions",
    "check_outputs",
    "claims",
    "condense",
    "data",
    "decode",
    "dynamics",
    "evaluate",
    "evaluate_epochs",
    "evaluate_fractions",
    "experts",
    "figure_data",
    "import_set",
    "load_decoded",
    "load_real",
    "prune_file",
    "report_page",
    "scores",
    "select",
    "table",
]
