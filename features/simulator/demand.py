"""True organic demand of the simulated shop: events, seasonality, promotions, prices and stock-outs.

The expected units of a series on a day (before ads, which `daiyun.features.simulator.ads` adds) are

    base * trend * yearly season * weekday * holiday * event_multiplier ** event_scale
         * launch ramp * run-out decline * (price / list_price) ** -elasticity * exp(promo_lift * on_promo)
         * post-promotion dip * sellable * in_stock

Event timing comes from `daiyun.features.calendar.event_windows` (built-in calendar plus the brand day),
so the simulator and the models read the same calendar.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from daiyun.features.calendar import calendar_frame, event_windows
from daiyun.features.simulator.catalogue import CATEGORIES, CUSTOM_EVENT_LIFT, Catalogue
from daiyun.features.simulator.windows import paint, random_windows

MAJOR_EVENT_LIFT = 0.6  # events at least this strong get deep discounts and heavy ad spend
PRESALE_DEFERRAL = 0.55  # share of pre-sale demand paid (and counted) on the first peak day
PRE_PRESALE_DAYS = 5  # shoppers wait for the pre-sale prices
POST_EVENT_DAYS = 5  # the hangover after an event: pantries and wardrobes are full
POST_PROMO_DAYS = 3
POST_PROMO_DIP = 0.8
PRE_EVENT_SPEND_DAYS = 7  # ad buyers warm up (蓄水) a week before an event
MECHANICS = np.array(["coupon", "feature", "bundle", "livestream"])


@dataclass
class EventPlan:
    """One brand's event effects by day on its timeline (1-D arrays) and its promotable events."""

    multiplier: np.ndarray  # organic demand multiplier per day
    spend_factor: np.ndarray  # how much ad buyers raise spend per day
    holiday: np.ndarray  # official day off that is not a weekend (0/1)
    promo_events: pd.DataFrame  # name, start, end (day indices), lift


def _strength(name: str, category: str) -> float:
    known = CATEGORIES[category].events
    return known.get(name, CUSTOM_EVENT_LIFT)


