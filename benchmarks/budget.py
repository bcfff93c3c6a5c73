"""Budget benchmark: are the fitted curves right, and do the recommended splits earn what the truth allows?

1. Demo sample (simulated, daily): fit each brand as `daiyun train budget` does, compare every
   channel's fitted ROI and marginal ROI with `truth/channels` over the future period
   (2026-10-16 .. 2026-11-14: Double 11 pre-sale and peak), and score allocations on the TRUE
   curves (same daily pacing, true carry-in from the history): regret = (true optimum - truth's
   revenue of the allocation) / true optimum, for 0.5x, 1x and 2x the historical budget (the
   brand's spend in the same period a year earlier). Compared: our recommendation, the current
   mix (last year's shares scaled to the budget) and an equal split. Target: regret <= 3% and
   below both baselines.
2. Robyn `dt_simulated_weekly` and Meridian `national_all_channels` (weekly, ../shared/data):
   converted to contract tables (one platform, revenue only; their control variables have no
   place in the contract and are left out), fitted and asked for the next 12 weeks at the last
   12 weeks' spend: each channel's fitted ROI and the recommended shift.
3. Speed: optimizer solve time for 6, 50 and 200 channels (targets < 50 ms and < 1 s), the
   end-to-end `recommend` time, and fit time per brand.

A second demo seed (11) and a fit without the attributed revenue show how much of the result is
one sample's luck and how much the prior contributes.

Run: .venv/bin/python benchmarks/budget.py [--data /tmp/demo] [--seeds 7,11] [--trials 30]
     [--only demo,robyn,meridian,speed]
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
SHARED = REPO.parent / "shared" / "data"
RESULTS = Path(os.environ.get("DAIYUN_BUDGET_RESULTS", REPO / "benchmarks" / "results" / "budget.md"))

from daiyun.features.load import load  # noqa: E402
from daiyun.models.budget.curves import ChannelCurves  # noqa: E402
from daiyun.models.budget.optimizer import max_revenue  # noqa: E402
from daiyun.models.budget.robust import (  # noqa: E402
    DEFAULT_MAX_SHIFT,
    MIN_CONFIDENCE,
    MIN_CONFIDENCE_UNTESTED,
    MODEL_LOG_BIAS,
    MODEL_LOG_ERROR,
    UPLIFT_ERROR_PER_MOVE,
    Z80,
    calibrate_interval,
    moved_share,
)
from daiyun.training.trainers.budget import DEFAULT_TRIALS, PRIOR_SPREAD, fit_brand  # noqa: E402

MULTIPLES = (0.5, 1.0, 2.0)
# how the fit may use the platforms' attributed revenue (fit_brand options)
CONFIGURATIONS = {
    "default": {},
    "not used": {"prior_spread": None, "shapes_from_attribution": False},
}


def markdown(frame: pd.DataFrame, floatfmt: str = ".3f") -> str:
    def cell(value: object) -> str:
        if isinstance(value, float | np.floating):
            return format(value, floatfmt) if np.isfinite(value) else "n/a"
        return str(value)

    lines = ["| " + " | ".join(map(str, frame.columns)) + " |", "|" + "---|" * len(frame.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join(lines)


# -- 1. demo sample against the truth -----------------------------------------------------------
def truth_curves(
    bundle, truth: pd.DataFrame, dates: pd.DatetimeIndex, history_end: pd.Timestamp
) -> ChannelCurves:  # noqa: ANN001
    """The simulator's true curves for this period, laid out by the same daily plan as ours."""
    _, pacing, _ = bundle.period_curves(dates)
    rows = truth.set_index("channel").loc[bundle.channels()]
    decay = rows["decay"].to_numpy()
    gap = max(0, (dates[0] - history_end).days - 1)
    return ChannelCurves.from_parameters(
        bundle.channels(),
        pacing,
        decay,
        rows["half_saturation"].to_numpy(),
        rows["shape"].to_numpy(),
        rows["max_daily_revenue"].to_numpy(),
        stock=rows["adstock_at_history_end"].to_numpy() * decay**gap,
    )


