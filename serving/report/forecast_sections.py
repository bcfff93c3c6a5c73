"""Event recap, forecast quality and outlook: the sections that set actual sales against forecasts.

"The forecast made before the period" is, in order of preference, the forecast file the planner
saved before the period started (`--forecast`, rows of `daiyun forecast`), or the champion
re-forecasting from the history that ended the day before the period. The second is honest only
when the champion was trained before the period; otherwise the section says its errors flatter.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from daiyun.features.calendar import event_windows
from daiyun.features.errors import RequestError
from daiyun.features.forecast_terms import DEFAULT_QUANTILES
from daiyun.serving.report.model import Inputs, Section
from daiyun.serving.report.periods import YEAR, Period
from daiyun.serving.report.sales_sections import forecast_gmv, rows_in
from daiyun.serving.report.words import money, pct

QUANTILES = DEFAULT_QUANTILES  # the planner's usual interval: the report reads p10 and p90
DIP_DAYS = 7  # "the dip after": the week after an event's last day
PHASES = ("presale", "peak", "day", "after")


@dataclass
class PeriodForecast:
    rows: pd.DataFrame | None  # platform, sku_id, date, mean, p10, p50, p90
    why_missing: str = ""
    trained_until: pd.Timestamp | None = None  # set when the champion saw the period in training


def period_forecast(inputs: Inputs) -> PeriodForecast:
    period = inputs.period
    if inputs.forecast_made_before is not None:
        rows = inputs.forecast_made_before
        rows = rows.loc[(rows["date"] >= period.start) & (rows["date"] <= period.end)]
        return PeriodForecast(rows.reset_index(drop=True))
    bundle = inputs.champions.forecast
    if bundle is None:
        return PeriodForecast(None, inputs.champions.missing.get("forecast", "no forecast champion"))
    trained_until = pd.Timestamp(bundle.origin)
    cutoff = period.start - pd.Timedelta(days=1)
    try:
        fresh = bundle.with_history(inputs.history_until(cutoff))
        rows = fresh.forecast(period.start, period.end, quantiles=QUANTILES)
    except (RequestError, ValueError, KeyError) as error:
        return PeriodForecast(None, f"the champion cannot forecast from {cutoff:%Y-%m-%d}: {error}")
    return PeriodForecast(rows, trained_until=trained_until if trained_until >= period.start else None)


# ------------------------------------------------------------------------------------- quality


def scored_rows(forecast: pd.DataFrame, sales: pd.DataFrame, period: Period) -> pd.DataFrame:
    actual = rows_in(sales, period)[["platform", "sku_id", "date", "units", "on_promo"]]
    return forecast.merge(actual, on=["platform", "sku_id", "date"], how="inner")


def accuracy(rows: pd.DataFrame) -> dict[str, float]:
    """WAPE (sum |actual - forecast| / sum actual) and the share of rows inside p10..p90."""
    units = rows["units"].sum()
    wape = float((rows["units"] - rows["mean"]).abs().sum() / units) if units > 0 else float("nan")
    inside = (rows["units"] >= rows["p10"]) & (rows["units"] <= rows["p90"])
    return {
        "wape": wape,
        "coverage": float(inside.mean()) if len(rows) else float("nan"),
        "units": float(units),
        "forecast": float(rows["mean"].sum()),
        "rows": float(len(rows)),
    }


def forecast_quality(inputs: Inputs, forecast: PeriodForecast) -> Section:
    words = inputs.words
    section = Section("forecast_quality", words("forecast_quality"))
    if forecast.rows is None or forecast.rows.empty:
        section.sentences.append(words("s_no_forecast", why=forecast.why_missing or "empty"))
        return section
    rows = scored_rows(forecast.rows, inputs.dataset.sales, inputs.period)
    overall = accuracy(rows)
    section.numbers.update(wape=overall["wape"], coverage=overall["coverage"])
    by_platform = pd.DataFrame(
        [{"platform": p, **accuracy(group)} for p, group in rows.groupby("platform", sort=True)]
    )
    days = rows["on_promo"].eq(1).map({True: "promotion", False: "normal"})
    by_day_type = pd.DataFrame([{"days": d, **accuracy(group)} for d, group in rows.groupby(days, sort=True)])
    section.tables["accuracy_by_platform"] = by_platform
    section.tables["accuracy_by_day_type"] = by_day_type
    section.sentences.append(words("s_wape", wape=pct(overall["wape"]), coverage=pct(overall["coverage"])))
    typed = by_day_type.set_index("days")["wape"]
    if len(typed):
        section.sentences.append(
            words(
                "s_wape_split",
                promo=pct(typed.get("promotion", np.nan)),
                normal=pct(typed.get("normal", np.nan)),
            )
        )
    if len(by_platform) > 1:
        worst = by_platform.sort_values("wape", ascending=False).iloc[0]
        section.sentences.append(words("s_wape_worst", platform=worst["platform"], wape=pct(worst["wape"])))
    if forecast.trained_until is not None:
        section.sentences.append(words("s_in_sample", origin=f"{forecast.trained_until:%Y-%m-%d}"))
    return section


# ---------------------------------------------------------------------------------- event recap


def _segments(windows: pd.DataFrame, name: str) -> list[tuple[str, pd.Timestamp, pd.Timestamp]]:
    """(phase, first day, last day) of one event: pre-sale, peak (without the day), the day, the dip."""
    mine = windows.loc[windows["name"] == name]
    found: list[tuple[str, pd.Timestamp, pd.Timestamp]] = []
    day = mine.loc[mine["phase"] == "day"]
    for phase in ("presale", "peak"):
        for window in mine.loc[mine["phase"] == phase].itertuples():
            last = window.end
            if phase == "peak" and len(day) and day["start"].min() <= last:
                last = day["start"].min() - pd.Timedelta(days=1)  # the day is its own segment
            if last >= window.start:
                found.append((phase, window.start, last))
    for window in day.itertuples():
        found.append(("day", window.start, window.end))
    if not found:  # a user event with phases the recap does not know: its whole span as "peak"
        found.append(("peak", mine["start"].min(), mine["end"].max()))
    event_end = max(last for _, _, last in found)
    found.append(("after", event_end + pd.Timedelta(days=1), event_end + pd.Timedelta(days=DIP_DAYS)))
    return found


def main_event(inputs: Inputs) -> str | None:
    """The event of the period: the one whose 'day' falls in it, else the one with most days in it."""
    period = inputs.period
    windows = event_windows(period.start, period.end, events=inputs.dataset.events, brand=inputs.brand)
    windows = windows.loc[(windows["end"] >= period.start) & (windows["start"] <= period.end)]
    windows = windows.loc[~windows["phase"].isin(["slowdown"])]
    if windows.empty:
        return None
    days = windows.loc[(windows["phase"] == "day") & windows["start"].between(period.start, period.end)]
    if len(days):
        return str(days.iloc[0]["name"])
    span = (
        windows[["end"]].clip(upper=period.end)["end"] - windows["start"].clip(lower=period.start)
    ).dt.days
    return str(windows.assign(span=span).sort_values("span", ascending=False).iloc[0]["name"])


def event_recap(inputs: Inputs, forecast: PeriodForecast) -> Section:
    words, period, sales = inputs.words, inputs.period, inputs.dataset.sales
    section = Section("event", words("event"))
    name = main_event(inputs)
    if name is None:
        section.sentences.append(words("s_no_event"))
        return section
    around = event_windows(
        period.start - pd.Timedelta(days=60),
        period.end + pd.Timedelta(days=60),
        events=inputs.dataset.events,
        brand=inputs.brand,
    )
    segments = [s for s in _segments(around, name) if s[2] >= period.start and s[1] <= period.end]
    before = event_windows(
        period.start - YEAR - pd.Timedelta(days=60),
        period.end - YEAR + pd.Timedelta(days=60),
        events=inputs.dataset.events,
        brand=inputs.brand,
    )
    last_year = (
        {phase: (s, e) for phase, s, e in _segments(before, name)} if (before["name"] == name).any() else {}
    )
    valued = forecast_gmv(forecast.rows, sales) if forecast.rows is not None and len(forecast.rows) else None
    rows = []
    for phase, first, last in segments:
        first, last = max(first, period.start), min(last, period.end)  # the recap stays inside the period
        then = last_year.get(phase, (first - YEAR, last - YEAR))
        actual = rows_in(sales, Period(first, last)).groupby("platform")["revenue"].sum()
        previous = rows_in(sales, Period(*then)).groupby("platform")["revenue"].sum()
        expected = (
            valued.loc[valued["date"].between(first, last)].groupby("platform")["gmv"].sum()
            if valued is not None
            else pd.Series(dtype=float)
        )
        for platform in sorted(set(actual.index) | set(expected.index)):
            rows.append(
                {
                    "phase": phase,
                    "start": first,
                    "end": last,
                    "platform": platform,
                    "gmv": float(actual.get(platform, 0.0)),
                    "forecast_gmv": float(expected[platform]) if platform in expected.index else np.nan,
                    "last_year_gmv": float(previous[platform]) if platform in previous.index else np.nan,
                }
            )
    table = pd.DataFrame(rows)
    section.tables["event_by_phase_platform"] = table
    if table.empty:
        section.sentences.append(words("s_no_event"))
        return section
    phases = table.groupby("phase", sort=False)[["gmv", "forecast_gmv", "last_year_gmv"]].sum(min_count=1)
    section.tables["event_by_phase"] = phases.reset_index()
    section.numbers["event_gmv"] = float(table["gmv"].sum())
    event_days = table.loc[table["phase"] != "after"]  # the dip after is not the event itself
    start, end = event_days["start"].min(), event_days["end"].max()
    section.sentences.append(
        words("s_event_span", event=words.event(name), start=f"{start:%Y-%m-%d}", end=f"{end:%Y-%m-%d}")
    )
    for phase, totals in phases.iterrows():
        section.sentences.append(
            words(
                "s_event",
                phase=words(f"phase_{phase}").capitalize(),
                gmv=money(totals["gmv"]),
                vs_forecast=words.change(totals["gmv"], totals["forecast_gmv"]),
                vs_last_year=words.change(totals["gmv"], totals["last_year_gmv"]),
            )
        )
    by_platform = table.groupby("platform")["gmv"].sum()
    if by_platform.sum() > 0:
        section.sentences.append(
            words(
                "s_event_platform",
                platform=by_platform.idxmax(),
                share=pct(by_platform.max() / by_platform.sum()),
            )
        )
    return section


# -------------------------------------------------------------------------------------- outlook


def assumed_promotions(inputs: Inputs, stored: pd.DataFrame, following: Period) -> pd.DataFrame:
    """The plan the outlook forecast assumes: the stored plan, with the given plan's series replaced."""
    plan = stored if stored is not None else pd.DataFrame()
    if inputs.plan is not None and len(inputs.plan):
        named = pd.MultiIndex.from_frame(inputs.plan[["platform", "sku_id"]].astype(str))
        kept = (
            plan.loc[~pd.MultiIndex.from_frame(plan[["platform", "sku_id"]].astype(str)).isin(named)]
            if len(plan)
            else plan
        )
        plan = pd.concat([kept, inputs.plan], ignore_index=True)
    if plan.empty:
        return plan
    start, end = pd.to_datetime(plan["start"]), pd.to_datetime(plan["end"])
    overlap = (end >= following.start) & (start <= following.end)
    columns = [
        c for c in ("platform", "sku_id", "start", "end", "discount", "price", "mechanic") if c in plan
    ]
    return plan.loc[overlap, columns].sort_values(["start", "platform", "sku_id"]).reset_index(drop=True)


