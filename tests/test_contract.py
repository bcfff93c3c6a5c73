"""One bad file per rule of DATA_CONTRACT.md: the loader answers with one ContractError naming the
file, the column and the rule (and the offending rows when the rule is about rows)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from daiyun.features.errors import ContractError
from daiyun.features.load import load


def good_sales(**changes: list) -> pd.DataFrame:
    """Two SKUs of brand 'a' on tmall, four days; `changes` replace whole columns."""
    frame = pd.DataFrame(
        {
            "date": ["2025-01-01", "2025-01-02", "2025-01-03", "2025-01-04"] * 2,
            "brand": ["a"] * 8,
            "platform": ["tmall"] * 8,
            "sku_id": ["s1"] * 4 + ["s2"] * 4,
            "units": [1.0, 2.0, 0.0, 3.0, 5.0, 4.0, 1.0, 2.0],
            "revenue": [10.0, 20.0, 0.0, 27.0, 50.0, 40.0, 10.0, 20.0],
            "price": [10.0, 10.0, np.nan, 9.0, 10.0, 10.0, 10.0, 10.0],
            "list_price": [10.0] * 8,
            "on_promo": [0, 0, 0, 1, 0, 0, 0, 0],
            "in_stock": [1] * 8,
        }
    )
    for column, values in changes.items():
        frame[column] = values
    return frame


def write(directory: Path, table: str, frame: pd.DataFrame, fmt: str = "csv") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{table}.{fmt}"
    if fmt == "csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path, index=False)
    return path


def refused(directory: Path, file: str, column: str | None, *words: str, rows: bool = True) -> ContractError:
    with pytest.raises(ContractError) as caught:
        load(directory)
    error = caught.value
    message = str(error)
    assert error.file == file and file in message
    if column is not None:
        assert error.column is not None and column in error.column and f"'{error.column}'" in message
    for word in words:
        assert word.lower() in error.rule.lower(), (word, error.rule)
    assert "Fix:" in message and error.fix
    if rows:
        assert error.rows is not None and 1 <= len(error.rows) <= error.n_bad
        assert "offending row" in message
    return error


# ---------------------------------------------------------------- columns and files


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_missing_required_column(tmp_path: Path, fmt: str) -> None:
    write(tmp_path, "sales", good_sales().drop(columns="sku_id"), fmt)
    error = refused(tmp_path, f"sales.{fmt}", "sku_id", "missing required column", rows=False)
    assert "add a column named 'sku_id'" in error.fix


def test_misspelt_column_gets_a_hint(tmp_path: Path) -> None:
    write(tmp_path, "sales", good_sales().rename(columns={"date": "Date"}))
    error = refused(tmp_path, "sales.csv", "date", "missing required column", rows=False)
    assert "found 'Date'" in error.fix


def test_neither_units_nor_revenue_column(tmp_path: Path) -> None:
    write(tmp_path, "sales", good_sales().drop(columns=["units", "revenue"]))
    refused(tmp_path, "sales.csv", "units", "neither units nor revenue", rows=False)


def test_row_with_neither_units_nor_revenue(tmp_path: Path) -> None:
    sales = good_sales()
    sales.loc[2, ["units", "revenue"]] = np.nan
    write(tmp_path, "sales", sales, "parquet")
    error = refused(tmp_path, "sales.parquet", "units", "neither units nor revenue")
    assert error.n_bad == 1 and error.rows.index[0] == 2


def test_sales_table_is_required(tmp_path: Path) -> None:
    write(tmp_path, "products", pd.DataFrame({"brand": ["a"], "sku_id": ["s1"]}))
    refused(tmp_path, "sales.parquet/.csv", None, "required sales table is missing", rows=False)


def test_both_csv_and_parquet_for_one_table(tmp_path: Path) -> None:
    write(tmp_path, "sales", good_sales(), "csv")
    write(tmp_path, "sales", good_sales(), "parquet")
    refused(tmp_path, "sales.parquet and sales.csv", None, "two files", rows=False)


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_zero_byte_file(tmp_path: Path, fmt: str) -> None:
    write(tmp_path, "sales", good_sales())
    (tmp_path / f"ads.{fmt}").write_bytes(b"")
    refused(tmp_path, f"ads.{fmt}", None, "empty", rows=False)


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_file_without_rows(tmp_path: Path, fmt: str) -> None:
    write(tmp_path, "sales", good_sales().iloc[:0], fmt)
    refused(tmp_path, f"sales.{fmt}", None, "no rows", rows=False)


def test_gbk_csv_is_named_and_detected(tmp_path: Path) -> None:
    write(tmp_path, "sales", good_sales())
    text = "brand,sku_id,category\na,s1,美妆护肤\na,s2,零食，饮料\n"
    (tmp_path / "products.csv").write_bytes(text.encode("gbk"))
    error = refused(tmp_path, "products.csv", None, "not valid utf-8", "gbk", rows=False)
    assert "UTF-8" in error.fix and "line 2" in error.rule


def test_latin1_csv_is_not_called_gbk(tmp_path: Path) -> None:
    (tmp_path / "sales.csv").write_bytes(
        "date,brand,platform,sku_id,units\n2025-01-01,café,tmall,s1,1\n".encode("latin-1")
    )
    error = refused(tmp_path, "sales.csv", None, "not valid utf-8", rows=False)
    assert "GBK" not in error.rule


def test_utf8_with_bom_and_chinese_text_loads(tmp_path: Path) -> None:
    write(tmp_path, "sales", good_sales(brand=["美妆"] * 8))
    products = "brand,sku_id,category\n美妆,s1,护肤\n美妆,s2,彩妆\n"
    (tmp_path / "products.csv").write_bytes(products.encode("utf-8-sig"))
    dataset = load(tmp_path)
    assert dataset.brands == ["美妆"] and sorted(dataset.products["category"]) == ["彩妆", "护肤"]


# ---------------------------------------------------------------- values


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
@pytest.mark.parametrize("column", ["units", "revenue"])
def test_negative_sales(tmp_path: Path, fmt: str, column: str) -> None:
    sales = good_sales()
    sales.loc[[1, 5], column] = -2.0
    write(tmp_path, "sales", sales, fmt)
    error = refused(tmp_path, f"sales.{fmt}", column, "negative")
    assert error.n_bad == 2 and column in error.rows.columns


def test_negative_spend(tmp_path: Path) -> None:
    write(tmp_path, "sales", good_sales())
    ads = pd.DataFrame(
        {
            "date": ["2025-01-01", "2025-01-02"],
            "brand": "a",
            "platform": "tmall",
            "channel": "tmall_ztc",
            "spend": [100.0, -5.0],
        }
    )
    write(tmp_path, "ads", ads)
    error = refused(tmp_path, "ads.csv", "spend", "negative")
    assert error.rows.index.tolist() == [3]  # the file's line number: line 1 is the header


def test_negative_unit_cost(tmp_path: Path) -> None:
    write(tmp_path, "sales", good_sales())
    write(
        tmp_path,
        "products",
        pd.DataFrame({"brand": ["a", "a"], "sku_id": ["s1", "s2"], "unit_cost": [3.0, -1.0]}),
    )
    refused(tmp_path, "products.csv", "unit_cost", "negative")


@pytest.mark.parametrize("column", ["price", "list_price"])
def test_price_must_be_positive(tmp_path: Path, column: str) -> None:
    sales = good_sales()
    sales.loc[3, column] = 0.0
    write(tmp_path, "sales", sales, "parquet")
    refused(tmp_path, "sales.parquet", column, "zero or negative")


@pytest.mark.parametrize("column,value", [("on_promo", 2), ("in_stock", 0.5), ("in_stock", -1)])
def test_flags_are_zero_or_one(tmp_path: Path, column: str, value: float) -> None:
    sales = good_sales()
    sales[column] = sales[column].astype(float)
    sales.loc[6, column] = value
    write(tmp_path, "sales", sales)
    refused(tmp_path, "sales.csv", column, "0 or 1")


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
@pytest.mark.parametrize("bad", ["2025/01/03", "03-01-2025", "2025-1-3", "2025-02-30", "yesterday"])
def test_unparsable_date(tmp_path: Path, fmt: str, bad: str) -> None:
    sales = good_sales()
    sales.loc[2, "date"] = bad
    write(tmp_path, "sales", sales, fmt)
    error = refused(tmp_path, f"sales.{fmt}", "date", "unparsable date", "YYYY-MM-DD")
    assert error.rows["date"].tolist() == [bad]


def test_date_with_time_of_day_in_parquet(tmp_path: Path) -> None:
    sales = good_sales()
    sales["date"] = pd.to_datetime(sales["date"])
    sales.loc[1, "date"] = pd.Timestamp("2025-01-02 13:30")
    write(tmp_path, "sales", sales, "parquet")
    refused(tmp_path, "sales.parquet", "date", "unparsable date")


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_non_numeric_value_is_never_coerced(tmp_path: Path, fmt: str) -> None:
    sales = good_sales().astype({"units": "str"})  # a text column, as a spreadsheet export gives
    sales.loc[1, "units"] = "12件"
    sales.loc[4, "units"] = "1,234"
    write(tmp_path, "sales", sales, fmt)
    error = refused(tmp_path, f"sales.{fmt}", "units", "non-numeric")
    assert error.n_bad == 2 and error.rows["units"].astype(str).tolist() == ["12件", "1,234"]


def test_blank_key_value(tmp_path: Path) -> None:
    sales = good_sales()
    sales.loc[0, "platform"] = ""
    write(tmp_path, "sales", sales)
    refused(tmp_path, "sales.csv", "platform", "blank")


def test_sku_named_na_stays_an_id(tmp_path: Path) -> None:
    write(tmp_path, "sales", good_sales(sku_id=["NA"] * 4 + ["007"] * 4))
    assert sorted(load(tmp_path).products["sku_id"]) == ["007", "NA"]


# ---------------------------------------------------------------- keys and cross-table rules


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_duplicate_sales_rows(tmp_path: Path, fmt: str) -> None:
    sales = good_sales()
    write(tmp_path, "sales", pd.concat([sales, sales.iloc[[2]]]), fmt)
    error = refused(tmp_path, f"sales.{fmt}", "sku_id", "duplicate")
    assert error.n_bad == 2


def ads_frame(**changes: list) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "date": ["2025-01-01", "2025-01-02", "2025-01-01", "2025-01-02"],
            "brand": "a",
            "platform": ["tmall", "tmall", "jd", "jd"],
            "channel": ["tmall_ztc", "tmall_ztc", "jd_kuaiche", "jd_kuaiche"],
            "spend": [100.0, 120.0, 50.0, 60.0],
        }
    )
    for column, values in changes.items():
        frame[column] = values
    return frame


def test_duplicate_ads_rows(tmp_path: Path) -> None:
    write(tmp_path, "sales", good_sales())
    write(tmp_path, "ads", ads_frame(date=["2025-01-01", "2025-01-01", "2025-01-01", "2025-01-02"]))
    refused(tmp_path, "ads.csv", "channel", "duplicate")


def test_channel_on_two_platforms(tmp_path: Path) -> None:
    write(tmp_path, "sales", good_sales())
    write(tmp_path, "ads", ads_frame(channel=["search"] * 4), "parquet")
    error = refused(tmp_path, "ads.parquet", "channel", "two platforms")
    assert set(error.rows["platform"]) == {"tmall", "jd"}


def test_same_channel_name_in_two_brands_is_fine(tmp_path: Path) -> None:
    sales = pd.concat([good_sales(), good_sales(brand=["b"] * 8)])
    write(tmp_path, "sales", sales)
    ads = pd.concat([ads_frame().iloc[:2], ads_frame(brand="b", platform="jd").iloc[:2]])
    write(tmp_path, "ads", ads)
    assert len(load(tmp_path).ads) == 4


@pytest.mark.parametrize("table", ["products", "ads", "promotions"])
def test_unknown_brand(tmp_path: Path, table: str) -> None:
    write(tmp_path, "sales", good_sales())
    frames = {
        "products": pd.DataFrame({"brand": ["a", "zz"], "sku_id": ["s1", "s1"]}),
        "ads": ads_frame(brand=["a", "a", "zz", "zz"]),
        "promotions": pd.DataFrame(
            {
                "brand": ["zz"],
                "platform": ["tmall"],
                "sku_id": ["s1"],
                "start": ["2025-01-02"],
                "end": ["2025-01-03"],
                "discount": [0.2],
            }
        ),
    }
    write(tmp_path, table, frames[table])
    error = refused(tmp_path, f"{table}.csv", "brand", "unknown brand")
    assert set(error.rows["brand"]) == {"zz"}


def promotions_frame(**changes: list) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "brand": ["a", "a"],
            "platform": ["tmall", "tmall"],
            "sku_id": ["s1", "s2"],
            "start": ["2025-01-02", "2025-01-05"],
            "end": ["2025-01-03", "2025-01-09"],
            "discount": [0.2, np.nan],
            "price": [np.nan, 8.0],
            "mechanic": ["coupon", ""],
        }
    )
    for column, values in changes.items():
        frame[column] = values
    return frame


def test_unknown_sku_in_promotions(tmp_path: Path) -> None:
    write(tmp_path, "sales", good_sales())
    write(tmp_path, "promotions", promotions_frame(sku_id=["s1", "s9"]))
    error = refused(tmp_path, "promotions.csv", "sku_id", "unknown sku_id")
    assert error.rows["sku_id"].tolist() == ["s9"]


def test_unknown_sku_is_per_brand(tmp_path: Path) -> None:
    """s3 exists, but for brand b only: a promotion of a's s3 is refused."""
    write(
        tmp_path,
        "sales",
        pd.concat([good_sales(), good_sales(brand=["b"] * 8, sku_id=["s3"] * 4 + ["s4"] * 4)]),
    )
    write(tmp_path, "promotions", promotions_frame(sku_id=["s1", "s3"]), "parquet")
    refused(tmp_path, "promotions.parquet", "sku_id", "unknown sku_id")


