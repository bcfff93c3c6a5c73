"""New SKUs (less than four weeks of history) are scored from their category and price band.

Their own sales say too little, so their expected revenue per period is what SKUs of the same
platform, category and price band earned over comparable horizons, scaled by how young SKUs
compare with the average (when the history holds enough young SKUs to tell).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

LEVELS = (["platform", "category", "price_band"], ["platform", "category"], ["platform"])
YOUNG_DAYS = 91


class ColdStartScorer:
    """`fit(frame, revenue, horizon_periods)`; `predict(frame)` -> revenue per period for any row."""

    def __init__(self, min_rows: int = 5) -> None:
        self.min_rows = min_rows

    def fit(self, frame: pd.DataFrame, revenue, horizon_periods) -> ColdStartScorer:
        data = frame[["platform", "category", "price_band", "age_days"]].copy()
        data["price_band"] = data["price_band"].fillna(-1)
        data["rate"] = np.clip(np.asarray(revenue, float) / np.asarray(horizon_periods, float), 0, None)
        data = data.loc[data["rate"].notna()]
        self.tables_ = []
        for keys in LEVELS:
            stats = data.groupby(keys)["rate"].agg(["mean", "size"])
            self.tables_.append((keys, stats.loc[stats["size"] >= self.min_rows, "mean"]))
        self.overall_ = float(data["rate"].mean()) if len(data) else 0.0
        young = data.loc[data["age_days"] < YOUNG_DAYS, "rate"]
        enough = len(young) >= 10 and self.overall_ > 0
        self.young_factor_ = float(young.mean() / self.overall_) if enough else 1.0
        return self

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        data = frame[["platform", "category", "price_band"]].copy()
        data["price_band"] = data["price_band"].fillna(-1)
        out = np.full(len(data), np.nan)
        for keys, table in self.tables_:
            if table.empty:
                continue
            index = pd.MultiIndex.from_frame(data[keys]) if len(keys) > 1 else pd.Index(data[keys[0]])
            found = table.reindex(index).to_numpy(float)
            out = np.where(np.isnan(out), found, out)
        out = np.where(np.isnan(out), self.overall_, out)
        return out * self.young_factor_
