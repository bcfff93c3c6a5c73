"""Ensemble of forecasters with weights learned from backtest predictions, never guessed.

Default (`method="inverse_error"`): each member's weight is proportional to 1 / its mean absolute
error on the out-of-sample backtest rows (Bates-Granger style; the WAPE-optimal weight when the
errors are proportional). Alternative (`"nnls"`): non-negative least squares of the actuals on the
members' forecasts, constrained to sum to one. With three backtest windows NNLS jumped between
corner solutions (all weight on one member) from window to window, and its cross-fitted ensemble
was worse than its best member; inverse-error weights were better than both members (see
benchmarks/results/forecast_accuracy.md). Prophet is fitted on the brand's biggest series only,
so rows without a Prophet forecast use a second weight set learned on the members they do have.
A blend whose mean absolute error on the backtest rows is worse than its best member's is replaced by
that member alone (measured on price-only weekly data, benchmarks/results/forecast_peers.md, where
Prophet's forecasts of the biggest series ran far above the sales).
"""

from __future__ import annotations

import numpy as np
import pandas as pd


class EnsembleWeights:
    """`fit(frame, members)` learns one weight set per subset of members present on a row."""

    def __init__(self, method: str = "inverse_error", min_rows: int = 30) -> None:
        self.method = method
        self.min_rows = min_rows

    def fit(self, frame: pd.DataFrame, members: list[str], target: str = "actual") -> EnsembleWeights:
        from scipy.optimize import nnls

        self.members_ = list(members)
        self.weights_: dict[frozenset, dict[str, float]] = {}
        available = frame[self.members_].notna()
        subsets = {frozenset(m for m, ok in row.items() if ok) for row in available.to_dict("records")}
        # in the members' order, not the set's (hash-seeded): the weights table and the MLflow
        # parameter read the same from one run to the next
        position = {m: i for i, m in enumerate(self.members_)}
        for subset in sorted(subsets, key=lambda s: sorted(position[m] for m in s)):
            if not subset:
                continue
            names = [m for m in self.members_ if m in subset]
            # learn each subset's weights on every row where those members exist
            rows = frame[names].notna().all(axis=1) & frame[target].notna()
            if rows.sum() < self.min_rows:
                weights = {m: 1.0 / len(names) for m in names}
            else:
                design = frame.loc[rows, names].to_numpy(float)
                if self.method in ("inverse_error", "inverse_mse"):
                    residual = design - frame.loc[rows, target].to_numpy(float)[:, None]
                    power = 1 if self.method == "inverse_error" else 2
                    error = (np.abs(residual) ** power).mean(axis=0)
                    inverse = 1.0 / np.maximum(error, 1e-9)
                    share = inverse / inverse.sum()
                    # do no harm: a blend worse than its best member on these rows (a member far off,
                    # e.g. Prophet's trend on a short weekly history) gives way to that member alone
                    blended = np.abs(residual @ share).mean()
                    member_mae = np.abs(residual).mean(axis=0)
                    if blended > member_mae.min():
                        share = (np.arange(len(names)) == int(np.argmin(member_mae))).astype(float)
                    self.weights_[frozenset(names)] = dict(zip(names, map(float, share), strict=True))
                    continue
                target_values = frame.loc[rows, target].to_numpy(float)
                # sum-to-one as a heavily weighted extra equation (the usual NNLS equality trick)
                penalty = 1e3 * max(float(np.abs(target_values).sum()), 1.0)
                design = np.vstack([design, np.full((1, len(names)), penalty)])
                solution, _ = nnls(design, np.append(target_values, penalty))
                if solution.sum() <= 0:
                    solution = np.full(len(names), 1.0 / len(names))
                weights = dict(zip(names, map(float, solution), strict=True))
            self.weights_[frozenset(names)] = weights
        return self

    def combine(self, frame: pd.DataFrame) -> np.ndarray:
        """The ensemble mean per row from whichever members the row has."""
        present = [m for m in self.members_ if m in frame.columns]
        values = frame[present].to_numpy(float)
        ok = ~np.isnan(values)
        out = np.full(len(frame), np.nan)
        patterns, inverse = np.unique(ok, axis=0, return_inverse=True)
        for k, pattern in enumerate(patterns):
            names = frozenset(m for m, flag in zip(present, pattern, strict=True) if flag)
            rows = np.flatnonzero(inverse.reshape(-1) == k)
            weights = self.weights_.get(names) or self._nearest(names)
            column = {m: j for j, m in enumerate(present)}
            out[rows] = sum(w * values[rows, column[m]] for m, w in weights.items() if m in names)
        return np.clip(out, 0.0, None)

    def _nearest(self, names: frozenset) -> dict[str, float]:
        # a subset never seen in the backtest: the learned set with the most members it has
        candidates = [w for subset, w in self.weights_.items() if subset <= names]
        if candidates:
            return max(candidates, key=len)
        return {m: 1.0 / len(names) for m in names}

    def table(self) -> pd.DataFrame:
        rows = [{"members": "+".join(sorted(subset)), **weights} for subset, weights in self.weights_.items()]
        return pd.DataFrame(rows)
