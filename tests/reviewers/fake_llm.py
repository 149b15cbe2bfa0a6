"""A local fake of an OpenAI-compatible chat-completions server (aiohttp), for the reviewer and job tests.

`running_fake_llm()` starts it on a free port; `fake.base_url` is its `/v1`. Set `fake.respond` to a
handler, or call `fake.answer(...)` (a completion with that content) or `fake.echo()` (nothing wrong in
any text). It records every request's JSON body and Authorization header.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

API_KEY = "sk-test-0123456789abcdefghijklmnop"

Responder = Callable[[web.Request], Awaitable[web.StreamResponse]]


def completion(content: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}}],
        "usage": {"prompt_tokens": 100, "completion_tokens": 50},
    }


@dataclass
class FakeLLM:
    base_url: str = ""
    respond: Responder | None = None
    requests: list[dict[str, Any]] = field(default_factory=list)
    authorizations: list[str | None] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    def answer(self, answer: dict[str, Any] | str) -> None:
        """Answer every request with a completion whose content is `answer` (as JSON unless a str)."""
        content = answer if isinstance(answer, str) else json.dumps(answer, ensure_ascii=False)

        async def respond(_: web.Request) -> web.StreamResponse:
            return web.json_response(completion(content))

        self.respond = respond

    def echo(self) -> None:
        """Find nothing wrong in any text."""

        async def respond(request: web.Request) -> web.StreamResponse:
            text = (await request.json())["messages"][1]["content"]
            answer = {"corrected_text": text, "correctness": 100, "corrections": [], "comment": None}
            return web.json_response(completion(json.dumps(answer)))

        self.respond = respond

    def system_prompts(self) -> list[str]:
        return [str(request["messages"][0]["content"]) for request in self.requests]


@contextlib.asynccontextmanager
async def running_fake_llm() -> AsyncIterator[FakeLLM]:
    fake = FakeLLM()

    async def handler(request: web.Request) -> web.StreamResponse:
        fake.requests.append(await request.json())
        fake.authorizations.append(request.headers.get("Authorization"))
        assert fake.respond is not None, "the test did not say how the fake answers"
        return await fake.respond(request)

    app = web.Application()
    app.router.add_post("/v1/chat/completions", handler)
    runner = web.AppRunner(app, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    fake.base_url = f"http://{host}:{port}/v1"
    try:
        yield fake
    finally:
        fake.release.set()  # a slow handler waiting on it ends, so the server can stop
        await runner.cleanup()
