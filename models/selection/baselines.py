"""What an operator does without a model: push last period's best sellers, or the 4-period average's.

Both read rates the selection frame already holds, and answer in the same units as the models
(revenue per period), so they rank and are scored exactly like the models in a backtest.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


class _RateBaseline:
    column = ""

    def fit(self, frame: pd.DataFrame | None = None, revenue=None, group=None) -> _RateBaseline:
        self.fitted_ = True
        return self

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return np.nan_to_num(frame[self.column].to_numpy(float), nan=0.0)


class LastPeriodBaseline(_RateBaseline):
    """Revenue over the last horizon-length period before as_of."""

    column = "rev_rate_last_period"


class RecentAverageBaseline(_RateBaseline):
    """Average revenue over the last four horizon-length periods before as_of."""

    column = "rev_rate_4_periods"


BASELINES = {"last_period": LastPeriodBaseline, "avg_4_periods": RecentAverageBaseline}
