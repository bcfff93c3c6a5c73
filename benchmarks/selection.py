"""Product-selection benchmark: does the model pick the SKUs that will sell, better than the baselines?

1. Demo sample (simulated): rank every SKU per platform on the last history date for the 30-day
   future period (Double 11 pre-sale and peak) and score against `truth/future_value` (the true
   expected revenue, so the oracle's ranking is known).
2. dunnhumby "Breakfast at the Frat" (real, weekly): store as platform, rank UPCs per store for
   the next 4 weeks, on several as_of dates, each model fitted only on earlier horizons.
3. UCI Online Retail (real, daily): rank products for the next month, same protocol.

Metrics per (platform, as_of) group, averaged: NDCG@20 with revenue as gain and captured-revenue
share @20 (our top 20's revenue / the true top 20's). "model" is the rule the training backtest
picks (as `daiyun train selection` does); ranker and regressor are shown too. Target:
captured-revenue@20 at least 10% (relative) above the better baseline.

Run: .venv/bin/python benchmarks/selection.py [--data data/demo] [--only demo,dunnhumby,online_retail]
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

from daiyun.features.load import load  # noqa: E402
from daiyun.features.selection_frame import OPTIONAL_FEATURES, selection_frame  # noqa: E402
from daiyun.models.selection.matrix import default_features  # noqa: E402
from daiyun.models.selection.scorer import KINDS, SelectionModel  # noqa: E402
from daiyun.training.trainers.selection import (  # noqa: E402
    SelectionConfig,
    backtest,
    brand_frame,
    pick_winner,
    summarise,
    training_dates,
)
from daiyun.training.trainers.selection_metrics import ranking_metrics  # noqa: E402

K = 20
COLUMNS = ["dataset", "rule", "ndcg_at_20", "captured_revenue_at_20", "precision_at_20", "groups"]


def _table(name: str, per_group: pd.DataFrame, winner: str) -> pd.DataFrame:
    metrics = per_group.groupby("kind")[["ndcg_at_20", "captured_revenue_at_20", "precision_at_20"]].mean()
    metrics["groups"] = per_group.groupby("kind").size()
    order = [winner, *KINDS, "oracle"]
    rows = []
    for kind in order:
        if kind not in metrics.index:
            continue
        rows.append({"dataset": name, "rule": kind, **metrics.loc[kind].to_dict()})
    return pd.DataFrame(rows, columns=COLUMNS)


def _verdict(table: pd.DataFrame) -> str:
    model = table.iloc[0]
    baselines = table.loc[table["rule"].isin(["last_period", "avg_4_periods"])]
    best = baselines.loc[baselines["captured_revenue_at_20"].idxmax()]
    ours, theirs = model["captured_revenue_at_20"], best["captured_revenue_at_20"]
    lift = ours / theirs - 1
    met = "met" if lift >= 0.10 else "MISSED"
    # the oracle captures 1.0, so no ranking can beat the baseline by more than 1 / baseline - 1
    ceiling = 1 / theirs - 1
    closed = (ours - theirs) / (1 - theirs) if theirs < 1 else float("nan")
    return (
        f"{model['dataset']}: captured-revenue@20 {ours:.3f} vs better baseline {best['rule']} {theirs:.3f}: "
        f"{lift:+.1%} relative (target +10%: {met}; the most any ranking could add is {ceiling:+.1%}; "
        f"the model closes {closed:.0%} of the baseline's gap to the oracle)"
    )


def demo(directory: Path, config: SelectionConfig) -> tuple[pd.DataFrame, str]:
    """Model, baselines and oracle on the demo's future period, against truth/future_value."""
    if not (directory / "sales.parquet").exists():
        from daiyun.features.simulator.world import write_sample

        write_sample(directory, size="demo", seed=7)
    dataset = load(directory)
    truth = pd.read_parquet(directory / "truth" / "future_value.parquet")
    horizon = int(truth["horizon_days"].iloc[0])
    as_of = pd.Timestamp(truth["as_of"].iloc[0])
    groups = []
    winners = {}
    for brand in dataset.brands:
        settings = SelectionConfig(**{**config.__dict__, "horizon_days": horizon})
        frame, _, tests = brand_frame(dataset, brand, settings, extra_dates=[as_of])
        features = default_features(frame, OPTIONAL_FEATURES)
        _, overall = summarise(backtest(frame, tests, horizon, features, config.ranker_params,
                                        config.regressor_params))
        winners[brand], _ = pick_winner(overall)
        model = SelectionModel("ranker", features, config.ranker_params, config.regressor_params).fit(
            frame, fit_ranker=True
        )
        now = frame.loc[frame["as_of"].eq(as_of)].drop(columns="target").merge(
            truth.loc[truth["brand"].eq(brand), ["platform", "sku_id", "expected_revenue"]].rename(
                columns={"expected_revenue": "target"}), on=["platform", "sku_id"], how="inner")
        for kind in KINDS:
            scored = now.assign(score=model.with_kind(kind).predict(now)["score"].to_numpy())
            groups.append(ranking_metrics(scored, ks=(K,)).assign(kind=kind))
            if kind == winners[brand]:
                groups.append(ranking_metrics(scored, ks=(K,)).assign(kind="model"))
        groups.append(ranking_metrics(now.assign(score=now["target"]), ks=(K,)).assign(kind="oracle"))
    per_group = pd.concat(groups, ignore_index=True)
    table = _table("demo (simulated, vs truth)", per_group, "model")
    table.loc[table["rule"].eq("model"), "rule"] = "model (" + ", ".join(
        f"{b}: {w}" for b, w in winners.items()) + ")"
    return table, f"demo winners per brand: {winners}"


