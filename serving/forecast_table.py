"""A forecast as plain columns, so an answer is built with numpy instead of per-row pandas.

Rows are sorted by key and date, so each key's rows are contiguous and its period total is one
`np.add.reduceat`. Built from a bundle's frame per request, or sliced from a precomputed table.
Values keep DECIMALS decimals (units to a ten-thousandth): more digits are noise, and they cost
JSON size and time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd

from daiyun.serving.schemas import ForecastRow, ForecastTotal

KEY_FIELDS = ("platform", "sku_id", "category")
DECIMALS = 4


@dataclass
class ForecastTable:
    keys: dict[str, np.ndarray]  # object arrays: platform, sku_id, category (those present)
    dates: np.ndarray  # object array of datetime.date
    values: dict[str, np.ndarray]  # float arrays: mean, p10, p50, ...
    cold_start: np.ndarray | None  # bool array
    starts: np.ndarray  # first row of each key's run

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, key_names: list[str], value_names: list[str]) -> ForecastTable:
        frame = frame.sort_values([*key_names, "date"], kind="stable").reset_index(drop=True)
        keys = {name: frame[name].to_numpy(dtype=object) for name in key_names}
        dates = np.asarray(pd.to_datetime(frame["date"]).dt.date.to_numpy(), dtype=object)
        values = {name: np.round(frame[name].to_numpy(dtype=float), DECIMALS) for name in value_names}
        cold_start = frame["cold_start"].to_numpy(dtype=bool) if "cold_start" in frame.columns else None
        return cls(keys, dates, values, cold_start, run_starts(keys, len(frame)))

    def __len__(self) -> int:
        return len(self.dates)

    def take(self, index: np.ndarray, starts: np.ndarray) -> ForecastTable:
        """The rows at `index` (still grouped by key; `starts` are the runs' first positions)."""
        return ForecastTable(
            {name: column[index] for name, column in self.keys.items()},
            self.dates[index],
            {name: column[index] for name, column in self.values.items()},
            None if self.cold_start is None else self.cold_start[index],
            starts,
        )

    def _row_columns(self) -> dict[str, np.ndarray | None]:
        """The rows' columns in the response's field order (None: a key this level lacks)."""
        columns: dict[str, np.ndarray | None] = {"date": self.dates}
        for name in KEY_FIELDS:
            columns[name] = self.keys.get(name)
        columns["mean"] = self.values["mean"]
        columns["cold_start"] = self.cold_start
        columns.update((name, column) for name, column in self.values.items() if name != "mean")
        return columns

    def _total_columns(self) -> dict[str, np.ndarray | None]:
        columns: dict[str, np.ndarray | None] = {
            name: self.keys[name][self.starts] if name in self.keys else None for name in KEY_FIELDS
        }
        for name, column in self.values.items():
            columns[name] = np.round(np.add.reduceat(column, self.starts), DECIMALS) if len(self) else column
        return columns

    def row_records(self) -> list[dict]:
        return _records(self._row_columns(), len(self))

    def total_records(self) -> list[dict]:
        return _records(self._total_columns(), len(self.starts) if len(self) else 0)

    def total_record(self) -> dict:
        record: dict = dict.fromkeys(KEY_FIELDS)
        for name, column in self.values.items():
            record[name] = round(float(np.nansum(column)), DECIMALS)
        return record

    def rows_json(self) -> str:
        """`row_records()` as a JSON array, written by pandas' C encoder (several times faster
        than the standard library on ~10k rows of floats)."""
        columns = self._row_columns()
        columns["date"] = np.array([day.isoformat() for day in self.dates], dtype=object)
        return _json_array(columns, len(self))

    def totals_json(self) -> str:
        return _json_array(self._total_columns(), len(self.starts) if len(self) else 0)

    # the columns are typed already, so the pydantic objects skip per-field validation
    def rows(self) -> list[ForecastRow]:
        return [ForecastRow.model_construct(**record) for record in self.row_records()]

    def totals(self) -> list[ForecastTotal]:
        return [ForecastTotal.model_construct(**record) for record in self.total_records()]

    def total(self) -> ForecastTotal:
        return ForecastTotal.model_construct(**self.total_record())


def run_starts(keys: dict[str, np.ndarray], length: int) -> np.ndarray:
    """Positions where any key changes (rows are sorted by key), starting with 0."""
    if length == 0:
        return np.zeros(0, dtype=np.int64)
    change = np.zeros(length, dtype=bool)
    change[0] = True
    for column in keys.values():
        change[1:] |= column[1:] != column[:-1]
    return np.flatnonzero(change)


def _records(columns: dict[str, np.ndarray | None], length: int) -> list[dict]:
    """Columns -> row dicts; a None column is None in every row (a key this level lacks)."""
    names = list(columns)
    filled = [
        [None] * length if column is None
        else _finite(column) if column.dtype.kind == "f"
        else column.tolist()
        for column in columns.values()
    ]
    return [dict(zip(names, row, strict=True)) for row in zip(*filled, strict=True)]


def _json_array(columns: dict[str, np.ndarray | None], length: int) -> str:
    if length < 500:  # building a frame costs more than it saves on a few rows
        records = _records(columns, length)
        for record in records:
            if "date" in record and not isinstance(record["date"], str | None):
                record["date"] = record["date"].isoformat()
        return json.dumps(records, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    blank = np.full(length, None, dtype=object)
    frame = pd.DataFrame({name: blank if column is None else column for name, column in columns.items()})
    return frame.to_json(orient="records", double_precision=DECIMALS)


def _finite(column: np.ndarray) -> list[float | None]:
    values = column.tolist()
    if np.isfinite(column).all():
        return values
    return [value if np.isfinite(value) else None for value in values]
