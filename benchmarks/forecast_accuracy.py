"""Forecast accuracy: demo sample against the simulator's truth, then real data (Rossmann, dunnhumby).

    .venv/bin/python benchmarks/forecast_accuracy.py [--data data/demo] [--skip-real] [--brands B ...]

Demo sample, two views:
* backtest windows (the last Double 11 presale, the last 618 presale, the latest month): every model
  against the realised units, next to the oracle (the simulator's expected units, i.e. the truth
  as forecast: the best possible). Gap closure = (WAPE_seasonal_naive - WAPE_model) /
  (WAPE_seasonal_naive - WAPE_oracle), on promotion days (calendar event or SKU on promotion) and
  overall. Coverage of the p10-p90 interval (out of window).
* the future period (Double 11 2026, after the data ends): the trained bundle with the planned
  promotions against the truth's expected units (no realised units exist; the oracle's WAPE is 0).
Also measured in the same run: direct vs recursive LightGBM, Poisson vs Tweedie objective.

Real data (skipped when ../shared/data is absent): Rossmann (daily, last 6 weeks held out) and
dunnhumby Breakfast at the Frat (weekly, last 12 weeks held out, promotion weeks separately):
ensemble vs seasonal naive and vs Prophet alone, as WAPE ratios from the same run.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared" / "data"
RESULTS = ROOT / "benchmarks" / "results" / "forecast_accuracy.md"

from daiyun.features.dataset import ADS_COLUMNS, Dataset  # noqa: E402
from daiyun.features.forecast_terms import quantile_column  # noqa: E402
from daiyun.training.trainers.backtest import BacktestConfig, run_backtest  # noqa: E402
from daiyun.training.trainers.forecast import default_config, fit_bundle  # noqa: E402
from daiyun.training.trainers.metrics import wape  # noqa: E402

MODELS = ["naive", "seasonal_naive", "moving_average", "prophet", "lgbm", "lgbm_recursive", "ensemble"]


def gap(sn: float, model: float, oracle: float) -> float:
    return (sn - model) / (sn - oracle) if sn > oracle else float("nan")


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return "" if np.isnan(value) else f"{value:.3f}"
    return str(value)


def markdown(frame: pd.DataFrame) -> str:
    lines = ["| " + " | ".join(frame.columns) + " |", "|" + "---|" * len(frame.columns)]
    lines += ["| " + " | ".join(_fmt(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------ demo
def demo(data: Path, brands: list[str] | None) -> tuple[list[pd.DataFrame], list[str]]:
    from daiyun.features.load import load

    if not (data / "sales.parquet").exists():
        from daiyun.features.simulator.world import write_sample

        write_sample(data, size="demo", seed=7)
    dataset = load(data)
    truth = pd.read_parquet(data / "truth" / "expected_units.parquet")
    notes, tables = [], []
    backtest_rows, future_rows, variant_rows = [], [], []
    for brand in brands or dataset.brands:
        began = time.perf_counter()
        config = default_config()
        result = run_backtest(dataset, brand, config)
        seconds = time.perf_counter() - began
        predictions = result.predictions.merge(
            truth.loc[truth["brand"] == brand, ["platform", "sku_id", "date", "expected_units"]],
            on=["platform", "sku_id", "date"],
            how="left",
        )
        lo, hi = quantile_column(min(config.quantiles)), quantile_column(max(config.quantiles))
        for days, mask in (("promotion", predictions["event"]), ("all", np.ones(len(predictions), bool))):
            part = predictions.loc[np.asarray(mask, bool)]
            oracle = wape(part["actual"], part["expected_units"])
            seasonal = wape(part["actual"], part["seasonal_naive"])
            for model in [m for m in MODELS if m in part.columns] + ["oracle"]:
                column = "expected_units" if model == "oracle" else model
                rows = part.loc[part[column].notna()]
                score = wape(rows["actual"], rows[column])
                same = wape(rows["actual"], rows["ensemble"]) if model == "prophet" else np.nan
                backtest_rows.append(
                    {
                        "brand": brand,
                        "days": days,
                        "model": model,
                        "rows": len(rows),
                        "wape": score,
                        "gap_closure": gap(seasonal, score, oracle) if model != "prophet" else np.nan,
                        "ensemble_wape_same_rows": same,
                        "coverage_p10_p90": float(
                            np.mean((part["actual"] >= part[lo]) & (part["actual"] <= part[hi]))
                        )
                        if model == "ensemble"
                        else np.nan,
                    }
                )
        # the future period: the bundle trained on the whole history, with the planned promotions
        bundle = fit_bundle(dataset, brand, result)
        meta = pd.read_json(data / "truth" / "meta.json", typ="series")
        rows = bundle.forecast(meta["future_start"], meta["future_end"])
        future = truth.loc[(truth["brand"] == brand) & (truth["period"] == "future")]
        scored = rows.merge(future, on=["platform", "sku_id", "date"], how="inner")
        frame, _ = bundle._member_predictions(
            bundle._future(bundle.series_table, bundle.origin, pd.Timestamp(meta["future_end"]), None),
            everyone=True,
        )
        members = frame.merge(future, on=["platform", "sku_id", "date"], how="inner")
        seasonal = wape(members["expected_units"], members["seasonal_naive"])
        for model in [m for m in MODELS if m in members.columns or m == "ensemble"]:
            values = scored["mean"] if model == "ensemble" else members[model]
            target = scored["expected_units"] if model == "ensemble" else members["expected_units"]
            ok = values.notna().to_numpy()
            score = wape(target[ok], values[ok])
            future_rows.append(
                {
                    "brand": brand,
                    "model": model,
                    "rows": int(ok.sum()),
                    "wape_vs_expected": score,
                    "gap_closure": gap(seasonal, score, 0.0) if model != "prophet" else np.nan,
                    "bias": float(values[ok].sum() / target[ok].sum() - 1),
                }
            )
        # strategy and objective, measured on the same windows
        for label, variant in (
            ("direct, poisson", replace(config, members=("lgbm",), baselines=())),
            (
                "direct, tweedie 1.2",
                replace(config, members=("lgbm",), baselines=(), lgbm_params={"objective": "tweedie"}),
            ),
            ("recursive, poisson", replace(config, members=("lgbm_recursive",), baselines=())),
        ):
            t0 = time.perf_counter()
            variant_result = run_backtest(dataset, brand, variant)
            model = variant.members[0]
            variant_rows.append(
                {
                    "brand": brand,
                    "variant": label,
                    "wrmsse": variant_result.score(model, "wrmsse"),
                    "wrmsse_event": variant_result.score(model, "wrmsse", "event"),
                    "wape": variant_result.score(model, "wape"),
                    "wape_event": variant_result.score(model, "wape", "event"),
                    "seconds": time.perf_counter() - t0,
                }
            )
        origins = ", ".join(f"{o:%Y-%m-%d}" for o in result.origins)
        weights = "; ".join(
            f"{'+'.join(sorted(k))}: " + ", ".join(f"{m} {w:.2f}" for m, w in v.items())
            for k, v in result.weights.weights_.items()
        )
        notes.append(
            f"- {brand}: {len(bundle.series())} series, backtest origins {origins}, "
            f"backtest {seconds:.0f}s; ensemble weights {weights}"
        )
    tables.append(pd.DataFrame(backtest_rows))
    tables.append(pd.DataFrame(future_rows))
    tables.append(pd.DataFrame(variant_rows))
    return tables, notes


# ------------------------------------------------------------------------------------- real data
def _dataset(brand: str, sales: pd.DataFrame, categories: pd.DataFrame, freq: str) -> Dataset:
    empty_ads = pd.DataFrame(columns=ADS_COLUMNS)
    events = pd.DataFrame({c: pd.Series(dtype="str") for c in ["name", "platform", "brand", "phase"]}).assign(
        start=pd.Series(dtype="datetime64[ns]"), end=pd.Series(dtype="datetime64[ns]")
    )
    promotions = pd.DataFrame(
        columns=["brand", "platform", "sku_id", "start", "end", "discount", "price", "mechanic"]
    )
    products = categories.assign(
        brand=brand, subcategory="unknown", launch_date=pd.NaT, list_price=np.nan, unit_cost=np.nan
    )
    return Dataset(
        sales=sales.assign(brand=brand),
        products=products,
        ads=empty_ads,
        events=events,
        promotions=promotions,
        frequency={brand: freq},
    )


def rossmann() -> pd.DataFrame:
    raw = pd.read_parquet(SHARED / "rossmann_store_sales" / "rossmann.parquet")
    raw["Date"] = pd.to_datetime(raw["Date"])
    stores = raw["Store"].unique()
    grid = pd.MultiIndex.from_product(
        [stores, pd.date_range(raw["Date"].min(), raw["Date"].max())], names=["Store", "Date"]
    ).to_frame(index=False)
    full = grid.merge(raw[["Store", "Date", "Sales", "Promo", "StoreType"]], on=["Store", "Date"], how="left")
    full["StoreType"] = full.groupby("Store")["StoreType"].transform("first")
    open_day = full["Sales"].notna()  # the file keeps open days with sales only; the rest were closed
    sales = pd.DataFrame(
        {
            "date": full["Date"],
            "platform": "store",
            "sku_id": full["Store"].astype(str),
            "units": full["Sales"].fillna(0.0),
            "price": 1.0,
            "list_price": 1.0,
            "discount": 0.0,
            "on_promo": full["Promo"].fillna(0).astype("int8"),
            "in_stock": open_day.astype("int8"),
            "filled": ~open_day,
        }
    )
    sales["revenue"] = sales["units"]
    categories = (
        full[["Store", "StoreType"]]
        .drop_duplicates("Store")
        .rename(columns={"Store": "sku_id", "StoreType": "category"})
        .astype(str)
    )
    return _real("rossmann", _dataset("rossmann", sales, categories, "D"), horizon=42, prophet_top_n=30)


def dunnhumby() -> pd.DataFrame:
    folder = SHARED / "dunnhumby_breakfast_at_the_frat"
    raw = pd.read_parquet(folder / "transaction.parquet")
    products = pd.read_csv(folder / "product.csv")
    raw["date"] = pd.to_datetime(raw["week"], unit="D")
    promo = (raw[["feature", "display", "tpr_only"]].fillna(0).astype(float).sum(axis=1) > 0).astype("int8")
    base = raw["base_price"].where(raw["base_price"] > 0, raw["price"])
    sales = pd.DataFrame(
        {
            "date": raw["date"],
            "platform": raw["store_id"].astype(str),
            "sku_id": raw["upc_id"].astype(str),
            "units": raw["units"].astype(float),
            "price": raw["price"].astype(float),
            "list_price": base.astype(float),
            "discount": np.clip(1 - raw["price"] / base, 0, 0.95).fillna(0.0),
            "on_promo": promo,
            "in_stock": 1,
            "filled": False,
            "revenue": raw["spend"].astype(float),
        }
    ).dropna(subset=["price"])
    categories = products[["upc_id", "category"]].rename(columns={"upc_id": "sku_id"}).astype(str)
    return _real("dunnhumby", _dataset("dunnhumby", sales, categories, "W"), horizon=12, prophet_top_n=30)


def _real(name: str, dataset: Dataset, horizon: int, prophet_top_n: int) -> pd.DataFrame:
    began = time.perf_counter()
    config = BacktestConfig(
        windows=3,
        horizon=horizon,
        members=("lgbm", "prophet"),
        prophet_top_n=prophet_top_n,
        baselines=("seasonal_naive",),
    )
    result = run_backtest(dataset, name, config)
    predictions = result.predictions
    holdout = predictions.loc[
        predictions["origin"] == predictions["origin"].max()
    ]  # the last `horizon` periods
    rows = []
    for days, part in (
        ("all", holdout),
        ("promotion", holdout.loc[holdout["on_promo"] > 0.5]),
        ("normal", holdout.loc[holdout["on_promo"] <= 0.5]),
    ):
        if part.empty:
            continue
        ensemble, seasonal, lgbm = (
            wape(part["actual"], part[m]) for m in ("ensemble", "seasonal_naive", "lgbm")
        )
        top = part.loc[part["prophet"].notna()]
        rows.append(
            {
                "data": name,
                "days": days,
                "rows": len(part),
                "wape_ensemble": ensemble,
                "wape_lgbm": lgbm,
                "wape_seasonal_naive": seasonal,
                "ensemble/seasonal_naive": ensemble / seasonal,
                "prophet_series_rows": len(top),
                "wape_prophet": wape(top["actual"], top["prophet"]),
                "wape_ensemble_same_rows": wape(top["actual"], top["ensemble"]),
                "ensemble/prophet": wape(top["actual"], top["ensemble"])
                / wape(top["actual"], top["prophet"]),
                "seconds": time.perf_counter() - began,
            }
        )
    return pd.DataFrame(rows)


def demo_targets(backtest: pd.DataFrame, future: pd.DataFrame) -> list[str]:
    """The issue's targets, each with the measured value and whether it is met."""
    lines = []

    def verdict(ok: bool) -> str:
        return "met" if ok else "**missed**"

    for brand, rows in backtest.groupby("brand"):
        promo = rows.loc[rows["days"] == "promotion"].set_index("model")
        closure = float(promo.loc["ensemble", "gap_closure"])
        lines.append(
            f"- {brand}, backtest promotion days: gap closure {closure:.2f} (target >= 0.7): "
            f"{verdict(closure >= 0.7)}"
        )
        everything = rows.loc[rows["days"] == "all"].set_index("model")
        ensemble = float(everything.loc["ensemble", "wape"])
        lgbm = float(everything.loc["lgbm", "wape"])
        recursive = (
            float(everything.loc["lgbm_recursive", "wape"]) if "lgbm_recursive" in everything.index else lgbm
        )
        prophet_pair = everything.loc["prophet", ["wape", "ensemble_wape_same_rows"]].astype(float)
        better = (
            ensemble <= min(lgbm, recursive)
            and prophet_pair["ensemble_wape_same_rows"] <= prophet_pair["wape"]
        )
        lines.append(
            f"- {brand}, ensemble vs members (WAPE, all backtest days): ensemble {ensemble:.3f}, LightGBM "
            f"{lgbm:.3f}{f', recursive LightGBM {recursive:.3f}' if recursive != lgbm else ''}; "
            "on Prophet's series ensemble "
            f"{prophet_pair['ensemble_wape_same_rows']:.3f} vs "
            f"Prophet {prophet_pair['wape']:.3f}: {verdict(bool(better))}"
        )
        coverage = float(everything.loc["ensemble", "coverage_p10_p90"])
        lines.append(
            f"- {brand}, p10-p90 coverage {coverage:.3f} (target 0.75-0.85): "
            f"{verdict(0.75 <= coverage <= 0.85)}"
        )
    for brand, rows in future.groupby("brand"):
        closure = float(rows.set_index("model").loc["ensemble", "gap_closure"])
        lines.append(
            f"- {brand}, future Double 11 period vs expected units: gap closure {closure:.2f} "
            f"(target >= 0.7): {verdict(closure >= 0.7)}"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT / "data" / "demo")
    parser.add_argument("--brands", nargs="*")
    parser.add_argument("--skip-real", action="store_true")
    parser.add_argument("--skip-demo", action="store_true")
    args = parser.parse_args()
    began = time.perf_counter()
    sections = [
        "# Forecast accuracy",
        "",
        f"Run {pd.Timestamp.now():%Y-%m-%d %H:%M}, {platform.machine()} with 2 shared cores, "
        f"`python benchmarks/forecast_accuracy.py`.",
        "",
    ]
    if not args.skip_demo:
        (backtest, future, variants), notes = demo(args.data, args.brands)
        for title, table in (
            (
                "Demo sample, backtest windows: WAPE vs realised units, oracle = truth/expected_units",
                backtest,
            ),
            (
                "Demo sample, future period (Double 11 2026): WAPE vs truth/expected_units (oracle WAPE = 0)",
                future,
            ),
            ("Demo sample: direct vs recursive, Poisson vs Tweedie (LightGBM alone, same windows)", variants),
        ):
            print(f"\n{title}\n{table.round(3).to_string(index=False)}")
            sections += [f"## {title}", "", markdown(table), ""]
        sections += ["Context:", *notes, ""]
        sections += ["## Targets (computed from the tables above)", "", *demo_targets(backtest, future), ""]
    if not args.skip_real:
        if SHARED.is_dir():
            real = []
            for runner in (rossmann, dunnhumby):
                try:
                    real.append(runner())
                except FileNotFoundError as missing:
                    print(f"skipping {runner.__name__}: {missing}")
            if real:
                table = pd.concat(real, ignore_index=True)
                print(table.round(3).to_string(index=False))
                sections += [
                    "## Real data: holdout = last backtest window (ensemble weights from the others)",
                    "",
                    markdown(table),
                    "",
                ]
                for row in table.loc[table["days"] == "all"].itertuples(index=False):
                    ratio = row[table.columns.get_loc("ensemble/seasonal_naive")]
                    met = "met" if ratio <= 0.8 else "**missed**"
                    sections.append(
                        f"- {row.data}: ensemble WAPE / seasonal naive {ratio:.2f} (target <= 0.80): {met}"
                    )
                sections.append("")
        else:
            print("../shared/data is absent: real-data part skipped")
    sections.append(f"Total run time {time.perf_counter() - began:.0f}s.")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    temp = RESULTS.with_suffix(".md.tmp")
    temp.write_text("\n".join(sections) + "\n")
    temp.replace(RESULTS)
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
