"""When to spend inside a period: daily pacing that follows the event phases.

Ad buyers do not spend evenly through Double 11: they warm up the week before, keep a steady
level through the pre-sale, push through the peak and hardest on the day itself. Each channel's
pacing index per phase is learned from the brand's own history (mean daily spend in the phase
relative to regular days), and a period's plan spreads the channel's total by it. Because
carry-over turns pre-sale spend into peak-day revenue, the response curves are always computed
for the plan that will be run, never for a flat one.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

PHASE_LABELS = ("regular", "warmup", "presale", "peak", "day", "event", "slowdown")
WARMUP_DAYS = 7


def phase_labels(calendar: pd.DataFrame, freq: str = "D") -> np.ndarray:
    """One label per calendar row (PHASE_LABELS); weekly calendars use the week's main phase."""
    n = len(calendar)

    def flag(name: str) -> np.ndarray:
        return calendar[name].to_numpy(dtype=float) > 0.5 if name in calendar else np.zeros(n, bool)

    labels = np.full(n, "regular", dtype=object)
    in_event = flag("is_event")
    if freq != "W":
        starts = in_event & ~np.concatenate([[False], in_event[:-1]])
        warm = np.zeros(n, bool)
        for k in range(1, WARMUP_DAYS + 1):
            warm[: max(n - k, 0)] |= starts[k:]  # a period shorter than the warm-up: nothing to shift
        labels[warm & ~in_event] = "warmup"
    labels[in_event] = "event"
    labels[flag("phase_presale")] = "presale"
    labels[flag("phase_peak")] = "peak"
    labels[flag("phase_day")] = "day"
    labels[flag("ev_cny_slowdown")] = "slowdown"
    return labels.astype(str)


def pacing_index(spend: pd.DataFrame, labels: np.ndarray, shrink_days: int = 7) -> pd.DataFrame:
    """Channels x PHASE_LABELS: mean daily spend in the phase / mean on regular days.

    Phases seen on few days are shrunk toward 1 (as if `shrink_days` regular days were added).
    """
    labels = np.asarray(labels)
    rows = {}
    for channel in spend.columns:
        values = spend[channel].to_numpy(dtype=float)
        regular = values[labels == "regular"]
        level = regular.mean() if regular.size and regular.mean() > 0 else max(values.mean(), 1e-9)
        index = {}
        for label in PHASE_LABELS:
            seen = values[labels == label]
            ratio = seen.mean() / level if seen.size else 1.0
            index[label] = float(
                np.clip((ratio * seen.size + shrink_days) / (seen.size + shrink_days), 0.1, 10.0)
            )
        rows[channel] = index
    return pd.DataFrame.from_dict(rows, orient="index", columns=list(PHASE_LABELS))


def daily_weights(index: pd.DataFrame, channels: list[str], labels: np.ndarray) -> np.ndarray:
    """(channels x days) shares of each channel's total per day of the period; rows sum to 1."""
    weights = np.ones((len(channels), len(labels)))
    for i, channel in enumerate(channels):
        if channel in index.index:
            weights[i] = index.loc[channel].reindex(labels).fillna(1.0).to_numpy(dtype=float)
    return weights / weights.sum(axis=1, keepdims=True)
