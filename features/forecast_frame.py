"""Forecast feature frame: what the global forecaster knows at a forecast origin, and for each target day.

A *direct* model: every row is (series, origin T, horizon h), its target the units on T + h. Features
come in three kinds, and only the first two may look at sales:

* origin features (`OriginSnapshot.stats`): levels over the last 1/4/13 weeks, the non-promotion
  level (over 8 weeks; a launch younger than that, over the later half of its life, past its ramp
  up: `_normal_window`), the promotion lift seen in the last year, zero share, SKU age, reference
  price, category levels. They use sales on or before T only, so a forecast made at T cannot see the answer.
* horizon-bucketed lags (`OriginSnapshot.ly_units`, `season_tail`): last year around T + h (364
  days / 52 weeks back, always on or before T for horizons under 300 days), the latest values of the
  same weekday on or before T.
* inputs known in advance for T + h: price, discount depth, the promotion plan (on promotion, days
  into it, days since one ended), calendar and e-commerce event phases (`daiyun.features.calendar`).

The same `grid_features` builds training rows (plan = what happened) and serving rows (plan = the
planner's promotions), so training and serving cannot drift apart. Cold start: a series with less
than `min_history` periods at T is flagged `cold_start`; its level features are its own where it has
observed days, and those it cannot have yet come from the (platform, category, price band) cell of
its established siblings.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from daiyun.features.calendar import FLAG_COLUMNS
from daiyun.features.forecast_terms import PROMO_DISCOUNT

STEP = {"D": pd.Timedelta(days=1), "W": pd.Timedelta(weeks=1)}
SEASON = {"D": 7, "W": 52}
LAST_YEAR = {"D": 364, "W": 52}
LEVEL_WINDOWS = {"D": (7, 28, 91), "W": (1, 4, 13)}
YEAR = {"D": 365, "W": 52}
MIN_HISTORY = {"D": 28, "W": 8}
TAIL = {"D": 28, "W": 52}  # periods of history kept in a snapshot for lags and promotion runs
PRICE_BANDS = 4
SERIES_KEYS = ["platform", "sku_id"]
HISTORY_COLUMNS = [
    "platform",
    "sku_id",
    "category",
    "date",
    "units",
    "price",
    "discount",
    "on_promo",
    "in_stock",
]
# the calendar's own columns, in its order (the trees read features by position); the public-holiday
# distances come from `daiyun.models.forecast.lgbm.calendar_tables`: shoppers stock up before a day
# off and catch up after it (Rossmann, May 2015: the open days next to a holiday closure sold 13-33%
# above the same weekday a week or two later); used only where shops close on holidays
# (`daiyun.models.forecast.lgbm.closes_on_holidays`)
CALENDAR_FEATURES = [
    *FLAG_COLUMNS,
    "days_to_next_peak",
    "days_since_last_peak",
    "days_to_holiday",
    "days_since_holiday",
]
STAT_FEATURES = [
    "level_short",
    "level_mid",
    "level_long",
    "normal_level",
    "promo_lift",
    "zero_share",
    "last_value",
    "age",
    "ref_price",
    "cat_level",
    "ly_level",
    "cold_start",
    "open_share",
    "elasticity",
]
GRID_FEATURES = [
    "h",
    "dow",
    "dom",
    "month",
    "woy",
    "discount",
    "on_promo",
    "rel_price",
    "plan_lift",
    "promo_run",
    "promo_prev",
    "since_promo",
    "ly_units",
    "ly_ratio",
    "cat_ly_ratio",
    "same_season",
    "season_mean",
]
FEATURES = STAT_FEATURES + GRID_FEATURES + CALENDAR_FEATURES
# a deeper discount (a lower price against the SKU's regular one) never lowers the forecast
MONOTONE = {"discount": 1, "on_promo": 1, "rel_price": -1, "plan_lift": 1}
# A series whose data never says its regular price (no list_price, no discount: a price-only history
# or plan) gets one inferred: the upper quantile of its prices over a trailing window, so deal weeks
# (a minority) do not pull it down. A price at least DEAL_DISCOUNT under it counts as a deal (on_promo):
# price noise of a cent or two is not a promotion.
REGULAR_PRICE_QUANTILE = 0.9
REGULAR_PRICE_WINDOW = {"D": 91, "W": 13}
DEAL_DISCOUNT = 0.05
# Unless the data directory says its prices are paid averages (dataset.yaml `prices: paid_average`:
# revenue / units over orders, as a 成交均价 export or a wholesaler's invoices give). Such a price moves
# with coupons, order tiers and bundles, not with a deal anyone set: a big order at a tier price pulls
# a day's average down. Read as deals, most of UCI Online Retail's selling days were "on promotion",
# the non-promotion level missed them, `rel_price` taught the trees "low price -> big day" backwards
# and a plan-less month was forecast far under what sold (its push list, forecast-only: NDCG@20 0.651
# read as set prices, 0.784 as paid averages; benchmarks/results/selection.md). There, a series whose
# data never states its regular price infers no deals from its prices, its history's prices read as
# the inferred regular one, and so does a plan's price (what it would do is not in the data); a
# stated discount or on_promo still counts.
PRICE_KINDS = ("set", "paid_average")
# Extra promotion columns beyond the contract's price / discount / on_promo (a scanner panel's
# `feature` and `display` flags, `mechanic_*` indicators): numeric columns the history carries and the
# plan can say in advance, read as known-future inputs (days a plan does not cover: 0). The data
# contract keeps extra columns "ignored unless a model is told to use them": `brand_history` keeps a
# sales column only when the promotions table carries it too. At most PROMO_EXTRA_MAX of them (by
# name), so an export with dozens of stray columns cannot swamp the trees.
PROMO_EXTRA_MAX = 4
NOT_PROMO_EXTRA = {
    *HISTORY_COLUMNS,
    *FEATURES,
    "brand",
    "list_price",
    "revenue",
    "units",
    "price",
    "filled",
    "series",
    "origin",
    "actual",
    "expected",  # the simulators' truth: never an input
    "expected_units",
    "start",
    "end",
}


def promo_extra_columns(frame: pd.DataFrame, also_in: object | None = None) -> list[str]:
    """The extra promotion columns of `frame` (see PROMO_EXTRA_MAX); with `also_in`, only those in it too.

    Numeric, not boolean (a True/False column is a label such as a benchmark's scoring mask, not a
    plan quantity), not one of the contract's or the features' own names.
    """
    wanted = None if also_in is None else set(also_in)
    names = [
        str(c)
        for c in frame.columns
        if str(c) not in NOT_PROMO_EXTRA
        and (wanted is None or c in wanted)
        and pd.api.types.is_numeric_dtype(frame[c])
        and not pd.api.types.is_bool_dtype(frame[c])
    ]
    return sorted(names)[:PROMO_EXTRA_MAX]


# -------------------------------------------------------------------------------------------- panel
@dataclass
class SeriesPanel:
    """One brand's history as (series x period) arrays on a regular date grid.

    `units` is NaN before a series starts; `observed` marks in-stock days after the start, the only
    days that say anything about demand (a stock-out 0 is not a zero-demand observation).
    """

    keys: pd.DataFrame  # platform, sku_id, category; row i is series i
    dates: pd.DatetimeIndex
    freq: str
    units: np.ndarray
    observed: np.ndarray
    price: np.ndarray
    list_price: np.ndarray
    discount: np.ndarray
    on_promo: np.ndarray
    start: np.ndarray  # index of each series' first period
    regular_inferred: np.ndarray | None = None  # (S,) bool: regular price inferred, not given
    # (S,) bool: its prices are paid averages with no stated regular price: no deals read from them
    paid_average: np.ndarray | None = None
    extras: dict[str, np.ndarray] = field(default_factory=dict)  # promo_extra_columns: (S x T), 0 = none

    def index_of(self, date: pd.Timestamp) -> int:
        return int((pd.Timestamp(date) - self.dates[0]) / STEP[self.freq])

    @property
    def end(self) -> pd.Timestamp:
        return self.dates[-1]


def _ffill_rows(values: np.ndarray) -> np.ndarray:
    frame = pd.DataFrame(values.T)
    return frame.ffill().bfill().to_numpy().T


def regular_price(price: np.ndarray, freq: str) -> np.ndarray:
    """(series x period) inferred regular price: trailing REGULAR_PRICE_QUANTILE of the prices seen."""
    frame = pd.DataFrame(price.T)
    window = REGULAR_PRICE_WINDOW[freq]
    upper = frame.rolling(window, min_periods=1).quantile(REGULAR_PRICE_QUANTILE)
    return upper.ffill().bfill().to_numpy().T


def build_panel(
    history: pd.DataFrame, freq: str = "D", extras: list[str] | None = None, prices: str = "set"
) -> SeriesPanel:
    """Pivot one brand's long history (HISTORY_COLUMNS) into a `SeriesPanel`.

    `extras`: the extra promotion columns to carry (default: `promo_extra_columns(history)`); one the
    history lacks reads 0 (no feature, no display).

    The regular price is the given `list_price`, else price / (1 - discount) on discounted rows,
    else (a series whose data never says it) inferred by `regular_price`; for those series the
    discount is derived from it and a price DEAL_DISCOUNT under it marks the period on promotion,
    unless `prices` is "paid_average" (see PRICE_KINDS): then no deal is inferred and the inferred
    regular price stands for the price.
    """
    missing = [c for c in HISTORY_COLUMNS if c not in history.columns and c not in ("category",)]
    if missing:
        raise ValueError(f"history lacks columns {missing}")
    frame = history
    if "category" not in frame.columns:
        frame = frame.assign(category="unknown")
    keys = (
        frame[["platform", "sku_id", "category"]]
        .drop_duplicates(SERIES_KEYS)
        .sort_values(SERIES_KEYS)
        .reset_index(drop=True)
    )
    keys = keys.astype({"platform": str, "sku_id": str, "category": str})
    dates = pd.date_range(frame["date"].min(), frame["date"].max(), freq=STEP[freq])
    series_index = pd.MultiIndex.from_frame(keys[SERIES_KEYS])
    row_series = series_index.get_indexer(pd.MultiIndex.from_frame(frame[SERIES_KEYS].astype(str)))
    row_date = ((frame["date"] - dates[0]) / STEP[freq]).to_numpy().astype(int)
    shape = (len(keys), len(dates))

    def spread(column: str, fill: float = np.nan) -> np.ndarray:
        values = np.full(shape, fill, dtype=float)
        values[row_series, row_date] = frame[column].to_numpy(dtype=float)
        return values

    units = spread("units")
    present = ~np.isnan(units)
    in_stock = spread("in_stock", 0.0) if "in_stock" in frame.columns else present.astype(float)
    discount = np.nan_to_num(spread("discount", 0.0), nan=0.0)
    on_promo = np.nan_to_num(spread("on_promo", 0.0), nan=0.0)
    price = spread("price")
    if "list_price" in frame.columns:
        list_price = spread("list_price")
    else:
        list_price = np.where(discount > 0, price / np.clip(1.0 - discount, 0.05, 1.0), np.nan)
    price = _ffill_rows(price)
    known_regular = np.isfinite(list_price).any(axis=1)
    if not known_regular.all():
        inferred = regular_price(price, freq)
        list_price[~known_regular] = inferred[~known_regular]
        with np.errstate(divide="ignore", invalid="ignore"):
            derived = np.clip(np.nan_to_num(1.0 - price / inferred, nan=0.0), 0.0, 0.95)
        derived = np.where(derived >= DEAL_DISCOUNT, derived, 0.0)
        if prices == "paid_average":
            derived[:] = 0.0
            price = np.where(known_regular[:, None], price, inferred)
        discount[~known_regular] = derived[~known_regular]
        on_promo[~known_regular] = np.maximum(on_promo[~known_regular], derived[~known_regular] > 0)
    start = np.where(present.any(axis=1), present.argmax(axis=1), len(dates))
    started = np.arange(len(dates))[None, :] >= start[:, None]
    units = np.where(started, np.nan_to_num(units, nan=0.0), np.nan)  # gaps after the start are zero days
    observed = started & (in_stock > 0.5)
    extras = promo_extra_columns(frame) if extras is None else list(extras)
    extra_values = {
        name: np.nan_to_num(spread(name, 0.0), nan=0.0) if name in frame.columns else np.zeros(shape)
        for name in extras
    }
    return SeriesPanel(
        keys=keys,
        dates=dates,
        freq=freq,
        units=units,
        observed=observed,
        price=price,
        list_price=_ffill_rows(list_price),
        discount=discount,
        on_promo=on_promo,
        start=start,
        regular_inferred=~known_regular,
        extras=extra_values,
        paid_average=~known_regular if prices == "paid_average" else np.zeros(len(keys), dtype=bool),
    )


# ------------------------------------------------------------------------------------ window sums
class _Cumulative:
    """Prefix sums along time so any window mean at any origin costs O(series)."""

    def __init__(self, panel: SeriesPanel) -> None:
        observed = panel.observed
        units = np.where(observed, np.nan_to_num(panel.units), 0.0)
        normal = observed & (panel.on_promo < 0.5)
        promo = observed & (panel.on_promo >= 0.5)
        regular_price = np.where(panel.on_promo < 0.5, np.nan_to_num(panel.price), 0.0)

        def prefix(values: np.ndarray) -> np.ndarray:
            out = np.zeros((values.shape[0], values.shape[1] + 1))
            np.cumsum(values, axis=1, out=out[:, 1:])
            return out

        self.units = prefix(units)
        self.count = prefix(observed.astype(float))
        self.normal_units = prefix(np.where(normal, units, 0.0))
        self.normal_count = prefix(normal.astype(float))
        self.promo_units = prefix(np.where(promo, units, 0.0))
        self.promo_count = prefix(promo.astype(float))
        self.zero_count = prefix((observed & (units <= 0)).astype(float))
        self.regular_price = prefix(regular_price)
        self.regular_count = prefix((panel.on_promo < 0.5).astype(float))
        self.day_elasticity = _day_elasticity(panel, self.normal_units, self.normal_count)

    @staticmethod
    def window(prefix: np.ndarray, end: np.ndarray | int, width: np.ndarray | int) -> np.ndarray:
        """Sum over periods (end - width, end], end inclusive; end and width may be per series or one
        int (a 2-D end: per series and horizon, with one width)."""
        end, width = np.asarray(end), np.asarray(width)
        hi = np.clip(end + 1, 0, prefix.shape[1] - 1)
        lo = np.clip(end + 1 - width, 0, prefix.shape[1] - 1)
        if end.ndim == 0 and width.ndim == 0:
            return prefix[:, hi] - prefix[:, lo]
        rows = np.arange(prefix.shape[0])[:, None] if end.ndim == 2 else np.arange(prefix.shape[0])
        return prefix[rows, hi] - prefix[rows, lo]


# A series' own response to a discount (`elasticity`): each deal day's log lift over the normal level
# of the weeks before it, per unit of depth (-log(1 - discount)); the median over the last year's deal
# days (a festival's extra lift is a minority of them), shrunk toward the brand's median as if the brand
# had ELASTICITY_PRIOR_DAYS deal days of its own. `plan_lift` (grid) is that times the plan's depth: the
# lift the series' own history expects from the plan. The trees price a discount by its depth pooled
# over the brand's series; without it, a series that answers a 15% cut with 1.9x (crunchtime's CRU0006
# in June and July) was forecast the brand's ~1.4x. Generator family draws 1-15 (LightGBM seed 0,
# `benchmarks/forecast_peers.py --only family --draws 15`): WRMSSE median 0.818 -> 0.799, lower on 10
# of 15 draws; total RMSSE 0.670 -> 0.482 (11 of 15); |bias| smaller on 12 of 15.
ELASTICITY_PRIOR_DAYS = 5.0


def _day_elasticity(panel: SeriesPanel, normal_units: np.ndarray, normal_count: np.ndarray) -> np.ndarray:
    """(series x period) log lift per unit of depth on observed deal periods, NaN elsewhere.

    The reference is the non-promotion mean of the LEVEL_WINDOWS mid window ending the period before
    (so a deal period is measured against the weeks it interrupts, not against a level a season away).
    """
    width = LEVEL_WINDOWS[panel.freq][1]
    t = np.arange(panel.units.shape[1])
    hi, lo = t, np.maximum(t - width, 0)  # prefix index t = sum over periods < t
    normal = _ratio(normal_units[:, hi] - normal_units[:, lo], normal_count[:, hi] - normal_count[:, lo])
    discount = np.clip(panel.discount, 0.0, 0.95)
    depth = -np.log1p(-discount)
    deal = panel.observed & (panel.on_promo >= 0.5) & (discount >= DEAL_DISCOUNT) & np.isfinite(normal)
    with np.errstate(divide="ignore", invalid="ignore"):
        lift = np.log((np.nan_to_num(panel.units) + 0.5) / (normal + 0.5))
        return np.where(deal, lift / np.where(deal, depth, 1.0), np.nan)


def has_deals(panel: SeriesPanel) -> bool:
    """Whether any observed promotion period carries a discount of at least DEAL_DISCOUNT."""
    deal = panel.observed & (panel.on_promo >= 0.5) & (panel.discount >= DEAL_DISCOUNT)
    return bool(deal.any())


def _elasticity(day_elasticity: np.ndarray, o: int, width: int) -> np.ndarray:
    """Per series at origin `o`: the shrunk median of `_day_elasticity` over the last `width` periods."""
    block = day_elasticity[:, max(0, o + 1 - width) : o + 1]
    days = np.isfinite(block).sum(axis=1)
    with np.errstate(invalid="ignore"), _quiet_nanmean():
        own = np.nanmedian(np.where(days[:, None] > 0, block, 0.0), axis=1)
        brand = np.nanmedian(block) if days.any() else np.nan
    own = np.where(days > 0, own, 0.0)
    return (days * own + ELASTICITY_PRIOR_DAYS * brand) / (days + ELASTICITY_PRIOR_DAYS)


def _normal_window(
    cum: _Cumulative, o: int, lived: np.ndarray, short: int, width: int
) -> tuple[np.ndarray, np.ndarray]:
    """Non-promotion units and days behind each series' normal level at `o`: the last `width` periods,
    or for a series younger than that, the later half of its life (at least `short` periods).

    A launch's first weeks are its ramp: averaged over its whole life the level runs below what it
    sells by now, and the forecast (whose offset this level is) with it. glowlab's GLO0005 on Douyin,
    23 days old at the simulator's seed-3 origin and selling 9.7 a day in its last week, had a normal
    level of 6.6 over its life (8.6 over its later half); its 30-day forecast went 181 -> 223 units
    (LightGBM alone 197 -> 272) against 366 expected, 317 sold (benchmarks/forecast_peers.py).
    """
    span = np.where(lived < width, np.maximum(short, np.ceil(lived / 2)), width).astype(int)
    return cum.window(cum.normal_units, o, span), cum.window(cum.normal_count, o, span)


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denominator > 0, numerator / np.where(denominator > 0, denominator, 1), np.nan)


# --------------------------------------------------------------------------------------- snapshot
@dataclass
class OriginSnapshot:
    """Everything about one brand's series that is known at origin T and needed to forecast T + h."""

    origin: pd.Timestamp
    freq: str
    horizon: int
    keys: pd.DataFrame  # platform, sku_id, category, price_band
    stats: pd.DataFrame  # STAT_FEATURES per series (same row order as keys)
    ly_units: np.ndarray  # (S, horizon) last-year units around T + h
    cat_ly_ratio: np.ndarray  # (S, horizon) the (platform, category) pool's last-year seasonal ratio
    season_tail: np.ndarray  # (S, TAIL) observed units of the last TAIL periods (NaN: not observed)
    promo_tail: np.ndarray  # (S, TAIL) on_promo of the last TAIL periods
    list_price: np.ndarray  # (S,) regular price at T: the price a plan-less day is assumed to have
    extras: dict = field(default_factory=dict)

    def series_index(self) -> pd.MultiIndex:
        cached = self.extras.get("series_index")  # built once: every request looks series up here
        if cached is None:
            cached = self.extras["series_index"] = pd.MultiIndex.from_frame(self.keys[SERIES_KEYS])
        return cached


