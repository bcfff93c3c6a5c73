"""Where MLflow writes: `MLFLOW_TRACKING_URI` wins; otherwise SQLite in `mlflow/` under the daiyun home.

The home is `DAIYUN_HOME` when set, else the working directory (`make run` runs from the checkout,
so the store is the checkout's `mlflow/`). It is never derived from where the package is installed:
an installed daiyun must not write its store inside site-packages.
"""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path


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


def artifact_root() -> str:
    """Artifacts sit beside the SQLite file unless the team server decides (then it is None)."""
    explicit = os.environ.get("DAIYUN_ARTIFACT_ROOT")
    if explicit:
        return explicit
    uri = tracking_uri()
    if uri.startswith("sqlite:///"):
        return (Path(uri.removeprefix("sqlite:///")).parent / "artifacts").as_uri()
    if uri.startswith("file:") or "://" not in uri:
        return ""  # file stores keep artifacts inside themselves
    return ""


def quiet() -> None:
    """MLflow and friends are chatty; planners should see our progress bars, not their logs."""
    os.environ.setdefault("MLFLOW_ENABLE_ASYNC_LOGGING", "false")
    os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")
    for name in ("mlflow", "alembic", "cmdstanpy", "prophet", "urllib3", "git"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module="mlflow")
    # our bundles validate their own inputs; MLflow asks for type hints on every load
    warnings.filterwarnings("ignore", message=r".*Add type hints to the `predict` method")
    warnings.filterwarnings("ignore", category=FutureWarning)


def use_experiment(name: str) -> str:
    """Point MLflow at our store and make sure the experiment exists (before any parallel worker)."""
    import mlflow

    quiet()
    mlflow.set_tracking_uri(tracking_uri())
    experiment = mlflow.get_experiment_by_name(name)
    if experiment is None:
        root = artifact_root()
        experiment_id = mlflow.create_experiment(
            name, artifact_location=f"{root}/{name}" if root else None
        )
    else:
        experiment_id = experiment.experiment_id
    mlflow.set_experiment(experiment_id=experiment_id)
    return experiment_id
