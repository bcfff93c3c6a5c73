"""HTTP edges the BentoML API functions do not cover: error bodies, the key check before the body
is read, `GET /models`, and a `/readyz` that lists the models that failed to load.

`Guard` is an ASGI middleware added to the service. It reads the running service's state from
`RUNTIME`, which the service instance fills in `__init__` (one instance per worker process).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from starlette.responses import JSONResponse

from daiyun.serving.auth import AuthError, KeyRing
from daiyun.serving.champions import ChampionSet

logger = logging.getLogger("bentoml.daiyun")

# The routes that answer with a brand's models or forecasts: only these need a key.
PROTECTED = frozenset({"/forecast", "/recommend_budget", "/score_products", "/models"})


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


def readiness() -> tuple[int, dict[str, Any]]:
    """503 until every champion loaded (and at least one exists), with what is missing."""
    champions = RUNTIME.champions
    if champions is None:
        return 503, {"ready": False, "reason": RUNTIME.error or "starting: champions are still loading"}
    body: dict[str, Any] = {
        "ready": not champions.failures and len(champions) > 0,
        "source": champions.source,
        "loaded": len(champions),
        "failed": [
            {"name": f.name, "version": f.version, "family": f.family, "error": f.error}
            for f in champions.failures
        ],
    }
    if not len(champions) and not champions.failures:
        body["reason"] = "no champions registered: train with `daiyun train all --data DIR`"
    elif champions.failures:
        body["reason"] = f"{len(champions.failures)} model(s) failed to load; the others are served"
    return (200 if body["ready"] else 503), body


class Guard:
    """ASGI middleware: 401 before anything else on protected routes; GET /models; /readyz body."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        method = scope.get("method", "GET")
        if path == "/readyz" and method in ("GET", "HEAD"):
            status, body = readiness()
            await JSONResponse(body, status_code=status)(scope, receive, send)
            return
        if path in PROTECTED:
            keys = RUNTIME.keys
            if keys is None:
                await error_response(503, "the service is starting")(scope, receive, send)
                return
            headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
            try:
                keys.access(headers)
            except AuthError as error:
                await error_response(error.status, error.message)(scope, receive, send)
                return
            if path == "/models" and method == "GET":
                # the listing takes no body, so GET is the natural verb; BentoML APIs are POST
                scope = dict(scope, method="POST")
        await self.app(scope, receive, send)
