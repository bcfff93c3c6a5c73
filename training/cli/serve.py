"""`daiyun serve` (the inference API on the champions) and `daiyun bento` (the deployable unit)."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer

from daiyun.models.registry import tracking_uri
from daiyun.training.cli.common import app, console, out, user_errors

SERVICE = "daiyun.serving.service:Daiyun"


def source_checkout() -> Path:
    """The checkout daiyun runs from; `bentoml build` needs its bentofile.yaml and sources."""
    import daiyun

    root = Path(daiyun.__file__).resolve().parents[1]
    if not (root / "bentofile.yaml").is_file():
        raise typer.BadParameter(
            f"no bentofile.yaml beside {root}: `daiyun bento` builds from a source checkout of daiyun "
            "(git clone, then `pip install -e .`)"
        )
    return root


def _server_env(workers: int) -> dict[str, str]:
    env = dict(os.environ)
    # the server reads the same store as this command, whatever its working directory
    env["MLFLOW_TRACKING_URI"] = tracking_uri()
    # one thread per LightGBM prediction, so concurrent requests do not fight over the cores
    env.setdefault("OMP_NUM_THREADS", "1")
    env.setdefault("BENTOML_DO_NOT_TRACK", "1")
    env["DAIYUN_WORKERS"] = str(workers)
    return env


@app.command()
@user_errors
def serve(
    port: Annotated[int, typer.Option(help="port of the HTTP API")] = 3000,
    host: Annotated[str, typer.Option(help="interface to listen on (0.0.0.0 to expose it)")] = "127.0.0.1",
    data: Annotated[
        Path | None, typer.Option("--data", help="print example requests with a real brand and SKU of DIR")
    ] = None,
    workers: Annotated[int, typer.Option(help="worker processes, each with every champion loaded")] = 1,
) -> None:
    """Serve every brand's champions over HTTP (BentoML): /forecast, /recommend_budget, /score_products."""
    if data is not None:
        # plain print: rich would wrap the long lines and break copy-and-paste
        shown_host = "127.0.0.1" if host == "0.0.0.0" else host
        print(example_requests(data, f"http://{shown_host}:{port}"), flush=True)
    command = [
        sys.executable, "-m", "bentoml", "serve", SERVICE,
        "--port", str(port), "--host", host,
    ]
    console.print(f"[bold]starting[/] {shlex.join(command[1:])} (Ctrl+C stops it)")
    try:
        completed = subprocess.run(command, env=_server_env(workers), check=False)
    except KeyboardInterrupt:
        return
    if completed.returncode not in (0, -2, 130):
        raise typer.Exit(code=completed.returncode)


@app.command()
@user_errors
def bento(
    build: Annotated[bool, typer.Option(help="run `bentoml build` after packing the champions")] = True,
) -> None:
    """Pack the registry's champions into the BentoML model store and build the Bento from bentofile.yaml."""
    from daiyun.serving.champions import pack_champions

    os.environ.setdefault("BENTOML_DO_NOT_TRACK", "1")
    try:
        tag = pack_champions()
    except RuntimeError as error:
        console.print("[bold red]error:[/]", str(error), highlight=False)
        raise typer.Exit(code=1) from None
    out.print(f"packed the champions as BentoML model {tag}")
    if build:
        root = source_checkout()
        command = [sys.executable, "-m", "bentoml", "build", "-f", str(root / "bentofile.yaml"), str(root)]
        completed = subprocess.run(command, env=_server_env(1), cwd=root, check=False)
        if completed.returncode:
            raise typer.Exit(code=completed.returncode)


def _read_table(data: Path, table: str, columns: list[str]):  # noqa: ANN202 - pandas is imported lazily
    import pandas as pd

    parquet, csv = data / f"{table}.parquet", data / f"{table}.csv"
    if parquet.is_file():
        return pd.read_parquet(parquet, columns=columns)
    if csv.is_file():
        return pd.read_csv(csv, usecols=columns)
    return None


def example_requests(data: Path, url: str) -> str:
    """One `curl` per user group, with a real brand, platform and SKU of the data directory."""
    import pandas as pd

    sales = _read_table(data, "sales", ["date", "brand", "platform", "sku_id", "units"])
    if sales is None:
        raise FileNotFoundError(f"{data}: no sales.parquet or sales.csv to take an example brand from")
    sales["date"] = pd.to_datetime(sales["date"])
    brand = sorted(sales["brand"].astype(str).unique())[0]
    mine = sales.loc[sales["brand"].astype(str).eq(brand)]
    last = mine["date"].max()
    top = mine.groupby(["platform", "sku_id"])["units"].sum().idxmax()
    platform, sku = str(top[0]), str(top[1])
    start, end = (last + pd.Timedelta(days=1)).date(), (last + pd.Timedelta(days=30)).date()
    budget = 100_000.0
    ads = _read_table(data, "ads", ["date", "brand", "spend"])
    if ads is not None and not ads.empty:
        ads["date"] = pd.to_datetime(ads["date"])
        mine_ads = ads["brand"].astype(str).eq(brand) & (ads["date"] > last - pd.Timedelta(days=30))
        recent = ads.loc[mine_ads, "spend"]
        if recent.sum() > 0:
            budget = float(round(recent.sum(), -3) or recent.sum())
    keyed = bool(os.environ.get("DAIYUN_API_KEYS") or os.environ.get("DAIYUN_API_KEYS_FILE"))
    auth = ' -H "Authorization: Bearer $DAIYUN_KEY"' if keyed else ""

    def curl(route: str, body: str) -> str:
        return f"curl -s -X POST {url}{route} -H 'Content-Type: application/json'{auth} \\\n  -d '{body}'"

    lines = [
        f"# example requests for brand '{brand}' (data ends {last.date()}); "
        f"the API answers once {url}/readyz says ready",
        "# planners: one SKU's promotion forecast with a 20% discount in the first week",
        curl("/forecast", (
            f'{{"brand": "{brand}", "start": "{start}", "end": "{end}", "sku_ids": ["{sku}"], '
            f'"platforms": ["{platform}"], "promotions": [{{"platform": "{platform}", "sku_id": "{sku}", '
            f'"start": "{start}", "end": "{start + pd.Timedelta(days=6)}", "discount": 0.2}}]}}'
        )),
        "# planners: the whole brand, summed per platform",
        curl("/forecast", f'{{"brand": "{brand}", "start": "{start}", "end": "{end}", "level": "platform"}}'),
        "# ad buyers: split the budget across the ad channels",
        curl("/recommend_budget", (
            f'{{"brand": "{brand}", "start": "{start}", "end": "{end}", "total_budget": {budget:.0f}}}'
        )),
        "# operators: the 10 SKUs to push on " + platform,
        curl("/score_products", (
            f'{{"brand": "{brand}", "as_of": "{last.date()}", "horizon_days": 30, '
            f'"platform": "{platform}", "top_k": 10}}'
        )),
        "# data scientists: which model versions answer",
        f"curl -s {url}/models" + auth,
    ]
    return "\n".join(lines)
