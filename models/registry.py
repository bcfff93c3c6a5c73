"""The registry's read side: where the MLflow store is, what a model is called, which version is a
brand's champion, and how a logged bundle is loaded and checked.

Serving and training both read the registry, so this lives in `models/` (below both); the write
side (log, register, the champion gate) is `daiyun.training.registry`. A Bento needs only this.

The MLflow home comes from configuration, never from where the package is installed:
`MLFLOW_TRACKING_URI` wins; otherwise SQLite in `mlflow/` under `DAIYUN_HOME`, or under the
working directory (`make run` runs from the checkout, so the store is the checkout's `mlflow/`).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import os
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

import daiyun
from daiyun.features.errors import RequestError

# The one family table: every family's name, in the order `daiyun train all` runs them. What each
# family trains with is keyed by these names in `daiyun.training.families`.
FAMILIES = ("forecast", "budget", "selection")
CHAMPION = "champion"

# A bundle's pickled layout. Raise it when a bundle class changes in a way old pickles cannot
# follow (and teach `__setstate__` the old layout where that is cheap); loading refuses anything
# outside [OLDEST_READABLE_FORMAT, BUNDLE_FORMAT] with one line naming the fix.
BUNDLE_FORMAT = 1
# Bundles logged before formats were recorded carry none; their classes still read them.
OLDEST_READABLE_FORMAT = 0
# Top-level names bundles were pickled under before the stages moved under `daiyun.`.
_PRE_PACKAGE_NAMES = ("features", "models", "training", "serving")


# ----------------------------------------------------------------------------------------- the store
def home() -> Path:
    """The folder that holds `mlflow/` (and nothing else of ours): `DAIYUN_HOME` or the working directory."""
    return Path(os.environ.get("DAIYUN_HOME") or Path.cwd()).resolve()


def tracking_uri() -> str:
    uri = os.environ.get("MLFLOW_TRACKING_URI")
    if uri:
        return uri
    store = home() / "mlflow"
    store.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{store / 'mlflow.db'}"


def quiet() -> None:
    """MLflow and friends are chatty; planners should see our progress bars, not their logs."""
    os.environ.setdefault("MLFLOW_ENABLE_ASYNC_LOGGING", "false")
    os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")
    for name in ("mlflow", "alembic", "cmdstanpy", "prophet", "urllib3", "git"):
        logging.getLogger(name).setLevel(logging.ERROR)
    # only MLflow's own warnings: a FutureWarning from pandas or scikit-learn in our code stays visible
    warnings.filterwarnings("ignore", module="mlflow")
    # our bundles validate their own inputs; MLflow asks for type hints on every load
    warnings.filterwarnings("ignore", message=r".*Add type hints to the `predict` method")


def client() -> Any:
    """An MlflowClient on our store (MLflow quietened first)."""
    import mlflow
    from mlflow import MlflowClient

    quiet()
    mlflow.set_tracking_uri(tracking_uri())
    return MlflowClient()


# ----------------------------------------------------------------------------------------- names
def check_family(family: str) -> str:
    if family not in FAMILIES:
        raise ValueError(f"family must be one of {FAMILIES}, got '{family}'")
    return family


def model_name(family: str, brand: str) -> str:
    """`daiyun-<family>-<brand>`, with the brand reduced to registry-safe characters."""
    check_family(family)
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", str(brand)).strip("_") or "brand"
    if slug != str(brand):
        # two brands must never share a model name ("美妆A" and "美妆B" both reduce to "brand")
        slug = f"{slug}-{hashlib.sha1(str(brand).encode()).hexdigest()[:8]}"
    return f"daiyun-{family}-{slug}"


def split_name(name: str) -> tuple[str, str] | None:
    """`daiyun-forecast-beauty` -> ("forecast", "beauty"); None for a model that is not ours."""
    for family in FAMILIES:
        prefix = f"daiyun-{family}-"
        if name.startswith(prefix):
            return family, name[len(prefix):]
    return None


# ----------------------------------------------------------------------------------------- bundles
class BundleFormatError(LookupError):
    """A bundle this code cannot read; the message is one line that says to retrain."""


def bundle_family(bundle: Any) -> str | None:
    """The family a bundle belongs to, from where its class lives (`daiyun.models.<family>.…`)."""
    parts = type(bundle).__module__.split(".")
    return parts[2] if len(parts) > 2 and parts[:2] == ["daiyun", "models"] and parts[2] in FAMILIES else None


def stamp_bundle(bundle: Any) -> Any:
    """Record the bundle format and the daiyun version on the bundle before it is pickled."""
    bundle.daiyun_format = BUNDLE_FORMAT
    bundle.daiyun_version = daiyun.__version__
    return bundle


def _retrain_hint(where: str) -> str:
    parsed = split_name(where.rsplit("/", 1)[-1].split("@")[0]) if where else None
    if parsed:
        return f"`daiyun train {parsed[0]} --data DIR --brand {parsed[1]}`"
    return "`daiyun train <family> --data DIR --brand <brand>`"


def check_bundle(bundle: Any, where: str) -> Any:
    """The bundle, when this code reads its format; BundleFormatError (one line) otherwise."""
    written = getattr(bundle, "daiyun_format", OLDEST_READABLE_FORMAT)
    by = getattr(bundle, "daiyun_version", "an older daiyun")
    if not isinstance(written, int) or not OLDEST_READABLE_FORMAT <= written <= BUNDLE_FORMAT:
        raise BundleFormatError(
            f"{where}: bundle format {written} (written by daiyun {by}) is not readable by daiyun "
            f"{daiyun.__version__} (formats {OLDEST_READABLE_FORMAT}..{BUNDLE_FORMAT}); "
            f"retrain it with {_retrain_hint(where)}"
        )
    return bundle


@contextlib.contextmanager
def readable_bundle(where: str) -> Iterator[None]:
    """Turn the errors of unpickling an out-of-date bundle into one BundleFormatError line."""
    try:
        yield
    except ModuleNotFoundError as error:
        top = (error.name or "").split(".")[0]
        if top not in _PRE_PACKAGE_NAMES and not (error.name or "").startswith("daiyun."):
            raise
        # pickled as bare `models.…` (before the stages moved under `daiyun.`) or by a newer layout
        raise BundleFormatError(
            f"{where}: the bundle was pickled by an older daiyun (it refers to module '{error.name}'); "
            f"retrain it with {_retrain_hint(where)}"
        ) from None
    except (AttributeError, ImportError) as error:
        raise BundleFormatError(
            f"{where}: the bundle does not match this daiyun {daiyun.__version__} "
            f"({type(error).__name__}: {error}); retrain it with {_retrain_hint(where)}"
        ) from None


def _bundle_model_class() -> type:
    """The pyfunc wrapper every bundle is logged in: `predict` hands a frame to `predict_frame`."""
    import mlflow.pyfunc

    # MLflow warns at class creation that `predict` has no type hints, forcing the warning on with
    # its own filter; bundles validate their own inputs, so on every CLI call it would only be noise.
    with contextlib.redirect_stderr(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)

        class BundleModel(mlflow.pyfunc.PythonModel):
            def __init__(self, bundle: Any) -> None:
                self.bundle = bundle

            def predict(self, context, model_input, params=None):  # noqa: ANN001, ANN201
                return self.bundle.predict_frame(model_input)

    BundleModel.__module__, BundleModel.__qualname__ = __name__, "BundleModel"
    return BundleModel


def __getattr__(name: str) -> Any:
    # `BundleModel` is built on first use (logging, or unpickling a logged model finds it here), so
    # importing the read side does not import MLflow's pyfunc machinery.
    if name == "BundleModel":
        globals()["BundleModel"] = _bundle_model_class()
        return globals()["BundleModel"]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def load_bundle(model_uri: str) -> Any:
    """The family's native object from any MLflow model URI (`models:/name@champion`, runs:/...)."""
    import mlflow

    client()
    with readable_bundle(model_uri):
        loaded = mlflow.pyfunc.load_model(model_uri)
    return check_bundle(loaded.unwrap_python_model().bundle, model_uri)


