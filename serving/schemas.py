"""Request and response bodies of the HTTP API (INTERFACES.md): flat JSON, typed, strict.

Requests forbid unknown fields so that a typo (`sku_id` for `sku_ids`) is a 400 naming the field
instead of a silently ignored filter. Forecast rows are flat, like the CLI's output: one column
per quantile asked, named `p` + 100*q (`p10`, `p50`, `p90`), so those rows allow extra keys.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from daiyun.features.forecast_terms import (
    DEFAULT_QUANTILES,
    MAX_DAYS_AHEAD,
    check_period,
    check_quantiles,
    quantile_column,  # noqa: F401 - the service's modules read the column names here
)

# Bounds that keep one request from occupying a worker for minutes.
MAX_FORECAST_DAYS = MAX_DAYS_AHEAD  # the forecast's own reach: a period cannot be longer
MAX_HORIZON_DAYS = 366
MAX_QUANTILES = 9
MAX_LIST = 10_000
MAX_NAME = 200  # characters of a brand, SKU, platform or channel name
# Dates pandas can hold (nanosecond timestamps end in April 2262): a date outside would be read as
# another date or overflow inside a model, so it is refused here, naming the field.
FIRST_DATE = dt.date(1970, 1, 1)
LAST_DATE = dt.date(2261, 12, 31)
# Money: at least one unit (5e-324 is a number, not a budget) and at most 10^12, beyond which the
# response curves' float arithmetic loses the cents it is asked to split.
MIN_BUDGET = 1.0
MAX_BUDGET = 1e12
MAX_ROI = 1e6


def _text_date(value: Any) -> Any:
    # pydantic would read 20261016 or 1.5 as seconds since 1970: a date must be written as one
    if isinstance(value, bool | int | float):
        raise ValueError("a date is written YYYY-MM-DD, not as a number")
    return value


def _date_in_range(value: dt.date) -> dt.date:
    if not FIRST_DATE <= value <= LAST_DATE:
        raise ValueError(f"{value} is outside the dates served, {FIRST_DATE} to {LAST_DATE}")
    return value


Day = Annotated[
    dt.date,
    BeforeValidator(_text_date),
    AfterValidator(_date_in_range),
    Field(description=f"YYYY-MM-DD, from {FIRST_DATE} to {LAST_DATE}"),
]
Name = Annotated[str, Field(min_length=1, max_length=MAX_NAME)]


class _Request(BaseModel):
    # no inf/NaN (Python's json reads `NaN`); numbers stay numbers (strict on each numeric field)
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, allow_inf_nan=False)


class _Answer(BaseModel):
    model_config = ConfigDict(protected_namespaces=())


class ModelVersion(_Answer):
    """The registered model that produced (part of) an answer."""

    family: str
    brand: str
    name: str = Field(description="registered model name, daiyun-<family>-<brand>")
    version: str = Field(description="registry version that was the champion when loaded")
    run_id: str = ""
    source: str = Field(description="'registry' (MLflow) or 'bento' (packed into the Bento)")


# ---------------------------------------------------------------------------- forecast


MAX_PROMOTION_FLAGS = 8  # the forecast reads at most 4 (features.forecast_frame.PROMO_EXTRA_MAX)


class PromotionPlanRow(_Request):
    """One row of the planner's promotion plan, as in the contract's promotions table."""

    brand: str | None = Field(None, max_length=MAX_NAME, description="optional; must be the request's brand")
    platform: Name
    sku_id: Name
    start: Day
    end: Day
    discount: float | None = Field(None, ge=0, lt=1, strict=True, description="fraction off the list price")
    price: float | None = Field(None, gt=0, le=1e9, strict=True, description="planned paid price per unit")
    mechanic: str | None = Field(None, max_length=MAX_NAME)
    flags: dict[Name, float] | None = Field(
        None,
        max_length=MAX_PROMOTION_FLAGS,
        description="extra promotion inputs by name, e.g. {\"display\": 1, \"feature\": 0}: read as "
        "known-future inputs when the brand's sales history carries the same columns",
    )

    @model_validator(mode="after")
    def _price_or_discount(self) -> PromotionPlanRow:
        if self.discount is None and self.price is None:
            raise ValueError("a promotion row needs `discount` (in [0, 1)) or `price` (> 0)")
        taken = sorted(set(self.flags or {}) & set(PromotionPlanRow.model_fields))
        if taken:
            named = ", ".join(taken)
            raise ValueError(f"`flags` may not name the row's own fields ({named}): set those directly")
        if self.end < self.start:
            raise ValueError(f"`end` {self.end} is before `start` {self.start}")
        return self


class ForecastRequest(_Request):
    brand: Name
    start: Day = Field(description="first forecast day, inclusive")
    end: Day = Field(description="last forecast day, inclusive")
    sku_ids: list[Name] | None = Field(None, max_length=MAX_LIST, description="default: every SKU")
    platforms: list[Name] | None = Field(None, max_length=100, description="default: every platform")
    quantiles: list[Annotated[float, Field(strict=True)]] = Field(
        default=list(DEFAULT_QUANTILES), min_length=1, max_length=MAX_QUANTILES,
        description="each strictly between 0 and 1, answered as column p<100q> (0.1 -> p10)",
    )
    promotions: list[PromotionPlanRow] | None = Field(
        None, max_length=MAX_LIST, description="the planner's scenario; none: regular prices"
    )
    level: Literal["sku", "category", "platform", "brand"] = "sku"

    @field_validator("quantiles")
    @classmethod
    def _quantiles_inside(cls, quantiles: list[float]) -> list[float]:
        return list(check_quantiles(quantiles))  # the rule the bundle and the CLI apply too

    @model_validator(mode="after")
    def _period(self) -> ForecastRequest:
        check_period(self.start, self.end)  # the rule the bundle and the CLI apply too
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
    channel: Name
    min: float | None = Field(None, ge=0, le=MAX_BUDGET, strict=True, description="spend at least this much")
    max: float | None = Field(None, ge=0, le=MAX_BUDGET, strict=True, description="spend at most this much")
    fixed: float | None = Field(None, ge=0, le=MAX_BUDGET, strict=True, description="spend exactly this much")

    @model_validator(mode="after")
    def _consistent(self) -> ChannelConstraint:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"channel '{self.channel}': min {self.min} is above max {self.max}")
        ceiling = self.max if self.max is not None else float("inf")
        if self.fixed is not None and not (self.min or 0) <= self.fixed <= ceiling:
            raise ValueError(f"channel '{self.channel}': fixed {self.fixed} is outside its min and max")
        return self


class BudgetRequest(_Request):
    brand: Name
    start: Day
    end: Day
    total_budget: float = Field(
        ge=MIN_BUDGET, le=MAX_BUDGET, strict=True,
        description=f"money to split over the period, {MIN_BUDGET:g} to {MAX_BUDGET:g}",
    )
    objective: Literal["max_revenue", "target_roi"] = "max_revenue"
    target_roi: float | None = Field(
        None, gt=0, le=MAX_ROI, strict=True, description="needed when objective is target_roi"
    )
    channels: list[ChannelConstraint] | None = Field(None, max_length=200)
    max_shift: float | None = Field(
        None, gt=0, le=100, strict=True,
        description="trust region: each channel within current spend x (1 -/+ max_shift); default 3",
    )
    breakeven_roi: float | None = Field(
        None, gt=0, le=MAX_ROI, strict=True,
        description="revenue a yuan of ads must bring back: 1 / gross margin (unit costs known), else 1",
    )

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
        description="per channel: spend, expected_revenue, roi, marginal_roi, identifiable, allowed_min/max"
    )
    max_shift: float | None = Field(None, description="the trust region used around the current mix")
    identifiable: bool | None = Field(
        None, description="false when the data cannot tell some channels apart (see notes)"
    )
    breakeven: dict[str, Any] | None = Field(
        None, description="roi, budget and expected_revenue where the marginal ROI reaches break-even; "
        "past_breakeven when the asked budget is beyond it"
    )
    models: list[ModelVersion]


# ---------------------------------------------------------------------------- selection


class ScoreRequest(_Request):
    brand: Name
    as_of: Day = Field(description="the day the ranking is made (features up to it)")
    horizon_days: int = Field(gt=0, le=MAX_HORIZON_DAYS, strict=True, description="the push period's length")
    sku_ids: list[Name] | None = Field(None, max_length=MAX_LIST)
    platform: Name | None = None
    top_k: int | None = Field(None, gt=0, le=MAX_LIST, strict=True)
    scope: Literal["platform", "brand"] = Field(
        "platform", description="platform: ranks restart on every platform; brand: one list across platforms"
    )


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
    expected_revenue: float = Field(description="forecast mean units x planned price, summed over the period")
    revenue_p10: float | None = Field(None, description="from the forecast's quantiles")
    revenue_p90: float | None = Field(None, description="from the forecast's quantiles")
    expected_units: float | None = Field(None, description="the forecast's mean units over the period")
    planned_price: float | None = Field(None, description="mean planned price over the period")
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
    brand: Name | None = Field(None, description="only this brand (default: every brand of the key)")


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
