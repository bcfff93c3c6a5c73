"""True ad response of the simulated shop: spend per channel, geometric adstock, Hill saturation.

Daily incremental revenue of a channel = max_daily_revenue * x^shape / (x^shape + half_saturation^shape)
with x_t = spend_t + decay * x_{t-1}. Buyers raise spend before and during events (so spend and
events are confounded, as in real books) and spend varies day to day and month to month, so the
curves can be identified. A platform's incremental revenue is shared among its SKUs in proportion
to their organic revenue that day and turned into units at that day's price.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.signal import lfilter

from daiyun.features.simulator.catalogue import PLATFORMS, Catalogue

FORMULA = (
    "incremental_revenue_t = max_daily_revenue * x_t**shape / (x_t**shape + half_saturation**shape), "
    "x_t = spend_t + decay * x_(t-1)"
)
BLOCK_DAYS = 28  # budgets are reset about monthly


@dataclass
class AdBook:
    """One brand's ads: the observed table, the true curves and the true units they add per series."""

    ads: pd.DataFrame  # history rows, contract columns
    channels: pd.DataFrame  # truth/channels rows
    future: pd.DataFrame  # brand, platform, channel, date, spend, adstock, incremental_revenue (future days)
    units: np.ndarray  # (series, days) expected units added by ads
    experiments: pd.DataFrame | None = None  # lift tests the brand ran (the `experiments` contract table)


def hill(x: np.ndarray, max_daily_revenue: float, half_saturation: float, shape: float) -> np.ndarray:
    xs = np.power(np.maximum(x, 0.0), shape)
    return max_daily_revenue * xs / (xs + half_saturation**shape)


def adstock(spend: np.ndarray, decay: float, initial: float) -> np.ndarray:
    """x_t = spend_t + decay * x_(t-1), with x_(-1) = initial."""
    return lfilter([1.0], [1.0, -decay], spend, zi=[decay * initial])[0]


