"""Sample data: a simulated multi-brand, multi-platform shop history with its known truth.

`write_sample(directory, size, seed)` writes the contract tables (sales, products, ads,
promotions with the past and the planned future promotions, events.csv with one brand's yearly
`brand_day`) and `truth/`:

- expected_units: brand, platform, sku_id, date, expected_units, period ("history" | "future"), every
  day from a series' listing to the end of the future period (0 when out of stock or discontinued).
  They are exactly the means the observed units were drawn around (negative binomial), given the
  realised prices, promotions, stock and ad spend; in the future, given the planned promotions and
  planned spend, with every listed series in stock.
- channels: the true response curve of every ad channel (adstock, decay, saturation,
  half_saturation, shape, max_daily_revenue, formula) plus adstock_before_history (x before the
  first history day), adstock_at_history_end (where the future starts) and attribution_bias.
- future_spend (the planned daily spend the future truth used) and future_ad_revenue (its adstock
  and true incremental revenue per channel and day), future_value (expected units and revenue per
  series over the future period), series (each series' true elasticity, promotion lift (the
  multiplier minus 1 on promotion days beyond the price effect), event scale, base daily units,
  negative-binomial size, listing and discontinuation), meta.json.

How one brand is made (each step its own module and random stream):
1. `simulate_catalogue`: SKUs, listings per platform, prices, launches, discontinuations, traits.
2. `simulate_demand`: calendar events (with pre-sale deferral and post-event dips), promotions
   (past and planned), stock-outs and the organic expected units.
3. `simulate_ads`: spend per ad channel, raised around events, through adstock and Hill
   saturation into incremental revenue shared among the platform's SKUs.
4. here: negative-binomial noise on history days, then the tables.

Same seed, same bytes: every brand draws from its own `SeedSequence` child, nothing reads the
clock, and Parquet files are written by pyarrow from arrays in a fixed order.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from daiyun.features.errors import RequestError
from daiyun.features.simulator.ads import ad_book
from daiyun.features.simulator.catalogue import BrandSpec, build_catalogue
from daiyun.features.simulator.demand import event_plan, organic_units, promotions, sellable, stock_outs

FUTURE_START = "2026-10-16"
FUTURE_END = "2026-11-14"  # 30 days: the Double 11 pre-sale and peak, so everyone is scored on an event
BRAND_DAY_BRAND = "glowlab"

_SMALL_PLATFORMS = ("tmall", "douyin", "pdd")
_BEAUTY = ("tmall", "jd", "douyin", "xiaohongshu", "kuaishou")
_SNACKS = ("tmall", "jd", "douyin", "pdd", "kuaishou", "xiaohongshu")
_APPAREL = ("tmall", "jd", "douyin", "pdd")


@dataclass(frozen=True)
class SampleSize:
    history_start: str
    brands: tuple[BrandSpec, ...]


SIZES: dict[str, SampleSize] = {
    "small": SampleSize(
        "2025-01-01",
        (
            BrandSpec("glowlab", "beauty", _SMALL_PLATFORMS, 8, brand_day=(8, 18)),
            BrandSpec("crunchtime", "snacks", _SMALL_PLATFORMS, 8),
            BrandSpec("northpeak", "apparel", _SMALL_PLATFORMS, 8),
        ),
    ),
    "demo": SampleSize(
        "2023-10-01",
        (
            BrandSpec("glowlab", "beauty", _BEAUTY, 100, brand_day=(8, 18)),
            BrandSpec("crunchtime", "snacks", _SNACKS, 100),
            BrandSpec("northpeak", "apparel", _APPAREL, 100),
        ),
    ),
    "large": SampleSize(
        "2023-10-01",
        (
            BrandSpec("glowlab", "beauty", _BEAUTY, 400, brand_day=(8, 18)),
            BrandSpec("crunchtime", "snacks", _SNACKS, 400),
            BrandSpec("northpeak", "apparel", _APPAREL, 400),
            BrandSpec("petalskin", "beauty", ("tmall", "douyin", "xiaohongshu", "pdd"), 400),
            BrandSpec("teahouse", "snacks", ("tmall", "jd", "pdd", "douyin"), 400),
            BrandSpec("stridewear", "apparel", ("tmall", "jd", "douyin", "pdd", "kuaishou"), 400),
        ),
    ),
}


def write_sample(directory: str | Path, size: str = "demo", seed: int = 7, progress: bool = True) -> str:
    """Write a simulated sample (contract tables + truth/) into `directory`; return a short summary.

    The files are written to a temporary sibling directory that is renamed into place at the end,
    so a failed run never leaves half a sample. An existing sample in `directory` is replaced;
    any other non-empty directory is refused. Brands are written one after another (one Parquet
    row group each), so memory stays at about one brand's worth of arrays.
    """
    if size not in SIZES:
        raise RequestError("size", f"unknown sample size '{size}'", f"use one of {', '.join(SIZES)}")
    directory = Path(directory)
    if directory.exists() and any(directory.iterdir()) and not (directory / "truth" / "meta.json").exists():
        raise RequestError(
            "directory",
            f"{directory} exists, is not empty and holds no daiyun sample",
            "give a new or empty directory (an old sample there is replaced)",
        )
    spec = SIZES[size]
    meta = {
        "history_start": spec.history_start,
        "history_end": str((pd.Timestamp(FUTURE_START) - pd.Timedelta(days=1)).date()),
        "future_start": FUTURE_START,
        "future_end": FUTURE_END,
        "seed": int(seed),
        "size": size,
        "brands": sorted(b.name for b in spec.brands),
        "categories": {b.name: b.category for b in spec.brands},
    }
    directory.parent.mkdir(parents=True, exist_ok=True)
    partial_dir = directory.parent / f".{directory.name}.partial-{os.getpid()}"
    if partial_dir.exists():
        shutil.rmtree(partial_dir)
    (partial_dir / "truth").mkdir(parents=True)
    try:
        counts = _write_tables(partial_dir, spec, seed, progress)
        meta["series"] = counts["truth/future_value"]
        (partial_dir / "truth" / "meta.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
        old = directory.parent / f".{directory.name}.old-{os.getpid()}"
        if directory.exists():
            directory.rename(old)
        partial_dir.rename(directory)
        if old.exists():
            shutil.rmtree(old)
    except BaseException:
        shutil.rmtree(partial_dir, ignore_errors=True)
        raise
    return _summary(directory, meta, counts)


def _write_tables(target: Path, spec: SampleSize, seed: int, progress: bool) -> dict[str, int]:
    """Simulate brand by brand, appending each table to its Parquet file; rows written per table."""
    writers: dict[str, pq.ParquetWriter] = {}
    counts: dict[str, int] = {}
    try:
        for tables in simulate(spec, seed, progress=progress):
            for name, table in tables.items():
                if name == "events":
                    _write_events(table, target / "events.csv")
                    continue
                if name not in writers:
                    writers[name] = pq.ParquetWriter(
                        target / f"{name}.parquet", table.schema, compression="zstd"
                    )
                writers[name].write_table(table)
                counts[name] = counts.get(name, 0) + table.num_rows
    finally:
        for writer in writers.values():
            writer.close()
    return counts


def _write_events(events: pd.DataFrame, path: Path) -> None:
    dated = events.assign(
        start=pd.to_datetime(events["start"]).dt.strftime("%Y-%m-%d"),
        end=pd.to_datetime(events["end"]).dt.strftime("%Y-%m-%d"),
    )
    dated.to_csv(path, index=False, lineterminator="\n")


def simulate(
    spec: SampleSize, seed: int, progress: bool = True
) -> Iterator[dict[str, pa.Table | pd.DataFrame]]:
    """The tables of a sample, one brand at a time (keys are file stems: "sales", "truth/channels", ...).

    The first item also carries the user's `events` table (a pandas frame) shared by all brands.
    """
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    dates = pd.date_range(spec.history_start, FUTURE_END, freq="D")
    n_history = int((pd.Timestamp(FUTURE_START) - dates[0]).days)
    brands = sorted(spec.brands, key=lambda b: b.name)
    events = _brand_days(brands, dates)
    children = np.random.SeedSequence(seed).spawn(len(brands))

    columns = [TextColumn("{task.description:<28}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
    with Progress(*columns, console=Console(stderr=True), disable=not progress, transient=False) as bar:
        tasks = [bar.add_task(f"simulating {b.name}", total=6) for b in brands]
        for index, (brand, child, task) in enumerate(zip(brands, children, tasks, strict=True)):
            tables: dict[str, pa.Table | pd.DataFrame] = {"events": events} if index == 0 else {}
            tables.update(
                _simulate_brand(brand, index, child, dates, n_history, events, partial(bar.advance, task))
            )
            yield tables
            bar.advance(task)  # written


def _brand_days(brands: list[BrandSpec], dates: pd.DatetimeIndex) -> pd.DataFrame:
    """The user's events table: each brand with a brand day gets a 3-day one every year."""
    rows = []
    for brand in brands:
        if brand.brand_day is None:
            continue
        month, day = brand.brand_day
        for year in range(dates[0].year, dates[-1].year + 1):
            end = pd.Timestamp(year=year, month=month, day=day)
            if dates[0] <= end <= dates[-1]:
                rows.append(("brand_day", end - pd.Timedelta(days=2), end, "peak", "", brand.name))
    return pd.DataFrame(rows, columns=["name", "start", "end", "phase", "platform", "brand"])


