"""Forecast accuracy as the M5 competition defined it, plus WAPE, pinball loss and interval coverage.

* WAPE = sum |y - f| / sum |y| (volume-weighted; what planners feel).
* MASE = mean |y - f| / mean |y_t - y_{t-1}| over the training history from the first non-zero sale.
* RMSSE (M5) = sqrt( mean (y - f)^2 / mean (y_t - y_{t-1})^2 ), the denominator again the in-sample
  one-step naive MSE counted from the series' first non-zero sale.
* WRMSSE (M5) = (1 / L) sum over the L hierarchy levels of sum_i w_i RMSSE_i, where w_i is the
  series' share of its level's revenue over the last 28 days of the training history. Levels here:
  SKU (platform x sku_id), category, platform, brand (each level's weights sum to 1).
* pinball(q) = mean max(q (y - f_q), (q - 1)(y - f_q)); coverage = share of y inside [lower, upper].

Series whose scale is 0 or undefined (fewer than two points after the first sale, or constant)
have no RMSSE/MASE; WRMSSE renormalises the weights over the series that have one, and says so
through `n_scored`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

LEVELS: dict[str, list[str]] = {
    "sku": ["platform", "sku_id"],
    "category": ["category"],
    "platform": ["platform"],
    "brand": [],
}
WEIGHT_DAYS = 28


def wape(actual: np.ndarray, forecast: np.ndarray) -> float:
    actual, forecast = np.asarray(actual, float), np.asarray(forecast, float)
    total = np.abs(actual).sum()
    return float(np.abs(actual - forecast).sum() / total) if total > 0 else float("nan")


def naive_scale(history: np.ndarray, power: int = 2) -> float:
    """Mean |y_t - y_{t-1}|^power over the history from its first non-zero value (M5's denominator)."""
    history = np.asarray(history, float)
    nonzero = np.flatnonzero(history != 0)
    if not len(nonzero):
        return float("nan")
    trimmed = history[nonzero[0] :]
    if len(trimmed) < 2:
        return float("nan")
    scale = float(np.mean(np.abs(np.diff(trimmed)) ** power))
    return scale if scale > 0 else float("nan")


def mase(actual: np.ndarray, forecast: np.ndarray, history: np.ndarray) -> float:
    error = float(np.mean(np.abs(np.asarray(actual, float) - np.asarray(forecast, float))))
    return error / naive_scale(history, 1)


def rmsse(actual: np.ndarray, forecast: np.ndarray, history: np.ndarray) -> float:
    error = float(np.mean((np.asarray(actual, float) - np.asarray(forecast, float)) ** 2))
    return float(np.sqrt(error / naive_scale(history, 2)))


def pinball(actual: np.ndarray, forecast: np.ndarray, q: float) -> float:
    diff = np.asarray(actual, float) - np.asarray(forecast, float)
    return float(np.mean(np.maximum(q * diff, (q - 1) * diff)))


def coverage(actual: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> float:
    actual = np.asarray(actual, float)
    return float(np.mean((actual >= np.asarray(lower, float)) & (actual <= np.asarray(upper, float))))


# --------------------------------------------------------------------------------- hierarchy
def level_history(history: pd.DataFrame, level: str) -> pd.DataFrame:
    """Training history summed to a level: keys, date, units, revenue (a 'series' column keys it)."""
    keys = LEVELS[level]
    summed = history.groupby([*keys, "date"], sort=True)[["units", "revenue"]].sum().reset_index()
    summed["series"] = _series_label(summed, keys)
    return summed


def _series_label(frame: pd.DataFrame, keys: list[str]) -> pd.Series:
    if not keys:
        return pd.Series("total", index=frame.index, dtype=str)
    label = frame[keys[0]].astype(str)
    for key in keys[1:]:
        label = label + "|" + frame[key].astype(str)
    return label


def series_scales(level_hist: pd.DataFrame) -> pd.DataFrame:
    """Per series of a level: MASE and RMSSE scales, and its revenue over the last 28 days (M5 weight)."""
    last_day = level_hist["date"].max()
    recent = level_hist["date"] > last_day - pd.Timedelta(days=WEIGHT_DAYS)
    ordered = level_hist.sort_values(["series", "date"])
    by_series = ordered.groupby("series", sort=False)
    # M5: the scale counts from the series' first non-zero sale; a diff needs both days inside it
    started = (ordered["units"] != 0).astype(int).groupby(ordered["series"], sort=False).cummax().astype(bool)
    previous = started.groupby(ordered["series"], sort=False).shift(1, fill_value=False).astype(bool)
    diff = by_series["units"].diff()
    valid = started & previous & diff.notna()
    steps = pd.DataFrame({"series": ordered["series"], "abs": diff.abs(), "sq": diff**2}).loc[valid]
    means = steps.groupby("series", sort=False)[["abs", "sq"]].mean()
    scales = pd.DataFrame(index=pd.Index(ordered["series"].unique(), name="series"))
    scales["scale_abs"] = means["abs"].reindex(scales.index)
    scales["scale_sq"] = means["sq"].reindex(scales.index)
    scales = scales.where(scales > 0)  # a constant series has no scale
    revenue = level_hist.loc[recent].groupby("series")["revenue"].sum()
    scales["revenue"] = revenue.reindex(scales.index).fillna(0.0)
    total = scales["revenue"].sum()
    scales["weight"] = scales["revenue"] / total if total > 0 else 1.0 / len(scales)
    return scales


def level_scores(test: pd.DataFrame, forecast_column: str, scales: pd.DataFrame) -> pd.DataFrame:
    """Per series of a level: MASE, RMSSE and M5 weight; `test` has series, actual and the forecast."""
    error = test["actual"].to_numpy(float) - test[forecast_column].to_numpy(float)
    frame = pd.DataFrame({"series": test["series"].to_numpy(), "abs": np.abs(error), "sq": error**2})
    means = frame.groupby("series", sort=False)[["abs", "sq"]].mean()
    joined = means.join(scales, how="left")
    joined["mase"] = joined["abs"] / joined["scale_abs"]
    joined["rmsse"] = np.sqrt(joined["sq"] / joined["scale_sq"])
    return joined[["mase", "rmsse", "weight"]]


def wrmsse_from_levels(per_level: dict[str, pd.DataFrame]) -> float:
    """M5's WRMSSE: mean over levels of the weight-averaged RMSSE (weights renormalised over scored
    series)."""
    values = []
    for scores in per_level.values():
        scored = scores.dropna(subset=["rmsse"])
        weight = scored["weight"].sum()
        if weight <= 0 or scored.empty:
            continue
        values.append(float((scored["rmsse"] * scored["weight"]).sum() / weight))
    return float(np.mean(values)) if values else float("nan")


def aggregate_to_level(test: pd.DataFrame, level: str, value_columns: list[str]) -> pd.DataFrame:
    """Backtest rows summed to a level per date (means add up exactly); `event` = majority of rows."""
    keys = LEVELS[level]
    grouped = test.groupby([*keys, "date"], sort=False)
    # min_count=1: a series a member did not forecast stays NaN instead of summing to 0
    summed = grouped[value_columns].sum(min_count=1)
    if "event" in test.columns:
        summed["event"] = grouped["event"].mean() >= 0.5
    summed = summed.reset_index()
    summed["series"] = _series_label(summed, keys)
    return summed
