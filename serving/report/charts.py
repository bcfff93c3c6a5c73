"""One chart per section, drawn from the section's own tables, embedded as base64 PNG.

Figures are built with the object API (no pyplot state), so the service can draw reports from
several threads at once.
"""

from __future__ import annotations

import base64
import io
import threading
from collections.abc import Callable

import numpy as np
import pandas as pd
from matplotlib import rc_context
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from daiyun.serving.report.fonts import cjk_font
from daiyun.serving.report.model import Report, Section
from daiyun.serving.report.words import Words

_drawing = threading.Lock()
SIZE = (9.0, 3.3)
DPI = 80  # ~720 px wide: sharp in an email, small enough that a report stays a few hundred KB
COLOURS = ("#1f5fa8", "#9aa5b1", "#e0a030", "#2e9d5b", "#c0392b", "#7d3c98", "#16a085")


def png(figure: Figure) -> str:
    buffer = io.BytesIO()
    FigureCanvasAgg(figure)
    # the constrained layout already fits the labels; a "tight" bbox would draw every figure twice
    figure.savefig(buffer, format="png", dpi=DPI)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def draw_all(report: Report, words: Words) -> None:
    """Draw every section's chart in place (a section without the data for one says why)."""
    fonts = {"font.family": "sans-serif", "axes.unicode_minus": False}
    family = cjk_font() if report.lang == "zh" else None
    if family:
        fonts["font.sans-serif"] = [family, "DejaVu Sans"]
    # rc_context sets matplotlib's global settings: two service threads drawing a Chinese and an
    # English report at once would swap fonts, so reports are drawn one at a time
    with _drawing, rc_context(fonts):
        for section in report.sections:
            drawer = DRAWERS.get(section.key)
            figure = drawer(section, words, report) if drawer else None
            if figure is None:
                section.chart = None
                section.chart_note = section.chart_note or words(
                    "no_chart", why=section.sentences[0] if section.sentences else "-"
                )
            else:
                section.chart = png(figure)


def _figure(columns: int = 1) -> tuple[Figure, list]:
    figure = Figure(figsize=SIZE, layout="constrained")
    axes = figure.subplots(1, columns)
    return figure, list(np.atleast_1d(axes))


def short(value: float) -> str:
    """Axis numbers an account manager reads at a glance: 950, 12k, 3.4M."""
    size = abs(value)
    if size >= 1e6:
        return f"{value / 1e6:,.1f}M".replace(".0M", "M")
    if size >= 1e3:
        return f"{value / 1e3:,.0f}k"
    return f"{value:,.0f}"


def _thousands(axis, which: str = "y") -> None:  # noqa: ANN001
    getattr(axis, f"{which}axis").set_major_formatter(lambda value, _: short(value))


def headline(section: Section, words: Words, report: Report) -> Figure | None:
    daily = section.tables.get("daily_gmv")
    if daily is None or daily.empty:
        return None
    figure, (axis,) = _figure()
    days = np.arange(1, len(daily) + 1)
    styles = (
        ("gmv", "this_period", "-", 2.2),
        ("previous_gmv", "previous", "-", 1.2),
        ("last-year_gmv", "last-year", "--", 1.2),
        ("forecast_gmv", "forecast", ":", 1.8),
    )
    for i, (column, label, style, width) in enumerate(styles):
        if column in daily and daily[column].notna().any():
            axis.plot(days, daily[column], style, lw=width, color=COLOURS[i], label=words(label))
    axis.set_xlabel(words("day_of_period"))
    axis.set_ylabel(words("gmv"))
    _thousands(axis)
    axis.legend(loc="upper left", fontsize=8, frameon=False)
    axis.grid(alpha=0.3)
    return figure


def event(section: Section, words: Words, report: Report) -> Figure | None:
    phases = section.tables.get("event_by_phase")
    if phases is None or phases.empty:
        return None
    figure, (left, right) = _figure(2)
    x = np.arange(len(phases))
    for i, (column, label) in enumerate(
        (("gmv", "actual"), ("forecast_gmv", "forecast"), ("last_year_gmv", "last-year"))
    ):
        if phases[column].notna().any():  # no last year in the data: no empty legend entry
            left.bar(
                x + (i - 1) * 0.27, phases[column].fillna(0.0), 0.27, color=COLOURS[i], label=words(label)
            )
    left.set_xticks(x, [words(f"phase_{p}") for p in phases["phase"]])
    left.set_ylabel(words("gmv"))
    _thousands(left)
    left.legend(fontsize=8, frameon=False)
    by_platform = (
        section.tables["event_by_phase_platform"]
        .pivot_table(index="phase", columns="platform", values="gmv", aggfunc="sum", sort=False)
        .fillna(0.0)
    )
    bottom = np.zeros(len(by_platform))
    for i, platform in enumerate(by_platform.columns):
        right.bar(
            np.arange(len(by_platform)),
            by_platform[platform],
            bottom=bottom,
            color=COLOURS[i % 7],
            label=platform,
        )
        bottom += by_platform[platform].to_numpy()
    right.set_xticks(np.arange(len(by_platform)), [words(f"phase_{p}") for p in by_platform.index])
    _thousands(right)
    right.legend(fontsize=8, frameon=False)
    return figure


