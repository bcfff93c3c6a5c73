"""A family of simulated worlds for the push-list benchmark: one draw is one shop history.

One simulated world says little about a ranking rule: which SKUs lead next month depends on who
launched, who is being phased out, how hard the events hit and who ran out of stock. Each draw
therefore varies those on top of the simulator's own (seeded) world:

- launches: a share of SKUs only starts selling partway through the history (earlier rows dropped,
  launch date set), some of them shortly before the end;
- phase-outs: a share of SKUs stops selling in the last months (later rows kept at zero units, out
  of stock), so last period's best sellers can be gone by the push period;
- events: every event day's units are scaled by a per-draw factor (weak or strong Double 11s);
- stock-outs: random runs of days out of stock, at a per-draw rate.

`draw_specs(n, seed)` gives the draws' settings; `write_draw(directory, spec)` writes one world as
contract tables (sales, products, promotions, events) that `daiyun.features.load.load` reads.
"""

from __future__ import annotations

import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from daiyun.features.simulator.catalogue import BrandSpec
from daiyun.features.simulator.world import SampleSize, simulate

PLATFORMS = ("tmall", "jd", "douyin")


@dataclass(frozen=True)
class DrawSpec:
    """The settings of one draw of the family (the seed drives the simulator and the perturbations)."""

    seed: int
    n_skus: int
    launch_share: float
    phaseout_share: float
    event_scale: float
    stockout_rate: float
    history_start: str = "2025-01-01"

    def describe(self) -> str:
        return (f"seed {self.seed}: {self.n_skus} SKUs x {len(PLATFORMS)} platforms, launches "
                f"{self.launch_share:.0%}, phase-outs {self.phaseout_share:.0%}, "
                f"event x{self.event_scale:.1f}, stock-outs {self.stockout_rate:.0%} of days")


def draw_specs(n_draws: int, seed: int = 0, n_skus: int = 80) -> list[DrawSpec]:
    """`n_draws` settings drawn from wide ranges (same seed, same family)."""
    rng = np.random.default_rng(seed)
    return [
        DrawSpec(
            seed=int(rng.integers(1, 1_000_000)),
            n_skus=n_skus,
            launch_share=float(rng.uniform(0.0, 0.35)),
            phaseout_share=float(rng.uniform(0.0, 0.25)),
            event_scale=float(rng.uniform(0.5, 2.0)),
            stockout_rate=float(rng.uniform(0.0, 0.08)),
        )
        for _ in range(n_draws)
    ]


def _tables(spec: DrawSpec) -> dict[str, pd.DataFrame]:
    sample = SampleSize(spec.history_start, (
        BrandSpec("alpha", "beauty", PLATFORMS, spec.n_skus, brand_day=(8, 18)),
        BrandSpec("bravo", "snacks", PLATFORMS, spec.n_skus),
    ))
    out: dict[str, list[pd.DataFrame]] = {}
    for tables in simulate(sample, spec.seed, progress=False):
        for name, table in tables.items():
            if name in ("sales", "products", "promotions", "events"):
                frame = table if isinstance(table, pd.DataFrame) else table.to_pandas()
                out.setdefault(name, []).append(frame)
    return {name: pd.concat(parts, ignore_index=True) for name, parts in out.items()}


def perturb(sales: pd.DataFrame, products: pd.DataFrame, events: pd.DataFrame, spec: DrawSpec,
            rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The draw's launches, phase-outs, event strength and stock-outs laid on a simulated history."""
    sales = sales.copy()
    products = products.copy()
    sales["date"] = pd.to_datetime(sales["date"])
    start, end = sales["date"].min(), sales["date"].max()
    days = (end - start).days
    skus = products["sku_id"].astype(str).to_numpy()
    units_scale = np.ones(len(sales))
    # events: scale units on every selling-event day of the calendar (festivals and brand days)
    from daiyun.features.calendar import event_windows

    windows = event_windows(start, end, events=events)
    for row in windows.loc[~windows["phase"].eq("slowdown")].itertuples(index=False):
        inside = (sales["date"] >= pd.Timestamp(row.start)) & (sales["date"] <= pd.Timestamp(row.end))
        units_scale[inside.to_numpy()] = spec.event_scale
    # stock-outs: runs of 3-14 days out of stock per series, about stockout_rate of all days
    in_stock = sales["in_stock"].to_numpy(float).copy() if "in_stock" in sales else np.ones(len(sales))
    series = sales["platform"].astype(str) + "|" + sales["sku_id"].astype(str)
    for _, index in series.groupby(series).indices.items():
        n_runs = rng.poisson(spec.stockout_rate * len(index) / 8)
        for _ in range(n_runs):
            first = rng.integers(0, max(1, len(index) - 3))
            in_stock[index[first: first + rng.integers(3, 15)]] = 0
    # launches: drop everything before a launch date (a few within the last two months)
    launched = rng.random(len(skus)) < spec.launch_share
    launch_day = np.where(rng.random(len(skus)) < 0.3, rng.integers(days - 60, days - 7, len(skus)),
                          rng.integers(60, max(61, days - 60), len(skus)))
    launch = pd.Series(np.where(launched, launch_day, -1), index=skus)
    launch_of_row = sales["sku_id"].astype(str).map(launch).to_numpy()
    keep = (launch_of_row < 0) | ((sales["date"] - start).dt.days.to_numpy() >= launch_of_row)
    # phase-outs: sales stop (zero units, out of stock) from a day in the last 120 days
    stopped = (rng.random(len(skus)) < spec.phaseout_share) & ~launched
    stop = pd.Series(np.where(stopped, rng.integers(days - 120, days - 5, len(skus)), days + 1), index=skus)
    day_of_row = (sales["date"] - start).dt.days.to_numpy()
    after_stop = day_of_row >= sales["sku_id"].astype(str).map(stop).to_numpy()
    in_stock[after_stop] = 0
    units = np.round(sales["units"].to_numpy(float) * units_scale) * (in_stock > 0)
    price = sales["price"].to_numpy(float)
    sales["units"] = units.astype(sales["units"].dtype) if "int" in str(sales["units"].dtype) else units
    sales["revenue"] = units * np.nan_to_num(price)
    sales["in_stock"] = in_stock.astype(sales["in_stock"].dtype) if "in_stock" in sales else in_stock
    sales = sales.loc[keep].reset_index(drop=True)
    new_launch = start + pd.to_timedelta(launch.reindex(products["sku_id"].astype(str)).to_numpy(), unit="D")
    products["launch_date"] = np.where(launched, new_launch, pd.to_datetime(products["launch_date"]))
    return sales, products


def write_draw(directory: str | Path, spec: DrawSpec) -> Path:
    """Write one draw's contract tables into `directory` (replaced if it exists); returns it."""
    directory = Path(directory)
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    tables = _tables(spec)
    events = tables.get("events")
    sales, products = perturb(tables["sales"], tables["products"], events, spec,
                              np.random.default_rng(spec.seed + 1))
    sales.to_parquet(directory / "sales.parquet", index=False)
    products.to_parquet(directory / "products.parquet", index=False)
    if "promotions" in tables:
        tables["promotions"].to_parquet(directory / "promotions.parquet", index=False)
    if events is not None:
        events.assign(start=pd.to_datetime(events["start"]).dt.strftime("%Y-%m-%d"),
                      end=pd.to_datetime(events["end"]).dt.strftime("%Y-%m-%d")).to_csv(
            directory / "events.csv", index=False, lineterminator="\n")
    (directory / "draw.json").write_text(pd.Series(asdict(spec)).to_json(indent=2))
    return directory
