"""The push list's parts: expected revenue from forecast rows, the correction, its gate, and reasons."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from daiyun.models.selection.correction import (
    ForecastBlend,
    ForecastCombination,
    ForecastCorrection,
    _ndcg_at_20,
    forecast_rate_log,
)
from daiyun.models.selection.drivers import push_reasons
from daiyun.models.selection.forecast_score import expected_revenue, planned_prices
from daiyun.training.trainers.selection import correction_decision, final_rule_predictions

DAYS = pd.date_range("2026-10-16", periods=4, freq="D")


def daily_forecast() -> pd.DataFrame:
    rows = []
    for sku, mean in (("A", [10.0, 10.0, 20.0, 20.0]), ("B", [1.0, 1.0, 1.0, 1.0])):
        for date, m in zip(DAYS, mean, strict=True):
            rows.append({"platform": "tmall", "sku_id": sku, "date": date, "mean": m, "p10": 0.5 * m,
                         "p90": 1.5 * m, "cold_start": sku == "B"})
    return pd.DataFrame(rows)


REGULAR = pd.DataFrame({"platform": ["tmall", "tmall"], "sku_id": ["A", "B"], "regular_price": [100.0, 50.0]})
PLAN = pd.DataFrame({"platform": ["tmall", "tmall"], "sku_id": ["A", "B"],
                     "start": [DAYS[2], DAYS[0]], "end": [DAYS[3], DAYS[0]],
                     "discount": [0.2, np.nan], "price": [np.nan, 30.0]})


def test_expected_revenue_is_forecast_units_times_planned_price_summed() -> None:
    numbers = expected_revenue(daily_forecast(), REGULAR, PLAN).set_index("sku_id")
    # A: 10+10 units at 100, then 20+20 at 80 (20% off); B: 1 at the planned 30, then 3 at 50
    assert numbers.loc["A", "expected_revenue"] == pytest.approx(2 * 10 * 100 + 2 * 20 * 80)
    assert numbers.loc["B", "expected_revenue"] == pytest.approx(30 + 3 * 50)
    assert numbers.loc["A", "expected_units"] == pytest.approx(60)
    assert numbers.loc["A", "promo_days"] == 2 and numbers.loc["B", "promo_days"] == 1
    assert numbers.loc["B", "cold_start"] and not numbers.loc["A", "cold_start"]
    assert (numbers["revenue_p10"] < numbers["expected_revenue"]).all()
    assert (numbers["revenue_p90"] > numbers["expected_revenue"]).all()
    # days fully correlated: the period's spread is the sum of the days' spreads
    together = expected_revenue(daily_forecast(), REGULAR, PLAN, correlation=1.0).set_index("sku_id")
    day_spread = (1.5 - 0.5) * 10 * 100 * 2 + (1.5 - 0.5) * 20 * 80 * 2  # p90 - p10 in money, summed
    assert together.loc["A", "revenue_p90"] - together.loc["A", "revenue_p10"] == pytest.approx(day_spread)
    assert (together["revenue_p90"] - together["revenue_p10"]).ge(
        numbers["revenue_p90"] - numbers["revenue_p10"] - 1e-9).all()


def test_without_a_plan_every_day_is_at_the_regular_price() -> None:
    prices = planned_prices(daily_forecast(), REGULAR, None)
    assert set(prices[:4]) == {100.0} and set(prices[4:]) == {50.0}


def _frame(n_as_of: int = 6, n_skus: int = 60, seed: int = 0) -> pd.DataFrame:
    """A selection frame where the forecast misses stock-outs: half the stocked-out SKUs' revenue."""
    rng = np.random.default_rng(seed)
    rows = []
    for k in range(n_as_of):
        as_of = pd.Timestamp("2026-01-01") + pd.Timedelta(days=40 * k)
        forecast = rng.lognormal(8, 1, n_skus)
        stockout = rng.random(n_skus) < 0.4
        actual = forecast * np.where(stockout, 0.3, 1.2) * rng.lognormal(0, 0.1, n_skus)
        rows.append(pd.DataFrame({
            "brand": "b", "platform": "tmall", "sku_id": [f"S{i}" for i in range(n_skus)], "as_of": as_of,
            "observed_until": as_of, "label_until": as_of + pd.Timedelta(days=30), "horizon_periods": 30,
            "forecast_revenue": forecast, "target": actual, "stockout_rate_91d": np.where(stockout, 0.5, 0.0),
            "rev_rate_last_period": forecast / 30,
        }))
    return pd.concat(rows, ignore_index=True)


