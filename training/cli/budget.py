"""`daiyun recommend-budget`: the brand champion's budget split for a period, written as JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from daiyun.training.cli.common import DataDir, app, console, out, user_errors
from daiyun.training.cli.output import write_answer


def read_constraints(path: Path) -> list[dict]:
    """Per-channel constraints from JSON (a list, or {"channels": [...]}) or CSV (channel,min,max,fixed)."""
    from daiyun.features.errors import RequestError

    if not path.exists():
        raise FileNotFoundError(f"constraints file {path} does not exist")
    if path.suffix.lower() == ".csv":
        import pandas as pd

        table = pd.read_csv(path)
        if "channel" not in table.columns:
            raise RequestError(
                f"{path}", "the CSV needs a 'channel' column", "columns: channel,min,max,fixed"
            )
        rows = []
        for record in table.to_dict("records"):
            rows.append({k: v for k, v in record.items() if not (isinstance(v, float) and v != v)})
        return rows
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise RequestError(
            f"{path}",
            f"not valid JSON ({error.msg} at line {error.lineno})",
            'write [{"channel": "tmall_ztc", "min": 1000}]',
        ) from None
    if isinstance(loaded, dict):
        loaded = loaded.get("channels", [])
    if not isinstance(loaded, list):
        raise RequestError(
            f"{path}",
            "constraints must be a list of objects",
            'write [{"channel": "tmall_ztc", "min": 1000}]',
        )
    return loaded


@app.command("recommend-budget")
@user_errors
def recommend_budget(
    data: DataDir,
    brand: Annotated[str, typer.Option("--brand", help="the brand (tenant)")],
    start: Annotated[str, typer.Option("--start", help="first day of the period, YYYY-MM-DD")],
    end: Annotated[str, typer.Option("--end", help="last day of the period, YYYY-MM-DD")],
    budget: Annotated[float, typer.Option("--budget", help="total budget for the period")],
    out_file: Annotated[Path, typer.Option("--out", help="where to write the JSON answer")],
    target_roi: Annotated[
        float | None, typer.Option("--target-roi", help="largest spend keeping this ROI")
    ] = None,
    constraints: Annotated[
        Path | None, typer.Option("--constraints", help="JSON or CSV: channel,min,max,fixed")
    ] = None,
    model: Annotated[
        str | None, typer.Option("--model", help="MLflow model URI instead of the champion")
    ] = None,
    max_shift: Annotated[
        float | None,
        typer.Option("--max-shift", help="each channel within current spend x (1 -/+ this); default 3"),
    ] = None,
    breakeven_roi: Annotated[
        float | None,
        typer.Option(
            "--breakeven-roi",
            help="revenue a yuan of ads must bring back; default 1 / gross margin (unit costs known), else 1",
        ),
    ] = None,
) -> None:
    """Split a budget across the brand's ad channels from --start to --end (champion curves)."""
    from daiyun.features.load import load
    from daiyun.models.registry import champion_or_model

    rules = read_constraints(constraints) if constraints else None
    with console.status(f"loading {brand}'s data and budget model"):
        dataset = load(data, brands=[brand])
        dataset.for_brand(brand)  # NotFoundError for a brand the data does not have
        bundle, version = champion_or_model("budget", brand, model)
        bundle = bundle.with_history(dataset)
    answer = bundle.recommend(
        start,
        end,
        budget,
        objective="target_roi" if target_roi is not None else "max_revenue",
        target_roi=target_roi,
        channels=rules,
        max_shift=max_shift,
        breakeven_roi=breakeven_roi,
    )
    write_answer(answer, out_file)
    totals = answer["totals"]
    out.print(
        f"{brand} {answer['start']}..{answer['end']}: spend {totals['spend']:,.0f} -> expected revenue "
        f"{totals['expected_revenue']:,.0f} (p10 {totals['p10']:,.0f}, p90 {totals['p90']:,.0f}), ROI "
        f"{totals['roi']}, uplift vs current mix {answer['uplift']['ratio']}; model {version}; "
        f"wrote {out_file}"
    )
    for note in answer["notes"]:
        if note.startswith(
            ("the budget is past break-even", "the fit trades", "kept the current mix", "moved ")
        ) or (
            "always bought" in note
        ):
            out.print(f"note: {note}")
