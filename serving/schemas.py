"""Request and response bodies of the HTTP API (INTERFACES.md): flat JSON, typed, strict.

Requests forbid unknown fields so that a typo (`sku_id` for `sku_ids`) is a 400 naming the field
instead of a silently ignored filter. Forecast rows are flat, like the CLI's output: one column
per quantile asked, named `p` + 100*q (`p10`, `p50`, `p90`), so those rows allow extra keys.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# Bounds that keep one request from occupying a worker for minutes.
MAX_FORECAST_DAYS = 366
MAX_HORIZON_DAYS = 366
MAX_QUANTILES = 9
MAX_LIST = 10_000


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class _Answer(BaseModel):
    model_config = ConfigDict(protected_namespaces=())


def quantile_column(quantile: float) -> str:
    """0.1 -> "p10", 0.975 -> "p97.5": the column the forecast bundle writes for a quantile."""
    return f"p{round(quantile * 100, 6):g}"


class ModelVersion(_Answer):
    """The registered model that produced (part of) an answer."""

    family: str
    brand: str
    name: str = Field(description="registered model name, daiyun-<family>-<brand>")
    version: str = Field(description="registry version that was the champion when loaded")
    run_id: str = ""
    source: str = Field(description="'registry' (MLflow) or 'bento' (packed into the Bento)")


# ---------------------------------------------------------------------------- forecast


class PromotionPlanRow(_Request):
    """One row of the planner's promotion plan, as in the contract's promotions table."""

    brand: str | None = Field(None, description="optional; must be the request's brand")
    platform: str = Field(min_length=1)
    sku_id: str = Field(min_length=1)
    start: dt.date
    end: dt.date
    discount: float | None = Field(None, ge=0, lt=1, description="fraction off the list price")
    price: float | None = Field(None, gt=0, description="planned paid price per unit")
    mechanic: str | None = None

    @model_validator(mode="after")
    def _price_or_discount(self) -> PromotionPlanRow:
        if self.discount is None and self.price is None:
            raise ValueError("a promotion row needs `discount` (in [0, 1)) or `price` (> 0)")
        if self.end < self.start:
            raise ValueError(f"`end` {self.end} is before `start` {self.start}")
        return self


class ForecastRequest(_Request):
    brand: str = Field(min_length=1)
    start: dt.date = Field(description="first forecast day, inclusive")
    end: dt.date = Field(description="last forecast day, inclusive")
    sku_ids: list[str] | None = Field(None, max_length=MAX_LIST, description="default: every SKU")
    platforms: list[str] | None = Field(None, max_length=100, description="default: every platform")
    quantiles: list[float] = Field(default=[0.1, 0.5, 0.9], min_length=1, max_length=MAX_QUANTILES)
    promotions: list[PromotionPlanRow] | None = Field(
        None, max_length=MAX_LIST, description="the planner's scenario; none: regular prices"
    )
    level: Literal["sku", "category", "platform", "brand"] = "sku"

    @field_validator("quantiles")
    @classmethod
    def _quantiles_inside(cls, quantiles: list[float]) -> list[float]:
        for quantile in quantiles:
            if not 0 < quantile < 1:
                raise ValueError(f"every quantile must be strictly between 0 and 1, got {quantile}")
        if len(set(quantiles)) != len(quantiles):
            raise ValueError("quantiles must not repeat")
        return sorted(quantiles)

    @model_validator(mode="after")
    def _period(self) -> ForecastRequest:
        if self.end < self.start:
            raise ValueError(f"`end` {self.end} is before `start` {self.start}")
        days = (self.end - self.start).days + 1
        if days > MAX_FORECAST_DAYS:
            raise ValueError(f"the period has {days} days; ask for at most {MAX_FORECAST_DAYS} per request")
        for row in self.promotions or []:
            if row.brand not in (None, "", self.brand):
                raise ValueError(f"promotion row for brand '{row.brand}' in a request for '{self.brand}'")
        return self


class ForecastRow(_Answer):
    """One date and key; `p<100q>` columns for each quantile asked sit beside `mean`."""

    model_config = ConfigDict(extra="allow")

    date: dt.date
    platform: str | None = None
    sku_id: str | None = None
    category: str | None = None
    mean: float
    cold_start: bool | None = None


class ForecastTotal(_Answer):
    """The period's total for one key. Quantile columns are sums of the daily quantiles: an
    upper bound on the spread of the period total (it assumes the days move together)."""

    model_config = ConfigDict(extra="allow")

    platform: str | None = None
    sku_id: str | None = None
    category: str | None = None
    mean: float


class ForecastResponse(_Answer):
    brand: str
    level: str
    start: dt.date
    end: dt.date
    quantiles: list[float]
    rows: list[ForecastRow]
    totals: list[ForecastTotal] = Field(description="per key, summed over the period")
    total: ForecastTotal = Field(description="everything asked, summed over the period")
    models: list[ModelVersion]


# ---------------------------------------------------------------------------- budget


class ChannelConstraint(_Request):
    channel: str = Field(min_length=1)
    min: float | None = Field(None, ge=0, description="spend at least this much")
    max: float | None = Field(None, ge=0, description="spend at most this much")
    fixed: float | None = Field(None, ge=0, description="spend exactly this much")

    @model_validator(mode="after")
    def _consistent(self) -> ChannelConstraint:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"channel '{self.channel}': min {self.min} is above max {self.max}")
        ceiling = self.max if self.max is not None else float("inf")
        if self.fixed is not None and not (self.min or 0) <= self.fixed <= ceiling:
            raise ValueError(f"channel '{self.channel}': fixed {self.fixed} is outside its min and max")
        return self


class BudgetRequest(_Request):
    brand: str = Field(min_length=1)
    start: dt.date
    end: dt.date
    total_budget: float = Field(gt=0, description="money to split over the period")
    objective: Literal["max_revenue", "target_roi"] = "max_revenue"
    target_roi: float | None = Field(None, gt=0, description="needed when objective is target_roi")
    channels: list[ChannelConstraint] | None = Field(None, max_length=200)

    @model_validator(mode="after")
    def _consistent(self) -> BudgetRequest:
        if self.end < self.start:
            raise ValueError(f"`end` {self.end} is before `start` {self.start}")
        if (self.end - self.start).days + 1 > MAX_FORECAST_DAYS:
            raise ValueError(f"the period is longer than {MAX_FORECAST_DAYS} days")
        if self.objective == "target_roi" and self.target_roi is None:
            raise ValueError("objective 'target_roi' needs `target_roi` (revenue per unit of spend)")
        names = [constraint.channel for constraint in self.channels or []]
        if len(set(names)) != len(names):
            raise ValueError("each channel may appear once in `channels`")
        return self


class BudgetResponse(_Answer):
    """The budget bundle's recommendation (INTERFACES.md fields) plus the versions that made it."""

    model_config = ConfigDict(extra="allow", protected_namespaces=())

    brand: str
    start: dt.date
    end: dt.date
    total_budget: float
    objective: str
    channels: list[dict[str, Any]] = Field(
        description="per channel: spend, expected_revenue, roi, marginal_roi"
    )
    models: list[ModelVersion]