def ad_book(
    rng: np.random.Generator,
    catalogue: Catalogue,
    organic: np.ndarray,
    price: np.ndarray,
    spend_factor: np.ndarray,
    dates: pd.DatetimeIndex,
    n_history: int,
    brand_index: int,
) -> AdBook:
    """Draw every channel's true curve and spend, and what it adds to each series' units."""
    c = catalogue
    n_days = len(dates)
    organic_revenue = organic * price
    platform_revenue = np.zeros((len(c.platforms), n_days))
    for p in range(len(c.platforms)):  # at most six platforms
        platform_revenue[p] = organic_revenue[c.platform == p].sum(axis=0)
    weekday = dates.dayofweek.to_numpy()
    n_blocks = n_history // BLOCK_DAYS + 1
    block = np.minimum(np.arange(n_days) // BLOCK_DAYS, n_blocks - 1)  # the plan keeps the last level

    ad_rows, channel_rows, future_rows, test_rows = [], [], [], []
    # lift tests draw from their own stream (seeded by the sample's organic sales), so adding them
    # left every other table of a seed unchanged
    test_rng = np.random.default_rng([int(organic[:, :28].sum()) % 2**31, brand_index, 11])
    n_channels = sum(len(PLATFORMS[platform].channels) for platform in c.platforms)
    tested = set(test_rng.choice(n_channels, size=min(TESTS_PER_BRAND, n_channels), replace=False).tolist())
    incremental = np.zeros((len(c.platforms), n_days))
    j = 0
    for p, platform in enumerate(c.platforms):
        typical_revenue = platform_revenue[p, :n_history].mean()
        for channel in PLATFORMS[platform].channels:
            share = rng.uniform(0.04, 0.12) if channel == "tmall_wxt" else rng.uniform(0.08, 0.25)
            roi = rng.uniform(1.3, 5.0)
            decay = rng.uniform(0.1, 0.7)
            shape = rng.uniform(0.8, 2.2)
            # alternate channels near saturation (cheap to cut) and far from it (room to grow)
            near = (j + brand_index) % 2 == 0
            ratio = (
                np.exp(rng.uniform(np.log(0.25), np.log(0.6)))
                if near
                else np.exp(rng.uniform(np.log(1.5), np.log(4.0)))
            )
            j += 1
            typical_gain = share * typical_revenue
            base_spend = typical_gain / roi
            typical_adstock = base_spend / (1.0 - decay)
            half_saturation = ratio * typical_adstock
            max_revenue = typical_gain / (
                typical_adstock**shape / (typical_adstock**shape + half_saturation**shape)
            )

            level = rng.lognormal(0.0, 0.35, n_blocks)[block]
            noise = rng.lognormal(0.0, rng.uniform(0.2, 0.5), n_days)
            dark = rng.random(n_days) < 0.01  # account paused: a day without spend
            weekly = 1.0 + 0.08 * (weekday >= 5)
            spend = base_spend * level * weekly * spend_factor ** rng.uniform(0.8, 1.2)
            # planned future spend is the plan itself: no day-to-day surprises
            realised = np.where(dark, 0.0, spend * noise)
            spend = np.round(np.where(np.arange(n_days) < n_history, realised, spend), 2)
            x = adstock(spend, decay, typical_adstock)
            gain = hill(x, max_revenue, half_saturation, shape)
            incremental[p] += gain

            hist = slice(0, n_history)
            if j - 1 in tested:  # j already counts this channel
                test_rows.append(
                    _lift_test(
                        test_rng,
                        spend,
                        decay,
                        typical_adstock,
                        max_revenue,
                        half_saturation,
                        shape,
                        dates,
                        n_history,
                        platform,
                        channel,
                    )
                )
            cpm = rng.uniform(15.0, 80.0)
            impressions = np.round(spend[hist] / cpm * 1000 * rng.lognormal(0.0, 0.1, n_history)).astype(
                np.int64
            )
            clicks = rng.binomial(impressions, rng.uniform(0.008, 0.04))
            # platforms over-credit themselves: they count organic buyers who clicked an ad too
            bias = rng.uniform(1.3, 2.2)
            leak = rng.uniform(0.01, 0.05)
            attributed = (
                gain[hist] * bias + leak * platform_revenue[p, hist] * (spend[hist] > 0)
            ) * rng.lognormal(0.0, 0.2, n_history)
            ad_rows.append(
                pd.DataFrame(
                    {
                        "date": dates[:n_history],
                        "platform": platform,
                        "channel": channel,
                        "spend": spend[hist],
                        "impressions": impressions,
                        "clicks": clicks,
                        "attributed_revenue": np.round(attributed, 2),
                    }
                )
            )
            channel_rows.append(
                {
                    "platform": platform,
                    "channel": channel,
                    "adstock": "geometric",
                    "decay": decay,
                    "saturation": "hill",
                    "half_saturation": half_saturation,
                    "shape": shape,
                    "max_daily_revenue": max_revenue,
                    "formula": FORMULA,
                    # x_(-1), so the formula recomputes the history exactly from ads.spend, and the
                    # last history day's x, where the future period (truth/future_spend) starts from
                    "adstock_before_history": typical_adstock,
                    "adstock_at_history_end": x[n_history - 1],
                    "attribution_bias": bias,
                }
            )
            fut = slice(n_history, n_days)
            future_rows.append(
                pd.DataFrame(
                    {
                        "platform": platform,
                        "channel": channel,
                        "date": dates[fut],
                        "spend": spend[fut],
                        "adstock": x[fut],
                        "incremental_revenue": gain[fut],
                    }
                )
            )

    brand = c.brand.name
    ads = pd.concat(ad_rows, ignore_index=True)
    ads.insert(1, "brand", brand)
    channels = pd.DataFrame(channel_rows)
    channels.insert(0, "brand", brand)
    future = pd.concat(future_rows, ignore_index=True)
    future.insert(0, "brand", brand)
    experiments = pd.DataFrame(test_rows, columns=TEST_COLUMNS[1:])
    # fixed types: a brand without tests still writes the same Parquet schema as the others
    experiments = experiments.astype(
        {"channel": str, "platform": str, "start": "datetime64[ns]", "end": "datetime64[ns]"}
        | {c: float for c in ("spend", "incremental_revenue", "standard_error")}
    )
    experiments.insert(0, "brand", brand)

    # each SKU gets the platform's ad revenue in proportion to its organic revenue that day
    total = platform_revenue[c.platform]
    units = np.divide(incremental[c.platform] * organic, total, out=np.zeros_like(organic), where=total > 0)
    return AdBook(ads, channels, future, units, experiments)


TEST_COLUMNS = [
    "brand",
    "channel",
    "platform",
    "start",
    "end",
    "spend",
    "incremental_revenue",
    "standard_error",
]
TEST_DAYS = 28
TESTS_PER_BRAND = 2
TEST_ERROR = 0.15  # a holdout test's standard error, relative to what it measures


def _lift_test(
    rng: np.random.Generator,
    spend: np.ndarray,
    decay: float,
    initial: float,
    max_revenue: float,
    half_saturation: float,
    shape: float,
    dates: pd.DatetimeIndex,
    n_history: int,
    platform: str,
    channel: str,
) -> dict:
    """A four-week holdout test in the history: the revenue the channel's spend in the window
    brought (carry-over after it included), measured with a 15% standard error."""
    begin = n_history - int(rng.integers(60, 330))
    window = slice(begin, begin + TEST_DAYS)
    without = spend[:n_history].copy()
    without[window] = 0.0
    gain = hill(adstock(spend[:n_history], decay, initial), max_revenue, half_saturation, shape)
    gain_without = hill(adstock(without, decay, initial), max_revenue, half_saturation, shape)
    true = float((gain - gain_without).sum())
    error = TEST_ERROR * true
    return {
        "channel": channel,
        "platform": platform,
        "start": dates[begin],
        "end": dates[begin + TEST_DAYS - 1],
        "spend": round(float(spend[window].sum()), 2),
        "incremental_revenue": round(max(true + rng.normal(0.0, error), 0.0), 2),
        "standard_error": round(max(error, 1.0), 2),
    }
