"""`daiyun train budget`: per brand, fit the channel response curves, log them, register, gate.

For each brand: the ads frame (`daiyun.features.ads_frame`) -> `ResponseModel` (Optuna search with an
out-of-time holdout, one nested run per platform's study) -> bundle -> MLflow run in experiment
`daiyun-budget` with params, metrics (out-of-time WAPE, decomposition shares, each channel's ROI
and marginal ROI at its recent spend), plots, the bundle -> `daiyun-budget-<brand>`, which becomes
the champion only if its out-of-time WAPE beats the champion's on the same holdout.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pandas as pd

from daiyun.features.ads_frame import (
    ads_frame,
    attributed_roi,
    attributed_table,
    attribution_discount_from_tests,
    channel_platforms,
    daily_spend,
    gross_margin,
)
from daiyun.features.dataset import Dataset
from daiyun.models.budget.bundle import BudgetBundle, build_bundle
from daiyun.models.budget.response import ResponseModel
from daiyun.training.registry import MLFLOW_REGISTRY, Registry, data_fingerprint
from daiyun.training.tracking import use_experiment
from daiyun.training.trainers.brands import brand_run, train_brands

EXPERIMENT = "daiyun-budget"
DEFAULT_TRIALS = 30
METRIC = "oot_wape"
PLAN_DAYS = 30  # the training run's illustrative plan: the next 30 days at the last 30 days' spend
# the attribution prior's spread on the log scale: 0.5 puts two thirds of it within a factor of 1.65
# of the discounted attributed ROI. Platforms over-credit channels unevenly (1x-3x is common): one
# discount, measured on the tested channels, is off by about that much for any other channel
PRIOR_SPREAD = 0.5


def fit_brand(
    dataset: Dataset,
    brand: str,
    n_trials: int = DEFAULT_TRIALS,
    n_bootstrap: int = 60,
    on_trial: Callable | None = None,
    attribution_discount: float | None = None,
    prior_spread: float | None = PRIOR_SPREAD,
    use_experiments: bool = True,
    shapes_from_attribution: bool = True,
) -> tuple[BudgetBundle, pd.DataFrame]:
    """Fit one brand's curves; returns the bundle and the ads frame it was fitted on.

    Shapes: where the platform reports a channel's attributed revenue day by day, the channel's
    carry-over and saturation are read from it (`daiyun.models.budget.attribution`; off with
    `shapes_from_attribution=False`); the sales data, the lift tests and the prior below set how
    much the channel really adds. Lift tests (the `experiments` table) constrain the curves of the
    channels they tested. The platforms' attributed ROI times a discount for their over-credit is
    a prior on the level of each untested channel, spread `prior_spread` on the log scale (None:
    no prior): the discount is `attribution_discount` when the user sets it, else the one the
    brand's lift tests measure (measured / attributed revenue in the test windows); no tests and no
    setting: no prior at all.
    """
    data = dataset.for_brand(brand)
    frame = ads_frame(dataset, brand)
    freq = data.freq(brand)
    experiments = data.experiments if use_experiments and not data.experiments.empty else None
    discount = attribution_discount
    if discount is None and experiments is not None:
        discount = attribution_discount_from_tests(data.ads, experiments)
    prior = None
    if discount and prior_spread is not None:
        tested = set() if experiments is None else set(experiments["channel"])
        prior = {c: r * discount for c, r in attributed_roi(data.ads).items() if c not in tested} or None
    model = ResponseModel(
        n_trials=n_trials,
        n_bootstrap=n_bootstrap,
        refine_evals=5 * n_trials,
        block_days=14 if freq == "D" else 28,
        prior_roi=prior,
        prior_spread=prior_spread,
        experiments=experiments,
        attributed=attributed_table(data.ads, freq) if shapes_from_attribution else None,
    )
    model.attribution_discount_ = discount
    model.fit(frame, channel_platforms(data.ads), freq, on_trial=on_trial)
    bundle = build_bundle(brand, model, daily_spend(data.ads, freq), data.events, freq)
    bundle.gross_margin = gross_margin(data.sales, data.products)
    return bundle, frame


def illustrative_plan(bundle: BudgetBundle) -> dict:
    """The next PLAN_DAYS after the history at the spend of the last PLAN_DAYS: current vs recommended."""
    step = 7 if bundle.freq == "W" else 1
    periods = max(1, PLAN_DAYS // step)
    budget = float(bundle.spend_history.iloc[-periods:].to_numpy().sum()) or 1.0
    start = bundle.history_end + pd.Timedelta(days=step)
    end = start + pd.Timedelta(days=step * periods - 1)
    return bundle.recommend(start, end, budget)


def train_family(
    dataset: Dataset, brands: list[str] | None = None, tune: int = 0, promote: bool = True,
    registry: Registry = MLFLOW_REGISTRY,
) -> Iterator[str]:
    """One printable line per brand: its out-of-time error and the champion decision."""
    use_experiment(EXPERIMENT)
    n_trials = tune if tune and tune > 0 else DEFAULT_TRIALS

    def train_one(brand: str) -> str:
        if dataset.for_brand(brand).ads.empty:
            return f"{brand}: no ads rows, no budget model"
        return train_brand(dataset, brand, n_trials, promote, registry)

    yield from train_brands("budget", brands or dataset.brands, train_one)


def train_brand(dataset: Dataset, brand: str, n_trials: int, promote: bool,
                registry: Registry = MLFLOW_REGISTRY) -> str:
    """Fit, log, register and gate one brand's budget model (one MLflow run)."""
    import matplotlib.pyplot as plt
    import mlflow
    from rich.progress import Progress

    from daiyun.training.plots.budget import fit_figure, response_curves_figure

    trials: list[tuple] = []
    with brand_run("budget", brand) as run, Progress(transient=True) as progress:
        n_channels = dataset.for_brand(brand).ads["channel"].nunique()  # trials per platform x channels
        task = progress.add_task(f"budget curves {brand}", total=n_trials * n_channels)

        def on_trial(platform: str, number: int, params: dict, value: float) -> None:
            trials.append((platform, number, params, value))
            progress.advance(task)

        bundle, frame = fit_brand(dataset, brand, n_trials=n_trials, on_trial=on_trial)
        model = bundle.model
        holdout_start = model.holdout_start_
        mlflow.set_tags({"daiyun.family": "budget", "daiyun.brand": brand})
        mlflow.log_params(
            {
                "brand": brand,
                "freq": bundle.freq,
                "n_trials": n_trials,
                "n_bootstrap": model.n_bootstrap,
                "holdout_share": model.holdout_share,
                "holdout_start": str(holdout_start.date()),
                "search_on": model.search_on,
                "prior_spread": model.prior_spread if model.prior_roi else "none",
                "attribution_shapes": ",".join(sorted(model.shapes_)) or "none",
                "attribution_discount": getattr(model, "attribution_discount_", None) or "none",
                "lift_tests": 0 if model.experiments is None else len(model.experiments),
                "history_start": str(frame["date"].min().date()),
                "history_end": str(frame["date"].max().date()),
                "channels": ",".join(bundle.channels()),
            }
        )
        for row in model.curves_.itertuples(index=False):
            mlflow.log_params(
                {
                    f"{row.channel}.decay": round(row.decay, 4),
                    f"{row.channel}.shape": round(row.shape, 4),
                    f"{row.channel}.half_saturation": round(row.half_saturation, 2),
                    f"{row.channel}.beta": round(row.beta, 2),
                }
            )
        _log_trials(run.info.run_id, trials)

        plan = illustrative_plan(bundle)
        metrics = dict(model.metrics_)
        current = {c["channel"]: c for c in plan["current_mix"]["channels"]}
        for row in plan["channels"]:
            channel = row["channel"]
            metrics[f"roi_{channel}"] = current[channel]["roi"] or 0.0
            metrics[f"marginal_roi_{channel}"] = current[channel]["marginal_roi"] or 0.0
        metrics["plan_uplift_ratio"] = plan["uplift"]["ratio"] or 0.0
        score = bundle.holdout_error(frame, holdout_start)
        metrics[METRIC] = score
        mlflow.log_metrics({k: float(v) for k, v in metrics.items() if pd.notna(v)})
        mlflow.log_figure(response_curves_figure(plan), "plots/response_curves.png")
        title = f"{brand}: revenue, fit and baseline"
        mlflow.log_figure(fit_figure(model.fitted_, holdout_start, title), "plots/fit.png")
        mlflow.log_dict(plan, "plan_next_period.json")
        plt.close("all")
        bundle.metrics = metrics
        model_uri = registry.log_bundle(bundle)
        fingerprint = data_fingerprint(frame[["platform", "date", "revenue", *bundle.channels()]])
        decision = registry.register_and_gate(
            "budget",
            brand,
            model_uri,
            run.info.run_id,
            score=score,
            metric=METRIC,
            backtest_key=f"{fingerprint}:holdout={holdout_start.date()}",
            lower_is_better=True,
            rescore_champion=lambda champion: champion.holdout_error(frame, holdout_start),
            promote=promote,
        )
    verdict = "champion" if decision.promoted else "kept champion"
    return (
        f"{brand}: budget v{decision.version} {METRIC} {score:.3f}, {len(bundle.channels())} channels, "
        f"{verdict} ({decision.reason})"
    )


