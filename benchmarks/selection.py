"""Push-list benchmark: does ranking by the forecast's expected revenue pick the SKUs that will sell?

Rules compared on the same rolling-origin backtest as_of dates (`daiyun train selection`'s own
backtest, training.trainers.selection): the forecast's expected revenue ("forecast": LightGBM
forecaster refitted at each as_of on data up to it, units x planned price), three corrections on
top of it, the learned ones learning only from earlier as_of dates ("corrected": LightGBM on the
forecast's log error; "blended": weights of forecast, last period and 4-period average picked by past
NDCG@20; "combined": forecast and last period averaged on the log scale, nothing learned), last
period's and the 4-period average's best sellers, and "model" = what the bundle serves (the
correction its backtest kept, else forecast-only; that choice is made on these same dates, so the
"model" row is slightly optimistic; the forecast, corrected, blended and combined rows are not).

Parts (each prints its table; all are written to benchmarks/results/selection.md):
1. family: draws of the ranking generator family (features/simulator/ranking_family.py), two
   brands each, per draw and the per-brand median over draws; scope platform.
2. dunnhumby (weekly, store x UPC, next 4 weeks), stores as platforms; scopes platform and brand
   (brand = the whole chain in one list).
3. UCI Online Retail (daily, products, next 30 days).
4. Rossmann (daily, stores as SKUs, store type as platform, sales as revenue, next 30 days);
   every 3rd store to keep the run within minutes on 2 shared cores.
5. latency: one brand of ~300 SKUs trained into a temporary MLflow store, served in-process
   (BentoML ASGI app), POST /score_products timed at 1 client.
Real-data parts skip when ../shared/data is absent.

Run: .venv/bin/python benchmarks/selection.py [--only family,dunnhumby,online_retail,rossmann,latency]
     [--draws 5]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
SHARED = REPO.parent / "shared" / "data"
RESULTS = REPO / "benchmarks" / "results" / "selection.md"
SCRATCH = Path(tempfile.gettempdir()) / "daiyun-selection-benchmark"

from daiyun.features.load import load  # noqa: E402
from daiyun.training.trainers.selection import (  # noqa: E402
    SelectionConfig,
    backtest,
    brand_frame,
    correction_decision,
    final_rule_predictions,
    summarise,
)

RULE_ORDER = ["model", "forecast", "corrected", "blended", "combined", "last_period", "avg_4_periods",
              "oracle"]
METRICS = ["ndcg_at_20", "captured_revenue_at_20"]
PARTS = ("family", "dunnhumby", "online_retail", "rossmann", "latency")
PART_MARK = "## part: "
# the forecaster refitted at each backtest as_of: the family's LightGBM, fewer trees for speed
FORECAST_PARAMS = {"n_estimators": 100}


def evaluate(dataset, brand: str, config: SelectionConfig) -> tuple[pd.DataFrame, str]:
    """Backtest predictions of every rule plus the served "model", and the correction decision."""
    frame, _, tests = brand_frame(dataset, brand, config)
    predictions = backtest(frame, tests, config.correction_params)
    choice, said, _ = correction_decision(predictions)
    return pd.concat([predictions, final_rule_predictions(predictions, choice)], ignore_index=True), said


def metric_rows(name: str, predictions: pd.DataFrame, scope: str = "platform") -> pd.DataFrame:
    _, overall = summarise(predictions, scope=scope, oracle=True)
    groups = predictions.loc[predictions["rule"].eq("forecast")]
    n_groups = groups.groupby(["brand", "as_of"] + (["platform"] if scope == "platform" else [])).ngroups
    rows = [{"dataset": name, "scope": scope, "rule": rule, **overall.loc[rule, METRICS].to_dict(),
             "as_of": groups["as_of"].nunique(), "groups": n_groups}
            for rule in RULE_ORDER if rule in overall.index]
    return pd.DataFrame(rows)


def verdict(table: pd.DataFrame) -> str:
    """Is "model" at or above the best of last period, 4-period average and forecast-only, on both metrics?"""
    parts = []
    for metric in METRICS:
        rules = table.set_index("rule")[metric]
        rivals = rules[["last_period", "avg_4_periods", "forecast"]]
        best = rivals.idxmax()
        ok = round(rules["model"], 3) >= round(rivals.max(), 3)  # as printed: ties at 3 decimals count
        parts.append(f"{metric} {rules['model']:.3f} vs best rival {best} {rivals.max():.3f}: "
                     f"{'met' if ok else 'NOT met'}")
    first = table.iloc[0]
    return f"{first['dataset']} ({first['scope']}): " + "; ".join(parts)


# ------------------------------------------------------------------------------------ parts
def family(draws: int) -> tuple[list[pd.DataFrame], list[str]]:
    from daiyun.features.simulator.ranking_family import draw_specs, write_draw

    config = SelectionConfig(forecast_params=FORECAST_PARAMS)
    per_draw, notes = [], []
    for number, spec in enumerate(draw_specs(draws, seed=0)):
        dataset = load(write_draw(SCRATCH / f"draw{number}", spec))
        for brand in dataset.brands:
            predictions, said = evaluate(dataset, brand, config)
            rows = metric_rows(f"family draw {number} ({spec.seed}) {brand}", predictions)
            per_draw.append(rows.assign(draw=number, brand=brand))
            notes.append(f"draw {number} {brand}: {spec.describe()}; correction {said}")
            print(rows.to_string(index=False, float_format=lambda v: f"{v:.3f}"), flush=True)
    every = pd.concat(per_draw, ignore_index=True)
    tables = []
    for brand, part in every.groupby("brand"):
        median = part.groupby("rule", sort=False)[METRICS].median().reset_index()
        median.insert(0, "scope", "platform")
        median.insert(0, "dataset", f"family median over {draws} draws: {brand}")
        median["as_of"] = part.groupby("rule", sort=False)["as_of"].sum().to_numpy()
        median["groups"] = part.groupby("rule", sort=False)["groups"].sum().to_numpy()
        tables.append(median)
        wins = sum(
            all(round(d.set_index("rule").loc["model", m], 3) >= round(d.set_index("rule").loc[
                ["last_period", "avg_4_periods", "forecast"], m].max(), 3) for m in METRICS)
            for _, d in part.groupby("draw"))
        notes.append(f"family {brand}: model at or above every rival on both metrics in {wins} of {draws} "
                     "draws")
    per_draw_table = every.drop(columns=["draw", "brand"])
    return tables + [per_draw_table], notes


def _dataset_from(sales: pd.DataFrame, products: pd.DataFrame | None = None, market: str = "CN",
                  prices: str = "set"):
    """The real data as a daiyun data directory; its dataset.yaml gives the country (`market`, so a
    British shop is not read with China's holidays and Double 11 pre-sales) and what its price is."""
    with tempfile.TemporaryDirectory() as temp:
        (Path(temp) / "dataset.yaml").write_text(f"market: {market}\nprices: {prices}\n", encoding="utf-8")
        sales.to_parquet(Path(temp) / "sales.parquet", index=False)
        if products is not None:
            products.to_parquet(Path(temp) / "products.parquet", index=False)
        return load(temp)


def dunnhumby() -> tuple[list[pd.DataFrame], list[str]] | None:
    folder = SHARED / "dunnhumby_breakfast_at_the_frat"
    if not folder.is_dir():
        return None
    raw = pd.read_parquet(folder / "transaction.parquet")
    products = pd.read_csv(folder / "product.csv", dtype={"upc_id": str})
    sales = pd.DataFrame({
        "date": pd.to_datetime(raw["week"], unit="D"),
        "brand": "dunnhumby", "platform": "store_" + raw["store_id"].astype(str),
        "sku_id": raw["upc_id"].astype(str), "units": raw["units"], "revenue": raw["spend"],
        "list_price": raw["base_price"].where(raw["base_price"] > 0),
        "on_promo": ((raw["feature"] + raw["display"] + raw["tpr_only"]) > 0).astype(int),
    })
    sales["price"] = (sales["revenue"] / sales["units"]).where((sales["units"] > 0) & (sales["revenue"] > 0))
    sales = sales.loc[sales["units"] > 0]
    catalogue = pd.DataFrame({"brand": "dunnhumby", "sku_id": products["upc_id"],
                              "category": products["category"]})
    catalogue = catalogue.loc[catalogue["sku_id"].isin(sales["sku_id"])].drop_duplicates("sku_id")
    dataset = _dataset_from(sales, catalogue, market="US")
    end = dataset.end_date + pd.Timedelta(days=6)
    tests = [end - pd.Timedelta(days=28 + 56 * i) for i in range(4)][::-1]
    config = SelectionConfig(backtest_as_of=tests, forecast_params=FORECAST_PARAMS)
    predictions, said = evaluate(dataset, "dunnhumby", config)
    name = "dunnhumby (weekly, store x UPC, next 4 weeks)"
    tables = [metric_rows(name, predictions, "platform"), metric_rows(name, predictions, "brand")]
    return tables, [f"dunnhumby: correction {said}"]


def online_retail() -> tuple[list[pd.DataFrame], list[str]] | None:
    folder = SHARED / "uci_online_retail"
    if not folder.is_dir():
        return None
    raw = pd.read_parquet(folder / "onlineretail.parquet")
    raw = raw.loc[~raw["InvoiceNo"].astype(str).str.startswith("C") & (raw["Quantity"] > 0)
                  & (raw["UnitPrice"] > 0) & raw["StockCode"].astype(str).str.match(r"^\d")]
    raw = raw.assign(date=raw["InvoiceDate"].dt.normalize(), revenue=raw["Quantity"] * raw["UnitPrice"])
    daily = raw.groupby(["date", "StockCode"], as_index=False).agg(units=("Quantity", "sum"),
                                                                   revenue=("revenue", "sum"))
    sales = pd.DataFrame({"date": daily["date"], "brand": "online_retail", "platform": "web",
                          "sku_id": daily["StockCode"].astype(str), "units": daily["units"],
                          "revenue": daily["revenue"]})
    sales["price"] = sales["revenue"] / sales["units"]
    # the day's price is revenue / units over invoices at tier prices: a paid average
    dataset = _dataset_from(sales, market="GB", prices="paid_average")
    end = dataset.end_date
    tests = [end - pd.Timedelta(days=30 + 30 * i) for i in range(4)][::-1]
    config = SelectionConfig(backtest_as_of=tests,
                             forecast_params={**FORECAST_PARAMS, "horizons_per_origin": 30})
    predictions, said = evaluate(dataset, "online_retail", config)
    return [metric_rows("UCI Online Retail (daily, products, next 30 days)", predictions)], [
        f"online_retail: correction {said}"]


def rossmann() -> tuple[list[pd.DataFrame], list[str]] | None:
    folder = SHARED / "rossmann_store_sales"
    if not folder.is_dir():
        return None
    raw = pd.read_parquet(folder / "rossmann.parquet")
    raw = raw.loc[raw["Store"] % 3 == 0]
    store_type = raw["StoreType"] if "StoreType" in raw else pd.Series("all", index=raw.index)
    sales = pd.DataFrame({
        "date": pd.to_datetime(raw["Date"]), "brand": "rossmann",
        "platform": "type_" + store_type.astype(str),
        "sku_id": "store_" + raw["Store"].astype(str),
        # stores as SKUs: a euro of sales is one "unit" at price 1, so revenue = sales
        "units": raw["Sales"].astype(float), "revenue": raw["Sales"].astype(float), "price": 1.0,
        "on_promo": raw["Promo"].astype(int), "in_stock": raw["Open"].astype(int),
    })
    dataset = _dataset_from(sales, market="DE")
    end = dataset.end_date
    tests = [end - pd.Timedelta(days=30 + 30 * i) for i in range(4)][::-1]
    config = SelectionConfig(backtest_as_of=tests, forecast_params=FORECAST_PARAMS)
    predictions, said = evaluate(dataset, "rossmann", config)
    name = f"Rossmann ({sales['sku_id'].nunique()} stores as SKUs, daily, next 30 days)"
    tables = [metric_rows(name, predictions, "platform"), metric_rows(name, predictions, "brand")]
    return tables, [f"rossmann: correction {said}"]


def latency(requests: int = 60) -> tuple[list[pd.DataFrame], list[str]]:
    """p50/p90 of POST /score_products for a ~300-SKU brand, in-process, 1 client."""
    from daiyun.features.simulator.ranking_family import DrawSpec, write_draw
    from daiyun.training.trainers.backtest import BacktestConfig
    from daiyun.training.trainers.forecast import train_family as train_forecast
    from daiyun.training.trainers.selection import train_family as train_selection

    store = SCRATCH / "latency_store"
    if store.exists():
        import shutil

        shutil.rmtree(store)
    store.mkdir(parents=True)
    os.environ.update({"MLFLOW_TRACKING_URI": f"sqlite:///{store / 'mlflow.db'}",
                       "DAIYUN_ARTIFACT_ROOT": (store / "artifacts").as_uri(), "BENTOML_DO_NOT_TRACK": "1"})
    os.environ.pop("DAIYUN_API_KEYS", None)
    os.environ.pop("DAIYUN_API_KEYS_FILE", None)
    spec = DrawSpec(seed=11, n_skus=145, launch_share=0.1, phaseout_share=0.05, event_scale=1.0,
                    stockout_rate=0.02)
    dataset = load(write_draw(SCRATCH / "latency_draw", spec))
    brand = "alpha"
    dataset = dataset.for_brand(brand)
    n_series = len(dataset.sales[["platform", "sku_id"]].drop_duplicates())
    forecast_config = BacktestConfig(windows=1, horizon=30, members=("lgbm",), baselines=("seasonal_naive",),
                                     lgbm_params={"n_estimators": 60})
    list(train_forecast(dataset, brands=[brand], config=forecast_config))
    list(train_selection(dataset, [brand], config=SelectionConfig(
        n_regular_dates=1, n_learning_dates=1, forecast_params={"n_estimators": 60})))
    from starlette.testclient import TestClient

    from daiyun.serving.service import Daiyun

    as_of = str(dataset.end_date.date())
    timings: dict[str, list[float]] = {}
    with TestClient(app=Daiyun.to_asgi(), raise_server_exceptions=False) as client:
        for label, body in [
            ("first request (forecast + features computed)", {"horizon_days": 30}),
            ("repeat, all SKUs, scope platform", {"horizon_days": 30}),
            ("repeat, top 20, scope brand", {"horizon_days": 30, "top_k": 20, "scope": "brand"}),
        ]:
            count = 1 if label.startswith("first") else requests
            for _ in range(count):
                started = time.perf_counter()
                answer = client.post("/score_products", json={"brand": brand, "as_of": as_of, **body})
                timings.setdefault(label, []).append((time.perf_counter() - started) * 1000)
                assert answer.status_code == 200, answer.text
    rows = [{"request": label, "skus_scored": n_series, "requests": len(values),
             "p50_ms": float(np.median(values)), "p90_ms": float(np.percentile(values, 90))}
            for label, values in timings.items()]
    table = pd.DataFrame(rows)
    p50 = table.loc[table["request"].str.startswith("repeat, all"), "p50_ms"].iloc[0]
    return [table], [f"latency: {n_series} SKUs, repeat p50 {p50:.1f} ms (target <= 100 ms: "
                     f"{'met' if p50 <= 100 else 'NOT met'})"]


# ------------------------------------------------------------------------------------ main
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="family,dunnhumby,online_retail,rossmann,latency")
    parser.add_argument("--draws", type=int, default=12)  # as many worlds as the budget family
    args = parser.parse_args()
    wanted = args.only.split(",")
    parts = {"family": lambda: family(args.draws), "dunnhumby": dunnhumby, "online_retail": online_retail,
             "rossmann": rossmann, "latency": latency}
    unknown = [name for name in wanted if name not in parts]
    if unknown:
        parser.error(f"unknown part {unknown[0]}; parts: {', '.join(PARTS)}")
    blocks = _existing_blocks()  # parts not rerun keep their last results
    for name in wanted:
        started = time.perf_counter()
        notes, body = [], []
        try:
            result = parts[name]()
        except Exception as error:  # noqa: BLE001 - one failed part must not lose the others' numbers
            result, notes = None, [f"{name}: FAILED ({type(error).__name__}: {error})"]
        if result is None and not notes:
            notes = [f"{name}: skipped (../shared/data absent)"]
        if result is not None:
            tables, notes = result
            for table in tables:
                single = "rule" in table.columns and table["dataset"].nunique() == 1
                if single and "model" in set(table["rule"]):
                    notes = [*notes, verdict(table)]
                print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"), flush=True)
                body += [_markdown(table), ""]
        for line in notes:
            print(line, flush=True)
        blocks[name] = "\n".join([
            f"{PART_MARK}{name}", "",
            f"Run {time.strftime('%Y-%m-%d %H:%M')} on {platform.node() or 'this machine'} ({os.cpu_count()} "
            f"cores, shared); wall time {time.perf_counter() - started:.0f}s.", "",
            *body, *[f"- {note}" for note in notes], "",
        ])
    lines = ["# Push-list (product selection) benchmark", "", "`benchmarks/selection.py`.", "",
             *__doc__.split("\n\n")[1:3], ""]
    lines += [blocks[name] for name in PARTS if name in blocks]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    partial = RESULTS.with_suffix(".md.partial")
    partial.write_text("\n".join(lines))
    partial.replace(RESULTS)
    print(f"wrote {RESULTS}")


def _existing_blocks() -> dict[str, str]:
    """The part sections of the last results file (by their '## part: ' headings)."""
    if not RESULTS.exists():
        return {}
    text = RESULTS.read_text()
    blocks = {}
    for chunk in text.split(PART_MARK)[1:]:
        name = chunk.split("\n", 1)[0].strip()
        blocks[name] = PART_MARK + chunk.rstrip("\n") + "\n"
    return blocks


def _markdown(frame: pd.DataFrame) -> str:
    header = "| " + " | ".join(frame.columns) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    body = [
        "| " + " | ".join(f"{v:.3f}" if isinstance(v, (float, np.floating)) else str(v) for v in row) + " |"
        for row in frame.itertuples(index=False)
    ]
    return "\n".join([header, rule, *body])


if __name__ == "__main__":
    main()
