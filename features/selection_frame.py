"""The product-selection feature frame: one row per (brand, platform, sku_id, as_of).

Every feature uses only sales on or before `as_of` (the label is the only thing that looks past
it), so a backtest on past `as_of` dates sees exactly what an operator would have seen then.
The promotion plan for the horizon (rows of the promotions table overlapping it) counts as known
at `as_of`: it is the planner's plan, the same input the sales forecast takes.

Windows are counted in the brand's periods: days for daily brands, weeks for weekly ones (the
7/28/91/365-day windows become 1/4/13/52 weeks). Revenue features are rates per period, so a
model trained for one horizon ranks sensibly for another.

For weekly data `as_of` is snapped to the last week starting on or before it, and that week is
treated as observed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from daiyun.features.dataset import Dataset

WINDOW_DAYS = (7, 28, 91, 365)
KEYS = ["brand", "platform", "sku_id", "as_of"]
GROUP_KEYS = ["brand", "platform", "as_of"]
# Named events whose past uplift an operator recognises (calendar names; custom ones are kept too)
EVENT_LABELS = {
    "cny_festival": "CNY goods festival",
    "cny_slowdown": "CNY slowdown",
    "38": "3.8",
    "618": "618",
    "99": "9.9",
    "double11": "Double 11",
    "double12": "Double 12",
}
NEW_SKU_DAYS = 28
_EPS = 1.0  # one currency unit per period: keeps ratios of near-zero sellers finite

# Columns the models learn from; the rest are keys, labels, flags and words for reasons.
NUMERIC_FEATURES = [
    "rev_rate_7d",
    "rev_rate_28d",
    "rev_rate_91d",
    "rev_rate_365d",
    "units_rate_28d",
    "rev_rate_last_period",
    "rev_rate_4_periods",
    "rev_rate_last_year_horizon",
    "rev_rel_28d",
    "rev_rel_91d",
    "trend_7_28",
    "trend_28_91",
    "price_28d",
    "list_price",
    "discount_28d",
    "discount_91d",
    "promo_share_91d",
    "promo_uplift_365d",
    "uplift_last_event",
    "uplift_horizon_event",
    "horizon_event_share",
    "planned_promo_share",
    "planned_discount",
    "margin",
    "stockout_rate_91d",
    "stockout_rate_28d",
    "age_days",
    "category_share_28d",
    "price_vs_category",
    "discount_vs_category",
    "price_band",
]
CATEGORICAL_FEATURES = ["platform", "category"]
PERIODS = {"D": 1, "W": 7}


def periods(days: int, freq: str) -> int:
    """A span in days as a number of the brand's periods (at least one)."""
    return max(1, int(np.ceil(days / PERIODS[freq])))


@dataclass
class SalesPanel:
    """One brand's sales as dense series x period matrices (NaN before a series starts)."""

    freq: str
    dates: pd.DatetimeIndex
    series: pd.DataFrame  # platform, sku_id, category, list_price, unit_cost, launch_date
    revenue: np.ndarray
    units: np.ndarray
    price: np.ndarray
    list_price: np.ndarray
    discount: np.ndarray
    on_promo: np.ndarray
    in_stock: np.ndarray
    exists: np.ndarray
    first_index: np.ndarray

    def index_of(self, as_of: pd.Timestamp) -> int:
        """The last period starting on or before `as_of` (-1 when the data starts after it)."""
        return int(self.dates.searchsorted(pd.Timestamp(as_of), side="right")) - 1


