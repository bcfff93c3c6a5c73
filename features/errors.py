"""The one error a user can cause with bad input: it names the file, the column, the rule and a fix."""

from __future__ import annotations

import pandas as pd


class ContractError(ValueError):
    """A data file breaks a rule of DATA_CONTRACT.md.

    The message always names the file, the column, the rule broken, up to five offending rows
    and how to fix it, so that a planner can repair the file without reading code.
    """

    def __init__(
        self,
        file: str,
        column: str | None,
        rule: str,
        fix: str,
        rows: pd.DataFrame | None = None,
        n_bad: int | None = None,
    ) -> None:
        self.file = file
        self.column = column
        self.rule = rule
        self.fix = fix
        self.rows = rows
        self.n_bad = n_bad if n_bad is not None else (0 if rows is None else len(rows))
        where = f"{file}" + (f", column '{column}'" if column else "")
        message = f"{where}: {rule}."
        if rows is not None and len(rows):
            shown = rows.head(5).to_string(index=True, max_colwidth=40)
            message += f" {self.n_bad} offending row(s); first {min(5, len(rows))}:\n{shown}\n"
        message += f" Fix: {fix}"
        super().__init__(message)


class RequestError(ValueError):
    """A request (CLI or HTTP) that cannot be answered as asked: names the field, the rule and a fix."""

    def __init__(self, field: str, rule: str, fix: str = "", status: int = 400) -> None:
        self.field = field
        self.rule = rule
        self.fix = fix
        self.status = status
        super().__init__(f"{field}: {rule}" + (f". Fix: {fix}" if fix else ""))


class NotFoundError(RequestError):
    """An unknown brand, SKU, platform or channel (HTTP 404)."""

    def __init__(self, field: str, name: str, known: list[str] | None = None) -> None:
        hint = f"known: {', '.join(map(str, known[:10]))}" if known else ""
        super().__init__(field, f"unknown {field} '{name}'", hint, status=404)
        self.name = name
