"""`daiyun train selection`: per brand, the push list scored from the forecast, plus a learned
correction that is kept only where it beats forecast-only ranking in the brand's backtest.

Three corrections are tried: "corrected" (LightGBM on the forecast's log error, from the selection
features), "blended" (weights of the forecast, last period and the 4-period average, chosen by
NDCG@20 on past as_of dates) and "combined" (the forecast and last period averaged on the log
scale, no weights learned).

Backtest (rolling origin, leakage-free): at every backtest as_of the forecast family's LightGBM
forecaster is refitted on the history up to that as_of only and forecasts the horizon under the
plan that was then in place (the forecast backtest's own `window_predictions`); its units x the
planned price, summed, is that as_of's forecast-only score. The correction for a backtest as_of
learns only from earlier as_of dates whose horizon had ended by then (their forecasts made the
same way), never from the current champion. The rules compared on the same as_of dates:
forecast-only, corrected, blended, combined, last period's and the 4-period average's best sellers.

The bundle scores from the brand's forecast champion (the one `/forecast` serves), with the
correction on only if it beat forecast-only on the backtest's NDCG@20; the run's tags say which
and by how much (`daiyun.selection_correction`).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from daiyun.features.dataset import Dataset
from daiyun.features.selection_frame import KEYS, attach_forecasts, periods, selection_frame
from daiyun.models.selection.baselines import BASELINES
from daiyun.models.selection.bundle import SelectionBundle, snapshot
from daiyun.models.selection.correction import (
    ForecastBlend,
    ForecastCombination,
    ForecastCorrection,
    forecast_rate_log,
)
from daiyun.training.registry import MLFLOW_REGISTRY, Registry, data_fingerprint
from daiyun.training.tracking import use_experiment
from daiyun.training.trainers.brands import brand_run, train_brands
from daiyun.training.trainers.selection_metrics import captured_revenue_curve, ranking_metrics

logger = logging.getLogger("daiyun.training")

EXPERIMENT = "daiyun-selection"
GATE_METRIC = "ndcg_at_20"
EVENT_EVES = ((5, 19), (10, 19))  # the day before the 618 and Double 11 pre-sales
FORECAST_ONLY, CORRECTED, BLENDED, COMBINED = "forecast", "corrected", "blended", "combined"
CORRECTIONS = (CORRECTED, BLENDED, COMBINED)  # the corrections on top of the forecast, tried in turn
RULES = (FORECAST_ONLY, *CORRECTIONS, *BASELINES)


@dataclass
class SelectionConfig:
    """What a selection training run does; tests and the quick config shrink it."""

    horizon_days: int | None = None  # default: 30 days, or 4 weeks for weekly brands
    target: str = "revenue"
    backtest_as_of: list | None = None
    n_event_dates: int = 2
    n_regular_dates: int = 2
    # earlier as_of dates used only to teach the correction (each costs one forecaster refit)
    n_learning_dates: int = 2
    learning_every_days: int = 28
    # overrides of the LightGBM forecaster refitted at each as_of (default: the champion's settings)
    forecast_params: dict = field(default_factory=dict)
    correction_params: dict = field(default_factory=dict)


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


def learning_dates(tests: list[pd.Timestamp], start: pd.Timestamp, horizon_days: int, n: int,
                   every_days: int, min_history_days: int = 180) -> list[pd.Timestamp]:
    """`n` as_of dates before the first backtest date whose horizon ended by then (correction only)."""
    if not tests or n <= 0:
        return []
    first = min(tests) - pd.Timedelta(days=horizon_days)
    earliest = start + pd.Timedelta(days=min_history_days)
    dates = [first - pd.Timedelta(days=every_days * k) for k in range(n)]
    return sorted(d for d in dates if d >= earliest)


def past_forecasts(
    dataset: Dataset, brand: str, as_of_dates: list[pd.Timestamp], horizon_days: int,
    lgbm_params: dict | None = None, regular_prices: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Forecast revenue per SKU for each as_of, each from a forecaster fitted on data up to that as_of.

    The forecast family's own backtest step does the work (`window_predictions`: LightGBM refitted
    on the history <= as_of, the horizon forecast under the plan). The plan is what was known at
    as_of, as in the service: the promotion calendar (days on promotion keep their discount and
    price); every other day is at the regular price (left to the forecaster, as when no plan is
    given), never the realised average price, which on real data moves with what customers bought.
    Revenue is the forecast units x that price. The regular price is the one the service prices a
    plan-less day at (`regular_prices`: platform, sku_id, as_of, list_price, the selection frame's
    own, so the backtest ranks exactly as the push list would), else the last price before as_of
    off promotion. On real data the last price can be one odd sale (a retail-tier or multipack
    price 13x the usual), which alone would put a SKU at the top of the list.
    """
    from daiyun.features.forecast_frame import brand_history
    from daiyun.models.forecast.lgbm import calendar_tables
    from daiyun.training.trainers.backtest import BacktestConfig, window_predictions

    mine = dataset.for_brand(brand)
    freq = mine.freq(brand)
    market = mine.market
    history = brand_history(dataset, brand)
    h = periods(horizon_days, freq)
    params = {"horizon": max(h, 1), **(lgbm_params or {})}
    if freq == "W":
        params = {"origin_stride": 2, "lookback": 104, **params}
    config = BacktestConfig(windows=1, horizon=h, members=("lgbm",), baselines=(), lgbm_params=params)
    calendar = calendar_tables(sorted(history["platform"].unique()), history["date"].min(),
                               history["date"].max() + pd.Timedelta(days=horizon_days), mine.events, freq,
                               market)
    step = pd.Timedelta(days=7 if freq == "W" else 1)
    promoted = (history["on_promo"].fillna(0).to_numpy(float) > 0) | (
        history["discount"].fillna(0).to_numpy(float) > 0.005)
    out = []
    for as_of in as_of_dates:
        # the same period the selection frame uses: the last one starting on or before as_of
        origin = history.loc[history["date"] <= as_of, "date"].max()
        if pd.isna(origin) or origin + step * h > history["date"].max():
            continue
        planned = history.copy()
        regular_days = (planned["date"] > origin).to_numpy() & ~promoted
        planned.loc[regular_days, "price"] = np.nan
        frame, _ = window_predictions(planned, origin, config, freq, mine.events, calendar, ["lgbm"], market,
                                      mine.prices)
        seen = ((history["date"] <= origin) & history["price"].notna()).to_numpy()
        past = history.loc[seen].assign(promoted=promoted[seen]).sort_values("date")
        last_regular = past.loc[~past["promoted"]].groupby(["platform", "sku_id"])["price"].last()
        regular = last_regular.combine_first(past.groupby(["platform", "sku_id"])["price"].last())
        if regular_prices is not None:
            mine_now = regular_prices.loc[pd.to_datetime(regular_prices["as_of"]).eq(pd.Timestamp(as_of))]
            served = mine_now.set_index(["platform", "sku_id"])["list_price"].astype(float).dropna()
            regular = served.combine_first(regular)
        keys = pd.MultiIndex.from_frame(frame[["platform", "sku_id"]])
        price = frame["price"].to_numpy(float)
        price = np.where(np.isnan(price), regular.reindex(keys).to_numpy(float), price)
        frame["revenue"] = frame["lgbm"].to_numpy(float) * np.nan_to_num(price)
        summed = frame.groupby(["platform", "sku_id"], as_index=False)["revenue"].sum()
        out.append(summed.assign(brand=brand, as_of=pd.Timestamp(as_of))
                   .rename(columns={"revenue": "forecast_revenue"}))
    if not out:
        return pd.DataFrame(columns=[*KEYS, "forecast_revenue"])
    return pd.concat(out, ignore_index=True)[[*KEYS, "forecast_revenue"]]


