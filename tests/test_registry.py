"""The champion gate: the alias moves only when a challenger beats the champion on the same backtest."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import pytest

from daiyun.training import registry


@dataclass
class ConstantBundle:
    brand: str
    level: float

    def predict_frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame({"value": [self.level] * len(frame)})


def _train(brand: str, level: float, score: float, key: str = "k1", rescore=None):
    import mlflow

    from daiyun.training.tracking import use_experiment

    use_experiment("daiyun-test")
    with mlflow.start_run() as run:
        mlflow.log_metric("wape", score)
        uri = registry.log_bundle(ConstantBundle(brand, level))
        return registry.register_and_gate(
            "forecast", brand, uri, run.info.run_id, score=score, metric="wape",
            backtest_key=key, rescore_champion=rescore,
        )


def test_model_name_is_registry_safe() -> None:
    assert registry.model_name("forecast", "glowlab") == "daiyun-forecast-glowlab"
    assert registry.model_name("forecast", "Acme Beauty/CN").startswith("daiyun-forecast-Acme_Beauty_CN-")
    # names that reduce to the same characters still get their own model
    assert registry.model_name("budget", "美妆A") != registry.model_name("budget", "美妆B")
    with pytest.raises(ValueError):
        registry.model_name("pricing", "a")


def test_champion_moves_only_when_beaten(mlflow_store: str) -> None:
    first = _train("acme", 1.0, score=0.30)
    assert first.promoted and first.reason == "no champion yet"
    worse = _train("acme", 2.0, score=0.35)
    assert not worse.promoted and worse.champion_score == pytest.approx(0.30)
    bundle, info = registry.load_champion("forecast", "acme")
    assert bundle.level == 1.0 and info.version == first.version
    better = _train("acme", 3.0, score=0.20)
    assert better.promoted
    bundle, info = registry.load_champion("forecast", "acme")
    assert bundle.level == 3.0 and info.version == better.version
    assert info.tags["daiyun.champion_decision"] == "promoted"


def test_other_backtest_needs_rescore(mlflow_store: str) -> None:
    _train("acme", 1.0, score=0.30, key="k1")
    no_rescore = _train("acme", 2.0, score=0.10, key="k2")
    assert not no_rescore.promoted and "cannot be re-scored" in no_rescore.reason
    rescored = _train("acme", 2.0, score=0.10, key="k2", rescore=lambda champion: 0.05 * champion.level)
    assert not rescored.promoted and rescored.champion_score == pytest.approx(0.05)


def test_brands_do_not_share_champions(mlflow_store: str) -> None:
    _train("acme", 1.0, score=0.3)
    with pytest.raises(LookupError, match="no forecast champion"):
        registry.load_champion("forecast", "other")
