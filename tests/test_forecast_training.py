"""Training, the champion gate and the forecast CLI, on the small sample with a private MLflow store."""

from __future__ import annotations

import pandas as pd
from typer.testing import CliRunner

from daiyun.training.trainers.backtest import BacktestConfig

BRAND = "crunchtime"


def _config(n_estimators: int) -> BacktestConfig:
    lgbm = {"n_estimators": n_estimators, "lookback": 365, "origin_stride": 21, "horizons_per_origin": 5}
    return BacktestConfig(
        windows=1, horizon=14, members=("lgbm",), baselines=("seasonal_naive",), lgbm_params=lgbm
    )


def _train(dataset, config: BacktestConfig) -> str:
    from daiyun.training.trainers.forecast import train_family

    lines = list(train_family(dataset, brands=[BRAND], config=config))
    assert len(lines) == 1
    return lines[0]


def _champion():
    from daiyun.training.registry import champion_info

    return champion_info("forecast", BRAND)


def test_champion_moves_only_when_beaten(dataset, sample_dir, mlflow_store, monkeypatch, tmp_path):
    weak, strong = _config(2), _config(60)
    line = _train(dataset, weak)
    assert "no champion yet" in line, line
    assert _champion().version == "1"

    line = _train(dataset, strong)
    assert "beats champion v1" in line, line
    assert _champion().version == "2"

    line = _train(dataset, strong)  # same settings, same backtest: not better, so v2 stays
    assert "does not beat champion v2" in line, line
    assert _champion().version == "2"

    from daiyun.models.forecast.lgbm import LGBMForecaster

    def broken(self, *args, **kwargs):
        raise RuntimeError("disk full")

    with monkeypatch.context() as patched:
        patched.setattr(LGBMForecaster, "fit", broken)
        line = _train(dataset, strong)
    assert "failed" in line and "champion unchanged" in line
    assert _champion().version == "2"

    import mlflow

    failed = mlflow.search_runs(
        experiment_names=["daiyun-forecast"], filter_string="attributes.status = 'FAILED'"
    )
    assert len(failed) == 1
    champion = mlflow.get_run(_champion().run_id)
    assert champion.data.tags["daiyun.champion_decision"] == "promoted"
    assert "backtest_wrmsse" in champion.data.metrics
    artifacts = {a.path for a in mlflow.MlflowClient().list_artifacts(champion.info.run_id, "plots")}
    assert {"plots/events_actual_vs_forecast.png", "plots/feature_importance.png"} <= artifacts

    # the CLI forecasts from the champion, refreshed with the data directory's history
    _cli_forecast_checks(tmp_path, str(sample_dir))


def _cli_forecast_checks(tmp_path, data: str):
    from daiyun.training.cli.app import app

    runner = CliRunner()
    out = tmp_path / "forecast.csv"
    plan = tmp_path / "plan.csv"
    pd.DataFrame(
        {
            "platform": ["tmall"],
            "sku_id": ["CRU0001"],
            "start": ["2026-11-01"],
            "end": ["2026-11-11"],
            "discount": [0.3],
        }
    ).to_csv(plan, index=False)
    result = runner.invoke(
        app,
        [
            "forecast",
            "--data",
            data,
            "--brand",
            BRAND,
            "--start",
            "2026-10-16",
            "--end",
            "2026-11-14",
            "--promotions",
            str(plan),
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    rows = pd.read_csv(out)
    assert list(rows.columns) == [
        "brand",
        "platform",
        "sku_id",
        "date",
        "mean",
        "p10",
        "p50",
        "p90",
        "cold_start",
    ]
    assert rows["date"].min() == "2026-10-16" and rows["date"].max() == "2026-11-14"

    bad_plan = tmp_path / "bad.csv"
    pd.DataFrame(
        {
            "platform": ["tmall"],
            "sku_id": ["CRU0001"],
            "start": ["2026-11-01"],
            "end": ["2026-11-11"],
            "discount": [1.7],
        }
    ).to_csv(bad_plan, index=False)
    for args in (["--promotions", str(bad_plan)], ["--quantiles", "0.1,abc"], ["--start", "2026-02-30"]):
        asked = [
            "forecast",
            "--data",
            data,
            "--brand",
            BRAND,
            "--start",
            "2026-10-16",
            "--end",
            "2026-11-14",
            "--out",
            str(tmp_path / "x.csv"),
            *args,
        ]
        result = runner.invoke(app, asked)
        assert result.exit_code == 1, (args, result.output)
        assert "Traceback" not in result.output


def test_backtest_cli_prints_and_writes(sample_dir, tmp_path):
    from daiyun.training.cli.app import app

    out = tmp_path / "table.parquet"
    result = CliRunner().invoke(
        app,
        [
            "backtest",
            "--data",
            str(sample_dir),
            "--brand",
            "northpeak",
            "--windows",
            "1",
            "--horizon",
            "7",
            "--members",
            "lgbm",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    table = pd.read_parquet(out)
    assert {"brand", "model", "level", "days", "wape", "mase", "rmsse", "wrmsse", "coverage"} <= set(
        table.columns
    )
    assert {"seasonal_naive", "ensemble"} <= set(table["model"])
    assert "seasonal_naive" in result.output


def test_tuning_logs_every_trial_as_a_nested_run(dataset, mlflow_store):
    import mlflow

    from daiyun.training.trainers.forecast import train_family

    config = _config(20)
    lines = list(train_family(dataset, brands=["glowlab"], tune=3, config=config))
    assert "failed" not in lines[0], lines[0]
    runs = mlflow.search_runs(experiment_names=["daiyun-forecast"])
    parent = runs.loc[runs["tags.mlflow.runName"] == "forecast-glowlab"]
    trials = runs.loc[runs["tags.mlflow.runName"].str.startswith("trial-")]
    assert len(parent) == 1 and len(trials) == 3
    assert (trials["tags.mlflow.parentRunId"] == parent["run_id"].iloc[0]).all()
    assert set(trials["tags.optuna.state"]) <= {"complete", "pruned"}
    assert (trials["status"] == "FINISHED").all()
    assert parent["metrics.tuning_best_wrmsse"].notna().all()
