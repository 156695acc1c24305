"""Progress of long work: a live bar on a terminal, plain lines at a bounded rate in a log file.

A training job of the paper's grid runs for minutes to hours, and Snakemake sends its stderr to the
rule's log file. That log should show that the job is alive, how far it got and when it will end,
without growing by a line per epoch. One :class:`Progress` reports one piece of work: the batched
trainer (:func:`yoco.train.train_models`, so every dynamics and evaluation job) reports through it, and
condensation loops can use the same four calls.

Usage
-----
::

    with Progress("condense idc") as progress:  # closes a bar; says where an exception stopped it
        progress.start(total=cfg.outer, status=f"{cfg.outer} outer iterations", done=start)
        for it in range(start, cfg.outer):  # start > 0 when resumed from a snapshot
            ...
            progress.update(it + 1, status=f"outer {it + 1}/{cfg.outer}, matching loss {loss:.5f}")
        progress.finish(f"matching loss {loss:.5f}")

A loop in the library that reports through a callback after each unit and resumes from snapshots on
its own (condensation, MTT's experts) is reported with :meth:`Progress.advance`, which starts on the
first report (``yoco condense`` and ``yoco experts`` do this).

``total`` and ``done`` count work units of the caller's choosing (the trainer counts model-steps, a
condensation loop would count outer iterations); the ETA assumes the remaining units take as long as
the finished ones did on average, ``elapsed · (total − done) / done`` (:func:`eta_seconds`); work resumed
from a snapshot passes ``start(total, done=...)``, so that only this run's work sets the rate. ``status``
is a short text shown beside the percentage (models done, epoch, mean accuracy where known); ``None``
keeps the previous one, so a caller may update every step and rebuild the text only when it changes.
:meth:`Progress.finish` writes the final line; leaving the ``with`` block early (an exception) writes
where the work stopped. Calling :meth:`~Progress.update` costs a clock read when no line is due, so
once per training step is fine.

Where the output goes
---------------------
On a terminal (``stream.isatty()``) a tqdm bar is redrawn in place, at most twice a second. Anywhere
else (a log file, a pipe, SLURM's output file) plain lines are written, prefixed like every ``yoco``
log line::

    [yoco 04:15:12] evaluate: started, 9 models x 300 epochs (5,400 model-steps)
    [yoco 04:16:12] evaluate: 5.0% | models 0/9 done, epoch 15/300 | elapsed 1m00s | ETA 19m09s
    [yoco 04:21:33] evaluate: 30.0% | models 0/9 done, epoch 90/300, mean test acc 80.68% (epoch 75) | elapsed 6m22s | ETA 14m51s

Rate of the plain lines
-----------------------
A line is written when at least ``min_interval`` seconds (30) have passed since the previous one *and*
the work has advanced by ``min_fraction`` (5 %) of the total since then (whichever comes later), or
when ``heartbeat`` seconds (300) have passed without a line; the start and the finish always write
one. Hence a job of a few seconds (the quickstart's) writes two lines, a 10-minute job about 20 (one
per 30 s, as 5 % takes 30 s), a 10-hour job one every 5 minutes (5 % alone would leave it silent for
30 minutes, 30 s alone would be 1 200 lines). No two lines come less than ``min_interval`` apart, and a
log of the paper's grid stays readable.

Two environment variables change the defaults for every job (e.g. ``YOCO_PROGRESS_INTERVAL=5
snakemake ...``): ``YOCO_PROGRESS`` = ``auto`` (default), ``bar``, ``plain`` or ``off``;
``YOCO_PROGRESS_INTERVAL`` = ``min_interval`` in seconds.

This module sits low in the layering: it imports nothing from the stages, only :mod:`yoco.errors`.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable
from typing import TextIO

from .errors import YocoError, unknown_choice

MODES = ("auto", "bar", "plain", "off")
MIN_INTERVAL = 30.0
MIN_FRACTION = 0.05
HEARTBEAT = 300.0


def log(msg: str, stream: TextIO | None = None) -> None:
    """One ``yoco`` log line, ``[yoco HH:MM:SS] msg``, on stderr (the job's log file under Snakemake)."""
    print(f"[yoco {time.strftime('%H:%M:%S')}] {msg}", file=stream or sys.stderr, flush=True)


def eta_seconds(done: float, total: float, elapsed: float, done_at_start: float = 0.0) -> float | None:
    """Seconds left if the remaining work goes at this run's average rate so far (``done - done_at_start``
    units in ``elapsed`` seconds); None before this run has done any work."""
    if done <= done_at_start or total <= 0:
        return None
    return max(0.0, elapsed * (total - done) / (done - done_at_start))


def format_duration(seconds: float | None) -> str:
    """``45s``, ``3m12s``, ``2h05m``; ``?`` when unknown."""
    if seconds is None or not math.isfinite(seconds):
        return "?"
    s = round(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{(s % 3600) // 60:02d}m"


def _env_mode() -> str:
    mode = os.environ.get("YOCO_PROGRESS", "auto").strip().lower() or "auto"
    if mode not in MODES:
        raise unknown_choice("YOCO_PROGRESS", mode, MODES)
    return mode


def _env_interval() -> float:
    raw = os.environ.get("YOCO_PROGRESS_INTERVAL", "").strip()
    if not raw:
        return MIN_INTERVAL
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value >= 0:
        raise YocoError(f"YOCO_PROGRESS_INTERVAL must be a number of seconds >= 0, got {raw!r}")
    return value


class Progress:
    """Reports one piece of long work (module docstring): a bar on a terminal, rate-bounded lines elsewhere.

    Parameters
    ----------
    label : what the work is, starting every line (``evaluate``, ``dynamics``, ``condense idc``).
    stream : where to write; default ``sys.stderr`` at the time of each write.
    mode : ``auto`` (a bar when ``stream`` is a terminal, else plain lines), ``bar``, ``plain`` or ``off``;
        default from ``YOCO_PROGRESS``, else ``auto``.
    min_interval : seconds that must pass between two plain lines; default from
        ``YOCO_PROGRESS_INTERVAL``, else 30.
    min_fraction : share of the total the work must advance by between two plain lines (0.05).
    heartbeat : seconds after which a line is written however little the work advanced (300).
    clock : a monotonic clock in seconds (tests pass a fake one).
    """

    def __init__(
        self,
        label: str,
        *,
        stream: TextIO | None = None,
        mode: str | None = None,
        min_interval: float | None = None,
        min_fraction: float = MIN_FRACTION,
        heartbeat: float = HEARTBEAT,
        clock: Callable[[], float] = time.monotonic,
    ):
        mode = _env_mode() if mode is None else mode
        if mode not in MODES:
            raise unknown_choice("progress mode", mode, MODES)
        self.label = label
        self._stream = stream
        self.mode = mode
        self.min_interval = _env_interval() if min_interval is None else float(min_interval)
        if self.min_interval < 0 or not 0 <= min_fraction <= 1 or heartbeat <= 0:
            raise YocoError(
                f"progress rate: min_interval >= 0, 0 <= min_fraction <= 1 and heartbeat > 0 "
                f"are required; got {self.min_interval}, {min_fraction}, {heartbeat}"
            )
        self.min_fraction = min_fraction
        self.heartbeat = heartbeat
        self.clock = clock
        self.total = 0.0
        self.done = 0.0
        self.status = ""
        self._running = False
        self._begun = False
        self._style_now = "off"
        self._t0 = 0.0
        self._last_t = 0.0
        self._last_done = 0.0
        self._done_at_start = 0.0
        self._bar = None

    # --- where the output goes ----------------------------------------------------------------------
    @property
    def stream(self) -> TextIO:
        return self._stream if self._stream is not None else sys.stderr

    def _style(self) -> str:
        """``bar``, ``plain`` or ``off`` for this run."""
        if self.mode != "auto":
            return self.mode
        isatty = getattr(self.stream, "isatty", None)
        return "bar" if isatty is not None and isatty() else "plain"

    # --- the four calls -----------------------------------------------------------------------------
    def start(self, total: float, status: str = "", done: float = 0.0) -> None:
        """Begin (or begin again): ``total`` work units, ``done`` of them already (resumed work), the clock
        from now, a first line or a bar."""
        if not total > 0:
            raise YocoError(f"progress total must be positive, got {total}")
        self.close()
        self.total = float(total)
        self.done = self._done_at_start = min(float(done), self.total)
        self.status = status
        self._running = self._begun = True
        self._t0 = self._last_t = self.clock()
        self._last_done = self.done
        self._style_now = style = self._style()
        if style == "bar":
            from tqdm import tqdm

            self._bar = tqdm(
                total=self.total,
                initial=self.done,
                desc=self.label,
                file=self.stream,
                mininterval=0.5,
                dynamic_ncols=True,
                leave=True,
                bar_format="{desc}: {percentage:3.0f}%|{bar}| [{elapsed}<{remaining}{postfix}]",
            )
            self._bar.set_postfix_str(status, refresh=True)
        elif style == "plain":
            begun = f"resumed at {100 * self.done / self.total:.1f}%" if self.done else "started"
            log(f"{self.label}: {begun}" + (f", {status}" if status else ""), self.stream)

    def update(self, done: float, status: str | None = None) -> None:
        """``done`` units of the total are finished (absolute, not an increment); write a line if one is due."""
        if not self._running:
            return
        self.done = min(float(done), self.total)
        if status is not None:
            self.status = status
        if self._bar is not None:
            if status is not None:
                self._bar.set_postfix_str(status, refresh=False)
            self._bar.update(self.done - self._bar.n)
            return
        if self._style_now != "plain" or self.done >= self.total:
            return  # at the total, :meth:`finish` writes the last line
        now = self.clock()
        if self.due(now):
            self._write(now)

    def advance(
        self, done: float, total: float, status: str | None = None, *, step: float = 1, begin: str = ""
    ) -> None:
        """:meth:`update` for a loop that reports after each unit of work and does not say where it began
        (a run resumed from a snapshot): the first call starts the report with ``total`` units, ``done -
        step`` of them done before this run (``begin`` is the first line's status); later calls update.

        The first ``step`` units ran before the clock started, so the rate (and the elapsed time) count
        from the first call: the ETA is the later units' pace, not one inflated by work timed as instant.
        """
        if not self._begun:
            self.start(total, begin, done=done - step)
            self.done = self._done_at_start = self._last_done = min(float(done), self.total)
            if status is not None:
                self.status = status
            return
        self.update(done, status)

    def due(self, now: float) -> bool:
        """Whether a plain line is due at clock time ``now`` (the rate rule of the module docstring)."""
        since = now - self._last_t
        advanced = (self.done - self._last_done) / self.total
        if since >= self.heartbeat:
            return True
        return since >= self.min_interval and advanced >= self.min_fraction

    def finish(self, status: str | None = None) -> None:
        """The work is complete: a final line (total elapsed), and the bar closed."""
        if not self._running:
            return
        if status is not None:
            self.status = status
        self.done = self.total
        if self._bar is not None:
            self._bar.set_postfix_str(self.status, refresh=False)
            self._bar.update(self.total - self._bar.n)
        elif self._style_now == "plain":
            elapsed = self.clock() - self._t0
            log(
                f"{self.label}: done"
                + (f" | {self.status}" if self.status else "")
                + f" | elapsed {format_duration(elapsed)}",
                self.stream,
            )
        self._running = False
        self.close()

    def close(self) -> None:
        """Close the bar, if any; with the work unfinished, say where it stopped."""
        if self._running:
            self._running = False
            if self._style_now == "plain":
                log(
                    f"{self.label}: stopped at {100 * self.done / self.total:.1f}%"
                    f" after {format_duration(self.clock() - self._t0)}",
                    self.stream,
                )
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- the plain line -----------------------------------------------------------------------------
    def line(self, now: float) -> str:
        """The plain progress line at clock time ``now`` (without the ``[yoco HH:MM:SS]`` prefix)."""
        elapsed = now - self._t0
        parts = [f"{self.label}: {100 * self.done / self.total:.1f}%"]
        if self.status:
            parts.append(self.status)
        parts += [
            f"elapsed {format_duration(elapsed)}",
            f"ETA {format_duration(eta_seconds(self.done, self.total, elapsed, self._done_at_start))}",
        ]
        return " | ".join(parts)

    def _write(self, now: float) -> None:
        log(self.line(now), self.stream)
        self._last_t = now
        self._last_done = self.done
