"""Per-brand response model: platform revenue = baseline + its channels' response curves, plus halo.

For each platform p and date t

    revenue_pt = exp(X_pt . gamma_p) + sum_{c in p} beta_c * hill(adstock_c(spend_c)_t) * mix_pt

The log-linear baseline (`daiyun.models.budget.baseline`) absorbs trend, week, year, event phases,
promotions and how much of the catalogue was sellable. mix_pt = (1 - s_p) + s_p x traffic_pt: a
share s_p of the ads' effect scales with how busy the platform is that day (the calendar-only
traffic index of `daiyun.models.budget.traffic`; s_p is searched, 0 = effects that add to sales).
Given the curve hyperparameters (decay, shape, half-saturation per channel, the ridge penalty and
s_p) the fit of gamma and beta (beta >= 0) is a few Gauss-Newton steps, milliseconds; the
hyperparameters are searched with Optuna (then a short Powell refinement): each trial is fitted
on the dates before an out-of-time holdout (the last ~12%) and scored on every date by default
(`search_on="both"`), inside bounds that keep curves plausible (decay <= 0.9, shape in [0.5, 3],
half-saturation within the observed spend range).

Lift tests (the `experiments` table) enter the fit and the search loss as a penalty on the gap
between the test's measured incremental revenue and what the curve says the test's spend added
(carry-over included), weighted at least CALIBRATION_WEIGHT x the data's own information on that
channel. An optional weak prior on each channel's ROI (the platform's attributed ROI times a
discount the user sets or the lift tests measure) settles channels nothing else can. Halo: each
shelf platform's (Tmall, JD, PDD) baseline is refitted with the content platforms' (Douyin,
Kuaishou, Xiaohongshu) channels as extra columns (ridge, coefficients >= 0), and a channel's curve
is credited with what it lifts there. A block bootstrap
of the residuals, refitted with every hyperparameter set almost as good as the best, gives draws
of every curve, from which any allocation gets an interval.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from daiyun.models.budget.attribution import AttributionShape, fit_attribution_shape
from daiyun.models.budget.baseline import baseline_design
from daiyun.models.budget.curves import geometric_adstock, half_from_ratio, hill
from daiyun.models.budget.traffic import fit_traffic, traffic_index

HALO_COLUMNS = ["channel", "platform", "beta"]
# 种草 / 拔草: content platforms' ads seed demand that is harvested by search on the shelf platforms.
# By default a halo is looked for only along that path (`halo_from` / `halo_to`; None = any platform):
# allowed everywhere, a shelf platform's channel timed with the events was credited on another shelf
# platform's event sales (budget family, draws 100-147: median regret 0.036 with any path -> 0.033)
CONTENT_PLATFORMS = ("douyin", "kuaishou", "xiaohongshu", "xhs")
SHELF_PLATFORMS = ("tmall", "jd", "pdd")
CALIBRATION_WEIGHT = 4.0  # a lift test outweighs the observational data on its channel's level 4:1


@dataclass
class PlatformFit:
    """What was learned for one platform (hyperparameters, coefficients, fitted decomposition)."""

    platform: str
    channels: list[str]
    decay: np.ndarray
    shape: np.ndarray
    half_saturation: np.ndarray
    ridge: float
    beta: np.ndarray = field(default_factory=lambda: np.zeros(0))
    oot_abs_error: float = 0.0
    oot_actual: float = 0.0
    top_hyper: list[dict] = field(default_factory=list)
    # how much of the effect scales with the platform's traffic index (the platform's, or per channel)
    traffic_share: float | np.ndarray = 0.0
    traffic: tuple[np.ndarray, float] | None = None  # the platform's traffic index (coefficients, level)


def _features(spend: np.ndarray, decay: np.ndarray, half: np.ndarray, shape: np.ndarray) -> np.ndarray:
    return hill(geometric_adstock(spend, decay), half, shape)


class _PlatformProblem:
    """The numbers of one platform's fit that do not change between hyperparameter trials."""

    def __init__(
        self,
        rows: pd.DataFrame,
        channels: list[str],
        freq: str,
        holdout_start: pd.Timestamp | None,
        prior_roi: np.ndarray | None = None,
        prior_weight: float = 0.0,
        half_range: tuple[float, float] = (0.99, 2.0),
        experiments: pd.DataFrame | None = None,
        traffic: bool = True,
        prior_spread: float | None = None,
    ) -> None:
        self.prior_roi = None if prior_roi is None else np.asarray(prior_roi, dtype=float)
        self.prior_weight = prior_weight
        self.prior_spread = prior_spread
        rows = rows.sort_values("date").reset_index(drop=True)
        self.dates = pd.to_datetime(rows["date"]).to_numpy()
        self.y = rows["revenue"].to_numpy(dtype=float)
        self.spend = rows[channels].to_numpy(dtype=float) if channels else np.zeros((len(rows), 0))
        self.train = (
            np.ones(len(rows), bool) if holdout_start is None else self.dates < np.datetime64(holdout_start)
        )
        raw, self.base_names = baseline_design(rows, freq)
        if not self.train.all():
            # the trend is held at its last known value: an extrapolated slope in log space
            # would decide the out-of-time error more than any curve does
            last = np.flatnonzero(self.train)[-1]
            for j, name in enumerate(self.base_names):
                if name.startswith("trend"):
                    raw[last + 1 :, j] = raw[last, j]
        center = raw[self.train].mean(axis=0)
        scale = raw[self.train].std(axis=0)
        center[0], scale[0] = 0.0, 1.0
        self.base = (raw - center) / np.where(scale > 0, scale, 1.0)
        self.y_scale = max(float(np.mean(self.y[self.train])), 1e-9)
        positive = [s[s > 0] for s in self.spend.T]
        self.typical = np.array([np.median(p) if p.size else 0.0 for p in positive])
        # the half-saturation range: the observed spread of daily spend around its median, up to
        # its 99th percentile (at least twice the median): past the spend ever seen, the data cannot
        # tell a curve that keeps rising from one that has flattened, and betting on the former
        # is how a budget gets poured into a channel
        self.ratio_low = np.array(
            [
                min(0.3, np.quantile(p, 0.02) / m) if p.size else 0.3
                for p, m in zip(positive, self.typical, strict=True)
            ]
        )
        top, floor = half_range
        self.ratio_high = np.array(
            [
                max(floor, np.quantile(p, top) / m) if p.size else floor
                for p, m in zip(positive, self.typical, strict=True)
            ]
        )
        self.active = self.typical > 0
        self._starts: dict[bytes, np.ndarray] = {}
        # the traffic index (1 = an average day): a share of each channel's effect scales with it
        self.traffic_fit: tuple[np.ndarray, float] | None = None
        self.traffic = np.ones(len(rows))
        if traffic and len(rows) > 30:
            self.traffic_fit = fit_traffic(rows.loc[self.train], self.y[self.train])
            self.traffic = traffic_index(rows, *self.traffic_fit)
        self.tests = self._lift_tests(experiments, channels)
        spread_prior = self.prior_roi is not None and self.prior_spread is not None
        self.dispersion = self._dispersion() if self.tests or spread_prior else 1.0

    def _lift_tests(self, experiments: pd.DataFrame | None, channels: list[str]) -> list[tuple]:
        """(channel index, spend with the test's spend removed, measured revenue, its standard error),
        in the fit's scaled units, for each lift test of this platform's channels inside the history."""
        if experiments is None or experiments.empty:
            return []
        tests = []
        for row in experiments.itertuples(index=False):
            if row.channel not in channels:
                continue
            window = (self.dates >= np.datetime64(row.start)) & (self.dates <= np.datetime64(row.end))
            j = channels.index(row.channel)
            if not window.any() or not self.spend[window, j].any():
                continue
            measured = row.incremental_revenue
            if not np.isfinite(measured):  # a relative lift of the platform's revenue in the window
                measured = row.lift / (1.0 + row.lift) * self.y[window].sum()
            without = self.spend[:, j].copy()
            without[window] = 0.0
            tests.append((j, without, measured / self.y_scale, row.standard_error / self.y_scale))
        return tests

    def _dispersion(self) -> float:
        """Variance of revenue around a baseline-only fit, per unit of level (the fit's weights):
        what puts a lift test's chi-square on the scale of the revenue fit's squared errors."""
        rows = self.train
        target = self.y[rows] / self.y_scale
        gamma = self._start(rows, target, np.zeros(self.base.shape[1]))
        fitted = np.exp(np.clip(self.base[rows] @ gamma, -30.0, 30.0))
        return float(np.mean((target - fitted) ** 2 / np.maximum(fitted, 0.05)))

    def mix(self, share: float | np.ndarray) -> np.ndarray:
        """(n, channels): (1 - share) + share x traffic index, what a unit of saturation is worth
        that day; `share` is one for the platform or one per channel."""
        share = np.broadcast_to(np.asarray(share, dtype=float), (self.spend.shape[1],))
        return (1.0 - share) + share * self.traffic[:, None]

    def test_response(
        self, decay: np.ndarray, half: np.ndarray, shape: np.ndarray, share: float = 0.0
    ) -> np.ndarray:
        """Per lift test: the channel's summed media feature with its test spend minus without."""
        out = np.zeros(len(self.tests))
        mix = self.mix(share)
        for k, (j, without, _, _) in enumerate(self.tests):
            with_test = _features(self.spend[:, [j]], decay[[j]], half[[j]], shape[[j]])[:, 0]
            no_test = _features(without[:, None], decay[[j]], half[[j]], shape[[j]])[:, 0]
            out[k] = float(((with_test - no_test) * mix[:, j]).sum())
        return out

    def media(self, decay: np.ndarray, half: np.ndarray, shape: np.ndarray, share: float = 0.0) -> np.ndarray:
        """(n, active channels): hill(adstock) per active channel, weighted by the day's traffic mix."""
        active = self.active
        hills = _features(self.spend[:, active], decay[active], half[active], shape[active])
        return hills * self.mix(share)[:, active]

    def calibration_misfit(
        self, beta: np.ndarray, decay: np.ndarray, half: np.ndarray, shape: np.ndarray, share: float = 0.0
    ) -> float:
        """Sum of squared standardised misses of the lift tests, times the dispersion (loss units)."""
        if not self.tests:
            return 0.0
        response, weight = self.test_weights(decay, half, shape, share)
        misses = [
            w * (beta[j] * r / self.y_scale - m) ** 2
            for (j, _, m, _), r, w in zip(self.tests, response, weight, strict=True)
        ]
        return float(sum(misses))

    def test_weights(
        self, decay: np.ndarray, half: np.ndarray, shape: np.ndarray, share: float = 0.0
    ) -> tuple[np.ndarray, np.ndarray]:
        """(test responses, each test's weight in the fit's loss units).

        A test's own weight is dispersion / se^2 (its likelihood on the revenue fit's scale), but
        never less than CALIBRATION_WEIGHT x what the observational data says about the channel's
        level: the data's confidence there assumes no confounding (spend raised for events, channels
        bought together), which is exactly what an experiment does not assume.
        """
        response = self.test_response(decay, half, shape, share)
        target = np.maximum(self.y / self.y_scale, 0.05)
        hills = _features(self.spend, decay, half, shape) * self.mix(share)
        weights = np.zeros(len(self.tests))
        for t, ((j, _, _, se), r) in enumerate(zip(self.tests, response, strict=True)):
            information = float((hills[:, j] ** 2 / target).sum())
            weights[t] = max(self.dispersion / se**2, CALIBRATION_WEIGHT * information / max(r * r, 1e-12))
        return response, weights

    def half_from_ratio(self, ratio: np.ndarray, decay: np.ndarray) -> np.ndarray:
        """Half-saturation in adstocked-spend units: ratio x typical spend at its steady carry-over."""
        return half_from_ratio(ratio, self.typical, decay)

    def _start(self, rows: np.ndarray, target: np.ndarray, penalty: np.ndarray) -> np.ndarray:
        """Log-linear baseline fitted to all revenue (ads included): where Gauss-Newton starts."""
        key = rows.tobytes() + penalty.tobytes()
        if key not in self._starts:
            base = self.base[rows]
            logged = np.log(np.maximum(target, 0.05))
            gram = base.T @ base + np.diag(penalty)
            self._starts[key] = np.linalg.solve(gram + 1e-10 * np.eye(len(gram)), base.T @ logged)
        return self._starts[key]

    def solve(
        self,
        decay: np.ndarray,
        half: np.ndarray,
        shape: np.ndarray,
        ridge: float,
        rows: np.ndarray,
        y: np.ndarray | None = None,
        iterations: int = 10,
        start: tuple[np.ndarray, np.ndarray] | None = None,
        share: float = 0.0,
    ) -> tuple[np.ndarray, np.ndarray]:
        """revenue = exp(base . gamma) + media . beta, beta >= 0, ridge on gamma (not the intercept).

        Gauss-Newton with weights 1 / fitted (revenue noise grows with its level); returns
        (gamma, beta) with beta in revenue units; `share` of each channel's effect scales with the
        platform's traffic index.
        """
        target = (self.y if y is None else y)[rows] / self.y_scale
        media = self.media(decay, half, shape, share)[rows]
        active = self.active
        base = self.base[rows]
        n_base, n_media = base.shape[1], media.shape[1]
        penalty = np.full(n_base, ridge * len(target) / 100.0)
        penalty[0] = 0.0  # the level itself is not shrunk
        if start is None:
            gamma, beta = self._start(rows, target, penalty).copy(), np.zeros(n_media)
        else:  # warm start (bootstrap refits): the fit on the original revenue
            gamma, beta = start[0].copy(), start[1][active] / self.y_scale
        # the prior on each channel's ROI: beta pulled toward the level that gives the prior ROI
        # over these rows, with a weight that is a fixed share of what the data says about beta
        prior_beta, prior_strength = np.zeros(n_media), np.full(n_media, 1e-8)
        if self.prior_roi is not None and (self.prior_weight > 0 or self.prior_spread is not None):
            response = media.sum(axis=0)
            spend = self.spend[rows][:, self.active].sum(axis=0)
            roi = self.prior_roi[self.active]
            known = np.isfinite(roi) & (response > 0)
            prior_beta[known] = roi[known] * spend[known] / response[known] / self.y_scale
            if self.prior_spread is not None:  # a log-scale spread: its own precision, not the data's
                prior_strength[known] = self.dispersion / (self.prior_spread * prior_beta[known]) ** 2
            else:
                information = (media**2 / np.maximum(target, 0.05)[:, None]).sum(axis=0)
                prior_strength[known] = self.prior_weight * information[known]
        full_penalty = np.concatenate([penalty, prior_strength])
        full_centre = np.concatenate([np.zeros(n_base), prior_beta])
        # lift tests: (r_k beta_j - m_k)^2 / se_k^2, on the revenue fit's scale (x dispersion)
        calib_gram = np.zeros((n_base + n_media, n_base + n_media))
        calib_grad = np.zeros(n_base + n_media)
        if self.tests:
            position = np.cumsum(self.active) - 1
            response, weight = self.test_weights(decay, half, shape, share)
            for (j, _, m, _), r, w in zip(self.tests, response, weight, strict=True):
                if not self.active[j]:
                    continue
                i = n_base + position[j]
                calib_gram[i, i] += w * r * r
                calib_grad[i] += w * r * m
        for _ in range(iterations):
            baseline = np.exp(np.clip(base @ gamma, -30.0, 30.0))
            fitted = baseline + media @ beta
            weight = 1.0 / np.maximum(fitted, 0.05)
            jacobian = np.hstack([base * baseline[:, None], media])
            weighted = jacobian * weight[:, None]
            gram = jacobian.T @ weighted + np.diag(full_penalty) + calib_gram
            theta = np.concatenate([gamma, beta])
            gradient = (
                weighted.T @ (target - fitted)
                - full_penalty * (theta - full_centre)
                + calib_grad
                - calib_gram @ theta
            )
            step = np.linalg.solve(gram + 1e-10 * np.eye(len(gram)), gradient)
            theta = theta + step
            gamma, beta = theta[:n_base], np.maximum(theta[n_base:], 0.0)  # a channel cannot lose revenue
            if np.max(np.abs(step)) < 1e-6:
                break
        full_beta = np.zeros(self.spend.shape[1])
        full_beta[active] = beta
        return gamma, full_beta * self.y_scale

    def predict(
        self,
        gamma: np.ndarray,
        beta: np.ndarray,
        decay: np.ndarray,
        half: np.ndarray,
        shape: np.ndarray,
        share: float = 0.0,
    ) -> tuple[np.ndarray, np.ndarray]:
        """(baseline, channel contributions (n x k)) in revenue units."""
        contributions = _features(self.spend, decay, half, shape) * self.mix(share) * beta
        baseline = np.exp(np.clip(self.base @ gamma, -30.0, 30.0)) * self.y_scale
        return baseline, contributions


