"""Ads: what was spent, what the platforms claim it returned, and what the response model says it added.

Platform-attributed ROI (attributed GMV / spend) counts every last-click sale, including those that
would have happened anyway; the model's incremental ROI counts only what the ads added, carry-over
included. Showing both side by side is the point of the section.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from daiyun.features.errors import RequestError
from daiyun.serving.report.model import Inputs, Section
from daiyun.serving.report.words import money, ratio

CURVE_POINTS = 41


def channel_totals(ads: pd.DataFrame, first: pd.Timestamp, last: pd.Timestamp) -> pd.DataFrame:
    rows = ads.loc[(ads["date"] >= first) & (ads["date"] <= last)]
    table = rows.groupby(["channel", "platform"], sort=True)[["spend", "attributed_revenue"]].sum(min_count=1)
    table = table.reset_index()
    table["platform_roi"] = table["attributed_revenue"] / table["spend"].where(table["spend"] > 0)
    return table


def ads(inputs: Inputs) -> Section:
    words, period = inputs.words, inputs.period
    section = Section("ads", words("ads"))
    table = channel_totals(inputs.dataset.ads, period.start, period.end)
    spend = float(table["spend"].sum()) if len(table) else 0.0
    section.numbers["spend"] = spend
    if spend <= 0:
        section.sentences.append(words("s_no_ads"))
        section.tables["channels"] = table
        return section
    attributed = float(table["attributed_revenue"].sum())
    section.numbers.update(attributed_revenue=attributed, platform_roi=attributed / spend)
    section.sentences.append(
        words("s_ads", spend=money(spend), attributed=money(attributed), roi=ratio(attributed / spend))
    )
    bundle = inputs.champions.budget
    if bundle is None:
        section.sentences.append(words("s_no_budget_model", why=inputs.champions.missing.get("budget", "")))
        section.tables["channels"] = table
        return section
    fresh = bundle.with_history(inputs.history_until(period.end))
    channels = fresh.channels()
    # the model only knows its own channels; a channel it never saw keeps its platform numbers only
    spent = table.set_index("channel")["spend"].reindex(channels, fill_value=0.0).to_numpy(dtype=float)
    curves, _, _ = fresh.period_curves(pd.DatetimeIndex(period.dates))
    incremental = curves.revenue(spent)
    model = pd.DataFrame(
        {"channel": channels, "incremental_revenue": incremental, "marginal_roi": curves.marginal_roi(spent)}
    )
    table = table.merge(model, on="channel", how="left")
    table["model_roi"] = table["incremental_revenue"] / table["spend"].where(table["spend"] > 0)
    section.tables["channels"] = table
    section.tables["response_curves"] = response_curves(curves, channels, spent)
    total_incremental = float(np.nansum(incremental))
    section.numbers.update(incremental_revenue=total_incremental, model_roi=total_incremental / spend)
    best = table.dropna(subset=["model_roi"]).sort_values("model_roi", ascending=False)
    if len(best):
        section.sentences.append(
            words(
                "s_ads_model",
                incremental=money(total_incremental),
                roi=ratio(total_incremental / spend),
                channel=best.iloc[0]["channel"],
                channel_roi=ratio(best.iloc[0]["model_roi"]),
            )
        )
    recommend_next(inputs, section, fresh, spend)
    return section


def response_curves(curves, channels: list[str], spent: np.ndarray) -> pd.DataFrame:  # noqa: ANN001
    """Incremental revenue over spend from 0 to twice this period's, per channel (long table)."""
    top = np.maximum(spent * 2.0, 1.0)
    grid = top[:, None] * np.linspace(0.0, 1.0, CURVE_POINTS)[None, :]
    revenue = curves.revenue(grid)
    return pd.DataFrame(
        {
            "channel": np.repeat(channels, CURVE_POINTS),
            "spend": grid.ravel(),
            "incremental_revenue": np.asarray(revenue).ravel(),
            "current_spend": np.repeat(spent, CURVE_POINTS),
        }
    )


def recommend_next(inputs: Inputs, section: Section, bundle, budget: float) -> None:  # noqa: ANN001
    """The budget model's split of the same budget over the next period, against the current mix."""
    words, following = inputs.words, inputs.period.following()
    try:
        answer = bundle.recommend(following.start, following.end, budget)
    except RequestError as error:
        section.sentences.append(words("s_no_budget_model", why=str(error)))
        return
    section.tables["next_period_split"] = pd.DataFrame(answer["channels"])[
        [
            "channel",
            "platform",
            "spend",
            "share",
            "expected_revenue",
            "p10",
            "p90",
            "roi",
            "marginal_roi",
            "current_spend",
            "current_expected_revenue",
        ]
    ]
    uplift = answer["uplift"]
    section.numbers.update(next_uplift=uplift["expected_revenue"] or 0.0)
    section.sentences.append(
        words(
            "s_ads_next",
            period=following.label(),
            budget=money(budget),
            uplift=money(uplift["expected_revenue"]),
            low=money(uplift["p10"]),
            high=money(uplift["p90"]),
        )
    )
