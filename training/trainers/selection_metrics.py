"""Ranking metrics for product selection, with revenue as the gain.

Within one group (a platform at one as_of), with `actual` the revenue each SKU realised over the
horizon and `score` the model's ordering:
- NDCG@k: sum over our top k of actual / log2(position + 1), divided by the same sum for the
  true top k (the best possible ordering).
- captured revenue @k: actual revenue of our top k / actual revenue of the true top k.
- precision@k: share of our top k that are in the true top k.
Ties in the score are broken by row order (stable), so a constant score ranks as given. A group
with no revenue at all has no meaningful ranking and yields NaN; groups smaller than k use all
their rows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

KS = (10, 20)


def _orders(actual, score) -> tuple[np.ndarray, np.ndarray]:
    actual = np.nan_to_num(np.asarray(actual, dtype=float), nan=0.0)
    score = np.asarray(score, dtype=float)
    ours = actual[np.argsort(-score, kind="stable")]
    best = np.sort(actual)[::-1]
    return ours, best


def ndcg_at_k(actual, score, k: int) -> float:
    ours, best = _orders(actual, score)
    discount = 1.0 / np.log2(np.arange(2, min(k, len(best)) + 2))
    ideal = float((best[:k] * discount).sum())
    return float((ours[:k] * discount).sum() / ideal) if ideal > 0 else np.nan


def captured_revenue_at_k(actual, score, k: int) -> float:
    ours, best = _orders(actual, score)
    ideal = float(best[:k].sum())
    return float(ours[:k].sum() / ideal) if ideal > 0 else np.nan


def precision_at_k(actual, score, k: int) -> float:
    actual = np.nan_to_num(np.asarray(actual, dtype=float), nan=0.0)
    if actual.sum() <= 0:
        return np.nan
    k = min(k, len(actual))
    ours = set(np.argsort(-np.asarray(score, dtype=float), kind="stable")[:k])
    truth = set(np.argsort(-actual, kind="stable")[:k])
    return len(ours & truth) / k


def group_metrics(actual, score, ks=KS) -> dict[str, float]:
    out = {}
    for k in ks:
        out[f"ndcg_at_{k}"] = ndcg_at_k(actual, score, k)
        out[f"captured_revenue_at_{k}"] = captured_revenue_at_k(actual, score, k)
        out[f"precision_at_{k}"] = precision_at_k(actual, score, k)
    return out


def ranking_metrics(
    frame: pd.DataFrame, score: str = "score", actual: str = "target",
    groups=("brand", "platform", "as_of"), ks=KS,
) -> pd.DataFrame:
    """One row per group with every metric (and the group's size)."""
    keys = [g for g in groups if g in frame.columns]
    rows = []
    for key, part in frame.groupby(keys, sort=True):
        row = dict(zip(keys, key if isinstance(key, tuple) else (key,), strict=True))
        row["n_skus"] = len(part)
        row.update(group_metrics(part[actual].to_numpy(), part[score].to_numpy(), ks))
        rows.append(row)
    return pd.DataFrame(rows)


def captured_revenue_curve(frame: pd.DataFrame, score: str, actual: str = "target",
                           max_k: int = 50, groups=("brand", "platform", "as_of")) -> pd.Series:
    """Mean captured-revenue share over groups for k = 1..max_k (for the 'captured vs k' plot)."""
    keys = [g for g in groups if g in frame.columns]
    values = {
        k: np.nanmean([
            captured_revenue_at_k(part[actual].to_numpy(), part[score].to_numpy(), k)
            for _, part in frame.groupby(keys)
        ])
        for k in range(1, max_k + 1)
    }
    return pd.Series(values, name=score)
