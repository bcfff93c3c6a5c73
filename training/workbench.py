"""The data scientists' workbench: what the notebooks in `notebooks/` call, and nothing they don't.

Retraining goes through each family's `train_family` (the function `daiyun train` calls) and the
champion gate in `daiyun.training.registry`; this module only finds what a run produced (its run id,
registered version and the gate's decision), lays challenger and champion side by side, links to
the MLflow UI, and draws the exploration and answer figures. No second gate lives here: `promote`
re-registers a reviewed version through `registry.register_and_gate`.

    data_dir = ensure_sample("data/demo", size="demo", seed=7)
    retrain = train("forecast", load(data_dir, brands=["glowlab"]), "glowlab", n_trials=0, promote=False)
    challenger_vs_champion("forecast", "glowlab", retrain.version, retrain.previous_champion)
    promote("forecast", "glowlab", retrain.version)      # after review; the gate still decides
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Our progress bars are rich's; in a notebook without ipywidgets rich warns on every refresh and
# tqdm (through MLflow) once at import. The work still runs; the warnings would bury the output.
for _message in ('install "ipywidgets" for Jupyter support', "IProgress not found"):
    warnings.filterwarnings("ignore", message=f".*{_message}")

import matplotlib  # noqa: E402

matplotlib.use(os.environ.get("MPLBACKEND") or "Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from daiyun.features.dataset import Dataset  # noqa: E402
from daiyun.models.registry import CHAMPION, champion_info, load_bundle, model_name, tracking_uri  # noqa: E402
from daiyun.models.registry import client as _client  # noqa: E402
from daiyun.training.families import TRAINING as FAMILIES  # noqa: E402, F401 - the notebooks read it here
from daiyun.training.families import family  # noqa: E402
from daiyun.training.registry import GateDecision, register_and_gate  # noqa: E402


# ------------------------------------------------------------------------------------------- data
def ensure_sample(data_dir: str | Path, size: str = "small", seed: int = 3) -> Path:
    """The data directory; when it holds no sales table yet, the simulated sample is written there."""
    directory = Path(data_dir)
    if not any((directory / f"sales.{ext}").is_file() for ext in ("parquet", "csv")):
        from daiyun.features.simulator.world import write_sample

        print(write_sample(directory, size=size, seed=seed, progress=False))
    return directory


# ------------------------------------------------------------------------------------ retraining
def quick_config(name: str) -> Any:
    """Tiny settings for a smoke run (CI, a first look): seconds instead of minutes, worse scores.

    None when the family's `train_family` has no settings to shrink (budget: `n_trials` is its knob).
    """
    if name == "forecast":
        from daiyun.training.trainers.backtest import BacktestConfig

        return BacktestConfig(windows=1, horizon=14, members=("lgbm",), baselines=("seasonal_naive",),
                              lgbm_params={"n_estimators": 30, "lookback": 365, "origin_stride": 21,
                                           "horizons_per_origin": 5})
    if name == "selection":
        from daiyun.training.trainers.selection import SelectionConfig

        return SelectionConfig(n_regular_dates=1, n_learning_dates=1, forecast_params={"n_estimators": 30},
                               correction_params={"n_estimators": 20, "min_child_samples": 3})
    family(name)
    return None


@dataclass
class RunLink:
    """Where to see a run in the MLflow UI (renders as a link in a notebook)."""

    tracking_uri: str
    experiment_id: str
    run_id: str
    url: str
    ui_command: str = ""

    def __str__(self) -> str:
        start = f" (start the UI with `{self.ui_command}`)" if self.ui_command else ""
        return f"run {self.run_id} in {self.tracking_uri}: {self.url}{start}"

    def _repr_markdown_(self) -> str:
        start = f"<br>start the UI first: `{self.ui_command}`" if self.ui_command else ""
        return (f"MLflow run [`{self.run_id}`]({self.url}) · experiment {self.experiment_id} · "
                f"tracking URI `{self.tracking_uri}`{start}")


def run_link(run_id: str) -> RunLink:
    """The run's page in the MLflow UI: the tracking server's own, or a local `mlflow ui`."""
    uri = tracking_uri()
    experiment_id = _client().get_run(run_id).info.experiment_id
    page = f"#/experiments/{experiment_id}/runs/{run_id}"
    if uri.startswith(("http://", "https://")):
        return RunLink(uri, experiment_id, run_id, f"{uri.rstrip('/')}/{page}")
    return RunLink(uri, experiment_id, run_id, f"http://127.0.0.1:5000/{page}",
                   ui_command=f"mlflow ui --backend-store-uri {uri} --port 5000")


def nested_runs(run_id: str) -> pd.DataFrame:
    """The run's nested runs (Optuna trials or studies): name, run id, state and metrics."""
    client = _client()
    parent = client.get_run(run_id)
    children = client.search_runs([parent.info.experiment_id],
                                  filter_string=f"tags.mlflow.parentRunId = '{run_id}'",
                                  order_by=["attributes.start_time ASC"], max_results=1000)
    rows = [{"run_name": r.info.run_name, "run_id": r.info.run_id, "status": r.info.status, **r.data.metrics}
            for r in children]
    return pd.DataFrame(rows, columns=None if rows else ["run_name", "run_id", "status"])


