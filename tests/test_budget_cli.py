"""Budget family end to end: `train budget` logs and gates in MLflow, `recommend-budget` answers from
the champion (or a named model) and refuses infeasible constraints with one clear line."""

from __future__ import annotations

import json
from dataclasses import replace

import pandas as pd
import pytest
from typer.testing import CliRunner

from daiyun.training.cli.app import app

BRAND = "glowlab"


@pytest.mark.slow
def test_train_gate_and_recommend(dataset, sample_dir, mlflow_store, tmp_path) -> None:  # noqa: ANN001
    from mlflow import MlflowClient

    from daiyun.training.registry import champion_info
    from daiyun.training.trainers.budget import train_family

    lines = list(train_family(dataset, [BRAND], tune=3, promote=True))
    assert len(lines) == 1 and "champion (no champion yet)" in lines[0]
    info = champion_info("budget", BRAND)
    assert info is not None and info.version == "1" and info.name == "daiyun-budget-glowlab"
    assert {"oot_wape", "share_baseline", "fit_r2"} <= set(info.metrics)
    assert any(k.startswith("marginal_roi_") for k in info.metrics)
    client = MlflowClient()
    artifacts = {a.path for a in client.list_artifacts(info.run_id, "plots")}
    assert {"plots/response_curves.png", "plots/fit.png"} <= artifacts
    children = client.search_runs(
        [client.get_run(info.run_id).info.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{info.run_id}'",
    )
    assert children and all(c.data.tags.get("daiyun.kind") == "optuna-study" for c in children)

    # newer data (a different backtest): the champion is re-scored on the challenger's holdout
    cut = dataset.end_date - pd.Timedelta(days=30)
    older = replace(
        dataset,
        sales=dataset.sales[dataset.sales["date"] <= cut].reset_index(drop=True),
        ads=dataset.ads[dataset.ads["date"] <= cut].reset_index(drop=True),
    )
    second = list(train_family(older, [BRAND], tune=3, promote=False))[0]
    assert "budget v2" in second and "re-scored" in second
    assert champion_info("budget", BRAND).version == "1"  # promotion was not asked for

    runner = CliRunner()
    out = tmp_path / "plan.json"
    base = [
        "recommend-budget",
        "--data",
        str(sample_dir),
        "--brand",
        BRAND,
        "--start",
        "2026-10-16",
        "--end",
        "2026-11-14",
        "--budget",
        "60000",
        "--out",
        str(out),
    ]
    result = runner.invoke(app, base)
    assert result.exit_code == 0, result.output
    answer = json.loads(out.read_text())
    assert answer["model_versions"]["budget"] == "1"
    assert answer["totals"]["spend"] == pytest.approx(60_000, rel=1e-6)
    for key in (
        "channels",
        "totals",
        "current_mix",
        "uplift",
        "curves",
        "daily_plan",
        "marginal_roi_equalized",
    ):
        assert key in answer
    assert {"p10", "p90", "expected_revenue", "roi"} <= set(answer["totals"])
    row = answer["channels"][0]
    assert {"channel", "spend", "expected_revenue", "roi", "marginal_roi"} <= set(row)

    constraints = tmp_path / "constraints.json"
    constraints.write_text(json.dumps([{"channel": "tmall_ztc", "fixed": 7000}]))
    result = runner.invoke(app, [*base, "--constraints", str(constraints), "--target-roi", "0.5"])
    assert result.exit_code == 0, result.output
    answer = json.loads(out.read_text())
    assert answer["objective"] == "target_roi"
    assert next(r for r in answer["channels"] if r["channel"] == "tmall_ztc")["spend"] == pytest.approx(7000)

    constraints.write_text(
        json.dumps([{"channel": "tmall_ztc", "min": 50000}, {"channel": "pdd_search", "fixed": 20000}])
    )
    result = runner.invoke(app, [*base, "--constraints", str(constraints)])
    assert result.exit_code == 1
    assert "channels" in result.output and "above total_budget" in result.output

    constraints.write_text(json.dumps([{"channel": "tv_spot", "max": 1}]))
    result = runner.invoke(app, [*base, "--constraints", str(constraints)])
    assert result.exit_code == 1 and "unknown channel 'tv_spot'" in result.output

    result = runner.invoke(app, [*base, "--max-shift", "0.2", "--breakeven-roi", "2"])
    assert result.exit_code == 0, result.output
    answer = json.loads(out.read_text())
    assert answer["max_shift"] == 0.2 and answer["breakeven"]["roi"] == 2.0
    for row in answer["channels"]:
        assert row["spend"] <= row["current_spend"] * 1.2 + 0.01 and "identifiable" in row

    result = runner.invoke(app, [*base, "--model", "models:/daiyun-budget-glowlab/2"])
    assert result.exit_code == 0, result.output
    other = [*base]
    other[other.index(BRAND)] = "crunchtime"  # no budget champion for this brand
    result = runner.invoke(app, other)
    assert result.exit_code == 1 and "no budget champion" in result.output
