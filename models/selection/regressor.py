"""LightGBM regressor on the same features: the SKU's revenue rate per period over the horizon.

By default it learns log(1 + rate) so a platform selling 100x more does not drown the rest;
`objective="tweedie"` learns the rate itself with a log link, weighing errors by revenue.
Predictions are turned back into money with a factor that makes the training total come out right.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from daiyun.models.selection.matrix import learn_categories, model_matrix


class SelectionRegressor:
    """`fit(frame, revenue, horizon_periods)`; `predict(frame)` -> expected revenue per period."""

    def __init__(
        self,
        features: list[str] | None = None,
        n_estimators: int = 300,
        learning_rate: float = 0.05,
        num_leaves: int = 31,
        min_child_samples: int = 20,
        subsample: float = 0.8,
        colsample_bytree: float = 0.8,
        objective: str = "log_l2",
        random_state: int = 0,
        n_jobs: int = 1,
    ) -> None:
        self.features = features
        self.objective = objective
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.random_state = random_state
        self.n_jobs = n_jobs

    def fit(self, frame: pd.DataFrame, revenue, horizon_periods) -> SelectionRegressor:
        import lightgbm as lgb

        self.features_ = list(self.features or [])
        self.categories_ = learn_categories(frame, self.features_)
        if self.objective not in ("log_l2", "tweedie"):
            raise ValueError(f"objective must be 'log_l2' or 'tweedie', got '{self.objective}'")
        rate = np.clip(np.asarray(revenue, dtype=float) / np.asarray(horizon_periods, dtype=float), 0, None)
        rate = np.nan_to_num(rate)
        # log_l2 treats every SKU alike; tweedie (log link) weighs errors by revenue, as the top k do
        target = np.log1p(rate) if self.objective == "log_l2" else rate
        matrix = model_matrix(frame, self.features_, self.categories_)
        self.model_ = lgb.LGBMRegressor(
            objective="regression" if self.objective == "log_l2" else "tweedie",
            n_estimators=self.n_estimators,
            learning_rate=self.learning_rate,
            num_leaves=self.num_leaves,
            min_child_samples=self.min_child_samples,
            subsample=self.subsample,
            subsample_freq=1 if self.subsample < 1 else 0,
            colsample_bytree=self.colsample_bytree,
            random_state=self.random_state,
            n_jobs=self.n_jobs,
            verbose=-1,
        )
        self.model_.fit(matrix, target)
        fitted = self._raw(matrix)
        self.smearing_ = float(rate.sum() / fitted.sum()) if fitted.sum() > 0 else 1.0
        return self

    def _raw(self, matrix: pd.DataFrame) -> np.ndarray:
        predicted = self.model_.predict(matrix)
        return (np.expm1(predicted) if self.objective == "log_l2" else predicted).clip(0)

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Expected revenue per period over the horizon."""
        return self._raw(model_matrix(frame, self.features_, self.categories_)) * self.smearing_

    def predict_log(self, frame: pd.DataFrame) -> np.ndarray:
        """log(1 + expected revenue per period): the ranking score."""
        return np.log1p(self.predict(frame))

    def contributions(self, frame: pd.DataFrame) -> pd.DataFrame:
        values = self.model_.predict(model_matrix(frame, self.features_, self.categories_), pred_contrib=True)
        return pd.DataFrame(values, index=frame.index, columns=self.features_ + ["bias"])
