"""The bundles' answer caches: the same answers with and without them, keyed no broader than the
inputs (dates; as_of and horizon), never pickled, and a repeated request is cheaper."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest

from daiyun.models.budget.bundle import BudgetBundle
from daiyun.models.selection.bundle import SelectionBundle
from daiyun.training.trainers.budget import fit_brand
from daiyun.training.trainers.selection import brand_frame, fit_bundle
from daiyun.training.workbench import quick_config

START, END = "2026-10-16", "2026-11-14"
AS_OF = "2026-10-15"


@pytest.fixture(scope="module")
def budget(dataset) -> BudgetBundle:  # noqa: ANN001
    bundle, _ = fit_brand(dataset, dataset.brands[0], n_trials=4, n_bootstrap=10)
    return bundle


@pytest.fixture(scope="module")
def selection(dataset) -> SelectionBundle:  # noqa: ANN001
    from daiyun.training.trainers.backtest import run_backtest
    from daiyun.training.trainers.forecast import fit_bundle as fit_forecast

    brand = dataset.brands[0]
    forecast = fit_forecast(dataset, brand, run_backtest(dataset, brand, quick_config("forecast")))
    config = quick_config("selection")
    frame, horizon, _ = brand_frame(dataset, brand, config)
    return fit_bundle(dataset, brand, frame, horizon, forecast, None, config)


def uncached(bundle):  # noqa: ANN001, ANN201
    """A copy whose cache is emptied before every call: the answer without the cache."""
    copy = pickle.loads(pickle.dumps(bundle))
    real = copy._cache

    def empty():  # noqa: ANN202
        cache = real()
        cache.clear()
        return cache

    copy._cache = empty
    return copy


def test_budget_cache_repeats_the_answer_and_keys_on_dates_only(budget: BudgetBundle) -> None:
    budget._cache().clear()
    first = budget.recommend(START, END, 20_000)
    assert len(budget._cache()) == 1
    again = budget.recommend(START, END, 20_000)
    assert again == first == uncached(budget).recommend(START, END, 20_000)

    # same dates, another budget or constraint: one cache entry, a different allocation
    bigger = budget.recommend(START, END, 60_000)
    assert len(budget._cache()) == 1
    assert bigger["totals"]["spend"] == pytest.approx(60_000, rel=1e-6)
    assert [c["spend"] for c in bigger["channels"]] != [c["spend"] for c in first["channels"]]
    assert bigger == uncached(budget).recommend(START, END, 60_000)
    name = budget.channels()[0]
    held = budget.recommend(START, END, 20_000, channels=[{"channel": name, "fixed": 1234}])
    assert held["channels"][0]["spend"] == pytest.approx(1234)
    assert held == uncached(budget).recommend(START, END, 20_000, channels=[{"channel": name, "fixed": 1234}])

    # other dates: their own entry and their own answer
    shorter = budget.recommend(START, "2026-10-31", 20_000)
    assert len(budget._cache()) == 2 and shorter["end"] == "2026-10-31"
    assert len(shorter["daily_plan"]) < len(first["daily_plan"])
    assert budget.recommend(START, END, 20_000) == first


def test_budget_cached_curves_cannot_be_changed_by_a_caller(budget: BudgetBundle) -> None:
    dates = pd.date_range(START, END, freq="D")
    curves, pacing, _ = budget.period_curves(dates)
    with pytest.raises(ValueError):
        pacing[0, 0] = 1.0
    with pytest.raises(ValueError):
        curves.carry[0, 0] = 1.0
    curves.beta = curves.beta * 0  # a caller's own object: the next request's curves are unchanged
    assert np.all(budget.period_curves(dates)[0].beta > 0)
    assert budget.model.draws_["beta"].flags.writeable  # the fitted model's arrays are left as they were


def test_budget_pickle_drops_the_cache(budget: BudgetBundle) -> None:
    budget.recommend(START, END, 20_000)
    assert len(budget._cache()) >= 1
    state = budget.__getstate__()
    assert "_period_cache" not in state
    copy = pickle.loads(pickle.dumps(budget))
    assert len(copy._cache()) == 0
    assert copy.recommend(START, END, 20_000) == budget.recommend(START, END, 20_000)
    # a bundle pickled before the cache existed still loads and answers
    old = BudgetBundle.__new__(BudgetBundle)
    old.__dict__.update(state)
    assert old.recommend(START, END, 20_000) == budget.recommend(START, END, 20_000)


def test_budget_second_call_reuses_the_period_curves(budget: BudgetBundle, monkeypatch) -> None:  # noqa: ANN001
    # how much faster that is lives in benchmarks/serving.py; here: that the work is not redone
    fresh = pickle.loads(pickle.dumps(budget))  # a pickle round trip starts with an empty cache
    builds = []
    original = BudgetBundle._build_period_curves

    def counting(self, dates):  # noqa: ANN001, ANN202
        builds.append(len(dates))
        return original(self, dates)

    monkeypatch.setattr(BudgetBundle, "_build_period_curves", counting)
    first = fresh.recommend(START, END, 20_000)
    second = fresh.recommend(START, END, 20_000)
    fresh.recommend(START, END, 40_000)
    assert len(builds) == 1 and first == second


def test_selection_cache_repeats_the_answer_and_keys_on_as_of_and_horizon(selection: SelectionBundle) -> None:
    selection._cache().clear()
    first = selection.score(AS_OF, 30, top_k=5)
    again = selection.score(AS_OF, 30, top_k=5)
    pd.testing.assert_frame_equal(first, again)
    pd.testing.assert_frame_equal(first, uncached(selection).score(AS_OF, 30, top_k=5))
    entries = len(selection._cache())

    # the platform filter, sku_ids and top_k are applied after the cache: no new entry, right answers
    platform = first["platform"].iloc[0]
    mine = selection.score(AS_OF, 30, platform=platform)
    assert len(selection._cache()) == entries
    assert mine["platform"].eq(platform).all() and mine["rank"].tolist() == list(range(1, len(mine) + 1))
    pd.testing.assert_frame_equal(mine, uncached(selection).score(AS_OF, 30, platform=platform))

    # another horizon or as_of: its own features, its own answer
    other = selection.score(AS_OF, 14, top_k=5)
    assert len(selection._cache()) == entries + 1
    pd.testing.assert_frame_equal(other, uncached(selection).score(AS_OF, 14, top_k=5))
    assert not np.allclose(other["expected_revenue"].sum(), first["expected_revenue"].sum())
    earlier = selection.score("2026-09-01", 30, top_k=5)
    pd.testing.assert_frame_equal(earlier, uncached(selection).score("2026-09-01", 30, top_k=5))


def test_selection_features_edited_by_a_caller_do_not_reach_the_cache(selection: SelectionBundle) -> None:
    frame = selection.features(AS_OF, 30)
    column = next(c for c in frame.columns if pd.api.types.is_float_dtype(frame[c]))
    before = selection.features(AS_OF, 30)[column].copy()
    frame[column] = -1.0
    frame.loc[0, "sku_id"] = "edited"
    frame["added"] = 1
    after = selection.features(AS_OF, 30)
    pd.testing.assert_series_equal(after[column], before)
    assert "added" not in after and "edited" not in set(after["sku_id"])


def test_selection_pickle_and_with_history_drop_the_cache(selection: SelectionBundle, dataset) -> None:  # noqa: ANN001
    selection.score(AS_OF, 30, top_k=5)
    assert len(selection._cache()) >= 1
    assert "_feature_cache" not in selection.__getstate__()
    copy = pickle.loads(pickle.dumps(selection))
    assert len(copy._cache()) == 0
    pd.testing.assert_frame_equal(copy.score(AS_OF, 30, top_k=5), selection.score(AS_OF, 30, top_k=5))
    refreshed = selection.with_history(dataset)
    assert refreshed._cache() is not selection._cache() and len(refreshed._cache()) == 0
    old = SelectionBundle.__new__(SelectionBundle)
    old.__dict__.update(selection.__getstate__())
    pd.testing.assert_frame_equal(old.score(AS_OF, 30, top_k=5), selection.score(AS_OF, 30, top_k=5))


def test_selection_second_call_reuses_the_features(selection: SelectionBundle, monkeypatch) -> None:  # noqa: ANN001
    import daiyun.models.selection.bundle as selection_module

    fresh = pickle.loads(pickle.dumps(selection))  # a pickle round trip starts with an empty cache
    builds = []
    original = selection_module.selection_frame

    def counting(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        builds.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(selection_module, "selection_frame", counting)
    first = fresh.score(AS_OF, 30, top_k=5)
    second = fresh.score(AS_OF, 30, top_k=5)
    fresh.score(AS_OF, 30, top_k=3)
    assert len(builds) == 1
    pd.testing.assert_frame_equal(first, second)
