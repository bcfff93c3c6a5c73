"""Optuna for the LightGBM forecaster, on the backtest objective, with pruning.

The objective is LightGBM's WRMSSE over the backtest windows, reported window by window so the
median pruner stops a trial that is already worse than the median after its first window. Each
trial is a nested MLflow run under the brand's training run (parameters, score, state), logged
here rather than through Optuna's deprecated MLflowCallback.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pandas as pd

from daiyun.features.forecast_frame import brand_history
from daiyun.training.trainers.backtest import (
    BacktestConfig,
    backtest_origins,
    backtest_table,
    window_predictions,
)


def suggest(trial: object) -> dict:
    objective = trial.suggest_categorical("objective", ["tweedie", "poisson"])
    params = {
        "objective": objective,
        "num_leaves": trial.suggest_int("num_leaves", 15, 127, log=True),
        "learning_rate": trial.suggest_float("learning_rate", 0.02, 0.2, log=True),
        "n_estimators": trial.suggest_int("n_estimators", 80, 400, log=True),
        "min_data_in_leaf": trial.suggest_int("min_data_in_leaf", 10, 200, log=True),
        "feature_fraction": trial.suggest_float("feature_fraction", 0.5, 1.0),
        "lambda_l2": trial.suggest_float("lambda_l2", 1e-3, 10.0, log=True),
    }
    if objective == "tweedie":
        params["tweedie_variance_power"] = trial.suggest_float("tweedie_variance_power", 1.05, 1.7)
    return params


def tune_lgbm(
    dataset: object,
    brand: str,
    config: BacktestConfig,
    n_trials: int,
    history: pd.DataFrame | None = None,
    progress: Callable[[str], None] | None = None,
    seed: int = 0,
) -> dict:
    """The best LightGBM parameters found in `n_trials` trials (each a nested MLflow run)."""
    import mlflow
    import optuna

    from daiyun.models.forecast.lgbm import calendar_tables

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    mine = dataset.for_brand(brand)
    freq = mine.freq(brand)
    history = brand_history(dataset, brand) if history is None else history
    # the data directory's market and price kind, as the backtest and the final fit read them
    market = mine.market
    origins = backtest_origins(
        history["date"].max(), history["date"].min(), config.windows, config.horizon, freq, mine.events,
        market,
    )
    calendar = calendar_tables(
        sorted(history["platform"].unique()), history["date"].min(), history["date"].max(), mine.events, freq,
        market,
    )
    # the most informative window (the promotion peak) first, so pruning decides on it
    origins = sorted(origins, key=lambda o: o.month not in (10, 11, 5, 6))

    def objective(trial: optuna.Trial) -> float:
        params = {**config.lgbm_params, **suggest(trial)}
        trial_config = replace(config, members=("lgbm",), baselines=(), lgbm_params=params)
        scores: list[float] = []
        pruned = False
        # a pruned trial ends its nested run normally (tagged), then tells Optuna; raising inside
        # the run would mark it FAILED
        with mlflow.start_run(run_name=f"trial-{trial.number}", nested=True):
            mlflow.log_params({f"lgbm_{k}": v for k, v in params.items()})
            for step, origin in enumerate(origins):
                frame, _ = window_predictions(
                    history, origin, trial_config, freq, mine.events, calendar, ["lgbm"], market, mine.prices
                )
                frame = frame.loc[frame["in_stock"] > 0]
                table = backtest_table(frame, history, ["lgbm"], ())
                chosen = (table["level"] == "hierarchy") & (table["days"] == "all")
                scores.append(float(table.loc[chosen, "wrmsse"].iloc[0]))
                trial.report(float(np.mean(scores)), step)
                if progress:
                    progress(
                        f"{brand}: trial {trial.number + 1}/{n_trials}, window {step + 1}: "
                        f"WRMSSE {np.mean(scores):.3f}"
                    )
                if trial.should_prune():
                    pruned = True
                    break
            score = float(np.mean(scores))
            mlflow.log_metric("backtest_wrmsse" if not pruned else "backtest_wrmsse_partial", score)
            mlflow.set_tag("optuna.state", "pruned" if pruned else "complete")
        if pruned:
            raise optuna.TrialPruned()
        return score

    study = optuna.create_study(
        direction="minimize",
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=0),
    )
    # the defaults are always trial 0, so tuning never ends worse than not tuning
    from daiyun.models.forecast.lgbm import LGBMForecaster

    defaults = LGBMForecaster(**config.lgbm_params).get_params()
    study.enqueue_trial(
        {
            k: defaults[k]
            for k in (
                "objective",
                "num_leaves",
                "learning_rate",
                "n_estimators",
                "min_data_in_leaf",
                "feature_fraction",
                "lambda_l2",
                "tweedie_variance_power",
            )
        }
    )
    study.optimize(objective, n_trials=n_trials, gc_after_trial=True)
    best = dict(study.best_params)
    mlflow.log_metric("tuning_best_wrmsse", float(study.best_value))
    mlflow.set_tag("tuning.trials", str(len(study.trials)))
    mlflow.set_tag("tuning.pruned", str(sum(t.state.name == "PRUNED" for t in study.trials)))
    return best
