"""`daiyun score-products`: the push list, scored from the brand's forecast champion, with reasons."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from daiyun.training.cli.common import DataDir, app, console, out, user_errors
from daiyun.training.cli.output import write_answer

CLI_COLUMNS = ["platform", "sku_id", "rank", "score", "expected_revenue", "revenue_p10", "revenue_p90",
               "expected_units", "planned_price", "new_sku", "reason_1", "reason_2", "reason_3"]


def reason_columns(scored):
    """The bundle's answer as flat rows: reasons become reason_1..reason_3 sentences (+ up, - down)."""
    import pandas as pd

    rows = scored.drop(columns="reasons").copy()
    for i in range(3):
        rows[f"reason_{i + 1}"] = [
            _sentence(reasons[i]) if len(reasons) > i else "" for reasons in scored["reasons"]
        ]
    rows["score"] = rows["score"].round(6)
    return pd.DataFrame(rows)[CLI_COLUMNS]


def _sentence(reason: dict) -> str:
    return ("+ " if reason["direction"] == "up" else "- ") + reason["text"]


@app.command("score-products")
@user_errors
def score_products(
    data: DataDir,
    brand: Annotated[str, typer.Option("--brand", help="the brand whose SKUs to rank")],
    as_of: Annotated[str, typer.Option("--as-of", help="rank with what was known on this date (YYYY-MM-DD)")],
    horizon: Annotated[int, typer.Option("--horizon", help="days ahead to rank for")],
    output: Annotated[Path, typer.Option("--out", help="file to write (.csv, .parquet, .json or .xlsx)")],
    platform: Annotated[str | None, typer.Option("--platform", help="only this platform")] = None,
    top_k: Annotated[int | None, typer.Option(
        "--top-k", help="best K per platform (per brand with --scope brand)")] = None,
    scope: Annotated[str, typer.Option(
        "--scope", help="platform: ranks restart on every platform; brand: one list across the platforms",
    )] = "platform",
    model: Annotated[str | None, typer.Option("--model", help="MLflow model URI (default: champion)")] = None,
) -> None:
    """The push list: each SKU's expected revenue over the period (the forecast champion's mean units x
    the planned price, with p10/p90), best first, with three reasons each."""
    from daiyun.features.errors import RequestError
    from daiyun.features.load import load
    from daiyun.models.registry import champion_or_model

    if scope not in ("platform", "brand"):
        raise RequestError("--scope", f"unknown scope '{scope}'",
                           "use platform (ranks per platform) or brand (one list across platforms)")
    with console.status("loading data and models"):
        dataset = load(data, brands=[brand])
        bundle, used = champion_or_model("selection", brand, model)
        bundle = bundle.with_history(dataset)
        # the forecast champion `daiyun forecast` answers with, on the same data: one number for both
        try:
            forecast, forecast_used = champion_or_model("forecast", brand, None)
            forecast = forecast.with_history(dataset)
        except LookupError:
            forecast, forecast_used = None, "carried by the selection model (no forecast champion)"
    with console.status("scoring SKUs"):
        scored = bundle.score(as_of, horizon, platform=platform, top_k=top_k, scope=scope, forecast=forecast)
    rows = reason_columns(scored)
    write_answer(rows, output)
    out.print(f"wrote {len(rows)} ranked SKUs for {brand} (as of {as_of}, {horizon} days, scope {scope}, "
              f"{used}, forecast {forecast_used}): {output}")
