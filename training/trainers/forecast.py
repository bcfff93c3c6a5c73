"""Train the forecast family per brand: backtest, fit, log to MLflow, register, gate the champion.

    for line in train_family(dataset, brands=["glowlab"], tune=0, promote=True):
        print(line)

Per brand, one MLflow run in experiment `daiyun-forecast`: parameters, backtest metrics (headline
`backtest_wrmsse`: the ensemble's M5 WRMSSE over all backtest days), the backtest table, plots
(actuals vs forecast with intervals around the last two events, feature importance) and the
bundle. The `champion` alias moves only when the new version beats the champion on the same
backtest (same data fingerprint, windows and horizon); a champion scored on another backtest is
re-run on this one with its own settings. A run that fails is marked FAILED and never registered.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pandas as pd

from daiyun.features.forecast_frame import brand_history
from daiyun.models.forecast.bundle import ForecastBundle
from daiyun.models.forecast.members import make_member
from daiyun.training.registry import MLFLOW_REGISTRY, Registry, data_fingerprint
from daiyun.training.tracking import use_experiment
from daiyun.training.trainers.backtest import ENSEMBLE, BacktestConfig, BacktestResult, run_backtest
from daiyun.training.trainers.brands import brand_run, train_brands

EXPERIMENT = "daiyun-forecast"
METRIC = "backtest_wrmsse"
# Prophet fits one model per series: on the demo data it is fitted on each brand's 10 biggest
# series to keep `daiyun train all` within minutes on 2 cores.
DEFAULT_PROPHET_TOP_N = 10


def default_config(**overrides: object) -> BacktestConfig:
    config = BacktestConfig(
        windows=3,
        horizon=30,
        # the recursive LightGBM (models.forecast.recursive) also earns ~1/3 of the weight when added,
        # but doubles the training time (117 s vs ~60 s per demo brand): off by default to keep
        # `daiyun train all` within minutes; add it with `default_config(members=(...))`
        members=("lgbm", "prophet"),
        prophet_top_n=DEFAULT_PROPHET_TOP_N,
    )
    return replace(config, **overrides) if overrides else config


def weekly_config(config: BacktestConfig) -> BacktestConfig:
    """Horizons and lags count in weeks for weekly brands: a month is 5 periods, a year 52."""
    lgbm = {"horizon": 13, "origin_stride": 2, "lookback": 104, **config.lgbm_params}
    return replace(config, horizon=max(1, -(-config.horizon // 7)), lgbm_params=lgbm)


def fit_bundle(
    dataset: object,
    brand: str,
    result: BacktestResult,
    history: pd.DataFrame | None = None,
    progress: object | None = None,
) -> ForecastBundle:
    """Refit every member on the whole history; carry the backtest's weights and calibration."""
    config = result.config
    mine = dataset.for_brand(brand)
    freq = mine.freq(brand)
    history = brand_history(dataset, brand) if history is None else history
    members = {}
    for name in [*config.members, *config.baselines]:
        if progress:
            progress(f"{brand}: fitting {name} on the whole history")
        members[name] = make_member(
            name, config.lgbm_params, config.prophet_params, config.prophet_top_n, mine.market, mine.prices
        ).fit(history, events=mine.events, freq=freq)
    series_table = (
        history[["platform", "sku_id", "category"]]
        .drop_duplicates(["platform", "sku_id"])
        .sort_values(["platform", "sku_id"])
        .reset_index(drop=True)
    )
    promotions = mine.promotions
    plan = promotions.loc[promotions["end"] > history["date"].max()].reset_index(drop=True)
    bundle = ForecastBundle(
        brand=brand,
        freq=freq,
        members=members,
        weights=result.weights,
        intervals=result.intervals,
        series_table=series_table,
        plan=plan,
        correlation=result.correlation,
        metrics=headline_metrics(result),
        config=config.as_dict(),
    )
    bundle.warm_cache(days=max(60, config.horizon))
    return bundle


def headline_metrics(result: BacktestResult) -> dict[str, float]:
    """Flat metric names for MLflow: backtest_<model>_<metric>[_<days>]; the gate reads backtest_wrmsse."""
    metrics = {METRIC: result.score(ENSEMBLE, "wrmsse")}
    table = result.table
    for row in table.itertuples(index=False):
        suffix = "" if row.days == "all" else f"_{row.days}"
        if row.level == "hierarchy":
            metrics[f"backtest_{row.model}_wrmsse{suffix}"] = row.wrmsse
        elif row.level == "sku":
            for name in ("wape", "mase", "rmsse", "bias", "pinball", "coverage"):
                value = getattr(row, name)
                if pd.notna(value):
                    metrics[f"backtest_{row.model}_{name}{suffix}"] = float(value)
    return {k: float(v) for k, v in metrics.items() if pd.notna(v)}


def backtest_key(history: pd.DataFrame, config: BacktestConfig) -> str:
    columns = ["platform", "sku_id", "date", "units", "price", "on_promo", "in_stock"]
    return f"data={data_fingerprint(history[columns])};{config.key()}"


