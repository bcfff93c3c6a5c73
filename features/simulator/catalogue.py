"""The simulated shop: brands, platforms, SKUs and which SKU sells where, with each series' true traits.

Everything a brand's demand depends on that does not change by day lives here (price level,
elasticity, popularity, seasonality, launch and discontinuation), drawn once per brand from its own
random stream so that one brand's draws never depend on another's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Platform:
    """What differs between the marketplaces a brand sells on."""

    traffic: float  # relative daily units of the same SKU
    price_level: float  # list price relative to the flagship store (pdd is cheaper)
    event_scale: float  # how strongly shoppers there react to the big festivals
    carry: float  # share of the brand's SKUs listed there
    channels: tuple[str, ...]  # the ad products a budget is set for


PLATFORMS: dict[str, Platform] = {
    "tmall": Platform(1.00, 1.00, 1.00, 0.95, ("tmall_ztc", "tmall_wxt")),
    "jd": Platform(0.70, 0.99, 1.00, 0.60, ("jd_kuaiche",)),
    "douyin": Platform(0.90, 0.95, 1.15, 0.60, ("douyin_qianchuan",)),
    "pdd": Platform(0.60, 0.82, 0.80, 0.50, ("pdd_search",)),
    "kuaishou": Platform(0.35, 0.90, 1.10, 0.35, ("kuaishou_cili",)),
    "xiaohongshu": Platform(0.25, 1.00, 0.70, 0.30, ("xhs_juguang",)),
}


@dataclass(frozen=True)
class Subcategory:
    price: float  # median list price (CNY)
    season_amplitude: float  # log amplitude of the yearly cycle
    season_peak: int  # day of year of the yearly peak


@dataclass(frozen=True)
class Category:
    subcategories: dict[str, Subcategory]
    units: float  # median daily units of a SKU on the flagship store
    elasticity: tuple[float, float]  # per-SKU own-price elasticity range
    events: dict[str, float]  # log lift of each event's peak phase (negative: a slowdown)
    weekly: tuple[float, ...]  # log effect Monday..Sunday
    holiday: float  # log effect of an official day off that is not a weekend


CATEGORIES: dict[str, Category] = {
    # beauty: steady through the year, big festival spikes (38 is women's day)
    "beauty": Category(
        {
            "skincare": Subcategory(259.0, 0.05, 1),
            "sunscreen": Subcategory(129.0, 0.70, 185),
            "lipstick": Subcategory(199.0, 0.10, 45),
            "face_mask": Subcategory(99.0, 0.12, 300),
            "cleanser": Subcategory(89.0, 0.05, 1),
        },
        units=2.0,
        elasticity=(1.5, 2.8),
        events={
            "cny_festival": 0.15,
            "cny_slowdown": -0.35,
            "38": 0.55,
            "618": 0.75,
            "99": 0.30,
            "double11": 0.95,
            "double12": 0.30,
        },
        weekly=(-0.04, -0.03, -0.02, 0.0, 0.03, 0.07, 0.05),
        holiday=-0.05,
    ),
    # snacks: cheap, elastic, the CNY goods festival is their Double 11
    "snacks": Category(
        {
            "nuts": Subcategory(59.0, 0.35, 20),
            "jerky": Subcategory(39.0, 0.20, 30),
            "biscuits": Subcategory(29.0, 0.15, 350),
            "candy": Subcategory(25.0, 0.30, 25),
            "drinks": Subcategory(35.0, 0.45, 200),
        },
        units=5.0,
        elasticity=(2.2, 3.5),
        events={
            "cny_festival": 0.95,
            "cny_slowdown": -0.75,
            "38": 0.10,
            "618": 0.45,
            "99": 0.25,
            "double11": 0.60,
            "double12": 0.35,
        },
        weekly=(0.02, -0.02, -0.03, -0.02, 0.05, 0.04, -0.04),
        holiday=0.08,
    ),
    # apparel: strongly seasonal by subcategory, pricey, weekend shoppers
    "apparel": Category(
        {
            "down_jacket": Subcategory(899.0, 1.20, 350),
            "sweater": Subcategory(399.0, 0.80, 325),
            "tshirt": Subcategory(129.0, 0.90, 185),
            "dress": Subcategory(299.0, 0.70, 160),
            "jeans": Subcategory(259.0, 0.25, 275),
        },
        units=1.2,
        elasticity=(1.6, 3.0),
        events={
            "cny_festival": 0.35,
            "cny_slowdown": -0.50,
            "38": 0.30,
            "618": 0.50,
            "99": 0.20,
            "double11": 0.85,
            "double12": 0.35,
        },
        weekly=(-0.06, -0.05, -0.04, -0.02, 0.03, 0.09, 0.08),
        holiday=0.10,
    ),
}
CUSTOM_EVENT_LIFT = 0.7  # a brand day is that brand's own Double 11


@dataclass(frozen=True)
class BrandSpec:
    name: str
    category: str
    platforms: tuple[str, ...]
    n_skus: int
    brand_day: tuple[int, int] | None = None  # (month, day) of the yearly brand day


@dataclass
class Catalogue:
    """One brand's products and series (a series is a SKU on a platform), as arrays over series."""

    brand: BrandSpec
    products: pd.DataFrame
    platforms: list[str]  # platform names, indexed by `platform`
    sku_ids: np.ndarray  # str, indexed by `sku`
    sku: np.ndarray  # series -> SKU index
    platform: np.ndarray  # series -> platform index
    start: np.ndarray  # first sellable day index on the timeline (negative: before the history)
    end: np.ndarray  # last sellable day index (timeline end when never discontinued)
    list_price: np.ndarray  # (series, days) regular price by day
    base_units: np.ndarray  # daily units at list price, no event, mid-history
    elasticity: np.ndarray
    promo_lift: np.ndarray  # extra log lift of being on promotion, beyond the price effect
    dispersion: np.ndarray  # negative binomial size parameter (small: noisy)
    trend: np.ndarray  # log growth per year
    season_amplitude: np.ndarray
    season_peak: np.ndarray
    ramp_days: np.ndarray  # launch ramp-up time constant
    event_scale: np.ndarray  # power applied to the brand's event multiplier
    weekly: np.ndarray  # (series, 7) log weekly profile

    @property
    def n_series(self) -> int:
        return len(self.sku)


