"""Read a data directory, check every rule of DATA_CONTRACT.md, and return the normalised `Dataset`.

The only edge that reads data files. Per-table rules are in `daiyun.features.contract`; here are the
rules across tables (unknown brand or SKU, a channel on two platforms), frequency inference per
brand, and the filling of zero-sales days, all vectorised (a demo directory has ~1.5M rows).
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from daiyun.features.contract import (
    ADS,
    EVENTS,
    EXPERIMENTS,
    PRODUCTS,
    PROMOTIONS,
    SALES,
    Table,
    check_table,
    shown,
)
from daiyun.features.dataset import (
    ADS_COLUMNS,
    EVENTS_COLUMNS,
    EXPERIMENTS_COLUMNS,
    PRODUCTS_COLUMNS,
    PROMOTIONS_COLUMNS,
    SALES_COLUMNS,
    SERIES_KEYS,
    Dataset,
    read_market,
    read_prices,
)
from daiyun.features.errors import ContractError, NotFoundError

MAX_GRID_ROWS = 30_000_000  # ~2 GB of sales frame: beyond this a stray date is likelier than real data
MAX_HOLE_DAYS = 400  # longer than any real pause of a whole brand
MAX_DISCOUNT = 0.95  # a recorded price below 5% of list is a data slip, not a promotion to learn from
_MISSING = ["", "NA", "N/A", "n/a", "NaN", "nan", "null", "NULL", "None", "#N/A"]
_CHINESE = set("，。、；：？！“”‘’（）《》【】…—￥")
_EPOCH_WEEKDAY = 3  # 1970-01-01 was a Thursday (Monday = 0)


def load(directory: str | Path, brands: Iterable[str] | str | None = None) -> Dataset:
    """All contract tables of `directory`, validated and normalised (see `daiyun.features.dataset`).

    `brands` keeps only those brands (an unknown brand is a NotFoundError). Raises one
    ContractError for the first rule a file breaks.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"data directory '{directory}' does not exist")
    notes: list[str] = []
    sales = _read(directory, SALES)
    products = _read(directory, PRODUCTS)
    ads = _read(directory, ADS)
    events = _read(directory, EVENTS)
    promotions = _read(directory, PROMOTIONS)
    experiments = _read(directory, EXPERIMENTS)
    _check_across_tables(sales, products, ads, promotions)
    if events is not None:  # one agency-wide events file may name other clients' brand days
        elsewhere = ~events["brand"].isin(sales["brand"].unique()) & events["brand"].ne("")
        _note(notes, elsewhere.sum(), "{n:,} events name brands without sales here: kept, used by no model")

    known = sorted(sales["brand"].unique().tolist())
    if brands:
        wanted = [brands] if isinstance(brands, str) else list(dict.fromkeys(brands))
        for brand in wanted:
            if brand not in known:
                raise NotFoundError("brand", brand, known)
        sales, products, ads, promotions = (
            frame.loc[frame["brand"].isin(wanted)] if frame is not None else None
            for frame in (sales, products, ads, promotions)
        )
        if events is not None:
            events = events.loc[events["brand"].isin(wanted) | events["brand"].eq("")]
        dropped = sorted(set(known) - set(wanted))
        if dropped:
            notes.append(f"kept brands {', '.join(wanted)}; left out {', '.join(dropped)} as asked")
        known = sorted(wanted)

    ordered, codes, series = _order_series(sales)
    _check_date_holes(ordered)
    frequency = _infer_frequency(ordered, codes, series)
    products_out = _normalise_products(products, series, notes)
    sales_out = _fill(ordered, codes, series, frequency, products_out, promotions, notes)
    prices = read_prices(directory)
    if prices == "paid_average":
        notes.append("dataset.yaml says prices are paid averages: no deal is read from a price alone "
                     "(discount, on_promo, list_price and the promotions table still say them)")
    return Dataset(
        sales=sales_out,
        products=products_out,
        ads=_normalise_ads(ads),
        events=_normalise(
            events, EVENTS_COLUMNS, text=("name", "phase", "platform", "brand"), sort=["start"]
        ),
        promotions=_normalise(
            promotions,
            PROMOTIONS_COLUMNS,
            text=("brand", "platform", "sku_id", "mechanic"),
            sort=["brand", "platform", "sku_id", "start"],
            numeric_extras=True,
        ),
        experiments=_normalise(
            experiments,
            EXPERIMENTS_COLUMNS,
            text=("brand", "channel", "platform"),
            sort=["brand", "channel", "start"],
        ),
        frequency={brand: frequency[brand] for brand in known},
        source=directory,
        notes=notes,
        market=read_market(directory),
        prices=prices,
    )


