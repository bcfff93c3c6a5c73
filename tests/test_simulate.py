"""The sample-data simulator: deterministic, complete, and its data behave like a real shop's."""

from __future__ import annotations

import hashlib
import importlib.util
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from daiyun.features.calendar import calendar_frame, event_windows
from daiyun.features.errors import RequestError
from daiyun.features.simulator.ads import adstock, hill
from daiyun.features.simulator.world import FUTURE_END, FUTURE_START, write_sample

CONTRACT = {
    "sales": [
        "date",
        "brand",
        "platform",
        "sku_id",
        "units",
        "revenue",
        "price",
        "list_price",
        "on_promo",
        "in_stock",
    ],
    "products": ["brand", "sku_id", "category", "subcategory", "launch_date", "list_price", "unit_cost"],
    "ads": ["date", "brand", "platform", "channel", "spend", "impressions", "clicks", "attributed_revenue"],
    "promotions": ["brand", "platform", "sku_id", "start", "end", "discount", "price", "mechanic"],
    "truth/expected_units": ["brand", "platform", "sku_id", "date", "expected_units", "period"],
    "truth/channels": [
        "brand",
        "platform",
        "channel",
        "adstock",
        "decay",
        "saturation",
        "half_saturation",
        "shape",
        "max_daily_revenue",
        "formula",
    ],
    "truth/future_spend": ["brand", "platform", "channel", "date", "spend"],
    "truth/future_value": [
        "brand",
        "platform",
        "sku_id",
        "as_of",
        "horizon_days",
        "expected_revenue",
        "expected_units",
    ],
}
KEYS = ["brand", "platform", "sku_id", "date"]


def _read(directory: Path, name: str) -> pd.DataFrame:
    return pd.read_parquet(directory / f"{name}.parquet")


