"""The defects found by fuzzing, fault and race tests (issue 16), one test (or more) each:
the champion race, far dates in data files, 500s on bad requests, /readyz, killed runs, request
bounds, the OpenAPI document and API keys. The schemathesis run itself is tests/test_fuzz_api.py.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
from starlette.testclient import TestClient
from test_serving_fakes import (
    FakeBudgetBundle,
    FakeForecastBundle,
    serving_beauty,
)

REPO = Path(__file__).resolve().parents[1]
OPS = {"X-API-Key": "key-ops"}
BEAUTY = {"X-API-Key": "key-beauty"}
START, END = "2026-10-16", "2026-10-22"


# ------------------------------------------------------------------ an in-memory service


@pytest.fixture(scope="module")
def client():
    """beauty's three fake champions handed straight to the service (the registry path is
    test_serving's subject), keys for beauty and for every brand."""
    with serving_beauty("key-beauty:beauty;key-ops:*") as running:
        yield running.client


def forecast(**extra) -> dict:
    return {"brand": "beauty", "start": START, "end": END} | extra


def budget(**extra) -> dict:
    return {"brand": "beauty", "start": START, "end": END, "total_budget": 9000} | extra


def score(**extra) -> dict:
    return {"brand": "beauty", "as_of": "2026-10-15", "horizon_days": 30} | extra


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory):
    """One private MLflow store for the module (creating one costs seconds); each test uses its
    own experiment and model names."""
    root = tmp_path_factory.mktemp("reliability_store")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root / 'mlflow.db'}")
        patch.setenv("DAIYUN_ARTIFACT_ROOT", (root / "artifacts").as_uri())
        from daiyun.training.tracking import use_experiment

        use_experiment("killed")  # the store exists before any child process races to create it
        yield root


# ------------------------------------------------------------------ 1. the champion race


def _challenger(score_value: float, backtest: str):
    """A logged, unregistered budget bundle whose re-score is `score_value`."""
    import mlflow

    from daiyun.training.registry import log_bundle

    bundle = FakeBudgetBundle("beauty")
    bundle.test_score = score_value
    with mlflow.start_run() as run:
        mlflow.log_metric("wape", score_value)
        uri = log_bundle(bundle)
    return uri, run.info.run_id, backtest


def test_two_runs_finishing_together_leave_the_better_one_champion(store: Path) -> None:
    from daiyun.training.registry import champion_info, register_and_gate
    from daiyun.training.tracking import use_experiment

    use_experiment("race")
    uri, run_id, _ = _challenger(0.5, "old")
    register_and_gate("budget", "beauty", uri, run_id, 0.5, "wape", "old")  # v1, the champion
    worse, better = _challenger(0.4, "new"), _challenger(0.3, "new")
    delays = {worse[1]: 1.0, better[1]: 0.0}  # the worse run re-scores slowly and moves last
    barrier = threading.Barrier(2)
    decisions = {}

    def gate(challenger) -> None:
        uri, run_id, backtest = challenger

        def rescore(champion_bundle) -> float:
            time.sleep(delays[run_id])
            return champion_bundle.test_score

        barrier.wait()
        decisions[run_id] = register_and_gate(
            "budget",
            "beauty",
            uri,
            run_id,
            {worse[1]: 0.4, better[1]: 0.3}[run_id],
            "wape",
            backtest,
            rescore_champion=rescore,
        )

    threads = [threading.Thread(target=gate, args=(c,)) for c in (worse, better)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    champion = champion_info("budget", "beauty")
    assert champion.version == decisions[better[1]].version  # 0.3 wins, whoever gated first
    assert decisions[better[1]].promoted
    if decisions[worse[1]].promoted:  # it gated first: the better one was compared with it
        assert decisions[better[1]].champion_version == decisions[worse[1]].version


def test_the_champion_lock_excludes_other_processes(store: Path) -> None:
    from daiyun.training.tracking import store_lock

    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from daiyun.training.tracking import store_lock\n"
            "with store_lock('daiyun-budget-beauty'):\n    print('held', flush=True); time.sleep(2)",
        ],
        stdout=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        started = time.monotonic()
        with store_lock("daiyun-budget-beauty"):
            waited = time.monotonic() - started
        assert waited > 0.5
        with store_lock("daiyun-budget-snacks"):  # another model's gate does not wait
            pass
    finally:
        holder.wait(30)


# ------------------------------------------------------------------ 2. far dates in data files