def brand_frame(dataset: Dataset, brand: str, config: SelectionConfig,
                lgbm_params: dict | None = None) -> tuple[pd.DataFrame, int, list[pd.Timestamp]]:
    """(selection frame with leakage-free forecast_revenue, horizon_days, backtest dates) for one brand."""
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
    learn = learning_dates(tests, start, horizon, config.n_learning_dates, config.learning_every_days)
    dates = sorted(set(tests) | set(learn))
    frame = selection_frame(mine, dates, horizon, target=config.target)
    forecasts = past_forecasts(mine, brand, dates, horizon, {**(lgbm_params or {}), **config.forecast_params},
                               regular_prices=frame[["platform", "sku_id", "as_of", "list_price"]])
    return attach_forecasts(frame, forecasts), horizon, tests


def training_rows(frame: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """Labelled rows whose horizon had ended by the last day `as_of` has seen: all a model may learn."""
    seen = frame.loc[frame["as_of"].eq(as_of), "observed_until"].max()
    if pd.isna(seen):
        seen = pd.Timestamp(as_of)
    return frame.loc[(frame["label_until"] <= seen) & frame["target"].notna()
                     & frame["forecast_revenue"].notna()]


def backtest(frame: pd.DataFrame, test_dates: list[pd.Timestamp], correction_params: dict | None = None,
             rules: tuple[str, ...] = RULES, min_rows: int = 20) -> pd.DataFrame:
    """Every rule's score on every backtest as_of; the correction learns only from earlier horizons.

    Returns rows brand, platform, sku_id, as_of, target, forecast_revenue, rule, score (the
    corrections are absent on as_of dates with fewer than `min_rows` earlier rows to learn from).
    """
    out = []
    columns = ["brand", "platform", "sku_id", "as_of", "target", "forecast_revenue"]
    for test in test_dates:
        rows = frame.loc[frame["as_of"].eq(test) & frame["target"].notna()
                         & frame["forecast_revenue"].notna()]
        if rows.empty:
            continue
        for rule in rules:
            if rule == FORECAST_ONLY:
                score = forecast_rate_log(rows)
            elif rule in CORRECTIONS:
                train = training_rows(frame, test)
                if len(train) < min_rows:
                    continue
                score = make_correction(rule, correction_params).fit(train).score(rows)
            else:
                score = np.log1p(BASELINES[rule]().predict(rows))
            out.append(rows[columns].assign(rule=rule, score=score))
    if not out:
        raise ValueError("no backtest as_of had both labels and a forecast made before it")
    return pd.concat(out, ignore_index=True)


def summarise(predictions: pd.DataFrame, scope: str = "platform",
              oracle: bool = False) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(per rule and as_of metrics, per rule means over groups); groups are platforms or the brand."""
    groups = ("brand", "platform", "as_of") if scope == "platform" else ("brand", "as_of")
    per_group = []
    for rule, part in predictions.groupby("rule", sort=False):
        per_group.append(ranking_metrics(part, groups=groups).assign(rule=rule))
    if oracle:
        first = predictions.loc[predictions["rule"].eq(predictions["rule"].iloc[0])]
        per_group.append(ranking_metrics(first, score="target", groups=groups).assign(rule="oracle"))
    per_group = pd.concat(per_group, ignore_index=True)
    metric_columns = [c for c in per_group.columns if c.startswith(("ndcg", "captured", "precision"))]
    by_as_of = per_group.groupby(["rule", "as_of"], sort=False)[metric_columns].mean().reset_index()
    overall = per_group.groupby("rule", sort=False)[metric_columns].mean()
    return by_as_of, overall


def make_correction(rule: str, params: dict | None = None) -> ForecastCorrection | ForecastBlend:
    if rule == CORRECTED:
        return ForecastCorrection(params)
    return ForecastCombination() if rule == COMBINED else ForecastBlend()


def correction_decision(predictions: pd.DataFrame,
                        metric: str = GATE_METRIC) -> tuple[str | None, str, float]:
    """(the correction to serve or None, the sentence for the run's tag, its `metric` margin).

    Each correction is compared with forecast-only on the as_of dates where both were scored. It
    qualifies only if strictly better on `metric` and no worse on captured revenue@20, ranked per
    platform and across the brand (a correction that trades one for another is not what an operator
    asked for); the qualifying one with the best `metric` is served, otherwise none.
    """
    said, best, best_margin = [], None, math.nan
    for rule in CORRECTIONS:
        corrected = predictions.loc[predictions["rule"].eq(rule)]
        if corrected.empty:
            said.append(f"{rule}: no backtest as_of had earlier horizons to learn from")
            continue
        dates = corrected["as_of"].unique()
        shared = predictions.loc[predictions["as_of"].isin(dates)
                                 & predictions["rule"].isin([rule, FORECAST_ONLY])]
        margins, parts = {}, []
        for scope in ("platform", "brand"):
            overall = summarise(shared, scope=scope)[1]
            for name in (metric, "captured_revenue_at_20"):
                ours, theirs = float(overall.loc[rule, name]), float(overall.loc[FORECAST_ONLY, name])
                margins[(scope, name)] = ours - theirs
                parts.append(f"{name} ({scope}) {ours:.4f} vs {theirs:.4f}")
        qualifies = margins[("platform", metric)] > 0 and all(
            margins[key] >= 0 for key in margins if key != ("platform", metric))
        said.append(f"{rule} {'beats' if qualifies else 'does not beat'} forecast-only on {len(dates)} "
                    f"backtest as_of ({', '.join(parts)})")
        if qualifies and (best is None or margins[("platform", metric)] > best_margin):
            best, best_margin = rule, margins[("platform", metric)]
    head = f"on: {best}" if best else "off: forecast-only"
    return best, f"{head}; " + "; ".join(said), best_margin


def final_rule_predictions(predictions: pd.DataFrame, choice: str | None) -> pd.DataFrame:
    """The served rule's backtest rows: the chosen correction where it ran, forecast-only elsewhere."""
    if choice is None:
        return predictions.loc[predictions["rule"].eq(FORECAST_ONLY)].assign(rule="model")
    corrected = predictions.loc[predictions["rule"].eq(choice)]
    rest = predictions.loc[predictions["rule"].eq(FORECAST_ONLY)
                           & ~predictions["as_of"].isin(corrected["as_of"].unique())]
    return pd.concat([corrected, rest], ignore_index=True).assign(rule="model")


def forecast_champion(brand: str, registry: Registry):
    """The brand's forecast champion: the push list is scored from it, so it must exist."""
    try:
        bundle, info = registry.load_champion("forecast", brand)
    except LookupError:
        raise LookupError(
            f"brand '{brand}' has no forecast champion, and the push list is scored from the forecast: "
            f"train it first (daiyun train forecast --data DIR --brand {brand})"
        ) from None
    return bundle, info


def fit_bundle(dataset: Dataset, brand: str, frame: pd.DataFrame, horizon_days: int, forecast,
               correction_rule: str | None, config: SelectionConfig, metrics: dict | None = None,
               decision: str = "") -> SelectionBundle:
    """The bundle: the forecast champion, the chosen correction refitted on every labelled row (if
    any), and the brand's recent history for the reasons."""
    correction = None
    if correction_rule is not None:
        rows = frame.loc[frame["target"].notna() & frame["forecast_revenue"].notna()]
        correction = make_correction(correction_rule, config.correction_params).fit(rows)
    history = snapshot(dataset, brand)
    return SelectionBundle(brand, forecast, correction, history, _event_windows(history, brand), horizon_days,
                           target=config.target, metrics=metrics, decision=decision)


def _event_windows(history: Dataset, brand: str) -> pd.DataFrame:
    from daiyun.features.selection_frame import default_event_windows

    start = history.start_date - pd.Timedelta(days=800)
    end = history.end_date + pd.Timedelta(days=3 * 366)
    return default_event_windows(history, brand, start, end)


def _tune(frame, tests, config: SelectionConfig, trials: int) -> dict:
    """Optuna TPE over the correction's settings, scored by backtest NDCG@20; trials as nested runs."""
    import mlflow
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)

    def objective(trial: optuna.Trial) -> float:
        params = {
            "n_estimators": trial.suggest_int("n_estimators", 50, 400, step=50),
            "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.1, log=True),
            "num_leaves": trial.suggest_int("num_leaves", 3, 31),
            "min_child_samples": trial.suggest_int("min_child_samples", 5, 100, log=True),
        }
        predictions = backtest(frame, tests, params, rules=(CORRECTED,))
        score = float(summarise(predictions)[1].loc[CORRECTED, GATE_METRIC])
        with mlflow.start_run(run_name=f"trial-{trial.number}", nested=True):
            mlflow.log_params(params)
            mlflow.log_metric(GATE_METRIC, score)
        return score

    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=0))
    study.optimize(objective, n_trials=trials)
    return study.best_params


