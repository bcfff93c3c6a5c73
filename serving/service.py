"""The daiyun inference API: every brand's champions behind one BentoML service.

    bentoml serve serving.service:Daiyun        (or `daiyun serve`)

Champions are loaded once per worker in `__init__` (serving.champions says from where); the API
functions only check the caller's key, find the brand's champion and ask it. Requests reach them
already checked (serving.http.Guard: key, Content-Type, size, schema). Errors a caller can cause
come back as JSON naming the field, the rule and a fix: 400 schema or request, 401 no key, 403
brand outside the key, 404 unknown brand / SKU / platform / channel, 413 body too large, 415 not
JSON, 503 model not loaded. The OpenAPI document is serving.openapi.
"""

from __future__ import annotations

import gc
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import bentoml
import pandas as pd
from starlette.responses import JSONResponse, Response

from daiyun.features.errors import RequestError
from daiyun.serving.answers import budget_answer, forecast_json, score_answer
from daiyun.serving.auth import AuthError, KeyRing, require_brand
from daiyun.serving.champions import (
    PACKED_MODEL,
    ChampionSet,
    choose_source,
    load_from_registry,
    read_snapshot,
)
from daiyun.serving.http import RUNTIME, Guard, error_response
from daiyun.serving.precompute import precompute_champions
from daiyun.serving.report.page import ReportRequest, report_page
from daiyun.serving.schemas import (
    BudgetRequest,
    BudgetResponse,
    ForecastRequest,
    ForecastResponse,
    ModelsRequest,
    ModelsResponse,
    ScoreRequest,
    ScoreResponse,
    ServedModel,
)
from daiyun.serving.selfcheck import self_check

logger = logging.getLogger("bentoml.daiyun")


