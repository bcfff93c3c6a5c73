"""The built-in e-commerce calendar: one row per event phase window, as legible as Prophet's holidays.

`builtin_table()` is what the models are told, in the planners' words::

    name          phase     start       end         year
    double11      presale   2025-10-20  2025-10-31  2025
    double11      peak      2025-11-01  2025-11-11  2025
    double11      day       2025-11-11  2025-11-11  2025

Names are the ones the `events` table of DATA_CONTRACT.md uses (`618`, `double11`, ...), so a user
row with the same name overrides a built-in window (see `daiyun.features.calendar`). The dates are the
industry-wide defaults; platforms move them every year (Tmall's Double 11 presale started Oct 14 in
2024), which is what the user's events table is for.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

import pandas as pd

# Fixed-date events cover these years; CNY windows exist for every year in LUNAR_NEW_YEAR.
BUILTIN_YEARS = range(2019, 2028)

# First day of the lunar new year (春节, day 1 of month 1); the eve (除夕) is the day before.
LUNAR_NEW_YEAR: dict[int, dt.date] = {
    2019: dt.date(2019, 2, 5),
    2020: dt.date(2020, 1, 25),
    2021: dt.date(2021, 2, 12),
    2022: dt.date(2022, 2, 1),
    2023: dt.date(2023, 1, 22),
    2024: dt.date(2024, 2, 10),
    2025: dt.date(2025, 1, 29),
    2026: dt.date(2026, 2, 17),
    2027: dt.date(2027, 2, 6),
    2028: dt.date(2028, 1, 26),
}

# The 年货节 (CNY goods festival) runs about three weeks and stops ~2 days before the eve, when
# couriers stop taking parcels; the logistics slowdown spans roughly a week either side of CNY.
CNY_FESTIVAL_DAYS = 21
CNY_FESTIVAL_END_BEFORE_CNY = 3  # CNY - 3 = two days before the eve
CNY_SLOWDOWN_BEFORE = 7
CNY_SLOWDOWN_AFTER = 7

# (name, phase, (start month, day), (end month, day)) of the fixed-date events, in calendar order.
FIXED_WINDOWS: tuple[tuple[str, str, tuple[int, int], tuple[int, int]], ...] = (
    ("38", "peak", (3, 1), (3, 8)),
    ("38", "day", (3, 8), (3, 8)),
    ("618", "presale", (5, 20), (5, 31)),
    ("618", "peak", (6, 1), (6, 18)),
    ("618", "day", (6, 18), (6, 18)),
    ("99", "peak", (9, 1), (9, 9)),
    ("99", "day", (9, 9), (9, 9)),
    ("double11", "presale", (10, 20), (10, 31)),
    ("double11", "peak", (11, 1), (11, 11)),
    ("double11", "day", (11, 11), (11, 11)),
    ("double12", "peak", (12, 1), (12, 12)),
    ("double12", "day", (12, 12), (12, 12)),
)

# Built-in event name -> its flag column in `calendar_frame`; the order is the order in `event_name`.
EVENT_COLUMNS: dict[str, str] = {
    "cny_festival": "ev_cny_festival",
    "cny_slowdown": "ev_cny_slowdown",
    "38": "ev_38",
    "618": "ev_618",
    "99": "ev_99",
    "double11": "ev_double11",
    "double12": "ev_double12",
}

# Spellings planners use in the events table for the built-in events.
NAME_ALIASES: dict[str, str] = {
    "年货节": "cny_festival", "cny": "cny_festival", "cny_goods_festival": "cny_festival",
    "spring_festival_slowdown": "cny_slowdown", "春节物流": "cny_slowdown",
    "3.8": "38", "3_8": "38", "38节": "38", "女王节": "38", "womens_day": "38",
    "6.18": "618", "6_18": "618",
    "9.9": "99", "9_9": "99",
    "11.11": "double11", "11_11": "double11", "1111": "double11", "double_11": "double11",
    "双11": "double11", "双十一": "double11",
    "12.12": "double12", "12_12": "double12", "1212": "double12", "double_12": "double12",
    "双12": "double12", "双十二": "double12",
}

PHASE_ALIASES: dict[str, str] = {
    "pre-sale": "presale", "pre_sale": "presale", "预售": "presale",
    "main": "peak", "正式": "peak", "爆发": "peak",
    "peak_day": "day", "main_day": "day", "当天": "day",
}

# When windows overlap, the day's `phase` text is the first of these that is active.
PHASE_ORDER = ("day", "peak", "presale", "slowdown")


def canonical_name(name: object) -> str:
    """The event name as the calendar keys it: lower case, trimmed, built-in aliases resolved."""
    text = str(name).strip().lower()
    return NAME_ALIASES.get(text, text)


def canonical_phase(phase: object) -> str:
    """The phase as the calendar keys it; blank means `peak` (a user event without a phase)."""
    text = "" if phase is None or pd.isna(phase) else str(phase).strip().lower()
    return PHASE_ALIASES.get(text, text) or "peak"


@lru_cache(maxsize=64)
def builtin_windows(year: int) -> tuple[tuple[str, str, dt.date, dt.date], ...]:
    """The built-in windows of the events *of* `year` (name, phase, start, end).

    An event belongs to the year it ends in: the 年货节 before CNY 2023 starts in December 2022.
    Years without data give an empty tuple.
    """
    windows: list[tuple[str, str, dt.date, dt.date]] = []
    cny = LUNAR_NEW_YEAR.get(year)
    if cny is not None:
        festival_end = cny - dt.timedelta(days=CNY_FESTIVAL_END_BEFORE_CNY)
        festival_start = festival_end - dt.timedelta(days=CNY_FESTIVAL_DAYS - 1)
        windows.append(("cny_festival", "peak", festival_start, festival_end))
        windows.append((
            "cny_slowdown", "slowdown",
            cny - dt.timedelta(days=CNY_SLOWDOWN_BEFORE), cny + dt.timedelta(days=CNY_SLOWDOWN_AFTER),
        ))
    if year in BUILTIN_YEARS:
        for name, phase, (m0, d0), (m1, d1) in FIXED_WINDOWS:
            windows.append((name, phase, dt.date(year, m0, d0), dt.date(year, m1, d1)))
    return tuple(windows)


def builtin_table(years: range | list[int] | None = None) -> pd.DataFrame:
    """All built-in windows of `years` (default: every year covered) as name, phase, start, end, year."""
    if years is None:
        years = sorted(set(BUILTIN_YEARS) | set(LUNAR_NEW_YEAR))
    rows = [(*window, year) for year in years for window in builtin_windows(int(year))]
    table = pd.DataFrame(rows, columns=["name", "phase", "start", "end", "year"])
    table["start"] = pd.to_datetime(table["start"]).astype("datetime64[ns]")
    table["end"] = pd.to_datetime(table["end"]).astype("datetime64[ns]")
    return table.sort_values(["start", "end", "name"], kind="stable").reset_index(drop=True)
