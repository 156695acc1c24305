"""benchmarks/paper_report.py: the markdown of a results page, checked on a tiny output root whose numbers are
known by hand."""

from __future__ import annotations

import sys

import pandas as pd
import pytest
from conftest import REPO

from yoco.figures import fig5_data
from yoco.tables import build_table

sys.path.insert(0, str(REPO / "benchmarks"))
try:
    import paper_report
finally:
    sys.path.pop(0)

CELL = dict(dataset="cifar10", condenser="idc", ipc_from=10, ipc_to=1, network="convnet")


def _runs(key: str, accs: list[float]) -> pd.DataFrame:
    """One training row per accuracy: 3 selections x 1 init, as `yoco evaluate` writes them."""
    return pd.DataFrame(
        [
            dict(
                CELL,
                key=key,
                rep=i + 1,
                init=1,
                seed=1000 + i,
                n_selected=40,
                best_acc=a,
                last_acc=a,
                epochs=200,
                wall_s=2.0,
                device="cpu",
                torch_version="2.14.1",
                yoco_version="0.1.0",
                git_commit="abc1234",
            )
            for i, a in enumerate(accs)
        ]
    )


def _claim(condenser_a: str, key_a: str, key_b: str, diff: float, se: float, paper_diff: float) -> dict:
    return dict(
        claim="easy_beats_hard",
        table=4,
        dataset="cifar10",
        ipc_from=10,
        ipc_to=1,
        network="convnet",
        condenser_a=condenser_a,
        key_a=key_a,
        condenser_b=condenser_a,
        key_b=key_b,
        diff=diff,
        se=se,
        paper_diff=paper_diff,
        holds=diff > 0,
        significant=diff > 2 * se,
    )


@pytest.fixture
def root(tmp_path):
    root = tmp_path / "results"
    runs = _runs("yoco", [30.0, 31.0, 32.0])
    (root / "runs/idc/cifar10/ipc10/to1").mkdir(parents=True)
    runs.to_csv(root / "runs/idc/cifar10/ipc10/to1/convnet.csv", index=False)
    # Table 2 from the product's own code: yoco is run, random_balance is not.
    rows = pd.DataFrame([dict(CELL, key="yoco"), dict(CELL, key="random_balance")])
    build_table(2, runs, rows=rows).to_csv(root / "table2.csv", index=False)
    pd.DataFrame(
        [
            _claim("idc", "el2n_easy", "el2n", 5.0, 1.0, 16.16),  # holds*: 5 > 2 x 1
            _claim("idc", "forgetting_easy", "forgetting", 1.0, 1.0, 20.01),  # holds: 0 < 1 <= 2
            _claim("idc", "accumulated_margin_easy", "accumulated_margin", -0.5, 1.0, 24.67),  # FAILS
            _claim("mtt", "el2n_easy", "el2n", 3.0, 1.0, float("nan")),  # holds*; the paper prints no pair
        ]
    ).to_csv(root / "claims.csv", index=False)
    for job, s, rss in (("to1/convnet", 100.0, "2000.4"), ("to2/convnet", 50.4, "NA")):
        tsv = root / f"benchmarks/evaluate/idc/cifar10/ipc10/{job}.tsv"
        tsv.parent.mkdir(parents=True, exist_ok=True)
        tsv.write_text(f"s\th:m:s\tmax_rss\tcpu_time\n{s}\t0:01:40\t{rss}\t90\n")
    return root


def test_report_sums_rules_counts_claims_and_compares_a_cell_with_the_paper(root):
    text = paper_report.report(root)
    lines = text.splitlines()
    # Two evaluate jobs: 100 + 50.4 s, the longer one 100 s; Snakemake's NA memory does not hide the 2000.4 MB;
    # 90 + 90 CPU-s over 150.4 s of wall time: 1.2 CPU-s per second.
    assert "| evaluate | 2 | 150 | 100 % | 100 | 2000 | 1.2 |" in lines
    assert any(
        line.startswith("Total: 2 jobs with a benchmark file, 150 s = 2.5 min of job wall time, 180 CPU-s")
        for line in lines
    )
    # Per condenser (A's): idc 3 claims, one of each verdict, the paper ordering all 3 the same way;
    # mtt 1 claim that holds by more than 2 se, with no paper pair.
    assert "| idc | 3 | 1 | 1 | 1 | 3/3 |" in lines
    assert "| mtt | 1 | 1 | 0 | 0 | 0/0 |" in lines
    assert "| el2n_easy | el2n | +5.00 ± 1.00 |" in "\n".join(lines)
    # yoco: mean of 30, 31, 32 = 31.00, std (ddof 0) sqrt(2/3) = 0.82; the paper's Table 2 has 42.28 for
    # IDC CIFAR-10 10 -> 1 yoco, so ours - paper = 31.00 - 42.28 = -11.28.
    assert "| yoco | 3 | 31.00 ± 0.82 | 42.28 | -11.28 |" in lines
    # random_balance was not run: no mean, no difference, the paper's 30.19 still shown.
    assert "| random_balance | 0 | – | 30.19 | – |" in lines
    assert "In every row: dataset cifar10, condenser idc, ipc_from 10, ipc_to 1, network convnet" in text
    # Table 2 prints KIP in the paper; the CSV has no KIP row, and the page says so.
    assert "KIP: absent. The paper's 4 KIP cells of this table have no row" in text
    assert "No table1.csv" in text
    # The run as its rows record it: one commit, 3 distinct seeds over 3 trainings.
    assert "| commit | abc1234 (3) |" in lines
    assert "3 distinct over 3 trainings" in text


def test_fig5_numbers_read_each_epoch_against_the_topk_line():
    # Epoch 1 (lbpe_epoch 0): 10 and 20; epoch 2: 30 and 40; the top-K selection's runs 30, 31, 32.
    epochs = pd.DataFrame(
        [
            dict(CELL, key="yoco", lbpe_epoch=e, rep=r, init=1, best_acc=a, last_acc=a)
            for e, r, a in ((0, 1, 10.0), (0, 2, 20.0), (1, 1, 30.0), (1, 2, 40.0))
        ]
    )
    text = paper_report.fig5_numbers(fig5_data(epochs, _runs("yoco", [30.0, 31.0, 32.0])))
    assert "Top-K line: 31.00 ± 0.82 (3 runs); paper 42.28." in text
    # Epoch means 15 (std 5) and 35 (std 5); only epoch 2 reaches 31.
    assert "best single epoch 2: 35.00 ± 5.00" in text
    assert "1 of 2 epochs reach the top-K line" in text
    assert "| 1 | 2 | 15.00 ± 5.00 |" in text.splitlines()


def test_bad_root_is_one_line_and_exit_2(tmp_path, capsys):
    assert paper_report.main([str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "is not a folder; pass the run's output_root" in err[0]
