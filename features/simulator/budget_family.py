"""A family of ad worlds for testing budget recommendations on shapes the model does not assume.

Each seeded draw is one brand with 2 to 8 channels on two to four platforms, two years of daily
history and a planned promotion period (Double 11 or 618) to split a budget over. Per channel it
varies what the response model simplifies:

carry-over   geometric, delayed peak (the effect builds for a few days) or long tails (~30 days)
saturation   Hill, logistic (S-shaped around a midpoint) or S-shaped with a threshold (nothing
             below a minimum spend)
effect       adds revenue, or scales the platform's traffic (bigger on event days)
halo         content channels (Xiaohongshu, Douyin) lift search demand on Tmall and JD
             (种草 on one platform, 拔草 on another)
timing       ramped before events, flat, dark weeks, bursts; some channels move in lockstep
             with another (the data cannot tell them apart)
attribution  the platform reports 1x to 3x the channel's true own-platform effect

Truth per draw: `true_revenue(spend, pacing)` (the incremental revenue of any period allocation,
carry-over into the weeks after the period included) and `true_optimum(budget, pacing)`, the best
allocation from a global method on the true curves (dynamic programming on a fine grid of the
budget, then a local polish). Channels stay separable (halo and traffic effects add up per
channel), which is what makes the grid DP exact up to the grid step.

`write_draw(directory, draw)` writes the contract tables (sales, ads, experiments) so a draw runs
through the same load -> fit -> recommend path as a user's data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

PLATFORM_CHANNELS = {
    "tmall": ["tmall_ztc", "tmall_wxt", "tmall_pinxiao"],
    "jd": ["jd_kuaiche", "jd_haitou"],
    "douyin": ["douyin_qianchuan", "douyin_content"],
    "pdd": ["pdd_search", "pdd_scene"],
    "xhs": ["xhs_juguang", "xhs_pugongying"],
}
CONTENT_PLATFORMS = ("douyin", "xhs")  # seeding platforms whose ads also lift search elsewhere
SEARCH_PLATFORMS = ("tmall", "jd")
HISTORY_START = pd.Timestamp("2024-10-01")
PERIODS = {
    "double11": (pd.Timestamp("2026-10-20"), pd.Timestamp("2026-11-11")),
    "618": (pd.Timestamp("2026-05-20"), pd.Timestamp("2026-06-18")),
}
TAIL_DAYS = 60  # carry-over after the period that still counts as the period's revenue
KERNEL_DAYS = 45
GRID_STEPS = 400


@dataclass
class ChannelTruth:
    name: str
    platform: str
    carry: str  # geometric | delayed | long
    kernel: np.ndarray  # (KERNEL_DAYS,) weights summing to 1
    saturation: str  # hill | logistic | threshold
    half: float  # spend level (kernel-weighted daily spend) of the bend
    shape: float
    ceiling: float  # daily revenue at full saturation (own platform, additive units)
    effect: str  # add | traffic
    lands: dict[str, float]  # platform -> share of the effect landing there
    over_credit: float  # platform-attributed / true own-platform effect
    timing: str  # ramp | flat | dark | burst | lockstep

    def response(self, x: np.ndarray) -> np.ndarray:
        """Saturation in [0, 1) of kernel-weighted daily spend x."""
        x = np.maximum(np.asarray(x, dtype=float), 0.0)
        if self.saturation == "hill":
            r = np.power(x / self.half, self.shape)
            return r / (1.0 + r)
        if self.saturation == "logistic":
            a = 2.0 + 2.0 * self.shape
            zero = 1.0 / (1.0 + np.exp(a))
            return (1.0 / (1.0 + np.exp(-a * (x / self.half - 1.0))) - zero) / (1.0 - zero)
        threshold = 0.3 * self.half
        r = np.power(np.maximum(x - threshold, 0.0) / self.half, self.shape)
        return r / (1.0 + r)


@dataclass
class FamilyDraw:
    seed: int
    brand: str
    channels: list[ChannelTruth]
    dates: pd.DatetimeIndex  # history + period + tail
    baseline: dict[str, np.ndarray]  # platform -> organic revenue per day (no ads)
    traffic: dict[str, np.ndarray]  # platform -> baseline / its mean (what a traffic effect scales)
    spend: np.ndarray  # (C, days): history spend, then the brand's own plan for the period
    history_end: pd.Timestamp
    period: tuple[pd.Timestamp, pd.Timestamp]
    event: str
    noise: float
    experiments: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.channels]

    @property
    def period_days(self) -> int:
        return (self.period[1] - self.period[0]).days + 1

    @property
    def planned_budget(self) -> float:
        """The brand's spend in the same period a year earlier (the budget it would plan)."""
        start = self.period[0] - pd.Timedelta(days=364)
        first = int((start - self.dates[0]).days)
        return float(self.spend[:, first : first + self.period_days].sum())

    # -- truth -----------------------------------------------------------------------------
    def _first_period_day(self) -> int:
        return int((self.period[0] - self.dates[0]).days)

    def _landed(self, c: int, gain: np.ndarray, start: int) -> np.ndarray:
        """Revenue per day across the brand's platforms from a channel's saturation path."""
        channel = self.channels[c]
        out = np.zeros(gain.shape)
        for platform, share in channel.lands.items():
            scale = (
                self.traffic[platform][start : start + gain.shape[-1]] if channel.effect == "traffic" else 1.0
            )
            out = out + channel.ceiling * share * gain * scale
        return out

    def channel_revenue(self, c: int, totals: np.ndarray, pacing: np.ndarray) -> np.ndarray:
        """True incremental revenue of channel c for period totals (G,) laid out by pacing (T,)."""
        first = self._first_period_day()
        horizon = self.period_days + TAIL_DAYS
        kernel = self.channels[c].kernel
        before = self.spend[c, :first]
        # carry-in from history: history spend only, convolved over the period and tail
        padded = np.concatenate([before, np.zeros(horizon)])
        carry_in = np.convolve(padded, kernel)[first : first + horizon]
        unit = np.convolve(np.concatenate([pacing, np.zeros(TAIL_DAYS)]), kernel)[:horizon]
        x = carry_in[None, :] + np.asarray(totals, float)[:, None] * unit[None, :]
        channel = self.channels[c]
        gain = channel.response(x) - channel.response(carry_in)[None, :]
        return self._landed(c, gain, first).sum(axis=1)

    def true_revenue(self, spend: np.ndarray, pacing: np.ndarray) -> np.ndarray:
        """(C,) true incremental revenue of period totals `spend` laid out by `pacing` (C, T)."""
        return np.array([self.channel_revenue(c, np.array([s]), pacing[c])[0] for c, s in enumerate(spend)])

    def true_optimum(self, budget: float, pacing: np.ndarray) -> tuple[np.ndarray, float]:
        """The best split of `budget` on the true curves: grid DP, then a local polish."""
        from scipy.optimize import minimize

        n = len(self.channels)
        step = budget / GRID_STEPS
        grid = np.arange(GRID_STEPS + 1) * step
        values = np.stack([self.channel_revenue(c, grid, pacing[c]) for c in range(n)])
        best = values[0].copy()
        choice = np.zeros((n, GRID_STEPS + 1), dtype=int)
        choice[0] = np.arange(GRID_STEPS + 1)
        j, k = np.meshgrid(np.arange(GRID_STEPS + 1), np.arange(GRID_STEPS + 1), indexing="ij")
        valid = k <= j
        for c in range(1, n):
            table = np.where(valid, best[np.clip(j - k, 0, None)] + values[c][k], -np.inf)
            choice[c] = np.argmax(table, axis=1)
            best = table[np.arange(GRID_STEPS + 1), choice[c]]
        units = np.zeros(n, dtype=int)
        left = GRID_STEPS
        for c in range(n - 1, 0, -1):
            units[c] = choice[c][left]
            left -= units[c]
        units[0] = left
        start = units * step

        def loss(s: np.ndarray) -> float:
            return -float(self.true_revenue(np.maximum(s, 0.0), pacing).sum()) / max(best[-1], 1.0)

        bounds = [(max(0.0, s - 2 * step), min(budget, s + 2 * step)) for s in start]
        polished = minimize(
            loss,
            start,
            method="SLSQP",
            bounds=bounds,
            constraints=[{"type": "eq", "fun": lambda s: (s.sum() - budget) / budget}],
            options={"maxiter": 100, "ftol": 1e-12},
        )
        spend = start
        if (
            polished.success
            and -polished.fun >= -loss(start)
            and abs(polished.x.sum() - budget) < 1e-6 * budget
        ):
            spend = np.maximum(polished.x, 0.0)
        return spend, float(self.true_revenue(spend, pacing).sum())

    # -- observed tables ---------------------------------------------------------------------
    def tables(self) -> dict[str, pd.DataFrame]:
        """Contract tables of the history: sales (one row per platform and day), ads, experiments."""
        rng = np.random.default_rng(self.seed + 10_000)
        first = self._first_period_day()
        history = self.dates[:first]
        n = len(history)
        platforms = sorted(self.baseline)
        revenue = {p: self.baseline[p][:n].copy() for p in platforms}
        own = np.zeros((len(self.channels), n))
        for c, channel in enumerate(self.channels):
            x = np.convolve(self.spend[c, :n], channel.kernel)[:n]
            gain = channel.response(x)
            for platform, share in channel.lands.items():
                scale = self.traffic[platform][:n] if channel.effect == "traffic" else 1.0
                part = channel.ceiling * share * gain * scale
                revenue[platform] += part
                if platform == channel.platform:
                    own[c] = part
        sales = []
        for p in platforms:
            noisy = revenue[p] * rng.lognormal(0.0, self.noise, n)
            sales.append(
                pd.DataFrame(
                    {
                        "date": history.strftime("%Y-%m-%d"),
                        "brand": self.brand,
                        "platform": p,
                        "sku_id": "all",
                        "revenue": np.round(noisy, 2),
                    }
                )
            )
        ads = []
        for c, channel in enumerate(self.channels):
            spend = self.spend[c, :n]
            attributed = channel.over_credit * own[c] * rng.lognormal(0.0, 0.15, n) * (spend > 0)
            ads.append(
                pd.DataFrame(
                    {
                        "date": history.strftime("%Y-%m-%d"),
                        "brand": self.brand,
                        "platform": channel.platform,
                        "channel": channel.name,
                        "spend": np.round(spend, 2),
                        "attributed_revenue": np.round(attributed, 2),
                    }
                )
            )
        return {
            "sales": pd.concat(sales, ignore_index=True),
            "ads": pd.concat(ads, ignore_index=True),
            "experiments": self.experiments,
        }

    def lift_test(self, c: int, start: pd.Timestamp, days: int, rng: np.random.Generator) -> dict:
        """A holdout test: the incremental revenue the channel's spend in [start, start+days) brought
        (with its carry-over, on every platform it lands on), measured with a 15% standard error."""
        begin = int((start - self.dates[0]).days)
        channel = self.channels[c]
        horizon = begin + days + TAIL_DAYS
        spend = self.spend[c, :horizon]
        without = spend.copy()
        without[begin : begin + days] = 0.0
        x_with = np.convolve(spend, channel.kernel)[:horizon]
        x_without = np.convolve(without, channel.kernel)[:horizon]
        gain = channel.response(x_with) - channel.response(x_without)
        true = float(self._landed(c, gain[None, :], 0)[0].sum())
        se = 0.15 * true
        return {
            "brand": self.brand,
            "channel": channel.name,
            "platform": channel.platform,
            "start": str(start.date()),
            "end": str((start + pd.Timedelta(days=days - 1)).date()),
            "spend": round(float(spend[begin : begin + days].sum()), 2),
            "incremental_revenue": round(true + rng.normal(0.0, se), 2),
            "standard_error": round(se, 2),
        }


