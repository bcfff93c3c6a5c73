"""The push list's one number: what the forecast expects each SKU to sell over the push period.

expected_revenue = sum over the period of (forecast mean units x planned price), where the planned
price is the plan's promotion price (or list price x (1 - planned discount)) on promotion days and
the SKU's regular price otherwise. Its p10/p90 come from the forecast's own daily quantiles: each
day's spread (p90 - p10, in money) is summed over the period the way the forecast sums spreads
across series, with `correlation` between independent (0) and fully correlated (1) days. The push
list uses 1: one SKU's forecast errors are mostly a wrong level, high (or low) on every day of the
period together, and treating 30 days as independent would shrink the band by about sqrt(30).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from daiyun.features.forecast_frame import promotion_days
from daiyun.features.forecast_terms import DEFAULT_QUANTILES

Z90 = 1.2815515655446004  # standard normal 90% quantile: p90 - p10 = 2 * Z90 * sigma
PUSH_COLUMNS = ["platform", "sku_id", "expected_units", "expected_revenue", "revenue_p10", "revenue_p90",
                "planned_price", "regular_price", "promo_days", "periods", "cold_start"]


def push_period(as_of: pd.Timestamp, horizon_days: int) -> tuple[pd.Timestamp, pd.Timestamp]:
    """First and last day of the push period that follows `as_of`."""
    as_of = pd.Timestamp(as_of).normalize()
    return as_of + pd.Timedelta(days=1), as_of + pd.Timedelta(days=int(horizon_days))


def _row_keys(rows: pd.DataFrame) -> pd.DataFrame:
    return rows[["platform", "sku_id", "date"]].astype({"platform": str, "sku_id": str})


def _regular_prices(keys: pd.DataFrame, regular_price: pd.DataFrame) -> np.ndarray:
    return keys.merge(regular_price, on=["platform", "sku_id"], how="left")["regular_price"].to_numpy(float)


def _plan_prices(keys: pd.DataFrame, regular: np.ndarray, plan: pd.DataFrame | None, freq: str) -> np.ndarray:
    """`regular` with the plan's promotion days priced in (the price wins over the discount)."""
    if plan is None or len(plan) == 0:
        return regular
    days = promotion_days(plan, keys["date"].min(), keys["date"].max(), freq)
    if days.empty:
        return regular
    planned = keys.merge(days, on=["platform", "sku_id", "date"], how="left")
    discount = planned["discount"].to_numpy(float)
    explicit = planned["price"].to_numpy(float)
    price = np.where(np.isnan(discount), regular, regular * (1.0 - np.nan_to_num(discount)))
    return np.where(np.isnan(explicit), price, explicit)


def planned_prices(
    rows: pd.DataFrame, regular_price: pd.DataFrame, plan: pd.DataFrame | None, freq: str = "D"
) -> np.ndarray:
    """Price of each (platform, sku_id, date) row under the plan; the regular price where none is planned.

    `regular_price` has platform, sku_id, regular_price. A plan row may give a price, a discount
    off the regular price, or both (the price wins, as in the forecast's own plan handling).
    """
    keys = _row_keys(rows)
    return _plan_prices(keys, _regular_prices(keys, regular_price), plan, freq)


def expected_revenue(
    daily: pd.DataFrame,
    regular_price: pd.DataFrame,
    plan: pd.DataFrame | None,
    freq: str = "D",
    correlation: float = 0.0,
) -> pd.DataFrame:
    """Per (platform, sku_id): the period's expected units and revenue with p10/p90, from daily forecast rows.

    `daily` is the forecast's sku-level answer (platform, sku_id, date, mean, p10, p90[, cold_start]).
    """
    daily = daily.reset_index(drop=True)
    keys = _row_keys(daily)
    regular = _regular_prices(keys, regular_price)  # once: the planned price and the promo flag both read it
    price = np.nan_to_num(_plan_prices(keys, regular, plan, freq), nan=0.0)
    mean = daily["mean"].to_numpy(float)
    sigma = (daily["p90"].to_numpy(float) - daily["p10"].to_numpy(float)) / (2 * Z90) * price
    on_promo = price < np.nan_to_num(regular, nan=0.0) - 1e-9  # a day the plan prices below regular
    work = pd.DataFrame({
        "platform": keys["platform"], "sku_id": keys["sku_id"],
        "units": mean, "revenue": mean * price, "sigma": sigma, "sigma2": sigma**2, "price": price,
        "promo": on_promo.astype(float),
        "cold": daily["cold_start"].astype(float) if "cold_start" in daily else 0.0,
    })
    summed = work.groupby(["platform", "sku_id"], sort=False).agg(
        expected_units=("units", "sum"), expected_revenue=("revenue", "sum"), _sigma=("sigma", "sum"),
        _sigma2=("sigma2", "sum"), planned_price=("price", "mean"), promo_days=("promo", "sum"),
        periods=("units", "size"), cold_start=("cold", "max"),
    ).reset_index()
    rho = float(np.clip(correlation, 0.0, 1.0))
    spread = np.sqrt((1 - rho) * summed["_sigma2"] + rho * summed["_sigma"] ** 2)
    summed["revenue_p10"] = np.clip(summed["expected_revenue"] - Z90 * spread, 0.0, None)
    summed["revenue_p90"] = summed["expected_revenue"] + Z90 * spread
    summed["cold_start"] = summed["cold_start"] > 0
    summed = summed.merge(regular_price, on=["platform", "sku_id"], how="left")
    return summed[PUSH_COLUMNS]


def forecast_push_numbers(
    forecast,
    as_of: pd.Timestamp,
    horizon_days: int,
    regular_price: pd.DataFrame,
    platforms: list[str] | None = None,
) -> pd.DataFrame:
    """Ask a forecast bundle (its public `forecast()`) for the push period and sum it per SKU.

    The plan is the forecast bundle's own stored plan (`forecast.plan`): the same one `/forecast`
    and `daiyun forecast` use when no scenario is given, so the numbers match theirs.
    """
    start, end = push_period(as_of, horizon_days)
    daily = forecast.forecast(start, end, quantiles=DEFAULT_QUANTILES, platforms=platforms)
    plan = getattr(forecast, "plan", None)
    return expected_revenue(daily, regular_price, plan, forecast.freq, correlation=1.0)
