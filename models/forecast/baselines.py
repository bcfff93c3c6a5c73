"""Baselines every backtest table keeps: naive, seasonal naive, moving average.

They read the same origin snapshot as the global model (`daiyun.features.forecast_frame`), so a baseline
and LightGBM forecast from exactly the same history. Stock-out days are skipped, not read as zeros.

    SeasonalNaiveForecaster().fit(history, freq="D").predict(future)   # adds column `seasonal_naive`
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from daiyun.features.forecast_frame import build_panel, grid_features, origin_snapshot, plan_for


class _SnapshotBaseline:
    name = "baseline"
    horizon = 60

    def fit(
        self, history: pd.DataFrame, events: pd.DataFrame | None = None, freq: str = "D"
    ) -> _SnapshotBaseline:
        self.freq_ = freq
        panel = build_panel(history, freq)
        self.snapshot_ = origin_snapshot(panel, len(panel.dates) - 1, self.horizon)
        return self

    def refresh(self, history: pd.DataFrame) -> _SnapshotBaseline:
        return self.fit(history, freq=self.freq_)

    def _grid(self, future: pd.DataFrame) -> pd.DataFrame:
        plan = plan_for(self.snapshot_, future)
        grid = grid_features(
            self.snapshot_, plan["series"], plan["price"], plan["discount"], plan["on_promo"], {}
        )
        rows = plan["position"] * plan["price"].shape[1] + plan["h"] - 1
        return grid.iloc[rows].reset_index(drop=True)

    def _values(self, grid: pd.DataFrame) -> np.ndarray:
        raise NotImplementedError

    def predict(self, future: pd.DataFrame) -> pd.DataFrame:
        grid = self._grid(future)
        values = self._values(grid)
        # a series with nothing observed yet forecasts its cell's level, never NaN
        values = np.where(np.isnan(values), grid["level_mid"].to_numpy(dtype=float), values)
        return future.assign(**{self.name: np.clip(np.nan_to_num(values, nan=0.0), 0.0, None)})


class NaiveForecaster(_SnapshotBaseline):
    """The last observed value, for every horizon."""

    name = "naive"

    def _values(self, grid: pd.DataFrame) -> np.ndarray:
        last = grid["last_value"].to_numpy(dtype=float)
        return np.where(np.isnan(last), grid["level_short"].to_numpy(dtype=float), last)


class SeasonalNaiveForecaster(_SnapshotBaseline):
    """The latest value of the same weekday (daily data, season 7) or last year's week (weekly, 52)."""

    name = "seasonal_naive"

    def _values(self, grid: pd.DataFrame) -> np.ndarray:
        if self.freq_ == "W":
            # y[T + h - 52]: last year's same week, always on or before the origin for h <= 52
            return grid["ly_units"].to_numpy(dtype=float)
        return grid["same_season"].to_numpy(dtype=float)


class MovingAverageForecaster(_SnapshotBaseline):
    """Mean of the observed values over the last `window` periods (28 days / 4 weeks by default)."""

    name = "moving_average"

    def __init__(self, window: str = "mid") -> None:
        self.window = window

    def _values(self, grid: pd.DataFrame) -> np.ndarray:
        return grid[f"level_{self.window}"].to_numpy(dtype=float)


BASELINES = {cls.name: cls for cls in (NaiveForecaster, SeasonalNaiveForecaster, MovingAverageForecaster)}
