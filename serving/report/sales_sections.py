"""Headline and products: the sections read straight off the sales table (plus the push list).

Every number here is a sum or a ratio of sums of `dataset.sales` rows between two dates, so a
test can recompute it from the table; nothing is smoothed or imputed except the stock-out loss,
which says how it is estimated.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from daiyun.serving.report.model import Inputs, Section
from daiyun.serving.report.periods import Period
from daiyun.serving.report.words import money, pct

STOCKOUT_LOOKBACK_DAYS = 28  # the demand rate of a sold-out SKU: its in-stock days of the last 4 weeks
TOP_SELLERS = 10
MOVERS = 5
PUSH_LIST = 10


def rows_in(sales: pd.DataFrame, period: Period) -> pd.DataFrame:
    return sales.loc[(sales["date"] >= period.start) & (sales["date"] <= period.end)]


def covered(sales: pd.DataFrame, period: Period) -> bool:
    """The table holds the whole period (a comparison with half a period would mislead)."""
    return bool(len(sales)) and sales["date"].min() <= period.start and sales["date"].max() >= period.end


def totals(sales: pd.DataFrame, period: Period) -> dict[str, float]:
    rows = rows_in(sales, period)
    orders = float(rows["orders"].sum()) if "orders" in rows.columns else float("nan")
    return {"gmv": float(rows["revenue"].sum()), "units": float(rows["units"].sum()), "orders": orders}


def daily_gmv(sales: pd.DataFrame, period: Period) -> pd.Series:
    """GMV per day of the period, indexed 1..days (so periods of equal length line up)."""
    per_day = rows_in(sales, period).groupby("date")["revenue"].sum().reindex(period.dates, fill_value=0.0)
    return pd.Series(per_day.to_numpy(), index=pd.RangeIndex(1, period.days + 1, name="day"))


def forecast_gmv(forecast: pd.DataFrame, sales: pd.DataFrame) -> pd.DataFrame:
    """Forecast rows with `gmv`: forecast units at the price each series was sold at that day.

    Valuing the forecast at the prices actually charged isolates the volume forecast from price
    changes nobody planned; a series without a sales row that day takes its mean price.
    """
    prices = sales[["platform", "sku_id", "date", "price"]]
    frame = forecast.merge(prices, on=["platform", "sku_id", "date"], how="left")
    mean_price = sales.groupby(["platform", "sku_id"])["price"].mean().rename("mean_price")
    frame = frame.join(mean_price, on=["platform", "sku_id"])
    price = frame["price"].fillna(frame["mean_price"]).fillna(0.0)
    return frame.assign(gmv=frame["mean"] * price).drop(columns=["mean_price"])


def headline(inputs: Inputs, forecast: pd.DataFrame | None) -> Section:
    words, sales, period = inputs.words, inputs.dataset.sales, inputs.period
    section = Section("headline", words("headline"))
    now = totals(sales, period)
    section.numbers.update(gmv=now["gmv"], units=now["units"], orders=now["orders"])
    section.sentences.append(
        words("s_gmv", gmv=money(now["gmv"]), units=money(now["units"]), days=period.days)
    )
    section.sentences.append(
        words("s_orders", orders=money(now["orders"]))
        if now["orders"] == now["orders"]
        else words("s_no_orders")
    )
    daily = pd.DataFrame({"date": period.dates, "gmv": daily_gmv(sales, period).to_numpy()})
    summary = [
        {"measure": "gmv", "this_period": now["gmv"]},
        {"measure": "units", "this_period": now["units"]},
    ]
    for name, other in (("previous", period.previous()), ("last-year", period.last_year())):
        if not covered(sales, other):
            section.sentences.append(words("s_against_missing", what=words(name), period=other.label()))
            daily[f"{name}_gmv"] = np.nan
            continue
        then = totals(sales, other)
        section.numbers[f"{name}_gmv"] = then["gmv"]
        daily[f"{name}_gmv"] = daily_gmv(sales, other).to_numpy()
        summary[0][name] = then["gmv"]
        summary[1][name] = then["units"]
        section.sentences.append(
            words(
                "s_against",
                what=words(name),
                period=other.label(),
                change=words.change(now["gmv"], then["gmv"]),
                value=money(then["gmv"]),
            )
        )
    if forecast is not None and len(forecast):
        valued = forecast_gmv(forecast, sales)
        expected = float(valued["gmv"].sum())
        section.numbers["forecast_gmv"] = expected
        summary[0]["forecast"] = expected
        summary[1]["forecast"] = float(valued["mean"].sum())
        per_day = valued.groupby("date")["gmv"].sum().reindex(period.dates, fill_value=0.0)
        daily["forecast_gmv"] = per_day.to_numpy()
        key = "s_plan_met" if now["gmv"] >= expected else "s_plan_missed"
        section.sentences.append(
            words(key, forecast=money(expected), change=words.change(now["gmv"], expected))
        )
    section.tables["headline"] = pd.DataFrame(summary)
    section.tables["daily_gmv"] = daily
    return section


def products(inputs: Inputs) -> Section:
    words, sales, period = inputs.words, inputs.dataset.sales, inputs.period
    section = Section("products", words("products"))
    now = rows_in(sales, period).groupby("sku_id")[["revenue", "units"]].sum()
    brand_gmv = float(now["revenue"].sum())
    top = now.sort_values("revenue", ascending=False).head(TOP_SELLERS)
    top_table = top.rename(columns={"revenue": "gmv"}).reset_index()
    top_table["share"] = top_table["gmv"] / brand_gmv if brand_gmv else np.nan
    section.tables["top_sellers"] = top_table
    if len(top_table):
        best = top_table.iloc[0]
        section.numbers.update(top_seller_gmv=float(best["gmv"]))
        section.sentences.append(
            words("s_top", sku=best["sku_id"], gmv=money(best["gmv"]), share=pct(best["share"]))
        )
    other = period.compared(inputs.compare)
    if covered(sales, other):
        then = rows_in(sales, other).groupby("sku_id")["revenue"].sum()
        movers = pd.DataFrame({"gmv": now["revenue"], "compared_gmv": then}).fillna(0.0)
        movers["change"] = movers["gmv"] - movers["compared_gmv"]
        movers = movers.sort_values("change", ascending=False).reset_index(names="sku_id")
        shown = pd.concat([movers.head(MOVERS), movers.tail(MOVERS)]).drop_duplicates("sku_id")
        section.tables["movers"] = shown.reset_index(drop=True)
        what = words(inputs.compare)
        rise, fall = movers.iloc[0], movers.iloc[-1]
        if rise["change"] > 0:
            section.sentences.append(
                words(
                    "s_mover_up",
                    what=what,
                    sku=rise["sku_id"],
                    change=words.change(rise["gmv"], rise["compared_gmv"]),
                )
            )
        if fall["change"] < 0:
            section.sentences.append(
                words(
                    "s_mover_down", sku=fall["sku_id"], change=words.change(fall["gmv"], fall["compared_gmv"])
                )
            )
    lost = stockout_losses(sales, period)
    section.tables["stockouts"] = lost
    section.numbers["lost_gmv"] = float(lost["lost_gmv"].sum()) if len(lost) else 0.0
    if len(lost):
        section.sentences.append(
            words(
                "s_stockout",
                lost=money(section.numbers["lost_gmv"]),
                days=int(lost["days_out"].sum()),
                sku=lost.iloc[0]["sku_id"],
            )
        )
    else:
        section.sentences.append(words("s_no_stockout"))
    push_list(inputs, section)
    return section


def stockout_losses(sales: pd.DataFrame, period: Period) -> pd.DataFrame:
    """Per series with sold-out days in the period: days out, estimated units and GMV lost.

    A sold-out day's demand is the series' mean units on its in-stock days of the period and the
    four weeks before (a 0 row on a sold-out day is no evidence of zero demand), at its mean price.
    """
    window = Period(period.start - pd.Timedelta(days=STOCKOUT_LOOKBACK_DAYS), period.end)
    rows = rows_in(sales, window)
    out_rows = rows_in(sales, period)
    out_rows = out_rows.loc[out_rows["in_stock"] == 0]
    columns = ["platform", "sku_id", "days_out", "lost_units", "lost_gmv"]
    if out_rows.empty:
        return pd.DataFrame(columns=columns)
    selling = rows.loc[rows["in_stock"] == 1].groupby(["platform", "sku_id"])
    rate = selling["units"].mean().rename("rate")
    price = selling["price"].mean().rename("unit_price")
    days_out = out_rows.groupby(["platform", "sku_id"]).size().rename("days_out")
    table = pd.concat([days_out, rate, price], axis=1, join="inner").fillna(0.0)
    table["days_out"] = table["days_out"].astype(int)
    table["lost_units"] = table["days_out"] * table["rate"]
    table["lost_gmv"] = table["lost_units"] * table["unit_price"]
    table = table.reset_index().sort_values("lost_gmv", ascending=False, kind="stable")
    return table[columns].reset_index(drop=True)


def push_list(inputs: Inputs, section: Section) -> None:
    """The selection champion's ranking as of the period's last day, for a period as long."""
    words, bundle = inputs.words, inputs.champions.selection
    if bundle is None:
        section.sentences.append(words("s_no_selection", why=inputs.champions.missing.get("selection", "")))
        return
    # one list across the brand's platforms, scored from the forecast champion as of the period's end
    scored = bundle.with_history(inputs.history_until(inputs.period.end)).score(
        inputs.period.end,
        inputs.period.days,
        top_k=PUSH_LIST,
        scope="brand",
        forecast=inputs.forecast_at_end,
    )
    table = scored.drop(columns="reasons").copy()
    for i in range(3):
        table[f"reason_{i + 1}"] = [_reason(r[i]) if len(r) > i else "" for r in scored["reasons"]]
    section.tables["push_list"] = table.reset_index(drop=True)
    best = table.iloc[0]
    section.numbers["push_top_expected_revenue"] = float(best["expected_revenue"])
    section.sentences.append(
        words(
            "s_push",
            sku=best["sku_id"],
            platform=best["platform"],
            revenue=money(best["expected_revenue"]),
            days=inputs.period.days,
            reason=best["reason_1"] or "-",
        )
    )


def _reason(reason: dict) -> str:
    return ("+ " if reason.get("direction") == "up" else "- ") + str(reason.get("text", ""))
