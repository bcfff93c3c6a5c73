"""A learned correction on top of the forecast's expected revenue (used only where it helps).

It learns log(1 + realised revenue rate) - log(1 + forecast revenue rate) from the selection
frame's features plus the forecast itself, on past as_of dates whose forecast was made with data up
to that as_of only (the trainer's rolling-origin forecasts). The ranking score is then
log(1 + forecast rate) + correction. Trees are kept small and shrunk hard: the forecast is already
most of the answer, and a correction that is not clearly better is switched off by the trainer.

The two other corrections re-weigh rankings instead of learning errors: `ForecastBlend` (weights of
the forecast, last period and the 4-period average picked on past as_of dates) and
`ForecastCombination` (the forecast and last period averaged, nothing learned).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from daiyun.models.selection.matrix import learn_categories, model_matrix

# what the forecast may be systematically wrong about, in the operator's words
CORRECTION_FEATURES = [
    "forecast_rate_log",
    "rev_rate_last_period",
    "rev_rate_4_periods",
    "rev_rate_28d",
    "rev_rate_last_year_horizon",
    "trend_7_28",
    "trend_28_91",
    "stockout_rate_91d",
    "age_days",
    "planned_promo_share",
    "planned_discount",
    "uplift_horizon_event",
    "promo_uplift_365d",
    "price_vs_category",
]
DEFAULT_PARAMS = {"n_estimators": 150, "learning_rate": 0.03, "num_leaves": 7, "min_child_samples": 40,
                  "reg_lambda": 5.0}


# A SKU out of stock on every day of the last four weeks is not one to push: the forecast is of
# demand (out-of-stock days are skipped, not read as zeros), so it still expects the SKU to sell,
# but until it is restocked (a phase-out, a lost supplier) nothing will. It goes to the bottom of
# the list; its expected_revenue stays the forecast's, and its reasons say why.
UNAVAILABLE_STOCKOUT_RATE = 0.999  # out of stock on (all but rounding of) the last 28 days


def unavailable(frame: pd.DataFrame) -> np.ndarray:
    """True for SKUs out of stock on every day of the last 28 (unknown: available)."""
    if "stockout_rate_28d" not in frame:
        return np.zeros(len(frame), dtype=bool)
    return np.nan_to_num(frame["stockout_rate_28d"].to_numpy(float), nan=0.0) >= UNAVAILABLE_STOCKOUT_RATE


def forecast_rate_log(frame: pd.DataFrame) -> np.ndarray:
    """log(1 + the forecast's expected revenue per period), 0 for SKUs that cannot be bought now:
    the forecast-only ranking score."""
    rate = frame["forecast_revenue"].to_numpy(float) / frame["horizon_periods"].to_numpy(float)
    rate = np.where(unavailable(frame), 0.0, rate)
    return np.log1p(np.clip(np.nan_to_num(rate), 0, None))


class ForecastCorrection:
    """`fit(frame)` on rows with target and forecast_revenue; `score(frame)` -> corrected log rate."""

    def __init__(self, params: dict | None = None, random_state: int = 0) -> None:
        self.params = {**DEFAULT_PARAMS, **(params or {})}
        self.random_state = random_state

    def _matrix(self, frame: pd.DataFrame) -> pd.DataFrame:
        work = frame.assign(forecast_rate_log=forecast_rate_log(frame))
        return model_matrix(work, self.features_, self.categories_)

    def fit(self, frame: pd.DataFrame) -> ForecastCorrection:
        import lightgbm as lgb

        rows = frame.loc[frame["target"].notna() & frame["forecast_revenue"].notna()]
        if rows.empty:
            raise ValueError("no rows with both a label and a past forecast to learn a correction from")
        self.features_ = [c for c in CORRECTION_FEATURES if c == "forecast_rate_log" or c in rows.columns]
        self.categories_ = learn_categories(rows, self.features_)
        actual = np.log1p(np.clip(rows["target"].to_numpy(float) / rows["horizon_periods"].to_numpy(float), 0,
                                  None))
        residual = actual - forecast_rate_log(rows)
        # weigh by revenue: the top of the list is what NDCG@20 and captured@20 read
        weight = 1.0 + actual
        self.model_ = lgb.LGBMRegressor(objective="huber", alpha=1.0, subsample=0.8, subsample_freq=1,
                                        colsample_bytree=0.8, random_state=self.random_state, n_jobs=1,
                                        verbose=-1, **self.params)
        self.model_.fit(self._matrix(rows), residual, sample_weight=weight)
        return self

    def correction(self, frame: pd.DataFrame) -> np.ndarray:
        return self.model_.predict(self._matrix(frame), num_threads=1)

    def score(self, frame: pd.DataFrame) -> np.ndarray:
        return forecast_rate_log(frame) + self.correction(frame)


# the blend's sources: the forecast and the two rates an operator would otherwise rank by
BLEND_SOURCES = ("forecast", "rev_rate_last_period", "rev_rate_4_periods")
BLEND_STEP = 0.25


def _ndcg_at_20(actual: np.ndarray, score: np.ndarray, groups: np.ndarray) -> float:
    """Mean NDCG@20 (revenue as gain) over groups; groups without revenue are left out."""
    values = []
    for rows in pd.Series(np.arange(len(groups))).groupby(groups).indices.values():
        gain = np.nan_to_num(actual[rows])
        ideal_order = np.sort(gain)[::-1][:20]
        ours = gain[np.argsort(-score[rows], kind="stable")][:20]
        discount = 1.0 / np.log2(np.arange(2, len(ours) + 2))
        ideal = float((ideal_order * discount).sum())
        if ideal > 0:
            values.append(float((ours * discount).sum()) / ideal)
    return float(np.mean(values)) if values else float("nan")


class ForecastBlend:
    """score = weighted sum of log(1 + rate) of the forecast, last period and the 4-period average.

    The weights (a 0.25 grid on the simplex) are the ones that ranked the past as_of dates best by
    NDCG@20; ties go to the most forecast weight. Where the forecast ranks well the blend is the
    forecast; where recent sales say more (a forecaster that has not learned a shop yet), it leans
    on them. `correction(frame)` is how far it moves each SKU from forecast-only, like
    `ForecastCorrection`'s.
    """

    def _logs(self, frame: pd.DataFrame) -> np.ndarray:
        columns = [forecast_rate_log(frame)]
        for name in BLEND_SOURCES[1:]:
            rate = frame[name].to_numpy(float) if name in frame else np.zeros(len(frame))
            columns.append(np.log1p(np.clip(np.nan_to_num(rate), 0, None)))
        return np.column_stack(columns)

    def fit(self, frame: pd.DataFrame) -> ForecastBlend:
        rows = frame.loc[frame["target"].notna() & frame["forecast_revenue"].notna()]
        if rows.empty:
            raise ValueError("no rows with both a label and a past forecast to learn a blend from")
        logs = self._logs(rows)
        actual = rows["target"].to_numpy(float)
        keys = [k for k in ("brand", "platform", "as_of") if k in rows]
        groups = rows.groupby(keys, sort=False).ngroup().to_numpy()
        grid = self._candidates()
        scores = [_ndcg_at_20(actual, logs @ w, groups) for w in grid]
        best = int(np.nanargmax(scores))  # first maximum: the grid runs from all-forecast down
        self.weights_ = dict(zip(BLEND_SOURCES, grid[best].tolist(), strict=True))
        self.fitted_ndcg_ = scores[best]
        return self

    def _candidates(self) -> list[np.ndarray]:
        """The weights tried, in BLEND_SOURCES order: the BLEND_STEP grid, all-forecast first."""
        steps = int(round(1 / BLEND_STEP))
        return [np.array([a, b, steps - a - b]) / steps
                for a in range(steps, -1, -1) for b in range(steps - a, -1, -1)]

    def score(self, frame: pd.DataFrame) -> np.ndarray:
        return self._logs(frame) @ np.array([self.weights_[name] for name in BLEND_SOURCES])

    def correction(self, frame: pd.DataFrame) -> np.ndarray:
        return self.score(frame) - forecast_rate_log(frame)


class ForecastCombination(ForecastBlend):
    """score = the mean of log(1 + rate) of the forecast and of last period's sales: no weights learned.

    Equal weights of two rankings are the classic forecast combination that estimated weights seldom
    beat out of sample (the weights `ForecastBlend` picks from two or three past as_of dates are noisy):
    on UCI Online Retail the blend's weights, learned in the summer, ranked the autumn below both
    of its sources, while the plain mean of forecast and last period ranked above both
    (benchmarks/results/selection.md). Like every correction it is served only where it beats
    forecast-only in the brand's own backtest.
    """

    WEIGHTS = {"forecast": 0.5, "rev_rate_last_period": 0.5, "rev_rate_4_periods": 0.0}

    def _candidates(self) -> list[np.ndarray]:
        """One candidate: `fit` only records what it scored on the rows it was given."""
        return [np.array([self.WEIGHTS[name] for name in BLEND_SOURCES])]