@dataclass
class Retrain:
    """What one `train_family` call produced for one brand, as the registry and the run record it."""

    family: str
    brand: str
    lines: list[str] = field(repr=False)
    run_id: str
    version: str
    promoted: bool
    reason: str
    previous_champion: str | None
    metrics: dict[str, float] = field(default_factory=dict, repr=False)

    @property
    def model_uri(self) -> str:
        return f"models:/{model_name(self.family, self.brand)}/{self.version}"

    @property
    def link(self) -> RunLink:
        return run_link(self.run_id)

    def bundle(self) -> Any:
        """The challenger's fitted bundle, loaded back from the registry as the service would."""
        return load_bundle(self.model_uri)

    def _repr_markdown_(self) -> str:
        verdict = "**promoted to champion**" if self.promoted else "**not promoted**"
        return (f"{self.family} · {self.brand}: version {self.version} {verdict}: {self.reason}<br>"
                + self.link._repr_markdown_())


def train(name: str, dataset: Dataset, brand: str, n_trials: int = 0, promote: bool = True,
          quick: bool = False) -> Retrain:
    """Retrain one brand's family exactly as `daiyun train NAME --brand BRAND --tune N` does.

    The gate's decision is read back from the run's tags (`register_and_gate` wrote them), so
    what the notebook shows is what the registry did.
    """
    chosen = family(name)
    dataset.for_brand(brand)  # NotFoundError naming the known brands, before any work
    before = champion_info(name, brand)
    started_ms = int(time.time() * 1000) - 1000
    settings = {"config": quick_config(name)} if quick and quick_config(name) is not None else {}
    lines = [str(line) for line in chosen.train_family(
        dataset, brands=[brand], tune=n_trials, promote=promote, **settings)]
    from rich import print as rich_print

    for line in lines:
        rich_print(line)  # the trainers' lines carry rich markup, as the CLI prints them
    run = _latest_run(name, brand, started_ms)
    tags = run.data.tags if run else {}
    if run is None or "daiyun.model_version" not in tags:
        error = tags.get("daiyun.error", "")
        raise RuntimeError(f"{name} {brand}: no model was registered ({error or ' / '.join(lines)}); "
                           "the champion is unchanged")
    return Retrain(
        family=name, brand=brand, lines=lines, run_id=run.info.run_id,
        version=tags["daiyun.model_version"], promoted=tags.get("daiyun.champion_decision") == "promoted",
        reason=tags.get("daiyun.champion_reason", ""), previous_champion=before.version if before else None,
        metrics=dict(run.data.metrics),
    )


def _latest_run(name: str, brand: str, since_ms: int) -> Any:
    """The brand's newest top-level training run of the family (named `<family>-<brand>` by every
    trainer) started since `since_ms`."""
    import mlflow

    client = _client()
    experiment = mlflow.get_experiment_by_name(family(name).experiment)
    if experiment is None:
        return None
    run_name = f"{name}-{brand}".replace("'", "\\'")
    runs = client.search_runs(
        [experiment.experiment_id],
        filter_string=f"attributes.run_name = '{run_name}' and attributes.start_time >= {since_ms}",
        order_by=["attributes.start_time DESC"], max_results=1,
    )
    return runs[0] if runs else None


CURRENT = "current"


