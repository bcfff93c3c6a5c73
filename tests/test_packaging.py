"""One installed name: daiyun installs as `daiyun.<stage>`, imports run one way, and an installed copy
keeps its MLflow store out of site-packages."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
STAGES = ("features", "models", "training", "serving")


def _python(code: str, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "DAIYUN_HOME")}
    environment.update(env)
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, env=environment, capture_output=True,
                          text=True, timeout=240, check=False)


def test_every_code_folder_is_an_installed_package() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    listed = set(config["packages"])
    assert config["package-dir"] == {f"daiyun.{stage}": stage for stage in STAGES}
    found = {"daiyun"}
    for stage in STAGES:
        for init in (ROOT / stage).rglob("__init__.py"):
            relative = init.parent.relative_to(ROOT / stage)
            found.add(".".join(["daiyun", stage, *relative.parts]))
        for module in (ROOT / stage).rglob("*.py"):  # a folder of code without __init__.py installs nothing
            assert (module.parent / "__init__.py").is_file(), f"{module.parent} holds code but no __init__.py"
    assert found == listed, f"[tool.setuptools] packages: missing {found - listed}, stale {listed - found}"


def test_import_contracts_hold() -> None:
    """`.ci/lint-imports` (what CI runs): features -> models -> training and -> serving, and so on."""
    done = subprocess.run([str(ROOT / ".ci" / "lint-imports")], capture_output=True, text=True, timeout=240,
                          check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


def test_the_service_starts_without_training_code(tmp_path: Path) -> None:
    """What the Bento packs (bentofile.yaml: no training/) is enough to import the service and its
    registry reads: `daiyun.training` is made unimportable first."""
    done = _python(
        "import sys\n"
        "sys.modules['daiyun.training'] = None  # as in a Bento: the folder is not there\n"
        "import daiyun.serving.service, daiyun.serving.champions\n"
        "from daiyun.models.registry import BundleModel, load_champion\n"
        "print(sorted(n for n, m in sys.modules.items() if n.startswith('daiyun.training') and m))\n",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"
    bentofile = (ROOT / "bentofile.yaml").read_text(encoding="utf-8")
    assert "training/" not in bentofile.split("include:")[1].split("exclude:")[0]


def test_an_unrelated_features_package_does_not_shadow_daiyun(tmp_path: Path) -> None:
    for name in ("features", "models"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text(f"WHOSE = 'the notebook folder {name}'\n")
    done = _python(
        "import features, models\n"
        "from daiyun.features.dataset import Dataset\n"
        "from daiyun.models.registry import model_name\n"
        "import daiyun.features\n"
        "print(features.WHOSE, '|', models.WHOSE, '|', daiyun.features.__file__, '|', Dataset.__module__)\n",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    local_features, local_models, installed, module = (part.strip() for part in done.stdout.split("|"))
    assert local_features == "the notebook folder features" and local_models == "the notebook folder models"
    assert Path(installed).resolve() == (ROOT / "features" / "__init__.py").resolve()
    assert module == "daiyun.features.dataset"


def test_a_regular_install_keeps_its_store_out_of_site_packages(tmp_path: Path) -> None:
    """`pip install` (not editable) into a target folder: the store goes to the working directory or
    DAIYUN_HOME, never beside the installed code."""
    source = tmp_path / "source"  # a copy, so the build writes nothing into the checkout
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    for folder in ("daiyun", *STAGES):
        shutil.copytree(ROOT / folder, source / folder, ignore=shutil.ignore_patterns("__pycache__"))
    site = tmp_path / "site"
    installed = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-compile",
         "--target", str(site), str(source)],
        capture_output=True, text=True, timeout=240, check=False,
    )
    said = installed.stderr + installed.stdout
    if installed.returncode != 0 and any(s in said for s in ("bdist_wheel", "No matching distribution")):
        pytest.skip("no build backend (setuptools, wheel) reachable for a regular install")
    assert installed.returncode == 0, said[-2000:]
    assert (site / "daiyun" / "training" / "tracking.py").is_file()
    work = tmp_path / "work"
    work.mkdir()
    probe = (
        "import daiyun.features\n"
        "from daiyun.training.tracking import use_experiment\n"
        "from daiyun.models.registry import tracking_uri\n"
        "use_experiment('packaging-check')\n"
        "print(daiyun.features.__file__, '|', tracking_uri())\n"
    )
    done = _python(probe, cwd=work, PYTHONPATH=str(site))
    assert done.returncode == 0, done.stderr[-2000:]
    where, uri = (part.strip() for part in done.stdout.strip().splitlines()[-1].split("|"))
    assert Path(where).is_relative_to(site), "the installed copy, not the checkout, answered"
    assert uri == f"sqlite:///{(work / 'mlflow' / 'mlflow.db').resolve()}"
    assert (work / "mlflow" / "mlflow.db").is_file()
    assert not [p for p in site.rglob("mlflow*") if "dist-info" not in str(p)], "a store inside site-packages"

    home = tmp_path / "home"
    done = _python("from daiyun.models.registry import tracking_uri; print(tracking_uri())", cwd=work,
                   PYTHONPATH=str(site), DAIYUN_HOME=str(home))
    assert done.stdout.strip() == f"sqlite:///{(home / 'mlflow' / 'mlflow.db').resolve()}"
