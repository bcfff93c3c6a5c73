"""HTTP edges the BentoML API functions do not cover: the key check and the request check before
BentoML sees a request, error bodies, `GET /models`, `/readyz` and the OpenAPI document.

`Guard` is an ASGI middleware added to the service. It reads the running service's state from
`RUNTIME`, which the service instance fills in `__init__` (one instance per worker process).

Every request to an API route passes here first, in this order: key (401), Content-Type (400/415),
body size (413), JSON and schema (400 naming the field). So a bad request is answered from here
in one JSON line, never reaches the framework's parser (whose failures were 500s) and leaves no
traceback in the log: a caller cannot fill the log by sending garbage.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from pydantic import BaseModel, ValidationError
from starlette.responses import JSONResponse

from daiyun.serving.auth import Access, AuthError, KeyRing
from daiyun.serving.champions import ChampionSet
from daiyun.serving.openapi import openapi_document
from daiyun.serving.report.page import ReportRequest
from daiyun.serving.schemas import BudgetRequest, ForecastRequest, ModelsRequest, ScoreRequest

logger = logging.getLogger("bentoml.daiyun")

# The routes that answer with a brand's models or forecasts: only these need a key.
REQUESTS: dict[str, type[BaseModel]] = {
    "/forecast": ForecastRequest,
    "/recommend_budget": BudgetRequest,
    "/score_products": ScoreRequest,
    "/models": ModelsRequest,
    "/report": ReportRequest,
}
# Reads without a body: GET answers them, the query becoming the JSON body BentoML expects.
GET_ROUTES = frozenset({"/models", "/report"})
PROTECTED = frozenset(REQUESTS)
# The largest request: 10,000 promotion rows of ~150 bytes; anything bigger is refused unread.
MAX_BODY_BYTES = 4 * 1024 * 1024
# What a body may be declared as. curl's `-d` says form-urlencoded even for JSON, so that is read
# as JSON too; anything else is refused instead of being guessed at.
JSON_MEDIA_TYPES = frozenset({"application/json", "application/x-www-form-urlencoded", "text/plain"})
UTF8 = frozenset({"utf-8", "utf8", "us-ascii", "ascii"})
_TOKEN = frozenset("abcdefghijklmnopqrstuvwxyz0123456789!#$&^_.+-")


@dataclass
class Runtime:
    keys: KeyRing | None = None
    champions: ChampionSet | None = None
    error: str | None = None  # why the champions could not be loaded at all


RUNTIME = Runtime()


def error_response(status: int, message: str, **fields: Any) -> JSONResponse:
    body = {"error": message} | {key: value for key, value in fields.items() if value not in (None, "")}
    headers = {"WWW-Authenticate": 'Bearer realm="daiyun"'} if status == 401 else None
    return JSONResponse(body, status_code=status, headers=headers)


# ---------------------------------------------------------------------------- readiness


def readiness(access: Access | None) -> tuple[int, dict[str, Any]]:
    """200 once the worker serves (a broken brand does not stop the others); 503 while starting
    or when no champion could be read at all. Which models failed, and why, is told only to a
    caller whose key covers their brand (`access`; None: no or unknown key)."""
    champions = RUNTIME.champions
    if champions is None:
        reason = "could not load champions; see the server log" if RUNTIME.error else "starting"
        return 503, {"ready": False, "reason": reason if access is None else (RUNTIME.error or reason)}
    if access is None:
        return 200, {"ready": True}
    served = [c for c in champions.champions if access.allows(c.brand)]
    failed = [f for f in champions.failures if access.allows(f.brand)]
    body: dict[str, Any] = {
        "ready": True,
        "source": champions.source,
        "loaded": len(served),
        "failed": [
            {"name": f.name, "version": f.version, "family": f.family, "brand": f.brand, "error": f.error}
            for f in failed
        ],
    }
    if not len(champions) and not champions.failures:
        body["reason"] = "no champions registered: train with `daiyun train all --data DIR`"
    elif failed:
        body["reason"] = f"{len(failed)} model(s) failed to load; the others are served"
    return 200, body


# ---------------------------------------------------------------------------- request checks


class BadRequest(Exception):
    """A request refused before it reaches the API function: status, field, rule, fix."""

    def __init__(self, status: int, field: str, rule: str, fix: str = "", detail: list | None = None) -> None:
        super().__init__(rule)
        self.status, self.field, self.rule, self.fix, self.detail = status, field, rule, fix, detail

    def response(self) -> JSONResponse:
        message = f"{self.field}: {self.rule}"
        return error_response(self.status, message, field=self.field, rule=self.rule, fix=self.fix,
                              detail=self.detail)


def check_content_type(value: str | None) -> None:
    """None or a JSON media type (charset UTF-8); 400 when unreadable, 415 when another type."""
    if value is None or not value.strip():
        return
    media_type, *parameters = value.split(";")
    kind, slash, subtype = media_type.strip().lower().partition("/")
    if not slash or not kind or not subtype or not set(kind) <= _TOKEN or not set(subtype) <= _TOKEN:
        raise BadRequest(400, "Content-Type", f"'{value[:100]}' is not a media type",
                         "send 'Content-Type: application/json'")
    for parameter in parameters:
        name, equals, setting = parameter.strip().partition("=")
        if not parameter.strip():
            continue
        if not equals or not name.strip():
            raise BadRequest(400, "Content-Type", f"parameter '{parameter.strip()[:50]}' is not name=value",
                             "send 'Content-Type: application/json'")
        if name.strip().lower() == "charset" and setting.strip().strip('"').lower() not in UTF8:
            raise BadRequest(415, "Content-Type", f"charset '{setting.strip()[:30]}' is not UTF-8",
                             "send the body as UTF-8 JSON")
    if f"{kind}/{subtype}" not in JSON_MEDIA_TYPES and not subtype.endswith("+json"):
        raise BadRequest(415, "Content-Type", f"'{kind}/{subtype}' bodies are not read",
                         "send a JSON body with 'Content-Type: application/json'")


def _too_big(limit: int) -> BadRequest:
    return BadRequest(413, "body", f"the request body is larger than {limit} bytes",
                      "send fewer rows per request")


def _check_declared_length(scope: dict[str, Any], limit: int = MAX_BODY_BYTES) -> None:
    declared = _header(scope, b"content-length")
    if declared is None:
        return
    try:
        length = int(declared)
    except ValueError:
        raise BadRequest(400, "Content-Length", "not a number") from None
    if length > limit:
        raise _too_big(limit)


async def read_body(scope: dict[str, Any], receive: Any, limit: int = MAX_BODY_BYTES) -> bytes:
    """The whole body, or 413 as soon as it is (or says it will be) longer than `limit`."""
    _check_declared_length(scope, limit)
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _too_big(limit)
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def validation_failure(error: ValidationError) -> BadRequest:
    """pydantic's errors as one 400: the first field named, every error in `detail` (no input
    echoed back: a 4 MB body must not come back in its own error)."""
    detail = [
        {"type": e["type"], "loc": list(e["loc"]), "msg": e["msg"]}
        for e in error.errors(include_url=False, include_context=False, include_input=False)
    ]
    first = detail[0] if detail else {"loc": [], "msg": "invalid request", "type": ""}
    if first["type"] == "json_invalid":
        return BadRequest(400, "body", f"not valid JSON ({first['msg']})", "send one JSON object", detail)
    field = ".".join(str(part) for part in first["loc"]) or "body"
    rule = first["msg"].removeprefix("Value error, ")
    fix = "see /docs.json for the fields, their types and bounds"
    if len(detail) > 1:
        fix = f"{len(detail) - 1} more problem(s) in `detail`; " + fix
    return BadRequest(400, field, rule, fix, detail)


def checked_body(path: str, method: str, scope: dict[str, Any], body: bytes) -> bytes:
    """The body to hand on (GET /models: the query as JSON), once it passes its request model."""
    if method == "GET":
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        fields = REQUESTS[path].model_fields
        body = json.dumps({k: v[-1] for k, v in query.items() if k in fields}).encode()
    try:
        REQUESTS[path].model_validate_json(body or b"{}")
    except ValidationError as error:
        raise validation_failure(error) from None
    return body or b"{}"


def _replay(body: bytes, receive: Any) -> Any:
    sent = False

    async def replay() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _header(scope: dict[str, Any], name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def _json_headers(scope: dict[str, Any], body: bytes) -> list[tuple[bytes, bytes]]:
    replaced = (b"content-type", b"content-length")
    kept = [(k, v) for k, v in scope.get("headers", []) if k.lower() not in replaced]
    return kept + [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]


class Guard:
    """ASGI middleware: key, then request checks on API routes; GET /models; /readyz; /docs.json."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        method = scope.get("method", "GET")
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        if path == "/readyz" and method in ("GET", "HEAD"):
            status, body = readiness(self._access_or_none(headers))
            await JSONResponse(body, status_code=status)(scope, receive, send)
            return
        if path == "/docs.json" and method in ("GET", "HEAD"):
            await JSONResponse(openapi_document())(scope, receive, send)
            return
        if path not in PROTECTED and method == "POST":
            # the framework's other POST routes (/ping) parse by Content-Type too: the same check
            try:
                check_content_type(_header(scope, b"content-type"))
                _check_declared_length(scope)
            except BadRequest as refused:
                await refused.response()(scope, receive, send)
                return
        if path in PROTECTED:
            keys = RUNTIME.keys
            if keys is None:
                await error_response(503, "the service is starting")(scope, receive, send)
                return
            try:
                keys.access(headers)
            except AuthError as error:
                await error_response(error.status, error.message)(scope, receive, send)
                return
            if method == "POST" or (path in GET_ROUTES and method == "GET"):
                try:
                    if method == "POST":
                        check_content_type(_header(scope, b"content-type"))
                    body = checked_body(path, method, scope, await read_body(scope, receive))
                except BadRequest as refused:
                    logger.debug("refused %s %s: %s %s", method, path, refused.field, refused.rule)
                    await refused.response()(scope, receive, send)
                    return
                # the listing takes no body, so GET is the natural verb; BentoML APIs are POST
                scope = dict(scope, method="POST", headers=_json_headers(scope, body))
                receive = _replay(body, receive)
        await self.app(scope, receive, send)

    @staticmethod
    def _access_or_none(headers: dict[str, str]) -> Access | None:
        keys = RUNTIME.keys
        if keys is None:
            return None
        try:
            return keys.access(headers)
        except AuthError:
            return None
