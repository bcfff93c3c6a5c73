"""Brand report benchmark: how long the periodic report of a 300-SKU brand takes (target < 30 s).

One simulated brand of 300 SKUs on three platforms (tmall, douyin, pdd; the simulator's `small`
world with more SKUs), history 2025-01-01 .. 2026-10-15, ads and promotions included. Its models are
fitted once, untimed, the way the test suite fits them (LightGBM forecaster with one backtest window,
budget curves with few trials, the selection bundle on that forecaster). Then the monthly report of
2025-10-15 .. 2025-11-14 (holding Double 11) is timed, stage by stage, the way `daiyun report`
runs it: load the data directory, compute the sections, draw the charts, write HTML, .xlsx and,
when Chromium is installed, PDF. Then the whole command, `daiyun report` in a fresh process with
the bundles registered as champions of a fresh MLflow store (imports and champion loading
included: what a cron job waits for). The baseline is the same report of the 8-SKU `small` sample's
glowlab, measured in the same run, so the ratio says how the report grows with the catalogue.

Run: .venv/bin/python benchmarks/report.py  (writes benchmarks/results/report.md)
"""

from __future__ import annotations

import os
import platform
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
RESULTS = REPO / "benchmarks" / "results" / "report.md"
SCRATCH = Path(tempfile.gettempdir()) / "daiyun-report-benchmark"
os.environ.setdefault("MPLBACKEND", "Agg")


from daiyun.features.load import load  # noqa: E402
from daiyun.features.simulator import world  # noqa: E402
from daiyun.features.simulator.catalogue import BrandSpec  # noqa: E402
from daiyun.serving.report.build import build_report  # noqa: E402
from daiyun.serving.report.charts import draw_all  # noqa: E402
from daiyun.serving.report.chromium import find_chromium  # noqa: E402
from daiyun.serving.report.model import Champions  # noqa: E402
from daiyun.serving.report.outputs import write_report  # noqa: E402
from daiyun.serving.report.words import Words  # noqa: E402

BRAND = "glowlab"
START, END = "2025-10-15", "2025-11-14"
TARGET_SECONDS = 30.0


def sample(n_skus: int) -> Path:
    """The small world with `n_skus` SKUs for glowlab only (written once, reused by later runs)."""
    size = f"report{n_skus}"
    world.SIZES[size] = world.SampleSize(
        "2025-01-01", (BrandSpec(BRAND, "beauty", ("tmall", "douyin", "pdd"), n_skus, brand_day=(8, 18)),)
    )
    directory = SCRATCH / size
    if not (directory / "sales.parquet").exists():
        world.write_sample(directory, size=size, seed=3, progress=False)
    return directory


def fit_models(dataset) -> Champions:  # noqa: ANN001
    from daiyun.training.trainers.backtest import run_backtest
    from daiyun.training.trainers.budget import fit_brand
    from daiyun.training.trainers.forecast import default_config, fit_bundle
    from daiyun.training.trainers.selection import SelectionConfig
    from daiyun.training.trainers.selection import fit_bundle as fit_selection

    result = run_backtest(dataset, BRAND, default_config(windows=1, horizon=14, members=("lgbm",)))
    forecast = fit_bundle(dataset, BRAND, result)
    budget, _ = fit_brand(dataset, BRAND, n_trials=5, n_bootstrap=10)
    selection = fit_selection(dataset, BRAND, None, 30, forecast, None, SelectionConfig())  # no correction
    return Champions(forecast, budget, selection)


def timed_report(directory: Path, label: str) -> dict[str, object]:
    champions = fit_models(load(directory))
    cli = end_to_end(directory, register(champions, SCRATCH / f"store-{label.split()[0]}"))
    stages: dict[str, float] = {}
    clock = time.perf_counter()
    dataset = load(directory, brands=[BRAND])
    stages["load data"] = time.perf_counter() - clock
    clock = time.perf_counter()
    report = build_report(dataset, BRAND, START, END, champions=champions, draw=False)
    stages["sections (numbers, sentences)"] = time.perf_counter() - clock
    clock = time.perf_counter()
    draw_all(report, Words(report.lang))
    stages["charts"] = time.perf_counter() - clock
    out = SCRATCH / f"out-{label}"
    sizes = {}
    for suffix in (".html", ".xlsx", ".pdf"):
        if suffix == ".pdf" and find_chromium() is None:
            continue
        clock = time.perf_counter()
        path = write_report(report, out / f"report{suffix}")
        stages[f"write {suffix}"] = time.perf_counter() - clock
        sizes[suffix] = path.stat().st_size
    series = dataset.sales[["platform", "sku_id"]].drop_duplicates()
    return {
        "label": label,
        "skus": series["sku_id"].nunique(),
        "series": len(series),
        "stages": stages,
        "sizes": sizes,
        "cli": cli,
    }


