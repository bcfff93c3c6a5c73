"""The selection bundle: what is registered in MLflow and served for one brand.

It carries the fitted `SelectionModel` and a small snapshot of the brand's recent sales (the
last ~18 months, float32: what the features look back over), its products, promotion plans and
event calendar, so `score()` answers without the data directory. `with_history(dataset)`
refreshes the snapshot with newer data without refitting.
"""

from __future__ import annotations

import copy
import json
from dataclasses import replace

import numpy as np
import pandas as pd

from daiyun.features.dataset import SALES_COLUMNS, Dataset
from daiyun.features.errors import NotFoundError, RequestError
from daiyun.features.selection_frame import periods, selection_frame
from daiyun.models.answer_cache import AnswerCache
from daiyun.models.selection.scorer import SelectionModel

SNAPSHOT_DAYS = 560  # 365-day windows + last year's horizon + the 8 weeks before last year's event
OUTPUT_COLUMNS = ["platform", "sku_id", "rank", "score", "expected_revenue", "new_sku", "reasons"]


def snapshot(dataset: Dataset, brand: str, days: int = SNAPSHOT_DAYS) -> Dataset:
    """The brand's recent history, trimmed and downcast, with launch dates kept from the full data."""
    mine = dataset.for_brand(brand)
    sales = mine.sales
    start = sales["date"].max() - pd.Timedelta(days=days)
    first_sale = sales.groupby("sku_id")["date"].min()
    products = mine.products.copy()
    products["launch_date"] = products["launch_date"].fillna(products["sku_id"].map(first_sale))
    recent = sales.loc[sales["date"] >= start, [c for c in SALES_COLUMNS if c in sales.columns]].copy()
    for column in ("units", "revenue", "price", "list_price", "discount"):
        if column in recent:
            recent[column] = recent[column].astype("float32")
    for column in ("brand", "platform", "sku_id"):
        recent[column] = recent[column].astype("category")
    promotions = mine.promotions
    if not promotions.empty:
        promotions = promotions.loc[pd.to_datetime(promotions["end"]) >= start].reset_index(drop=True)
    return replace(mine, sales=recent.reset_index(drop=True), products=products, promotions=promotions,
                   ads=mine.ads.iloc[0:0], notes=[])


