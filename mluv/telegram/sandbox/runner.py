"""Running the sandbox: `run_sandbox` (an async context manager for tests and benchmarks), `serve_sandbox`
(until cancelled) and `main` behind `mluv sandbox`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator, Sequence
from typing import TextIO

from aiohttp import web

from mluv.telegram.sandbox.config import SandboxConfig
from mluv.telegram.sandbox.core import SANDBOX_KEY
from mluv.telegram.sandbox.server import create_sandbox_app

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8081  # next to the web server's 8080
DEFAULT_BASE_ID = 700_000_000
# Held requests are released on shutdown, so handlers finish quickly; never wait a minute for them.
_SHUTDOWN_TIMEOUT = 5.0


@contextlib.asynccontextmanager
async def run_sandbox(
    host: str = DEFAULT_HOST,
    port: int = 0,
    config: SandboxConfig | None = None,
    *,
    app: web.Application | None = None,
) -> AsyncIterator[str]:
    """Serve the sandbox (or a prepared `app` from create_sandbox_app) and yield its base URL, e.g.
    "http://127.0.0.1:41234" for aiogram's TelegramAPIServer.from_base; port 0 picks a free port."""
    application = app if app is not None else create_sandbox_app(config)
    runner = web.AppRunner(application, access_log=None, shutdown_timeout=_SHUTDOWN_TIMEOUT)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound_port = runner.addresses[0][1]
        url_host = f"[{host}]" if ":" in host else host
        yield f"http://{url_host}:{bound_port}"
    finally:
        await runner.cleanup()


async def serve_sandbox(
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    config: SandboxConfig | None = None,
    *,
    learners: int = 0,
    rate: float = 0.0,
    seconds: float | None = None,
    base_id: int = DEFAULT_BASE_ID,
    out: TextIO | None = None,
) -> None:
    """Serve until cancelled; print where to look. With `rate`, `learners` learners write at that rate."""
    config = config or SandboxConfig(auto_create_chats=True)
    app = create_sandbox_app(config)
    sandbox = app[SANDBOX_KEY]
    stream = out if out is not None else sys.stdout
    async with run_sandbox(host, port, app=app) as url:
        lines = [
            f"Telegram Bot API sandbox on {url}",
            f"  bot token      {config.tokens[0]}  (@{config.bot_username}, not a secret)",
            f"  use it         TELEGRAM_API_BASE={url}  (BOT_TOKEN unset)",
            f"  look around    {url}/_sandbox/   (chats, counters; write as a learner)",
            f"  control API    {url}/_sandbox/…  (docs/sandbox.md)",
        ]
        if learners and rate > 0:
            sandbox.simulator.start(learners, rate, seconds, base_id=base_id)
            lines.append(
                f"  simulation     {learners} learners (ids {base_id}..{base_id + learners - 1}) writing "
                f"{rate:g} messages/s" + (f" for {seconds:g} s" if seconds else "")
            )
        elif learners:
            sandbox.simulator.create_learners(learners, base_id)
            lines.append(f"  learners       {learners} (ids {base_id}..{base_id + learners - 1})")
        print("\n".join(lines), file=stream, flush=True)
        await asyncio.Event().wait()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mluv sandbox",
        description="A local Telegram Bot API server for development, tests and benchmarks.",
    )
    parser.add_argument("--host", default=DEFAULT_HOST)
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="0 picks a free port")
    parser.add_argument("--learners", type=int, default=0, help="learners to create (ids from --base-id)")
    parser.add_argument("--rate", type=float, default=0.0, help="messages per second the learners write")
    parser.add_argument(
        "--seconds", type=float, default=None, help="simulate for this long (default: forever)"
    )
    parser.add_argument("--base-id", type=int, default=DEFAULT_BASE_ID)
    parser.add_argument(
        "--strict", action="store_true", help="unknown chats answer 'chat not found' instead of being created"
    )
    parser.add_argument(
        "--global-per-second", type=float, default=None, help="global send limit (default 30)"
    )
    parser.add_argument(
        "--global-window-seconds",
        type=float,
        default=None,
        help="strict mode: at most the global limit's sends in any window of this many seconds "
        "(default: a token bucket)",
    )
    parser.add_argument("--no-limits", action="store_true", help="turn Telegram's send limits off")
    parser.add_argument(
        "--latency-ms", type=float, default=0.0, help="latency added to every Bot API request"
    )
    return parser


def config_from_args(args: argparse.Namespace) -> SandboxConfig:
    limits: dict[str, object] = {"enabled": not args.no_limits}
    if args.global_per_second is not None:
        limits["global_per_second"] = args.global_per_second
    if args.global_window_seconds is not None:
        limits["global_window_seconds"] = args.global_window_seconds
    return SandboxConfig.model_validate(
        {
            "auto_create_chats": not args.strict,
            "limits": limits,
            "faults": {"latency_ms": args.latency_ms},
        }
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    config = config_from_args(args)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(
            serve_sandbox(
                args.host,
                args.port,
                config,
                learners=args.learners,
                rate=args.rate,
                seconds=args.seconds,
                base_id=args.base_id,
            )
        )
    return 0