def challenger_vs_champion(name: str, brand: str, challenger: str | None = None,
                           champion: str | None = CURRENT, like: str | None = None) -> pd.DataFrame:
    """Backtest metrics of two registered versions side by side; the gate's metric comes first.

    `challenger` defaults to the newest version; `champion` to the version holding the `champion`
    alias now (pass `Retrain.previous_champion` for the one a run was gated against; None: there
    was none). `like` keeps only metrics whose name contains it (the forecast logs one metric per
    model, level and day type).
    """
    chosen = family(name)
    client = _client()
    registered = model_name(name, brand)
    versions = {str(v.version): v for v in client.search_model_versions(f"name = '{registered}'")}
    if not versions:
        raise LookupError(f"no {name} model is registered for brand '{brand}'; train one first")
    if challenger is None:
        challenger = max(versions, key=int)
    if champion == CURRENT:
        aliases = client.get_registered_model(registered).aliases or {}
        champion = aliases.get(CHAMPION)
        champion = None if champion is None else str(champion)
    columns: dict[str, dict[str, float]] = {}
    backtests: list[str | None] = []
    for role, version in (("challenger", challenger), ("champion", champion)):
        if version is None:
            columns[f"{role} (none)"] = {}
            continue
        if str(version) not in versions:
            raise LookupError(f"{registered} has no version {version}; known: {sorted(versions, key=int)}")
        run = client.get_run(versions[str(version)].run_id) if versions[str(version)].run_id else None
        columns[f"{role} v{version}"] = dict(run.data.metrics) if run else {}
        backtests.append(run.data.tags.get("daiyun.backtest_key") if run else None)
    table = pd.DataFrame(columns)
    metric = chosen.metric
    names = [n for n in table.index if like is None or like in n or n == metric]
    ordered = [metric] * (metric in names) + sorted(n for n in names if n != metric)
    table = table.reindex(ordered)
    table["difference"] = table.iloc[:, 0] - table.iloc[:, 1]
    table.index.name = "metric"
    table.attrs["gate"] = f"{metric}: {'lower' if chosen.lower_is_better else 'higher'} is better"
    if len(backtests) == 2 and backtests[0] != backtests[1]:
        # e.g. the data changed since the champion was trained: its stored numbers do not compare,
        # which is why the gate re-scores it on the challenger's backtest (see the run's reason)
        table.attrs["gate"] += "; the two versions were scored on different backtests"
    return table


def promote(name: str, brand: str, version: str | int) -> GateDecision:
    """Offer a reviewed, registered version to the champion gate (e.g. one trained with PROMOTE=False).

    The registry's gate acts when a model is registered, so the version's model is registered
    again (a new version number, same model and run) with the run's stored score and backtest
    key; the champion moves only if that beats it on the same backtest. A champion scored on
    another backtest cannot be re-scored from here: retrain with promote=True instead.
    """
    chosen = family(name)
    client = _client()
    registered = model_name(name, brand)
    source = client.get_model_version(registered, str(version))
    current = champion_info(name, brand)
    if current is not None and current.version == str(version):
        return GateDecision(promoted=False, version=str(version),
                            reason=f"v{version} is already the champion", challenger_score=float("nan"),
                            champion_score=None, champion_version=current.version)
    run = client.get_run(source.run_id)
    metric = chosen.metric
    if metric not in run.data.metrics or "daiyun.backtest_key" not in run.data.tags:
        raise LookupError(f"{registered} v{version}: its run has no {metric} or backtest key to gate on; "
                          "retrain it")
    return register_and_gate(
        name, brand, source.source, source.run_id, score=float(run.data.metrics[metric]), metric=metric,
        backtest_key=run.data.tags["daiyun.backtest_key"], lower_is_better=chosen.lower_is_better,
        rescore_champion=None, promote=True,
    )


# -------------------------------------------------------------------------------------- figures
def _atomic_path(output_dir: str | Path, filename: str) -> tuple[Path, Path]:
    directory = Path(output_dir)
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / filename
    return target, directory / f".{filename}.tmp{target.suffix}"


