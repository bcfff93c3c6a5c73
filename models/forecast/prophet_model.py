"""Prophet per series: Chinese public holidays and e-commerce event windows as `holidays`, promotion
inputs (discount depth, on_promo) as regressors known in advance, long-tail series pooled.

    forecaster = ProphetForecaster(n_jobs=2).fit(history, events=dataset.events, freq="D")
    future_with_forecast = forecaster.predict(future)   # adds column `prophet` (mean units, >= 0)

What each model was told is readable: `forecaster.holidays_[platform]` is the Prophet holidays frame
(ds, holiday, lower_window, upper_window: "double11_peak from 2025-11-01, upper_window 10"),
`forecaster.pooled_series_` lists the pooled series and why, `forecaster.fit_notes_` what was
simplified for which series (flat mean, a promotion input dropped).

Choices, each checked on the simulator's small sample against its true expected units:
- Target log1p(units), mean recovered with Duan's smearing factor: promotions and events multiply
  demand, log space makes them additive for Prophet and keeps a count's forecast positive; raw units
  had the higher WAPE on two brands of three and overall.
- One Prophet effect per day of each event window (`holiday_effect="day"`, Prophet's own reading of
  lower/upper windows); `"phase"` (one effect per presale/peak/day phase) fits about twice as fast.
- on_promo joins discount only when some promotions come without a price cut; otherwise the two are
  near copies and split the effect with opposite signs. A promotion input whose effect still comes
  out negative is dropped and the series refitted: a deeper discount never lowers a forecast.
- Days out of stock are missing values, not zero demand. Series with under `min_history_days` of
  history get a flat trend: a launch ramp extrapolated in log space explodes.

Unknown series in `predict` raise `NotFoundError` (the contract is "rows for known series"); pass
`unknown_series="zero"` to get 0 and `prophet_unknown=True` instead, e.g. inside an ensemble that
handles cold starts itself.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
from joblib import Parallel, delayed

from daiyun.features.calendar import event_windows, public_holidays
from daiyun.features.errors import NotFoundError, RequestError
from daiyun.models.forecast.pooling import (
    POOL_KEYS,
    SERIES_KEYS,
    intermittent_series,
    pool_history,
    pool_shares,
    series_profile,
)


def _quiet() -> None:
    # cmdstanpy logs every optimisation; prophet logs seasonality choices and, on import, plotly's absence
    cmdstanpy_logger = logging.getLogger("cmdstanpy")
    if not cmdstanpy_logger.handlers:
        # cmdstanpy installs its own INFO handler (and level DEBUG) on a logger that has none
        cmdstanpy_logger.addHandler(logging.NullHandler())
    cmdstanpy_logger.setLevel(logging.ERROR)
    logging.getLogger("prophet").setLevel(logging.ERROR)
    logging.getLogger("prophet.plot").setLevel(logging.CRITICAL)


_quiet()

logger = logging.getLogger("daiyun.models")
REGRESSORS = ("discount", "on_promo")
HISTORY_COLUMNS = ["platform", "sku_id", "category", "date", "units", "in_stock", *REGRESSORS]
FUTURE_COLUMNS = ["platform", "sku_id", "date", *REGRESSORS]
PROMOTIONS_WITHOUT_CUT = 0.1  # share of promotion days without a discount for on_promo to say more
HOLIDAY_HORIZON_DAYS = 400  # holidays must cover every date predict may be asked for


# ----------------------------------------------------------------------------------------- holidays
def _week_start(dates: pd.Series | pd.DatetimeIndex, anchor_weekday: int) -> pd.DatetimeIndex:
    dates = pd.DatetimeIndex(dates)
    return dates - pd.to_timedelta((dates.weekday - anchor_weekday) % 7, unit="D")


def _holiday_name(name: str, phase: str = "") -> str:
    name, phase = str(name), str(phase)
    # "cny_slowdown" + "slowdown" reads better as "cny_slowdown"
    label = f"{name}_{phase}" if phase and not name.lower().endswith(phase.lower()) else name
    return "".join(c if c.isalnum() else "_" for c in label.strip().lower()).strip("_") or "event"


def prophet_holidays(
    start: pd.Timestamp,
    end: pd.Timestamp,
    events: pd.DataFrame | None = None,
    platform: str | None = None,
    freq: str = "D",
    anchor_weekday: int = 0,
    brand: str | None = None,
    effect: str = "day",
    market: str = "CN",
) -> pd.DataFrame:
    """The Prophet `holidays` frame: ds, holiday, lower_window, upper_window.

    `effect="phase"`: one effect per event phase (double11_peak lifts every day of Nov 1-11 alike),
    written as one row per day of the window with windows 0. `effect="day"`: one row per window, ds =
    its first day, upper_window = its length - 1, and Prophet learns a separate effect for each day of
    it (legible, but ~150 effects each seen once or twice in two years of history: it fits noise).
    Weekly data: one row per week start a window touches, windows 0 (Prophet's windows count days).
    """
    if effect not in ("phase", "day"):
        raise RequestError("effect", f"'{effect}' is not a holiday effect", "use 'phase' or 'day'")
    start, end = pd.Timestamp(start), pd.Timestamp(end)
    windows = event_windows(start, end, events=events, brand=brand, platform=platform, market=market)
    names = zip(windows["name"], windows["phase"].fillna(""), strict=True)
    windows = windows.assign(holiday=[_holiday_name(n, p) for n, p in names])[["holiday", "start", "end"]]
    public = public_holidays(start, end, market).rename(columns={"name": "holiday"})
    windows = pd.concat([windows, public], ignore_index=True)
    windows["start"] = pd.to_datetime(windows["start"])
    windows["end"] = pd.to_datetime(windows["end"])
    if freq == "D" and effect == "day":
        frame = pd.DataFrame({
            "holiday": windows["holiday"],
            "ds": windows["start"],
            "lower_window": 0,
            "upper_window": (windows["end"] - windows["start"]).dt.days.astype(int),
        })
    else:
        rows = []
        for holiday, first, last in windows.itertuples(index=False):
            days = pd.date_range(first, last, freq="D")
            days = _week_start(days, anchor_weekday).unique() if freq == "W" else days
            rows.extend((holiday, day) for day in days)
        frame = pd.DataFrame(rows, columns=["holiday", "ds"]).drop_duplicates()
        frame["lower_window"] = 0
        frame["upper_window"] = 0
    frame = frame.sort_values(["ds", "holiday"]).reset_index(drop=True)
    return frame[["ds", "holiday", "lower_window", "upper_window"]]


# ---------------------------------------------------------------------------------- one fitted series
@dataclass
class SeriesModel:
    """One fitted Prophet (or a flat mean when there was too little to fit), on log1p or units.

    Prophet's own predict rebuilds every holiday and seasonality column on each call (~50-100 ms a
    series). Everything but the promotion inputs depends on the date alone, and the model is additive
    in them, so fit stores `base` (Prophet's yhat with the regressors at their centres) on a date grid
    from the first history date to `HOLIDAY_HORIZON_DAYS` past the last; predict then is
    base[date] + coef . (inputs - centre). Dates off the grid take Prophet's own predict.
    """

    prophet: object | None
    regressors: tuple[str, ...]
    target: str
    smearing: float = 1.0
    level: float = 0.0  # the flat forecast when prophet is None
    note: str = ""
    grid_start: pd.Timestamp | None = None
    grid_step_days: int = 1
    base: np.ndarray | None = None
    coef: np.ndarray | None = None
    center: np.ndarray | None = None

    def predict(self, dates: pd.DatetimeIndex, inputs: pd.DataFrame) -> np.ndarray:
        if self.prophet is None:
            return np.full(len(dates), self.level, dtype=float)
        return self._to_units(self.predict_target(dates, inputs))

    def predict_target(self, dates: pd.DatetimeIndex, inputs: pd.DataFrame) -> np.ndarray:
        """Prophet's yhat (log1p units or units) for these dates and promotion inputs."""
        dates = pd.DatetimeIndex(dates)
        promotion = np.column_stack([inputs[name].to_numpy(float) for name in self.regressors]) if (
            self.regressors) else np.zeros((len(dates), 0))
        yhat = np.empty(len(dates), dtype=float)
        on_grid = np.zeros(len(dates), dtype=bool)
        if self.base is not None:
            offset = (dates - self.grid_start).days.to_numpy()
            position = offset // self.grid_step_days
            on_grid = (offset % self.grid_step_days == 0) & (position >= 0) & (position < len(self.base))
            yhat[on_grid] = self.base[position[on_grid]] + (promotion[on_grid] - self.center) @ self.coef
        if not on_grid.all():
            frame = pd.DataFrame({"ds": dates[~on_grid]})
            for column, name in enumerate(self.regressors):
                frame[name] = promotion[~on_grid, column]
            yhat[~on_grid] = self.prophet.predict(frame)["yhat"].to_numpy(float)
        return yhat

    def _to_units(self, yhat: np.ndarray) -> np.ndarray:
        if self.target == "log1p":
            # cap before exp: a runaway trend must not overflow; 20 = 5e8 units a day
            units = np.exp(np.minimum(yhat, 20.0)) * self.smearing - 1.0
        else:
            units = yhat
        return np.clip(units, 0.0, None)

    def attach_grid(self, first: pd.Timestamp, last: pd.Timestamp, step_days: int) -> None:
        """Precompute `base` over [first, last] and the regressors' coefficients (see the class doc)."""
        model = self.prophet
        grid = pd.date_range(first, last, freq=f"{step_days}D")
        frame = pd.DataFrame({"ds": grid})
        center, coef = [], []
        for name in self.regressors:
            props = model.extra_regressors[name]
            beta = float(np.mean(model.params["beta"][:, _regressor_column(model, name)]))
            center.append(props["mu"])
            coef.append(beta * model.y_scale / props["std"])
            frame[name] = props["mu"]
        self.center = np.asarray(center, dtype=float)
        self.coef = np.asarray(coef, dtype=float)
        # float32: log-units need no more, and it halves what a brand's pickle carries
        self.base = model.predict(frame)["yhat"].to_numpy().astype(np.float32)
        self.grid_start = grid[0]
        self.grid_step_days = step_days


def _regressor_column(model, name: str) -> int:
    from prophet.utilities import regressor_index

    return regressor_index(model, name)


def _fit_series(frame: pd.DataFrame, holidays: pd.DataFrame | None, settings: dict) -> SeriesModel:
    """Fit one Prophet on ds, units, regressors (units NaN on out-of-stock days). Runs in a worker."""
    _quiet()
    target = settings["target"]
    observed = frame["units"].notna()
    y = frame["units"].astype(float)
    y = np.log1p(y.clip(lower=0)) if target == "log1p" else y
    recent = frame.loc[observed, "units"].tail(settings["flat_days"])
    level = float(recent.mean()) if len(recent) else 0.0
    if observed.sum() < settings["min_points"] or frame.loc[observed, "units"].sum() <= 0:
        return SeriesModel(None, (), target, level=level, note="too little data: flat recent mean")
    # a regressor that never moves in the fitted days carries no information, and Prophet's
    # standardisation would divide by its zero spread
    regressors = tuple(r for r in settings["promotion_inputs"] if frame.loc[observed, r].nunique() > 1)
    if {"discount", "on_promo"} <= set(regressors):
        # when every promotion cuts the price, on_promo repeats discount and the two split the effect,
        # often with opposite signs; it joins only when some promotions (display, livestream slots)
        # come without a price cut
        promo_days = observed & frame["on_promo"].gt(0)
        without_cut = float(frame.loc[promo_days, "discount"].le(0).mean()) if promo_days.any() else 0.0
        if without_cut < PROMOTIONS_WITHOUT_CUT:
            regressors = tuple(r for r in regressors if r != "on_promo")
    observed_dates = frame.loc[observed, "date"]
    span_days = (observed_dates.max() - observed_dates.min()).days + 1
    # a trend read off a few weeks (a launch ramp, say) explodes once extrapolated in log space
    growth = "linear" if span_days >= settings["min_history_days"] else "flat"
    train = pd.DataFrame({"ds": frame["date"].to_numpy(), "y": y.to_numpy()})
    for name in REGRESSORS:
        train[name] = frame[name].to_numpy(float)
    grid = (train["ds"].min(), train["ds"].max() + pd.Timedelta(days=HOLIDAY_HORIZON_DAYS),
            7 if settings["freq"] == "W" else 1)
    try:
        model = _prophet_fit(train, holidays, regressors, growth, settings)
        fitted = SeriesModel(model, regressors, target, level=level)
        fitted.attach_grid(*grid)
        # a deeper discount or a promotion never lowers demand; a negative coefficient is the fit
        # mistaking clearance markdowns or event timing for the promotion's effect: refit without it
        wrong_sign = [name for name, coef in zip(regressors, fitted.coef, strict=True) if coef < 0]
        if wrong_sign:
            regressors = tuple(r for r in regressors if r not in wrong_sign)
            model = _prophet_fit(train, holidays, regressors, growth, settings)
            note = f"refitted without {', '.join(wrong_sign)}: its effect came out negative"
            fitted = SeriesModel(model, regressors, target, level=level, note=note)
            fitted.attach_grid(*grid)
    except Exception as error:  # one bad series must not stop a brand's run
        return SeriesModel(None, (), target, level=level, note=f"prophet failed ({error}): flat recent mean")
    if target == "log1p":
        seen = train.loc[observed.to_numpy()]
        in_sample = fitted.predict_target(pd.DatetimeIndex(seen["ds"]), seen)
        residuals = seen["y"].to_numpy() - in_sample
        # Duan's smearing: E[exp(log-forecast + error)] without assuming normal errors; capped so a
        # few wild days cannot inflate every forecast
        fitted.smearing = float(min(np.mean(np.exp(np.clip(residuals, -5, 5))), 3.0))
    return fitted


def _prophet_fit(train: pd.DataFrame, holidays: pd.DataFrame | None, regressors: tuple[str, ...],
                 growth: str, settings: dict):
    from prophet import Prophet  # imported here, after _quiet, so its import-time warnings stay quiet

    model = Prophet(
        growth=growth,
        yearly_seasonality=settings["yearly_seasonality"],
        weekly_seasonality=settings["weekly_seasonality"],
        daily_seasonality=False,
        holidays=holidays if holidays is not None and len(holidays) else None,
        changepoint_prior_scale=settings["changepoint_prior_scale"],
        seasonality_prior_scale=settings["seasonality_prior_scale"],
        holidays_prior_scale=settings["holidays_prior_scale"],
        uncertainty_samples=settings["uncertainty_samples"],
    )
    for name in regressors:
        model.add_regressor(name, prior_scale=settings["regressor_prior_scale"])
    model.fit(train[["ds", "y", *regressors]])
    # the Stan handles point at temp files and are not needed to predict; dropping them keeps pickles small
    model.stan_fit = None
    model.stan_backend = None
    return model


def _series_keys(frame: pd.DataFrame) -> list[tuple[str, str]]:
    return list(frame[SERIES_KEYS].itertuples(index=False, name=None))


# --------------------------------------------------------------------------------------- forecaster
class ProphetForecaster:
    """Prophet per (platform, sku) for one brand; intermittent and short series pooled per (platform,
    category) and shared down by recent units. scikit-learn style: fit returns self, state ends in `_`."""

    def __init__(
        self,
        intermittent_zero_share: float = 0.6,
        min_history_days: int = 90,
        n_jobs: int = 2,
        uncertainty_samples: int = 0,
        yearly_seasonality: bool | str = "auto",
        weekly_seasonality: bool | str = "auto",
        changepoint_prior_scale: float = 0.05,
        seasonality_prior_scale: float = 10.0,
        holidays_prior_scale: float = 10.0,
        regressor_prior_scale: float = 10.0,
        holiday_effect: str = "day",
        promotion_inputs: tuple[str, ...] = REGRESSORS,
        target: str = "log1p",
        share_days: int = 90,
        unknown_series: str = "error",
        progress: bool = False,
        market: str = "CN",
    ) -> None:
        self.intermittent_zero_share = intermittent_zero_share
        self.min_history_days = min_history_days
        self.n_jobs = n_jobs
        self.uncertainty_samples = uncertainty_samples
        self.yearly_seasonality = yearly_seasonality
        self.weekly_seasonality = weekly_seasonality
        self.changepoint_prior_scale = changepoint_prior_scale
        self.seasonality_prior_scale = seasonality_prior_scale
        self.holidays_prior_scale = holidays_prior_scale
        self.regressor_prior_scale = regressor_prior_scale
        self.holiday_effect = holiday_effect
        self.promotion_inputs = promotion_inputs
        self.target = target
        self.share_days = share_days
        self.unknown_series = unknown_series
        self.progress = progress
        self.market = market  # the data directory's market: whose public holidays and festivals apply

    # ------------------------------------------------------------------------------------------ fit
    def fit(
        self, history: pd.DataFrame, events: pd.DataFrame | None = None, freq: str = "D"
    ) -> ProphetForecaster:
        """Fit every series of ONE brand. `history`: platform, sku_id, category, date, units, price,
        discount, on_promo, in_stock; `events`: the user's events table (Dataset.events)."""
        if self.target not in ("log1p", "units"):
            raise RequestError("target", f"'{self.target}' is not a target", "use 'log1p' or 'units'")
        if self.unknown_series not in ("error", "zero"):
            raise RequestError(
                "unknown_series", f"'{self.unknown_series}' is not allowed", "use 'error' or 'zero'"
            )
        unknown_inputs = sorted(set(self.promotion_inputs) - set(REGRESSORS))
        if unknown_inputs:
            raise RequestError("promotion_inputs", f"{unknown_inputs} are not promotion inputs",
                               f"choose from {list(REGRESSORS)}")
        if freq not in ("D", "W"):
            raise RequestError("freq", f"'{freq}' is not a frequency", "use 'D' (daily) or 'W' (weekly)")
        missing = [c for c in HISTORY_COLUMNS if c not in history.columns]
        if missing:
            raise RequestError(
                "history", f"missing column(s) {missing}",
                "pass dataset.for_brand(b).sales merged with products[['sku_id', 'category']]",
            )
        if "brand" in history.columns and history["brand"].nunique() > 1:
            raise RequestError(
                "history.brand", "one forecaster is fitted per brand (tenant boundary)",
                "fit on dataset.for_brand(brand).sales",
            )
        if history.empty:
            raise RequestError("history", "no rows to fit", "pass a brand's sales history")
        brand = str(history["brand"].iloc[0]) if "brand" in history.columns else None
        history = history[HISTORY_COLUMNS].copy()
        history["date"] = pd.to_datetime(history["date"])
        for name in ("units", *REGRESSORS):
            history[name] = history[name].astype(float).fillna(0.0)
        history["in_stock"] = history["in_stock"].fillna(1).astype(int)
        history = history.sort_values(SERIES_KEYS + ["date"]).reset_index(drop=True)

        self.freq_ = freq
        self.history_start_ = history["date"].min()
        self.history_end_ = history["date"].max()
        self.anchor_weekday_ = int(self.history_end_.weekday())
        self.holidays_ = {
            platform: prophet_holidays(
                self.history_start_, self.history_end_ + pd.Timedelta(days=HOLIDAY_HORIZON_DAYS),
                events=events, platform=platform, freq=freq, anchor_weekday=self.anchor_weekday_, brand=brand,
                effect=self.holiday_effect, market=getattr(self, "market", "CN"),
            )
            for platform in sorted(history["platform"].unique())
        }

        profile = series_profile(history)
        pooled = intermittent_series(profile, self.intermittent_zero_share, self.min_history_days)
        self.series_ = profile[SERIES_KEYS + ["category", "zero_share", "history_days"]].copy()
        pooled_index = pd.MultiIndex.from_frame(pooled[SERIES_KEYS])
        self.series_["pooled"] = pd.MultiIndex.from_frame(self.series_[SERIES_KEYS]).isin(pooled_index)
        self.pooled_series_ = pooled
        is_pooled = pd.MultiIndex.from_frame(history[SERIES_KEYS]).isin(pooled_index)
        own_history, pool_members = history.loc[~is_pooled], history.loc[is_pooled]
        self.pool_shares_ = pool_shares(pool_members, self.share_days) if len(pool_members) else (
            pd.DataFrame(columns=SERIES_KEYS + ["category", "share"])
        )

        tasks: list[tuple[tuple, pd.DataFrame, str]] = []
        for key, frame in own_history.groupby(SERIES_KEYS, sort=True):
            tasks.append((("series", *key), frame, key[0]))
        if len(pool_members):
            for key, frame in pool_history(pool_members).groupby(POOL_KEYS, sort=True):
                tasks.append((("pool", *key), frame, key[0]))

        settings = self._settings(freq)
        jobs = (
            delayed(_fit_series)(self._fit_frame(frame), self.holidays_[platform], settings)
            for _, frame, platform in tasks
        )
        runner = Parallel(n_jobs=self.n_jobs, backend="loky", return_as="generator")
        fitted = self._collect(runner(jobs), len(tasks))
        self.models_ = {key: model for (key, _, _), model in zip(tasks, fitted, strict=True)}
        self.fit_notes_ = {key: model.note for key, model in self.models_.items() if model.note}
        # a series whose Prophet failed answers with its flat recent mean: said, never silent
        notes = self.fit_notes_
        self.failed_series_ = {key: note for key, note in notes.items() if note.startswith("prophet failed")}
        if self.failed_series_:
            first, why = next(iter(self.failed_series_.items()))
            logger.warning("Prophet failed on %d of %d series, which forecast their flat recent mean "
                           "(first: %s: %s)", len(self.failed_series_), len(self.models_), first, why)
        self._category = self.series_.set_index(SERIES_KEYS)["category"].to_dict()
        self._share = self.pool_shares_.set_index(SERIES_KEYS)["share"].to_dict()
        return self

    def _settings(self, freq: str) -> dict:
        return {
            "target": self.target,
            "freq": freq,
            "promotion_inputs": tuple(self.promotion_inputs),
            "min_history_days": self.min_history_days,
            "yearly_seasonality": self.yearly_seasonality,
            # weekly data has one point a week: nothing for a weekly cycle to explain
            "weekly_seasonality": False if freq == "W" else self.weekly_seasonality,
            "changepoint_prior_scale": self.changepoint_prior_scale,
            "seasonality_prior_scale": self.seasonality_prior_scale,
            "holidays_prior_scale": self.holidays_prior_scale,
            "regressor_prior_scale": self.regressor_prior_scale,
            "uncertainty_samples": self.uncertainty_samples,
            "min_points": 4 if freq == "W" else 14,
            "flat_days": 13 if freq == "W" else 90,
        }

    @staticmethod
    def _fit_frame(frame: pd.DataFrame) -> pd.DataFrame:
        """date, units, regressors; units NaN when out of stock (unsold because unsellable, not unwanted)."""
        units = frame["units"].where(frame["in_stock"].astype(bool))
        return pd.DataFrame({
            "date": frame["date"].to_numpy(),
            "units": units.to_numpy(float),
            **{name: frame[name].to_numpy(float) for name in REGRESSORS},
        })

    def _collect(self, results, total: int) -> list[SeriesModel]:
        if not self.progress:
            return list(results)
        from rich.progress import Progress

        collected = []
        with Progress(transient=True) as progress:
            task = progress.add_task("Prophet fits", total=total)
            for model in results:
                collected.append(model)
                progress.advance(task)
        return collected

    # -------------------------------------------------------------------------------------- predict
    def predict(self, future: pd.DataFrame) -> pd.DataFrame:
        """`future`: platform, sku_id, date, price, discount, on_promo for known series. Returns the same
        rows in the same order plus `prophet` (mean units, >= 0)."""
        if not hasattr(self, "models_"):
            raise RequestError("forecaster", "not fitted", "call fit(history) first")
        missing = [c for c in FUTURE_COLUMNS if c not in future.columns]
        if missing:
            raise RequestError("future", f"missing column(s) {missing}", "add the promotion plan's columns")
        result = future.copy()
        forecast = np.zeros(len(future), dtype=float)
        if future.empty:
            result["prophet"] = forecast
            return result

        inputs = pd.DataFrame({
            "platform": future["platform"].astype(str).to_numpy(),
            "sku_id": future["sku_id"].astype(str).to_numpy(),
            "date": pd.to_datetime(future["date"]).to_numpy(),
            **{name: future[name].astype(float).fillna(0.0).to_numpy() for name in REGRESSORS},
        })
        inputs["row"] = np.arange(len(inputs))
        keys = _series_keys(inputs)
        known = np.array([key in self._category for key in keys], dtype=bool)
        if not known.all():
            unknown = sorted({f"{p}/{s}" for (p, s), k in zip(keys, known, strict=True) if not k})
            if self.unknown_series == "error":
                name = unknown[0] + (f" (and {len(unknown) - 1} more)" if len(unknown) > 1 else "")
                raise NotFoundError("platform/sku_id", name, [f"{p}/{s}" for p, s in self._category])
            result["prophet_unknown"] = ~known
        inputs = inputs.loc[known]
        pooled = np.array([key in self._share for key in _series_keys(inputs)], dtype=bool)

        # series with their own model: one predict call over all their distinct dates
        for (platform, sku_id), rows in inputs.loc[~pooled].groupby(["platform", "sku_id"], sort=False):
            forecast[rows["row"].to_numpy()] = self._predict_dates(("series", platform, sku_id), rows)

        # pooled series: forecast the pool once per date, then each member gets its share
        if pooled.any():
            members = self._with_pool_forecast(inputs.loc[pooled])
            pool_units = members["prophet_pool"].to_numpy()
            forecast[members["row"].to_numpy()] = pool_units * members["share"].to_numpy()
        result["prophet"] = forecast
        return result

    def _predict_dates(self, key: tuple, rows: pd.DataFrame) -> np.ndarray:
        # duplicate dates for one series (rare) take their first row's promotion inputs
        per_date = rows.drop_duplicates("date").set_index("date").sort_index()[list(REGRESSORS)]
        values = pd.Series(self._predict_frame(key, per_date), index=per_date.index)
        return values.reindex(rows["date"]).to_numpy()

    def _predict_frame(self, key: tuple, per_date: pd.DataFrame) -> np.ndarray:
        model = self.models_.get(key)
        if model is None:  # a pool whose every member was unknown at fit time cannot happen; be safe
            return np.zeros(len(per_date))
        return model.predict(pd.DatetimeIndex(per_date.index), per_date)

    # ------------------------------------------------------------------------------------- reading
    def _with_pool_forecast(self, members: pd.DataFrame) -> pd.DataFrame:
        """Pooled rows plus category, share and their pool's forecast for the row's date (prophet_pool)."""
        keys = _series_keys(members)
        members = members.assign(
            category=[self._category[key] for key in keys], share=[self._share[key] for key in keys]
        )
        pools = []
        for (platform, category), rows in members.groupby(POOL_KEYS, sort=False):
            # the pool's promotion inputs are its members' means per date, as in fit
            per_date = rows.groupby("date", sort=True)[list(REGRESSORS)].mean()
            pools.append(pd.DataFrame({
                "platform": platform, "category": category, "date": per_date.index,
                "prophet_pool": self._predict_frame(("pool", platform, category), per_date),
            }))
        return members.merge(pd.concat(pools, ignore_index=True), on=[*POOL_KEYS, "date"], how="left")

    def pool_forecast(self, future: pd.DataFrame) -> pd.DataFrame:
        """The pool-level forecast behind the pooled rows of `future`: platform, category, date, prophet_pool.
        Summing the pooled members' `prophet` over a pool gives it back when every member is asked for."""
        keys = _series_keys(future[SERIES_KEYS].astype(str))
        members = future.loc[[key in self._share for key in keys]]
        if members.empty:
            return pd.DataFrame(columns=["platform", "category", "date", "prophet_pool"])
        members = pd.DataFrame({
            "platform": members["platform"].astype(str).to_numpy(),
            "sku_id": members["sku_id"].astype(str).to_numpy(),
            "date": pd.to_datetime(members["date"]).to_numpy(),
            **{name: members[name].astype(float).fillna(0.0).to_numpy() for name in REGRESSORS},
        })
        pools = self._with_pool_forecast(members)
        return pools[["platform", "category", "date", "prophet_pool"]].drop_duplicates(ignore_index=True)
