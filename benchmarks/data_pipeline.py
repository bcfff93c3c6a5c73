"""Data pipeline benchmark: time and peak memory of `daiyun sample`, `load` and the forecast feature build.

    .venv/bin/python benchmarks/data_pipeline.py [--size large] [--keep DIR]

Each stage runs in a fresh process (so its peak resident memory is its own): the simulator at
sizes small, demo and the asked size (default large), then `daiyun.features.load.load` and the forecast
feature frame (`daiyun.features.forecast_frame`: brand history -> panel -> training rows, with the
settings of the LightGBM forecaster) on that sample. Rows per second count the rows each stage
produces. Wall time on a shared machine depends on the neighbours, so CPU time is shown as well.
Prints a markdown table and writes it to benchmarks/results/data_pipeline.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing as mp
import os
import platform
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "data_pipeline.md"
sys.path.insert(0, str(ROOT))

# the LightGBM forecaster's defaults (models/forecast/lgbm.py), so the row count is what training builds
HORIZON, ORIGIN_STRIDE, LOOKBACK, HORIZONS_PER_ORIGIN = 60, 14, 730, 8


def _rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _stage_sample(directory: str, size: str) -> tuple[int, str]:
    import pyarrow.parquet as pq

    from daiyun.features.simulator.world import write_sample

    write_sample(directory, size=size, seed=7, progress=False)
    rows = pq.ParquetFile(Path(directory) / "sales.parquet").metadata.num_rows
    truth = pq.ParquetFile(Path(directory) / "truth" / "expected_units.parquet").metadata.num_rows
    return rows, f"{rows:,} sales rows + {truth:,} truth rows"


def _stage_load(directory: str) -> tuple[int, str]:
    from daiyun.features.load import load

    dataset = load(directory)
    return len(
        dataset.sales
    ), f"{len(dataset.sales):,} sales rows after filling, {len(dataset.brands)} brands"


def _features_after_load(directory: str, clock: list[float]) -> tuple[int, str]:
    from daiyun.features import forecast_frame as ff
    from daiyun.features.calendar import calendar_frame
    from daiyun.features.load import load

    dataset = load(directory)
    clock.append(time.perf_counter())
    clock.append(time.process_time())
    rows, history_rows = 0, 0
    for brand in dataset.brands:
        history = ff.brand_history(dataset, brand)
        history_rows += len(history)
        panel = ff.build_panel(history, dataset.freq(brand))
        events = dataset.for_brand(brand).events
        end = panel.end + ff.STEP[panel.freq] * HORIZON
        calendar = {
            p: calendar_frame(panel.dates[0], end, events=events, platform=p, freq=panel.freq).set_index(
                "date"
            )
            for p in sorted(panel.keys["platform"].unique())
        }
        origins = ff.training_origins(panel, HORIZON, ORIGIN_STRIDE, LOOKBACK)
        frame = ff.training_frame(panel, calendar, HORIZON, origins, HORIZONS_PER_ORIGIN)
        rows += len(frame)
    return rows, f"{rows:,} training rows x {len(ff.FEATURES)} features from {history_rows:,} history rows"


def _child(stage: str, args: tuple, queue: mp.Queue) -> None:
    try:
        import numpy  # noqa: F401 - heavy imports outside the clock and the memory baseline
        import pandas  # noqa: F401

        baseline = _rss_mb()
        wall, cpu = time.perf_counter(), time.process_time()
        if stage == "features":
            clock: list[float] = []
            rows, note = _features_after_load(*args, clock)
            wall, cpu = clock  # the clock starts after the load
        elif stage == "load":
            rows, note = _stage_load(*args)
        else:
            rows, note = _stage_sample(*args)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        queue.put({"rows": rows, "note": note, "wall": wall, "cpu": cpu, "peak": peak, "baseline": baseline})
    except Exception as error:  # a stage that cannot run is reported, not fatal
        queue.put({"error": f"{type(error).__name__}: {error}"})


def _run(stage: str, *args: object) -> dict:
    context = mp.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_child, args=(stage, args, queue))
    process.start()
    result = queue.get()
    process.join()
    return result


def _machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    system = f"{platform.system()} {platform.machine()}"
    return f"{system}, {os.cpu_count()} cores ({model}), Python {platform.python_version()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="large", choices=["demo", "large"])
    parser.add_argument("--keep", type=Path, default=None, help="write the big sample here and keep it")
    options = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="daiyun-bench-"))
    big = options.keep or scratch / options.size
    sizes = ["small", "demo", "large"] if options.size == "large" else ["small", "demo"]
    stages = [
        (f"sample --size {size}", "sample", (str(big if size == options.size else scratch / size), size))
        for size in sizes
    ]
    stages += [
        (f"load ({options.size})", "load", (str(big),)),
        (f"forecast features ({options.size})", "features", (str(big),)),
    ]
    results = []
    try:
        for label, stage, args in stages:
            print(f"running {label} ...", flush=True)
            results.append((label, _run(stage, *args)))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    lines = [
        "| stage | rows | wall s | CPU s | rows/s (wall) | peak RSS MB | stage memory MB | what |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for label, r in results:
        if "error" in r:
            lines.append(f"| {label} | - | - | - | - | - | - | skipped: {r['error'][:120]} |")
            continue
        lines.append(
            f"| {label} | {r['rows']:,} | {r['wall']:.1f} | {r['cpu']:.1f} "
            f"| {r['rows'] / max(r['wall'], 1e-9):,.0f} "
            f"| {r['peak']:,.0f} | {r['peak'] - r['baseline']:,.0f} | {r['note']} |"
        )
    table = "\n".join(lines)
    done = [(label, r) for label, r in results if "error" not in r]
    dominant = ""
    if done:
        slowest = max(done, key=lambda item: item[1]["cpu"])
        fattest = max(done, key=lambda item: item[1]["peak"])
        share = slowest[1]["cpu"] / sum(r["cpu"] for _, r in done)
        dominant = (
            f"What dominates: {slowest[0]} takes {share:.0%} of the CPU time; the largest memory peak "
            f"is {fattest[0]} ({fattest[1]['peak']:,.0f} MB)."
        )
    context = "\n".join(
        [
            "# Data pipeline benchmark",
            "",
            f"Run {dt.datetime.now():%Y-%m-%d %H:%M} on {_machine()}; `python benchmarks/data_pipeline.py "
            f"--size {options.size}`.",
            "Each stage runs in its own process; peak RSS is that process's maximum resident memory,",
            "stage memory the peak minus the process's size after importing numpy and pandas. Rows/s",
            "counts the rows a stage produces: sales rows written (sample), sales rows after zero-day",
            "filling (load), training rows (forecast features, with the LightGBM forecaster's settings:",
            f"horizon {HORIZON}, an origin every {ORIGIN_STRIDE} days over {LOOKBACK} days, "
            f"{HORIZONS_PER_ORIGIN} horizons per origin; the load it needs is",
            "not timed, but its memory is part of that stage's peak).",
            "The machine is shared with other jobs: CPU seconds are the steadier number.",
            dominant,
            "",
            table,
            "",
        ]
    )
    print(context)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    partial = RESULTS.with_suffix(".md.partial")
    partial.write_text(context)
    partial.replace(RESULTS)


if __name__ == "__main__":
    main()
