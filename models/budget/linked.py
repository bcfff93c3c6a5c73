"""Channels the data cannot tell apart, moved together: one budget line per group, split in the
group's current ratio.

Spend bought in lockstep tells how the pair's combined revenue answers when both move together, not
which of the two earned it; a fit that trades one against the other knows their sum better than
either. Along the current ratio the data do speak, so such a group is optimised as one channel whose
spend x puts x * share_k on each member (its curve is the sum of the members' curves along that
ray); only the split inside the group stays as it is. Holding each member near its current spend
instead kept the whole group out of the reallocation: at half the planned budget a held pair kept
its full share while every other channel was cut.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


def linked_groups(pairs: list[tuple[int, int]], n: int) -> list[np.ndarray]:
    """Connected groups (member indices, ascending; two or more) of `n` channels joined by `pairs`."""
    root = list(range(n))

    def find(i: int) -> int:
        while root[i] != i:
            root[i] = root[root[i]]
            i = root[i]
        return i

    for i, j in pairs:
        root[find(i)] = find(j)
    groups: dict[int, list[int]] = {}
    for i in range(n):
        groups.setdefault(find(i), []).append(i)
    return [np.array(g) for g in sorted(groups.values()) if len(g) >= 2]


@dataclass
class LinkedCurves:
    """ChannelCurves' interface over groups of `curves`' channels: channel g here is the group
    `members[g]`, its spend split over them by `share` (each group's shares add up to 1)."""

    curves: Any  # ChannelCurves or ExpectedCurves
    members: list[np.ndarray]
    share: np.ndarray  # (C,) over the underlying channels
    owner: np.ndarray = field(init=False)  # (C,) the linked channel each underlying one belongs to

    def __post_init__(self) -> None:
        self.owner = np.empty(len(self.share), dtype=int)
        for g, index in enumerate(self.members):
            self.owner[index] = g

    @classmethod
    def of(cls, curves: Any, groups: list[np.ndarray], current: np.ndarray) -> LinkedCurves:
        """Every channel of `curves` on its own except `groups`, each split as `current` is (evenly
        where the group spends nothing now). Linked channels are ordered by their first member."""
        n = len(current)
        grouped = {int(i) for g in groups for i in g}
        members = sorted(
            [np.asarray(g) for g in groups] + [np.array([i]) for i in range(n) if i not in grouped],
            key=lambda g: int(g[0]),
        )
        share = np.ones(n)
        for index in members:
            total = float(np.sum(current[index]))
            share[index] = current[index] / total if total > 0 else 1.0 / len(index)
        return cls(curves, members, share)

    @property
    def channels(self) -> list[str]:
        names = self.curves.channels
        return ["+".join(names[i] for i in index) for index in self.members]

    def expand(self, spend: np.ndarray) -> np.ndarray:
        """Each underlying channel's spend from the linked channels' ((L,) or (L, G))."""
        spend = np.asarray(spend, dtype=float)
        return spend[self.owner] * self.share.reshape((-1,) + (1,) * (spend.ndim - 1))

    def collapse(self, values: np.ndarray, axis: int = 0) -> np.ndarray:
        """Sums of per-channel `values` over each group's members (along `axis`)."""
        values = np.moveaxis(np.asarray(values, dtype=float), axis, 0)
        out = np.zeros((len(self.members), *values.shape[1:]))
        np.add.at(out, self.owner, values)
        return np.moveaxis(out, 0, axis)

    def _scaled(self, values: np.ndarray, power: int) -> np.ndarray:
        return self.collapse(values * (self.share**power).reshape((-1,) + (1,) * (values.ndim - 1)))

    @property
    def shape(self) -> np.ndarray:  # the optimizer asks whether any curve is S-shaped
        return np.array([float(np.max(self.curves.shape[index])) for index in self.members])

    def saturation_spend(self) -> tuple[np.ndarray, np.ndarray]:
        low, high = self.curves.saturation_spend()
        share = np.maximum(self.share, 1e-12)
        low, high = low / share, high / share  # the group spend that puts a member there
        return (
            np.array([low[index].min() for index in self.members]),
            np.array([high[index].max() for index in self.members]),
        )

    def revenue(self, spend: np.ndarray) -> np.ndarray:
        return self.collapse(self.curves.revenue(self.expand(spend)))

    def marginal_roi(self, spend: np.ndarray) -> np.ndarray:
        return self._scaled(self.curves.marginal_roi(self.expand(spend)), 1)

    def curvature(self, spend: np.ndarray) -> np.ndarray:
        return self._scaled(self.curves.curvature(self.expand(spend)), 2)

    def slope_and_curvature(self, spend: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        slope, bend = self.curves.slope_and_curvature(self.expand(spend))
        return self._scaled(slope, 1), self._scaled(bend, 2)

    def revenue_draws(self, spend: np.ndarray) -> np.ndarray | None:
        draws = self.curves.revenue_draws(self.expand(spend))
        return None if draws is None else self.collapse(draws, axis=1)

    def subset(self, index: np.ndarray) -> LinkedCurves:
        picked = [self.members[int(g)] for g in np.asarray(index)]
        underlying = np.concatenate(picked)
        position = np.empty(len(self.share), dtype=int)
        position[underlying] = np.arange(len(underlying))
        return LinkedCurves(
            self.curves.subset(underlying), [position[m] for m in picked], self.share[underlying]
        )
