"""Long-tail pooling: which series are too sparse to fit alone, their (platform, category) pools, and shares.

A series that sells on few days (or has little history) gives Prophet nothing but noise to fit. Such
series are summed into one pool per (platform, category); the pool is forecast, and each member gets
its share of the pool's units over the recent history. Shares of a pool sum to 1, so the members'
forecasts sum to the pool forecast.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

SERIES_KEYS = ["platform", "sku_id"]
POOL_KEYS = ["platform", "category"]


def series_profile(history: pd.DataFrame) -> pd.DataFrame:
    """One row per series: category, days of history, in-stock days, share of in-stock days with no sale."""
    in_stock = history["in_stock"].astype(bool)
    selling_day = history["units"].gt(0) & in_stock
    frame = history.assign(_in_stock=in_stock, _selling=selling_day)
    profile = frame.groupby(SERIES_KEYS, sort=True).agg(
        category=("category", "first"),
        first_date=("date", "min"),
        last_date=("date", "max"),
        in_stock_days=("_in_stock", "sum"),
        selling_days=("_selling", "sum"),
    )
    profile["history_days"] = (profile["last_date"] - profile["first_date"]).dt.days + 1
    with np.errstate(divide="ignore", invalid="ignore"):
        profile["zero_share"] = np.where(
            profile["in_stock_days"] > 0, 1.0 - profile["selling_days"] / profile["in_stock_days"], 1.0
        )
    return profile.reset_index()


def intermittent_series(profile: pd.DataFrame, zero_share: float, min_history_days: int) -> pd.DataFrame:
    """The series to pool: mostly zero days on sale, or too short a history to learn a season from."""
    sparse = profile["zero_share"] > zero_share
    short = profile["history_days"] < min_history_days
    pooled = profile.loc[sparse | short, SERIES_KEYS + ["category"]].copy()
    pooled["reason"] = np.where(sparse[sparse | short], "intermittent", "short history")
    return pooled.reset_index(drop=True)


def pool_history(history: pd.DataFrame) -> pd.DataFrame:
    """Per (platform, category, date): summed units of in-stock members, mean promotion inputs.

    A day on which no member was in stock is a day with no information (in_stock 0), not zero demand.
    """
    in_stock = history["in_stock"].astype(bool)
    frame = history.assign(
        _units=history["units"].where(in_stock, 0.0),
        _in_stock=in_stock.astype(int),
    )
    pooled = frame.groupby(POOL_KEYS + ["date"], sort=True).agg(
        units=("_units", "sum"),
        discount=("discount", "mean"),
        on_promo=("on_promo", "mean"),
        in_stock=("_in_stock", "max"),
    )
    return pooled.reset_index()


def pool_shares(history: pd.DataFrame, recent_days: int = 90) -> pd.DataFrame:
    """Each member's share of its pool's units over the last `recent_days` (all history if the pool sold
    nothing then; equal shares if it never sold). Columns platform, sku_id, category, share."""
    end = history["date"].max()
    recent = history.loc[history["date"] > end - pd.Timedelta(days=recent_days)]
    members = history[SERIES_KEYS + ["category"]].drop_duplicates()
    recent_units = recent.groupby(SERIES_KEYS)["units"].sum()
    all_units = history.groupby(SERIES_KEYS)["units"].sum()
    members = members.assign(
        recent=members.set_index(SERIES_KEYS).index.map(recent_units).fillna(0.0).to_numpy(float),
        total=members.set_index(SERIES_KEYS).index.map(all_units).fillna(0.0).to_numpy(float),
    )
    shares = []
    for _, group in members.groupby(POOL_KEYS, sort=False):
        if group["recent"].sum() > 0:
            weight = group["recent"]
        elif group["total"].sum() > 0:
            weight = group["total"]
        else:
            weight = pd.Series(1.0, index=group.index)
        shares.append(weight / weight.sum())
    members["share"] = pd.concat(shares) if shares else pd.Series(dtype=float)
    return members[SERIES_KEYS + ["category", "share"]].reset_index(drop=True)