def origin_snapshot(
    panel: SeriesPanel,
    origin: pd.Timestamp | int,
    horizon: int,
    min_history: int | None = None,
    cumulative: _Cumulative | None = None,
) -> OriginSnapshot:
    """The state of every series at `origin` (a date or a panel index); reads no period after it."""
    freq = panel.freq
    o = origin if isinstance(origin, (int, np.integer)) else panel.index_of(origin)
    if not 0 <= o < len(panel.dates):
        raise ValueError(
            f"origin {origin} outside the history {panel.dates[0]:%Y-%m-%d}..{panel.end:%Y-%m-%d}"
        )
    cum = cumulative or _Cumulative(panel)
    short, mid, long_ = LEVEL_WINDOWS[freq]
    year, last_year = YEAR[freq], LAST_YEAR[freq]
    min_history = MIN_HISTORY[freq] if min_history is None else min_history
    window = cum.window

    level = {w: _ratio(window(cum.units, o, w), window(cum.count, o, w)) for w in (short, mid, long_)}
    lived = np.maximum(o + 1 - panel.start, 0).astype(float)
    normal_level = _ratio(*_normal_window(cum, o, lived, short, 2 * mid))
    normal_level = np.where(np.isnan(normal_level), level[long_], normal_level)
    normal_year = _ratio(window(cum.normal_units, o, year), window(cum.normal_count, o, year))
    promo_year = _ratio(window(cum.promo_units, o, year), window(cum.promo_count, o, year))
    promo_lift = (promo_year + 0.5) / (normal_year + 0.5)
    zero_share = _ratio(window(cum.zero_count, o, long_), window(cum.count, o, long_))
    last_value = np.where(panel.observed[:, o], panel.units[:, o], np.nan)
    age = (o - panel.start).astype(float)
    ref_price = _ratio(window(cum.regular_price, o, mid), window(cum.regular_count, o, mid))
    list_price = panel.list_price[:, o]
    ref_price = np.where(np.isnan(ref_price), list_price, ref_price)
    ly_end = o - last_year
    ly_level = (
        _ratio(window(cum.units, ly_end, mid), window(cum.count, ly_end, mid))
        if ly_end >= 0
        else np.full(len(panel.keys), np.nan)
    )
    ly_level = np.where(age >= last_year, ly_level, np.nan)
    # days open (in stock) in the normal level's window against the series' usual share: where shops
    # close, a window with extra closures has its demand displaced onto fewer days and its per-day
    # levels run high (Rossmann at 2015-06-19, after the May holidays: normal_level 8% above the
    # next six weeks'); the trees learn how much. Used only where shops close on holidays
    # (`daiyun.models.forecast.lgbm.closes_on_holidays`)
    recent_open = _ratio(window(cum.count, o, 2 * mid), np.minimum(2 * mid, lived))
    usual_open = _ratio(window(cum.count, o, year), np.minimum(year, lived))
    open_share = _ratio(recent_open, usual_open)

    # last year around each target day (centred week for daily data), horizon-bucketed to the origin
    span = 3 if freq == "D" else 0
    targets = o + np.arange(1, horizon + 1)
    ly_centre = targets - last_year
    ly_hi = np.minimum(ly_centre + span, o)  # never past the origin, whatever the horizon
    valid = (ly_hi - ly_centre + span + 1).astype(int)
    ok = (ly_centre - span >= 0) & (valid > 0)
    ly_units = np.full((len(panel.keys), horizon), np.nan)
    if ok.any():
        hi, width = ly_hi[ok] + 1, valid[ok]
        total = cum.units[:, hi] - cum.units[:, hi - width]
        count = cum.count[:, hi] - cum.count[:, hi - width]
        ly_units[:, ok] = _ratio(total, count)
    ly_units[age < last_year + span] = np.nan
    tail = TAIL[freq]
    lo = max(0, o + 1 - tail)
    season_tail = np.full((len(panel.keys), tail), np.nan)
    promo_tail = np.zeros((len(panel.keys), tail))
    observed_units = np.where(panel.observed[:, lo : o + 1], panel.units[:, lo : o + 1], np.nan)
    season_tail[:, tail - observed_units.shape[1] :] = observed_units
    promo_tail[:, tail - observed_units.shape[1] :] = panel.on_promo[:, lo : o + 1]

    keys = panel.keys.copy()
    stats = pd.DataFrame(
        {
            "level_short": level[short],
            "level_mid": level[mid],
            "level_long": level[long_],
            "normal_level": normal_level,
            "promo_lift": promo_lift,
            "zero_share": zero_share,
            "last_value": last_value,
            "age": age,
            "ref_price": ref_price,
            "ly_level": ly_level,
        }
    )
    stats["open_share"] = open_share
    stats["elasticity"] = _elasticity(cum.day_elasticity, o, year)
    started = age >= 0
    cold = (age < min_history) | np.isnan(level[long_])
    stats["cold_start"] = cold.astype(float)
    keys["price_band"] = _price_bands(ref_price)
    stats = _impute_cold_start(keys, stats, cold & started)
    group = keys.groupby(["platform", "category"], sort=False).ngroup().to_numpy()
    stats["cat_level"] = _group_mean(stats["level_mid"].to_numpy(), group)

    # pooled last-year ratio: stable where a single series' last year is noise or missing
    has_ly = ~np.isnan(ly_units) & ~np.isnan(ly_level)[:, None]
    n_groups = int(group.max()) + 1 if len(group) else 0
    pool_ly = np.zeros((n_groups, horizon))
    pool_base = np.zeros((n_groups, horizon))
    np.add.at(pool_ly, group, np.where(has_ly, ly_units, 0.0))
    np.add.at(pool_base, group, np.where(has_ly, np.nan_to_num(ly_level)[:, None], 0.0))
    pool_ly, pool_base = pool_ly[group], pool_base[group]
    cat_ly_ratio = (pool_ly + 0.5) / (pool_base + 0.5)
    cat_ly_ratio[pool_base <= 0] = np.nan
    return OriginSnapshot(
        origin=panel.dates[o],
        freq=freq,
        horizon=horizon,
        keys=keys.reset_index(drop=True),
        stats=stats.reset_index(drop=True),
        ly_units=ly_units,
        cat_ly_ratio=cat_ly_ratio,
        season_tail=season_tail,
        promo_tail=promo_tail,
        list_price=np.where(np.isnan(list_price), ref_price, list_price),
        extras={
            "regular_inferred": (
                panel.regular_inferred.copy()
                if panel.regular_inferred is not None
                else np.zeros(len(panel.keys), dtype=bool)
            ),
            "paid_average": (
                panel.paid_average.copy()
                if getattr(panel, "paid_average", None) is not None
                else np.zeros(len(panel.keys), dtype=bool)
            ),
        },
    )


