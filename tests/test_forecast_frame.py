"""The forecast feature frame: no leakage past the origin, cold start, promotion plans."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from daiyun.features.errors import NotFoundError, RequestError
from daiyun.features.forecast_frame import (
    brand_history,
    build_panel,
    grid_features,
    origin_snapshot,
    plan_for,
    promotion_days,
    realised_plan,
)


@pytest.fixture(scope="module")
def history(dataset) -> pd.DataFrame:
    return brand_history(dataset, "glowlab")


def _features_at(history: pd.DataFrame, origin: pd.Timestamp, plan_from: pd.DataFrame) -> pd.DataFrame:
    panel = build_panel(history)
    snapshot = origin_snapshot(panel, origin, horizon=30)
    plan_panel = build_panel(plan_from)
    price, discount, on_promo = realised_plan(plan_panel, plan_panel.index_of(origin), 30)
    series = np.arange(len(snapshot.keys))
    return grid_features(snapshot, series, price, discount, on_promo, {})


def test_features_for_an_origin_ignore_everything_after_it(history):
    origin = history["date"].max() - pd.Timedelta(days=60)
    changed = history.copy()
    after = changed["date"] > origin
    changed.loc[after, "units"] = changed.loc[after, "units"] * 10 + 7  # a very different future
    changed.loc[after, "in_stock"] = 1
    before = _features_at(history, origin, plan_from=history)
    later = _features_at(changed, origin, plan_from=history)
    pd.testing.assert_frame_equal(before, later)
    # and the future did change something a leaky feature would have seen
    assert not np.allclose(history.loc[after, "units"], changed.loc[after, "units"])


def test_snapshot_reads_nothing_after_the_origin(history):
    origin = history["date"].max() - pd.Timedelta(days=45)
    panel = build_panel(history)
    truncated = build_panel(history.loc[history["date"] <= origin])
    full = origin_snapshot(panel, origin, horizon=40)
    short = origin_snapshot(truncated, origin, horizon=40)
    pd.testing.assert_frame_equal(full.stats, short.stats)
    np.testing.assert_allclose(full.ly_units, short.ly_units, equal_nan=True)
    np.testing.assert_allclose(full.season_tail, short.season_tail, equal_nan=True)


def test_young_series_are_cold_start_with_cell_levels(history):
    keys = history[["platform", "sku_id"]].drop_duplicates().iloc[0]
    series = history["platform"].eq(keys["platform"]) & history["sku_id"].eq(keys["sku_id"])
    young = history.loc[~series | (history["date"] > history["date"].max() - pd.Timedelta(days=10))]
    snapshot = origin_snapshot(build_panel(young), young["date"].max(), horizon=14)
    row = (snapshot.keys["platform"] == keys["platform"]) & (snapshot.keys["sku_id"] == keys["sku_id"])
    stats = snapshot.stats.loc[row.to_numpy()].iloc[0]
    assert stats["cold_start"] == 1.0
    assert np.isfinite(stats["level_long"]) and stats["level_long"] >= 0
    assert snapshot.stats.loc[~row.to_numpy(), "cold_start"].eq(0).mean() > 0.8


def test_a_young_series_keeps_its_own_level_and_takes_its_cells_only_for_what_it_lacks(history):
    # a launch selling 40 a day for ten days is not its siblings: its own days set its level (before,
    # the cell's replaced them, and a launch on a quiet platform was forecast at its siblings' ~0)
    keys = history[["platform", "sku_id"]].drop_duplicates().iloc[0]
    series = history["platform"].eq(keys["platform"]) & history["sku_id"].eq(keys["sku_id"])
    young = history.loc[~series | (history["date"] > history["date"].max() - pd.Timedelta(days=10))].copy()
    mine = young["platform"].eq(keys["platform"]) & young["sku_id"].eq(keys["sku_id"])
    young.loc[mine, ["units", "in_stock"]] = [40.0, 1]
    snapshot = origin_snapshot(build_panel(young), young["date"].max(), horizon=14)
    same = snapshot.keys["platform"].eq(keys["platform"]) & snapshot.keys["sku_id"].eq(keys["sku_id"])
    row = same.to_numpy()
    stats = snapshot.stats.loc[row].iloc[0]
    assert stats["cold_start"] == 1.0
    assert stats["level_long"] == pytest.approx(40.0, rel=0.05)
    # never in stock: nothing of its own, so its cell's level (finite, the siblings')
    young.loc[mine, "in_stock"] = 0
    snapshot = origin_snapshot(build_panel(young), young["date"].max(), horizon=14)
    stats = snapshot.stats.loc[row].iloc[0]
    assert np.isfinite(stats["level_long"]) and stats["level_long"] < 40.0


def test_a_launch_on_its_ramp_reads_its_level_from_its_later_days(history):
    # 30 days old, selling 1 a day in its first 15 days and 10 a day since: its whole-life average
    # (5.5) is the ramp, not what it sells now; an established series keeps the 8-week window
    keys = history[["platform", "sku_id"]].drop_duplicates()
    launch, steady = keys.iloc[0], keys.iloc[1]
    end = history["date"].max()

    def of(frame, key):
        return frame["platform"].eq(key["platform"]) & frame["sku_id"].eq(key["sku_id"])

    data = history.loc[~of(history, launch) | (history["date"] > end - pd.Timedelta(days=30))].copy()
    mine = of(data, launch)
    ramp = np.where(data.loc[mine, "date"] > end - pd.Timedelta(days=15), 10.0, 1.0)
    data.loc[mine, "units"] = ramp
    data.loc[mine, ["in_stock", "on_promo"]] = [1, 0]
    snapshot = origin_snapshot(build_panel(data), end, horizon=14)
    stats = snapshot.stats.set_index(pd.MultiIndex.from_frame(snapshot.keys[["platform", "sku_id"]]))
    assert stats.loc[(launch["platform"], launch["sku_id"]), "normal_level"] == pytest.approx(10.0)

    own = history.loc[of(history, steady) & (history["date"] > end - pd.Timedelta(days=56))]
    normal = own.loc[(own["on_promo"] < 0.5) & (own["in_stock"] > 0), "units"].mean()
    assert stats.loc[(steady["platform"], steady["sku_id"]), "normal_level"] == pytest.approx(normal)


def test_promotion_days_expand_a_plan():
    plan = pd.DataFrame(
        {
            "platform": ["tmall", "tmall"],
            "sku_id": ["A", "B"],
            "start": pd.to_datetime(["2026-11-01", "2026-11-03"]),
            "end": pd.to_datetime(["2026-11-03", "2026-11-20"]),
            "discount": [0.3, np.nan],
            "price": [np.nan, 99.0],
        }
    )
    days = promotion_days(plan, pd.Timestamp("2026-10-30"), pd.Timestamp("2026-11-05"))
    a = days.loc[days["sku_id"] == "A"]
    assert a["date"].dt.day.tolist() == [1, 2, 3]
    assert (a["discount"] == 0.3).all() and (a["on_promo"] == 1).all()
    b = days.loc[days["sku_id"] == "B"]
    assert b["date"].max() == pd.Timestamp("2026-11-05")  # clipped to the asked period
    assert b["on_promo"].isna().all()  # a price plan: promotion status follows from the price


def test_plan_for_rejects_unknown_series_and_past_dates(history):
    snapshot = origin_snapshot(build_panel(history), history["date"].max(), horizon=14)
    first = snapshot.keys.iloc[0]
    tomorrow = snapshot.origin + pd.Timedelta(days=1)
    with pytest.raises(NotFoundError, match="sku_id"):
        plan_for(
            snapshot, pd.DataFrame({"platform": [first["platform"]], "sku_id": ["NOPE"], "date": [tomorrow]})
        )
    with pytest.raises(RequestError, match="after the history"):
        plan_for(
            snapshot,
            pd.DataFrame(
                {"platform": [first["platform"]], "sku_id": [first["sku_id"]], "date": [snapshot.origin]}
            ),
        )
    regular = snapshot.list_price[0]
    asked = pd.DataFrame(
        {
            "platform": [first["platform"]] * 2,
            "sku_id": [first["sku_id"]] * 2,
            "date": [tomorrow, tomorrow + pd.Timedelta(days=2)],
            "discount": [0.25, np.nan],
            "price": [np.nan, np.nan],
            "on_promo": [np.nan, np.nan],
        }
    )
    plan = plan_for(snapshot, asked)
    assert plan["price"][0, 0] == pytest.approx(regular * 0.75)
    assert plan["on_promo"][0].tolist() == [1.0, 0.0, 0.0]  # unplanned days are regular days
    assert plan["price"][0, 1] == pytest.approx(regular)


def _deal_history(
    elasticity: dict[str, float], depth: dict[str, tuple[float, ...]], days: int = 420
) -> pd.DataFrame:
    """Series selling ~20 a day with a 3-day deal every fortnight, at the series' discounts in turn,
    lifted by exp(elasticity x -log(1 - discount)); Poisson noise."""
    rng = np.random.default_rng(0)
    dates = pd.date_range("2025-01-01", periods=days, freq="D")
    deal = (np.arange(days) % 14) < 3
    fortnight = np.arange(days) // 14
    frames = []
    for sku, e in elasticity.items():
        cuts = np.asarray(depth[sku])
        discount = np.where(deal, cuts[fortnight % len(cuts)], 0.0)
        mean = 20.0 * np.exp(e * -np.log1p(-discount))
        frames.append(
            pd.DataFrame(
                {
                    "platform": "tmall",
                    "sku_id": sku,
                    "category": "c",
                    "date": dates,
                    "units": rng.poisson(mean).astype(float),
                    "price": 100.0 * (1 - discount),
                    "list_price": 100.0,
                    "discount": discount,
                    "on_promo": deal.astype(int),
                    "in_stock": 1,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def test_each_series_reads_its_own_response_to_a_discount():
    # same average deal lift (~1.37x), reached by a shallow cut on an eager series and a deep cut on a
    # reluctant one: the per-series elasticity tells them apart where the mean lift cannot
    history = _deal_history({"eager": 3.0, "reluctant": 0.62}, {"eager": (0.10,), "reluctant": (0.40,)})
    panel = build_panel(history)
    snapshot = origin_snapshot(panel, len(panel.dates) - 1, horizon=14)
    stats = snapshot.stats.set_index(snapshot.keys["sku_id"])
    assert stats.loc["eager", "elasticity"] == pytest.approx(3.0, abs=0.5)
    assert stats.loc["reluctant", "elasticity"] == pytest.approx(0.62, abs=0.3)
    assert stats.loc["eager", "promo_lift"] == pytest.approx(stats.loc["reluctant", "promo_lift"], rel=0.15)
    # the plan's depth times the series' own response; nothing off the deal days
    series = np.arange(len(snapshot.keys))
    discount = np.tile(np.r_[0.25, np.zeros(13)], (2, 1))
    price = 100.0 * (1 - discount)
    rows = grid_features(snapshot, series, price, discount, (discount > 0).astype(float), {})
    first = rows.loc[rows["h"].eq(1), "plan_lift"].to_numpy()
    np.testing.assert_allclose(first, snapshot.stats["elasticity"].to_numpy() * -np.log(0.75))
    assert rows.loc[rows["h"].gt(1), "plan_lift"].eq(0).all()
