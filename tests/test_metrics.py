"""Forecast metrics against values computed by hand (M5 definitions)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from daiyun.training.trainers.metrics import (
    aggregate_to_level,
    coverage,
    level_history,
    level_scores,
    mase,
    naive_scale,
    pinball,
    rmsse,
    series_scales,
    wape,
    wrmsse_from_levels,
)


def test_wape_is_absolute_error_over_volume():
    assert wape([1, 2, 3], [2, 2, 1]) == pytest.approx(3 / 6)


def test_naive_scale_starts_at_first_nonzero_sale():
    history = [0, 0, 2, 4, 3]  # M5: leading zeros (before the first sale) are not part of the scale
    assert naive_scale(history, 2) == pytest.approx((2**2 + 1**2) / 2)
    assert naive_scale(history, 1) == pytest.approx((2 + 1) / 2)
    assert np.isnan(naive_scale([0, 0, 0], 2))
    assert np.isnan(naive_scale([0, 5, 5, 5], 2))  # constant after the first sale: no scale


def test_rmsse_and_mase_by_hand():
    history = [0, 0, 2, 4, 3]
    assert rmsse([3, 5], [4, 4], history) == pytest.approx(np.sqrt(1.0 / 2.5))
    assert mase([3, 5], [4, 4], history) == pytest.approx(1.0 / 1.5)


def test_pinball_and_coverage_by_hand():
    assert pinball([10], [8], 0.9) == pytest.approx(1.8)
    assert pinball([10], [12], 0.9) == pytest.approx(0.2)
    assert pinball([10, 10], [8, 12], 0.5) == pytest.approx(1.0)
    assert coverage([1, 5, 10], [0, 6, 9], [2, 7, 11]) == pytest.approx(2 / 3)


def test_wrmsse_averages_levels_of_weighted_rmsse():
    per_level = {
        "sku": pd.DataFrame({"rmsse": [1.0, 2.0], "weight": [0.25, 0.75]}),
        "brand": pd.DataFrame({"rmsse": [0.5], "weight": [1.0]}),
    }
    assert wrmsse_from_levels(per_level) == pytest.approx((1.75 + 0.5) / 2)
    # a series without a scale drops out and the weights are renormalised
    per_level["sku"] = pd.DataFrame({"rmsse": [1.0, np.nan], "weight": [0.5, 0.5]})
    assert wrmsse_from_levels(per_level) == pytest.approx((1.0 + 0.5) / 2)


def _toy():
    dates = pd.date_range("2026-01-01", periods=40)
    a_units = np.tile([1.0, 3.0], 20)  # naive diffs 2 -> scale_sq 4, scale_abs 2
    b_units = np.tile([2.0, 2.0, 4.0, 4.0], 10)  # diffs 0,2,0,2.. -> scale_sq 2, scale_abs 1
    history = pd.concat(
        [
            pd.DataFrame(
                {
                    "platform": "tmall",
                    "sku_id": "A",
                    "category": "c",
                    "date": dates,
                    "units": a_units,
                    "revenue": 1.0,
                }
            ),
            pd.DataFrame(
                {
                    "platform": "tmall",
                    "sku_id": "B",
                    "category": "c",
                    "date": dates,
                    "units": b_units,
                    "revenue": 3.0,
                }
            ),
        ],
        ignore_index=True,
    )
    test_dates = pd.date_range("2026-02-10", periods=2)
    test = pd.DataFrame(
        {
            "platform": "tmall",
            "sku_id": ["A", "A", "B", "B"],
            "category": "c",
            "date": list(test_dates) * 2,
            "actual": [1.0, 3.0, 2.0, 2.0],
            "model": [2.0, 2.0, 2.0, 4.0],
        }
    )
    return history, test


def test_m5_weights_are_revenue_shares_of_the_last_28_days():
    history, _ = _toy()
    scales = series_scales(level_history(history, "sku"))
    assert scales.loc["tmall|A", "weight"] == pytest.approx(0.25)
    assert scales.loc["tmall|B", "weight"] == pytest.approx(0.75)
    assert scales.loc["tmall|A", "scale_sq"] == pytest.approx(4.0)
    assert scales.loc["tmall|B", "scale_sq"] == pytest.approx(76 / 39)  # 39 diffs, 19 of them +-2


def test_level_scores_and_aggregation_by_hand():
    history, test = _toy()
    test = test.assign(series=test["platform"] + "|" + test["sku_id"])
    scales = series_scales(level_history(history, "sku"))
    scores = level_scores(test, "model", scales)
    # A: errors -1, 1 -> mse 1, scale 4 -> rmsse 0.5; mae 1 / scale_abs 2 -> mase 0.5
    assert scores.loc["tmall|A", "rmsse"] == pytest.approx(0.5)
    assert scores.loc["tmall|A", "mase"] == pytest.approx(0.5)
    # B: errors 0, -2 -> mse 2
    assert scores.loc["tmall|B", "rmsse"] == pytest.approx(np.sqrt(2 / (76 / 39)))
    brand = aggregate_to_level(test, "brand", ["actual", "model"])
    assert brand["actual"].tolist() == [3.0, 5.0]
    assert brand["model"].tolist() == [4.0, 6.0]  # aggregates are sums of SKU forecasts
    partial = test.assign(model=[1.0, np.nan, 2.0, 2.0])
    summed = aggregate_to_level(partial, "sku", ["actual", "model"])
    assert summed["model"].isna().sum() == 1  # a missing forecast is not a zero


def test_vectorised_scales_match_the_definition():
    rng = np.random.default_rng(4)
    frames = []
    for k in range(6):
        units = rng.poisson(2.0, 60).astype(float)
        units[: rng.integers(0, 30)] = 0.0  # leading zeros before the first sale
        frames.append(
            pd.DataFrame(
                {
                    "platform": "jd",
                    "sku_id": f"S{k}",
                    "date": pd.date_range("2026-01-01", periods=60),
                    "units": units,
                    "revenue": units * 10,
                }
            )
        )
    history = pd.concat(frames, ignore_index=True)
    scales = series_scales(level_history(history, "sku"))
    for k, frame in enumerate(frames):
        assert scales.loc[f"jd|S{k}", "scale_sq"] == pytest.approx(naive_scale(frame["units"], 2))
        assert scales.loc[f"jd|S{k}", "scale_abs"] == pytest.approx(naive_scale(frame["units"], 1))