def _price_bands(ref_price: np.ndarray) -> np.ndarray:
    """Quartile of the brand's regular prices: cold-start SKUs borrow from siblings priced alike."""
    finite = ref_price[np.isfinite(ref_price)]
    if len(finite) < PRICE_BANDS:
        return np.zeros(len(ref_price), dtype=int)
    edges = np.quantile(finite, np.linspace(0, 1, PRICE_BANDS + 1)[1:-1])
    return np.searchsorted(edges, np.nan_to_num(ref_price, nan=float(np.median(finite))))


COLD_IMPUTED = [
    "level_short",
    "level_mid",
    "level_long",
    "normal_level",
    "last_value",
    "zero_share",
    "promo_lift",
]


def _impute_cold_start(keys: pd.DataFrame, stats: pd.DataFrame, cold: np.ndarray) -> pd.DataFrame:
    """Young series keep their own levels where they have observed days; what they cannot have yet (no
    day in stock, no promotion day) comes from their cell: (platform, category, band), then coarser,
    then the brand.

    Replacing the own levels too threw away weeks of sales: a launch that had sold 4.6 a day over its
    24 days (6.9 in the last week) took the 0.11 a day of its pdd siblings and was forecast 0.35 a day,
    8 sold (simulator seed 3, glowlab GLO0005); a launch selling 0.6 a day took its siblings' 2.4
    (crunchtime CRU0007: 154 forecast over the 30-day holdout, 37 sold).
    """
    stats = stats.copy()
    if not cold.any():
        return stats
    established = ~cold & (stats["age"].to_numpy() >= 0)
    cells = [
        ["platform", "category", "price_band"],
        ["platform", "category"],
        ["category"],
        ["platform"],
        [],
    ]
    labels = [
        keys.groupby(cell, sort=False).ngroup().to_numpy() if cell else np.zeros(len(keys), dtype=int)
        for cell in cells
    ]
    for column in COLD_IMPUTED:
        values = stats[column].to_numpy().copy()
        source = np.where(established, values, np.nan)
        fill = np.full(len(values), np.nan)
        for label in labels:
            means = _group_mean(source, label)
            fill = np.where(np.isnan(fill), means, fill)
        values[cold] = np.where(np.isfinite(values), values, fill)[cold]
        stats[column] = values
    return stats


