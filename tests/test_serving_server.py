"""The service on the real families, and as real `bentoml serve` processes (marked `server`).

One brand of the small sample is trained with tiny settings for every family into a private
MLflow store; then: the answers in-process (a precomputed forecast equals the bundle's own), a
development server from the registry (the `daiyun serve` path) called through
`bentoml.SyncHTTPClient`, and `daiyun bento` + a server from the built Bento with no tracking store.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import pytest

pytestmark = pytest.mark.server

REPO = Path(__file__).resolve().parents[1]
START, END = "2026-10-16", "2026-11-14"  # the 30 days after the small sample's history


@pytest.fixture(scope="module")
def trained(dataset, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """Every family for one brand, tiny settings, in a private store; returns brand, SKU and env."""
    from daiyun.training.trainers.backtest import BacktestConfig
    from daiyun.training.trainers.budget import train_family as train_budget
    from daiyun.training.trainers.forecast import train_family as train_forecast
    from daiyun.training.trainers.selection import SelectionConfig
    from daiyun.training.trainers.selection import train_family as train_selection

    root = tmp_path_factory.mktemp("served")
    env = {
        "MLFLOW_TRACKING_URI": f"sqlite:///{root / 'mlflow.db'}",
        "DAIYUN_ARTIFACT_ROOT": (root / "artifacts").as_uri(),
        "BENTOML_HOME": str(root / "bentoml"),
        "BENTOML_DO_NOT_TRACK": "1",
        "OMP_NUM_THREADS": "1",
    }
    brand = dataset.brands[0]
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        tiny_forecast = BacktestConfig(
            windows=1, horizon=14, members=("lgbm",), baselines=("seasonal_naive",),
            lgbm_params={"n_estimators": 30},
        )
        tiny_selection = SelectionConfig(
            n_regular_dates=1, n_learning_dates=1, forecast_params={"n_estimators": 30},
            correction_params={"n_estimators": 20, "min_child_samples": 3},
        )
        list(train_forecast(dataset, brands=[brand], config=tiny_forecast))
        list(train_selection(dataset, [brand], config=tiny_selection))
        list(train_budget(dataset, brands=[brand], tune=1))
        sales = dataset.for_brand(brand).sales
        top = sales.groupby(["platform", "sku_id"])["units"].sum().idxmax()
        yield {"brand": brand, "platform": top[0], "sku": top[1], "env": env, "root": root,
               "other": dataset.brands[1]}


def test_real_families_answer_and_a_precomputed_forecast_equals_the_bundles(
    trained: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    from daiyun.serving.answers import budget_answer, forecast_answer, forecast_json, score_answer
    from daiyun.serving.champions import load_from_registry
    from daiyun.serving.precompute import precompute_champions
    from daiyun.serving.schemas import BudgetRequest, ForecastRequest, ScoreRequest

    for key, value in trained["env"].items():
        monkeypatch.setenv(key, value)
    brand, sku, platform = trained["brand"], trained["sku"], trained["platform"]
    champions = load_from_registry()
    assert not champions.failures and len(champions) == 3
    precompute_champions(champions)
    forecaster = champions.get("forecast", brand)
    assert forecaster.precomputed is not None
    one_series = {"sku_ids": [sku], "platforms": [platform]}
    window = {"start": "2026-10-20", "end": "2026-10-24"}
    for asked in (one_series, {}, window, {"level": "brand"}, {"level": "category"}, {"level": "platform"}):
        request = ForecastRequest(**({"brand": brand, "start": START, "end": END} | asked))
        sliced = forecast_answer(forecaster, request).model_dump_json()
        direct = forecast_answer(replace(forecaster, precomputed=None), request).model_dump_json()
        assert sliced == direct
        assert forecast_json(forecaster, request) == sliced.encode()  # what /forecast sends
    one_sku = ForecastRequest(brand=brand, start=START, end=END, sku_ids=[sku], platforms=[platform])
    one = json.loads(forecast_answer(forecaster, one_sku).model_dump_json())
    assert len(one["rows"]) == 30 and one["models"][0]["name"] == f"daiyun-forecast-{brand}"
    budget = budget_answer(champions.get("budget", brand), BudgetRequest(
        brand=brand, start=START, end=END, total_budget=50_000)).model_dump()
    assert sum(c["spend"] for c in budget["channels"]) == pytest.approx(50_000, rel=1e-3)
    assert {"totals", "current_mix", "uplift"} <= set(budget)
    scores = score_answer(champions.get("selection", brand), ScoreRequest(
        brand=brand, as_of="2026-10-15", horizon_days=30, top_k=3)).model_dump()
    assert scores["rows"] and all(1 <= len(r["reasons"]) <= 3 for r in scores["rows"])


# ------------------------------------------------------------------ real servers


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def get(url: str, key: str | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, headers={"X-API-Key": key} if key else {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


@contextmanager
def serving(target: str | None, env: dict[str, str], timeout: float = 150) -> Iterator[str]:
    """`bentoml serve TARGET` (or `daiyun serve` when TARGET is None) on a free loopback port;
    yields its URL once /readyz answers 200, and always stops it."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    if target is None:
        command = [str(Path(sys.executable).parent / "daiyun"), "serve", "--port", str(port)]
    else:
        command = [sys.executable, "-m", "bentoml", "serve", target, "--port", str(port),
                   "--host", "127.0.0.1", "--working-dir", str(REPO)]
    log = open(Path(env["BENTOML_HOME"]).parent / f"serve-{port}.log", "w")  # noqa: SIM115
    server = subprocess.Popen(
        command, env=os.environ | env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        deadline = time.monotonic() + timeout
        while True:
            assert server.poll() is None, Path(log.name).read_text()[-3000:]
            try:
                if get(url + "/readyz")[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "server not ready: " + Path(log.name).read_text()[-3000:]
            time.sleep(0.5)
        yield url
    finally:
        # the server and its workers share the session started for it: stop them all, and only them
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log.close()


def test_development_server_answers_every_endpoint_through_the_client(trained: dict) -> None:
    import bentoml
    from bentoml.exceptions import BentoMLException

    brand, other = trained["brand"], trained["other"]
    env = trained["env"] | {"DAIYUN_API_KEYS": f"mine:{brand};theirs:{other}"}
    with serving(None, env) as url:  # `daiyun serve`: bentoml serve serving.service:Daiyun
        assert json.loads(get(url + "/readyz")[1]) == {"ready": True}  # no names without a key
        ready = json.loads(get(url + "/readyz", key="mine")[1])
        assert ready["ready"] and ready["loaded"] == 3 and ready["source"] == "registry"
        with bentoml.SyncHTTPClient(url, token="mine") as client:
            forecast = client.forecast(brand=brand, start=START, end=END, sku_ids=[trained["sku"]],
                                       platforms=[trained["platform"]])
            assert len(forecast["rows"]) == 30 and forecast["models"][0]["source"] == "registry"
            whole = client.forecast(brand=brand, start=START, end=END, level="brand")
            assert len(whole["rows"]) == 30
            budget = client.recommend_budget(brand=brand, start=START, end=END, total_budget=50_000)
            assert budget["channels"] and budget["models"][0]["family"] == "budget"
            scores = client.score_products(brand=brand, as_of="2026-10-15", horizon_days=30, top_k=5)
            assert scores["rows"][0]["rank"] == 1
            listed = client.models()
            assert {(m["family"], m["status"]) for m in listed["models"]} == {
                ("forecast", "loaded"), ("budget", "loaded"), ("selection", "loaded")}
            assert {m["history_end"] for m in listed["models"]} == {"2026-10-15"}
            assert all(m["metrics"] for m in listed["models"])  # each run's backtest metrics
            with pytest.raises(BentoMLException) as refused:
                client.forecast(brand=other, start=START, end=END)
            assert refused.value.error_code == 403
            with pytest.raises(BentoMLException) as unknown:
                client.recommend_budget(brand=brand, start=START, end=END, total_budget=10,
                                        channels=[{"channel": "no_such_channel", "max": 5}])
            assert unknown.value.error_code == 404
        with bentoml.SyncHTTPClient(url, token="theirs") as client:
            assert client.models()["models"] == []  # their brand has no champions; ours stay hidden
        status, metrics = get(url + "/metrics")
        assert status == 200 and 'endpoint="/forecast"' in metrics


def test_bento_build_runs_without_the_tracking_store(trained: dict) -> None:
    env = trained["env"]
    daiyun = Path(sys.executable).parent / "daiyun"
    built = subprocess.run([str(daiyun), "bento"], env=os.environ | env, cwd=REPO, capture_output=True,
                           text=True, timeout=300)
    assert built.returncode == 0, built.stdout[-2000:] + built.stderr[-2000:]
    assert "packed the champions" in built.stdout
    bentos = list((Path(env["BENTOML_HOME"]) / "bentos" / "daiyun").iterdir())
    assert len([b for b in bentos if b.is_dir()]) == 1
    absent = trained["root"] / "no-store"
    without_store = env | {"MLFLOW_TRACKING_URI": f"sqlite:///{absent / 'mlflow.db'}"}
    with serving("daiyun:latest", without_store) as url:
        status, body = get(url + "/models")
        listed = json.loads(body)["models"]
        assert status == 200 and {m["source"] for m in listed} == {"bento"} and len(listed) == 3
        from daiyun.training.registry import champion_info

        for model in listed:  # the Bento answers with the versions that were champions when packed
            assert model["version"] == champion_info(model["family"], model["brand"]).version
        request = urllib.request.Request(
            url + "/forecast", method="POST", headers={"Content-Type": "application/json"},
            data=json.dumps({"brand": trained["brand"], "start": START, "end": "2026-10-20"}).encode(),
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.status == 200 and json.loads(response.read())["models"][0]["source"] == "bento"
    assert not absent.exists()  # the Bento never looked for the tracking store
