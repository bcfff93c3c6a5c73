"""The selection feature frame: its shape, its labels, and that no feature sees past as_of."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_selection_data import END, load_shop

from daiyun.features.selection_frame import GROUP_KEYS, KEYS, NUMERIC_FEATURES, selection_frame

AS_OF = [pd.Timestamp("2025-10-19"), pd.Timestamp("2026-05-19"), pd.Timestamp("2026-08-01")]


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory):
    return load_shop(tmp_path_factory.mktemp("shop"))


def test_one_row_per_sku_platform_and_as_of_sorted_by_group(shop) -> None:
    frame = selection_frame(shop, AS_OF, 30)
    assert not frame.duplicated(KEYS).any()
    assert set(NUMERIC_FEATURES) <= set(frame.columns)
    ordered = frame[GROUP_KEYS].astype(str).agg("|".join, axis=1)
    assert ordered.is_monotonic_increasing
    # `fresh` has not launched at any of these as_of dates, so it has no rows
    assert "fresh" not in set(frame["sku_id"])
    assert frame.groupby("as_of").size().eq(2 * 11).all()


def test_label_is_revenue_over_the_horizon_after_as_of(shop) -> None:
    as_of = pd.Timestamp("2026-05-19")
    frame = selection_frame(shop, [as_of], 30).set_index(["platform", "sku_id"])
    sales = shop.sales
    window = sales.loc[(sales["date"] > as_of) & (sales["date"] <= as_of + pd.Timedelta(days=30))]
    expected = window.groupby(["platform", "sku_id"])["revenue"].sum()
    assert np.allclose(frame.loc[expected.index, "label_revenue"], expected)
    # with unit costs known, gross profit = revenue - units * cost
    units = window.groupby(["platform", "sku_id"])["units"].sum()
    cost = frame.loc[expected.index, "unit_cost"]
    assert np.allclose(frame.loc[expected.index, "label_gross_profit"], expected - units * cost)
    late = selection_frame(shop, [END - pd.Timedelta(days=5)], 30)
    assert late["label_revenue"].isna().all()  # the horizon runs past the data: no label


def test_no_feature_sees_past_as_of(shop) -> None:
    """Scramble every sale after as_of: the features must not move, only the labels."""
    as_of = pd.Timestamp("2025-10-19")
    sales = shop.sales.copy()
    later = sales["date"] > as_of
    rng = np.random.default_rng(1)
    sales.loc[later, "revenue"] = sales.loc[later, "revenue"] * rng.uniform(0, 10, later.sum())
    sales.loc[later, "units"] = sales.loc[later, "units"] * 3
    sales.loc[later, "price"] = sales.loc[later, "price"] * 2
    sales.loc[later, "on_promo"] = 1
    changed = replace(shop, sales=sales)
    before = selection_frame(shop, [as_of], 30)
    after = selection_frame(changed, [as_of], 30)
    pd.testing.assert_frame_equal(before[KEYS + NUMERIC_FEATURES], after[KEYS + NUMERIC_FEATURES])
    assert not np.allclose(before["label_revenue"], after["label_revenue"])


def test_past_event_uplift_and_new_sku_flag(shop) -> None:
    frame = selection_frame(shop, [END], 30)
    hero = frame.loc[frame["sku_id"].eq("hero")]
    others = frame.loc[~frame["sku_id"].isin(["hero", "fresh"])]
    # the coming 30 days are Double 11; last year the hero sold ~4x its normal rate then
    assert (hero["horizon_event"] == "double11").all()
    assert hero["uplift_horizon_event"].min() > 2.5
    assert others["uplift_horizon_event"].max() < 1.6
    fresh = frame.loc[frame["sku_id"].eq("fresh")]
    assert len(fresh) == 2 and fresh["new_sku"].all()
    assert not others["new_sku"].any()


def test_weekly_data_counts_windows_in_weeks(tmp_path: Path) -> None:
    weekly = load_shop(tmp_path / "weekly", weekly=True)
    assert weekly.frequency == {"acme": "W"}
    as_of = pd.Timestamp("2026-05-20")
    frame = selection_frame(weekly, [as_of], 28)
    assert (frame["horizon_periods"] == 4).all()
    row = frame.loc[frame["sku_id"].eq("sku03") & frame["platform"].eq("tmall")].iloc[0]
    sales = weekly.sales
    mine = sales.loc[sales["sku_id"].eq("sku03") & sales["platform"].eq("tmall")].set_index("date")
    last_weeks = mine.loc[:as_of, "revenue"].tail(4)
    assert row["rev_rate_28d"] == pytest.approx(last_weeks.mean())
    next_weeks = mine.loc[as_of + pd.Timedelta(days=1):, "revenue"].head(4)
    assert row["label_revenue"] == pytest.approx(next_weeks.sum())


@pytest.mark.parametrize("weekly", [False, True])
def test_backtest_learns_only_from_horizons_ended_by_as_of(tmp_path: Path, weekly: bool) -> None:
    from daiyun.training.trainers.selection import training_rows

    data = load_shop(tmp_path / "shop", weekly=weekly)
    dates = list(pd.date_range("2025-06-01", "2026-09-01", freq="14D"))
    frame = selection_frame(data, dates, 28 if weekly else 30)
    assert training_rows(frame, dates[-1]).empty  # no past forecast: nothing for a correction to learn
    frame["forecast_revenue"] = 1.0  # as if every as_of had its forecast made then
    test = dates[-1]
    seen = frame.loc[frame["as_of"].eq(test), "observed_until"].max()
    learn = training_rows(frame, test)
    assert len(learn) and learn["label_until"].max() <= seen
    assert learn["as_of"].max() < test and learn["target"].notna().all()
    if not weekly:
        assert learn["as_of"].max() >= test - pd.Timedelta(days=30 + 14)  # and nothing usable left out