def demo(
    data_dir: Path, trials: int, label: str = "default", **fit_options
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, dict]:
    meta = json.loads((data_dir / "truth" / "meta.json").read_text())
    truth = pd.read_parquet(data_dir / "truth" / "channels.parquet")
    dataset = load(data_dir)
    start, end = pd.Timestamp(meta["future_start"]), pd.Timestamp(meta["future_end"])
    history_end = pd.Timestamp(meta["history_end"])
    dates = pd.date_range(start, end, freq="D")
    regret_rows, curve_rows, fit_rows, timings = [], [], [], {}
    for brand in dataset.brands:
        began = time.perf_counter()
        cache = os.environ.get("DAIYUN_BUDGET_FIT_CACHE")
        stored = Path(cache) / f"{data_dir.name}-{brand}-{label}-t{trials}-v4.pkl" if cache else None
        if stored is not None and stored.exists():
            bundle, fit_seconds = pickle.loads(stored.read_bytes())
        else:
            bundle, _ = fit_brand(dataset, brand, n_trials=trials, **fit_options)
            fit_seconds = time.perf_counter() - began
            if stored is not None:
                stored.parent.mkdir(parents=True, exist_ok=True)
                stored.write_bytes(pickle.dumps((bundle, fit_seconds)))
        ours, _, _ = bundle.period_curves(dates)
        true = truth_curves(bundle, truth[truth["brand"].eq(brand)], dates, history_end)
        window, shares = bundle.current_mix(dates)
        history = bundle.spend_history.loc[window[0] : window[1], bundle.channels()].to_numpy().sum()
        n = len(bundle.channels())
        fit_rows.append(
            {
                "brand": brand,
                "channels": n,
                "fit_seconds": fit_seconds,
                "oot_wape": bundle.metrics.get("oot_wape", np.nan),
                "share_ads_fitted": 1 - bundle.metrics.get("share_baseline", np.nan),
            }
        )
        # curves: ROI and marginal ROI at last year's mix of the historical budget
        current = shares * history
        roi_true, roi_fit = true.revenue(current) / current, ours.revenue(current) / current
        m_true, m_fit = true.marginal_roi(current), ours.marginal_roi(current)
        for i, channel in enumerate(bundle.channels()):
            curve_rows.append(
                {
                    "brand": brand,
                    "channel": channel,
                    "period_spend": current[i],
                    "roi_true": roi_true[i],
                    "roi_fitted": roi_fit[i],
                    "mroi_true": m_true[i],
                    "mroi_fitted": m_fit[i],
                }
            )
        for multiple in MULTIPLES:
            budget = history * multiple
            optimum = max_revenue(true, budget, np.zeros(n), np.full(n, np.inf))
            began = time.perf_counter()
            answer = bundle.recommend(start, end, budget)
            timings.setdefault("recommend_seconds", []).append(time.perf_counter() - began)
            recommended = np.array([row["spend"] for row in answer["channels"]])
            candidates = {
                "recommended": recommended,
                "current_mix": shares * budget,
                "equal_split": np.full(n, budget / n),
            }
            row = {
                "brand": brand,
                "budget_x": multiple,
                "budget": budget,
                "true_optimum_revenue": optimum.total_revenue,
            }
            for name, spend in candidates.items():
                row[f"regret_{name}"] = (
                    optimum.total_revenue - true.revenue(spend).sum()
                ) / optimum.total_revenue
            row["predicted_uplift"] = answer["uplift"]["ratio"]
            row["true_uplift"] = true.revenue(recommended).sum() / true.revenue(shares * budget).sum() - 1
            regret_rows.append(row)
    return pd.DataFrame(regret_rows), pd.DataFrame(curve_rows), pd.DataFrame(fit_rows), timings


