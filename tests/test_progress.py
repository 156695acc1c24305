"""yoco/progress.py: the rate bound, the ETA arithmetic, plain lines off a terminal, a bar on one,
and a training job's log as Snakemake writes it."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys

import pytest

from conftest import REPO
from yoco.cli import main
from yoco.errors import YocoError
from yoco.progress import Progress, eta_seconds, format_duration

LINE = re.compile(r"^\[yoco \d\d:\d\d:\d\d\] ")


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Recorder(io.StringIO):
    """A non-terminal stream that remembers the fake clock's time of every line written."""

    def __init__(self, clock: FakeClock):
        super().__init__()
        self.clock = clock
        self.times: list[float] = []

    def write(self, text: str) -> int:
        if text.endswith("\n"):
            self.times.append(self.clock.now)
        return super().write(text)


def _run(total: float, seconds_per_unit: float, units: int, **kw) -> tuple[Recorder, list[float]]:
    """Work of ``total`` units, ``units`` of them done one at a time, each taking ``seconds_per_unit``;
    returns the stream and the fraction done at every progress line."""
    clock = FakeClock()
    out = Recorder(clock)
    p = Progress("work", stream=out, clock=clock, mode="auto", **kw)
    p.start(total, status="just begun")
    fractions = []
    for done in range(1, units + 1):
        clock.now += seconds_per_unit
        before = len(out.times)
        p.update(done)
        if len(out.times) > before:
            fractions.append(done / total)
    p.finish()
    return out, fractions


def test_a_ten_minute_job_writes_a_line_per_30_seconds_and_5_percent():
    # 600 s of work in 1 s steps: 5 % takes 30 s, so both bounds fall together: 19 lines (5 % .. 95 %),
    # plus the start and the finish.
    out, fractions = _run(600, 1.0, 600, min_interval=30)
    lines = out.getvalue().splitlines()
    assert len(lines) == 1 + 19 + 1
    gaps = [b - a for a, b in zip(out.times, out.times[1:])]
    assert min(gaps[:-1]) >= 30  # the finish line is always written, however soon
    assert all(b - a >= 0.05 - 1e-9 for a, b in zip([0.0] + fractions, fractions))


def test_fast_work_writes_only_start_and_finish():
    # The quickstart's jobs: 1 000 steps in 10 s. No line between start and finish (30 s bound).
    out, fractions = _run(1000, 0.01, 1000, min_interval=30)
    assert fractions == []
    lines = out.getvalue().splitlines()
    assert len(lines) == 2 and "started, just begun" in lines[0] and "done" in lines[1]


def test_slow_work_gets_a_heartbeat_every_five_minutes():
    # 1 % per 10 minutes: 5 % would take 50 minutes; the heartbeat writes every 300 s instead.
    out, fractions = _run(100_000, 1.0, 3600, min_interval=30, heartbeat=300)
    assert len(fractions) == 3600 // 300
    gaps = [b - a for a, b in zip(out.times, out.times[1:-1])]
    assert gaps == [300.0] * len(gaps)


def test_many_fast_updates_in_a_long_job_stay_bounded():
    # 100 updates a second for an hour: no two lines less than 30 s apart, at most 20 + start + finish.
    out, _ = _run(360_000, 0.01, 360_000, min_interval=30)
    assert len(out.times) <= 22
    assert min(b - a for a, b in zip(out.times, out.times[1:-1])) >= 30


def test_eta_arithmetic():
    assert eta_seconds(25, 100, 60.0) == pytest.approx(180.0)  # a quarter in a minute: three to go
    assert eta_seconds(100, 100, 60.0) == 0.0
    assert eta_seconds(0, 100, 60.0) is None  # nothing done: no rate yet
    assert format_duration(45) == "45s" and format_duration(192) == "3m12s" and format_duration(7500) == "2h05m"
    assert format_duration(None) == "?"
    # Resumed at 40 units: this run's 20 units in 60 s set the rate, so 40 units left take 120 s.
    assert eta_seconds(60, 100, 60.0, done_at_start=40) == pytest.approx(120.0)
    assert eta_seconds(40, 100, 5.0, done_at_start=40) is None
    clock = FakeClock()
    p = Progress("evaluate", stream=io.StringIO(), clock=clock, min_interval=0)
    p.start(400)
    clock.now = 90.0
    p.update(100, status="models 0/81 done, epoch 50/200")
    assert p.line(clock.now) == "evaluate: 25.0% | models 0/81 done, epoch 50/200 | elapsed 1m30s | ETA 4m30s"


def test_plain_lines_off_a_terminal_and_a_bar_on_one():
    plain = io.StringIO()
    with Progress("dynamics", stream=plain, min_interval=0) as p:
        p.start(10)
        for i in range(1, 11):
            p.update(i, status=f"epoch {i}/10")
        p.finish()
    lines = plain.getvalue().splitlines()
    assert all(LINE.match(line) for line in lines) and "\r" not in plain.getvalue()
    assert any("ETA" in line for line in lines) and "done | epoch 10/10" in lines[-1]

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    tty = Terminal()
    with Progress("dynamics", stream=tty, min_interval=0) as p:
        p.start(10)
        for i in range(1, 11):
            p.update(i, status=f"epoch {i}/10")
        p.finish()
    drawn = tty.getvalue()
    assert "\r" in drawn and "100%" in drawn and "epoch 10/10" in drawn  # tqdm redraws in place
    assert not LINE.search(drawn)


