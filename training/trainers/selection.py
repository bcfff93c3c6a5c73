"""`daiyun train selection`: per brand, build the selection frame, backtest every ranking rule,
fit the winner, log it all to MLflow and register it behind the champion gate.

The backtest is rolling-origin: for each backtest as_of (the days before the last 618 and Double
11 pre-sales, and recent ordinary dates) the models learn only from as_of dates whose horizon had
ended by then, and are scored on what the SKUs then sold. The rule with the best mean NDCG@20
(revenue as gain) wins; its margin over the others is logged.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field

import pandas as pd

from daiyun.features.dataset import Dataset
from daiyun.features.selection_frame import CATEGORICAL_FEATURES, OPTIONAL_FEATURES, selection_frame
from daiyun.models.selection.baselines import BASELINES
from daiyun.models.selection.bundle import SelectionBundle, snapshot
from daiyun.models.selection.matrix import default_features
from daiyun.models.selection.scorer import KINDS, SelectionModel
from daiyun.training.trainers.selection_metrics import captured_revenue_curve, ranking_metrics

EXPERIMENT = "daiyun-selection"
GATE_METRIC = "ndcg_at_20"
EVENT_EVES = ((5, 19), (10, 19))  # the day before the 618 and Double 11 pre-sales
DEFAULT_TREES = {"n_estimators": 300, "learning_rate": 0.05, "num_leaves": 15, "min_child_samples": 50}


@dataclass
class SelectionConfig:
    """What a selection training run does; tests shrink it, `--tune` searches the ranker's part."""

    horizon_days: int | None = None  # default: 30 days, or 4 weeks for weekly brands
    target: str = "revenue"
    train_every_days: int = 14
    train_lookback_days: int = 730
    backtest_as_of: list | None = None
    n_event_dates: int = 2
    n_regular_dates: int = 2
    # small leaves, 50 rows a leaf: SKU-period labels are noisy and the backtest prefers it
    ranker_params: dict = field(default_factory=lambda: dict(DEFAULT_TREES))
    regressor_params: dict = field(default_factory=lambda: dict(DEFAULT_TREES))


def horizon_for(config: SelectionConfig, freq: str) -> int:
    if config.horizon_days:
        return int(config.horizon_days)
    return 28 if freq == "W" else 30


def backtest_dates(start: pd.Timestamp, end: pd.Timestamp, horizon_days: int, n_event: int = 2,
                   n_regular: int = 2, min_history_days: int = 270) -> list[pd.Timestamp]:
    """Eves of the last event pre-sales plus recent ordinary dates, all with a complete horizon."""
    latest = end - pd.Timedelta(days=horizon_days)
    earliest = start + pd.Timedelta(days=min_history_days)
    eves = [
        pd.Timestamp(year, month, day)
        for year in range(start.year, end.year + 1)
        for month, day in EVENT_EVES
    ]
    eves = [d for d in eves if earliest <= d <= latest][-n_event:] if n_event else []
    regular = []
    candidate = latest
    while len(regular) < n_regular and candidate >= earliest:
        if all(abs((candidate - d).days) > 21 for d in eves + regular):
            regular.append(candidate)
        candidate -= pd.Timedelta(days=max(horizon_days, 28))
    return sorted(eves + regular)


def training_dates(start: pd.Timestamp, end: pd.Timestamp, horizon_days: int, every_days: int,
                   lookback_days: int, min_history_days: int = 91) -> list[pd.Timestamp]:
    """as_of dates to learn from: every `every_days` back from the last date with a full horizon."""
    latest = end - pd.Timedelta(days=horizon_days)
    earliest = max(start + pd.Timedelta(days=min_history_days), latest - pd.Timedelta(days=lookback_days))
    dates = []
    current = latest
    while current >= earliest:
        dates.append(current)
        current -= pd.Timedelta(days=every_days)
    return sorted(dates)


def brand_frame(dataset: Dataset, brand: str, config: SelectionConfig, extra_dates=()) -> tuple:
    """(frame, horizon_days, backtest dates) for one brand."""
    mine = dataset.for_brand(brand)
    freq = mine.freq(brand)
    horizon = horizon_for(config, freq)
    start, end = mine.start_date, mine.end_date
    if freq == "W":  # a weekly row covers its week: the data runs to the last week's end
        end = end + pd.Timedelta(days=6)
    tests = (
        [pd.Timestamp(d) for d in config.backtest_as_of] if config.backtest_as_of
        else backtest_dates(start, end, horizon, config.n_event_dates, config.n_regular_dates)
    )
    train = training_dates(start, end, horizon, config.train_every_days, config.train_lookback_days)
    frame = selection_frame(mine, sorted(set(train) | set(tests) | set(extra_dates)), horizon,
                            target=config.target)
    return frame, horizon, tests