def demo_section(data_dir: Path, regret, curves, fits, timings) -> str:  # noqa: ANN001
    from scipy.stats import spearmanr

    summary = regret[["regret_recommended", "regret_current_mix", "regret_equal_split"]].agg(["mean", "max"])
    rho = curves.groupby("brand").apply(lambda g: spearmanr(g["mroi_true"], g["mroi_fitted"])[0])
    log_ratio = np.abs(np.log(np.maximum(curves["roi_fitted"], 1e-3) / curves["roi_true"]))
    mean, worst = regret["regret_recommended"].mean(), regret["regret_recommended"].max()
    beats = (
        regret["regret_recommended"] < regret[["regret_current_mix", "regret_equal_split"]].min(axis=1)
    ).sum()
    overstated = (regret["predicted_uplift"] - regret["true_uplift"]).median()
    status = "met" if mean <= 0.03 else "MISSED"
    verdict = (
        f"**Verdict**: mean regret {mean:.1%} (target <= 3%: {status}), worst case {worst:.1%}; "
        f"the recommendation beats both the current mix and the equal split in {beats} of "
        f"{len(regret)} cases. The predicted uplift over the current mix overstates the true "
        f"uplift by {overstated:.0%} points (median): the plan is optimised for the fitted curves, "
        "so it is graded on their errors too.\n\n"
    )
    return (
        f"## 1. Demo sample ({data_dir}) against truth/channels\n\n" + verdict + "Regret on the TRUE curves "
        "(0 = the true optimum; lower is better; target <= 0.03 and below both baselines):\n\n"
        + markdown(regret)
        + "\n\nMean / max regret over brands and budgets:\n\n"
        + markdown(summary.reset_index().rename(columns={"index": "stat"}))
        + "\n\n"
        "Fitted vs true curves over the period, at last year's mix of the historical budget "
        "(ROI = incremental revenue / spend; mROI = marginal ROI):\n\n" + markdown(curves) + "\n\n"
        "Spearman rank correlation of marginal ROI (fitted vs true) per brand: "
        + ", ".join(f"{b} {r:.2f}" for b, r in rho.items())
        + f". ROI within a factor 2 of the truth: {np.mean(log_ratio < np.log(2)):.0%} of channels; "
        f"median |log(fitted/true)| {np.median(log_ratio):.2f}.\n\nFit per brand:\n\n"
        + markdown(fits)
        + f"\n\nEnd-to-end `recommend` (30 days, {len(curves) // max(len(fits), 1)} channels, "
        f"60 bootstrap curves): median {1000 * np.median(timings['recommend_seconds']):.0f} ms.\n"
    )


# -- 0. the generator family ---------------------------------------------------------------------
SHIFTS = (0.3, 1.0, 3.0, 1e6)  # 3 is the default; 1e6 = no trust region
BARS = (0.5, 0.6, 0.7, 0.8)  # how sure a split must be to move money (robust.MIN_CONFIDENCE)


