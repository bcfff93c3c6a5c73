"""Writing answers to disk: the format by the file's suffix, a temp file renamed into place.

A planner opening the file while a command runs never sees half an answer, and a failed write
leaves the previous file untouched.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

from daiyun.features.errors import RequestError

TABLE_SUFFIXES = (".csv", ".parquet", ".json")


def write_answer(answer: pd.DataFrame | dict[str, Any], path: Path | str) -> Path:
    """A frame as CSV, Parquet or JSON records; a dict as JSON. Returns the path written."""
    path = Path(path)
    suffix = path.suffix.lower()
    allowed = TABLE_SUFFIXES if isinstance(answer, pd.DataFrame) else (".json",)
    if suffix not in allowed:
        endings = " or ".join(allowed)
        raise RequestError("--out", f"'{path.name}' must end in {endings}", f"e.g. answer{allowed[0]}")
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
