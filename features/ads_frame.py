"""The budget family's model input: daily spend per ad channel beside the platform's revenue.

One row per (platform, date) of a brand: the platform's total paid revenue, the spend of every
ad channel of the brand (its own platform's channels; other platforms' channels are 0 there, and
the response model's halo step asks what they lift on this platform), how much of the catalogue
was sellable and on promotion, and the calendar flags. The baseline of the response model reads
the calendar and promotion columns so that the lift of an event is not credited to the ads bought
for it.

Carry-over is a pure transform and lives here too: `geometric_adstock`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.signal import lfilter

from daiyun.features.dataset import Dataset
from daiyun.features.errors import NotFoundError

PROMO_COLUMNS = ["sellable_weight", "promo_share", "mean_discount"]


def geometric_adstock(spend: np.ndarray, decay: float | np.ndarray) -> np.ndarray:
    """x_t = spend_t + decay * x_{t-1}, along axis 0; `decay` is a scalar or one per column."""
    spend = np.asarray(spend, dtype=float)
    if spend.ndim == 1:
        return lfilter([1.0], [1.0, -float(decay)], spend)
    decays = np.broadcast_to(np.asarray(decay, dtype=float), spend.shape[1:])
    out = np.empty_like(spend)
    for j, d in enumerate(decays):
        out[:, j] = lfilter([1.0], [1.0, -float(d)], spend[:, j])
    return out


def channel_platforms(ads: pd.DataFrame) -> dict[str, str]:
    """channel -> platform it belongs to (the contract makes a channel unique within a brand)."""
    if ads.empty:
        return {}
    pairs = ads[["channel", "platform"]].drop_duplicates("channel")
    return dict(zip(pairs["channel"].astype(str), pairs["platform"].astype(str), strict=True))


def attributed_roi(ads: pd.DataFrame) -> dict[str, float]:
    """Each channel's ROI as the platform reports it (attributed revenue / spend), when reported.

    Platforms over-credit themselves (last click, their own window, organic buyers who clicked an
    ad): a ceiling more than an estimate, used by the response model as a weak prior only.
    """
    if ads.empty or ads["attributed_revenue"].isna().all():
        return {}
    known = ads.loc[ads["attributed_revenue"].notna()]
    sums = known.groupby("channel", observed=True)[["attributed_revenue", "spend"]].sum()
    sums = sums.loc[sums["spend"] > 0]
    return {str(c): float(r) for c, r in (sums["attributed_revenue"] / sums["spend"]).items()}


def attribution_discount_from_tests(ads: pd.DataFrame, experiments: pd.DataFrame) -> float | None:
    """How much of the platforms' attributed revenue the brand's lift tests found real.

    Per test: measured incremental revenue / the revenue the platform attributed to that channel
    in the test window; the median over tests (clipped to [0.05, 2]), or None when no test can be
    compared (no attributed revenue reported in its window, or a relative lift only).
    """
    if ads.empty or experiments is None or experiments.empty or ads["attributed_revenue"].isna().all():
        return None
    ratios = []
    for row in experiments.itertuples(index=False):
        if not np.isfinite(row.incremental_revenue):
            continue
        mine = ads.loc[
            ads["channel"].eq(row.channel) & ads["date"].between(row.start, row.end), "attributed_revenue"
        ]
        attributed = float(mine.sum()) if mine.notna().any() else 0.0
        if attributed > 0:
            ratios.append(row.incremental_revenue / attributed)
    return float(np.clip(np.median(ratios), 0.05, 2.0)) if ratios else None


def gross_margin(sales: pd.DataFrame, products: pd.DataFrame) -> float | None:
    """The brand's gross margin on its sales, 1 - cost of goods / revenue, where unit costs are known
    (products.unit_cost); None when no sold SKU has one (or the margin is not in (0, 1))."""
    if sales.empty or products.empty or products["unit_cost"].isna().all():
        return None
    costs = products.dropna(subset=["unit_cost"]).set_index(["brand", "sku_id"])["unit_cost"]
    rows = sales.join(costs, on=["brand", "sku_id"], how="inner")
    rows = rows.loc[rows["units"].notna() & rows["revenue"].notna()]
    revenue = float(rows["revenue"].sum())
    if revenue <= 0:
        return None
    margin = 1.0 - float((rows["units"] * rows["unit_cost"]).sum()) / revenue
    return margin if 0.0 < margin < 1.0 else None


def _by_channel(ads: pd.DataFrame, column: str, freq: str) -> pd.DataFrame:
    """`column` summed per date and channel, one row per date of the ads' whole span (no gaps; NaN
    where a channel has no value that day), one column per channel with a value."""
    wide = ads.pivot_table(index="date", columns="channel", values=column, aggfunc="sum")
    step = "7D" if freq == "W" else "D"
    wide = wide.reindex(pd.date_range(ads["date"].min(), ads["date"].max(), freq=step))
    wide.index.name = "date"
    wide.columns = [str(c) for c in wide.columns]
    return wide


def daily_spend(ads: pd.DataFrame, freq: str = "D") -> pd.DataFrame:
    """Wide spend table: one row per date (no gaps, missing days are 0), one column per channel."""
    if ads.empty:
        return pd.DataFrame()
    return _by_channel(ads, "spend", freq).fillna(0.0)


def attributed_table(ads: pd.DataFrame, freq: str = "D") -> pd.DataFrame | None:
    """Wide attributed-revenue table (one row per date, one column per channel that reports it;
    NaN where a day was not reported), or None when no channel reports attributed revenue."""
    if ads.empty or "attributed_revenue" not in ads or ads["attributed_revenue"].isna().all():
        return None
    return _by_channel(ads, "attributed_revenue", freq)


def promotion_levels(sales: pd.DataFrame) -> pd.DataFrame:
    """Per platform and date, weighted by each SKU's typical revenue (its median on days without a
    promotion), so a bestseller counts for more than a long-tail SKU:

    sellable_weight  share of the platform's typical revenue that is listed and in stock that day
                     (launches, run-outs and stock-outs move the baseline, not the ads)
    promo_share      share of the sellable typical revenue on promotion
    mean_discount    sellable-revenue-weighted mean discount
    """
    columns = ["platform", "date", *PROMO_COLUMNS]
    if sales.empty:
        return pd.DataFrame(columns=columns)
    regular = sales.loc[sales["on_promo"].astype(int) == 0]
    typical = regular.groupby(["platform", "sku_id"], observed=True)["revenue"].median().rename("weight")
    frame = sales[["platform", "sku_id", "date", "on_promo", "discount", "in_stock"]].join(
        typical, on=["platform", "sku_id"]
    )
    weight = frame["weight"].fillna(0.0).to_numpy() + 1e-9
    sellable = weight * frame["in_stock"].astype(float).to_numpy()
    frame = frame.assign(
        sellable=sellable,
        promo=sellable * frame["on_promo"].astype(float).to_numpy(),
        discounted=sellable * frame["discount"].astype(float).to_numpy(),
    )
    sums = frame.groupby(["platform", "date"], observed=True)[["sellable", "promo", "discounted"]].sum()
    capacity = typical.groupby(level="platform", observed=True).sum() + 1e-9
    sums["sellable_weight"] = sums["sellable"] / capacity.reindex(sums.index.get_level_values(0)).to_numpy()
    sums["promo_share"] = sums["promo"] / sums["sellable"].clip(lower=1e-9)
    sums["mean_discount"] = sums["discounted"] / sums["sellable"].clip(lower=1e-9)
    return sums[PROMO_COLUMNS].astype(float).reset_index()


def ads_frame(dataset: Dataset, brand: str, calendar: pd.DataFrame | None = None) -> pd.DataFrame:
    """Rows (platform, date) over the brand's ads dates; columns platform, date, revenue, promo
    levels, calendar flags and one spend column per channel (named after the channel).

    `calendar` (as `daiyun.features.calendar.calendar_frame`) is built for the brand when not given.
    Platforms with ad channels only: a platform without ads has nothing to attribute.
    """
    data = dataset.for_brand(brand)
    if data.ads.empty:
        raise NotFoundError("ads", brand, ["a brand with an ads table"])
    freq = data.freq(brand)
    spend = daily_spend(data.ads, freq)
    owners = channel_platforms(data.ads)
    start, end = spend.index.min(), min(spend.index.max(), data.sales["date"].max())
    spend = spend.loc[start:end]
    revenue = data.sales.groupby(["platform", "date"], observed=True)["revenue"].sum().rename("revenue")
    promos = promotion_levels(data.sales).set_index(["platform", "date"])
    frames = []
    for platform in sorted(set(owners.values())):
        part = pd.DataFrame(index=spend.index)
        part["platform"] = platform
        if platform in revenue.index.get_level_values(0):
            part["revenue"] = revenue.loc[platform].reindex(spend.index).fillna(0.0)
            part = part.join(promos.loc[platform].reindex(spend.index).fillna(0.0))
        else:  # a channel on a platform the sales table does not cover: nothing to fit against
            continue
        if calendar is None:
            from daiyun.features.calendar import calendar_frame

            platform_calendar = calendar_frame(
                start, end, events=data.events, brand=brand, platform=platform, freq=freq
            ).set_index("date")
        else:
            platform_calendar = calendar.set_index("date")
        flags = platform_calendar.reindex(spend.index)
        numeric = flags.select_dtypes("number").fillna(0.0)
        part = part.join(numeric)
        for channel in spend.columns:
            part[channel] = spend[channel].to_numpy() if owners[channel] == platform else 0.0
        frames.append(part.reset_index())
    if not frames:
        raise NotFoundError("ads platform", ", ".join(sorted(set(owners.values()))), ["platforms in sales"])
    frame = pd.concat(frames, ignore_index=True)
    frame.attrs["channels"] = owners
    frame.attrs["freq"] = freq
    return frame
