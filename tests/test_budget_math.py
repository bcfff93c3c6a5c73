"""Budget family, code behaviour on hand-made curves: carry-over, saturation, the optimizer, the plan,
and every way a request can be infeasible. No data directory, no MLflow: fast."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import minimize

from daiyun.features.dataset import EVENTS_COLUMNS
from daiyun.features.errors import NotFoundError, RequestError
from daiyun.models.budget.bundle import BudgetBundle
from daiyun.models.budget.curves import (
    ChannelCurves,
    geometric_adstock,
    hill,
    hill_curvature,
    hill_derivative,
)
from daiyun.models.budget.optimizer import max_revenue, target_roi
from daiyun.models.budget.plan import daily_weights, pacing_index, phase_labels
from daiyun.models.budget.response import ResponseModel

CHANNELS = ["tmall_ztc", "tmall_wxt", "jd_kuaiche", "douyin_qianchuan", "pdd_search", "xhs_juguang"]


def test_geometric_adstock_is_the_recursion() -> None:
    spend = np.array([10.0, 0.0, 5.0, 0.0, 0.0, 7.0])
    expected, carried = [], 0.0
    for s in spend:
        carried = s + 0.6 * carried
        expected.append(carried)
    assert np.allclose(geometric_adstock(spend, 0.6), expected)
    assert np.allclose(geometric_adstock(spend, 0.0), spend)
    both = geometric_adstock(np.column_stack([spend, spend]), np.array([0.0, 0.6]))
    assert np.allclose(both[:, 0], spend) and np.allclose(both[:, 1], expected)


@pytest.mark.parametrize("shape", [0.6, 1.0, 2.5])
def test_hill_values_and_derivatives(shape: float) -> None:
    half = 300.0
    assert hill(0.0, half, shape) == 0.0
    assert hill(half, half, shape) == pytest.approx(0.5)
    x = np.linspace(10, 2000, 50)
    values = hill(x, half, shape)
    assert np.all(np.diff(values) > 0) and values.max() < 1.0
    step = 1e-3
    numeric = (hill(x + step, half, shape) - hill(x - step, half, shape)) / (2 * step)
    assert np.allclose(hill_derivative(x, half, shape), numeric, rtol=1e-5)
    numeric2 = (hill_derivative(x + step, half, shape) - hill_derivative(x - step, half, shape)) / (2 * step)
    assert np.allclose(hill_curvature(x, half, shape), numeric2, rtol=1e-4, atol=1e-12)


def make_curves(n: int = 6, seed: int = 1, days: int = 30, stock: bool = True) -> ChannelCurves:
    rng = np.random.default_rng(seed)
    pacing = rng.uniform(0.5, 2.0, (n, days))
    pacing /= pacing.sum(axis=1, keepdims=True)
    half = rng.uniform(2_000, 20_000, n) * days / 10
    return ChannelCurves.from_parameters(
        [f"c{i}" for i in range(n)],
        pacing,
        decay=rng.uniform(0.1, 0.7, n),
        half_saturation=half,
        shape=rng.uniform(0.7, 2.0, n),
        beta=rng.uniform(1_000, 8_000, n),
        stock=half * rng.uniform(0.0, 0.3, n) if stock else None,
    )


def test_period_curves_match_a_day_by_day_simulation() -> None:
    decay, half, shape, beta, stock, days = 0.5, 3_000.0, 1.4, 9_000.0, 2_500.0, 20
    pacing = np.linspace(1.0, 3.0, days)
    pacing /= pacing.sum()
    curves = ChannelCurves.from_parameters(
        ["c"],
        pacing[None, :],
        np.array([decay]),
        np.array([half]),
        np.array([shape]),
        np.array([beta]),
        stock=np.array([stock]),
    )
    total = 40_000.0
    horizon = curves.carry.shape[1]  # the period plus the carry-over tail
    spend = np.r_[total * pacing, np.zeros(horizon - days)]
    with_spend, without, x, x0 = [], [], stock, stock
    for s in spend:
        x, x0 = s + decay * x, decay * x0
        with_spend.append(hill(x, half, shape))
        without.append(hill(x0, half, shape))
    expected = beta * (np.sum(with_spend) - np.sum(without))
    assert curves.revenue(np.array([total]))[0] == pytest.approx(expected, rel=1e-9)
    slope = curves.marginal_roi(np.array([total]))[0]
    numeric = (curves.revenue(np.array([total + 1.0]))[0] - curves.revenue(np.array([total - 1.0]))[0]) / 2.0
    assert slope == pytest.approx(numeric, rel=1e-5)
    bend = curves.curvature(np.array([total]))[0]
    numeric = (
        curves.marginal_roi(np.array([total + 1.0]))[0] - curves.marginal_roi(np.array([total - 1.0]))[0]
    ) / 2
    assert bend == pytest.approx(numeric, rel=1e-4)


def test_revenue_counts_only_what_the_period_adds_over_the_carry_in() -> None:
    curves = make_curves(n=3, stock=True)
    assert np.allclose(curves.revenue(np.zeros(3)), 0.0)
    grid = np.outer(np.ones(3), [0.0, 1e4, 5e4])
    assert np.allclose(curves.revenue(grid)[:, 1], curves.revenue(np.full(3, 1e4)))
    draws = ChannelCurves.from_parameters(
        curves.channels,
        np.full((3, 10), 0.1),
        np.full(3, 0.3),
        curves.half_saturation,
        curves.shape,
        curves.beta,
        draws={
            "decay": np.full((4, 3), 0.3),
            "beta": np.tile(curves.beta, (4, 1)),
            "half_saturation": np.tile(curves.half_saturation, (4, 1)),
            "shape": np.tile(curves.shape, (4, 1)),
        },
    )
    assert draws.revenue_draws(np.full(3, 1e4)).shape == (4, 3)
    assert np.allclose(draws.revenue_draws(np.full(3, 1e4))[0], draws.revenue(np.full(3, 1e4)))


def slsqp_best(curves: ChannelCurves, budget: float, lower: np.ndarray, upper: np.ndarray) -> float:
    n = len(lower)
    best = -np.inf
    for start in (np.full(n, budget / n), np.clip(np.full(n, budget / n), lower, upper)):
        result = minimize(
            lambda s: -curves.revenue(np.maximum(s, 0)).sum(),
            start,
            jac=lambda s: -curves.marginal_roi(np.maximum(s, 0)),
            bounds=list(zip(lower, np.minimum(upper, budget), strict=True)),
            constraints=[{"type": "eq", "fun": lambda s: s.sum() - budget}],
            method="SLSQP",
            options={"maxiter": 500, "ftol": 1e-12},
        )
        if abs(result.x.sum() - budget) < 1e-3 * budget:
            best = max(best, -result.fun)
    return best


def test_max_revenue_equalises_marginal_roi_and_beats_slsqp() -> None:
    curves = make_curves()
    budget = 60_000.0
    n = len(curves.channels)
    allocation = max_revenue(curves, budget, np.zeros(n), np.full(n, np.inf))
    assert allocation.total_spend == pytest.approx(budget, rel=1e-9)
    free = np.array(allocation.status) == "free"
    assert free.sum() >= 2 and allocation.equalized
    assert np.ptp(allocation.marginal_roi[free]) / allocation.marginal_roi[free].mean() < 1e-6
    # channels left at zero would earn less than the common marginal ROI
    assert np.all(allocation.marginal_roi[~free] <= allocation.shadow_price * (1 + 1e-6))
    assert allocation.total_revenue >= slsqp_best(curves, budget, np.zeros(n), np.full(n, np.inf)) * (
        1 - 1e-6
    )


def test_min_max_and_fixed_are_respected() -> None:
    curves = make_curves()
    n = len(curves.channels)
    free_run = max_revenue(curves, 60_000.0, np.zeros(n), np.full(n, np.inf))
    lowest, highest = np.argsort(free_run.marginal_roi * (free_run.spend > 0) + (free_run.spend == 0) * 1e9)[
        :2
    ]
    lower, upper, fixed = np.zeros(n), np.full(n, np.inf), np.zeros(n, bool)
    # a minimum above what it would get, a maximum below, one fixed spend
    lower[0] = free_run.spend[0] + 5_000
    top = int(np.argmax(free_run.spend[1:])) + 1
    upper[top] = free_run.spend[top] * 0.5
    other = next(i for i in range(1, n) if i != top)
    lower[other] = upper[other] = 3_333.0
    fixed[other] = True
    allocation = max_revenue(curves, 60_000.0, lower, upper, fixed)
    assert allocation.total_spend == pytest.approx(60_000.0, rel=1e-9)
    assert np.all(allocation.spend >= lower - 1e-6) and np.all(allocation.spend <= upper + 1e-6)
    assert allocation.spend[0] == pytest.approx(lower[0]) and allocation.status[0] == "min"
    assert allocation.spend[top] == pytest.approx(upper[top]) and allocation.status[top] == "max"
    assert allocation.spend[other] == pytest.approx(3_333.0) and allocation.status[other] == "fixed"
    free = np.array(allocation.status) == "free"
    if free.sum() >= 2:
        assert np.ptp(allocation.marginal_roi[free]) / allocation.marginal_roi[free].mean() < 1e-6
    # the bound-held channels sit on the right side of the common marginal ROI
    assert allocation.marginal_roi[0] <= allocation.shadow_price * (1 + 1e-6)
    assert allocation.marginal_roi[top] >= allocation.shadow_price * (1 - 1e-6)
    assert allocation.total_revenue >= slsqp_best(curves, 60_000.0, lower, upper) * (1 - 1e-6)
    assert lowest != highest  # the free run had channels to choose from


def test_maximums_below_the_budget_leave_it_unspent() -> None:
    curves = make_curves(n=3)
    allocation = max_revenue(curves, 10_000.0, np.zeros(3), np.array([1_000.0, 2_000.0, 3_000.0]))
    assert np.allclose(allocation.spend, [1_000.0, 2_000.0, 3_000.0])
    assert allocation.unspent == pytest.approx(4_000.0)


def test_target_roi_is_the_largest_spend_keeping_the_target() -> None:
    curves = make_curves(stock=False)
    n = len(curves.channels)
    budget = 400_000.0
    full = max_revenue(curves, budget, np.zeros(n), np.full(n, np.inf))
    target = full.total_revenue / budget * 1.5  # not reachable at the full budget
    allocation, met = target_roi(curves, budget, np.zeros(n), np.full(n, np.inf), target)
    assert met and allocation.total_spend < budget
    assert allocation.total_revenue / allocation.total_spend >= target * (1 - 1e-9)
    more = max_revenue(curves, allocation.total_spend * 1.01, np.zeros(n), np.full(n, np.inf))
    assert more.total_revenue / more.total_spend < target
    # a target the budget meets: spend it all
    easy, met = target_roi(curves, budget, np.zeros(n), np.full(n, np.inf), target=0.01)
    assert met and easy.total_spend == pytest.approx(budget)
    # a target nothing meets
    _, met = target_roi(curves, budget, np.zeros(n), np.full(n, np.inf), target=1e6)
    assert not met


def test_phase_pacing_follows_history() -> None:
    calendar = pd.DataFrame(
        {
            "is_event": [0, 0, 1, 1, 1, 1, 0],
            "phase_presale": [0, 0, 1, 1, 0, 0, 0],
            "phase_peak": [0, 0, 0, 0, 1, 0, 0],
            "phase_day": [0, 0, 0, 0, 0, 1, 0],
        }
    )
    labels = phase_labels(calendar)
    assert list(labels) == ["warmup", "warmup", "presale", "presale", "peak", "day", "regular"]
    history = pd.DataFrame({"a": [10.0] * 30 + [20.0] * 30 + [40.0] * 30})
    history_labels = np.array(["regular"] * 30 + ["presale"] * 30 + ["day"] * 30)
    index = pacing_index(history, history_labels)
    assert index.loc["a", "presale"] == pytest.approx((2.0 * 30 + 7) / 37)
    weights = daily_weights(index, ["a"], np.array(["regular", "presale", "day"]))
    assert weights.sum() == pytest.approx(1.0)
    assert weights[0, 0] < weights[0, 1] < weights[0, 2]


# -- a bundle on hand-made curves: requests, answers and every infeasible constraint -------------
@pytest.fixture(scope="module")
def bundle() -> BudgetBundle:
    rng = np.random.default_rng(5)
    n = len(CHANNELS)
    model = ResponseModel()
    model.curves_ = pd.DataFrame(
        {
            "channel": CHANNELS,
            "platform": [c.split("_")[0] for c in CHANNELS],
            "decay": rng.uniform(0.1, 0.6, n),
            "shape": rng.uniform(0.8, 1.8, n),
            "half_saturation": rng.uniform(2_000, 8_000, n),
            "beta": rng.uniform(5_000, 20_000, n),
        }
    )
    draws = 8
    model.draws_ = {
        "decay": np.tile(model.curves_["decay"].to_numpy(), (draws, 1)),
        "shape": np.tile(model.curves_["shape"].to_numpy(), (draws, 1)),
        "half_saturation": np.tile(model.curves_["half_saturation"].to_numpy(), (draws, 1)),
        "beta": model.curves_["beta"].to_numpy() * rng.uniform(0.8, 1.2, (draws, n)),
    }
    model.metrics_ = {}
    dates = pd.date_range("2025-01-01", "2026-10-15", freq="D")
    spend = pd.DataFrame(rng.uniform(1_000, 4_000, (len(dates), n)), index=dates, columns=CHANNELS)
    return BudgetBundle(
        brand="demo", model=model, spend_history=spend, events=pd.DataFrame(columns=EVENTS_COLUMNS), freq="D"
    )


def test_answer_has_the_interface_fields_and_the_plan_adds_up(bundle: BudgetBundle) -> None:
    # the optimizer's own split (the do-no-harm hold moves only 75% of the way here: its 26% predicted
    # uplift over moving 43% of the budget is not 0.8 sure; tests/test_budget_do_no_harm.py)
    answer = bundle.recommend("2026-10-16", "2026-11-14", 300_000, min_confidence=0.0)
    assert answer["totals"]["spend"] == pytest.approx(300_000, rel=1e-6)
    for row in answer["channels"]:
        for key in ("channel", "spend", "expected_revenue", "roi", "marginal_roi", "p10", "p90", "bound"):
            assert key in row
        assert row["p10"] <= row["expected_revenue"] <= row["p90"] or row["spend"] == 0
    totals = answer["totals"]
    assert totals["p10"] <= totals["expected_revenue"] <= totals["p90"]
    assert answer["marginal_roi_equalized"] is True
    assert any("equalised" in note for note in answer["notes"])
    current = answer["current_mix"]
    assert current["period_start"] == "2025-10-17"  # 52 weeks earlier, same weekdays
    assert current["totals"]["spend"] == pytest.approx(300_000, rel=1e-6)
    assert answer["uplift"]["expected_revenue"] == pytest.approx(
        totals["expected_revenue"] - current["totals"]["expected_revenue"], abs=0.05
    )
    assert totals["expected_revenue"] >= current["totals"]["expected_revenue"]
    plan = pd.DataFrame(answer["daily_plan"])
    assert plan["date"].nunique() == 30
    by_channel = plan.groupby("channel")["spend"].sum()
    for row in answer["channels"]:
        assert by_channel[row["channel"]] == pytest.approx(row["spend"], abs=0.01 * 30)
    assert set(plan["phase"]) >= {"presale", "peak", "day"}  # Double 11 is in the period
    assert set(answer["curves"]) == set(CHANNELS) and len(answer["curves"]["tmall_ztc"]) >= 10
    assert answer["model_versions"]["budget"]


def test_constraints_in_the_answer(bundle: BudgetBundle) -> None:
    constraints = [
        {"channel": "tmall_ztc", "min": 80_000},
        {"channel": "pdd_search", "max": 1_000},
        {"channel": "xhs_juguang", "fixed": 12_345},
    ]
    answer = bundle.recommend("2026-10-16", "2026-11-14", 300_000, channels=constraints)
    rows = {row["channel"]: row for row in answer["channels"]}
    assert rows["tmall_ztc"]["spend"] >= 80_000 - 0.01
    assert rows["pdd_search"]["spend"] <= 1_000 + 0.01
    assert rows["xhs_juguang"]["spend"] == pytest.approx(12_345, abs=0.01)
    assert rows["xhs_juguang"]["bound"] == "fixed"
    target = bundle.recommend("2026-10-16", "2026-11-14", 300_000, target_roi=2.0)
    assert target["objective"] == "target_roi" and target["target_met"] is True
    assert target["totals"]["roi"] >= 2.0 - 1e-6


@pytest.mark.parametrize(
    ("constraints", "budget", "field", "error"),
    [
        (
            [{"channel": "tmall_ztc", "min": 200_000}, {"channel": "jd_kuaiche", "min": 150_000}],
            300_000,
            "channels",
            RequestError,
        ),
        (
            [{"channel": "tmall_ztc", "fixed": 250_000}, {"channel": "jd_kuaiche", "fixed": 60_000}],
            300_000,
            "channels",
            RequestError,
        ),
        (
            [{"channel": "tmall_ztc", "min": 5_000, "max": 1_000}],
            300_000,
            "channels[tmall_ztc].min",
            RequestError,
        ),
        (
            [{"channel": "tmall_ztc", "fixed": 9_000, "max": 1_000}],
            300_000,
            "channels[tmall_ztc].fixed",
            RequestError,
        ),
        ([{"channel": "tmall_ztc", "min": -5}], 300_000, "channels[tmall_ztc].min", RequestError),
        ([{"channel": "tmall_ztc", "max": "lots"}], 300_000, "channels[tmall_ztc].max", RequestError),
        (
            [{"channel": "tmall_ztc", "min": 1}, {"channel": "tmall_ztc", "max": 9}],
            300_000,
            "channels[tmall_ztc]",
            RequestError,
        ),
        ([{"channel": "tmall_ztc", "maximum": 9}], 300_000, "channels[0].maximum", RequestError),
        ([{"channel": "kuaishou_cili", "min": 1}], 300_000, "channel", NotFoundError),
        (None, 0, "total_budget", RequestError),
        (None, -10, "total_budget", RequestError),
    ],
)
def test_infeasible_requests_name_the_constraint(
    bundle: BudgetBundle, constraints, budget, field, error
) -> None:  # noqa: ANN001
    with pytest.raises(error) as raised:
        bundle.recommend("2026-10-16", "2026-11-14", budget, channels=constraints)
    assert raised.value.field == field
    if field == "channels":
        assert "above total_budget" in str(raised.value) and "tmall_ztc" in str(raised.value)
    if error is NotFoundError:
        assert raised.value.status == 404 and "kuaishou_cili" in str(raised.value)


def test_bad_periods_and_objectives(bundle: BudgetBundle) -> None:
    with pytest.raises(RequestError, match="before start"):
        bundle.recommend("2026-11-14", "2026-10-16", 1_000)
    with pytest.raises(RequestError, match="needs a target_roi"):
        bundle.recommend("2026-10-16", "2026-11-14", 1_000, objective="target_roi")
    with pytest.raises(RequestError, match="unknown objective"):
        bundle.recommend("2026-10-16", "2026-11-14", 1_000, objective="max_profit")
    with pytest.raises(RequestError) as raised:
        bundle.recommend("not a date", "2026-11-14", 1_000)
    assert raised.value.field == "start/end"
