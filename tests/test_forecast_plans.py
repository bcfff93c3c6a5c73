"""Price-only promotion plans, the market's calendar, reconciliation and the demand generator family."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from daiyun.features.calendar import calendar_frame, event_windows
from daiyun.features.errors import ContractError, RequestError
from daiyun.features.forecast_frame import build_panel, origin_snapshot, promotion_days


def _price_only_history(weeks: int = 120, n_skus: int = 6, seed: int = 0) -> pd.DataFrame:
    """Weekly store x item history with a price and no discount nor list price: deal weeks sell more."""
    rng = np.random.default_rng(seed)
    rows = []
    dates = pd.date_range("2022-01-05", periods=weeks, freq="7D")
    for k in range(n_skus):
        regular = 2.0 + k
        base = 20.0 + 10 * k
        deal = rng.random(weeks) < 0.25
        price = np.where(
            deal, regular * rng.uniform(0.6, 0.8, weeks), regular * rng.uniform(0.99, 1.0, weeks)
        )
        mean = base * (price / regular) ** -2.5
        rows.append(_weekly_item(k, dates, rng.poisson(mean).astype(float), np.round(price, 2)))
    return pd.concat(rows, ignore_index=True)


def _weekly_item(
    k: int, dates: pd.DatetimeIndex, units: np.ndarray, price: object, **extra: object
) -> pd.DataFrame:
    """One store item's weekly rows: no discount, no promotion flag, always in stock."""
    return pd.DataFrame({"platform": "store1", "sku_id": f"upc{k}", "category": "cereal", "date": dates,
                         "units": units, "price": price, "discount": 0.0, "on_promo": 0, "in_stock": 1,
                         **extra})


def test_regular_price_is_inferred_from_a_price_only_history() -> None:
    history = _price_only_history()
    # the last week of every series is a deal week: a naive "last price" would call it regular
    last = history["date"].eq(history["date"].max())
    history.loc[last, "price"] = history.loc[last, "price"] * 0.7
    panel = build_panel(history, "W")
    snapshot = origin_snapshot(panel, len(panel.dates) - 1, 12)
    regular = 2.0 + np.arange(6)
    assert np.allclose(snapshot.list_price, regular, rtol=0.02)
    assert panel.regular_inferred.all()
    # deal weeks found from the price alone; price noise of a cent is not a deal
    assert 0.15 < panel.on_promo.mean() < 0.4
    assert panel.discount[panel.on_promo < 0.5].max() == 0.0


def test_a_price_only_plan_moves_the_forecast_like_a_discount() -> None:
    from daiyun.models.forecast.lgbm import LGBMForecaster

    history = _price_only_history()
    model = LGBMForecaster(
        n_estimators=60, horizon=13, origin_stride=2, lookback=104, min_data_in_leaf=10, market="US"
    ).fit(history, freq="W")
    step = pd.Timedelta(weeks=1)
    week = history["date"].max() + step * 2
    regular = pd.DataFrame({"platform": "store1", "sku_id": "upc2", "date": [week], "price": [4.0]})
    deal = regular.assign(price=3.0)  # 25% under the inferred regular price, given as a price only
    plain = regular.drop(columns="price")
    f_regular = model.predict(regular)["lgbm"].iloc[0]
    f_deal = model.predict(deal)["lgbm"].iloc[0]
    f_plain = model.predict(plain)["lgbm"].iloc[0]
    assert f_deal > 1.3 * f_regular
    assert f_plain == pytest.approx(f_regular, rel=0.05)


def test_promotion_rows_with_a_price_and_no_discount_are_a_plan() -> None:
    plan = pd.DataFrame(
        {
            "platform": ["store1"],
            "sku_id": ["upc2"],
            "start": ["2024-05-01"],
            "end": ["2024-05-03"],
            "price": [3.0],
        }
    )
    days = promotion_days(plan, pd.Timestamp("2024-04-30"), pd.Timestamp("2024-05-10"))
    assert len(days) == 3
    assert days["price"].eq(3.0).all()
    assert days["discount"].isna().all() and days["on_promo"].isna().all()  # decided against the regular


