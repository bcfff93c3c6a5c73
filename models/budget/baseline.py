"""The revenue a platform makes without the ads: trend, week, year, events, promotions, catalogue.

Event lifts in a shop are multiplicative (Double 11 doubles a quiet platform's revenue and a busy
one's alike), so the baseline is log-linear: baseline_t = exp(X_t . gamma), X from this module.
The ads' contribution stays additive on top. Each event gets its own column per phase (pre-sale,
peak, the day itself), plus the days shoppers wait before a pre-sale opens, the first peak day
(when pre-sale deposits are paid) and the hangover after an event, so the lift of an event is
never left for the ads to explain.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from daiyun.features.calendar import EVENT_FLAG_COLUMNS, PHASE_COLUMNS

EVENT_COLUMNS = EVENT_FLAG_COLUMNS
PHASES = PHASE_COLUMNS
WAIT_DAYS = 5  # shoppers hold off before a pre-sale opens
HANGOVER_DAYS = 5


def _shifted_any(flags: np.ndarray, days: range) -> np.ndarray:
    out = np.zeros(len(flags), dtype=bool)
    for k in days:
        shifted = np.roll(flags, -k)
        if k > 0:
            shifted[-k:] = False
        else:
            shifted[:-k] = False
        out |= shifted
    return out


def baseline_design(
    frame: pd.DataFrame, freq: str = "D", trend_knot_days: int = 182
) -> tuple[np.ndarray, list[str]]:
    """Unscaled baseline columns for one platform's rows (sorted by date), with their names."""
    dates = pd.to_datetime(frame["date"]).reset_index(drop=True)
    n = len(dates)
    columns: dict[str, np.ndarray] = {"intercept": np.ones(n)}
    days = (dates - dates.iloc[0]).dt.days.to_numpy(dtype=float)
    span = max(days[-1], 1.0) if n else 1.0
    columns["trend"] = days / span
    for knot in np.arange(trend_knot_days, span, trend_knot_days):
        columns[f"trend_after_{int(knot)}"] = np.maximum(days - knot, 0.0) / span
    day_of_year = dates.dt.dayofyear.to_numpy(dtype=float)
    for k in (1, 2, 3):
        angle = 2 * np.pi * k * day_of_year / 365.25
        columns[f"year_sin{k}"] = np.sin(angle)
        columns[f"year_cos{k}"] = np.cos(angle)
    if freq != "W":
        weekday = dates.dt.weekday.to_numpy()
        for d in range(1, 7):
            columns[f"weekday_{d}"] = (weekday == d).astype(float)
    for name in ("is_holiday", "is_day_off"):
        if name in frame:
            columns[name] = frame[name].to_numpy(dtype=float)

    phases = {p: frame[p].to_numpy(dtype=float) if p in frame else np.zeros(n) for p in PHASES}
    no_phase = np.clip(1.0 - sum(phases.values()), 0.0, 1.0)
    for event in EVENT_COLUMNS:
        if event not in frame:
            continue
        flag = frame[event].to_numpy(dtype=float)
        if not flag.any():
            continue
        columns[event] = flag * no_phase
        for phase, phase_flag in phases.items():
            both = flag * phase_flag
            if both.any():
                columns[f"{event}:{phase.removeprefix('phase_')}"] = both
    if freq != "W":
        presale = phases["phase_presale"] > 0.5
        peak = phases["phase_peak"] > 0.5
        columns["first_peak_day"] = (peak & np.roll(presale, 1)).astype(float)
        columns["presale_wait"] = (_shifted_any(presale, range(1, WAIT_DAYS + 1)) & ~presale).astype(float)
        in_event = frame["is_event"].to_numpy(dtype=float) > 0.5 if "is_event" in frame else np.zeros(n, bool)
        hangover = np.zeros(n)
        for k in range(1, HANGOVER_DAYS + 1):
            ended = np.roll(in_event, k) & ~in_event
            ended[:k] = False
            hangover = np.maximum(hangover, ended * (1.0 - (k - 1) / HANGOVER_DAYS))
        columns["after_event"] = hangover
    if "sellable_weight" in frame:  # launches, run-outs and stock-outs scale the whole platform
        columns["log_sellable"] = np.log(np.clip(frame["sellable_weight"].to_numpy(dtype=float), 1e-3, None))
    for name in ("promo_share", "mean_discount"):
        if name in frame:
            columns[name] = frame[name].to_numpy(dtype=float)
    if "promo_share" in frame and "is_event" in frame:
        columns["promo_share:event"] = frame["promo_share"].to_numpy(dtype=float) * frame[
            "is_event"
        ].to_numpy(dtype=float)
    names = [k for k, v in columns.items() if k == "intercept" or np.ptp(v) > 0]
    return np.column_stack([columns[k] for k in names]), names
