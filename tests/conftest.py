"""Shared fixtures: one small simulated sample per test session, and a private MLflow store per test."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(scope="session")
def sample_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`daiyun sample --size small --seed 3`, written once for the whole session (read-only by convention)."""
    from daiyun.features.simulator.world import write_sample

    directory = tmp_path_factory.mktemp("sample") / "small"
    write_sample(directory, size="small", seed=3)
    return directory


@pytest.fixture(scope="session")
def dataset(sample_dir: Path):
    from daiyun.features.load import load

    return load(sample_dir)


@pytest.fixture()
def mlflow_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A private SQLite tracking store, so tests never touch the repo's mlflow/ nor each other."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("DAIYUN_ARTIFACT_ROOT", (tmp_path / "artifacts").as_uri())
    return uri


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is absent")
    return SHARED_DATA
