"""Forecast models on the small simulated sample: shapes, intervals, aggregates, cold start, scenarios."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from daiyun.features.errors import NotFoundError, RequestError
from daiyun.features.forecast_frame import brand_history
from daiyun.models.forecast.baselines import SeasonalNaiveForecaster
from daiyun.models.forecast.ensemble import EnsembleWeights
from daiyun.models.forecast.intervals import ConformalIntervals
from daiyun.models.forecast.lgbm import LGBMForecaster
from daiyun.training.trainers.backtest import BacktestConfig, run_backtest
from daiyun.training.trainers.forecast import fit_bundle

BRAND = "glowlab"
TINY_LGBM = {"n_estimators": 40, "lookback": 400, "origin_stride": 14, "horizons_per_origin": 6}
TINY = BacktestConfig(windows=2, horizon=14, members=("lgbm",), lgbm_params=TINY_LGBM)


@pytest.fixture(scope="module")
def history(dataset) -> pd.DataFrame:
    return brand_history(dataset, BRAND)


@pytest.fixture(scope="module")
def result(dataset, history):
    return run_backtest(dataset, BRAND, TINY, history=history)


@pytest.fixture(scope="module")
def bundle(dataset, history, result):
    return fit_bundle(dataset, BRAND, result, history=history)


def test_backtest_table_has_baselines_levels_and_coverage(result):
    table = result.table
    assert {"lgbm", "naive", "seasonal_naive", "moving_average", "ensemble"} <= set(table["model"])
    assert {"sku", "category", "platform", "brand", "hierarchy"} <= set(table["level"])
    assert {"all", "event", "normal"} <= set(table["days"])
    ensemble = table.loc[
        (table["model"] == "ensemble") & (table["level"] == "sku") & (table["days"] == "all")
    ]
    coverage = float(ensemble["coverage"].iloc[0])
    assert 0.4 < coverage <= 1.0  # measured out of window, not assumed
    assert np.isfinite(result.score("ensemble", "wrmsse"))
    assert len(result.origins) == 2 and result.origins[0] < result.origins[1]


def test_lgbm_fit_predict_shapes(history):
    model = LGBMForecaster(**TINY_LGBM).fit(history, freq="D")
    keys = history[["platform", "sku_id"]].drop_duplicates().head(3)
    dates = pd.date_range(history["date"].max() + pd.Timedelta(days=1), periods=10)
    future = keys.merge(pd.DataFrame({"date": dates}), how="cross")
    predicted = model.predict(future)
    assert len(predicted) == 30 and (predicted["lgbm"] >= 0).all() and predicted["lgbm"].notna().all()
    assert model.feature_importance_.sum() > 0


def test_the_place_in_the_year_is_read_only_from_a_year_of_history(history, result):
    """Under a year of targets, the weeks ahead were never seen: a tree gives them the effect of
    the latest weeks it saw, the year's trend so far read as a season (UCI Online Retail: +23% bias)."""
    span = (history["date"].max() - history["date"].min()).days
    assert span > 400  # the sample has more than a year: the features are kept
    full = LGBMForecaster(**TINY_LGBM).fit(history, freq="D")
    assert {"woy", "month"} <= set(full.features_)
    recent = history.loc[history["date"] > history["date"].max() - pd.Timedelta(days=300)]
    young = LGBMForecaster(**TINY_LGBM).fit(recent, freq="D")
    assert not {"woy", "month"} & set(young.features_)
    assert len(young.feature_importance_) == len(young.features_)
    # the backtest decides from the whole history, so an early window fits the model that is served
    assert result.config.lgbm_params["year_position"] is True
    told = LGBMForecaster(**TINY_LGBM, year_position=True).fit(recent, freq="D")
    assert {"woy", "month"} <= set(told.features_)
    keys = recent[["platform", "sku_id"]].drop_duplicates().head(2)
    dates = pd.date_range(recent["date"].max() + pd.Timedelta(days=1), periods=7)
    predicted = young.predict(keys.merge(pd.DataFrame({"date": dates}), how="cross"))["lgbm"]
    assert predicted.notna().all() and (predicted >= 0).all()


