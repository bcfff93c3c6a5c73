"""Model registry: log a family's fitted bundle, register it, and move `champion` only when earned.

A *bundle* is the fitted, picklable object a family serves from (it carries everything needed to
answer without the data directory). It is logged as an MLflow pyfunc so the registry, the UI and
`bentoml build` treat every family alike; `load_bundle` unwraps it again.
"""

from __future__ import annotations

import contextlib
import io
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from daiyun.training.tracking import quiet, tracking_uri

CHAMPION = "champion"
FAMILIES = ("forecast", "budget", "selection")


def model_name(family: str, brand: str) -> str:
    """`daiyun-<family>-<brand>`, with the brand reduced to registry-safe characters."""
    if family not in FAMILIES:
        raise ValueError(f"family must be one of {FAMILIES}, got '{family}'")
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", str(brand)).strip("_") or "brand"
    if slug != str(brand):
        # two brands must never share a model name ("美妆A" and "美妆B" both reduce to "brand")
        import hashlib

        slug = f"{slug}-{hashlib.sha1(str(brand).encode()).hexdigest()[:8]}"
    return f"daiyun-{family}-{slug}"


def _client():
    import mlflow
    from mlflow import MlflowClient

    quiet()
    mlflow.set_tracking_uri(tracking_uri())
    return MlflowClient()


try:
    import mlflow.pyfunc as _pyfunc

    # MLflow warns at class creation that `predict` has no type hints, forcing the warning on with
    # its own filter; bundles validate their own inputs, so on every CLI call it would only be noise.
    with contextlib.redirect_stderr(io.StringIO()):

        class BundleModel(_pyfunc.PythonModel):
            """pyfunc wrapper: `predict` hands a frame to the bundle's `predict_frame`."""

            def __init__(self, bundle: Any) -> None:
                self.bundle = bundle

            def predict(self, context, model_input, params=None):  # noqa: ANN001, ANN201
                return self.bundle.predict_frame(model_input)

except ImportError:  # pragma: no cover - mlflow is a hard dependency
    BundleModel = None  # type: ignore[assignment,misc]


def log_bundle(bundle: Any, name: str = "model") -> str:
    """Log the bundle in the active run; returns the model URI to register."""
    import mlflow

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # bundles validate their own inputs
        info = mlflow.pyfunc.log_model(
            name=name,
            python_model=BundleModel(bundle),
            # the serving environment is this project; skip MLflow's slow requirement inference
            pip_requirements=["daiyun"],
        )
    return info.model_uri


def load_bundle(model_uri: str) -> Any:
    """The family's native object from any MLflow model URI (`models:/name@champion`, runs:/...)."""
    import mlflow

    _client()
    loaded = mlflow.pyfunc.load_model(model_uri)
    return loaded.unwrap_python_model().bundle


@dataclass
class ChampionInfo:
    name: str
    version: str
    run_id: str
    metrics: dict[str, float]
    tags: dict[str, str]


def champion_info(family: str, brand: str) -> ChampionInfo | None:
    """The brand's current champion for a family, or None when it has none."""
    from mlflow.exceptions import MlflowException

    client = _client()
    name = model_name(family, brand)
    try:
        version = client.get_model_version_by_alias(name, CHAMPION)
    except MlflowException:
        return None
    run = client.get_run(version.run_id) if version.run_id else None
    return ChampionInfo(
        name=name,
        version=str(version.version),
        run_id=version.run_id or "",
        metrics=dict(run.data.metrics) if run else {},
        tags=dict(run.data.tags) if run else {},
    )


def load_champion(family: str, brand: str) -> tuple[Any, ChampionInfo]:
    """Load the brand's champion bundle; LookupError when the brand has none."""
    info = champion_info(family, brand)
    if info is None:
        raise LookupError(
            f"brand '{brand}' has no {family} champion yet; train one with "
            f"`daiyun train {family} --data DIR --brand {brand}`"
        )
    return load_bundle(f"models:/{info.name}@{CHAMPION}"), info


