"""Do no harm: the uplift's model error grows with the money a split moves, and a move the model is
not sure of is made only as far as it still beats the current mix with `min_confidence`."""

from __future__ import annotations

import numpy as np
import pytest

from daiyun.models.budget.robust import UPLIFT_ERROR_PER_MOVE, moved_share, uplift_interval
from daiyun.training.trainers.budget import fit_brand

START, END = "2026-10-16", "2026-11-14"


@pytest.fixture(scope="module")
def bundle(dataset):  # noqa: ANN001, ANN201
    return fit_brand(dataset, dataset.brands[0], n_trials=4, n_bootstrap=10)[0]


def test_moved_share_counts_the_money_moved_once() -> None:
    current = np.array([100.0, 100.0, 0.0])
    assert moved_share(current, current) == 0.0
    assert moved_share(np.array([50.0, 100.0, 50.0]), current) == pytest.approx(0.25)
    assert moved_share(np.array([0.0, 0.0, 200.0]), current) == pytest.approx(1.0)


def test_the_uplift_model_error_grows_with_the_move() -> None:
    draws = np.array([9.0, 10.0, 11.0])  # bootstrap gains, current revenue 100
    still = uplift_interval(10.0, draws, 100.0, moved=0.0)
    small = uplift_interval(10.0, draws, 100.0, moved=0.05)
    large = uplift_interval(10.0, draws, 100.0, moved=0.5)
    widths = [high - low for low, high, _ in (still, small, large)]
    assert widths[0] < widths[1] < widths[2]
    assert still[2] > small[2] > large[2]  # the same gain is less sure when more money moves
    # with no bootstrap spread, the interval is the model error alone: +-1.28 x 0.81 x moved
    low, high, _ = uplift_interval(10.0, np.full(3, 10.0), 100.0, moved=0.5)
    assert (high - low) / 2 == pytest.approx(1.2816 * UPLIFT_ERROR_PER_MOVE * 0.5 * 100.0)


@pytest.mark.parametrize("min_confidence", [0.8, 0.95, 0.999])
def test_a_split_that_moves_is_sure_to_beat_the_current_mix(bundle, min_confidence: float) -> None:  # noqa: ANN001
    for budget in (5_000.0, 20_000.0, 100_000.0):
        answer = bundle.recommend(START, END, budget, min_confidence=min_confidence)
        best = bundle.recommend(START, END, budget, min_confidence=0.0)
        spend = np.array([row["spend"] for row in answer["channels"]])
        found = np.array([row["spend"] for row in best["channels"]])
        current = np.array([row["current_spend"] for row in answer["channels"]])
        if answer["kept_current_mix"]:
            assert np.allclose(spend, current, rtol=1e-6, atol=0.05)
            continue
        assert answer["uplift"]["prob_beats_current"] >= min_confidence - 1e-4
        partial = [note for note in answer["notes"] if note.startswith("moved ")]
        if best["uplift"]["prob_beats_current"] >= min_confidence:
            assert not partial and np.allclose(spend, found, rtol=1e-6, atol=0.05)
        else:  # a part of the way: on the segment from the current mix to the split found
            assert len(partial) == 1
            part = float(partial[0].split()[1].rstrip("%")) / 100
            assert 0 < part < 1
            assert np.allclose(spend, current + part * (found - current), rtol=1e-4, atol=0.05)