def rescorer(dataset: object, brand: str, config: BacktestConfig, history: pd.DataFrame):  # noqa: ANN201
    """Score an old champion on this backtest: rerun it with its own settings on these windows."""

    def rescore(old_bundle: ForecastBundle) -> float:
        old = dict(getattr(old_bundle, "config", {}) or {})
        fields = {k: v for k, v in old.items() if k in BacktestConfig.__dataclass_fields__}
        for name in ("members", "baselines", "quantiles"):
            if name in fields:
                fields[name] = tuple(fields[name])
        old_config = replace(BacktestConfig(**fields), windows=config.windows, horizon=config.horizon)
        return run_backtest(dataset, brand, old_config, history=history).score(ENSEMBLE, "wrmsse")

    return rescore


def train_family(
    dataset: object,
    brands: list[str] | None = None,
    tune: int = 0,
    promote: bool = True,
    config: BacktestConfig | None = None,
    registry: Registry = MLFLOW_REGISTRY,
) -> Iterator[str]:
    """Train, log, register and gate each brand's forecaster; yields one printable line per brand."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    use_experiment(EXPERIMENT)
    brands = list(brands or dataset.brands)
    base_config = config or default_config()
    with Progress(
        SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), transient=True
    ) as bar:
        task = bar.add_task("forecast", total=None)

        def say(text: str) -> None:
            bar.update(task, description=f"forecast · {text}")

        def train_brand(brand: str) -> str:
            started = time.perf_counter()
            with brand_run("forecast", brand) as run:
                line = _train_brand(dataset, brand, tune, promote, base_config, run, say, registry)
            return f"{line} [{time.perf_counter() - started:.0f}s]"

        yield from train_brands("forecast", brands, train_brand)


def _train_brand(
    dataset: object, brand: str, tune: int, promote: bool, config: BacktestConfig, run: object, say: object,
    registry: Registry,
) -> str:
    import mlflow

    history = brand_history(dataset, brand)
    mlflow.set_tags({"brand": brand, "family": "forecast"})
    if dataset.for_brand(brand).freq(brand) == "W":
        config = weekly_config(config)
    if tune:
        from daiyun.training.trainers.tune import tune_lgbm

        say(f"{brand}: tuning LightGBM ({tune} trials)")
        best = tune_lgbm(dataset, brand, config, n_trials=tune, history=history, progress=say)
        config = replace(config, lgbm_params={**config.lgbm_params, **best})
    result = run_backtest(dataset, brand, config, progress=say, history=history)
    bundle = fit_bundle(dataset, brand, result, history=history, progress=say)
    bundle.run_id = run.info.run_id
    say(f"{brand}: logging to MLflow")
    _log_run(result, bundle, config)
    model_uri = registry.log_bundle(bundle)
    score = result.score(ENSEMBLE, "wrmsse")
    decision = registry.register_and_gate(
        "forecast",
        brand,
        model_uri,
        run.info.run_id,
        score,
        METRIC,
        backtest_key(history, config),
        lower_is_better=True,
        rescore_champion=rescorer(dataset, brand, config, history),
        promote=promote,
    )
    verdict = "[green]champion[/]" if decision.promoted else "kept champion"
    wape = result.score(ENSEMBLE, "wape")
    return (
        f"forecast {brand}: v{decision.version} WRMSSE {score:.3f} WAPE {wape:.3f} "
        f"({len(result.origins)} windows) -> {verdict}: {decision.reason}"
    )


def _log_run(result: BacktestResult, bundle: ForecastBundle, config: BacktestConfig) -> None:
    import matplotlib.pyplot as plt
    import mlflow

    from daiyun.training.plots.forecast import event_plot, importance_plot

    params = {
        "windows": config.windows,
        "horizon": config.horizon,
        "members": ",".join(config.members),
        "baselines": ",".join(config.baselines),
        "prophet_top_n": config.prophet_top_n,
        "origins": ",".join(f"{o:%Y-%m-%d}" for o in result.origins),
        "strategy": "direct",
        "ensemble_weights": "; ".join(
            f"{'+'.join(sorted(k))}: " + ", ".join(f"{m}={w:.3f}" for m, w in v.items())
            for k, v in result.weights.weights_.items()
        )[:500],
        "aggregate_error_correlation": round(result.correlation, 4),
    }
    if "lgbm" in bundle.members:
        params.update({f"lgbm_{k}": v for k, v in bundle.members["lgbm"].get_params().items()})
    mlflow.log_params(params)
    mlflow.log_metrics(bundle.metrics)
    prophet = getattr(bundle.members.get("prophet"), "forecaster_", None)
    failed = getattr(prophet, "failed_series_", None) or {}
    if failed:  # those series answer with their flat recent mean; the run says so
        first, why = next(iter(failed.items()))
        mlflow.set_tag("daiyun.prophet_failed_series", f"{len(failed)} series; first {first}: {why}"[:500])
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "backtest_table.csv"
        result.table.to_csv(path, index=False)
        mlflow.log_artifact(str(path), artifact_path="backtest")
        weights = Path(tmp) / "ensemble_weights.csv"
        result.weights.table().to_csv(weights, index=False)
        mlflow.log_artifact(str(weights), artifact_path="backtest")
    figure = event_plot(result)
    if figure is not None:
        mlflow.log_figure(figure, "plots/events_actual_vs_forecast.png")
        plt.close(figure)
    if "lgbm" in bundle.members:
        figure = importance_plot(bundle.members["lgbm"].feature_importance_)
        mlflow.log_figure(figure, "plots/feature_importance.png")
        plt.close(figure)