def _log_trials(parent_run_id: str, trials: list[tuple]) -> None:
    """Each platform's Optuna study as a nested run: the holdout loss of every trial as a metric
    history (step = trial number), the best trial's params, and all trials as a CSV artifact.
    (One run per trial costs ~0.2 s each in a SQLite store: minutes per brand.)"""
    import time

    import mlflow
    from mlflow.entities import Metric

    table = pd.DataFrame(
        [{"platform": p, "trial": n, "holdout_loss": v, **params} for p, n, params, v in trials]
    )
    if table.empty:
        return
    for platform, part in table.groupby("platform", sort=True):
        best = part.loc[part["holdout_loss"].idxmin()]
        with mlflow.start_run(
            run_name=f"optuna-{platform}",
            nested=True,
            tags={"daiyun.kind": "optuna-study", "mlflow.parentRunId": parent_run_id},
        ):
            mlflow.log_params(
                {"platform": platform, "n_trials": len(part), "best_trial": int(best["trial"])}
                | {f"best.{k}": f"{v:.6g}" for k, v in best.drop(["platform", "trial"]).dropna().items()}
            )
            mlflow.log_metric("best_holdout_loss", float(best["holdout_loss"]))
            now = int(time.time() * 1000)
            mlflow.tracking.MlflowClient().log_batch(
                mlflow.active_run().info.run_id,
                metrics=[
                    Metric("holdout_loss", float(v), now, int(n))
                    for n, v in zip(part["trial"], part["holdout_loss"], strict=True)
                ],
            )
            mlflow.log_text(part.dropna(axis=1, how="all").to_csv(index=False), f"optuna_{platform}.csv")
