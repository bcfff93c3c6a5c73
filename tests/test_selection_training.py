"""`daiyun train selection` end to end on the small sample: MLflow run, champion gate, score-products."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from daiyun.features.errors import NotFoundError, RequestError
from daiyun.training.trainers.selection import SelectionConfig, backtest_dates, train_family

BRAND = "glowlab"


def tiny(**changes) -> SelectionConfig:
    settings = dict(
        train_every_days=42, train_lookback_days=400, n_regular_dates=1,
        ranker_params={"n_estimators": 20, "min_child_samples": 3},
        regressor_params={"n_estimators": 20, "min_child_samples": 3},
    )
    settings.update(changes)
    return SelectionConfig(**settings)


def test_backtest_dates_include_the_eves_of_event_presales() -> None:
    dates = backtest_dates(pd.Timestamp("2023-10-01"), pd.Timestamp("2026-10-15"), 30)
    assert pd.Timestamp("2025-10-19") in dates and pd.Timestamp("2026-05-19") in dates
    assert max(dates) + pd.Timedelta(days=30) <= pd.Timestamp("2026-10-15")  # labels complete


def test_train_registers_champion_then_gates_challengers(dataset, mlflow_store, tmp_path: Path) -> None:
    from mlflow import MlflowClient

    from daiyun.training.registry import champion_info, load_champion

    lines = list(train_family(dataset, [BRAND], config=tiny()))
    assert len(lines) == 1 and "v1 champion" in lines[0], lines
    info = champion_info("selection", BRAND)
    assert info is not None and info.version == "1"
    assert 0 < info.metrics["ndcg_at_20"] <= 1 and "last_period.ndcg_at_20" in info.metrics
    assert "daiyun.selection_winner" in info.tags
    artifacts = {a.path for a in MlflowClient().list_artifacts(info.run_id, "plots")}
    assert {"plots/ndcg_by_as_of.png", "plots/captured_revenue_vs_k.png", "plots/reasons.png"} <= artifacts

    # the same backtest again: an equal score does not take the champion's place
    again = list(train_family(dataset, [BRAND], config=tiny()))[0]
    assert "kept" in again and "does not beat" in again
    # another backtest (other as_of dates): the champion is re-scored on the challenger's backtest
    other = list(train_family(dataset, [BRAND], config=tiny(n_regular_dates=2), promote=False))[0]
    assert "re-scored" in other and champion_info("selection", BRAND).version == "1"

    bundle, _ = load_champion("selection", BRAND)
    assert bundle.brand == BRAND and bundle.family == "selection"
    ranked = bundle.score("2026-10-15", 30, platform="tmall", top_k=3)
    assert list(ranked.columns) == [
        "platform", "sku_id", "rank", "score", "expected_revenue", "new_sku", "reasons",
    ]
    assert ranked["rank"].tolist() == [1, 2, 3] and ranked["platform"].eq("tmall").all()
    assert ranked["score"].is_monotonic_decreasing
    assert all(len(reasons) == 3 for reasons in ranked["reasons"])
    with pytest.raises(NotFoundError):
        bundle.score("2026-10-15", 30, platform="no_such_shop")
    with pytest.raises(RequestError, match="after the last date"):
        bundle.score("2027-01-01", 30)
    # the pyfunc entry answers a frame of requests
    answer = bundle.predict_frame(pd.DataFrame([{"as_of": "2026-10-15", "horizon_days": 14, "top_k": 2}]))
    assert set(answer["rank"]) == {1, 2}

    from daiyun.training.cli.app import app

    out = tmp_path / "ranked.csv"
    runner = CliRunner()
    result = runner.invoke(app, [
        "score-products", "--data", str(dataset.source), "--brand", BRAND, "--as-of", "2026-10-15",
        "--horizon", "30", "--top-k", "5", "--out", str(out),
    ])
    assert result.exit_code == 0, result.output
    rows = pd.read_csv(out)
    assert list(rows.columns[:5]) == ["platform", "sku_id", "rank", "score", "expected_revenue"]
    assert {"reason_1", "reason_2", "reason_3"} <= set(rows.columns)
    assert rows["reason_1"].str.len().gt(10).all()
    assert rows.groupby("platform")["rank"].apply(lambda r: r.tolist() == sorted(r.tolist())).all()
    bad = runner.invoke(app, [
        "score-products", "--data", str(dataset.source), "--brand", "nobody", "--as-of", "2026-10-15",
        "--horizon", "30", "--out", str(out),
    ])
    assert bad.exit_code == 1 and "nobody" in bad.output


def test_tune_logs_trials_as_nested_runs(dataset, mlflow_store) -> None:
    import mlflow

    from daiyun.training.registry import champion_info

    line = list(train_family(dataset, ["crunchtime"], tune=2, config=tiny(n_event_dates=1)))[0]
    assert "crunchtime" in line
    parent = champion_info("selection", "crunchtime").run_id
    runs = mlflow.search_runs(experiment_names=["daiyun-selection"],
                              filter_string=f"tags.mlflow.parentRunId = '{parent}'")
    assert len(runs) == 2 and runs["metrics.ndcg_at_20"].between(0, 1).all()
    assert "ranker.label_gain" in mlflow.get_run(parent).data.params
