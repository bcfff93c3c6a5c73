"""What every `daiyun` command module shares: the typer app, the consoles, the error edge and the
common options. Command modules import this, and `app.py` imports them, so imports run one way.
"""

from __future__ import annotations

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