def test_seasonal_naive_repeats_last_week(history):
    model = SeasonalNaiveForecaster().fit(history)
    first = history[["platform", "sku_id"]].drop_duplicates().iloc[0]
    series = history.loc[(history["platform"] == first["platform"]) & (history["sku_id"] == first["sku_id"])]
    series = series.loc[series["in_stock"] > 0]
    last_week = series.loc[series["date"] > series["date"].max() - pd.Timedelta(days=7)]
    future = pd.DataFrame(
        {
            "platform": first["platform"],
            "sku_id": first["sku_id"],
            "date": last_week["date"] + pd.Timedelta(days=7),
        }
    )
    predicted = model.predict(future)["seasonal_naive"].to_numpy()
    np.testing.assert_allclose(predicted, last_week["units"].to_numpy())


def test_ensemble_weights_come_from_the_data():
    rng = np.random.default_rng(0)
    a, b = rng.gamma(2, 5, 500), rng.gamma(2, 5, 500)
    frame = pd.DataFrame({"a": a, "b": b, "actual": 0.7 * a + 0.3 * b})
    for method in ("inverse_error", "nnls"):
        weights = EnsembleWeights(method).fit(frame, ["a", "b"]).weights_[frozenset({"a", "b"})]
        assert weights["a"] == pytest.approx(0.7, abs=0.01) and weights["b"] == pytest.approx(0.3, abs=0.01)
    frame["c"] = np.nan  # a member missing on every row gets no weight set of its own
    combined = EnsembleWeights().fit(frame, ["a", "b", "c"]).combine(frame)
    np.testing.assert_allclose(combined, frame["actual"], rtol=0.05)


def test_ensemble_weights_table_reads_the_same_whatever_the_hash_seed():
    # the weight sets are built from a set of member subsets; their order must not follow the
    # process's hash seed, or the logged weights shuffle from one training run to the next
    import os
    import subprocess
    import sys

    script = (
        "import numpy as np, pandas as pd\n"
        "from daiyun.models.forecast.ensemble import EnsembleWeights\n"
        "rng = np.random.default_rng(0)\n"
        "f = pd.DataFrame({'actual': rng.poisson(10, 400).astype(float)})\n"
        "f['lgbm'] = f['actual'] + rng.normal(0, 1, 400)\n"
        "f['prophet'] = np.where(np.arange(400) < 200, f['actual'] + rng.normal(0, 2, 400), np.nan)\n"
        "f['lgbm_recursive'] = np.where(np.arange(400) % 3 == 0, np.nan, f['actual'] + 1.0)\n"
        "print(EnsembleWeights().fit(f, ['lgbm', 'prophet', 'lgbm_recursive']).table().to_csv())\n"
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", script],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": str(seed)},
        ).stdout
        for seed in range(6)
    }
    assert len(outputs) == 1


def test_conformal_quantiles_are_ordered_and_calibrated():
    rng = np.random.default_rng(1)
    forecast = rng.gamma(2, 5, 4000)
    actual = rng.poisson(forecast)
    h, event = rng.integers(1, 30, 4000), rng.random(4000) < 0.3
    intervals = ConformalIntervals().fit(forecast[:3000], actual[:3000], h[:3000], event[:3000])
    q = intervals.quantiles(forecast[3000:], h[3000:], event[3000:], (0.1, 0.5, 0.9))
    assert (q[:, 0] <= q[:, 1]).all() and (q[:, 1] <= q[:, 2]).all() and (q >= 0).all()
    inside = np.mean((actual[3000:] >= q[:, 0]) & (actual[3000:] <= q[:, 2]))
    assert 0.72 <= inside <= 0.92


