"""The sandbox on the wire, with a raw aiohttp client: exact error bodies, body encodings, methods."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from mluv.resources import SANDBOX_BOT_TOKEN as RESOURCES_TOKEN
from mluv.telegram.sandbox import Sandbox, SandboxClient
from mluv.telegram.sandbox.config import SANDBOX_BOT_TOKEN, SandboxConfig

TOKEN = SANDBOX_BOT_TOKEN


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def test_the_default_token_is_the_one_resources_uses() -> None:
    assert SandboxConfig().tokens == [RESOURCES_TOKEN] and SANDBOX_BOT_TOKEN == RESOURCES_TOKEN


@pytest.mark.parametrize(
    ("setup", "token", "method", "params", "status", "body"),
    [
        (
            {},
            "123:nope",
            "getMe",
            {},
            401,
            '{"ok":false,"error_code":401,"description":"Unauthorized"}',
        ),
        ({}, TOKEN, "getMee", {}, 404, '{"ok":false,"error_code":404,"description":"Not Found"}'),
        (
            {},
            TOKEN,
            "sendMessage",
            {"chat_id": "777", "text": "x"},
            400,
            '{"ok":false,"error_code":400,"description":"Bad Request: chat not found"}',
        ),
        (
            {},
            TOKEN,
            "sendMessage",
            {"chat_id": "42"},
            400,
            '{"ok":false,"error_code":400,"description":"Bad Request: message text is empty"}',
        ),
        (
            {},
            TOKEN,
            "sendMessage",
            {"chat_id": "42", "text": "x" * 4097},
            400,
            '{"ok":false,"error_code":400,"description":"Bad Request: message is too long"}',
        ),
        (
            {"blocked": True},
            TOKEN,
            "sendMessage",
            {"chat_id": "42", "text": "x"},
            403,
            '{"ok":false,"error_code":403,"description":"Forbidden: bot was blocked by the user"}',
        ),
        (
            {"deactivated": True},
            TOKEN,
            "sendMessage",
            {"chat_id": "42", "text": "x"},
            403,
            '{"ok":false,"error_code":403,"description":"Forbidden: user is deactivated"}',
        ),
        (
            {"faults": {"rate_limit_rate": 1.0, "rate_limit_retry_after": 13}},
            TOKEN,
            "sendMessage",
            {"chat_id": "42", "text": "x"},
            429,
            '{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 13",'
            '"parameters":{"retry_after":13}}',
        ),
        (
            {"faults": {"error_rate": 1.0, "error_statuses": [502]}},
            TOKEN,
            "sendMessage",
            {"chat_id": "42", "text": "x"},
            502,
            '{"ok":false,"error_code":502,"description":"Bad Gateway"}',
        ),
        (
            {"webhook": True},
            TOKEN,
            "getUpdates",
            {},
            409,
            '{"ok":false,"error_code":409,"description":"Conflict: can\'t use getUpdates method while '
            'webhook is active; use deleteWebhook to delete the webhook first"}',
        ),
    ],
    ids=[
        "unauthorized",
        "unknown-method",
        "chat-not-found",
        "text-empty",
        "too-long",
        "blocked",
        "deactivated",
        "too-many-requests",
        "bad-gateway",
        "webhook-conflict",
    ],
)
async def test_error_bodies_are_telegrams_byte_for_byte(
    http: aiohttp.ClientSession,
    sandbox_url: str,
    control: SandboxClient,
    learner: int,
    setup: dict[str, Any],
    token: str,
    method: str,
    params: dict[str, str],
    status: int,
    body: str,
) -> None:
    if "blocked" in setup or "deactivated" in setup:
        await control.set_chat_flags(learner, **setup)
    if "faults" in setup:
        await control.set_faults(**setup["faults"])
    if setup.get("webhook"):
        async with http.post(
            f"{sandbox_url}/bot{TOKEN}/setWebhook", data={"url": "http://127.0.0.1:9/hook"}
        ) as r:
            assert r.status == 200
    async with http.post(f"{sandbox_url}/bot{token}/{method}", data=params) as response:
        assert response.status == status
        assert response.content_type == "application/json"
        assert await response.text() == body


async def test_429_from_the_limits_is_byte_for_byte(
    http: aiohttp.ClientSession, sandbox_url: str, control: SandboxClient, learner: int
) -> None:
    await control.set_limits(private_burst=1, private_per_second=0.5)
    url = f"{sandbox_url}/bot{TOKEN}/sendMessage"
    async with http.post(url, data={"chat_id": "42", "text": "a"}) as response:
        assert response.status == 200
    async with http.post(url, data={"chat_id": "42", "text": "b"}) as response:
        assert response.status == 429
        assert await response.text() == (
            '{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 2",'
            '"parameters":{"retry_after":2}}'
        )


@pytest.mark.parametrize("encoding", ["query", "urlencoded", "multipart", "json"])
async def test_every_body_encoding_telegram_accepts(
    http: aiohttp.ClientSession, sandbox_url: str, learner: int, encoding: str
) -> None:
    markup = {"inline_keyboard": [[{"text": "Ano", "callback_data": "yes"}]]}
    fields = {"chat_id": str(learner), "text": "Dobrý den", "reply_markup": json.dumps(markup)}
    url = f"{sandbox_url}/bot{TOKEN}/sendMessage"
    if encoding == "query":
        request = http.get(url, params=fields)
    elif encoding == "urlencoded":
        request = http.post(url, data=fields)
    elif encoding == "multipart":
        form = aiohttp.FormData(quote_fields=False)
        for name, value in fields.items():
            form.add_field(name, value)
        form.add_field("unused_file", b"\x00", filename="x.bin")  # forces multipart/form-data
        request = http.post(url, data=form)
    else:
        request = http.post(url, json={"chat_id": learner, "text": "Dobrý den", "reply_markup": markup})
    async with request as response:
        body = await response.json()
    assert response.status == 200 and body["ok"] is True
    message = body["result"]
    assert message["text"] == "Dobrý den" and message["reply_markup"] == markup
    assert message["from"] == {
        "id": 1_000_000_001,
        "is_bot": True,
        "first_name": "Mluv.Me (sandbox)",
        "username": "mluv_sandbox_bot",
    }
    assert message["chat"] == {"id": 42, "first_name": "Olga", "username": "olga", "type": "private"}


async def test_method_names_ignore_case_and_success_bodies_are_compact(
    http: aiohttp.ClientSession, sandbox_url: str
) -> None:
    async with http.get(f"{sandbox_url}/bot{TOKEN}/GETWEBHOOKINFO") as response:
        assert await response.text() == (
            '{"ok":true,"result":{"url":"","has_custom_certificate":false,"pending_update_count":0}}'
        )
    async with http.post(f"{sandbox_url}/bot{TOKEN}/deleteWebhook") as response:
        assert await response.text() == '{"ok":true,"result":true,"description":"Webhook is already deleted"}'


async def test_auto_created_chats(
    http: aiohttp.ClientSession, sandbox: Sandbox, sandbox_url: str, control: SandboxClient
) -> None:
    url = f"{sandbox_url}/bot{TOKEN}/sendMessage"
    async with http.post(url, data={"chat_id": "5", "text": "x"}) as response:
        assert response.status == 400  # off by default (tests): unknown chats are not found
    sandbox.set_auto_create(True)  # what `mluv sandbox` does for development
    for chat_id in ("5", "-1001"):
        async with http.post(url, data={"chat_id": chat_id, "text": "x"}) as response:
            assert response.status == 200
    chats = {chat["id"]: chat for chat in await control.chats()}
    assert chats[5]["first_name"] == "Learner 5" and chats[-1001]["type"] == "supergroup"
    assert (await control.overview())["auto_create_chats"] is True
