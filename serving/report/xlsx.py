"""Tables as an Excel workbook: one sheet per table, dates as Excel dates and numbers as numbers.

Planners open these in Excel/WPS and keep calculating, so nothing is written as text that was a
number or a date. Written to a temp file and renamed, like every answer.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from daiyun.serving.report.files import replaced

DATE_FORMAT = "yyyy-mm-dd"
_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")


def sheet_names(names: list[str]) -> list[str]:
    """Excel's rules: at most 31 characters, none of []:*?/\\, unique ignoring case."""
    taken: set[str] = set()
    out = []
    for name in names:
        base = _FORBIDDEN.sub("_", str(name)).strip("'")[:31] or "sheet"
        candidate, n = base, 2
        while candidate.lower() in taken:
            suffix = f"_{n}"
            candidate, n = base[: 31 - len(suffix)] + suffix, n + 1
        taken.add(candidate.lower())
        out.append(candidate)
    return out


def write_workbook(tables: Mapping[str, pd.DataFrame], path: Path | str) -> Path:
    """Every table on its own sheet (in order), first row frozen, columns wide enough to read."""
    with replaced(path) as temporary:
        with pd.ExcelWriter(
            temporary, engine="openpyxl", date_format=DATE_FORMAT, datetime_format=DATE_FORMAT
        ) as writer:
            names = sheet_names(list(tables))
            for name, table in zip(names, tables.values(), strict=True):
                frame = _excel_ready(table)
                frame.to_excel(writer, sheet_name=name, index=False)
                sheet = writer.sheets[name]
                sheet.freeze_panes = "A2"
                for i, column in enumerate(frame.columns, start=1):
                    if frame[column].dtype.kind == "M":  # pandas' writer keeps a time of day on dates
                        for (cell,) in sheet.iter_rows(min_row=2, min_col=i, max_col=i):
                            cell.number_format = DATE_FORMAT
                    width = max([len(str(column))] + [len(str(v)) for v in frame[column].head(50)])
                    sheet.column_dimensions[sheet.cell(1, i).column_letter].width = min(max(width, 8) + 2, 60)
    return Path(path)


def _excel_ready(table: pd.DataFrame) -> pd.DataFrame:
    """Timezone-free dates (Excel has no zones) and plain text for lists and dicts."""
    frame = table.copy()
    for column in frame.columns:
        values = frame[column]
        if isinstance(values.dtype, pd.DatetimeTZDtype):
            frame[column] = values.dt.tz_localize(None)
        elif values.dtype == object:
            first = values.dropna().head(1).tolist()
            if first and isinstance(first[0], list | dict | tuple):
                frame[column] = values.map(str)
    return frame
