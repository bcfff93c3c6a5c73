"""Level accuracy by reconciliation: aggregate forecasts pulled into the SKU rows, which still sum exactly.

A SKU model's sums are often weaker at the brand total or a platform than a statistical model fitted on
that total (errors of hundreds of small series do not cancel as a total's own model assumes). Here each
aggregate node (brand total, each platform, each category) has a base forecast of its own, the SKU
forecasts are the bottom base, and the reconciled SKU forecasts are the weighted-least-squares (MinT
with a diagonal covariance, "WLS") projection onto coherent forecasts:

    b~ = b^ + W_b S' (S W_b S' + W_a)^-1 (a^ - S b^)

S sums SKUs into the aggregate nodes, W_b / W_a are the error variances of the bottom and aggregate
base forecasts (measured in the backtest windows). A node whose own forecast is much more precise than
the sum of its SKUs pulls them towards it; each SKU moves in proportion to its own error variance, so
big noisy series absorb most of the correction and small steady ones barely move. Only an A x A system
is solved (A = number of aggregate nodes), per forecast period. The reconciled rows are floored at 0;
aggregates are then always reported as sums of the SKU rows, so they add up exactly.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

AGGREGATE_LEVELS = {"brand": [], "platform": ["platform"], "category": ["category"]}


def summing_matrix(
    keys: pd.DataFrame, levels: dict[str, list[str]] | None = None
) -> tuple[np.ndarray, pd.DataFrame]:
    """(A x N) 0/1 matrix summing the N series of `keys` (platform, sku_id, category) into the
    aggregate nodes, and the nodes (level, label) in row order."""
    levels = AGGREGATE_LEVELS if levels is None else levels
    rows, labels = [], []
    for level, columns in levels.items():
        label = (
            pd.Series("total", index=keys.index)
            if not columns
            else keys[columns].astype(str).agg("|".join, axis=1)
        )
        for value in sorted(label.unique()):
            rows.append((label == value).to_numpy(float))
            labels.append((level, value))
    return np.vstack(rows), pd.DataFrame(labels, columns=["level", "label"])


def wls_reconcile(
    bottom: np.ndarray,
    aggregate: np.ndarray,
    summing: np.ndarray,
    bottom_variance: np.ndarray,
    aggregate_variance: np.ndarray,
) -> np.ndarray:
    """Reconciled bottom forecasts (N x H) from base bottom (N x H) and aggregate (A x H) forecasts.

    Variances are per series (N,) and per node (A,), or per series and period (N x H) / (A x H).
    NaN aggregate forecasts (a node without its own model) keep the bottom-up sum there.
    """
    bottom = np.asarray(bottom, float)
    aggregate = np.asarray(aggregate, float)
    n, horizon = bottom.shape
    w_b = np.broadcast_to(
        np.clip(np.asarray(bottom_variance, float).reshape(n, -1), 1e-9, None), (n, horizon)
    )
    a = summing.shape[0]
    w_a = np.broadcast_to(
        np.clip(np.asarray(aggregate_variance, float).reshape(a, -1), 1e-9, None), (a, horizon)
    )
    out = bottom.copy()
    for k in range(horizon):
        has = np.isfinite(aggregate[:, k])
        if not has.any():
            continue
        s = summing[has]
        gap = aggregate[has, k] - s @ bottom[:, k]
        scaled = s * w_b[:, k][None, :]  # S W_b
        system = scaled @ s.T + np.diag(w_a[has, k])
        out[:, k] = bottom[:, k] + scaled.T @ np.linalg.solve(system, gap)
    return np.clip(out, 0.0, None)


def combination_weight(actual: np.ndarray, ours: np.ndarray, other: np.ndarray) -> tuple[float, float]:
    """Weight w in [0, 1] of `other` in w * other + (1 - w) * ours that minimises the squared error on
    past windows, and that combination's mean squared error (the aggregate's variance for WLS).

    A statistical aggregate model that did not help in the backtest gets w = 0: the node then keeps the
    SKU rows' sum and reconciliation changes nothing there.
    """
    actual, ours, other = (np.asarray(x, float) for x in (actual, ours, other))
    ok = np.isfinite(actual) & np.isfinite(ours) & np.isfinite(other)
    if not ok.any():
        return 0.0, float("nan")
    y, d, e = actual[ok], ours[ok], other[ok]
    spread = float(((e - d) ** 2).sum())
    w = float(np.clip(((y - d) * (e - d)).sum() / spread, 0.0, 1.0)) if spread > 0 else 0.0
    return w, float(np.mean((y - (w * e + (1 - w) * d)) ** 2))
