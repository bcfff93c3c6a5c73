"""Schemathesis against the in-process service: >= 1,000 generated requests, no 5xx, every answer
as /docs.json says (status, content type, headers, body schema), invalid requests refused.

The document under test is the one the service serves. Schema-valid requests mostly fail the
rules JSON Schema cannot say (end before start, dates outside 1970..2261, unknown brands), so a
share of them is steered onto the fake brands and near dates, where the models really answer.
`positive_data_acceptance` is left out for that reason: a schema-valid request may be a 400 or 404.
"""

from __future__ import annotations

import collections
import datetime as dt
import logging
import os
import time

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from test_serving_fakes import (
    Harness,
    serving_beauty,
)

schemathesis = pytest.importorskip("schemathesis")
from schemathesis import GenerationMode  # noqa: E402

KEYS = "key-beauty:beauty;key-ops:*"
BRANDS = ["beauty", "nobody"]  # served, and unknown (404); a 503 is tested by hand (test_serving)
# per operation and mode; the five operations with a body get the most
EXAMPLES = {"positive": 125, "negative": 90}
SMALL_EXAMPLES = 15
BUDGET_SECONDS = 120  # a hard ceiling, far above the ~30-60 s it takes on 2 shared cores


@pytest.fixture(scope="module")
def service():
    """One brand's fake champions, handed to the service directly: loading them from a registry is
    test_serving's subject, and logging models to MLflow would take half this test's time."""
    with serving_beauty(KEYS) as running:
        yield running


async def _without_lifespan(scope, receive, send) -> None:  # noqa: ANN001
    """The Harness app, its lifespan left to the Harness (BentoML builds one app per process)."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            else:
                await send({"type": "lifespan.shutdown.complete"})
                return
    await Harness.app(scope, receive, send)


@st.composite
def _steer(draw: st.DrawFn, case):  # noqa: ANN001, ANN202
    """Half the schema-valid bodies get a served brand and a near period, so answers are built."""
    body = case.body
    if isinstance(body, dict) and draw(st.booleans()):
        body["brand"] = draw(st.sampled_from(BRANDS))
        start = dt.date(2026, 10, 16) + dt.timedelta(days=draw(st.integers(0, 120)))
        if "as_of" in body:
            body["as_of"] = start.isoformat()
        if "start" in body:
            body["start"] = start.isoformat()
            body["end"] = (start + dt.timedelta(days=draw(st.integers(0, 40)))).isoformat()
    return case


def _fuzz(operation, mode, examples: int, statuses: collections.Counter, failures: dict) -> None:  # noqa: ANN001
    """`examples` generated requests to one operation; statuses counted, failed checks collected."""
    strategy = operation.as_strategy(generation_mode=mode)
    if mode is GenerationMode.POSITIVE:
        strategy = strategy.flatmap(_steer)

    # derandomized: CI sees the same ~1,000 requests every run (set DAIYUN_FUZZ_EXPLORE=1 for new ones)
    @settings(max_examples=examples, deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck), derandomize=not os.environ.get("DAIYUN_FUZZ_EXPLORE"))
    @given(case=strategy)
    def run(case) -> None:  # noqa: ANN001
        try:
            response = case.call_and_validate(excluded_checks=[schemathesis.checks.positive_data_acceptance])
            statuses[response.status_code] += 1
        except (Exception, BaseExceptionGroup) as failure:  # noqa: BLE001 - collected, asserted by the caller
            statuses["failed"] += 1
            name = f"{operation.label} {mode.value}: {type(failure).__name__}"
            failures.setdefault(name, str(failure)[:1500])

    run()


def _fuzz_every_operation(schema, statuses: collections.Counter, failures: dict) -> None:  # noqa: ANN001
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path == "/metrics":
            continue  # Prometheus text is served by the real server only (test_serving_server)
        if operation.path == "/report":
            continue  # needs a data directory and renders charts: tests/test_report.py's subject
        asks = operation.method.upper() == "POST" or operation.path == "/models"
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            if mode is GenerationMode.NEGATIVE and not asks:
                continue  # /readyz, /livez, /healthz: no body, no parameters, nothing to get wrong
            _fuzz(operation, mode, EXAMPLES[mode.value] if asks else SMALL_EXAMPLES, statuses, failures)


def test_generated_requests_get_no_5xx_and_answers_match_the_document(service: Harness) -> None:
    schema = schemathesis.openapi.from_asgi("/docs.json", _without_lifespan)

    @schema.auth()
    class OperatorKey:
        def get(self, case, ctx):  # noqa: ANN001, ANN201
            return "key-ops"

        def set(self, case, data, ctx) -> None:  # noqa: ANN001
            case.headers = {**(case.headers or {}), "X-API-Key": data}

    statuses: collections.Counter = collections.Counter()
    failures: dict[str, str] = {}
    started = time.monotonic()
    quiet = logging.getLogger("bentoml")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)  # the access log of ~1,000 requests; the counts are the point
    try:
        _fuzz_every_operation(schema, statuses, failures)
    finally:
        quiet.setLevel(level)
    elapsed = time.monotonic() - started
    total = sum(statuses.values())
    print(f"schemathesis: {total} cases in {elapsed:.0f}s, statuses {dict(statuses)}")
    assert not failures, "\n\n".join(f"{name}\n{text}" for name, text in failures.items())
    assert total >= 1000
    assert not any(isinstance(code, int) and code >= 500 for code in statuses)
    assert statuses[200] >= 100  # the steered requests really reached the models
    assert elapsed < BUDGET_SECONDS
