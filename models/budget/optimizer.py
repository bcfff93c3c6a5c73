"""Split a budget across channels: maximise expected revenue under per-channel bounds.

The problem is separable (each channel's revenue depends on its own spend), so it is solved
through its Lagrangian: for a price lambda on a yuan, each channel independently picks the spend
maximising revenue - lambda * spend inside its bounds, and lambda is bisected until the picks add
up to the budget. The picks are exact on a fine grid first (which stays correct for S-shaped
curves, where "marginal ROI = lambda" has two roots), then Newton steps on the channels held by
no bound solve marginal ROI = lambda and sum = budget to machine precision. At the optimum every
channel not held by a bound has the same marginal ROI; a channel at its minimum has a lower one,
a channel at its maximum a higher one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from daiyun.models.budget.curves import ChannelCurves

GRID_POINTS = 160
_REL_TOL = 1e-9
# A period's response grid spans every channel's saturation spend / 1e4 to x 1e4 (any budget a
# request can sensibly ask lies inside, a bound outside is added as a point of its own), 40 points
# a decade: 6% apart, fine enough to start Newton and to choose between the two roots of an
# S-shaped curve; the answer itself is Newton's, not the grid's.
RESPONSE_DECADES = 4.0
RESPONSE_POINTS_PER_DECADE = 40


@dataclass
class Allocation:
    spend: np.ndarray
    revenue: np.ndarray
    marginal_roi: np.ndarray
    status: list[str]  # per channel: "free", "min", "max" or "fixed"
    shadow_price: float  # the common marginal ROI of the free channels (lambda)
    unspent: float  # budget the bounds did not let us place
    equalized: bool  # free channels' marginal ROIs agree (relative spread below 1e-6)
    spread: float  # relative spread of the free channels' marginal ROIs

    @property
    def total_spend(self) -> float:
        return float(self.spend.sum())

    @property
    def total_revenue(self) -> float:
        return float(self.revenue.sum())


@dataclass(frozen=True)
class ResponseGrid:
    """Each channel's expected revenue on one wide spend grid that no budget or bound depends on.

    Evaluating the curves (every bootstrap member, every day of the period and its carry-over tail)
    on a grid is most of a solve; the period's grid is built once and every request for the period
    (any budget, bounds or objective) reuses it, adding only its own bounds as points.
    """

    spends: np.ndarray  # (C, G) ascending from 0
    values: np.ndarray  # (C, G) revenue at those spends
    bends: np.ndarray  # (C,) spend where marginal ROI peaks: past it a curve is concave

    @classmethod
    def of(cls, curves: Any) -> ResponseGrid:
        low, high = curves.saturation_spend()
        low = np.maximum(low, 1e-300)
        span = np.log10(np.maximum(high, low) / low) + 2 * RESPONSE_DECADES
        points = int(np.ceil(span.max() * RESPONSE_POINTS_PER_DECADE)) + 1
        share = np.linspace(0.0, 1.0, points)[None, :]
        start = low[:, None] * 10.0**-RESPONSE_DECADES
        geometric = start * np.power(10.0, span[:, None] * share)
        spends = np.concatenate([np.zeros((len(low), 1)), geometric], axis=1)
        values = curves.revenue(spends)
        # past the spend where marginal ROI peaks, a curve is concave: Newton lives there
        bends = spends[np.arange(len(low)), np.argmax(curves.marginal_roi(spends), axis=1)]
        for array in (spends, values, bends):
            array.setflags(write=False)  # shared by every request of the period
        return cls(spends, values, bends)


def _settled(new: np.ndarray, old: np.ndarray, atol: float) -> bool:
    """np.allclose(new, old, rtol=1e-13, atol) for finite spends, without its overhead (it ran at
    every Newton step)."""
    return bool(np.all(np.abs(new - old) <= atol + 1e-13 * np.abs(old)))


def _grid(lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """(C, G) spends per channel, denser near the minimum where curves bend."""
    share = np.linspace(0.0, 1.0, GRID_POINTS) ** 2
    return lower[:, None] + (upper - lower)[:, None] * share[None, :]


def _status(spend: np.ndarray, lower: np.ndarray, upper: np.ndarray, fixed: np.ndarray) -> list[str]:
    scale = np.maximum(1.0, np.where(np.isfinite(upper), np.abs(upper), np.abs(spend)))
    out = []
    for s, lo, hi, fx, sc in zip(spend, lower, upper, fixed, scale, strict=True):
        if fx:
            out.append("fixed")
        elif s <= lo + 1e-7 * sc:
            out.append("min")
        elif np.isfinite(hi) and s >= hi - 1e-7 * sc:
            out.append("max")
        else:
            out.append("free")
    return out


def _newton(
    curves: ChannelCurves,
    spend: np.ndarray,
    free: np.ndarray,
    budget_free: float,
    lower: np.ndarray,
    upper: np.ndarray,
    bends: np.ndarray,
) -> np.ndarray:
    """Solve marginal_roi_c(S_c) = lambda for the free channels with sum S_c = budget_free."""
    spend = spend.copy()
    sub = curves.subset(np.flatnonzero(free))
    lo, hi = lower[free], upper[free]
    floor = np.minimum(np.maximum(lo, bends[free]), hi)
    s = np.clip(spend[free], floor, hi)
    # a channel whose concave part starts above its upper bound cannot move: held there, and kept
    # out of the price equation (where 1 / its curvature, not negative, would swamp every other)
    movable = floor < hi
    for _ in range(60 if movable.any() else 0):
        slope, curvature = sub.slope_and_curvature(s)
        inverse = np.where(movable, 1.0 / np.minimum(curvature, -1e-300), 0.0)
        # the common price from the budget equation, then each channel's Newton step toward it
        price = (budget_free - s.sum() + np.sum(slope * inverse)) / np.sum(inverse)
        new = np.clip(s + (price - slope) * inverse, floor, hi)
        done = _settled(new, s, 1e-12 * max(1.0, budget_free))
        s = new
        if done:
            break
    # clipping can leave a small gap: spread it over the channels with headroom
    gap = budget_free - s.sum()
    if abs(gap) > _REL_TOL * max(1.0, budget_free):
        room = (hi - s) if gap > 0 else (s - lo)
        room = np.where(np.isfinite(room), room, abs(gap))
        if room.sum() > 0:
            s = s + np.sign(gap) * room * min(1.0, abs(gap) / room.sum())
    spend[free] = np.clip(s, lo, hi)
    return spend


class _Solver:
    """Everything about the curves and bounds that does not depend on the budget, computed once."""

    def __init__(
        self,
        curves: ChannelCurves,
        lower: np.ndarray,
        upper: np.ndarray,
        fixed: np.ndarray,
        largest_budget: float,
        grid: ResponseGrid | None = None,
    ) -> None:
        self.curves = curves
        self.lower = lower
        self.upper = np.minimum(upper, largest_budget)
        self.fixed = fixed
        self.rows = np.arange(len(lower))
        if grid is None:
            self.spends = _grid(lower, self.upper)
            self.values = curves.revenue(self.spends)
            probe = self.upper[:, None] * (np.linspace(0.0, 1.0, 200) ** 2)[None, :]
            # past the spend where marginal ROI peaks, a curve is concave: Newton lives there
            self.bends = probe[self.rows, np.argmax(curves.marginal_roi(probe), axis=1)]
        else:
            self.spends, self.values = _bounded(curves, grid, lower, self.upper)
            self.bends = grid.bends
        steep = np.diff(self.values, axis=1) / np.maximum(np.diff(self.spends, axis=1), 1e-300)
        self.top_price = float(np.max(steep, initial=0.0)) * 2.0 + 1e-9

    def picks(self, price: float, budget: float) -> np.ndarray:
        """Each channel's grid spend maximising revenue - price * spend (spend within the budget)."""
        gain = np.where(self.spends <= budget, self.values - price * self.spends, -np.inf)
        return self.spends[self.rows, np.argmax(gain, axis=1)]

    def exact_picks(self, price: float) -> np.ndarray:
        """Each channel's spend maximising revenue - price * spend inside its bounds, to Newton
        precision: the grid's pick, and the root of marginal ROI = price past the bend near it
        where that earns more (the grid is only accurate to its spacing)."""
        grid_pick = self.picks(price, np.inf)
        floor = np.minimum(np.maximum(self.lower, self.bends), self.upper)
        s = np.clip(grid_pick, floor, self.upper)
        for _ in range(60):
            slope, curvature = self.curves.slope_and_curvature(s)
            new = np.clip(s - (slope - price) / np.minimum(curvature, -1e-300), floor, self.upper)
            done = _settled(new, s, 1e-12 * max(1.0, float(self.upper.max())))
            s = new
            if done:
                break
        gain = self.curves.revenue(s) - price * s
        return np.where(gain >= self.curves.revenue(grid_pick) - price * grid_pick, s, grid_pick)

    def solve(self, budget: float) -> Allocation:
        lower, fixed = self.lower, self.fixed
        upper = np.minimum(self.upper, budget)
        if upper.sum() <= budget:
            return _summarise(self.curves, upper.copy(), budget, lower, upper, fixed)
        low, high = 0.0, self.top_price
        for _ in range(100):  # bisection on the price of a yuan
            mid = 0.5 * (low + high)
            if self.picks(mid, budget).sum() > budget:
                low = mid
            else:
                high = mid
        under, over = self.picks(high, budget), self.picks(low, budget)
        # channels moving between the two picks, or inside their bounds, are solved exactly
        free = ~fixed & ((np.abs(over - under) > 0) | ((under > lower) & (under < upper)))
        spend = under.copy()
        if free.any():
            spend[free] = np.maximum(over[free], under[free])
            spend = _newton(self.curves, spend, free, budget - spend[~free].sum(), lower, upper, self.bends)
            spend = _release(self.curves, spend, budget, lower, upper, self.bends, fixed)
            spend = self._try_entries(spend, budget, upper)
        return _summarise(self.curves, np.clip(spend, lower, upper), budget, lower, upper, fixed)

    def _try_entries(self, spend: np.ndarray, budget: float, upper: np.ndarray, tries: int = 5) -> np.ndarray:
        """S-shaped curves leave a duality gap: try funding the most promising channels left at
        their minimum (at their most efficient spend), keep whatever raises revenue."""
        status = np.array(_status(spend, self.lower, upper, self.fixed))
        idle = np.flatnonzero(status == "min")
        if idle.size == 0 or np.all(self.curves.shape[idle] <= 1.0):
            return spend
        gain = (self.values[idle] - self.values[idle, :1]) / np.maximum(
            self.spends[idle] - self.spends[idle, :1], 1e-300
        )
        efficiency = gain.max(axis=1)
        entry = self.spends[idle, np.argmax(gain, axis=1)]
        best, best_revenue = spend, self.curves.revenue(spend).sum()
        for k in np.argsort(-efficiency)[:tries]:
            channel = idle[k]
            trial = best.copy()
            trial[channel] = min(entry[k], upper[channel])
            free = np.array(_status(trial, self.lower, upper, self.fixed)) == "free"
            free[channel] = True
            trial = _newton(
                self.curves, trial, free, budget - trial[~free].sum(), self.lower, upper, self.bends
            )
            revenue = self.curves.revenue(trial).sum()
            if revenue > best_revenue * (1 + 1e-12) and abs(trial.sum() - best.sum()) <= 1e-6 * budget:
                best, best_revenue = trial, revenue
        return best


