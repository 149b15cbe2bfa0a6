"""The control API, the HTML page, the simulator and the command line."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiogram import Bot
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from mluv.telegram.sandbox import Sandbox, SandboxClient, SandboxError, serve_sandbox
from mluv.telegram.sandbox.runner import build_parser, config_from_args
from mluv.telegram.sandbox.simulate import CZECH_PHRASES
from tests.telegram.sandbox.conftest import eventually


async def test_users_one_many_and_counted(control: SandboxClient) -> None:
    one = await control.create_user(7, "Ivan", username="ivan", language_code="ru")
    assert (one["id"], one["first_name"], one["language_code"], one["blocked"]) == (7, "Ivan", "ru", False)
    many = await control.create_users(4, base_id=100)
    assert [user["id"] for user in many] == [100, 101, 102, 103]
    assert [user["language_code"] for user in many] == ["ru", "uk", "ru", "uk"]
    group = await control.create_group(-100500, "Čeština B1")
    assert group["type"] == "supergroup"
    assert len(await control.chats()) == 6
    assert (await control.chat(101))["username"] == "ivan_1"


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/users", {"id": -5}),
        ("/users", {"id": 5, "language_code": "de"}),
        ("/groups", {"id": 5, "title": "x"}),
        ("/limits", {"global_per_second": 0}),
        ("/faults", {"error_rate": 2}),
        ("/faults", {"error_rate": 0.7, "drop_rate": 0.7}),
        ("/simulate", {"learners": 0, "rate": 1}),
        ("/updates/message", {"user_id": 1}),
    ],
)
async def test_invalid_control_requests_are_400(
    http_session: aiohttp.ClientSession, sandbox_url: str, path: str, body: dict[str, object]
) -> None:
    async with http_session.post(f"{sandbox_url}/_sandbox{path}", json=body) as response:
        assert response.status == 400
        assert (await response.json())["ok"] is False


@pytest.fixture
async def http_session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def test_unknown_learner_is_404(control: SandboxClient) -> None:
    with pytest.raises(SandboxError) as raised:
        await control.send_text(999, "ahoj")
    assert raised.value.status == 404 and "POST /_sandbox/users" in str(raised.value.error)
    with pytest.raises(SandboxError):
        await control.redeliver(12345)
    with pytest.raises(SandboxError):
        await control.chat(999)


async def test_limits_and_faults_round_trip(control: SandboxClient) -> None:
    limits = await control.limits()
    assert (limits["global_per_second"], limits["private_burst"], limits["group_per_minute"]) == (
        30.0,
        3.0,
        20.0,
    )
    assert (limits["max_text_length"], limits["max_caption_length"]) == (4096, 1024)
    assert (await control.set_limits(global_per_second=100))["global_per_second"] == 100
    assert (await control.limits())["private_burst"] == 3.0  # other fields unchanged
    faults = await control.set_faults(latency_ms=5, drop_rate=0.1, seed=9)
    assert (faults["latency_ms"], faults["drop_rate"], faults["seed"]) == (5, 0.1, 9)


async def test_wait_for_messages_returns_when_the_bot_sends(
    bot: Bot, control: SandboxClient, learner: int
) -> None:
    async def later() -> None:
        await asyncio.sleep(0.05)
        await bot.send_message(learner, "Ahoj")

    task = asyncio.create_task(later())
    started = time.monotonic()
    messages = await control.messages(learner, wait_for=1, within=5)
    await task
    assert [message["text"] for message in messages] == ["Ahoj"] and time.monotonic() - started < 4
    started = time.monotonic()
    assert len(await control.messages(learner, wait_for=2, within=0.2)) == 1  # gives up after `within`
    assert time.monotonic() - started >= 0.2
    assert [message["text"] for message in await control.latest_messages()] == ["Ahoj"]


async def test_learner_messages_are_included_on_request(
    bot: Bot, control: SandboxClient, learner: int
) -> None:
    await control.send_text(learner, "Dobry den")
    await bot.send_message(learner, "Dobrý den! (bez diakritiky: Dobry den)")
    conversation = await control.messages(learner, include_learner=True)
    assert [(message["from_bot"], message["message_id"]) for message in conversation] == [
        (False, 1),
        (True, 2),
    ]


async def test_reset_forgets_everything_or_keeps_users(
    bot: Bot, control: SandboxClient, learner: int
) -> None:
    await bot.send_message(learner, "Ahoj")
    await control.block(learner)
    await control.set_limits(global_per_second=1)
    await control.reset(keep_users=True)
    assert (await control.limits())["global_per_second"] == 30.0
    assert (await control.counters())["sent"] == 0
    chat = await control.chat(learner)
    assert (chat["received"], chat["blocked"]) == (0, False)
    assert await control.pending_updates() == []
    assert (await bot.send_message(learner, "Znovu")).message_id == 1
    await control.reset()
    assert await control.chats() == []


async def test_simulation_writes_czech_at_the_rate(bot: Bot, control: SandboxClient) -> None:
    status = await control.simulate(learners=5, rate=100, seconds=0.2, base_id=5000, seed=1)
    assert status["running"] and status["learners"] == 5

    async def done() -> bool:
        return not (await control.simulation())["running"]

    await eventually(done)
    assert (await control.simulation())["sent"] == 20  # 100/s for 0.2 s, on an absolute schedule
    updates = await bot.get_updates()
    assert len(updates) == 20
    assert {update.message.text for update in updates if update.message} <= set(CZECH_PHRASES)
    assert {update.message.chat.id for update in updates if update.message} <= set(range(5000, 5005))


async def test_simulation_can_be_stopped(control: SandboxClient) -> None:
    await control.simulate(learners=2, rate=10)  # no duration: runs until stopped
    assert (await control.simulation())["running"]
    stopped = await control.stop_simulation()
    assert not stopped["running"] and stopped["finished_at"] is not None


async def test_html_page_lists_chats_and_lets_a_person_chat(
    bot: Bot, http_session: aiohttp.ClientSession, sandbox_url: str, learner: int
) -> None:
    keyboard = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="Další <cvičení>", callback_data="n")]]
    )
    await bot.send_message(learner, "Ahoj <Olgo>", reply_markup=keyboard)
    async with http_session.get(f"{sandbox_url}/_sandbox/") as response:
        page = await response.text()
    assert response.content_type == "text/html" and "mluv_sandbox_bot" in page and "Olga" in page
    async with http_session.get(f"{sandbox_url}/_sandbox/?chat={learner}") as response:
        page = await response.text()
    assert "Ahoj &lt;Olgo&gt;" in page and "Další &lt;cvičení&gt;" in page
    form = {"action": "message", "user_id": str(learner), "text": "Dekuji"}
    async with http_session.post(f"{sandbox_url}/_sandbox/ui", data=form, allow_redirects=False) as response:
        assert response.status == 303 and response.headers["Location"] == f"/_sandbox/?chat={learner}"
    [update] = await bot.get_updates()
    assert update.message is not None and update.message.text == "Dekuji"
    async with http_session.get(f"{sandbox_url}/_sandbox/?format=json") as response:
        overview = (await response.json())["result"]
    assert overview["mode"] == "getUpdates" and overview["counters"]["sent"] == 1


async def test_serve_sandbox_prints_where_to_look() -> None:
    out = io.StringIO()
    task = asyncio.create_task(serve_sandbox(port=0, learners=3, out=out))

    async def printed() -> bool:
        return "learners" in out.getvalue()

    await eventually(printed)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    text = out.getvalue()
    assert "TELEGRAM_API_BASE=http://127.0.0.1:" in text and "/_sandbox/" in text
    assert "1000000001:mluv-sandbox-development-token" in text and "700000000..700000002" in text


def test_command_line_options_make_the_config() -> None:
    args = build_parser().parse_args(["--port", "0", "--learners", "10", "--rate", "2", "--latency-ms", "20"])
    config = config_from_args(args)
    assert (args.port, args.learners, args.rate) == (0, 10, 2.0)
    assert config.auto_create_chats and config.limits.enabled and config.faults.latency_ms == 20
    strict = config_from_args(
        build_parser().parse_args(["--strict", "--no-limits", "--global-per-second", "5"])
    )
    assert not strict.auto_create_chats and not strict.limits.enabled and strict.limits.global_per_second == 5


async def test_counters_by_method(bot: Bot, control: SandboxClient, sandbox: Sandbox, learner: int) -> None:
    await bot.get_me()
    await bot.send_message(learner, "Ahoj")
    await control.set_chat_flags(learner, blocked=True)
    with pytest.raises(Exception, match="blocked"):
        await bot.send_message(learner, "Ahoj")
    counters = await control.counters()
    assert counters["by_method"]["sendMessage"] == {"200": 1, "403": 1}
    assert counters["by_method"]["getMe"] == {"200": 1}
    assert (counters["sent"], counters["forbidden_403"], counters["requests"]) == (1, 1, 3)
    assert counters["sent_by_method"] == {"sendMessage": 1}
    assert sandbox.state.counters.sent == 1