def _sample_with_far_date(sample_dir: Path, target: Path, how: str) -> None:
    import shutil

    import pyarrow as pa
    import pyarrow.parquet as pq

    shutil.copytree(sample_dir, target)
    sales = pd.read_parquet(target / "sales.parquet")
    (target / "sales.parquet").unlink()
    if how == "csv":
        sales["date"] = sales["date"].dt.strftime("%Y-%m-%d")
        sales.loc[5, "date"] = "2609-12-29"  # read as 2025-06-09 before
        sales.to_csv(target / "sales.csv", index=False)
        return
    days = [d.date() for d in sales["date"]]
    days[5] = dt.date(9999, 12, 31)  # read as 1816-03-29, or a traceback, before
    table = pa.Table.from_pandas(sales, preserve_index=False)
    column = (
        pa.array(days, pa.date32())
        if how == "parquet-date"
        else pa.array([dt.datetime(d.year, d.month, d.day) for d in days], pa.timestamp("ms"))
    )
    pq.write_table(
        table.set_column(table.schema.get_field_index("date"), "date", column), target / "sales.parquet"
    )


@pytest.mark.parametrize("how, where", [("csv", "line"), ("parquet-date", "row"), ("parquet-ts", "row")])
def test_a_date_pandas_cannot_hold_is_one_error_naming_file_column_and_row(
    sample_dir: Path, tmp_path: Path, how: str, where: str
) -> None:
    from daiyun.features.errors import ContractError
    from daiyun.features.load import load

    _sample_with_far_date(sample_dir, tmp_path / "data", how)
    with pytest.raises(ContractError) as refused:
        load(tmp_path / "data")
    message = str(refused.value)
    name = "sales.csv" if how == "csv" else "sales.parquet"
    assert message.startswith(f"{name}, column 'date': date outside 1900-01-01 .. 2261-12-31")
    assert refused.value.n_bad == 1
    shown = refused.value.rows
    assert shown.index.name == where and list(shown.index) == ([7] if how == "csv" else [5])
    assert ("2609-12-29" if how == "csv" else "9999-12-31") in message


# ------------------------------------------------------------------ 3. 500s that were, now 400s


