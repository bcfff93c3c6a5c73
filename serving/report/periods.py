"""Report periods: the one asked, the ones it is compared with, the next one, and the last complete one.

Last year is the same dates 364 days earlier (52 weeks), so weekdays line up: a Saturday is
compared with a Saturday, which matters more to daily e-commerce sales than the calendar date.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from daiyun.features.errors import RequestError

COMPARES = ("previous", "last-year")
EVERY = ("week", "month")
YEAR = pd.Timedelta(days=364)


@dataclass(frozen=True)
class Period:
    start: pd.Timestamp
    end: pd.Timestamp

    @property
    def days(self) -> int:
        return int((self.end - self.start).days) + 1

    @property
    def dates(self) -> pd.DatetimeIndex:
        return pd.date_range(self.start, self.end, freq="D")

    def previous(self) -> Period:
        """The period of the same length just before this one."""
        length = pd.Timedelta(days=self.days)
        return Period(self.start - length, self.end - length)

    def last_year(self) -> Period:
        return Period(self.start - YEAR, self.end - YEAR)

    def following(self) -> Period:
        """The period of the same length just after this one (the outlook)."""
        length = pd.Timedelta(days=self.days)
        return Period(self.start + length, self.end + length)

    def compared(self, compare: str) -> Period:
        return self.previous() if compare == "previous" else self.last_year()

    def label(self) -> str:
        return f"{self.start:%Y-%m-%d} .. {self.end:%Y-%m-%d}"


def parse_period(start: object, end: object) -> Period:
    """The asked period; RequestError naming --start/--end when it is not one."""
    first, last = _date(start, "--start"), _date(end, "--end")
    if last < first:
        raise RequestError("--end", f"end {last:%Y-%m-%d} is before start {first:%Y-%m-%d}", "swap them")
    if (last - first).days > 366:
        raise RequestError("--end", "a report covers at most a year", "ask for a week, a month or an event")
    return Period(first, last)


def check_compare(compare: str) -> str:
    if compare not in COMPARES:
        raise RequestError("--compare", f"unknown comparison '{compare}'", "use previous or last-year")
    return compare


def last_complete(every: str, data_end: pd.Timestamp) -> tuple[Period, str]:
    """The last whole week (Monday to Sunday) or calendar month the data covers, and its name.

    The name goes into the file name (`2026-W41`, `2026-09`): a different period always gets a
    different file, so a cron run never overwrites last week's report with this week's.
    """
    if every not in EVERY:
        raise RequestError("--every", f"unknown period '{every}'", "use week or month")
    data_end = pd.Timestamp(data_end).normalize()
    if every == "week":
        end = data_end - pd.Timedelta(days=(data_end.weekday() + 1) % 7)  # the last Sunday on or before
        start = end - pd.Timedelta(days=6)
        year, week, _ = start.isocalendar()
        return Period(start, end), f"{year}-W{week:02d}"
    month_end = data_end + pd.offsets.MonthEnd(0)
    end = month_end if month_end == data_end else data_end - pd.offsets.MonthEnd(1)
    start = end - pd.offsets.MonthBegin(1)
    return Period(pd.Timestamp(start), pd.Timestamp(end)), f"{end:%Y-%m}"


def _date(value: object, field: str) -> pd.Timestamp:
    try:
        date = pd.Timestamp(str(value))
    except (TypeError, ValueError):
        date = pd.NaT
    if pd.isna(date):
        raise RequestError(field, f"'{value}' is not a date", "use YYYY-MM-DD")
    return date.normalize()