def test_environment_switches(monkeypatch):
    monkeypatch.setenv("YOCO_PROGRESS", "off")
    out = io.StringIO()
    p = Progress("x", stream=out)
    p.start(5)
    p.update(5)
    p.finish()
    assert out.getvalue() == ""
    monkeypatch.setenv("YOCO_PROGRESS", "plian")
    with pytest.raises(YocoError, match="plain"):
        Progress("x")
    monkeypatch.setenv("YOCO_PROGRESS", "auto")
    monkeypatch.setenv("YOCO_PROGRESS_INTERVAL", "soon")
    with pytest.raises(YocoError, match="YOCO_PROGRESS_INTERVAL"):
        Progress("x")
    monkeypatch.setenv("YOCO_PROGRESS_INTERVAL", "7")
    assert Progress("x").min_interval == 7.0


def test_resumed_work_reports_from_where_it_resumed():
    clock = FakeClock()
    out = io.StringIO()
    p = Progress("condense idc", stream=out, clock=clock, min_interval=0)
    p.start(2000, status="2000 outer iterations", done=800)
    clock.now = 120.0
    p.update(1000, status="outer 1000/2000")
    p.finish()
    lines = out.getvalue().splitlines()
    assert lines[0].endswith("condense idc: resumed at 40.0%, 2000 outer iterations")
    assert lines[1].endswith("condense idc: 50.0% | outer 1000/2000 | elapsed 2m00s | ETA 10m00s")


def test_advance_starts_on_the_first_report_and_counts_only_this_runs_work():
    # A loop resumed from a snapshot at 4 of 10 units reports first after unit 5 (a step of 1), whose
    # start the report did not see: it starts at 40 %, and the pace is that of the units after unit 5
    # (unit 6 took 30 s, 4 units left -> ETA 2m00s).
    clock = FakeClock()
    out = io.StringIO()
    p = Progress("condense mtt", stream=out, clock=clock, min_interval=0)
    clock.now = 30.0
    p.advance(5, 10, "loss 0.5", begin="10 iterations")
    clock.now = 60.0
    p.advance(6, 10, "loss 0.4", begin="ignored after the first call")
    p.finish()
    p.advance(7, 10, "after finish")  # a late report neither restarts nor writes
    lines = out.getvalue().splitlines()
    assert lines[0].endswith("condense mtt: resumed at 40.0%, 10 iterations")
    assert lines[1].endswith("condense mtt: 60.0% | loss 0.4 | elapsed 30s | ETA 2m00s")
    assert lines[2].endswith("condense mtt: done | loss 0.4 | elapsed 30s") and len(lines) == 3
    # A fresh run (nothing done before the first step) says "started".
    fresh = io.StringIO()
    Progress("experts", stream=fresh, clock=clock).advance(2, 6, step=2, begin="2 experts x 3 epochs")
    assert fresh.getvalue().splitlines()[0].endswith("experts: started, 2 experts x 3 epochs")


def test_an_interrupted_job_says_where_it_stopped():
    clock = FakeClock()
    out = io.StringIO()
    with pytest.raises(RuntimeError), Progress("evaluate", stream=out, clock=clock) as p:
        p.start(200)
        clock.now = 65.0
        p.update(50)
        raise RuntimeError("out of memory")
    assert out.getvalue().splitlines()[-1].endswith("evaluate: stopped at 25.0% after 1m05s")


def test_a_training_jobs_log_shows_progress_with_an_eta(tmp_path):
    """An evaluate job run as the workflow's rule runs it (stderr into the log file, no terminal)."""
    d = tmp_path
    assert main(["data", "--dataset", "digits", "--image-size", "8", "--out", str(d / "digits.npz")]) == 0
    assert (
        main(
            [
                "import",
                "--format",
                "real",
                "--path",
                str(d / "digits.npz"),
                "--dataset",
                "digits",
                "--ipc",
                "10",
                "--out",
                str(d / "condensed.pt"),
            ]
        )
        == 0
    )
    assert main(["decode", "--condensed", str(d / "condensed.pt"), "--out", str(d / "decoded.pt")]) == 0
    assert (
        main(
            [
                "select",
                "--pairs",
                "random@1",
                "random@2",
                "--ipc-to",
                "4",
                "--decoded",
                str(d / "decoded.pt"),
                "--out",
                str(d / "sel.json"),
            ]
        )
        == 0
    )
    log = d / "evaluate.log"
    cmd = (
        f"{sys.executable} -m yoco evaluate --decoded {d / 'decoded.pt'} --real {d / 'digits.npz'}"
        f" --selections {d / 'sel.json'} --inits 2 --epochs 8 --eval-points 4 --width 4 --device cpu"
        f" --out {d / 'runs.csv'} > {log} 2>&1"
    )
    # YOCO_PROGRESS_INTERVAL=0 leaves the 5 % bound alone, so a job of seconds logs like a long one.
    env = dict(os.environ, YOCO_PROGRESS_INTERVAL="0", PYTHONPATH=str(REPO))
    subprocess.run(cmd, shell=True, check=True, env=env, cwd=d, timeout=300)
    lines = log.read_text().splitlines()
    progress = [line for line in lines if re.search(r"\] evaluate: \d+\.\d% \| ", line)]
    # 4 runs of 40 images (one step of batch 64 per epoch) x 8 epochs: every step advances the work by
    # 12.5 % >= 5 %, so each of the 7 steps before the last writes a line; the last one is the "done" line.
    assert len(progress) == 7, lines
    assert all(re.search(r"\| elapsed \w+ \| ETA (\d+h)?(\d+m)?\d+s$", line) for line in progress), progress
    assert all(re.search(r"models \d/4 done, epoch \d/8", line) for line in progress)
    assert any("mean test acc" in line for line in progress)
    assert any(re.search(r"evaluate: started, 4 models x 8 epochs", line) for line in lines)
    assert re.search(
        r"evaluate: done \| 4 models, mean final test acc [\d.]+% \| elapsed \w+$",
        next(line for line in lines if "evaluate: done" in line),
    )
