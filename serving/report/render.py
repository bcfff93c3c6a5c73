"""The report as one self-contained HTML page: inline CSS, charts as data: URIs, no script, no network.

An account manager can email the file; it opens the same offline, in a mail client's viewer, and
when Chromium prints it to PDF.
"""

from __future__ import annotations

import html

import pandas as pd

from daiyun.serving.report.model import Report, Section
from daiyun.serving.report.words import Words

ROWS_SHOWN = 12  # the page shows the head of each table; the .xlsx has every row
PERCENT_COLUMNS = ("share", "wape", "coverage", "discount")
HIDDEN_COLUMNS = ("current_spend",)  # repeated on every row of the curves table; the chart marks it
HIDDEN_TABLES = ("daily_gmv", "response_curves", "outlook_daily")  # drawn, too long to read as rows

CSS = """
body{font-family:"WenQuanYi Micro Hei","Noto Sans CJK SC","PingFang SC","Microsoft YaHei",Arial,sans-serif;
margin:0;background:#f4f6f8;color:#1d2733}
main{max-width:980px;margin:0 auto;padding:24px 32px;background:#fff}
h1{font-size:24px;margin:0 0 4px}h2{font-size:19px;margin:28px 0 8px;border-bottom:2px solid #1f5fa8;
padding-bottom:4px}.sub{color:#667;font-size:13px;margin:0 0 16px}
p.s{margin:4px 0;font-size:14px;line-height:1.5}
figure{margin:10px 0}figure img{max-width:100%;display:block}
table{border-collapse:collapse;font-size:12px;margin:8px 0 4px}
th,td{border-bottom:1px solid #e3e7eb;padding:3px 8px;text-align:right}
th{background:#eef2f6}td.t,th.t{text-align:left}caption{text-align:left;font-weight:bold;font-size:12px;
padding:4px 0}.note{color:#8a5a00;font-size:12px}
@media print{body{background:#fff}main{padding:0}section{break-inside:avoid}}
"""


def render_html(report: Report) -> str:
    parts = [
        "<!DOCTYPE html>",
        f'<html lang="{"zh-CN" if report.lang == "zh" else "en"}"><head><meta charset="utf-8">',
        f"<title>{html.escape(report.title)}</title><style>{CSS}</style></head><body><main>",
        f"<h1>{html.escape(report.title)}</h1>",
        f'<p class="sub">{html.escape(report.subtitle)}</p>',
    ]
    for note in report.notes:
        parts.append(f'<p class="note">{html.escape(note)}</p>')
    words = Words(report.lang)
    for section in report.sections:
        parts.append(_section(section, words))
    parts.append("</main></body></html>")
    return "\n".join(parts)


def _section(section: Section, words: Words) -> str:
    parts = [f'<section id="{section.key}"><h2>{html.escape(section.title)}</h2>']
    parts += [f'<p class="s">{html.escape(sentence)}</p>' for sentence in section.sentences]
    if section.chart:
        parts.append(
            f'<figure><img class="chart" data-section="{section.key}" alt="{html.escape(section.title)}" '
            f'src="data:image/png;base64,{section.chart}"></figure>'
        )
    for name, table in section.tables.items():
        if name in HIDDEN_TABLES or table.empty:
            continue
        parts.append(table_html(name, table, words))
    parts.append("</section>")
    return "\n".join(parts)


def table_html(name: str, table: pd.DataFrame, words: Words | None = None) -> str:
    words = words or Words()
    shown = table.drop(columns=[c for c in HIDDEN_COLUMNS if c in table.columns]).head(ROWS_SHOWN)
    text = [c for c in shown.columns if not pd.api.types.is_numeric_dtype(shown[c])]
    head = "".join(
        f'<th class="{"t" if c in text else ""}">{html.escape(words.heading(str(c)))}</th>'
        for c in shown.columns
    )
    rows = []
    for record in shown.itertuples(index=False):
        cells = "".join(
            f'<td class="{"t" if c in text else ""}">{html.escape(_cell(c, v))}</td>'
            for c, v in zip(shown.columns, record, strict=True)
        )
        rows.append(f"<tr>{cells}</tr>")
    more = f" ({len(shown)} of {len(table)} rows)" if len(table) > len(shown) else ""
    caption = html.escape(words.heading(name) + more)
    return f"<table><caption>{caption}</caption><tr>{head}</tr>{''.join(rows)}</table>"


def _cell(column: str, value: object) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return ""
    if isinstance(value, pd.Timestamp):
        return f"{value:%Y-%m-%d}"
    if isinstance(value, bool):
        return "yes" if value else ""
    if isinstance(value, float | int) and not isinstance(value, bool):
        if any(word in column for word in PERCENT_COLUMNS):
            return f"{value:.1%}"
        if "roi" in column or column == "score":
            return f"{value:.2f}"
        return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}"
    return str(value)
