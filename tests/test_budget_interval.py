"""The claimed revenue's p10-p90: bootstrap spread plus a model error and a centre calibrated on
worlds other than the ones it is checked on (`robust.calibrate_interval`)."""

from __future__ import annotations

import numpy as np
import pytest

from daiyun.models.budget.robust import (
    MODEL_LOG_BIAS,
    MODEL_LOG_ERROR,
    Z80,
    calibrate_interval,
    revenue_interval,
)


def _worlds(rng: np.random.Generator, n: int, bias: float, error: float) -> tuple[np.ndarray, ...]:
    """n worlds x 3 budgets: each world's claim is off by one shared error (as in the family), plus a
    small per-budget part that the bootstrap spread describes."""
    world = np.repeat(np.arange(n), 3)
    spread = rng.uniform(0.05, 0.2, size=3 * n)
    log_ratio = bias + np.repeat(rng.normal(0.0, error, size=n), 3) + rng.normal(0.0, spread)
    return log_ratio, spread, world


def test_the_interval_is_centred_below_the_claim_and_as_wide_as_the_model_error() -> None:
    point = np.array([1000.0, 50.0])
    low, high = revenue_interval(point, np.full((20, 2), 7.0))  # bootstrap agrees: model error alone
    assert np.allclose(np.sqrt(low * high), point * np.exp(-MODEL_LOG_BIAS))
    assert np.allclose(np.log(high / low), 2 * Z80 * MODEL_LOG_ERROR)
    wide_low, wide_high = revenue_interval(point, np.exp(np.random.default_rng(0).normal(0, 0.5, (200, 2))))
    assert np.all(wide_high / wide_low > high / low)  # bootstrap spread widens it further
    assert revenue_interval(point, None) == (None, None)


def test_calibration_recovers_bias_and_error_and_covers_fresh_worlds() -> None:
    rng = np.random.default_rng(3)
    bias, error = 0.1, 0.4
    log_ratio, spread, world = _worlds(rng, 400, bias, error)
    fitted_bias, fitted_error = calibrate_interval(log_ratio, spread, world)
    assert fitted_bias == pytest.approx(bias, abs=0.06)
    assert 0.3 < fitted_error < 0.5
    # fresh worlds: the calibrated p10-p90 covers about 80% of them, the uncentred or bootstrap-only
    # interval far fewer
    fresh, fresh_spread, _ = _worlds(rng, 400, bias, error)

    def coverage(b: float, m: float) -> float:
        return float(np.mean(np.abs(fresh - b) <= Z80 * np.sqrt(fresh_spread**2 + m**2)))

    assert 0.74 <= coverage(fitted_bias, fitted_error) <= 0.86
    assert coverage(0.0, 0.0) < 0.5


def test_a_world_counts_once_in_the_bias() -> None:
    # ten worlds over-claim by 0.05; one world with many budgets under-claims by 1: the bias is the
    # median over worlds, so the one world does not drag it
    log_ratio = np.concatenate([np.full(10, 0.05), np.full(30, -1.0)])
    world = np.concatenate([np.arange(10), np.full(30, 99)])
    bias, _ = calibrate_interval(log_ratio, np.zeros(40), world)
    assert bias == pytest.approx(0.05)