def _kernel(rng: np.random.Generator, carry: str) -> np.ndarray:
    lags = np.arange(KERNEL_DAYS, dtype=float)
    if carry == "geometric":
        weights = rng.uniform(0.1, 0.7) ** lags
    elif carry == "delayed":  # builds for a few days, then fades
        peak, width = rng.uniform(2.0, 6.0), rng.uniform(2.0, 5.0)
        weights = np.exp(-0.5 * ((lags - peak) / width) ** 2) + 1e-9
    else:  # long tail, ~30 days to fade
        weights = rng.uniform(0.88, 0.93) ** lags
    return weights / weights.sum()


def _baseline(rng: np.random.Generator, dates: pd.DatetimeIndex, level: float) -> np.ndarray:
    from daiyun.features.calendar import calendar_frame

    cal = calendar_frame(dates[0], dates[-1])
    t = np.arange(len(dates)) / 365.25
    log = np.log(level) + rng.uniform(-0.1, 0.25) * t + 0.1 * np.sin(2 * np.pi * (t + rng.uniform()))
    log = log + rng.uniform(0.0, 0.12) * (dates.dayofweek >= 5)
    big = (cal["ev_double11"].to_numpy() + cal["ev_618"].to_numpy()) > 0
    log = log + big * (
        rng.uniform(0.2, 0.5) * cal["phase_presale"].to_numpy()
        + rng.uniform(0.5, 1.0) * cal["phase_peak"].to_numpy()
        + rng.uniform(1.2, 1.8) * cal["phase_day"].to_numpy()
    )
    return np.exp(log)