def test_a_german_market_reads_german_holidays_and_no_chinese_festivals() -> None:
    de = calendar_frame("2024-10-01", "2024-12-31", market="DE").set_index("date")
    cn = calendar_frame("2024-10-01", "2024-12-31").set_index("date")
    assert de.loc["2024-10-03", "is_holiday"] == 1  # Tag der Deutschen Einheit
    assert de.loc["2024-12-25", "is_holiday"] == 1
    assert de.loc["2024-10-01", "is_holiday"] == 0  # China's National Day is not a German holiday
    assert cn.loc["2024-10-01", "is_holiday"] == 1
    assert de["is_event"].sum() == 0 and cn.loc["2024-11-11", "phase_day"] == 1
    assert de["is_makeup_workday"].sum() == 0
    own = pd.DataFrame(
        {
            "name": ["black_friday"],
            "start": ["2024-11-29"],
            "end": ["2024-11-29"],
            "phase": ["peak"],
            "platform": [""],
            "brand": [""],
        }
    )
    with_own = event_windows("2024-10-01", "2024-12-31", events=own, market="DE")
    assert list(with_own["name"].unique()) == ["black_friday"]


def test_market_comes_from_dataset_yaml_and_bad_markets_are_named(tmp_path) -> None:
    from daiyun.features.dataset import read_market

    assert read_market(tmp_path) == "CN"
    (tmp_path / "dataset.yaml").write_text("# store data\nmarket: de\n")
    assert read_market(tmp_path) == "DE"
    (tmp_path / "dataset.yaml").write_text("market: Atlantis\n")
    with pytest.raises(ContractError, match="dataset.yaml.*market|market.*Atlantis"):
        read_market(tmp_path)
    with pytest.raises(RequestError):
        calendar_frame("2024-01-01", "2024-01-31", market="XX")


def test_backtest_finds_its_windows_without_festivals() -> None:
    from daiyun.training.trainers.backtest import backtest_origins

    origins = backtest_origins(
        pd.Timestamp("2015-07-31"), pd.Timestamp("2013-01-01"), 3, 42, "D", None, market="DE"
    )
    assert len(origins) == 3
    assert origins[-1] == pd.Timestamp("2015-07-31") - pd.Timedelta(days=42)


def test_reconciliation_pulls_skus_to_a_precise_total_and_still_sums() -> None:
    from daiyun.models.forecast.reconcile import summing_matrix, wls_reconcile

    keys = pd.DataFrame({"platform": ["a", "a", "b"], "sku_id": ["1", "2", "3"], "category": ["x", "y", "x"]})
    summing, nodes = summing_matrix(keys)
    assert list(nodes["level"]) == ["brand", "platform", "platform", "category", "category"]
    bottom = np.array([[10.0, 12.0], [5.0, 5.0], [20.0, 18.0]])
    aggregate = summing @ bottom
    aggregate[0] = [45.0, 45.0]  # the total's own model says higher
    aggregate[1:] = np.nan  # no own model at the other nodes
    out = wls_reconcile(bottom, aggregate, summing, np.array([4.0, 1.0, 16.0]), np.array([1e-6, 1, 1, 1, 1]))
    assert out.sum(axis=0) == pytest.approx([45.0, 45.0], abs=1e-3)
    moved = out - bottom
    assert (moved > 0).all() and moved[2, 0] > moved[0, 0] > moved[1, 0]  # noisier SKUs move more
    same = wls_reconcile(bottom, summing @ bottom, summing, np.ones(3), np.ones(5))
    assert np.allclose(same, bottom)


def test_the_demand_family_draws_different_worlds_reproducibly() -> None:
    from daiyun.features.simulator.demand_family import draw_traits, simulate_draw

    a, b = simulate_draw(1, n_skus=4, start="2026-01-01"), simulate_draw(1, n_skus=4, start="2026-01-01")
    pd.testing.assert_frame_equal(a.history, b.history)
    traits = [draw_traits(seed) for seed in range(1, 9)]
    assert len({round(t.elasticity, 3) for t in traits}) == 8
    assert len({t.season for t in traits}) >= 3
    history = a.history
    assert {"expected", "units", "price", "on_promo"} <= set(history.columns)
    promo = history["on_promo"] > 0
    assert (history.loc[promo, "price"] < history.loc[promo, "list_price"]).all()


def test_a_blend_worse_than_its_best_member_gives_way_to_it() -> None:
    from daiyun.models.forecast.ensemble import EnsembleWeights

    rng = np.random.default_rng(0)
    actual = rng.poisson(20, 400).astype(float)
    frame = pd.DataFrame(
        {"actual": actual, "good": actual + rng.normal(0, 2, 400), "far_off": actual * 3 + 10}
    )
    weights = EnsembleWeights().fit(frame, ["good", "far_off"])
    assert weights.weights_[frozenset({"good", "far_off"})] == {"good": 1.0, "far_off": 0.0}
    # two members of similar quality still blend
    frame["other"] = actual + rng.normal(0, 2, 400)
    blended = EnsembleWeights().fit(frame, ["good", "other"]).weights_[frozenset({"good", "other"})]
    assert 0.3 < blended["good"] < 0.7