def show(figure: Figure | str | Path) -> None:
    """Show a figure (or a saved PNG) in the notebook, once, whatever matplotlib backend is active.

    Our plotting modules select Agg when imported, which would silence `%matplotlib inline` for
    the rest of a session; displaying the PNG ourselves (and closing the figure) always works.
    """
    from IPython.display import Image, display

    if isinstance(figure, (str, Path)):
        display(Image(filename=str(figure)))
        return
    import io

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    plt.close(figure)
    display(Image(data=buffer.getvalue()))


def save_figure(figure: Figure, output_dir: str | Path, filename: str) -> Path:
    """Write the figure as PNG into output_dir (temp file, then rename)."""
    target, temporary = _atomic_path(output_dir, filename)
    figure.savefig(temporary, dpi=110, bbox_inches="tight")
    os.replace(temporary, target)
    return target


def save_run_figure(run_id: str, artifact_path: str, output_dir: str | Path,
                    filename: str | None = None) -> Path:
    """Copy a plot the training run logged (e.g. `plots/response_curves.png`) into output_dir."""
    import mlflow

    _client()
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    target, temporary = _atomic_path(output_dir, filename or Path(artifact_path).name)
    with tempfile.TemporaryDirectory() as scratch:
        local = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=artifact_path,
                                                    dst_path=scratch)
        shutil.copyfile(local, temporary)
    os.replace(temporary, target)
    return target


def _shade_events(axis: plt.Axes, start: pd.Timestamp, end: pd.Timestamp, events: pd.DataFrame,
                  brand: str) -> None:
    from daiyun.features.calendar import event_windows

    windows = event_windows(start, end, events=events, brand=brand)
    colours = {"presale": "tab:orange", "peak": "tab:red", "slowdown": "tab:gray"}
    labelled: set[str] = set()
    for row in windows.itertuples(index=False):
        if row.phase not in colours:
            continue
        label = None if row.phase in labelled else f"event {row.phase}"
        labelled.add(row.phase)
        axis.axvspan(pd.Timestamp(row.start), pd.Timestamp(row.end) + pd.Timedelta(days=1),
                     color=colours[row.phase], alpha=0.12, lw=0, label=label)


# ---------------------------------------------------------------------------------- exploration
def sales_by_platform(dataset: Dataset, brand: str) -> pd.DataFrame:
    """Revenue per date (rows) and platform (columns)."""
    sales = dataset.for_brand(brand).sales
    return sales.pivot_table(index="date", columns="platform", values="revenue", aggfunc="sum",
                             observed=True).fillna(0.0)


def sales_by_event(dataset: Dataset, brand: str) -> pd.DataFrame:
    """Mean revenue per period in each event phase, per platform, and its lift over ordinary periods.

    Rows are `event · phase` (e.g. `double11 · presale`) plus `ordinary` (no event); columns are
    platforms, then `all`, then `lift` (the `all` column over the ordinary periods' `all`).
    """
    from daiyun.features.calendar import calendar_frame

    mine = dataset.for_brand(brand)
    table = sales_by_platform(dataset, brand)
    calendar = calendar_frame(table.index.min(), table.index.max(), events=mine.events, brand=brand,
                              freq=mine.freq(brand)).set_index("date")
    calendar = calendar.reindex(table.index)
    named = calendar["event_name"].fillna("").astype(str)
    phase = calendar["phase"].fillna("").astype(str)
    label = np.where(named.eq(""), "ordinary", named + " · " + phase)
    table = table.assign(all=table.sum(axis=1))
    means = table.groupby(label).mean()
    means["periods"] = table.groupby(label).size()
    means["lift"] = means["all"] / means.loc["ordinary", "all"] if "ordinary" in means.index else np.nan
    means.index.name = "period"
    return means.sort_values("lift", ascending=False)


def sales_figure(dataset: Dataset, brand: str) -> Figure:
    """Revenue per platform over the history, event presales and peaks shaded."""
    mine = dataset.for_brand(brand)
    table = sales_by_platform(dataset, brand)
    smoothed = table.rolling(7, min_periods=1).mean() if mine.freq(brand) == "D" else table
    figure, axis = plt.subplots(figsize=(12, 4))
    axis.stackplot(smoothed.index, smoothed.T.to_numpy(), labels=list(smoothed.columns), alpha=0.85)
    _shade_events(axis, table.index.min(), table.index.max(), mine.events, brand)
    axis.set_ylabel("revenue (7-day mean)" if mine.freq(brand) == "D" else "revenue per week")
    axis.set_title(f"{brand}: revenue by platform, events shaded")
    axis.legend(fontsize=8, ncol=4, loc="upper left")
    figure.tight_layout()
    return figure


