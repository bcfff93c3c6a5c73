"""The champion gate: the alias moves only when a challenger beats the champion on the same backtest."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

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


def test_bundles_record_their_format_and_daiyun_version(mlflow_store: str) -> None:
    import mlflow

    import daiyun
    from daiyun.models.registry import BUNDLE_FORMAT

    decision = _train("acme", 1.0, score=0.3)
    bundle, info = registry.load_champion("forecast", "acme")
    assert (bundle.daiyun_format, bundle.daiyun_version) == (BUNDLE_FORMAT, daiyun.__version__)
    # the MLflow model pins the daiyun that pickled it
    requirements = mlflow.pyfunc.get_model_dependencies(f"models:/{info.name}/{decision.version}")
    assert f"daiyun=={daiyun.__version__}" in Path(requirements).read_text()


def test_an_unreadable_bundle_fails_in_one_line_that_says_retrain(monkeypatch: pytest.MonkeyPatch) -> None:
    import pickle
    import sys

    from daiyun.models.registry import (
        BUNDLE_FORMAT,
        BundleFormatError,
        ChampionInfo,
        check_bundle,
        readable_bundle,
    )

    future = ConstantBundle("acme", 1.0)
    future.daiyun_format, future.daiyun_version = BUNDLE_FORMAT + 1, "9.0"
    with pytest.raises(BundleFormatError) as raised:
        check_bundle(future, "models:/daiyun-forecast-acme@champion")
    message = str(raised.value)
    assert "\n" not in message and "daiyun 9.0" in message
    assert "daiyun train forecast --data DIR --brand acme" in message
    assert check_bundle(ConstantBundle("acme", 1.0), "x").level == 1.0  # no stamp: written before formats

    # pickled before the stages moved under `daiyun.`: the class lives at a bare `models.…` path
    old = pickle.dumps(ChampionInfo("n", "1", "r", {}, {}), protocol=0).replace(
        b"daiyun.models.registry", b"models.registry")
    monkeypatch.setitem(sys.modules, "models", None)  # as in an installed daiyun: no top-level `models`
    said = r"older daiyun .*module 'models.*retrain it with `daiyun train selection --data DIR --brand glow"
    with pytest.raises(BundleFormatError, match=said):
        with readable_bundle("daiyun-selection-glowlab"):
            pickle.loads(old)


def test_champion_or_model_checks_family_and_brand(mlflow_store: str) -> None:
    from daiyun.features.errors import RequestError
    from daiyun.models.registry import champion_or_model

    decision = _train("acme", 1.0, score=0.3)
    bundle, used = champion_or_model("forecast", "acme")
    assert bundle.level == 1.0 and used == f"daiyun-forecast-acme v{decision.version} (champion)"
    uri = f"models:/daiyun-forecast-acme/{decision.version}"
    assert champion_or_model("forecast", "acme", uri)[1] == uri
    with pytest.raises(RequestError, match="belongs to brand 'acme', not 'other'"):
        champion_or_model("forecast", "other", uri)
    with pytest.raises(LookupError, match="no budget champion"):
        champion_or_model("budget", "acme")


def test_tracking_home_comes_from_configuration(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from daiyun.models.registry import tracking_uri

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setenv("DAIYUN_HOME", str(tmp_path / "home"))
    assert tracking_uri() == f"sqlite:///{(tmp_path / 'home' / 'mlflow' / 'mlflow.db').resolve()}"
    monkeypatch.delenv("DAIYUN_HOME")
    monkeypatch.chdir(tmp_path)
    assert tracking_uri() == f"sqlite:///{(tmp_path / 'mlflow' / 'mlflow.db').resolve()}"


def test_a_failed_brand_is_reported_and_the_others_go_on(mlflow_store: str) -> None:
    import mlflow

    from daiyun.training.tracking import use_experiment
    from daiyun.training.trainers.brands import brand_run, train_brands

    use_experiment("daiyun-test")

    def train_brand(brand: str) -> str:
        with brand_run("forecast", brand):
            if brand == "broken":
                raise RuntimeError("disk full")
        return f"forecast {brand}: ok"

    lines = list(train_brands("forecast", ["acme", "broken", "other"], train_brand))
    assert lines[0] == "forecast acme: ok" and lines[2] == "forecast other: ok"
    assert "broken: failed (RuntimeError: disk full); champion unchanged" in lines[1]
    runs = mlflow.search_runs(experiment_names=["daiyun-test"]).set_index("tags.mlflow.runName")
    assert runs.loc["forecast-broken", "status"] == "FAILED"
    assert runs.loc["forecast-broken", "tags.daiyun.error"] == "RuntimeError: disk full"
    assert runs.loc["forecast-acme", "status"] == "FINISHED"


def test_a_model_logged_before_the_rename_fails_in_one_line(mlflow_store: str, monkeypatch) -> None:
    """A model whose bundle was pickled as bare `models.…` (before `daiyun.models`) loads through MLflow
    as one BundleFormatError naming the retrain command, not a traceback about a missing module."""
    import sys
    import types

    import mlflow

    from daiyun.models.registry import BundleFormatError, load_bundle
    from daiyun.training.tracking import use_experiment

    package, legacy = types.ModuleType("models"), types.ModuleType("models.forecast_bundle")
    package.__path__ = []
    legacy.ConstantBundle = type("ConstantBundle", (ConstantBundle,), {"__module__": legacy.__name__})
    monkeypatch.setitem(sys.modules, "models", package)
    monkeypatch.setitem(sys.modules, "models.forecast_bundle", legacy)
    use_experiment("daiyun-test")
    with mlflow.start_run():
        uri = registry.log_bundle(legacy.ConstantBundle("glowlab", 1.0))
    monkeypatch.setitem(sys.modules, "models", None)  # the old top-level name is gone
    monkeypatch.delitem(sys.modules, "models.forecast_bundle")
    with pytest.raises(BundleFormatError, match="pickled by an older daiyun .* retrain it with") as raised:
        load_bundle(uri)
    assert "\n" not in str(raised.value)