def family_draw(seed: int, trials: int) -> tuple[list[dict], dict]:
    """Fit one world of the family (with and without its lift tests) and score every budget."""
    from daiyun.features.simulator.budget_family import draw, write_draw

    world = draw(seed)
    directory = write_draw(Path(tempfile.gettempdir()) / "daiyun-budget-family" / f"seed{seed}", world)
    dataset = load(directory)
    # DAIYUN_BUDGET_FIT_CACHE=<dir> keeps the fits (deterministic for a seed and trial count), so a
    # change to the answer alone (intervals, trust region) is re-measured without refitting
    cache = os.environ.get("DAIYUN_BUDGET_FIT_CACHE")
    stored = Path(cache) / f"seed{seed}-trials{trials}-v4.pkl" if cache else None
    if stored is not None and stored.exists():
        bundle, blind, plain, fit_seconds = pickle.loads(stored.read_bytes())
    else:
        began = time.perf_counter()
        bundle, _ = fit_brand(dataset, world.brand, n_trials=trials)
        fit_seconds = time.perf_counter() - began
        blind, _ = fit_brand(dataset, world.brand, n_trials=trials, use_experiments=False)
        # the same fit without the platforms' attributed revenue (no shapes read from it, no prior)
        plain, _ = fit_brand(dataset, world.brand, n_trials=trials, **CONFIGURATIONS["not used"])
        if stored is not None:
            stored.parent.mkdir(parents=True, exist_ok=True)
            stored.write_bytes(pickle.dumps((bundle, blind, plain, fit_seconds)))
    start, end = world.period
    dates = pd.date_range(start, end, freq="D")
    names = bundle.channels()
    order = [world.names.index(n) for n in names]
    _, pacing, _ = bundle.period_curves(dates)
    truth_pacing = np.zeros((len(world.names), pacing.shape[1]))
    truth_pacing[order] = pacing
    _, shares = bundle.current_mix(dates)

    def true_total(spend: np.ndarray) -> float:
        full = np.zeros(len(world.names))
        full[order] = spend
        return float(world.true_revenue(full, truth_pacing).sum())

    rows = []
    for multiple in MULTIPLES:
        budget = world.planned_budget * multiple
        _, optimum = world.true_optimum(budget, truth_pacing)
        current = true_total(shares * budget)
        answer = bundle.recommend(start, end, budget)
        spend = np.array([r["spend"] for r in answer["channels"]])
        achieved = true_total(spend)
        totals = answer["totals"]
        row = {
            "draw": seed,
            "channels": len(names),
            "event": world.event,
            "budget_x": multiple,
            "regret_recommended": (optimum - achieved) / optimum,
            "regret_current_mix": (optimum - current) / optimum,
            "worse_than_current": achieved < current * (1 - 1e-6),
            "kept_current_mix": answer["kept_current_mix"],
            "claimed_over_true": totals["expected_revenue"] / achieved,
            "covered": totals["p10"] <= achieved <= totals["p90"],
            "p10_over_true": totals["p10"] / achieved,
            "p90_over_true": totals["p90"] / achieved,
            # the bootstrap's own log spread of the total, backed out of the interval's width (the
            # model error is added in quadrature): what robust.calibrate_interval needs
            "bootstrap_log_spread": float(
                np.sqrt(
                    max((np.log(totals["p90"] / totals["p10"]) / (2 * Z80)) ** 2 - MODEL_LOG_ERROR**2, 0.0)
                )
            ),
            "prob_beats_current": answer["uplift"]["prob_beats_current"],
            "predicted_uplift": answer["uplift"]["ratio"],
            "true_uplift": achieved / current - 1.0,
            "unidentifiable": sum(not r["identifiable"] for r in answer["channels"]),
            "past_breakeven": answer["breakeven"]["past_breakeven"],
        }
        for label, other in (("without_tests", blind), ("attribution_not_used", plain)):
            answer_other = other.recommend(start, end, budget)
            row[f"regret_{label}"] = (
                optimum - true_total(np.array([r["spend"] for r in answer_other["channels"]]))
            ) / optimum
        for shift in SHIFTS:  # without the hold: what the trust region alone does
            other = bundle.recommend(start, end, budget, max_shift=shift, min_confidence=0.0)
            label = "none" if shift > 100 else f"{shift:g}"
            if shift == DEFAULT_MAX_SHIFT:  # the split the hold judged: its predicted and true uplift
                row["unheld_predicted_uplift"] = other["uplift"]["ratio"]
                row["unheld_true_uplift"] = (
                    true_total(np.array([r["spend"] for r in other["channels"]])) / current - 1
                )
                # how far the split moves from the current mix (share of the budget moved): the
                # uplift's model error grows with it (robust.UPLIFT_ERROR_PER_MOVE)
                row["unheld_moved_share"] = moved_share(
                    np.array([r["spend"] for r in other["channels"]]), shares * budget
                )
            row[f"regret_shift_{label}"] = (
                optimum - true_total(np.array([r["spend"] for r in other["channels"]]))
            ) / optimum
        for bar in BARS:  # the bar's trade-off, for the fit with the lift tests and the one without
            for label, model in (("", bundle), ("untested_", blind)):
                other = model.recommend(start, end, budget, min_confidence=bar)
                row[f"regret_{label}bar_{bar:g}"] = (
                    optimum - true_total(np.array([r["spend"] for r in other["channels"]]))
                ) / optimum
        rows.append(row)
    # calibration: the tested channels' fitted ROI with and without the test, against the measurement
    calibration = []
    for test in world.experiments.itertuples(index=False):
        if test.channel not in names:
            continue
        window = slice(str(test.start), str(test.end))
        history = bundle.spend_history.loc[window, test.channel].sum()
        fitted = {
            label: model.model.fitted_.set_index("date")
            for label, model in (("with", bundle), ("without", blind))
        }
        roi = {}
        for label, frame in fitted.items():
            part = frame.loc[(frame.index >= test.start) & (frame.index <= test.end), test.channel].sum()
            roi[label] = float(part) / max(float(history), 1e-9)
        channel = world.channels[world.names.index(test.channel)]
        calibration.append(
            {
                "draw": seed,
                "channel": test.channel,
                "over_credit": channel.over_credit,
                "halo": len(channel.lands) > 1,
                "measured_roi": test.incremental_revenue / test.spend,
                "fitted_roi_with_test": roi["with"],
                "fitted_roi_without_test": roi["without"],
            }
        )
    return rows, {"fit_seconds": fit_seconds, "calibration": calibration}


