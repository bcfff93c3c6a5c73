"""The notebooks: committed without outputs, thin, and each runs top to bottom on the small sample.

Execution injects parameters after the cell tagged `parameters` (as papermill does), points the
kernel at a private MLflow store through the environment it inherits, and uses the families'
quick settings. Then it checks what each notebook produced: the saved figure, the registered
version and the champion alias in that store.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
EXPECTED = ["01_explore_data.ipynb", "02_retrain_forecast.ipynb", "03_retrain_budget.ipynb",
            "04_retrain_selection.ipynb"]
BRAND = "glowlab"
PARAMETERS = {"DATA_DIR", "SIZE", "SEED", "BRAND", "OUTPUT_DIR"}
TRAIN_PARAMETERS = {"N_TRIALS", "PROMOTE", "QUICK"}


def _read(name: str) -> dict:
    return json.loads((NOTEBOOKS / name).read_text(encoding="utf-8"))


def _parameters_cell(notebook: dict) -> dict:
    tagged = [c for c in notebook["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, "exactly one cell must be tagged `parameters`"
    return tagged[0]


def _source(cell: dict) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def test_every_notebook_is_there() -> None:
    assert sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")) == EXPECTED


@pytest.mark.parametrize("name", EXPECTED)
def test_committed_without_outputs(name: str) -> None:
    """Outputs are stripped in git: they bloat diffs and leak a brand's numbers into the repo."""
    dirty = [
        i for i, cell in enumerate(_read(name)["cells"])
        if cell["cell_type"] == "code" and (cell.get("outputs") or cell.get("execution_count") is not None)
    ]
    assert not dirty, (f"{name}: cells {dirty} have outputs or execution counts; clear them before "
                       "committing (JupyterLab: Edit > Clear Outputs of All Cells, then save)")


@pytest.mark.parametrize("name", EXPECTED)
def test_thin_and_parameterised(name: str) -> None:
    """A parameters cell with the agreed names, and no functions or classes defined in the notebook."""
    notebook = _read(name)
    assigned = set(re.findall(r"^([A-Z_]+)\s*=", _source(_parameters_cell(notebook)), flags=re.M))
    wanted = PARAMETERS | (TRAIN_PARAMETERS if "retrain" in name else set())
    assert wanted <= assigned, f"{name}: parameters cell lacks {sorted(wanted - assigned)}"
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code":
            assert not re.search(r"^\s*(def|class)\s", _source(cell), flags=re.M), (
                f"{name}: logic belongs in training/ (e.g. training/workbench.py), not in a notebook cell"
            )


# ------------------------------------------------------------------------------------ execution
def _execute(name: str, parameters: dict, timeout: int = 300) -> dict:
    """Run the notebook in a fresh kernel with `parameters` injected; returns the executed notebook."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")

    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    index = next(i for i, c in enumerate(notebook.cells) if "parameters" in c.metadata.get("tags", []))
    injected = "\n".join(f"{key} = {value!r}" for key, value in parameters.items())
    cell = nbformat.v4.new_code_cell(injected, metadata={"tags": ["injected-parameters"]})
    notebook.cells.insert(index + 1, cell)
    client = nbclient.NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                                     resources={"metadata": {"path": str(NOTEBOOKS)}})
    client.execute()
    return notebook


def _outputs(notebook: dict, mime: str) -> list:
    return [o["data"][mime] for c in notebook.cells if c.cell_type == "code"
            for o in c.get("outputs", []) if mime in o.get("data", {})]


def _is_png(path: Path) -> bool:
    return path.is_file() and path.stat().st_size > 5_000 and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _versions(family: str) -> tuple[list[str], str | None]:
    from daiyun.training.registry import _client, model_name

    client = _client()
    name = model_name(family, BRAND)
    versions = sorted((v.version for v in client.search_model_versions(f"name = '{name}'")), key=int)
    aliases = client.get_registered_model(name).aliases if versions else {}
    champion = (aliases or {}).get("champion")
    return [str(v) for v in versions], None if champion is None else str(champion)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """One private MLflow store for the module's notebooks (each family has its own model name):
    creating a SQLite store costs seconds of migrations, paid once."""
    root = tmp_path_factory.mktemp("notebook_store")
    return {"MLFLOW_TRACKING_URI": f"sqlite:///{root / 'mlflow.db'}",
            "DAIYUN_ARTIFACT_ROOT": (root / "artifacts").as_uri()}


@pytest.fixture()
def kernel_env(store: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> str:
    """The kernel inherits this process's environment: the private store, one thread per library."""
    for key, value in {**store, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}.items():
        monkeypatch.setenv(key, value)
    return store["MLFLOW_TRACKING_URI"]