def test_conformal_series_scale_widens_a_volatile_series_and_narrows_a_steady_one():
    # the same size band, two kinds of series: errors 3x wider on the volatile ones. Without the
    # series' own scale both get the band's middle width (the steady over-, the volatile under-covered).
    rng = np.random.default_rng(2)
    n_series, days = 40, 150
    series = np.repeat([f"s{i}" for i in range(n_series)], days)
    volatile = np.repeat(np.arange(n_series) % 2 == 1, days)
    forecast = np.full(len(series), 50.0)
    actual = forecast + rng.normal(0.0, 1.0, len(series)) * np.where(volatile, 15.0, 5.0)
    h, event = np.tile(np.arange(1, days + 1) % 30 + 1, n_series), np.zeros(len(series), bool)
    train = np.tile(np.arange(days) < 100, n_series)
    test = ~train
    qs = (0.1, 0.9)

    windows = np.tile(np.arange(days) // 50, n_series)  # backtest windows: the noise read between them

    def coverage(labels: np.ndarray | None, by_window: bool = False) -> tuple[float, float]:
        fit_on = None if labels is None else labels[train]
        asked = None if labels is None else labels[test]
        in_window = windows[train] if by_window else None
        intervals = ConformalIntervals().fit(
            forecast[train], actual[train], h[train], event[train], fit_on, in_window
        )
        q = intervals.quantiles(forecast[test], h[test], event[test], qs, asked)
        inside = (actual[test] >= q[:, 0]) & (actual[test] <= q[:, 1])
        return float(inside[volatile[test]].mean()), float(inside[~volatile[test]].mean())

    pooled_volatile, pooled_steady = coverage(None)
    own_volatile, own_steady = coverage(series)
    assert pooled_volatile < 0.7 and pooled_steady > 0.9
    assert abs(own_volatile - 0.8) < 0.07 and abs(own_steady - 0.8) < 0.07
    windowed_volatile, windowed_steady = coverage(series, by_window=True)
    assert abs(windowed_volatile - 0.8) < 0.07 and abs(windowed_steady - 0.8) < 0.07
    # a series the calibration never saw (a new SKU) keeps the band's width
    intervals = ConformalIntervals().fit(
        forecast[train], actual[train], h[train], event[train], series[train]
    )
    new = intervals.quantiles(forecast[:5], h[:5], event[:5], qs, np.array(["new"] * 5))
    pooled = ConformalIntervals().fit(forecast[train], actual[train], h[train], event[train])
    assert np.allclose(new, pooled.quantiles(forecast[:5], h[:5], event[:5], qs), rtol=0.15)


def test_bundle_forecast_interface_and_order(bundle):
    start = bundle.origin + pd.Timedelta(days=1)
    rows = bundle.forecast(start, start + pd.Timedelta(days=29), quantiles=(0.1, 0.5, 0.9))
    assert list(rows.columns) == [
        "brand",
        "platform",
        "sku_id",
        "date",
        "mean",
        "p10",
        "p50",
        "p90",
        "cold_start",
    ]
    assert len(rows) == 30 * len(bundle.series())
    assert (rows["p10"] <= rows["p50"]).all() and (rows["p50"] <= rows["p90"]).all()
    assert (rows["mean"] >= 0).all() and rows["brand"].eq(BRAND).all()
    odd = bundle.forecast(start, start, quantiles="0.05,0.975")
    assert {"p5", "p97.5"} <= set(odd.columns)


def test_aggregates_are_sums_of_sku_forecasts(bundle):
    start = bundle.origin + pd.Timedelta(days=1)
    end = start + pd.Timedelta(days=6)
    skus = bundle.forecast(start, end).merge(bundle.series(), on=["platform", "sku_id"])
    for level, keys in (("category", ["category"]), ("platform", ["platform"]), ("brand", [])):
        agg = bundle.forecast(start, end, level=level)
        expected = skus.groupby([*keys, "date"])["mean"].sum().reset_index()
        merged = agg.merge(expected, on=[*keys, "date"], suffixes=("", "_sum"))
        assert len(merged) == len(agg)
        np.testing.assert_allclose(merged["mean"], merged["mean_sum"], rtol=1e-9)
        assert (agg["p10"] <= agg["mean"] + 1e-9).all() and (agg["p90"] >= agg["p10"]).all()


def test_deeper_discount_raises_the_promotion_forecast(bundle):
    start = bundle.origin + pd.Timedelta(days=1)
    end = start + pd.Timedelta(days=24)
    series = bundle.series().iloc[0]
    promo_start, promo_end = start + pd.Timedelta(days=7), start + pd.Timedelta(days=13)

    def plan(discount: float) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "brand": [BRAND],
                "platform": [series["platform"]],
                "sku_id": [series["sku_id"]],
                "start": [promo_start],
                "end": [promo_end],
                "discount": [discount],
                "price": [np.nan],
                "mechanic": ["coupon"],
            }
        )

    def promo_units(discount: float | None) -> float:
        rows = bundle.forecast(
            start,
            end,
            promotions=plan(discount),
            sku_ids=[series["sku_id"]],
            platforms=[series["platform"]],
        )
        return float(rows.loc[rows["date"].between(promo_start, promo_end), "mean"].sum())

    # discount 0: a regular-price plan, i.e. no promotion for this series
    none, shallow, deep = promo_units(0.0), promo_units(0.1), promo_units(0.4)
    assert none < shallow < deep


