"""Hand-made shop histories for the selection tests (plus checks that they say what we planted).

Planted: SKU `hero` sells 4x its normal rate during every Double 11; SKU `fresh` launched ten
days before the data ends (a new SKU); the rest sell at steady, different rates.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

END = pd.Timestamp("2026-10-15")


def write_shop(directory: Path, weekly: bool = False, n_skus: int = 12, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    step = "7D" if weekly else "D"
    dates = pd.date_range("2024-06-06", END, freq=step)
    rows, products = [], []
    names = ["hero", "fresh"] + [f"sku{k:02d}" for k in range(n_skus - 2)]
    for k, sku in enumerate(names):
        list_price = [49.0, 99.0, 199.0][k % 3]
        products.append({"brand": "acme", "sku_id": sku, "category": ["face", "body"][k % 2],
                         "list_price": list_price, "unit_cost": list_price * 0.4})
        for platform in ("tmall", "jd"):
            mine = dates[dates >= END - pd.Timedelta(days=9)] if sku == "fresh" else dates
            double11 = (mine.month == 11) & (mine.day <= 11) | ((mine.month == 10) & (mine.day >= 20))
            rate = (3 + 2 * k) * (7 if weekly else 1)
            mean = rate * np.where(double11 & (sku == "hero"), 4.0, 1.0)
            units = rng.poisson(mean)
            keep = units > 0
            rows.append(pd.DataFrame({
                "date": mine[keep], "brand": "acme", "platform": platform, "sku_id": sku,
                "units": units[keep], "revenue": units[keep] * list_price, "price": list_price,
                "list_price": list_price, "on_promo": 0, "in_stock": 1,
            }))
    directory.mkdir(parents=True, exist_ok=True)
    pd.concat(rows).to_csv(directory / "sales.csv", index=False)
    pd.DataFrame(products).to_csv(directory / "products.csv", index=False)
    return directory


def load_shop(directory: Path, weekly: bool = False):
    from daiyun.features.load import load

    return load(write_shop(directory, weekly=weekly))


def test_handmade_shop_loads_with_the_planted_skus(tmp_path: Path) -> None:
    dataset = load_shop(tmp_path / "shop")
    assert dataset.frequency == {"acme": "D"}
    assert {"hero", "fresh"} <= set(dataset.sales["sku_id"])
    assert dataset.sales.loc[dataset.sales["sku_id"].eq("fresh"), "date"].min() >= END - pd.Timedelta(days=9)
