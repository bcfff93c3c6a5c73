"""Figures of a budget fit, logged to MLflow: response curves with current and recommended spend
marked, and each platform's revenue against its baseline and the ads' contribution."""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402


def response_curves_figure(answer: dict, title: str = "") -> Figure:
    """One panel per channel: expected incremental revenue of the period against its spend."""
    curves = answer["curves"]
    rows = {row["channel"]: row for row in answer["channels"]}
    n = len(curves)
    cols = min(3, n)
    nrows = math.ceil(n / cols)
    figure, axes = plt.subplots(nrows, cols, figsize=(4.2 * cols, 3.2 * nrows), squeeze=False)
    for ax, (channel, points) in zip(axes.ravel(), curves.items(), strict=False):
        spend = [p["spend"] for p in points]
        revenue = [p["expected_revenue"] for p in points]
        ax.plot(spend, revenue, color="tab:blue", lw=2)
        row = rows[channel]
        ax.axvline(
            row["current_spend"], color="tab:gray", ls="--", label=f"current {row['current_spend']:,.0f}"
        )
        ax.axvline(row["spend"], color="tab:red", ls="-", label=f"recommended {row['spend']:,.0f}")
        ax.set_title(f"{channel} (mROI {row['marginal_roi']:.2f})", fontsize=9)
        ax.set_xlabel("period spend", fontsize=8)
        ax.set_ylabel("incremental revenue", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=7)
    for ax in axes.ravel()[n:]:
        ax.axis("off")
    figure.suptitle(
        title or f"{answer['brand']}: response curves {answer['start']} .. {answer['end']}", fontsize=10
    )
    figure.tight_layout()
    return figure


def fit_figure(fitted: pd.DataFrame, holdout_start: pd.Timestamp, title: str = "") -> Figure:
    """Per platform: actual revenue, fitted, and the baseline under it (the gap is the ads)."""
    platforms = sorted(fitted["platform"].unique())
    figure, axes = plt.subplots(len(platforms), 1, figsize=(11, 2.4 * len(platforms)), squeeze=False)
    for ax, platform in zip(axes[:, 0], platforms, strict=True):
        part = fitted[fitted["platform"].eq(platform)].sort_values("date")
        ax.plot(part["date"], part["revenue"], color="black", lw=0.6, label="revenue")
        ax.plot(part["date"], part["fitted"], color="tab:blue", lw=0.8, label="fitted")
        ax.fill_between(part["date"], 0, part["baseline"], color="tab:gray", alpha=0.3, label="baseline")
        ax.axvline(holdout_start, color="tab:red", ls="--", lw=0.8, label="holdout starts")
        ax.set_title(platform, fontsize=9)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=7, loc="upper left")
    figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    return figure