@pytest.mark.parametrize("discount", [1.0, 20.0, -0.1])
def test_discount_outside_zero_one(tmp_path: Path, discount: float) -> None:
    write(tmp_path, "sales", good_sales())
    write(tmp_path, "promotions", promotions_frame(discount=[discount, np.nan]))
    refused(tmp_path, "promotions.csv", "discount", "outside [0, 1)")


def test_promotion_without_discount_or_price(tmp_path: Path) -> None:
    write(tmp_path, "sales", good_sales())
    write(tmp_path, "promotions", promotions_frame(price=[np.nan, np.nan]))
    error = refused(tmp_path, "promotions.csv", "discount", "neither discount nor price")
    assert error.rows["sku_id"].tolist() == ["s2"]


@pytest.mark.parametrize("table", ["events", "promotions"])
def test_start_after_end(tmp_path: Path, table: str) -> None:
    write(tmp_path, "sales", good_sales())
    if table == "events":
        frame = pd.DataFrame({"name": ["brand_day"], "start": ["2025-05-20"], "end": ["2025-05-18"]})
    else:
        frame = promotions_frame(start=["2025-01-04", "2025-01-05"])
    write(tmp_path, table, frame)
    error = refused(tmp_path, f"{table}.csv", "start", "start is after end")
    assert error.n_bad == 1


