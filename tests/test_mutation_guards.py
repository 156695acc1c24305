"""Definitions that a one-line slip could change without any other test noticing.

A mutation check of the science code (issue 18, item 6) found slips that every test let through: the
EL2N window of the score table, DiffAug's flip probability and its crop, scale and rotation ranges, a
cell's mean replaced by the median, and the edges of the claims' "holds" and 2-standard-error tests.
Each test here pins one of them to its definition (reference-spec §3.2, §4.3; docs/deviations.md,
"Choices where the reference is silent"; yoco/claims.py) on a fixture where a changed definition gives
a different number.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

from yoco import augment as A
from yoco import scores as S
from yoco.claims import claims, format_claims
from yoco.dynamics import Dynamics
from yoco.published import published
from yoco.tables import aggregate_runs, build_table

# ------------------------------------------------------------------------------ EL2N window (§3.2)


def test_score_table_el2n_sums_exactly_epochs_0_to_9_of_a_long_run():
    # 25 epochs; the error of sample i at epoch t is (t + 1)(i + 1), so a window of w epochs gives
    # (i + 1) w (w + 1) / 2: 55 (i + 1) for the reference's 10, and 45, 66, 210, 325 for 9, 11, 20, 25.
    epochs, n = 25, 3
    err = np.outer(np.arange(1, epochs + 1), np.arange(1, n + 1)).astype(np.float32)
    dyn = Dynamics(err, np.ones((epochs, n), bool), np.zeros((epochs, n), np.float32), np.array([0, 1, 1]), 2)
    table = S.score_table(dyn, lbpe_epochs=epochs, lbpe_top_k=3)
    np.testing.assert_array_equal(table["el2n"], [55.0, 110.0, 165.0])


# ------------------------------------------------------------------------------ DiffAug (§4.3)
M, B, HW = 4, 1024, 16  # 4096 images, each with its own draw
SEEDS = torch.tensor([101, 202, 303, 404])
STEP = (7, 2)


def _centres(n: int) -> torch.Tensor:
    """Normalised coordinates of the n pixel centres along an axis (grid_sample, align_corners=False)."""
    return (2 * torch.arange(n, dtype=torch.float32) + 1) / n - 1


def _ramps() -> torch.Tensor:
    """[M, B, 2, HW, HW]: channel 0 is each pixel's x coordinate, channel 1 its y coordinate.

    Bilinear sampling of a linear ramp is exact between pixel centres, so an affine warp with matrix
    T maps the output pixel at p to the value T p: the warp's parameters can be read off the image.
    """
    u = _centres(HW)
    img = torch.stack([u[None, :].expand(HW, HW), u[:, None].expand(HW, HW)])
    return img.expand(M, B, 2, HW, HW).contiguous()


def test_flip_mirrors_half_of_the_images():
    # p = 0.5 per image: over 4096 seeded images the count is Binomial(4096, 0.5), sd 32; 5 sd either
    # side admits p in about [0.46, 0.54] and rejects 0.25 (a halved p) or 0.6.
    x = _ramps()
    out = A.diffaug(x, SEEDS, STEP, "flip")
    flipped = out[:, :, 0, 0, 0] > 0  # the left column of x is negative; mirrored, it is positive
    assert torch.equal(out[flipped], x[flipped].flip(-1)) and torch.equal(out[~flipped], x[~flipped])
    assert abs(int(flipped.sum()) - M * B / 2) <= 5 * math.sqrt(M * B) / 2


def test_crop_shift_reaches_both_ends_of_plus_minus_s_uniformly():
    # s = int(0.125 H + 0.5) = 2 at 16 px: every shift in -2..2 on each axis, each with probability 1/5.
    s = int(0.125 * HW + 0.5)
    idx = torch.arange(HW * HW, dtype=torch.float32).view(HW, HW) + 1  # positive, so zeros are moved in
    x = idx.expand(M, B, 1, HW, HW).contiguous()
    out = A.diffaug(x, SEEDS, STEP, "crop")
    # The centre pixel stays inside the image for any shift up to 8: out[c, c] = x[c + dy, c + dx].
    c = HW // 2
    src = out[:, :, 0, c, c].long() - 1
    dy, dx = src // HW - c, src % HW - c
    n = M * B
    for d in (dy, dx):
        assert int(d.min()) == -s and int(d.max()) == s
        counts = torch.bincount((d + s).flatten(), minlength=2 * s + 1)
        sd = math.sqrt(n * 0.2 * 0.8)
        assert torch.all((counts - n / 5).abs() <= 5 * sd), counts.tolist()


def _read_affine(out: torch.Tensor, i: int, j: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The input coordinates (x, y) that output pixel (row i, column j) sampled."""
    return out[:, :, 0, i, j], out[:, :, 1, i, j]


def test_scale_factors_span_1_over_1_2_to_1_2():
    # s_x, s_y ~ U(1/1.2, 1.2): the pixel right of the centre row samples x = s_x x_o, the one below
    # the centre column y = s_y y_o. Over 4096 draws the extremes come within 0.005 of both ends.
    out = A.diffaug(_ramps(), SEEDS, STEP, "scale")
    u = _centres(HW)
    i, j = HW // 2, HW // 2 + 3
    sx = _read_affine(out, i, j)[0] / u[j]
    sy = _read_affine(out, j, i)[1] / u[j]
    lo, hi = 1 / 1.2, 1.2
    for s in (sx, sy):
        assert float(s.min()) >= lo - 1e-4 and float(s.max()) <= hi + 1e-4
        assert float(s.min()) < lo + 0.005 and float(s.max()) > hi - 0.005
        # Uniform: the mean is the midpoint (sd of the mean 0.0017).
        assert abs(float(s.mean()) - (lo + hi) / 2) < 0.01
    assert not torch.allclose(sx, sy)  # drawn independently