def test_prophet_reads_the_market_holidays_too() -> None:
    from daiyun.models.forecast.prophet_model import prophet_holidays

    de = prophet_holidays(pd.Timestamp("2024-09-01"), pd.Timestamp("2024-12-31"), market="DE")
    cn = prophet_holidays(pd.Timestamp("2024-09-01"), pd.Timestamp("2024-12-31"))
    assert de["holiday"].str.startswith("de_").all() and pd.Timestamp("2024-10-03") in set(de["ds"])
    assert cn["holiday"].str.contains("double11").any() and not de["holiday"].str.contains("double11").any()


def _display_history(weeks: int = 120, n_skus: int = 6, seed: int = 1) -> pd.DataFrame:
    """Weekly history at one price where `display` weeks sell 2x; `display` is not folded into on_promo."""
    rng = np.random.default_rng(seed)
    dates = pd.date_range("2022-01-05", periods=weeks, freq="7D")
    rows = []
    for k in range(n_skus):
        display = (rng.random(weeks) < 0.25).astype(float)
        units = rng.poisson((20.0 + 10 * k) * (1 + display)).astype(float)
        rows.append(_weekly_item(k, dates, units, 3.0, display=display,
                                 revenue=1.0,  # a contract column, never a promotion input
                                 deal=display > 0))  # a boolean label (a scoring mask), never an input
    return pd.concat(rows, ignore_index=True)


@pytest.mark.parametrize("recursive", [False, True])
def test_an_extra_promotion_column_is_a_known_future_input(recursive: bool) -> None:
    from daiyun.models.forecast.lgbm import LGBMForecaster
    from daiyun.models.forecast.recursive import RecursiveLGBMForecaster

    history = _display_history()
    kind = RecursiveLGBMForecaster if recursive else LGBMForecaster
    model = kind(n_estimators=60, horizon=13, origin_stride=2, lookback=104, min_data_in_leaf=10, market="US")
    model.fit(history, freq="W")
    assert model.used_extras == ["display"]
    assert "display" in model.used_features
    assert "revenue" not in model.used_features and "deal" not in model.used_features
    step = pd.Timedelta(weeks=1)
    weeks = [history["date"].max() + step * h for h in (1, 2, 3)]
    plan = pd.DataFrame({"platform": "store1", "sku_id": "upc3", "date": weeks, "price": 3.0})
    on = model.predict(plan.assign(display=[0.0, 1.0, 0.0]))[model.name].to_numpy()
    off = model.predict(plan.assign(display=0.0))[model.name].to_numpy()
    without = model.predict(plan)[model.name].to_numpy()  # a plan without the column: no display
    assert on[1] > 1.5 * off[1]
    assert on[0] == pytest.approx(off[0], rel=0.1)
    assert np.allclose(without, off)


def test_a_model_saved_before_extra_promotion_columns_still_predicts() -> None:
    from daiyun.models.forecast.lgbm import LGBMForecaster

    history = _display_history().drop(columns=["display"])
    model = LGBMForecaster(n_estimators=20, horizon=13, origin_stride=4, lookback=104, market="US")
    model.fit(history, freq="W")
    del model.promo_extras_  # what a bundle pickled before the change holds
    week = history["date"].max() + pd.Timedelta(weeks=1)
    asked = pd.DataFrame({"platform": "store1", "sku_id": "upc0", "date": [week], "display": [1.0]})
    assert np.isfinite(model.predict(asked)["lgbm"]).all()


def test_promotion_days_carry_extra_promotion_columns() -> None:
    plan = pd.DataFrame(
        {
            "brand": "b",
            "platform": "store1",
            "sku_id": "upc0",
            "start": [pd.Timestamp("2024-03-06")],
            "end": [pd.Timestamp("2024-03-12")],
            "price": [2.5],
            "display": [1],
            "mechanic": ["feature"],
        }
    )
    weekly = promotion_days(plan, pd.Timestamp("2024-03-06"), pd.Timestamp("2024-03-20"), "W")
    assert weekly["display"].tolist() == [1.0]


def test_brand_history_keeps_an_extra_column_only_when_the_promotions_table_has_it() -> None:
    from types import SimpleNamespace

    from daiyun.features.forecast_frame import brand_history

    sales = _display_history(weeks=10, n_skus=1).drop(columns=["category"]).assign(brand="b")
    products = pd.DataFrame({"sku_id": ["upc0"], "category": ["cereal"]})

    def dataset(promotion_columns: list[str]) -> SimpleNamespace:
        promotions = pd.DataFrame(columns=["brand", "platform", "sku_id", "start", "end", *promotion_columns])
        mine = SimpleNamespace(sales=sales, products=products, promotions=promotions)
        return SimpleNamespace(for_brand=lambda brand: mine)

    assert "display" in brand_history(dataset(["price", "display"]), "b").columns
    assert "display" not in brand_history(dataset(["price"]), "b").columns