def training_rows(frame: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """Labelled rows whose horizon had ended by the last day `as_of` has seen: all a model may learn."""
    seen = frame.loc[frame["as_of"].eq(as_of), "observed_until"].max()
    if pd.isna(seen):
        seen = pd.Timestamp(as_of)
    return frame.loc[(frame["label_until"] <= seen) & frame["target"].notna()]


def backtest(
    frame: pd.DataFrame,
    test_dates: list[pd.Timestamp],
    horizon_days: int,
    features: list[str],
    ranker_params: dict | None = None,
    regressor_params: dict | None = None,
    kinds: tuple[str, ...] = KINDS,
) -> pd.DataFrame:
    """Scores of every rule on every backtest as_of, each fitted only on horizons ended by then.

    Returns rows brand, platform, sku_id, as_of, target, new_sku, kind, score.
    """
    out = []
    needs_model = any(k not in BASELINES for k in kinds)
    for test in test_dates:
        test_rows = frame.loc[frame["as_of"].eq(test) & frame["target"].notna()]
        if test_rows.empty:
            continue
        train = training_rows(frame, test)
        if needs_model and train["as_of"].nunique() < 2:
            continue  # not enough history before this as_of to learn from
        fitted = SelectionModel(
            kind=kinds[0], features=features, ranker_params=ranker_params, regressor_params=regressor_params,
        ).fit(train, fit_ranker="ranker" in kinds) if len(train) else None
        for kind in kinds:
            if fitted is None:
                continue
            scored = fitted.with_kind(kind).predict(test_rows)
            rows = test_rows[["brand", "platform", "sku_id", "as_of", "target", "new_sku"]].copy()
            rows["kind"] = kind
            rows["score"] = scored["score"].to_numpy()
            rows["expected_revenue"] = scored["expected_revenue"].to_numpy()
            out.append(rows)
    if not out:
        raise ValueError("no backtest as_of had both labels and earlier horizons to learn from")
    return pd.concat(out, ignore_index=True)


def summarise(predictions: pd.DataFrame, oracle: bool = False) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(per kind and as_of metrics, per kind means over all groups)."""
    per_group = []
    for kind, part in predictions.groupby("kind", sort=False):
        metrics = ranking_metrics(part, score="score", actual="target")
        metrics.insert(0, "kind", kind)
        per_group.append(metrics)
    if oracle:
        first = predictions.loc[predictions["kind"].eq(predictions["kind"].iloc[0])]
        metrics = ranking_metrics(first, score="target", actual="target")
        metrics.insert(0, "kind", "oracle")
        per_group.append(metrics)
    per_group = pd.concat(per_group, ignore_index=True)
    metric_columns = [c for c in per_group.columns if c.startswith(("ndcg", "captured", "precision"))]
    by_as_of = per_group.groupby(["kind", "as_of"], sort=False)[metric_columns].mean().reset_index()
    overall = per_group.groupby("kind", sort=False)[metric_columns].mean()
    return by_as_of, overall


def pick_winner(overall: pd.DataFrame, metric: str = GATE_METRIC) -> tuple[str, dict]:
    """The rule with the best mean `metric`, and how far ahead of the others it is."""
    ranked = overall.drop(index="oracle", errors="ignore")[metric].sort_values(ascending=False)
    winner = str(ranked.index[0])
    best_baseline = ranked[[k for k in ranked.index if k in BASELINES]].max()
    margins = {
        "winner": winner,
        "score": float(ranked.iloc[0]),
        "runner_up": str(ranked.index[1]) if len(ranked) > 1 else "",
        "margin_vs_runner_up": float(ranked.iloc[0] - ranked.iloc[1]) if len(ranked) > 1 else math.nan,
        "lift_vs_best_baseline": float(ranked.iloc[0] / best_baseline - 1) if best_baseline > 0 else math.nan,
    }
    return winner, margins


def fit_bundle(dataset: Dataset, brand: str, frame: pd.DataFrame, horizon_days: int, kind: str,
               features: list[str], config: SelectionConfig, metrics: dict | None = None) -> SelectionBundle:
    """The winner refitted on every labelled row, wrapped with the brand's recent history."""
    model = SelectionModel(kind=kind, features=features, ranker_params=config.ranker_params,
                           regressor_params=config.regressor_params).fit(frame)
    history = snapshot(dataset, brand)
    windows = _event_windows(history, brand)
    return SelectionBundle(brand, model, history, windows, horizon_days, target=config.target,
                           metrics=metrics)


def _event_windows(history: Dataset, brand: str) -> pd.DataFrame:
    from daiyun.features.selection_frame import default_event_windows

    start = history.start_date - pd.Timedelta(days=800)
    end = history.end_date + pd.Timedelta(days=3 * 366)
    return default_event_windows(history, brand, start, end)


def _tune(frame, tests, horizon, features, config, trials: int) -> dict:
    """Optuna TPE over the ranker's settings, scored by backtest NDCG@20; trials as nested runs."""
    import mlflow
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)

    def objective(trial: optuna.Trial) -> float:
        params = {
            "n_estimators": trial.suggest_int("n_estimators", 100, 600, step=50),
            "learning_rate": trial.suggest_float("learning_rate", 0.02, 0.2, log=True),
            "num_leaves": trial.suggest_int("num_leaves", 7, 63),
            "min_child_samples": trial.suggest_int("min_child_samples", 5, 100, log=True),
            "n_grades": trial.suggest_int("n_grades", 5, 31),
            "label_gain": trial.suggest_categorical("label_gain", ["revenue", "exp", "linear"]),
        }
        predictions = backtest(frame, tests, horizon, features, ranker_params=params,
                               regressor_params=config.regressor_params, kinds=("ranker",))
        score = float(summarise(predictions)[1].loc["ranker", GATE_METRIC])
        with mlflow.start_run(run_name=f"trial-{trial.number}", nested=True):
            mlflow.log_params(params)
            mlflow.log_metric(GATE_METRIC, score)
        return score

    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=0))
    study.optimize(objective, n_trials=trials)
    return study.best_params


