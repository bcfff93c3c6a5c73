"""`daiyun backtest` and `daiyun forecast`: the planners' and data scientists' forecast commands."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pandas as pd
import typer

from daiyun.features.forecast_terms import DEFAULT_QUANTILES
from daiyun.training.cli.common import DaskScheduler, DataDir, app, console, out, user_errors
from daiyun.training.cli.output import write_answer

DEFAULT_QUANTILE_TEXT = ",".join(f"{q:g}" for q in DEFAULT_QUANTILES)  # "0.1,0.5,0.9"


def read_promotion_plan(path: Path, brand: str) -> pd.DataFrame:
    """A planner's promotions file (.csv/.parquet/.xlsx; `brand` may be left out), validated; rows of
    other brands are left out with a note (see daiyun.training.cli.output.read_plan)."""
    from daiyun.training.cli.output import read_plan

    plan, note = read_plan(path, brand)
    if note:
        console.print(f"[yellow]{note}[/]")
    return plan


def _rich_table(table: pd.DataFrame, title: str):  # noqa: ANN202
    from rich.table import Table

    shown = Table(title=title, show_lines=False)
    for column in table.columns:
        numeric = table[column].dtype.kind in "fi"
        width = None if numeric else int(table[column].astype(str).str.len().max())
        shown.add_column(str(column), justify="right" if numeric else "left", no_wrap=True, min_width=width)
    for row in table.itertuples(index=False):
        shown.add_row(*["" if pd.isna(v) else (f"{v:.3f}" if isinstance(v, float) else str(v)) for v in row])
    return shown


def summary_table(table: pd.DataFrame) -> pd.DataFrame:
    """One row per model and day type: SKU-level WAPE/MASE/RMSSE/bias/coverage and the hierarchy's WRMSSE."""
    sku = table.loc[table["level"] == "sku", ["model", "days", "wape", "mase", "rmsse", "bias", "coverage"]]
    hierarchy = table.loc[table["level"] == "hierarchy", ["model", "days", "wrmsse"]]
    merged = sku.merge(hierarchy, on=["model", "days"], how="left")
    return merged[["model", "days", "wape", "mase", "rmsse", "wrmsse", "bias", "coverage"]]