def test_cold_start_is_flagged_and_forecast(dataset, history):
    keys = history[["platform", "sku_id"]].drop_duplicates().iloc[-1]
    target = history["platform"].eq(keys["platform"]) & history["sku_id"].eq(keys["sku_id"])
    young = history.loc[~target | (history["date"] > history["date"].max() - pd.Timedelta(days=10))]
    model = LGBMForecaster(**TINY_LGBM).fit(young)
    future = pd.DataFrame(
        {
            "platform": keys["platform"],
            "sku_id": keys["sku_id"],
            "date": pd.date_range(young["date"].max() + pd.Timedelta(days=1), periods=7),
        }
    )
    assert model.cold_start(future).all()
    predicted = model.predict(future)["lgbm"]
    assert predicted.notna().all() and (predicted > 0).all()


def test_bad_requests_are_named(bundle):
    start = bundle.origin + pd.Timedelta(days=1)
    with pytest.raises(NotFoundError, match="sku_id"):
        bundle.forecast(start, start, sku_ids=["NOPE"])
    with pytest.raises(NotFoundError, match="platform"):
        bundle.forecast(start, start, platforms=["mars"])
    with pytest.raises(RequestError, match="quantiles"):
        bundle.forecast(start, start, quantiles=(0.5, 1.2))
    with pytest.raises(RequestError, match="end"):
        bundle.forecast(start, start - pd.Timedelta(days=3))
    with pytest.raises(RequestError, match="start"):
        bundle.forecast(bundle.origin, start)


def test_prophet_leaves_a_launch_to_lightgbm(history):
    # a 30-day-old launch that outsells everything: Prophet would read it flat (its ramp averaged
    # in), so it is not among Prophet's series; the next biggest ones are
    from daiyun.models.forecast.members import ProphetTopSeries

    keys = history[["platform", "sku_id"]].drop_duplicates()
    launch = keys.iloc[0]
    mine = history["platform"].eq(launch["platform"]) & history["sku_id"].eq(launch["sku_id"])
    young = history.loc[~mine | (history["date"] > history["date"].max() - pd.Timedelta(days=30))].copy()
    young.loc[mine, "units"] = young.loc[mine, "units"].fillna(0) + 1000.0
    member = ProphetTopSeries(top_n=2).fit(young, freq="D")
    chosen = set(member.series_keys_().itertuples(index=False, name=None))
    assert len(chosen) == 2 and (launch["platform"], launch["sku_id"]) not in chosen
    # old enough (a shorter shortest history), it is the first one chosen
    member = ProphetTopSeries(top_n=2, params={"min_history_days": 20}).fit(young, freq="D")
    chosen = set(member.series_keys_().itertuples(index=False, name=None))
    assert (launch["platform"], launch["sku_id"]) in chosen


def test_prophet_member_joins_the_ensemble(dataset, history, bundle):
    from daiyun.models.forecast.members import ProphetTopSeries

    member = ProphetTopSeries(top_n=2).fit(history, freq="D")
    keys = history[["platform", "sku_id"]].drop_duplicates()
    future = keys.merge(
        pd.DataFrame({"date": pd.date_range(history["date"].max() + pd.Timedelta(days=1), periods=5)}),
        how="cross",
    )
    future = future.assign(discount=0.0, on_promo=0.0)
    predicted = member.predict(future)["prophet"]
    assert predicted.notna().sum() == 2 * 5 and (predicted.dropna() >= 0).all()

    # in the bundle: cached under the stored plan, re-run for a scenario, weighted into the mean
    import copy

    with_prophet = copy.copy(bundle)
    with_prophet.members = {**bundle.members, "prophet": member}
    weights = EnsembleWeights()
    weights.members_ = ["lgbm", "prophet"]
    weights.weights_ = {
        frozenset({"lgbm", "prophet"}): {"lgbm": 0.5, "prophet": 0.5},
        frozenset({"lgbm"}): {"lgbm": 1.0},
    }
    with_prophet.weights = weights
    with_prophet.warm_cache(days=30)
    sku = member.series_keys_().iloc[0]
    start = bundle.origin + pd.Timedelta(days=1)
    end = start + pd.Timedelta(days=20)
    asked = {"sku_ids": [sku["sku_id"]], "platforms": [sku["platform"]]}
    cached = with_prophet.forecast(start, end, **asked)
    with_prophet._caches = {}
    fresh = with_prophet.forecast(start, end, **asked)
    np.testing.assert_allclose(cached["mean"], fresh["mean"])
    plan = pd.DataFrame(
        {
            "platform": [sku["platform"]],
            "sku_id": [sku["sku_id"]],
            "start": [start + pd.Timedelta(days=5)],
            "end": [start + pd.Timedelta(days=9)],
            "discount": [0.4],
            "price": [np.nan],
        }
    )
    with_prophet.warm_cache(days=30)
    scenario = with_prophet.forecast(start, end, promotions=plan, **asked)
    promo_days = scenario["date"].between(start + pd.Timedelta(days=5), start + pd.Timedelta(days=9))
    assert scenario.loc[promo_days, "mean"].sum() > cached.loc[promo_days.to_numpy(), "mean"].sum()


