"""The `daiyun` command line. Each command is a thin edge over functions in features/ and training/.

The typer app and what the commands share live in `common.py`; the family commands register
themselves on it in their own modules (one each, so they evolve independently), imported below.
Commands import their heavy dependencies lazily so `daiyun --help` answers at once.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from daiyun.training.cli.common import DaskScheduler, DataDir, app, console, out, user_errors

__all__ = ["app", "console", "out", "main"]


@app.command()
@user_errors
def sample(
    directory: Annotated[Path, typer.Argument(help="where to write the tables and truth/")],
    size: Annotated[str, typer.Option(help="small | demo | large")] = "demo",
    seed: Annotated[int, typer.Option(help="same seed, same bytes")] = 7,
) -> None:
    """Write a simulated multi-brand, multi-platform shop history (contract tables + truth/)."""
    from daiyun.features.simulator.world import write_sample

    summary = write_sample(directory, size=size, seed=seed)
    out.print(summary)


@app.command()
@user_errors
def validate(directory: Annotated[Path, typer.Argument(help="data directory to check")]) -> None:
    """Check DIR against the data contract; print a summary."""
    from daiyun.features.load import load
    from daiyun.features.summary import summarize

    dataset = load(directory)
    out.print(summarize(dataset))


@app.command()
@user_errors
def train(
    family: Annotated[str, typer.Argument(help="forecast | budget | selection | all")],
    data: DataDir,
    brand: Annotated[list[str] | None, typer.Option("--brand", help="only these brands")] = None,
    tune: Annotated[int, typer.Option("--tune", help="Optuna trials (0: defaults)")] = 0,
    promote: Annotated[bool, typer.Option(help="allow the champion alias to move")] = True,
    dask: DaskScheduler = None,
) -> None:
    """Build features, fit, backtest, log to MLflow, register; promote only if it beats the champion."""
    from daiyun.features.load import load
    from daiyun.training.cluster.executor import executor_from
    from daiyun.training.families import chosen
    from daiyun.training.tracking import watch_runs

    families = chosen(family)
    dataset = load(data, brands=brand or None)
    watch_runs()  # before any worker starts, so workers of a SIGKILLed run are found and stopped later
    with executor_from(dask) as executor:  # no --dask and no env: this process, as before
        for trained in families:
            name = trained.name
            if name == "budget" and dataset.ads.empty:
                console.print("[yellow]no ads table: skipping budget models[/]")
                continue
            if executor.is_distributed:  # per-brand pipelines on the workers; this process logs to MLflow
                from daiyun.training.cluster.remote_runs import train_on_cluster

                console.print(f"[dim]{name}: {executor.describe()}[/]")
                results = train_on_cluster(executor, dataset, name, brand or dataset.brands, tune, promote)
            else:
                results = trained.train_family(dataset, brands=brand or dataset.brands, tune=tune,
                                               promote=promote)
            for result in results:
                out.print(result)


# The family commands register themselves on `app` when imported; after the general commands
# above, so `daiyun --help` lists sample, validate and train first.
from daiyun.training.cli import budget, forecast, report, selection, serve  # noqa: E402, F401


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
