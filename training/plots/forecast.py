"""Forecast plots for MLflow and notebooks (matplotlib, Agg): events in the backtest, feature importance."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from scipy.stats import norm  # noqa: E402

from daiyun.features.forecast_terms import quantile_column  # noqa: E402


def _brand_band(window: pd.DataFrame, lo: str, hi: str, q_lo: float, q_hi: float, rho: float) -> pd.DataFrame:
    """Brand totals per date; the band sums series spreads with the backtest's error correlation."""
    sigma = (window[hi] - window[lo]) / (norm.ppf(q_hi) - norm.ppf(q_lo))
    daily = (
        window.assign(_s=sigma, _s2=sigma**2)
        .groupby("date")
        .agg(actual=("actual", "sum"), forecast=("ensemble", "sum"), _s=("_s", "sum"), _s2=("_s2", "sum"))
    )
    spread = np.sqrt((1 - rho) * daily["_s2"] + rho * daily["_s"] ** 2)
    daily["lower"] = np.clip(daily["forecast"] + norm.ppf(q_lo) * spread, 0, None)
    daily["upper"] = daily["forecast"] + norm.ppf(q_hi) * spread
    return daily


def event_plot(result: object, last_events: int = 2) -> plt.Figure | None:
    """Brand-total actuals vs the out-of-sample ensemble and its interval, for the backtest windows
    holding the last `last_events` event peaks (falls back to the latest windows)."""
    predictions = result.predictions
    qs = result.config.quantiles
    if predictions.empty or len(qs) < 2:
        return None
    lo, hi = quantile_column(min(qs)), quantile_column(max(qs))
    event_share = predictions.groupby("origin")["calendar_event"].mean().sort_index()
    chosen = [o for o in event_share.index[::-1] if event_share[o] > 0.2][:last_events]
    if not chosen:
        chosen = list(event_share.index[::-1][:last_events])
    chosen = sorted(chosen)
    figure, axes = plt.subplots(1, len(chosen), figsize=(6 * len(chosen), 3.6), squeeze=False)
    for axis, origin in zip(axes[0], chosen, strict=True):
        window = predictions.loc[predictions["origin"] == origin]
        daily = _brand_band(window, lo, hi, min(qs), max(qs), result.correlation)
        axis.fill_between(
            daily.index,
            daily["lower"],
            daily["upper"],
            alpha=0.25,
            label=f"{100 * (max(qs) - min(qs)):.0f}% interval",
        )
        axis.plot(daily.index, daily["forecast"], label="ensemble forecast")
        axis.plot(daily.index, daily["actual"], color="black", marker=".", lw=1, label="actual")
        axis.set_title(f"{result.brand}: forecast from {pd.Timestamp(origin):%Y-%m-%d}")
        axis.set_ylabel("units (brand total)")
        axis.tick_params(axis="x", rotation=30)
        axis.legend(fontsize=8)
    figure.tight_layout()
    return figure


def importance_plot(importance: pd.Series, top: int = 20) -> plt.Figure:
    """LightGBM gain importance of the top features."""
    shown = importance.sort_values(ascending=True).tail(top)
    figure, axis = plt.subplots(figsize=(6, 0.28 * len(shown) + 1))
    axis.barh(shown.index, shown.to_numpy())
    axis.set_xlabel("total gain")
    axis.set_title("LightGBM feature importance")
    figure.tight_layout()
    return figure
