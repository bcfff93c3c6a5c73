"""Recursive LightGBM: the alternative to the direct model, kept to measure the choice by backtest.

One-step model (horizon 1, origins every `origin_stride` days); a 30-day forecast feeds each day's
prediction back into the history as if observed and steps forward. Same features, same offset,
same objective as `LGBMForecaster`, so the backtest compares only the strategy.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from daiyun.features.forecast_frame import (
    STEP,
    SeriesPanel,
    build_panel,
    grid_features,
    origin_snapshot,
    plan_for,
    training_frame,
    training_origins,
)
from daiyun.models.forecast.lgbm import LGBMForecaster, series_base

# history a step needs: last year's week around the target (364 + 3 days), a year of promotions
KEEP_PERIODS = {"D": 400, "W": 60}


def _recent(panel: SeriesPanel) -> SeriesPanel:
    """The last KEEP_PERIODS of a panel: each recursive step recomputes window sums over it."""
    keep = KEEP_PERIODS[panel.freq]
    if len(panel.dates) <= keep:
        return panel
    cut = len(panel.dates) - keep
    return SeriesPanel(
        keys=panel.keys,
        dates=panel.dates[cut:],
        freq=panel.freq,
        units=panel.units[:, cut:],
        observed=panel.observed[:, cut:],
        price=panel.price[:, cut:],
        list_price=panel.list_price[:, cut:],
        discount=panel.discount[:, cut:],
        on_promo=panel.on_promo[:, cut:],
        start=panel.start - cut,  # negative: started before the kept window (age stays true)
        regular_inferred=panel.regular_inferred,
        paid_average=getattr(panel, "paid_average", None),
        extras={name: values[:, cut:] for name, values in panel.extras.items()},
    )


class RecursiveLGBMForecaster(LGBMForecaster):
    name = "lgbm_recursive"

    def fit(self, history: pd.DataFrame, events: pd.DataFrame | None = None, freq: str = "D"):  # noqa: ANN201
        panel = self._prepare(history, events, freq)
        # one-step rows from an origin every day: with every other day the single peak days (11.11,
        # 6.18) were never a target for half the events, and WAPE on the Double 11 window went
        # from 0.41 to 0.61 (northpeak, demo)
        stride = 1
        origins = training_origins(panel, 1, stride, self.lookback)
        frame = training_frame(panel, self.calendar_, 1, origins, 1, self.seed)
        self._train_booster(frame)
        self.snapshot_ = origin_snapshot(panel, len(panel.dates) - 1, self.horizon)
        self.panel_ = _recent(panel)
        return self

    def refresh(self, history: pd.DataFrame):  # noqa: ANN201
        panel = build_panel(history, self.freq_, prices=self.price_kind)
        self.snapshot_ = origin_snapshot(panel, len(panel.dates) - 1, self.horizon)
        self.panel_ = _recent(panel)
        self._extend_calendar(panel.end + STEP[self.freq_] * self.horizon)
        return self

    def predict(self, future: pd.DataFrame) -> pd.DataFrame:
        plan = plan_for(self.snapshot_, future, self.used_extras)
        horizon = plan["price"].shape[1]
        panel = self.panel_
        n = len(panel.keys)
        list_price = self.snapshot_.list_price
        price = np.repeat(list_price[:, None], horizon, axis=1)
        discount = np.zeros((n, horizon))
        on_promo = np.zeros((n, horizon))
        price[plan["series"]], discount[plan["series"]] = plan["price"], plan["discount"]
        on_promo[plan["series"]] = plan["on_promo"]
        # extra promotion columns (feature, display...): 0 for the series the request does not name
        extras = {name: np.zeros((n, horizon)) for name in plan["extras"]}
        for name, values in plan["extras"].items():
            extras[name][plan["series"]] = values
        path = np.zeros((n, horizon))
        everyone = np.arange(n)
        for k in range(horizon):
            snapshot = origin_snapshot(panel, len(panel.dates) - 1, 1)
            grid = grid_features(
                snapshot,
                everyone,
                price[:, k : k + 1],
                discount[:, k : k + 1],
                on_promo[:, k : k + 1],
                self.calendar_,
                extras={name: values[:, k : k + 1] for name, values in extras.items()},
            )
            raw = self.booster_.predict(
                grid[self.used_features], raw_score=True, num_threads=self.num_threads
            )
            if self.offset:
                raw = raw + np.log(series_base(grid))
            path[:, k] = np.exp(raw)
            panel = _append(panel, path[:, k], price[:, k], discount[:, k], on_promo[:, k])
        values = path[plan["series"][plan["position"]], plan["h"] - 1]
        return future.assign(**{self.name: values})


def _append(
    panel: SeriesPanel, units: np.ndarray, price: np.ndarray, discount: np.ndarray, on_promo: np.ndarray
) -> SeriesPanel:
    """The panel with one more period in which every series sold its forecast."""

    def add(values: np.ndarray, column: np.ndarray) -> np.ndarray:
        return np.concatenate([values, column[:, None]], axis=1)

    started = np.arange(len(panel.dates) + 1)[None, :] >= panel.start[:, None]
    return SeriesPanel(
        keys=panel.keys,
        dates=panel.dates.append(pd.DatetimeIndex([panel.end + STEP[panel.freq]])),
        freq=panel.freq,
        units=add(panel.units, units),
        observed=add(panel.observed, np.ones(len(units), dtype=bool)) & started,
        price=add(panel.price, price),
        list_price=add(panel.list_price, panel.list_price[:, -1]),
        discount=add(panel.discount, discount),
        on_promo=add(panel.on_promo, on_promo),
        start=panel.start,
        regular_inferred=panel.regular_inferred,
        paid_average=getattr(panel, "paid_average", None),
        # a panel pickled before extra promotion columns existed has none
        extras={k: add(v, np.zeros(len(units))) for k, v in getattr(panel, "extras", {}).items()},
    )