@bentoml.service(
    name="daiyun",
    workers=int(os.environ.get("DAIYUN_WORKERS", "1")),
    traffic={"timeout": 60},
)
class Daiyun:
    def __init__(self) -> None:
        RUNTIME.champions = None
        RUNTIME.error = None
        self.keys = KeyRing.from_environment()
        RUNTIME.keys = self.keys
        if self.keys.is_open:
            logger.warning(
                "\n%s\nNO API KEYS CONFIGURED: every caller can read every brand. For local use only;\n"
                "set DAIYUN_API_KEYS or DAIYUN_API_KEYS_FILE before exposing this service.\n%s",
                "!" * 78,
                "!" * 78,
            )
        else:
            logger.info("API keys configured: %d key(s)", len(self.keys))
        self.champions = self._load_champions()
        self_check(self.champions)
        precompute_champions(self.champions)
        RUNTIME.champions = self.champions
        for champion in self.champions.champions:
            logger.info("serving %s v%s for brand %s", champion.name, champion.version, champion.brand)
        for failure in self.champions.failures:
            logger.error("NOT serving %s v%s: %s", failure.name, failure.version, failure.error)
        if not len(self.champions):
            logger.warning("no champions loaded: train with `daiyun train all --data DIR`")
        # The champions are ~400k Python objects that live as long as the worker: a full garbage
        # collection walking them took ~220 ms, the p99 of every endpoint. Frozen, it walks none.
        gc.collect()
        gc.freeze()

    def _load_champions(self) -> ChampionSet:
        try:
            source = choose_source(loaded_from_bento=Daiyun.bento is not None)
            if source == "bento":
                return read_snapshot(_packed_path())
            return load_from_registry()
        except Exception as error:  # noqa: BLE001 - /readyz reports it; the worker stays up
            logger.exception("could not load champions")
            RUNTIME.error = f"could not load champions: {type(error).__name__}: {error}"
            return ChampionSet([], [], source="none")

    # ------------------------------------------------------------------ API

    @bentoml.api(route="/forecast", input_spec=ForecastRequest)
    def forecast(self, ctx: bentoml.Context, **fields: Any) -> ForecastResponse:
        """Sales forecast per day with intervals for a brand's SKUs, platforms, categories or total."""
        request = ForecastRequest.model_construct(**fields)
        # the same fields as ForecastResponse, serialised straight from columns (see forecast_json)
        return self._answer(
            ctx, "forecast", request.brand,
            lambda c: Response(forecast_json(c, request), media_type="application/json"),
        )

    @bentoml.api(route="/recommend_budget", input_spec=BudgetRequest)
    def recommend_budget(self, ctx: bentoml.Context, **fields: Any) -> BudgetResponse:
        """Split an ad budget across the brand's channels for a period, against the current mix."""
        request = BudgetRequest.model_construct(**fields)
        return self._answer(ctx, "budget", request.brand, lambda c: budget_answer(c, request))

    @bentoml.api(route="/score_products", input_spec=ScoreRequest)
    def score_products(self, ctx: bentoml.Context, **fields: Any) -> ScoreResponse:
        """Rank a brand's SKUs for a promotion, livestream or ad push, with the top reasons."""
        request = ScoreRequest.model_construct(**fields)
        forecast = self.champions.find("forecast", request.brand)
        return self._answer(ctx, "selection", request.brand, lambda c: score_answer(c, request, forecast))

    @bentoml.api(route="/models", input_spec=ModelsRequest)
    def models(self, ctx: bentoml.Context, **fields: Any) -> ModelsResponse:
        """The models answering for the caller's brands: name, version, run id, backtest metrics."""
        request = ModelsRequest.model_construct(**fields)
        try:
            access = self.keys.access(ctx.request.headers)
            if request.brand is not None:
                require_brand(access, request.brand)
            listed = [
                ServedModel(
                    **c.version_fields(), metrics=c.metrics, status="loaded", history_end=c.history_end
                )
                for c in self.champions.champions
                if access.allows(c.brand) and request.brand in (None, c.brand)
            ]
            listed += [
                ServedModel(
                    family=f.family, brand=f.brand, name=f.name, version=f.version,
                    source=self.champions.source, status="failed", error=f.error,
                )
                for f in self.champions.failures
                if access.allows(f.brand) and request.brand in (None, f.brand)
            ]
            return ModelsResponse(source=self.champions.source, models=listed)
        except AuthError as error:
            return _fail(ctx, error.status, error.message)

    @bentoml.api(route="/report", input_spec=ReportRequest)
    def report(self, ctx: bentoml.Context, **fields: Any) -> str:
        """The brand's periodic report (headline, event, forecast quality, ads, products, outlook) as
        one self-contained HTML page: GET /report?brand=B&start=D&end=D. Reads DAIYUN_REPORT_DATA."""
        request = ReportRequest.model_construct(**fields)
        return self._answer(
            ctx, "forecast", request.brand,
            lambda c: Response(report_page(self.champions, request), media_type="text/html; charset=utf-8"),
        )

    def _answer(
        self, ctx: bentoml.Context, family: str, brand: str, build: Callable[[Any], Any]
    ) -> Any:
        """Key, brand, champion, answer; every failure becomes one JSON error, never a dead worker."""
        try:
            access = self.keys.access(ctx.request.headers)
            require_brand(access, brand)
            champion = self.champions.get(family, brand, visible_brands=access.visible(self.champions.brands))
            return build(champion)
        except AuthError as error:
            return _fail(ctx, error.status, error.message)
        except RequestError as error:
            return _fail(ctx, error.status, str(error), field=error.field, rule=error.rule, fix=error.fix)
        except (OverflowError, pd.errors.OutOfBoundsDatetime, pd.errors.OutOfBoundsTimedelta):
            # the schema keeps dates inside pandas' range; a model that still steps outside it
            # (a horizon added to a late date) was asked for dates it cannot represent
            logger.warning("%s for brand %s: dates out of range", family, brand)
            return _fail(ctx, 400, "the dates asked for are too far from the model's history",
                         field="start/end", rule="dates outside what the model can represent",
                         fix="ask for dates within a year after the history (see /models history_end)")
        except Exception:  # noqa: BLE001 - a model bug must not take the worker down
            logger.exception("%s for brand %s failed", family, brand)
            message = f"the {family} model of brand '{brand}' failed on this request; see the server log"
            return _fail(ctx, 500, message)

    @bentoml.api(route="/ping")
    def ping(self) -> dict[str, bool]:
        """Does nothing: the framework's own latency, the ceiling the benchmark compares against."""
        return {"ok": True}


def _packed_path() -> Path:
    """The packed champions of this Bento (bentofile.yaml lists the BentoML model, so `bentoml
    build` records its exact version). Not a class attribute: `bentoml serve` resolves those at
    start, and a development server from the registry has no packed model."""
    tag = f"{PACKED_MODEL}:latest"
    if Daiyun.bento is not None:
        for info in Daiyun.bento.info.all_models:
            if info.tag.name == PACKED_MODEL:
                tag = str(info.tag)
    return Path(bentoml.models.get(tag).path)


def _fail(ctx: bentoml.Context, status: int, message: str, **fields: Any) -> JSONResponse:
    # BentoML copies the context's status onto whatever the API function returns
    ctx.response.status_code = status
    return error_response(status, message, **fields)


Daiyun.add_asgi_middleware(Guard)