DISCOUNT_BANDS = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0)


def promotion_uplift(dataset: Dataset, brand: str, bands: tuple[float, ...] = DISCOUNT_BANDS) -> pd.DataFrame:
    """Units on promotion days relative to the series' mean on ordinary days, by discount band.

    Split by whether an e-commerce event was on: promotions cluster around events, so the raw
    uplift mixes both effects (the forecaster separates them; this is only a first look).
    """
    from daiyun.features.calendar import calendar_frame

    mine = dataset.for_brand(brand)
    sales = mine.sales.loc[mine.sales["in_stock"].eq(1)]
    calendar = calendar_frame(sales["date"].min(), sales["date"].max(), events=mine.events, brand=brand,
                              freq=mine.freq(brand))[["date", "is_event"]]
    sales = sales.merge(calendar, on="date", how="left")
    ordinary = sales.loc[sales["on_promo"].eq(0) & sales["is_event"].eq(0)]
    base = ordinary.groupby(["platform", "sku_id"], observed=True)["units"].mean().rename("base_units")
    promo = sales.loc[sales["on_promo"].eq(1)].join(base, on=["platform", "sku_id"])
    promo = promo.loc[promo["base_units"] > 0]
    promo = promo.assign(
        uplift=promo["units"] / promo["base_units"],
        discount_band=pd.cut(promo["discount"], list(bands), include_lowest=True, right=False),
        during=np.where(promo["is_event"] > 0, "during events", "outside events"),
    )
    table = promo.pivot_table(index="discount_band", columns="during", values="uplift",
                              aggfunc=["median", "count"], observed=False)
    table.columns = [f"{stat} uplift {where}" if stat == "median" else f"days {where}"
                     for stat, where in table.columns]
    return table


def promotion_figure(table: pd.DataFrame, brand: str) -> Figure:
    figure, axis = plt.subplots(figsize=(7, 4))
    medians = table[[c for c in table.columns if c.startswith("median")]]
    medians.index = medians.index.astype(str)
    medians.plot.bar(ax=axis)
    axis.axhline(1.0, color="black", lw=0.8)
    axis.set_xlabel("discount off list price")
    axis.set_ylabel("units / ordinary-day mean (median)")
    axis.set_title(f"{brand}: promotion depth vs uplift")
    figure.tight_layout()
    return figure


def spend_vs_revenue(dataset: Dataset, brand: str) -> pd.DataFrame:
    """Weekly spend per channel next to its platform's weekly revenue and attributed revenue."""
    mine = dataset.for_brand(brand)
    if mine.ads.empty:
        return pd.DataFrame(columns=["week", "platform", "channel", "spend", "attributed_revenue", "revenue"])
    week = pd.Grouper(key="date", freq="W-SUN")
    spend = mine.ads.groupby(["platform", "channel", week], observed=True)[["spend", "attributed_revenue"]]
    spend = spend.sum()
    revenue = mine.sales.groupby(["platform", week], observed=True)["revenue"].sum()
    table = spend.reset_index().merge(revenue.reset_index(), on=["platform", "date"], how="left")
    return table.rename(columns={"date": "week"})


def spend_figure(table: pd.DataFrame, brand: str) -> Figure:
    channels = sorted(table["channel"].unique())
    figure, axes = plt.subplots(1, max(len(channels), 1), figsize=(3.6 * max(len(channels), 1), 3.4),
                                squeeze=False)
    for axis, channel in zip(axes[0], channels, strict=False):
        part = table.loc[table["channel"].eq(channel)]
        axis.scatter(part["spend"], part["revenue"], s=10, alpha=0.6, label="platform revenue")
        axis.scatter(part["spend"], part["attributed_revenue"], s=10, alpha=0.6, label="attributed")
        axis.set_title(f"{channel} ({part['platform'].iloc[0]})", fontsize=9)
        axis.set_xlabel("weekly spend", fontsize=8)
        axis.tick_params(labelsize=7)
    axes[0][0].set_ylabel("weekly revenue")
    axes[0][0].legend(fontsize=7)
    figure.suptitle(f"{brand}: ad spend vs revenue (correlation, not effect: spend rises with events)",
                    fontsize=10)
    figure.tight_layout()
    return figure


