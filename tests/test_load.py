"""What a good data directory loads into: filled zero-sales days, derived prices, frequency per brand,
stock-outs kept, tenants isolated, and `daiyun validate` at the command line."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from daiyun.features.dataset import (
    ADS_COLUMNS,
    EVENTS_COLUMNS,
    PRODUCTS_COLUMNS,
    PROMOTIONS_COLUMNS,
    SALES_COLUMNS,
)
from daiyun.features.errors import NotFoundError
from daiyun.features.load import load
from daiyun.features.summary import summarize


def write(directory: Path, table: str, frame: pd.DataFrame, fmt: str = "csv") -> None:
    directory.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        frame.to_csv(directory / f"{table}.csv", index=False)
    else:
        frame.to_parquet(directory / f"{table}.parquet", index=False)


def rows(*records: tuple) -> pd.DataFrame:
    """(date, brand, platform, sku_id, units, revenue, price) records."""
    columns = ["date", "brand", "platform", "sku_id", "units", "revenue", "price"]
    return pd.DataFrame(list(records), columns=columns)


def series(dataset, brand: str, platform: str, sku_id: str) -> pd.DataFrame:
    sales = dataset.sales
    mine = sales["brand"].eq(brand) & sales["platform"].eq(platform) & sales["sku_id"].eq(sku_id)
    return sales.loc[mine].set_index(sales.loc[mine, "date"].dt.strftime("%Y-%m-%d"))


def two_brands(directory: Path, fmt: str = "csv") -> None:
    sales = rows(
        ("2025-03-01", "a", "tmall", "s1", 2, 20.0, 10.0),
        ("2025-03-04", "a", "tmall", "s1", 1, 8.0, 8.0),
        ("2025-03-02", "a", "jd", "s1", 3, 30.0, 10.0),
        ("2025-03-05", "a", "jd", "s2", 1, 50.0, 50.0),
        ("2025-03-06", "a", "jd", "s2", 1, 50.0, 50.0),
        ("2025-03-02", "b", "douyin", "x1", 5, 500.0, 100.0),
        ("2025-03-03", "b", "douyin", "x1", 4, 400.0, 100.0),
    )
    sales["list_price"] = [10.0, 10.0, 10.0, np.nan, np.nan, 120.0, 120.0]
    sales["on_promo"] = [0, 1, 0, 0, 0, 1, 0]
    sales["in_stock"] = [1, 1, 1, 1, 0, 1, 1]
    write(directory, "sales", sales, fmt)
    write(
        directory,
        "products",
        pd.DataFrame(
            {
                "brand": ["a", "b", "b"],
                "sku_id": ["s2", "x1", "x9"],
                "category": ["skincare", "", "snack"],
                "list_price": [60.0, 120.0, 30.0],
                "launch_date": ["2025-01-01", "", "2025-06-01"],
            }
        ),
        fmt,
    )
    write(
        directory,
        "ads",
        pd.DataFrame(
            {
                "date": ["2025-03-01", "2025-03-02", "2025-03-02"],
                "brand": ["a", "a", "b"],
                "platform": ["tmall", "tmall", "douyin"],
                "channel": ["tmall_ztc", "tmall_ztc", "douyin_qianchuan"],
                "spend": [100.0, 80.0, 300.0],
                "clicks": [10, 8, 30],
            }
        ),
        fmt,
    )
    write(
        directory,
        "events",
        pd.DataFrame(
            {
                "name": ["brand_day", "warehouse_move"],
                "start": ["2025-03-05", "2025-03-01"],
                "end": ["2025-03-05", "2025-03-02"],
                "brand": ["b", ""],
            }
        ),
        fmt,
    )
    write(
        directory,
        "promotions",
        pd.DataFrame(
            {
                "brand": ["a", "b"],
                "platform": ["tmall", "douyin"],
                "sku_id": ["s1", "x1"],
                "start": ["2025-03-10", "2025-03-10"],
                "end": ["2025-03-12", "2025-03-11"],
                "discount": [0.2, np.nan],
                "price": [np.nan, 90.0],
                "mechanic": ["coupon", np.nan],
            }
        ),
        fmt,
    )


@pytest.fixture()
def two_brand_dir(tmp_path: Path) -> Path:
    two_brands(tmp_path)
    return tmp_path


# ---------------------------------------------------------------- the normalised frames


def test_columns_and_dtypes_are_as_documented(two_brand_dir: Path) -> None:
    dataset = load(two_brand_dir)
    assert dataset.sales.columns.tolist() == SALES_COLUMNS
    dtypes = dataset.sales.dtypes.astype(str).to_dict()
    assert dtypes["date"] == "datetime64[ns]"
    assert all(dtypes[c] == "str" for c in ("brand", "platform", "sku_id"))
    assert all(dtypes[c] == "float64" for c in ("units", "revenue", "price", "list_price", "discount"))
    assert dtypes["on_promo"] == dtypes["in_stock"] == "int8" and dtypes["filled"] == "bool"
    assert dataset.products.columns.tolist() == PRODUCTS_COLUMNS
    assert str(dataset.products["launch_date"].dtype) == "datetime64[ns]"
    assert dataset.ads.columns.tolist() == ADS_COLUMNS
    assert dataset.ads["impressions"].isna().all() and dataset.ads["clicks"].dtype == "float64"
    assert dataset.events.columns.tolist() == EVENTS_COLUMNS
    assert dataset.promotions.columns.tolist() == PROMOTIONS_COLUMNS
    keys = ["brand", "platform", "sku_id", "date"]
    assert dataset.sales.equals(dataset.sales.sort_values(keys).reset_index(drop=True))


def test_absent_tables_are_empty_frames_with_columns(tmp_path: Path) -> None:
    write(tmp_path, "sales", rows(("2025-03-01", "a", "tmall", "s1", 2, 20.0, 10.0)), "parquet")
    dataset = load(tmp_path)
    for frame, columns in (
        (dataset.ads, ADS_COLUMNS),
        (dataset.events, EVENTS_COLUMNS),
        (dataset.promotions, PROMOTIONS_COLUMNS),
    ):
        assert frame.empty and frame.columns.tolist() == columns
    assert str(dataset.ads["date"].dtype) == "datetime64[ns]" and dataset.ads["spend"].dtype == "float64"
    assert dataset.products[["brand", "sku_id", "category"]].values.tolist() == [["a", "s1", "unknown"]]


def test_products_row_for_every_sku_in_sales(two_brand_dir: Path) -> None:
    products = load(two_brand_dir).products.set_index(["brand", "sku_id"])
    assert {("a", "s1"), ("a", "s2"), ("b", "x1"), ("b", "x9")} == set(products.index)
    assert products.loc[("a", "s1"), "category"] == "unknown"  # not in the file
    assert products.loc[("b", "x1"), "category"] == "unknown"  # blank in the file
    assert products.loc[("a", "s2"), "category"] == "skincare"
    assert pd.isna(products.loc[("b", "x1"), "launch_date"])
    assert np.isnan(products.loc[("a", "s1"), "unit_cost"])


def test_csv_and_parquet_load_the_same(tmp_path: Path) -> None:
    two_brands(tmp_path / "csv", "csv")
    two_brands(tmp_path / "parquet", "parquet")
    from_csv, from_parquet = load(tmp_path / "csv"), load(tmp_path / "parquet")
    for name in ("sales", "products", "ads", "events", "promotions"):
        pd.testing.assert_frame_equal(getattr(from_csv, name), getattr(from_parquet, name))


# ---------------------------------------------------------------- filling


def test_missing_days_are_zero_sales_sellable_days(two_brand_dir: Path) -> None:
    dataset = load(two_brand_dir)
    s1 = series(dataset, "a", "tmall", "s1")
    # first row 03-01, brand a ends 03-06: 03-02, 03-03, 03-05, 03-06 are filled
    assert s1.index.tolist() == [f"2025-03-0{d}" for d in range(1, 7)]
    assert s1["filled"].tolist() == [False, True, True, False, True, True]
    filled = s1.loc[s1["filled"]]
    assert (filled["units"] == 0).all() and (filled["revenue"] == 0).all()
    assert (filled["in_stock"] == 1).all() and (filled["on_promo"] == 0).all()
    # price carried forward from the last known price of the series
    assert s1["price"].tolist() == [10.0, 10.0, 10.0, 8.0, 8.0, 8.0]
    assert s1["list_price"].tolist() == [10.0] * 6
    assert any("filled 8 zero-sales days" in note for note in dataset.notes), dataset.notes


def test_series_is_not_filled_before_its_first_row_nor_past_its_brand(two_brand_dir: Path) -> None:
    dataset = load(two_brand_dir)
    assert series(dataset, "a", "jd", "s2").index.tolist() == ["2025-03-05", "2025-03-06"]
    # brand b ends on 03-03 even though brand a runs to 03-06
    assert series(dataset, "b", "douyin", "x1").index.tolist() == ["2025-03-02", "2025-03-03"]
    assert dataset.sales.groupby("brand")["date"].max().dt.strftime("%m-%d").to_dict() == {
        "a": "03-06",
        "b": "03-03",
    }


def test_list_price_from_products_when_sales_lack_it(two_brand_dir: Path) -> None:
    s2 = series(load(two_brand_dir), "a", "jd", "s2")
    assert s2["list_price"].tolist() == [60.0, 60.0]
    assert s2["discount"].round(4).tolist() == [round(1 - 50 / 60, 4)] * 2


def test_stock_out_rows_are_kept_and_marked(two_brand_dir: Path) -> None:
    dataset = load(two_brand_dir)
    s2 = series(dataset, "a", "jd", "s2")
    out = s2.loc["2025-03-06"]
    assert out["in_stock"] == 0 and not out["filled"] and out["units"] == 1
    assert any("stock-out" in note for note in dataset.notes)


def test_weekly_brand_is_filled_by_weeks(tmp_path: Path) -> None:
    sales = rows(
        ("2025-01-06", "w", "store1", "u1", 4, 40.0, 10.0),
        ("2025-01-13", "w", "store1", "u1", 5, 50.0, 10.0),
        ("2025-01-20", "w", "store1", "u1", 4, 40.0, 10.0),
        ("2025-02-10", "w", "store1", "u1", 2, 16.0, 8.0),  # 01-27 and 02-03 missing
        ("2025-01-06", "w", "store2", "u1", 1, 10.0, 10.0),
        ("2025-01-13", "w", "store2", "u1", 1, 10.0, 10.0),
        ("2025-01-20", "w", "store2", "u1", 1, 10.0, 10.0),
    )
    write(tmp_path, "sales", sales, "parquet")
    dataset = load(tmp_path)
    assert dataset.frequency == {"w": "W"} and dataset.freq("w") == "W"
    assert series(dataset, "w", "store1", "u1").index.tolist() == [
        "2025-01-06",
        "2025-01-13",
        "2025-01-20",
        "2025-01-27",
        "2025-02-03",
        "2025-02-10",
    ]
    store2 = series(dataset, "w", "store2", "u1")
    assert store2.index[-1] == "2025-02-10" and store2["filled"].sum() == 3
    assert (dataset.sales["date"].dt.day_of_week == 0).all()


def test_daily_brand_is_daily(two_brand_dir: Path) -> None:
    assert load(two_brand_dir).frequency == {"a": "D", "b": "D"}


def test_sparse_daily_series_do_not_make_a_brand_weekly(tmp_path: Path) -> None:
    """A slow seller whose few sales happen to be 7 days apart sits fine in a daily brand."""
    busy = [
        (d.strftime("%Y-%m-%d"), "a", "tmall", "busy", 1, 10.0, 10.0)
        for d in pd.date_range("2025-01-01", "2025-02-28")
    ]
    slow = [
        ("2025-01-06", "a", "tmall", "slow", 1, 10.0, 10.0),
        ("2025-01-13", "a", "tmall", "slow", 1, 10.0, 10.0),
        ("2025-01-20", "a", "tmall", "slow", 1, 10.0, 10.0),
    ]
    write(tmp_path, "sales", rows(*busy, *slow))
    dataset = load(tmp_path)
    assert dataset.frequency == {"a": "D"}
    assert (
        len(series(dataset, "a", "tmall", "slow"))
        == (pd.Timestamp("2025-02-28") - pd.Timestamp("2025-01-06")).days + 1
    )


# ---------------------------------------------------------------- derived values


def test_price_units_and_revenue_derivations(tmp_path: Path) -> None:
    sales = rows(
        ("2025-03-01", "a", "tmall", "s1", 4, 36.0, np.nan),  # price = revenue / units
        ("2025-03-02", "a", "tmall", "s1", np.nan, 30.0, 10.0),  # units = revenue / price
        ("2025-03-03", "a", "tmall", "s1", 0, 0.0, np.nan),  # no sale: price carried forward
        ("2025-03-01", "a", "tmall", "s2", np.nan, 50.0, np.nan),  # revenue only: units unknown
        ("2025-03-02", "a", "tmall", "s2", 2, np.nan, 5.0),  # revenue = units x price
    )
    write(tmp_path, "sales", sales)
    dataset = load(tmp_path)
    s1, s2 = series(dataset, "a", "tmall", "s1"), series(dataset, "a", "tmall", "s2")
    assert s1["price"].tolist() == [9.0, 10.0, 10.0]
    assert s1["units"].tolist() == [4.0, 3.0, 0.0]
    assert np.isnan(s2.loc["2025-03-01", "units"]) and s2.loc["2025-03-02", "revenue"] == 10.0
    notes = " | ".join(dataset.notes)
    assert "derived price = revenue / units on 1 rows" in notes
    assert "derived units = revenue / price on 1 rows" in notes
    assert "units left unknown" in notes


def test_discount_is_clipped_and_zero_without_list_price(tmp_path: Path) -> None:
    sales = rows(
        ("2025-03-01", "a", "tmall", "s1", 1, 8.0, 8.0),
        ("2025-03-02", "a", "tmall", "s1", 1, 1.0, 1.0),  # 99% off: a data slip, capped
        ("2025-03-03", "a", "tmall", "s1", 1, 12.0, 12.0),  # above list: no discount
        ("2025-03-01", "a", "tmall", "s2", 1, 8.0, 8.0),  # no list price anywhere
    )
    sales["list_price"] = [10.0, 100.0, 10.0, np.nan]
    write(tmp_path, "sales", sales)
    dataset = load(tmp_path)
    assert series(dataset, "a", "tmall", "s1")["discount"].round(6).tolist() == [0.2, 0.95, 0.0]
    assert series(dataset, "a", "tmall", "s2")["discount"].tolist() == [0.0, 0.0, 0.0]
    assert dataset.sales["discount"].between(0, 0.95).all()


def test_on_promo_from_promotions_when_sales_lack_it(tmp_path: Path) -> None:
    sales = rows(*[(f"2025-03-0{d}", "a", "tmall", "s1", 1, 10.0, 10.0) for d in range(1, 8)])
    sales["list_price"] = 10.0
    write(tmp_path, "sales", sales)
    write(
        tmp_path,
        "promotions",
        pd.DataFrame(
            {
                "brand": "a",
                "platform": "tmall",
                "sku_id": "s1",
                "start": ["2025-03-02", "2025-03-05", "2025-03-06"],
                "end": ["2025-03-03", "2025-03-05", "2025-03-06"],
                "discount": [0.3, 0.0, np.nan],
                "price": [np.nan, np.nan, 9.0],  # 0: a price plan, not a promotion
            }
        ),
    )
    dataset = load(tmp_path)
    assert series(dataset, "a", "tmall", "s1")["on_promo"].tolist() == [0, 1, 1, 0, 0, 1, 0]


def test_extra_columns_are_kept(tmp_path: Path) -> None:
    sales = rows(
        ("2025-03-01", "a", "tmall", "s1", 1, 10.0, 10.0), ("2025-03-03", "a", "tmall", "s1", 1, 10.0, 10.0)
    )
    sales["livestream_host"] = ["li", "wang"]
    write(tmp_path, "sales", sales)
    dataset = load(tmp_path)
    assert dataset.sales.columns.tolist() == SALES_COLUMNS + ["livestream_host"]
    assert dataset.sales["livestream_host"].tolist()[0::2] == ["li", "wang"]
    assert pd.isna(dataset.sales["livestream_host"].iloc[1])


# ---------------------------------------------------------------- tenants


def test_for_brand_isolates_every_table(two_brand_dir: Path) -> None:
    dataset = load(two_brand_dir)
    mine = dataset.for_brand("b")
    for name in ("sales", "products", "ads", "promotions"):
        frame = getattr(mine, name)
        assert len(frame) and set(frame["brand"]) == {"b"}, name
    assert set(mine.events["name"]) == {"brand_day", "warehouse_move"}  # blank brand: every brand
    assert mine.frequency == {"b": "D"}
    assert "brand_day" not in set(dataset.for_brand("a").events["name"])
    with pytest.raises(NotFoundError):
        dataset.for_brand("zz")


def test_brand_filter(two_brand_dir: Path) -> None:
    dataset = load(two_brand_dir, brands=["a"])
    assert dataset.brands == ["a"] and dataset.frequency == {"a": "D"}
    assert (
        set(dataset.ads["brand"])
        == set(dataset.products["brand"])
        == set(dataset.promotions["brand"])
        == {"a"}
    )
    assert set(dataset.events["name"]) == {"warehouse_move"}
    assert load(two_brand_dir, brands="b").brands == ["b"]
    with pytest.raises(NotFoundError) as caught:
        load(two_brand_dir, brands=["a", "zz"])
    assert "zz" in str(caught.value) and caught.value.status == 404


# ---------------------------------------------------------------- summary and CLI


def test_summary_names_brands_frequency_and_notes(two_brand_dir: Path) -> None:
    text = str(summarize(load(two_brand_dir)))
    for expected in (
        "a",
        "b",
        "daily",
        "2025-03-01 .. 2025-03-06",
        "ad spend",
        "180",
        "stock-out days",
        "filled 8 zero-sales days",
    ):
        assert expected in text, expected


def test_cli_validate_good_and_bad(two_brand_dir: Path, tmp_path: Path) -> None:
    from daiyun.training.cli.app import app

    runner = CliRunner()
    good = runner.invoke(app, ["validate", str(two_brand_dir)])
    assert good.exit_code == 0, good.output
    assert "data contract: OK" in good.output and "daily" in good.output

    bad_dir = tmp_path / "bad"
    write(bad_dir, "sales", rows(("2025-03-01", "a", "tmall", "s1", -1, 10.0, 10.0)))
    bad = runner.invoke(app, ["validate", str(bad_dir)])
    assert bad.exit_code == 1
    first = bad.output.strip().splitlines()[0]
    assert first.startswith("error:") and "sales.csv" in first and "'units'" in first and "negative" in first
    assert "Traceback" not in bad.output

    missing = runner.invoke(app, ["validate", str(tmp_path / "nowhere")])
    assert missing.exit_code == 1 and "does not exist" in " ".join(missing.output.split())


# ---------------------------------------------------------------- real and simulated data


@pytest.mark.realdata
def test_dunnhumby_weekly_slice_loads(shared_data: Path, tmp_path: Path) -> None:
    """Real weekly store x UPC data (rows only for weeks with sales) converted to the contract."""
    source = shared_data / "dunnhumby_breakfast_at_the_frat" / "transaction.parquet"
    if not source.exists():
        pytest.skip("dunnhumby transaction.parquet is absent")
    raw = pd.read_parquet(source, columns=["week_end_date", "store_id", "upc_id", "units", "spend", "price"])
    raw = raw.loc[raw["store_id"].isin(sorted(raw["store_id"].unique())[:8])]
    sales = pd.DataFrame(
        {
            "date": raw["week_end_date"] - pd.Timedelta(days=6),  # the contract dates a week by its first day
            "brand": "dunnhumby",
            "platform": raw["store_id"].astype(str),
            "sku_id": raw["upc_id"].astype(str),
            "units": raw["units"],
            "revenue": raw["spend"],
            "price": raw["price"].where(raw["price"] > 0),  # the source has a zero shelf price or two
        }
    )
    write(tmp_path, "sales", sales, "parquet")
    dataset = load(tmp_path)
    assert dataset.frequency == {"dunnhumby": "W"}
    loaded = dataset.sales
    assert (~loaded["filled"]).sum() == len(sales)
    assert (
        loaded["date"]
        .diff()
        .where(loaded["sku_id"].eq(loaded["sku_id"].shift()))
        .dropna()
        .eq(pd.Timedelta(days=7))
        .all()
    )
    assert loaded.loc[loaded["filled"], "units"].eq(0).all() and loaded["filled"].any()
    assert loaded.groupby(["platform", "sku_id"])["date"].max().eq(loaded["date"].max()).all()


def test_simulated_sample_loads(request: pytest.FixtureRequest) -> None:
    if importlib.util.find_spec("daiyun.features.simulator.world") is None:
        pytest.skip("features.simulate is not written yet")
    dataset = request.getfixturevalue("dataset")
    assert set(dataset.frequency.values()) == {"D"} and len(dataset.brands) == 3
    assert not dataset.ads.empty and dataset.sales["filled"].any()
    assert dataset.products["sku_id"].nunique() >= dataset.sales["sku_id"].nunique()


def test_events_of_other_brands_are_kept_and_noted(tmp_path: Path) -> None:
    write(tmp_path, "sales", rows(("2025-03-01", "a", "tmall", "s1", 1, 10.0, 10.0)))
    write(
        tmp_path,
        "events",
        pd.DataFrame(
            {
                "name": ["brand_day", "brand_day"],
                "start": "2025-05-01",
                "end": "2025-05-02",
                "brand": ["a", "other"],
            }
        ),
    )
    dataset = load(tmp_path)
    assert len(dataset.events) == 2 and len(dataset.for_brand("a").events) == 1
    assert any("1 events name brands without sales" in note for note in dataset.notes)
