"""The calendar against dates known from the State Council notices and the platforms' event rules."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from daiyun.features.calendar import (
    COLUMNS,
    FLAG_COLUMNS,
    calendar_frame,
    event_windows,
    official_days,
    peak_days,
)
from daiyun.features.ecommerce_events import LUNAR_NEW_YEAR, builtin_table
from daiyun.features.errors import ContractError, RequestError


def day(frame: pd.DataFrame, date: str) -> pd.Series:
    return frame.set_index("date").loc[pd.Timestamp(date)]


@pytest.fixture(scope="module")
def year_2025() -> pd.DataFrame:
    return calendar_frame("2025-01-01", "2025-12-31")


@pytest.fixture()
def user_events() -> pd.DataFrame:
    return pd.DataFrame({
        "name": ["double11", "brand_day"],
        "start": ["2025-10-14", "2025-05-10"],
        "end": ["2025-10-31", "2025-05-12"],
        "phase": ["presale", ""],
        "platform": ["douyin", ""],
        "brand": ["", "beauty"],
    })


def test_columns_types_and_one_row_per_day(year_2025):
    assert list(year_2025.columns) == COLUMNS
    assert len(year_2025) == 365 and year_2025["date"].is_monotonic_increasing
    assert year_2025["date"].dtype == "datetime64[ns]"
    for column in FLAG_COLUMNS + ["days_to_next_peak", "days_since_last_peak"]:
        assert year_2025[column].dtype == np.int64, column
    assert set(np.unique(year_2025[FLAG_COLUMNS].to_numpy())) <= {0, 1}
    assert year_2025["event_name"].dtype == "str" and year_2025["phase"].dtype == "str"


def test_national_day_2025_and_its_makeup_workdays(year_2025):
    assert day(year_2025, "2025-10-01")[["is_holiday", "is_day_off"]].tolist() == [1, 1]
    assert day(year_2025, "2025-10-08")["is_holiday"] == 1
    sunday_at_work = day(year_2025, "2025-09-28")  # a Sunday worked in exchange for the golden week
    assert sunday_at_work["is_weekend"] == 1 and sunday_at_work["is_makeup_workday"] == 1
    assert sunday_at_work["is_day_off"] == 0
    assert day(year_2025, "2025-10-09")[["is_holiday", "is_day_off"]].tolist() == [0, 0]
    assert day(year_2025, "2025-10-12")[["is_weekend", "is_day_off"]].tolist() == [1, 1]


def test_double11_2025_phases(year_2025):
    presale, peak, the_day, after = (day(year_2025, d) for d in
                                     ("2025-10-25", "2025-11-05", "2025-11-11", "2025-11-12"))
    assert presale[["ev_double11", "phase_presale", "phase_peak", "phase_day"]].tolist() == [1, 1, 0, 0]
    assert (presale["event_name"], presale["phase"]) == ("double11", "presale")
    assert peak[["ev_double11", "phase_presale", "phase_peak", "phase_day"]].tolist() == [1, 0, 1, 0]
    assert the_day[["ev_double11", "phase_peak", "phase_day"]].tolist() == [1, 1, 1]
    assert the_day["phase"] == "day" and the_day["days_to_next_peak"] == 0
    assert after[["ev_double11", "is_event", "phase_peak"]].tolist() == [0, 0, 0]
    assert after["event_name"] == "" and after["phase"] == ""
    assert after["days_since_last_peak"] == 1


def test_618_2024():
    frame = calendar_frame("2024-05-15", "2024-06-30")
    assert day(frame, "2024-05-19")["ev_618"] == 0
    assert day(frame, "2024-05-20")[["ev_618", "phase_presale"]].tolist() == [1, 1]
    assert day(frame, "2024-06-01")[["ev_618", "phase_peak", "phase_presale"]].tolist() == [1, 1, 0]
    assert day(frame, "2024-06-18")[["phase_day", "days_to_next_peak"]].tolist() == [1, 0]
    assert day(frame, "2024-06-19")["ev_618"] == 0
    assert day(frame, "2024-06-10")["is_holiday"] == 1  # Dragon Boat Festival 2024


def test_cny_2026_festival_and_slowdown():
    frame = calendar_frame("2026-01-01", "2026-03-10")
    assert LUNAR_NEW_YEAR[2026] == pd.Timestamp("2026-02-17").date()
    assert day(frame, "2026-02-14")[["ev_cny_slowdown", "ev_cny_festival"]].tolist() == [1, 1]
    new_year = day(frame, "2026-02-17")
    assert new_year[["ev_cny_slowdown", "ev_cny_festival", "is_holiday"]].tolist() == [1, 0, 1]
    assert day(frame, "2026-02-14")["is_makeup_workday"] == 1  # a Saturday worked before the holiday
    assert day(frame, "2026-02-15")["event_name"] == "cny_slowdown"
    assert day(frame, "2026-01-10")["is_event"] == 0
    assert day(frame, "2026-03-01")["ev_cny_slowdown"] == 0
    # the goods festival ends two days before the eve and lasts three weeks, every year
    table = builtin_table()
    festivals = table[table["name"].eq("cny_festival")]
    assert len(festivals) == len(LUNAR_NEW_YEAR)
    eves = pd.to_datetime(pd.Series(LUNAR_NEW_YEAR.values())) - pd.Timedelta(days=1)
    assert ((eves.to_numpy() - festivals["end"].to_numpy()) == np.timedelta64(2, "D")).all()
    assert ((festivals["end"] - festivals["start"]).dt.days == 20).all()


def test_days_to_next_and_since_last_peak(year_2025):
    assert day(year_2025, "2025-11-01")["days_to_next_peak"] == 10
    assert day(year_2025, "2025-11-01")["days_since_last_peak"] == 53  # 9.9
    assert day(year_2025, "2025-12-31")["days_to_next_peak"] == 67  # 3.8 of 2026, beyond the frame
    assert day(year_2025, "2025-01-01")["days_since_last_peak"] == 20  # 12.12 of 2024
    assert day(year_2025, "2025-04-01")["days_to_next_peak"] == 78
    assert year_2025["days_to_next_peak"].between(0, 90).all()
    assert year_2025["days_since_last_peak"].between(0, 90).all()
    assert (year_2025["days_to_next_peak"].eq(0) == year_2025["phase_day"].eq(1)).all()
    assert day(calendar_frame("2025-07-10", "2025-07-10"), "2025-07-10")["days_since_last_peak"] == 22
    assert calendar_frame("2025-06-19", "2025-06-19")["days_to_next_peak"].item() == 82  # 9.9


def test_2027_falls_back_to_holidays_package():
    frame = calendar_frame("2027-01-01", "2027-12-31")
    assert official_days(2027)[2] == "holidays" and official_days(2025)[2] == "chinese_calendar"
    assert day(frame, "2027-10-01")["is_holiday"] == 1
    assert day(frame, "2027-02-06")[["is_holiday", "ev_cny_slowdown"]].tolist() == [1, 1]
    assert frame["is_makeup_workday"].sum() == 0  # unknown without chinese_calendar data
    assert day(frame, "2027-11-11")["phase_day"] == 1
    assert day(frame, "2027-06-18")["phase_day"] == 1
    # past the built-in years only CNY 2028 is known: its goods festival starts in January 2028
    late = calendar_frame("2028-01-01", "2028-12-31")
    assert late["ev_cny_festival"].sum() == 21 and late["ev_double11"].sum() == 0


def test_user_override_applies_to_its_platform_only(user_events):
    douyin = calendar_frame("2025-10-01", "2025-11-15", user_events, brand="beauty", platform="douyin")
    tmall = calendar_frame("2025-10-01", "2025-11-15", user_events, brand="beauty", platform="tmall")
    everyone = calendar_frame("2025-10-01", "2025-11-15", user_events, brand="beauty")
    assert day(douyin, "2025-10-14")[["ev_double11", "phase_presale"]].tolist() == [1, 1]
    assert day(douyin, "2025-10-13")["ev_double11"] == 0
    for other in (tmall, everyone):
        assert day(other, "2025-10-14")["ev_double11"] == 0
        assert day(other, "2025-10-20")["phase_presale"] == 1
    # only the presale moved: peak and day are still the built-in ones
    assert day(douyin, "2025-11-05")["phase_peak"] == 1 and day(douyin, "2025-11-11")["phase_day"] == 1
    windows = event_windows("2025-10-01", "2025-11-15", user_events, brand="beauty", platform="douyin")
    presale = windows[windows["name"].eq("double11") & windows["phase"].eq("presale")]
    assert presale["start"].tolist() == [pd.Timestamp("2025-10-14")]
    assert list(windows.columns) == ["name", "phase", "start", "end"]
    # another year keeps its built-in presale
    assert day(calendar_frame("2024-10-14", "2024-10-20", user_events, "beauty", "douyin"),
               "2024-10-14")["ev_double11"] == 0


def test_override_without_phase_replaces_the_whole_event():
    events = pd.DataFrame({"name": ["11.11"], "start": ["2026-10-10"], "end": ["2026-11-03"]})
    frame = calendar_frame("2026-10-01", "2026-11-30", events)
    assert day(frame, "2026-10-15")[["ev_double11", "phase_peak", "phase_presale"]].tolist() == [1, 1, 0]
    assert day(frame, "2026-11-03")["phase_day"] == 1
    assert day(frame, "2026-11-11")["ev_double11"] == 0
    assert peak_days("2026-10-01", "2026-11-30", events) == [pd.Timestamp("2026-11-03")]


def test_most_specific_user_row_wins_and_blanks_read_like_csv():
    events = pd.DataFrame({
        "name": ["double11", "双11"], "start": ["2025-10-16", "2025-10-10"], "end": ["2025-10-31"] * 2,
        "phase": ["presale", "Pre-sale"], "platform": [np.nan, "douyin"], "brand": [None, np.nan],
    })
    douyin = calendar_frame("2025-10-01", "2025-10-31", events, brand="beauty", platform="douyin")
    tmall = calendar_frame("2025-10-01", "2025-10-31", events, brand="beauty", platform="tmall")
    assert douyin.loc[douyin["phase_presale"].eq(1), "date"].min() == pd.Timestamp("2025-10-10")
    assert tmall.loc[tmall["phase_presale"].eq(1), "date"].min() == pd.Timestamp("2025-10-16")


def test_brand_day_is_a_custom_peak_of_its_brand_only(user_events):
    beauty = calendar_frame("2025-05-01", "2025-05-31", user_events, brand="beauty", platform="tmall")
    snacks = calendar_frame("2025-05-01", "2025-05-31", user_events, brand="snacks", platform="tmall")
    middle = day(beauty, "2025-05-11")
    assert middle[["ev_custom", "is_event", "phase_peak", "phase_day"]].tolist() == [1, 1, 1, 0]
    assert (middle["event_name"], middle["phase"]) == ("brand_day", "peak")
    assert day(beauty, "2025-05-12")["phase_day"] == 1  # the last day of a user event is a peak day
    assert day(beauty, "2025-05-01")["days_to_next_peak"] == 11
    assert snacks["ev_custom"].sum() == 0
    assert day(snacks, "2025-05-01")["days_to_next_peak"] == 48  # 618
    brand_day = pd.Timestamp("2025-05-12")
    assert brand_day in peak_days("2025-05-01", "2025-05-31", user_events, brand="beauty")
    assert brand_day not in peak_days("2025-05-01", "2025-05-31", user_events, brand="snacks")


def test_overlapping_events_join_names_and_keep_the_strongest_phase():
    events = pd.DataFrame({"name": ["brand_day"], "start": ["2025-06-17"], "end": ["2025-06-20"],
                           "phase": ["return"]})
    frame = calendar_frame("2025-06-15", "2025-06-21", events)
    both, after = day(frame, "2025-06-18"), day(frame, "2025-06-20")
    assert (both["event_name"], both["phase"]) == ("618+brand_day", "day")
    assert (after["event_name"], after["phase"]) == ("brand_day", "return")
    assert after[["ev_custom", "phase_peak", "phase_day"]].tolist() == [1, 0, 0]


def test_weekly_frame_shares():
    weekly = calendar_frame("2025-10-06", "2025-11-30", freq="W")
    assert list(weekly.columns) == COLUMNS
    assert (weekly["date"].diff().dropna() == pd.Timedelta(days=7)).all()
    assert weekly["date"].dt.dayofweek.eq(0).all() and len(weekly) == 8
    shares = weekly[FLAG_COLUMNS].to_numpy()
    assert ((shares >= 0) & (shares <= 1)).all()
    week = day(weekly, "2025-10-06")  # Oct 6-12: holidays 6-8, weekend 11-12, 11 is a make-up workday
    assert week["is_holiday"] == pytest.approx(3 / 7) and week["is_makeup_workday"] == pytest.approx(1 / 7)
    assert week["is_day_off"] == pytest.approx(4 / 7)
    presale_start = day(weekly, "2025-10-20")
    assert presale_start["phase_presale"] == pytest.approx(1.0)
    assert day(weekly, "2025-11-10")["phase_day"] == pytest.approx(1 / 7)
    assert day(weekly, "2025-11-10")["days_to_next_peak"] == 1  # counted at the week's first day
    daily = calendar_frame("2025-10-06", "2025-11-30")
    assert weekly["ev_double11"].sum() * 7 == pytest.approx(daily["ev_double11"].sum())


def test_bad_input_names_the_field():
    with pytest.raises(RequestError, match="end"):
        calendar_frame("2025-02-01", "2025-01-01")
    with pytest.raises(RequestError, match="freq"):
        calendar_frame("2025-01-01", "2025-02-01", freq="M")
    with pytest.raises(RequestError, match="start"):
        calendar_frame("not a date", "2025-02-01")
    with pytest.raises(ContractError, match="events.*end"):
        calendar_frame("2025-01-01", "2025-02-01",
                       pd.DataFrame({"name": ["x"], "start": ["2025-01-05"], "end": ["2025-01-02"]}))
    with pytest.raises(ContractError, match="start"):
        calendar_frame("2025-01-01", "2025-02-01", pd.DataFrame({"name": ["x"], "end": ["2025-01-02"]}))
    several = pd.DataFrame({"name": ["brand_day"] * 2, "start": ["2025-01-05"] * 2, "end": ["2025-01-06"] * 2,
                            "brand": ["beauty", "snacks"]})
    with pytest.raises(RequestError, match="brand"):
        calendar_frame("2025-01-01", "2025-02-01", several)