def _real_backtest(name: str, dataset, horizon: int, tests: list[pd.Timestamp], config: SelectionConfig,
                   every_days: int) -> pd.DataFrame:
    brand = dataset.brands[0]
    start, end = dataset.start_date, dataset.end_date
    if dataset.freq(brand) == "W":
        end = end + pd.Timedelta(days=6)
    train = training_dates(start, end, horizon, every_days, config.train_lookback_days)
    frame = selection_frame(dataset, sorted(set(train) | set(tests)), horizon,
                            event_windows=pd.DataFrame(columns=["name", "phase", "start", "end"]))
    features = default_features(frame, OPTIONAL_FEATURES)
    predictions = backtest(frame, tests, horizon, features, config.ranker_params, config.regressor_params)
    # the "model" is the rule the earlier folds pick; here: the training backtest's winner on all folds
    by_as_of, overall = summarise(predictions, oracle=True)
    winner, _ = pick_winner(overall)
    groups = []
    for kind, part in predictions.groupby("kind"):
        groups.append(ranking_metrics(part, ks=(K,)).assign(kind=kind))
    first = predictions.loc[predictions["kind"].eq(KINDS[0])]
    groups.append(ranking_metrics(first.assign(score=first["target"]), ks=(K,)).assign(kind="oracle"))
    per_group = pd.concat(groups, ignore_index=True)
    model = per_group.loc[per_group["kind"].eq(winner)].assign(kind="model")
    table = _table(name, pd.concat([model, per_group]), "model")
    table.loc[table["rule"].eq("model"), "rule"] = f"model ({winner})"
    return table


def dunnhumby(config: SelectionConfig) -> pd.DataFrame | None:
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
                              "category": products["category"], "subcategory": products["sub_category"]})
    catalogue = catalogue.loc[catalogue["sku_id"].isin(sales["sku_id"])]
    with tempfile.TemporaryDirectory() as temp:
        sales.to_parquet(Path(temp) / "sales.parquet", index=False)
        catalogue.to_parquet(Path(temp) / "products.parquet", index=False)
        dataset = load(temp)
    end = dataset.end_date + pd.Timedelta(days=6)
    # six as_of dates, 8 weeks apart, ending with the last one whose 4 weeks are all observed
    tests = [end - pd.Timedelta(days=28 + 56 * i) for i in range(6)][::-1]
    return _real_backtest("dunnhumby (weekly, store x UPC, next 4 weeks)", dataset, 28, tests, config, 28)


def online_retail(config: SelectionConfig) -> pd.DataFrame | None:
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
    with tempfile.TemporaryDirectory() as temp:
        sales.to_parquet(Path(temp) / "sales.parquet", index=False)
        dataset = load(temp)
    end = dataset.end_date
    tests = [end - pd.Timedelta(days=30 + 30 * i) for i in range(4)][::-1]
    return _real_backtest("UCI Online Retail (daily, products, next 30 days)", dataset, 30, tests, config, 14)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(REPO / "data" / "demo"))
    parser.add_argument("--only", default="demo,dunnhumby,online_retail", help="comma-separated parts")
    args = parser.parse_args()
    wanted = set(args.only.split(","))
    config = SelectionConfig(train_every_days=14)
    tables, notes, timings = [], [], []
    parts = [("demo", lambda: demo(Path(args.data), config)),
             ("dunnhumby", lambda: (dunnhumby(config), "")),
             ("online_retail", lambda: (online_retail(config), ""))]
    for name, run in [(name, run) for name, run in parts if name in wanted]:
        started = time.perf_counter()
        table, note = run()
        timings.append(f"{name} {time.perf_counter() - started:.0f}s")
        if table is None:
            notes.append(f"{name}: skipped (../shared/data absent)")
            continue
        tables.append(table)
        notes.append(_verdict(table))
        if note:
            notes.append(note)
        print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"), flush=True)
        print(notes[-1] if not note else notes[-2], flush=True)
    result = pd.concat(tables, ignore_index=True)
    result["groups"] = result["groups"].astype(int)
    lines = [
        "# Product selection benchmark",
        "",
        f"Run {time.strftime('%Y-%m-%d %H:%M')} on {platform.node() or 'this machine'} "
        f"({os.cpu_count()} cores, shared), `benchmarks/selection.py`; wall time: {', '.join(timings)}.",
        "Metrics per (platform, as_of) group, averaged; gain = revenue. Demo: one as_of (last history day),",
        "scored against truth/future_value (oracle = 1 by construction). Real data: rolling-origin backtest,",
        "each fold fitted only on horizons ended before its as_of. 'model' is the rule the backtest picks",
        "(as `daiyun train selection` does; on real data picked on these same folds, so slightly optimistic;",
        "the ranker/regressor rows are not). Demo data: `daiyun sample --size demo --seed 7` (850 series).",
        "The +10% captured-revenue@20 target cannot be met where the better baseline already captures more",
        "than 91% (the oracle's 1.0 caps the lift); 'closes x% of the gap' says how far toward the oracle.",
        "Time is dominated by LightGBM fits (2 models x folds); UCI also builds 4,000-product frames.",
        "",
        result.to_markdown(index=False, floatfmt=".3f") if _has_tabulate() else _markdown(result),
        "",
        *[f"- {note}" for note in notes],
        "",
    ]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines))
    print(f"wrote {RESULTS}")


def _has_tabulate() -> bool:
    try:
        import tabulate  # noqa: F401
    except ImportError:
        return False
    return True


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