def _spend_path(
    rng: np.random.Generator, base: float, timing: str, dates: pd.DatetimeIndex, event_days: np.ndarray
) -> np.ndarray:
    n = len(dates)
    month = np.arange(n) // 28
    level = rng.lognormal(0.0, 0.35, month.max() + 1)[month]
    spend = base * level * rng.lognormal(0.0, 0.3, n)
    if timing == "ramp":  # up to 2.5x in the weeks before and during events
        ramp = np.convolve(event_days.astype(float), np.ones(14) / 14, mode="full")[:n]
        spend = spend * (1.0 + rng.uniform(0.8, 1.5) * np.roll(ramp, -7))
    elif timing == "dark":  # whole weeks switched off
        weeks = np.arange(n) // 7
        off = rng.random(weeks.max() + 1) < 0.2
        spend = spend * ~off[weeks]
    elif timing == "burst":  # short bursts at 3-5x, quieter otherwise
        bursts = np.zeros(n)
        for start in rng.integers(0, n - 7, size=n // 45):
            bursts[start : start + rng.integers(3, 8)] = rng.uniform(2.0, 4.0)
        spend = spend * (0.6 + bursts)
    return spend


def draw(seed: int) -> FamilyDraw:
    """One world of the family; the same seed always gives the same world."""
    rng = np.random.default_rng(seed)
    event = "double11" if seed % 2 == 0 else "618"
    period = PERIODS[event]
    dates = pd.date_range(HISTORY_START, period[1] + pd.Timedelta(days=TAIL_DAYS), freq="D")
    n_channels = int(rng.integers(2, 9))
    # a search platform first (where halo lands), then others
    platforms = [str(rng.choice(SEARCH_PLATFORMS))]
    others = [p for p in PLATFORM_CHANNELS if p not in platforms]
    platforms += list(rng.choice(others, size=int(rng.integers(1, 4)), replace=False))
    pool = [(p, c) for p in platforms for c in PLATFORM_CHANNELS[p]]
    rng.shuffle(pool)
    picked = pool[:n_channels]
    while len(picked) < n_channels:  # few platforms, many channels: extra numbered channels
        p = platforms[len(picked) % len(platforms)]
        picked.append((p, f"{p}_extra{len(picked)}"))
    used = sorted({p for p, _ in picked})
    baseline = {p: _baseline(rng, dates, rng.uniform(2e5, 1.5e6)) for p in used}
    traffic = {p: b / b[: len(dates) - TAIL_DAYS].mean() for p, b in baseline.items()}
    search = [p for p in used if p in SEARCH_PLATFORMS]

    from daiyun.features.calendar import calendar_frame

    cal = calendar_frame(dates[0], dates[-1])
    event_days = (cal["ev_double11"].to_numpy() + cal["ev_618"].to_numpy()) > 0
    channels, spend = [], []
    useless = int(rng.integers(0, n_channels)) if n_channels >= 3 and rng.random() < 0.6 else -1
    rois = np.where(np.arange(n_channels) == useless, 0.05, rng.uniform(0.8, 5.0, n_channels))
    # the brand's mix is half-informed: it leans toward what it believes works, with noise
    shares = rng.dirichlet(np.full(n_channels, 3.0)) * np.sqrt(rois)
    shares = shares / shares.sum()
    for i, (platform, name) in enumerate(picked):
        carry = str(rng.choice(["geometric", "delayed", "long"], p=[0.4, 0.3, 0.3]))
        saturation = str(rng.choice(["hill", "logistic", "threshold"], p=[0.4, 0.3, 0.3]))
        roi = rois[i]  # ROI at typical spend
        s_shaped = saturation != "hill"
        base_spend = shares[i] * rng.uniform(0.03, 0.08) * np.mean([baseline[p].mean() for p in used])
        lands = {platform: 1.0}
        if platform in CONTENT_PLATFORMS and search:
            own = rng.uniform(0.2, 0.7)  # 种草 here, 拔草 on the search platforms
            lands = {platform: own} | {p: (1.0 - own) / len(search) for p in search}
        channel = ChannelTruth(
            name=name,
            platform=platform,
            carry=carry,
            kernel=_kernel(rng, carry),
            saturation=saturation,
            # an S-curve bends inside the spend the brand has run: a bend no data ever reached is
            # invisible to any model (and to the buyer), so it would test luck, not the method
            half=base_spend * float(np.exp(rng.uniform(*np.log((0.4, 1.0) if s_shaped else (0.4, 3.0))))),
            shape=float(rng.uniform(0.7, 1.5) if saturation == "hill" else rng.uniform(1.2, 2.5)),
            ceiling=1.0,
            effect=str(rng.choice(["add", "traffic"])),
            lands=lands,
            over_credit=float(rng.uniform(1.0, 3.0)),
            timing=str(rng.choice(["ramp", "flat", "dark", "burst"])),
        )
        # ROI at typical spend (a channel run below its threshold earns less than that)
        channel.ceiling = roi * base_spend / max(float(channel.response(np.array([base_spend]))[0]), 0.1)
        if i > 0 and rng.random() < 0.15:  # moves in lockstep with the previous channel
            channel.timing = "lockstep"
            path = spend[-1] / max(spend[-1].mean(), 1e-9) * base_spend * rng.lognormal(0.0, 0.03, len(dates))
        else:
            path = _spend_path(rng, base_spend, channel.timing, dates, event_days)
        channels.append(channel)
        spend.append(path)
    history_end = period[0] - pd.Timedelta(days=1)
    out = FamilyDraw(
        seed=seed,
        brand=f"family{seed:02d}",
        channels=channels,
        dates=dates,
        baseline=baseline,
        traffic=traffic,
        spend=np.stack(spend),
        history_end=history_end,
        period=period,
        event=event,
        noise=float(rng.uniform(0.04, 0.1)),
    )
    # one or two lift tests in the history, on random channels, each four weeks
    tests = []
    for c in rng.choice(n_channels, size=min(n_channels, int(rng.integers(1, 3))), replace=False):
        start = history_end - pd.Timedelta(days=int(rng.integers(90, 400)))
        tests.append(out.lift_test(int(c), start, 28, rng))
    out.experiments = pd.DataFrame(tests)
    return out


def write_draw(directory: str | Path, world: FamilyDraw, experiments: bool = True) -> Path:
    """The draw's contract tables as CSV in `directory` (created); returns the directory."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for name, table in world.tables().items():
        path = directory / f"{name}.csv"
        if name == "experiments" and (not experiments or table.empty):
            path.unlink(missing_ok=True)
            continue
        table.to_csv(path, index=False)
    return directory
