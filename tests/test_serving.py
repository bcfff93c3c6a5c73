"""The inference API in-process (TestClient): schemas, errors, tenants, versions, load failures.

Champions are small fake bundles (tests/test_serving_fakes.py) registered through
training.registry into a private MLflow store, so these tests exercise the real loading path.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from starlette.testclient import TestClient
from test_serving_fakes import FakeForecastBundle, Harness, register_fake_champions

START, END = "2026-10-16", "2026-10-22"  # 7 days
KEYS = "key-beauty:beauty;key-snacks:snacks;key-ops:*"
BEAUTY = {"Authorization": "Bearer key-beauty"}
OPS = {"X-API-Key": "key-ops"}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory):
    """beauty and snacks have every family; apparel's forecast champion cannot be loaded."""
    root = tmp_path_factory.mktemp("serving_store")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root / 'mlflow.db'}")
        patch.setenv("DAIYUN_ARTIFACT_ROOT", (root / "artifacts").as_uri())
        patch.setenv("BENTOML_DO_NOT_TRACK", "1")
        patch.delenv("DAIYUN_API_KEYS_FILE", raising=False)
        patch.delenv("DAIYUN_CHAMPIONS_SOURCE", raising=False)
        register_fake_champions(["beauty", "snacks"], broken=["apparel"])
        yield patch


@pytest.fixture(scope="module")
def harness(store: pytest.MonkeyPatch):
    store.setenv("DAIYUN_API_KEYS", KEYS)
    running = Harness()
    running.start()
    yield running
    running.stop()


@pytest.fixture()
def client(harness: Harness) -> TestClient:
    return harness.client


def forecast_body(brand: str = "beauty", **extra) -> dict:
    return {"brand": brand, "start": START, "end": END} | extra


def budget_body(brand: str = "beauty", **extra) -> dict:
    return {"brand": brand, "start": START, "end": END, "total_budget": 9000} | extra


def score_body(brand: str = "beauty", **extra) -> dict:
    return {"brand": brand, "as_of": "2026-10-15", "horizon_days": 30} | extra


# ------------------------------------------------------------------ health and load failures


def test_readyz_is_ready_while_serving_and_names_failures_only_to_keys(client: TestClient) -> None:
    # one broken brand does not make the service unready: a probe would stop every brand
    anonymous = client.get("/readyz")
    assert anonymous.status_code == 200 and anonymous.json() == {"ready": True}
    assert "apparel" not in anonymous.text  # no model names to callers without a key
    assert client.get("/readyz", headers={"X-API-Key": "not-a-key"}).json() == {"ready": True}
    beauty = client.get("/readyz", headers=BEAUTY).json()
    assert beauty["loaded"] == 3 and beauty["failed"] == []  # apparel's failures are not beauty's
    ready = client.get("/readyz", headers=OPS)
    assert ready.status_code == 200
    body = ready.json()
    assert body["ready"] is True and body["loaded"] == 6
    failed = {f["name"]: f["error"] for f in body["failed"]}
    assert set(failed) == {"daiyun-forecast-apparel", "daiyun-selection-apparel"}
    assert "cannot be unpickled" in failed["daiyun-forecast-apparel"]
    # loads, but cannot answer: found by the first question at start, not by the first caller
    assert "failed its first question" in failed["daiyun-selection-apparel"]
    assert client.get("/livez").status_code == 200  # /metrics needs the real server: test_serving_server


def test_failed_model_answers_503_while_other_brands_are_served(client: TestClient) -> None:
    failed = client.post("/forecast", json=forecast_body("apparel"), headers=OPS)
    assert failed.status_code == 503
    assert "daiyun-forecast-apparel" in failed.json()["error"]
    assert client.post("/forecast", json=forecast_body("snacks"), headers=OPS).status_code == 200
    listed = client.get("/models", headers=OPS).json()["models"]
    apparel = [m for m in listed if m["brand"] == "apparel"]
    assert sorted((m["family"], m["status"]) for m in apparel) == [
        ("forecast", "failed"), ("selection", "failed")
    ]
    answerless = client.post("/score_products", json=score_body("apparel"), headers=OPS)
    assert answerless.status_code == 503 and "first question" in answerless.json()["error"]


