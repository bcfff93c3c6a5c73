"""Writing a built report: .html (self-contained page), .pdf (that page through Chromium), .xlsx (its tables).

Every file is written to a temporary name beside the target and renamed into place, so an account
manager never opens half a report and a failed run keeps the previous file.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd

from daiyun.features.errors import RequestError
from daiyun.serving.report.files import replaced
from daiyun.serving.report.model import Report
from daiyun.serving.report.render import render_html
from daiyun.serving.report.xlsx import write_workbook

SUFFIXES = (".html", ".pdf", ".xlsx")


def check_suffix(path: Path | str) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in SUFFIXES:
        raise RequestError(
            "--out", f"'{Path(path).name}' must end in .html, .pdf or .xlsx", "e.g. --out report.html"
        )
    return suffix


def report_tables(report: Report) -> dict[str, pd.DataFrame]:
    """The sentences as a first sheet, then every table of every section (section order)."""
    lines = [{"section": "report", "text": report.title}, {"section": "report", "text": report.subtitle}]
    lines += [{"section": "note", "text": note} for note in report.notes]
    for section in report.sections:
        lines += [{"section": section.title, "text": sentence} for sentence in section.sentences]
    tables = {"summary": pd.DataFrame(lines)}
    for section in report.sections:
        for name, table in section.tables.items():
            tables[name] = table
    return tables


def write_report(report: Report, path: Path | str) -> Path:
    path = Path(path)
    suffix = check_suffix(path)
    if suffix == ".xlsx":
        return write_workbook(report_tables(report), path)
    page = render_html(report)
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".pdf":
        from daiyun.serving.report.chromium import print_pdf

        with tempfile.TemporaryDirectory(prefix="daiyun-report-") as scratch:
            html_file = Path(scratch) / "report.html"
            html_file.write_text(page, encoding="utf-8")
            return print_pdf(html_file, path)
    with replaced(path) as temporary:
        temporary.write_text(page, encoding="utf-8")
    return path