def event_plan(dates: pd.DatetimeIndex, events: pd.DataFrame, brand: str, category: str) -> EventPlan:
    """The calendar turned into this brand's demand multiplier and ad-spend factor per day."""
    n_days = len(dates)
    windows = event_windows(dates[0], dates[-1], events=events, brand=brand)
    windows = windows.assign(
        lo=(windows["start"] - dates[0]).dt.days.astype(int),
        hi=(windows["end"] - dates[0]).dt.days.astype(int),
    ).sort_values(["name", "lo", "hi"], kind="stable")
    # an occurrence is one year's run of an event: its presale, peak and day windows together
    new_run = windows["name"].ne(windows["name"].shift()) | (windows["lo"] > windows["hi"].shift() + 30)
    windows["occurrence"] = new_run.cumsum()

    log_lift = np.zeros(n_days)
    spend = np.ones(n_days)
    slowdown = np.ones(n_days)
    phase_weight = {"presale": 0.25, "peak": 1.0, "day": 0.7, "slowdown": 1.0}
    spend_peak = {"presale": 1.6, "peak": 2.0, "day": 3.0}
    for name, phase, lo, hi in windows[["name", "phase", "lo", "hi"]].itertuples(index=False):
        lift = _strength(name, category)
        a, b = max(lo, 0), min(hi, n_days - 1) + 1
        if a >= b:
            continue
        log_lift[a:b] += lift * phase_weight.get(phase, 0.5)
        if phase == "slowdown" or lift < 0:
            slowdown[a:b] = 0.7  # couriers stop: buyers cut spend too
        else:
            importance = float(np.clip(lift / 0.7, 0.3, 1.3))
            np.maximum(spend[a:b], 1.0 + (spend_peak.get(phase, 1.4) - 1.0) * importance, out=spend[a:b])
    multiplier = np.exp(log_lift)

    occurrences = windows.groupby("occurrence", sort=True).agg(
        name=("name", "first"), start=("lo", "min"), end=("hi", "max")
    )
    promo_rows = []
    for occurrence, (name, start, end) in occurrences.iterrows():
        lift = _strength(name, category)
        if lift <= 0:
            continue
        mine = windows[windows["occurrence"].eq(occurrence)]
        presale = mine[mine["phase"].eq("presale")]
        peak = mine[mine["phase"].eq("peak")]
        if len(presale) and len(peak):
            p_lo, p_hi = int(presale["lo"].min()), int(presale["hi"].max())
            first_peak = int(peak["lo"].min())
            pre = np.arange(p_lo - PRE_PRESALE_DAYS, p_lo)
            pre = pre[(pre >= 0) & (pre < n_days)]
            multiplier[pre] *= np.exp(-0.3 * lift)
            days = np.arange(max(p_lo, 0), min(p_hi, n_days - 1) + 1)
            # deposits paid during the pre-sale count as sales on the final-payment day
            deferred = PRESALE_DEFERRAL * multiplier[days].sum()
            multiplier[days] *= 1.0 - PRESALE_DEFERRAL
            if 0 <= first_peak < n_days:
                multiplier[first_peak] += deferred
        after = np.arange(end + 1, end + 1 + POST_EVENT_DAYS)
        keep = (after >= 0) & (after < n_days)
        multiplier[after[keep]] *= np.exp(
            -0.35 * lift * (1.0 - np.arange(POST_EVENT_DAYS) / POST_EVENT_DAYS)
        )[keep]
        ramp = np.arange(start - PRE_EVENT_SPEND_DAYS, start)
        ramp = ramp[(ramp >= 0) & (ramp < n_days)]
        spend[ramp] = np.maximum(spend[ramp], 1.0 + 0.35 * float(np.clip(lift / 0.7, 0.3, 1.3)))
        promo_rows.append((name, int(start), int(end), lift))

    promo_events = pd.DataFrame(promo_rows, columns=["name", "start", "end", "lift"]).sort_values("start")
    # two events overlapping on the calendar would give a SKU two promotions at once: keep the first
    overlaps = (
        promo_events["start"].to_numpy()[1:] <= np.maximum.accumulate(promo_events["end"].to_numpy())[:-1]
    )
    promo_events = promo_events[np.concatenate([[True], ~overlaps])[: len(promo_events)]]
    promo_events = promo_events.reset_index(drop=True)

    calendar = calendar_frame(dates[0], dates[-1], events=events, brand=brand)
    holiday = (calendar["is_holiday"].to_numpy() & ~calendar["is_weekend"].to_numpy().astype(bool)).astype(
        float
    )
    return EventPlan(multiplier, spend * slowdown, holiday, promo_events)


@dataclass
class PromotionPlan:
    """Every promotion of a brand (past and planned) as windows, and the discount they paint by day."""

    series: np.ndarray
    start: np.ndarray
    end: np.ndarray
    discount: np.ndarray
    mechanic: np.ndarray  # str
    discount_grid: np.ndarray  # (series, days)


def _mechanic_for(rng: np.random.Generator, platforms: np.ndarray, event: bool) -> np.ndarray:
    live = np.isin(platforms, ["douyin", "kuaishou"])
    if event:  # festival promotions are cross-store coupons; livestream platforms run them live
        return np.where(live, "livestream", "coupon")
    everyday = MECHANICS[rng.integers(0, 3, len(platforms))]
    return np.where(live & (rng.random(len(platforms)) < 0.7), "livestream", everyday)


