"""The calendar every model sees: Chinese public holidays, make-up workdays and e-commerce events.

Three public functions, the interface agreed in the team brief:

- `calendar_frame(start, end, events, brand, platform, freq)`: one row per day (or per week start)
  with holiday, weekend, event and phase flags, the event name and phase as text, and the days to
  the next / since the last peak day.
- `event_windows(start, end, events, brand, platform)`: the event windows the frame was built from
  (name, phase, start, end), one row per phase window, legible like Prophet's `holidays`.
- `peak_days(start, end, events)`: the peak days (3.8, 618, 9.9, 11.11, 12.12 and user events).

Markets. A data directory names its market (`market: CN` by default, in `dataset.yaml`; see
`daiyun.features.dataset.Dataset.market`). Every function takes `market=`: for "CN" the sources
below apply; any other country the `holidays` package knows ("DE", "US", "GB", ...) takes that
country's public holidays, has no make-up workdays and no built-in Chinese e-commerce events (11.11
in a German store is an ordinary day); the user's events table still adds the brand's own events.

Sources. Official holidays and make-up workdays (调休) come from `chinese_calendar` for the years
it has (2004-2026 in chinese-calendar 1.11). Other years fall back to `holidays.China`, which knows
the days off but not the make-up workdays: `is_makeup_workday` is 0 there because it is unknown,
not because there is none (the State Council publishes them each November). The e-commerce events
are the built-in table of `daiyun.features.ecommerce_events`, plus the user's `events` table.

User events (DATA_CONTRACT.md, table `events`) add to or override the built-in calendar:

- Rows for another brand or platform than the one asked are ignored. With `platform=None` only
  rows with a blank platform apply (a platform's own dates would mislead a brand-level frame).
  With `brand=None` the rows apply when they name at most one brand (the usual
  `dataset.for_brand(b).events`); rows of several brands raise a RequestError, so that one brand's
  brand day never leaks into another's features.
- A row with the name of a built-in event (aliases such as `11.11` or `双11` count) replaces the
  built-in windows of that event in the year the row ends: only the same phase when the row has a
  phase (a `presale` row moves the presale and keeps the peak and the day), all phases when the
  phase is blank. Among user rows of the same name, year and phase, the most specific (brand and
  platform set) wins.
- A row without a phase counts as `peak`. The last day of every user `peak` window is a peak day
  (`phase_day`), unless the user gave a `day` row for that event and year.
- Names that are not built-in set `ev_custom`.

When windows overlap, `event_name` joins the active names with "+" (in the order of
`EVENT_COLUMNS`, then custom names alphabetically) and `phase` is the strongest active phase:
day > peak > presale > slowdown > other user phases (alphabetically).

Speed: holidays and built-in windows are cached per year and the frame is built with numpy, since
forecasters call it per brand and platform. Measured on the 2-core dev box: a daily 2024-2026 frame
in about 2 ms without user events and about 13 ms with them (parsing the table dominates);
`tests/test_calendar.py::test_three_years_daily_is_fast` guards 100 ms.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

import numpy as np
import pandas as pd

from daiyun.features.ecommerce_events import (
    EVENT_COLUMNS,
    PHASE_ORDER,
    builtin_windows,
    canonical_name,
    canonical_phase,
)
from daiyun.features.errors import ContractError, RequestError

DEFAULT_MARKET = "CN"
MAX_DAYS = 90  # cap of days_to_next_peak / days_since_last_peak: beyond a quarter it says nothing
FREQUENCIES = ("D", "W")
HOLIDAY_COLUMNS = ["is_holiday", "is_makeup_workday", "is_weekend", "is_day_off"]
EVENT_FLAG_COLUMNS = [*EVENT_COLUMNS.values(), "ev_custom"]
PHASE_COLUMNS = ["phase_presale", "phase_peak", "phase_day"]
FLAG_COLUMNS = [*HOLIDAY_COLUMNS, *EVENT_FLAG_COLUMNS, *PHASE_COLUMNS, "is_event"]
COLUMNS = ["date", *FLAG_COLUMNS, "event_name", "phase", "days_to_next_peak", "days_since_last_peak"]
WINDOW_COLUMNS = ["name", "phase", "start", "end"]

_EPOCH = dt.date(1970, 1, 1)
_EMPTY_DAYS = np.empty(0, dtype=np.int64)

# One phase window in day numbers (days since 1970-01-01), end inclusive.
_Window = tuple[str, str, int, int]


# ---------------------------------------------------------------------------------------------
# Official holidays and make-up workdays
# ---------------------------------------------------------------------------------------------

@lru_cache(maxsize=1)
def _chinese_calendar_years() -> frozenset[int]:
    from chinese_calendar import constants

    return frozenset(day.year for day in constants.holidays)


@lru_cache(maxsize=1)
def _known_markets() -> frozenset[str]:
    import holidays

    return frozenset(holidays.list_supported_countries())


@lru_cache(maxsize=64)
def check_market(market: str | None) -> str:
    """The market as an upper-case country code the `holidays` package knows; RequestError otherwise."""
    code = (market or DEFAULT_MARKET).strip().upper()
    if code not in _known_markets():
        raise RequestError(
            "market", f"'{market}' is not a country the holidays package knows",
            "use an ISO country code such as CN, DE, US or GB (dataset.yaml: `market: CN`)",
        )
    return code


@lru_cache(maxsize=256)
def official_days(year: int, market: str = DEFAULT_MARKET) -> tuple[np.ndarray, np.ndarray, str]:
    """Day numbers of the official days off and make-up workdays of `year`, and their source.

    The source is "chinese_calendar" or "holidays"; with "holidays" the make-up workdays are
    unknown (China after chinese-calendar's last year) or do not exist (other markets) and the
    second array is empty. Cached per (year, market): a calendar is built once per process.
    """
    if market != DEFAULT_MARKET:
        import holidays

        off = list(holidays.country_holidays(market, years=year).keys())
        return _day_numbers(off), _day_numbers([]), "holidays"
    if year in _chinese_calendar_years():
        from chinese_calendar import constants

        off = [d for d in constants.holidays if d.year == year]
        makeup = [d for d in constants.workdays if d.year == year]
        source = "chinese_calendar"
    else:
        import holidays

        off = list(holidays.China(years=year, categories=("public",)).keys())
        makeup = []
        source = "holidays"
    return _day_numbers(off), _day_numbers(makeup), source


def _day_numbers(dates: list[dt.date]) -> np.ndarray:
    numbers = np.array(sorted((d - _EPOCH).days for d in dates), dtype=np.int64)
    numbers.flags.writeable = False  # cached: nobody may change it in place
    return numbers


def _holiday_flags(days: np.ndarray, market: str = DEFAULT_MARKET) -> tuple[np.ndarray, np.ndarray]:
    first, last = _to_date(int(days[0])).year, _to_date(int(days[-1])).year
    parts = [official_days(year, market) for year in range(first, last + 1)]
    off = np.concatenate([p[0] for p in parts]) if parts else _EMPTY_DAYS
    makeup = np.concatenate([p[1] for p in parts]) if parts else _EMPTY_DAYS
    return np.isin(days, off), np.isin(days, makeup)


# ---------------------------------------------------------------------------------------------
# Official holidays by name (Prophet's `holidays`): the same sources as the flags above
# ---------------------------------------------------------------------------------------------

def public_holidays(start: object, end: object, market: str = DEFAULT_MARKET) -> pd.DataFrame:
    """Official days off as named windows: name, start, end. China: cn_spring_festival, ... (one
    window per run of consecutive days off); another market: <market>_<label>, one day each."""
    start, end, market = pd.Timestamp(start), pd.Timestamp(end), check_market(market)
    if market == DEFAULT_MARKET:
        return _chinese_holiday_windows(start, end).copy()
    return _market_holiday_windows(start, end, market)


# holidays.China's labels -> chinese-calendar's enum names, so a holiday keeps one name across years
_HOLIDAYS_LIB_NAMES = {
    "new year's day": "new_years_day", "spring festival": "spring_festival",
    "new year's eve": "spring_festival",
    "tomb-sweeping": "tomb_sweeping_day", "labor day": "labour_day", "dragon boat": "dragon_boat_festival",
    "mid-autumn": "mid_autumn_festival", "national day": "national_day",
}


@lru_cache(maxsize=16)
def _holidays_lib_year(year: int) -> dict:
    import holidays

    return dict(holidays.China(years=year))


def _official_day_off(day: pd.Timestamp) -> str | None:
    """The official holiday's name of a day off (法定节假日), None on other days. chinese-calendar for the
    years it publishes (it knows the make-up arrangements); holidays.China after that."""
    import chinese_calendar

    try:
        is_holiday, name = chinese_calendar.get_holiday_detail(day.date())
    except NotImplementedError:
        label = _holidays_lib_year(day.year).get(day.date())
        if label is None:
            return None
        label = label.lower()
        return next((name for key, name in _HOLIDAYS_LIB_NAMES.items() if key in label), None)
    if not (is_holiday and name):
        return None
    return chinese_calendar.Holiday(name).name


def _market_holiday_windows(start: pd.Timestamp, end: pd.Timestamp, market: str) -> pd.DataFrame:
    """Another market's public holidays (the `holidays` package) as one-day windows: name, start, end."""
    import holidays

    years = range(pd.Timestamp(start).year, pd.Timestamp(end).year + 1)
    days = holidays.country_holidays(market, years=list(years))
    rows = [
        (f"{market.lower()}_" + "".join(c if c.isalnum() else "_" for c in str(label).lower())[:40], day)
        for day, label in sorted(days.items())
        if pd.Timestamp(start) <= pd.Timestamp(day) <= pd.Timestamp(end)
    ]
    frame = pd.DataFrame(rows, columns=["name", "start"])
    frame["start"] = pd.to_datetime(frame["start"])
    frame["end"] = frame["start"]
    return frame


@lru_cache(maxsize=8)  # Prophet asks once per platform for the same range
def _chinese_holiday_windows(start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    rows = [
        ("cn_" + name, day)
        for day in pd.date_range(start, end, freq="D")
        if (name := _official_day_off(day)) is not None
    ]
    if not rows:
        return pd.DataFrame(columns=["name", "start", "end"])
    days = pd.DataFrame(rows, columns=["name", "day"])
    # consecutive days of one holiday form one window
    new_window = days["name"].ne(days["name"].shift()) | days["day"].diff().ne(pd.Timedelta(days=1))
    days["window"] = new_window.cumsum()
    windows = days.groupby("window").agg(name=("name", "first"), start=("day", "min"), end=("day", "max"))
    return windows.reset_index(drop=True)


# ---------------------------------------------------------------------------------------------
# Event windows: built-in table + the user's events
# ---------------------------------------------------------------------------------------------

def _to_day(value: dt.date) -> int:
    return (value - _EPOCH).days


def _to_date(day: int) -> dt.date:
    return _EPOCH + dt.timedelta(days=day)


def _parse_day(value: object, field: str) -> int:
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError) as error:
        raise RequestError(field, f"'{value}' is not a date ({error})", "use YYYY-MM-DD") from None
    if pd.isna(stamp):
        raise RequestError(field, "is missing", "use YYYY-MM-DD")
    return _to_day(stamp.date())


def _day_range(start: object, end: object) -> tuple[int, int]:
    first, last = _parse_day(start, "start"), _parse_day(end, "end")
    if last < first:
        raise RequestError("end", f"{_to_date(last)} is before start {_to_date(first)}",
                           "give an end on or after the start")
    return first, last


def _text(column: pd.Series) -> pd.Series:
    return column.astype(object).where(column.notna(), "").astype(str).str.strip()


# One user row after filtering: name, phase, start day, end day, edition year, phase given explicitly.
_UserRow = tuple[str, str, int, int, int, bool]


def _user_rows(events: pd.DataFrame | None, brand: str | None, platform: str | None) -> list[_UserRow]:
    """The user's events that apply to (brand, platform), validated and keyed like the built-ins."""
    if events is None or len(events) == 0:
        return []
    missing = [c for c in ("name", "start", "end") if c not in events.columns]
    if missing:
        raise ContractError("events", missing[0], "required column is missing",
                            "add columns name, start, end (and optionally phase, platform, brand)")
    rows = pd.DataFrame({
        "name": _text(events["name"]),
        "raw_phase": _text(events["phase"]) if "phase" in events.columns else "",
        "platform": _text(events["platform"]) if "platform" in events.columns else "",
        "brand": _text(events["brand"]) if "brand" in events.columns else "",
        "start": pd.to_datetime(events["start"], errors="coerce"),
        "end": pd.to_datetime(events["end"], errors="coerce"),
    })
    for column in ("start", "end"):
        bad = rows[column].isna()
        if bad.any():
            raise ContractError("events", column, "must be a date (YYYY-MM-DD)", "fill in a valid date",
                                rows=events.loc[bad.to_numpy()])
    bad = rows["end"] < rows["start"]
    if bad.any():
        raise ContractError("events", "end", "end must be on or after start",
                            "swap start and end or correct the dates", rows=events.loc[bad.to_numpy()])
    bad = rows["name"].eq("")
    if bad.any():
        raise ContractError("events", "name", "must not be blank", "name every event, e.g. brand_day",
                            rows=events.loc[bad.to_numpy()])

    named_brands = sorted(set(rows["brand"]) - {""})
    if brand is None:
        if len(named_brands) > 1:
            raise RequestError("brand", f"the events table holds rows of several brands ({named_brands})",
                               "pass brand=..., or the events of dataset.for_brand(brand)")
    else:
        rows = rows[rows["brand"].isin(["", brand])]
    rows = rows[rows["platform"].eq("") if platform is None else rows["platform"].isin(["", platform])]
    if rows.empty:
        return []

    rows = rows.assign(
        name=rows["name"].map(canonical_name),
        phase=rows["raw_phase"].map(canonical_phase),
        explicit_phase=rows["raw_phase"].ne(""),
        year=rows["end"].dt.year,
        specificity=rows["brand"].ne("").astype(int) + rows["platform"].ne("").astype(int),
    )
    # the most specific rows of an event, year and phase win (douyin's own dates beat everyone's)
    most_specific = rows.groupby(["name", "year", "phase"])["specificity"].transform("max")
    rows = rows[rows["specificity"].eq(most_specific)]
    return [
        (name, phase, _to_day(start.date()), _to_day(end.date()), int(year), bool(explicit))
        for name, phase, start, end, year, explicit in rows[
            ["name", "phase", "start", "end", "year", "explicit_phase"]
        ].itertuples(index=False)
    ]


def _resolved_windows(
    first: int,
    last: int,
    events: pd.DataFrame | None,
    brand: str | None,
    platform: str | None,
    market: str = DEFAULT_MARKET,
) -> list[_Window]:
    """Built-in windows overridden by the user's, with derived peak days; those touching [first, last]."""
    user = _user_rows(events, brand, platform)
    replaced_phases = {(name, year, phase) for name, phase, _, _, year, explicit in user if explicit}
    replaced_events = {(name, year) for name, _, _, _, year, explicit in user if not explicit}

    windows: set[_Window] = set()
    # an event of year Y may start in Y-1 (年货节 before an early CNY): look one year beyond each side
    # the built-in table is the Chinese platforms' festival calendar: other markets have only their own
    years = range(_to_date(first).year - 1, _to_date(last).year + 2) if market == DEFAULT_MARKET else ()
    for year in years:
        for name, phase, start, end in builtin_windows(year):
            if (name, year) in replaced_events or (name, year, phase) in replaced_phases:
                continue
            windows.add((name, phase, _to_day(start), _to_day(end)))

    user_days = {(name, year) for name, phase, _, _, year, _ in user if phase == "day"}
    for name, phase, start, end, year, _ in user:
        windows.add((name, phase, start, end))
        if phase == "peak" and (name, year) not in user_days:
            windows.add((name, "day", end, end))
    return sorted(w for w in windows if w[3] >= first and w[2] <= last)


def _name_order(names: set[str]) -> list[str]:
    builtin = [n for n in EVENT_COLUMNS if n in names]
    return builtin + sorted(names - set(EVENT_COLUMNS))


def _phase_order(phases: set[str]) -> list[str]:
    return list(PHASE_ORDER) + sorted(phases - set(PHASE_ORDER))


# ---------------------------------------------------------------------------------------------
# Public interface
# ---------------------------------------------------------------------------------------------

def event_windows(
    start: object,
    end: object,
    events: pd.DataFrame | None = None,
    brand: str | None = None,
    platform: str | None = None,
    market: str = DEFAULT_MARKET,
) -> pd.DataFrame:
    """Every event phase window touching [start, end]: name, phase, start, end (inclusive dates).

    What the models are told about events, after the user's overrides, one row per phase window
    (a `day` window is also the last day of its `peak` window). Windows are not clipped to the range.
    """
    first, last = _day_range(start, end)
    windows = _resolved_windows(first, last, events, brand, platform, check_market(market))
    table = pd.DataFrame(
        [(name, phase, _to_date(s), _to_date(e)) for name, phase, s, e in windows], columns=WINDOW_COLUMNS
    )
    table["name"] = table["name"].astype(str)
    table["phase"] = table["phase"].astype(str)
    for column in ("start", "end"):
        table[column] = pd.to_datetime(table[column]).astype("datetime64[ns]")
    return table.sort_values(["start", "end", "name", "phase"], kind="stable").reset_index(drop=True)


def peak_days(
    start: object,
    end: object,
    events: pd.DataFrame | None = None,
    brand: str | None = None,
    platform: str | None = None,
    market: str = DEFAULT_MARKET,
) -> list[pd.Timestamp]:
    """The peak days (3.8, 618, 9.9, 11.11, 12.12, last days of user peak windows) in [start, end]."""
    first, last = _day_range(start, end)
    days = _peak_day_numbers(_resolved_windows(first, last, events, brand, platform, check_market(market)))
    return [pd.Timestamp(_to_date(int(d))) for d in days if first <= d <= last]


def _peak_day_numbers(windows: list[_Window]) -> np.ndarray:
    days = {d for _, phase, s, e in windows if phase == "day" for d in range(s, e + 1)}
    return np.array(sorted(days), dtype=np.int64)


def calendar_frame(
    start: object,
    end: object,
    events: pd.DataFrame | None = None,
    brand: str | None = None,
    platform: str | None = None,
    freq: str = "D",
    market: str = DEFAULT_MARKET,
) -> pd.DataFrame:
    """One row per date (per week start for freq="W") with the columns of `COLUMNS`.

    Daily: flags are 0/1 int64. Weekly (weeks start on the weekday of `start`, the last week is
    the one holding `end`): flags are the share of the week's 7 days (float in [0, 1]),
    `event_name` joins the names active on any day of the week, `phase` is the week's strongest
    phase, and the day counts are those of the week's first day. `days_to_next_peak` is 0 on a
    peak day and capped at 90, as is `days_since_last_peak`.
    """
    if freq not in FREQUENCIES:
        raise RequestError("freq", f"unknown frequency '{freq}'", "use 'D' (daily) or 'W' (weekly)")
    first, last = _day_range(start, end)
    if freq == "W":
        last = first + 7 * ((last - first) // 7) + 6
    days = np.arange(first, last + 1, dtype=np.int64)
    market = check_market(market)
    windows = _resolved_windows(first - MAX_DAYS, last + MAX_DAYS, events, brand, platform, market)

    n = len(days)
    flags: dict[str, np.ndarray] = {c: np.zeros(n, dtype=bool) for c in FLAG_COLUMNS}
    is_off, is_makeup = _holiday_flags(days, market)
    weekday = (days + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
    flags["is_holiday"] = is_off
    flags["is_makeup_workday"] = is_makeup
    flags["is_weekend"] = weekday >= 5
    flags["is_day_off"] = (is_off | flags["is_weekend"]) & ~is_makeup

    names = _name_order({w[0] for w in windows})
    phases = _phase_order({w[1] for w in windows})
    name_index = {name: i for i, name in enumerate(names)}
    phase_rank = {phase: i for i, phase in enumerate(phases)}
    active = np.zeros((len(names), n), dtype=bool)
    strongest = np.full(n, len(phases), dtype=np.int64)
    for name, phase, s, e in windows:
        lo, hi = max(s - first, 0), min(e - first, n - 1) + 1
        if lo >= hi:
            continue
        active[name_index[name], lo:hi] = True
        flags[EVENT_COLUMNS.get(name, "ev_custom")][lo:hi] = True
        if phase in ("presale", "peak", "day"):
            flags[f"phase_{phase}"][lo:hi] = True
        np.minimum(strongest[lo:hi], phase_rank[phase], out=strongest[lo:hi])
    flags["phase_peak"] |= flags["phase_day"]  # the day itself is also peak
    flags["is_event"] = active.any(axis=0)

    peaks = _peak_day_numbers(windows)
    to_next, since_last = _peak_distances(days, peaks)

    if freq == "W":
        n_weeks = n // 7
        shares = {c: v.reshape(n_weeks, 7).mean(axis=1) for c, v in flags.items()}
        active = active.reshape(len(names), n_weeks, 7).any(axis=2)
        strongest = strongest.reshape(n_weeks, 7).min(axis=1)
        starts = slice(0, n, 7)
        days, to_next, since_last = days[starts], to_next[starts], since_last[starts]
        columns: dict[str, np.ndarray] = shares
    else:
        columns = {c: v.astype(np.int64) for c, v in flags.items()}

    frame = pd.DataFrame({"date": (days.astype("datetime64[D]")).astype("datetime64[ns]"), **columns})
    frame["event_name"] = pd.array(_joined_names(names, active), dtype="str")
    phase_text = np.array([*phases, ""], dtype=object)[strongest]
    frame["phase"] = pd.array(phase_text, dtype="str")
    frame["days_to_next_peak"] = to_next
    frame["days_since_last_peak"] = since_last
    return frame[COLUMNS]


def _peak_distances(days: np.ndarray, peaks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if len(peaks) == 0:
        full = np.full(len(days), MAX_DAYS, dtype=np.int64)
        return full, full.copy()
    padded = np.concatenate([[days[0] - 10 * MAX_DAYS], peaks, [days[-1] + 10 * MAX_DAYS]])
    following = padded[np.searchsorted(padded, days, side="left")]
    preceding = padded[np.searchsorted(padded, days, side="right") - 1]
    return np.minimum(following - days, MAX_DAYS), np.minimum(days - preceding, MAX_DAYS)


def _joined_names(names: list[str], active: np.ndarray) -> np.ndarray:
    """Per column of `active` (names x dates), the active names joined with "+"; "" when none."""
    n = active.shape[1]
    if not names:
        return np.full(n, "", dtype=object)
    # encode each date's set of names as one integer, then spell out each distinct set once
    codes = np.zeros(n, dtype=object) if len(names) > 62 else np.zeros(n, dtype=np.int64)
    for i in range(len(names)):
        codes = codes + active[i].astype(np.int64) * (1 << i)
    distinct, inverse = np.unique(codes, return_inverse=True)
    spelled = np.array(
        ["+".join(name for i, name in enumerate(names) if int(code) >> i & 1) for code in distinct],
        dtype=object,
    )
    return spelled[inverse]
