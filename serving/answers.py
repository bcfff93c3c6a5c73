"""From a request and a champion to an answer: the only place the service touches the bundles.

Pure functions (no HTTP), so the same answers can be tested without a server.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pandas as pd

from daiyun.features.errors import NotFoundError, RequestError
from daiyun.serving.champions import Champion
from daiyun.serving.forecast_table import ForecastTable
from daiyun.serving.schemas import (
    BudgetRequest,
    BudgetResponse,
    ForecastRequest,
    ForecastResponse,
    ModelVersion,
    ScoredProduct,
    ScoreRequest,
    ScoreResponse,
    quantile_column,
)

KEY_COLUMNS = ("platform", "sku_id", "category")
TOP_REASONS = 3
SCORE_EXTRAS = ("revenue_p10", "revenue_p90", "expected_units", "planned_price")  # when the model gives them


def plain(value: Any) -> Any:
    """numpy / pandas values -> JSON-safe Python values (NaN -> None, Timestamp -> date)."""
    if isinstance(value, dict):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    if isinstance(value, np.ndarray):
        return [plain(item) for item in value.tolist()]
    if isinstance(value, pd.Timestamp):
        return value.date() if value == value.normalize() else value.isoformat()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is pd.NaT:
        return None
    return value


def _version(champion: Champion) -> ModelVersion:
    return ModelVersion(**champion.version_fields())


def _promotion_plan(request: ForecastRequest) -> pd.DataFrame | None:
    if not request.promotions:
        return None
    rows = []
    for row in request.promotions:
        fields = row.model_dump(exclude={"flags"}) | {"brand": request.brand}
        rows.append(fields | {name: float(value) for name, value in (row.flags or {}).items()})
    columns = ["brand", "platform", "sku_id", "start", "end", "discount", "price", "mechanic"]
    # a flag one row gives and another does not is 0 there: that row's promotion does not have it
    # (the schema refuses a flag named like a row field)
    flags = sorted({name for row in request.promotions for name in (row.flags or {})})
    plan = pd.DataFrame(rows, columns=columns + flags)
    plan[flags] = plan[flags].fillna(0.0).astype("float64")
    plan["start"] = pd.to_datetime(plan["start"])
    plan["end"] = pd.to_datetime(plan["end"])
    plan["discount"] = plan["discount"].astype("float64")
    plan["price"] = plan["price"].astype("float64")
    return plan


def check_promotions(champion: Champion, request: ForecastRequest) -> None:
    """404 for a plan row naming a SKU or platform the brand does not sell (it used to be dropped
    silently: the forecast then ignored a promotion the planner thought was in it)."""
    if not request.promotions or not hasattr(champion.bundle, "series"):
        return
    series = champion.bundle.series()
    platforms = set(series["platform"].astype(str))
    skus = set(series["sku_id"].astype(str))
    sold = set(zip(series["platform"].astype(str), series["sku_id"].astype(str), strict=True))
    for number, row in enumerate(request.promotions):
        if row.platform not in platforms:
            raise NotFoundError(f"promotions.{number}.platform", row.platform, sorted(platforms))
        if row.sku_id not in skus:
            raise NotFoundError(f"promotions.{number}.sku_id", row.sku_id, sorted(skus))
        if (row.platform, row.sku_id) not in sold:
            raise RequestError(
                f"promotions.{number}",
                f"SKU '{row.sku_id}' is not sold on platform '{row.platform}'",
                "name a platform the SKU is sold on",
                status=404,
            )


def forecast_table(champion: Champion, request: ForecastRequest) -> ForecastTable:
    """The forecast asked for: sliced from the precomputed one when it covers the request."""
    check_promotions(champion, request)
    quantile_columns = [quantile_column(q) for q in request.quantiles]
    asked = dict(
        promotions=_promotion_plan(request),
        quantiles=tuple(request.quantiles),
        sku_ids=request.sku_ids,
        platforms=request.platforms,
        level=request.level,
    )
    start, end = pd.Timestamp(request.start), pd.Timestamp(request.end)
    if champion.precomputed is not None:
        table = champion.precomputed.lookup(start, end, **asked)
        if table is not None:
            return table
    frame = champion.bundle.forecast(start, end, **asked)
    keys = [column for column in KEY_COLUMNS if column in frame.columns]
    values = ["mean", *[column for column in quantile_columns if column in frame.columns]]
    return ForecastTable.from_frame(frame, keys, values)


def forecast_answer(champion: Champion, request: ForecastRequest) -> ForecastResponse:
    table = forecast_table(champion, request)
    return ForecastResponse(
        brand=champion.brand,
        level=request.level,
        start=request.start,
        end=request.end,
        quantiles=request.quantiles,
        rows=table.rows(),
        totals=table.totals(),
        total=table.total(),
        models=[_version(champion)],
    )


def forecast_json(champion: Champion, request: ForecastRequest) -> bytes:
    """`forecast_answer` as JSON bytes, without a pydantic object per row: a whole brand is ~10k
    rows, and building and serialising the objects cost more than the forecast itself. The same
    fields in the same order (tests compare the two)."""
    table = forecast_table(champion, request)
    head = {
        "brand": champion.brand,
        "level": request.level,
        "start": request.start.isoformat(),
        "end": request.end.isoformat(),
        "quantiles": list(request.quantiles),
    }
    tail = {"total": table.total_record(), "models": [_version(champion).model_dump()]}
    text = (
        _dumps(head)[:-1] + ',"rows":' + table.rows_json() + ',"totals":' + table.totals_json() + ","
        + _dumps(tail)[1:]
    )
    return text.encode("utf-8")


def _dumps(value: dict) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def budget_answer(champion: Champion, request: BudgetRequest) -> BudgetResponse:
    constraints = None
    if request.channels:
        constraints = [constraint.model_dump(exclude_none=True) for constraint in request.channels]
    recommendation = champion.bundle.recommend(
        pd.Timestamp(request.start),
        pd.Timestamp(request.end),
        request.total_budget,
        objective=request.objective,
        target_roi=request.target_roi,
        channels=constraints,
        max_shift=request.max_shift,
        breakeven_roi=request.breakeven_roi,
    )
    answer = plain(dict(recommendation))
    # the registry's name and version, not the bundle's own note of them, say who answered
    answer.pop("model_versions", None)
    answer["brand"] = champion.brand
    answer["models"] = [_version(champion)]
    # the bundle's own terms win (a weekly brand's period snaps to its weeks); the request fills gaps
    for key, value in (
        ("start", request.start), ("end", request.end), ("total_budget", request.total_budget),
        ("objective", request.objective), ("target_roi", request.target_roi),
    ):
        answer.setdefault(key, value)
    return BudgetResponse.model_validate(answer)


def score_answer(
    champion: Champion, request: ScoreRequest, forecast: Champion | None = None
) -> ScoreResponse:
    """The push list; scored from the brand's forecast champion when one is served (one number with
    /forecast), else from the forecast the selection model carries."""
    frame = champion.bundle.score(
        pd.Timestamp(request.as_of),
        request.horizon_days,
        sku_ids=request.sku_ids,
        platform=request.platform,
        top_k=request.top_k,
        scope=request.scope,
        forecast=forecast.bundle if forecast is not None else None,
    )
    rows = []
    for record in frame.to_dict("records"):
        reasons = list(record.get("reasons") or [])[:TOP_REASONS]
        rows.append(
            ScoredProduct.model_validate(
                plain(
                    {
                        "platform": record["platform"],
                        "sku_id": record["sku_id"],
                        "rank": record["rank"],
                        "score": record["score"],
                        "expected_revenue": record["expected_revenue"],
                        **{k: record[k] for k in SCORE_EXTRAS if k in record},
                        "new_sku": bool(record.get("new_sku", False)),
                        "reasons": reasons,
                    }
                )
            )
        )
    return ScoreResponse(
        brand=champion.brand,
        as_of=request.as_of,
        horizon_days=request.horizon_days,
        rows=rows,
        models=[_version(champion)] + ([_version(forecast)] if forecast is not None else []),
    )