def test_rotation_angles_span_minus_15_to_15_degrees():
    # θ ~ U(-15°, 15°): output pixel p samples R(θ) p, so θ is the angle between p and the value read.
    out = A.diffaug(_ramps(), SEEDS, STEP, "rotate")
    u = _centres(HW)
    i, j = HW // 2, HW // 2 + 3
    xo, yo = u[j], u[i]
    xi, yi = _read_affine(out, i, j)
    theta = torch.rad2deg(torch.atan2(yi, xi) - torch.atan2(yo, xo))
    radius = torch.sqrt(xi**2 + yi**2)
    assert torch.allclose(radius, torch.sqrt(xo**2 + yo**2).expand_as(radius), atol=1e-4)  # a rotation
    assert float(theta.min()) >= -15 - 0.01 and float(theta.max()) <= 15 + 0.01
    assert float(theta.min()) < -14.8 and float(theta.max()) > 14.8
    assert abs(float(theta.mean())) < 0.6  # sd of the mean of 4096 uniform draws: 0.14


# ------------------------------------------------------------------------------ a cell's mean


def _runs(best_by_rep: dict[int, list[float]], key="yoco", condenser="idc", ipc_to=1) -> pd.DataFrame:
    return pd.DataFrame(
        [
            dict(
                dataset="cifar10",
                condenser=condenser,
                ipc_from=10,
                ipc_to=ipc_to,
                key=key,
                network="convnet",
                rep=rep,
                init=init,
                best_acc=v,
                last_acc=v - 2.0,
            )
            for rep, values in best_by_rep.items()
            for init, v in enumerate(values, start=1)
        ]
    )


# Skewed within every rep, so mean and median differ at both levels: rep means 42, 34, 51 (medians 41,
# 36, 50); the nine runs' mean is 381 / 9 = 42.33, their median 41.
SKEWED = {1: [40.0, 41.0, 45.0], 2: [30.0, 36.0, 36.0], 3: [50.0, 50.0, 53.0]}


def test_a_cell_is_the_mean_of_its_runs_not_the_median():
    runs = _runs(SKEWED)
    values = [v for vs in SKEWED.values() for v in vs]
    mean = 381 / 9
    pop_std = math.sqrt(sum((v - mean) ** 2 for v in values) / 9)
    rep_mean = 127 / 3  # of 42, 34, 51
    rep_std = math.sqrt(((42 - rep_mean) ** 2 + (34 - rep_mean) ** 2 + (51 - rep_mean) ** 2) / 3)
    (cell,) = aggregate_runs(runs).itertuples(index=False)
    assert cell.mean_best == pytest.approx(mean) and cell.mean_last == pytest.approx(mean - 2)
    assert cell.std_best == pytest.approx(pop_std)
    assert cell.rep_means_best == "1:42.00;2:34.00;3:51.00"
    assert cell.rep_std_best == pytest.approx(rep_std)
    row = build_table(2, runs).query("condenser == 'idc' and key == 'yoco' and ipc_to == 1").iloc[0]
    assert row.mean_best == pytest.approx(mean) and row.diff_best == pytest.approx(mean - row.published)


# ------------------------------------------------------------------------------ claims' edges
# Side a: nine runs at 36 (x4), 42, 48 (x4): mean 42, ddof-1 variance 288 / 8 = 36, so var / n = 4.
# Side b: nine equal runs, variance 0. Hence se = sqrt(4 + 0) = 2 exactly and the threshold 2 se = 4.
SIDE_A = {1: [36.0, 36.0, 36.0], 2: [36.0, 42.0, 48.0], 3: [48.0, 48.0, 48.0]}


def _claim(b_value: float):
    runs = pd.concat([_runs(SIDE_A), _runs({r: [b_value] * 3 for r in (1, 2, 3)}, key="random")])
    df = claims(runs, published())
    row = df[(df.claim == "yoco_beats_baseline") & (df.key_b == "random")].iloc[0]
    return row, format_claims(df[df.index == row.name])


@pytest.mark.parametrize(
    "b, holds, significant",
    [
        (38.0, True, False),  # diff = 4 = 2 se exactly: not more than 2 se
        (38.001, True, False),  # just below the threshold
        (37.999, True, True),  # just above it
        (42.0, False, False),  # equal means: the claim does not hold
        (42.001, False, False),
        (41.999, True, False),
        (37.0, True, True),
        (47.0, False, False),  # 2.5 se the wrong way: one-sided, not significant
    ],
)
def test_claims_holds_and_significance_at_their_edges(b, holds, significant):
    row, text = _claim(b)
    assert row.se == pytest.approx(2.0, abs=1e-9) and row.ours_a == 42.0
    assert row["diff"] == pytest.approx(42.0 - b, abs=1e-9)
    assert bool(row.holds) is holds and bool(row.significant) is significant
    verdict = "holds*" if significant else ("holds" if holds else "FAILS")
    assert text.splitlines()[2].endswith(verdict)


def test_claims_compare_means_not_medians():
    # Side a skewed (mean 42.33, median 41), side b at 41.5: the mean is above, the median below.
    runs = pd.concat([_runs(SKEWED), _runs({r: [41.5] * 3 for r in (1, 2, 3)}, key="random")])
    df = claims(runs, published())
    row = df[(df.claim == "yoco_beats_baseline") & (df.key_b == "random")].iloc[0]
    assert row.ours_a == pytest.approx(381 / 9) and bool(row.holds)