def forecast_feature_note(brand: str, first_as_of: pd.Timestamp) -> str:
    """Whether the forecast champion's horizon forecast can be a feature without leaking.

    The champion was fitted on history up to its origin; its forecasts for any earlier as_of were
    made by a model that had seen the answer. So the forecast becomes a feature only when the
    champion's origin is on or before the first training as_of; otherwise it is left out and
    the run says why. A missing champion is never an error.
    """
    from daiyun.training.registry import load_champion

    try:
        bundle, info = load_champion("forecast", brand)
    except LookupError:
        return "not used: the brand has no forecast champion"
    except Exception as error:  # a champion from an older code version must not stop selection
        return f"not used: forecast champion could not be loaded ({type(error).__name__})"
    origin = pd.Timestamp(getattr(bundle, "origin", pd.Timestamp.max))
    if origin > first_as_of:
        return (
            f"not used: forecast champion v{info.version} was fitted on history to {origin.date()}, "
            f"after the first training as_of {first_as_of.date()} (its forecasts would leak the labels)"
        )
    return f"usable: forecast champion v{info.version} fitted to {origin.date()}"


def train_brand(dataset: Dataset, brand: str, config: SelectionConfig, tune: int = 0,
                promote: bool = True) -> str:
    """One brand end to end; returns the one-line summary the CLI prints."""
    import mlflow

    from daiyun.training.registry import data_fingerprint, log_bundle, register_and_gate
    from daiyun.training.tracking import use_experiment

    frame, horizon, tests = brand_frame(dataset, brand, config)
    features = default_features(frame, extra=OPTIONAL_FEATURES)
    fingerprint = data_fingerprint(
        dataset.for_brand(brand).sales[["date", "platform", "sku_id", "revenue"]]
    )
    backtest_key = (
        f"selection|{fingerprint}|h={horizon}|{config.target}|"
        + ",".join(str(d.date()) for d in tests)
    )
    use_experiment(EXPERIMENT)
    with mlflow.start_run(run_name=f"selection-{brand}") as run:
        mlflow.set_tags({"brand": brand, "family": "selection",
                         "daiyun.forecast_feature": forecast_feature_note(brand, frame["as_of"].min())})
        if tune > 0:
            tuned = _tune(frame, tests, horizon, features, config, tune)
            tuned_params = {**config.ranker_params, **tuned}
            config = SelectionConfig(**{**config.__dict__, "ranker_params": tuned_params})
        predictions = backtest(frame, tests, horizon, features, config.ranker_params, config.regressor_params)
        by_as_of, overall = summarise(predictions, oracle=True)
        winner, margins = pick_winner(overall)
        mlflow.log_params({
            "horizon_days": horizon, "target": config.target, "frequency": dataset.freq(brand),
            "backtest_as_of": ",".join(str(d.date()) for d in tests),
            "n_rows": len(frame), "n_training_as_of": frame["as_of"].nunique(),
            "features": ",".join(features), "winner": winner,
            **{f"ranker.{k}": v for k, v in config.ranker_params.items()},
            **{f"regressor.{k}": v for k, v in config.regressor_params.items()},
        })
        metrics = {}
        for kind, row in overall.iterrows():
            for name, value in row.items():
                if not pd.isna(value):
                    metrics[f"{kind}.{name}"] = float(value)
        for name, value in overall.loc[winner].items():
            metrics[name] = float(value)
        metrics["lift_vs_best_baseline"] = margins["lift_vs_best_baseline"]
        metrics["margin_vs_runner_up"] = margins["margin_vs_runner_up"]
        mlflow.log_metrics({k: v for k, v in metrics.items() if not math.isnan(v)})
        mlflow.set_tag("daiyun.selection_winner", (
            f"{winner} won by {margins['margin_vs_runner_up']:.4f} {GATE_METRIC} over {margins['runner_up']}"
        ))
        bundle = fit_bundle(dataset, brand, frame, horizon, winner, features, config, metrics)
        _log_plots(by_as_of, predictions, bundle, frame, horizon)
        mlflow.log_table(by_as_of.assign(as_of=by_as_of["as_of"].astype(str)), "backtest_by_as_of.json")
        uri = log_bundle(bundle)

        def rescore(champion: SelectionBundle) -> float:
            old = champion.model
            kept = [f for f in (old.features or []) if f in frame.columns or f in CATEGORICAL_FEATURES]
            scored = backtest(frame, tests, horizon, kept, old.ranker_params, old.regressor_params,
                              kinds=(old.kind,))
            return float(summarise(scored)[1].loc[old.kind, GATE_METRIC])

        decision = register_and_gate(
            "selection", brand, uri, run.info.run_id, score=float(overall.loc[winner, GATE_METRIC]),
            metric=GATE_METRIC, backtest_key=backtest_key, lower_is_better=False,
            rescore_champion=rescore, promote=promote,
        )
        bundle.model_version = decision.version
    lift = margins["lift_vs_best_baseline"]
    return (
        f"selection {brand}: {winner} won, NDCG@20 {overall.loc[winner, GATE_METRIC]:.3f} "
        f"({lift:+.1%} vs best baseline), captured@20 {overall.loc[winner, 'captured_revenue_at_20']:.3f} "
        f"-> v{decision.version} {'champion' if decision.promoted else 'kept'}: {decision.reason}"
    )


