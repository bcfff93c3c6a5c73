"""LightGBM global forecaster: one model over all of a brand's series, direct multi-horizon.

    forecaster = LGBMForecaster(objective="tweedie").fit(history, events=dataset.events, freq="D")
    forecaster.predict(future)   # future: platform, sku_id, date, price, discount, on_promo -> + `lgbm`

Direct: one model for every horizon, features bucketed to the origin (see
`daiyun.features.forecast_frame`), so a 30-day forecast is one `predict` call and errors do not compound.
Training origins every 28 days with all 60 horizons, so every day of the last two years is a
target (with 8 random horizons per 14-day origin the single peak days 11.11 / 6.18 were often
never a target: WAPE on the Double 11 window 0.53 vs 0.44, northpeak demo). The recursive
alternative (`daiyun.models.forecast.recursive`) is measured against it in the backtest and joins the
ensemble by its backtest weight (benchmarks/results/forecast_accuracy.md).
A log-link objective (Tweedie or Poisson) keeps forecasts of counts positive; the series'
non-promotion level enters as an offset (`init_score = log level`), so one global model learns
multiplicative effects (promotion lift, event phase, weekday) shared by big and small series.
Where the shops close on public holidays (`closes_on_holidays`: Rossmann, not an online shop), the
trees also read where a closed day's demand went (`CLOSURE_FEATURES`): days to and since a holiday,
and the share of open days in the level window (Rossmann holdout WRMSSE 0.152 -> 0.124, bias +5.4%
-> +3.6%, benchmarks/results/forecast_peers.md).
Extra promotion columns (a scanner panel's `feature` / `display`, `mechanic_*` flags;
`daiyun.features.forecast_frame.promo_extra_columns`) that the history carries are known-future
inputs of their own: the fitted model records their names (`promo_extras_`) and reads the same
columns from the plan, 0 where the plan does not say them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from daiyun.features.forecast_frame import (
    FEATURES,
    LAST_YEAR,
    MIN_HISTORY,
    MONOTONE,
    STEP,
    SeriesPanel,
    build_panel,
    grid_features,
    has_deals,
    origin_snapshot,
    plan_for,
    training_frame,
    training_origins,
)

CALENDAR_DAYS_AHEAD = 400
# demand displaced by closures: read only where the shops close on public holidays (see closes_on_holidays)
CLOSURE_FEATURES = ("open_share", "days_to_holiday", "days_since_holiday")
# the day's place in the year: read only from a history that spans a year (see spans_a_year)
YEAR_POSITION_FEATURES = ("woy", "month")
# a series' own response to a discount's depth: read only where the history has discounted days
ELASTICITY_FEATURES = ("elasticity", "plan_lift")
MAX_LEAF_LOG_STEP = 0.5  # largest change of the log forecast one tree may make (see _booster_params)


def spans_a_year(dates: pd.Series | pd.DatetimeIndex | np.ndarray, freq: str) -> bool:
    """Whether a history's training targets (its days after the first MIN_HISTORY, which only feed
    the lags) reach back a year, so that the weeks to forecast were targets a year earlier.

    A tree sends a value it never saw in training down the side of its nearest seen value, so with
    under a year of targets the weeks ahead borrow the "effect" of the latest weeks the history has:
    their sales against the trailing level, i.e. the year's trend so far, carried forward as a
    seasonal lift (UCI Online Retail, 373 days of history: week of year and month added +0.2 to +0.3
    to the log forecast in each of the four holdout weeks; LightGBM bias +23%, the forecast +18%).
    """
    dates = pd.to_datetime(pd.Series(dates))
    if dates.empty:
        return False
    span = (dates.max() - dates.min()) / STEP[freq]
    return span - MIN_HISTORY[freq] >= LAST_YEAR[freq] - 1


def series_base(frame: pd.DataFrame) -> np.ndarray:
    """The offset's level: non-promotion level, else longer levels, else the category's; floored."""
    base = frame["normal_level"].to_numpy(dtype=float)
    for fallback in ("level_long", "cat_level"):
        base = np.where(np.isfinite(base), base, frame[fallback].to_numpy(dtype=float))
    return np.clip(np.nan_to_num(base, nan=0.1), 0.05, None)


def calendar_tables(
    platforms: list[str],
    start: pd.Timestamp,
    end: pd.Timestamp,
    events: pd.DataFrame | None,
    freq: str,
    market: str = "CN",
) -> dict[str, pd.DataFrame]:
    """`daiyun.features.calendar.calendar_frame` per platform (platform-specific events), indexed by date."""
    from daiyun.features.calendar import MAX_DAYS, calendar_frame

    tables = {}
    # padded by whole periods (a weekly grid keeps its anchor) so the holiday distances are right
    # at the table's ends, then cut back
    pad = STEP[freq] * int(np.ceil(pd.Timedelta(days=MAX_DAYS) / STEP[freq]))
    for platform in platforms:
        table = calendar_frame(
            start - pad, end + pad, events=events, platform=platform, freq=freq, market=market
        )
        table = holiday_distances(table)
        inside = (table["date"] >= start) & (table["date"] <= end)
        tables[platform] = table.loc[inside].set_index("date")
    return tables


def closes_on_holidays(panel: SeriesPanel, calendar: dict[str, pd.DataFrame]) -> bool:
    """Do most of the brand's (series, public holiday) cells show the series closed (not in stock)?

    Where shops close (Rossmann on German holidays), a closed day's demand moves onto the open days
    around it: the holiday distances say which days those are, and `open_share` says that a level
    window with extra closures ran high. Where the channel stays open (online shops, our simulators)
    a holiday's own effects are in the calendar's flags and a day out of stock loses its demand
    rather than moving it, so neither mechanism exists: the distances are only a date proxy the trees
    overfit with two years of history, and `open_share` moved the simulated brands' bias (with both:
    family median WRMSSE 0.769 -> 0.790, northpeak promotion-day gap closure 0.83 -> 0.66; with
    `open_share` alone: bias crunchtime -0.03 -> -0.09, northpeak -0.08 -> -0.12, WRMSSE northpeak
    0.195 -> 0.211; benchmarks/forecast_peers.py, simulator seed 3).
    """
    closed, cells = 0, 0
    started = np.arange(len(panel.dates))[None, :] >= panel.start[:, None]
    for platform, table in calendar.items():
        rows = (panel.keys["platform"] == platform).to_numpy()
        if not rows.any() or "is_holiday" not in table.columns:
            continue
        off = table.index[table["is_holiday"].to_numpy(dtype=float) > 0]
        position = panel.dates.get_indexer(off)
        position = position[position >= 0]
        live = started[rows][:, position]
        cells += int(live.sum())
        closed += int((live & ~panel.observed[rows][:, position]).sum())
    return cells > 0 and closed > cells / 2


def holiday_distances(table: pd.DataFrame) -> pd.DataFrame:
    """`days_to_holiday` / `days_since_holiday`: days to the next and since the last public holiday.

    The trees see the day *around* a holiday, not only the holiday: shoppers stock up before a day
    off and catch up after it (Rossmann's stores close on German holidays; in May 2015 the open days
    next to them sold 13-33% above the same weekday a week or two later). 0 on a holiday; capped at
    the calendar's MAX_DAYS, and the cap where the table does not reach a holiday (`calendar_tables`
    pads its tables by the cap).
    """
    from daiyun.features.calendar import MAX_DAYS

    table = table.sort_values("date").reset_index(drop=True)
    day = ((table["date"] - table["date"].iloc[0]).dt.days).to_numpy() if len(table) else np.zeros(0)
    off = table["is_holiday"].to_numpy(dtype=float) > 0 if len(table) else np.zeros(0, dtype=bool)
    # the latest holiday on or before each row and the next on or after it, as day numbers
    last = np.maximum.accumulate(np.where(off, day, np.iinfo(np.int64).min // 2))
    upcoming = np.where(off, day, np.iinfo(np.int64).max // 2)
    upcoming = np.minimum.accumulate(upcoming[::-1])[::-1]
    return table.assign(
        days_since_holiday=np.clip(day - last, 0, MAX_DAYS).astype(float),
        days_to_holiday=np.clip(upcoming - day, 0, MAX_DAYS).astype(float),
    )


class LGBMForecaster:
    """LightGBM over (series, origin, horizon) rows of one brand; see the module docstring."""

    name = "lgbm"
    year_position: bool | None = None  # models pickled before it was a parameter

    def __init__(
        self,
        objective: str = "poisson",
        tweedie_variance_power: float = 1.2,
        horizon: int = 60,
        n_estimators: int = 200,
        learning_rate: float = 0.08,
        num_leaves: int = 31,
        min_data_in_leaf: int = 40,
        feature_fraction: float = 0.8,
        bagging_fraction: float = 0.8,
        lambda_l2: float = 1.0,
        max_bin: int = 63,
        origin_stride: int = 28,
        lookback: int = 730,
        horizons_per_origin: int = 60,
        offset: bool = True,
        num_threads: int = 1,
        seed: int = 0,
        market: str = "CN",
        prices: str = "set",
        year_position: bool | None = None,
    ) -> None:
        self.objective = objective
        self.tweedie_variance_power = tweedie_variance_power
        self.horizon = horizon
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_data_in_leaf = min_data_in_leaf
        self.feature_fraction = feature_fraction
        self.bagging_fraction = bagging_fraction
        self.lambda_l2 = lambda_l2
        self.max_bin = max_bin
        self.origin_stride = origin_stride
        self.lookback = lookback
        self.horizons_per_origin = horizons_per_origin
        self.offset = offset
        self.num_threads = num_threads
        self.seed = seed
        self.market = market  # whose holidays the calendar features read (dataset.yaml `market:`)
        self.prices = prices  # what the price column is (dataset.yaml `prices:`; forecast_frame.PRICE_KINDS)
        # week of year and month as features: None = where the history spans a year (spans_a_year);
        # the backtest sets it from the whole history, so its windows are the model that is served
        self.year_position = year_position

    def get_params(self) -> dict:
        import inspect

        return {
            name: getattr(self, name)
            for name in inspect.signature(type(self).__init__).parameters
            if name != "self"
        }

    def _prepare(self, history: pd.DataFrame, events: pd.DataFrame | None, freq: str) -> SeriesPanel:
        """The brand's series panel, and the calendar far enough ahead for every horizon."""
        panel = build_panel(history, freq, prices=self.price_kind)
        self.freq_ = freq
        self.events_ = events
        self.calendar_ = calendar_tables(
            sorted(panel.keys["platform"].unique()),
            panel.dates[0],
            panel.end + STEP[freq] * max(CALENDAR_DAYS_AHEAD // (7 if freq == "W" else 1), self.horizon),
            events,
            freq,
            self.market,
        )
        # the closure features only where the shops close on holidays (see closes_on_holidays)
        closing = closes_on_holidays(panel, self.calendar_)
        # the history's extra promotion columns (build_panel found them), kept only where they vary:
        # a flag that is always 0 in the history has nothing to teach the trees
        self.promo_extras_ = [name for name, values in panel.extras.items() if np.nanstd(values) > 0]
        self.features_ = [f for f in FEATURES if closing or f not in CLOSURE_FEATURES] + self.promo_extras_
        self.year_position_ = (
            spans_a_year(panel.dates, freq) if self.year_position is None else bool(self.year_position)
        )
        if not self.year_position_:
            self.features_ = [f for f in self.features_ if f not in YEAR_POSITION_FEATURES]
        if not has_deals(panel):  # a promotion flag without a depth (Rossmann's Promo) has no elasticity
            self.features_ = [f for f in self.features_ if f not in ELASTICITY_FEATURES]
        return panel

    def _train_booster(self, frame: pd.DataFrame) -> None:
        """Fit the trees on a training frame (direct or one-step rows alike)."""
        import lightgbm as lgb

        init = np.log(series_base(frame)) if self.offset else None
        data = lgb.Dataset(
            frame[self.features_],
            frame["units"].to_numpy(dtype=float),
            init_score=init,
            feature_name=self.features_,
            free_raw_data=True,
        )
        self.booster_ = lgb.train(self._booster_params(), data, num_boost_round=self.n_estimators)
        self.n_training_rows_ = len(frame)
        self.feature_importance_ = pd.Series(
            self.booster_.feature_importance("gain"), index=self.features_, name="gain"
        ).sort_values(ascending=False)

    def _booster_params(self) -> dict:
        params = {
            "objective": self.objective,
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_data_in_leaf": self.min_data_in_leaf,
            "feature_fraction": self.feature_fraction,
            "bagging_fraction": self.bagging_fraction,
            "bagging_freq": 1,
            "lambda_l2": self.lambda_l2,
            # a log-link Newton step where sales dwarf a tiny offset (a sporadic wholesale order on a
            # 0.02-a-day item) jumps the log forecast by tens in one tree (UCI: forecasts of 1e14):
            # each tree may move a leaf by at most MAX_LEAF_LOG_STEP, big lifts take a few trees
            "max_delta_step": MAX_LEAF_LOG_STEP / self.learning_rate,
            "max_bin": self.max_bin,
            "num_threads": self.num_threads,
            "seed": self.seed,
            "deterministic": True,
            "force_row_wise": True,
            "verbosity": -1,
            "monotone_constraints": [MONOTONE.get(name, 0) for name in self.features_],
        }
        if self.objective == "tweedie":
            params["tweedie_variance_power"] = self.tweedie_variance_power
        return params

    def fit(
        self, history: pd.DataFrame, events: pd.DataFrame | None = None, freq: str = "D"
    ) -> LGBMForecaster:
        panel = self._prepare(history, events, freq)
        origins = training_origins(panel, self.horizon, self.origin_stride, self.lookback)
        frame = training_frame(
            panel, self.calendar_, self.horizon, origins, self.horizons_per_origin, self.seed
        )
        self._train_booster(frame)
        self.snapshot_ = origin_snapshot(panel, len(panel.dates) - 1, self.horizon)
        return self

    def refresh(self, history: pd.DataFrame) -> LGBMForecaster:
        """Same trees, newer history: move the origin to the history's last date without refitting."""
        panel = build_panel(history, self.freq_, prices=self.price_kind)
        self.snapshot_ = origin_snapshot(panel, len(panel.dates) - 1, self.horizon)
        self._extend_calendar(panel.end + STEP[self.freq_] * self.horizon)
        return self

    @property
    def price_kind(self) -> str:
        """What the history's prices are; a model pickled before `prices` existed read them as set."""
        return getattr(self, "prices", "set")

    def _extend_calendar(self, until: pd.Timestamp) -> None:
        current_end = min(table.index.max() for table in self.calendar_.values())
        platforms = sorted(set(self.snapshot_.keys["platform"]))
        missing = [p for p in platforms if p not in self.calendar_]
        if until > current_end or missing:
            start = min(table.index.min() for table in self.calendar_.values())
            market = getattr(self, "market", "CN")  # bundles pickled before markets existed are Chinese
            self.calendar_ = calendar_tables(
                platforms, start, max(until, current_end), self.events_, self.freq_, market
            )

    @property
    def used_features(self) -> list[str]:
        """The features the trees were fitted on (a bundle pickled before `features_`: its booster's)."""
        features = getattr(self, "features_", None)
        return list(features) if features is not None else list(self.booster_.feature_name())

    @property
    def used_extras(self) -> list[str]:
        """The extra promotion columns the trees read (none for a model saved before they existed)."""
        return list(getattr(self, "promo_extras_", []))

    @property
    def origin_(self) -> pd.Timestamp:
        return self.snapshot_.origin

    def predict_frame_features(self, future: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
        """The feature rows for `future` (same order) and their offsets."""
        plan = plan_for(self.snapshot_, future, self.used_extras)
        horizon_end = self.snapshot_.origin + STEP[self.freq_] * int(plan["h"].max())
        if horizon_end > min(table.index.max() for table in self.calendar_.values()):
            self._extend_calendar(horizon_end)
        grid = grid_features(
            self.snapshot_,
            plan["series"],
            plan["price"],
            plan["discount"],
            plan["on_promo"],
            self.calendar_,
            extras=plan["extras"],
        )
        horizon = plan["price"].shape[1]
        rows = plan["position"] * horizon + plan["h"] - 1
        features = grid.iloc[rows].reset_index(drop=True)
        return features, series_base(features)

    def predict_from_features(self, features: pd.DataFrame, base: np.ndarray) -> np.ndarray:
        # one thread for small requests: thread start-up costs more than the trees, and on the
        # shared 2-core machine a second training thread measured 7x slower than one
        threads = 1 if len(features) < 5000 else self.num_threads
        raw = self.booster_.predict(features[self.used_features], raw_score=True, num_threads=threads)
        if self.offset:
            raw = raw + np.log(base)
        return np.exp(raw)

    def predict(self, future: pd.DataFrame) -> pd.DataFrame:
        features, base = self.predict_frame_features(future)
        return future.assign(**{self.name: self.predict_from_features(features, base)})

    def cold_start(self, future: pd.DataFrame) -> np.ndarray:
        """Per requested row: is its series forecast from its category and price band?"""
        plan = plan_for(self.snapshot_, future)
        flags = self.snapshot_.stats["cold_start"].to_numpy()[plan["series"]]
        return flags[plan["position"]].astype(bool)
