"""Prediction intervals calibrated on backtest residuals (split-conformal, by bucket).

A residual is standardised as z = (y - f) / sqrt(f + 1), so buckets of series of different size
share one shape; empirical quantiles of z are kept per (horizon bucket, event or normal day,
forecast size band), with coarser buckets when a cell has fewer than `min_count` residuals. Any
quantile q is read off a 1%-grid of z and mapped back: f + z_q * sqrt(f + 1), floored at 0 and
made monotone in q. Coverage is measured in the backtest (out of window: each window is
calibrated on the others), not assumed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

GRID = np.round(np.linspace(0.005, 0.995, 199), 3)


def _scale(forecast: np.ndarray) -> np.ndarray:
    return np.sqrt(np.clip(forecast, 0.0, None) + 1.0)


class ConformalIntervals:
    # besides the absolute size bands, bands at these quantiles of the calibration forecasts: a brand's
    # biggest series (errors grow about in proportion, not with the square root) get their own cells.
    # Measured (80% interval on the 20 top-revenue SKUs, holdout): Rossmann 0.65 -> 0.70, UCI Online
    # Retail 0.71 -> 0.80, a family draw 0.80 -> 0.79; all rows 0.73/0.83/0.81 -> 0.72/0.84/0.80.
    QUANTILE_BANDS: tuple[float, ...] = (0.5, 0.8, 0.95)

    def __init__(
        self,
        horizon_buckets: tuple[int, ...] = (7, 14, 30),
        size_bands: tuple[float, ...] = (1.0, 5.0, 20.0),
        min_count: int = 50,
    ) -> None:
        self.horizon_buckets = horizon_buckets
        self.size_bands = size_bands
        self.min_count = min_count

    def _keys(self, forecast: np.ndarray, h: np.ndarray, event: np.ndarray) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "hb": np.searchsorted(np.asarray(self.horizon_buckets), np.asarray(h), side="left"),
                "ev": np.asarray(event).astype(bool).astype(int),
                "sb": np.searchsorted(
                    np.asarray(getattr(self, "bands_", self.size_bands)), np.asarray(forecast, float)
                ),
            }
        )

    def fit(
        self, forecast: np.ndarray, actual: np.ndarray, h: np.ndarray, event: np.ndarray
    ) -> ConformalIntervals:
        forecast, actual = np.asarray(forecast, float), np.asarray(actual, float)
        ok = np.isfinite(forecast) & np.isfinite(actual)
        extra = np.quantile(forecast[ok], self.QUANTILE_BANDS) if self.QUANTILE_BANDS and ok.any() else []
        self.bands_ = tuple(sorted({*self.size_bands, *map(float, extra)}))
        z = (actual[ok] - forecast[ok]) / _scale(forecast[ok])
        keys = self._keys(forecast[ok], np.asarray(h)[ok], np.asarray(event)[ok])
        self.tables_: dict[tuple, dict[tuple, np.ndarray]] = {}
        for columns in (("hb", "ev", "sb"), ("ev", "sb"), ("sb",), ()):
            table = {}
            if columns:
                for key, index in keys.groupby(list(columns)).indices.items():
                    if len(index) >= self.min_count:
                        table[key if isinstance(key, tuple) else (key,)] = np.quantile(z[index], GRID)
            elif len(z):
                table[()] = np.quantile(z, GRID)
            self.tables_[columns] = table
        self.n_residuals_ = int(len(z))
        return self

    def quantiles(
        self, forecast: np.ndarray, h: np.ndarray, event: np.ndarray, qs: tuple[float, ...]
    ) -> np.ndarray:
        """(rows x len(qs)) quantile forecasts, monotone in q and >= 0."""
        forecast = np.asarray(forecast, float)
        keys = self._keys(forecast, h, event)
        z_rows = np.full((len(forecast), len(GRID)), np.nan)
        pending = np.ones(len(forecast), dtype=bool)
        for columns, table in self.tables_.items():
            if not pending.any():
                break
            if not table:
                continue
            if columns:
                labels = keys.loc[pending, list(columns)].itertuples(index=False, name=None)
            else:
                labels = [()] * int(pending.sum())
            rows = np.flatnonzero(pending)
            for row, label in zip(rows, labels, strict=True):
                found = table.get(tuple(label))
                if found is not None:
                    z_rows[row] = found
                    pending[row] = False
        if pending.any():  # nothing calibrated at all: a Poisson-like spread
            from scipy.stats import norm

            z_rows[pending] = norm.ppf(GRID)
        z_q = (
            np.stack([[np.interp(q, GRID, z_row) for q in qs] for z_row in z_rows])
            if len(forecast)
            else (np.zeros((0, len(qs))))
        )
        values = np.clip(forecast[:, None] + z_q * _scale(forecast)[:, None], 0.0, None)
        return np.maximum.accumulate(values, axis=1) if len(qs) > 1 else values
