"""Why a SKU ranks where it does, in an operator's words.

Each reason is one feature's LightGBM contribution (`pred_contrib=True`) to the SKU's score,
minus that feature's average contribution over the SKUs it competes with (same platform and
as_of): a reason says what sets this SKU apart, not what every SKU shares. The three largest
differences, either sign, are rendered as sentences such as "sold 3.1x its normal rate in the
last 618".
"""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd

from daiyun.features.selection_frame import EVENT_LABELS

GROUP = ["platform", "as_of"]
# Features that say the same thing in other words; a SKU's reasons take one of each family.
FAMILIES = {
    "rev_rate_7d": "level", "rev_rate_28d": "level", "rev_rate_91d": "level", "rev_rate_365d": "level",
    "rev_rel_28d": "level", "rev_rel_91d": "level", "units_rate_28d": "level",
    "rev_rate_last_period": "level", "rev_rate_4_periods": "level", "category_share_28d": "level",
    "trend_7_28": "trend", "trend_28_91": "trend",
    "price_28d": "price", "list_price": "price", "price_vs_category": "price", "price_band": "price",
    "discount_28d": "discount", "discount_91d": "discount", "discount_vs_category": "discount",
    "promo_share_91d": "promotion", "promo_uplift_365d": "promotion",
    "planned_promo_share": "plan", "planned_discount": "plan",
    "uplift_horizon_event": "event", "horizon_event_share": "event", "uplift_last_event": "last_event",
}


MISSING = {
    "rev_rate_last_year_horizon": "not on sale in the same period last year",
    "uplift_last_event": "not on sale during the last event",
    "uplift_horizon_event": "not on sale during this event last time",
    "promo_uplift_365d": "never promoted in the last year",
    "margin": "unit cost unknown",
    "forecast_revenue": "no sales forecast available",
}


def _money(value: float) -> str:
    if value >= 10_000:
        return f"{value / 1000:,.0f}k"
    return f"{value:,.0f}"


def _event(name: str) -> str:
    return EVENT_LABELS.get(name, name.replace("_", " ")) if name else "last event"


def _span(days: int, weekly: bool) -> str:
    return f"{max(1, round(days / 7))} weeks" if weekly else f"{days} days"


def _ratio(value: float) -> str:
    return f"{value:.1f}x"


def describe(feature: str, row: pd.Series, context: dict) -> str:
    """One sentence about `feature` for this SKU; `context` holds group averages and the horizon."""
    value = row.get(feature)
    weekly = context.get("freq") == "W"
    per = "a week" if weekly else "a day"
    horizon_days = int(context.get("horizon_days", 30))
    group_mean = context.get("group_mean", {}).get(feature, np.nan)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING.get(feature, f"no {feature.replace('_', ' ')} on record")
    window = re.fullmatch(r"rev_rate_(\d+)d", feature)
    if window:
        days = int(window.group(1))
        text = f"sold {_money(value)} {per} over the last {_span(days, weekly)}"
        if group_mean and group_mean > 0:
            text += f", {_ratio(value / group_mean)} the platform's average SKU"
        return text
    periods = int(row.get("horizon_periods", 1) or 1)
    if feature == "rev_rate_last_period":
        return f"sold {_money(value * periods)} in the last {_span(horizon_days, weekly)}"
    if feature == "rev_rate_4_periods":
        span = _span(horizon_days, weekly)
        return f"averaged {_money(value * periods)} per {span} over the last four such periods"
    if feature == "rev_rate_last_year_horizon":
        return f"sold {_money(value * periods)} in the same {_span(horizon_days, weekly)} last year"
    if feature == "units_rate_28d":
        return f"sold {value:,.1f} units {per} over the last {_span(28, weekly)}"
    if feature in ("rev_rel_28d", "rev_rel_91d"):
        days = 28 if feature == "rev_rel_28d" else 91
        return f"sells {_ratio(value)} the platform's average SKU (last {_span(days, weekly)})"
    if feature in ("trend_7_28", "trend_28_91"):
        short, long = (7, 28) if feature == "trend_7_28" else (28, 91)
        word = "rising" if value > 1.05 else "falling" if value < 0.95 else "steady"
        return (
            f"sales {word}: last {_span(short, weekly)} at {_ratio(value)} "
            f"its {_span(long, weekly)} rate"
        )
    if feature == "price_28d":
        return f"sells at {_money(value)} a unit"
    if feature == "list_price":
        return f"list price {_money(value)}"
    if feature in ("discount_28d", "discount_91d"):
        days = 28 if feature == "discount_28d" else 91
        return f"average discount {value:.0%} over the last {_span(days, weekly)}"
    if feature == "discount_vs_category":
        mine = row.get("discount_28d", np.nan)
        category = mine - value
        if not math.isnan(mine) and mine < 0.005 and category > 0.005:
            return f"no discount while its category averages {category:.0%}"
        if category and category > 0.005 and not math.isnan(category):
            change = mine / category - 1
            return f"discount depth {abs(change):.0%} {'above' if change >= 0 else 'below'} its category"
        side = "above" if value >= 0 else "below"
        return f"discount {abs(value) * 100:.0f} points {side} its category average"
    if feature == "promo_share_91d":
        return f"on promotion {value:.0%} of the last {_span(91, weekly)}"
    if feature == "promo_uplift_365d":
        return f"sells {_ratio(value)} its normal rate when on promotion (last year)"
    if feature == "uplift_last_event":
        return f"sold {_ratio(value)} its normal rate in the last {_event(row.get('last_event', ''))}"
    if feature == "uplift_horizon_event":
        return f"sold {_ratio(value)} its normal rate in the last {_event(row.get('horizon_event', ''))}"
    if feature == "horizon_event_share":
        event = _event(row.get("horizon_event", ""))
        more = "more" if context.get("direction", "up") == "up" else "less"
        return f"gains {more} than most SKUs from {event} ({value:.0%} of the coming period)"
    if feature == "planned_promo_share":
        if value <= 0:
            return "no promotion planned for the coming period"
        return f"promotion planned on {value:.0%} of the coming period"
    if feature == "planned_discount":
        return f"planned discount {value:.0%}" if value > 0 else "no planned discount"
    if feature == "margin":
        text = f"margin {value:.0%}"
        return text + (f" (platform average {group_mean:.0%})" if not math.isnan(group_mean) else "")
    if feature == "stockout_rate_91d":
        return f"out of stock {value:.0%} of the last {_span(91, weekly)}"
    if feature == "age_days":
        return f"on sale for {value:,.0f} days"
    if feature == "category_share_28d":
        return f"takes {value:.0%} of its category's revenue on this platform"
    if feature == "price_vs_category":
        return f"priced at {_ratio(value)} its category's median"
    if feature == "price_band":
        band = {0: "low", 1: "middle", 2: "high"}.get(int(value), "unknown")
        return f"in the {band} price band of its category"
    if feature == "forecast_revenue":
        return f"forecast to sell {_money(value)} over the next {_span(horizon_days, weekly)}"
    if feature == "platform":
        return f"sells on {value}"
    if feature == "category":
        return f"in category {value}"
    return f"{feature.replace('_', ' ')} = {value}"