# ---------------------------------------------------------------- reading files


def _read(directory: Path, table: Table) -> pd.DataFrame | None:
    parquet, csv = directory / f"{table.name}.parquet", directory / f"{table.name}.csv"
    if parquet.exists() and csv.exists():
        raise ContractError(
            f"{parquet.name} and {csv.name}",
            None,
            f"two files for the {table.name} table",
            f"keep only one of {parquet.name} and {csv.name} in {directory}",
        )
    path = parquet if parquet.exists() else csv if csv.exists() else None
    workbook = directory / f"{table.name}.xlsx"
    if path is None and table.name == PROMOTIONS.name and workbook.exists():
        path = workbook  # planners keep the promotion plan in Excel
    if path is None:
        if table.required:
            raise ContractError(
                f"{table.name}.parquet/.csv",
                None,
                f"the required {table.name} table is missing from {directory}",
                f"add {table.name}.parquet or {table.name}.csv (DATA_CONTRACT.md)",
            )
        return None
    if path.stat().st_size == 0:
        raise ContractError(
            path.name, None, "the file is empty (0 bytes)", f"write the table or remove {path.name}"
        )
    if path.suffix == ".xlsx":
        return check_table(read_workbook(path, table), table, path.name)
    raw = _read_csv(path, table) if path.suffix == ".csv" else _read_parquet(path)
    return check_table(raw, table, path.name)


def read_workbook(path: Path, table: Table) -> pd.DataFrame:
    """The first sheet of an .xlsx as the table's raw rows: ids as text ('00123' stays), dates as
    Excel keeps them (a date cell is a date; typed text is checked as ISO text like a CSV's)."""
    as_text = {c.name: str for c in table.columns if c.kind in ("key", "text")}
    try:
        raw = pd.read_excel(path, sheet_name=0, engine="openpyxl", dtype=as_text)
    except Exception as error:  # openpyxl raises several types for a damaged or encrypted workbook
        raise ContractError(
            path.name, None, f"not a readable .xlsx workbook ({type(error).__name__})",
            "save it again from Excel/WPS as .xlsx, or as CSV (UTF-8)",
        ) from None
    raw.columns = [str(c).strip() for c in raw.columns]
    raw = raw.dropna(how="all")  # blank rows between blocks of a planner's sheet
    for column in (c.name for c in table.columns if c.kind == "date"):
        if column in raw.columns and raw[column].dtype == object:  # date cells mixed with typed text
            raw[column] = raw[column].map(_iso_day)
    raw.index = pd.RangeIndex(2, len(raw) + 2, name="row")  # row 1 is the header, as Excel numbers it
    return raw


def _iso_day(value: object) -> object:
    if isinstance(value, pd.Timestamp | dt.datetime | dt.date):
        stamp = pd.Timestamp(value)
        return f"{stamp:%Y-%m-%d}" if stamp == stamp.normalize() else str(value)
    return value


def _read_parquet(path: Path) -> pd.DataFrame:
    try:
        raw = pd.read_parquet(path)
    except Exception as error:  # pyarrow raises several types for a damaged file
        raise ContractError(
            path.name,
            None,
            f"not a readable Parquet file ({type(error).__name__}: {str(error)[:120]})",
            "write it again with pandas.DataFrame.to_parquet, or give a UTF-8 CSV instead",
        ) from None
    raw.columns = [str(c).strip() for c in raw.columns]
    raw.index = pd.RangeIndex(len(raw), name="row")
    return raw