class ResponseModel:
    """Channel response curves of one brand, fitted against its platforms' revenue.

    fit(frame, channels, freq): `frame` is `features.ads_frame.ads_frame(...)` output, `channels`
    maps channel -> platform. Learned: `curves_` (one row per channel: platform, decay, shape,
    half_saturation, beta), `draws_` (bootstrap curves), `fitted_` (per platform and date:
    revenue, baseline, fitted, one column per channel's contribution), `metrics_`.
    """

    def __init__(
        self,
        n_trials: int = 40,
        holdout_share: float = 0.12,
        n_bootstrap: int = 60,
        decay_bounds: tuple[float, float] = (0.0, 0.9),
        shape_bounds: tuple[float, float] = (0.5, 3.0),
        ridge_bounds: tuple[float, float] = (0.01, 10.0),
        block_days: int = 14,
        search_on: str = "both",
        prior_roi: dict[str, float] | None = None,
        prior_weight: float = 0.1,
        refine_evals: int = 150,
        half_range: tuple[float, float] = (0.99, 2.0),
        seed: int = 0,
        experiments: pd.DataFrame | None = None,
        halo: bool = True,
        halo_ridge: float = 0.1,
        halo_from: tuple[str, ...] | None = CONTENT_PLATFORMS,
        halo_to: tuple[str, ...] | None = SHELF_PLATFORMS,
        traffic_effects: bool = True,
        near_best: float = 0.05,
        max_sets: int = 20,
        prior_spread: float | None = None,
        attributed: pd.DataFrame | None = None,
    ) -> None:
        self.n_trials = n_trials
        self.holdout_share = holdout_share
        self.n_bootstrap = n_bootstrap
        self.decay_bounds = decay_bounds
        self.shape_bounds = shape_bounds
        self.ridge_bounds = ridge_bounds
        self.block_days = block_days
        self.search_on = search_on
        self.prior_roi = prior_roi
        self.prior_weight = prior_weight
        self.refine_evals = refine_evals
        self.half_range = half_range
        self.seed = seed
        self.experiments = experiments  # lift tests (the `experiments` contract table), or None
        self.halo = halo  # credit a channel with what it lifts on the brand's other platforms
        self.halo_ridge = halo_ridge
        self.halo_from, self.halo_to = halo_from, halo_to  # which platforms' channels lift which
        self.near_best = near_best  # hyperparameter sets within 5% of the best loss feed the bootstrap
        self.max_sets = max_sets
        self.traffic_effects = traffic_effects  # each channel also gets a part that scales with traffic
        # the attribution prior's log-scale spread (None: worth `prior_weight` of the data instead)
        self.prior_spread = prior_spread
        # per date, each channel's attributed revenue (or None): where the platform reports it, the
        # channel's carry-over and saturation are read from it and held fixed in the search (the
        # sales data and lift tests then set the channel's level only); see `shapes_`
        self.attributed = attributed

    # -- fitting ---------------------------------------------------------------------------
    def _prior(self, channels: list[str]) -> tuple[np.ndarray | None, float]:
        if not self.prior_roi:
            return None, 0.0
        return np.array([self.prior_roi.get(c, np.nan) for c in channels], dtype=float), self.prior_weight

    def holdout_start_for(self, frame: pd.DataFrame) -> pd.Timestamp:
        dates = np.sort(pd.to_datetime(frame["date"]).unique())
        cut = int(round(len(dates) * (1.0 - self.holdout_share)))
        return pd.Timestamp(dates[min(max(cut, 1), len(dates) - 1)])

    def fit(
        self, frame: pd.DataFrame, channels: dict[str, str], freq: str = "D", on_trial=None
    ) -> ResponseModel:  # noqa: ANN001
        """`on_trial(platform, number, params, value)` is called after each Optuna trial (for logging)."""
        from threadpoolctl import threadpool_limits

        # thousands of small solves: BLAS threads only fight each other (and the other workers)
        with threadpool_limits(1):
            return self._fit(frame, channels, freq, on_trial)

    def _fit(self, frame: pd.DataFrame, channels: dict[str, str], freq: str, on_trial) -> ResponseModel:  # noqa: ANN001
        self.channels_ = dict(channels)
        self.shapes_: dict[str, AttributionShape] = {}
        self.freq_ = freq
        self.holdout_start_ = self.holdout_start_for(frame)
        self.trials_: list[dict] = []
        fits, fitted_parts, draws = [], [], []
        rng = np.random.default_rng(self.seed)
        for platform, rows in frame.groupby("platform", sort=True):
            mine = [c for c, p in channels.items() if p == platform and c in rows.columns]
            if not mine:
                continue
            fit, fitted, platform_draws = self._fit_platform(str(platform), rows, mine, rng, on_trial)
            fits.append(fit)
            fitted_parts.append(fitted)
            draws.append(platform_draws)
        if not fits:
            raise ValueError("no platform has both revenue and ad channels to fit")
        self.platform_fits_ = fits
        self.fitted_ = pd.concat(fitted_parts, ignore_index=True)
        self.curves_ = pd.DataFrame(
            [
                {
                    "channel": c,
                    "platform": f.platform,
                    "decay": f.decay[i],
                    "shape": f.shape[i],
                    "half_saturation": f.half_saturation[i],
                    "beta": f.beta[i],
                    "traffic_share": np.broadcast_to(f.traffic_share, (len(f.channels),))[i],
                }
                for f in fits
                for i, c in enumerate(f.channels)
            ]
        )
        self.draws_ = {
            key: np.concatenate([d[key] for d in draws], axis=1)
            for key in ("decay", "shape", "half_saturation", "beta", "traffic_share")
        }
        self.traffic_ = {f.platform: f.traffic for f in fits if f.traffic is not None}
        self.halo_ = self._halo(frame, fits) if self.halo else pd.DataFrame(columns=HALO_COLUMNS)
        if not self.halo_.empty:
            # the brand-level curve: the channel's own-platform ceiling plus what it lifts elsewhere
            extra = self.halo_.groupby("channel")["beta"].sum()
            added = self.curves_["channel"].map(extra).fillna(0.0).to_numpy()
            self.curves_["beta_own_platform"] = self.curves_["beta"]
            self.curves_["beta"] = self.curves_["beta"] + added
            self.draws_["beta"] = self.draws_["beta"] + added[None, :]
        self.metrics_ = self._metrics()
        return self

    def _fit_platform(
        self, platform: str, rows: pd.DataFrame, channels: list[str], rng: np.random.Generator, on_trial
    ) -> tuple:  # noqa: ANN001
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        holdout = _PlatformProblem(
            rows,
            channels,
            self.freq_,
            self.holdout_start_,
            *self._prior(channels),
            self.half_range,
            self.experiments,
            self.traffic_effects,
            prior_spread=self.prior_spread,
        )
        k = len(channels)
        fixed = self._fixed_shapes(holdout, channels)
        free = [c for c in channels if f"decay:{c}" not in fixed]
        fixed_share = {c: self.shapes_[c].traffic_share for c in channels if c not in free}

        def hyper_from(params: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, float | np.ndarray]:
            params = fixed | params
            decay = np.array([params[f"decay:{c}"] for c in channels])
            shape = np.array([params[f"shape:{c}"] for c in channels])
            ratio = np.array([params[f"half:{c}"] for c in channels])
            share = float(params.get("traffic", 0.0))
            if fixed_share:  # channels with an attributed shape keep the traffic share it was read with
                share = np.array([fixed_share.get(c, share) for c in channels])
            return decay, shape, ratio, float(params["ridge"]), share

        def objective(trial) -> float:  # noqa: ANN001
            params = {}
            for i, c in enumerate(channels):
                if c not in free:
                    continue
                params[f"decay:{c}"] = trial.suggest_float(f"decay:{c}", *self.decay_bounds)
                params[f"shape:{c}"] = trial.suggest_float(f"shape:{c}", *self.shape_bounds)
                params[f"half:{c}"] = trial.suggest_float(
                    f"half:{c}", holdout.ratio_low[i], holdout.ratio_high[i], log=True
                )
            params["ridge"] = trial.suggest_float("ridge", *self.ridge_bounds, log=True)
            if holdout.traffic_fit is not None and free:
                params["traffic"] = trial.suggest_float("traffic", 0.0, 1.0)
            decay, shape, ratio, ridge, share = hyper_from(params)
            half = holdout.half_from_ratio(ratio, decay)
            return self._holdout_error(holdout, decay, half, shape, ridge, share)[0]

        sampler = optuna.samplers.TPESampler(seed=int(rng.integers(0, 2**31 - 1)), multivariate=True)
        study = optuna.create_study(direction="minimize", sampler=sampler)
        # a plausible starting point: moderate carry-over, concave curves saturating at typical spend
        default = {f"decay:{c}": 0.4 for c in free} | {f"shape:{c}": 1.0 for c in free}
        default |= {
            f"half:{c}": float(np.clip(1.0, holdout.ratio_low[i], holdout.ratio_high[i]))
            for i, c in enumerate(channels)
            if c in free
        }
        if holdout.traffic_fit is not None and free:
            default["traffic"] = 0.0  # start from effects that add to sales; the search tries scaling
        study.enqueue_trial(default | {"ridge": 0.3})
        for _ in range(max(1, self.n_trials * max(len(free), 1))):  # more channels, more dimensions
            trial = study.ask()
            value = objective(trial)
            study.tell(trial, value)
            self.trials_.append(
                {"platform": platform, "number": trial.number, "value": value, **trial.params}
            )
            if on_trial is not None:
                on_trial(platform, trial.number, trial.params, value)

        ranked = [(t.value, t.params) for t in study.trials if t.value is not None]
        ranked.sort(key=lambda pair: pair[0])
        if self.refine_evals > 0:
            refined = self._refine(holdout, channels, ranked[0][1], hyper_from, free)
            if refined[0] < ranked[0][0]:
                ranked.insert(0, refined)
                self.trials_.append(
                    {"platform": platform, "number": "refined", "value": refined[0], **refined[1]}
                )
        best = fixed | ranked[0][1]
        decay, shape, ratio, ridge, share = hyper_from(best)
        half = holdout.half_from_ratio(ratio, decay)
        oot_sse, oot_abs, oot_actual = self._holdout_error(holdout, decay, half, shape, ridge, share)

        # the served curves are refitted on every date with the chosen hyperparameters
        full = _PlatformProblem(
            rows,
            channels,
            self.freq_,
            None,
            *self._prior(channels),
            self.half_range,
            self.experiments,
            self.traffic_effects,
            prior_spread=self.prior_spread,
        )
        everything = np.ones(len(full.y), bool)
        gamma, beta = full.solve(decay, half, shape, ridge, everything, share=share)
        baseline, contributions = full.predict(gamma, beta, decay, half, shape, share)
        fitted = pd.DataFrame(
            {
                "platform": platform,
                "date": full.dates,
                "revenue": full.y,
                "baseline": baseline,
                "fitted": baseline + contributions.sum(axis=1),
            }
        )
        for i, c in enumerate(channels):
            fitted[c] = contributions[:, i]

        top = []
        for _, params in self._near_best(ranked):
            d, s, r, rg, sh = hyper_from(params)
            top.append(
                {
                    "decay": d,
                    "shape": s,
                    "half_saturation": full.half_from_ratio(r, d),
                    "ridge": rg,
                    "share": sh,
                }
            )
        draws = self._bootstrap(full, fitted["fitted"].to_numpy(), top, rng, k)
        fit = PlatformFit(platform, channels, decay, shape, half, ridge, beta, oot_abs, oot_actual, top)
        fit.traffic_share = share
        fit.traffic = full.traffic_fit
        return fit, fitted, draws

    def _fixed_shapes(self, problem: _PlatformProblem, channels: list[str]) -> dict[str, float]:
        """Search parameters held at the shape read from the channel's attributed revenue, inside the
        search's own bounds (a bend beyond the spend ever seen stays out of reach)."""
        fixed: dict[str, float] = {}
        attributed = getattr(self, "attributed", None)
        if attributed is None:
            return fixed
        for i, c in enumerate(channels):
            if c not in attributed:
                continue
            series = attributed[c].reindex(pd.DatetimeIndex(problem.dates)).to_numpy(dtype=float)
            shape = fit_attribution_shape(
                problem.spend[:, i], series, problem.traffic, self.decay_bounds, self.shape_bounds
            )
            if shape is None:
                continue
            self.shapes_[c] = shape
            fixed[f"decay:{c}"] = float(np.clip(shape.decay, *self.decay_bounds))
            fixed[f"shape:{c}"] = float(np.clip(shape.shape, *self.shape_bounds))
            fixed[f"half:{c}"] = float(np.clip(shape.half_ratio, problem.ratio_low[i], problem.ratio_high[i]))
        return fixed

    def _near_best(self, ranked: list[tuple[float, dict]]) -> list[tuple[float, dict]]:
        """The hyperparameter sets that explain the data almost as well as the best (loss within
        `near_best` of it), up to `max_sets` spread over that range; at least the best five.

        Curves the data cannot tell apart disagree most where the budget question lives (how a
        channel bends beyond its usual spend): refitting the bootstrap with all of them, rather than
        with the best alone, is what makes the intervals and the do-no-harm checks honest about it.
        """
        best = ranked[0][0]
        close = [pair for pair in ranked if pair[0] <= best + self.near_best * abs(best)]
        if len(close) < 5:
            return ranked[: min(5, len(ranked))]
        keep = np.unique(np.linspace(0, len(close) - 1, min(self.max_sets, len(close))).round().astype(int))
        return [close[i] for i in keep]

    def _refine(
        self, problem: _PlatformProblem, channels: list[str], start: dict, hyper_from, free: list[str]  # noqa: ANN001
    ) -> tuple:
        """Powell's method from Optuna's best point: TPE finds the basin, a local search its floor."""
        from scipy.optimize import minimize

        names, low, high, logged = [], [], [], []
        for i, c in enumerate(channels):
            if c not in free:
                continue
            names += [f"decay:{c}", f"shape:{c}", f"half:{c}"]
            low += [self.decay_bounds[0], self.shape_bounds[0], np.log(problem.ratio_low[i])]
            high += [self.decay_bounds[1], self.shape_bounds[1], np.log(problem.ratio_high[i])]
            logged += [False, False, True]
        names.append("ridge")
        low.append(np.log(self.ridge_bounds[0]))
        high.append(np.log(self.ridge_bounds[1]))
        logged.append(True)
        if "traffic" in start:
            names.append("traffic")
            low.append(0.0)
            high.append(1.0)
            logged.append(False)
        low, high, logged = np.array(low), np.array(high), np.array(logged)

        def params_of(vector: np.ndarray) -> dict:
            vector = np.clip(vector, low, high)
            values = np.where(logged, np.exp(vector), vector)
            return dict(zip(names, map(float, values), strict=True))

        def loss(vector: np.ndarray) -> float:
            decay, shape, ratio, ridge, share = hyper_from(params_of(vector))
            half = problem.half_from_ratio(ratio, decay)
            return self._holdout_error(problem, decay, half, shape, ridge, share)[0]

        x0 = np.array([np.log(start[n]) if lg else start[n] for n, lg in zip(names, logged, strict=True)])
        result = minimize(
            loss,
            np.clip(x0, low, high),
            method="Powell",
            bounds=list(zip(low, high, strict=True)),
            options={"maxfev": self.refine_evals * max(len(free), 1), "xtol": 1e-3, "ftol": 1e-7},
        )
        return float(result.fun), params_of(result.x)

    def _holdout_error(
        self,
        problem: _PlatformProblem,
        decay: np.ndarray,
        half: np.ndarray,
        shape: np.ndarray,
        ridge: float,
        share: float = 0.0,
    ) -> tuple[float, float, float]:
        """(search loss, absolute error, actual revenue) on the held-out dates.

        The loss is the squared error relative to the fitted level (revenue noise grows with
        it), so the Double 11 peak does not outweigh the rest of the year.
        """
        gamma, beta = problem.solve(decay, half, shape, ridge, problem.train, share=share)
        baseline, contributions = problem.predict(gamma, beta, decay, half, shape, share)
        fitted = baseline + contributions.sum(axis=1)
        error = problem.y - fitted
        relative = error**2 / np.maximum(fitted, 0.05 * problem.y_scale) / problem.y_scale
        held = ~problem.train
        if self.search_on == "holdout":
            loss = float(np.mean(relative[held])) if held.any() else float(np.mean(relative))
        elif self.search_on == "train":
            loss = float(np.mean(relative[problem.train]))
        else:
            loss = float(np.mean(relative))
        # Robyn's calibration objective in spirit: curves that miss the lift tests score worse
        loss += problem.calibration_misfit(beta, decay, half, shape, share) / len(problem.y)
        return loss, float(np.abs(error[held]).sum()), float(problem.y[held].sum())

    def _bootstrap(
        self, problem: _PlatformProblem, fitted: np.ndarray, top: list[dict], rng: np.random.Generator, k: int
    ) -> dict[str, np.ndarray]:
        """Moving-block bootstrap of residuals, refitted with the best few hyperparameter sets."""
        n = len(fitted)
        residual = problem.y - fitted
        block = max(2, self.block_days // 7 if self.freq_ == "W" else self.block_days)
        keys = ("decay", "shape", "half_saturation", "beta", "traffic_share")
        out = {key: np.zeros((self.n_bootstrap, k)) for key in keys}
        everything = np.ones(n, bool)
        warm = [
            problem.solve(
                h["decay"],
                h["half_saturation"],
                h["shape"],
                h["ridge"],
                everything,
                share=h.get("share", 0.0),
            )
            for h in top
        ]
        for b in range(self.n_bootstrap):
            starts = rng.integers(0, max(1, n - block), size=n // block + 1)
            resampled = np.concatenate([residual[s : s + block] for s in starts])[:n]
            hyper = top[b % len(top)]
            _, beta = problem.solve(
                hyper["decay"],
                hyper["half_saturation"],
                hyper["shape"],
                hyper["ridge"],
                everything,
                y=fitted + resampled,
                iterations=4,
                start=warm[b % len(top)],
                share=hyper.get("share", 0.0),
            )
            out["decay"][b], out["shape"][b] = hyper["decay"], hyper["shape"]
            out["half_saturation"][b], out["beta"][b] = hyper["half_saturation"], beta[:k]
            out["traffic_share"][b] = hyper.get("share", 0.0)
        return out

    def _halo(self, frame: pd.DataFrame, fits: list[PlatformFit]) -> pd.DataFrame:
        """What each channel adds to the brand's OTHER platforms (种草 here, 拔草 there).

        Per platform (of `halo_to`), the other platforms' channels (of `halo_from`) enter as extra
        columns, each with its fitted carry-over and saturation, and the platform's baseline is
        refitted alongside them (`_joint_halo`); its own channels keep their curves. A ridge worth
        `halo_ridge` x each column's own information keeps a halo from being credited on noise.
        """
        if len(fits) < 2:
            return pd.DataFrame(columns=HALO_COLUMNS)

        def allowed(platforms: tuple[str, ...] | None, platform: str) -> bool:
            return platforms is None or platform in platforms

        halo_from = getattr(self, "halo_from", None)  # models pickled before these: any platform
        halo_to = getattr(self, "halo_to", None)
        spend = {}
        for fit in fits:
            own = frame.loc[frame["platform"].eq(fit.platform)].sort_values("date").set_index("date")
            for i, c in enumerate(fit.channels):
                spend[c] = (own[c].to_numpy(dtype=float), fit, i)
        # a lift test already measured a channel's whole effect, on every platform
        tested = set() if self.experiments is None else set(self.experiments["channel"])
        rows = []
        for fit in fits:
            if not allowed(halo_to, fit.platform):
                continue
            mine = frame.loc[frame["platform"].eq(fit.platform)]
            others = [
                (c, f, i)
                for c, (_, f, i) in spend.items()
                if f.platform != fit.platform and c not in tested and allowed(halo_from, f.platform)
            ]
            if not others or len(mine) != len(spend[others[0][0]][0]):
                continue
            columns = np.column_stack(
                [
                    _features(spend[c][0][:, None], f.decay[[i]], f.half_saturation[[i]], f.shape[[i]])[:, 0]
                    for c, f, i in others
                ]
            )
            for (c, _, _), value in zip(others, self._joint_halo(mine, fit, columns), strict=True):
                if value > 0:
                    rows.append({"channel": c, "platform": fit.platform, "beta": float(value)})
        return pd.DataFrame(rows, columns=HALO_COLUMNS)

    def _joint_halo(self, rows: pd.DataFrame, fit: PlatformFit, columns: np.ndarray) -> np.ndarray:
        """Halo coefficients (revenue per unit of saturation, >= 0) of `columns` on this platform.

        The platform's own channels are an offset at their fitted curves and levels; its log-linear
        baseline is refitted together with the halo columns (the fit's weights and ridge). Regressed
        on what the platform's own fit had left unexplained instead, a halo whose spend rose with the
        events was already in the baseline's event phases: a content channel whose effect landed
        80% on JD was credited with a sixth of it (budget family draw 6), and the family's median
        regret was 0.057 -> 0.048 with the joint fit (draws 0-47; chosen on draws 100-147).
        """
        problem = _PlatformProblem(
            rows, fit.channels, self.freq_, None, half_range=self.half_range, traffic=False
        )
        if fit.traffic is not None:  # the traffic index the platform's curves were fitted with
            problem.traffic = traffic_index(rows.sort_values("date"), *fit.traffic)
        target = problem.y / problem.y_scale
        own = _features(problem.spend, fit.decay, fit.half_saturation, fit.shape)
        offset = (own * problem.mix(fit.traffic_share)) @ (fit.beta / problem.y_scale)
        base = problem.base
        n_base = base.shape[1]
        penalty = np.full(n_base, fit.ridge * len(target) / 100.0)
        penalty[0] = 0.0  # the level itself is not shrunk
        everything = np.ones(len(target), bool)
        gamma = problem._start(everything, np.maximum(target - offset, 0.05), penalty).copy()
        level = np.exp(np.clip(base @ gamma, -30.0, 30.0)) + offset
        information = (columns**2 / np.maximum(level, 0.05)[:, None]).sum(axis=0)
        penalty = np.concatenate([penalty, self.halo_ridge * np.maximum(information, 1e-12)])
        coef = np.zeros(columns.shape[1])
        for _ in range(20):  # Gauss-Newton, as `_PlatformProblem.solve`
            baseline = np.exp(np.clip(base @ gamma, -30.0, 30.0))
            fitted = baseline + offset + columns @ coef
            jacobian = np.hstack([base * baseline[:, None], columns])
            weighted = jacobian / np.maximum(fitted, 0.05)[:, None]
            theta = np.concatenate([gamma, coef])
            gradient = weighted.T @ (target - fitted) - penalty * theta
            gram = jacobian.T @ weighted + np.diag(penalty) + 1e-10 * np.eye(len(theta))
            step = np.linalg.solve(gram, gradient)
            theta = theta + step
            gamma, coef = theta[:n_base], np.maximum(theta[n_base:], 0.0)  # a channel cannot lose revenue
            if np.max(np.abs(step)) < 1e-7:
                break
        return coef * problem.y_scale

    # -- scoring -----------------------------------------------------------------------------
    def holdout_error(self, frame: pd.DataFrame, holdout_start: pd.Timestamp) -> float:
        """Out-of-time WAPE of platform revenue: this model's hyperparameters refitted before
        `holdout_start`, scored after it (the champion gate's common backtest)."""
        from threadpoolctl import threadpool_limits

        with threadpool_limits(1):
            return self._holdout_wape(frame, holdout_start)

    def _holdout_wape(self, frame: pd.DataFrame, holdout_start: pd.Timestamp) -> float:
        abs_error = actual = 0.0
        for fit in self.platform_fits_:
            rows = frame.loc[frame["platform"].eq(fit.platform)]
            if rows.empty or not set(fit.channels) <= set(rows.columns):
                continue
            problem = _PlatformProblem(
                rows,
                fit.channels,
                self.freq_,
                holdout_start,
                *self._prior(fit.channels),
                self.half_range,
                getattr(self, "experiments", None),
                getattr(self, "traffic_effects", False),  # models pickled before traffic: as fitted
                prior_spread=getattr(self, "prior_spread", None),
            )
            share = getattr(fit, "traffic_share", 0.0)
            _, a, y = self._holdout_error(
                problem, fit.decay, fit.half_saturation, fit.shape, fit.ridge, share
            )
            abs_error, actual = abs_error + a, actual + y
        return abs_error / actual if actual > 0 else float("nan")

    def _metrics(self) -> dict[str, float]:
        fitted = self.fitted_
        abs_error = sum(f.oot_abs_error for f in self.platform_fits_)
        actual = sum(f.oot_actual for f in self.platform_fits_)
        revenue = fitted["revenue"].to_numpy()
        residual = revenue - fitted["fitted"].to_numpy()
        metrics = {
            "oot_wape": abs_error / actual if actual > 0 else float("nan"),
            "fit_r2": 1.0 - float(np.sum(residual**2) / max(np.sum((revenue - revenue.mean()) ** 2), 1e-300)),
            "fit_wape": float(np.abs(residual).sum() / max(revenue.sum(), 1e-300)),
        }
        total = max(float(fitted["fitted"].sum()), 1e-300)
        metrics["share_baseline"] = float(fitted["baseline"].sum()) / total
        for channel in self.curves_["channel"]:
            metrics[f"share_{channel}"] = float(fitted[channel].fillna(0.0).sum()) / total
        return metrics
