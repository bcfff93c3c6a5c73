"""Day-window helpers of the simulator: paint many (series, start, end) windows at once, draw windows.

Windows are inclusive day indices on a brand's timeline; painting is vectorised over all windows so
that no Python loop runs over series or days.
"""

from __future__ import annotations

import numpy as np


def expand(
    rows: np.ndarray, starts: np.ndarray, ends: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every (row, day) cell the windows cover, and which window each cell came from."""
    lengths = np.maximum(ends - starts + 1, 0)
    window = np.repeat(np.arange(len(rows)), lengths)
    offset = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    return rows[window], starts[window] + offset, window


def paint(
    grid: np.ndarray, rows: np.ndarray, starts: np.ndarray, ends: np.ndarray, values: np.ndarray | float
) -> np.ndarray:
    """`grid` with each window's cells set to its value (windows are clipped to the grid)."""
    n_days = grid.shape[1]
    starts, ends = np.clip(starts, 0, n_days), np.clip(ends, -1, n_days - 1)
    cell_rows, cell_days, window = expand(rows, starts, ends)
    values = np.broadcast_to(np.asarray(values, dtype=grid.dtype), rows.shape)
    grid[cell_rows, cell_days] = values[window]
    return grid


def random_windows(
    rng: np.random.Generator,
    first: np.ndarray,
    last: np.ndarray,
    mean_gap: float,
    length: tuple[int, int],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Non-overlapping windows per row between first[row] and last[row]: (rows, starts, ends).

    Gaps are geometric with mean `mean_gap` days, lengths uniform in `length`; drawn for all rows
    at once as a (rows, k) matrix of cumulative sums.
    """
    n_rows = len(first)
    span = int(max(1, (last - first).max(initial=1)))
    k = int(span / (mean_gap + length[0])) * 2 + 4
    gaps = rng.geometric(1.0 / mean_gap, (n_rows, k))
    lengths = rng.integers(length[0], length[1] + 1, (n_rows, k))
    starts = first[:, None] + np.cumsum(gaps + lengths, axis=1) - lengths
    ends = starts + lengths - 1
    keep = ends <= last[:, None]
    rows = np.broadcast_to(np.arange(n_rows)[:, None], keep.shape)
    return rows[keep], starts[keep], ends[keep]


def runs(flag: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Starts and inclusive ends of the runs of True in a 1-D boolean array."""
    padded = np.concatenate([[False], flag.astype(bool), [False]])
    change = np.flatnonzero(padded[1:] != padded[:-1])
    return change[0::2], change[1::2] - 1