def _read_csv(path: Path, table: Table) -> pd.DataFrame:
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise ContractError(
            path.name,
            None,
            f"not valid UTF-8 (byte 0x{data[error.start]:02x} on line {line}){_guess_encoding(data)}",
            f"re-save {path.name} as UTF-8 (Excel: Save As > 'CSV UTF-8'; or "
            f"iconv -f GB18030 -t UTF-8 {path.name} > utf8.csv)",
        ) from None
    if not text.strip():
        raise ContractError(path.name, None, "the file is empty", f"write the table or remove {path.name}")
    # ids, text and dates stay text so that '00123' and '2025-1-5' reach the checks as written
    # only numeric columns know missing-value words: an sku_id 'NA' stays an id
    as_text = {c.name: "str" for c in table.columns if c.kind in ("key", "text", "date")}
    try:
        header = pd.read_csv(io.StringIO(text), nrows=0).columns
        missing = {c: _MISSING for c in header if str(c).strip() not in as_text}
        raw = pd.read_csv(
            io.StringIO(text), dtype=as_text, skipinitialspace=True, keep_default_na=False, na_values=missing
        )
    except pd.errors.ParserError as error:
        raise ContractError(
            path.name, None, f"not a readable CSV ({error})", "fix the quoting or the column count"
        ) from None
    raw.columns = [str(c).strip() for c in raw.columns]
    raw.index = pd.RangeIndex(2, len(raw) + 2, name="line")  # line 1 is the header
    return raw


def _guess_encoding(data: bytes) -> str:
    for encoding, label in (("gb18030", "GBK/GB18030"), ("big5", "Big5")):
        try:
            decoded = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        wide = [ch for ch in decoded if ord(ch) > 127]
        chinese = sum(ch in _CHINESE or "\u4e00" <= ch <= "\u9fff" for ch in wide)
        if wide and chinese >= 0.8 * len(wide):
            return f"; it looks like {label} (Chinese Excel's default)"
    return ""


# ---------------------------------------------------------------- rules across tables


def _check_across_tables(
    sales: pd.DataFrame,
    products: pd.DataFrame | None,
    ads: pd.DataFrame | None,
    promotions: pd.DataFrame | None,
) -> None:
    brands = set(sales["brand"].unique().tolist())
    for frame, table in ((products, PRODUCTS), (ads, ADS), (promotions, PROMOTIONS)):
        if frame is None:
            continue
        named = frame["brand"]
        unknown = (~named.isin(brands) & named.ne("")).to_numpy()
        if unknown.any():
            raise ContractError(
                _file(table, frame),
                "brand",
                "unknown brand (not in sales)",
                f"use a brand of the sales table ({', '.join(sorted(brands)[:8])}) or add its sales",
                shown(frame, table, unknown),
                int(unknown.sum()),
            )
    if promotions is not None:
        catalogue = pd.concat(
            [sales[["brand", "sku_id"]]] + ([products[["brand", "sku_id"]]] if products is not None else [])
        ).drop_duplicates()
        pairs = pd.MultiIndex.from_frame(promotions[["brand", "sku_id"]])
        unknown = ~pairs.isin(pd.MultiIndex.from_frame(catalogue))
        if unknown.any():
            raise ContractError(
                _file(PROMOTIONS, promotions),
                "sku_id",
                "unknown sku_id for its brand (not in sales nor products)",
                "correct the sku_id, or add the SKU to products.csv if it is new",
                shown(promotions, PROMOTIONS, unknown),
                int(unknown.sum()),
            )


def _file(table: Table, frame: pd.DataFrame) -> str:
    return f"{table.name}.csv" if frame.index.name == "line" else f"{table.name}.parquet"


# ---------------------------------------------------------------- frequency


def _order_series(sales: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray, pd.DataFrame]:
    """Sales sorted by series then date, each row's series code, and one row per series."""
    codes = sales.groupby(SERIES_KEYS, sort=True, observed=True).ngroup().to_numpy()
    days = _days(sales["date"])
    order = np.lexsort((days, codes))
    ordered = sales.iloc[order]
    codes = codes[order]
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    series = ordered.iloc[starts][SERIES_KEYS].reset_index(drop=True)
    series["first"] = days[order][starts]
    series["rows"] = np.diff(np.r_[starts, len(codes)])
    return ordered, codes, series


def _days(dates: pd.Series) -> np.ndarray:
    return dates.to_numpy(dtype="datetime64[ns]").astype("datetime64[D]").astype(np.int64)