def family_section(n_draws: int, trials: int, first: int = 0) -> str:
    rows, calibration, seconds = [], [], []
    for seed in range(first, first + n_draws):
        draw_rows, extra = family_draw(seed, trials)
        rows += draw_rows
        calibration += extra["calibration"]
        seconds.append(extra["fit_seconds"])
        print(markdown(pd.DataFrame(draw_rows)), flush=True)
    table = pd.DataFrame(rows)
    regret, current = table["regret_recommended"], table["regret_current_mix"]
    worse = table["worse_than_current"].mean()
    ratio = table["claimed_over_true"].median()
    coverage = table["covered"].mean()
    # what these draws would set the interval's centre and model error to (robust.calibrate_interval);
    # the constants in use come from draws 100-159, never from the draws they are checked on
    bias, model_error = calibrate_interval(
        np.log(table["claimed_over_true"].to_numpy()),
        table["bootstrap_log_spread"].to_numpy(),
        table["draw"].to_numpy(),
    )

    def status(ok: bool) -> str:
        return "met" if ok else "NOT met"

    summary = pd.DataFrame(
        [
            {
                "measure": "median regret",
                "recommended": regret.median(),
                "current_mix": current.median(),
                "target": "<= 0.03",
                "status": status(regret.median() <= 0.03),
            },
            {
                "measure": "p90 regret",
                "recommended": regret.quantile(0.9),
                "current_mix": current.quantile(0.9),
                "target": "<= 0.08",
                "status": status(regret.quantile(0.9) <= 0.08),
            },
            {
                "measure": "share of cases worse than the current mix",
                "recommended": worse,
                "current_mix": np.nan,
                "target": "<= 0.10",
                "status": status(worse <= 0.1),
            },
            {
                "measure": "median claimed / true revenue",
                "recommended": ratio,
                "current_mix": np.nan,
                "target": "0.8-1.25",
                "status": status(0.8 <= ratio <= 1.25),
            },
            {
                "measure": "p10-p90 coverage of the true revenue",
                "recommended": coverage,
                "current_mix": np.nan,
                "target": "0.7-0.9",
                "status": status(0.7 <= coverage <= 0.9),
            },
        ]
    )
    shifts = {
        "max_shift " + c.removeprefix("regret_shift_"): table[c]
        for c in table.columns
        if c.startswith("regret_shift_")
    }
    default_label = (
        f"default: max_shift 3, moved only as far as {MIN_CONFIDENCE:g} sure to beat the current mix"
    )
    # a fit without lift tests has the higher default bar (robust.MIN_CONFIDENCE_UNTESTED)
    untested_label = f"default, lift tests ignored (so {MIN_CONFIDENCE_UNTESTED:g} sure)"
    shift_table = pd.DataFrame(
        [
            {
                "setting": name,
                "median_regret": v.median(),
                "p90_regret": v.quantile(0.9),
                "worse_than_current": float((v > current + 1e-6).mean()),
            }
            for name, v in {
                default_label: regret,
                **{f"{name}, never kept": values for name, values in shifts.items()},
                untested_label: table["regret_without_tests"],
                "default, attributed revenue not used (shapes searched on sales, no prior)": table[
                    "regret_attribution_not_used"
                ],
                **{
                    f"moved only as far as {c.removeprefix('regret_bar_')} sure": table[c]
                    for c in table.columns
                    if c.startswith("regret_bar_")
                },
                **{
                    f"lift tests ignored, as far as {c.removeprefix('regret_untested_bar_')} sure": table[c]
                    for c in table.columns
                    if c.startswith("regret_untested_bar_")
                },
            }.items()
        ]
    )
    # a world's error is shared by its budgets: blocks of 12 worlds show how far a small sample swings,
    # and worlds with channels the data cannot tell apart (moved with their partner in their current
    # ratio, or held near their current spend where a constraint fixes one) are read apart
    groups = {
        "all cases": table["draw"].notna(),
        **{
            f"draws {b}-{min(b + 11, first + n_draws - 1)}": table["draw"].between(b, b + 11)
            for b in range(first, first + n_draws, 12)
        },
        **{f"{x:g}x the planned budget": table["budget_x"].eq(x) for x in sorted(table["budget_x"].unique())},
        "every channel identifiable": table["unidentifiable"].eq(0),
        "some channel not identifiable": table["unidentifiable"].gt(0),
    }
    # where the split is worse than the current mix: by how much of the current mix's true revenue
    lost = (regret - table["regret_current_mix"]) / (1.0 - table["regret_current_mix"])
    worse = table["worse_than_current"].astype(bool)
    group_table = pd.DataFrame(
        [
            {
                "cases": name,
                "n": int(rows_in.sum()),
                "median_regret": regret[rows_in].median(),
                "worse_than_current": table.loc[rows_in, "worse_than_current"].mean(),
                "median_loss_when_worse": lost[rows_in & worse].median(),
                "max_loss_when_worse": lost[rows_in & worse].max(),
                "coverage": table.loc[rows_in, "covered"].mean(),
            }
            for name, rows_in in groups.items()
            if rows_in.any()
        ]
    )
    calib = pd.DataFrame(calibration)
    miscredit_line = ""
    if not calib.empty:
        calib["miscredit"] = np.abs(
            np.log(np.maximum(calib["fitted_roi_without_test"], 1e-9) / calib["measured_roi"])
        )
        off = calib.loc[calib["miscredit"] > np.log(1.5), "draw"].unique()
        per_draw = table.groupby("draw")[["regret_recommended", "regret_without_tests"]].mean()
        moved = per_draw.loc[per_draw.index.isin(off)]
        with_test = np.abs(np.log(np.maximum(calib["fitted_roi_with_test"], 1e-9) / calib["measured_roi"]))
        toward = int((with_test < calib["miscredit"]).sum())
        if len(moved):
            lower = int((moved["regret_recommended"] < moved["regret_without_tests"]).sum())
            miscredit_line = (
                f"\n\nOn the {len(moved)} draws whose tested channel the data alone mis-credits by more "
                f"than 1.5x, mean regret with the lift tests {moved['regret_recommended'].mean():.3f} vs "
                f"{moved['regret_without_tests'].mean():.3f} without them (lower on {lower} of {len(moved)});"
                f" fitted ROI moved toward the measured one on {toward} of {len(calib)} tested channels."
            )
    text = (
        f"## 0. Generator family (draws {first}..{first + n_draws - 1} x 0.5x/1x/2x the planned budget)\n\n"
        "Worlds from `daiyun.features.simulator.budget_family` (carry-over geometric/delayed/long, "
        "saturation Hill/logistic/threshold, additive or traffic-scaled effects, halo from content "
        "channels to Tmall/JD, ramped/flat/dark/burst/lockstep spend, platform over-credit 1-3x, 2-8 "
        "channels, one or two lift tests each). Regret = (true optimum - true revenue of the split) / "
        "true optimum, true optimum by grid DP + SLSQP polish on the true curves, both laid out by the "
        "same daily plan. Baseline: the current mix (last year's shares scaled to the budget), measured "
        f"in the same run. Fit {np.median(seconds):.1f} s per draw (median). The interval's centre and "
        f"model error (MODEL_LOG_BIAS {MODEL_LOG_BIAS}, MODEL_LOG_ERROR {MODEL_LOG_ERROR}, in "
        "`daiyun.models.budget.robust`) were set by `calibrate_interval` on draws 100-159 (run this "
        "benchmark with `--only family --first-draw 100 --draws 60 --trials 20`), UPLIFT_ERROR_PER_MOVE "
        f"{UPLIFT_ERROR_PER_MOVE} on draws 100-111; nothing was set from the draws below. Calibrated on "
        f"these draws instead, they would be {bias:.3f} and {model_error:.3f}.\n\n"
        + markdown(summary)
        + "\n\nTrust region, lift tests, attributed revenue and the bar to move money (same draws; the "
        "'lift tests ignored' and 'attributed revenue not used' rows are separate fits):\n\n"
        + markdown(shift_table)
        + "\n\nBy block of worlds, by budget, and by whether some channel could not be told apart from"
        + " another (those move with it in their current ratio); loss when worse = the true revenue lost"
        + " against the current mix, as a share of the current mix's, over the cases worse than it:\n\n"
        + markdown(group_table)
        + "\n\nPer draw and budget:\n\n"
        + markdown(table)
        + "\n\nLift-test calibration: fitted ROI of each tested channel over its test window, with "
        "and without the test (measured = the test's own estimate; halo = the channel also lifts "
        "other platforms):\n\n"
        + (markdown(calib) if not calib.empty else "no tests on modelled channels")
        + miscredit_line
        + "\n"
    )
    return text