def test_correction_learns_what_the_forecast_misses() -> None:
    frame = _frame()
    last = frame["as_of"].max()
    train, test = frame.loc[frame["as_of"] < last], frame.loc[frame["as_of"].eq(last)]
    correction = ForecastCorrection({"n_estimators": 80, "min_child_samples": 10}).fit(train)
    moved = correction.correction(test)
    stocked_out = test["stockout_rate_91d"].to_numpy() > 0
    assert moved[stocked_out].mean() < moved[~stocked_out].mean() - 0.5
    truth = np.log1p(test["target"].to_numpy() / 30)
    corrected, forecast_only = correction.score(test), forecast_rate_log(test)
    assert np.corrcoef(corrected, truth)[0, 1] > np.corrcoef(forecast_only, truth)[0, 1]
    with pytest.raises(ValueError, match="no rows"):
        ForecastCorrection().fit(frame.assign(target=np.nan))


def test_correction_is_kept_only_when_it_beats_forecast_only() -> None:
    base = _frame(n_as_of=2).assign(rule="forecast")
    base["score"] = forecast_rate_log(base)
    better = base.assign(rule="blended", score=np.log1p(base["target"]))  # the oracle: strictly better
    worse = base.assign(rule="corrected", score=-np.log1p(base["target"]))
    choice, said, margin = correction_decision(pd.concat([base, better, worse]))
    assert choice == "blended" and said.startswith("on: blended") and margin > 0
    assert "corrected does not beat" in said
    choice, said, margin = correction_decision(pd.concat([base, worse]))
    assert choice is None and said.startswith("off:")
    assert correction_decision(base)[0] is None  # no corrected rows: off
    served = final_rule_predictions(pd.concat([base, worse]), None)
    assert served["rule"].eq("model").all() and served["score"].equals(base["score"])
    served = final_rule_predictions(pd.concat([base, better]), "blended")
    assert served["score"].equals(better["score"])


def test_blend_leans_on_recent_sales_where_the_forecast_ranks_badly() -> None:
    frame = _frame()
    noise = np.exp(np.random.default_rng(1).normal(0, 0.05, len(frame)))
    frame["rev_rate_last_period"] = frame["target"] / 30 * noise  # recent sales that say it all
    blend = ForecastBlend().fit(frame)
    assert blend.weights_["rev_rate_last_period"] >= 0.75
    assert sum(blend.weights_.values()) == pytest.approx(1.0)
    # a forecast that already ranks perfectly keeps all the weight
    exact = frame.assign(forecast_revenue=frame["target"])
    assert ForecastBlend().fit(exact).weights_["forecast"] == 1.0
    assert np.allclose(ForecastBlend().fit(exact).correction(exact), 0.0)


