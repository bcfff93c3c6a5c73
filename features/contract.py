"""The tables of DATA_CONTRACT.md as data, and the rules one table can break on its own.

`check_table` turns a raw frame (as read from CSV or Parquet) into typed columns or raises one
`ContractError` naming the file, the column, the rule, the offending rows and a fix. Rules that
need two tables (unknown brand, unknown SKU, channel shared by platforms) live in `daiyun.features.load`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from daiyun.features.errors import ContractError


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # "key" (non-blank text), "text" (blank allowed), "date", "number", "flag" (0/1)
    required: bool = False  # the column must be in the file
    bound: str | None = None  # ">=0", ">0", "[0,1)"
    blank_ok: bool = True  # a present column may have blank cells


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    unique: tuple[str, ...] = ()  # no two rows share these values
    one_of: tuple[str, ...] = ()  # at least one of these columns exists, and each row has a value in one
    belongs_to: tuple[str, str] | None = None  # (child, parent): within a brand a child has one parent
    required: bool = False

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)

    @property
    def keys(self) -> list[str]:
        return [c.name for c in self.columns if c.kind == "key" or c.name in ("date", "start", "end")]


def _key(name: str) -> Column:
    return Column(name, "key", required=True, blank_ok=False)


# The dates a table may hold: pandas keeps dates as nanoseconds, which end on 2262-04-11, and a
# later date would otherwise be read as another one. 1900 leaves room for old launch dates.
FIRST_DATE = pd.Timestamp("1900-01-01")
LAST_DATE = pd.Timestamp("2261-12-31")


def _date(name: str, required: bool = True) -> Column:
    return Column(name, "date", required=required, blank_ok=not required)


SALES = Table(
    "sales",
    (
        _date("date"),
        _key("brand"),
        _key("platform"),
        _key("sku_id"),
        Column("units", "number", bound=">=0"),
        Column("revenue", "number", bound=">=0"),
        Column("price", "number", bound=">0"),
        Column("list_price", "number", bound=">0"),
        Column("on_promo", "flag"),
        Column("in_stock", "flag"),
    ),
    unique=("date", "brand", "platform", "sku_id"),
    one_of=("units", "revenue"),
    required=True,
)
PRODUCTS = Table(
    "products",
    (
        _key("brand"),
        _key("sku_id"),
        Column("category", "text"),
        Column("subcategory", "text"),
        _date("launch_date", required=False),
        Column("list_price", "number", bound=">0"),
        Column("unit_cost", "number", bound=">=0"),
    ),
    unique=("brand", "sku_id"),
)
ADS = Table(
    "ads",
    (
        _date("date"),
        _key("brand"),
        _key("platform"),
        _key("channel"),
        Column("spend", "number", required=True, bound=">=0", blank_ok=False),
        Column("impressions", "number", bound=">=0"),
        Column("clicks", "number", bound=">=0"),
        Column("attributed_revenue", "number", bound=">=0"),
    ),
    unique=("date", "brand", "channel"),
    belongs_to=("channel", "platform"),
)
EVENTS = Table(
    "events",
    (
        _key("name"),
        _date("start"),
        _date("end"),
        Column("phase", "text"),
        Column("platform", "text"),
        Column("brand", "text"),
    ),
)
PROMOTIONS = Table(
    "promotions",
    (
        _key("brand"),
        _key("platform"),
        _key("sku_id"),
        _date("start"),
        _date("end"),
        Column("discount", "number", bound="[0,1)"),
        Column("price", "number", bound=">0"),
        Column("mechanic", "text"),
    ),
    one_of=("discount", "price"),
)
EXPERIMENTS = Table(  # lift tests: what a channel's spend in [start, end] measurably added
    "experiments",
    (
        _key("brand"),
        _key("channel"),
        Column("platform", "text"),
        _date("start"),
        _date("end"),
        Column("spend", "number", required=True, bound=">0", blank_ok=False),
        Column("incremental_revenue", "number", bound=">=0"),
        Column("lift", "number"),  # relative lift of the platform's revenue, when no yuan figure
        Column("standard_error", "number", required=True, bound=">0", blank_ok=False),
    ),
    one_of=("incremental_revenue", "lift"),
)
TABLES: dict[str, Table] = {t.name: t for t in (SALES, PRODUCTS, ADS, EVENTS, PROMOTIONS, EXPERIMENTS)}

_BOUNDS = {  # test, rule broken, fix
    ">=0": (
        lambda v: v >= 0,
        "negative value: it must be >= 0",
        "correct these rows (returns and refunds are not subtracted: never negative)",
    ),
    ">0": (
        lambda v: v > 0,
        "zero or negative value: it must be > 0",
        "correct these rows or leave the cell blank",
    ),
    "[0,1)": (
        lambda v: (v >= 0) & (v < 1),
        "value outside [0, 1): it is the fraction off the list price",
        "write 0.2 for 20% off (not 20, not 0.8)",
    ),
}


def shown(frame: pd.DataFrame, table: Table, mask: np.ndarray | pd.Series, *columns: str) -> pd.DataFrame:
    """The offending rows, with the table's keys and the columns in question, as they are in the file."""
    wanted = [c for c in table.keys if c in frame.columns]
    wanted += [c for c in columns if c in frame.columns and c not in wanted]
    return frame.loc[np.asarray(mask, dtype=bool), wanted]


