"""The ensemble's members by name, and Prophet restricted to a brand's biggest series.

Prophet fits one model per series (a fraction of a second each, with cmdstan), so a brand with
hundreds of series would dominate training time. `ProphetTopSeries` fits it on the `top_n` series
with the most units over the last `recent_days` among those old enough for Prophet to read a trend
(a launch is left to LightGBM; Prophet itself pools the intermittent ones by category); the
ensemble uses its second weight set on every other series.
"""

from __future__ import annotations

import pandas as pd

from daiyun.features.forecast_terms import PROMO_DISCOUNT
from daiyun.models.forecast.baselines import BASELINES
from daiyun.models.forecast.lgbm import LGBMForecaster

BASELINE_NAMES = tuple(BASELINES)


class ProphetTopSeries:
    name = "prophet"

    def __init__(self, top_n: int = 30, recent_days: int = 90, params: dict | None = None) -> None:
        self.top_n = top_n
        self.recent_days = recent_days
        self.params = params

    def fit(
        self, history: pd.DataFrame, events: pd.DataFrame | None = None, freq: str = "D"
    ) -> ProphetTopSeries:
        from daiyun.models.forecast.prophet_model import ProphetForecaster

        forecaster = ProphetForecaster(**(self.params or {}))
        end = history["date"].max()
        recent = history.loc[history["date"] > end - pd.Timedelta(days=self.recent_days)]
        volume = recent.groupby(["platform", "sku_id"])["units"].sum().sort_values(ascending=False)
        # a launch younger than Prophet's shortest trend history is read flat (or pooled with its
        # category and shared down by its recent units): its level averages the ramp up in and runs
        # below what it sells by now, and the blend pulled LightGBM's forecast down with it (simulator
        # seed 3, glowlab's 23-day-old GLO0005 on Douyin: LightGBM 272 units over 30 days, blend 223,
        # 366 expected); such a series is left to LightGBM, and the next biggest takes its place
        first = history.groupby(["platform", "sku_id"])["date"].min()
        old_enough = first.index[(end - first).dt.days + 1 >= forecaster.min_history_days]
        volume = volume.loc[volume.index.isin(old_enough)]
        top = volume.head(self.top_n).index
        self.keys_ = pd.DataFrame(list(top), columns=["platform", "sku_id"])
        chosen = history.merge(self.keys_, on=["platform", "sku_id"], how="inner")
        self.forecaster_ = forecaster.fit(chosen, events=events, freq=freq)
        return self

    def series_keys_(self) -> pd.DataFrame:
        return self.keys_

    def predict(self, future: pd.DataFrame) -> pd.DataFrame:
        known = future.merge(self.keys_.assign(_known=True), on=["platform", "sku_id"], how="left")["_known"]
        mask = known.fillna(False).to_numpy(dtype=bool)
        values = pd.Series(float("nan"), index=future.index)
        if mask.any():
            asked = future.loc[mask, ["platform", "sku_id", "date", "discount", "on_promo"]].copy()
            asked["discount"] = asked["discount"].astype(float).fillna(0.0)
            asked["on_promo"] = (
                asked["on_promo"].astype(float).fillna((asked["discount"] > PROMO_DISCOUNT).astype(float))
            )
            values.loc[mask] = self.forecaster_.predict(asked)["prophet"].to_numpy(float)
        return future.assign(prophet=values.to_numpy())


def make_member(
    name: str,
    lgbm_params: dict | None = None,
    prophet_params: dict | None = None,
    prophet_top_n: int = 30,
    market: str = "CN",
    prices: str = "set",
) -> object:
    """A member by name; `market` (the data directory's) picks the holidays its calendar reads and
    `prices` (its dataset.yaml too) says whether deals may be read from the price column."""
    if name == "lgbm":
        return LGBMForecaster(**{"market": market, "prices": prices, **(lgbm_params or {})})
    if name == "lgbm_recursive":
        from daiyun.models.forecast.recursive import RecursiveLGBMForecaster

        return RecursiveLGBMForecaster(**{"market": market, "prices": prices, **(lgbm_params or {})})
    if name == "prophet":
        return ProphetTopSeries(top_n=prophet_top_n, params={"market": market, **(prophet_params or {})})
    if name in BASELINES:
        return BASELINES[name]()
    raise ValueError(
        f"unknown forecaster '{name}'; known: lgbm, lgbm_recursive, prophet, {', '.join(BASELINES)}"
    )