# ---------------------------------------------------------------------------- selection


class ScoreRequest(_Request):
    brand: str = Field(min_length=1)
    as_of: dt.date = Field(description="the day the ranking is made (features up to it)")
    horizon_days: int = Field(gt=0, le=MAX_HORIZON_DAYS, description="the push period's length")
    sku_ids: list[str] | None = Field(None, max_length=MAX_LIST)
    platform: str | None = None
    top_k: int | None = Field(None, gt=0, le=MAX_LIST)


class Reason(_Answer):
    model_config = ConfigDict(extra="allow")

    feature: str
    value: Any = None
    contribution: float
    direction: str
    text: str = ""


class ScoredProduct(_Answer):
    platform: str
    sku_id: str
    rank: int
    score: float
    expected_revenue: float
    new_sku: bool = False
    reasons: list[Reason] = Field(description="the top three reasons, strongest first")


class ScoreResponse(_Answer):
    brand: str
    as_of: dt.date
    horizon_days: int
    rows: list[ScoredProduct]
    models: list[ModelVersion]


# ---------------------------------------------------------------------------- models


class ModelsRequest(_Request):
    brand: str | None = Field(None, description="only this brand (default: every brand of the key)")


class ServedModel(_Answer):
    family: str
    brand: str
    name: str
    version: str | None = None
    run_id: str | None = None
    source: str
    status: Literal["loaded", "failed"]
    metrics: dict[str, float] = Field(default_factory=dict, description="backtest metrics of the run")
    history_end: dt.date | None = Field(None, description="last date of the history the model answers from")
    error: str | None = None


class ModelsResponse(_Answer):
    source: str
    models: list[ServedModel]
