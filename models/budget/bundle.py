"""The budget family's servable object: a brand's response curves, its spend history and calendar.

`BudgetBundle.recommend(start, end, total_budget, ...)` answers an ad buyer's question without
the data directory: the split of the budget across channels that maximises expected revenue (or
the largest spend that keeps a target ROI), with intervals from the bootstrap curves, the same for
the brand's current mix, the daily plan by event phase, and curve points for plotting.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from daiyun.features.errors import NotFoundError, RequestError
from daiyun.models.answer_cache import AnswerCache
from daiyun.models.budget.curves import ChannelCurves, geometric_adstock
from daiyun.models.budget.linked import LinkedCurves, linked_groups
from daiyun.models.budget.optimizer import Allocation, ResponseGrid, allocation_at, max_revenue
from daiyun.models.budget.optimizer import target_roi as solve_target_roi
from daiyun.models.budget.plan import daily_weights, pacing_index, phase_labels
from daiyun.models.budget.response import ResponseModel
from daiyun.models.budget.robust import (
    DEFAULT_MAX_SHIFT,
    MIN_CONFIDENCE,
    MIN_CONFIDENCE_UNTESTED,
    ExpectedCurves,
    by_channel,
    moved_share,
    revenue_interval,
    trust_region,
    unidentified_pairs,
    uplift_interval,
)

OBJECTIVES = ("max_revenue", "target_roi")
CONSTRAINT_KEYS = {"channel", "min", "max", "fixed"}
CURVE_POINTS = 21


@dataclass
class BudgetBundle:
    brand: str
    model: ResponseModel
    spend_history: pd.DataFrame  # dates x channels, the brand's daily spend
    events: pd.DataFrame  # the brand's own events table (the built-in calendar is added at answer time)
    freq: str = "D"
    metrics: dict[str, float] = field(default_factory=dict)
    model_version: str = ""
    model_name: str = ""
    gross_margin: float | None = None  # 1 - cost of goods / revenue, when unit costs are known

    def __post_init__(self) -> None:
        curves = self.model.curves_
        self.curves = curves.set_index("channel")
        self.platforms = dict(zip(curves["channel"], curves["platform"], strict=True))
        labels = phase_labels(
            self._calendar(self.spend_history.index.min(), self.spend_history.index.max()), self.freq
        )
        self.pacing = pacing_index(self.spend_history[list(self.curves.index)], labels)
        self._period_cache = AnswerCache()

    # the cache is per process: a pickle (MLflow, a copy) carries the model, never the cache
    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state.pop("_period_cache", None)
        state.pop("_unidentified_pairs", None)  # recomputed from the model and history: a newer rule applies
        state.pop("_unidentifiable", None)  # (bundles pickled before the pairs were kept)
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._period_cache = AnswerCache()

    def _cache(self) -> AnswerCache:
        cache = getattr(self, "_period_cache", None)  # bundles built before the cache existed
        if cache is None:
            cache = self._period_cache = AnswerCache()
        return cache

    # -- what the bundle knows -----------------------------------------------------------------
    def channels(self) -> list[str]:
        return list(self.curves.index)

    @property
    def history_end(self) -> pd.Timestamp:
        return pd.Timestamp(self.spend_history.index.max())

    def _calendar(self, start: pd.Timestamp, end: pd.Timestamp, platform: str | None = None) -> pd.DataFrame:
        from daiyun.features.calendar import calendar_frame

        return calendar_frame(
            start, end, events=self.events, brand=self.brand, platform=platform, freq=self.freq
        )

    def _period(self, start: Any, end: Any) -> pd.DatetimeIndex:
        try:
            first, last = pd.Timestamp(start), pd.Timestamp(end)
        except (TypeError, ValueError) as error:
            raise RequestError("start/end", f"not a date ({error})", "use YYYY-MM-DD") from None
        if pd.isna(first) or pd.isna(last):
            raise RequestError("start/end", "missing date", "give both start and end as YYYY-MM-DD")
        if last < first:
            raise RequestError("end", f"end {last.date()} is before start {first.date()}", "swap them")
        if (last - first).days > 366:
            raise RequestError("end", "period longer than a year", "ask for one promotion period at a time")
        if self.freq == "W":
            anchor = self.history_end
            offset = (first - anchor).days % 7
            first = first + pd.Timedelta(days=(7 - offset) % 7)
            dates = pd.date_range(first, last, freq="7D")
            if dates.empty:
                raise RequestError(
                    "end",
                    "the period holds no week start of this weekly brand",
                    "ask for at least one full week",
                )
            return dates
        return pd.date_range(first, last, freq="D")

    # -- building the period's curves --------------------------------------------------------
    def _stock(self, decay: np.ndarray, before: pd.Timestamp) -> np.ndarray:
        """Each channel's adstock on the day before the period (history spend, decayed over any gap)."""
        decay = np.asarray(decay, dtype=float)
        history = self.spend_history.loc[:before, self.channels()].iloc[-150:]  # 0.9^150: nothing left
        if history.empty:
            return np.zeros_like(decay)
        step = 7 if self.freq == "W" else 1
        gap = max(0, (before - pd.Timestamp(history.index.max())).days // step)
        flat = decay.reshape(-1, decay.shape[-1])
        values = history.to_numpy(dtype=float)
        stocks = np.stack([geometric_adstock(values, d)[-1] for d in flat]) * np.power(flat, gap)
        return stocks.reshape(decay.shape)

    def period_curves(self, dates: pd.DatetimeIndex) -> tuple[ChannelCurves, np.ndarray, np.ndarray]:
        """Curves of every channel for this period's plan; also the plan (channels x days) and labels.

        They depend on the dates only (not on the budget or constraints) and are most of a request's
        time, so the last few periods' are kept (read-only arrays; a fresh curves object each call).
        """
        curves, pacing, labels, _, _ = self._period_entry(dates)
        return replace(curves), pacing, labels

    def expected_curves(self, dates: pd.DatetimeIndex) -> tuple[ChannelCurves | ExpectedCurves, ResponseGrid]:
        """The period's curves averaged over the bootstrap (what the optimizer maximises) and their
        revenue on a wide spend grid. Both depend on the dates only, and evaluating the grid was most
        of a request (twice: the split and the break-even search), so they are kept with the period's
        curves and every budget, bound and objective asked for the period reuses them."""
        return self._period_entry(dates)[3:]

    def _period_entry(self, dates: pd.DatetimeIndex) -> tuple:
        """(curves, pacing, labels, expected curves, response grid) of a period: one cache entry."""
        dates = pd.DatetimeIndex(dates)
        key = (dates[0], dates[-1], len(dates), self.freq, self.history_end)

        def build() -> tuple:
            curves, pacing, labels = _frozen(self._build_period_curves(dates))
            expected = ExpectedCurves.of(curves)
            return curves, pacing, labels, expected, ResponseGrid.of(expected)

        return self._cache().get(key, build)

    def _build_period_curves(self, dates: pd.DatetimeIndex) -> tuple[ChannelCurves, np.ndarray, np.ndarray]:
        channels = self.channels()
        labels = phase_labels(self._calendar(dates[0], dates[-1]), self.freq)
        pacing = daily_weights(self.pacing, channels, labels)
        c = self.curves
        before = dates[0] - pd.Timedelta(days=7 if self.freq == "W" else 1)
        draws = dict(self.model.draws_)
        draws["stock"] = self._stock(draws["decay"], before)
        traffic = self._traffic(dates) if "traffic_share" in c else None
        curves = ChannelCurves.from_parameters(
            channels,
            pacing,
            c["decay"].to_numpy(),
            c["half_saturation"].to_numpy(),
            c["shape"].to_numpy(),
            c["beta"].to_numpy(),
            stock=self._stock(c["decay"].to_numpy(), before),
            draws=draws,
            traffic_share=c["traffic_share"].to_numpy() if traffic is not None else None,
            traffic=traffic,
        )
        return curves, pacing, labels

    def _traffic(self, dates: pd.DatetimeIndex) -> np.ndarray | None:
        """(channels, period + the longest carry-over tail): each channel's platform traffic index."""
        from daiyun.models.budget.curves import tail_length
        from daiyun.models.budget.traffic import traffic_index

        fits = getattr(self.model, "traffic_", None)
        if not fits:
            return None
        step = 7 if self.freq == "W" else 1
        steps = len(dates) + tail_length(0.999)
        end = dates[0] + pd.Timedelta(days=step * (steps - 1))
        index = {}
        out = np.ones((len(self.channels()), steps))
        for i, channel in enumerate(self.channels()):
            platform = self.platforms[channel]
            if platform not in fits:
                continue
            if platform not in index:
                calendar = self._calendar(dates[0], end, platform)
                values = traffic_index(calendar, *fits[platform])
                index[platform] = np.resize(values, steps)  # weekly calendars: one row per week
            out[i] = index[platform]
        return out

    # -- constraints -------------------------------------------------------------------------
    def _bounds(
        self, channels: list[dict] | None, budget: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        names = self.channels()
        lower, upper, fixed = np.zeros(len(names)), np.full(len(names), np.inf), np.zeros(len(names), bool)
        seen: set[str] = set()
        for i, constraint in enumerate(channels or []):
            if not isinstance(constraint, dict):
                raise RequestError(
                    f"channels[{i}]",
                    "each constraint is an object",
                    'use {"channel": "tmall_ztc", "min": 1000}',
                )
            unknown = set(constraint) - CONSTRAINT_KEYS
            if unknown:
                raise RequestError(
                    f"channels[{i}].{sorted(unknown)[0]}",
                    "unknown constraint key",
                    "use channel, min, max or fixed",
                )
            name = str(constraint.get("channel", ""))
            if name not in names:
                raise NotFoundError("channel", name, names)
            if name in seen:
                raise RequestError(
                    f"channels[{name}]", "channel constrained twice", "merge the two constraints"
                )
            seen.add(name)
            values = {}
            for key in ("min", "max", "fixed"):
                raw = constraint.get(key)
                if raw is None:
                    continue
                try:
                    value = float(raw)
                except (TypeError, ValueError):
                    raise RequestError(
                        f"channels[{name}].{key}", f"not a number: {raw!r}", "give a spend"
                    ) from None
                if not math.isfinite(value) or value < 0:
                    raise RequestError(
                        f"channels[{name}].{key}",
                        f"{key} spend must be a number >= 0, got {raw}",
                        "give a non-negative spend",
                    )
                values[key] = value
            j = names.index(name)
            lo, hi = values.get("min", 0.0), values.get("max", np.inf)
            if lo > hi:
                raise RequestError(
                    f"channels[{name}].min",
                    f"min {lo:,.2f} is above max {hi:,.2f}",
                    "lower the min or raise the max",
                )
            if "fixed" in values:
                fx = values["fixed"]
                if fx < lo or fx > hi:
                    raise RequestError(
                        f"channels[{name}].fixed",
                        f"fixed {fx:,.2f} is outside [min {lo:,.2f}, max {hi:,.2f}]",
                        "drop min/max or move the fixed spend inside them",
                    )
                lo = hi = fx
                fixed[j] = True
            lower[j], upper[j] = lo, hi
        committed = lower.sum()
        if committed > budget * (1 + 1e-12):
            held = ", ".join(f"{n} {v:,.2f}" for n, v in zip(names, lower, strict=True) if v > 0)
            raise RequestError(
                "channels",
                f"the minimum and fixed spends add up to {committed:,.2f}, above "
                f"total_budget {budget:,.2f} ({held})",
                "raise total_budget or lower them",
            )
        return lower, upper, fixed

    # -- the answer --------------------------------------------------------------------------
    def has_lift_tests(self) -> bool:
        """Was the fit calibrated with the brand's lift tests (the `experiments` table)?"""
        tests = getattr(self.model, "experiments", None)
        return tests is not None and not tests.empty

    def recommend(
        self,
        start: Any,
        end: Any,
        total_budget: float,
        objective: str = "max_revenue",
        target_roi: float | None = None,
        channels: list[dict] | None = None,
        max_shift: float | None = None,
        breakeven_roi: float | None = None,
        min_confidence: float | None = None,
    ) -> dict:
        """The budget split for [start, end] (see INTERFACES.md /recommend_budget).

        Do no harm: the split maximises the revenue expected over the bootstrap curves, and each
        channel stays within current spend x (1 -/+ shift), shift up to `max_shift` (default
        DEFAULT_MAX_SHIFT; narrower where the curves are uncertain). Channels the data cannot tell
        apart move together, in their current ratio (0.1 around their current spend where the user
        constrains one of them). The user's min/max/fixed constraints win over that region. A split less
        than `min_confidence` sure to beat the current mix is made only as far (in 5% steps of the
        move) as is that sure; no part of it: the current mix is kept. Its default is
        MIN_CONFIDENCE where the fit has the brand's lift tests, else MIN_CONFIDENCE_UNTESTED.
        `breakeven_roi` (default 1: a yuan of ads must bring back a yuan) sets the break-even
        budget the answer reports and warns past.
        """
        max_shift = _positive("max_shift", DEFAULT_MAX_SHIFT if max_shift is None else max_shift, "e.g. 0.5")
        if min_confidence is None:
            min_confidence = MIN_CONFIDENCE if self.has_lift_tests() else MIN_CONFIDENCE_UNTESTED
        margin = getattr(self, "gross_margin", None)  # bundles pickled before margins were kept
        basis = "given" if breakeven_roi is not None else "gross margin" if margin else "revenue"
        if breakeven_roi is None:
            breakeven_roi = 1.0 / margin if margin else 1.0
        breakeven_roi = _positive("breakeven_roi", breakeven_roi, "e.g. 1")
        try:
            budget = float(total_budget)
        except (TypeError, ValueError):
            raise RequestError(
                "total_budget", f"not a number: {total_budget!r}", "give the budget in yuan"
            ) from None
        if not math.isfinite(budget) or budget <= 0:
            raise RequestError(
                "total_budget", f"must be a number > 0, got {total_budget}", "give the budget in yuan"
            )
        if target_roi is not None and objective == "max_revenue":
            objective = "target_roi"  # asking for a target ROI is choosing that objective
        if objective not in OBJECTIVES:
            raise RequestError(
                "objective", f"unknown objective '{objective}'", "use max_revenue or target_roi"
            )
        if objective == "target_roi":
            if target_roi is None:
                raise RequestError(
                    "target_roi", "objective target_roi needs a target_roi", "e.g. target_roi=2.5"
                )
            target_roi = float(target_roi)
            if not math.isfinite(target_roi) or target_roi <= 0:
                raise RequestError("target_roi", f"must be a number > 0, got {target_roi}", "e.g. 2.5")
        dates = self._period(start, end)
        lower, upper, fixed = self._bounds(channels, budget)
        point, pacing, labels = self.period_curves(dates)
        curves, grid = self.expected_curves(dates)
        current_period, shares = self.current_mix(dates)
        hidden = self.unidentifiable()
        unidentified = np.array([c in hidden for c in self.channels()])
        # channels the data cannot tell apart move together in their current ratio (the data speak
        # to the group's spend, not its split); a group with a member the user constrains (min, max
        # or fixed) is held near its current spend instead, as the constraint is the user's own split
        constrained = fixed | (lower > 0) | np.isfinite(upper)
        groups = [g for g in self.linked_groups() if not constrained[g].any()]
        linked = np.zeros(len(unidentified), bool)
        for g in groups:
            linked[g] = True
        region_low, region_high, shift = trust_region(
            shares * budget, point, max_shift, unidentified & ~linked
        )
        # the user's own min / max win over the region (a max below the region's floor included)
        bounded_lower = np.where(fixed, lower, np.maximum(lower, np.minimum(region_low, upper)))
        bounded_upper = np.where(fixed, upper, np.maximum(np.minimum(upper, region_high), bounded_lower))
        met = None
        if groups:  # the linked problem is built only where some channels are linked (a request's hot path)
            joint = LinkedCurves.of(curves, groups, shares * budget)
            # the group spends that keep every member inside its region (a member with no share of the
            # group's spend gets none, whatever the group spends)
            with np.errstate(divide="ignore", invalid="ignore"):
                low_each = np.where(joint.share > 0, bounded_lower / joint.share, 0.0)
                high_each = np.where(joint.share > 0, bounded_upper / joint.share, np.inf)
            joint_lower = np.array([np.max(low_each[m]) for m in joint.members])
            joint_upper = np.maximum(np.array([np.min(high_each[m]) for m in joint.members]), joint_lower)
            joint_fixed = np.array([bool(fixed[m].any()) for m in joint.members])  # singletons only
            joint_grid = ResponseGrid.of(joint)
            if objective == "target_roi":
                found, met = solve_target_roi(
                    joint, budget, joint_lower, joint_upper, target_roi, joint_fixed, joint_grid
                )
            else:
                found = max_revenue(joint, budget, joint_lower, joint_upper, joint_fixed, joint_grid)
            # a linked member may move as far as its group: the bounds it is reported and held to
            bounded_lower = np.where(linked, joint.expand(joint_lower), bounded_lower)
            bounded_upper = np.where(linked, joint.expand(joint_upper), bounded_upper)
            allocation = allocation_at(
                curves, joint.expand(found.spend), budget, bounded_lower, bounded_upper, fixed
            )
        elif objective == "target_roi":
            allocation, met = solve_target_roi(
                curves, budget, bounded_lower, bounded_upper, target_roi, fixed, grid
            )
        else:
            allocation = max_revenue(curves, budget, bounded_lower, bounded_upper, fixed, grid)
        current_spend = shares * allocation.total_spend
        current_revenue = curves.revenue(current_spend)
        held, part = None, 1.0
        if objective == "max_revenue":
            # do no harm: a move the model is not sure beats the current mix (model error included)
            # is not made whole; the split goes only as far toward it from the current mix (inside
            # the user's own constraints) as still beats that mix with min_confidence
            beats = _prob_beats(curves, current_spend, current_revenue)
            sure = beats(allocation.spend)
            if sure is not None and sure < min_confidence:
                keep = np.where(fixed, lower, np.clip(shares * budget, lower, upper))
                part = _confident_part(beats, keep, allocation.spend, min_confidence)
                spend = keep + part * (allocation.spend - keep)
                allocation = max_revenue(
                    curves, budget, spend, np.maximum(spend, np.where(fixed, upper, spend)), fixed, grid
                )
                held = sure
        breakeven = self._breakeven(curves, budget, lower, upper, fixed, breakeven_roi, grid)
        answer = self._answer(
            dates,
            budget,
            objective,
            target_roi,
            met,
            curves,
            allocation,
            pacing,
            labels,
            current_period,
            current_spend,
            current_revenue,
        )
        answer["max_shift"] = _ratio(max_shift)
        answer["kept_current_mix"] = held is not None and part == 0.0
        if held is not None:  # the bounds notes describe the split not made
            answer["notes"] = [
                n for n in answer["notes"] if "bound" not in n and "channel(s) at its" not in n
            ]
        if held is not None and part == 0.0:
            answer["uplift"]["prob_beats_current"] = _ratio(held)  # of the split found, not made
            answer["notes"].append(
                f"kept the current mix: the best split found beats it with probability {held:.2f} only "
                f"(below {min_confidence:.2f}, model error included), not enough to move real money"
            )
        elif held is not None:
            answer["notes"].append(
                f"moved {part:.0%} of the way from the current mix to the best split found: the whole "
                f"move beats the current mix with probability {held:.2f} only (below {min_confidence:.2f}, "
                "model error included, which grows with the money moved); this part beats it with "
                f"probability {answer['uplift']['prob_beats_current']:.2f}"
            )
        if basis == "gross margin":
            breakeven["basis"] = f"1 / gross margin {margin:.2f}: a yuan of ads must pay for itself in profit"
        elif basis == "revenue":
            breakeven["basis"] = "1: a yuan of ads must bring back a yuan of revenue (no unit costs known)"
        else:
            breakeven["basis"] = "the breakeven_roi asked for"
        answer["breakeven"] = breakeven
        for i, row in enumerate(answer["channels"]):
            name = row["channel"]
            row["identifiable"] = name not in hidden
            row["allowed_min"] = _money(bounded_lower[i])
            row["allowed_max"] = _money(bounded_upper[i]) if np.isfinite(bounded_upper[i]) else None
            row["max_shift"] = _ratio(shift[i])
        answer["identifiable"] = not hidden
        for i, j, why in self.unidentified_pairs():
            if linked[i] and linked[j]:
                answer["notes"].append(f"{why}; they move together, in their current ratio")
            else:
                answer["notes"].append(f"{why}; both are kept near their current spend")
        if breakeven["past_breakeven"]:
            answer["notes"].append(
                f"the budget is past break-even: above {breakeven['budget']:,.0f} the next yuan of ads "
                f"brings back less than {breakeven_roi:.2f} yuan (marginal ROI at this budget "
                f"{breakeven['marginal_roi_at_budget']:.2f}); the best split of {breakeven['budget']:,.0f} "
                f"would bring an expected {breakeven['expected_revenue']:,.0f} of incremental revenue"
            )
        return answer

    def unidentified_pairs(self) -> list[tuple[int, int, str]]:
        """Pairs of channels the fit cannot tell apart (indices into channels(), why), computed once."""
        cached = getattr(self, "_unidentified_pairs", None)
        if cached is None:
            draws = getattr(self.model, "draws_", {}).get("beta")
            halo = getattr(self.model, "halo_", None)
            cached = self._unidentified_pairs = unidentified_pairs(
                self.spend_history, self.channels(), draws, platforms=self.platforms, halo=halo
            )
        return cached

    def unidentifiable(self) -> dict[str, str]:
        """Channels the fit cannot tell apart from another: channel -> why (its first pair)."""
        return by_channel(self.unidentified_pairs(), self.channels())

    def linked_groups(self) -> list[np.ndarray]:
        """Groups of channels (indices) joined by pairs the fit cannot tell apart."""
        return linked_groups([(i, j) for i, j, _ in self.unidentified_pairs()], len(self.channels()))

    def _breakeven(
        self,
        curves: Any,
        budget: float,
        lower: np.ndarray,
        upper: np.ndarray,
        fixed: np.ndarray,
        breakeven_roi: float,
        grid: ResponseGrid | None = None,
    ) -> dict:
        """The budget at which the best split's marginal ROI falls to `breakeven_roi`, its revenue,
        and whether the asked budget is past it (user constraints kept, no trust region: the
        question is what the money can earn, not how far to move from today's mix)."""
        from daiyun.models.budget.optimizer import breakeven_budget

        at, revenue, slope = breakeven_budget(curves, budget, lower, upper, fixed, breakeven_roi, grid=grid)
        return {
            "roi": _ratio(breakeven_roi),
            "budget": _money(at),
            "expected_revenue": _money(revenue),
            "marginal_roi_at_budget": _ratio(slope),
            "past_breakeven": bool(at is not None and budget > at * 1.01),
        }

    def current_mix(self, dates: pd.DatetimeIndex) -> tuple[tuple[pd.Timestamp, pd.Timestamp], np.ndarray]:
        """The last comparable period and each channel's share of its spend.

        Comparable: the same dates a year earlier (52 weeks, same weekdays) when the history covers
        them, else the most recent period of the same length. No spend at all: equal shares.
        """
        history = self.spend_history[self.channels()]
        length = len(dates)
        year_ago = dates - pd.Timedelta(days=364)
        if year_ago[0] >= history.index.min() and year_ago[-1] <= history.index.max():
            window = history.loc[year_ago[0] : year_ago[-1]]
        else:
            window = history.iloc[-length:]
        totals = window.sum().to_numpy(dtype=float)
        shares = totals / totals.sum() if totals.sum() > 0 else np.full(len(totals), 1.0 / len(totals))
        return (pd.Timestamp(window.index.min()), pd.Timestamp(window.index.max())), shares

    def _answer(
        self,
        dates,
        budget,
        objective,
        target,
        met,
        curves,
        allocation,
        pacing,
        labels,  # noqa: ANN001
        current_period,
        current_spend,
        current_revenue,
    ) -> dict:
        spend = allocation.spend
        draws = curves.revenue_draws(spend)
        current_draws = curves.revenue_draws(current_spend)
        current_slope = curves.marginal_roi(current_spend)

        low, high = revenue_interval(allocation.revenue, draws)
        rows = []
        for i, name in enumerate(curves.channels):
            rows.append(
                {
                    "channel": name,
                    "platform": self.platforms[name],
                    "spend": _money(spend[i]),
                    "share": _ratio(spend[i] / max(allocation.total_spend, 1e-12)),
                    "expected_revenue": _money(allocation.revenue[i]),
                    "p10": _money(low[i]) if low is not None else None,
                    "p90": _money(high[i]) if high is not None else None,
                    "roi": _ratio(allocation.revenue[i] / spend[i]) if spend[i] > 0 else None,
                    "marginal_roi": _ratio(allocation.marginal_roi[i]),
                    "bound": allocation.status[i],
                    "current_spend": _money(current_spend[i]),
                    "current_expected_revenue": _money(current_revenue[i]),
                }
            )
        total_revenue, current_total = allocation.total_revenue, float(current_revenue.sum())
        total_low, total_high = revenue_interval(
            total_revenue, draws.sum(axis=1) if draws is not None else None
        )
        cur_low, cur_high = revenue_interval(
            current_total, current_draws.sum(axis=1) if current_draws is not None else None
        )
        gain_draws = None if draws is None else draws.sum(axis=1) - current_draws.sum(axis=1)
        gain_low, gain_high, beats = uplift_interval(
            total_revenue - current_total, gain_draws, current_total, moved_share(spend, current_spend)
        )
        notes = self._notes(allocation, objective, target, met)
        return {
            "brand": self.brand,
            "start": str(dates[0].date()),
            "end": str(dates[-1].date()),
            "objective": objective,
            "target_roi": target,
            "target_met": met,
            "total_budget": _money(budget),
            "channels": rows,
            "totals": {
                "spend": _money(allocation.total_spend),
                "unspent": _money(budget - allocation.total_spend),
                "expected_revenue": _money(total_revenue),
                "p10": _money(total_low),
                "p90": _money(total_high),
                "roi": _ratio(total_revenue / allocation.total_spend) if allocation.total_spend > 0 else None,
                "marginal_roi": _ratio(allocation.shadow_price)
                if math.isfinite(allocation.shadow_price)
                else None,
            },
            "marginal_roi_equalized": allocation.equalized,
            "current_mix": {
                "period_start": str(current_period[0].date()),
                "period_end": str(current_period[1].date()),
                "channels": [
                    {
                        "channel": name,
                        "share": _ratio(current_spend[i] / max(current_spend.sum(), 1e-12)),
                        "spend": _money(current_spend[i]),
                        "expected_revenue": _money(current_revenue[i]),
                        "roi": _ratio(current_revenue[i] / current_spend[i])
                        if current_spend[i] > 0
                        else None,
                        "marginal_roi": _ratio(current_slope[i]),
                    }
                    for i, name in enumerate(curves.channels)
                ],
                "totals": {
                    "spend": _money(current_spend.sum()),
                    "expected_revenue": _money(current_total),
                    "p10": _money(cur_low),
                    "p90": _money(cur_high),
                    "roi": _ratio(current_total / current_spend.sum()) if current_spend.sum() > 0 else None,
                },
            },
            "uplift": {
                "expected_revenue": _money(total_revenue - current_total),
                "p10": _money(gain_low),
                "p90": _money(gain_high),
                "ratio": _ratio(total_revenue / current_total - 1.0) if current_total > 0 else None,
                # share of the bootstrap curves on which the recommendation out-earns the current mix
                "prob_beats_current": _ratio(beats),
            },
            "daily_plan": self._daily_plan(dates, labels, pacing, spend),
            "curves": self._curve_points(curves, spend, current_spend),
            "notes": notes,
            "model_versions": {
                "budget": self.model_version or "unregistered",
                "model": self.model_name or f"daiyun-budget-{self.brand}",
            },
        }

    @staticmethod
    def _notes(allocation: Allocation, objective: str, target: float | None, met: bool | None) -> list[str]:
        notes = []
        free = allocation.status.count("free")
        if allocation.equalized:
            notes.append(
                f"marginal ROI is equalised at {allocation.shadow_price:.3f} across the {free} channels "
                "not held by a bound"
            )
        elif free == 1:
            notes.append("only one channel is free of its bounds: marginal ROIs cannot be equalised")
        elif free == 0:
            notes.append(
                "every channel is held by a bound (min, max or fixed): marginal ROIs are not equalised"
            )
        for status, words in (
            ("min", "at its minimum (marginal ROI below the others')"),
            ("max", "at its maximum (marginal ROI above the others')"),
        ):
            held = allocation.status.count(status)
            if held:
                notes.append(f"{held} channel(s) {words}")
        if allocation.unspent > 1e-6 * max(allocation.total_spend, 1.0) and objective == "max_revenue":
            notes.append(
                f"{allocation.unspent:,.2f} of the budget is unspent: the channel maximums cap spend"
            )
        if objective == "target_roi":
            if met:
                notes.append(f"largest spend keeping expected ROI >= {target}")
            else:
                notes.append(f"no spend reaches expected ROI {target}: the smallest allowed spend is shown")
        notes.append(
            "expected revenue is incremental (what the ads add over the baseline), carry-over included; "
            "the daily plan follows the brand's historical pacing by event phase"
        )
        return notes

    def _daily_plan(
        self, dates: pd.DatetimeIndex, labels: np.ndarray, pacing: np.ndarray, spend: np.ndarray
    ) -> list[dict]:
        plan = pacing * spend[:, None]
        rows = []
        for t, date in enumerate(dates):
            for i, name in enumerate(self.channels()):
                rows.append(
                    {
                        "date": str(date.date()),
                        "phase": str(labels[t]),
                        "channel": name,
                        "spend": _money(plan[i, t]),
                    }
                )
        return rows

    def _curve_points(self, curves: ChannelCurves, spend: np.ndarray, current: np.ndarray) -> dict:
        top = np.maximum(np.maximum(spend, current) * 2.0, 1.0)
        grid = top[:, None] * np.linspace(0.0, 1.0, CURVE_POINTS)[None, :]
        revenue = curves.revenue(grid)
        slope = curves.marginal_roi(grid)
        return {
            name: [
                {
                    "spend": _money(grid[i, g]),
                    "expected_revenue": _money(revenue[i, g]),
                    "marginal_roi": _ratio(slope[i, g]),
                }
                for g in range(CURVE_POINTS)
            ]
            for i, name in enumerate(curves.channels)
        }

    def with_history(self, dataset: Any) -> BudgetBundle:
        """The same curves with the brand's newer spend (current mix, pacing, carry-in stock)."""
        from daiyun.features.ads_frame import daily_spend

        ads = dataset.for_brand(self.brand).ads
        if ads.empty:
            return self
        newer = daily_spend(ads, self.freq).reindex(columns=self.channels(), fill_value=0.0)
        if newer.index.max() <= self.history_end:
            return self
        merged = pd.concat([self.spend_history, newer.loc[newer.index > self.history_end]])
        return replace(self, spend_history=merged)

    # -- pyfunc entry ------------------------------------------------------------------------
    def predict_frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        """One request per row (start, end, total_budget[, objective, target_roi]); per-channel rows back."""
        out = []
        for i, request in enumerate(frame.to_dict("records")):
            target = request.get("target_roi")
            target = None if target is None or (isinstance(target, float) and math.isnan(target)) else target
            answer = self.recommend(
                request["start"],
                request["end"],
                request["total_budget"],
                objective=request.get("objective") or "max_revenue",
                target_roi=target,
                channels=request.get("channels") or None,
            )
            for row in answer["channels"]:
                out.append({"request": i, **{k: v for k, v in row.items()}})
        return pd.DataFrame(out)

    # -- scoring (champion gate) -------------------------------------------------------------
    def holdout_error(self, frame: pd.DataFrame, holdout_start: pd.Timestamp) -> float:
        return self.model.holdout_error(frame, holdout_start)


def _prob_beats(
    curves: Any, current_spend: np.ndarray, current_revenue: np.ndarray
) -> Callable[[np.ndarray], float | None]:
    """spend -> probability that it out-earns the current mix (bootstrap and model error). The
    current mix's own draws are computed once: the partial-move search asks up to 20 splits."""
    current_draws = curves.revenue_draws(current_spend)
    current_total = float(current_revenue.sum())

    def sure(spend: np.ndarray) -> float | None:
        gain_draws = curves.revenue_draws(spend)
        if gain_draws is not None:
            gain_draws = gain_draws.sum(axis=1) - current_draws.sum(axis=1)
        gain = float(curves.revenue(spend).sum()) - current_total
        return uplift_interval(gain, gain_draws, current_total, moved_share(spend, current_spend))[2]

    return sure


CONFIDENT_STEPS = 20  # the part of the move tried, in steps of 5% of it


def _confident_part(
    beats: Callable[[np.ndarray], float | None], keep: np.ndarray, best: np.ndarray, min_confidence: float
) -> float:
    """The largest part (0 to 1, in 5% steps) of the move from `keep` toward `best` that beats the
    current mix with `min_confidence`. The model error grows with the money moved while the expected
    gain of a move toward the optimum grows less than in proportion, so a shorter move can be sure
    where the whole one is not; 0 when no part is (the current mix is kept)."""
    for k in range(CONFIDENT_STEPS - 1, 0, -1):
        part = k / CONFIDENT_STEPS
        sure = beats(keep + part * (best - keep))
        if sure is not None and sure >= min_confidence:
            return part
    return 0.0


def _frozen(
    built: tuple[ChannelCurves, np.ndarray, np.ndarray],
) -> tuple[ChannelCurves, np.ndarray, np.ndarray]:
    """Cached curves are shared by every later request: an in-place write must fail, not leak.

    Read-only views, so arrays the curves share with the fitted model stay writable there.
    """

    def read_only(value: Any) -> Any:
        if not isinstance(value, np.ndarray):
            return value
        view = value.view()
        view.setflags(write=False)
        return view

    curves, pacing, labels = built
    curves = replace(curves, **{name: read_only(value) for name, value in vars(curves).items()})
    return curves, read_only(pacing), read_only(labels)


def _positive(field_name: str, value: Any, example: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise RequestError(field_name, f"not a number: {value!r}", example) from None
    if not math.isfinite(number) or number <= 0:
        raise RequestError(field_name, f"must be a number > 0, got {value}", example)
    return number


def _money(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return round(value, 2) if math.isfinite(value) else None


def _ratio(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return round(value, 4) if math.isfinite(value) else None


def build_bundle(
    brand: str, model: ResponseModel, spend_history: pd.DataFrame, events: pd.DataFrame, freq: str
) -> BudgetBundle:
    """The bundle for a fitted model (spend history restricted to the modelled channels)."""
    channels = list(model.curves_["channel"])
    return BudgetBundle(
        brand=brand,
        model=model,
        spend_history=spend_history[channels].copy(),
        events=events.copy(),
        freq=freq,
        metrics=dict(model.metrics_),
    )
