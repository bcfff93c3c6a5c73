"""Ranking metrics on cases small enough to compute by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from daiyun.training.trainers.selection_metrics import (
    captured_revenue_at_k,
    ndcg_at_k,
    precision_at_k,
    ranking_metrics,
)

# four SKUs: what they sold, and a model that likes the wrong one best
ACTUAL = [10.0, 0.0, 5.0, 0.0]
SCORE = [0.1, 0.9, 0.5, 0.2]  # our order: sku1 (0), sku2 (5), sku3 (0), sku0 (10)


def test_ndcg_uses_revenue_as_gain() -> None:
    # k=2: DCG = 0/log2(2) + 5/log2(3); ideal = 10/log2(2) + 5/log2(3)
    dcg, ideal = 5 / math.log2(3), 10 + 5 / math.log2(3)
    assert ndcg_at_k(ACTUAL, SCORE, 2) == pytest.approx(dcg / ideal)
    assert ndcg_at_k(ACTUAL, SCORE, 2) == pytest.approx(0.23981, abs=1e-4)
    # k beyond the group: everything counts; sku0 is 4th, discounted by log2(5)
    assert ndcg_at_k(ACTUAL, SCORE, 10) == pytest.approx((dcg + 10 / math.log2(5)) / ideal)
    assert ndcg_at_k(ACTUAL, ACTUAL, 2) == pytest.approx(1.0)


def test_captured_revenue_and_precision() -> None:
    assert captured_revenue_at_k(ACTUAL, SCORE, 2) == pytest.approx(5 / 15)
    assert captured_revenue_at_k(ACTUAL, SCORE, 1) == pytest.approx(0.0)
    assert captured_revenue_at_k(ACTUAL, SCORE, 10) == pytest.approx(1.0)
    assert precision_at_k(ACTUAL, SCORE, 2) == pytest.approx(0.5)  # {sku1, sku2} vs {sku0, sku2}
    assert precision_at_k(ACTUAL, SCORE, 10) == pytest.approx(1.0)  # k capped at the group size


def test_no_revenue_means_no_ranking_to_score() -> None:
    assert math.isnan(ndcg_at_k([0, 0], [1, 2], 10))
    assert math.isnan(captured_revenue_at_k([0, 0], [1, 2], 10))
    assert math.isnan(precision_at_k([0, 0], [1, 2], 10))


def test_ranking_metrics_one_row_per_group() -> None:
    frame = pd.DataFrame({
        "brand": "acme", "platform": ["tmall"] * 4 + ["jd"] * 4, "as_of": pd.Timestamp("2026-10-15"),
        "target": ACTUAL + ACTUAL, "score": SCORE + list(np.array(ACTUAL) + 1),
    })
    table = ranking_metrics(frame, ks=(2,)).set_index("platform")
    assert table.loc["jd", "ndcg_at_2"] == pytest.approx(1.0)
    assert table.loc["tmall", "captured_revenue_at_2"] == pytest.approx(1 / 3)
    assert table["n_skus"].tolist() == [4, 4]
