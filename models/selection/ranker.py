"""LightGBM LambdaRank over SKUs competing on the same platform at the same as_of.

LambdaRank wants small integer relevance grades, not revenue: each SKU's grade is its revenue
percentile within its group, cut into `n_grades` levels (0 = sold nothing). Each grade's gain
(`label_gain="revenue"`) is the typical revenue share of SKUs with that grade, so the objective
is NDCG with revenue as gain, the metric the backtest picks by. LightGBM refuses grades >=
len(label_gain) (at most 31 here) and groups of more than 10,000 rows, so grades are capped and
bigger groups are split at random into near-equal parts before fitting.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from daiyun.models.selection.matrix import learn_categories, model_matrix

MAX_GRADES = 31
MAX_GROUP_ROWS = 10_000


def graded_labels(revenue: np.ndarray, group: np.ndarray, n_grades: int = 31) -> np.ndarray:
    """Integer grades 0..n_grades-1 from within-group revenue percentiles (0: no revenue)."""
    if not 2 <= n_grades <= MAX_GRADES:
        raise ValueError(f"n_grades must be in 2..{MAX_GRADES} (LightGBM's label_gain size), got {n_grades}")
    revenue = pd.Series(np.asarray(revenue, dtype=float)).fillna(0.0)
    positive = revenue.where(revenue > 0)
    pct = positive.groupby(np.asarray(group)).rank(pct=True, method="average")
    grades = np.ceil(pct.to_numpy() * (n_grades - 1))
    return np.nan_to_num(grades, nan=0.0).clip(0, n_grades - 1).astype(int)


def split_large_groups(group: np.ndarray, max_rows: int = MAX_GROUP_ROWS, seed: int = 0) -> np.ndarray:
    """Group ids where any group above `max_rows` rows is split at random into near-equal parts."""
    group = pd.Series(np.asarray(group))
    codes, _ = pd.factorize(group)
    sizes = np.bincount(codes)
    out = codes.astype(np.int64) * (int(np.ceil(sizes.max() / max_rows)) + 1)
    rng = np.random.default_rng(seed)
    for code in np.flatnonzero(sizes > max_rows):
        rows = np.flatnonzero(codes == code)
        parts = int(np.ceil(len(rows) / max_rows))
        out[rng.permutation(rows)] += np.arange(len(rows)) % parts
    return out


class SelectionRanker:
    """LambdaRank on selection features; `fit(frame, revenue, group)`, `predict(frame)` -> scores."""

    def __init__(
        self,
        features: list[str] | None = None,
        n_estimators: int = 300,
        learning_rate: float = 0.05,
        num_leaves: int = 31,
        min_child_samples: int = 20,
        subsample: float = 0.8,
        colsample_bytree: float = 0.8,
        n_grades: int = 31,
        label_gain: str = "revenue",
        max_group_rows: int = MAX_GROUP_ROWS,
        random_state: int = 0,
        n_jobs: int = 1,
    ) -> None:
        self.features = features
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.n_grades = n_grades
        self.label_gain = label_gain
        self.max_group_rows = max_group_rows
        self.random_state = random_state
        self.n_jobs = n_jobs

    def _gains(self, labels: np.ndarray, revenue: np.ndarray, group: np.ndarray) -> list[float]:
        grades = np.arange(self.n_grades, dtype=float)
        if self.label_gain == "linear":
            return grades.tolist()
        if self.label_gain == "exp":
            return (2.0 ** grades - 1).tolist()
        if self.label_gain == "revenue":
            # each grade's gain is the typical revenue share (of its group's best seller) of SKUs
            # with that grade: LambdaRank then optimises NDCG with revenue as gain, like the backtest
            revenue = np.nan_to_num(np.asarray(revenue, dtype=float), nan=0.0).clip(0)
            best = pd.Series(revenue).groupby(np.asarray(group)).transform("max").to_numpy()
            share = np.divide(revenue, best, out=np.zeros_like(revenue), where=best > 0)
            means = pd.Series(share).groupby(labels).mean().reindex(range(self.n_grades))
            gains = np.maximum.accumulate(means.interpolate(limit_direction="both").fillna(0).to_numpy())
            gains[0] = 0.0
            return (100 * gains).tolist()
        raise ValueError(f"label_gain must be 'revenue', 'exp' or 'linear', got '{self.label_gain}'")

    def fit(self, frame: pd.DataFrame, revenue, group) -> SelectionRanker:
        import lightgbm as lgb

        if not 1 <= self.max_group_rows <= MAX_GROUP_ROWS:
            raise ValueError(f"max_group_rows must be in 1..{MAX_GROUP_ROWS}")
        self.features_ = list(self.features or [])
        self.categories_ = learn_categories(frame, self.features_)
        labels = graded_labels(np.asarray(revenue), np.asarray(group), self.n_grades)
        parts = split_large_groups(np.asarray(group), self.max_group_rows, self.random_state)
        order = np.argsort(parts, kind="stable")  # LightGBM needs each group's rows contiguous
        sizes = np.unique(parts[order], return_counts=True)[1]
        self.group_sizes_ = sizes
        self.label_gains_ = self._gains(labels, np.asarray(revenue), np.asarray(group))
        matrix = model_matrix(frame, self.features_, self.categories_).iloc[order]
        self.model_ = lgb.LGBMRanker(
            objective="lambdarank",
            n_estimators=self.n_estimators,
            learning_rate=self.learning_rate,
            num_leaves=self.num_leaves,
            min_child_samples=self.min_child_samples,
            subsample=self.subsample,
            subsample_freq=1 if self.subsample < 1 else 0,
            colsample_bytree=self.colsample_bytree,
            label_gain=self.label_gains_,
            lambdarank_truncation_level=30,
            random_state=self.random_state,
            n_jobs=self.n_jobs,
            verbose=-1,
        )
        self.model_.fit(matrix, labels[order], group=sizes)
        return self

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return self.model_.predict(model_matrix(frame, self.features_, self.categories_))

    def contributions(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Per-row SHAP contributions of each feature to the score (column `bias` is the base)."""
        values = self.model_.predict(model_matrix(frame, self.features_, self.categories_), pred_contrib=True)
        return pd.DataFrame(values, index=frame.index, columns=self.features_ + ["bias"])
