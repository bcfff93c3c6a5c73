"""Channel response curves: geometric carry-over, then Hill saturation, scaled by the channel's ceiling.

Daily incremental revenue of a channel = beta * hill(x_t), x_t = spend_t + decay * x_{t-1}.
A period's response to a total spend S laid out by a pacing (daily shares w_t summing to 1) is
linear inside the adstock, x_t = S * a_t with a = adstock(w), so the whole period's expected
revenue is `beta * sum_t hill(S * a_t)`: a cheap, exact function of S that the optimizer calls
thousands of times.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from daiyun.features.ads_frame import geometric_adstock

__all__ = [
    "ChannelCurves",
    "geometric_adstock",
    "hill",
    "hill_curvature",
    "hill_derivative",
    "tail_length",
]

_TINY = 1e-12


def half_from_ratio(
    ratio: np.ndarray | float, typical: np.ndarray | float, decay: np.ndarray | float
) -> np.ndarray:
    """Half-saturation in adstocked-spend units: ratio x typical daily spend at its steady carry-over
    (how the fit's search, and the shapes read from attributed revenue, state a curve's bend)."""
    return np.maximum(np.asarray(ratio) * typical / (1.0 - np.asarray(decay)), 1e-9)


def hill(x: np.ndarray | float, half_saturation: np.ndarray | float, shape: np.ndarray | float) -> np.ndarray:
    """x^s / (x^s + K^s), in [0, 1); 0 at x = 0 and one half at x = K."""
    x = np.maximum(np.asarray(x, dtype=float), 0.0)
    ratio = np.power(x / np.maximum(half_saturation, _TINY), shape)
    return ratio / (1.0 + ratio)


def hill_derivative(
    x: np.ndarray | float, half_saturation: np.ndarray | float, shape: np.ndarray | float
) -> np.ndarray:
    """d hill / dx = s * r / (x * (1 + r)^2) with r = (x/K)^s; finite (large) at x -> 0 for s < 1."""
    x = np.maximum(np.asarray(x, dtype=float), _TINY)
    ratio = np.power(x / np.maximum(half_saturation, _TINY), shape)
    return shape * ratio / (x * (1.0 + ratio) ** 2)


def hill_curvature(
    x: np.ndarray | float, half_saturation: np.ndarray | float, shape: np.ndarray | float
) -> np.ndarray:
    """d^2 hill / dx^2 = s r / (x^2 (1 + r)^2) * ((s - 1) - 2 s r / (1 + r)); negative past the bend."""
    x = np.maximum(np.asarray(x, dtype=float), _TINY)
    ratio = np.power(x / np.maximum(half_saturation, _TINY), shape)
    return shape * ratio / (x**2 * (1.0 + ratio) ** 2) * ((shape - 1.0) - 2.0 * shape * ratio / (1.0 + ratio))


def tail_length(decay: float | np.ndarray, tolerance: float = 0.01, cap: int = 60) -> int:
    """Days after the period until carry-over falls below `tolerance` of its level (capped)."""
    decay = float(np.max(decay)) if np.size(decay) else 0.0
    if decay <= 0:
        return 0
    return int(min(cap, np.ceil(np.log(tolerance) / np.log(decay))))


@dataclass
class ChannelCurves:
    """Response of several channels to period totals, for one pacing of the period.

    `carry` is (channels x days): the adstocked pacing per unit of total spend, including the
    carry-over tail after the period ends (the revenue the period's spend still brings then).
    `carry_in` is the stock left by spend before the period, decaying over the same days: the
    period's revenue is what its spend adds on top of it. Draws (optional, for intervals) repeat
    the same for bootstrap curves, with a leading draw axis.
    """

    channels: list[str]
    beta: np.ndarray  # (C,)
    half_saturation: np.ndarray  # (C,)
    shape: np.ndarray  # (C,)
    carry: np.ndarray  # (C, T)
    carry_in: np.ndarray | None = None  # (C, T)
    draw_beta: np.ndarray | None = None  # (B, C)
    draw_half_saturation: np.ndarray | None = None
    draw_shape: np.ndarray | None = None
    draw_carry: np.ndarray | None = None  # (B, C, T)
    draw_carry_in: np.ndarray | None = None  # (B, C, T)
    # how much a day's response counts relative to an average day (traffic-scaled effects): (C, T)
    weight: np.ndarray | None = None
    draw_weight: np.ndarray | None = None  # (B, C, T)

    @classmethod
    def from_parameters(
        cls,
        channels: list[str],
        pacing: np.ndarray,
        decay: np.ndarray,
        half_saturation: np.ndarray,
        shape: np.ndarray,
        beta: np.ndarray,
        stock: np.ndarray | None = None,
        draws: dict[str, np.ndarray] | None = None,
        traffic_share: np.ndarray | None = None,
        traffic: np.ndarray | None = None,
    ) -> ChannelCurves:
        """`pacing` is (C, T) daily shares per channel; decay etc. are (C,) (draws: (B, C)).

        `stock` is each channel's adstock on the day before the period (draws: key "stock").
        `traffic_share` (C,) (draws: key "traffic_share") is the share of each channel's effect
        that scales with its platform's traffic index `traffic` ((C, >= days + tail), 1 = an
        average day): a day counts (1 - share) + share x index.
        """
        pacing = np.atleast_2d(np.asarray(pacing, dtype=float))
        decay = np.asarray(decay, dtype=float)
        all_decays = [decay]
        if draws is not None:
            all_decays.append(np.asarray(draws["decay"], dtype=float).ravel())
        tail = tail_length(np.concatenate(all_decays))
        padded = np.concatenate([pacing, np.zeros((pacing.shape[0], tail))], axis=1)
        steps = np.arange(1, padded.shape[1] + 1)

        def stock_profile(level: np.ndarray | None, rate: np.ndarray) -> np.ndarray | None:
            if level is None:
                return None
            return np.asarray(level, float)[..., None] * np.power(rate[..., None], steps)

        curves = cls(
            channels=list(channels),
            beta=np.asarray(beta, dtype=float),
            half_saturation=np.asarray(half_saturation, dtype=float),
            shape=np.asarray(shape, dtype=float),
            carry=geometric_adstock(padded.T, decay).T,
            carry_in=stock_profile(stock, decay),
        )
        index = (
            None
            if traffic is None or traffic_share is None
            else np.asarray(traffic, float)[:, : padded.shape[1]]
        )

        def day_weight(share: np.ndarray) -> np.ndarray:
            """(..., C, T): (1 - share) + share x the channel's platform traffic index."""
            share = np.asarray(share, dtype=float)[..., None]
            return (1.0 - share) + share * index

        if index is not None:
            curves.weight = day_weight(traffic_share)
        if draws is not None:
            draw_decay = np.asarray(draws["decay"], dtype=float)
            curves.draw_beta = np.asarray(draws["beta"], dtype=float)
            curves.draw_half_saturation = np.asarray(draws["half_saturation"], dtype=float)
            curves.draw_shape = np.asarray(draws["shape"], dtype=float)
            curves.draw_carry = np.stack([geometric_adstock(padded.T, d).T for d in draw_decay])
            curves.draw_carry_in = stock_profile(draws.get("stock"), draw_decay)
            if index is not None and "traffic_share" in draws:
                curves.draw_weight = day_weight(draws["traffic_share"])
        return curves

    def subset(self, index: np.ndarray) -> ChannelCurves:
        def pick(array: np.ndarray | None, axis: int) -> np.ndarray | None:
            return None if array is None else np.take(array, index, axis=axis)

        return ChannelCurves(
            channels=[self.channels[i] for i in index],
            beta=self.beta[index],
            half_saturation=self.half_saturation[index],
            shape=self.shape[index],
            carry=self.carry[index],
            carry_in=pick(self.carry_in, 0),
            draw_beta=pick(self.draw_beta, 1),
            draw_half_saturation=pick(self.draw_half_saturation, 1),
            draw_shape=pick(self.draw_shape, 1),
            draw_carry=pick(self.draw_carry, 1),
            draw_carry_in=pick(self.draw_carry_in, 1),
            weight=pick(self.weight, 0),
            draw_weight=pick(self.draw_weight, 1),
        )

    def saturation_spend(self) -> tuple[np.ndarray, np.ndarray]:
        """(lowest, highest) period spend per channel at which its busiest day's stock reaches the
        half-saturation point, over the point curve and every draw: the scale a spend grid must span."""
        spans = [self.half_saturation / np.maximum(self.carry.max(axis=-1), _TINY)]
        if self.draw_half_saturation is not None and self.draw_carry is not None:
            spans.append(self.draw_half_saturation / np.maximum(self.draw_carry.max(axis=-1), _TINY))
        scale = np.concatenate([np.atleast_2d(s) for s in spans], axis=0)
        return scale.min(axis=0), scale.max(axis=0)

    def _weighted(self, values: np.ndarray, extra: int) -> np.ndarray:
        """Sum over days of (C, ..., T) values, each day weighted by its traffic (when fitted)."""
        if self.weight is None:
            return values.sum(axis=-1)
        return (values * self.weight[(slice(None), *(None,) * extra, slice(None))]).sum(axis=-1)

    def _stock(self, spend: np.ndarray) -> np.ndarray:
        """Adstock per channel (and per extra axis of `spend`) and day: (C, ..., T)."""
        spend = np.asarray(spend, dtype=float)
        extra = (None,) * (spend.ndim - 1)
        carry = self.carry[(slice(None), *extra, slice(None))]
        x = spend[..., None] * carry
        if self.carry_in is not None:
            x = x + self.carry_in[(slice(None), *extra, slice(None))]
        return x

    def revenue(self, spend: np.ndarray) -> np.ndarray:
        """Expected incremental revenue for period totals `spend` ((C,) or (C, G): one per grid point)."""
        spend = np.asarray(spend, dtype=float)
        index = (slice(None),) + (None,) * spend.ndim
        half, shape = self.half_saturation[index], self.shape[index]
        beta = self.beta[index[:-1]]
        gained = self._weighted(hill(self._stock(spend), half, shape), spend.ndim - 1)
        if self.carry_in is not None:
            gained = gained - self._weighted(
                hill(self._stock(np.zeros_like(spend)), half, shape), spend.ndim - 1
            )
        return beta * gained

    def marginal_roi(self, spend: np.ndarray) -> np.ndarray:
        """d revenue / d spend per channel: the revenue the next yuan would bring."""
        spend = np.asarray(spend, dtype=float)
        index = (slice(None),) + (None,) * spend.ndim
        carry = self.carry[(slice(None),) + (None,) * (spend.ndim - 1) + (slice(None),)]
        slope = hill_derivative(self._stock(spend), self.half_saturation[index], self.shape[index]) * carry
        return self.beta[index[:-1]] * self._weighted(slope, spend.ndim - 1)

    def curvature(self, spend: np.ndarray) -> np.ndarray:
        """d^2 revenue / d spend^2 per channel (Newton steps of the optimizer)."""
        spend = np.asarray(spend, dtype=float)
        index = (slice(None),) + (None,) * spend.ndim
        carry = self.carry[(slice(None),) + (None,) * (spend.ndim - 1) + (slice(None),)]
        bend = hill_curvature(self._stock(spend), self.half_saturation[index], self.shape[index]) * carry**2
        return self.beta[index[:-1]] * self._weighted(bend, spend.ndim - 1)

    def slope_and_curvature(self, spend: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """marginal_roi(spend) and curvature(spend) from one adstock and one power: Newton asks for
        both at every step. Same expressions in the same order, so the same numbers to the bit."""
        spend = np.asarray(spend, dtype=float)
        index = (slice(None),) + (None,) * spend.ndim
        carry = self.carry[(slice(None),) + (None,) * (spend.ndim - 1) + (slice(None),)]
        half, shape = self.half_saturation[index], self.shape[index]
        x = np.maximum(self._stock(spend), _TINY)
        ratio = np.power(x / np.maximum(half, _TINY), shape)
        derivative = shape * ratio / (x * (1.0 + ratio) ** 2)
        scale = shape * ratio / (x**2 * (1.0 + ratio) ** 2)
        bend = scale * ((shape - 1.0) - 2.0 * shape * ratio / (1.0 + ratio))
        beta = self.beta[index[:-1]]
        return (
            beta * self._weighted(derivative * carry, spend.ndim - 1),
            beta * self._weighted(bend * carry**2, spend.ndim - 1),
        )

    def revenue_draws(self, spend: np.ndarray) -> np.ndarray | None:
        """(B, C) incremental revenue per bootstrap curve, or None without draws."""
        if self.draw_beta is None:
            return None
        spend = np.asarray(spend, dtype=float)
        x = spend[None, :, None] * self.draw_carry
        half, shape = self.draw_half_saturation[:, :, None], self.draw_shape[:, :, None]
        weight = 1.0 if self.draw_weight is None else self.draw_weight
        gained = (
            hill(x + (0.0 if self.draw_carry_in is None else self.draw_carry_in), half, shape) * weight
        ).sum(axis=2)
        if self.draw_carry_in is not None:
            gained = gained - (hill(self.draw_carry_in, half, shape) * weight).sum(axis=2)
        return self.draw_beta * gained