def test_reasons_cite_the_forecast_and_its_drivers() -> None:
    rows = pd.DataFrame([
        {"platform": "tmall", "sku_id": "A", "expected_revenue": 9000.0, "revenue_p10": 7000.0,
         "revenue_p90": 11000.0, "planned_price": 80.0, "regular_price": 100.0, "promo_days": 10,
         "periods": 30,
         "rev_rate_28d": 100.0, "trend_7_28": 1.1, "stockout_rate_91d": 0.0, "margin": 0.5,
         "horizon_event": "double11", "horizon_event_share": 0.5, "new_sku": False,
         "cold_start": False},
        {"platform": "tmall", "sku_id": "B", "expected_revenue": 500.0, "revenue_p10": 100.0,
         "revenue_p90": 900.0, "planned_price": 50.0, "regular_price": 50.0, "promo_days": 0, "periods": 30,
         "rev_rate_28d": 60.0, "trend_7_28": 0.5, "stockout_rate_91d": 0.6, "margin": 0.2,
         "horizon_event": "", "horizon_event_share": 0.0, "new_sku": False, "cold_start": False},
        {"platform": "tmall", "sku_id": "C", "expected_revenue": 800.0, "revenue_p10": 200.0,
         "revenue_p90": 1500.0, "planned_price": 20.0, "regular_price": 20.0, "promo_days": 0, "periods": 30,
         "rev_rate_28d": np.nan, "trend_7_28": np.nan, "stockout_rate_91d": np.nan, "margin": np.nan,
         "age_days": 12, "category": "serum", "price_band": 2, "new_sku": True, "cold_start": True},
    ])
    a, b, c = push_reasons(rows, horizon_days=30, freq="D")
    assert a[0]["feature"] == "forecast_revenue" and "9,000" in a[0]["text"] and "p10 7,000" in a[0]["text"]
    assert {"planned_discount", "event_lift"} <= {r["feature"] for r in a}
    assert any("Double 11" in r["text"] for r in a) and any("20%" in r["text"] for r in a)
    assert "stockout_risk" in {r["feature"] for r in b}
    assert next(r for r in b if r["feature"] == "stockout_risk")["direction"] == "down"
    assert c[0]["feature"] == "new_sku" and "serum" in c[0]["text"] and "high price band" in c[0]["text"]
    assert all(len(r) <= 3 for r in (a, b, c))


def test_a_sku_out_of_stock_for_four_weeks_goes_to_the_bottom_with_its_reason() -> None:
    """The forecast is of demand, so it still expects a phased-out SKU to sell; the push list does
    not push it: score 0, expected revenue untouched, and the reason says why."""
    rows = pd.DataFrame({
        "platform": "tmall", "sku_id": ["gone", "thin", "fine"], "horizon_periods": 30,
        "forecast_revenue": [90000.0, 3000.0, 6000.0], "expected_revenue": [90000.0, 3000.0, 6000.0],
        "stockout_rate_28d": [1.0, 0.9, 0.0], "stockout_rate_91d": [0.5, 0.3, 0.0],
    })
    score = forecast_rate_log(rows)
    assert score[0] == 0.0 and score[2] > score[1] > score[0]
    assert rows["forecast_revenue"].tolist() == [90000.0, 3000.0, 6000.0]
    # a frame without the column (older bundles, tests' own frames): everything is available
    assert forecast_rate_log(rows.drop(columns="stockout_rate_28d"))[0] > score[2]
    reasons = push_reasons(rows.assign(periods=30, planned_price=10.0, regular_price=10.0, promo_days=0,
                                       revenue_p10=0.0, revenue_p90=1.0, new_sku=False, cold_start=False),
                           horizon_days=30, freq="D")
    assert "out_of_stock" in {r["feature"] for r in reasons[0]}
    assert "out_of_stock" not in {r["feature"] for r in reasons[1]}
    assert "stockout_risk" in {r["feature"] for r in reasons[1]}


def test_the_combination_averages_two_noisy_rankings_into_a_better_one() -> None:
    # forecast and last period each see the true revenue through their own noise: their mean on the
    # log scale has less noise than either, so it ranks better (mean NDCG@20 over 30 as_of dates)
    rng = np.random.default_rng(4)
    frame = _frame(n_as_of=30, n_skus=200, seed=4)
    truth = frame["target"].to_numpy()
    frame["forecast_revenue"] = truth * rng.lognormal(0, 0.6, len(frame))
    frame["rev_rate_last_period"] = truth / 30 * rng.lognormal(0, 0.6, len(frame))
    combination = ForecastCombination().fit(frame)  # learns nothing: fixed equal weights
    assert combination.weights_ == {"forecast": 0.5, "rev_rate_last_period": 0.5, "rev_rate_4_periods": 0.0}
    groups = frame.groupby("as_of").ngroup().to_numpy()
    last = np.log1p(frame["rev_rate_last_period"].to_numpy())
    ndcg = {name: _ndcg_at_20(truth, score, groups) for name, score in {
        "forecast": forecast_rate_log(frame), "last": last, "combined": combination.score(frame)}.items()}
    assert ndcg["combined"] > max(ndcg["forecast"], ndcg["last"]) + 0.01
    # the correction is how far it moves each SKU from forecast-only
    assert np.allclose(combination.correction(frame), combination.score(frame) - forecast_rate_log(frame))
