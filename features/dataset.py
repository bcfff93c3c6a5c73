"""The typed dataset object every stage downstream of `daiyun.features.load` takes.

Frames are already validated and normalised (see `daiyun.features.load`), so models never re-check
or re-read files. Column types after loading:

sales       date (datetime64[ns]), brand, platform, sku_id (str), units, revenue, price,
            list_price (float64), discount (float64 in [0, 1): 1 - price / list_price, 0 when
            unknown), on_promo, in_stock (int8 0/1), filled (bool: a zero-sales row the loader
            added for a date with no row, as the contract says). Sorted by brand, platform,
            sku_id, date. Every series runs without gaps from its first row to the last date of
            its brand (days, or weeks for weekly brands).
products    brand, sku_id, category, subcategory (str, "unknown" when absent), launch_date
            (datetime64, NaT when unknown), list_price, unit_cost (float64, NaN when unknown).
            One row for every SKU seen in sales, even when the file lacks it.
ads         date, brand, platform, channel, spend, impressions, clicks, attributed_revenue
            (NaN when absent). Empty frame with those columns when there is no ads file.
events      name, start, end, phase, platform, brand: the user's events table only (the
            built-in calendar lives in `daiyun.features.calendar`). Blank platform/brand is "".
promotions  brand, platform, sku_id, start, end, discount, price, mechanic.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import pandas as pd

from daiyun.features.errors import NotFoundError

SALES_COLUMNS = [
    "date", "brand", "platform", "sku_id", "units", "revenue", "price", "list_price",
    "discount", "on_promo", "in_stock", "filled",
]
PRODUCTS_COLUMNS = ["brand", "sku_id", "category", "subcategory", "launch_date", "list_price", "unit_cost"]
ADS_COLUMNS = [
    "date", "brand", "platform", "channel", "spend", "impressions", "clicks", "attributed_revenue",
]
EVENTS_COLUMNS = ["name", "start", "end", "phase", "platform", "brand"]
PROMOTIONS_COLUMNS = ["brand", "platform", "sku_id", "start", "end", "discount", "price", "mechanic"]
EXPERIMENTS_COLUMNS = [
    "brand", "channel", "platform", "start", "end", "spend", "incremental_revenue", "lift", "standard_error",
]
SERIES_KEYS = ["brand", "platform", "sku_id"]


@dataclass(frozen=True)
class Dataset:
    """All contract tables of one data directory, validated; frequency is per brand ("D" or "W")."""

    sales: pd.DataFrame
    products: pd.DataFrame
    ads: pd.DataFrame
    events: pd.DataFrame
    promotions: pd.DataFrame
    frequency: dict[str, str]
    source: Path | None = None
    notes: list[str] = field(default_factory=list)  # what the loader filled or derived, in words
    # lift tests (optional): brand, channel, platform, start, end, spend, incremental_revenue, lift,
    # standard_error; empty with those columns when there is no experiments file
    experiments: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=EXPERIMENTS_COLUMNS))
    # the country whose public holidays the calendar uses (dataset.yaml `market:`); "CN" also brings
    # make-up workdays and the built-in e-commerce festivals (daiyun.features.calendar)
    market: str = "CN"
    # what the sales' price column is (dataset.yaml `prices:`): "set" (a price someone set: one under
    # the regular price is a deal) or "paid_average" (revenue / units over orders: coupons, tiers and
    # bundles move it, no deal is read from it); see daiyun.features.forecast_frame.PRICE_KINDS
    prices: str = "set"

    @property
    def brands(self) -> list[str]:
        return sorted(self.sales["brand"].unique().tolist())

    def for_brand(self, brand: str) -> Dataset:
        """Only this brand's rows: the tenant boundary every model and answer is built behind."""
        if brand not in self.frequency:
            raise NotFoundError("brand", brand, self.brands)

        def mine(frame: pd.DataFrame) -> pd.DataFrame:
            if "brand" not in frame.columns or frame.empty:
                return frame.copy()
            # events with a blank brand apply to every brand
            keep = frame["brand"].eq(brand)
            if frame is self.events:
                keep |= frame["brand"].eq("")
            return frame.loc[keep].reset_index(drop=True)

        return replace(
            self,
            sales=mine(self.sales),
            products=mine(self.products),
            ads=mine(self.ads),
            events=mine(self.events),
            promotions=mine(self.promotions),
            experiments=mine(self.experiments),
            frequency={brand: self.frequency[brand]},
        )

    def freq(self, brand: str) -> str:
        return self.frequency[brand]

    @property
    def end_date(self) -> pd.Timestamp:
        return self.sales["date"].max()

    @property
    def start_date(self) -> pd.Timestamp:
        return self.sales["date"].min()


DATASET_FILE = "dataset.yaml"


def _setting(directory: Path, name: str) -> str | None:
    """The value of `name:` in `directory/dataset.yaml` (a flat `key: value` list), None if absent."""
    path = Path(directory) / DATASET_FILE
    if not path.is_file():
        return None
    for line in path.read_text(encoding="utf-8").splitlines():
        key, _, value = line.split("#", 1)[0].partition(":")
        if key.strip() == name and value.strip():
            return value.strip().strip("'\"")
    return None


def read_prices(directory: Path) -> str:
    """The price kind named in `directory/dataset.yaml` (`prices: paid_average`), "set" when absent."""
    from daiyun.features.errors import ContractError
    from daiyun.features.forecast_frame import PRICE_KINDS

    value = _setting(directory, "prices")
    if value is None:
        return PRICE_KINDS[0]
    if value not in PRICE_KINDS:
        raise ContractError(
            DATASET_FILE, "prices", f"'{value}' is not a kind of price daiyun knows",
            "write `prices: set` (a price someone set; the default) or `prices: paid_average` (revenue / "
            "units over orders, e.g. a 成交均价 export: no deal is read from it)",
        )
    return value


def read_market(directory: Path) -> str:
    """The market named in `directory/dataset.yaml` (`market: DE`), "CN" when the file or key is absent.

    The file is a flat `key: value` list (no YAML library needed); a market the `holidays` package
    does not know is a ContractError naming the file.
    """
    from daiyun.features.calendar import DEFAULT_MARKET, check_market
    from daiyun.features.errors import ContractError, RequestError

    value = _setting(directory, "market")
    if value is None:
        return DEFAULT_MARKET
    try:
        return check_market(value)
    except RequestError:
        raise ContractError(
            DATASET_FILE, "market", f"'{value}' is not a country the holidays package knows",
            "write an ISO country code such as `market: CN`, `market: DE` or `market: US`",
        ) from None
