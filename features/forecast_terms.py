"""The forecast's vocabulary, decided once: answer columns, aggregation levels, default quantiles,
what counts as a promotion, and the rules every request for a forecast obeys.

It sits in features/ (the lowest stage) so the feature frames, the forecast models, the trainers,
the CLI and the service all read the same decision instead of keeping copies.
"""

from __future__ import annotations

import datetime as dt

from daiyun.features.errors import RequestError

# The keys a forecast is summed over at each level (`level=` on the CLI, the service and the bundle).
LEVEL_KEYS: dict[str, list[str]] = {
    "sku": ["platform", "sku_id"],
    "category": ["category"],
    "platform": ["platform"],
    "brand": [],
}
# The interval a planner gets unless they ask otherwise: the 80% band and the median.
DEFAULT_QUANTILES: tuple[float, ...] = (0.1, 0.5, 0.9)
# A recorded discount above half a percent is a promotion; below it, price rounding noise.
PROMO_DISCOUNT = 0.005
# A forecast reaches at most a year (and a leap day) past the history it was made from.
MAX_DAYS_AHEAD = 366
# Column names keep this many significant digits of 100*q, so 0.1 -> p10 and 0.975 -> p97.5.
_COLUMN_DIGITS = 6


def quantile_column(quantile: float) -> str:
    """0.1 -> "p10", 0.975 -> "p97.5": the answer column of a quantile, everywhere."""
    return f"p{round(float(quantile) * 100, _COLUMN_DIGITS):g}"


def check_quantiles(quantiles: object) -> tuple[float, ...]:
    """The quantiles asked for (a list, or text like "0.1,0.5,0.9"), sorted; RequestError unless each
    is a number strictly between 0 and 1 with its own answer column."""
    if isinstance(quantiles, str):
        parts: list[object] = [part for part in quantiles.replace(" ", "").split(",") if part]
    else:
        parts = list(quantiles or [])
    try:
        values = [float(part) for part in parts]
    except (TypeError, ValueError):
        raise RequestError("quantiles", f"'{quantiles}' is not a list of numbers",
                           "use e.g. 0.1,0.5,0.9") from None
    if not values or any(not 0 < q < 1 for q in values):
        raise RequestError("quantiles", f"every quantile must lie strictly between 0 and 1, got {quantiles}",
                           "use e.g. 0.1,0.5,0.9")
    columns: dict[str, float] = {}
    for quantile in values:
        column = quantile_column(quantile)
        if column in columns:
            # two quantiles, one column: the answer would silently hold only one of them
            clash = columns[column]
            said = "repeats" if clash == quantile else f"and {clash} both name column '{column}'"
            raise RequestError("quantiles", f"quantile {quantile} {said}",
                               "ask for each quantile once, with at most 6 significant digits of 100*q")
        columns[column] = quantile
    return tuple(sorted(values))


def check_period(start: dt.date, end: dt.date) -> None:
    """RequestError unless `end` is on or after `start` and the period is at most MAX_DAYS_AHEAD days
    (dates or timestamps; the bundle adds that it must start after its history)."""
    if end < start:
        raise RequestError("end", f"end {end:%Y-%m-%d} is before start {start:%Y-%m-%d}", "swap them")
    days = (end - start).days + 1
    if days > MAX_DAYS_AHEAD:
        raise RequestError("end", f"the period has {days} days, more than {MAX_DAYS_AHEAD}",
                           "ask for one promotion period at a time")