# ------------------------------------------------------------------ answers


def test_forecast_rows_totals_and_versions(client: TestClient) -> None:
    from daiyun.training.registry import champion_info

    response = client.post(
        "/forecast", json=forecast_body(sku_ids=["beauty-sku1"], quantiles=[0.9, 0.1, 0.5]), headers=BEAUTY
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["quantiles"] == [0.1, 0.5, 0.9]
    assert len(body["rows"]) == 7 * 2  # 7 days x tmall, jd
    row = body["rows"][0]
    assert {"date", "platform", "sku_id", "mean", "p10", "p50", "p90"} <= set(row)
    assert row["p10"] <= row["p50"] <= row["p90"]
    assert {(t["platform"], t["mean"]) for t in body["totals"]} == {("tmall", 77.0), ("jd", 77.0)}
    assert body["total"]["mean"] == pytest.approx(154.0)
    info = champion_info("forecast", "beauty")
    assert body["models"] == [
        {"family": "forecast", "brand": "beauty", "name": "daiyun-forecast-beauty",
         "version": info.version, "run_id": info.run_id, "source": "registry"}
    ]


def test_forecast_uses_the_promotion_plan_and_levels(client: TestClient) -> None:
    plan = [
        {"platform": "tmall", "sku_id": "beauty-sku0", "start": START, "end": "2026-10-17", "discount": 0.2}
    ]
    body = client.post(
        "/forecast", json=forecast_body(sku_ids=["beauty-sku0"], platforms=["tmall"], promotions=plan),
        headers=BEAUTY,
    ).json()
    means = [row["mean"] for row in body["rows"]]
    assert means == [15.0, 15.0, 10.0, 10.0, 10.0, 10.0, 10.0]  # x1.5 on the two promoted days only
    brand_level = client.post("/forecast", json=forecast_body(level="brand"), headers=BEAUTY).json()
    assert len(brand_level["rows"]) == 7
    assert brand_level["rows"][0]["mean"] == pytest.approx(2 * (10 + 11 + 12))


def test_promotion_flags_reach_the_forecast_as_plan_columns(client: TestClient) -> None:
    day = {"platform": "tmall", "sku_id": "beauty-sku0", "start": START, "end": START, "discount": 0.2}
    other = {**day, "sku_id": "beauty-sku1"}
    plan = [{**day, "flags": {"display": 1}}, other]  # the second row has no flag: 0 there
    body = client.post(
        "/forecast", json=forecast_body(sku_ids=["beauty-sku0", "beauty-sku1"], platforms=["tmall"],
                                        promotions=plan),
        headers=BEAUTY,
    ).json()
    first = {row["sku_id"]: row["mean"] for row in body["rows"] if row["date"].startswith(START)}
    assert first == {"beauty-sku0": 30.0, "beauty-sku1": 16.5}  # x1.5 promoted, x2 displayed
    clash = client.post("/forecast", json=forecast_body(promotions=[{**day, "flags": {"price": 1}}]),
                        headers=BEAUTY)
    assert clash.status_code == 400 and "flags" in clash.text


def test_budget_and_scores_name_their_versions(client: TestClient) -> None:
    budget = client.post("/recommend_budget", json=budget_body(), headers=BEAUTY)
    assert budget.status_code == 200, budget.text
    body = budget.json()
    spends = {c["channel"]: c["spend"] for c in body["channels"]}
    assert sum(spends.values()) == pytest.approx(9000)
    assert spends["tmall_ztc"] > spends["jd_kuaiche"] > spends["douyin_qianchuan"]
    assert {"totals", "current_mix", "uplift"} <= set(body)
    assert body["models"][0]["name"] == "daiyun-budget-beauty"

    scores = client.post("/score_products", json=score_body(top_k=2), headers=BEAUTY)
    assert scores.status_code == 200, scores.text
    rows = scores.json()["rows"]
    assert [r["rank"] for r in rows] == [1, 2]
    assert all(len(r["reasons"]) == 3 for r in rows)  # top three of the bundle's five
    assert scores.json()["models"][0]["name"] == "daiyun-selection-beauty"


# ------------------------------------------------------------------ bad requests


@pytest.mark.parametrize(
    "body, field",
    [
        (forecast_body(sku_id=["beauty-sku1"]), "sku_id"),  # a typo is not silently ignored
        ({"start": START, "end": END}, "brand"),
        (forecast_body(end="2026-10-01"), "end"),
        (forecast_body(start="16/10/2026"), "start"),
        (forecast_body(quantiles=[0.5, 1.5]), "quantiles"),
        (forecast_body(level="store"), "level"),
        (forecast_body(end="2028-01-01"), "period"),
        (forecast_body(promotions=[{"platform": "tmall", "sku_id": "x", "start": START, "end": END}]),
         "discount"),
    ],
)
def test_schema_violations_are_400_naming_field_and_rule(client: TestClient, body: dict, field: str) -> None:
    response = client.post("/forecast", json=body, headers=BEAUTY)
    assert response.status_code == 400
    assert field in response.text
    assert response.json()["detail"][0]["msg"]


def test_other_schema_violations(client: TestClient) -> None:
    json_header = BEAUTY | {"Content-Type": "application/json"}
    bad_json = client.post("/forecast", content=b"{not json", headers=json_header)
    assert bad_json.status_code == 400
    no_roi = client.post("/recommend_budget", json=budget_body(objective="target_roi"), headers=BEAUTY)
    assert no_roi.status_code == 400 and "target_roi" in no_roi.text
    negative = client.post("/recommend_budget", json=budget_body(total_budget=-5), headers=BEAUTY)
    assert negative.status_code == 400 and "total_budget" in negative.text
    horizon = client.post("/score_products", json=score_body(horizon_days=0), headers=BEAUTY)
    assert horizon.status_code == 400 and "horizon_days" in horizon.text


def test_unknown_names_are_404_with_the_name(client: TestClient) -> None:
    sku = client.post("/forecast", json=forecast_body(sku_ids=["nope"]), headers=BEAUTY)
    assert sku.status_code == 404 and sku.json()["field"] == "sku_id" and "nope" in sku.json()["error"]
    platform = client.post("/score_products", json=score_body(platform="taobao-lite"), headers=BEAUTY)
    assert platform.status_code == 404 and "taobao-lite" in platform.text
    channel = client.post(
        "/recommend_budget", json=budget_body(channels=[{"channel": "tiktok_ads", "max": 10}]), headers=BEAUTY
    )
    assert channel.status_code == 404 and "tiktok_ads" in channel.text
    brand = client.post("/forecast", json=forecast_body("nobody"), headers=OPS)
    assert brand.status_code == 404
    assert "no forecast champion" in brand.json()["error"] and "daiyun train forecast" in brand.json()["fix"]


def test_infeasible_budget_is_400_naming_the_constraint(client: TestClient) -> None:
    limits = [{"channel": "tmall_ztc", "min": 6000}, {"channel": "jd_kuaiche", "fixed": 5000}]
    body = budget_body(channels=limits)
    response = client.post("/recommend_budget", json=body, headers=BEAUTY)
    assert response.status_code == 400
    assert response.json()["field"] == "channels" and "11000" in response.json()["rule"]
    crossed_limits = [{"channel": "tmall_ztc", "min": 9, "max": 1}]
    crossed = client.post("/recommend_budget", json=budget_body(channels=crossed_limits), headers=BEAUTY)
    assert crossed.status_code == 400 and "min" in crossed.text


def test_a_model_failure_is_500_and_the_worker_keeps_answering(client: TestClient) -> None:
    broken = client.post("/forecast", json=forecast_body(sku_ids=["boom"]), headers=BEAUTY)
    assert broken.status_code == 500
    assert "ZeroDivisionError" not in broken.text  # internals stay in the server log
    again = client.post("/forecast", json=forecast_body(sku_ids=["beauty-sku1"]), headers=BEAUTY)
    assert again.status_code == 200


# ------------------------------------------------------------------ tenants


def test_missing_or_unknown_key_is_401_before_the_body_is_read(client: TestClient) -> None:
    for route in ("/forecast", "/recommend_budget", "/score_products", "/models"):
        missing = client.post(route, json={})
        assert missing.status_code == 401 and "API key" in missing.json()["error"]
        assert missing.headers["WWW-Authenticate"].startswith("Bearer")
        unknown = client.post(route, json={}, headers={"Authorization": "Bearer not-a-key"})
        assert unknown.status_code == 401
    assert client.get("/models").status_code == 401


def test_a_key_for_one_brand_reads_nothing_of_another_through_any_endpoint(client: TestClient) -> None:
    snacks_words = ("snacks-sku0", "snacks-sku2", "daiyun-forecast-snacks", "daiyun-budget-snacks",
                    "daiyun-selection-snacks")
    attempts = [
        ("/forecast", forecast_body("snacks")),
        ("/forecast", forecast_body("snacks", level="brand")),
        ("/recommend_budget", budget_body("snacks")),
        ("/score_products", score_body("snacks")),
        ("/models", {"brand": "snacks"}),
    ]
    for route, body in attempts:
        response = client.post(route, json=body, headers=BEAUTY)
        assert response.status_code == 403, (route, response.text)
        assert not any(word in response.text for word in snacks_words)
    # a brand that does not exist answers exactly like one that does: no probing for tenants
    assert client.post("/forecast", json=forecast_body("ghost"), headers=BEAUTY).status_code == 403
    # asking beauty's models for snacks' SKUs finds nothing and names only beauty's SKUs
    cross = client.post("/forecast", json=forecast_body(sku_ids=["snacks-sku1"]), headers=BEAUTY)
    assert cross.status_code == 404 and "beauty-sku0" in cross.text
    assert not any(word in cross.text for word in snacks_words)
    # a promotion plan row for another brand is refused
    plan = [{"brand": "snacks", "platform": "tmall", "sku_id": "beauty-sku0", "start": START, "end": END,
             "discount": 0.1}]
    assert client.post("/forecast", json=forecast_body(promotions=plan), headers=BEAUTY).status_code == 400
    # the listing shows only the key's own brand, by POST and by GET
    for listing in (client.post("/models", json={}, headers=BEAUTY), client.get("/models", headers=BEAUTY)):
        assert listing.status_code == 200
        models = listing.json()["models"]
        assert {m["brand"] for m in models} == {"beauty"} and len(models) == 3
        assert all(m["metrics"]["wape"] == pytest.approx(0.25) for m in models)
    # and the other key sees its own brand
    snacks = client.get("/models", headers={"X-API-Key": "key-snacks"}).json()["models"]
    assert {m["brand"] for m in snacks} == {"snacks"}


def test_open_service_warns_loudly_and_serves_everything(
    harness: Harness, store: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    harness.stop()
    store.delenv("DAIYUN_API_KEYS")
    try:
        with caplog.at_level(logging.WARNING, logger="bentoml.daiyun"):
            open_client = harness.start()
        brands = {m["brand"] for m in open_client.get("/models").json()["models"]}
        assert brands == {"beauty", "snacks", "apparel"}
        assert open_client.post("/forecast", json=forecast_body("snacks")).status_code == 200
        assert "NO API KEYS CONFIGURED" in caplog.text
    finally:
        harness.stop()
        store.setenv("DAIYUN_API_KEYS", KEYS)
        harness.start()
    # keys are back: the restarted service refuses keyless calls again
    assert harness.client.post("/forecast", json=forecast_body("snacks")).status_code == 401


# ------------------------------------------------------------------ keys and packed champions (no HTTP)


def test_keys_from_file_and_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from daiyun.serving.auth import AuthError, KeyRing, parse_keys

    assert parse_keys("k1:a,b; k2:c") == {"k1": ["a", "b"], "k2": ["c"]}
    with pytest.raises(ValueError, match="key:brandA"):
        parse_keys("just-a-key")
    keys_file = tmp_path / "keys.yaml"
    keys_file.write_text("alpha: [beauty]\nomega: '*'\n", encoding="utf-8")
    monkeypatch.setenv("DAIYUN_API_KEYS_FILE", str(keys_file))
    monkeypatch.setenv("DAIYUN_API_KEYS", "ignored:snacks")
    ring = KeyRing.from_environment()
    assert ring.access({"authorization": "Bearer alpha"}).allows("beauty")
    assert not ring.access({"x-api-key": "alpha"}).allows("snacks")
    assert ring.access({"x-api-key": "omega"}).allows("anything")
    with pytest.raises(AuthError) as missing:
        ring.access({"x-api-key": "ignored"})
    assert missing.value.status == 401


def test_snapshot_round_trip_keeps_versions_and_refuses_a_brand_swap(tmp_path: Path) -> None:
    from daiyun.serving.champions import Champion, ChampionSet, read_snapshot, write_snapshot

    beauty = Champion("forecast", "beauty", "daiyun-forecast-beauty", "4", "run4", {"wape": 0.2},
                      FakeForecastBundle("beauty"))
    write_snapshot(ChampionSet([beauty], [], "registry"), tmp_path)
    packed = read_snapshot(tmp_path)
    served = packed.get("forecast", "beauty")
    assert (served.version, served.run_id, served.source) == ("4", "run4", "bento")
    assert served.bundle.forecast(START, START)["mean"].tolist() == [10, 11, 12, 10, 11, 12]
    # a manifest that claims another brand's name for a bundle is not served
    swapped = Champion(
        "forecast", "snacks", "daiyun-forecast-snacks", "1", "r", {}, FakeForecastBundle("beauty")
    )
    write_snapshot(ChampionSet([swapped], [], "registry"), tmp_path / "swapped")
    refused = read_snapshot(tmp_path / "swapped")
    assert len(refused) == 0 and refused.failures[0].brand == "snacks"


def test_serve_prints_examples_with_a_real_brand_and_sku(sample_dir: Path) -> None:
    import pandas as pd

    from daiyun.training.cli.serve import example_requests

    text = example_requests(sample_dir, "http://127.0.0.1:3999")
    sales = pd.read_parquet(sample_dir / "sales.parquet")
    brand = sorted(sales["brand"].unique())[0]
    mine = sales.loc[sales["brand"].eq(brand)]
    assert f'"brand": "{brand}"' in text and text.count("curl -s") == 5
    sku = text.split('"sku_ids": ["')[1].split('"')[0]
    assert sku in set(mine["sku_id"])
    assert f'"as_of": "{mine["date"].max().date()}"' in text



@pytest.mark.parametrize("level", ["sku", "category", "platform", "brand"])
def test_fast_forecast_json_is_the_typed_answer_byte_for_byte(level: str) -> None:
    from daiyun.serving.answers import forecast_answer, forecast_json
    from daiyun.serving.champions import Champion
    from daiyun.serving.schemas import ForecastRequest

    champion = Champion("forecast", "beauty", "daiyun-forecast-beauty", "3", "run3", {},
                        FakeForecastBundle("beauty", skus=40))  # 40 x 2 series x 7 days: the frame path
    for asked in ({}, {"sku_ids": ["beauty-sku1"], "quantiles": [0.25, 0.75]}):
        if level != "sku" and asked:
            continue
        request = ForecastRequest(brand="beauty", start=START, end=END, level=level, **asked)
        typed = forecast_answer(champion, request).model_dump_json().encode()
        assert forecast_json(champion, request) == typed


def test_a_forecaster_that_cannot_forecast_its_default_plan_is_reported_not_served() -> None:
    from daiyun.features.errors import RequestError
    from daiyun.serving.champions import Champion, ChampionSet
    from daiyun.serving.precompute import precompute_champions

    class Stale(FakeForecastBundle):
        origin = "2026-10-15"

        def forecast(self, *args, **kwargs):
            # a pickle made by older code
            raise AttributeError("'ForecastBundle' object has no attribute '_caches'")

    class ShortSighted(FakeForecastBundle):
        origin = "2026-10-15"

        def forecast(self, start, end, **kwargs):
            raise RequestError("end", "too far ahead")

    champions = ChampionSet(
        [Champion("forecast", "beauty", "daiyun-forecast-beauty", "1", "r1", {}, Stale("beauty")),
         Champion("forecast", "snacks", "daiyun-forecast-snacks", "1", "r2", {}, ShortSighted("snacks"))],
        [], "registry",
    )
    precompute_champions(champions)
    assert [f.name for f in champions.failures] == ["daiyun-forecast-beauty"]
    assert "_caches" in champions.failures[0].error
    assert champions.get("forecast", "snacks").precomputed is None  # still served, asked per request