def _group_mean(values: np.ndarray, label: np.ndarray) -> np.ndarray:
    """Per row, the NaN-skipping mean of `values` over rows with the same label (NaN if none)."""
    finite = np.isfinite(values)
    total = np.bincount(label, weights=np.where(finite, values, 0.0))
    count = np.bincount(label, weights=finite.astype(float))
    with np.errstate(divide="ignore", invalid="ignore"):
        means = np.where(count > 0, total / np.where(count > 0, count, 1), np.nan)
    return means[label]


# --------------------------------------------------------------------------------------- the grid
def grid_features(
    snapshot: OriginSnapshot,
    series: np.ndarray,
    price: np.ndarray,
    discount: np.ndarray,
    on_promo: np.ndarray,
    calendar: dict[str, pd.DataFrame],
    cells: tuple[np.ndarray, np.ndarray] | None = None,
    extras: dict[str, np.ndarray] | None = None,
) -> pd.DataFrame:
    """Feature rows for `series` (indices into the snapshot) x horizons 1..H, H = price.shape[1].

    price/discount/on_promo: (len(series), H) arrays, the plan for T+1..T+H. `calendar` maps a
    platform to its `daiyun.features.calendar.calendar_frame` indexed by date. Rows are series-major; with
    `cells` = (row positions into `series`, horizons 1..H) only those (series, h) rows are built.
    `extras`: extra promotion columns' plans, name -> (len(series), H), each a feature of its own name.
    """
    n, horizon = price.shape
    freq = snapshot.freq
    step = STEP[freq]
    dates = pd.DatetimeIndex([snapshot.origin + step * k for k in range(1, horizon + 1)])
    if cells is None:
        pick_s = np.repeat(np.arange(n), horizon)
        pick_h = np.tile(np.arange(horizon), n)
    else:
        pick_s, pick_h = cells[0], cells[1] - 1

    def take(grid: np.ndarray) -> np.ndarray:
        return grid[pick_s, pick_h]

    stats = snapshot.stats.to_numpy(dtype=float)[series]
    columns: dict[str, np.ndarray] = {name: stats[pick_s, j] for j, name in enumerate(snapshot.stats.columns)}
    columns["h"] = (pick_h + 1).astype(float)
    when = dates[pick_h]
    columns["dow"] = when.dayofweek.to_numpy().astype(float) if freq == "D" else np.full(len(pick_h), np.nan)
    columns["dom"] = when.day.to_numpy().astype(float)
    columns["month"] = when.month.to_numpy().astype(float)
    columns["woy"] = when.isocalendar().week.to_numpy().astype(float)
    columns["price"] = take(price)
    columns["discount"] = take(discount)
    columns["on_promo"] = take(on_promo)
    for name, values in (extras or {}).items():
        columns[name] = take(np.asarray(values, dtype=float))
    with np.errstate(divide="ignore", invalid="ignore"):
        columns["rel_price"] = columns["price"] / columns["ref_price"]
    # the series' own expected log lift at the plan's depth (0 off deals, NaN where it has no response)
    depth = -np.log1p(-np.clip(np.nan_to_num(columns["discount"]), 0.0, 0.95))
    # a snapshot pickled before the elasticity existed has none: NaN, which its trees never read
    elasticity = columns.get("elasticity", np.full(len(pick_s), np.nan))
    columns["plan_lift"] = np.where(depth > 0, elasticity * depth, 0.0)

    # promotion runs: days into the current promotion, share of the last week on promotion, days since
    tail = snapshot.promo_tail[series]
    timeline = np.concatenate([tail, on_promo], axis=1)
    run, since = _runs(timeline)
    width = tail.shape[1]
    columns["promo_run"] = take(run[:, width:])
    columns["since_promo"] = take(since[:, width:])
    window = 7 if freq == "D" else 2
    prefix = np.zeros((n, timeline.shape[1] + 1))
    np.cumsum(timeline, axis=1, out=prefix[:, 1:])
    ends = np.arange(width, width + horizon)  # window over the periods before each target
    columns["promo_prev"] = take((prefix[:, ends] - prefix[:, ends - window]) / window)

    ly = _pad(snapshot.ly_units[series], horizon)
    columns["ly_units"] = take(ly)
    columns["ly_ratio"] = (columns["ly_units"] + 0.1) / (columns["ly_level"] + 0.1)
    columns["cat_ly_ratio"] = take(_pad(snapshot.cat_ly_ratio[series], horizon))
    season = SEASON[freq] if freq == "D" else 1
    same, mean = _same_season(snapshot.season_tail[series], horizon, season)
    columns["same_season"] = take(same)
    columns["season_mean"] = take(mean)

    platforms = snapshot.keys["platform"].to_numpy()[series][pick_s]
    calendar_values = np.full((len(pick_s), len(CALENDAR_FEATURES)), np.nan)
    for platform in np.unique(platforms):
        rows = np.flatnonzero(platforms == platform)
        table = calendar.get(platform)
        if table is None:
            continue
        position = table.index.get_indexer(when[rows])
        values = table.attrs.get("feature_values")  # converted once per calendar table
        if values is None:
            # a table without a column (built before it existed) reads NaN, as trees allow
            known = table.reindex(columns=CALENDAR_FEATURES)
            values = table.attrs["feature_values"] = known.to_numpy(dtype=float)
        found = position >= 0
        calendar_values[rows[found]] = values[position[found]]
    for j, name in enumerate(CALENDAR_FEATURES):
        columns[name] = calendar_values[:, j]
    columns["date"] = when.to_numpy()
    return pd.DataFrame(columns)