def _price_ending(value: np.ndarray) -> np.ndarray:
    # shelf prices end in .9 like real listings; never below 1.9
    return np.maximum(np.floor(value), 1.0) + 0.9


def build_catalogue(
    rng: np.random.Generator, spec: BrandSpec, dates: pd.DatetimeIndex, n_history: int
) -> Catalogue:
    """Draw one brand's SKUs, their listings per platform and each series' true demand traits."""
    category = CATEGORIES[spec.category]
    n_days = len(dates)
    n_skus = spec.n_skus
    sub_names = list(category.subcategories)
    sub_of_sku = rng.integers(0, len(sub_names), n_skus)
    subs = [category.subcategories[sub_names[i]] for i in sub_of_sku]

    sku_price = np.array([s.price for s in subs]) * rng.lognormal(0.0, 0.35, n_skus)
    sku_list = _price_ending(sku_price)
    sku_pop = category.units * rng.lognormal(0.0, 1.5, n_skus)  # the long tail comes from here
    sku_elasticity = rng.uniform(*category.elasticity, n_skus)
    sku_ids = np.array([f"{spec.name[:3].upper()}{k + 1:04d}" for k in range(n_skus)])

    # launches and discontinuations: fixed shares so every size (even small) has some of each
    order = rng.permutation(n_skus)
    n_launch = max(1, round(0.2 * n_skus))
    n_stop = max(1, round(0.08 * n_skus))
    launched = order[:n_launch]
    stopped = order[n_launch : n_launch + n_stop]
    sku_start = -rng.integers(30, 900, n_skus)  # most SKUs were listed before the history starts
    recent = rng.random(n_launch) < 0.25  # a quarter of the launches are recent (cold starts)
    sku_start[launched] = np.where(
        recent,
        rng.integers(n_history - 60, n_history - 7, n_launch),
        rng.integers(30, max(31, n_history - 60), n_launch),
    )
    sku_end = np.full(n_skus, n_days - 1)
    # run out during the history (SKUs listed before it starts, so each sold at least 180 days)
    sku_end[stopped] = rng.integers(min(180, n_history // 3), n_history - 30, n_stop)

    # listings: each SKU on a subset of the brand's platforms, always at least one
    platforms = sorted(spec.platforms)
    carry = np.array([PLATFORMS[p].carry for p in platforms])
    listed = rng.random((n_skus, len(platforms))) < carry
    listed[~listed.any(axis=1), int(np.argmax(carry))] = True
    sku, platform = np.nonzero(listed)
    # series sorted by platform then SKU, the order the contract sorts sales in
    order = np.lexsort((sku, platform))
    sku, platform = sku[order], platform[order]
    n_series = len(sku)

    traffic = np.array([PLATFORMS[p].traffic for p in platforms])[platform]
    price_level = np.array([PLATFORMS[p].price_level for p in platforms])[platform]
    late_listing = np.where(rng.random(n_series) < 0.3, rng.integers(0, 60, n_series), 0)
    start = sku_start[sku] + late_listing
    start = np.where(start >= n_history - 1, sku_start[sku], start)  # every listing starts in the history
    end = sku_end[sku].copy()
    delisted = (rng.random(n_series) < 0.04) & (end == n_days - 1)  # one platform drops a SKU
    end[delisted] = rng.integers(min(180, n_history // 3), n_history - 30, delisted.sum())
    # every series sells at least 45 days: a late listing of a SKU being run out comes earlier, and
    # a platform does not drop a SKU it has just listed
    young = end - np.maximum(start, 0) < 45
    sku_stopped = sku_end < n_days - 1
    start = np.where(young & sku_stopped[sku], np.minimum(start, end - 45), start)
    end = np.where(young & ~sku_stopped[sku], n_days - 1, end)

    list0 = _price_ending(sku_list[sku] * price_level * rng.lognormal(0.0, 0.02, n_series))
    list_price = np.repeat(list0[:, None], n_days, axis=1)
    raised = rng.random(n_series) < 0.25  # some list prices go up once during the history
    raise_day = rng.integers(60, n_history - 30, n_series)
    new_price = _price_ending(list0 * rng.uniform(1.05, 1.12, n_series))
    after = np.arange(n_days)[None, :] >= raise_day[:, None]
    list_price = np.where(raised[:, None] & after, new_price[:, None], list_price)

    weekly = np.asarray(category.weekly)[None, :] + rng.normal(0.0, 0.02, (n_series, 7))
    live_platforms = np.isin(np.array(platforms)[platform], ["douyin", "kuaishou"])
    weekly[live_platforms, 4:] += 0.05  # livestream shopping is an evening and weekend habit

    products = pd.DataFrame(
        {
            "brand": pd.array([spec.name] * n_skus, dtype="str"),
            "sku_id": pd.array(sku_ids, dtype="str"),
            "category": pd.array([spec.category] * n_skus, dtype="str"),
            "subcategory": pd.array([sub_names[i] for i in sub_of_sku], dtype="str"),
            "launch_date": dates[0] + pd.to_timedelta(sku_start, unit="D"),
            "list_price": sku_list,
            "unit_cost": np.round(sku_list * rng.uniform(0.3, 0.6, n_skus), 2),
        }
    )
    return Catalogue(
        brand=spec,
        products=products,
        platforms=platforms,
        sku_ids=sku_ids,
        sku=sku,
        platform=platform,
        start=start,
        end=end,
        list_price=list_price,
        base_units=sku_pop[sku] * traffic * rng.lognormal(0.0, 0.6, n_series),
        elasticity=sku_elasticity[sku],
        promo_lift=rng.uniform(0.1, 0.4, n_series),
        dispersion=rng.uniform(3.0, 25.0, n_series),
        trend=rng.normal(0.05, 0.2, n_series),
        season_amplitude=np.array([s.season_amplitude for s in subs])[sku] * rng.uniform(0.8, 1.2, n_series),
        season_peak=np.array([s.season_peak for s in subs])[sku] + rng.normal(0.0, 8.0, n_series),
        ramp_days=rng.uniform(5.0, 40.0, n_series),
        event_scale=np.array([PLATFORMS[p].event_scale for p in platforms])[platform]
        * rng.lognormal(0.0, 0.15, n_series),
        weekly=weekly,
    )
