"""The aiohttp application: Telegram's Bot API at /bot<token>/<method> and file downloads at
/file/bot<token>/<path>, plus the control API under /_sandbox/ (control/)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Any

from aiohttp import web

from mluv.telegram.sandbox.botapi.calls import NOT_FOUND, ApiError, Params, Upload, bad_request
from mluv.telegram.sandbox.config import SandboxConfig
from mluv.telegram.sandbox.control.routes import add_control_routes
from mluv.telegram.sandbox.core import SANDBOX_KEY, Sandbox
from mluv.telegram.sandbox.limits import Clock
from mluv.telegram.sandbox.state import JSON, WallClock

# Telegram accepts uploads of photos up to 10 MB and other files up to 50 MB.
MAX_REQUEST_BYTES = 50 * 1024 * 1024


def dumps(body: Any) -> str:
    # Telegram answers compact JSON with UTF-8 text, no spaces after separators.
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


def json_response(status: int, body: JSON) -> web.Response:
    return web.Response(status=status, text=dumps(body), content_type="application/json")


async def read_params(request: web.Request) -> Params:
    """Parameters as Telegram takes them: query string, then urlencoded, multipart or JSON body."""
    values: dict[str, Any] = dict(request.query)
    if request.body_exists:
        content_type = request.content_type
        if content_type == "application/json":
            try:
                body = await request.json()
            except ValueError:
                raise bad_request("can't parse JSON object") from None
            if isinstance(body, dict):
                values.update(body)
        elif content_type in {"application/x-www-form-urlencoded", "multipart/form-data"}:
            try:
                form = await request.post()
            except ValueError:
                raise bad_request("can't parse request body") from None
            for name, value in form.items():
                if isinstance(value, web.FileField):
                    values[name] = Upload(value.filename, value.file.read())
                elif isinstance(value, bytes | bytearray):
                    values[name] = Upload(name, bytes(value))
                else:
                    values[name] = value
    return Params(values)


async def _withhold(request: web.Request, sandbox: Sandbox) -> None:
    """A dropped answer: the message is recorded, the client hears nothing and its read timeout fires."""
    faults = sandbox.faults.config
    if faults.drop_mode == "hang":
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(faults.drop_hold_seconds):
                await sandbox.closing.wait()
    if request.transport is not None:
        request.transport.close()


async def bot_api(request: web.Request) -> web.StreamResponse:
    sandbox = request.app[SANDBOX_KEY]
    token, method = request.match_info["token"], request.match_info["method"]
    if not sandbox.accepts(token):
        outcome = sandbox.unauthorized(method)
        return json_response(outcome.status, outcome.body)
    try:
        params = await read_params(request)
    except ApiError as error:
        sandbox.state.counters.record_status(method, error.status)
        return json_response(error.status, error.body())
    latency = sandbox.faults.latency()
    if latency > 0:
        await asyncio.sleep(latency)  # injected network/server latency, not a rate limit
    if method.lower() == "getupdates":
        outcome = await sandbox.get_updates(params)
    else:
        outcome = sandbox.execute(token, method, params)
    if outcome.drop:
        await _withhold(request, sandbox)
    return json_response(outcome.status, outcome.body)


async def download_file(request: web.Request) -> web.StreamResponse:
    sandbox = request.app[SANDBOX_KEY]
    if not sandbox.accepts(request.match_info["token"]):
        return json_response(401, sandbox.unauthorized("file").body)
    stored = sandbox.state.file_by_path(request.match_info["path"])
    if stored is None:
        return json_response(404, {"ok": False, "error_code": 404, "description": NOT_FOUND})
    return web.Response(body=stored.data, content_type="application/octet-stream")


async def _on_startup(app: web.Application) -> None:
    sandbox = app[SANDBOX_KEY]
    sandbox.closing.clear()  # a Sandbox object may be served again after a stop
    sandbox.pusher.restart()


async def _on_shutdown(app: web.Application) -> None:
    await app[SANDBOX_KEY].close()


def create_sandbox_app(
    config: SandboxConfig | None = None,
    *,
    clock: Clock = time.monotonic,
    wall_clock: WallClock = time.time,
    sandbox: Sandbox | None = None,
) -> web.Application:
    """The sandbox as an aiohttp application; `app[SANDBOX_KEY]` is its `Sandbox`."""
    app = web.Application(client_max_size=MAX_REQUEST_BYTES)
    app[SANDBOX_KEY] = sandbox or Sandbox(config, clock=clock, wall_clock=wall_clock)
    app.router.add_route("*", r"/bot{token}/{method:[^/]*}", bot_api)
    app.router.add_get(r"/file/bot{token}/{path:.+}", download_file)
    add_control_routes(app)
    app.on_startup.append(_on_startup)
    app.on_shutdown.append(_on_shutdown)
    return app