def _pad(values: np.ndarray, horizon: int) -> np.ndarray:
    if values.shape[1] >= horizon:
        return values[:, :horizon]
    return np.concatenate([values, np.full((values.shape[0], horizon - values.shape[1]), np.nan)], axis=1)


def _runs(timeline: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per period: consecutive promotion periods up to it, and periods since the last one (capped 60)."""
    run = np.zeros_like(timeline)
    since = np.zeros_like(timeline)
    current = np.zeros(timeline.shape[0])
    gap = np.full(timeline.shape[0], 60.0)
    for j in range(timeline.shape[1]):
        on = timeline[:, j] >= 0.5
        current = np.where(on, current + 1, 0)
        gap = np.where(on, 0.0, np.minimum(gap + 1, 60.0))
        run[:, j] = current
        since[:, j] = gap
    return run, since


def _same_season(tail: np.ndarray, horizon: int, season: int) -> tuple[np.ndarray, np.ndarray]:
    """The latest observed value of the target's weekday on or before the origin, and its 4-week mean."""
    width = tail.shape[1]
    h = np.arange(1, horizon + 1)
    last = width - 1 - ((season - h % season) % season)
    same = tail[:, last]
    stacked = np.stack([tail[:, np.clip(last - season * k, 0, width - 1)] for k in range(4)], axis=0)
    with np.errstate(invalid="ignore"), _quiet_nanmean():
        mean = np.nanmean(stacked, axis=0)
    return same, mean


class _quiet_nanmean:
    def __enter__(self) -> None:
        import warnings

        self._catch = warnings.catch_warnings()
        self._catch.__enter__()
        warnings.simplefilter("ignore", category=RuntimeWarning)

    def __exit__(self, *exc: object) -> None:
        self._catch.__exit__(*exc)


# --------------------------------------------------------------------------------------- training
def realised_plan(panel: SeriesPanel, origin_index: int, horizon: int) -> tuple[np.ndarray, ...]:
    """The prices and promotions that actually happened after an origin: the plan for training rows."""
    hi = min(origin_index + 1 + horizon, len(panel.dates))
    count = hi - origin_index - 1

    def take(values: np.ndarray, fill: np.ndarray) -> np.ndarray:
        out = np.repeat(fill[:, None], horizon, axis=1).astype(float)
        out[:, :count] = values[:, origin_index + 1 : hi]
        return out

    list_price = panel.list_price[:, origin_index]
    price = take(panel.price, list_price)
    discount = take(panel.discount, np.zeros(len(list_price)))
    on_promo = take(panel.on_promo, np.zeros(len(list_price)))
    return price, discount, on_promo


def realised_extras(panel: SeriesPanel, origin_index: int, horizon: int) -> dict[str, np.ndarray]:
    """The extra promotion columns that happened after an origin (0 past the history's end)."""
    hi = min(origin_index + 1 + horizon, len(panel.dates))
    out = {}
    for name, values in panel.extras.items():
        grid = np.zeros((values.shape[0], horizon))
        grid[:, : hi - origin_index - 1] = values[:, origin_index + 1 : hi]
        out[name] = grid
    return out


def training_frame(
    panel: SeriesPanel,
    calendar: dict[str, pd.DataFrame],
    horizon: int,
    origins: list[int],
    horizons_per_origin: int,
    seed: int = 0,
) -> pd.DataFrame:
    """Rows (series, origin, h) with FEATURES, `units` (target) and `weight`; only observed targets.

    Each origin keeps `horizons_per_origin` random horizons (all series share them) so the frame
    stays small while every horizon is seen across origins.
    """
    rng = np.random.default_rng(seed)
    cum = _Cumulative(panel)
    pieces = []
    for o in origins:
        snapshot = origin_snapshot(panel, int(o), horizon, cumulative=cum)
        live = np.flatnonzero(snapshot.stats["age"].to_numpy() >= 0)
        if not len(live):
            continue
        price, discount, on_promo = realised_plan(panel, int(o), horizon)
        extras = {k: v[live] for k, v in realised_extras(panel, int(o), horizon).items()}
        keep_h = np.sort(rng.choice(horizon, size=min(horizons_per_origin, horizon), replace=False)) + 1
        pick_s = np.repeat(np.arange(len(live)), len(keep_h))
        pick_h = np.tile(keep_h, len(live))
        targets = int(o) + pick_h
        inside = targets < len(panel.dates)
        pick_s, pick_h, targets = pick_s[inside], pick_h[inside], targets[inside]
        observed = panel.observed[live[pick_s], targets]
        pick_s, pick_h, targets = pick_s[observed], pick_h[observed], targets[observed]
        if not len(pick_s):
            continue
        piece = grid_features(
            snapshot,
            live,
            price[live],
            discount[live],
            on_promo[live],
            calendar,
            cells=(pick_s, pick_h),
            extras=extras,
        )
        series_rep = live[pick_s]
        rows = np.arange(len(pick_s))
        piece["units"] = panel.units[series_rep[rows], targets]
        piece["series"] = series_rep[rows]
        piece["origin"] = panel.dates[int(o)]
        pieces.append(piece)
    if not pieces:
        raise ValueError("no training rows: the history is shorter than one forecast horizon")
    return pd.concat(pieces, ignore_index=True)


def training_origins(
    panel: SeriesPanel, horizon: int, stride: int, lookback: int, last: int | None = None
) -> list[int]:
    """Origins every `stride` periods over the last `lookback` periods before `last` (default: the end)."""
    last = len(panel.dates) - 2 if last is None else last
    first = max(MIN_HISTORY[panel.freq], last - lookback)
    return list(range(last, first - 1, -stride))[::-1]


# ----------------------------------------------------------------------------------------- serving
def plan_for(
    snapshot: OriginSnapshot, future: pd.DataFrame, extras: list[str] | tuple[str, ...] = ()
) -> dict[str, np.ndarray]:
    """Map requested rows (platform, sku_id, date[, price, discount, on_promo]) onto the snapshot.

    Returns the distinct series asked for, the (series x horizon) plan arrays for T+1..T+H where H is
    the furthest date asked, and for every requested row its series position and horizon. A day
    without a price is assumed at the regular price, without promotion. `extras`: the extra promotion
    columns to read (under "extras", name -> array); a column the request lacks, or a blank, is 0.
    """
    from daiyun.features.errors import NotFoundError, RequestError

    index = snapshot.series_index()
    row_series = index.get_indexer(pd.MultiIndex.from_frame(future[SERIES_KEYS].astype(str)))
    if (row_series < 0).any():
        bad = future.loc[row_series < 0, SERIES_KEYS].iloc[0]
        known_sku = bad["sku_id"] in set(snapshot.keys["sku_id"])
        field_, name = ("platform", bad["platform"]) if known_sku else ("sku_id", bad["sku_id"])
        known = snapshot.keys["platform"] if known_sku else snapshot.keys["sku_id"]
        raise NotFoundError(field_, str(name), sorted(set(known)))
    step = STEP[snapshot.freq]
    offsets = (pd.DatetimeIndex(future["date"]) - snapshot.origin) / step
    row_h = np.asarray(offsets, dtype=float)
    if (row_h < 1).any() or (row_h != np.round(row_h)).any():
        raise RequestError(
            "date",
            f"forecast dates must fall after the history's last date {snapshot.origin:%Y-%m-%d}"
            + (" on its weekly grid" if snapshot.freq == "W" else ""),
            "ask for dates after the data ends",
        )
    row_h = row_h.astype(int)
    series, position = np.unique(row_series, return_inverse=True)
    horizon = int(row_h.max())
    list_price = snapshot.list_price[series]
    price = np.repeat(list_price[:, None], horizon, axis=1).astype(float)
    discount = np.zeros((len(series), horizon))
    on_promo = np.zeros((len(series), horizon))
    if "price" in future.columns or "discount" in future.columns:
        given_price = future["price"].to_numpy(dtype=float) if "price" in future.columns else None
        given_discount = future["discount"].to_numpy(dtype=float) if "discount" in future.columns else None
        regular = list_price[position]
        row_price = given_price if given_price is not None else np.full(len(future), np.nan)
        if given_discount is not None:
            row_price = np.where(
                np.isnan(row_price), regular * (1 - np.nan_to_num(given_discount)), row_price
            )
        row_price = np.where(np.isnan(row_price), regular, row_price)
        row_discount = np.clip(1 - row_price / regular, 0.0, 0.95)
        # against an inferred regular price, small differences are price noise, as in the history
        inferred = snapshot.extras.get("regular_inferred", np.zeros(len(snapshot.keys), dtype=bool))
        threshold = np.where(inferred[series][position], DEAL_DISCOUNT, PROMO_DISCOUNT)
        row_discount = np.where(row_discount >= threshold, row_discount, 0.0)
        # paid-average prices (PRICE_KINDS): a planned price reads as the regular one, as the history's
        # did; a discount the plan states is still a discount
        averaged = snapshot.extras.get("paid_average", np.zeros(len(snapshot.keys), dtype=bool))
        from_price = averaged[series][position].copy()
        if given_discount is not None:
            from_price &= np.isnan(given_discount)
        # ... but a plan row that gives a price is a promotion row, as the loader marks the history's
        # days inside a promotion (`features.load`: on_promo from the promotions table)
        promotion_row = from_price & (np.isfinite(given_price) if given_price is not None else False)
        row_discount = np.where(from_price, 0.0, row_discount)
        row_price = np.where(from_price, regular, row_price)
        price[position, row_h - 1] = row_price
        discount[position, row_h - 1] = row_discount
        promo = future["on_promo"].to_numpy(dtype=float) if "on_promo" in future.columns else None
        derived = (row_discount > 0) | promotion_row
        on_promo[position, row_h - 1] = (
            np.where(np.isnan(promo), derived, promo) if promo is not None else derived
        )
        # as in the history (build_panel): a deal price under an inferred regular price is a promotion
        deal = inferred[series][position] & (row_discount > 0)
        on_promo[position[deal], row_h[deal] - 1] = 1.0
    elif "on_promo" in future.columns:
        on_promo[position, row_h - 1] = future["on_promo"].to_numpy(dtype=float)
    planned = {}
    for name in extras:
        grid = np.zeros((len(series), horizon))
        if name in future.columns:
            values = pd.to_numeric(future[name], errors="coerce").to_numpy(dtype=float)
            grid[position, row_h - 1] = np.nan_to_num(values, nan=0.0)
        planned[name] = grid
    return {
        "series": series,
        "position": position,
        "h": row_h,
        "price": price,
        "discount": discount,
        "on_promo": on_promo,
        "extras": planned,
    }


# ---------------------------------------------------------------------------------- data helpers
def brand_history(dataset: object, brand: str) -> pd.DataFrame:
    """One brand's sales joined to its categories: the long frame every forecaster fits on."""
    mine = dataset.for_brand(brand)  # type: ignore[attr-defined]
    sales = mine.sales
    categories = mine.products[["sku_id", "category"]].drop_duplicates("sku_id")
    history = sales.merge(categories, on="sku_id", how="left")
    history["category"] = history["category"].fillna("unknown").astype(str)
    columns = [*HISTORY_COLUMNS, "list_price", "revenue"]
    # extra promotion columns only where the promotions table says them too (a plan can give them)
    promotions = getattr(mine, "promotions", None)
    if promotions is not None:
        columns += promo_extra_columns(sales, also_in=promotions.columns)
    return history[[c for c in columns if c in history.columns]].reset_index(drop=True)


def promotion_days(
    promotions: pd.DataFrame, first: pd.Timestamp, last: pd.Timestamp, freq: str = "D"
) -> pd.DataFrame:
    """A promotion plan (contract rows: platform, sku_id, start, end, discount | price) as dated rows.

    One row per series and period in [first, last] that a promotion touches: platform, sku_id, date,
    discount, price (NaN where the row gave only a discount), on_promo (0 when the row is a price
    plan without a discount), and the extra promotion columns (`promo_extra_columns`, blank: 0).
    Weekly periods take the mean over the week's days (days outside any promotion count as regular).
    Later rows win when two overlap.
    """
    extra = [] if promotions is None else promo_extra_columns(promotions)
    columns = ["platform", "sku_id", "date", "discount", "price", "on_promo", *extra]
    if promotions is None or promotions.empty:
        return pd.DataFrame(columns=columns)
    first, last = pd.Timestamp(first), pd.Timestamp(last)
    pad = pd.Timedelta(days=6) if freq == "W" else pd.Timedelta(0)
    starts = pd.to_datetime(promotions["start"]).to_numpy().astype("datetime64[D]")
    ends = pd.to_datetime(promotions["end"]).to_numpy().astype("datetime64[D]")
    starts = np.maximum(starts, np.datetime64((first - pad).date()))
    ends = np.minimum(ends, np.datetime64((last + pad).date()))
    lengths = (ends - starts).astype(int) + 1
    keep = lengths > 0
    if not keep.any():
        return pd.DataFrame(columns=columns)
    lengths = lengths[keep]
    # one row per promotion day, vectorised: repeat each promotion, then add 0..length-1 days
    source = np.repeat(np.flatnonzero(keep), lengths)
    offsets = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    missing = pd.Series(np.nan, index=promotions.index)
    discount = promotions["discount"] if "discount" in promotions.columns else missing
    price = promotions["price"] if "price" in promotions.columns else missing
    daily = pd.DataFrame(
        {
            "platform": promotions["platform"].astype(str).to_numpy()[source],
            "sku_id": promotions["sku_id"].astype(str).to_numpy()[source],
            "date": pd.to_datetime(starts[source] + offsets.astype("timedelta64[D]")),
            "discount": pd.to_numeric(discount, errors="coerce").to_numpy(float)[source],
            "price": pd.to_numeric(price, errors="coerce").to_numpy(float)[source],
            **{
                name: np.nan_to_num(pd.to_numeric(promotions[name], errors="coerce").to_numpy(float))[source]
                for name in extra
            },
        }
    )
    daily = daily.drop_duplicates(["platform", "sku_id", "date"], keep="last")
    daily["on_promo"] = np.where(
        daily["discount"].notna(), (daily["discount"].fillna(0) > PROMO_DISCOUNT).astype(float), np.nan
    )
    if freq == "W":
        weekday = pd.Timestamp(first).dayofweek
        daily["date"] = daily["date"] - pd.to_timedelta((daily["date"].dt.dayofweek - weekday) % 7, unit="D")
        daily = daily.groupby(["platform", "sku_id", "date"], as_index=False).agg(
            discount=("discount", lambda s: s.fillna(0).sum() / 7),
            price=("price", "mean"),
            on_promo=("on_promo", lambda s: s.fillna(0).sum() / 7),
            **{name: (name, lambda s: s.fillna(0).sum() / 7) for name in extra},
        )
    daily = daily.loc[(daily["date"] >= first) & (daily["date"] <= last)]
    return daily[columns].reset_index(drop=True)