# -- 2. real tools' demo data --------------------------------------------------------------------
def weekly_case(
    name: str, dates: pd.Series, revenue: pd.Series, spends: pd.DataFrame, trials: int
) -> pd.DataFrame:
    """Contract tables in a temp dir -> load -> fit -> next 12 weeks at the last 12 weeks' spend."""
    with tempfile.TemporaryDirectory() as tmp:
        sales = pd.DataFrame(
            {
                "date": pd.to_datetime(dates).dt.strftime("%Y-%m-%d"),
                "brand": name,
                "platform": "all",
                "sku_id": "total",
                "revenue": revenue.to_numpy(),
            }
        )
        ads = []
        for channel in spends.columns:
            ads.append(
                pd.DataFrame(
                    {
                        "date": sales["date"],
                        "brand": name,
                        "platform": "all",
                        "channel": channel,
                        "spend": spends[channel].to_numpy(),
                    }
                )
            )
        sales.to_csv(Path(tmp) / "sales.csv", index=False)
        pd.concat(ads).to_csv(Path(tmp) / "ads.csv", index=False)
        dataset = load(tmp)
        began = time.perf_counter()
        bundle, _ = fit_brand(dataset, name, n_trials=trials)
        fit_seconds = time.perf_counter() - began
    weeks = 12
    budget = float(bundle.spend_history.iloc[-weeks:].to_numpy().sum())
    start = bundle.history_end + pd.Timedelta(days=7)
    answer = bundle.recommend(start, start + pd.Timedelta(days=7 * weeks - 1), budget)
    fitted = bundle.model.fitted_
    rows = []
    for row in answer["channels"]:
        channel = row["channel"]
        history_roi = fitted[channel].sum() / max(bundle.spend_history[channel].sum(), 1e-9)
        current = next(c for c in answer["current_mix"]["channels"] if c["channel"] == channel)
        rows.append(
            {
                "dataset": name,
                "channel": channel,
                "fitted_roi_history": history_roi,
                "mroi_at_current": current["marginal_roi"],
                "current_share": current["share"],
                "recommended_share": row["share"],
                "shift": row["share"] - current["share"],
            }
        )
    out = pd.DataFrame(rows)
    out.attrs.update(
        fit_seconds=fit_seconds,
        oot_wape=bundle.metrics.get("oot_wape"),
        uplift=answer["uplift"]["ratio"],
        share_baseline=bundle.metrics.get("share_baseline"),
    )
    return out