# ----------------------------------------------------------------------------------------- champions
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

    mlflow_client = client()
    name = model_name(family, brand)
    try:
        version = mlflow_client.get_model_version_by_alias(name, CHAMPION)
    except MlflowException:
        return None
    run = mlflow_client.get_run(version.run_id) if version.run_id else None
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


def champion_or_model(family: str, brand: str, model_uri: str | None = None) -> tuple[Any, str]:
    """The bundle a command answers with: the one `--model` names, else the brand's champion.

    Either way the bundle must be of `family` and trained for `brand` (a brand's answers never come
    from another brand's model). Returns the bundle and a description of the version used.
    """
    if model_uri:
        bundle, used = load_bundle(model_uri), model_uri
        found = bundle_family(bundle)
        if found is not None and found != family:
            raise RequestError("--model", f"'{model_uri}' is a {found} model, not a {family} model",
                               f"name a {family} model, or omit --model for the champion")
    else:
        bundle, info = load_champion(family, brand)
        used = f"{info.name} v{info.version} (champion)"
        if hasattr(bundle, "model_version"):
            bundle.model_version = info.version
        if hasattr(bundle, "model_name"):
            bundle.model_name = info.name
    if str(getattr(bundle, "brand", "")) != str(brand):
        raise RequestError("--model", f"'{used}' belongs to brand '{getattr(bundle, 'brand', '?')}', "
                           f"not '{brand}'", "use that brand's model, or its champion (omit --model)")
    return bundle, used


def list_models() -> pd.DataFrame:
    """Every registered daiyun model with its champion version, for `/models` and the CLI."""
    rows = []
    for registered in client().search_registered_models(filter_string="name LIKE 'daiyun-%'"):
        champion = registered.aliases.get(CHAMPION) if registered.aliases else None
        rows.append({"name": registered.name, "champion_version": champion})
    return pd.DataFrame(rows, columns=["name", "champion_version"])
