"""What `daiyun validate` prints: one line per brand of what the loader found, then its notes."""

from __future__ import annotations

import io

import pandas as pd
from rich.console import Console
from rich.table import Table
from rich.text import Text

from daiyun.features.dataset import Dataset


def brand_summary(dataset: Dataset) -> pd.DataFrame:
    """One row per brand: the counts a planner checks before trusting a data directory."""
    sales, ads = dataset.sales, dataset.ads
    rows = []
    for brand in dataset.brands:
        mine = sales.loc[sales["brand"].eq(brand)]
        spend = ads.loc[ads["brand"].eq(brand)]
        sellable = mine["in_stock"].eq(1)
        rows.append(
            {
                "brand": brand,
                "frequency": {"D": "daily", "W": "weekly"}[dataset.frequency[brand]],
                "platforms": mine["platform"].nunique(),
                "skus": mine["sku_id"].nunique(),
                "series": mine.groupby(["platform", "sku_id"], observed=True).ngroups,
                "start": mine["date"].min().date().isoformat(),
                "end": mine["date"].max().date().isoformat(),
                "rows": len(mine),
                "filled": int(mine["filled"].sum()),
                "zero_share": float((mine["units"].eq(0) & sellable).sum() / max(int(sellable.sum()), 1)),
                "promo_days": int(mine["on_promo"].sum()),
                "stockout_days": int((~sellable).sum()),
                "revenue": float(mine["revenue"].sum()),
                "ad_channels": spend["channel"].nunique(),
                "spend": float(spend["spend"].sum()),
            }
        )
    return pd.DataFrame(rows)


class Summary:
    """Renders as a rich table in a terminal; `str()` gives the same as plain text (tests, logs)."""

    def __init__(self, table: Table, notes: list[str]) -> None:
        self.table = table
        self.notes = notes

    def __rich_console__(self, console: Console, options):  # noqa: ANN204
        yield self.table
        for line in self.notes:
            yield Text(f"- {line}")

    def __str__(self) -> str:
        buffer = io.StringIO()
        Console(file=buffer, width=160, no_color=True, highlight=False, emoji=False).print(self)
        return buffer.getvalue()


def summarize(dataset: Dataset) -> Summary:
    """One column per brand of what the loader found, then its notes (what it filled or derived)."""
    per_brand = brand_summary(dataset)
    title = "data contract: OK" + (f" ({dataset.source})" if dataset.source else "")
    table = Table(title=title, title_justify="left")
    table.add_column("")
    for brand in per_brand["brand"]:
        table.add_column(str(brand), justify="right")
    lines = [
        ("frequency", lambda r: r.frequency),
        ("dates", lambda r: f"{r.start} .. {r.end}"),
        ("platforms", lambda r: f"{r.platforms}"),
        ("SKUs", lambda r: f"{r.skus}"),
        ("series", lambda r: f"{r.series:,}"),
        ("rows (after filling)", lambda r: f"{r.rows:,}"),
        ("filled zero-sales days", lambda r: f"{r.filled:,}"),
        ("share of zero days", lambda r: f"{r.zero_share:.1%}"),
        ("promo days", lambda r: f"{r.promo_days:,}"),
        ("stock-out days", lambda r: f"{r.stockout_days:,}"),
        ("revenue", lambda r: f"{r.revenue:,.0f}"),
        ("ad channels", lambda r: f"{r.ad_channels}"),
        ("ad spend", lambda r: f"{r.spend:,.0f}"),
    ]
    records = list(per_brand.itertuples(index=False))
    for label, cell in lines:
        table.add_row(label, *(cell(r) for r in records))
    extras = []
    if not dataset.events.empty:
        extras.append(f"events: {len(dataset.events):,} rows ({dataset.events['name'].nunique()} names)")
    if not dataset.promotions.empty:
        promotions = dataset.promotions
        extras.append(
            f"promotions: {len(promotions):,} rows, {promotions['start'].min().date()} .. "
            f"{promotions['end'].max().date()}"
        )
    categorised = int(dataset.products["category"].ne("unknown").sum())
    extras.append(f"products: {len(dataset.products):,} SKUs, {categorised:,} with a category")
    return Summary(table, extras + list(dataset.notes))
