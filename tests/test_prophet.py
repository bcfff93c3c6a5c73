"""Prophet per series: holidays and promotion regressors move the forecast the right way, long-tail
series are pooled and shared down, and the fitted forecaster pickles for MLflow."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest

from daiyun.features.calendar import calendar_frame
from daiyun.features.errors import NotFoundError
from daiyun.models.forecast.prophet_model import ProphetForecaster, prophet_holidays

HISTORY_START, HISTORY_END = "2024-10-16", "2026-10-15"
FUTURE_START, FUTURE_END = "2026-10-16", "2026-11-14"


def synthetic_brand_history(seed: int = 0) -> pd.DataFrame:
    """Two years of daily sales for one brand: four regular series with a weekly cycle, a Double-11
    spike and discount-driven promotions; two intermittent series in one (platform, category) pool."""
    rng = np.random.default_rng(seed)
    dates = pd.date_range(HISTORY_START, HISTORY_END, freq="D")
    frames = []
    regular = [("tmall", "A1", "skincare", 30.0), ("tmall", "A2", "skincare", 12.0),
               ("jd", "B1", "makeup", 20.0), ("jd", "A1", "skincare", 8.0)]
    for platform, sku, category, level in regular:
        frames.append(_series(rng, dates, platform, sku, category, level))
    for sku in ("T1", "T2"):
        frame = _series(rng, dates, "tmall", sku, "tools", 0.0)
        frame["units"] = rng.poisson(0.25 if sku == "T1" else 0.1, len(dates)).astype(float)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def _series(rng, dates, platform, sku, category, level) -> pd.DataFrame:
    weekly = np.where(dates.dayofweek >= 5, 1.4, 1.0)
    double11 = np.ones(len(dates))
    double11[(dates.month == 11) & (dates.day <= 11)] = 2.5
    double11[(dates.month == 11) & (dates.day == 11)] = 6.0
    # promotions: about one week in six, 10-40% off; the lift is exp(3 * discount)
    on_promo = (rng.random(len(dates) // 7 + 1) < 0.17).repeat(7)[: len(dates)].astype(int)
    discount = np.where(on_promo == 1, rng.choice([0.1, 0.2, 0.3, 0.4], len(dates)), 0.0)
    mean = level * weekly * double11 * np.exp(3.0 * discount)
    in_stock = (rng.random(len(dates)) > 0.02).astype(int)
    units = np.where(in_stock == 1, rng.poisson(mean), 0).astype(float)
    return pd.DataFrame({
        "platform": platform, "sku_id": sku, "category": category, "date": dates, "units": units,
        "price": 100.0 * (1 - discount), "discount": discount, "on_promo": on_promo, "in_stock": in_stock,
    })


def future_frame(history: pd.DataFrame, discount: float = 0.0) -> pd.DataFrame:
    series = history[["platform", "sku_id"]].drop_duplicates()
    dates = pd.DataFrame({"date": pd.date_range(FUTURE_START, FUTURE_END, freq="D")})
    future = series.merge(dates, how="cross")
    return future.assign(price=100.0 * (1 - discount), discount=discount, on_promo=int(discount > 0))


@pytest.fixture(scope="module")
def history() -> pd.DataFrame:
    return synthetic_brand_history()


@pytest.fixture(scope="module")
def forecaster(history) -> ProphetForecaster:
    return ProphetForecaster(n_jobs=2).fit(history, events=None, freq="D")


def test_holidays_are_readable_windows():
    holidays = prophet_holidays("2025-01-01", "2025-12-31")
    assert list(holidays.columns) == ["ds", "holiday", "lower_window", "upper_window"]
    peak = holidays.loc[holidays["holiday"] == "double11_peak"].iloc[0]
    assert peak["ds"] == pd.Timestamp("2025-11-01") and peak["upper_window"] == 10
    assert holidays["holiday"].str.startswith("cn_national_day").any()  # Chinese public holidays too


def test_weekly_holidays_fall_on_week_starts():
    holidays = prophet_holidays("2025-01-01", "2025-12-31", freq="W", anchor_weekday=0)
    assert (holidays["ds"].dt.dayofweek == 0).all()
    assert (holidays[["lower_window", "upper_window"]] == 0).all().all()
    assert pd.Timestamp("2025-11-10") in set(holidays.loc[holidays["holiday"] == "double11_day", "ds"])


def test_predict_keeps_rows_and_order_and_is_non_negative(forecaster, history):
    future = future_frame(history).sample(frac=1.0, random_state=1)  # shuffled on purpose
    future.index = np.arange(len(future))[::-1]
    result = forecaster.predict(future)
    assert len(result) == len(future)
    assert result.index.equals(future.index)
    assert result[["platform", "sku_id", "date"]].equals(future[["platform", "sku_id", "date"]])
    assert result["prophet"].notna().all() and (result["prophet"] >= 0).all()


def test_event_spike_beats_a_normal_day(forecaster, history):
    result = forecaster.predict(future_frame(history))
    a1 = result.loc[(result["platform"] == "tmall") & (result["sku_id"] == "A1")].set_index("date")["prophet"]
    normal = a1.loc["2026-10-16":"2026-10-19"].mean()
    assert a1.loc["2026-11-11"] > 3 * normal
    assert a1.loc["2026-11-01":"2026-11-10"].mean() > 1.5 * normal


def test_deeper_discount_raises_the_forecast(forecaster, history):
    shallow = forecaster.predict(future_frame(history, discount=0.1))
    deep = forecaster.predict(future_frame(history, discount=0.4))
    regular = ~shallow["sku_id"].isin(["T1", "T2"])
    assert (deep.loc[regular, "prophet"] > shallow.loc[regular, "prophet"]).all()
    # the lift is roughly the simulated exp(3 * 0.3) = 2.5
    ratio = deep.loc[regular, "prophet"].sum() / shallow.loc[regular, "prophet"].sum()
    assert 1.6 < ratio < 4.0


def test_intermittent_series_are_pooled_and_sum_to_the_pool(forecaster, history):
    pooled = set(forecaster.pooled_series_[["platform", "sku_id"]].itertuples(index=False, name=None))
    assert pooled == {("tmall", "T1"), ("tmall", "T2")}
    assert ("pool", "tmall", "tools") in forecaster.models_
    assert ("series", "tmall", "T1") not in forecaster.models_
    future = future_frame(history)
    result = forecaster.predict(future)
    members = result.loc[result["sku_id"].isin(["T1", "T2"])]
    summed = members.groupby("date")["prophet"].sum()
    # the pool's own model, asked directly with its members' mean promotion inputs
    pool_model = forecaster.models_[("pool", "tmall", "tools")]
    inputs = members.groupby("date")[["discount", "on_promo"]].mean()
    pool = pool_model.predict(inputs.index, inputs)
    assert np.allclose(summed.to_numpy(), pool)
    readable = forecaster.pool_forecast(future).set_index("date")["prophet_pool"]
    assert np.allclose(readable.loc[summed.index].to_numpy(), pool)
    # T1 sells about 2.5x as much as T2, and its share says so
    shares = forecaster.pool_shares_.set_index("sku_id")["share"]
    assert shares["T1"] > shares["T2"] > 0
    # the pool forecast is in the range of what the pool sold
    recent = history.loc[history["sku_id"].isin(["T1", "T2"]) & (history["date"] > "2026-07-01")]
    assert 0.1 < summed.loc[:"2026-10-19"].mean() / recent.groupby("date")["units"].sum().mean() < 3


def test_out_of_stock_days_are_not_zero_demand(history):
    gone = history.copy()
    stock_out = (gone["sku_id"] == "B1") & (gone["date"] > "2026-08-15")
    gone.loc[stock_out, ["units", "in_stock"]] = 0
    fitted = ProphetForecaster(n_jobs=1).fit(gone.loc[gone["sku_id"].isin(["B1"])])
    result = fitted.predict(future_frame(gone.loc[gone["sku_id"] == "B1"]))
    # had the stock-out been read as demand the forecast would be near zero
    assert result["prophet"].iloc[:4].mean() > 8


def test_pickle_round_trip_gives_identical_predictions(forecaster, history):
    future = future_frame(history, discount=0.2)
    restored = pickle.loads(pickle.dumps(forecaster))
    assert restored.predict(future)["prophet"].equals(forecaster.predict(future)["prophet"])


def test_unknown_series_is_a_clear_not_found_or_a_flagged_zero(forecaster, history):
    future = future_frame(history).iloc[:3].assign(sku_id="NOPE")
    with pytest.raises(NotFoundError, match="NOPE"):
        forecaster.predict(future)
    lenient = pickle.loads(pickle.dumps(forecaster))
    lenient.unknown_series = "zero"
    mixed = pd.concat([future, future_frame(history).iloc[:2]], ignore_index=True)
    result = lenient.predict(mixed)
    assert result["prophet_unknown"].tolist() == [True, True, True, False, False]
    assert (result["prophet"].iloc[:3] == 0).all() and (result["prophet"].iloc[3:] > 0).all()


def test_weekly_history_fits_without_weekly_seasonality(history):
    weekly = history.loc[history["sku_id"].isin(["A1"]) & (history["platform"] == "tmall")].copy()
    weekly["date"] = weekly["date"] - pd.to_timedelta(weekly["date"].dt.dayofweek, unit="D")
    weekly = weekly.groupby(["platform", "sku_id", "category", "date"], as_index=False).agg(
        units=("units", "sum"), price=("price", "mean"), discount=("discount", "mean"),
        on_promo=("on_promo", "max"), in_stock=("in_stock", "max"),
    )
    fitted = ProphetForecaster(n_jobs=1).fit(weekly, freq="W")
    model = fitted.models_[("series", "tmall", "A1")].prophet
    assert "weekly" not in model.seasonalities
    future = pd.DataFrame({"platform": "tmall", "sku_id": "A1",
                           "date": pd.date_range("2026-10-19", "2026-11-16", freq="W-MON")})
    result = fitted.predict(future.assign(price=100.0, discount=0.0, on_promo=0))
    by_week = result.set_index("date")["prophet"]
    assert by_week.loc["2026-11-09"] > 2 * by_week.loc["2026-10-19"]  # the week of Double 11


def test_fast_predict_matches_prophets_own(forecaster):
    series = forecaster.models_[("series", "tmall", "A1")]
    dates = pd.date_range("2026-10-01", "2026-11-20", freq="D")
    rng = np.random.default_rng(2)
    inputs = pd.DataFrame({"discount": rng.choice([0.0, 0.2, 0.4], len(dates))})
    inputs["on_promo"] = (inputs["discount"] > 0).astype(int)
    own = series.prophet.predict(inputs.assign(ds=dates))["yhat"].to_numpy()
    assert np.allclose(series.predict_target(dates, inputs), own, atol=1e-4)
    # beyond the precomputed grid the model falls back on Prophet's predict
    far = pd.date_range("2028-06-01", periods=3, freq="D")
    far_inputs = inputs.iloc[:3]
    assert np.allclose(series.predict_target(far, far_inputs),
                       series.prophet.predict(far_inputs.assign(ds=far))["yhat"].to_numpy())


def test_on_the_simulated_sample_events_and_discounts_move_the_forecast(dataset, sample_dir):
    """One brand, one platform of the small sample: the Double 11 peak and a deeper discount show."""
    import json

    meta = json.loads((sample_dir / "truth" / "meta.json").read_text())
    name = dataset.brands[0]
    brand = dataset.for_brand(name)
    history = brand.sales.merge(brand.products[["sku_id", "category"]], on="sku_id")
    platform = history.groupby("platform")["sku_id"].nunique().sort_values().index[0]
    history = history.loc[history["platform"] == platform]
    forecaster = ProphetForecaster(n_jobs=2).fit(history, events=brand.events, freq=brand.freq(name))

    series = history[["platform", "sku_id"]].drop_duplicates()
    dates = pd.date_range(meta["future_start"], meta["future_end"], freq="D")
    future = series.merge(pd.DataFrame({"date": dates}), how="cross").assign(price=np.nan)
    shallow = forecaster.predict(future.assign(discount=0.05, on_promo=1))
    deep = forecaster.predict(future.assign(discount=0.35, on_promo=1))
    assert len(deep) == len(future) and np.isfinite(deep["prophet"]).all() and (deep["prophet"] >= 0).all()
    assert deep["prophet"].sum() > 1.1 * shallow["prophet"].sum()

    calendar = calendar_frame(dates[0], dates[-1], events=brand.events, platform=platform).set_index("date")
    total = shallow.groupby("date")["prophet"].sum()
    peak = total.loc[calendar["phase_peak"].astype(bool)]
    normal = total.loc[~calendar["is_event"].astype(bool)]
    assert len(peak) and len(normal)
    assert peak.mean() > 1.3 * normal.mean()