@pytest.mark.slow
def test_explore_notebook(sample_dir: Path, tmp_path: Path, kernel_env: str) -> None:
    out = tmp_path / "figures"
    notebook = _execute("01_explore_data.ipynb",
                        {"DATA_DIR": str(sample_dir), "BRAND": BRAND, "OUTPUT_DIR": str(out)})
    assert _is_png(out / f"explore_{BRAND}_sales.png")
    assert len(_outputs(notebook, "image/png")) >= 4  # sales, promotions, ads, long tail


@pytest.mark.slow
def test_forecast_notebook_registers_and_promotes(sample_dir: Path, tmp_path: Path, kernel_env: str) -> None:
    out = tmp_path / "figures"
    notebook = _execute("02_retrain_forecast.ipynb", {
        "DATA_DIR": str(sample_dir), "BRAND": BRAND, "OUTPUT_DIR": str(out), "N_TRIALS": 0, "PROMOTE": True,
        "QUICK": True,
    })
    assert _is_png(out / f"forecast_{BRAND}_events.png")
    assert _versions("forecast") == (["1"], "1")  # first version: no champion yet, so it is promoted
    links = "\n".join(_outputs(notebook, "text/markdown"))
    assert "MLflow run" in links and kernel_env in links


@pytest.mark.slow
def test_budget_notebook_registers_then_promotes_after_review(sample_dir: Path, tmp_path: Path,
                                                               kernel_env: str) -> None:
    from daiyun.training import workbench

    out = tmp_path / "figures"
    notebook = _execute("03_retrain_budget.ipynb", {
        "DATA_DIR": str(sample_dir), "BRAND": BRAND, "OUTPUT_DIR": str(out), "N_TRIALS": 1, "PROMOTE": False,
    })
    assert _is_png(out / f"budget_{BRAND}_response_curves.png")
    assert _versions("budget") == (["1"], None)  # registered, not promoted: PROMOTE was False
    assert any("promotion was not asked for" in text for text in _outputs(notebook, "text/markdown"))

    decision = workbench.promote("budget", BRAND, "1")  # the reviewed version goes through the gate
    assert decision.promoted and decision.reason == "no champion yet", decision
    assert _versions("budget") == (["1", "2"], "2")
    again = workbench.promote("budget", BRAND, "2")
    assert not again.promoted and _versions("budget") == (["1", "2"], "2")


@pytest.mark.slow
def test_selection_notebook_registers_and_promotes(sample_dir: Path, tmp_path: Path, kernel_env: str) -> None:
    out = tmp_path / "figures"
    _execute("04_retrain_selection.ipynb", {
        "DATA_DIR": str(sample_dir), "BRAND": BRAND, "OUTPUT_DIR": str(out), "N_TRIALS": 0, "PROMOTE": True,
        "QUICK": True,
    })
    assert _is_png(out / f"selection_{BRAND}_ranked.png")
    assert _versions("selection") == (["1"], "1")


# ---------------------------------------------------------------------- the exploration tables
def test_exploration_tables_add_up(dataset) -> None:
    from daiyun.training import workbench

    sales = dataset.for_brand(BRAND).sales
    by_platform = workbench.sales_by_platform(dataset, BRAND)
    assert by_platform.to_numpy().sum() == pytest.approx(sales["revenue"].sum())
    assert set(by_platform.columns) == set(sales["platform"].unique())

    events = workbench.sales_by_event(dataset, BRAND)
    assert events["periods"].sum() == len(by_platform)
    assert events.loc["ordinary", "lift"] == pytest.approx(1.0)
    assert events.loc["double11 · peak", "lift"] > 1.5  # the simulator's Double 11 is a real peak

    tail = workbench.long_tail(dataset, BRAND)
    assert len(tail) == sales.groupby(["platform", "sku_id"]).ngroups
    assert tail["revenue"].is_monotonic_decreasing and tail["cumulative_share"].iloc[-1] == pytest.approx(1.0)

    uplift = workbench.promotion_uplift(dataset, BRAND)
    days = uplift[[c for c in uplift.columns if c.startswith("days")]].to_numpy().sum()
    promo_days = int(sales.loc[sales["in_stock"].eq(1), "on_promo"].sum())
    assert 0 < days <= promo_days  # promotion days of series with an ordinary-day baseline
    medians = uplift.filter(like="median").stack().dropna()
    assert len(medians) and (medians > 0).all()

    spend = workbench.spend_vs_revenue(dataset, BRAND)
    ads = dataset.for_brand(BRAND).ads
    assert spend["spend"].sum() == pytest.approx(ads["spend"].sum())
    assert set(spend["channel"]) == set(ads["channel"])


def test_unknown_family_and_brand_are_named(dataset) -> None:
    from daiyun.features.errors import NotFoundError
    from daiyun.training import workbench

    with pytest.raises(ValueError, match="family must be one of"):
        workbench.family("pricing")
    with pytest.raises(NotFoundError):
        workbench.train("forecast", dataset, "no_such_brand")
