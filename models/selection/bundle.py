"""The selection bundle: what is registered in MLflow and served for one brand.

The push list is scored from the forecast: every SKU's expected revenue over the push period is
the forecast's mean units x the planned price (p10/p90 from the forecast's quantiles; see
forecast_score). The bundle carries the forecast bundle it was trained against (the brand's
forecast champion then); the CLI and the service pass the *current* forecast champion instead, so
the push list and `/forecast` always show the same number. A learned correction re-orders the list
only where it beat forecast-only ranking in the brand's backtest (`correction` is None otherwise).

It also keeps a small snapshot of the brand's recent sales (the last ~18 months, float32) for the
drivers the reasons cite (recent trend, stock-outs, margin, event history) and for forecasting
from an earlier as_of. `with_history(dataset)` refreshes the snapshot without refitting.
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
from daiyun.models.selection.correction import ForecastCorrection, forecast_rate_log
from daiyun.models.selection.drivers import push_reasons
from daiyun.models.selection.forecast_score import forecast_push_numbers

SNAPSHOT_DAYS = 560  # 365-day windows + last year's horizon + the 8 weeks before last year's event
OUTPUT_COLUMNS = ["platform", "sku_id", "rank", "score", "expected_revenue", "revenue_p10", "revenue_p90",
                  "expected_units", "planned_price", "new_sku", "reasons"]
SCOPES = ("platform", "brand")
MONEY_COLUMNS = ("expected_revenue", "revenue_p10", "revenue_p90", "planned_price")


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
    """Ranks one brand's SKUs for a push period by the forecast's expected revenue, with reasons."""

    family = "selection"

    def __init__(
        self,
        brand: str,
        forecast,
        correction: ForecastCorrection | None,
        history: Dataset,
        event_windows: pd.DataFrame | None,
        horizon_days: int,
        target: str = "revenue",
        metrics: dict | None = None,
        decision: str = "",
    ) -> None:
        self.brand = brand
        self.forecast = forecast
        self.correction = correction
        self.history = history
        self.event_windows = event_windows
        self.horizon_days = horizon_days
        self.target = target
        self.metrics = dict(metrics or {})
        self.decision = decision
        self.model_version: str | None = None
        self._feature_cache = AnswerCache()

    # the cache is per process: a pickle (MLflow, a copy) carries the models, never the cache
    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state.pop("_feature_cache", None)
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._feature_cache = AnswerCache()

    def _cache(self) -> AnswerCache:
        cache = getattr(self, "_feature_cache", None)
        if cache is None:
            cache = self._feature_cache = AnswerCache()
        return cache

    @property
    def freq(self) -> str:
        return self.history.freq(self.brand)

    @property
    def data_end(self) -> pd.Timestamp:
        return self._history_span()[1]

    def _history_span(self) -> tuple[pd.Timestamp, pd.Timestamp]:
        """First and last date of the history (kept: every request's checks and cache keys read them)."""
        sales = self.history.sales
        return self._cache().get(("span", id(sales), len(sales)),
                                 lambda: (sales["date"].min(), sales["date"].max()))

    def skus(self) -> pd.DataFrame:
        """platform, sku_id, category of every series the bundle can score (kept: every request checks it)."""

        def build() -> pd.DataFrame:
            keys = self.history.sales[["platform", "sku_id"]].astype(str).drop_duplicates()
            info = self.history.products[["sku_id", "category"]].drop_duplicates("sku_id")
            return keys.merge(info, on="sku_id", how="left").reset_index(drop=True)

        return self._cache().get(("skus", self.data_end, len(self.history.sales)), build).copy(deep=False)

    def with_history(self, dataset: Dataset) -> SelectionBundle:
        """The same bundle over the brand's history in `dataset` (newer data, no refit)."""
        refreshed = copy.copy(self)
        refreshed.history = snapshot(dataset, self.brand)
        refreshed._feature_cache = AnswerCache()  # features of the old history must not answer
        return refreshed

    def features(self, as_of, horizon_days: int) -> pd.DataFrame:
        """Every SKU's selection features at `as_of` for the horizon (read by the reasons and correction)."""
        as_of = pd.Timestamp(as_of)
        key = ("features", as_of, int(horizon_days), self.target, self.data_end, len(self.history.sales))
        frame = self._cache().get(key, lambda: selection_frame(
            self.history, [as_of], horizon_days, target=self.target, event_windows=self.event_windows,
        ))
        return frame.copy(deep=False)

    def forecast_at(self, as_of: pd.Timestamp, forecast=None):
        """The forecast made with data up to `as_of`: the given (or carried) one, refreshed when it
        has seen later data (its trees stay; its history is cut at as_of, so no label leaks in)."""
        forecast = forecast if forecast is not None else self.forecast
        if forecast is None:
            raise RequestError("forecast", f"brand '{self.brand}' has no forecast to score from",
                               "train the forecast first: daiyun train forecast --data DIR")
        origin = pd.Timestamp(forecast.origin)
        if as_of >= origin:
            return forecast

        def refresh():
            cut = self.history.sales.loc[self.history.sales["date"] <= as_of]
            return forecast.with_history(replace(self.history, sales=cut.reset_index(drop=True)))

        return self._cache().get(("forecast_at", id(forecast), as_of), refresh)

    def push_numbers(self, as_of: pd.Timestamp, horizon_days: int, forecast=None) -> pd.DataFrame:
        """Every SKU's push-list row for the period, best first, with its rank on its platform and in
        the brand (cached: requests differ only in the filters applied after it)."""
        forecast = self.forecast_at(as_of, forecast)
        key = ("push", as_of, int(horizon_days), id(forecast), str(getattr(forecast, "model_version", "")),
               self.data_end, len(self.history.sales))

        def build() -> pd.DataFrame:
            # features built here, not through features(): one cache entry per (as_of, horizon)
            frame = selection_frame(self.history, [as_of], horizon_days, target=self.target,
                                    event_windows=self.event_windows)
            regular = frame[["platform", "sku_id", "list_price"]].astype({"platform": str, "sku_id": str})
            regular = regular.rename(columns={"list_price": "regular_price"})
            numbers = forecast_push_numbers(forecast, as_of, horizon_days, regular)
            joined = frame.merge(numbers.drop(columns="regular_price"), on=["platform", "sku_id"], how="left")
            # a SKU the forecast does not know (listed after its history) is expected to sell nothing yet
            for column in ("expected_units", "expected_revenue", "revenue_p10", "revenue_p90", "promo_days"):
                joined[column] = joined[column].fillna(0.0)
            joined["planned_price"] = joined["planned_price"].fillna(joined["list_price"])
            joined["regular_price"] = joined["list_price"]
            joined["periods"] = joined["periods"].fillna(joined["horizon_periods"])
            joined["cold_start"] = joined["cold_start"].astype("boolean").fillna(False).astype(bool)
            joined["forecast_revenue"] = joined["expected_revenue"]
            joined["correction"] = self.correction.correction(joined) if self.correction is not None else 0.0
            joined["score"] = forecast_rate_log(joined) + joined["correction"].to_numpy(float)
            # reasons compare a SKU with its whole platform, so they are made once for every SKU
            ranked = pd.DataFrame({
                # plain Python strings: answers are turned into records row by row, and Arrow-backed
                # strings cost ~5x more there
                "platform": pd.Series(joined["platform"].astype(str).tolist(), dtype=object),
                "sku_id": pd.Series(joined["sku_id"].astype(str).tolist(), dtype=object),
                "score": joined["score"].to_numpy(float),
                **{c: joined[c].to_numpy(float).round(2) for c in MONEY_COLUMNS},
                "expected_units": joined["expected_units"].to_numpy(float).round(3),
                "new_sku": joined["new_sku"].to_numpy(bool) | joined["cold_start"].to_numpy(bool),
                "reasons": push_reasons(joined, horizon_days, self.freq),
            }).sort_values("score", ascending=False, kind="stable").reset_index(drop=True)
            ranked["brand_rank"] = np.arange(1, len(ranked) + 1)
            ranked["platform_rank"] = ranked.groupby("platform").cumcount().to_numpy() + 1
            return ranked

        return self._cache().get(key, build)

    def score(
        self,
        as_of,
        horizon_days: int,
        sku_ids: list[str] | None = None,
        platform: str | None = None,
        top_k: int | None = None,
        scope: str = "platform",
        forecast=None,
    ) -> pd.DataFrame:
        """The push list, best first: ranks restart per platform (scope "platform") or run across
        the brand's platforms (scope "brand"). `forecast`: the forecast bundle to score from
        (default: the one carried since training)."""
        as_of = self._check(as_of, horizon_days, top_k)
        if scope not in SCOPES:
            raise RequestError("scope", f"unknown scope '{scope}'",
                               "use platform (ranks per platform) or brand (one list across platforms)")
        known = self.skus()
        if platform is not None and platform not in set(known["platform"]):
            raise NotFoundError("platform", platform, sorted(known["platform"].unique()))
        if sku_ids:
            missing = sorted(set(sku_ids) - set(known["sku_id"]))
            if missing:
                raise NotFoundError("sku_id", missing[0], sorted(known["sku_id"].unique()))
        ranked = self.push_numbers(as_of, horizon_days, forecast)  # best first
        keep = np.ones(len(ranked), bool)
        if platform is not None:
            keep &= ranked["platform"].to_numpy() == platform
        if not keep.any():
            raise RequestError("as_of", f"no SKU of brand '{self.brand}' was on sale by {as_of.date()}",
                               "pick a later as_of")
        rank = ranked["platform_rank" if scope == "platform" else "brand_rank"].to_numpy()
        if sku_ids:
            keep &= ranked["sku_id"].isin(sku_ids).to_numpy()
        if top_k is not None:
            keep &= rank <= top_k
        out = ranked.loc[keep].assign(rank=rank[keep])
        if scope == "platform":  # platform by platform, each best first
            out = out.sort_values("platform", kind="stable")
        return out[OUTPUT_COLUMNS].reset_index(drop=True)

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
        first_day = self._history_span()[0]
        if as_of < first_day:
            raise RequestError(
                "as_of", f"{as_of.date()} is before this model's history ({first_day.date()})",
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
        """pyfunc entry: one request per row (as_of, horizon_days; optional platform, top_k, sku_ids,
        scope)."""
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
                scope=request.get("scope") or "platform",
            )
            answer["reasons"] = answer["reasons"].map(json.dumps)
            answer.insert(0, "request", number)
            answers.append(answer)
        return pd.concat(answers, ignore_index=True)