@app.command()
@user_errors
def backtest(
    data: DataDir,
    brand: Annotated[list[str] | None, typer.Option("--brand", help="only these brands")] = None,
    windows: Annotated[
        int, typer.Option(help="rolling origins: the latest month, then the last Double 11 and 618 presales")
    ] = 3,
    horizon: Annotated[int, typer.Option(help="periods forecast from each origin")] = 30,
    members: Annotated[
        str, typer.Option(help="ensemble members, comma separated: lgbm, lgbm_recursive, prophet")
    ] = "lgbm,prophet",
    out_file: Annotated[Path | None, typer.Option("--out", help="write the table (.csv or .parquet)")] = None,
    dask: DaskScheduler = None,
) -> None:
    """Rolling-origin backtest of the forecasters and baselines; prints and writes the metric table."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from daiyun.features.errors import RequestError
    from daiyun.features.load import load
    from daiyun.training.cli import cluster as cluster_commands
    from daiyun.training.cluster.executor import executor_from
    from daiyun.training.trainers.backtest import run_backtest
    from daiyun.training.trainers.forecast import default_config

    if windows < 1 or horizon < 1:
        raise RequestError("--windows/--horizon", "must be at least 1", "e.g. --windows 3 --horizon 30")
    chosen = tuple(m.strip() for m in members.split(",") if m.strip())
    unknown = [m for m in chosen if m not in ("lgbm", "lgbm_recursive", "prophet")]
    if unknown or not chosen:
        raise RequestError(
            "--members", f"unknown member '{(unknown or [members])[0]}'", "use lgbm, lgbm_recursive, prophet"
        )
    dataset = load(data, brands=brand or None)
    config = default_config(windows=windows, horizon=horizon, members=chosen)
    tables = []
    executor = executor_from(dask)  # no --dask and no env: this process, as before
    pending = (
        cluster_commands.backtests(executor, dataset, brand or dataset.brands, config)
        if executor.is_distributed
        else {}
    )
    with (
        executor,
        Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as bar,
    ):
        task = bar.add_task("backtest", total=None)
        for name in brand or dataset.brands:
            try:
                if name in pending:  # computed on a worker; wait for it here, in brand order
                    bar.update(task, description=f"{name}: backtest on the cluster")
                    result = pending[name].result()
                else:
                    result = run_backtest(
                        dataset, name, config, progress=lambda text: bar.update(task, description=text)
                    )
            except ValueError as error:
                raise RequestError(
                    "--horizon", str(error), "use fewer windows or a shorter horizon"
                ) from None
            table = result.table.copy()
            table.insert(0, "brand", name)
            tables.append(table)
            origins = ", ".join(f"{o:%Y-%m-%d}" for o in result.origins)
            out.print(
                _rich_table(
                    summary_table(result.table), f"{name}: backtest from {origins}, horizon {horizon}"
                )
            )
    combined = pd.concat(tables, ignore_index=True)
    if out_file is not None:
        write_answer(combined, out_file)
        out.print(f"wrote {len(combined)} rows to {out_file}")


@app.command()
@user_errors
def forecast(
    data: DataDir,
    brand: Annotated[str, typer.Option(help="the brand to forecast")],
    start: Annotated[str, typer.Option(help="first date, YYYY-MM-DD")],
    end: Annotated[str, typer.Option(help="last date, YYYY-MM-DD")],
    out_file: Annotated[Path, typer.Option("--out", help="the rows (.csv, .parquet or .xlsx)")],
    promotions: Annotated[
        Path | None,
        typer.Option(
            help="promotion plan (contract columns); replaces the data dir's planned promotions "
            "of the SKUs it names"
        ),
    ] = None,
    quantiles: Annotated[
        str, typer.Option(help="comma-separated quantiles in (0, 1)")
    ] = DEFAULT_QUANTILE_TEXT,
    level: Annotated[str, typer.Option(help="sku | category | platform | brand")] = "sku",
    model: Annotated[
        str | None, typer.Option("--model", help="MLflow model URI instead of the champion")
    ] = None,
    dask: DaskScheduler = None,
) -> None:
    """Per platform, SKU and date: mean and quantiles, from the brand's champion and DIR's history."""
    from daiyun.features.forecast_terms import check_quantiles
    from daiyun.features.load import load
    from daiyun.models.forecast.bundle import parse_date
    from daiyun.models.registry import champion_or_model
    from daiyun.training.cli import cluster as cluster_commands
    from daiyun.training.cluster.executor import executor_from

    parse_date(start, "--start")
    parse_date(end, "--end")
    qs = check_quantiles(quantiles)
    suffix = Path(out_file).suffix.lower()
    if suffix not in (".csv", ".parquet", ".xlsx"):
        from daiyun.features.errors import RequestError

        raise RequestError("--out", f"'{out_file}' must end in .csv, .parquet or .xlsx", "e.g. --out f.csv")
    dataset = load(data, brands=[brand])
    plan = read_promotion_plan(promotions, brand) if promotions is not None else None
    bundle, version = champion_or_model("forecast", brand, model)
    bundle = bundle.with_history(dataset)
    with executor_from(dask) as executor:  # on a cluster: chunks of SKUs on the workers
        rows = cluster_commands.forecast(
            executor, bundle, start, end, promotions=plan, quantiles=qs, level=level
        )
    write_answer(rows, out_file)
    total = rows.groupby("date")["mean"].sum()
    out.print(
        f"{brand}: {len(rows):,} rows, {rows['date'].nunique()} dates, expected {total.sum():,.0f} units "
        f"from {version}; {int(rows['cold_start'].sum())} cold-start rows -> {out_file}"
    )