def test_recursive_alternative_forecasts_every_asked_day(history):
    from daiyun.models.forecast.recursive import RecursiveLGBMForecaster

    model = RecursiveLGBMForecaster(n_estimators=20, lookback=120).fit(history, freq="D")
    keys = history[["platform", "sku_id"]].drop_duplicates().head(2)
    dates = pd.date_range(history["date"].max() + pd.Timedelta(days=1), periods=7)
    future = keys.merge(pd.DataFrame({"date": dates}), how="cross").assign(
        discount=0.2, on_promo=1.0, price=np.nan
    )
    predicted = model.predict(future)["lgbm_recursive"]
    assert len(predicted) == 14 and predicted.notna().all() and (predicted >= 0).all()


# ------------------------------------------------------------------ closures and public holidays
def test_holiday_distances_are_right_up_to_the_tables_ends():
    from daiyun.models.forecast.lgbm import calendar_tables

    # DE: May 1 and Ascension (May 14) 2015; Whit Monday (May 25) lies after the table's last day
    table = calendar_tables(
        ["store"], pd.Timestamp("2015-04-28"), pd.Timestamp("2015-05-20"), None, "D", "DE"
    )
    days = table["store"]
    assert days.loc["2015-04-30", "days_to_holiday"] == 1
    assert days.loc["2015-05-01", ["days_to_holiday", "days_since_holiday"]].tolist() == [0, 0]
    assert days.loc["2015-05-02", "days_since_holiday"] == 1
    assert days.loc["2015-05-13", "days_to_holiday"] == 1
    assert days.loc["2015-05-20", "days_to_holiday"] == 5  # the padded table sees past its end
    assert days.loc["2015-04-28", "days_since_holiday"] == 22  # Easter Monday, before the table starts


def _stores_closed_on_holidays(seed: int = 0) -> pd.DataFrame:
    """Daily store sales, closed on Sundays and DE public holidays; the open days next to a holiday
    closure sell 40% more (demand displaced from the closed day), and one store also closes five extra
    days in the last weeks before the end."""
    import holidays

    rng = np.random.default_rng(seed)
    dates = pd.date_range("2013-01-01", "2015-05-05")
    off = {pd.Timestamp(day) for day in holidays.country_holidays("DE", years=[2013, 2014, 2015])}
    closed = dates.dayofweek.isin([6]) | dates.isin(list(off))
    near = pd.Series(closed & ~dates.dayofweek.isin([6]), index=dates)
    near = (near.shift(1, fill_value=False) | near.shift(-1, fill_value=False)).to_numpy() & ~closed
    weekday = np.array([1.2, 1.0, 0.95, 0.95, 1.05, 0.9, 0.0])[dates.dayofweek]
    pieces = []
    for store in range(12):
        level = 200.0 * (1 + store % 4)
        mean = level * weekday * np.where(near, 1.4, 1.0)
        units = rng.poisson(mean).astype(float)
        open_day = ~closed
        if store == 0:  # five extra closures in the last 8 weeks (a refit, say)
            open_day = open_day & ~dates.isin(dates[-30:-25])
        pieces.append(
            pd.DataFrame(
                {
                    "platform": "stores",
                    "sku_id": f"s{store}",
                    "category": "drugstore",
                    "date": dates,
                    "units": np.where(open_day, units, 0.0),
                    "price": 1.0,
                    "list_price": 1.0,
                    "discount": 0.0,
                    "on_promo": 0,
                    "in_stock": open_day.astype(int),
                }
            )
        )
    return pd.concat(pieces, ignore_index=True)


