"""A platform's traffic index: how busy each day is (1 = an average day), from the calendar alone.

Some ads add a roughly fixed amount of revenue a day; others scale with how many shoppers are on
the platform (a search ad on Double 11 converts the crowd that day brings). The response model
gives each channel both parts, `beta * hill(x_t)` and `beta_traffic * index_t * hill(x_t)`, and the
data decides the split. The index must be known for future days too, so it uses only what the
calendar knows ahead: event phases per festival, days off and weekdays (no trend, no promotions).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from daiyun.features.calendar import EVENT_FLAG_COLUMNS

PHASES = ("phase_presale", "phase_peak", "phase_day")
RIDGE = 1.0


def traffic_design(calendar: pd.DataFrame) -> np.ndarray:
    """Fixed columns (the same for any dates): intercept, day off, weekend, and per festival its
    plain days and each phase."""
    n = len(calendar)

    def col(name: str) -> np.ndarray:
        return calendar[name].to_numpy(dtype=float) if name in calendar else np.zeros(n)

    columns = [np.ones(n), col("is_day_off"), col("is_weekend")]
    phase_any = sum(col(p) for p in PHASES)
    for event in EVENT_FLAG_COLUMNS:
        flag = col(event)
        columns.append(flag * np.clip(1.0 - phase_any, 0.0, 1.0))
        columns += [flag * col(p) for p in PHASES]
    return np.column_stack(columns)


def fit_traffic(calendar: pd.DataFrame, revenue: np.ndarray) -> tuple[np.ndarray, float]:
    """(coefficients of log revenue on the design, the mean level they give over these days)."""
    design = traffic_design(calendar)
    logged = np.log(np.maximum(np.asarray(revenue, dtype=float), 1e-9 + 0.05 * np.mean(revenue)))
    used = np.ptp(design, axis=0) > 0
    used[0] = True
    penalty = np.full(used.sum(), RIDGE)
    penalty[0] = 0.0
    x = design[:, used]
    coef = np.zeros(design.shape[1])
    coef[used] = np.linalg.solve(x.T @ x + np.diag(penalty) + 1e-9 * np.eye(len(penalty)), x.T @ logged)
    level = float(np.mean(np.exp(design @ coef)))
    return coef, level


def traffic_index(calendar: pd.DataFrame, coef: np.ndarray, level: float) -> np.ndarray:
    return np.exp(traffic_design(calendar) @ coef) / max(level, 1e-300)
