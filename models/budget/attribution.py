"""A channel's curve shape read from the revenue its platform attributes to it, day by day.

The platform's attributed revenue over-credits the channel by a factor nobody knows (1x to 3x in
our experience, more for brand search), so its LEVEL is no measure of what the ads earn. Its SHAPE
is another matter: how the attributed revenue follows the channel's spend (how long a day's spend
keeps converting, how fast returns fall as spend rises) is measured every day, on the channel's
own spend, without the confounding of the platform's total revenue (events, trend, the other
channels bought at the same time), which is what makes the shape hard to read from sales alone.

    attributed_t ~ level x hill(adstock(spend, decay)_t, half, shape) x mix_t

with mix_t = (1 - s) + s x traffic_t (s = 0: effects that add to sales, s = 1: effects that scale
with the platform's traffic). The response model then fits each channel's level (what it really
adds) from the sales data and lift tests, on this shape.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize

from daiyun.models.budget.curves import geometric_adstock, half_from_ratio, hill

MIN_DAYS = 56  # eight weeks of attributed revenue with spend before a shape is read from it
MIN_FIT = 0.3  # the shape must explain at least this share of the attributed revenue's variance


@dataclass(frozen=True)
class AttributionShape:
    decay: float
    half_ratio: float  # half-saturation / (typical daily spend / (1 - decay)), as the search's ratio
    shape: float
    traffic_share: float
    level: float  # attributed revenue at full saturation (the platform's credit, not the truth)
    fit: float  # share of the attributed revenue's variance the shape explains


def _features(spend: np.ndarray, typical: float, decay: float, ratio: float, shape: float) -> np.ndarray:
    return hill(geometric_adstock(spend, decay), half_from_ratio(ratio, typical, decay), shape)


def _level(feature: np.ndarray, target: np.ndarray) -> tuple[float, float]:
    """(least-squares level >= 0 of `feature` for `target`, the squared error left)."""
    level = max(float(feature @ target) / max(float(feature @ feature), 1e-300), 0.0)
    return level, float(((target - level * feature) ** 2).sum())


def fit_attribution_shape(
    spend: np.ndarray,
    attributed: np.ndarray,
    traffic: np.ndarray,
    decay_bounds: tuple[float, float] = (0.0, 0.9),
    shape_bounds: tuple[float, float] = (0.5, 3.0),
    ratio_bounds: tuple[float, float] = (0.05, 20.0),
) -> AttributionShape | None:
    """The carry-over and saturation that best explain `attributed` from `spend` (daily, aligned;
    NaN attributed = not reported; days without spend are not read), or None when the platform
    reports too little to read a shape from or the best shape explains less than MIN_FIT of it."""
    spend = np.nan_to_num(np.asarray(spend, dtype=float))
    attributed = np.asarray(attributed, dtype=float)
    # a day without spend has no clicks to credit: its zero says nothing about carry-over (read as
    # a fall to zero, it made long carry-over look short and concave curves look saturated)
    known = np.isfinite(attributed) & (spend > 0)
    positive = spend[spend > 0]
    if known.sum() < MIN_DAYS or positive.size == 0 or np.nansum(attributed) <= 0:
        return None
    typical = float(np.median(positive))
    target = attributed[known]
    total = float(((target - target.mean()) ** 2).sum())
    log_low, log_high = np.log(ratio_bounds[0]), np.log(ratio_bounds[1])
    best: tuple[float, np.ndarray, float] | None = None
    for share in (0.0, 1.0):
        mix = (1.0 - share) + share * np.asarray(traffic, dtype=float)

        def loss(v: np.ndarray, mix: np.ndarray = mix) -> float:
            return _level((_features(spend, typical, v[0], np.exp(v[1]), v[2]) * mix)[known], target)[1]

        # a few starts: the loss has separate basins for short and long carry-over
        for decay in (0.2, 0.5, 0.8):
            for ratio in (0.5, 1.0, 2.0):
                start = np.array([min(decay, decay_bounds[1]), np.log(ratio), 1.2])
                result = minimize(
                    loss,
                    start,
                    method="L-BFGS-B",
                    bounds=[decay_bounds, (log_low, log_high), shape_bounds],
                )
                if best is None or result.fun < best[0]:
                    best = (float(result.fun), result.x.copy(), share)
    sse, (decay, log_ratio, shape), share = best
    fit = 1.0 - sse / total if total > 0 else 0.0
    if fit < MIN_FIT:
        return None
    mix = (1.0 - share) + share * np.asarray(traffic, dtype=float)
    level, _ = _level((_features(spend, typical, decay, np.exp(log_ratio), shape) * mix)[known], target)
    return AttributionShape(float(decay), float(np.exp(log_ratio)), float(shape), share, level, fit)