def _check_date_holes(sales: pd.DataFrame) -> None:
    """A year with no row in any series of a brand is a typo (2205 for 2025), not a quiet year."""
    frame = pd.DataFrame({"brand": sales["brand"].to_numpy(), "day": _days(sales["date"])})
    distinct = frame.drop_duplicates().sort_values(["brand", "day"])
    jump = distinct["day"].diff().where(distinct["brand"].eq(distinct["brand"].shift()))
    if (jump > MAX_HOLE_DAYS).any():
        where = int(np.argmax(jump.fillna(0).to_numpy()))
        brand = distinct["brand"].iloc[where]
        after, before = distinct["day"].iloc[where], distinct["day"].iloc[where - 1]
        mine = sales["brand"].eq(brand).to_numpy()
        late = mine & (_days(sales["date"]) >= after)
        stray = late if late.sum() <= (mine & ~late).sum() else mine & ~late  # the smaller side is the typo
        dates = [str(np.datetime64(int(d), "D")) for d in (before, after)]
        raise ContractError(
            _file(SALES, sales),
            "date",
            f"brand '{brand}' has no row in any series from {dates[0]} to {dates[1]} "
            f"({int(after - before):,} days): a mistyped year?",
            "correct the dates below; if the gap is real, give only the history after it",
            shown(sales, SALES, stray),
        )


def _infer_frequency(sales: pd.DataFrame, codes: np.ndarray, series: pd.DataFrame) -> dict[str, str]:
    """ "W" when every date of a brand is on one weekday, 7 days apart (median); "D" otherwise.

    A brand where some series are weekly-spaced and others daily is refused: filling a weekly
    series with daily zeros would invent six empty days a week.
    """
    days = _days(sales["date"])
    weekday = (days + _EPOCH_WEEKDAY) % 7
    same_series = np.r_[False, codes[1:] == codes[:-1]]
    gap = np.where(same_series, np.diff(days, prepend=days[:1]), np.nan)
    per_series = (
        pd.DataFrame({"code": codes, "weekday": weekday, "gap": gap})
        .groupby("code")
        .agg(
            weekdays=("weekday", "nunique"),
            median_gap=("gap", "median"),
        )
    )
    series = series.join(per_series, how="left")
    brand_of_row = sales["brand"].to_numpy()
    frequency: dict[str, str] = {}
    for brand, mine in series.groupby("brand", sort=True):
        rows = brand_of_row == brand
        brand_weekdays = np.unique(weekday[rows])
        brand_gaps = gap[rows]
        brand_gaps = brand_gaps[~np.isnan(brand_gaps)]
        median_gap = float(np.median(brand_gaps)) if len(brand_gaps) else np.nan
        if len(brand_weekdays) == 1 and median_gap == 7:
            frequency[brand] = "W"
            continue
        # a sparse daily series can be 7 days apart by chance; a long run on one weekday cannot
        weekly = mine[(mine["rows"] >= 3) & (mine["median_gap"] == 7)]
        strict = weekly[weekly["weekdays"] == 1]
        daily = mine[mine["median_gap"] < 7]
        confident = (strict["rows"] >= 6).any() or len(strict) > len(daily)
        if len(strict) and len(daily) and confident:
            weekly = strict
            example = pd.concat([weekly.head(1), daily.head(1)])
            show = sales.loc[
                sales.set_index(SERIES_KEYS).index.isin(pd.MultiIndex.from_frame(example[SERIES_KEYS]))
            ]
            raise ContractError(
                _file(SALES, sales),
                "date",
                f"mixed frequency in brand '{brand}': {len(weekly)} series are weekly (7 days apart) and "
                f"{len(daily)} daily",
                "give one brand's data at one frequency: all daily, or all weekly on one weekday",
                show.groupby(SERIES_KEYS).head(3)[SERIES_KEYS + ["date"]],
            )
        if len(weekly) and not len(daily) and len(weekly) >= 0.5 * max(1, (mine["rows"] >= 3).sum()):
            counts = np.bincount(weekday[rows], minlength=7)
            usual = int(np.argmax(counts))
            off = rows & (weekday != usual)
            names = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
            raise ContractError(
                _file(SALES, sales),
                "date",
                f"weekly data of brand '{brand}' is not 7 days apart on one weekday "
                f"({int(off.sum())} rows are not on a {names[usual]})",
                f"date every week by its first day, all on the same weekday ({names[usual]} here)",
                shown(sales, SALES, off),
                int(off.sum()),
            )
        frequency[brand] = "D"
    return frequency


# ---------------------------------------------------------------- filling and deriving


