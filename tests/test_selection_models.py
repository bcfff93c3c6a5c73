"""The selection models: LambdaRank's input limits, cold start, and reasons in words."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from test_selection_data import END, load_shop

from daiyun.features.selection_frame import OPTIONAL_FEATURES, selection_frame
from daiyun.models.selection.baselines import LastPeriodBaseline, RecentAverageBaseline
from daiyun.models.selection.matrix import default_features
from daiyun.models.selection.ranker import MAX_GRADES, SelectionRanker, graded_labels, split_large_groups
from daiyun.models.selection.scorer import SelectionModel

TINY = {"n_estimators": 15, "min_child_samples": 3}


def test_graded_labels_are_small_integers_from_within_group_quantiles() -> None:
    revenue = np.array([0, 5, 10, 20, 40, 0, 1000, 2000])
    group = np.array([0, 0, 0, 0, 0, 1, 1, 1])
    labels = graded_labels(revenue, group, n_grades=5)
    assert labels.dtype.kind == "i" and labels.max() < 5
    assert labels[0] == 0 and labels[5] == 0  # sold nothing
    assert list(labels[:5]) == sorted(labels[:5])  # more revenue, never a lower grade
    assert labels[4] == labels[7] == 4  # the best of each group gets the top grade, whatever its scale
    with pytest.raises(ValueError, match="n_grades"):
        graded_labels(revenue, group, n_grades=MAX_GRADES + 1)


def test_groups_over_ten_thousand_rows_are_split() -> None:
    group = np.array([0] * 25_001 + [1] * 30)
    parts = split_large_groups(group, max_rows=10_000)
    sizes = pd.Series(parts).value_counts()
    assert sizes.max() <= 10_000 and len(sizes) == 4  # 25,001 -> 3 parts, plus the small group
    assert pd.Series(parts[:25_001]).nunique() == 3 and pd.Series(parts[25_001:]).nunique() == 1


def test_ranker_fits_one_group_larger_than_lightgbm_allows() -> None:
    rng = np.random.default_rng(0)
    n = 10_050
    frame = pd.DataFrame({"x": rng.normal(size=n), "platform": "tmall"})
    revenue = np.exp(frame["x"]) * 100
    ranker = SelectionRanker(features=["x"], n_estimators=3, n_grades=31).fit(frame, revenue, np.zeros(n))
    assert ranker.group_sizes_.max() <= 10_000 and ranker.group_sizes_.sum() == n
    scores = ranker.predict(frame)
    assert np.corrcoef(scores, frame["x"])[0, 1] > 0.5  # it learned that x sells
    with pytest.raises(ValueError, match="max_group_rows"):
        SelectionRanker(features=["x"], max_group_rows=20_000).fit(frame, revenue, np.zeros(n))


@pytest.fixture(scope="module")
def shop_frame(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    shop = load_shop(tmp_path_factory.mktemp("shop"))
    dates = list(pd.date_range("2025-03-01", END, freq="21D")) + [END]
    return selection_frame(shop, dates, 30)


def test_baselines_read_last_periods(shop_frame: pd.DataFrame) -> None:
    rows = shop_frame.head(5)
    assert np.allclose(LastPeriodBaseline().fit().predict(rows), rows["rev_rate_last_period"])
    assert np.allclose(RecentAverageBaseline().fit().predict(rows), rows["rev_rate_4_periods"])


@pytest.mark.parametrize("kind", ["ranker", "regressor"])
def test_cold_start_and_reasons(shop_frame: pd.DataFrame, kind: str) -> None:
    features = default_features(shop_frame, OPTIONAL_FEATURES)
    model = SelectionModel(kind=kind, features=features, ranker_params=TINY, regressor_params=TINY)
    model.fit(shop_frame)
    latest = shop_frame.loc[shop_frame["as_of"].eq(END)].reset_index(drop=True)
    scored = model.predict(latest)
    assert np.isfinite(scored["score"]).all()
    fresh = latest["sku_id"].eq("fresh").to_numpy()
    # the new SKU is flagged, gets a positive expected revenue from its category and price band
    assert scored.loc[fresh, "new_sku"].all() and not scored.loc[~fresh, "new_sku"].any()
    assert (scored.loc[fresh, "expected_revenue"] > 0).all()
    reasons = model.reasons(latest, horizon_days=30, freq="D")
    for position, row_reasons in enumerate(reasons):
        if fresh[position]:
            assert row_reasons[0]["feature"] == "new_sku" and "new SKU" in row_reasons[0]["text"]
            continue
        assert len(row_reasons) == 3
        for reason in row_reasons:
            assert set(reason) == {"feature", "value", "contribution", "direction", "text"}
            assert reason["direction"] in ("up", "down") and len(reason["text"]) > 10
            assert "_" not in reason["text"]  # words, not column names
    # the strong steady sellers outrank the weak ones on each platform
    best = latest.assign(score=scored["score"]).sort_values("score").groupby("platform").tail(1)
    assert best["sku_id"].isin(["sku09", "sku08", "sku07"]).all()


@pytest.mark.parametrize("objective", ["log_l2", "tweedie"])
def test_regressor_expected_revenue_adds_up(shop_frame: pd.DataFrame, objective: str) -> None:
    from daiyun.models.selection.regressor import SelectionRegressor

    labelled = shop_frame.loc[shop_frame["target"].notna()]
    features = default_features(labelled)
    model = SelectionRegressor(features=features, objective=objective, **TINY).fit(
        labelled, labelled["target"], labelled["horizon_periods"]
    )
    rate = model.predict(labelled)
    assert (rate >= 0).all()
    # the calibration factor makes the fitted total equal the realised total
    assert (rate * labelled["horizon_periods"]).sum() == pytest.approx(labelled["target"].sum(), rel=1e-6)
    assert np.corrcoef(rate, labelled["target"])[0, 1] > 0.8
