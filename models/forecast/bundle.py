"""The forecast bundle: what is registered in MLflow and served for one brand.

It carries the fitted members (LightGBM, Prophet on the brand's biggest series, baselines), the
ensemble weights and the interval calibration learned in the backtest, and the brand's planned
promotions, so it answers without the data directory:

    bundle.forecast("2026-10-16", "2026-11-14", promotions=plan, quantiles=(0.1, 0.5, 0.9))

Everything that depends only on history was computed at training time (each member's origin
snapshot), so a request only lays the price and promotion plan and the calendar on the requested
dates and calls `predict` with one thread. Prophet's forecasts under the stored plan are cached;
a scenario that changes a Prophet series' plan re-runs Prophet for that series only.

Aggregates (category, platform, brand) are sums of the SKU means, exactly. Their quantiles are an
approximation: each series' spread is read off its interval as a normal sigma, and the aggregate's
sigma combines them with the average pairwise error correlation `rho` measured in the backtest:
var = (1 - rho) * sum(sigma_i^2) + rho * (sum sigma_i)^2.
"""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd

from daiyun.features.errors import NotFoundError, RequestError
from daiyun.features.forecast_frame import STEP, promotion_days
from daiyun.features.forecast_terms import (
    DEFAULT_QUANTILES,
    LEVEL_KEYS,
    MAX_DAYS_AHEAD,
    PROMO_DISCOUNT,
    check_period,
    check_quantiles,
    quantile_column,
)
from daiyun.models.forecast.intervals import series_labels

SLOW_MEMBERS = ("prophet", "lgbm_recursive")  # cached under the stored plan, re-run for a scenario


def parse_date(value: object, field: str) -> pd.Timestamp:
    try:
        date = pd.Timestamp(value)
    except (TypeError, ValueError):
        date = pd.NaT
    if pd.isna(date):
        raise RequestError(field, f"'{value}' is not a date", "use YYYY-MM-DD")
    return date.normalize()


