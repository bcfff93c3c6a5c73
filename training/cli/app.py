"""The `daiyun` command line. Each command is a thin edge over functions in features/ and training/.

Commands import their heavy dependencies lazily so `daiyun --help` answers at once.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

app = typer.Typer(
    help="daiyun: promotion sales forecasts, ad budget recommendations and product selection.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
console = Console(stderr=True)
out = Console()


def user_errors(command: Callable) -> Callable:
    """Bad input ends in one clear sentence and exit code 1, never a traceback."""

    @wraps(command)
    def wrapper(*args, **kwargs):  # noqa: ANN202
        from daiyun.features.errors import ContractError, RequestError

        try:
            return command(*args, **kwargs)
        except (ContractError, RequestError, LookupError, FileNotFoundError) as error:
            # soft_wrap keeps the offending-rows table intact on narrow terminals
            message = str(error.args[0]) if isinstance(error, LookupError) and error.args else str(error)
            console.print("[bold red]error:[/]", message, highlight=False, soft_wrap=True)
            raise typer.Exit(code=1) from None

    return wrapper


DataDir = Annotated[Path, typer.Option("--data", help="data directory (DATA_CONTRACT.md)")]
DaskScheduler = Annotated[
    str | None,
    typer.Option(
        "--dask", help="Dask scheduler address (tcp://host:8786, or local:N); default $DAIYUN_DASK_SCHEDULER"
    ),
]


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

    families = ["forecast", "budget", "selection"] if family == "all" else [family]
    unknown = [f for f in families if f not in ("forecast", "budget", "selection")]
    if unknown:
        from daiyun.features.errors import RequestError

        raise RequestError(
            "family", f"unknown family '{unknown[0]}'", "use forecast, budget, selection or all"
        )
    dataset = load(data, brands=brand or None)
    with executor_from(dask) as executor:  # no --dask and no env: this process, as before
        for name in families:
            trainer = _trainer(name)
            if name == "budget" and dataset.ads.empty:
                console.print("[yellow]no ads table: skipping budget models[/]")
                continue
            if executor.is_distributed:  # per-brand pipelines on the workers; this process logs to MLflow
                from daiyun.training.cluster.remote_runs import train_on_cluster

                console.print(f"[dim]{name}: {executor.describe()}[/]")
                results = train_on_cluster(executor, dataset, name, brand or dataset.brands, tune, promote)
            else:
                results = trainer(dataset, brands=brand or dataset.brands, tune=tune, promote=promote)
            for result in results:
                out.print(result)


def _trainer(family: str) -> Callable:
    if family == "forecast":
        from daiyun.training.trainers.forecast import train_family
    elif family == "budget":
        from daiyun.training.trainers.budget import train_family
    else:
        from daiyun.training.trainers.selection import train_family
    return train_family


def main() -> None:  # pragma: no cover
    app()


# Family commands register themselves on `app` (one module each, so they evolve independently).
_FAMILY_COMMANDS = (
    "daiyun.training.cli.forecast",
    "daiyun.training.cli.budget",
    "daiyun.training.cli.selection",
    "daiyun.training.cli.serve",
)
for _module in _FAMILY_COMMANDS:
    try:
        __import__(_module)
    except ModuleNotFoundError as _missing:
        if _missing.name != _module:
            raise

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