def _simulate_brand(
    brand: BrandSpec,
    index: int,
    seed: np.random.SeedSequence,
    dates: pd.DatetimeIndex,
    n_history: int,
    events: pd.DataFrame,
    step,  # noqa: ANN001 - progress callback
) -> dict[str, pa.Table]:
    catalogue_rng, promo_rng, stock_rng, ads_rng, noise_rng = (
        np.random.default_rng(s) for s in seed.spawn(5)
    )
    n_days = len(dates)
    catalogue = build_catalogue(catalogue_rng, brand, dates, n_history)
    step()
    plan = event_plan(dates, events[events["brand"].eq(brand.name)], brand.name, brand.category)
    promo = promotions(promo_rng, catalogue, plan, n_days)
    price = np.round(catalogue.list_price * (1.0 - promo.discount_grid), 2)
    step()
    in_stock = stock_outs(stock_rng, catalogue, n_history, n_days)
    organic = organic_units(catalogue, plan, promo, price, in_stock, dates, n_history)
    step()
    book = ad_book(ads_rng, catalogue, organic, price, plan.spend_factor, dates, n_history, index)
    expected = organic + book.units
    step()

    # observation noise: negative binomial (gamma-Poisson) around exactly the expected units
    mu = expected[:, :n_history]
    size = catalogue.dispersion[:, None]
    units = noise_rng.poisson(noise_rng.gamma(size, mu / size))
    step()

    alive = sellable(catalogue, n_days)
    platforms = np.array(catalogue.platforms)[catalogue.platform]
    sku_ids = catalogue.sku_ids[catalogue.sku]
    history_stock = in_stock[:, :n_history]
    # zero-sales sellable days are omitted, as the contract allows; stock-out days are kept
    keep = alive[:, :n_history] & ((units > 0) | ~history_stock)
    s, t = np.nonzero(keep)
    on_promo = promo.discount_grid[s, t] > 0
    sales = pa.table(
        {
            "date": _dates(dates, t),
            "brand": _repeat(brand.name, len(s)),
            "platform": _take(platforms, s),
            "sku_id": _take(sku_ids, s),
            "units": pa.array(units[s, t].astype(np.int64)),
            "revenue": pa.array(np.round(units[s, t] * price[s, t], 2)),
            "price": pa.array(price[s, t]),
            "list_price": pa.array(catalogue.list_price[s, t]),
            "on_promo": pa.array(on_promo.astype(np.int8)),
            "in_stock": pa.array(history_stock[s, t].astype(np.int8)),
        }
    )

    listed = np.arange(n_days)[None, :] >= np.maximum(catalogue.start, 0)[:, None]
    s, t = np.nonzero(listed)
    truth_units = pa.table(
        {
            "brand": _repeat(brand.name, len(s)),
            "platform": _take(platforms, s),
            "sku_id": _take(sku_ids, s),
            "date": _dates(dates, t),
            "expected_units": pa.array(expected[s, t]),
            "period": _take(np.array(["history", "future"]), (t >= n_history).astype(np.int64)),
        }
    )

    future = slice(n_history, n_days)
    future_value = pa.table(
        {
            "brand": _repeat(brand.name, catalogue.n_series),
            "platform": pa.array(platforms),
            "sku_id": pa.array(sku_ids),
            "as_of": _dates(dates, np.full(catalogue.n_series, n_history - 1)),
            "horizon_days": pa.array(np.full(catalogue.n_series, n_days - n_history, dtype=np.int64)),
            "expected_revenue": pa.array((expected[:, future] * price[:, future]).sum(axis=1)),
            "expected_units": pa.array(expected[:, future].sum(axis=1)),
        }
    )

    # the per-series true traits, for checking what a model learned (e.g. price elasticities)
    series_traits = pa.table(
        {
            "brand": _repeat(brand.name, catalogue.n_series),
            "platform": pa.array(platforms),
            "sku_id": pa.array(sku_ids),
            "listed_from": _dates(dates, np.maximum(catalogue.start, 0)),
            "discontinued": pa.array(catalogue.end < n_days - 1),
            "elasticity": pa.array(catalogue.elasticity),
            "promo_lift": pa.array(np.expm1(catalogue.promo_lift)),
            "event_scale": pa.array(catalogue.event_scale),
            "base_units": pa.array(catalogue.base_units),
            "dispersion": pa.array(catalogue.dispersion),
        }
    )

    p = promo.series
    promotion_table = pa.table(
        {
            "brand": _repeat(brand.name, len(p)),
            "platform": _take(platforms, p),
            "sku_id": _take(sku_ids, p),
            "start": _dates(dates, promo.start),
            "end": _dates(dates, promo.end),
            "discount": pa.array(promo.discount),
            "price": pa.array(np.round(catalogue.list_price[p, promo.start] * (1.0 - promo.discount), 2)),
            "mechanic": pa.array(promo.mechanic.astype(str).tolist(), pa.string()),
        }
    )

    return {
        "sales": sales,
        "products": _frame_table(catalogue.products),
        "ads": _frame_table(book.ads),
        "experiments": _frame_table(book.experiments),
        "promotions": promotion_table,
        "truth/expected_units": truth_units,
        "truth/channels": _frame_table(book.channels),
        "truth/future_spend": _frame_table(book.future[["brand", "platform", "channel", "date", "spend"]]),
        "truth/future_ad_revenue": _frame_table(book.future),
        "truth/future_value": future_value,
        "truth/series": series_traits,
    }


