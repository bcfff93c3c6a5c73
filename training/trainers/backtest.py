"""Rolling-origin backtest of the forecasters and baselines, on windows that include promotion peaks.

Origins (newest data first): the latest full window before the history ends, the day before the
last Double 11 presale, the day before the last 618 presale, then the Double 11 and 618 of the
year before... until `windows` origins fit. At each origin every member is refitted on the history
up to it and forecasts the next `horizon` periods with the prices and promotions that then
happened (the plan a planner would have entered). The ensemble weights and the interval
calibration of a window are learned on the *other* windows (cross-fitting), so the table's
ensemble and coverage numbers are out of sample.

    result = run_backtest(dataset, "beauty", BacktestConfig(windows=3, horizon=30))
    result.table          # model x level x days (all / event / normal): wape, mase, rmsse, ...
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace

import numpy as np
import pandas as pd

from daiyun.features.forecast_frame import STEP, brand_history, promo_extra_columns
from daiyun.features.forecast_terms import DEFAULT_QUANTILES, quantile_column
from daiyun.models.forecast.ensemble import EnsembleWeights
from daiyun.models.forecast.intervals import ConformalIntervals, series_labels
from daiyun.models.forecast.lgbm import calendar_tables, spans_a_year
from daiyun.models.forecast.members import BASELINE_NAMES, make_member
from daiyun.training.trainers.metrics import (
    LEVELS,
    aggregate_to_level,
    coverage,
    level_history,
    level_scores,
    pinball,
    series_scales,
    wape,
    wrmsse_from_levels,
)

EVENT_ORIGINS = (("double11", "presale"), ("618", "presale"))
ENSEMBLE = "ensemble"


@dataclass
class BacktestConfig:
    windows: int = 3
    horizon: int = 30
    members: tuple[str, ...] = ("lgbm", "prophet")
    baselines: tuple[str, ...] = BASELINE_NAMES
    lgbm_params: dict = field(default_factory=dict)
    prophet_params: dict = field(default_factory=dict)
    prophet_top_n: int = 30
    quantiles: tuple[float, ...] = DEFAULT_QUANTILES

    def key(self) -> str:
        """What makes two backtests comparable: windows, horizon (not the model's own settings)."""
        return f"windows={self.windows};horizon={self.horizon}"

    def as_dict(self) -> dict:
        return json.loads(json.dumps(asdict(self), default=str))


@dataclass
class BacktestResult:
    brand: str
    config: BacktestConfig
    origins: list[pd.Timestamp]
    predictions: pd.DataFrame
    table: pd.DataFrame
    weights: EnsembleWeights
    intervals: ConformalIntervals
    correlation: float
    models: list[str]

    def score(self, model: str = ENSEMBLE, metric: str = "wrmsse", days: str = "all") -> float:
        rows = self.table.loc[(self.table["model"] == model) & (self.table["days"] == days)]
        if metric == "wrmsse":
            rows = rows.loc[rows["level"] == "hierarchy"]
        else:
            rows = rows.loc[rows["level"] == "sku"]
        return float(rows[metric].iloc[0]) if len(rows) else float("nan")


# ------------------------------------------------------------------------------------ origins
def backtest_origins(
    history_end: pd.Timestamp,
    history_start: pd.Timestamp,
    windows: int,
    horizon: int,
    freq: str = "D",
    events: pd.DataFrame | None = None,
    market: str = "CN",
) -> list[pd.Timestamp]:
    """Up to `windows` origins, newest first in priority, returned in date order (see module doc).

    Markets without the built-in festivals (or histories too short for them) fall back to origins
    one window apart before the latest, so the cross-fitted weights and intervals stay out of sample.
    """
    from daiyun.features.calendar import event_windows

    step = STEP[freq]
    span = step * horizon
    latest = history_end - span
    earliest = history_start + step * (365 if freq == "D" else 52) // 2  # leave half a year to learn from
    candidates = [latest]
    phases = event_windows(history_start, history_end, events=events, market=market)
    phases = phases.loc[
        [(n, p) in EVENT_ORIGINS for n, p in zip(phases["name"], phases["phase"], strict=True)]
    ]
    for start in sorted(pd.to_datetime(phases["start"]), reverse=True):
        origin = pd.Timestamp(start) - pd.Timedelta(days=1)
        candidates.append(origin)
    candidates += [latest - span * k for k in range(1, windows + 1)]
    chosen: list[pd.Timestamp] = []
    for origin in candidates:
        if freq == "W":  # snap onto the weekly grid of the history
            origin = history_end - step * int(np.ceil((history_end - origin) / step))
        if origin < earliest or origin + span > history_end:
            continue
        if all(
            abs((origin - other).days) >= (horizon if freq == "D" else 7 * horizon) // 2 for other in chosen
        ):
            chosen.append(origin)
        if len(chosen) == windows:
            break
    if not chosen:
        raise ValueError(
            f"history {history_start:%Y-%m-%d}..{history_end:%Y-%m-%d} is too short for a "
            f"{horizon}-period backtest window"
        )
    return sorted(chosen)


# ---------------------------------------------------------------------------------------- run
def window_predictions(
    history: pd.DataFrame,
    origin: pd.Timestamp,
    config: BacktestConfig,
    freq: str,
    events: pd.DataFrame | None,
    calendar: dict,
    models: list[str],
    market: str = "CN",
    prices: str = "set",
) -> tuple[pd.DataFrame, dict]:
    """Fit every member on history <= origin; forecast the next horizon with the realised plan."""
    past = history.loc[history["date"] <= origin]
    end = origin + STEP[freq] * config.horizon
    known = past[["platform", "sku_id"]].drop_duplicates()
    future = (
        history.loc[(history["date"] > origin) & (history["date"] <= end)]
        .merge(known, on=["platform", "sku_id"], how="inner")
        .reset_index(drop=True)
    )
    frame = future[
        ["platform", "sku_id", "category", "date", "units", "in_stock", "price", "discount", "on_promo"]
    ].rename(columns={"units": "actual"})
    frame["origin"] = origin
    frame["h"] = ((frame["date"] - origin) / STEP[freq]).astype(int)
    fitted = {}
    # the plan: price, discount, on_promo and any extra promotion columns the history carries
    plan = ["platform", "sku_id", "date", "price", "discount", "on_promo", *promo_extra_columns(future)]
    for name in models:
        member = make_member(
            name, config.lgbm_params, config.prophet_params, config.prophet_top_n, market, prices
        )
        member.fit(past, events=events, freq=freq)
        frame[name] = member.predict(future[plan])[name].to_numpy(float)
        fitted[name] = member
    event = np.zeros(len(frame), dtype=bool)
    for platform, table in calendar.items():
        rows = frame["platform"].eq(platform).to_numpy()
        flags = table["is_event"].reindex(frame.loc[rows, "date"]).to_numpy(float)
        event[rows] = np.nan_to_num(flags) > 0.5
    frame["calendar_event"] = event
    frame["event"] = event | (frame["on_promo"].to_numpy(float) > 0.5)
    if "lgbm" in fitted:
        frame["cold_start"] = fitted["lgbm"].cold_start(frame[["platform", "sku_id", "date"]])
    return frame, fitted


def run_backtest(
    dataset: object,
    brand: str,
    config: BacktestConfig | None = None,
    progress: Callable[[str], None] | None = None,
    history: pd.DataFrame | None = None,
    on_window: Callable[[int, pd.DataFrame], None] | None = None,
) -> BacktestResult:
    """The rolling-origin backtest of one brand (see module docstring)."""
    config = config or BacktestConfig()
    mine = dataset.for_brand(brand)
    freq = mine.freq(brand)
    history = brand_history(dataset, brand) if history is None else history
    events = mine.events
    market = mine.market
    origins = backtest_origins(
        history["date"].max(), history["date"].min(), config.windows, config.horizon, freq, events, market
    )
    uses_trees = {"lgbm", "lgbm_recursive"} & set(config.members)
    if uses_trees and config.lgbm_params.get("year_position") is None:
        # the windows fit the model that will be served: week of year and month only where the
        # whole history spans a year, even in an early window that does not (a window's own span
        # would drop them there and weight and calibrate another model than the one refitted)
        year = spans_a_year(history["date"], freq)
        config = replace(config, lgbm_params={**config.lgbm_params, "year_position": year})
    models = [*config.members, *config.baselines]
    platforms = sorted(history["platform"].unique())
    calendar = calendar_tables(platforms, history["date"].min(), history["date"].max(), events, freq, market)
    pieces = []
    for k, origin in enumerate(origins):
        if progress:
            progress(f"{brand}: window {k + 1}/{len(origins)} from {origin:%Y-%m-%d}")
        frame, _ = window_predictions(
            history, origin, config, freq, events, calendar, models, market, mine.prices
        )
        pieces.append(frame)
        if on_window is not None:
            on_window(k, frame)
    predictions = pd.concat(pieces, ignore_index=True)
    predictions = predictions.loc[predictions["in_stock"] > 0].reset_index(drop=True)
    members = list(config.members) or list(config.baselines)
    weights, intervals, correlation = cross_fit(predictions, members, config)
    table = backtest_table(predictions, history, [*models, ENSEMBLE], config.quantiles)
    return BacktestResult(
        brand, config, origins, predictions, table, weights, intervals, correlation, [*models, ENSEMBLE]
    )


def cross_fit(
    predictions: pd.DataFrame, members: list[str], config: BacktestConfig
) -> tuple[EnsembleWeights, ConformalIntervals, float]:
    """Ensemble and interval columns for each window from the other windows; final fits on all."""
    qs = config.quantiles
    origins = predictions["origin"].unique()
    ensemble = np.full(len(predictions), np.nan)
    for origin in origins:
        test = (predictions["origin"] == origin).to_numpy()
        train = ~test if len(origins) > 1 else test
        weights = EnsembleWeights().fit(predictions.loc[train], members)
        ensemble[test] = weights.combine(predictions.loc[test])
    predictions[ENSEMBLE] = ensemble
    quantile_values = np.full((len(predictions), len(qs)), np.nan)
    series = series_labels(predictions)
    for origin in origins:
        test = (predictions["origin"] == origin).to_numpy()
        train = ~test if len(origins) > 1 else test
        calibration = ConformalIntervals().fit(
            predictions.loc[train, ENSEMBLE],
            predictions.loc[train, "actual"],
            predictions.loc[train, "h"],
            predictions.loc[train, "event"],
            series[train],
            predictions.loc[train, "origin"].to_numpy(),
        )
        quantile_values[test] = calibration.quantiles(
            predictions.loc[test, ENSEMBLE].to_numpy(),
            predictions.loc[test, "h"].to_numpy(),
            predictions.loc[test, "event"].to_numpy(),
            qs,
            series[test],
        )
    for j, q in enumerate(qs):
        predictions[quantile_column(q)] = quantile_values[:, j]
    final_weights = EnsembleWeights().fit(predictions, members)
    final_intervals = ConformalIntervals().fit(
        predictions[ENSEMBLE],
        predictions["actual"],
        predictions["h"],
        predictions["event"],
        series,
        predictions["origin"].to_numpy(),
    )
    return final_weights, final_intervals, error_correlation(predictions, final_intervals)


def error_correlation(predictions: pd.DataFrame, intervals: ConformalIntervals) -> float:
    """Average pairwise correlation of series errors, from how the brand total's error variance
    compares with the independent (sum of variances) and comonotone (square of summed sigmas) cases."""
    frame = predictions.assign(error=predictions["actual"] - predictions[ENSEMBLE])
    sigma = frame.groupby(["platform", "sku_id"])["error"].transform("std").fillna(0.0)
    frame = frame.assign(sigma=sigma, sigma2=sigma**2)
    daily = frame.groupby(["origin", "date"]).agg(
        error=("error", "sum"), sigma=("sigma", "sum"), sigma2=("sigma2", "sum")
    )
    total_var = float(daily["error"].var()) if len(daily) > 2 else 0.0
    independent = float(daily["sigma2"].mean())
    comonotone = float((daily["sigma"] ** 2).mean())
    if comonotone <= independent:
        return 0.0
    return float(np.clip((total_var - independent) / (comonotone - independent), 0.0, 1.0))


# -------------------------------------------------------------------------------------- table
def backtest_table(
    predictions: pd.DataFrame, history: pd.DataFrame, models: list[str], quantiles: tuple[float, ...]
) -> pd.DataFrame:
    """model x level x days: wape, mase, rmsse (mean over series), bias; wrmsse on level 'hierarchy';
    pinball (scaled by mean actual) and coverage of the outer interval at SKU level."""
    rows = []
    level_frames: dict[str, list] = {level: [] for level in LEVELS}
    for origin, window in predictions.groupby("origin", sort=True):
        past = history.loc[history["date"] <= origin]
        if "revenue" not in past.columns:
            past = past.assign(revenue=past["units"] * past["price"])
        for level in LEVELS:
            scales = series_scales(level_history(past, level))
            summed = aggregate_to_level(window, level, ["actual", *models])
            level_frames[level].append((origin, summed, scales))
    segments = {"all": None, "event": True, "normal": False}
    for model in models:
        for days, flag in segments.items():
            per_window_levels: dict = {}
            complete = model_has_all(predictions, model)
            for level in LEVELS:
                if level != "sku" and not complete:
                    continue  # sums over series a member did not forecast would read as zeros
                actual, forecast, scored = [], [], []
                for origin, summed, scales in level_frames[level]:
                    part = summed if flag is None else summed.loc[summed["event"] == flag]
                    if part.empty:
                        continue
                    actual.append(part["actual"].to_numpy(float))
                    forecast.append(part[model].to_numpy(float))
                    scores = level_scores(part, model, scales)
                    scored.append(scores)
                    per_window_levels.setdefault(origin, {})[level] = scores
                if not actual:
                    continue
                y, f = np.concatenate(actual), np.concatenate(forecast)
                ok = np.isfinite(f)
                all_scores = pd.concat(scored)
                row = {
                    "model": model,
                    "level": level,
                    "days": days,
                    "n": int(ok.sum()),
                    "wape": wape(y[ok], f[ok]) if ok.any() else np.nan,
                    "mase": float(all_scores["mase"].replace(np.inf, np.nan).mean()),
                    "rmsse": float(all_scores["rmsse"].replace(np.inf, np.nan).mean()),
                    "bias": float((f[ok].sum() - y[ok].sum()) / y[ok].sum())
                    if ok.any() and y[ok].sum() > 0
                    else np.nan,
                }
                if level == "sku" and model == ENSEMBLE and quantiles:
                    part = predictions if flag is None else predictions.loc[predictions["event"] == flag]
                    scale = max(float(part["actual"].mean()), 1e-9)
                    losses = [pinball(part["actual"], part[quantile_column(q)], q) for q in quantiles]
                    row["pinball"] = float(np.mean(losses) / scale)
                    lo, hi = quantile_column(min(quantiles)), quantile_column(max(quantiles))
                    row["coverage"] = coverage(part["actual"], part[lo], part[hi])
                rows.append(row)
            wrmsse_values = [wrmsse_from_levels(levels) for levels in per_window_levels.values()]
            if complete:
                rows.append(
                    {
                        "model": model,
                        "level": "hierarchy",
                        "days": days,
                        "wrmsse": float(np.nanmean(wrmsse_values)) if wrmsse_values else np.nan,
                    }
                )
    table = pd.DataFrame(rows)
    for column in ("wrmsse", "pinball", "coverage"):
        if column not in table.columns:
            table[column] = np.nan
    table.attrs["interval"] = f"{min(quantiles):g}-{max(quantiles):g}" if quantiles else ""
    return table[
        ["model", "level", "days", "n", "wape", "mase", "rmsse", "wrmsse", "bias", "pinball", "coverage"]
    ]


def model_has_all(predictions: pd.DataFrame, model: str) -> bool:
    """WRMSSE needs every series forecast (a Prophet fitted on the top series only has none)."""
    return bool(predictions[model].notna().all())