def _fill(
    sales: pd.DataFrame,
    codes: np.ndarray,
    series: pd.DataFrame,
    frequency: dict[str, str],
    products: pd.DataFrame,
    promotions: pd.DataFrame | None,
    notes: list[str],
) -> pd.DataFrame:
    """Every series on a full date grid from its first row to the last date of its brand."""
    days = _days(sales["date"])
    brand_last = pd.Series(days).groupby(sales["brand"].to_numpy()).max()
    step = series["brand"].map(lambda b: 7 if frequency[b] == "W" else 1).to_numpy(dtype=np.int64)
    first = series["first"].to_numpy(dtype=np.int64)
    last = brand_last.reindex(series["brand"]).to_numpy(dtype=np.int64)
    lengths = (last - first) // step + 1
    starts = np.cumsum(lengths) - lengths
    total = int(lengths.sum())
    if total > max(MAX_GRID_ROWS, 50 * len(sales)):
        _refuse_stray_dates(sales, days, total)
    series_of = np.repeat(np.arange(len(series)), lengths)
    offset = np.arange(total) - np.repeat(starts, lengths)
    grid_days = np.repeat(first, lengths) + offset * np.repeat(step, lengths)
    position = starts[codes] + (days - first[codes]) // step[codes]

    def scatter(column: str, default: float) -> np.ndarray:
        values = np.full(total, default, dtype="float64")
        if column in sales.columns:
            values[position] = sales[column].to_numpy(dtype="float64", na_value=np.nan)
        else:
            values[position] = np.nan
        return values

    filled = np.ones(total, dtype=bool)
    filled[position] = False
    units, revenue = scatter("units", 0.0), scatter("revenue", 0.0)
    price, list_price = scatter("price", np.nan), scatter("list_price", np.nan)
    on_promo, in_stock = scatter("on_promo", 0.0), scatter("in_stock", 1.0)
    group_start = np.zeros(total, dtype=bool)
    group_start[starts] = True

    # derive what the contract says can be derived, and say how often
    has_units, has_revenue = ~np.isnan(units), ~np.isnan(revenue)
    derive_price = np.isnan(price) & has_units & has_revenue & (units > 0) & (revenue > 0)
    price[derive_price] = revenue[derive_price] / units[derive_price]
    derive_units = ~has_units & has_revenue & ~np.isnan(price)
    units[derive_units] = revenue[derive_units] / price[derive_units]
    derive_revenue = ~has_revenue & has_units & ~np.isnan(price)
    revenue[derive_revenue] = units[derive_revenue] * price[derive_revenue]
    units_unknown = np.isnan(units) & ~filled
    revenue_unknown = np.isnan(revenue) & ~filled
    given_price = ~np.isnan(price) & ~filled
    n_price_given = int(given_price.sum() - derive_price.sum())

    list_price = _ffill_by_series(list_price, group_start)
    from_products = np.isnan(list_price)
    if from_products.any() and len(products):
        catalogue = products.set_index(["brand", "sku_id"])["list_price"]
        per_series = catalogue.reindex(pd.MultiIndex.from_frame(series[["brand", "sku_id"]])).to_numpy()
        list_price = np.where(from_products, per_series[series_of], list_price)
    price_was_missing = np.isnan(price)
    price = _ffill_by_series(price, group_start)
    price = np.where(np.isnan(price), list_price, price)
    with np.errstate(invalid="ignore", divide="ignore"):
        raw_discount = 1.0 - price / list_price
    discount = np.clip(np.nan_to_num(raw_discount, nan=0.0), 0.0, MAX_DISCOUNT)

    on_promo_missing = np.isnan(on_promo)
    promo_from_plan = 0
    if on_promo_missing.any() and promotions is not None and len(promotions):
        planned = _promotion_days(promotions, series, list_price, starts, step, first, lengths)
        promo_from_plan = int((planned & on_promo_missing).sum())
        on_promo = np.where(on_promo_missing & planned, 1.0, on_promo)
    on_promo = np.nan_to_num(on_promo, nan=0.0)
    in_stock_missing = int(np.isnan(in_stock).sum())
    in_stock = np.nan_to_num(in_stock, nan=1.0)

    out = pd.DataFrame(
        {
            "date": (grid_days.astype("datetime64[D]")).astype("datetime64[ns]"),
            **{key: series[key].take(series_of).reset_index(drop=True) for key in SERIES_KEYS},
            "units": units,
            "revenue": revenue,
            "price": price,
            "list_price": list_price,
            "discount": discount,
            "on_promo": on_promo.astype(np.int8),
            "in_stock": in_stock.astype(np.int8),
            "filled": filled,
        }
    )[SALES_COLUMNS]
    extras = [c for c in sales.columns if c not in SALES_COLUMNS]
    for column in extras:  # kept for models told to use them; blank on filled days
        out[column] = pd.Series(sales[column].to_numpy(), index=position).reindex(np.arange(total)).to_numpy()

    n_rows = int((~filled).sum())
    n_filled = int(filled.sum())
    notes.append(
        f"read {n_rows:,} sales rows in {len(series):,} series; "
        f"filled {n_filled:,} zero-sales days ({n_filled / max(total, 1):.1%} of {total:,} rows)"
    )
    _note(notes, derive_price.sum(), "derived price = revenue / units on {n:,} rows")
    _note(notes, derive_units.sum(), "derived units = revenue / price on {n:,} rows")
    _note(notes, derive_revenue.sum(), "derived revenue = units x price on {n:,} rows")
    _note(
        notes,
        units_unknown.sum(),
        "{n:,} rows have revenue but neither units nor price: units left unknown (NaN)",
    )
    _note(
        notes,
        revenue_unknown.sum(),
        "{n:,} rows have units but neither revenue nor price: revenue left unknown",
    )
    if "price" not in sales.columns and n_price_given == 0 and not derive_price.any():
        notes.append("no price column: prices unknown")
    _note(
        notes,
        (price_was_missing & ~filled & ~np.isnan(price)).sum(),
        "price carried forward (or list price) on {n:,} rows without a sale to derive it from",
    )
    _note(notes, np.isnan(price).sum(), "price still unknown on {n:,} rows (no earlier price nor list price)")
    _note(
        notes, (from_products & ~np.isnan(list_price)).sum(), "list_price taken from products on {n:,} rows"
    )
    _note(notes, np.isnan(list_price).sum(), "list_price unknown on {n:,} rows: discount taken as 0 there")
    _note(notes, (raw_discount > MAX_DISCOUNT).sum(), "discount capped at 0.95 on {n:,} rows")
    _note(notes, (raw_discount < 0).sum(), "price above list_price on {n:,} rows: discount taken as 0")
    if "on_promo" not in sales.columns:
        notes.append(
            "no on_promo column: "
            + (
                f"set from promotions on {promo_from_plan:,} rows, else 0"
                if promo_from_plan
                else "taken as 0 (not in a promotion)"
            )
        )
    else:
        _note(
            notes,
            (on_promo_missing & ~filled).sum(),
            "on_promo blank on {n:,} rows: taken from promotions or 0",
        )
    if "in_stock" not in sales.columns:
        notes.append("no in_stock column: every day taken as sellable")
    else:
        _note(notes, in_stock_missing, "in_stock blank on {n:,} rows: taken as 1 (sellable)")
    _note(
        notes,
        (in_stock == 0).sum(),
        "{n:,} stock-out rows (in_stock = 0) kept and marked: not zero-demand observations",
    )
    if extras:
        notes.append(f"extra sales columns kept and ignored: {', '.join(extras)}")
    return out


