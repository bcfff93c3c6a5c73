"""The registry's write side: log a family's fitted bundle, register it, and move `champion` only
when earned. The read side (names, champion lookup, loading) is `daiyun.models.registry`, which the
service uses too.

A *bundle* is the fitted, picklable object a family serves from (it carries everything needed to
answer without the data directory). It is logged as an MLflow pyfunc so the registry, the UI and
`bentoml build` treat every family alike; `load_bundle` unwraps it again.

Trainers receive the registry they write to (`Registry`): `MLFLOW_REGISTRY` writes to the store;
the Dask workers hand in one that records the writes for the client to replay
(`daiyun.training.cluster.remote_runs`).
"""

from __future__ import annotations

import contextlib
import io
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import pandas as pd

import daiyun
import daiyun.models.registry as read_side
from daiyun.models.registry import (
    CHAMPION,
    champion_info,
    load_bundle,
    load_champion,
    model_name,
    stamp_bundle,
)
from daiyun.models.registry import client as _client


def __getattr__(name: str) -> Any:
    # models logged before the read side moved pickled their wrapper as this module's `BundleModel`
    if name == "BundleModel":
        return read_side.BundleModel
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def log_bundle(bundle: Any, name: str = "model") -> str:
    """Log the bundle in the active run, stamped with its format and daiyun version; returns its URI."""
    import mlflow

    version = daiyun.__version__
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # bundles validate their own inputs
        info = mlflow.pyfunc.log_model(
            name=name,
            python_model=read_side.BundleModel(stamp_bundle(bundle)),
            # the serving environment is this project at the version that pickled the bundle; skip
            # MLflow's slow requirement inference
            pip_requirements=["daiyun" if version.startswith("0+") else f"daiyun=={version}"],
        )
    return info.model_uri


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

    Two runs of one brand may finish together. The comparison and the move happen under a lock on
    the model's name (`tracking.store_lock`, shared by every process on this machine), against the
    champion read inside it; and the alias is moved only if it still points at that champion
    (compare-and-set), else the decision is made again against the new one. So a run that read an
    older champion can never replace a better one promoted meanwhile.
    """
    import mlflow

    from daiyun.training.tracking import store_lock

    client = _client()
    name = model_name(family, brand)
    # MLflow prints "Successfully registered model" to stderr; our own summary line says it better
    with contextlib.redirect_stderr(io.StringIO()):
        version = mlflow.register_model(model_uri, name, tags={"brand": str(brand), "family": family})
    better = (lambda a, b: a < b) if lower_is_better else (lambda a, b: a > b)
    with store_lock(name):
        for _ in range(_GATE_ATTEMPTS):
            incumbent = champion_info(family, brand)
            champion_score: float | None = None
            if incumbent is None:
                promoted, reason = True, "no champion yet"
            else:
                if incumbent.tags.get("daiyun.backtest_key") == backtest_key and metric in incumbent.metrics:
                    champion_score = float(incumbent.metrics[metric])
                    how = "same backtest, stored score"
                elif rescore_champion is not None:
                    # pinned to the version read: the one this decision is about
                    champion_bundle = load_bundle(f"models:/{name}/{incumbent.version}")
                    champion_score = float(rescore_champion(champion_bundle))
                    how = "champion re-scored on this backtest"
                else:
                    how = "champion was scored on another backtest and cannot be re-scored"
                if champion_score is None:
                    promoted, reason = False, f"kept champion v{incumbent.version}: {how}"
                elif better(score, champion_score):
                    promoted = True
                    reason = (
                        f"{metric} {score:.4f} beats champion v{incumbent.version} "
                        f"{champion_score:.4f} ({how})"
                    )
                else:
                    promoted = False
                    reason = (
                        f"{metric} {score:.4f} does not beat champion v{incumbent.version} "
                        f"{champion_score:.4f} ({how})"
                    )
            if promoted and not promote:
                promoted, reason = False, f"would promote ({reason}) but promotion was not asked for"
            if not promoted:
                break
            # compare-and-set: a writer that does not take the lock (another machine on a team
            # server) may have moved the alias while this one decided; then decide again
            now = champion_info(family, brand)
            if (now.version if now else None) == (incumbent.version if incumbent else None):
                client.set_registered_model_alias(name, CHAMPION, str(version.version))
                break
        else:
            promoted, reason = False, f"kept the champion: it moved {_GATE_ATTEMPTS} times while deciding"
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


# how often the gate decides again when the champion moves under it before it gives up (keeps)
_GATE_ATTEMPTS = 5


def data_fingerprint(frame: pd.DataFrame) -> str:
    """A short, stable hash of a frame, so a backtest key changes when the data does."""
    import hashlib

    hashed = pd.util.hash_pandas_object(frame, index=False).values
    return hashlib.sha1(hashed.tobytes()).hexdigest()[:12]


class Registry(Protocol):
    """What a trainer reads from and writes to; `MLFLOW_REGISTRY`, or a recorder on a Dask worker."""

    def log_bundle(self, bundle: Any, name: str = "model") -> str: ...

    def register_and_gate(self, family: str, brand: str, model_uri: str, run_id: str, score: float,
                          metric: str, backtest_key: str, **kwargs: Any) -> GateDecision: ...

    def load_champion(self, family: str, brand: str) -> tuple[Any, Any]: ...


class MlflowRegistry:
    """The store itself: what every trainer writes to unless it is handed another registry."""

    def log_bundle(self, bundle: Any, name: str = "model") -> str:
        return log_bundle(bundle, name)

    def register_and_gate(self, family: str, brand: str, model_uri: str, run_id: str, score: float,
                          metric: str, backtest_key: str, **kwargs: Any) -> GateDecision:
        return register_and_gate(family, brand, model_uri, run_id, score, metric, backtest_key, **kwargs)

    def load_champion(self, family: str, brand: str) -> tuple[Any, Any]:
        return load_champion(family, brand)


MLFLOW_REGISTRY = MlflowRegistry()