def outlook(inputs: Inputs) -> Section:
    words, period = inputs.words, inputs.period
    section = Section("outlook", words("outlook"))
    following = period.following()
    bundle = inputs.champions.forecast
    if bundle is None:
        section.sentences.append(words("s_no_forecast", why=inputs.champions.missing.get("forecast", "")))
        return section
    try:
        fresh = inputs.forecast_at_end
        daily = fresh.forecast(
            following.start, following.end, promotions=inputs.plan, quantiles=QUANTILES, level="platform"
        )
    except (RequestError, ValueError, KeyError) as error:
        section.sentences.append(words("s_no_forecast", why=str(error)))
        return section
    section.tables["outlook_daily"] = daily
    by_platform = daily.groupby("platform")[["mean", "p10", "p90"]].sum().reset_index()
    section.tables["outlook_by_platform"] = by_platform
    section.numbers.update(outlook_units=float(by_platform["mean"].sum()))
    largest = by_platform.sort_values("mean", ascending=False).iloc[0]["platform"]
    section.sentences.append(
        words(
            "s_outlook",
            period=following.label(),
            units=money(by_platform["mean"].sum()),
            low=money(by_platform["p10"].sum()),
            high=money(by_platform["p90"].sum()),
            platform=largest,
        )
    )
    promotions = assumed_promotions(inputs, fresh.plan, following)
    section.tables["outlook_promotions"] = promotions
    if len(promotions):
        discount = promotions["discount"].mean() if "discount" in promotions else np.nan
        section.sentences.append(
            words(
                "s_outlook_promos",
                n=len(promotions),
                skus=promotions["sku_id"].nunique(),
                discount=pct(discount),
            )
        )
    else:
        section.sentences.append(words("s_outlook_no_promos"))
    return section
