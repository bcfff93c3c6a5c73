"""`GET /report?brand=B&start=D&end=D[&compare=previous|last-year][&lang=en|zh]`: the report as HTML.

The service has the brand's champions in memory; the sales, ads and events come from the data
directory named by `DAIYUN_REPORT_DATA` (the same directory `daiyun train` read). A loaded brand is
kept until its files change, so a second report of the same brand skips the parse.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from daiyun.features.errors import RequestError
from daiyun.models.registry import FAMILIES
from daiyun.serving.report.build import build_report
from daiyun.serving.report.model import Champions
from daiyun.serving.report.render import render_html
from daiyun.serving.schemas import Day, Name

DATA_ENV = "DAIYUN_REPORT_DATA"


class ReportRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    brand: Name
    start: Day
    end: Day
    compare: Literal["previous", "last-year"] = Field("previous", description="movers against this period")
    lang: Literal["en", "zh"] = Field("en", description="labels in English or Chinese")


_lock = threading.Lock()
_loaded: dict[tuple[str, str], tuple[tuple, object]] = {}


def _fingerprint(directory: Path) -> tuple:
    return tuple(sorted((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in directory.iterdir()
                        if p.is_file()))


def brand_data(brand: str):  # noqa: ANN201
    """The brand's contract tables from DAIYUN_REPORT_DATA (only that brand's rows are ever loaded)."""
    from daiyun.features.load import load

    directory = os.environ.get(DATA_ENV, "").strip()
    if not directory or not Path(directory).is_dir():
        raise RequestError("brand", f"the service has no data directory for reports ({DATA_ENV} is not set "
                           "to a directory)", f"start the service with {DATA_ENV}=DIR", status=503)
    path = Path(directory)
    stamp = _fingerprint(path)
    key = (str(path.resolve()), brand)
    with _lock:
        cached = _loaded.get(key)
        if cached is not None and cached[0] == stamp:
            return cached[1]
    dataset = load(path, brands=[brand])
    with _lock:
        _loaded[key] = (stamp, dataset)
    return dataset


def served_champions(champion_set, brand: str) -> Champions:  # noqa: ANN001
    """The brand's served bundles; a family it has no champion for is named in the report."""
    champions = Champions()
    for family in FAMILIES:
        try:
            setattr(champions, family, champion_set.get(family, brand).bundle)
        except RequestError as error:
            champions.missing[family] = error.rule
    return champions


def report_page(champion_set, request: ReportRequest) -> str:  # noqa: ANN001
    """The HTML page of the report the request asks for (the caller has checked the key's brands)."""
    report = build_report(
        brand_data(request.brand), request.brand, request.start, request.end,
        champions=served_champions(champion_set, request.brand), compare=request.compare, lang=request.lang,
    )
    return render_html(report)