def _refuse_stray_dates(sales: pd.DataFrame, days: np.ndarray, total: int) -> None:
    """A typo like 2205-01-01 would fill centuries of zero days: name the far dates instead."""
    latest = days >= np.quantile(days, 0.9999)
    earliest = days <= np.quantile(days, 0.0001)
    raise ContractError(
        _file(SALES, sales),
        "date",
        f"dates span too far: filling the days without rows would make {total:,} rows",
        "check the earliest and latest dates below for typos (a series runs to the last date of its brand)",
        shown(sales, SALES, latest | earliest),
    )


def _ffill_by_series(values: np.ndarray, group_start: np.ndarray) -> np.ndarray:
    """Carry the last known value forward within each series, never across series."""
    index = np.where(~np.isnan(values) | group_start, np.arange(len(values)), 0)
    np.maximum.accumulate(index, out=index)
    return values[index]


def _promotion_days(
    promotions: pd.DataFrame,
    series: pd.DataFrame,
    list_price: np.ndarray,
    starts: np.ndarray,
    step: np.ndarray,
    first: np.ndarray,
    lengths: np.ndarray,
) -> np.ndarray:
    """Grid rows inside a promotion of the promotions table: a discount > 0, or a price below list.

    A discount of 0 or a price at the regular level is a price plan, not a promotion (contract).
    """
    marked = np.zeros(len(list_price), dtype=bool)
    discount = promotions["discount"].to_numpy(dtype="float64") if "discount" in promotions.columns else None
    plan_price = promotions["price"].to_numpy(dtype="float64") if "price" in promotions.columns else None
    code = pd.MultiIndex.from_frame(series[SERIES_KEYS]).get_indexer(
        pd.MultiIndex.from_frame(promotions[SERIES_KEYS])
    )
    begin, end = _days(promotions["start"]), _days(promotions["end"])
    for row in np.flatnonzero(code >= 0):  # one slice per promotion, not one step per day
        s = code[row]
        lo = max(0, -(-(begin[row] - first[s]) // step[s]))
        hi = min(lengths[s] - 1, (end[row] - first[s]) // step[s])
        if hi < lo:
            continue
        rows = slice(starts[s] + lo, starts[s] + hi + 1)
        if discount is not None and not np.isnan(discount[row]):
            marked[rows] |= discount[row] > 0
        elif plan_price is not None and not np.isnan(plan_price[row]):
            regular = list_price[rows]
            marked[rows] |= np.isnan(regular) | (plan_price[row] < regular * 0.999)
    return marked


def _note(notes: list[str], count: int | np.integer, template: str) -> None:
    if int(count):
        notes.append(template.format(n=int(count)))


# ---------------------------------------------------------------- the other tables


def _normalise_products(
    products: pd.DataFrame | None, series: pd.DataFrame, notes: list[str]
) -> pd.DataFrame:
    skus = series[["brand", "sku_id"]].drop_duplicates()
    given = products if products is not None else pd.DataFrame(columns=["brand", "sku_id"])
    merged = skus.merge(given, on=["brand", "sku_id"], how="outer", indicator=True)
    lacking = int((merged["_merge"] == "left_only").sum())
    if products is not None and lacking:
        notes.append(f"products: {lacking:,} SKUs of sales have no products row (category 'unknown')")
    elif products is None:
        notes.append("no products table: categories 'unknown', list prices from sales only")
    out = pd.DataFrame({"brand": merged["brand"].astype("str"), "sku_id": merged["sku_id"].astype("str")})
    for column in ("category", "subcategory"):
        text = merged[column].astype("str") if column in merged.columns else pd.Series("", index=merged.index)
        out[column] = text.fillna("").replace("", "unknown").astype("str")
    out["launch_date"] = (
        merged["launch_date"].astype("datetime64[ns]")
        if "launch_date" in merged.columns
        else pd.Series(pd.NaT, index=merged.index, dtype="datetime64[ns]")
    )
    for column in ("list_price", "unit_cost"):
        out[column] = merged[column].astype("float64") if column in merged.columns else np.nan
    return out[PRODUCTS_COLUMNS].sort_values(["brand", "sku_id"]).reset_index(drop=True)


def _normalise_ads(ads: pd.DataFrame | None) -> pd.DataFrame:
    frame = _normalise(
        ads, ADS_COLUMNS, text=("brand", "platform", "channel"), sort=["brand", "platform", "channel", "date"]
    )
    for column in ("spend", "impressions", "clicks", "attributed_revenue"):
        frame[column] = frame[column].astype("float64")
    return frame


def _normalise(
    frame: pd.DataFrame | None,
    columns: list[str],
    text: tuple[str, ...],
    sort: list[str],
    numeric_extras: bool = False,
) -> pd.DataFrame:
    """The contract columns (absent ones blank), in contract order; an empty frame when no file.

    `numeric_extras` keeps the file's other numeric columns after them (the promotions table's
    feature / display / mechanic flags, which the forecast reads as known-future inputs when the
    sales history carries them too); other extra columns are dropped."""
    dates = [c for c in columns if c in ("date", "start", "end")]
    if frame is None:
        empty = {
            c: pd.Series(dtype="datetime64[ns]" if c in dates else "str" if c in text else "float64")
            for c in columns
        }
        return pd.DataFrame(empty)[columns]
    out = pd.DataFrame(index=frame.index)
    for column in columns:
        if column in frame.columns:
            out[column] = frame[column]
        elif column in text:
            out[column] = ""
        else:
            out[column] = np.nan
    for column in text:
        out[column] = out[column].astype("str")
    for column in dates:
        out[column] = out[column].astype("datetime64[ns]")
    extras = []
    if numeric_extras:
        for column in frame.columns:
            values = frame[column]
            if column not in columns and pd.api.types.is_numeric_dtype(values) and not (
                pd.api.types.is_bool_dtype(values)
            ):
                out[column] = values.astype("float64")
                extras.append(column)
    return out.sort_values(sort, kind="stable").reset_index(drop=True)[columns + extras]