def max_revenue(
    curves: ChannelCurves,
    budget: float,
    lower: np.ndarray,
    upper: np.ndarray,
    fixed: np.ndarray | None = None,
    grid: ResponseGrid | None = None,
) -> Allocation:
    """The allocation of `budget` maximising expected revenue with lower <= spend <= upper.

    Feasibility (sum of lower <= budget, lower <= upper) is the caller's check; when the upper
    bounds add up to less than the budget, every channel sits at its maximum and the rest is
    reported as unspent. `grid`: the period's ResponseGrid of these curves (else one is built for
    these bounds).
    """
    lower = np.asarray(lower, dtype=float)
    fixed = _fixed(fixed, lower)
    return _Solver(curves, lower, np.asarray(upper, dtype=float), fixed, budget, grid).solve(budget)


def _bounded(
    curves: ChannelCurves, grid: ResponseGrid, lower: np.ndarray, upper: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The period grid cut to [lower, upper] per channel, the bounds added as points (spends outside
    are moved onto the nearer bound, so every row stays ascending): (C, G + 2) spends and revenue."""
    ends = np.stack([lower, upper], axis=1)
    end_values = curves.revenue(ends)
    below, above = grid.spends < lower[:, None], grid.spends > upper[:, None]
    inner = np.clip(grid.spends, lower[:, None], upper[:, None])
    inner_values = np.where(below, end_values[:, :1], np.where(above, end_values[:, 1:], grid.values))
    spends = np.concatenate([ends[:, :1], inner, ends[:, 1:]], axis=1)
    values = np.concatenate([end_values[:, :1], inner_values, end_values[:, 1:]], axis=1)
    return spends, values


def _release(
    curves: ChannelCurves,
    spend: np.ndarray,
    budget: float,
    lower: np.ndarray,
    upper: np.ndarray,
    bends: np.ndarray,
    fixed: np.ndarray,
) -> np.ndarray:
    """Re-solve while a free channel is pinned at a bound by Newton, or a bounded one wants in."""
    for _ in range(len(spend)):
        status = _status(spend, lower, upper, fixed)
        slope = curves.marginal_roi(spend)
        free_now = np.array([s == "free" for s in status])
        if not free_now.any():
            return spend
        price = float(np.median(slope[free_now]))
        wants_in = ~fixed & (
            ((np.array(status) == "min") & (slope > price * (1 + 1e-6)) & (spend < upper))
            | ((np.array(status) == "max") & (slope < price * (1 - 1e-6)) & (spend > lower))
        )
        if not wants_in.any():
            return spend
        free = free_now | wants_in
        budget_free = budget - spend[~free].sum()
        trial = _newton(curves, spend, free, budget_free, lower, upper, bends)
        # Newton from a bound can fail where a curve is steepest (a bootstrap member's start with
        # shape < 1): a re-solve that earns less than the split it started from is not taken
        if curves.revenue(trial).sum() < curves.revenue(spend).sum() * (1 - 1e-12):
            return spend
        spend = trial
    return spend


def allocation_at(
    curves: ChannelCurves,
    spend: np.ndarray,
    budget: float,
    lower: np.ndarray,
    upper: np.ndarray,
    fixed: np.ndarray | None = None,
) -> Allocation:
    """The Allocation of a split found elsewhere (e.g. for linked channels, spread back over them)."""
    lower = np.asarray(lower, dtype=float)
    return _summarise(
        curves,
        np.asarray(spend, dtype=float),
        budget,
        lower,
        np.asarray(upper, dtype=float),
        _fixed(fixed, lower),
    )


def _summarise(
    curves: ChannelCurves,
    spend: np.ndarray,
    budget: float,
    lower: np.ndarray,
    upper: np.ndarray,
    fixed: np.ndarray,
) -> Allocation:
    status = _status(spend, lower, upper, fixed)
    slope = curves.marginal_roi(spend)
    free = np.array([s == "free" for s in status])
    if free.any():
        price = float(np.mean(slope[free]))
        spread = float((slope[free].max() - slope[free].min()) / max(abs(price), 1e-300))
    else:
        price, spread = float("nan"), 0.0
    return Allocation(
        spend=spend,
        revenue=curves.revenue(spend),
        marginal_roi=slope,
        status=status,
        shadow_price=price,
        unspent=float(max(0.0, budget - spend.sum())),
        equalized=bool(free.sum() >= 2 and spread < 1e-6),
        spread=spread,
    )


def target_roi(
    curves: ChannelCurves,
    budget: float,
    lower: np.ndarray,
    upper: np.ndarray,
    target: float,
    fixed: np.ndarray | None = None,
    grid: ResponseGrid | None = None,
) -> tuple[Allocation, bool]:
    """The largest total spend up to `budget` whose best allocation keeps ROI >= target.

    Returns (allocation, met). When even the smallest feasible spend (the minimums) misses the
    target, that smallest allocation is returned with met = False.
    """
    lower = np.asarray(lower, dtype=float)
    upper = np.asarray(upper, dtype=float)
    fixed = _fixed(fixed, lower)
    solver = _Solver(curves, lower, upper, fixed, budget, grid)
    floor = float(lower.sum())
    ceiling = float(min(budget, np.minimum(upper, budget).sum()))

    def roi(allocation: Allocation) -> float:
        return allocation.total_revenue / max(allocation.total_spend, 1e-300)

    best = solver.solve(ceiling)
    if roi(best) >= target:
        return best, True
    # ROI along the efficient frontier can rise before it falls (S-shaped curves): scan, then bisect
    start = max(floor, ceiling * 1e-4)
    totals = np.unique(np.concatenate([[start], np.geomspace(start, ceiling, 16)]))
    scanned = [solver.solve(float(t)) for t in totals]
    good = [i for i, a in enumerate(scanned) if roi(a) >= target]
    if not good:
        if floor > 0:
            return solver.solve(floor), False
        zero = np.zeros_like(lower)
        return _summarise(curves, zero, 0.0, lower, upper, fixed), False
    i = good[-1]
    low, high = totals[i], totals[min(i + 1, len(totals) - 1)]
    found = scanned[i]
    for _ in range(40):
        if high - low <= 1e-6 * ceiling:
            break
        mid = 0.5 * (low + high)
        trial = solver.solve(mid)
        if roi(trial) >= target:
            low, found = mid, trial
        else:
            high = mid
    return found, True


def _fixed(fixed: np.ndarray | None, lower: np.ndarray) -> np.ndarray:
    return np.zeros(len(lower), bool) if fixed is None else np.asarray(fixed, bool)


def breakeven_budget(
    curves: ChannelCurves,
    budget: float,
    lower: np.ndarray,
    upper: np.ndarray,
    fixed: np.ndarray | None,
    breakeven_roi: float,
    reach: float = 20.0,
    grid: ResponseGrid | None = None,
) -> tuple[float | None, float | None, float]:
    """(budget where the best split's marginal ROI falls to `breakeven_roi`, its revenue, the
    marginal ROI at `budget`), looked for up to `reach` x budget.

    At the best split of any budget every free channel's marginal ROI equals one price; for the
    price `breakeven_roi` each channel's own best spend (revenue - price x spend, inside its bounds)
    is found independently, and their sum is the break-even budget. Those spends are the best split
    of their sum (no other split of it earns more at that price), so its revenue needs no solve.
    Budget None: even the minimums are past break-even.
    """
    lower = np.asarray(lower, dtype=float)
    fixed = _fixed(fixed, lower)
    solver = _Solver(curves, lower, np.asarray(upper, dtype=float), fixed, budget * reach, grid)

    def slope_at(total: float) -> float:
        step = max(total * 0.005, 1e-6)
        return (solver.solve(total + step).total_revenue - solver.solve(total).total_revenue) / step

    at_budget = slope_at(budget)
    picks = solver.exact_picks(breakeven_roi)
    at = float(picks.sum())
    if at <= float(lower.sum()) * (1 + 1e-9):
        return None, None, at_budget
    return at, float(curves.revenue(picks).sum()), at_budget
