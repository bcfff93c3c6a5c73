"""What a forecast answer needs that does not depend on the request, computed once at load.

A forecast bundle forecasts from a fixed origin (the end of its history), so the SKU forecast of
every series under the stored promotion plan, with the default quantiles, is the same for every
request that brings no plan of its own. `PrecomputedForecast` holds it for the first
`DAIYUN_PRECOMPUTE_DAYS` (default 60, the span the bundle warms its Prophet cache for at
training) days after the origin and answers such requests by slicing;
any other request (a promotion scenario, other quantiles, an aggregate level, a later date, an
unknown SKU) goes to the bundle as before. `tests/test_serving_server.py` checks that a slice
equals the bundle's own answer.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

import numpy as np
import pandas as pd

from daiyun.features.errors import RequestError
from daiyun.features.forecast_terms import DEFAULT_QUANTILES, LEVEL_KEYS
from daiyun.serving.forecast_table import ForecastTable
from daiyun.serving.schemas import quantile_column

logger = logging.getLogger("bentoml.daiyun")

DAYS_ENV = "DAIYUN_PRECOMPUTE_DAYS"




class _LevelTable:
    """One level's forecast, sorted by key and date, with each key's row range."""

    def __init__(self, frame: pd.DataFrame, keys: list[str], values: list[str]) -> None:
        keys = [key for key in keys if key in frame.columns]
        frame = frame.sort_values([*keys, "date"], kind="stable").reset_index(drop=True)
        self.table = ForecastTable.from_frame(frame, keys, values)
        self.dates = frame["date"].to_numpy()
        bounds = [*self.table.starts.tolist(), len(self.table)]
        self.runs = [
            (tuple(self.table.keys[key][first] for key in keys), first, last)
            for first, last in zip(bounds[:-1], bounds[1:], strict=True)
        ]

    def slice(self, start: pd.Timestamp, end: pd.Timestamp, keep: Any = None) -> ForecastTable | None:
        first_day, last_day = np.datetime64(start), np.datetime64(end)
        pieces, starts, size = [], [], 0
        for key, first_row, last_row in self.runs:
            if keep is not None and not keep(key):
                continue
            dates = self.dates[first_row:last_row]
            lo = first_row + int(np.searchsorted(dates, first_day, side="left"))
            hi = first_row + int(np.searchsorted(dates, last_day, side="right"))
            if hi > lo:
                pieces.append(np.arange(lo, hi))
                starts.append(size)
                size += hi - lo
        if not pieces:
            return None
        return self.table.take(np.concatenate(pieces), np.asarray(starts, dtype=np.int64))


class PrecomputedForecast:
    """Every level of a bundle's forecast for its first `days` days, default plan and quantiles.

    A forecast row depends on its date and key only (not on the requested window), so a slice of
    it is the bundle's answer; an aggregate depends on the SKUs summed, so aggregates are only
    answered here for requests without a SKU or platform filter.
    """

    def __init__(self, bundle: Any, days: int, quantiles: tuple[float, ...] = DEFAULT_QUANTILES) -> None:
        origin = pd.Timestamp(bundle.origin)
        self.quantiles = tuple(quantiles)
        self.first = origin + pd.Timedelta(days=1)
        self.last = origin + pd.Timedelta(days=days)
        values = ["mean", *[quantile_column(q) for q in self.quantiles]]
        self.levels = {
            level: _LevelTable(bundle.forecast(self.first, self.last, quantiles=self.quantiles, level=level),
                               keys, values)
            for level, keys in LEVEL_KEYS.items()
        }
        self.table = self.levels["sku"].table
        series = [key for key, _, _ in self.levels["sku"].runs]
        self.skus = {sku for _, sku in series}
        self.platforms = {platform for platform, _ in series}

    def lookup(
        self,
        start: pd.Timestamp,
        end: pd.Timestamp,
        quantiles: tuple[float, ...],
        sku_ids: list[str] | None,
        platforms: list[str] | None,
        level: str,
        promotions: Any,
    ) -> ForecastTable | None:
        """The bundle's answer when this request is covered, else None (ask the bundle)."""
        if promotions is not None or tuple(quantiles) != self.quantiles or level not in self.levels:
            return None
        if start < self.first or end > self.last or end < start:
            return None
        if level != "sku":
            if sku_ids is not None or platforms is not None:
                return None
            return self.levels[level].slice(start, end)
        if sku_ids is not None and (not sku_ids or not set(sku_ids) <= self.skus):
            return None  # the bundle names the unknown SKU
        if platforms is not None and (not platforms or not set(platforms) <= self.platforms):
            return None
        wanted_skus = None if sku_ids is None else set(sku_ids)
        wanted_platforms = None if platforms is None else set(platforms)

        def keep(key: tuple[str, str]) -> bool:
            return (wanted_platforms is None or key[0] in wanted_platforms) and (
                wanted_skus is None or key[1] in wanted_skus
            )

        return self.levels["sku"].slice(start, end, keep)


def precompute_champions(champion_set: Any) -> None:
    """Attach a PrecomputedForecast to every forecast champion of the set (in place). A champion
    that cannot forecast its own default plan cannot answer the commonest request either: it is
    reported as failed instead of served."""
    from dataclasses import replace

    from daiyun.serving.champions import LoadFailure, describe_error

    for champion in champion_set.champions:
        if champion.family != "forecast":
            continue
        try:
            precomputed = precompute_forecast(champion.bundle)
        except Exception as error:  # noqa: BLE001 - reported by /readyz and /models
            logger.exception("%s v%s cannot forecast its default plan", champion.name, champion.version)
            champion_set.discard(LoadFailure(
                champion.family, champion.brand, champion.name, champion.version,
                f"cannot forecast its default plan: {describe_error(error)}",
            ))
            continue
        if precomputed is not None:
            champion_set.replace(replace(champion, precomputed=precomputed))


def precompute_days() -> int:
    try:
        return max(0, int(os.environ.get(DAYS_ENV, "60")))
    except ValueError:
        return 60


def precompute_forecast(bundle: Any, days: int | None = None) -> PrecomputedForecast | None:
    """None when the bundle cannot be precomputed (it is then asked on every request)."""
    days = precompute_days() if days is None else days
    if days <= 0 or not hasattr(bundle, "origin") or getattr(bundle, "freq", "D") != "D":
        return None  # weekly brands are few and small: the bundle answers them directly
    started = time.perf_counter()
    try:
        precomputed = PrecomputedForecast(bundle, days)
    except RequestError as error:  # the bundle declines this span (a short horizon): it answers itself
        logger.warning("not precomputing brand %s: %s", getattr(bundle, "brand", "?"), error)
        return None
    logger.info(
        "precomputed %d forecast rows of brand %s in %.1fs",
        len(precomputed.table), getattr(bundle, "brand", "?"), time.perf_counter() - started,
    )
    return precomputed
