"""A family of demand worlds, written apart from the sample simulator, to measure forecasts across worlds.

The sample simulator (`daiyun.features.simulator.world`) is the world the forecaster was shaped on.
This module draws *other* worlds from a seed: each draw picks its own promotion response (price
elasticity, a discount threshold below which shoppers do not react, a lift per promotion mechanic,
shoppers waiting before a festival's pre-sale, a post-event dip, pull-forward of demand into the
peak day, a post-promotion dip), its own yearly season shape, weekday profile, festival strength and
dates (shifted by a few days against the built-in calendar), share of intermittent series and of
launches. Nothing here reads a constant of the forecaster or of the sample simulator.

    draw = simulate_draw(seed=3)
    draw.history      # platform, sku_id, category, date, units, expected, price, list_price,
                      # discount, on_promo, in_stock, revenue: every day up to draw.end
    draw.traits       # the world's drawn traits (for the report)

The last `holdout_days` (default 30, ending after Double 11) are meant as the test window: their
`expected` column is the oracle (the mean the units were drawn around).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from daiyun.features.simulator.windows import paint, random_windows

PLATFORMS = ("tmall", "jd", "douyin")
CATEGORIES = ("care", "snacks", "home")
MECHANICS = ("coupon", "livestream", "bundle", "feature")
# festival: (presale start, peak start, peak day) as (month, day); each draw shifts them a little
FESTIVALS = {
    "618": ((5, 20), (6, 1), (6, 18)),
    "double11": ((10, 24), (11, 1), (11, 11)),
    "double12": (None, (12, 8), (12, 12)),
    "womens_day": (None, (3, 1), (3, 8)),
}


@dataclass(frozen=True)
class WorldTraits:
    """What one draw of the family chose."""

    seed: int
    elasticity: float  # mean price elasticity (per series: lognormal around it)
    threshold: float  # a discount below this moves nobody
    mechanic_lift: tuple[float, ...]  # multiplier per MECHANICS
    festival_lift: float  # peak-window log lift of the big festivals
    day_lift: float  # extra log lift on the peak day
    pull_forward: float  # share of pre-sale demand paid on the first peak day
    pre_wait: float  # log dip in the days before a pre-sale (shoppers wait)
    post_dip: float  # log dip after a festival
    post_promo_dip: float  # multiplier on the days after an everyday promotion
    season: str  # yearly shape: flat, winter, summer, double, q4_step
    season_amplitude: float
    weekly_amplitude: float
    intermittent_share: float
    launch_share: float
    dispersion: float  # negative-binomial size
    date_shift: int  # days the festivals move against the built-in calendar


def draw_traits(seed: int) -> WorldTraits:
    rng = np.random.default_rng([seed, 20261202])
    return WorldTraits(
        seed=seed,
        elasticity=float(rng.uniform(0.8, 3.5)),
        threshold=float(rng.choice([0.0, 0.05, 0.10, 0.15])),
        mechanic_lift=tuple(float(x) for x in np.exp(rng.normal(0.15, 0.25, len(MECHANICS)))),
        festival_lift=float(rng.uniform(0.3, 1.4)),
        day_lift=float(rng.uniform(0.0, 1.2)),
        pull_forward=float(rng.uniform(0.0, 0.7)),
        pre_wait=float(rng.uniform(0.0, 0.5)),
        post_dip=float(rng.uniform(0.0, 0.6)),
        post_promo_dip=float(rng.uniform(0.6, 1.0)),
        season=str(rng.choice(["flat", "winter", "summer", "double", "q4_step"])),
        season_amplitude=float(rng.uniform(0.1, 0.6)),
        weekly_amplitude=float(rng.uniform(0.0, 0.35)),
        intermittent_share=float(rng.uniform(0.1, 0.5)),
        launch_share=float(rng.uniform(0.05, 0.25)),
        dispersion=float(rng.uniform(1.5, 12.0)),
        date_shift=int(rng.integers(-3, 4)),
    )


@dataclass
class FamilyDraw:
    traits: WorldTraits
    history: pd.DataFrame
    end: pd.Timestamp

    def traits_row(self) -> dict:
        row = asdict(self.traits)
        row["mechanic_lift"] = "/".join(f"{x:.2f}" for x in self.traits.mechanic_lift)
        return row


def _season(traits: WorldTraits, dates: pd.DatetimeIndex) -> np.ndarray:
    doy = dates.dayofyear.to_numpy() / 365.25
    a = traits.season_amplitude
    shapes = {
        "flat": np.zeros(len(dates)),
        "winter": a * np.cos(2 * np.pi * (doy - 0.03)),
        "summer": a * np.cos(2 * np.pi * (doy - 0.55)),
        "double": a * np.cos(4 * np.pi * (doy - 0.1)),
        "q4_step": np.where(dates.month.to_numpy() >= 10, a, -a / 3),
    }
    return shapes[traits.season]


def _festival_effects(
    traits: WorldTraits, dates: pd.DatetimeIndex
) -> tuple[np.ndarray, list[tuple[int, int, bool]]]:
    """Log multiplier per day, and (start, end day index, has a pre-sale) of every festival occurrence."""
    n = len(dates)
    log_lift = np.zeros(n)
    windows = []
    first = dates[0]
    shift = pd.Timedelta(days=traits.date_shift)
    for year in range(dates[0].year, dates[-1].year + 1):
        for name, (presale, peak, day) in FESTIVALS.items():
            big = name in ("618", "double11")
            strength = traits.festival_lift * (1.0 if big else 0.5)
            peak_start = pd.Timestamp(year=year, month=peak[0], day=peak[1]) + shift
            peak_day = pd.Timestamp(year=year, month=day[0], day=day[1])  # the day itself never moves
            lo = (peak_start - first).days
            hi = (peak_day - first).days
            if hi < 0 or lo >= n:
                continue
            a, b = max(lo, 0), min(hi, n - 1)
            log_lift[a : b + 1] += strength
            if 0 <= hi < n:
                log_lift[hi] += traits.day_lift * (1.0 if big else 0.6)
            start = lo
            if presale is not None:
                pre = (pd.Timestamp(year=year, month=presale[0], day=presale[1]) + shift - first).days
                start = pre
                days = np.arange(max(pre, 0), min(lo, n))
                log_lift[days] += 0.3 * strength
                wait = np.arange(max(pre - 6, 0), min(max(pre, 0), n))
                log_lift[wait] -= traits.pre_wait * strength
            after = np.arange(hi + 1, min(hi + 8, n))
            after = after[after >= 0]
            log_lift[after] -= traits.post_dip * strength * np.linspace(1.0, 0.2, 7)[: len(after)]
            windows.append((start, hi, presale is not None))
    return log_lift, windows


def simulate_draw(
    seed: int,
    n_skus: int = 24,
    start: str = "2024-07-01",
    end: str = "2026-11-14",
) -> FamilyDraw:
    """One world of the family: `n_skus` SKUs on each of PLATFORMS, daily from `start` to `end`."""
    traits = draw_traits(seed)
    rng = np.random.default_rng([seed, 7])
    dates = pd.date_range(start, end, freq="D")
    n_days = len(dates)
    n = n_skus * len(PLATFORMS)
    sku = np.tile(np.arange(n_skus), len(PLATFORMS))
    platform = np.repeat(np.arange(len(PLATFORMS)), n_skus)
    category = rng.integers(0, len(CATEGORIES), n_skus)[sku]

    intermittent = rng.random(n_skus)[sku] < traits.intermittent_share
    base = np.where(intermittent, rng.uniform(0.1, 1.0, n), np.exp(rng.normal(2.3, 0.9, n)))
    base = base * np.array([1.0, 0.7, 0.5])[platform]
    elasticity = traits.elasticity * np.exp(rng.normal(0, 0.25, n))
    list_price = np.round(np.exp(rng.normal(4.0, 0.6, n_skus))[sku], 2)
    launch = np.where(
        rng.random(n) < traits.launch_share, rng.integers(0, n_days - 20, n), -rng.integers(1, 400, n)
    )
    ramp = rng.uniform(5, 45, n)
    trend = rng.normal(0, 0.15, n)
    weekly = traits.weekly_amplitude * rng.normal(0, 1, (len(CATEGORIES), 7))
    weekly -= weekly.mean(axis=1, keepdims=True)
    festival_scale = np.exp(rng.normal(0, 0.3, n))

    log_festival, festivals = _festival_effects(traits, dates)

    # promotions: festival participation, then everyday promotions between festivals
    discount = np.zeros((n, n_days))
    mechanic = np.full((n, n_days), -1)
    rows, starts, ends, depth, kind = [], [], [], [], []
    for lo, hi, _presale in festivals:
        takes = np.flatnonzero(rng.random(n) < 0.7)
        rows.append(takes)
        starts.append(np.full(len(takes), lo))
        ends.append(np.full(len(takes), hi))
        depth.append(rng.uniform(0.05, 0.45, len(takes)))
        kind.append(rng.integers(0, len(MECHANICS), len(takes)))
    first = np.maximum(launch, 0)
    last = np.full(n, n_days - 1)
    d_rows, d_starts, d_ends = random_windows(rng, first, last, mean_gap=40.0, length=(2, 8))
    rows.append(d_rows)
    starts.append(d_starts)
    ends.append(d_ends)
    depth.append(rng.uniform(0.03, 0.30, len(d_rows)))
    kind.append(rng.integers(0, len(MECHANICS), len(d_rows)))
    rows_, starts_, ends_, depth_, kind_ = (np.concatenate(x) for x in (rows, starts, ends, depth, kind))
    depth_ = np.round(depth_, 2)
    paint(discount, rows_, starts_, ends_, depth_)
    paint(mechanic, rows_, starts_, ends_, kind_)
    on_promo = discount > 0
    price = np.round(list_price[:, None] * (1 - discount), 2)

    day = np.arange(n_days)[None, :]
    years = (day - n_days / 2) / 365.25
    log_mu = (
        np.log(base)[:, None]
        + trend[:, None] * years
        + _season(traits, dates)[None, :]
        + weekly[category][:, dates.dayofweek.to_numpy()]
        + festival_scale[:, None] * log_festival[None, :]
    )
    reacts = discount >= traits.threshold
    log_mu += np.where(reacts, -elasticity[:, None] * np.log1p(-discount), 0.0)
    lift = np.asarray(traits.mechanic_lift)
    log_mu += np.where(on_promo & reacts, np.log(lift[np.clip(mechanic, 0, None)]), 0.0)
    mu = np.exp(log_mu)
    # pull-forward: part of the pre-sale days' demand is paid on the first peak day
    for lo, _hi, presale in festivals:
        pre = np.arange(max(lo, 0), min(lo + 8, n_days))
        if presale and len(pre) and lo + 8 < n_days:
            moved = traits.pull_forward * mu[:, pre]
            mu[:, pre] -= moved
            mu[:, lo + 8] += moved.sum(axis=1)
    after_promo = paint(np.ones_like(mu), d_rows, d_ends + 1, d_ends + 3, traits.post_promo_dip)
    mu *= np.where(on_promo, 1.0, after_promo)
    age = day - launch[:, None]
    mu *= np.where(age >= 0, -np.expm1(-(age + 1) / ramp[:, None]), 0.0)
    in_stock = np.ones((n, n_days), dtype=bool)
    s_rows, s_starts, s_ends = random_windows(rng, first, last - 40, mean_gap=200.0, length=(2, 7))
    paint(in_stock, s_rows, s_starts, s_ends, False)
    mu *= in_stock
    size = traits.dispersion
    units = rng.poisson(rng.gamma(size, np.where(mu > 0, mu, 1e-12) / size)).astype(float)

    alive = age >= 0
    s, t = np.nonzero(alive)
    names = np.array([f"F{seed}-{k:03d}" for k in range(n_skus)])
    history = pd.DataFrame(
        {
            "platform": np.array(PLATFORMS)[platform][s],
            "sku_id": names[sku][s],
            "category": np.array(CATEGORIES)[category][s],
            "date": dates[t],
            "units": units[s, t],
            "expected": mu[s, t],
            "price": price[s, t],
            "list_price": list_price[s],
            "discount": discount[s, t],
            "on_promo": on_promo[s, t].astype(np.int8),
            "in_stock": in_stock[s, t].astype(np.int8),
        }
    )
    history["revenue"] = history["units"] * history["price"]
    return FamilyDraw(traits, history, pd.Timestamp(end))
