"""The OpenAPI document `/docs.json` serves: written from the request and response models, so it
says what the service does (the framework's own said OpenAPI 3.0.2 while using 3.1 keywords, a
400 `detail` that was a string, and left out 401/403/503 and `GET /models`).

pydantic writes JSON Schema 2020-12, which is OpenAPI 3.1's schema language, so the document is
3.1.0. Rules that span fields (end after start, at most 366 days, quantile names) cannot be said in
JSON Schema: they are in the descriptions and answered with 400 naming the field.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import models_json_schema

import daiyun
from daiyun.serving.report.page import ReportRequest
from daiyun.serving.schemas import (
    BudgetRequest,
    BudgetResponse,
    ForecastRequest,
    ForecastResponse,
    ModelsRequest,
    ModelsResponse,
    ScoreRequest,
    ScoreResponse,
)

REF = "#/components/schemas/{model}"


class ErrorDetail(BaseModel):
    """One schema violation (pydantic's error, without the input that caused it)."""

    model_config = ConfigDict(extra="allow")

    type: str
    loc: list[str | int] = Field(description="path to the field, e.g. ['promotions', 0, 'end']")
    msg: str


class ErrorBody(BaseModel):
    """Every error: one sentence, and for a bad request the field, the rule broken and a fix."""

    model_config = ConfigDict(extra="allow")

    error: str
    field: str | None = Field(None, description="the field, header or 'body' at fault")
    rule: str | None = None
    fix: str | None = None
    detail: list[ErrorDetail] | None = Field(None, description="every schema violation, on a 400")


class FailedModel(BaseModel):
    name: str
    version: str | None = None
    family: str
    brand: str
    error: str


class Readiness(BaseModel):
    """Without a key (or with an unknown one) only `ready`; with a key, the key's brands' models."""

    ready: bool
    reason: str | None = None
    source: str | None = None
    loaded: int | None = Field(None, description="champions served for the caller's brands")
    failed: list[FailedModel] | None = Field(None, description="the caller's brands' models not served")


_ERRORS: dict[int, str] = {
    400: "Bad request: the field, the rule broken and a fix (schema violations listed in `detail`)",
    401: "No API key, or an unknown one",
    403: "The API key does not cover the brand",
    404: "Unknown brand, SKU, platform or channel (named in `error`)",
    413: "Request body larger than 4 MiB",
    415: "Content-Type other than JSON (or a charset other than UTF-8)",
    500: "The brand's model failed on this request (details in the server log only)",
    503: "The brand's champion failed to load at start, or the service is starting",
}

_API: list[tuple[str, str, type[BaseModel], type[BaseModel], str]] = [
    (
        "/forecast",
        "forecast",
        ForecastRequest,
        ForecastResponse,
        "Sales forecast per day with intervals for a brand's SKUs, platforms, categories or total. "
        "`end` may not be before `start`, the period is at most 366 days, quantiles must not repeat "
        "nor share a column name (`p` + 100q).",
    ),
    (
        "/recommend_budget",
        "recommend_budget",
        BudgetRequest,
        BudgetResponse,
        "Split an ad budget across the brand's channels for a period, against the current mix. "
        "`objective: target_roi` needs `target_roi`; each channel at most once.",
    ),
    (
        "/score_products",
        "score_products",
        ScoreRequest,
        ScoreResponse,
        "Rank a brand's SKUs for a promotion, livestream or ad push, with the top reasons.",
    ),
]


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _responses(ok: type[BaseModel], codes: tuple[int, ...]) -> dict[str, Any]:
    responses: dict[str, Any] = {
        "200": {"description": "OK", "content": _json({"$ref": REF.format(model=ok.__name__)})}
    }
    for code in codes:
        responses[str(code)] = {
            "description": _ERRORS[code],
            "content": _json({"$ref": REF.format(model="ErrorBody")}),
        }
        if code == 401:
            responses["401"]["headers"] = {
                "WWW-Authenticate": {"schema": {"type": "string"}, "description": 'Bearer realm="daiyun"'}
            }
    return responses


def _operation(name: str, summary: str, ok: type[BaseModel], codes: tuple[int, ...]) -> dict[str, Any]:
    return {
        "operationId": name,
        "summary": summary.split(". ")[0],
        "description": summary,
        "tags": ["daiyun"],
        "security": [{"bearer": []}, {"apiKey": []}],
        "responses": _responses(ok, codes),
    }


def _report_paths(request: dict[str, Any]) -> dict[str, Any]:
    """GET /report?brand=..&start=..&end=.. (a link to open) and POST with the same fields: HTML."""
    summary = "The brand's periodic report as one self-contained HTML page (needs DAIYUN_REPORT_DATA)"
    html = {"description": "the report", "content": {"text/html": {"schema": {"type": "string"}}}}
    codes = (400, 401, 403, 404, 413, 415, 500, 503)
    get, post = (_operation(name, summary, ErrorBody, codes) for name in ("report", "report_post"))
    get["responses"]["200"] = post["responses"]["200"] = html
    get["parameters"] = [
        {"name": name, "in": "query", "required": name in request.get("required", []), "schema": schema}
        for name, schema in request["properties"].items()
    ]
    post["requestBody"] = {"required": True, "content": _json({"$ref": REF.format(model="ReportRequest")})}
    return {"get": get, "post": post}


@cache
def openapi_document() -> dict[str, Any]:
    models: list[type[BaseModel]] = [
        ForecastRequest,
        ForecastResponse,
        BudgetRequest,
        BudgetResponse,
        ScoreRequest,
        ScoreResponse,
        ModelsRequest,
        ModelsResponse,
        ErrorBody,
        Readiness,
        ReportRequest,
    ]
    _, definitions = models_json_schema(
        [
            (model, "validation" if model.__name__.endswith("Request") else "serialization")
            for model in models
        ],
        ref_template=REF,
    )
    schemas = definitions.get("$defs", {})
    body_codes = (400, 401, 403, 404, 413, 415, 500, 503)
    paths: dict[str, Any] = {}
    for route, name, request, response, summary in _API:
        operation = _operation(name, summary, response, body_codes)
        operation["requestBody"] = {
            "required": True,
            "content": _json({"$ref": REF.format(model=request.__name__)}),
        }
        paths[route] = {"post": operation}
    listing = "The models answering for the caller's brands: name, version, run id, backtest metrics."
    get_models = _operation("list_models", listing, ModelsResponse, (400, 401, 403, 503))
    get_models["parameters"] = [
        {
            "name": "brand",
            "in": "query",
            "required": False,
            "schema": {"type": "string", "minLength": 1, "maxLength": 200},
            "description": "only this brand (default: every brand of the key)",
        }
    ]
    post_models = _operation("list_models_post", listing, ModelsResponse, (400, 401, 403, 413, 415, 503))
    post_models["requestBody"] = {
        "required": False,
        "content": _json({"$ref": REF.format(model="ModelsRequest")}),
    }
    paths["/models"] = {"get": get_models, "post": post_models}
    paths["/report"] = _report_paths(schemas["ReportRequest"])
    paths["/readyz"] = {
        "get": {
            "operationId": "readyz",
            "tags": ["infrastructure"],
            "summary": "Ready once the worker serves; a brand whose model failed does not make it unready",
            "responses": {
                "200": {"description": "serving", "content": _json({"$ref": REF.format(model="Readiness")})},
                "503": {
                    "description": "starting, or no champion could be read",
                    "content": _json({"$ref": REF.format(model="Readiness")}),
                },
            },
        }
    }
    for route, summary in (("/livez", "The process is alive"), ("/healthz", "The process is alive")):
        paths[route] = {
            "get": {
                "operationId": route.strip("/"),
                "tags": ["infrastructure"],
                "summary": summary,
                "responses": {"200": {"description": "alive"}},
            }
        }
    paths["/metrics"] = {
        "get": {
            "operationId": "metrics",
            "tags": ["infrastructure"],
            "summary": "Prometheus metrics",
            "responses": {
                "200": {
                    "description": "Prometheus text format",
                    "content": {"text/plain": {"schema": {"type": "string"}}},
                }
            },
        }
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "daiyun",
            "version": daiyun.__version__,
            "description": (
                "Promotion sales forecasts, ad budget recommendations and product selection for every "
                "brand's champion models. Send `Authorization: Bearer <key>` or `X-API-Key: <key>`; a "
                "key covers its brands only. Errors are one JSON object: `error`, and for a bad "
                "request `field`, `rule`, `fix` and `detail`."
            ),
        },
        "servers": [{"url": "/"}],
        "tags": [{"name": "daiyun"}, {"name": "infrastructure"}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
            },
        },
    }
