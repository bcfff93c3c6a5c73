"""Answers to disk and plans from disk: the format by the file's suffix, a temp file renamed into place.

A planner opening the file while a command runs never sees half an answer, and a failed write
leaves the previous file untouched. Planners live in Excel, so `.xlsx` works both ways: answers are
written with real dates and numbers (one sheet per table), and a promotions plan may come as .xlsx.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from daiyun.features.errors import ContractError, RequestError

if TYPE_CHECKING:
    from daiyun.features.contract import Table

TABLE_SUFFIXES = (".csv", ".parquet", ".json", ".xlsx")
PLAN_SUFFIXES = (".csv", ".parquet", ".xlsx")


def write_answer(answer: pd.DataFrame | dict[str, Any], path: Path | str, sheet: str = "answer") -> Path:
    """A frame as CSV, Parquet, JSON records or an .xlsx sheet; a dict as JSON. Returns the path written."""
    path = Path(path)
    suffix = path.suffix.lower()
    allowed = TABLE_SUFFIXES if isinstance(answer, pd.DataFrame) else (".json",)
    if suffix not in allowed:
        endings = " or ".join(allowed)
        raise RequestError("--out", f"'{path.name}' must end in {endings}", f"e.g. answer{allowed[0]}")
    if suffix == ".xlsx":
        from daiyun.serving.report.xlsx import write_workbook

        return write_workbook({sheet: answer}, path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    os.close(handle)
    try:
        if not isinstance(answer, pd.DataFrame):
            with open(temporary, "w", encoding="utf-8") as stream:
                json.dump(answer, stream, ensure_ascii=False, indent=1)
        elif suffix == ".csv":
            answer.to_csv(temporary, index=False)
        elif suffix == ".parquet":
            answer.to_parquet(temporary, index=False)
        else:
            answer.to_json(temporary, orient="records", force_ascii=False, indent=1, date_format="iso")
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)
    return path


def read_plan_file(path: Path | str) -> pd.DataFrame:
    """A promotions file as written (.csv/.parquet/.xlsx, first sheet); dates are checked later."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"promotions file '{path}' does not exist")
    suffix = path.suffix.lower()
    if suffix not in PLAN_SUFFIXES:
        raise ContractError(
            path.name,
            None,
            "a promotions file must be .csv, .parquet or .xlsx",
            "save it as CSV (UTF-8) or as an Excel workbook",
        )
    if suffix == ".parquet":
        return pd.read_parquet(path)
    if suffix == ".csv":
        return pd.read_csv(path, dtype=str, keep_default_na=False)
    from daiyun.features.contract import PROMOTIONS
    from daiyun.features.load import read_workbook

    return read_workbook(path, PROMOTIONS)


def read_plan(path: Path | str, brand: str) -> tuple[pd.DataFrame, str | None]:
    """A planner's promotions for `brand` (contract columns; `brand` may be left out), validated.

    An agency keeps one plan for all its brands, so rows of other brands are left out with a note
    saying how many (rather than refusing the file). Returns the plan and the note, if any.
    """
    from daiyun.features.contract import PROMOTIONS, check_table

    path = Path(path)
    raw = read_plan_file(path)
    if "brand" not in raw.columns:
        raw = raw.assign(brand=brand)
    plan = check_table(raw, PROMOTIONS, path.name)
    mine = plan["brand"].astype(str).eq(brand)
    if not mine.any():
        found = sorted(plan["brand"].astype(str).unique())
        raise ContractError(
            path.name,
            "brand",
            f"no rows for brand '{brand}' (brands in the file: {', '.join(found[:10])})",
            f"add {brand}'s promotions, or ask for one of those brands",
        )
    note = None
    if not mine.all():
        others = sorted(plan.loc[~mine, "brand"].astype(str).unique())
        note = (
            f"{path.name}: used the {int(mine.sum())} rows of brand '{brand}'; ignored {int((~mine).sum())} "
            f"rows of {len(others)} other brand(s) ({', '.join(others[:5])})"
        )
    return _numeric_extras(plan.loc[mine].reset_index(drop=True), PROMOTIONS), note


def _numeric_extras(plan: pd.DataFrame, table: Table) -> pd.DataFrame:
    """Extra columns that are numbers on every filled row (a CSV's `display` flags arrive as text)
    become numbers: the forecast reads them as known-future promotion inputs. Others stay as given."""
    known = {column.name for column in table.columns}
    for column in plan.columns:
        if column in known or pd.api.types.is_numeric_dtype(plan[column]):
            continue
        text = plan[column].astype("str").str.strip()
        filled = text.ne("") & plan[column].notna()
        numbers = pd.to_numeric(text.where(filled), errors="coerce")
        if filled.any() and numbers[filled].notna().all():
            plan[column] = numbers.fillna(0.0).astype("float64")
    return plan
