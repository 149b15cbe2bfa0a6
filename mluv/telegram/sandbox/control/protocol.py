"""The control API's JSON protocol: answers ({"ok": true, "result": ...} or {"ok": false, "error": ...}),
request bodies validated by pydantic models (400 with pydantic's errors), and the path and query numbers.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ConfigDict, ValidationError

from mluv.telegram.sandbox.core import SANDBOX_KEY, Sandbox

PREFIX = "/_sandbox"
Model = TypeVar("Model", bound=BaseModel)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Body(BaseModel):
    """A request body: unknown fields are an error, not silently ignored."""

    model_config = ConfigDict(extra="forbid")


def ok(result: Any, status: int = 200) -> web.Response:
    return web.json_response({"ok": True, "result": result}, status=status)


def fail(status: int, error: Any) -> web.Response:
    return web.json_response({"ok": False, "error": error}, status=status)


def invalid(error: ValidationError) -> web.Response:
    # error.json() turns the exceptions in a validator's context into text; errors() would keep objects.
    return fail(400, json.loads(error.json(include_url=False)))


async def raw_json(request: web.Request) -> Any:
    if not request.body_exists:
        return {}
    try:
        return await request.json()
    except ValueError:
        raise web.HTTPBadRequest(
            text='{"ok":false,"error":"the body must be JSON"}', content_type="application/json"
        ) from None


async def parse_body(request: web.Request, model: type[Model]) -> Model:
    raw = await raw_json(request)
    try:
        return model.model_validate(raw)
    except ValidationError as error:
        raise web.HTTPBadRequest(text=invalid(error).text, content_type="application/json") from None


def sandbox_of(request: web.Request) -> Sandbox:
    return request.app[SANDBOX_KEY]


def path_int(request: web.Request, name: str) -> int:
    try:
        return int(request.match_info[name])
    except ValueError:
        raise web.HTTPNotFound(
            text=f'{{"ok":false,"error":"{name} must be an integer"}}', content_type="application/json"
        ) from None


def query_number(request: web.Request, name: str, default: float) -> float:
    try:
        return float(request.query.get(name) or default)
    except ValueError:
        raise web.HTTPBadRequest(
            text=f'{{"ok":false,"error":"{name} must be a number"}}', content_type="application/json"
        ) from None
