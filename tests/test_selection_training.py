"""`daiyun train selection` end to end on the small sample: the push list is the forecast's number.

One brand's forecast (tiny settings) and selection are trained into a private MLflow store once;
then: the run's tags and metrics, the one-number rule through the bundle, the CLI and the API
(`expected_revenue` equals the forecast's units x planned price within 0.5%), both scopes in the
CLI and the API, and the leakage rule of the backtest's forecasts.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from daiyun.features.errors import NotFoundError, RequestError
from daiyun.features.forecast_frame import promotion_days
from daiyun.training.trainers.selection import (
    SelectionConfig,
    backtest_dates,
    past_forecasts,
    train_family,
)

BRAND = "glowlab"
AS_OF, HORIZON = "2026-10-15", 30  # the small sample's last day, and a month
START, END = "2026-10-16", "2026-11-14"
TINY_FORECAST = {"n_estimators": 20, "horizons_per_origin": 10}


def tiny(**changes) -> SelectionConfig:
    settings = dict(n_event_dates=1, n_regular_dates=1, n_learning_dates=1, forecast_params=TINY_FORECAST,
                    correction_params={"n_estimators": 20, "min_child_samples": 3})
    settings.update(changes)
    return SelectionConfig(**settings)


@pytest.fixture(scope="module")
def trained(dataset, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    from daiyun.training.trainers.backtest import BacktestConfig
    from daiyun.training.trainers.forecast import train_family as train_forecast

    root = tmp_path_factory.mktemp("selection_store")
    env = {"MLFLOW_TRACKING_URI": f"sqlite:///{root / 'mlflow.db'}",
           "DAIYUN_ARTIFACT_ROOT": (root / "artifacts").as_uri(), "BENTOML_DO_NOT_TRACK": "1"}
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        for key in ("DAIYUN_API_KEYS", "DAIYUN_API_KEYS_FILE", "DAIYUN_CHAMPIONS_SOURCE"):
            patch.delenv(key, raising=False)
        # no forecast champion yet: selection refuses, and says what to do
        refused = list(train_family(dataset, [BRAND], config=tiny()))[0]
        forecast_config = BacktestConfig(windows=1, horizon=14, members=("lgbm",),
                                         baselines=("seasonal_naive",), lgbm_params=TINY_FORECAST)
        list(train_forecast(dataset, brands=[BRAND], config=forecast_config))
        line = list(train_family(dataset, [BRAND], config=tiny()))[0]
        yield {"refused": refused, "line": line, "root": root, "patch": patch}


def test_backtest_dates_include_the_eves_of_event_presales() -> None:
    dates = backtest_dates(pd.Timestamp("2023-10-01"), pd.Timestamp("2026-10-15"), 30)
    assert pd.Timestamp("2025-10-19") in dates and pd.Timestamp("2026-05-19") in dates
    assert max(dates) + pd.Timedelta(days=30) <= pd.Timestamp("2026-10-15")  # labels complete


def test_backtest_forecasts_use_only_data_up_to_each_as_of(dataset) -> None:
    as_of = pd.Timestamp("2026-06-01")
    before = past_forecasts(dataset, BRAND, [as_of], HORIZON, TINY_FORECAST)
    # change everything after as_of (sales and the label period): the forecast made then must not move
    changed = dataset.sales.copy()
    later = changed["date"] > as_of
    changed.loc[later, "units"] = changed.loc[later, "units"] * 7
    changed.loc[later, "revenue"] = changed.loc[later, "revenue"] * 7
    after = past_forecasts(replace(dataset, sales=changed), BRAND, [as_of], HORIZON, TINY_FORECAST)
    assert len(before) > 0 and before["forecast_revenue"].gt(0).any()
    pd.testing.assert_frame_equal(before, after)


def test_backtest_prices_plan_less_days_as_the_push_list_does(dataset) -> None:
    """One odd last sale (a multipack at 10x) must not become the SKU's price in the backtest: the
    backtest's revenue uses the price the service prices a plan-less day at (the frame's list price)."""
    from daiyun.features.selection_frame import selection_frame

    as_of = pd.Timestamp("2026-06-01")
    sales = dataset.sales.copy()
    regular_day = sales["discount"].fillna(0).le(0.005) & sales["on_promo"].fillna(0).eq(0)
    mine = sales.loc[sales["brand"].eq(BRAND) & (sales["date"] <= as_of) & sales["units"].gt(0) & regular_day]
    odd = mine.sort_values("date").groupby(["platform", "sku_id"]).tail(1).index
    sales.loc[odd, "price"] = sales.loc[odd, "price"] * 10
    sales.loc[odd, "revenue"] = sales.loc[odd, "revenue"] * 10
    odd_data = replace(dataset, sales=sales)
    frame = selection_frame(odd_data.for_brand(BRAND), [as_of], HORIZON)
    served = frame[["platform", "sku_id", "as_of", "list_price"]]
    naive = past_forecasts(odd_data, BRAND, [as_of], HORIZON, TINY_FORECAST)
    priced = past_forecasts(odd_data, BRAND, [as_of], HORIZON, TINY_FORECAST, regular_prices=served)
    clean = past_forecasts(dataset, BRAND, [as_of], HORIZON, TINY_FORECAST)
    keys = ["platform", "sku_id"]
    both = priced.merge(clean, on=keys, suffixes=("", "_clean"))
    both = both.merge(naive, on=keys, suffixes=("", "_naive"))
    both = both.loc[both["forecast_revenue_clean"] > 0]
    # the naive last price inflates revenue several-fold; the served price keeps it near the clean one
    assert (both["forecast_revenue_naive"] / both["forecast_revenue_clean"]).median() > 1.5
    assert (both["forecast_revenue"] / both["forecast_revenue_clean"]).median() < 1.2


def test_training_needs_a_forecast_champion_and_tags_the_correction_decision(trained) -> None:
    from mlflow import MlflowClient

    from daiyun.training.registry import champion_info

    assert "failed" in trained["refused"] and "daiyun train forecast" in trained["refused"]
    assert "v1 champion" in trained["line"] and "correction" in trained["line"], trained["line"]
    info = champion_info("selection", BRAND)
    tag = info.tags["daiyun.selection_correction"]
    assert tag.startswith(("on:", "off:")) and "forecast-only" in tag
    assert info.tags["daiyun.forecast_source"].startswith("forecast champion v1")
    for rule in ("model", "forecast", "last_period", "avg_4_periods"):
        assert 0 < info.metrics[f"{rule}.ndcg_at_20"] <= 1
    assert info.metrics["ndcg_at_20"] == info.metrics["model.ndcg_at_20"]
    artifacts = {a.path for a in MlflowClient().list_artifacts(info.run_id, "plots")}
    assert {"plots/ndcg_by_as_of.png", "plots/captured_revenue_vs_k.png"} <= artifacts


def _forecast_revenue(forecast_rows: pd.DataFrame, bundle, dataset) -> pd.DataFrame:
    """The forecast's own numbers, summed per SKU: units, and units x the plan's price of each day."""
    regular = bundle.features(AS_OF, HORIZON)[["platform", "sku_id", "list_price"]]
    rows = forecast_rows.merge(regular, on=["platform", "sku_id"], how="left")
    plan = dataset.for_brand(BRAND).promotions
    days = promotion_days(plan, pd.Timestamp(START), pd.Timestamp(END))
    rows = rows.merge(days[["platform", "sku_id", "date", "discount", "price"]],
                      on=["platform", "sku_id", "date"], how="left")
    price = np.where(rows["price"].notna(), rows["price"],
                     rows["list_price"] * (1 - rows["discount"].fillna(0.0)))
    rows["revenue"] = rows["mean"] * price
    return rows.groupby(["platform", "sku_id"])[["mean", "revenue"]].sum()


def _assert_one_number(push: pd.DataFrame, forecast: pd.DataFrame) -> None:
    joined = push.set_index(["platform", "sku_id"]).join(forecast, how="inner")
    assert len(joined) == len(push) > 0
    np.testing.assert_allclose(joined["expected_units"], joined["mean"], rtol=0.005, atol=0.01)
    np.testing.assert_allclose(joined["expected_revenue"], joined["revenue"], rtol=0.005, atol=0.05)
    assert (joined["revenue_p10"] <= joined["expected_revenue"] + 0.01).all()
    assert (joined["revenue_p90"] >= joined["expected_revenue"] - 0.01).all()


def test_cli_push_list_is_the_forecasts_number_in_both_scopes(trained, dataset, tmp_path: Path) -> None:
    from daiyun.training.cli.app import app
    from daiyun.training.registry import load_champion

    runner = CliRunner()
    forecast_file, push_file, brand_file = tmp_path / "f.csv", tmp_path / "p.csv", tmp_path / "b.csv"
    common = ["--data", str(dataset.source), "--brand", BRAND]
    result = runner.invoke(app, ["forecast", *common, "--start", START, "--end", END,
                                 "--out", str(forecast_file)])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["score-products", *common, "--as-of", AS_OF, "--horizon", str(HORIZON),
                                 "--out", str(push_file)])
    assert result.exit_code == 0, result.output
    bundle, _ = load_champion("selection", BRAND)
    push = pd.read_csv(push_file)
    forecast = pd.read_csv(forecast_file, parse_dates=["date"])
    _assert_one_number(push, _forecast_revenue(forecast, bundle, dataset))
    assert push.groupby("platform")["rank"].apply(lambda r: r.tolist() == list(range(1, len(r) + 1))).all()
    assert push["reason_1"].str.contains("forecast to sell|new SKU").all()

    result = runner.invoke(app, ["score-products", *common, "--as-of", AS_OF, "--horizon", str(HORIZON),
                                 "--scope", "brand", "--top-k", "10", "--out", str(brand_file)])
    assert result.exit_code == 0, result.output
    whole = pd.read_csv(brand_file)
    assert whole["rank"].tolist() == list(range(1, 11)) and whole["score"].is_monotonic_decreasing
    assert whole["platform"].nunique() > 1  # one list across the platforms
    bad = runner.invoke(app, ["score-products", *common, "--as-of", AS_OF, "--horizon", "30",
                              "--scope", "shop", "--out", str(brand_file)])
    assert bad.exit_code == 1 and "scope" in bad.output


def test_api_push_list_is_the_forecasts_number_in_both_scopes(trained, dataset) -> None:
    from test_serving_fakes import Harness

    from daiyun.training.registry import load_champion

    bundle, _ = load_champion("selection", BRAND)
    harness = Harness()
    client = harness.start()
    try:
        forecast = client.post("/forecast", json={"brand": BRAND, "start": START, "end": END})
        assert forecast.status_code == 200, forecast.text
        rows = pd.DataFrame(forecast.json()["rows"])
        rows["date"] = pd.to_datetime(rows["date"])
        body = {"brand": BRAND, "as_of": AS_OF, "horizon_days": HORIZON}
        answer = client.post("/score_products", json=body)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        push = pd.DataFrame(body["rows"])
        _assert_one_number(push, _forecast_revenue(rows, bundle, dataset))
        assert {m["family"] for m in body["models"]} == {"selection", "forecast"}
        assert any("forecast" in reason["text"] for reason in body["rows"][0]["reasons"])
        whole = client.post("/score_products", json={"brand": BRAND, "as_of": AS_OF, "horizon_days": HORIZON,
                                                     "scope": "brand", "top_k": 5}).json()
        assert [r["rank"] for r in whole["rows"]] == [1, 2, 3, 4, 5]
        per_platform = push.groupby("platform")["rank"].min()
        assert (per_platform == 1).all() and len(per_platform) > 1
        bad = client.post("/score_products", json={"brand": BRAND, "as_of": AS_OF, "horizon_days": HORIZON,
                                                   "scope": "shop"})
        assert bad.status_code in (400, 422) and "scope" in bad.text
    finally:
        harness.stop()


def test_bundle_answers_and_refuses_like_the_service(trained) -> None:
    from daiyun.training.registry import load_champion

    bundle, _ = load_champion("selection", BRAND)
    ranked = bundle.score(AS_OF, HORIZON, platform="tmall", top_k=3)
    assert ranked["rank"].tolist() == [1, 2, 3] and ranked["platform"].eq("tmall").all()
    assert ranked["score"].is_monotonic_decreasing
    assert all(1 <= len(reasons) <= 3 for reasons in ranked["reasons"])
    with pytest.raises(NotFoundError):
        bundle.score(AS_OF, HORIZON, platform="no_such_shop")
    with pytest.raises(RequestError, match="after the last date"):
        bundle.score("2027-01-01", HORIZON)
    with pytest.raises(RequestError, match="scope"):
        bundle.score(AS_OF, HORIZON, scope="shop")
    # an earlier as_of: the forecast is refreshed on the history up to it (no later sales seen)
    earlier = bundle.score("2026-09-30", 14, top_k=2)
    assert set(earlier["rank"]) == {1, 2} and earlier["expected_revenue"].gt(0).any()
    answer = bundle.predict_frame(pd.DataFrame([{"as_of": AS_OF, "horizon_days": 14, "top_k": 2,
                                                 "scope": "brand"}]))
    assert answer["rank"].tolist() == [1, 2] and json.loads(answer["reasons"].iloc[0])