def sales_panel(sales: pd.DataFrame, products: pd.DataFrame, freq: str) -> SalesPanel:
    """Dense matrices of one brand's sales; the loader already filled zero-sales periods."""
    if sales.empty:
        raise ValueError("sales has no rows for this brand")
    step = pd.Timedelta(days=PERIODS[freq])
    dates = pd.date_range(sales["date"].min(), sales["date"].max(), freq=step)
    keys = sales[["platform", "sku_id"]].astype(str)  # snapshots store them as categoricals
    series = keys.drop_duplicates().sort_values(["platform", "sku_id"]).reset_index(drop=True)
    info = products.drop(columns=["brand"], errors="ignore").drop_duplicates("sku_id")
    series = series.merge(info, on="sku_id", how="left")
    series["category"] = series["category"].fillna("unknown").astype(str)
    # unknown launch dates: the SKU's first sale on any platform (what a trimmed snapshot keeps too)
    first_sale = series["sku_id"].map(sales.groupby(keys["sku_id"])["date"].min())
    launch = pd.to_datetime(series["launch_date"]) if "launch_date" in series else first_sale
    series["launch_date"] = launch.fillna(first_sale)
    row = pd.MultiIndex.from_frame(series[["platform", "sku_id"]]).get_indexer(pd.MultiIndex.from_frame(keys))
    col = dates.get_indexer(sales["date"])
    if (col < 0).any():
        bad = sales.loc[col < 0, "date"].head(3).tolist()
        raise ValueError(f"sales dates off the {freq} grid, e.g. {bad}")
    shape = (len(series), len(dates))

    def matrix(column: str, default: float = np.nan) -> np.ndarray:
        out = np.full(shape, np.nan)
        if column in sales.columns:
            out[row, col] = pd.to_numeric(sales[column], errors="coerce").to_numpy(float)
        elif not np.isnan(default):
            out[row, col] = default
        return out

    exists = np.zeros(shape)
    exists[row, col] = 1.0
    first = np.where(exists.any(axis=1), exists.argmax(axis=1), shape[1])
    return SalesPanel(
        freq=freq,
        dates=dates,
        series=series,
        revenue=matrix("revenue"),
        units=matrix("units"),
        price=matrix("price"),
        list_price=matrix("list_price"),
        discount=matrix("discount", 0.0),
        on_promo=matrix("on_promo", 0.0),
        in_stock=matrix("in_stock", 1.0),
        exists=exists,
        first_index=first,
    )


class _Windows:
    """O(1) window sums over a matrix via cumulative sums (NaN counts as absent)."""

    def __init__(self, values: np.ndarray) -> None:
        present = ~np.isnan(values)
        zero = np.zeros((values.shape[0], 1))
        self.total = np.hstack([zero, np.cumsum(np.where(present, values, 0.0), axis=1)])
        self.count = np.hstack([zero, np.cumsum(present, axis=1)])

    def _span(self, start: int, end: int, cumulative: np.ndarray) -> np.ndarray:
        start = max(start, 0)
        end = min(end, cumulative.shape[1] - 2)
        if end < start:
            return np.zeros(cumulative.shape[0])
        return cumulative[:, end + 1] - cumulative[:, start]

    def sum(self, start: int, end: int) -> np.ndarray:
        """Sum over periods start..end inclusive."""
        return self._span(start, end, self.total)

    def n(self, start: int, end: int) -> np.ndarray:
        return self._span(start, end, self.count)

    def mean(self, start: int, end: int) -> np.ndarray:
        n = self.n(start, end)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(n > 0, self.sum(start, end) / np.maximum(n, 1), np.nan)


def event_occurrences(windows: pd.DataFrame | None) -> pd.DataFrame:
    """Merge an event's phase windows into occurrences: name, start, end (one row per year)."""
    columns = ["name", "start", "end"]
    if windows is None or windows.empty:
        return pd.DataFrame(columns=columns)
    frame = windows[["name", "start", "end"]].copy()
    frame["start"] = pd.to_datetime(frame["start"])
    frame["end"] = pd.to_datetime(frame["end"])
    frame = frame.sort_values(["name", "start"])
    rows = []
    for name, part in frame.groupby("name", sort=False):
        start, end = None, None
        for window_start, window_end in zip(part["start"], part["end"], strict=True):
            if start is not None and window_start <= end + pd.Timedelta(days=10):
                end = max(end, window_end)
                continue
            if start is not None:
                rows.append((name, start, end))
            start, end = window_start, window_end
        rows.append((name, start, end))
    return pd.DataFrame(rows, columns=columns)