def long_tail(dataset: Dataset, brand: str) -> pd.DataFrame:
    """Series ranked by revenue with their cumulative share: how few SKUs make the money."""
    sales = dataset.for_brand(brand).sales
    revenue = sales.groupby(["platform", "sku_id"], observed=True)["revenue"].sum()
    revenue = revenue.sort_values(ascending=False)
    table = revenue.reset_index()
    table.insert(0, "rank", np.arange(1, len(table) + 1))
    total = float(table["revenue"].sum()) or 1.0
    table["share"] = table["revenue"] / total
    table["cumulative_share"] = table["share"].cumsum()
    return table


def long_tail_figure(table: pd.DataFrame, brand: str) -> Figure:
    figure, axis = plt.subplots(figsize=(7, 4))
    x = table["rank"] / len(table)
    axis.plot(x, table["cumulative_share"], marker=".")
    head = int((table["cumulative_share"] < 0.8).sum()) + 1
    axis.axhline(0.8, color="tab:gray", ls="--", lw=0.8)
    axis.set_xlabel("share of series (platform x SKU), best first")
    axis.set_ylabel("cumulative share of revenue")
    axis.set_title(f"{brand}: {head} of {len(table)} series make 80% of revenue")
    figure.tight_layout()
    return figure


# ------------------------------------------------------------------------------ answers, plotted
def coming_period(bundle: Any, days: int = 30) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The first `days` after a forecast bundle's history (whole weeks for weekly brands)."""
    from daiyun.features.forecast_frame import STEP

    step = STEP[bundle.freq]
    periods = max(1, days // step.days)
    return bundle.origin + step, bundle.origin + step * periods


def forecast_figure(forecast: pd.DataFrame, dataset: Dataset, brand: str, history_days: int = 90) -> Figure:
    """A brand-level forecast (`bundle.forecast(..., level="brand")`) after its recent actuals."""
    mine = dataset.for_brand(brand)
    actual = mine.sales.groupby("date")["units"].sum()
    actual = actual.loc[actual.index > actual.index.max() - pd.Timedelta(days=history_days)]
    quantiles = sorted((c for c in forecast.columns if c[:1] == "p" and c[1:].replace(".", "").isdigit()),
                       key=lambda c: float(c[1:]))
    totals = forecast.groupby("date")[["mean", *quantiles]].sum()
    low, high = quantiles[0], quantiles[-1]
    figure, axis = plt.subplots(figsize=(12, 4))
    axis.plot(actual.index, actual.to_numpy(), color="black", lw=1, label="actual")
    axis.fill_between(totals.index, totals[low], totals[high], alpha=0.25, label=f"{low}..{high}")
    axis.plot(totals.index, totals["mean"], color="tab:blue", label="forecast (mean)")
    _shade_events(axis, actual.index.min(), totals.index.max(), mine.events, brand)
    axis.set_ylabel("units (brand total)")
    axis.set_title(f"{brand}: forecast under the planned promotions")
    axis.legend(fontsize=8, loc="upper left")
    figure.tight_layout()
    return figure


def ranked_skus_figure(scored: pd.DataFrame, brand: str, top: int = 15) -> Figure:
    """The best-scored SKUs (all platforms) with expected revenue and their first reason."""
    best = scored.sort_values("score", ascending=False).head(top).iloc[::-1]
    labels = [f"{p} · {s}" for p, s in zip(best["platform"], best["sku_id"], strict=True)]
    figure, axis = plt.subplots(figsize=(11, 0.42 * len(best) + 1.2))
    bars = axis.barh(labels, best["expected_revenue"], color="tab:green", alpha=0.7)
    for bar, reasons in zip(bars, best["reasons"], strict=True):
        text = reasons[0]["text"] if len(reasons) else ""
        axis.text(bar.get_width(), bar.get_y() + bar.get_height() / 2, f"  {text}", va="center", fontsize=7)
    axis.set_xlabel("expected revenue over the horizon")
    axis.set_title(f"{brand}: SKUs to push, best first, with the first reason")
    axis.margins(x=0.6)
    figure.tight_layout()
    return figure