def _dates(dates: pd.DatetimeIndex, index: np.ndarray) -> pa.Array:
    days = dates.values.astype("datetime64[D]")[index]
    return pa.array(days.astype("datetime64[us]"), pa.timestamp("us"))


def _take(values: np.ndarray, index: np.ndarray) -> pa.Array:
    # decode through a small dictionary: fast for millions of rows, and a plain string column on disk
    distinct, codes = np.unique(values, return_inverse=True)
    return pc.take(pa.array(distinct.astype(str).tolist(), pa.string()), pa.array(codes[index]))


def _repeat(value: str, n: int) -> pa.Array:
    return pc.take(pa.array([value], pa.string()), pa.array(np.zeros(n, dtype=np.int64)))


def _frame_table(frame: pd.DataFrame) -> pa.Table:
    """A pandas frame as an Arrow table with plain types (strings, float64, int64, timestamp[us])."""
    arrays = {}
    for name, column in frame.items():
        if pd.api.types.is_datetime64_any_dtype(column):
            arrays[name] = pa.array(column.to_numpy().astype("datetime64[us]"), pa.timestamp("us"))
        elif pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
            arrays[name] = pa.array(column.to_numpy())
        else:
            arrays[name] = pa.array(column.astype(str).tolist(), pa.string())
    return pa.table(arrays)


def _summary(directory: Path, meta: dict, counts: dict[str, int]) -> str:
    platforms = pq.read_table(directory / "sales.parquet", columns=["platform"]).column("platform").unique()
    brands = ", ".join(f"{b} ({meta['categories'][b]})" for b in meta["brands"])
    rows = {name: f"{counts[name]:,}" for name in ("sales", "ads", "promotions")}
    return "\n".join(
        [
            f"wrote {directory} (size {meta['size']}, seed {meta['seed']})",
            f"  brands: {brands}; {meta['series']:,} series on {len(platforms)} platforms",
            f"  history {meta['history_start']} .. {meta['history_end']}: {rows['sales']} sales rows, "
            f"{rows['ads']} ad rows, {rows['promotions']} promotions (past and planned)",
            f"  truth/: expected units (history and future {meta['future_start']} .. {meta['future_end']}), "
            f"{counts['truth/channels']} ad channel curves, future spend and value",
        ]
    )