def default_event_windows(
    dataset: Dataset, brand: str, start: pd.Timestamp, end: pd.Timestamp
) -> pd.DataFrame:
    """The shared calendar's event phase windows (built-in events plus the brand's own)."""
    from daiyun.features.calendar import event_windows

    return event_windows(start, end, events=dataset.events, brand=brand)


def selection_frame(
    dataset: Dataset,
    as_of_dates: Iterable,
    horizon_days: int,
    target: str = "revenue",
    forecasts: pd.DataFrame | None = None,
    event_windows: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Features (data <= as_of) and labels (the horizon after as_of) for every brand and as_of.

    `target` is "revenue" or "gross_profit" (needs unit_cost). `forecasts` (optional) has columns
    brand, platform, sku_id, as_of, forecast_revenue. `event_windows` overrides the shared
    calendar (columns name, phase, start, end). Rows are ordered by brand, platform, as_of.
    """
    if target not in ("revenue", "gross_profit"):
        raise ValueError(f"target must be 'revenue' or 'gross_profit', got '{target}'")
    as_of_dates = sorted({pd.Timestamp(d) for d in as_of_dates})
    frames = []
    for brand in dataset.brands:
        mine = dataset.for_brand(brand)
        freq = mine.freq(brand)
        panel = sales_panel(mine.sales, mine.products, freq)
        if event_windows is None:
            lookback = pd.Timedelta(days=800)
            windows = default_event_windows(
                mine,
                brand,
                panel.dates[0] - lookback,
                panel.dates[-1] + pd.Timedelta(days=horizon_days + 400),
            )
        else:
            windows = event_windows
        frames.append(
            brand_selection_frame(
                panel,
                brand,
                as_of_dates,
                horizon_days,
                target,
                mine.promotions,
                event_occurrences(windows),
            )
        )
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=KEYS)
    return attach_forecasts(frame, forecasts)


def attach_forecasts(frame: pd.DataFrame, forecasts: pd.DataFrame | None) -> pd.DataFrame:
    """`frame` with its forecast_revenue column (re)set from `forecasts` (brand, platform, sku_id,
    as_of, forecast_revenue; NaN where none), ordered by brand, platform, as_of."""
    frame = frame.drop(columns="forecast_revenue", errors="ignore").assign(forecast_revenue=np.nan)
    if forecasts is not None and not forecasts.empty:
        known = forecasts[KEYS + ["forecast_revenue"]].copy()
        known["as_of"] = pd.to_datetime(known["as_of"])
        frame = frame.drop(columns="forecast_revenue").merge(known, on=KEYS, how="left")
    return frame.sort_values(GROUP_KEYS, kind="stable").reset_index(drop=True)


def brand_selection_frame(
    panel: SalesPanel,
    brand: str,
    as_of_dates: list[pd.Timestamp],
    horizon_days: int,
    target: str,
    promotions: pd.DataFrame,
    occurrences: pd.DataFrame,
) -> pd.DataFrame:
    """The frame for one brand's panel (pure: the panel, the plan and the event calendar in)."""
    freq = panel.freq
    h = periods(horizon_days, freq)
    year = periods(364, freq)
    revenue = _Windows(panel.revenue)
    units = _Windows(panel.units)
    price, list_price = _Windows(panel.price), _Windows(panel.list_price)
    discount = _Windows(np.where(panel.exists > 0, panel.discount, np.nan))
    promo = _Windows(np.where(panel.exists > 0, panel.on_promo, np.nan))
    in_stock = _Windows(np.where(panel.exists > 0, panel.in_stock, np.nan))
    promo_revenue = _Windows(np.where(panel.on_promo > 0, panel.revenue, np.nan))
    regular_revenue = _Windows(np.where(panel.on_promo > 0, np.nan, panel.revenue))
    uplifts = _occurrence_uplifts(panel, revenue, occurrences)
    last = len(panel.dates) - 1
    span = pd.Timedelta(days=PERIODS[freq] - 1)
    horizon_span = pd.Timedelta(days=h * PERIODS[freq])
    out = []
    for as_of in as_of_dates:
        t = panel.index_of(as_of)
        if t < 0:
            continue
        alive = panel.first_index <= t
        if not alive.any():
            continue
        f: dict[str, np.ndarray] = {}

        def rate(window: _Windows, length: int, end: int = t) -> np.ndarray:
            return window.mean(end - length + 1, end)

        for days in WINDOW_DAYS:
            f[f"rev_rate_{days}d"] = rate(revenue, periods(days, freq))
        p28, p91, p365 = periods(28, freq), periods(91, freq), periods(365, freq)
        f["units_rate_28d"] = rate(units, p28)
        f["rev_rate_last_period"] = rate(revenue, h)
        f["rev_rate_4_periods"] = rate(revenue, 4 * h)
        f["rev_rate_last_year_horizon"] = revenue.mean(t + 1 - year, t + h - year)
        f["trend_7_28"] = (f["rev_rate_7d"] + _EPS) / (f["rev_rate_28d"] + _EPS)
        f["trend_28_91"] = (f["rev_rate_28d"] + _EPS) / (f["rev_rate_91d"] + _EPS)
        f["price_28d"] = _first_valid(rate(price, p28), rate(price, p365))
        f["list_price"] = _first_valid(
            rate(list_price, p28), panel.series["list_price"].to_numpy(float), f["price_28d"]
        )
        f["discount_28d"] = rate(discount, p28)
        f["discount_91d"] = rate(discount, p91)
        f["promo_share_91d"] = rate(promo, p91)
        f["promo_uplift_365d"] = (rate(promo_revenue, p365) + _EPS) / (rate(regular_revenue, p365) + _EPS)
        f["stockout_rate_91d"] = 1.0 - rate(in_stock, p91)
        f["stockout_rate_28d"] = 1.0 - rate(in_stock, p28)
        cost = panel.series["unit_cost"].to_numpy(float) if "unit_cost" in panel.series else np.nan
        with np.errstate(invalid="ignore", divide="ignore"):
            f["margin"] = (f["price_28d"] - cost) / f["price_28d"]
        age = (t - panel.first_index + 1) * PERIODS[freq]
        if "launch_date" in panel.series:
            launched = (pd.Timestamp(as_of) - pd.to_datetime(panel.series["launch_date"])).dt.days
            age = np.fmax(age, launched.to_numpy(float) + 1)
        f["age_days"] = age.astype(float)
        last_event, f["uplift_last_event"] = _last_event_uplift(uplifts, occurrences, as_of)
        horizon_event, f["uplift_horizon_event"], f["horizon_event_share"] = _horizon_event_uplift(
            uplifts, occurrences, as_of, horizon_days
        )
        f["planned_promo_share"], f["planned_discount"] = _planned_promotions(
            panel, promotions, as_of, horizon_days
        )
        labelled = t + h <= last
        nothing = np.full(len(alive), np.nan)
        label_revenue = revenue.sum(t + 1, t + h) if labelled else nothing
        label_units = units.sum(t + 1, t + h) if labelled else nothing
        columns = {
            "platform": panel.series["platform"].to_numpy(object),
            "sku_id": panel.series["sku_id"].to_numpy(object),
            "category": panel.series["category"].to_numpy(object),
            "as_of": np.full(len(alive), np.datetime64(pd.Timestamp(as_of), "ns")),
            # the last day the features saw, and the last day of the label's horizon
            "observed_until": np.full(len(alive), np.datetime64(panel.dates[t] + span, "ns")),
            "label_until": np.full(len(alive), np.datetime64(panel.dates[t] + span + horizon_span, "ns")),
            **f,
            "last_event": np.full(len(alive), last_event, dtype=object),
            "horizon_event": np.full(len(alive), horizon_event, dtype=object),
            "unit_cost": np.broadcast_to(np.asarray(cost, dtype=float), alive.shape),
            "label_revenue": label_revenue,
            "label_units": label_units,
            "label_gross_profit": label_revenue - label_units * cost,
        }
        out.append({name: np.broadcast_to(values, alive.shape)[alive] for name, values in columns.items()})
    if not out:
        return pd.DataFrame(columns=KEYS + NUMERIC_FEATURES)
    data = {name: np.concatenate([part[name] for part in out]) for name in out[0]}
    frame = pd.DataFrame(data)
    frame.insert(0, "brand", brand)
    for column in ("platform", "sku_id", "category", "last_event", "horizon_event"):
        frame[column] = frame[column].astype(str)
    frame = _within_group_features(frame)
    frame["new_sku"] = frame["age_days"] < NEW_SKU_DAYS
    frame["target"] = frame["label_revenue"] if target == "revenue" else frame["label_gross_profit"]
    frame["horizon_periods"] = h
    frame["freq"] = freq
    return frame


def _first_valid(*arrays) -> np.ndarray:
    out = np.asarray(arrays[0], dtype=float).copy()
    for other in arrays[1:]:
        other = np.broadcast_to(np.asarray(other, dtype=float), out.shape)
        out = np.where(np.isnan(out), other, out)
    return out


def _within_group_features(frame: pd.DataFrame) -> pd.DataFrame:
    """Features relative to the SKU's platform and category at the same as_of."""
    by_platform = frame.groupby(["platform", "as_of"])
    by_category = frame.groupby(["platform", "as_of", "category"])
    with np.errstate(invalid="ignore", divide="ignore"):
        frame["rev_rel_28d"] = frame["rev_rate_28d"] / by_platform["rev_rate_28d"].transform("mean")
        frame["rev_rel_91d"] = frame["rev_rate_91d"] / by_platform["rev_rate_91d"].transform("mean")
        category_total = by_category["rev_rate_28d"].transform("sum")
        frame["category_share_28d"] = frame["rev_rate_28d"] / category_total.where(category_total > 0)
        frame["price_vs_category"] = frame["price_28d"] / by_category["price_28d"].transform("median")
        frame["discount_vs_category"] = frame["discount_28d"] - by_category["discount_28d"].transform("mean")
    # price band within the category (0 low, 1 mid, 2 high): what a new SKU is scored from
    pct = by_category["list_price"].rank(pct=True)
    frame["price_band"] = np.select([pct <= 1 / 3, pct <= 2 / 3], [0.0, 1.0], 2.0)
    frame.loc[pct.isna(), "price_band"] = np.nan
    return frame


def _occurrence_uplifts(panel: SalesPanel, revenue: _Windows, occurrences: pd.DataFrame) -> dict:
    """Per event occurrence: each series' revenue rate in it / its rate in the 8 weeks before."""
    uplifts = {}
    before = periods(56, panel.freq)
    for index, occurrence in occurrences.iterrows():
        start = panel.index_of(occurrence["start"] - pd.Timedelta(days=1)) + 1
        end = panel.index_of(occurrence["end"])
        if end < 0 or start > len(panel.dates) - 1 or end < start:
            continue
        during = revenue.mean(start, end)
        normal = revenue.mean(start - before, start - 1)
        with np.errstate(invalid="ignore"):
            uplifts[index] = (during + _EPS) / (normal + _EPS)
    return uplifts


def _last_event_uplift(uplifts: dict, occurrences: pd.DataFrame, as_of: pd.Timestamp):
    done = occurrences.loc[[i in uplifts for i in occurrences.index]]
    done = done.loc[done["end"] <= as_of]
    if done.empty:
        return "", np.nan
    latest = done.sort_values("end").index[-1]
    return str(occurrences.at[latest, "name"]), uplifts[latest]


def _horizon_event_uplift(uplifts: dict, occurrences: pd.DataFrame, as_of: pd.Timestamp, horizon_days: int):
    """The event the horizon overlaps most, its share of the horizon, and its last completed uplift."""
    start = pd.Timestamp(as_of) + pd.Timedelta(days=1)
    end = pd.Timestamp(as_of) + pd.Timedelta(days=horizon_days)
    if occurrences.empty:
        return "", np.nan, 0.0
    overlap_start = occurrences["start"].where(occurrences["start"] > start, start)
    overlap_end = occurrences["end"].where(occurrences["end"] < end, end)
    overlap = (overlap_end - overlap_start).dt.days + 1
    overlap = overlap.where(overlap > 0, 0)
    if overlap.max() <= 0:
        return "", np.nan, 0.0
    name = str(occurrences.at[overlap.idxmax(), "name"])
    share = float(min(1.0, overlap[occurrences["name"].ne("cny_slowdown")].sum() / horizon_days))
    previous = occurrences.loc[occurrences["name"].eq(name) & (occurrences["end"] <= as_of)]
    previous = previous.loc[[i in uplifts for i in previous.index]]
    if previous.empty:
        return name, np.nan, share
    return name, uplifts[previous.sort_values("end").index[-1]], share


def _planned_promotions(panel: SalesPanel, promotions: pd.DataFrame, as_of: pd.Timestamp, horizon_days: int):
    """Share of the horizon each series has a planned promotion, and its mean planned discount."""
    n = len(panel.series)
    if promotions is None or promotions.empty:
        return np.zeros(n), np.zeros(n)
    start = pd.Timestamp(as_of) + pd.Timedelta(days=1)
    end = pd.Timestamp(as_of) + pd.Timedelta(days=horizon_days)
    overlaps = (pd.to_datetime(promotions["start"]) <= end) & (pd.to_datetime(promotions["end"]) >= start)
    plan = promotions.loc[overlaps]
    if plan.empty:
        return np.zeros(n), np.zeros(n)
    plan = plan.copy()
    first = pd.to_datetime(plan["start"]).clip(lower=start)
    final = pd.to_datetime(plan["end"]).clip(upper=end)
    plan["days"] = (final - first).dt.days + 1
    depth = pd.to_numeric(plan.get("discount"), errors="coerce")
    if "price" in plan.columns:
        # a plan given as a price: its depth against the series' list price, resolved below
        plan["plan_price"] = pd.to_numeric(plan["price"], errors="coerce")
    plan["discount"] = depth
    plan = plan.loc[plan["discount"].fillna(0).gt(0) | plan["discount"].isna()]
    joined = (
        panel.series[["platform", "sku_id", "list_price"]]
        .reset_index()
        .merge(plan, on=["platform", "sku_id"], how="inner", suffixes=("", "_plan"))
    )
    if joined.empty:
        return np.zeros(n), np.zeros(n)
    if "plan_price" in joined.columns:
        implied = 1.0 - joined["plan_price"] / joined["list_price"]
        joined["discount"] = joined["discount"].fillna(implied.clip(0, 0.95))
    joined = joined.loc[joined["discount"].fillna(0) > 0]
    share = np.zeros(n)
    depth_out = np.zeros(n)
    if joined.empty:
        return share, depth_out
    joined["weighted"] = joined["discount"] * joined["days"]
    summed = joined.groupby("index")[["days", "weighted"]].sum()
    share[summed.index] = np.minimum(1.0, summed["days"] / horizon_days)
    depth_out[summed.index] = summed["weighted"] / summed["days"]
    return share, depth_out