@pytest.mark.parametrize(
    "route, body, field",
    [
        ("/forecast", forecast(start="2263-01-01", end="2263-01-02"), "start"),
        ("/forecast", forecast(start="0001-01-01", end="0001-01-02"), "start"),
        (
            "/forecast",
            forecast(
                promotions=[
                    {
                        "platform": "tmall",
                        "sku_id": "beauty-sku0",
                        "start": START,
                        "end": "9999-12-31",
                        "discount": 0.1,
                    }
                ]
            ),
            "promotions.0.end",
        ),
        ("/recommend_budget", budget(start="2263-01-01", end="2263-01-02"), "start"),
        ("/recommend_budget", budget(total_budget=5e-324), "total_budget"),
        ("/recommend_budget", budget(total_budget=1e154), "total_budget"),
        ("/recommend_budget", budget(total_budget="100"), "total_budget"),
        ("/score_products", score(as_of="9999-12-31"), "as_of"),
        ("/score_products", score(as_of=20261015), "as_of"),
    ],
)
def test_far_dates_and_absurd_numbers_are_400_naming_the_field(
    client: TestClient, route: str, body: dict, field: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        response = client.post(route, json=body, headers=OPS)
    assert response.status_code == 400, response.text
    answer = response.json()
    assert answer["field"] == field and answer["rule"] and answer["fix"]
    assert isinstance(answer["detail"], list) and answer["detail"][0]["loc"]
    assert "Traceback" not in response.text and "Traceback" not in caplog.text  # no log amplification
    assert not any(record.exc_info for record in caplog.records)


def test_nan_in_the_body_is_400(client: TestClient) -> None:
    body = b'{"brand": "beauty", "start": "2026-10-16", "end": "2026-10-22", "total_budget": NaN}'
    response = client.post(
        "/recommend_budget", content=body, headers=OPS | {"Content-Type": "application/json"}
    )
    assert response.status_code == 400 and response.json()["field"] == "total_budget"


@pytest.mark.parametrize("route", ["/forecast", "/recommend_budget", "/score_products", "/models", "/ping"])
@pytest.mark.parametrize(
    "content_type, status",
    [
        ("a/b/c", 400),
        (";;", 400),
        ("application/json; charset", 400),
        ("multipart/form-data", 415),
        ("application/vnd.bentoml+pickle", 415),
        ("application/json; charset=latin-1", 415),
        ("json", 400),
    ],
)
def test_a_malformed_content_type_is_a_4xx_naming_the_header(
    client: TestClient, route: str, content_type: str, status: int
) -> None:
    response = client.post(
        route, content=json.dumps(forecast()).encode(), headers=OPS | {"Content-Type": content_type}
    )
    assert response.status_code == status, response.text
    assert response.json()["field"] == "Content-Type"


def test_json_sent_the_way_curl_sends_it_is_read(client: TestClient) -> None:
    for content_type in (
        "application/x-www-form-urlencoded",
        "application/json; charset=UTF-8",
        "text/plain",
    ):
        response = client.post(
            "/forecast", content=json.dumps(forecast()).encode(), headers=OPS | {"Content-Type": content_type}
        )
        assert response.status_code == 200, (content_type, response.text)


def test_a_budget_period_shorter_than_the_event_warm_up_is_answered() -> None:
    # found by the fuzz run against real champions: a 4-day period was a 500
    from daiyun.models.budget.plan import phase_labels

    calendar = pd.DataFrame({"is_event": [0, 0, 1, 1]})
    assert list(phase_labels(calendar)) == ["warmup", "warmup", "event", "event"]


# ------------------------------------------------------------------ 4. /readyz


def test_readyz_is_200_with_failures_only_for_keys_that_cover_them() -> None:
    from daiyun.serving.auth import Access
    from daiyun.serving.champions import ChampionSet, LoadFailure
    from daiyun.serving.http import RUNTIME, readiness

    saved = (RUNTIME.champions, RUNTIME.error)
    try:
        RUNTIME.champions = ChampionSet(
            [],
            [LoadFailure("forecast", "apparel", "daiyun-forecast-apparel", "3", "RuntimeError: broken")],
            "registry",
        )
        RUNTIME.error = None
        assert readiness(None) == (200, {"ready": True})
        status, body = readiness(Access(frozenset({"apparel"})))
        assert status == 200 and body["failed"][0]["name"] == "daiyun-forecast-apparel"
        assert readiness(Access(frozenset({"beauty"})))[1]["failed"] == []
        RUNTIME.champions, RUNTIME.error = None, "could not load champions: OperationalError: db locked"
        status, body = readiness(None)
        assert status == 503 and "OperationalError" not in json.dumps(body)  # details only with a key
        assert "OperationalError" in readiness(Access(frozenset(), every_brand=True))[1]["reason"]
    finally:
        RUNTIME.champions, RUNTIME.error = saved


# ------------------------------------------------------------------ 5. killed runs

_TRAINING = """
import json, os, sys, time
import mlflow
from joblib import Parallel, delayed
from daiyun.training.tracking import use_experiment

use_experiment("killed")
with mlflow.start_run() as run:
    workers = sorted(set(Parallel(n_jobs=2, backend="loky")(delayed(os.getpid)() for _ in range(8))))
    print(json.dumps({"run": run.info.run_id, "workers": workers}), flush=True)
    time.sleep(300)
"""


def _gone(pid: int) -> bool:
    import psutil

    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@pytest.fixture(scope="module")
def trainings(store: Path):
    """Two training processes with loky workers: one for SIGTERM, one for SIGKILL. Whatever a test
    leaves running is killed here."""
    import psutil

    env = os.environ.copy() | {"OMP_NUM_THREADS": "1"}
    processes, started = [], []
    for number in range(2):  # one after the other: two SQLite writers at once may find it locked
        errors = store / f"training-{number}.err"
        with open(errors, "w") as stderr:
            process = subprocess.Popen(
                [sys.executable, "-c", _TRAINING], stdout=subprocess.PIPE, stderr=stderr, text=True, env=env
            )
        processes.append(process)
        line = process.stdout.readline()
        assert line, "a training process did not start: " + errors.read_text()[-2000:]
        started.append(json.loads(line))
    yield list(zip(processes, started, strict=True))
    for process, info in zip(processes, started, strict=True):
        if process.poll() is None:
            process.kill()
            process.wait(30)
        for pid in info["workers"]:  # only what this module started (its owner marker says so)
            with contextlib.suppress(psutil.Error):
                worker = psutil.Process(pid)
                if worker.environ().get("DAIYUN_RUN_OWNER", "").startswith(f"{process.pid}:"):
                    worker.kill()


def test_sigterm_ends_the_run_killed_and_stops_its_workers(trainings: list) -> None:
    import mlflow

    process, started = trainings[0]
    assert started["workers"] and not any(_gone(pid) for pid in started["workers"])
    process.send_signal(signal.SIGTERM)
    assert process.wait(60) == 128 + signal.SIGTERM
    run = mlflow.MlflowClient().get_run(started["run"])
    assert run.info.status == "KILLED"
    assert "SIGTERM" in run.data.tags["daiyun.ended"]
    deadline = time.monotonic() + 10
    while not all(_gone(pid) for pid in started["workers"]) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert all(_gone(pid) for pid in started["workers"])


def test_a_sigkilled_run_is_marked_killed_and_its_orphans_stopped_at_the_next_start(trainings: list) -> None:
    import mlflow

    from daiyun.training.tracking import OWNER_TAG, reap_dead_owners

    process, started = trainings[1]
    process.send_signal(signal.SIGKILL)
    process.wait(30)
    run = mlflow.MlflowClient().get_run(started["run"])
    assert run.info.status == "RUNNING"  # nothing in the killed process could end it
    assert not any(_gone(pid) for pid in started["workers"])  # orphans, until the next start
    owner = run.data.tags[OWNER_TAG]
    reaped = reap_dead_owners(owners={owner})  # what the next `daiyun train` does first
    assert reaped["runs"] == [started["run"]]
    assert mlflow.MlflowClient().get_run(started["run"]).info.status == "KILLED"
    assert all(_gone(pid) for pid in started["workers"])


# ------------------------------------------------------------------ 6. bounds


def test_promotion_rows_for_unknown_skus_or_platforms_are_404(client: TestClient) -> None:
    def plan(platform: str, sku: str) -> list[dict]:
        return [{"platform": platform, "sku_id": sku, "start": START, "end": END, "discount": 0.1}]

    sku = client.post("/forecast", json=forecast(promotions=plan("tmall", "nope")), headers=BEAUTY)
    assert sku.status_code == 404 and sku.json()["field"] == "promotions.0.sku_id" and "nope" in sku.text
    platform = client.post(
        "/forecast", json=forecast(promotions=plan("taobao-lite", "beauty-sku0")), headers=BEAUTY
    )
    assert platform.status_code == 404 and platform.json()["field"] == "promotions.0.platform"
    known = client.post("/forecast", json=forecast(promotions=plan("jd", "beauty-sku0")), headers=BEAUTY)
    assert known.status_code == 200


def test_quantiles_that_would_share_a_column_are_400(client: TestClient) -> None:
    response = client.post("/forecast", json=forecast(quantiles=[0.1, 0.1000000001]), headers=BEAUTY)
    assert response.status_code == 400 and response.json()["field"] == "quantiles"
    assert "p10" in response.json()["rule"]


def test_a_body_over_the_limit_is_413_before_it_is_read(client: TestClient) -> None:
    from daiyun.serving.http import MAX_BODY_BYTES

    huge = json.dumps(forecast(sku_ids=["x" * 100] * (MAX_BODY_BYTES // 100))).encode()
    response = client.post("/forecast", content=huge, headers=OPS | {"Content-Type": "application/json"})
    assert response.status_code == 413 and response.json()["field"] == "body"
    assert len(response.content) < 500  # the body is not echoed


def test_a_400_body_never_echoes_the_input_nor_a_traceback(client: TestClient) -> None:
    secret = "s3cr3t-" * 50
    response = client.post("/forecast", json=forecast(level=secret), headers=OPS)
    assert response.status_code == 400 and secret not in response.text and "Traceback" not in response.text
    bad_json = client.post(
        "/forecast", content=b'{"brand": ', headers=OPS | {"Content-Type": "application/json"}
    )
    assert bad_json.status_code == 400 and bad_json.json()["field"] == "body"


# ------------------------------------------------------------------ 7. the OpenAPI document


def test_the_openapi_document_says_what_the_service_does(client: TestClient) -> None:
    import daiyun

    document = client.get("/docs.json").json()
    assert document["openapi"] == "3.1.0" and document["info"]["version"] == daiyun.__version__
    schemas = document["components"]["schemas"]
    assert schemas["ErrorBody"]["properties"]["detail"]["anyOf"][0]["type"] == "array"
    for route in ("/forecast", "/recommend_budget", "/score_products"):
        assert {"200", "400", "401", "403", "404", "413", "415", "503"} <= set(
            document["paths"][route]["post"]["responses"]
        )
    assert "get" in document["paths"]["/models"] and "post" in document["paths"]["/models"]
    assert document["paths"]["/models"]["get"]["parameters"][0]["name"] == "brand"
    assert set(document["components"]["securitySchemes"]) == {"bearer", "apiKey"}
    total = schemas["BudgetRequest"]["properties"]["total_budget"]
    assert total["minimum"] == 1 and total["maximum"] == 1e12


# ------------------------------------------------------------------ 8. API keys and tenants


def test_a_malformed_key_entry_is_named_by_position_and_never_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    from daiyun.serving.auth import KeyRing

    secret = "sk-live-9f8e7d6c5b4a"
    for text in (f"good-key:beauty;{secret}", f"good-key:beauty;{secret}:"):
        monkeypatch.setenv("DAIYUN_API_KEYS", text)
        with pytest.raises(ValueError) as refused:
            KeyRing.from_environment()
        assert "entry 2" in str(refused.value)
        assert not any(secret[:i] in str(refused.value) for i in range(3, len(secret)))


def test_a_keys_file_that_is_not_valid_yaml_is_not_quoted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from daiyun.serving.auth import KeyRing

    keys = tmp_path / "keys.yaml"
    keys.write_text("sk-live-9f8e7d6c: [beauty\nother: [x]]\n", encoding="utf-8")
    monkeypatch.setenv("DAIYUN_API_KEYS_FILE", str(keys))
    with pytest.raises(ValueError) as refused:
        KeyRing.from_environment()
    assert "sk-live" not in str(refused.value) and "not valid YAML" in str(refused.value)


@pytest.mark.parametrize(
    "name, blank",
    [
        ("DAIYUN_API_KEYS", ""),
        ("DAIYUN_API_KEYS", "   "),
        ("DAIYUN_API_KEYS", ";"),
        ("DAIYUN_API_KEYS_FILE", ""),
        ("DAIYUN_API_KEYS_FILE", "  "),
    ],
)
def test_a_blank_key_setting_refuses_to_start(monkeypatch: pytest.MonkeyPatch, name: str, blank: str) -> None:
    from daiyun.serving.auth import KeyRing

    monkeypatch.delenv("DAIYUN_API_KEYS", raising=False)
    monkeypatch.delenv("DAIYUN_API_KEYS_FILE", raising=False)
    monkeypatch.setenv(name, blank)
    with pytest.raises(ValueError, match="blank|no keys"):
        KeyRing.from_environment()
    monkeypatch.delenv(name)
    assert KeyRing.from_environment().is_open  # unset: open, as documented (and loudly warned)


def test_a_junk_authorization_header_is_not_rescued_by_x_api_key(client: TestClient) -> None:
    response = client.post(
        "/forecast", json=forecast(), headers=BEAUTY | {"Authorization": "Basic Zm9vOmJhcg=="}
    )
    assert response.status_code == 401


class Trap:
    """Unpickling it raises: proves a model was refused before its pickle was opened."""

    def __init__(self, brand: str) -> None:
        self.brand = brand

    def __setstate__(self, state) -> None:  # noqa: ANN001
        raise RuntimeError("UNPICKLED")

    def predict_frame(self, frame):  # noqa: ANN001, ANN201
        return frame


def test_the_brand_is_checked_before_any_unpickling(store: Path, tmp_path: Path) -> None:
    import mlflow

    from daiyun.models.registry import client as registry_client
    from daiyun.serving.champions import (
        Champion,
        ChampionSet,
        load_from_registry,
        read_snapshot,
        write_snapshot,
    )
    from daiyun.training.registry import log_bundle
    from daiyun.training.tracking import use_experiment

    use_experiment("tenants")
    with mlflow.start_run():
        uri = log_bundle(Trap("snacks"))
    # beauty's name, registered for snacks (a copy-paste in a notebook): never opened as beauty's
    version = mlflow.register_model(
        uri, "daiyun-forecast-beauty", tags={"brand": "snacks", "family": "forecast"}
    )
    registry_client().set_registered_model_alias("daiyun-forecast-beauty", "champion", version.version)
    loaded = load_from_registry()
    assert all(c.name != "daiyun-forecast-beauty" for c in loaded.champions)
    (failure,) = [f for f in loaded.failures if f.name == "daiyun-forecast-beauty"]
    assert "registered for brand 'snacks'" in failure.error and "UNPICKLED" not in failure.error

    # a Bento manifest that gives a file to another brand's name is refused before pickle.loads
    write_snapshot(
        ChampionSet(
            [
                Champion(
                    "forecast", "beauty", "daiyun-forecast-beauty", "1", "r", {}, FakeForecastBundle("beauty")
                )
            ],
            [],
            "registry",
        ),
        tmp_path,
    )
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    manifest[0]["brand"] = "snacks"
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    (tmp_path / manifest[0]["file"]).write_bytes(__import__("pickle").dumps(Trap("snacks")))
    refused = read_snapshot(tmp_path)
    assert len(refused) == 0 and "UNPICKLED" not in refused.failures[0].error
    assert "manifest gives it to brand 'snacks'" in refused.failures[0].error