@dataclass
class GateDecision:
    promoted: bool
    version: str
    reason: str
    challenger_score: float
    champion_score: float | None
    champion_version: str | None


def register_and_gate(
    family: str,
    brand: str,
    model_uri: str,
    run_id: str,
    score: float,
    metric: str,
    backtest_key: str,
    lower_is_better: bool = True,
    rescore_champion: Callable[[Any], float] | None = None,
    promote: bool = True,
) -> GateDecision:
    """Register the challenger; move `champion` only if it beats the champion on the same backtest.

    "The same backtest" is `backtest_key` (data fingerprint + windows). When the champion was
    scored on another backtest, `rescore_champion(champion_bundle)` scores it on this one; without
    it the challenger is not promoted, because numbers from different backtests do not compare.
    The decision and its reason are written to the run as tags.
    """
    import mlflow

    client = _client()
    name = model_name(family, brand)
    incumbent = champion_info(family, brand)
    # MLflow prints "Successfully registered model" to stderr; our own summary line says it better
    with contextlib.redirect_stderr(io.StringIO()):
        version = mlflow.register_model(model_uri, name, tags={"brand": str(brand), "family": family})
    champion_score: float | None = None
    better = (lambda a, b: a < b) if lower_is_better else (lambda a, b: a > b)
    if incumbent is None:
        promoted, reason = True, "no champion yet"
    else:
        if incumbent.tags.get("daiyun.backtest_key") == backtest_key and metric in incumbent.metrics:
            champion_score = float(incumbent.metrics[metric])
            how = "same backtest, stored score"
        elif rescore_champion is not None:
            champion_bundle = load_bundle(f"models:/{name}@{CHAMPION}")
            champion_score = float(rescore_champion(champion_bundle))
            how = "champion re-scored on this backtest"
        else:
            champion_score = None
            how = "champion was scored on another backtest and cannot be re-scored"
        if champion_score is None:
            promoted, reason = False, f"kept champion v{incumbent.version}: {how}"
        elif better(score, champion_score):
            promoted = True
            reason = (
                f"{metric} {score:.4f} beats champion v{incumbent.version} {champion_score:.4f} ({how})"
            )
        else:
            promoted = False
            reason = (
                f"{metric} {score:.4f} does not beat champion v{incumbent.version} "
                f"{champion_score:.4f} ({how})"
            )
    if promoted and not promote:
        promoted, reason = False, f"would promote ({reason}) but promotion was not asked for"
    if promoted:
        client.set_registered_model_alias(name, CHAMPION, str(version.version))
    client.set_tag(run_id, "daiyun.backtest_key", backtest_key)
    client.set_tag(run_id, "daiyun.champion_decision", "promoted" if promoted else "kept")
    client.set_tag(run_id, "daiyun.champion_reason", reason)
    client.set_tag(run_id, "daiyun.model_version", str(version.version))
    return GateDecision(
        promoted=promoted,
        version=str(version.version),
        reason=reason,
        challenger_score=score,
        champion_score=champion_score,
        champion_version=incumbent.version if incumbent else None,
    )


def data_fingerprint(frame: pd.DataFrame) -> str:
    """A short, stable hash of a frame, so a backtest key changes when the data does."""
    import hashlib

    hashed = pd.util.hash_pandas_object(frame, index=False).values
    return hashlib.sha1(hashed.tobytes()).hexdigest()[:12]


def list_models(brands: list[str] | None = None) -> pd.DataFrame:
    """Every registered daiyun model with its champion, for `/models` and the CLI."""
    client = _client()
    rows = []
    for registered in client.search_registered_models(filter_string="name LIKE 'daiyun-%'"):
        champion = registered.aliases.get(CHAMPION) if registered.aliases else None
        rows.append({"name": registered.name, "champion_version": champion})
    return pd.DataFrame(rows, columns=["name", "champion_version"])