def promotions(rng: np.random.Generator, catalogue: Catalogue, plan: EventPlan, n_days: int) -> PromotionPlan:
    """Festival promotions (deep at 618 and Double 11) plus everyday promotions between festivals."""
    n_series = catalogue.n_series
    first = np.maximum(catalogue.start, 0)
    last = np.minimum(catalogue.end, n_days - 1)
    platform_names = np.array(catalogue.platforms)[catalogue.platform]

    ev = plan.promo_events
    n_events = len(ev)
    major = ev["lift"].to_numpy() >= MAJOR_EVENT_LIFT
    takes_part = rng.random((n_series, n_events)) < np.where(major, 0.85, 0.45)[None, :]
    rows, which = np.nonzero(takes_part)
    starts = np.maximum(ev["start"].to_numpy()[which], first[rows])
    ends = np.minimum(ev["end"].to_numpy()[which], last[rows])
    ok = starts <= ends
    rows, which, starts, ends = rows[ok], which[ok], starts[ok], ends[ok]
    deep = major[which]
    event_discount = np.where(deep, rng.uniform(0.15, 0.40, len(rows)), rng.uniform(0.05, 0.20, len(rows)))
    event_mechanic = _mechanic_for(rng, platform_names[rows], event=True)

    # everyday promotions, kept clear of festival promotions (and of the days around them)
    busy = paint(np.zeros((n_series, n_days + 1), dtype=np.int8), rows, starts - 2, ends + POST_PROMO_DAYS, 1)
    busy_cum = np.concatenate([np.zeros((n_series, 1), dtype=np.int32), np.cumsum(busy, axis=1)], axis=1)
    d_rows, d_starts, d_ends = random_windows(rng, first, last, mean_gap=45.0, length=(3, 9))
    clear = busy_cum[d_rows, d_ends + 1] - busy_cum[d_rows, d_starts] == 0
    d_rows, d_starts, d_ends = d_rows[clear], d_starts[clear], d_ends[clear]
    daily_discount = rng.uniform(0.05, 0.20, len(d_rows))
    daily_mechanic = _mechanic_for(rng, platform_names[d_rows], event=False)

    series = np.concatenate([rows, d_rows])
    start = np.concatenate([starts, d_starts])
    end = np.concatenate([ends, d_ends])
    discount = np.round(np.concatenate([event_discount, daily_discount]), 2)
    mechanic = np.concatenate([event_mechanic, daily_mechanic])
    order = np.lexsort((start, series))
    series, start, end, discount, mechanic = (
        series[order],
        start[order],
        end[order],
        discount[order],
        mechanic[order],
    )
    grid = paint(np.zeros((n_series, n_days)), series, start, end, discount)
    return PromotionPlan(series, start, end, discount, mechanic, grid)


def stock_outs(rng: np.random.Generator, catalogue: Catalogue, n_history: int, n_days: int) -> np.ndarray:
    """in_stock (series, days) bool: runs of a few days out of stock, a few % of history days."""
    first = np.maximum(catalogue.start, 0)
    last = np.minimum(catalogue.end, n_history - 1)
    rows, starts, ends = random_windows(rng, first, last, mean_gap=140.0, length=(2, 9))
    in_stock = np.ones((catalogue.n_series, n_days), dtype=bool)
    return paint(in_stock, rows, starts, ends, False)


def sellable(catalogue: Catalogue, n_days: int) -> np.ndarray:
    day = np.arange(n_days)[None, :]
    return (day >= catalogue.start[:, None]) & (day <= catalogue.end[:, None])


def organic_units(
    catalogue: Catalogue,
    plan: EventPlan,
    promo: PromotionPlan,
    price: np.ndarray,
    in_stock: np.ndarray,
    dates: pd.DatetimeIndex,
    n_history: int,
) -> np.ndarray:
    """Expected organic units (series, days): every effect but the ads."""
    n_days = len(dates)
    day = np.arange(n_days)[None, :]
    c = catalogue
    years = (day - n_history / 2) / 365.25
    doy = dates.dayofyear.to_numpy()[None, :]
    log_units = (
        np.log(c.base_units)[:, None]
        + c.trend[:, None] * years
        + c.season_amplitude[:, None] * np.cos(2 * np.pi * (doy - c.season_peak[:, None]) / 365.25)
        + c.weekly[:, dates.dayofweek.to_numpy()]
        + CATEGORIES[c.brand.category].holiday * plan.holiday[None, :]
        + c.event_scale[:, None] * np.log(plan.multiplier)[None, :]
        - c.elasticity[:, None] * np.log(price / c.list_price)
        + c.promo_lift[:, None] * (promo.discount_grid > 0)
    )
    units = np.exp(log_units)
    age = day - c.start[:, None]
    units *= np.where(age >= 0, -np.expm1(-(age + 1) / c.ramp_days[:, None]), 0.0)
    # a SKU being run out sells less and less over its last 60 days
    to_end = c.end[:, None] - day
    stopping = (c.end < n_days - 1)[:, None] & (to_end < 60)
    units *= np.where(stopping, 0.4 + 0.6 * np.clip(to_end, 0, 60) / 60, 1.0)
    dip = paint(np.ones_like(units), promo.series, promo.end + 1, promo.end + POST_PROMO_DAYS, POST_PROMO_DIP)
    units *= np.where(promo.discount_grid > 0, 1.0, dip)
    units *= sellable(c, n_days) & in_stock
    return units
