"""`daiyun score-products`: rank a brand's SKUs for the coming period, with three reasons each."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from daiyun.training.cli.app import DataDir, app, console, out, user_errors
from daiyun.training.cli.output import write_answer

CLI_COLUMNS = ["platform", "sku_id", "rank", "score", "expected_revenue", "new_sku",
               "reason_1", "reason_2", "reason_3"]


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


def selection_bundle(brand: str, model: str | None):
    """The brand's champion, or the model the user named."""
    from daiyun.features.errors import RequestError
    from daiyun.training.registry import load_bundle, load_champion

    if model:
        bundle = load_bundle(model)
        if getattr(bundle, "family", None) != "selection":
            raise RequestError("--model", f"'{model}' is not a selection model", "name a selection model")
        if bundle.brand != brand:
            raise RequestError("--model", f"'{model}' belongs to brand '{bundle.brand}', not '{brand}'",
                               "use that brand's model, or its champion (omit --model)")
        return bundle, model
    bundle, info = load_champion("selection", brand)
    return bundle, f"{info.name} v{info.version}"


@app.command("score-products")
@user_errors
def score_products(
    data: DataDir,
    brand: Annotated[str, typer.Option("--brand", help="the brand whose SKUs to rank")],
    as_of: Annotated[str, typer.Option("--as-of", help="rank with what was known on this date (YYYY-MM-DD)")],
    horizon: Annotated[int, typer.Option("--horizon", help="days ahead to rank for")],
    output: Annotated[Path, typer.Option("--out", help="file to write (.csv, .parquet or .json)")],
    platform: Annotated[str | None, typer.Option("--platform", help="only this platform")] = None,
    top_k: Annotated[int | None, typer.Option("--top-k", help="best K per platform")] = None,
    model: Annotated[str | None, typer.Option("--model", help="MLflow model URI (default: champion)")] = None,
) -> None:
    """Rank the brand's SKUs per platform for the coming period: expected revenue and three reasons each."""
    from daiyun.features.load import load

    with console.status("loading data and model"):
        dataset = load(data, brands=[brand])
        bundle, used = selection_bundle(brand, model)
        bundle = bundle.with_history(dataset)
    with console.status("scoring SKUs"):
        scored = bundle.score(as_of, horizon, platform=platform, top_k=top_k)
    rows = reason_columns(scored)
    write_answer(rows, output)
    out.print(f"wrote {len(rows)} ranked SKUs for {brand} (as of {as_of}, {horizon} days, {used}): {output}")