def check_table(raw: pd.DataFrame, table: Table, file: str) -> pd.DataFrame:
    """Typed copy of `raw` (contract columns converted, extra columns untouched) or one ContractError."""
    if raw.empty:
        raise ContractError(
            file, None, "the file has no rows (a header at most)", f"add rows or remove {file}"
        )
    _check_columns(raw, table, file)
    typed = raw.copy()
    for column in table.columns:
        if column.name in raw.columns:
            typed[column.name] = _convert(raw, table, column, file)
    if table.one_of:
        present = [c for c in table.one_of if c in typed.columns]
        empty = np.logical_and.reduce([typed[c].isna().to_numpy() for c in present])
        if empty.any():
            raise ContractError(
                file,
                "/".join(table.one_of),
                f"row has neither {' nor '.join(table.one_of)}",
                f"give {' or '.join(table.one_of)} on every row",
                shown(raw, table, empty, *present),
                int(empty.sum()),
            )
    if table.belongs_to:  # before uniqueness: a shared channel name is the cause of its duplicate dates
        _check_belongs_to(raw, typed, table, file)
    if table.unique:
        twice = typed.duplicated(list(table.unique), keep=False).to_numpy()
        if twice.any():
            raise ContractError(
                file,
                ", ".join(table.unique),
                f"duplicate rows: ({', '.join(table.unique)}) must be unique",
                "keep one row per key (sum or drop the duplicates)",
                shown(raw, table, twice),
                int(twice.sum()),
            )
    if "start" in typed.columns and "end" in typed.columns:
        backwards = (typed["start"] > typed["end"]).to_numpy()
        if backwards.any():
            raise ContractError(
                file,
                "start",
                "start is after end",
                "swap start and end (end is inclusive)",
                shown(raw, table, backwards, "start", "end"),
                int(backwards.sum()),
            )
    return typed


def _check_belongs_to(raw: pd.DataFrame, typed: pd.DataFrame, table: Table, file: str) -> None:
    child, parent = table.belongs_to
    parents = typed.groupby(["brand", child], observed=True)[parent].nunique()
    shared = parents[parents > 1]
    if len(shared):
        brand, name = shared.index[0]
        mine = typed["brand"].eq(brand) & typed[child].eq(name)
        first_per_parent = ~typed.loc[mine].duplicated(parent).reindex(typed.index, fill_value=True)
        raise ContractError(
            file,
            child,
            f"{child} '{name}' of brand '{brand}' is used by two {parent}s",
            f"an ad {child} belongs to one {parent}: rename one of them (e.g. tmall_ztc, jd_kuaiche)",
            shown(raw, table, (mine & first_per_parent).to_numpy()),
            int(mine.sum()),
        )


def _check_columns(raw: pd.DataFrame, table: Table, file: str) -> None:
    have = set(raw.columns)
    lowered = {str(c).strip().lower(): c for c in raw.columns}
    for column in table.columns:
        if column.required and column.name not in have:
            near = lowered.get(column.name)
            hint = f" (found '{near}': rename it to '{column.name}', lower case)" if near is not None else ""
            raise ContractError(
                file,
                column.name,
                "missing required column",
                f"add a column named '{column.name}'{hint}; columns found: "
                f"{', '.join(map(str, raw.columns))}",
            )
    if table.one_of and not have.intersection(table.one_of):
        raise ContractError(
            file,
            "/".join(table.one_of),
            f"neither {' nor '.join(table.one_of)} column is present",
            f"add a '{table.one_of[0]}' or a '{table.one_of[1]}' column",
        )