def test_duplicate_products(tmp_path: Path) -> None:
    write(tmp_path, "sales", good_sales())
    write(tmp_path, "products", pd.DataFrame({"brand": ["a", "a"], "sku_id": ["s1", "s1"]}))
    refused(tmp_path, "products.csv", "sku_id", "duplicate")


# ---------------------------------------------------------------- frequency


def weekly_sales(
    weeks: int = 8, start: str = "2025-01-06", skus: tuple[str, ...] = ("w1", "w2")
) -> pd.DataFrame:
    dates = pd.date_range(start, periods=weeks, freq="7D").strftime("%Y-%m-%d").tolist()
    return pd.DataFrame(
        {
            "date": dates * len(skus),
            "brand": "a",
            "platform": "store1",
            "sku_id": [s for s in skus for _ in dates],
            "units": 5.0,
            "revenue": 50.0,
        }
    )


def test_weekly_dates_not_on_one_weekday(tmp_path: Path) -> None:
    sales = weekly_sales()
    sales.loc[3, "date"] = "2025-01-28"  # a Tuesday among Mondays
    write(tmp_path, "sales", sales)
    error = refused(tmp_path, "sales.csv", "date", "not 7 days apart on one weekday")
    assert pd.to_datetime(error.rows["date"]).tolist() == [pd.Timestamp("2025-01-28")]
    assert "Monday" in error.fix