def _log_plots(by_as_of: pd.DataFrame, predictions: pd.DataFrame, bundle: SelectionBundle,
               frame: pd.DataFrame, horizon: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import mlflow

    table = by_as_of.pivot(index="as_of", columns="kind", values=GATE_METRIC)
    figure, axis = plt.subplots(figsize=(8, 4))
    table.index = [d.date() for d in table.index]
    table.plot.bar(ax=axis)
    axis.set_ylabel("NDCG@20 (revenue gain)")
    axis.set_title(f"{bundle.brand}: NDCG@20 by backtest as_of")
    figure.tight_layout()
    mlflow.log_figure(figure, "plots/ndcg_by_as_of.png")
    plt.close(figure)

    figure, axis = plt.subplots(figsize=(7, 4))
    for kind, part in predictions.groupby("kind", sort=False):
        captured_revenue_curve(part, "score", max_k=50).plot(ax=axis, label=kind)
    oracle = predictions.loc[predictions["kind"].eq(predictions["kind"].iloc[0])]
    captured_revenue_curve(oracle, "target", max_k=50).plot(ax=axis, label="oracle", linestyle="--")
    axis.set_xlabel("k (SKUs pushed)")
    axis.set_ylabel("captured revenue share")
    axis.legend()
    figure.tight_layout()
    mlflow.log_figure(figure, "plots/captured_revenue_vs_k.png")
    plt.close(figure)

    latest = frame.loc[frame["as_of"].eq(frame["as_of"].max())]
    contributions = bundle.model.explainer().contributions(latest).drop(columns="bias")
    spread = (contributions - contributions.groupby(latest["platform"]).transform("mean")).abs().mean()
    spread = spread.sort_values().tail(15)
    figure, axis = plt.subplots(figsize=(7, 5))
    spread.plot.barh(ax=axis)
    axis.set_xlabel("mean |contribution vs platform average| (what reasons are made of)")
    axis.set_title(f"{bundle.brand}: reasons at as_of {latest['as_of'].max().date()}")
    figure.tight_layout()
    mlflow.log_figure(figure, "plots/reasons.png")
    plt.close(figure)


def train_family(dataset: Dataset, brands: list[str] | None = None, tune: int = 0, promote: bool = True,
                 config: SelectionConfig | None = None) -> Iterator[str]:
    """`daiyun train selection`: one summary line per brand (each brand on its own data only)."""
    from rich.progress import Progress

    from daiyun.training.cli.app import console

    config = config or SelectionConfig()
    brands = list(brands or dataset.brands)
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("selection: training", total=len(brands))
        for brand in brands:
            progress.update(task, description=f"selection: {brand}")
            line = train_brand(dataset, brand, config, tune=tune, promote=promote)
            progress.advance(task)
            yield line