def train_brand(dataset: Dataset, brand: str, config: SelectionConfig, tune: int = 0,
                promote: bool = True, registry: Registry = MLFLOW_REGISTRY) -> str:
    """One brand end to end; returns the one-line summary the CLI prints."""
    import mlflow

    forecast, forecast_info = forecast_champion(brand, registry)
    lgbm_params = dict((getattr(forecast, "config", {}) or {}).get("lgbm_params") or {})
    frame, horizon, tests = brand_frame(dataset, brand, config, lgbm_params)
    fingerprint = data_fingerprint(dataset.for_brand(brand).sales[["date", "platform", "sku_id", "revenue"]])
    backtest_key = (f"selection|{fingerprint}|h={horizon}|{config.target}|"
                    + ",".join(str(d.date()) for d in tests))
    use_experiment(EXPERIMENT)
    with brand_run("selection", brand) as run:
        mlflow.set_tags({
            "brand": brand, "family": "selection",
            "daiyun.forecast_source": f"forecast champion v{forecast_info.version} "
                                      f"(history to {pd.Timestamp(forecast.origin).date()})",
            "daiyun.forecast_feature": "leakage-free: the LightGBM forecaster refitted at each backtest "
                                       "as_of on data up to it; never the champion's own forecasts",
        })
        if tune > 0:
            config = SelectionConfig(**{**config.__dict__,
                                        "correction_params": {**config.correction_params,
                                                              **_tune(frame, tests, config, tune)}})
        predictions = backtest(frame, tests, config.correction_params)
        choice, said, margin = correction_decision(predictions)
        served = final_rule_predictions(predictions, choice)
        scored = pd.concat([predictions, served], ignore_index=True)
        by_as_of, overall = summarise(scored, oracle=True)
        _, brand_overall = summarise(scored, scope="brand")
        mlflow.set_tag("daiyun.selection_correction", said)
        mlflow.log_params({
            "horizon_days": horizon, "target": config.target, "frequency": dataset.freq(brand),
            "backtest_as_of": ",".join(str(d.date()) for d in tests),
            "learning_as_of": ",".join(str(d.date()) for d in sorted(set(frame["as_of"]) - set(tests))),
            "n_rows": len(frame), "correction": choice or "off",
            **{f"correction.{k}": v for k, v in config.correction_params.items()},
        })
        metrics = {}
        for rule, row in overall.iterrows():
            for name, value in row.items():
                metrics[f"{rule}.{name}"] = float(value)
        for rule, row in brand_overall.iterrows():
            metrics[f"{rule}.brand_scope.{GATE_METRIC}"] = float(row[GATE_METRIC])
        for name, value in overall.loc["model"].items():
            metrics[name] = float(value)
        best_baseline = float(overall.loc[list(BASELINES), GATE_METRIC].max())
        metrics["lift_vs_best_baseline"] = (metrics[GATE_METRIC] / best_baseline - 1 if best_baseline
                                            else math.nan)
        metrics["correction_margin"] = margin
        mlflow.log_metrics({k: v for k, v in metrics.items() if not math.isnan(v)})
        bundle = fit_bundle(dataset, brand, frame, horizon, forecast, choice, config, metrics, said)
        _log_plots(by_as_of, scored, brand)
        mlflow.log_table(by_as_of.assign(as_of=by_as_of["as_of"].astype(str)), "backtest_by_as_of.json")
        uri = registry.log_bundle(bundle)

        def rescore(champion: SelectionBundle) -> float:
            correction = getattr(champion, "correction", None)
            if correction is None:
                return float(overall.loc[FORECAST_ONLY, GATE_METRIC])
            rows = frame.loc[frame["as_of"].isin(tests) & frame["target"].notna()
                             & frame["forecast_revenue"].notna()]
            old = rows[["brand", "platform", "sku_id", "as_of", "target"]].assign(
                rule="champion", score=correction.score(rows))
            return float(summarise(old)[1].loc["champion", GATE_METRIC])

        decision = registry.register_and_gate(
            "selection", brand, uri, run.info.run_id, score=metrics[GATE_METRIC],
            metric=GATE_METRIC, backtest_key=backtest_key, lower_is_better=False,
            rescore_champion=rescore, promote=promote,
        )
        bundle.model_version = decision.version
    return (
        f"selection {brand}: scored from forecast v{forecast_info.version}, correction {choice or 'off'}; "
        f"NDCG@20 {metrics[GATE_METRIC]:.3f} ({metrics['lift_vs_best_baseline']:+.1%} vs best baseline), "
        f"captured@20 {metrics['captured_revenue_at_20']:.3f} "
        f"-> v{decision.version} {'champion' if decision.promoted else 'kept'}: {decision.reason}"
    )


