"""Curve shapes read from the platforms' attributed revenue (models/budget/attribution.py)."""

from __future__ import annotations

import numpy as np
import pytest

from daiyun.features.load import load
from daiyun.features.simulator.budget_family import draw, write_draw
from daiyun.models.budget.attribution import fit_attribution_shape
from daiyun.models.budget.curves import geometric_adstock, hill
from daiyun.training.trainers.budget import fit_brand

DAYS = 700


def _spend(rng: np.random.Generator) -> np.ndarray:
    month = np.arange(DAYS) // 28
    return 10_000.0 * rng.lognormal(0.0, 0.4, month.max() + 1)[month] * rng.lognormal(0.0, 0.3, DAYS)


def _attributed(
    spend: np.ndarray, decay: float, ratio: float, shape: float, rng: np.random.Generator
) -> np.ndarray:
    typical = float(np.median(spend))
    curve = hill(geometric_adstock(spend, decay), ratio * typical / (1.0 - decay), shape)
    return 80_000.0 * curve * rng.lognormal(0.0, 0.15, len(spend))


def test_the_attributed_revenue_gives_back_the_curve_it_was_made_from() -> None:
    rng = np.random.default_rng(3)
    spend = _spend(rng)
    got = fit_attribution_shape(spend, _attributed(spend, 0.6, 1.5, 1.8, rng), np.ones(DAYS))
    assert got is not None
    assert got.decay == pytest.approx(0.6, abs=0.08)
    assert got.shape == pytest.approx(1.8, abs=0.4)
    assert got.half_ratio == pytest.approx(1.5, rel=0.3)
    assert got.traffic_share == 0.0
    assert got.fit > 0.5


def test_days_without_spend_do_not_read_as_carry_over_ending() -> None:
    """Dark weeks: the platform credits nothing on a day nobody clicked, however much the earlier
    spend still sells. Read as the effect falling to zero, those zeros made a long carry-over
    (0.85) look short (decay 0.2) and a concave curve saturated (budget family draw 34)."""
    rng = np.random.default_rng(5)
    spend = _spend(rng) * (np.arange(DAYS) // 7 % 4 != 3)  # every fourth week dark
    attributed = _attributed(spend, 0.85, 2.0, 0.9, rng) * (spend > 0)
    got = fit_attribution_shape(spend, attributed, np.ones(DAYS))
    assert got is not None
    assert got.decay == pytest.approx(0.85, abs=0.06)
    assert got.shape == pytest.approx(0.9, abs=0.35)


def test_a_channel_whose_credit_follows_the_platform_s_traffic_is_read_as_traffic_scaled() -> None:
    rng = np.random.default_rng(4)
    spend = _spend(rng)
    traffic = np.exp(0.6 * np.sin(np.arange(DAYS) / 40.0))  # busy and quiet seasons
    attributed = _attributed(spend, 0.3, 1.0, 1.2, rng) * traffic
    assert fit_attribution_shape(spend, attributed, traffic).traffic_share == 1.0
    assert fit_attribution_shape(spend, _attributed(spend, 0.3, 1.0, 1.2, rng), traffic).traffic_share == 0.0


def test_no_shape_is_read_from_credit_that_does_not_follow_the_spend_or_from_too_few_days() -> None:
    rng = np.random.default_rng(5)
    spend = _spend(rng)
    unrelated = 50_000.0 * rng.lognormal(0.0, 0.5, DAYS)
    assert fit_attribution_shape(spend, unrelated, np.ones(DAYS)) is None
    unreported = np.full(DAYS, np.nan)
    unreported[:30] = _attributed(spend, 0.3, 1.0, 1.2, rng)[:30]
    assert fit_attribution_shape(spend, unreported, np.ones(DAYS)) is None


def test_the_fit_holds_each_channel_at_the_shape_its_attributed_revenue_shows(tmp_path) -> None:  # noqa: ANN001
    world = draw(1)
    dataset = load(write_draw(tmp_path / "family1", world))
    bundle, _ = fit_brand(dataset, world.brand, n_trials=3, n_bootstrap=6)
    model = bundle.model
    assert set(model.shapes_) == set(world.names)  # the family reports every channel's credit
    curves = model.curves_.set_index("channel")
    for channel, shape in model.shapes_.items():
        assert curves.loc[channel, "decay"] == pytest.approx(min(shape.decay, model.decay_bounds[1]))
        assert curves.loc[channel, "shape"] == pytest.approx(shape.shape)
        assert curves.loc[channel, "traffic_share"] == shape.traffic_share
    searched, _ = fit_brand(dataset, world.brand, n_trials=3, n_bootstrap=6, shapes_from_attribution=False)
    assert searched.model.shapes_ == {}
    assert not np.allclose(searched.model.curves_["decay"], model.curves_["decay"])