def top_reasons(
    contributions: pd.DataFrame,
    frame: pd.DataFrame,
    n: int = 3,
    horizon_days: int = 30,
    freq: str = "D",
) -> list[list[dict]]:
    """For each row of `frame`: the `n` features that move its score most against its group."""
    features = [c for c in contributions.columns if c != "bias"]
    keys = [k for k in GROUP if k in frame.columns]
    if keys:
        group_avg = contributions[features].groupby([frame[k] for k in keys]).transform("mean").to_numpy()
    else:
        group_avg = contributions[features].mean().to_numpy()[None, :]
    relative = contributions[features] - group_avg
    numeric = [f for f in features if f in frame.columns and pd.api.types.is_numeric_dtype(frame[f])]
    means = frame[numeric].groupby(frame["platform"]).transform("mean") if numeric else pd.DataFrame()
    out = []
    for position, index in enumerate(frame.index):
        row = frame.loc[index]
        moves = relative.iloc[position].to_numpy()
        order, seen = [], set()
        for j in np.argsort(-np.abs(moves), kind="stable"):
            family = FAMILIES.get(features[j], features[j])
            if family in seen:
                continue
            seen.add(family)
            order.append(j)
            if len(order) == n:
                break
        context = {
            "freq": freq,
            "horizon_days": horizon_days,
            "group_mean": means.loc[index].to_dict() if len(means.columns) else {},
        }
        reasons = []
        for j in order:
            feature = features[j]
            context["direction"] = "up" if moves[j] >= 0 else "down"
            value = row.get(feature)
            if isinstance(value, (np.floating, float)):
                value = None if math.isnan(float(value)) else round(float(value), 4)
            elif isinstance(value, np.integer):
                value = int(value)
            elif value is not None and not isinstance(value, (int, float, str, bool)):
                value = str(value)
            reasons.append({
                "feature": feature,
                "value": value,
                "contribution": round(float(moves[j]), 4),
                "direction": "up" if moves[j] >= 0 else "down",
                "text": describe(feature, row, context),
            })
        out.append(reasons)
    return out


def new_sku_reason(row: pd.Series, freq: str = "D") -> list[dict]:
    """New SKUs are not ranked by their own (thin) history; say so and what they were scored from."""
    band = {0: "low", 1: "middle", 2: "high"}.get(int(row["price_band"]), "unknown") if not pd.isna(
        row.get("price_band")
    ) else "unknown"
    age = float(row.get("age_days", 0) or 0)
    return [{
        "feature": "new_sku",
        "value": age,
        "contribution": 0.0,
        "direction": "up",
        "text": (
            f"new SKU ({age:.0f} days on sale): scored from {row.get('category', 'its category')} SKUs "
            f"in the {band} price band on {row.get('platform')}"
        ),
    }]