def test_weekly_series_on_different_weekdays(tmp_path: Path) -> None:
    sales = pd.concat([weekly_sales(skus=("w1",)), weekly_sales(start="2025-01-05", skus=("w2",))])
    write(tmp_path, "sales", sales, "parquet")
    refused(tmp_path, "sales.parquet", "date", "not 7 days apart on one weekday")


def test_mixed_frequency_in_a_brand_is_refused(tmp_path: Path) -> None:
    daily = good_sales()
    daily["date"] = pd.date_range("2025-01-06", periods=4).strftime("%Y-%m-%d").tolist() * 2
    sales = pd.concat([daily, weekly_sales(skus=("w1",))])
    write(tmp_path, "sales", sales)
    error = refused(tmp_path, "sales.csv", "date", "mixed frequency")
    assert {"s1", "w1"} <= set(error.rows["sku_id"]) or {"s2", "w1"} <= set(error.rows["sku_id"])


def test_two_brands_may_differ_in_frequency(tmp_path: Path) -> None:
    sales = pd.concat([good_sales(brand=["daily"] * 8), weekly_sales().assign(brand="weekly")])
    write(tmp_path, "sales", sales)
    assert load(tmp_path).frequency == {"daily": "D", "weekly": "W"}


def test_stray_far_date_is_named_not_filled(tmp_path: Path) -> None:
    sales = good_sales()
    sales.loc[3, "date"] = "2205-01-04"  # a typo for 2025: would fill 180 years of zero days
    write(tmp_path, "sales", sales)
    error = refused(tmp_path, "sales.csv", "date", "no row in any series", "mistyped year")
    assert pd.Timestamp("2205-01-04") in pd.to_datetime(error.rows["date"]).tolist()