def forecast_quality(section: Section, words: Words, report: Report) -> Figure | None:
    platforms = section.tables.get("accuracy_by_platform")
    if platforms is None or platforms.empty:
        return None
    types = section.tables["accuracy_by_day_type"]
    labels = list(platforms["platform"]) + [
        words("promo_days" if d == "promotion" else "normal_days") for d in types["days"]
    ]
    wape = list(platforms["wape"]) + list(types["wape"])
    coverage = list(platforms["coverage"]) + list(types["coverage"])
    colours = [COLOURS[0]] * len(platforms) + [COLOURS[2]] * len(types)
    figure, (left, right) = _figure(2)
    left.bar(labels, wape, color=colours)
    left.set_title(words("wape"), fontsize=10)
    left.yaxis.set_major_formatter(lambda value, _: f"{value:.0%}")
    right.bar(labels, coverage, color=colours)
    right.axhline(0.8, ls="--", color="black", lw=1)
    right.set_ylim(0, 1)
    right.set_title(words("coverage"), fontsize=10)
    right.yaxis.set_major_formatter(lambda value, _: f"{value:.0%}")
    for axis in (left, right):
        axis.tick_params(axis="x", labelrotation=30, labelsize=8)
    return figure


def ads(section: Section, words: Words, report: Report) -> Figure | None:
    channels = section.tables.get("channels")
    if channels is None or channels.empty or not channels["spend"].sum() > 0:
        return None
    curves = section.tables.get("response_curves")
    figure, axes = _figure(2 if curves is not None else 1)
    left = axes[0]
    x = np.arange(len(channels))
    left.bar(
        x - 0.2, channels["platform_roi"].fillna(0.0), 0.4, color=COLOURS[1], label=words("platform_roi")
    )
    if "model_roi" in channels:
        left.bar(x + 0.2, channels["model_roi"].fillna(0.0), 0.4, color=COLOURS[0], label=words("model_roi"))
    left.set_xticks(x, channels["channel"], rotation=30, fontsize=8)
    left.set_ylabel("ROI")
    left.legend(fontsize=8, frameon=False)
    if curves is not None:
        right = axes[1]
        for i, (channel, curve) in enumerate(curves.groupby("channel", sort=False)):
            colour = COLOURS[i % len(COLOURS)]
            right.plot(curve["spend"], curve["incremental_revenue"], color=colour, label=channel)
            current = curve["current_spend"].iloc[0]
            right.plot(
                [current],
                [np.interp(current, curve["spend"], curve["incremental_revenue"])],
                "o",
                color=colour,
            )
        right.set_xlabel(words("spend") + " (o: " + words("current_spend") + ")")
        right.set_ylabel(words("incremental_revenue"))
        _thousands(right)
        _thousands(right, "x")
        right.legend(fontsize=7, frameon=False)
    return figure


def products(section: Section, words: Words, report: Report) -> Figure | None:
    top = section.tables.get("top_sellers")
    if top is None or top.empty:
        return None
    lost = section.tables.get("stockouts")
    has_lost = lost is not None and len(lost) > 0
    figure, axes = _figure(2 if has_lost else 1)
    shown = top.iloc[::-1]
    axes[0].barh(shown["sku_id"], shown["gmv"], color=COLOURS[0])
    axes[0].set_xlabel(words("gmv"))
    _thousands(axes[0], "x")
    axes[0].tick_params(axis="y", labelsize=8)
    if has_lost:
        worst = lost.head(10).iloc[::-1]
        axes[1].barh(worst["platform"] + " " + worst["sku_id"], worst["lost_gmv"], color=COLOURS[4])
        axes[1].set_xlabel(words("lost_gmv"))
        _thousands(axes[1], "x")
        axes[1].tick_params(axis="y", labelsize=8)
    return figure


def outlook(section: Section, words: Words, report: Report) -> Figure | None:
    daily = section.tables.get("outlook_daily")
    if daily is None or daily.empty:
        return None
    figure, (axis,) = _figure()
    for i, (platform, rows) in enumerate(daily.groupby("platform", sort=True)):
        colour = COLOURS[i % len(COLOURS)]
        dates = pd.to_datetime(rows["date"])
        axis.plot(dates, rows["mean"], color=colour, label=platform)
        axis.fill_between(dates, rows["p10"], rows["p90"], color=colour, alpha=0.18, lw=0)
    axis.set_ylabel(words("units") + " (p10-p90)")
    axis.legend(fontsize=8, frameon=False)
    axis.grid(alpha=0.3)
    figure.autofmt_xdate()
    return figure


DRAWERS: dict[str, Callable[[Section, Words, Report], Figure | None]] = {
    "headline": headline,
    "event": event,
    "forecast_quality": forecast_quality,
    "ads": ads,
    "products": products,
    "outlook": outlook,
}
