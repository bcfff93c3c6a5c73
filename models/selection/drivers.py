"""Reasons an operator reads, built from what drives the forecast for the push period.

Every SKU's first reason is the forecast itself (expected revenue with its p10-p90 range at the
planned price). The next ones are the drivers that move this SKU most, each with a signed size on
a log scale so they can be compared: the planned discount or price, the event's expected lift over
recent sales, the recent trend, the stock-out risk, the margin (where costs are known) and, when
the brand's correction is on, how far it moved the SKU. A new SKU says it is judged from
its category and price band.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from daiyun.features.selection_frame import EVENT_LABELS
from daiyun.models.selection.correction import UNAVAILABLE_STOCKOUT_RATE

BANDS = {0: "low", 1: "middle", 2: "high"}


def _money(value: float) -> str:
    return f"{value / 1000:,.1f}k" if abs(value) >= 10_000 else f"{value:,.0f}"


def _span(days: int, freq: str) -> str:
    return f"{max(1, round(days / 7))} weeks" if freq == "W" else f"{days} days"


def _number(value) -> float | None:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(value) else value


def _reason(feature: str, value, contribution: float, text: str) -> dict:
    value = round(value, 4) if isinstance(value, float) else value
    return {"feature": feature, "value": value, "contribution": round(float(contribution), 4),
            "direction": "up" if contribution >= 0 else "down", "text": text}


def _headline(row: dict, horizon_days: int, freq: str, group_median: float) -> dict:
    revenue = float(row["expected_revenue"])
    contribution = math.log((revenue + 1.0) / (group_median + 1.0))
    text = (f"forecast to sell {_money(revenue)} (p10 {_money(row['revenue_p10'])} - p90 "
            f"{_money(row['revenue_p90'])}) over the next {_span(horizon_days, freq)} "
            f"at a planned price of {row['planned_price']:,.2f}")
    return _reason("forecast_revenue", revenue, contribution, text)


def _drivers(row: dict, horizon_days: int, freq: str, margin_mean: float) -> list[dict]:
    out = []
    periods = max(float(row.get("periods") or 1), 1.0)
    promo_days = float(row.get("promo_days") or 0)
    regular, planned = _number(row.get("regular_price")), _number(row.get("planned_price"))
    if promo_days > 0 and regular and planned is not None:
        discount = 1.0 - planned / regular
        share = promo_days / periods
        days = "weeks" if freq == "W" else "days"
        out.append(_reason("planned_discount", discount, share * max(discount, 0.05) * 4,
                           f"planned discount {discount:.0%} on {promo_days:.0f} of {periods:.0f} {days}"
                           f" (price {planned:,.2f} vs regular {regular:,.2f})"))
    recent = _number(row.get("rev_rate_28d"))
    if recent is not None:
        rate = float(row["expected_revenue"]) / periods
        lift = (rate + 1.0) / (recent + 1.0)
        event = row.get("horizon_event") or ""
        share = _number(row.get("horizon_event_share")) or 0.0
        if event and share > 0:
            text = (f"the forecast expects {lift:.1f}x its last-4-week sales rate, with "
                    f"{EVENT_LABELS.get(event, event)} in {share:.0%} of the period")
        else:
            text = f"the forecast expects {lift:.1f}x its last-4-week sales rate"
        out.append(_reason("event_lift", lift, math.log(lift), text))
    trend = _number(row.get("trend_7_28"))
    if trend is not None:
        word = "rising" if trend >= 1 else "falling"
        out.append(_reason("recent_trend", trend, math.log(max(trend, 1e-3)),
                           f"recent sales {word}: last week at {trend:.1f}x its 4-week rate"))
    stockout = _number(row.get("stockout_rate_91d"))
    recent = _number(row.get("stockout_rate_28d"))
    if recent is not None and recent >= UNAVAILABLE_STOCKOUT_RATE:
        out.append(_reason("out_of_stock", recent, -10.0,
                           f"out of stock every day of the last {_span(28, freq)}: not one to push until "
                           "restocked (the forecast is of demand, so it still expects sales)"))
    elif stockout is not None and stockout > 0:
        out.append(_reason("stockout_risk", stockout, -2.0 * stockout,
                           f"stock-out risk: out of stock {stockout:.0%} of the last {_span(91, freq)}"))
    margin = _number(row.get("margin"))
    if margin is not None and not math.isnan(margin_mean):
        out.append(_reason("margin", margin, margin - margin_mean,
                           f"margin {margin:.0%} (platform average {margin_mean:.0%})"))
    correction = _number(row.get("correction"))
    if correction is not None and abs(correction) > 1e-6:
        out.append(_reason("correction", correction, correction,
                           f"moved {'up' if correction > 0 else 'down'} {abs(math.expm1(correction)):.0%} "
                           "by the brand's correction (last period's sales and others weighed in; it beat "
                           "forecast-only ranking in the backtest)"))
    return out


def _new_sku(row: dict) -> dict:
    band = _number(row.get("price_band"))
    band_word = BANDS.get(int(band), "unknown") if band is not None else "unknown"
    age = _number(row.get("age_days")) or 0.0
    return _reason("new_sku", age, 0.0,
                   f"new SKU ({age:.0f} days on sale): judged from its category ({row.get('category')}) "
                   f"and {band_word} price band on {row.get('platform')}")


def push_reasons(rows: pd.DataFrame, horizon_days: int, freq: str, n: int = 3) -> list[list[dict]]:
    """Reasons for every row of the push list (rows carry the push numbers and the selection features)."""
    medians = rows.groupby("platform")["expected_revenue"].transform("median").to_numpy(float)
    margins = (rows["margin"].groupby(rows["platform"]).transform("mean").to_numpy(float)
               if "margin" in rows else np.full(len(rows), np.nan))
    out = []
    for position, row in enumerate(rows.to_dict("records")):
        reasons = []
        if bool(row.get("new_sku")) or bool(row.get("cold_start")):
            reasons.append(_new_sku(row))
        reasons.append(_headline(row, horizon_days, freq, medians[position]))
        drivers = sorted(_drivers(row, horizon_days, freq, margins[position]),
                         key=lambda r: -abs(r["contribution"]))
        reasons.extend(drivers[: max(0, n - len(reasons))])
        out.append(reasons)
    return out