def register(champions: Champions, store: Path) -> dict[str, str]:
    """The fitted bundles as the brand's champions of a fresh MLflow store (what `daiyun report` reads)."""
    import shutil

    import mlflow

    from daiyun.training.registry import log_bundle, register_and_gate
    from daiyun.training.tracking import use_experiment

    shutil.rmtree(store, ignore_errors=True)
    store.mkdir(parents=True)
    env = {
        "MLFLOW_TRACKING_URI": f"sqlite:///{store / 'mlflow.db'}",
        "DAIYUN_ARTIFACT_ROOT": (store / "artifacts").as_uri(),
    }
    os.environ.update(env)
    use_experiment("daiyun-report-benchmark")
    for family in ("forecast", "budget", "selection"):
        bundle = getattr(champions, family)
        with mlflow.start_run() as run:
            uri = log_bundle(bundle)
        register_and_gate(family, BRAND, uri, run.info.run_id, 0.0, "wape", "benchmark")
    return env


def end_to_end(directory: Path, env: dict[str, str]) -> dict[str, float]:
    """`daiyun report` as a user runs it: a fresh process that imports, loads the champions from
    MLflow, reads the data directory, builds and writes the file."""
    import subprocess

    seconds = {}
    for suffix in (".html", ".pdf") if find_chromium() else (".html",):
        command = [
            str(REPO / ".venv" / "bin" / "daiyun"),
            "report",
            "--data",
            str(directory),
            "--brand",
            BRAND,
            "--start",
            START,
            "--end",
            END,
            "--out",
            str(SCRATCH / f"cli-report{suffix}"),
        ]
        clock = time.perf_counter()
        done = subprocess.run(command, env={**os.environ, **env}, capture_output=True, text=True, check=False)
        seconds[suffix] = time.perf_counter() - clock
        if done.returncode != 0:
            raise RuntimeError(done.stderr[-2000:])
    return seconds


def main() -> None:
    SCRATCH.mkdir(parents=True, exist_ok=True)
    small = timed_report(sample(8), "8 SKUs (baseline)")
    large = timed_report(sample(300), "300 SKUs")
    stages = list(large["stages"])
    lines = [
        "# Brand report: time to build and write (benchmarks/report.py)",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores (shared), "
        f"Python {platform.python_version()}; "
        f"Chromium: {find_chromium() or 'not installed (no PDF row)'}. Period {START} .. {END} (Double 11), "
        "models fitted beforehand (untimed).",
        "",
        f"| stage | {small['label']}: s | {large['label']}: s | ratio |",
        "|---|---:|---:|---:|",
    ]
    for stage in stages:
        a, b = small["stages"].get(stage, float("nan")), large["stages"][stage]
        lines.append(f"| {stage} | {a:.2f} | {b:.2f} | {b / a:.1f}x |")
    # one `daiyun report` run writes one file: load + sections + charts + that format's write
    common = ("load data", "sections (numbers, sentences)", "charts")
    totals = {}
    for suffix in (".html", ".xlsx", ".pdf"):
        if f"write {suffix}" not in large["stages"]:
            continue
        a, b = (sum(r["stages"][k] for k in (*common, f"write {suffix}")) for r in (small, large))
        totals[suffix] = b
        lines.append(f"| **in-process total, {suffix}** | **{a:.2f}** | **{b:.2f}** | **{b / a:.1f}x** |")
    for suffix, b in large["cli"].items():
        a = small["cli"][suffix]
        totals[f"cli {suffix}"] = b
        lines.append(
            f"| **`daiyun report --out report{suffix}`, fresh process** | **{a:.2f}** | **{b:.2f}** | "
            f"**{b / a:.1f}x** |"
        )
    worst = max(totals.values())
    lines += [
        "",
        f"Series (SKU x platform): {small['series']} vs {large['series']}. File sizes for 300 SKUs: "
        + ", ".join(f"{k} {v / 1024:.0f} KB" for k, v in large["sizes"].items())
        + ".",
        f"Target: a 300-SKU report in under {TARGET_SECONDS:.0f} s: "
        f"{'met' if worst < TARGET_SECONDS else 'NOT met'} (slowest format {worst:.1f} s).",
    ]
    table = "\n".join(lines) + "\n"
    print(table)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(table, encoding="utf-8")


if __name__ == "__main__":
    main()