def _log_plots(by_as_of: pd.DataFrame, predictions: pd.DataFrame, brand: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import mlflow

    table = by_as_of.pivot(index="as_of", columns="rule", values=GATE_METRIC)
    figure, axis = plt.subplots(figsize=(8, 4))
    table.index = [d.date() for d in table.index]
    table.plot.bar(ax=axis)
    axis.set_ylabel("NDCG@20 (revenue gain)")
    axis.set_title(f"{brand}: NDCG@20 by backtest as_of")
    figure.tight_layout()
    mlflow.log_figure(figure, "plots/ndcg_by_as_of.png")
    plt.close(figure)

    figure, axis = plt.subplots(figsize=(7, 4))
    for rule, part in predictions.groupby("rule", sort=False):
        captured_revenue_curve(part, "score", max_k=50).plot(ax=axis, label=rule)
    first = predictions.loc[predictions["rule"].eq(FORECAST_ONLY)]
    captured_revenue_curve(first, "target", max_k=50).plot(ax=axis, label="oracle", linestyle="--")
    axis.set_xlabel("k (SKUs pushed)")
    axis.set_ylabel("captured revenue share")
    axis.legend()
    figure.tight_layout()
    mlflow.log_figure(figure, "plots/captured_revenue_vs_k.png")
    plt.close(figure)


def train_family(dataset: Dataset, brands: list[str] | None = None, tune: int = 0, promote: bool = True,
                 config: SelectionConfig | None = None,
                 registry: Registry = MLFLOW_REGISTRY) -> Iterator[str]:
    """`daiyun train selection`: one summary line per brand (each brand on its own data only)."""
    from rich.console import Console
    from rich.progress import Progress

    config = config or SelectionConfig()
    brands = list(brands or dataset.brands)
    # progress on stderr, like the CLI's own messages; the summary lines are the output
    with Progress(console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task("selection: training", total=len(brands))

        def train_one(brand: str) -> str:
            progress.update(task, description=f"selection: {brand}")
            try:
                return train_brand(dataset, brand, config, tune=tune, promote=promote, registry=registry)
            finally:
                progress.advance(task)

        yield from train_brands("selection", brands, train_one)