def test_a_display_plan_moves_the_served_forecast(tmp_path) -> None:
    """Through the product's own path: a data directory whose sales and promotions both carry
    `display`, the backtest, the bundle, and a scenario asking for display weeks."""
    from daiyun.features.load import load
    from daiyun.training.trainers.backtest import BacktestConfig, run_backtest
    from daiyun.training.trainers.forecast import fit_bundle

    history = _display_history(n_skus=4)
    sales = history.drop(columns=["category", "deal", "discount"]).assign(
        brand="b", revenue=history["units"] * history["price"], list_price=3.0
    )
    sales.to_csv(tmp_path / "sales.csv", index=False)
    pd.DataFrame({"brand": "b", "sku_id": sorted(sales["sku_id"].unique()), "category": "cereal"}).to_csv(
        tmp_path / "products.csv", index=False
    )
    # past display weeks are in the stored plan too, as a scanner data set's promotions would be
    shown = history.loc[history["display"] > 0]
    promotions = pd.DataFrame({"brand": "b", "platform": shown["platform"], "sku_id": shown["sku_id"],
                               "start": shown["date"], "end": shown["date"] + pd.Timedelta(days=6),
                               "price": 3.0, "display": 1})
    promotions.to_csv(tmp_path / "promotions.csv", index=False)
    (tmp_path / "dataset.yaml").write_text("market: US\n")
    dataset = load(tmp_path)
    tiny = {"n_estimators": 60, "horizon": 4, "origin_stride": 2, "lookback": 104, "min_data_in_leaf": 10}
    config = BacktestConfig(windows=1, horizon=4, members=("lgbm",), baselines=(), lgbm_params=tiny)
    bundle = fit_bundle(dataset, "b", run_backtest(dataset, "b", config))
    week = bundle.origin + pd.Timedelta(weeks=2)
    scenario = pd.DataFrame({"platform": ["store1"], "sku_id": ["upc3"], "start": [week],
                             "end": [week + pd.Timedelta(days=6)], "price": [3.0]})
    asked = dict(start=week, end=week, sku_ids=["upc3"])
    on = bundle.forecast(promotions=scenario.assign(display=1), **asked)["mean"].iloc[0]
    off = bundle.forecast(promotions=scenario.assign(display=0), **asked)["mean"].iloc[0]
    assert on > 1.5 * off


def test_a_plan_file_s_flag_columns_arrive_as_numbers(tmp_path) -> None:
    from daiyun.training.cli.output import read_plan

    path = tmp_path / "plan.csv"
    path.write_text("platform,sku_id,start,end,price,display,note\n"
                    "store1,upc3,2024-03-06,2024-03-12,3.0,1,end cap\n"
                    "store1,upc2,2024-03-06,2024-03-12,2.5,,\n")
    plan, _ = read_plan(path, "b")
    assert plan["display"].tolist() == [1.0, 0.0]  # a CSV's flags are text until read
    assert plan["note"].tolist()[0] == "end cap"  # words stay words (and are not model inputs)


def _wholesale_history(days: int = 400, n_skus: int = 6, seed: int = 0) -> pd.DataFrame:
    """Daily items whose day price is revenue / units over orders: big orders buy at a 20% tier price.

    On most selling days a big order pulls the day's average price under its upper quantile, as on
    UCI Online Retail; nothing here is a promotion.
    """
    rng = np.random.default_rng(seed)
    dates = pd.date_range("2022-01-01", periods=days, freq="D")
    rows = []
    for k in range(n_skus):
        small = rng.poisson(3.0 + k, days).astype(float)
        big = np.where(rng.random(days) < 0.75, rng.integers(30, 120, days), 0).astype(float)
        units = small + big
        revenue = small * (2.0 + k) + big * (2.0 + k) * 0.8
        price = np.where(units > 0, revenue / np.maximum(units, 1), np.nan)
        rows.append(pd.DataFrame({"platform": "web", "sku_id": f"item{k}", "category": "gifts", "date": dates,
                                  "units": units, "price": price, "discount": 0.0, "on_promo": 0,
                                  "in_stock": 1}))
    return pd.concat(rows, ignore_index=True)


