"""Attacks on the web server's authentication, against real Redis and PostgreSQL: parallel password
guessing, IPv6 prefixes, malformed headers and cookies, a DNS-rebinding page reading /metrics."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiogram import Dispatcher
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr

from mluv.bot.runner import BotRunner
from mluv.resources import Resources
from mluv.settings import Environment, Settings
from mluv.web import auth
from mluv.web.app import create_app
from mluv.web.auth import LOGIN_ATTEMPTS_KEY_PREFIX, LOGIN_CSRF_COOKIE, LOGIN_MAX_ATTEMPTS, throttle_keys
from tests.web.conftest import DASHBOARD_TOKEN, Client, login_csrf

pytestmark = pytest.mark.integration

WEBHOOK_SECRET = "webhook-secret_for-auth-tests"


async def _login_token(client: Client) -> str:
    form = await client.get("/dashboard/login")
    return login_csrf(await form.text())


async def _wrong_login(client: Client, csrf: str, ip: str, token: str = "wrong-guess") -> int:
    """One login POST as a script would send it: explicit cookie, no cookie jar shared with other posts."""
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as session:
        response = await session.post(
            client.make_url("/dashboard/login"),
            data={"csrf": csrf, "token": token},
            headers={"X-Forwarded-For": ip, "Cookie": f"{LOGIN_CSRF_COOKIE}={csrf}"},
            allow_redirects=False,
        )
        if response.status == 429:
            assert 0 < int(response.headers["Retry-After"]) <= auth.LOGIN_WINDOW
        return response.status


# --- the login throttle -------------------------------------------------------------------------------------


async def test_parallel_wrong_logins_get_at_most_the_limit_of_401s_then_429s(client: Client) -> None:
    csrf = await _login_token(client)
    statuses = await asyncio.gather(*(_wrong_login(client, csrf, "198.51.100.7") for _ in range(40)))
    assert statuses.count(401) == LOGIN_MAX_ATTEMPTS
    assert statuses.count(429) == 40 - LOGIN_MAX_ATTEMPTS
    # Even the right token waits now, and another address is not locked out.
    assert await _wrong_login(client, csrf, "198.51.100.7", DASHBOARD_TOKEN) == 429
    assert await _wrong_login(client, csrf, "198.51.100.8", DASHBOARD_TOKEN) == 303


@pytest.mark.parametrize(
    ("guesser", "neighbour", "shared"),
    [
        pytest.param("2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:fffe", True, id="same-ipv6-64"),
        pytest.param("2001:db8:1:2::1", "2001:db8:1:3::1", False, id="next-ipv6-64"),
        pytest.param("198.51.100.7", "198.51.100.8", False, id="ipv4-neighbours"),
        pytest.param("2001:db8:1:2::1", "2001:db8:1:2:0:0:0:1", True, id="same-address-spelled-out"),
    ],
)
async def test_an_ipv6_64_shares_one_budget(
    client: Client, guesser: str, neighbour: str, shared: bool
) -> None:
    csrf = await _login_token(client)
    for _ in range(LOGIN_MAX_ATTEMPTS):
        assert await _wrong_login(client, csrf, guesser) == 401
    assert await _wrong_login(client, csrf, neighbour) == (429 if shared else 401)


@pytest.mark.parametrize(
    ("ip", "keys"),
    [
        ("198.51.100.7", ["ip:198.51.100.7"]),
        ("2001:db8:1:2:aaaa::1", ["ip:2001:db8:1:2:aaaa::1", "net:2001:db8:1:2::/64"]),
        ("unknown", None),  # no address known: one shared budget, under a digest
    ],
)
def test_throttle_keys(ip: str, keys: list[str] | None) -> None:
    found = throttle_keys(ip)
    if keys is None:
        assert len(found) == 1 and found[0].startswith(LOGIN_ATTEMPTS_KEY_PREFIX + "other:")
    else:
        assert found == [LOGIN_ATTEMPTS_KEY_PREFIX + key for key in keys]


async def test_a_right_login_gives_its_attempt_back(client: Client) -> None:
    csrf = await _login_token(client)
    for _ in range(LOGIN_MAX_ATTEMPTS * 2):
        assert await _wrong_login(client, csrf, "198.51.100.9", DASHBOARD_TOKEN) == 303
    assert await _wrong_login(client, csrf, "198.51.100.9") == 401


async def test_the_password_check_runs_off_the_event_loop(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: list[int] = []
    real = auth.check_credentials

    def recording(settings: Settings, given: str) -> bool:
        threads.append(threading.get_ident())
        return real(settings, given)

    monkeypatch.setattr(auth, "check_credentials", recording)
    assert await _wrong_login(client, await _login_token(client), "198.51.100.10") == 401
    assert threads and threading.get_ident() not in threads


# --- malformed headers and cookies --------------------------------------------------------------------------


@pytest.fixture
async def webhook_client(web_resources: Resources) -> AsyncIterator[Client]:
    settings = web_resources.settings.model_copy(
        update={
            "webhook_url": "https://bot.example.com/telegram/webhook",
            "webhook_secret": SecretStr(WEBHOOK_SECRET),
        }
    )
    app = create_app(web_resources)
    BotRunner(Dispatcher(), web_resources.bot, settings).register_webhook_route(app)
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


async def raw_request(client: Client, method: str, path: str, headers: list[bytes]) -> int:
    """The status of a request written byte for byte (no client library would send these headers)."""
    reader, writer = await asyncio.open_connection(client.host, client.port)
    head = [f"{method} {path} HTTP/1.1".encode(), f"Host: 127.0.0.1:{client.port}".encode(), *headers]
    body = b"{}"
    head += [b"Content-Type: application/json", b"Content-Length: %d" % len(body), b"Connection: close"]
    writer.write(b"\r\n".join(head) + b"\r\n\r\n" + body)
    await writer.drain()
    status_line = await reader.readline()
    writer.close()
    await writer.wait_closed()
    return int(status_line.split()[1])


@pytest.mark.parametrize(
    ("method", "path", "header", "status"),
    [
        ("POST", "/telegram/webhook", "X-Telegram-Bot-Api-Secret-Token: sécret".encode(), 401),
        ("POST", "/telegram/webhook", b"X-Telegram-Bot-Api-Secret-Token: \xff\xfe", 401),
        ("GET", "/metrics", b"Authorization: Bearer \xff\xfe\xfd", 401),
        ("GET", "/metrics", "Authorization: Bearer tökén".encode(), 401),
        ("GET", "/dashboard", b"Cookie: mluv_dashboard=\xff\xfe", 302),
        ("GET", "/dashboard/api/snapshot", "Cookie: mluv_dashboard=ĉookie".encode(), 401),
        ("POST", "/dashboard/login", b"Cookie: mluv_dashboard_login=\xff\xfe", 403),
        ("POST", "/dashboard/actions/abort", b"Cookie: mluv_dashboard=\xc3\x28", 401),
        ("POST", "/dashboard/login", b"Fly-Client-IP: \xff\xfe", 403),
    ],
    ids=[
        "webhook-non-ascii",
        "webhook-non-utf8",
        "metrics-non-utf8",
        "metrics-non-ascii",
        "session-cookie-non-utf8",
        "session-cookie-non-ascii",
        "login-cookie-non-utf8",
        "action-cookie-invalid-utf8",
        "client-ip-non-utf8",
    ],
)
async def test_malformed_headers_get_4xx_and_no_error_line(
    webhook_client: Client,
    caplog: pytest.LogCaptureFixture,
    method: str,
    path: str,
    header: bytes,
    status: int,
) -> None:
    with caplog.at_level(logging.INFO):
        assert await raw_request(webhook_client, method, path, [header]) == status
    errors = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert errors == [], [record.getMessage() for record in errors]


async def test_the_webhook_still_takes_the_right_secret(webhook_client: Client) -> None:
    header = f"X-Telegram-Bot-Api-Secret-Token: {WEBHOOK_SECRET}".encode()
    assert await raw_request(webhook_client, "POST", "/telegram/webhook", [header]) != 401


# --- /metrics in open development mode ----------------------------------------------------------------------


@pytest.fixture
async def open_client(settings: Settings, redis: Any, clean_tables: None) -> AsyncIterator[Client]:
    dev = settings.model_copy(update={"environment": Environment.DEVELOPMENT, "web_host": "127.0.0.1"})
    resources = await Resources.create(dev)
    try:
        async with TestClient(TestServer(create_app(resources))) as test_client:
            yield test_client
    finally:
        await resources.close()


@pytest.mark.parametrize(
    ("host", "status"),
    [
        ("127.0.0.1:8080", 200),
        ("localhost", 200),
        ("[::1]:8080", 200),
        ("rebind.attacker.example", 403),
        ("127.0.0.1.nip.io:8080", 403),
    ],
)
async def test_open_metrics_need_a_loopback_host_header(open_client: Client, host: str, status: int) -> None:
    # A DNS-rebinding page reaches the loopback server under its own name: the Host header gives it away.
    response = await open_client.get("/metrics", headers={"Host": host})
    assert response.status == status
