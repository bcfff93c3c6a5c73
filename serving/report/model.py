"""What a report is made of: its inputs, its sections, and the report itself (no I/O, no charts drawn)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

import pandas as pd

from daiyun.features.dataset import Dataset
from daiyun.serving.report.periods import Period
from daiyun.serving.report.words import Words

SECTION_KEYS = ("headline", "event", "forecast_quality", "ads", "products", "outlook")


@dataclass
class Champions:
    """The brand's models the report asks; None where the brand has none (the section says so)."""

    forecast: Any = None
    budget: Any = None
    selection: Any = None
    missing: dict[str, str] = field(default_factory=dict)  # family -> why


@dataclass
class Inputs:
    dataset: Dataset  # one brand's rows only
    brand: str
    period: Period
    compare: str
    words: Words
    champions: Champions
    plan: pd.DataFrame | None = None  # the planner's promotions for the outlook (scenario)
    forecast_made_before: pd.DataFrame | None = None  # `daiyun forecast` rows saved before the period

    @cached_property
    def forecast_at_end(self) -> Any:
        """The forecast champion refreshed with the history up to the period's last day (the outlook
        and the push list both forecast from there; the refresh is the expensive part, done once)."""
        if self.champions.forecast is None:
            return None
        return self.champions.forecast.with_history(self.history_until(self.period.end))

    def history_until(self, last: pd.Timestamp) -> Dataset:
        """The brand's data as it was known on `last`: what a forecast made then could use."""
        data = self.dataset
        return replace(
            data,
            sales=data.sales.loc[data.sales["date"] <= last].reset_index(drop=True),
            ads=data.ads.loc[data.ads["date"] <= last].reset_index(drop=True),
        )


@dataclass
class Section:
    key: str
    title: str
    sentences: list[str] = field(default_factory=list)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)  # name -> table (HTML and xlsx sheets)
    numbers: dict[str, float] = field(default_factory=dict)  # the figures the sentences quote
    chart: str | None = None  # base64 PNG, drawn by serving.report.charts
    chart_note: str = ""  # why there is no chart


@dataclass
class Report:
    brand: str
    period: Period
    compare: str
    lang: str
    title: str
    subtitle: str
    sections: list[Section]
    notes: list[str] = field(default_factory=list)

    def section(self, key: str) -> Section:
        return next(s for s in self.sections if s.key == key)
