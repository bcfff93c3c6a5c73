"""`daiyun report`: the brand report an agency sends every week, month or event (HTML, PDF or .xlsx).

daiyun report --data DIR --brand glowlab --start 2025-10-15 --end 2025-11-14 --out report.html
daiyun report --data DIR --every week --out-dir reports/       (every brand's last complete week)
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from daiyun.models.registry import FAMILIES
from daiyun.training.cli.common import DataDir, app, console, out, user_errors


def brand_champions(brand: str):  # noqa: ANN201
    """The brand's champions from the registry; a family without one is named, not fatal."""
    from daiyun.models.registry import champion_or_model
    from daiyun.serving.report.model import Champions

    champions = Champions()
    for family in FAMILIES:
        try:
            bundle, _ = champion_or_model(family, brand)
        except LookupError as error:
            champions.missing[family] = str(error.args[0]) if error.args else str(error)
            continue
        setattr(champions, family, bundle)
    return champions


def read_forecast_file(path: Path, brand: str):  # noqa: ANN201
    """Rows `daiyun forecast` wrote before the period (.csv, .parquet or .xlsx), for the honest score."""
    import pandas as pd

    from daiyun.features.errors import ContractError

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"forecast file '{path}' does not exist")
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        rows = pd.read_parquet(path)
    elif suffix == ".xlsx":
        rows = pd.read_excel(path, sheet_name=0, dtype={"sku_id": str, "platform": str, "brand": str})
    else:
        rows = pd.read_csv(path, dtype={"sku_id": str, "platform": str, "brand": str})
    needed = ["platform", "sku_id", "date", "mean", "p10", "p90"]
    missing = [c for c in needed if c not in rows.columns]
    if missing:
        raise ContractError(
            path.name,
            missing[0],
            f"not a `daiyun forecast` file (columns {', '.join(needed)} are needed)",
            "write it with daiyun forecast --quantiles 0.1,0.5,0.9",
        )
    if "brand" in rows.columns:
        rows = rows.loc[rows["brand"].astype(str).eq(brand)]
    return rows.assign(date=pd.to_datetime(rows["date"]))


@app.command()
@user_errors
def report(
    data: DataDir,
    brand: Annotated[
        list[str] | None, typer.Option("--brand", help="the brand (with --every: only these)")
    ] = None,
    start: Annotated[str | None, typer.Option(help="first day of the period, YYYY-MM-DD")] = None,
    end: Annotated[str | None, typer.Option(help="last day of the period, YYYY-MM-DD")] = None,
    compare: Annotated[str, typer.Option(help="movers against: previous | last-year")] = "previous",
    out_file: Annotated[
        Path | None, typer.Option("--out", help="report.html, report.pdf or report.xlsx")
    ] = None,
    every: Annotated[
        str | None, typer.Option(help="week | month: every brand's last complete period")
    ] = None,
    out_dir: Annotated[
        Path | None, typer.Option("--out-dir", help="with --every: where the reports go")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="with --every: html | pdf | xlsx")] = "html",
    lang: Annotated[str, typer.Option(help="en | zh (Chinese labels need a CJK font)")] = "en",
    promotions: Annotated[
        Path | None,
        typer.Option(
            help="promotions plan for the outlook (.csv/.parquet/.xlsx; other brands' rows are left out)"
        ),
    ] = None,
    forecast_file: Annotated[
        Path | None,
        typer.Option(
            "--forecast", help="the `daiyun forecast` file made before the period (scores the real forecast)"
        ),
    ] = None,
) -> None:
    """A brand's periodic report: headline, event recap, forecast quality, ads, products, outlook."""
    from daiyun.features.errors import RequestError
    from daiyun.features.load import load
    from daiyun.serving.report.outputs import check_suffix

    if every is not None:
        if start or end or out_file:
            raise RequestError(
                "--every", "--every picks the period itself", "drop --start/--end/--out, use --out-dir"
            )
        if out_dir is None:
            raise RequestError("--out-dir", "--every needs --out-dir", "e.g. --every week --out-dir reports/")
        check_suffix(f"x.{fmt}")
        with console.status("loading data"):
            dataset = load(data, brands=brand or None)
        _every(dataset, every, out_dir, fmt, compare, lang)
        return
    if not brand or len(brand) != 1 or not start or not end or out_file is None:
        raise RequestError(
            "--brand/--start/--end/--out",
            "a report needs one brand, a period and a file",
            "e.g. --brand glowlab --start 2025-10-15 --end 2025-11-14 --out report.html "
            "(or --every week --out-dir DIR)",
        )
    check_suffix(out_file)
    name = brand[0]
    with console.status("loading data and models"):
        dataset = load(data, brands=[name])
        champions = brand_champions(name)
    notes = []
    plan = None
    if promotions is not None:
        from daiyun.training.cli.output import read_plan

        plan, note = read_plan(promotions, name)
        if note:
            console.print(f"[yellow]{note}[/]")
            notes.append(note)
    made_before = read_forecast_file(forecast_file, name) if forecast_file is not None else None
    _one(dataset, name, start, end, out_file, compare, lang, champions, plan, made_before, notes)


def _one(
    dataset,
    brand,
    start,
    end,
    path,
    compare,
    lang,
    champions,
    plan=None,
    made_before=None,  # noqa: ANN001
    notes=None,
) -> None:
    from daiyun.serving.report.build import build_report
    from daiyun.serving.report.outputs import write_report

    with console.status(f"building the {brand} report"):
        built = build_report(
            dataset,
            brand,
            start,
            end,
            champions=champions,
            compare=compare,
            lang=lang,
            plan=plan,
            forecast_made_before=made_before,
            notes=notes,
        )
        write_report(built, path)
    for note in built.notes:
        if note not in (notes or []):
            console.print(f"[yellow]{note}[/]")
    for family, why in champions.missing.items():
        console.print(f"[yellow]{brand}: the report says where the {family} model is missing: {why}[/]")
    out.print(f"{brand} {built.period.label()}: wrote {path}")


def _every(dataset, every: str, out_dir: Path, fmt: str, compare: str, lang: str) -> None:  # noqa: ANN001
    """Each brand's last complete week or month, named by brand and period (a new period, a new file)."""
    from daiyun.serving.report.periods import last_complete

    for brand in dataset.brands:
        data_end = dataset.sales.loc[dataset.sales["brand"].eq(brand), "date"].max()
        period, label = last_complete(every, data_end)
        path = Path(out_dir) / f"{brand}_{label}.{fmt}"
        _one(dataset, brand, period.start, period.end, path, compare, lang, brand_champions(brand))