def _hashes(directory: Path) -> dict[str, str]:
    return {
        str(path.relative_to(directory)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


@pytest.fixture(scope="module")
def sales(sample_dir: Path) -> pd.DataFrame:
    return _read(sample_dir, "sales")


@pytest.fixture(scope="module")
def truth(sample_dir: Path) -> pd.DataFrame:
    return _read(sample_dir, "truth/expected_units")


@pytest.fixture(scope="module")
def history(sales: pd.DataFrame, truth: pd.DataFrame) -> pd.DataFrame:
    """Every history day of every listed series: truth joined with the observed row (0 units if omitted)."""
    frame = truth[truth["period"].eq("history")].merge(sales, on=KEYS, how="left")
    return frame.assign(units=frame["units"].fillna(0.0), observed=frame["in_stock"].notna())


def test_same_seed_same_bytes_other_seed_other_data(sample_dir: Path, tmp_path: Path) -> None:
    write_sample(tmp_path / "again", size="small", seed=3, progress=False)
    assert _hashes(tmp_path / "again") == _hashes(sample_dir)
    write_sample(tmp_path / "other", size="small", seed=4, progress=False)
    other = _hashes(tmp_path / "other")
    assert other["sales.parquet"] != _hashes(sample_dir)["sales.parquet"]


def test_every_table_is_there_with_the_contract_columns(sample_dir: Path) -> None:
    for name, columns in CONTRACT.items():
        frame = _read(sample_dir, name)
        assert len(frame) > 0, name
        assert set(columns) <= set(frame.columns), (name, set(columns) - set(frame.columns))
    events = pd.read_csv(sample_dir / "events.csv")
    assert set(events["name"]) == {"brand_day"} and events["brand"].nunique() == 1
    meta = json.loads((sample_dir / "truth" / "meta.json").read_text())
    assert (meta["future_start"], meta["future_end"], meta["seed"]) == (FUTURE_START, FUTURE_END, 3)
    assert len(meta["brands"]) == 3 and set(meta["categories"].values()) == {"beauty", "snacks", "apparel"}


def test_loader_accepts_the_sample(sample_dir: Path) -> None:
    if importlib.util.find_spec("daiyun.features.load") is None:
        pytest.skip("features.load not written yet")
    from daiyun.features.load import load

    dataset = load(sample_dir)
    assert len(dataset.brands) == 3
    assert set(dataset.frequency.values()) == {"D"}


def test_truth_covers_history_and_future_and_is_the_mean_of_the_noise(
    sample_dir: Path, sales: pd.DataFrame, truth: pd.DataFrame, history: pd.DataFrame
) -> None:
    # every observed row has its expected units, on a history day
    joined = sales.merge(truth, on=KEYS, how="left", validate="one_to_one")
    assert joined["expected_units"].notna().all()
    assert joined["period"].eq("history").all()
    # every series has all 30 future days
    future = truth[truth["period"].eq("future")]
    days = future.groupby(["brand", "platform", "sku_id"])["date"].agg(["min", "max", "count"])
    assert (days["count"] == 30).all()
    assert (days["min"] == pd.Timestamp(FUTURE_START)).all() and (
        days["max"] == pd.Timestamp(FUTURE_END)
    ).all()
    value = _read(sample_dir, "truth/future_value")
    assert len(value) == len(days)
    assert np.allclose(
        value.set_index(["brand", "platform", "sku_id"])["expected_units"].sort_index(),
        future.groupby(["brand", "platform", "sku_id"])["expected_units"].sum().sort_index(),
    )
    # realised units scatter around the expected units: same total within a few percent
    ratio = history["units"].sum() / history["expected_units"].sum()
    assert 0.96 < ratio < 1.04
    # and the expected units explain the realised ones far better than a constant per series
    error = (history["units"] - history["expected_units"]).abs().sum()
    series_mean = history.groupby(["brand", "platform", "sku_id"])["units"].transform("mean")
    assert error < 0.8 * (history["units"] - series_mean).abs().sum()


def test_stock_out_days_sell_nothing_and_are_a_few_percent(history: pd.DataFrame) -> None:
    out = history[history["in_stock"].eq(0)]
    assert len(out) > 0
    assert (out["units"] == 0).all() and (out["expected_units"] == 0).all()
    sellable = history[history["expected_units"].gt(0) | history["in_stock"].eq(0)]
    assert 0.01 < len(out) / len(sellable) < 0.08


def test_double11_peak_days_sell_more_than_normal_days(history: pd.DataFrame) -> None:
    calendar = calendar_frame(history["date"].min(), history["date"].max())
    normal = calendar.loc[calendar["is_event"].eq(0), "date"]
    peak = calendar.loc[calendar["ev_double11"].eq(1) & calendar["phase_peak"].eq(1), "date"]
    live = history[history["expected_units"].gt(0)]
    on_peak = live[live["date"].isin(peak)]["units"].mean()
    on_normal = live[live["date"].isin(normal)]["units"].mean()
    assert on_peak > 1.8 * on_normal


def test_deeper_discount_sells_more(sample_dir: Path, history: pd.DataFrame) -> None:
    # outside events, so the festival lift does not stand in for the price effect; the discount of
    # every day (zero-sales days have no sales row) comes from the promotions table
    promotions = _read(sample_dir, "promotions")
    days = promotions.assign(
        date=[pd.date_range(a, b) for a, b in zip(promotions["start"], promotions["end"], strict=True)]
    ).explode("date")
    days["date"] = days["date"].astype(history["date"].dtype)
    frame = history.drop(columns=["price"]).merge(days[[*KEYS, "discount"]], on=KEYS, how="left")
    calendar = calendar_frame(history["date"].min(), history["date"].max())
    quiet = frame[
        frame["date"].isin(calendar.loc[calendar["is_event"].eq(0), "date"]) & frame["expected_units"].gt(0)
    ]
    level = quiet.groupby(["brand", "platform", "sku_id"])["units"].transform("mean")
    relative = quiet["units"] / level.where(level > 0)
    bins = pd.cut(
        quiet["discount"].fillna(0.0), [-0.01, 0.001, 0.12, 0.5], labels=["none", "shallow", "deep"]
    )
    means = relative.groupby(bins, observed=True).mean()
    assert means["none"] < means["shallow"] < means["deep"]


def test_spend_is_raised_before_and_during_big_events(sample_dir: Path) -> None:
    ads = _read(sample_dir, "ads")
    windows = event_windows(ads["date"].min(), ads["date"].max())
    presale = windows[windows["phase"].eq("presale")]
    before = pd.DatetimeIndex(
        np.concatenate(
            [
                pd.date_range(start - pd.Timedelta(days=7), start - pd.Timedelta(days=1))
                for start in presale["start"]
            ]
        )
    )
    during = pd.DatetimeIndex(
        np.concatenate(
            [
                pd.date_range(row.start, row.end)
                for row in windows[windows["name"].isin(["618", "double11"])].itertuples()
            ]
        )
    )
    calendar = calendar_frame(ads["date"].min(), ads["date"].max())
    normal = calendar.loc[calendar["is_event"].eq(0), "date"]
    normal = normal[~normal.isin(before)]
    level = ads.groupby(["brand", "channel"])["spend"].transform("mean")
    relative = ads["spend"] / level
    assert relative[ads["date"].isin(before)].mean() > 1.15 * relative[ads["date"].isin(normal)].mean()
    assert relative[ads["date"].isin(during)].mean() > 1.5 * relative[ads["date"].isin(normal)].mean()
    # platforms over-credit their ads
    channels = _read(sample_dir, "truth/channels")
    assert (channels["attribution_bias"] > 1).all()


def test_long_tail_series_have_many_zero_days(history: pd.DataFrame) -> None:
    sellable = history[history["expected_units"].gt(0)]
    zero_share = (
        sellable["units"].eq(0).groupby([sellable["brand"], sellable["platform"], sellable["sku_id"]]).mean()
    )
    assert (zero_share > 0.5).sum() >= 3  # small has ~50 series; demo has about a quarter of them
    assert (zero_share < 0.05).mean() >= 0.1  # and some sell every day


def test_launches_and_discontinuations_exist(
    sample_dir: Path, sales: pd.DataFrame, truth: pd.DataFrame
) -> None:
    meta = json.loads((sample_dir / "truth" / "meta.json").read_text())
    start, end = pd.Timestamp(meta["history_start"]), pd.Timestamp(meta["history_end"])
    products = _read(sample_dir, "products")
    launched = products[products["launch_date"].between(start + pd.Timedelta(days=1), end)]
    assert len(launched) >= 3
    first_sale = sales.groupby(["brand", "sku_id"])["date"].min()
    assert (first_sale.loc[list(zip(launched["brand"], launched["sku_id"], strict=True))] > start).all()
    # discontinued series: no expected sales in the future, and their sales stop well before the end
    future = truth[truth["period"].eq("future")]
    future = future.groupby(["brand", "platform", "sku_id"])["expected_units"].sum()
    stopped = future[future == 0].index
    assert len(stopped) >= 3
    last_sale = sales.groupby(["brand", "platform", "sku_id"])["date"].max()
    assert (last_sale.loc[stopped] < end - pd.Timedelta(days=25)).all()
    traits = _read(sample_dir, "truth/series").set_index(["brand", "platform", "sku_id"])
    assert set(traits.index[traits["discontinued"]]) == set(stopped)
    assert traits["elasticity"].between(1.5, 3.5).all()


def test_platform_price_levels_and_costs(sales: pd.DataFrame, sample_dir: Path) -> None:
    regular = sales.groupby(["brand", "sku_id", "platform"])["list_price"].median().unstack("platform")
    both = regular.dropna(subset=["pdd", "tmall"])
    assert len(both) > 0 and (both["pdd"] < both["tmall"]).mean() > 0.9
    products = _read(sample_dir, "products")
    margin = products["unit_cost"] / products["list_price"]
    assert margin.between(0.29, 0.61).all()
    assert (sales["revenue"] - sales["units"] * sales["price"]).abs().max() < 0.01


def test_future_ad_revenue_follows_the_published_curves(sample_dir: Path) -> None:
    channels = _read(sample_dir, "truth/channels")
    spend = _read(sample_dir, "truth/future_spend")
    recorded = _read(sample_dir, "truth/future_ad_revenue")
    ads = _read(sample_dir, "ads")
    for row in channels.itertuples():
        # the history's adstock runs from adstock_before_history to adstock_at_history_end
        past = ads[ads["channel"].eq(row.channel) & ads["brand"].eq(row.brand)].sort_values("date")
        x_past = adstock(past["spend"].to_numpy(), row.decay, row.adstock_before_history)
        assert np.isclose(x_past[-1], row.adstock_at_history_end)
        plan = spend[spend["channel"].eq(row.channel) & spend["brand"].eq(row.brand)].sort_values("date")
        x = adstock(plan["spend"].to_numpy(), row.decay, row.adstock_at_history_end)
        gain = hill(x, row.max_daily_revenue, row.half_saturation, row.shape)
        true = recorded[recorded["channel"].eq(row.channel) & recorded["brand"].eq(row.brand)].sort_values(
            "date"
        )
        assert np.allclose(gain, true["incremental_revenue"].to_numpy())
    # diverse curves: some channels near saturation, some far from it
    assert channels["decay"].between(0.1, 0.7).all()


def test_promotions_hold_the_past_and_the_plan(sample_dir: Path, sales: pd.DataFrame) -> None:
    promotions = _read(sample_dir, "promotions")
    assert (promotions["end"] >= pd.Timestamp(FUTURE_START)).any()
    assert promotions["discount"].between(0, 1, inclusive="left").all()
    # Double 11 discounts are deeper than everyday ones
    d11 = promotions["start"].dt.month.eq(10) & promotions["end"].dt.month.eq(11)
    assert promotions.loc[d11, "discount"].mean() > promotions.loc[~d11, "discount"].mean() + 0.05
    # the past ones show in sales: promo rows are discounted
    assert (
        sales.loc[sales["on_promo"].eq(1), "price"] < sales.loc[sales["on_promo"].eq(1), "list_price"]
    ).all()


def test_bad_requests_and_failed_runs_leave_no_half_sample(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(RequestError, match="size"):
        write_sample(tmp_path / "x", size="huge")
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("not a sample")
    with pytest.raises(RequestError, match="not empty"):
        write_sample(tmp_path / "mine", size="small")

    import daiyun.features.simulator.world as simulate

    real = simulate._simulate_brand

    def dies_on_the_second_brand(brand, index, *args):  # noqa: ANN001, ANN002, ANN202
        if index == 1:
            raise OSError("disk full")
        return real(brand, index, *args)

    old = tmp_path / "old"
    (old / "truth").mkdir(parents=True)
    (old / "truth" / "meta.json").write_text("{}")
    (old / "stale.parquet").write_text("from an older sample")
    monkeypatch.setattr(simulate, "_simulate_brand", dies_on_the_second_brand)
    with pytest.raises(OSError, match="disk full"):
        write_sample(tmp_path / "half", size="small", progress=False)
    with pytest.raises(OSError, match="disk full"):
        write_sample(old, size="small", progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine", "old"]  # no half sample, old one intact
    assert (old / "stale.parquet").exists()

    monkeypatch.setattr(simulate, "_simulate_brand", real)
    summary = write_sample(old, size="small", seed=3, progress=False)  # an old sample is replaced
    assert not (old / "stale.parquet").exists() and (old / "sales.parquet").exists()
    assert "glowlab (beauty)" in summary and "series on 3 platforms" in summary
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine", "old"]