class ForecastBundle:
    """One brand's fitted forecast family; see the module docstring."""

    def __init__(
        self,
        brand: str,
        freq: str,
        members: dict,
        weights: object,
        intervals: object,
        series_table: pd.DataFrame,
        plan: pd.DataFrame | None = None,
        correlation: float = 0.0,
        metrics: dict | None = None,
        config: dict | None = None,
    ) -> None:
        self.brand = brand
        self.freq = freq
        self.members = members
        self.weights = weights
        self.intervals = intervals
        self.series_table = series_table.reset_index(drop=True)
        self.plan = plan if plan is not None else pd.DataFrame()
        self.correlation = float(np.clip(correlation, 0.0, 1.0))
        self.metrics = dict(metrics or {})
        self.config = dict(config or {})
        self.model_version = ""
        self.run_id = ""
        self._caches: dict[str, pd.DataFrame] = {}

    # ------------------------------------------------------------------------------- description
    @property
    def origin(self) -> pd.Timestamp:
        return (
            self.members["lgbm"].origin_
            if "lgbm" in self.members
            else next(iter(self.members.values())).snapshot_.origin
        )

    def series(self) -> pd.DataFrame:
        return self.series_table[["platform", "sku_id", "category"]].copy()

    def with_history(self, dataset: object) -> ForecastBundle:
        """A copy whose members forecast from `dataset`'s (newer) history, trees and weights unchanged."""
        from daiyun.features.forecast_frame import brand_history

        history = brand_history(dataset, self.brand)
        fresh = copy.copy(self)
        fresh.members = {}
        for name, member in self.members.items():
            if hasattr(member, "refresh"):
                fresh.members[name] = copy.deepcopy(member).refresh(history)
            else:  # Prophet keeps its fit; it forecasts any later date from its own history
                fresh.members[name] = member
        known = history[["platform", "sku_id", "category"]].drop_duplicates(["platform", "sku_id"])
        fresh.series_table = known.sort_values(["platform", "sku_id"]).reset_index(drop=True)
        promotions = getattr(dataset, "promotions", None)
        if promotions is not None:
            fresh.plan = promotions.loc[promotions["brand"].eq(self.brand)].reset_index(drop=True)
        fresh._caches = {}
        return fresh

    # ------------------------------------------------------------------------------------ answer
    def forecast(
        self,
        start: object,
        end: object,
        promotions: pd.DataFrame | None = None,
        quantiles: object = DEFAULT_QUANTILES,
        sku_ids: list[str] | None = None,
        platforms: list[str] | None = None,
        level: str = "sku",
    ) -> pd.DataFrame:
        start, end = parse_date(start, "start"), parse_date(end, "end")
        qs = check_quantiles(quantiles)
        if level not in LEVEL_KEYS:
            raise RequestError("level", f"unknown level '{level}'", "use sku, category, platform or brand")
        origin = self.origin
        check_period(start, end)
        if start <= origin:
            raise RequestError(
                "start",
                f"start {start:%Y-%m-%d} is not after the history's last date {origin:%Y-%m-%d}",
                f"start on {origin + STEP[self.freq]:%Y-%m-%d} or later",
            )
        if (end - origin).days > MAX_DAYS_AHEAD:
            raise RequestError(
                "end",
                f"end {end:%Y-%m-%d} is more than {MAX_DAYS_AHEAD} days after the history",
                "forecast at most a year ahead",
            )
        chosen = self._select(sku_ids, platforms)
        future = self._future(chosen, origin, end, promotions)
        frame = self._predict(future, qs)
        frame = frame.loc[frame["date"] >= start].reset_index(drop=True)
        columns = ["brand", "platform", "sku_id", "date", "mean", *map(quantile_column, qs), "cold_start"]
        frame.insert(0, "brand", self.brand)
        if level == "sku":
            return frame[columns + ["category"]].drop(columns="category")
        return self._aggregate(frame, level, qs)

    def _select(self, sku_ids: list[str] | None, platforms: list[str] | None) -> pd.DataFrame:
        table = self.series_table
        if platforms:
            for platform in platforms:
                if platform not in set(table["platform"]):
                    raise NotFoundError("platform", platform, sorted(set(table["platform"])))
            table = table.loc[table["platform"].isin(platforms)]
        if sku_ids:
            for sku in sku_ids:
                if sku not in set(self.series_table["sku_id"]):
                    raise NotFoundError("sku_id", sku, sorted(set(self.series_table["sku_id"])))
            table = table.loc[table["sku_id"].isin([str(s) for s in sku_ids])]
        if table.empty:
            raise NotFoundError(
                "sku_id", ",".join(map(str, sku_ids or [])), sorted(set(self.series_table["sku_id"]))
            )
        return table.reset_index(drop=True)

    def _future(
        self, chosen: pd.DataFrame, origin: pd.Timestamp, end: pd.Timestamp, promotions: pd.DataFrame | None
    ) -> pd.DataFrame:
        """Every chosen series for every period after the origin up to `end`, with the plan laid on."""
        step = STEP[self.freq]
        dates = pd.date_range(origin + step, end, freq=step)
        grid = chosen.loc[chosen.index.repeat(len(dates))].reset_index(drop=True)
        grid["date"] = np.tile(dates.to_numpy(), len(chosen))
        plan = self._scenario(promotions)
        if plan is not None and len(plan):
            if "brand" in plan.columns:
                plan = plan.loc[plan["brand"].astype(str).eq(self.brand) | plan["brand"].isna()]
            # only the asked series' promotions that touch the asked period: a request stays small
            # (a superset of the asked pairs; the merge below keeps exact pairs only)
            mine = plan["sku_id"].isin(chosen["sku_id"]) & plan["platform"].isin(chosen["platform"])
            overlap = (pd.to_datetime(plan["end"]) > origin) & (pd.to_datetime(plan["start"]) <= end)
            days = promotion_days(plan.loc[mine & overlap], origin + step, end, self.freq)
            grid = grid.merge(days, on=["platform", "sku_id", "date"], how="left")
        else:
            grid = grid.assign(discount=np.nan, price=np.nan, on_promo=np.nan)
        return grid

    def _scenario(self, promotions: pd.DataFrame | None) -> pd.DataFrame:
        """The stored plan, with the scenario's rows replacing it for every series they name.

        A series the scenario does not name keeps its planned promotions; to forecast a named series
        without promotion, give it a row with discount 0 (a regular-price plan, as the contract says).
        """
        stored = self.plan
        if promotions is None or len(promotions) == 0:
            return stored
        scenario = promotions
        if "brand" in scenario.columns:
            scenario = scenario.loc[scenario["brand"].isna() | scenario["brand"].astype(str).eq(self.brand)]
        if stored is None or len(stored) == 0:
            return scenario
        named = pd.MultiIndex.from_frame(scenario[["platform", "sku_id"]].astype(str))
        kept = stored.loc[~pd.MultiIndex.from_frame(stored[["platform", "sku_id"]].astype(str)).isin(named)]
        return pd.concat([kept, scenario], ignore_index=True)

    def _member_predictions(
        self, future: pd.DataFrame, everyone: bool = False
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Each member's forecast; only the ensemble's members unless `everyone` (baselines too)."""
        frame = future.copy()
        features = None
        used = set(getattr(self.weights, "members_", self.members))
        for name, member in self.members.items():
            if not everyone and name not in used and name != "lgbm":
                continue  # baselines are kept for comparison, they carry no ensemble weight
            if name in SLOW_MEMBERS:
                frame[name] = self._cached(name, future, member)
            elif name == "lgbm":
                features, base = member.predict_frame_features(future)
                frame[name] = member.predict_from_features(features, base)
            else:
                frame[name] = member.predict(future)[name].to_numpy()
        return frame, features

    def _cached(self, name: str, future: pd.DataFrame, member: object) -> np.ndarray:
        """A slow member's forecast (NaN for series it does not know), from the cache when the plan
        matches; a series whose plan differs anywhere is re-run whole (the recursion walks every day)."""
        keys = pd.MultiIndex.from_frame(future[["platform", "sku_id"]])
        if hasattr(member, "series_keys_"):
            mask = keys.isin(pd.MultiIndex.from_frame(member.series_keys_()))
        else:
            mask = np.ones(len(future), dtype=bool)
        out = np.full(len(future), np.nan)
        if not mask.any():
            return out
        asked = self._plan_input(future.loc[mask])
        cache = self._caches.get(name)
        if cache is not None:
            merged = asked.merge(
                cache, on=["platform", "sku_id", "date"], how="left", suffixes=("", "_cached")
            )
            same = (
                merged[name].notna()
                & np.isclose(merged["discount"], merged["discount_cached"])
                & np.isclose(merged["on_promo"], merged["on_promo_cached"])
                & np.isclose(merged["price"], merged["price_cached"], equal_nan=True)
            ).to_numpy()
            values = merged[name].to_numpy(float, copy=True)  # pandas 3: views are read-only
        else:
            same = np.zeros(len(asked), dtype=bool)
            values = np.full(len(asked), np.nan)
        if not same.all():
            series = series_labels(asked)
            redo = np.isin(series, series[~same])
            values[redo] = member.predict(asked.loc[redo])[name].to_numpy(float)
        out[np.flatnonzero(mask)] = values
        return out

    @staticmethod
    def _plan_input(future: pd.DataFrame) -> pd.DataFrame:
        discount = future["discount"].astype(float).fillna(0.0)
        on_promo = future["on_promo"].astype(float)
        on_promo = on_promo.where(on_promo.notna(), (discount > PROMO_DISCOUNT).astype(float))
        return pd.DataFrame(
            {
                "platform": future["platform"].astype(str).to_numpy(),
                "sku_id": future["sku_id"].astype(str).to_numpy(),
                "date": future["date"].to_numpy(),
                "price": future["price"].astype(float).to_numpy(),
                "discount": discount.to_numpy(),
                "on_promo": on_promo.to_numpy(),
            }
        )

    def warm_cache(self, days: int = 60) -> None:
        """Forecast the slow members (Prophet, recursive LightGBM) under the stored plan once, so
        requests that keep the plan are answered from the cache."""
        self._caches = {}
        step = STEP[self.freq]
        for name in SLOW_MEMBERS:
            member = self.members.get(name)
            if member is None:
                continue
            future = self._future(self.series_table, self.origin, self.origin + step * days, None)
            keys = member.series_keys_() if hasattr(member, "series_keys_") else None
            if keys is not None:
                future = future.merge(keys, on=["platform", "sku_id"], how="inner")
            if future.empty:
                continue
            asked = self._plan_input(future)
            asked[name] = member.predict(asked)[name].to_numpy(float)
            self._caches[name] = asked

    def _predict(self, future: pd.DataFrame, qs: tuple[float, ...]) -> pd.DataFrame:
        frame, features = self._member_predictions(future)
        frame["mean"] = self.weights.combine(frame)
        h = ((frame["date"] - self.origin) / STEP[self.freq]).to_numpy().astype(int)
        event = self._event_flags(frame, features)
        series = series_labels(frame)
        values = self.intervals.quantiles(frame["mean"].to_numpy(float), h, event, qs, series)
        for j, q in enumerate(qs):
            frame[quantile_column(q)] = values[:, j]
        if features is not None:
            frame["cold_start"] = features["cold_start"].to_numpy() > 0.5
        else:
            frame["cold_start"] = False
        frame["event"] = event
        return frame

    @staticmethod
    def _event_flags(frame: pd.DataFrame, features: pd.DataFrame | None) -> np.ndarray:
        discounted = frame["discount"].astype(float).fillna(0) > PROMO_DISCOUNT
        on_promo = frame["on_promo"].astype(float).fillna(discounted)
        event = on_promo.to_numpy() > 0.5
        if features is not None:
            event |= np.nan_to_num(features["is_event"].to_numpy(float)) > 0.5
        return event

    def _aggregate(self, frame: pd.DataFrame, level: str, qs: tuple[float, ...]) -> pd.DataFrame:
        from scipy.stats import norm

        keys = LEVEL_KEYS[level]
        lo, hi = quantile_column(min(qs)), quantile_column(max(qs))
        if len(qs) > 1:
            width = norm.ppf(max(qs)) - norm.ppf(min(qs))
            sigma = (frame[hi] - frame[lo]).to_numpy(float) / width
        else:
            sigma = np.sqrt(frame["mean"].to_numpy(float) + 1.0)
        work = frame.assign(_sigma=sigma, _sigma2=sigma**2, cold_start=frame["cold_start"].astype(float))
        summed = (
            work.groupby([*keys, "date"], sort=True)
            .agg(
                mean=("mean", "sum"),
                _sigma=("_sigma", "sum"),
                _sigma2=("_sigma2", "sum"),
                cold_start=("cold_start", "max"),
            )
            .reset_index()
        )
        rho = self.correlation
        spread = np.sqrt((1 - rho) * summed["_sigma2"] + rho * summed["_sigma"] ** 2)
        for q in qs:
            summed[quantile_column(q)] = np.clip(summed["mean"] + norm.ppf(q) * spread, 0.0, None)
        summed["cold_start"] = summed["cold_start"] > 0
        summed.insert(0, "brand", self.brand)
        columns = ["brand", *keys, "date", "mean", *map(quantile_column, qs), "cold_start"]
        return summed[columns]

    # --------------------------------------------------------------------------------- pyfunc
    def predict_frame(self, request: pd.DataFrame) -> pd.DataFrame:
        """pyfunc entry: one row with start, end (and optional quantiles, level) -> forecast rows."""
        row = request.iloc[0].to_dict()
        quantiles = row.get("quantiles", DEFAULT_QUANTILES)
        return self.forecast(row["start"], row["end"], quantiles=quantiles, level=row.get("level", "sku"))
