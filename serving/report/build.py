"""Build one brand's report: the sections' numbers and sentences, then their charts.

    report = build_report(dataset, "glowlab", "2025-10-15", "2025-11-14", champions=Champions(...))

The caller finds the champions (the CLI from the MLflow registry, the service from the models it
serves), so this package never imports training code.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from daiyun.features.dataset import Dataset
from daiyun.serving.report import ads_section, charts, forecast_sections, sales_sections
from daiyun.serving.report.fonts import choose_language
from daiyun.serving.report.model import Champions, Inputs, Report
from daiyun.serving.report.periods import check_compare, parse_period
from daiyun.serving.report.words import Words


def build_report(
    dataset: Dataset,
    brand: str,
    start: object,
    end: object,
    champions: Champions | None = None,
    compare: str = "previous",
    lang: str = "en",
    plan: pd.DataFrame | None = None,
    forecast_made_before: pd.DataFrame | None = None,
    notes: list[str] | None = None,
    draw: bool = True,
) -> Report:
    """Every section of the report for `brand` over [start, end]; `draw=False` skips the charts."""
    period = parse_period(start, end)
    compare = check_compare(compare)
    mine = dataset.for_brand(brand)
    data_end = mine.sales["date"].max()
    if period.start > data_end:
        from daiyun.features.errors import RequestError

        raise RequestError(
            "--start",
            f"the data of brand '{brand}' ends {data_end:%Y-%m-%d}, before the period",
            f"report on a period that ends by {data_end:%Y-%m-%d}",
        )
    lang, font_note = choose_language(lang)
    words = Words(lang)
    notes = list(notes or [])
    if font_note:
        notes.append(font_note)
    if period.end > data_end:
        notes.append(
            f"the data ends {data_end:%Y-%m-%d}: the last {(period.end - data_end).days} days of the "
            "period have no sales yet"
        )
    champions = champions or Champions()
    for family in ("forecast", "budget", "selection"):
        if getattr(champions, family) is None:  # every section without its model says which is missing
            champions.missing.setdefault(family, f"brand '{brand}' has no {family} model")
    inputs = Inputs(mine, brand, period, compare, words, champions, plan, forecast_made_before)
    forecast = forecast_sections.period_forecast(inputs)
    sections = [
        sales_sections.headline(inputs, forecast.rows),
        forecast_sections.event_recap(inputs, forecast),
        forecast_sections.forecast_quality(inputs, forecast),
        ads_section.ads(inputs),
        sales_sections.products(inputs),
        forecast_sections.outlook(inputs),
    ]
    report = Report(
        brand=brand,
        period=period,
        compare=compare,
        lang=lang,
        title=words("report_title", brand=brand, period=period.label()),
        subtitle=words(
            "generated", now=f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC", data_end=f"{data_end:%Y-%m-%d}"
        ),
        sections=sections,
        notes=notes,
    )
    if draw:
        charts.draw_all(report, words)
    return report