def _plan_less_month_ratio(history: pd.DataFrame, prices: str) -> float:
    from daiyun.models.forecast.lgbm import LGBMForecaster

    cut = history["date"].max() - pd.Timedelta(days=28)
    past, future = history.loc[history["date"] <= cut], history.loc[history["date"] > cut]
    model = LGBMForecaster(n_estimators=60, horizon=28, min_data_in_leaf=10, market="GB", prices=prices)
    forecast = model.fit(past, freq="D").predict(future[["platform", "sku_id", "date"]])["lgbm"]
    return float(forecast.sum() / future["units"].sum())


def test_paid_average_prices_are_not_read_as_deals() -> None:
    from daiyun.features.forecast_frame import plan_for

    history = _wholesale_history()
    as_set = build_panel(history, "D")
    assert as_set.on_promo.mean() > 0.5  # read as set prices, most selling days look like deals
    panel = build_panel(history, "D", prices="paid_average")
    assert panel.on_promo.max() == 0.0 and panel.discount.max() == 0.0
    # the history's prices read as the regular one: a low-priced big day teaches no price effect
    assert np.allclose(panel.price, panel.list_price)
    # a plan-less month forecasts what sold; with deals read from the averages it came out far under
    assert 0.8 < _plan_less_month_ratio(history, "paid_average") < 1.25
    assert _plan_less_month_ratio(history, "set") < 0.5
    # a planned price states no deal depth either (the trees read the regular price); the plan row
    # is still a promotion, as the loader marks the history's promotion days; a stated discount counts
    snapshot = origin_snapshot(panel, len(panel.dates) - 1, 7)
    day = panel.end + pd.Timedelta(days=1)
    cheap = pd.DataFrame({"platform": "web", "sku_id": "item0", "date": [day], "price": [1.4]})
    planned = plan_for(snapshot, cheap)
    assert planned["discount"].max() == 0.0 and planned["on_promo"].max() == 1.0
    assert planned["price"][0, 0] == pytest.approx(snapshot.list_price[0])
    assert plan_for(snapshot, cheap.assign(on_promo=0))["on_promo"].max() == 0.0  # a stated flag wins
    stated = cheap.drop(columns="price").assign(discount=0.3)
    assert plan_for(snapshot, stated)["discount"].max() == pytest.approx(0.3)


def test_a_stated_list_price_keeps_deals_under_paid_average_prices() -> None:
    history = _price_only_history(weeks=60)
    history["list_price"] = 2.0 + history["sku_id"].str[3:].astype(float)
    # as the loader derives them from a stated list price
    history["discount"] = (1 - history["price"] / history["list_price"]).clip(lower=0).round(3)
    history["on_promo"] = (history["discount"] > 0.05).astype(int)
    panel = build_panel(history, "W", prices="paid_average")
    assert not panel.paid_average.any()
    assert 0.15 < panel.on_promo.mean() < 0.4  # priced under the stated list price: deals, as before
    assert np.allclose(panel.price, history.pivot(index="sku_id", columns="date", values="price").to_numpy())


def test_prices_come_from_dataset_yaml_and_bad_kinds_are_named(tmp_path) -> None:
    from daiyun.features.dataset import read_prices

    assert read_prices(tmp_path) == "set"
    (tmp_path / "dataset.yaml").write_text("market: GB\nprices: paid_average  # invoices at tier prices\n")
    assert read_prices(tmp_path) == "paid_average"
    (tmp_path / "dataset.yaml").write_text("prices: averaged\n")
    with pytest.raises(ContractError, match="prices.*averaged") as error:
        read_prices(tmp_path)
    assert "paid_average" in str(error.value) and "dataset.yaml" in str(error.value)


def test_the_data_directory_s_price_kind_reaches_the_backtest_forecaster(tmp_path) -> None:
    from daiyun.features.load import load
    from daiyun.training.trainers.backtest import BacktestConfig, run_backtest

    history = _wholesale_history(days=300, n_skus=4)
    sales = history.drop(columns=["discount", "on_promo", "category"]).assign(brand="b")
    sales = sales.loc[sales["units"] > 0]
    sales.to_csv(tmp_path / "sales.csv", index=False)
    (tmp_path / "dataset.yaml").write_text("market: GB\nprices: paid_average\n")
    dataset = load(tmp_path)
    assert dataset.prices == "paid_average" and dataset.for_brand("b").prices == "paid_average"
    assert any("paid averages" in note for note in dataset.notes)  # `daiyun validate` says it
    tiny = {"n_estimators": 40, "horizon": 28, "min_data_in_leaf": 10}
    config = BacktestConfig(windows=1, horizon=28, members=("lgbm",), baselines=(), lgbm_params=tiny)
    result = run_backtest(dataset, "b", config)
    held = result.predictions
    assert 0.75 < held["lgbm"].sum() / held["actual"].sum() < 1.3