def _convert(raw: pd.DataFrame, table: Table, column: Column, file: str) -> pd.Series:
    values = raw[column.name]
    if column.kind in ("key", "text"):
        text = _text(values)
        blank = text.eq("").to_numpy()
        if not column.blank_ok and blank.any():
            raise ContractError(
                file,
                column.name,
                "blank value in a required column",
                f"fill '{column.name}' on every row",
                shown(raw, table, blank, column.name),
                int(blank.sum()),
            )
        return text
    if column.kind == "date":
        parsed, bad, far = _read_dates(values)
        if far.any():
            raise ContractError(
                file,
                column.name,
                f"date outside {FIRST_DATE:%Y-%m-%d} .. {LAST_DATE:%Y-%m-%d} (a typo in the year, or a "
                "placeholder like 9999-12-31: such dates cannot be stored and would be read as others)",
                f"correct the year of '{column.name}' on these rows (or leave it blank where optional)",
                shown(raw, table, far, column.name),
                int(far.sum()),
            )
        if bad.any():
            raise ContractError(
                file,
                column.name,
                "unparsable date (dates are ISO YYYY-MM-DD, e.g. 2025-11-11)",
                f"write '{column.name}' as YYYY-MM-DD",
                shown(raw, table, bad, column.name),
                int(bad.sum()),
            )
        blank = parsed.isna().to_numpy()
        if not column.blank_ok and blank.any():
            raise ContractError(
                file,
                column.name,
                "blank date in a required column",
                f"fill '{column.name}' on every row",
                shown(raw, table, blank, column.name),
                int(blank.sum()),
            )
        return parsed
    numbers, bad = parse_numbers(values)
    if bad.any():
        raise ContractError(
            file,
            column.name,
            "non-numeric value in a numeric column (nothing is coerced)",
            f"write plain numbers in '{column.name}' (no units, currency signs or thousands separators)",
            shown(raw, table, bad, column.name),
            int(bad.sum()),
        )
    known = ~np.isnan(numbers)
    if not column.blank_ok and not known.all():
        raise ContractError(
            file,
            column.name,
            "blank value in a required column",
            f"fill '{column.name}' on every row",
            shown(raw, table, ~known, column.name),
            int((~known).sum()),
        )
    if column.kind == "flag":
        wrong = known & ~np.isin(numbers, (0.0, 1.0))
        if wrong.any():
            raise ContractError(
                file,
                column.name,
                f"{column.name} must be 0 or 1",
                f"write 1 for yes and 0 for no in '{column.name}'",
                shown(raw, table, wrong, column.name),
                int(wrong.sum()),
            )
    elif column.bound:
        test, broken, fix = _BOUNDS[column.bound]
        with np.errstate(invalid="ignore"):
            wrong = known & ~test(numbers)
        if wrong.any():
            raise ContractError(
                file,
                column.name,
                broken,
                fix,
                shown(raw, table, wrong, column.name),
                int(wrong.sum()),
            )
    return pd.Series(numbers, index=raw.index, name=column.name)


def _text(values: pd.Series) -> pd.Series:
    """Text with blanks as "" and surrounding spaces removed; ids stay text ("00123" keeps its zeros)."""
    return values.astype("str").str.strip().fillna("")


def parse_dates(values: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Strict ISO dates: (datetime64[ns] with NaT for blanks, mask of cells that are not dates, or
    are dates outside FIRST_DATE..LAST_DATE)."""
    parsed, bad, far = _read_dates(values)
    return parsed, bad | far


def _outside(parsed: pd.DatetimeIndex | pd.Series) -> np.ndarray:
    # compared in the values' own unit: converted to nanoseconds first, 2609-12-29 wraps to 2025-06-09
    return np.asarray(parsed.notna() & ((parsed < FIRST_DATE) | (parsed > LAST_DATE)))


def _read_dates(values: pd.Series) -> tuple[pd.Series, np.ndarray, np.ndarray]:
    """Dates (datetime64[ns], NaT for blanks and bad cells), the mask of cells that are not ISO
    dates, and the mask of dates outside FIRST_DATE..LAST_DATE."""
    if pd.api.types.is_datetime64_any_dtype(values):
        if getattr(values.dt, "tz", None) is not None:
            values = values.dt.tz_localize(None)
        far = _outside(values)
        kept = values.where(~far)  # a Parquet timestamp in 2609 is refused, not overflowed
        parsed = kept.astype("datetime64[ns]")
        bad = (parsed.notna() & parsed.ne(parsed.dt.normalize())).to_numpy()  # a time of day is not a date
        return parsed.dt.normalize(), bad, far
    # few distinct dates in millions of rows: parse each once
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    if pd.api.types.infer_dtype(uniques, skipna=True) in ("date", "datetime", "datetime64"):
        parsed = pd.DatetimeIndex(pd.to_datetime(uniques, errors="coerce"))
        ok = np.asarray(parsed.notna() & (parsed == parsed.normalize()))
    else:
        text = pd.Index(uniques, dtype="str").str.strip()
        blank = np.asarray(text == "")
        parsed = pd.DatetimeIndex(pd.to_datetime(text.where(~blank), format="%Y-%m-%d", errors="coerce"))
        ok = np.asarray(parsed.notna() & (text.str.len() == 10)) | blank
    outside = np.append(_outside(parsed), False)
    parsed = parsed.where(~outside[:-1])
    lookup = np.append(parsed.to_numpy(dtype="datetime64[ns]"), np.datetime64("NaT", "ns"))
    usable = np.append(ok, True)  # code -1 (a missing cell) is blank, not bad
    far = outside[codes]
    bad = ~usable[codes] & ~far
    result = np.where(bad | far, np.datetime64("NaT", "ns"), lookup[codes])
    return pd.Series(result, index=values.index, name=values.name, dtype="datetime64[ns]"), bad, far


def parse_numbers(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """float64 values (NaN for blanks) and the mask of cells that are not finite numbers."""
    if pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values):
        numbers = values.to_numpy(dtype="float64", na_value=np.nan)
        return numbers, np.isinf(numbers)
    text = values.astype("str").str.strip()
    numbers = pd.to_numeric(text.where(text.ne("")), errors="coerce").to_numpy(
        dtype="float64", na_value=np.nan
    )
    given = text.fillna("").ne("").to_numpy()
    bad = given & (np.isnan(numbers) | np.isinf(numbers))
    return numbers, bad