def test_open_share_marks_a_level_window_with_extra_closures():
    from daiyun.features.forecast_frame import build_panel, origin_snapshot

    panel = build_panel(_stores_closed_on_holidays(), "D")
    stats = origin_snapshot(panel, len(panel.dates) - 1, 14).stats
    share = stats["open_share"].to_numpy()
    # store 0 lost 5 of its ~48 open days in the window; Sunday closures are every store's usual
    assert share[0] < 0.93
    assert np.all(np.abs(share[1:] - 1.0) < 0.05)


def test_the_days_next_to_a_holiday_closure_are_forecast_higher():
    from daiyun.models.forecast.lgbm import CLOSURE_FEATURES

    # Ascension moves every year (2013-05-09, 2014-05-29, 2015-05-14): only the holiday distance,
    # not the date, says that Wednesday 2015-05-13 comes before a closure
    history = _stores_closed_on_holidays()
    model = LGBMForecaster(
        n_estimators=80, lookback=730, origin_stride=7, horizons_per_origin=14, horizon=14, market="DE"
    ).fit(history, freq="D")
    wednesdays = pd.to_datetime(["2015-05-06", "2015-05-13"])
    future = pd.DataFrame({"platform": "stores", "sku_id": "s1", "date": wednesdays})
    plain, before_holiday = model.predict(future)["lgbm"].to_numpy()
    assert set(CLOSURE_FEATURES) <= set(model.features_)
    assert before_holiday > 1.2 * plain


def test_closure_features_only_for_shops_that_close_on_holidays(history):
    from daiyun.features.forecast_frame import build_panel
    from daiyun.models.forecast.lgbm import CLOSURE_FEATURES, calendar_tables, closes_on_holidays

    stores = build_panel(_stores_closed_on_holidays(), "D")
    online = build_panel(history, "D")  # the simulated brand sells on Chinese holidays

    def calendar(panel, market):
        platforms = sorted(panel.keys["platform"].unique())
        return calendar_tables(platforms, panel.dates[0], panel.end, None, "D", market)

    assert closes_on_holidays(stores, calendar(stores, "DE"))
    assert not closes_on_holidays(online, calendar(online, "CN"))
    model = LGBMForecaster(**TINY_LGBM).fit(history, freq="D")
    assert not set(CLOSURE_FEATURES) & set(model.features_)


def test_a_series_that_answers_a_discount_more_is_forecast_to_lift_more():
    from test_forecast_frame import _deal_history

    from daiyun.models.forecast.lgbm import ELASTICITY_FEATURES

    # the same deals (10%, 20%, 30% off in turn) lift eager series by an elasticity of 3 and
    # reluctant ones by 0.6: at 20% off the eager ones should sell ~1.95x their normal day, the
    # reluctant ones ~1.14x
    eager = {f"e{i}": 3.0 for i in range(4)}
    reluctant = {f"r{i}": 0.6 for i in range(4)}
    depth = {k: (0.10, 0.20, 0.30) for k in [*eager, *reluctant]}
    history = _deal_history({**eager, **reluctant}, depth)
    history = history.loc[history["date"] < history["date"].max() - pd.Timedelta(days=2)]
    model = LGBMForecaster(**TINY_LGBM, horizon=14).fit(history, freq="D")
    assert set(ELASTICITY_FEATURES) <= set(model.features_)
    day = history["date"].max() + pd.Timedelta(days=7)
    future = pd.DataFrame({"platform": "tmall", "sku_id": list(depth), "date": day})

    def forecast(discount: float) -> pd.Series:
        plan = future.assign(discount=discount, price=100.0 * (1 - discount), on_promo=int(discount > 0))
        return model.predict(plan).set_index("sku_id")["lgbm"]

    lift = forecast(0.2) / forecast(0.0)
    assert lift[list(eager)].mean() > 1.3 * lift[list(reluctant)].mean()

    # a promotion flag without a depth says nothing of elasticity: the features are left out
    flagged = history.assign(discount=0.0, price=100.0)
    model = LGBMForecaster(**TINY_LGBM, horizon=14).fit(flagged, freq="D")
    assert not set(ELASTICITY_FEATURES) & set(model.features_)