class SelectionBundle:
    """Ranks one brand's SKUs for a coming period, with expected revenue and three reasons each."""

    family = "selection"

    def __init__(
        self,
        brand: str,
        model: SelectionModel,
        history: Dataset,
        event_windows: pd.DataFrame | None,
        horizon_days: int,
        target: str = "revenue",
        metrics: dict | None = None,
    ) -> None:
        self.brand = brand
        self.model = model
        self.history = history
        self.event_windows = event_windows
        self.horizon_days = horizon_days
        self.target = target
        self.metrics = dict(metrics or {})
        self.model_version: str | None = None
        self._feature_cache = AnswerCache()

    # the cache is per process: a pickle (MLflow, a copy) carries the model, never the cache
    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state.pop("_feature_cache", None)
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._feature_cache = AnswerCache()

    def _cache(self) -> AnswerCache:
        cache = getattr(self, "_feature_cache", None)  # bundles built before the cache existed
        if cache is None:
            cache = self._feature_cache = AnswerCache()
        return cache

    @property
    def freq(self) -> str:
        return self.history.freq(self.brand)

    @property
    def data_end(self) -> pd.Timestamp:
        return self.history.end_date

    def skus(self) -> pd.DataFrame:
        """platform, sku_id, category of every series the bundle can score (kept: every request checks it)."""

        def build() -> pd.DataFrame:
            keys = self.history.sales[["platform", "sku_id"]].astype(str).drop_duplicates()
            info = self.history.products[["sku_id", "category"]].drop_duplicates("sku_id")
            return keys.merge(info, on="sku_id", how="left").reset_index(drop=True)

        return self._cache().get(("skus", self.data_end, len(self.history.sales)), build).copy(deep=False)

    def with_history(self, dataset: Dataset) -> SelectionBundle:
        """The same fitted model over the brand's history in `dataset` (newer data, no refit)."""
        refreshed = copy.copy(self)
        refreshed.history = snapshot(dataset, self.brand)
        refreshed._feature_cache = AnswerCache()  # features of the old history must not answer
        return refreshed

    def features(self, as_of, horizon_days: int) -> pd.DataFrame:
        """Every SKU's features at `as_of` for the horizon (all platforms).

        They depend only on (as_of, horizon) and are most of a request's time, so the last few are
        kept; each call gets its own shallow copy (copy-on-write: a caller's edits never reach the cache).
        """
        as_of = pd.Timestamp(as_of)
        key = ("features", as_of, int(horizon_days), self.target, self.data_end, len(self.history.sales))
        frame = self._cache().get(key, lambda: selection_frame(
            self.history, [as_of], horizon_days, target=self.target, event_windows=self.event_windows,
        ))
        return frame.copy(deep=False)

    def score(
        self,
        as_of,
        horizon_days: int,
        sku_ids: list[str] | None = None,
        platform: str | None = None,
        top_k: int | None = None,
    ) -> pd.DataFrame:
        """Ranked SKUs per platform (rank restarts at 1 on each platform), best first."""
        as_of = self._check(as_of, horizon_days, top_k)
        known = self.skus()
        if platform is not None and platform not in set(known["platform"]):
            raise NotFoundError("platform", platform, sorted(known["platform"].unique()))
        if sku_ids:
            missing = sorted(set(sku_ids) - set(known["sku_id"]))
            if missing:
                raise NotFoundError("sku_id", missing[0], sorted(known["sku_id"].unique()))
        frame = self.features(as_of, horizon_days)
        if platform is not None:
            frame = frame.loc[frame["platform"].eq(platform)]
        if frame.empty:
            raise RequestError("as_of", f"no SKU of brand '{self.brand}' was on sale by {as_of.date()}",
                               "pick a later as_of")
        frame = frame.reset_index(drop=True)
        scored = self.model.predict(frame)
        scored.insert(0, "sku_id", frame["sku_id"])
        scored.insert(0, "platform", frame["platform"])
        # rank against every SKU of the platform, then keep the ones asked for
        scored = scored.sort_values(["platform", "score"], ascending=[True, False], kind="stable")
        scored["rank"] = scored.groupby("platform").cumcount() + 1
        if sku_ids:
            scored = scored.loc[scored["sku_id"].isin(sku_ids)]
        if top_k is not None:
            scored = scored.loc[scored["rank"] <= top_k]
        reasons = self.model.reasons(frame.loc[scored.index], horizon_days, self.freq)
        scored["reasons"] = reasons
        scored["expected_revenue"] = scored["expected_revenue"].round(2)
        return scored[OUTPUT_COLUMNS].reset_index(drop=True)

    def _check(self, as_of, horizon_days, top_k) -> pd.Timestamp:
        try:
            as_of = pd.Timestamp(as_of)
        except (TypeError, ValueError):
            raise RequestError("as_of", f"'{as_of}' is not a date", "use YYYY-MM-DD") from None
        if pd.isna(as_of):
            raise RequestError("as_of", "missing", "use YYYY-MM-DD")
        last_day = self.data_end + pd.Timedelta(days=6 if self.freq == "W" else 0)
        if as_of > last_day:
            raise RequestError(
                "as_of", f"{as_of.date()} is after the last date of the data ({last_day.date()})",
                "pass newer data (--data) or an earlier as_of",
            )
        if as_of < self.history.start_date:
            raise RequestError(
                "as_of", f"{as_of.date()} is before this model's history ({self.history.start_date.date()})",
                "pass --data with that history, or a later as_of",
            )
        if not isinstance(horizon_days, (int, np.integer)) or not 1 <= horizon_days <= 366:
            raise RequestError(
                "horizon_days", f"must be a whole number of days in 1..366, got {horizon_days}",
                "e.g. 30 for the coming month",
            )
        if top_k is not None and (not isinstance(top_k, (int, np.integer)) or top_k < 1):
            raise RequestError("top_k", f"must be a positive whole number, got {top_k}")
        return as_of

    def horizon_periods(self, horizon_days: int) -> int:
        return periods(horizon_days, self.freq)

    def predict_frame(self, requests: pd.DataFrame) -> pd.DataFrame:
        """pyfunc entry: one request per row (as_of, horizon_days, optional platform, top_k, sku_ids)."""
        answers = []
        for number, request in enumerate(requests.to_dict("records")):
            sku_ids = request.get("sku_ids")
            if isinstance(sku_ids, str):
                sku_ids = [s for s in sku_ids.split(",") if s]
            top_k = request.get("top_k")
            answer = self.score(
                request["as_of"], int(request.get("horizon_days") or self.horizon_days),
                sku_ids=list(sku_ids) if sku_ids is not None and len(sku_ids) else None,
                platform=request.get("platform") or None,
                top_k=None if top_k is None or pd.isna(top_k) else int(top_k),
            )
            answer["reasons"] = answer["reasons"].map(json.dumps)
            answer.insert(0, "request", number)
            answers.append(answer)
        return pd.concat(answers, ignore_index=True)
