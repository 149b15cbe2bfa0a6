"""How the sandbox behaves and what it counted: counters, the rate limits and injected faults (read and
changed at run time), the learner simulator, and reset to the start configuration."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field, ValidationError

from mluv.telegram.sandbox.control.protocol import Body, fail, invalid, ok, parse_body, raw_json, sandbox_of


class SimulateBody(Body):
    learners: int = Field(ge=1, le=1_000_000)
    rate: float = Field(gt=0)
    seconds: float | None = Field(default=None, gt=0)
    base_id: int = Field(default=700_000_000, gt=0)
    seed: int = 0


class ResetBody(Body):
    keep_users: bool = False


async def counters(request: web.Request) -> web.StreamResponse:
    return ok(sandbox_of(request).state.counters.to_dict())


async def get_limits(request: web.Request) -> web.StreamResponse:
    return ok(sandbox_of(request).config.limits.model_dump())


async def set_limits(request: web.Request) -> web.StreamResponse:
    return await _configure(request, sandbox_of(request).set_limits)


async def get_faults(request: web.Request) -> web.StreamResponse:
    return ok(sandbox_of(request).config.faults.model_dump())


async def set_faults(request: web.Request) -> web.StreamResponse:
    return await _configure(request, sandbox_of(request).set_faults)


async def _configure(
    request: web.Request, apply: Callable[[dict[str, Any]], BaseModel]
) -> web.StreamResponse:
    changes = await raw_json(request)
    if not isinstance(changes, dict):
        return fail(400, "the body must be a JSON object")
    try:
        return ok(apply(changes).model_dump())
    except ValidationError as error:
        return invalid(error)


async def start_simulation(request: web.Request) -> web.StreamResponse:
    body, sandbox = await parse_body(request, SimulateBody), sandbox_of(request)
    status = sandbox.simulator.start(
        body.learners, body.rate, body.seconds, base_id=body.base_id, seed=body.seed
    )
    return ok(status.to_dict())


async def simulation_status(request: web.Request) -> web.StreamResponse:
    return ok(sandbox_of(request).simulator.status.to_dict())


async def stop_simulation(request: web.Request) -> web.StreamResponse:
    return ok(sandbox_of(request).simulator.stop().to_dict())


async def reset(request: web.Request) -> web.StreamResponse:
    body = await parse_body(request, ResetBody)
    await sandbox_of(request).reset(keep_users=body.keep_users)
    return ok(True)