def robyn(trials: int) -> pd.DataFrame | None:
    path = SHARED / "robyn_dt_simulated_weekly" / "dt_simulated_weekly.csv"
    if not path.exists():
        return None
    table = pd.read_csv(path)
    spends = table[["tv_S", "ooh_S", "print_S", "facebook_S", "search_S"]]
    return weekly_case("robyn", table["DATE"], table["revenue"], spends, trials)


def meridian(trials: int) -> pd.DataFrame | None:
    path = SHARED / "meridian_national" / "national_all_channels.csv"
    if not path.exists():
        return None
    table = pd.read_csv(path)
    revenue = table["conversions"] * table["revenue_per_conversion"]
    spends = table[[f"Channel{i}_spend" for i in range(5)]]
    return weekly_case("meridian", table["time"], revenue, spends, trials)


# -- 3. speed -------------------------------------------------------------------------------------
def solve_speed(repeats: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = []
    for n in (6, 50, 200):
        days = 30
        pacing = np.full((n, days), 1.0 / days)
        decay = rng.uniform(0.1, 0.7, n)
        half = rng.uniform(500, 5000, n) * days
        shape = rng.uniform(0.8, 2.2, n)
        beta = rng.uniform(1e3, 1e4, n)
        curves = ChannelCurves.from_parameters(
            [f"c{i}" for i in range(n)], pacing, decay, half, shape, beta, stock=half * rng.uniform(0, 0.5, n)
        )
        budget = float(half.sum() * 0.8)
        times, cpu = [], []
        for _ in range(repeats):
            began, began_cpu = time.perf_counter(), time.process_time()
            allocation = max_revenue(curves, budget, np.zeros(n), np.full(n, np.inf))
            times.append(time.perf_counter() - began)
            cpu.append(time.process_time() - began_cpu)
        rows.append(
            {
                "channels": n,
                "median_ms": 1000 * float(np.median(times)),
                "max_ms": 1000 * max(times),
                "median_cpu_ms": 1000 * float(np.median(cpu)),
                "target_ms": 50 if n == 6 else (1000 if n == 200 else np.nan),
                "equalized": allocation.equalized,
                "budget_used": allocation.total_spend / budget,
            }
        )
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default=os.environ.get("DAIYUN_BENCH_DATA", "/tmp/demo"))
    parser.add_argument("--trials", type=int, default=DEFAULT_TRIALS)
    parser.add_argument("--only", default="family,demo,robyn,meridian,speed")
    # 48 worlds: the coverage of 12 swung from 0.53 (draws 0-11) to 0.94 (draws 100-111) with the same
    # constants, a world's error being shared by its three budgets; with 48 its standard error is ~0.06
    parser.add_argument("--draws", type=int, default=48, help="worlds of the generator family")
    parser.add_argument("--first-draw", type=int, default=0, help="seed of the first family world")
    parser.add_argument("--seeds", default="7,11", help="demo samples: the first is --data, others in /tmp")
    args = parser.parse_args()
    parts = set(args.only.split(","))
    sections = [
        f"# Budget benchmark\n\nRun {time.strftime('%Y-%m-%d %H:%M')} on {platform.node()} "
        f"({os.cpu_count()} cores shared with other jobs, load average {os.getloadavg()[0]:.1f} at "
        f"the start: times are pessimistic), Python {platform.python_version()}, "
        f"{args.trials} Optuna trials per platform and channel. "
        # the arguments as run (a section run alone, or fewer trials, must say so)
        f"Command: `{' '.join(['.venv/bin/python', 'benchmarks/budget.py', *sys.argv[1:]])}`.\n"
    ]
    if "family" in parts:
        sections.append(family_section(args.draws, args.trials, args.first_draw))
        print(sections[-1])
    if "demo" in parts:
        seeds = [int(x) for x in args.seeds.split(",") if x]
        robustness = []
        for seed in seeds:
            data_dir = Path(args.data) if seed == seeds[0] else Path(f"/tmp/daiyun-budget-demo-seed{seed}")
            if not (data_dir / "sales.parquet").exists():
                from daiyun.features.simulator.world import write_sample

                write_sample(data_dir, size="demo", seed=seed)
            for label, options in CONFIGURATIONS.items():
                regret, curves, fits, timings = demo(data_dir, args.trials, label, **options)
                robustness.append(
                    {
                        "sample": f"demo seed {seed}",
                        "attribution": label,
                        "mean_regret_recommended": regret["regret_recommended"].mean(),
                        "max_regret_recommended": regret["regret_recommended"].max(),
                        "mean_regret_current_mix": regret["regret_current_mix"].mean(),
                        "mean_regret_equal_split": regret["regret_equal_split"].mean(),
                        "fit_seconds_per_brand": fits["fit_seconds"].mean(),
                    }
                )
                if seed == seeds[0] and label == "default":
                    sections.append(demo_section(data_dir, regret, curves, fits, timings))
                    print(sections[-1])
        met = sum(r["mean_regret_recommended"] <= 0.03 for r in robustness if r["attribution"] == "default")
        sections.append(
            "Every sample and configuration (regret over 3 brands x 3 budgets; 'default': curve "
            "shapes read from the platforms' attributed revenue and a prior on each untested "
            "channel's level, the attributed ROI x the discount the brand's lift tests measure, "
            f"log-scale spread {PRIOR_SPREAD}; 'not used': shapes searched on the sales data, no prior "
            "(sales, spend and the lift tests only); the demo sample has two four-week lift tests per "
            "brand, the `experiments` table):\n\n"
            + markdown(pd.DataFrame(robustness))
            + f"\n\nTarget (mean regret <= 3%) met on {met} of {len(seeds)} samples with the default "
            "configuration. Fit time is dominated by the hyperparameter search (Optuna trials x channels "
            "per platform, each a few Gauss-Newton solves, then a Powell refinement) and the bootstrap "
            "refits.\n"
        )
        print(sections[-1])
    real = []
    if "robyn" in parts:
        real.append(robyn(args.trials))
    if "meridian" in parts:
        real.append(meridian(args.trials))
    real = [r for r in real if r is not None]
    if real:
        lines = ["## 2. Robyn and Meridian demo data (weekly, one platform, revenue only)\n"]
        for table in real:
            a = table.attrs
            lines.append(
                f"**{table['dataset'].iloc[0]}**: fit {a['fit_seconds']:.1f} s, out-of-time WAPE "
                f"{a['oot_wape']:.3f}, baseline share {a['share_baseline']:.2f}, predicted uplift of the "
                f"recommended 12-week split over the current mix {a['uplift']:.1%}.\n"
            )
            lines.append(markdown(table) + "\n")
        lines.append(
            "Neither project publishes true ROIs for these files (both are simulated for demos), so "
            "these are our fits only; Robyn's own demo also uses competitor_sales_B, events and "
            "newsletter as context variables, which the data contract has no column for.\n"
        )
        sections.append("\n".join(lines))
        print(sections[-1])
    elif parts & {"robyn", "meridian"}:
        sections.append("## 2. Robyn and Meridian\n\nSkipped: ../shared/data is absent.\n")
    if "speed" in parts:
        speed = solve_speed()
        sections.append(
            "## 3. Optimizer speed (synthetic S-shaped and concave curves, 30-day plan)\n\n"
            + markdown(speed, ".1f")
            + f"\n\nLoad average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores when measured: wall time "
            "includes waiting for a core; CPU time (median_cpu_ms) is the solver's own work.\n"
        )
        print(sections[-1])
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(sections), encoding="utf-8")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
