"""One selection model as served: a ranking rule plus expected revenue, cold start and reasons.

`kind` names the rule that orders established SKUs (the one that won the backtest): "ranker"
(LambdaRank), "regressor" (LightGBM on revenue), or a baseline ("last_period",
"avg_4_periods"). Expected revenue comes from the regressor (from the baseline's own rate when a
baseline won). New SKUs get the cold-start estimate, and a score placed among the established
SKUs of their group by that estimate, so one list orders both.
"""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd

from daiyun.models.selection.baselines import BASELINES
from daiyun.models.selection.cold_start import ColdStartScorer
from daiyun.models.selection.ranker import SelectionRanker
from daiyun.models.selection.reasons import new_sku_reason, top_reasons
from daiyun.models.selection.regressor import SelectionRegressor

KINDS = ("ranker", "regressor", *BASELINES)
LIGHTGBM_KINDS = ("ranker", "regressor")


class SelectionModel:
    """`fit(frame)` on a labelled selection frame; `predict(frame)` -> score, expected_revenue, new_sku."""

    def __init__(
        self,
        kind: str = "ranker",
        features: list[str] | None = None,
        ranker_params: dict | None = None,
        regressor_params: dict | None = None,
    ) -> None:
        self.kind = kind
        self.features = features
        self.ranker_params = ranker_params
        self.regressor_params = regressor_params

    def fit(self, frame: pd.DataFrame, fit_ranker: bool | None = None) -> SelectionModel:
        """Fit on rows with a label; the ranker only when it is (or may become) the ranking rule."""
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got '{self.kind}'")
        labelled = frame.loc[frame["target"].notna()]
        if labelled.empty:
            raise ValueError("no labelled rows: the horizon runs past the data for every as_of")
        features = list(self.features or [])
        revenue = labelled["target"].to_numpy(float)
        self.regressor_ = SelectionRegressor(features=features, **(self.regressor_params or {})).fit(
            labelled, revenue, labelled["horizon_periods"]
        )
        self.ranker_ = None
        if fit_ranker or (fit_ranker is None and self.kind == "ranker"):
            group = labelled.groupby(["brand", "platform", "as_of"], sort=False).ngroup().to_numpy()
            self.ranker_ = SelectionRanker(features=features, **(self.ranker_params or {})).fit(
                labelled, revenue, group
            )
        self.cold_start_ = ColdStartScorer().fit(labelled, revenue, labelled["horizon_periods"])
        return self

    def with_kind(self, kind: str) -> SelectionModel:
        """The same fitted parts ranking by another rule (backtests compare rules on one fit)."""
        other = copy.copy(self)
        other.kind = kind
        if kind == "ranker" and self.ranker_ is None:
            raise ValueError("this model was fitted without its ranker")
        return other

    def _established_scores(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """(ranking score, expected revenue per period) for every row, from its own history."""
        if self.kind in BASELINES:
            rate = BASELINES[self.kind]().fit().predict(frame)
            return np.log1p(rate), rate
        rate = self.regressor_.predict(frame)
        if self.kind == "ranker":
            return self.ranker_.predict(frame), rate
        return self.regressor_.predict_log(frame), rate

    def predict(self, frame: pd.DataFrame) -> pd.DataFrame:
        score, rate = self._established_scores(frame)
        new = frame["new_sku"].to_numpy(bool) if "new_sku" in frame else np.zeros(len(frame), bool)
        if new.any():
            rate = np.where(new, self.cold_start_.predict(frame), rate)
            score = _place_new(frame, score, rate, new)
        periods = frame["horizon_periods"].to_numpy(float)
        return pd.DataFrame(
            {"score": score, "expected_revenue": rate * periods, "new_sku": new}, index=frame.index
        )

    def explainer(self):
        """The LightGBM model whose contributions explain the ranking."""
        if self.kind == "ranker" and self.ranker_ is not None:
            return self.ranker_
        return self.regressor_

    def reasons(self, frame: pd.DataFrame, horizon_days: int, freq: str, n: int = 3) -> list[list[dict]]:
        out: list[list[dict]] = [[] for _ in range(len(frame))]
        new = frame["new_sku"].to_numpy(bool) if "new_sku" in frame else np.zeros(len(frame), bool)
        established = frame.loc[~new]
        if len(established):
            contributions = self.explainer().contributions(established)
            explained = top_reasons(contributions, established, n=n, horizon_days=horizon_days, freq=freq)
            for position, reasons in zip(np.flatnonzero(~new), explained, strict=True):
                out[position] = reasons
        for position in np.flatnonzero(new):
            out[position] = new_sku_reason(frame.iloc[position], freq)
        return out


def _place_new(frame: pd.DataFrame, score: np.ndarray, rate: np.ndarray, new: np.ndarray) -> np.ndarray:
    """Give each new SKU the score an established SKU with its expected revenue has in its group."""
    score = score.astype(float).copy()
    groups = frame.groupby(["platform", "as_of"], sort=False).indices
    for rows in groups.values():
        rows = np.asarray(rows)
        old, young = rows[~new[rows]], rows[new[rows]]
        if not len(young):
            continue
        if len(old) < 2:
            score[young] = np.log1p(rate[young])
            continue
        order = np.argsort(rate[old])
        # the established SKUs' score as a monotone function of their expected revenue
        known_rate = rate[old][order]
        known_score = np.maximum.accumulate(score[old][order])
        score[young] = np.interp(rate[young], known_rate, known_score)
    return score
