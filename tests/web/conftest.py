"""Fixtures for the web tests: Resources with dashboard and metrics credentials, a logged-in client."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr

from mluv.resources import Resources
from mluv.settings import Settings
from mluv.web.app import create_app

DASHBOARD_TOKEN = "dashboard-test-token-4f9a1c-0b7e5d93a2"
METRICS_TOKEN = "metrics-test-token-77e0b2-c41f9a8d06e3"
BOT_TOKEN = "987654321:AAFakeTokenForDashboardTests_abcdefg"

Client = TestClient[web.Request, web.Application]


@pytest.fixture
def web_settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"dashboard_token": SecretStr(DASHBOARD_TOKEN), "metrics_token": SecretStr(METRICS_TOKEN)}
    )


@pytest.fixture
async def web_resources(web_settings: Settings, redis: Any, clean_tables: None) -> AsyncIterator[Resources]:
    created = await Resources.create(web_settings)
    yield created
    await created.close()


@pytest.fixture
async def client(web_resources: Resources) -> AsyncIterator[Client]:
    async with TestClient(TestServer(create_app(web_resources))) as test_client:
        yield test_client


def page_csrf(body: str) -> str:
    """The CSRF token a dashboard page carries (the script reads the same meta tag)."""
    match = re.search(r'<meta name="csrf-token" content="([^"]+)">', body)
    assert match, "no CSRF token in the page"
    return match.group(1)


def login_csrf(body: str) -> str:
    match = re.search(r'<input type="hidden" name="csrf" value="([^"]+)">', body)
    assert match, "no CSRF field in the login form"
    return match.group(1)


async def log_in(client: Client, token: str = DASHBOARD_TOKEN, **headers: str) -> str:
    """Log in through the form like a browser; returns the session's CSRF token."""
    form = await client.get("/dashboard/login")
    assert form.status == 200
    response = await client.post(
        "/dashboard/login",
        data={"csrf": login_csrf(await form.text()), "token": token, "next": "/dashboard"},
        allow_redirects=False,
        headers=headers,
    )
    assert response.status == 303, await response.text()
    page = await client.get("/dashboard")
    assert page.status == 200
    return page_csrf(await page.text())
